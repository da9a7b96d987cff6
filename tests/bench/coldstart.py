#!/usr/bin/env python3
"""Cold start of each Lambda binary: process spawn to its first
`GET /2018-06-01/runtime/invocation/next` on a minimal Lambda runtime API on loopback.

Builds nothing: it runs the release binaries found in --bin-dir (default
`$CARGO_TARGET_DIR/release`, else `target/release`). Each function gets the environment names
`infra/function-env.json` lists, with dummy but valid values; AWS endpoints point at a refused
loopback port (init must not call AWS). The runtime API never answers: the process is killed
once its GET arrived.

Prints median and minimum per function and the ratio of each median to the smallest one, with
a verdict ("ok" within --limit times the smallest). Exits 0 whatever the verdicts (it is a
benchmark); exits 2 when a binary is missing or a function exits, or never asks for an event,
during init.
"""

import argparse
import http.server
import json
import os
import queue
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FUNCTIONS = [
    "clusterize", "clusterize-finalization", "deploy", "fetch", "report", "scale-down",
    "scale-fetch", "status", "terminate", "transient", "adopt", "certificate",
]
NEXT_PATH = "/2018-06-01/runtime/invocation/next"

# A value for every name in infra/function-env.json, as the Terraform module's defaults would
# give (a six-backend cluster; hooks on; identity checks off: the module passes "").
DUMMY_ENV = {
    "ADMIN_PASSWORD_ID": "arn:aws:secretsmanager:us-east-1:123456789012:secret:weka/admin",
    "ALB_ARN_SUFFIX": "",
    "ASG_NAME": "weka-bench-autoscaling-group",
    "BOOTSTRAP_GRACE_MINUTES": "30",
    "CGROUPS_MODE": "force_v2",
    "CLUSTERIZE_FINALIZATION_LAMBDA_NAME": "weka-bench-clusterize-finalization-lambda",
    "CLUSTERIZE_LAMBDA_NAME": "weka-bench-clusterize-lambda",
    "CLUSTERIZE_TIMEOUT_MINUTES": "30",
    "CLUSTER_NAME": "bench",
    "COMPUTE_CONTAINER_CORES_NUM": "2",
    "COMPUTE_MEMORY": "32.9GB",
    "DEPLOYMENT_PASSWORD_ID": "arn:aws:secretsmanager:us-east-1:123456789012:secret:weka/deploy",
    "DOWN_BACKENDS_REMOVAL_TIMEOUT": "3h",
    "DRIVE_CONTAINER_CORES_NUM": "1",
    "FETCH_LAMBDA_NAME": "weka-bench-fetch-lambda",
    "FRONTEND_CONTAINER_CORES_NUM": "1",
    "HOSTS_NUM": "6",
    "HOTSPARE": "1",
    "INSTALL_DPDK": "true",
    "INSTALL_URL": "https://$TOKEN@get.weka.io/dist/v1/install/4.4.2/4.4.2?provider=aws&region=us-east-1",
    "INSTANCE_IDENTITY_CERTIFICATE": "",
    "JOIN_NFS_FINALIZATION_LAMBDA_NAME": "weka-bench-clusterize-finalization-lambda",
    "LAUNCH_HEARTBEAT_TIMEOUT": "900s",
    "LAUNCH_LIFECYCLE_HOOK_NAME": "weka-launch",
    "LIFECYCLE_DEADLINE_MARGIN": "120s",
    "LIFECYCLE_HEARTBEAT_INTERVAL": "30s",
    "MAX_TERMINATIONS_PER_RUN": "50",
    "MIN_CLUSTER_SIZE": "6",
    "NFS_ASG_NAME": "weka-bench-nfs-protocol-gateway",
    "NFS_INTERFACE_GROUP_NAME": "weka-ig",
    "NFS_PROTOCOL_GATEWAYS_NUM": "0",
    "NFS_PROTOCOL_GATEWAY_CGROUPS_MODE": "force_v2",
    "NFS_PROTOCOL_GATEWAY_FE_CORES_NUM": "1",
    "NFS_SECONDARY_IPS_NUM": "3",
    "NFS_SETUP_PROTOCOL": "true",
    "NFS_STATE_KEY": "weka-bench-nfs-state",
    "REFERENCE_STATE_TABLE": "weka-bench-weka-deployment",
    "REFERENCE_STATE_HASH_KEY": "Key",
    "REFERENCE_STATE_KEY": "weka-bench-state",
    "REFERENCE_NFS_STATE_KEY": "weka-bench-nfs-state",
    "NICS_NUM": "5",
    "NVMES_NUM": "2",
    "OBS_NAME": "",
    "OBS_TIERING_SSD_PERCENT": "20",
    "POST_CLUSTER_SETUP_SCRIPT": "",
    "PREFIX": "weka",
    "PROTECTION_LEVEL": "2",
    "PROXY_URL": "",
    "REGION": "us-east-1",
    "REPORTS_PER_HOST": "10",
    "REPORT_LAMBDA_NAME": "weka-bench-report-lambda",
    "REPORT_RETENTION_DAYS": "7",
    "ROLE": "backend",
    "S3_PROTOCOL_GATEWAY_CGROUPS_MODE": "force_v2",
    "S3_PROTOCOL_GATEWAY_FE_CORES_NUM": "1",
    "S3_PROTOCOL_GATEWAYS_NUM": "0",
    "S3_SETUP_PROTOCOL": "true",
    "SCALE_DOWN_PARALLELISM": "10",
    "SCALE_LEASE_TTL": "3m",
    "SET_DEFAULT_FS": "true",
    "SET_OBS": "false",
    "SMB_PROTOCOL_GATEWAY_CGROUPS_MODE": "force_v2",
    "SMB_PROTOCOL_GATEWAY_FE_CORES_NUM": "1",
    "SMB_PROTOCOL_GATEWAYS_NUM": "0",
    "SMB_SETUP_PROTOCOL": "true",
    "SMB_CLUSTER_NAME": "Weka",
    "SMB_DOMAIN_NAME": "weka.local",
    "STATE_KEY": "weka-bench-state",
    "STATE_TABLE": "weka-bench-weka-deployment",
    "STATUS_LAMBDA_NAME": "weka-bench-status-lambda",
    "STRIPE_WIDTH": "3",
    "TERMINATE_HEARTBEAT_TIMEOUT": "900s",
    "TERMINATE_LIFECYCLE_HOOK_NAME": "weka-terminate",
    "TIERING_START_DEMOTE": "10",
    "TIERING_TARGET_SSD_RETENTION": "86400",
    "TOKEN_ID": "arn:aws:secretsmanager:us-east-1:123456789012:secret:weka/token",
    "USERNAME_ID": "arn:aws:secretsmanager:us-east-1:123456789012:secret:weka/user",
    "WEKA_API_TIMEOUT": "5s",
    "WEKA_API_URL_TEMPLATE": "http://{ip}:14000/api/v1",
    "WEKA_HOME_URL": "",
}


class BenchError(Exception):
    """The benchmark cannot run: a binary is missing, or a function did not start."""


class RuntimeApi:
    """A Lambda runtime API on 127.0.0.1 that records when each `invocation/next` arrives and
    never answers it (the caller kills the process)."""

    def __init__(self):
        self.arrivals = queue.Queue()
        self._release = threading.Event()
        api = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (http.server's naming)
                now = time.perf_counter()
                if self.path == NEXT_PATH:
                    api.arrivals.put(now)
                    # Held open (no answer) until the run is over, then dropped.
                    api._release.wait()
                    self.close_connection = True
                else:
                    self.send_error(404)

            def log_message(self, *_args):
                pass

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def address(self):
        host, port = self._server.server_address[:2]
        return f"{host}:{port}"

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *_exc):
        self._release.set()
        self._server.shutdown()
        self._server.server_close()

    def drain(self):
        while True:
            try:
                self.arrivals.get_nowait()
            except queue.Empty:
                return


def refused_port():
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def env_table(path=None):
    with open(path or os.path.join(ROOT, "infra", "function-env.json")) as f:
        return json.load(f)


def function_env(function, table, runtime_api, aws_endpoint, scratch):
    """The process environment of `function`: a clean one (nothing of the caller's, so no
    SSL_CERT_FILE or ~/.aws changes what init does), Lambda's own variables, dummy AWS
    credentials and the function's configuration from `table`."""
    names = table.get(function)
    if names is None:
        raise BenchError(f"{function} is not in infra/function-env.json")
    missing = [n for n in names if n not in DUMMY_ENV]
    if missing:
        raise BenchError(f"coldstart.py has no dummy value for {', '.join(missing)} ({function})")
    env = {
        "PATH": "/usr/bin:/bin",
        "LANG": "C.UTF-8",
        "TZ": ":UTC",
        "AWS_LAMBDA_RUNTIME_API": runtime_api,
        "AWS_LAMBDA_FUNCTION_NAME": f"weka-bench-{function}-lambda",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/weka-bench-{function}-lambda",
        "AWS_LAMBDA_LOG_STREAM_NAME": "bench",
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_SESSION_TOKEN": "test",
        "AWS_ENDPOINT_URL": aws_endpoint,
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_CONFIG_FILE": os.path.join(scratch, "no-aws-config"),
        "AWS_SHARED_CREDENTIALS_FILE": os.path.join(scratch, "no-aws-credentials"),
    }
    env.update({n: DUMMY_ENV[n] for n in names})
    return env


def tail(path, lines=20):
    with open(path, errors="replace") as f:
        return "".join(f.readlines()[-lines:]).rstrip() or "(no output)"


def start_once(binary, env, api, timeout, log_path):
    """Spawns `binary`; returns the seconds until its first `invocation/next` and the CPU
    seconds (user + system, every thread) it used until it was killed, waiting for an answer:
    the CPU figure barely moves with the machine's load, the wall time does."""
    api.drain()
    with open(log_path, "w") as log:
        start = time.perf_counter()
        proc = subprocess.Popen([binary], env=env, stdin=subprocess.DEVNULL, stdout=log,
                                stderr=subprocess.STDOUT)
    name = os.path.basename(binary)
    try:
        deadline = start + timeout
        while True:
            try:
                arrived = api.arrivals.get(timeout=0.002)
                proc.kill()
                _, status, usage = os.wait4(proc.pid, 0)
                proc.returncode = os.waitstatus_to_exitcode(status)
                return arrived - start, usage.ru_utime + usage.ru_stime
            except queue.Empty:
                pass
            code = proc.poll()
            if code is not None:
                raise BenchError(f"{name} exited with status {code} during init, before asking "
                                 f"for an event; its output ends with:\n{tail(log_path)}")
            if time.perf_counter() > deadline:
                raise BenchError(f"{name} did not ask for an event within {timeout:g} s; its "
                                 f"output ends with:\n{tail(log_path)}")
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()


def measure(bin_dir, functions, starts, warmup=1, timeout=10.0, table=None):
    """Milliseconds of each start and CPU milliseconds it used, per function. Functions take
    turns (one start of each per round) so a load that varies over the run weighs on all of
    them alike."""
    binaries = {f: os.path.join(bin_dir, f) for f in functions}
    missing = [b for b in binaries.values() if not os.access(b, os.X_OK)]
    if missing:
        raise BenchError("missing binaries (build them with `cargo build --release`): "
                         + ", ".join(missing))
    table = table if table is not None else env_table()
    samples = {f: [] for f in functions}
    cpu = {f: [] for f in functions}
    with tempfile.TemporaryDirectory(prefix="coldstart.") as scratch, RuntimeApi() as api:
        endpoint = f"http://127.0.0.1:{refused_port()}"
        envs = {f: function_env(f, table, api.address, endpoint, scratch) for f in functions}
        log_path = os.path.join(scratch, "output.log")
        for round_ in range(warmup + starts):
            for f in functions:
                seconds, cpu_seconds = start_once(binaries[f], envs[f], api, timeout, log_path)
                if round_ >= warmup:
                    samples[f].append(seconds * 1000)
                    cpu[f].append(cpu_seconds * 1000)
    return samples, cpu


def summarize(samples, limit):
    """Rows of (function, median, min, ratio, ok) and whether all are ok."""
    medians = {f: statistics.median(ms) for f, ms in samples.items()}
    smallest = min(medians.values())
    rows = []
    for f, ms in samples.items():
        ratio = medians[f] / smallest if smallest > 0 else float("inf")
        rows.append((f, medians[f], min(ms), ratio, ratio <= limit))
    return rows, all(r[4] for r in rows)


def report(rows, all_ok, limit, starts, out=None, cpu=None):
    """Prints the table; `cpu` (function -> CPU ms per start) adds the median CPU time and its
    ratio to the smallest function's, for reading a run on a busy machine (the verdict stays
    on wall time)."""
    out = out or sys.stdout
    smallest = min(rows, key=lambda r: r[1])
    cpu_medians = {f: statistics.median(ms) for f, ms in cpu.items()} if cpu else {}
    cpu_smallest = cpu_medians.get(smallest[0])
    cpu_head = f"{'cpu ms':>8}{'cpu ratio':>10}" if cpu_medians else ""
    print(f"cold start: spawn to first GET {NEXT_PATH} ({starts} starts each)", file=out)
    print(f"{'function':<26}{'median ms':>10}{'min ms':>9}{'ratio':>8}{cpu_head}  verdict",
          file=out)
    for f, median, low, ratio, ok in rows:
        verdict = "ok" if ok else f"SLOW (above {limit:g}x {smallest[0]})"
        cpu_ratio = cpu_medians[f] / cpu_smallest if cpu_smallest else float("nan")
        cpu_cols = f"{cpu_medians[f]:>8.1f}{cpu_ratio:>10.2f}" if cpu_medians else ""
        print(f"{f:<26}{median:>10.1f}{low:>9.1f}{ratio:>8.2f}{cpu_cols}  {verdict}", file=out)
    slow = [r[0] for r in rows if not r[4]]
    if all_ok:
        print(f"overall: ok, every median within {limit:g}x the smallest "
              f"({smallest[0]}, {smallest[1]:.1f} ms)", file=out)
    else:
        print(f"overall: FAIL, above {limit:g}x the smallest median ({smallest[0]}, "
              f"{smallest[1]:.1f} ms): {', '.join(slow)}", file=out)


def default_bin_dir():
    target = os.environ.get("CARGO_TARGET_DIR") or os.path.join(ROOT, "target")
    return os.path.join(target, "release")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bin-dir", default=default_bin_dir(),
                        help="directory of the release binaries (default: %(default)s)")
    parser.add_argument("--starts", type=int, default=12, help="measured starts per function")
    parser.add_argument("--warmup", type=int, default=1,
                        help="unmeasured starts per function first (page cache)")
    parser.add_argument("--timeout", type=float, default=10.0,
                        help="seconds a start may take before the run fails")
    parser.add_argument("--limit", type=float, default=1.5,
                        help="largest ratio of a median to the smallest that is ok")
    parser.add_argument("--functions", nargs="+", default=FUNCTIONS, metavar="NAME",
                        help="functions to start (default: all ten)")
    parser.add_argument("--env-table", default=None,
                        help="JSON of function to environment names (default: "
                             "infra/function-env.json)")
    args = parser.parse_args(argv)
    if args.starts < 1:
        parser.error("--starts must be at least 1")
    try:
        samples, cpu = measure(args.bin_dir, args.functions, args.starts, args.warmup, args.timeout,
                          env_table(args.env_table))
    except BenchError as e:
        print(f"coldstart: {e}", file=sys.stderr)
        return 2
    rows, all_ok = summarize(samples, args.limit)
    report(rows, all_ok, args.limit, args.starts, cpu=cpu)
    return 0


if __name__ == "__main__":
    sys.exit(main())
