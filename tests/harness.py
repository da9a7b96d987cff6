"""The process harness of the Python tests: what the emulator tests (tests/emulator) and the local
cloud (tests/localcloud) share, written once.

It owns: free loopback ports (`free_port`); polling with a deadline (`wait_for`); child
processes started in their own session, tracked by pid, logging to a file and stopped by
process group, SIGTERM then SIGKILL (`Proc`); the small loopback HTTP/JSON helpers; and the
servers the tests start: the patched moto server (`start_moto`, and `MotoTestCase` for a
unittest class with its own moto), the WEKA simulator
(`start_weka_sim`, tests/weka-sim) and the Lambda router (`start_router`,
tests/emulator/lambda_router.py). Every address is 127.0.0.1; nothing here stops a process it
did not start.

Import it after putting tests/ on sys.path (`sys.path.insert(0, <tests dir>)`).
Python standard library only.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import shutil
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

TESTS = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(TESTS)
EMULATOR = os.path.join(TESTS, "emulator")
# What moto is configured with after it starts: real Step Functions executions.
MOTO_CONFIG: dict[str, Any] = {"stepfunctions": {"execute_state_machine": True}}

T = TypeVar("T")


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class PortReservation:
    """A TCP port on 127.0.0.1 held (bound and listening) from now until `release()`: a port
    that must be known long before its server starts (the router's: moto calls back to it)
    cannot be handed to another server meanwhile. With `free_port()` alone, a port chosen
    before a long Terraform apply was once given to moto, whose Lambda then answered the
    invocations meant for the router."""

    def __init__(self):
        self._socket: socket.socket | None = socket.socket()
        self._socket.bind(("127.0.0.1", 0))
        self._socket.listen(1)
        self.port: int = self._socket.getsockname()[1]

    def release(self) -> int:
        """Frees the port for its server, to bind at once; the port."""
        if self._socket is not None:
            self._socket.close()
            self._socket = None
        return self.port


def wait_for(what: str, check: Callable[[], T], timeout: float, interval: float = 0.1) -> T:
    """Polls check() until it returns a truthy value, which it returns; raises TimeoutError
    naming what after timeout seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)


def read_text(path: str) -> str | None:
    """The file's stripped text; None while it is missing or empty."""
    try:
        with open(path) as f:
            return f.read().strip() or None
    except FileNotFoundError:
        return None


def tail(path: str, n: int) -> str:
    """The last n lines of a log file ("" if it does not exist)."""
    try:
        with open(path, errors="replace") as f:
            return "".join(f.readlines()[-n:])
    except FileNotFoundError:
        return ""


def http_ok(url: str, timeout: float = 2.0) -> bool:
    """Whether a GET of url answers 2xx."""
    try:
        with urllib.request.urlopen(url, timeout=timeout):
            return True
    except Exception:
        return False


def get_json(url: str, timeout: float = 10.0) -> Any:
    with urllib.request.urlopen(url, timeout=timeout) as r:
        data = r.read()
    return json.loads(data) if data else None


def post_json(url: str, body: Any, timeout: float = 30.0) -> Any:
    """POSTs body as JSON; the decoded answer ({} when empty)."""
    req = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=timeout) as r:
        data = r.read()
    return json.loads(data) if data else {}


class Proc:
    """A child process in its own session (so its whole group can be stopped), logging its
    stdout and stderr to log_path (appended)."""

    def __init__(self, name: str, argv: Sequence[str], log_path: str,
                 env: Mapping[str, str] | None = None, cwd: str | None = None) -> None:
        self.name = name
        self.log_path = log_path
        with open(log_path, "ab") as log:
            self.popen = subprocess.Popen(
                list(argv), env=None if env is None else dict(env), cwd=cwd, stdout=log,
                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
            )

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def stop(self, grace: float = 3.0) -> None:
        """SIGTERM to the process group, SIGKILL after grace seconds."""
        if self.popen.poll() is not None:
            return
        try:
            os.killpg(self.popen.pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        try:
            self.popen.wait(grace)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(self.popen.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.popen.wait()

    def tail(self, n: int = 20) -> str:
        return tail(self.log_path, n)


def _started(proc: Proc, what: str, ready: Callable[[], T], timeout: float) -> T:
    """Waits until ready() or the process exits; stops it and raises if it is not ready."""
    try:
        value = wait_for(what, lambda: ready() or (not proc.alive() and "exited"), timeout)
    except BaseException:
        proc.stop()
        raise
    if value == "exited" or not proc.alive():
        proc.stop()
        raise RuntimeError(f"{what} exited during start; {proc.log_path}:\n{proc.tail()}")
    return value


def venv_python(venv: str | None = None) -> str:
    """The python of venv, else of $VENV, else of this interpreter's environment."""
    return os.path.join(venv or os.environ.get("VENV") or sys.prefix, "bin", "python")


def debug_bin_dir() -> str:
    """Where `cargo build` puts the debug binaries ($CARGO_TARGET_DIR or ./target)."""
    return os.path.join(os.environ.get("CARGO_TARGET_DIR") or os.path.join(ROOT, "target"), "debug")


@dataclass
class Server:
    """A started loopback server: its process and its base URL."""

    proc: Proc
    url: str
    # The admin user's key of a moto started with IAM enforced (start_moto(iam=True)).
    admin: dict[str, str] | None = None

    def stop(self) -> None:
        self.proc.stop()


def start_moto(log_path: str, *, python: str | None = None, callback_port: int | None = None,
               config: Mapping[str, Any] | None = None, timeout: float = 30.0,
               iam: bool = False) -> Server:
    """The patched moto server (tests/emulator/moto_server.py) on a free loopback port, once it
    answers, configured with config (default MOTO_CONFIG). callback_port: where moto's Step
    Functions interpreter calls AWS services back (the Lambda router); default moto itself.
    iam: IAM enforced (tests/emulator/moto_iam.py); the admin user's key is the Server's
    `admin` ({"AccessKeyId", "SecretAccessKey", "Arn"}), any other key is refused."""
    port = free_port()
    env = dict(os.environ, MOTO_PORT=str(callback_port or port))
    env.pop("MOTO_IAM_ADMIN_FILE", None)
    admin_file = None
    if iam:
        admin_file = os.path.join(os.path.dirname(os.path.abspath(log_path)),
                                  f"moto-admin-{port}.json")
        if os.path.exists(admin_file):
            os.remove(admin_file)
        env["MOTO_IAM_ADMIN_FILE"] = admin_file
    proc = Proc("moto", [python or venv_python(), os.path.join(EMULATOR, "moto_server.py"),
                         "-H", "127.0.0.1", "-p", str(port)], log_path, env=env)
    url = f"http://127.0.0.1:{port}"
    _started(proc, f"moto on {url}", lambda: http_ok(url + "/moto-api/"), timeout)
    post_json(url + "/moto-api/config", dict(MOTO_CONFIG if config is None else config))
    admin = None
    if admin_file:
        with open(admin_file) as f:
            admin = json.load(f)
    return Server(proc, url, admin)


def start_weka_sim(binary: str, port_file: str, log_path: str, *, time_factor: float = 1.0,
                   args: Sequence[str] = (), timeout: float = 20.0) -> Server:
    """The WEKA simulator (`weka-sim serve`, tests/weka-sim) on a free loopback port; args are
    more `serve` flags (--deactivate-secs ...)."""
    if os.path.exists(port_file):  # a previous attempt's port
        os.remove(port_file)
    proc = Proc("weka-sim", [binary, "serve", "--port", "0", "--port-file", port_file,
                             "--time-factor", f"{time_factor:g}", *args], log_path)
    port = _started(proc, "weka-sim port file", lambda: read_text(port_file), timeout)
    return Server(proc, f"http://127.0.0.1:{port}")


def start_router(log_path: str, *, port: int, moto_url: str, bin_dir: str, functions_file: str,
                 log_dir: str, python: str | None = None, timeout: float = 20.0,
                 authorize_invokes: bool = False) -> Server:
    """The Lambda router (tests/emulator/lambda_router.py) on port: AWS calls forwarded to
    moto, Lambda invocations run on the binaries in bin_dir with functions_file's specs.
    authorize_invokes: moto (IAM enforced) decides whether the caller may invoke first."""
    proc = Proc("router", [python or sys.executable, os.path.join(EMULATOR, "lambda_router.py"),
                           "--port", str(port), "--moto", moto_url, "--bin-dir", bin_dir,
                           "--functions", functions_file, "--log-dir", log_dir]
                + (["--authorize-invokes"] if authorize_invokes else []), log_path)
    url = f"http://127.0.0.1:{port}"
    # The router's own endpoint: another server on the port (moto answers /moto-api/) is not it.
    _started(proc, "lambda router", lambda: http_ok(url + "/_router/faults"), timeout)
    return Server(proc, url)


def form_weka_cluster(sim: Callable[[str, Any], Any], machines: Sequence[tuple[str, str]], *,
                      name: str, username: str, deployment_password: str, admin_password: str,
                      stripe: tuple[int, int] = (1, 1), hot_spare: int = 0) -> None:
    """A formed cluster in the WEKA simulator, as a clusterization leaves it: one cluster of
    `machines` ((instance id, ip), oldest first, a simulated second apart): drives0, compute0
    and frontend0 on each, their drives added, stripe (data, protection) and hot spare set, IO
    started; the deployment user (`username`) and the admin password are the given ones.
    `sim(path, body)` posts to the simulator's control API."""
    for iid, ip in machines:
        sim("/_sim/machines", {"ip": ip, "instance_id": iid})
    sim("/_sim/credentials", {"username": username, "password": deployment_password})
    sim("/_sim/cluster/create", {"machines": [machines[0][1]], "admin_password": admin_password})
    for _, ip in machines[1:]:
        sim("/_sim/clock/advance", {"seconds": 1})
        sim("/_sim/join", {"ip": ip})
    sim("/_sim/drives/scan", {})
    sim("/_sim/cluster/update", {"name": name, "stripe_data_drives": stripe[0],
                                 "stripe_protection_drives": stripe[1], "hot_spare": hot_spare})
    sim("/_sim/start-io", {})


class MotoTestCase(unittest.TestCase):
    """A unittest class with its own patched moto server for its tests: `endpoint` and `kw` (the
    boto3 client arguments for it); the server and its run directory go when the class is done
    (class cleanups, so also when a subclass's setUpClass fails after this one)."""

    run_prefix = "moto-"
    run_dir: str
    moto: Server
    endpoint: str
    kw: dict[str, str]

    @classmethod
    def setUpClass(cls) -> None:
        super().setUpClass()
        cls.run_dir = tempfile.mkdtemp(prefix=cls.run_prefix)
        cls.addClassCleanup(shutil.rmtree, cls.run_dir, ignore_errors=True)
        cls.moto = start_moto(os.path.join(cls.run_dir, "moto.log"))
        cls.addClassCleanup(cls.moto.stop)
        cls.endpoint = cls.moto.url
        cls.kw = dict(endpoint_url=cls.endpoint, region_name="us-east-1",
                      aws_access_key_id="test", aws_secret_access_key="test")


def stop_pid_group(pid: int, grace: float = 5.0) -> None:
    """SIGTERM to the process group led by pid (a Proc started in its own session), SIGKILL
    after grace seconds."""
    try:
        os.killpg(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        try:
            os.killpg(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.1)
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def moto_command(args: Sequence[str]) -> int:
    """`harness.py moto start|stop <run-dir>` for the shell pipelines (tests/emulator/moto.sh):
    start leaves the server running and writes <run-dir>/moto.pid and moto.port (log in
    moto.log; MOTO_CALLBACK_PORT as start_moto's callback_port); stop stops only that pid."""
    if len(args) != 2 or args[0] not in ("start", "stop"):
        print("usage: harness.py moto start|stop <run-dir>", file=sys.stderr)
        return 2
    command, run_dir = args
    os.makedirs(run_dir, exist_ok=True)
    pid_file = os.path.join(run_dir, "moto.pid")
    if command == "start":
        callback = os.environ.get("MOTO_CALLBACK_PORT")
        try:
            server = start_moto(os.path.join(run_dir, "moto.log"),
                                callback_port=int(callback) if callback else None)
        except (RuntimeError, TimeoutError) as e:
            print(f"moto server did not start: {e}", file=sys.stderr)
            return 1
        with open(pid_file, "w") as f:
            f.write(f"{server.proc.pid}\n")
        with open(os.path.join(run_dir, "moto.port"), "w") as f:
            f.write(server.url.rsplit(":", 1)[1] + "\n")
        print(f"moto server ready on {server.url.removeprefix('http://')} (pid {server.proc.pid})")
        return 0
    pid = read_text(pid_file)
    if pid:
        stop_pid_group(int(pid))
        os.remove(pid_file)
    return 0


if __name__ == "__main__":
    if len(sys.argv) >= 2 and sys.argv[1] == "moto":
        sys.exit(moto_command(sys.argv[2:]))
    print("usage: harness.py moto start|stop <run-dir>", file=sys.stderr)
    sys.exit(2)
