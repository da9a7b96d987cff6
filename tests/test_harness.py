"""tests/harness.py: a reserved port is never handed out before its server takes it, and the
router's start is recognised by the router's own endpoint, not by any server on the port.

Run: /work/main/.venv/bin/python -m unittest tests/test_harness.py
"""

import http.server
import os
import socket
import subprocess
import sys
import tempfile
import threading
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402


class Ports(unittest.TestCase):
    def test_free_port_never_returns_a_reserved_port(self):
        reserved = harness.PortReservation()
        try:
            for _ in range(300):
                self.assertNotEqual(harness.free_port(), reserved.port)
            with self.assertRaises(OSError):
                socket.create_server(("127.0.0.1", reserved.port))
        finally:
            port = reserved.release()
        server = socket.create_server(("127.0.0.1", port))  # its server binds at once
        server.close()
        self.assertEqual(reserved.release(), port, "releasing twice is harmless")

    def test_a_router_start_is_not_mistaken_for_another_server_on_its_port(self):
        # Another server (moto answers /moto-api/) already on the port the router was given:
        # the router cannot bind and exits; its start must fail, not pass on the other's answer.
        class Any(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                if self.path.startswith("/moto-api/"):
                    self.send_response(200)
                    self.end_headers()
                    self.wfile.write(b"{}")
                else:
                    self.send_error(404)

            def log_message(self, *_args):
                pass

        other = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Any)
        threading.Thread(target=other.serve_forever, daemon=True).start()
        self.addCleanup(other.server_close)
        self.addCleanup(other.shutdown)
        port = other.server_address[1]
        with tempfile.TemporaryDirectory() as tmp:
            functions = os.path.join(tmp, "functions.json")
            with open(functions, "w") as f:
                f.write("{}")
            with self.assertRaises((RuntimeError, TimeoutError)):
                harness.start_router(os.path.join(tmp, "router.log"), port=port,
                                     moto_url="http://127.0.0.1:9", bin_dir=tmp,
                                     functions_file=functions, log_dir=tmp, timeout=10)


if __name__ == "__main__":
    unittest.main()


class DiskSpace(unittest.TestCase):
    """tests/disk-space.sh: a disk too small for `make test` is named before the build runs."""

    script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "disk-space.sh")

    def run_with_need(self, gib, target):
        env = dict(os.environ, WEKA_TEST_DISK_GIB=str(gib), CARGO_TARGET_DIR=target)
        return subprocess.run(["bash", self.script], env=env, capture_output=True, text=True,
                              check=True)

    def test_a_disk_with_less_room_than_a_run_needs_is_warned_of(self):
        with tempfile.TemporaryDirectory() as tmp:
            short = self.run_with_need(1 << 30, os.path.join(tmp, "not", "yet", "target"))
            self.assertIn("WARNING", short.stderr)
            self.assertIn("Bus error", short.stderr)
            roomy = self.run_with_need(0, tmp)
            self.assertEqual(roomy.stderr, "")
            self.assertIn("GiB free on the disk of " + tmp, roomy.stdout)
