"""`make up` / `make down` (sandbox.sh) with a stand-in for the local cloud: `up` returns once the
cloud wrote its sandbox.env and prints it; `down` stops the whole process group by pid; a failed
start is reported. The story itself is `make demo`'s, run by the e2e.

Run: .venv/bin/python -m unittest tests/localcloud/test_sandbox.py
"""

import os
import subprocess
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
SANDBOX = os.path.join(HERE, "sandbox.sh")

# Plays run.sh: a child that would outlive a plain `kill <pid>` of the runner, the env file after
# a moment (the story), then waits as the local cloud does.
CLOUD = """#!/bin/bash
run_dir=$3
mkdir -p "$run_dir"
sleep 300 &
echo $! > "$run_dir/child.pid"
sleep 1
echo "export AWS_ENDPOINT_URL=http://127.0.0.1:1" > "$run_dir/sandbox.env"
echo "[  1.0s] sandbox up: \\`source $run_dir/sandbox.env\\` then e.g. the seed's helper commands:"
echo "  aws lambda invoke --function-name WEKA-Prod-status-lambda /dev/stdout"
echo "[  1.0s] \\`make down\\` stops it"
wait
"""

BROKEN = """#!/bin/bash
echo "local cloud: terraform apply failed" >&2
exit 1
"""


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is gone for our purposes.
    with open(f"/proc/{pid}/stat") as f:
        return f.read().split(")")[-1].split()[0] != "Z"


class Sandbox(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="sandbox-test.")
        self.runner = os.path.join(self.dir, "runner.sh")

    def sandbox(self, *args, script=CLOUD):
        with open(self.runner, "w") as f:
            f.write(script)
        os.chmod(self.runner, 0o755)
        env = dict(os.environ, SANDBOX_DIR=os.path.join(self.dir, "sb"),
                   SANDBOX_RUNNER=self.runner)
        return subprocess.run(["bash", SANDBOX, *args], env=env, capture_output=True, text=True,
                              timeout=60)

    def test_up_waits_for_the_cloud_then_down_stops_its_whole_group(self):
        up = self.sandbox("up")
        self.assertEqual(up.returncode, 0, up.stderr)
        self.assertIn("source " + os.path.join(self.dir, "sb", "run", "sandbox.env"), up.stdout)
        self.assertIn("aws lambda invoke --function-name WEKA-Prod-status-lambda", up.stdout)
        with open(os.path.join(self.dir, "sb", "pid")) as f:
            pid = int(f.read())
        with open(os.path.join(self.dir, "sb", "run", "child.pid")) as f:
            child = int(f.read())
        self.assertTrue(alive(pid) and alive(child))
        again = self.sandbox("up")
        self.assertIn("already up", again.stdout)
        down = self.sandbox("down")
        self.assertEqual(down.returncode, 0, down.stderr)
        deadline = time.time() + 10
        while (alive(pid) or alive(child)) and time.time() < deadline:
            time.sleep(0.1)
        self.assertFalse(alive(pid), "the runner is stopped")
        self.assertFalse(alive(child), "and what it started, by its process group")
        self.assertIn("not running", self.sandbox("down").stdout)

    def test_a_cloud_that_fails_to_start_fails_up(self):
        up = self.sandbox("up", script=BROKEN)
        self.assertNotEqual(up.returncode, 0)
        self.assertIn("did not come up", up.stderr)


if __name__ == "__main__":
    unittest.main()
