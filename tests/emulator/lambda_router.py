"""Loopback endpoint in front of moto that runs Lambda invocations on the real function binaries.

moto's Step Functions interpreter (started with MOTO_PORT=<this port>), the AWS CLI and the SDK
use this server as their AWS endpoint. Everything is forwarded to moto, except
`POST /2015-03-31/functions/<name|arn>/invocations`, which is served by `<bin-dir>/<name>`
through a minimal Lambda Runtime API: one runtime-API port and one long-lived process per
function (a warm Lambda), one invocation at a time, restarted if it exits.

Usage:
  python lambda_router.py --port P --moto http://127.0.0.1:M --bin-dir target/debug \
      --functions functions.json --log-dir DIR [--authorize-invokes]
--authorize-invokes (moto with IAM enforced, tests/emulator/moto_iam.py): each Invoke is first
sent to moto exactly as the caller signed it (moto's Lambda without Docker answers it without
running anything); moto's refusal (401/403: a bad signature, an unknown key, no
lambda:InvokeFunction on that function for the caller's identity) is the caller's answer and the
binary does not run.
functions.json: {"<name>": {"env": {"K": "V"}, "timeout": 30, "binary"?: "<file in bin-dir>"}, ...}
Prints "ready" once listening; SIGTERM stops every child process it started, by pid.
Python standard library only.

Fault injection (the local cloud's fault scenarios), on the router's own port:
  POST /_router/faults {"function": "<binary>", "when": "before"|"after"|"kill"|"swallow",
                        "nth"?: 1, "count"?: 1, "match"?: "<text in the payload>",
                        "kill_after_s"?: 5}
    the nth matching call from now on (and the count-1 after it; count 0: every one until
    cleared) fails: `before` it runs (the call is lost), `after` it ran (the answer is lost),
    `kill`: its process is killed after kill_after_s unless it answered (Sandbox.Timedout), or
    `swallow`: it never runs and the caller gets a success (`null`), a call silently dropped.
    A lost call or answer reaches the caller as a function error (Router.InjectedFault).
  GET /_router/faults -> {"rules": [...], "fired": [{"function", "when", "time", "event"}, ..],
                          "calls": {"<binary>": n}}
  POST /_router/faults/clear removes every rule.
"""

import argparse
import http.client
import http.server
import json
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.parse
import uuid

INVOKE = re.compile(r"^/2015-03-31/functions/([^/]+)/invocations")
NEXT = "/2018-06-01/runtime/invocation/next"
RESULT = re.compile(r"^/2018-06-01/runtime/invocation/([^/]+)/(response|error)$")
INIT_ERROR = "/2018-06-01/runtime/init/error"
HOP_HEADERS = ("content-length", "transfer-encoding", "connection", "date", "server")


class Invocation:
    def __init__(self, event, deadline_ms, arn):
        self.id = str(uuid.uuid4())
        self.event = event
        self.deadline_ms = deadline_ms
        self.arn = arn
        self.done = threading.Event()
        self.body = b""
        self.error = False


class Faults:
    """Rules that fail chosen invocations, and what they did."""

    WHEN = ("before", "after", "kill", "swallow")

    def __init__(self):
        self.lock = threading.Lock()
        self.rules = []
        self.fired = []
        self.calls = {}

    def add(self, rule):
        if rule.get("when") not in self.WHEN or not rule.get("function"):
            raise ValueError(f"a fault needs function and when in {self.WHEN}: {rule}")
        unknown = set(rule) - {"function", "when", "nth", "count", "match", "kill_after_s"}
        if unknown:
            raise ValueError(f"unknown fault fields {sorted(unknown)}")
        rule = dict(rule, nth=int(rule.get("nth", 1)), count=int(rule.get("count", 1)),
                    seen=0, kill_after_s=float(rule.get("kill_after_s", 5)))
        if rule["nth"] < 1 or rule["count"] < 0:
            raise ValueError("nth starts at 1; count 0 means every call until cleared")
        with self.lock:
            self.rules.append(rule)

    def clear(self):
        with self.lock:
            self.rules.clear()

    def take(self, binary, event):
        """The rule that shapes this call of `binary`, if any (counted once per call)."""
        text = event.decode(errors="replace")
        chosen = None
        with self.lock:
            self.calls[binary] = self.calls.get(binary, 0) + 1
            for rule in self.rules:  # every matching rule counts the call; the first due fires
                if rule["function"] != binary or rule.get("match", "") not in text:
                    continue
                rule["seen"] += 1
                index = rule["seen"] - rule["nth"]
                due = index >= 0 and (not rule["count"] or index < rule["count"])
                if due and chosen is None:
                    chosen = rule
                    self.fired.append({"function": binary, "when": rule["when"],
                                       "time": time.time(), "match": rule.get("match"),
                                       "event": text[:4000]})
        return chosen

    def view(self):
        with self.lock:
            return {"rules": list(self.rules), "fired": list(self.fired),
                    "calls": dict(self.calls)}


def injected(function, what):
    body = {"errorType": "Router.InjectedFault", "errorMessage": f"{function}: {what} (injected)"}
    return True, json.dumps(body).encode()


class Function:
    """One function: its runtime-API server, its process, its invocation queue."""

    def __init__(self, name, spec, args):
        self.name = name
        self.env = {k: str(v) for k, v in spec.get("env", {}).items()}
        self.timeout = float(spec.get("timeout", 30))
        self.binary_name = spec.get("binary", name)
        self.binary = os.path.join(args.bin_dir, self.binary_name)
        self.log_path = os.path.join(args.log_dir, f"{name}.log")
        self.pending = queue.Queue()
        self.inflight = {}
        self.process = None
        self.lock = threading.Lock()
        self.serial = threading.Lock()
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), self.handler())
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def handler(self):
        function = self

        class RuntimeApi(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def reply(self, status, body=b"", headers=None):
                self.send_response(status)
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):
                if self.path != NEXT:
                    return self.reply(404)
                inv = function.pending.get()
                function.inflight[inv.id] = inv
                self.reply(
                    200,
                    inv.event,
                    {
                        "Lambda-Runtime-Aws-Request-Id": inv.id,
                        "Lambda-Runtime-Deadline-Ms": str(inv.deadline_ms),
                        "Lambda-Runtime-Invoked-Function-Arn": inv.arn,
                        "Lambda-Runtime-Trace-Id": f"Root=1-{inv.id[:8]}",
                    },
                )

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if self.path == INIT_ERROR:
                    sys.stderr.write(f"{function.name}: init error {body!r}\n")
                    return self.reply(202, b"{}")
                m = RESULT.match(self.path)
                inv = function.inflight.pop(m.group(1), None) if m else None
                if inv is None:
                    return self.reply(404)
                inv.body, inv.error = body, m.group(2) == "error"
                inv.done.set()
                self.reply(202, b"{}")

            def log_message(self, *a):
                pass

        return RuntimeApi

    def ensure_running(self):
        with self.lock:
            if self.process is not None and self.process.poll() is None:
                return
            env = {
                "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
                "AWS_LAMBDA_FUNCTION_NAME": self.name,
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
                "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
                "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{self.name}",
                "AWS_LAMBDA_LOG_STREAM_NAME": "router",
                "RUST_LOG": os.environ.get("RUST_LOG", "info"),
            }
            env.update(self.env)
            env["AWS_LAMBDA_RUNTIME_API"] = f"127.0.0.1:{self.server.server_address[1]}"
            log = open(self.log_path, "ab")
            self.process = subprocess.Popen([self.binary], env=env, stdout=log, stderr=log)
            log.close()

    def invoke(self, event, arn, fault=None):
        when = fault and fault["when"]
        if when == "swallow":
            return False, b"null"
        if when == "before":
            return injected(self.name, "the call was lost before it ran")
        failed, body = self.run(event, arn, fault["kill_after_s"] if when == "kill" else None)
        if when == "after" and not failed:
            return injected(self.name, "the answer was lost after it ran")
        return failed, body

    def run(self, event, arn, kill_after_s=None):
        # One process serves one invocation at a time, as one Lambda sandbox does.
        with self.serial:
            self.ensure_running()
            inv = Invocation(event, int((time.time() + self.timeout) * 1000), arn)
            self.pending.put(inv)
            limit = time.time() + (self.timeout + 5 if kill_after_s is None else kill_after_s)
            while not inv.done.wait(0.05):
                exited = self.process.poll() is not None
                if exited or time.time() > limit:
                    kind = "Runtime.ExitError" if exited else "Sandbox.Timedout"
                    if not exited:
                        self.stop()
                    self.drop(inv)
                    message = f"{self.name}: {kind} (see {self.log_path})"
                    return True, json.dumps({"errorType": kind, "errorMessage": message}).encode()
            return inv.error, inv.body

    def drop(self, inv):
        self.inflight.pop(inv.id, None)
        try:
            while True:
                self.pending.get_nowait()
        except queue.Empty:
            pass

    def stop(self):
        with self.lock:
            p, self.process = self.process, None
        if p is not None and p.poll() is None:
            p.terminate()
            try:
                p.wait(3)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--moto", required=True)
    parser.add_argument("--bin-dir", required=True)
    parser.add_argument("--functions", required=True)
    parser.add_argument("--log-dir", required=True)
    parser.add_argument("--authorize-invokes", action="store_true")
    args = parser.parse_args()
    os.makedirs(args.log_dir, exist_ok=True)
    with open(args.functions) as f:
        specs = json.load(f)
    functions = {name: Function(name, spec, args) for name, spec in specs.items()}
    moto = urllib.parse.urlsplit(args.moto)
    faults = Faults()

    class Router(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def forward(self):
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if self.path.startswith("/_router/faults"):
                return self.control(body)
            m = INVOKE.match(self.path) if self.command == "POST" else None
            if m:
                if args.authorize_invokes:
                    # Only a refusal stops the call: moto authorizes before it looks the
                    # function up, so its 404 for a router-only function (a harness probe)
                    # still means the caller may invoke that ARN.
                    status, rb, rh = self.to_moto(body)
                    if status in (401, 403):
                        return self.answer(status, rb, rh)
                return self.invoke(urllib.parse.unquote(m.group(1)), body)
            self.answer(*self.to_moto(body))

        def to_moto(self, body):
            """The request as received (headers, Host included, and body unchanged, so that its
            signature still verifies): moto's (status, body, headers)."""
            # http.client, not urllib: urllib adds a form Content-Type to a POST without one
            # (Lambda Invoke from boto3), and moto then parses the body as a form and checks the
            # signature over that instead of the bytes signed.
            headers = {k: v for k, v in self.headers.items()
                       if k.lower() not in ("content-length", "connection")}
            conn = http.client.HTTPConnection(moto.hostname, moto.port, timeout=900)
            try:
                conn.putrequest(self.command, self.path, skip_host=True, skip_accept_encoding=True)
                for k, v in headers.items():
                    conn.putheader(k, v)
                if self.command not in ("GET", "HEAD") or body:
                    conn.putheader("Content-Length", str(len(body)))
                conn.endheaders(body if body else None)
                r = conn.getresponse()
                return r.status, r.read(), r.headers
            finally:
                conn.close()

        def answer(self, status, rb, rh):
            self.send_response(status)
            for k, v in rh.items():
                if k.lower() not in HOP_HEADERS:
                    self.send_header(k, v)
            self.send_header("Content-Length", str(len(rb)))
            self.end_headers()
            self.wfile.write(rb)

        def control(self, body):
            status, answer = 200, {"ok": True}
            try:
                if self.path == "/_router/faults" and self.command == "POST":
                    faults.add(json.loads(body or b"{}"))
                elif self.path == "/_router/faults/clear" and self.command == "POST":
                    faults.clear()
                elif self.path == "/_router/faults" and self.command == "GET":
                    answer = faults.view()
                else:
                    status, answer = 404, {"error": f"no route {self.command} {self.path}"}
            except (ValueError, TypeError) as e:
                status, answer = 400, {"error": str(e)}
            rb = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(rb)))
            self.end_headers()
            self.wfile.write(rb)

        def invoke(self, target, body):
            name = target.split(":function:")[-1].split(":")[0]
            function = functions.get(name)
            if function is None:
                rb = json.dumps({"Type": "User", "message": f"Function not found: {target}"}).encode()
                self.send_response(404)
                self.send_header("x-amzn-ErrorType", "ResourceNotFoundException")
                self.send_header("Content-Length", str(len(rb)))
                self.end_headers()
                return self.wfile.write(rb)
            arn = target if target.startswith("arn:") else f"arn:aws:lambda:us-east-1:123456789012:function:{name}"
            event = body or b"{}"
            failed, rb = function.invoke(event, arn, faults.take(function.binary_name, event))
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("X-Amz-Executed-Version", "$LATEST")
            if failed:
                self.send_header("X-Amz-Function-Error", "Unhandled")
            self.send_header("Content-Length", str(len(rb)))
            self.end_headers()
            self.wfile.write(rb)

        do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = forward

        def log_message(self, *a):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", args.port), Router)
    server.daemon_threads = True

    def shutdown(*_):
        for f in functions.values():
            f.stop()
        os._exit(0)

    signal.signal(signal.SIGTERM, shutdown)
    signal.signal(signal.SIGINT, shutdown)
    print("ready", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
