"""The local cloud: emulated AWS (patched moto + the Lambda router running the real function
binaries), the project's Terraform module applied to it, a simulated WEKA fleet, an EventBridge
clock, and a fleet of simulated hosts that run the launch template's real user data.

Every process is started here through tests/harness.py, tracked by pid and stopped by pid
(`LocalCloud.stop`). Nothing talks to an address other than loopback: the hosts' `curl` and
`weka` are shims, the Lambdas reach WEKA through `WEKA_API_URL_TEMPLATE`, and AWS calls go to
the router on 127.0.0.1.
"""

import base64
import contextlib
import json
import os
import shlex
import shutil
import subprocess
import sys
import threading
import time
import zipfile

import boto3
from botocore.config import Config

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))  # tests/: the shared process harness
from harness import (  # noqa: E402
    ROOT, PortReservation, Proc, debug_bin_dir, get_json, post_json, start_moto, start_router,
    start_weka_sim, tail, wait_for,
)
from reachability import ALL as ALL_SERVICES  # noqa: E402
from reachability import Blackhole, Network, endpoint_env, weka_url_template  # noqa: E402
import iam  # noqa: E402  (tests/localcloud/iam.py)
import release_manifest  # noqa: E402  (tests/release_manifest.py: make package's release)

# wait_for is re-exported for demo.py and e2e.py.
__all__ = ["LocalCloud", "Settings", "wait_for"]

FUNCTIONS = [
    "deploy", "clusterize", "clusterize-finalization", "report", "status",
    "fetch", "scale-fetch", "scale-down", "terminate", "transient", "adopt",
]
REGION = "us-east-1"
# The release the local cloud deploys its functions from (a stand-in zip per function).
LOCAL_RELEASE = "0.0.0"
# The local example's prefix-cluster_name: the seed's example names.
PREFIX = "WEKA-Prod"
# The router-only copy of status run without the DynamoDB endpoint (`probe_without_...`).
PROBE_WITHOUT_DYNAMODB = f"{PREFIX}-status-probe-without-dynamodb-endpoint"
# moto's account id: the account of every instance identity document the local IMDS serves.
ACCOUNT_ID = "123456789012"
# The local cloud's instance identity signer (a committed test key; see identity/README.md).
IDENTITY_KEY = os.path.join(HERE, "identity", "signing-key.pem")


def identity_document(instance, ip):
    """The text of IMDS /latest/dynamic/instance-identity/document for `instance`, laid out as
    AWS serves it (pretty-printed, `"key" : value`)."""
    launched = instance.get("LaunchTime")
    pending = (launched.strftime("%Y-%m-%dT%H:%M:%SZ") if hasattr(launched, "strftime")
               else time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
    doc = {
        "accountId": ACCOUNT_ID,
        "architecture": "x86_64",
        "availabilityZone": instance.get("Placement", {}).get("AvailabilityZone", REGION + "a"),
        "imageId": instance.get("ImageId", ""),
        "instanceId": instance["InstanceId"],
        "instanceType": instance.get("InstanceType", "i3en.2xlarge"),
        "pendingTime": pending,
        "privateIp": ip,
        "region": REGION,
        "version": "2017-09-30",
    }
    return json.dumps(doc, indent=2, separators=(",", " : "))


def identity_signature(document):
    """base64 RSASSA-PKCS1-v1_5/SHA-256 over the document's exact bytes, with the test key (the
    format of IMDS /latest/dynamic/instance-identity/signature)."""
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import padding
    with open(IDENTITY_KEY, "rb") as f:
        key = serialization.load_pem_private_key(f.read(), password=None)
    signature = key.sign(document.encode(), padding.PKCS1v15(), hashes.SHA256())
    return base64.b64encode(signature).decode()


def tf_args(tf_vars):
    """`-var k=v` arguments for a dict of Terraform variables."""
    return [a for k, v in tf_vars.items() for a in ("-var", f"{k}={v}")]


class Settings:
    """Scenario knobs (flags or env of `make demo`, fixed values in the e2e tests)."""

    def __init__(self, **kw):
        self.cluster_size = int(kw.get("cluster_size", 6))
        self.tick = float(kw.get("tick", 5))
        self.sleep_scale = float(kw.get("sleep_scale", 0.02))
        self.sim_time_factor = float(kw.get("sim_time_factor", 1))
        self.bootstrap_grace_minutes = kw.get("bootstrap_grace_minutes", 1)
        self.down_removal_timeout = kw.get("down_removal_timeout", "30s")
        self.install_faults = int(kw.get("install_faults", 0))
        # DPDK: 4 NICs per backend, three ENIs created by the user data (slower locally).
        self.dpdk = bool(kw.get("dpdk", False))
        # The network variant: a private subnet without NAT (endpoints only) instead of the
        # module's default public subnet.
        self.private_subnet = bool(kw.get("private_subnet", False))
        # The functions' code as a release in a bucket (make package's layout, read in place:
        # lambdas_custom_s3_bucket); False stages the zips (lambdas_upload_s3_bucket).
        self.release_code = bool(kw.get("release_code", True))
        # SMB and S3 protocol gateways (plain instances, booted like the ASG's).
        self.smb_gateways = int(kw.get("smb_gateways", 0))
        self.s3_gateways = int(kw.get("s3_gateways", 0))
        self.run_dir = os.path.abspath(kw.get("run_dir") or os.path.join(
            ROOT, "target", "localcloud", time.strftime("run-%Y%m%d-%H%M%S")))
        self.bin_dir = kw.get("bin_dir") or debug_bin_dir()
        self.venv = kw.get("venv") or os.environ.get("VENV") or os.path.join(ROOT, ".venv")
        self.verbose = bool(kw.get("verbose", False))
        # Deliver the ASGs' EventBridge events to the state machine (issue: lifecycle events).
        self.events = bool(kw.get("events", True))
        # Lifecycle hook timing (seconds; None: the module's defaults, 900/900/120).
        self.launch_heartbeat_timeout = kw.get("launch_heartbeat_timeout")
        self.terminate_heartbeat_timeout = kw.get("terminate_heartbeat_timeout")
        self.lifecycle_deadline_margin = kw.get("lifecycle_deadline_margin")
        # Per-function Lambda timeouts (seconds) and the scale lease's lifetime ("3m"); None:
        # the module's.
        self.lambda_timeouts = kw.get("lambda_timeouts")
        self.scale_lease_ttl = kw.get("scale_lease_ttl")


class LocalCloud:
    def __init__(self, settings, say=print):
        self.s = settings
        self.say = say
        self.procs = []
        self.fleet = None
        self.clock = None
        self.events = None
        # Where unreachable AWS services and WEKA addresses point (reachability.py).
        self.blackhole = Blackhole()
        os.makedirs(self.s.run_dir, exist_ok=True)
        self.logs = os.path.join(self.s.run_dir, "logs")
        os.makedirs(self.logs, exist_ok=True)

    # ---- lifecycle --------------------------------------------------------------------------

    def start(self):
        self.start_emulators()
        self._apply_terraform()
        self.start_control_plane()
        return self

    def start_emulators(self):
        """The WEKA simulator and moto (IAM enforced), nothing applied yet."""
        self._check_tools()
        self._start_weka_sim()
        # Held until the router starts: moto calls back to it, and the Terraform apply between
        # could otherwise see the port handed to another server.
        self._router_port = PortReservation()
        self.router_port = self._router_port.port
        self._start_moto()

    def start_control_plane(self, booted=(), events_from_now=False):
        """Once a Terraform root is applied (`use_terraform_root`): the router running its
        functions, the fleet, the clock and the event feed. `booted`: running instances of the
        group launched before the local cloud played EC2 (by WEKA's module): the fleet boots no
        host for them. `events_from_now`: the feed skips the Auto Scaling events recorded so far
        (no rule of this module was there to deliver them)."""
        self._start_router()
        self._clients()
        self.fleet = Fleet(self, booted)
        self.fleet.start()
        self.clock = Clock(self)
        if self.s.events:
            self.events = EventFeed(self, from_now=events_from_now)
            self.events.start()

    def stop(self):
        if self.events:
            self.events.stop()
        if self.clock:
            self.clock.stop()
        if self.fleet:
            self.fleet.stop()
        for p in reversed(self.procs):
            p.stop()
        self.procs.clear()
        self.blackhole.close()

    def _log(self, name):
        return os.path.join(self.logs, f"{name}.log")

    def _check_tools(self):
        missing = []
        for f in FUNCTIONS + ["weka-sim"]:
            if not os.access(os.path.join(self.s.bin_dir, f), os.X_OK):
                missing.append(os.path.join(self.s.bin_dir, f))
        if missing:
            raise SystemExit("local cloud: binaries missing (cargo build --workspace --bins): "
                             + ", ".join(missing))
        for tool in ("terraform", "jq", "unshare", "bash"):
            if shutil.which(tool) is None:
                raise SystemExit(f"local cloud: '{tool}' is not installed")
        if not os.access(os.path.join(self.s.venv, "bin", "aws"), os.X_OK):
            raise SystemExit(f"local cloud: {self.s.venv}/bin/aws missing (run tests/setup.sh)")
        self.aws_cli = os.path.join(self.s.venv, "bin", "aws")
        self.aws_cli_v2 = next((c for c in ("/usr/local/bin/aws", "/usr/bin/aws")
                                if os.access(c, os.X_OK) and subprocess.run(
                                    [c, "--version"], capture_output=True, text=True
                                ).stdout.startswith("aws-cli/2")), None)
        if self.aws_cli_v2 is None:
            raise SystemExit("local cloud: AWS CLI v2 missing (run tests/setup.sh)")
        self.namespaces = subprocess.run(
            ["unshare", "-m", "--propagation", "private", "true"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode == 0

    def _start_weka_sim(self):
        sim = start_weka_sim(os.path.join(self.s.bin_dir, "weka-sim"),
                             os.path.join(self.s.run_dir, "weka-sim.port"), self._log("weka-sim"),
                             time_factor=self.s.sim_time_factor)
        self.procs.append(sim.proc)
        self.sim_url = sim.url
        self.say(f"weka-sim     {self.sim_url} (time x{self.s.sim_time_factor:g})")

    def _start_moto(self):
        # Real Step Functions executions that call back through the router; Lambda without
        # Docker (the router runs the code).
        moto = start_moto(self._log("moto"), python=os.path.join(self.s.venv, "bin", "python"),
                          callback_port=self.router_port,
                          config={"stepfunctions": {"execute_state_machine": True},
                                  "lambda": {"use_docker": False}},
                          iam=True)
        self.procs.append(moto.proc)
        self.moto_url = moto.url
        # IAM is enforced: the harness and Terraform sign with the admin user's key (iam.py).
        self.admin = moto.admin
        self.say(f"moto         {self.moto_url} (Step Functions call back through the router)")

    def terraform_env(self, work):
        """The environment Terraform runs in against this cloud's moto (work: its config dir)."""
        # CHECKPOINT_DISABLE: no version check against HashiCorp (nothing leaves loopback).
        # The module's key pair generation runs the AWS CLI (local-exec): the venv's, which
        # reads AWS_ENDPOINT_URL.
        env = dict(os.environ, TF_IN_AUTOMATION="1", TF_INPUT="0", CHECKPOINT_DISABLE="1",
                   PATH=os.path.join(self.s.venv, "bin") + os.pathsep + os.environ.get("PATH", ""),
                   AWS_ENDPOINT_URL=self.moto_url, AWS_DEFAULT_REGION=REGION,
                   TF_CLI_CONFIG_FILE=os.path.join(work, "terraformrc"),
                   TF_VAR_access_key=self.admin["AccessKeyId"],
                   TF_VAR_secret_key=self.admin["SecretAccessKey"], **iam.admin_env(self.admin))
        open(env["TF_CLI_CONFIG_FILE"], "w").close()
        return env

    def copy_sources(self, work, infra_src=None):
        """A copy of the module (infra_src, default this checkout's infra/) and the state
        machine under `work`: state and .terraform stay in the run dir."""
        shutil.rmtree(work, ignore_errors=True)
        os.makedirs(work)
        for d, src in (("infra", infra_src or os.path.join(ROOT, "infra")),
                       ("state-machine", os.path.join(ROOT, "state-machine"))):
            shutil.copytree(src, os.path.join(work, d), ignore=shutil.ignore_patterns(
                ".terraform", ".terraform.lock.hcl", "*.tfstate*", ".venv*"))

    def stage_code(self, work, code_bucket):
        """The functions' stand-in zips (moto stores the code; the router runs the real
        binaries) and the bucket they are read from: the Terraform variables that point the
        module at them."""
        zips = os.path.join(work, "lambda")
        for f in FUNCTIONS:
            os.makedirs(os.path.join(zips, f))
            with zipfile.ZipFile(os.path.join(zips, f, "bootstrap.zip"), "w") as z:
                z.writestr("bootstrap", "#!/bin/sh\nexit 1\n")
        # The code comes from S3 (the AWS provider creates functions from local zips one at a
        # time, ~5 s each, and from S3 all at once): a release, as `make package` cuts it and an
        # operator uploads it, read in place; or (release_code False) the zips staged by the
        # module (lambdas_upload_s3_bucket).
        s3 = iam.admin_client("s3", self.moto_url, self.admin, s3={"addressing_style": "path"})
        s3.create_bucket(Bucket=code_bucket)
        if self.s.release_code:
            release = release_manifest.build_release(
                zips, os.path.join(work, "dist"), LOCAL_RELEASE, FUNCTIONS)
            for name in sorted(os.listdir(release)):
                extra = {"ContentType": "application/json"} if name.endswith(".json") else {}
                with open(os.path.join(release, name), "rb") as body:
                    s3.put_object(Bucket=code_bucket, Key=f"{LOCAL_RELEASE}/{name}", Body=body,
                                  **extra)
            return {"lambdas_custom_s3_bucket": code_bucket, "lambdas_version": LOCAL_RELEASE}
        return {"lambdas_dir": zips, "lambdas_upload_s3_bucket": code_bucket}

    def local_vars(self):
        """The module's inputs that point it at this cloud (the WEKA simulator, the local
        identity certificate) and set the scenario's timing."""
        return {
            "aws_endpoint": self.moto_url,
            "weka_api_url_template": self.sim_url + "/{ip}/api/v1",
            "bootstrap_grace_minutes": str(self.s.bootstrap_grace_minutes),
            "down_backends_removal_timeout": self.s.down_removal_timeout,
            # The IMDS shim signs each host's identity with the matching key: checks are on.
            "instance_identity_certificate": open(os.path.join(HERE, "identity",
                                                               "certificate.pem")).read(),
        }

    def terraform(self, cwd, env, *args, log=None, ok=(0,)):
        """Runs `terraform ARGS` in cwd, its output in logs/terraform-<log or ARGS[0]>.log;
        raises RuntimeError (the log's tail) when its exit code is not in `ok`. The log's path
        and the exit code."""
        path = os.path.join(self.logs, f"terraform-{log or args[0]}.log")
        with open(path, "wb") as out:
            rc = subprocess.run(["terraform", args[0], "-no-color", *args[1:]], cwd=cwd,
                                env=env, stdout=out, stderr=subprocess.STDOUT).returncode
        if rc not in ok:
            raise RuntimeError(f"terraform {args[0]} failed (exit {rc}); see {path}:\n"
                               + tail(path, 30))
        return path, rc

    def terraform_init(self, cwd, env, log=None):
        self.terraform(cwd, env, "init", "-backend=false",
                       "-plugin-dir=" + os.environ.get("TF_PLUGIN_DIR", "/opt/tf-plugins"),
                       log=log)

    def use_terraform_root(self, tf_dir, env):
        """Reads the applied root's outputs and network: what the control plane runs with."""
        outputs = json.loads(subprocess.run(
            ["terraform", "output", "-json"], cwd=tf_dir, env=env, check=True,
            capture_output=True).stdout)
        self.outputs = {k: v["value"] for k, v in outputs.items()}
        self.tf_dir = tf_dir
        self.network = Network(json.loads(subprocess.run(
            ["terraform", "show", "-json"], cwd=tf_dir, env=env, check=True,
            capture_output=True).stdout))

    def _apply_terraform(self):
        work = os.path.join(self.s.run_dir, "tf")
        self.copy_sources(work)
        env = self.terraform_env(work)
        tf_vars = {
            **self.local_vars(),
            **self.stage_code(work, f"{PREFIX.lower()}-lambda-code"),
            "cluster_size": str(self.s.cluster_size),
            "install_cluster_dpdk": "true" if self.s.dpdk else "false",
            "subnet_autocreate_as_private": "true" if self.s.private_subnet else "false",
            "ssh_private_key_path": self.ssh_private_key_path,
            "features": json.dumps({"smb_protocol_gateways_number": self.s.smb_gateways,
                                    "s3_protocol_gateways_number": self.s.s3_gateways}),
        }
        for name in ("launch_heartbeat_timeout", "terminate_heartbeat_timeout",
                     "lifecycle_deadline_margin", "lambda_timeouts", "scale_lease_ttl"):
            value = getattr(self.s, name)
            if value is not None:
                tf_vars[name] = json.dumps(value) if isinstance(value, dict) else str(value)
        example = os.path.join(work, "infra", "examples", "local")
        t0 = time.time()
        self.terraform_init(example, env)
        self.terraform(example, env, "apply", "-auto-approve", "-parallelism=20",
                       *tf_args(tf_vars))
        self.use_terraform_root(example, env)
        self.say(f"terraform    module applied to moto in {time.time() - t0:.0f}s "
                 f"({len(self.outputs['lambda_names'])} Lambdas, state machine, ASG, DynamoDB, secrets)")

    def _start_router(self):
        lam = iam.admin_client("lambda", self.moto_url, self.admin)
        specs = {}
        self.lambda_names = {}
        for fn, name in self.outputs["lambda_names"].items():
            conf = lam.get_function_configuration(FunctionName=name)
            env = dict(conf.get("Environment", {}).get("Variables", {}))
            env.update(self.aws_env(self.router_url))
            reach = self.network.function_reach(name)
            env.update(endpoint_env(reach, self.router_url, self.blackhole.url))
            if "WEKA_API_URL_TEMPLATE" in env:
                env["WEKA_API_URL_TEMPLATE"] = weka_url_template(reach, self.sim_url,
                                                                 self.blackhole.url)
            if reach.services != ALL_SERVICES or reach.weka:
                self.say(f"network      {fn}: {reach.describe()}")
            env.update(iam.function_env(self.moto_url, conf))  # its execution role's credentials
            specs[name] = {"env": env, "timeout": conf.get("Timeout", 60), "binary": fn}
            self.lambda_names[fn] = name
            if fn == "status":
                specs[PROBE_WITHOUT_DYNAMODB] = self._probe_spec(name, specs[name], "dynamodb")
        path = os.path.join(self.s.run_dir, "functions.json")
        with open(path, "w") as f:
            json.dump(specs, f, indent=1)
        self._router_port.release()
        router = start_router(self._log("router"), port=self.router_port, moto_url=self.moto_url,
                              bin_dir=self.s.bin_dir, functions_file=path,
                              log_dir=os.path.join(self.logs, "lambda"),
                              python=os.path.join(self.s.venv, "bin", "python"),
                              authorize_invokes=True)
        self.procs.append(router.proc)
        self.say(f"router       {self.router_url} (Lambda Invoke -> target/debug binaries)")

    def instance_role(self, instance):
        """The role of the instance profile `instance` runs with (its launch template's)."""
        lt = {} if instance.get("IamInstanceProfile") else self.group().get("LaunchTemplate") or {}
        data = self.ec2.describe_launch_template_versions(
            LaunchTemplateId=lt["LaunchTemplateId"], Versions=["$Latest"]
        )["LaunchTemplateVersions"][0]["LaunchTemplateData"] if lt else {}
        return iam.instance_profile_role(self.iam, instance, data)

    @property
    def ssh_private_key_path(self):
        """Where the module writes the generated key pair's private key (in this run's dir, not
        the seed's /tmp, so that runs side by side do not share it)."""
        return os.path.join(self.s.run_dir, f"{PREFIX}-private-key.pem")

    def _probe_spec(self, name, spec, service):
        """A copy of function `name` that the router alone knows, run with the network of this
        deployment less its `service` endpoint (the harness's self-test)."""
        reach = self.network.without_endpoint(service).function_reach(name)
        env = dict(spec["env"], **endpoint_env(reach, self.router_url, self.blackhole.url))
        return dict(spec, env=env)

    def probe_without_dynamodb_endpoint(self):
        """Invokes `status` (progress) as if the deployment had no DynamoDB endpoint: returns
        (function error, result). The harness must make it fail as AWS would."""
        r = self.lam.invoke(FunctionName=PROBE_WITHOUT_DYNAMODB,
                            Payload=json.dumps({"type": "progress"}).encode())
        return r.get("FunctionError"), r["Payload"].read().decode(errors="replace")

    @property
    def router_url(self):
        return f"http://127.0.0.1:{self.router_port}"

    @staticmethod
    def aws_env(endpoint):
        return {"AWS_ENDPOINT_URL": endpoint, "AWS_ACCESS_KEY_ID": "test",
                "AWS_SECRET_ACCESS_KEY": "test", "AWS_REGION": REGION,
                "AWS_DEFAULT_REGION": REGION}

    def user_env(self):
        """The environment of a user's shell next to the local cloud: AWS CLI v2 (as the seed's
        users have it) pointed at the router, with the credentials Terraform applied with. CLI
        v2 before 2.13 (Debian's is 2.9) ignores AWS_ENDPOINT_URL, so `aws` on this PATH is a
        wrapper that passes it as --endpoint-url; the SDKs and newer CLIs read the variable."""
        bin_dir = os.path.join(self.s.run_dir, "user-bin")
        wrapper = os.path.join(bin_dir, "aws")
        if not os.path.exists(wrapper):
            os.makedirs(bin_dir, exist_ok=True)
            with open(wrapper, "w") as f:
                f.write("#!/bin/bash\n# AWS CLI v2 against the local cloud (see cloud.py user_env).\n"
                        f'exec {self.aws_cli_v2} --endpoint-url "$AWS_ENDPOINT_URL" "$@"\n')
            os.chmod(wrapper, 0o755)
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env.update(self.aws_env(self.router_url))
        env.update(iam.admin_env(self.admin))  # IAM is enforced: the admin's key
        env["PATH"] = bin_dir + os.pathsep + env.get("PATH", "")
        env["AWS_PAGER"] = ""
        return env

    def sandbox_env_text(self):
        """The exports that point a shell at this local cloud as `user_env` does (`make up`
        writes them to sandbox.env)."""
        env = self.user_env()
        names = ["AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
                 "AWS_SESSION_TOKEN", "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PAGER"]
        lines = [f"export {n}={shlex.quote(env[n])}" for n in names if n in env]
        user_bin = env["PATH"].split(os.pathsep)[0]
        lines.append(f"export PATH={shlex.quote(user_bin)}:\"$PATH\""
                     "  # aws: AWS CLI v2 given --endpoint-url (CLI v2 < 2.13 ignores the variable)")
        return "\n".join(lines) + "\n"

    def run_user_command(self, command, timeout=120, **variables):
        """Runs one shell command line as the user would (user_env, plus `variables` such as
        INSTANCE_ID): (exit code, out, err)."""
        done = subprocess.run(["bash", "-c", command], env=dict(self.user_env(), **variables),
                              capture_output=True, text=True, timeout=timeout)
        return done.returncode, done.stdout, done.stderr

    def console(self, *args, timeout=240):
        """Runs the operator's CLI (`wekactl-aws`, the real binary) as the user would, on this
        deployment's Terraform root: (exit code, stdout, stderr)."""
        cli = os.path.join(self.s.bin_dir, "wekactl-aws")
        done = subprocess.run([cli, "--tf-dir", self.tf_dir, *args], env=self.user_env(),
                              capture_output=True, text=True, timeout=timeout)
        return done.returncode, done.stdout, done.stderr

    def watch(self, on_line, interval="2s"):
        """Starts `wekactl-aws watch` (the operator's live view, one line per change when not on
        a terminal) as a tracked process; `on_line` gets each line it prints. Stopped with the
        cloud; it gives up by itself after a minute of failed polls."""
        log = os.path.join(self.logs, "wekactl-aws-watch.log")
        proc = Proc("wekactl-aws-watch",
                    [os.path.join(self.s.bin_dir, "wekactl-aws"), "--tf-dir", self.tf_dir,
                     "watch", "--until", "never", "--interval", interval,
                     "--max-failures", "30"], log, env=self.user_env())
        self.procs.append(proc)

        def pump():
            with open(log, "r", errors="replace") as f:
                while True:
                    line = f.readline()
                    if line:
                        on_line(line.rstrip("\n"))
                    elif not proc.alive():
                        return
                    else:
                        time.sleep(0.2)
        threading.Thread(target=pump, name="watch-lines", daemon=True).start()
        return proc

    def console_json(self, *args):
        """`wekactl-aws --json ARGS`, parsed; raises with its stderr when it exits non-zero."""
        rc, out, err = self.console("--json", *args)
        if rc != 0:
            raise RuntimeError(f"wekactl-aws {' '.join(args)} exited {rc}: {err.strip()[-800:]}")
        return json.loads(out)

    def helper_command(self, marker):
        """The line of the module's cluster_helper_commands output that contains `marker`."""
        return next(line for line in self.outputs["cluster_helper_commands"].splitlines()
                    if marker in line)

    def _clients(self):
        kw = dict(endpoint_url=self.router_url, region_name=REGION,
                  aws_access_key_id=self.admin["AccessKeyId"],
                  aws_secret_access_key=self.admin["SecretAccessKey"],
                  config=Config(retries={"max_attempts": 2}, read_timeout=900))
        self.asg = boto3.client("autoscaling", **kw)
        self.iam = boto3.client("iam", **kw)
        self.ec2 = boto3.client("ec2", **kw)
        self.sfn = boto3.client("stepfunctions", **kw)
        self.lam = boto3.client("lambda", **kw)
        self.ddb = boto3.client("dynamodb", **kw)
        dep = self.outputs["weka_deployment"]
        self.asg_name = dep["asg_name"]
        self.asg_names = {self.asg_name} | {n for n in [dep.get("nfs_asg_name")] if n}
        self.state_machine_arn = self.outputs["state_machine_arn"]
        # The clock and the event feed play EventBridge: they sign with the rules' role.
        self.events_sfn = iam.events_sfn_client(
            self.moto_url, self.router_url,
            iam.events_role(boto3.client("events", **kw), self.state_machine_arn),
            retries={"max_attempts": 2})

    # ---- helpers used by stories and tests --------------------------------------------------

    def invoke(self, function, payload):
        """Invokes a Lambda through the router; returns (function_error, decoded result)."""
        r = self.lam.invoke(FunctionName=self.lambda_names[function],
                            Payload=json.dumps(payload).encode())
        body = r["Payload"].read()
        try:
            value = json.loads(body)
        except ValueError:
            value = body.decode(errors="replace")
        return r.get("FunctionError"), value

    def progress(self):
        err, value = self.invoke("status", {"type": "progress"})
        if err:
            raise RuntimeError(f"status failed: {value}")
        return value

    def status(self):
        err, value = self.invoke("status", {"type": "status"})
        if err:
            raise RuntimeError(f"status failed: {value}")
        return value

    def group(self):
        g = self.asg.describe_auto_scaling_groups(AutoScalingGroupNames=[self.asg_name])
        return g["AutoScalingGroups"][0]

    def set_desired(self, n):
        self.asg.set_desired_capacity(AutoScalingGroupName=self.asg_name, DesiredCapacity=n)

    def sim(self, path, body=None):
        if body is None:
            return get_json(self.sim_url + path)
        return post_json(self.sim_url + path, body)

    def router(self, path, body=None):
        """The router's fault control (tests/emulator/lambda_router.py, `/_router/faults`)."""
        if body is None:
            return get_json(self.router_url + path)
        return post_json(self.router_url + path, body)

    def lifecycle_pending(self):
        """Lifecycle actions Auto Scaling still waits on (the patched moto's `/_lifecycle/state`)."""
        return get_json(self.moto_url + "/_lifecycle/state")["pending"]

    def weka_cluster(self):
        """The (single) simulated cluster's dump, or None before clusterization."""
        clusters = self.sim("/_sim/state").get("clusters", {})
        return next(iter(clusters.values()), None)

    def active_backends(self):
        """Instance ids whose WEKA containers are all ACTIVE and UP, from the simulator."""
        cluster = self.weka_cluster()
        if not cluster or not isinstance(cluster.get("hosts_list"), dict):
            return set()
        by_instance = {}
        for host in cluster["hosts_list"].values():
            iid = (host.get("aws") or {}).get("instance_id")
            ok = host.get("state") == "ACTIVE" and host.get("status") == "UP"
            by_instance.setdefault(iid, []).append(ok)
        return {i for i, oks in by_instance.items() if i and all(oks) and len(oks) >= 2}

    def executions(self):
        out = []
        for page in self.sfn.get_paginator("list_executions").paginate(
                stateMachineArn=self.state_machine_arn):
            out.extend(page["executions"])
        return out


class Clock:
    """Plays EventBridge: starts the state machine every tick (moto never fires schedules)."""

    def __init__(self, cloud):
        self.cloud = cloud
        self.count = 0
        self.stopped = threading.Event()
        self.holding = threading.Event()
        self.thread = None

    def start(self):
        if self.thread is None:
            self.thread = threading.Thread(target=self._run, daemon=True)
            self.thread.start()

    def _run(self):
        while not self.stopped.wait(self.cloud.s.tick):
            if not self.holding.is_set():
                self.fire()

    @contextlib.contextmanager
    def held(self, settle_timeout=60):
        """No tick inside, and no execution running once entered: what a story does there is
        observed before the control plane reacts (a tick could otherwise land in between)."""
        self.holding.set()
        try:
            deadline = time.time() + settle_timeout
            while time.time() < deadline and any(
                    e["status"] == "RUNNING" for e in self.cloud.executions()):
                time.sleep(0.5)
            yield
        finally:
            self.holding.clear()

    def fire(self, name=None, payload=None):
        self.count += 1
        name = name or f"tick-{self.count:05d}-{int(time.time())}"
        try:
            return self.cloud.events_sfn.start_execution(
                stateMachineArn=self.cloud.state_machine_arn, name=name,
                input=json.dumps(payload or {"source": "aws.events",
                                             "detail-type": "Scheduled Event", "detail": {}}))
        except Exception as e:  # the clock must keep ticking
            self.cloud.say(f"clock: start-execution failed: {e}")
            return None

    def stop(self):
        self.stopped.set()
        if self.thread:
            self.thread.join(5)


class EventFeed:
    """Plays the EventBridge rules on the ASGs: moto records Auto Scaling events (launch,
    terminate, lifecycle actions; see tests/emulator/LIFECYCLE.md) but never delivers them, so
    this thread starts the state machine with each event of the cluster's groups as input."""

    def __init__(self, cloud, from_now=False):
        self.cloud = cloud
        self.after = 0
        if from_now:
            self.after = max((int(item["seq"]) for item in self._recorded()), default=0)
        self.delivered = []
        # While paused, events are skipped (the run measures the tick-only reaction).
        self.paused = False
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def start(self):
        self.thread.start()

    def stop(self):
        self.stopped.set()
        self.thread.join(5)

    def _run(self):
        while not self.stopped.wait(0.5):
            try:
                self.poll()
            except Exception as e:
                self.cloud.say(f"events: {type(e).__name__}: {e}")

    def _recorded(self):
        """The events moto recorded after `self.after`."""
        batch = get_json(f"{self.cloud.moto_url}/_lifecycle/events?after={self.after}")
        return batch.get("events", batch) if isinstance(batch, dict) else batch

    def poll(self):
        for item in self._recorded():
            self.after = max(self.after, int(item["seq"]))
            event = item["event"]
            if self.paused:
                continue
            if event.get("detail", {}).get("AutoScalingGroupName") not in self.cloud.asg_names:
                continue
            name = f"event-{item['seq']:05d}-{int(time.time())}"
            self.cloud.events_sfn.start_execution(stateMachineArn=self.cloud.state_machine_arn,
                                           name=name, input=json.dumps(event))
            self.delivered.append((time.time(), event.get("detail-type"),
                                   event.get("detail", {}).get("EC2InstanceId")))


class Host:
    """One simulated instance: a sandbox running the launch template's user data under bash."""

    def __init__(self, cloud, instance, user_data, fault=None, launch_template_id=None):
        self.cloud = cloud
        self.id = instance["InstanceId"]
        self.ip = instance["PrivateIpAddress"]
        self.launched = time.time()
        self.fault = fault
        self.dir = os.path.join(cloud.s.run_dir, "hosts", self.id)
        for sub in ("tmp", "home", "root/sys/class/net", "root/tmp"):
            os.makedirs(os.path.join(self.dir, sub), exist_ok=True)
        for nic in ("eth0", "eth1", "eth2", "eth3"):
            os.makedirs(os.path.join(self.dir, "root/sys/class/net", nic), exist_ok=True)
        with open(os.path.join(self.dir, "user-data.sh"), "w") as f:
            f.write(user_data)
        # What the IMDS shim (shims/curl) serves as this host's signed identity.
        os.makedirs(os.path.join(self.dir, "identity"), exist_ok=True)
        document = identity_document(instance, self.ip)
        for name, text in (("document", document), ("signature", identity_signature(document))):
            with open(os.path.join(self.dir, "identity", name), "w") as f:
                f.write(text)
        volume = next((m["Ebs"]["VolumeId"] for m in instance.get("BlockDeviceMappings", [])
                       if m.get("DeviceName") == "/dev/sdp" and m.get("Ebs")), "")
        env = {
            "PATH": f"{os.path.join(HERE, 'shims')}:/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin",
            "HOME": "/root", "HOSTNAME": "ip-" + self.ip.replace(".", "-"), "LANG": "C.UTF-8",
            "LOCALCLOUD_HOST_DIR": self.dir,
            "LOCALCLOUD_AWS_CLI": cloud.aws_cli,
            "LOCALCLOUD_WEKA_SIM_BIN": os.path.join(cloud.s.bin_dir, "weka-sim"),
            "LOCALCLOUD_INSTANCE_ID": self.id, "LOCALCLOUD_IP": self.ip,
            "LOCALCLOUD_MAC": "0e:00:00:00:00:01",
            "LOCALCLOUD_SUBNET_ID": instance.get("SubnetId", ""),
            "LOCALCLOUD_SECURITY_GROUP_IDS": "\n".join(
                g["GroupId"] for g in instance.get("SecurityGroups", [])),
            "LOCALCLOUD_INSTANCE_TYPE": instance.get("InstanceType", "i3en.2xlarge"),
            "LOCALCLOUD_VOLUME_SERIAL": volume.replace("-", ""),
            "LOCALCLOUD_SLEEP_SCALE": str(cloud.s.sleep_scale),
            "LOCALCLOUD_FAULT": fault or "",
            "WEKA_SIM_URL": cloud.sim_url, "WEKA_SIM_IP": self.ip, "WEKA_SIM_INSTANCE_ID": self.id,
            "WEKA_SCRIPT_ROOT": os.path.join(self.dir, "root"),
        }
        env.update(cloud.aws_env(cloud.router_url))
        public_ip, groups = cloud.network.launch_template_nic(launch_template_id)
        self.reach = cloud.network.reach(
            instance.get("SubnetId", ""),
            [g["GroupId"] for g in instance.get("SecurityGroups", [])] or groups,
            bool(instance.get("PublicIpAddress")) if public_ip is None else public_ip)
        env.update(endpoint_env(self.reach, cloud.router_url, cloud.blackhole.url))
        # No keys in the environment: the AWS CLI gets the instance profile's from IMDS.
        env = iam.strip_credentials(env)
        iam.write_host_credentials(self.dir, cloud.moto_url, cloud.instance_role(instance),
                                   self.id)
        with open(os.path.join(self.dir, "env.json"), "w") as f:
            json.dump(env, f, indent=1)
        ud = os.path.join(self.dir, "user-data.sh")
        if cloud.namespaces:
            # Private /tmp and /root per host, as on a real instance.
            argv = ["unshare", "-m", "--propagation", "private", "bash", "-c",
                    'mount --bind "$1/tmp" /tmp && mount --bind "$1/home" /root && exec bash "$2"',
                    "host", self.dir, ud]
        else:
            argv = ["bash", ud]
        self.proc = Proc(f"host-{self.id}", argv, os.path.join(self.dir, "console.log"), env=env,
                         cwd=self.dir)

    def exit_code(self):
        return self.proc.popen.poll()

    def shell(self, script, *args, timeout=60):
        """Runs `script` under bash as a process on this host would: its environment (PATH with
        the shims: IMDS, the AWS CLI with the instance's credentials), its directory. Returns
        (exit code, stdout)."""
        with open(os.path.join(self.dir, "env.json")) as f:
            env = json.load(f)
        done = subprocess.run(["bash", "-c", script, "host-shell", *args], env=env, cwd=self.dir,
                              capture_output=True, text=True, timeout=timeout)
        return done.returncode, done.stdout

    def kill(self):
        self.proc.stop(grace=1)


class Booted:
    """An instance that was running before the local cloud played EC2 (launched and set up by
    WEKA's module): the fleet boots nothing for it and has no process of it to kill."""

    fault = None

    def __init__(self, instance):
        self.id = instance["InstanceId"]
        self.ip = instance["PrivateIpAddress"]
        self.launched = time.time()

    def exit_code(self):
        return 0

    def kill(self):
        pass


class Fleet:
    """Plays EC2: boots a Host for every instance the ASG launches; a terminated instance's
    host is killed and its WEKA machine goes down in the simulator. `booted`: instances (EC2
    descriptions) already running their software, not to boot again."""

    def __init__(self, cloud, booted=()):
        self.cloud = cloud
        self.hosts = {i["InstanceId"]: Booted(i) for i in booted}
        self.gone = {}
        self.gone_hosts = {}
        self.launches = 0
        self.faults_left = cloud.s.install_faults
        # Instances whose user data waits for `release` (a set kept incomplete): how many of
        # the next launches to hold, and those held (id -> instance).
        self.holds_left = 0
        self.held = {}
        self.stopped = threading.Event()
        self.lock = threading.Lock()
        self.user_data = {}
        # Per instance: when it was first seen InService, and whether its WEKA containers were
        # already active then (the launch hook must hold it until it has joined).
        self.inservice_at = {}
        self.joined_when_inservice = {}
        self.states_seen = {}
        self.first_seen = {}
        # SMB / S3 gateways: plain instances Terraform launched, booted once (id -> Host).
        self.gateways = {}
        self.thread = threading.Thread(target=self._run, daemon=True)

    def start(self):
        self.thread.start()

    def stop(self):
        self.stopped.set()
        self.thread.join(5)
        with self.lock:
            for h in list(self.hosts.values()) + list(self.gateways.values()):
                h.kill()

    def _run(self):
        while not self.stopped.wait(0.5):
            try:
                self.poll()
            except Exception as e:  # keep playing the fleet; the story notices what is missing
                self.cloud.say(f"fleet: {type(e).__name__}: {e}")

    def _launch_template_user_data(self, lt_id, version):
        key = (lt_id, version)
        if key not in self.user_data:
            v = self.cloud.ec2.describe_launch_template_versions(
                LaunchTemplateId=lt_id, Versions=[str(version)])["LaunchTemplateVersions"][0]
            self.user_data[key] = base64.b64decode(
                v["LaunchTemplateData"].get("UserData", "")).decode()
        return self.user_data[key]

    def boot_gateways(self):
        """Plays EC2 for the SMB / S3 gateways (not in any ASG): each running one boots its
        launch template's user data, as the ASG's instances do."""
        wanted = self.cloud.s.smb_gateways + self.cloud.s.s3_gateways
        if len(self.gateways) >= wanted:
            return
        r = self.cloud.ec2.describe_instances(Filters=[
            {"Name": "tag:weka_hostgroup_type", "Values": ["gateways-protocol"]},
            {"Name": "tag:protocol", "Values": ["SMB", "S3"]},
            {"Name": "instance-state-name", "Values": ["running"]}])
        for inst in (i for res in r["Reservations"] for i in res["Instances"]):
            iid = inst["InstanceId"]
            if iid in self.gateways:
                continue
            tags = {t["Key"]: t["Value"] for t in inst.get("Tags", [])}
            lt_id = tags["aws:ec2launchtemplate:id"]
            user_data = self._launch_template_user_data(
                lt_id, tags["aws:ec2launchtemplate:version"])
            with self.lock:
                self.gateways[iid] = Host(self.cloud, inst, user_data, None, lt_id)
            self.cloud.say(f"fleet        {tags.get('protocol')} gateway {iid} "
                           f"({inst['PrivateIpAddress']}) boots")

    def poll(self):
        self.boot_gateways()
        group = self.cloud.group()
        lt = group.get("LaunchTemplate") or {}
        members = {i["InstanceId"] for i in group.get("Instances", [])}
        now = time.time()
        for i in group.get("Instances", []):
            self.states_seen.setdefault(i["InstanceId"], set()).add(i["LifecycleState"])
            self.first_seen.setdefault(i["InstanceId"], now)
        fresh = [i["InstanceId"] for i in group.get("Instances", [])
                 if i["LifecycleState"] == "InService" and i["InstanceId"] not in self.inservice_at]
        if fresh:
            active = self.cloud.active_backends()
            for iid in fresh:
                self.inservice_at[iid] = time.time()
                self.joined_when_inservice[iid] = iid in active
        running = {}
        if members:
            r = self.cloud.ec2.describe_instances(InstanceIds=sorted(members))
            for res in r["Reservations"]:
                for inst in res["Instances"]:
                    if inst["State"]["Name"] in ("pending", "running"):
                        running[inst["InstanceId"]] = inst
        with self.lock:
            for iid in [i for i in self.held if i not in running]:
                self.held.pop(iid)  # abandoned or terminated while held: never booted
            for iid, inst in running.items():
                if iid in self.hosts or iid in self.gone or iid in self.held:
                    continue
                if self.holds_left > 0:
                    self.holds_left -= 1
                    self.held[iid] = inst
                    continue
                version = lt.get("Version", "$Latest")
                if version in ("$Latest", "$Default"):
                    version = self.cloud.ec2.describe_launch_templates(
                        LaunchTemplateIds=[lt["LaunchTemplateId"]])["LaunchTemplates"][0][
                        "LatestVersionNumber"]
                user_data = self._launch_template_user_data(lt["LaunchTemplateId"], version)
                fault = None
                if self.faults_left > 0:
                    self.faults_left -= 1
                    fault = "install-fail"
                self.launches += 1
                self.hosts[iid] = Host(self.cloud, inst, user_data, fault, lt["LaunchTemplateId"])
                if self.launches == 1:
                    self.cloud.say(f"network      instances: {self.hosts[iid].reach.describe()}")
            # Instances no longer running in the group: detached ones keep running in EC2 until
            # terminated; a terminated or stopped one loses its host and its WEKA machine.
            for iid in list(self.hosts):
                if iid in running:
                    continue
                state = self._ec2_state(iid)
                if state in ("running", "pending"):
                    continue
                host = self.hosts.pop(iid)
                host.kill()
                self.gone[iid] = time.time()
                self.gone_hosts[iid] = host
                try:
                    self.cloud.sim(f"/_sim/machines/{host.ip}/down", {})
                except Exception:
                    pass  # never joined WEKA

    def hold(self, n):
        """The next `n` instances launched wait, their user data not started, until `release`."""
        with self.lock:
            self.holds_left += n

    def release(self):
        """Boots every held instance (at the next poll) and holds no more."""
        with self.lock:
            self.holds_left = 0
            released, self.held = list(self.held), {}
        return released

    def _ec2_state(self, iid):
        try:
            r = self.cloud.ec2.describe_instances(InstanceIds=[iid])
            return r["Reservations"][0]["Instances"][0]["State"]["Name"]
        except Exception:
            return "terminated"


if __name__ == "__main__":
    sys.exit("use tests/localcloud/demo.py")
