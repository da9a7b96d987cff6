"""The cold start harness (coldstart.py) against fake binaries: Python scripts that ask the
runtime API for an event, or exit during init."""

import io
import json
import os
import stat
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import coldstart  # noqa: E402

# Checks that its configuration arrived, then asks for an event and waits for the answer.
ASKS = f"""#!{sys.executable}
import http.client, os, sys
if os.environ.get("CLUSTER_NAME") != "bench" or "HOME" in os.environ:
    sys.exit("environment not as expected")
host, port = os.environ["AWS_LAMBDA_RUNTIME_API"].split(":")
conn = http.client.HTTPConnection(host, int(port))
conn.request("GET", "/2018-06-01/runtime/invocation/next")
conn.getresponse()
"""
EXITS = f"""#!{sys.executable}
import sys
print("config error: STATE_TABLE is not set", file=sys.stderr)
sys.exit(3)
"""
HANGS = f"""#!{sys.executable}
import time
time.sleep(60)
"""


class ColdStartTest(unittest.TestCase):
    def setUp(self):
        self._dir = tempfile.TemporaryDirectory()
        self.bin_dir = self._dir.name
        self.table = os.path.join(self.bin_dir, "env.json")
        with open(self.table, "w") as f:
            json.dump({"a": ["CLUSTER_NAME", "STATE_TABLE"], "b": ["CLUSTER_NAME"],
                       "c": ["CLUSTER_NAME"]}, f)

    def tearDown(self):
        self._dir.cleanup()

    def binary(self, name, script):
        path = os.path.join(self.bin_dir, name)
        with open(path, "w") as f:
            f.write(script)
        os.chmod(path, os.stat(path).st_mode | stat.S_IXUSR)

    def run_main(self, *args):
        out, err = io.StringIO(), io.StringIO()
        saved = sys.stdout, sys.stderr
        sys.stdout, sys.stderr = out, err
        try:
            code = coldstart.main(["--bin-dir", self.bin_dir, "--env-table", self.table,
                                   "--starts", "2", "--warmup", "0", "--timeout", "5", *args])
        finally:
            sys.stdout, sys.stderr = saved
        return code, out.getvalue(), err.getvalue()

    def test_measures_each_function_and_prints_a_verdict(self):
        self.binary("a", ASKS)
        self.binary("b", ASKS)
        code, out, err = self.run_main("--functions", "a", "b", "--limit", "1000")
        self.assertEqual(code, 0, err)
        lines = out.splitlines()
        self.assertIn("median ms", lines[1])
        self.assertIn("cpu ms", lines[1])
        rows = {line.split()[0]: line.split() for line in lines[2:4]}
        self.assertEqual(set(rows), {"a", "b"})
        for row in rows.values():
            median, low, ratio = float(row[1]), float(row[2]), float(row[3])
            cpu_ms = float(row[4])
            float(row[5])  # the CPU ratio (nan when the smallest used no measurable CPU)
            self.assertGreater(median, 0)
            self.assertLessEqual(low, median)
            self.assertGreaterEqual(ratio, 1.0)
            self.assertGreaterEqual(cpu_ms, 0)
            self.assertEqual(row[6], "ok")
        self.assertTrue(lines[4].startswith("overall: ok"), out)

    def test_a_slow_function_fails_its_verdict_but_not_the_run(self):
        rows, all_ok = coldstart.summarize({"fast": [4.0, 5.0, 6.0], "slow": [20.0, 19.0]}, 1.5)
        self.assertFalse(all_ok)
        by_name = {r[0]: r for r in rows}
        self.assertEqual(by_name["fast"][1:], (5.0, 4.0, 1.0, True))
        self.assertAlmostEqual(by_name["slow"][3], 3.9)
        self.assertFalse(by_name["slow"][4])
        out = io.StringIO()
        coldstart.report(rows, all_ok, 1.5, 3, out=out)
        self.assertIn("SLOW (above 1.5x fast)", out.getvalue())
        self.assertIn("overall: FAIL", out.getvalue())
        self.assertIn(": slow", out.getvalue())

    def test_a_function_exiting_during_init_fails_with_its_output(self):
        self.binary("a", ASKS)
        self.binary("b", EXITS)
        code, _, err = self.run_main("--functions", "a", "b")
        self.assertEqual(code, 2)
        self.assertIn("b exited with status 3 during init", err)
        self.assertIn("STATE_TABLE is not set", err)

    def test_a_function_never_asking_fails_after_the_timeout(self):
        self.binary("c", HANGS)
        code, _, err = self.run_main("--functions", "c", "--timeout", "0.3")
        self.assertEqual(code, 2)
        self.assertIn("c did not ask for an event within 0.3 s", err)

    def test_a_missing_binary_fails_before_starting_anything(self):
        self.binary("a", ASKS)
        code, out, err = self.run_main("--functions", "a", "b")
        self.assertEqual(code, 2)
        self.assertIn("missing binaries", err)
        self.assertIn(os.path.join(self.bin_dir, "b"), err)
        self.assertEqual(out, "")

    def test_every_function_gets_a_value_for_each_name_it_reads(self):
        table = coldstart.env_table()
        self.assertEqual(sorted(table), sorted(coldstart.FUNCTIONS))
        self.assertEqual(sorted(coldstart.FUNCTIONS),
                         sorted(os.listdir(os.path.join(coldstart.ROOT, "functions"))))
        for function in coldstart.FUNCTIONS:
            env = coldstart.function_env(function, table, "127.0.0.1:9", "http://127.0.0.1:9",
                                         self.bin_dir)
            self.assertTrue(set(table[function]) <= set(env), function)
            self.assertEqual(env["AWS_LAMBDA_RUNTIME_API"], "127.0.0.1:9")


if __name__ == "__main__":
    unittest.main()
