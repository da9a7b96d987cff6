"""A tiny WEKA JSON-RPC stub on loopback, reached through
WEKA_API_URL_TEMPLATE=http://127.0.0.1:<port>/{ip}/api/v1 (the backend IP is only a path segment:
no traffic ever goes to it).

  POST /<ip>/api/v1          JSON-RPC 2.0: user_login -> token; reads from the loaded cluster;
                             mutations recorded and answered {} (cluster_deactivate_hosts marks
                             the hosts DEACTIVATING, cluster_remove_host removes the host)
  POST /_control/cluster     {"reads": {method: result}, "fail": {method: message}} (resets calls)
  GET  /_control/calls       [{"ip", "method", "params"}] of every authenticated call

Usage: python weka_stub.py --port P   (prints "ready"). Python standard library only.
"""

import argparse
import http.server
import json
import re
import threading

RPC = re.compile(r"^/([^/]+)/api/v1$")
TOKEN = "stub-token"


class Cluster:
    def __init__(self):
        self.lock = threading.Lock()
        self.reads = {}
        self.fail = {}
        self.calls = []

    def load(self, spec):
        with self.lock:
            self.reads = spec.get("reads", {})
            self.fail = spec.get("fail", {})
            self.calls = []

    def call(self, ip, method, params):
        with self.lock:
            self.calls.append({"ip": ip, "method": method, "params": params})
            if method in self.fail:
                return None, {"code": -32000, "message": self.fail[method]}
            if method in self.reads:
                return self.reads[method], None
            hosts = self.reads.get("hosts_list", {})
            if method == "cluster_deactivate_hosts":
                for host_id in params.get("host_ids", []):
                    if host_id in hosts:
                        hosts[host_id]["state"] = "DEACTIVATING"
            elif method == "cluster_remove_host":
                hosts.pop(f"HostId<{params.get('host_id')}>", None)
            elif not method.startswith(("cluster_", "interface_group_", "events_")):
                return None, {"code": -32601, "message": f"Method not found: {method}"}
            return {}, None


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    cluster = Cluster()

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def reply(self, status, obj):
            body = json.dumps(obj).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self):
            if self.path == "/_control/calls":
                with cluster.lock:
                    return self.reply(200, list(cluster.calls))
            self.reply(404, {})

        def do_POST(self):
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
            if self.path == "/_control/cluster":
                cluster.load(body)
                return self.reply(200, {})
            m = RPC.match(self.path)
            if not m:
                return self.reply(404, {})
            method, rid = body.get("method"), body.get("id")
            if method == "user_login":
                result = {"access_token": TOKEN, "refresh_token": "r", "expires_in": 300, "token_type": "Bearer"}
                return self.reply(200, {"jsonrpc": "2.0", "id": rid, "result": result})
            if self.headers.get("Authorization") != f"Bearer {TOKEN}":
                return self.reply(401, {})
            result, error = cluster.call(m.group(1), method, body.get("params"))
            answer = {"jsonrpc": "2.0", "id": rid}
            answer.update({"error": error} if error else {"result": result})
            self.reply(200, answer)

        def log_message(self, *a):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True
    print("ready", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
