"""`make package`'s release: every function's zip, its checksums, and a manifest the module
reads (tests/release_manifest.py)."""

import base64
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import release_manifest as rm  # noqa: E402


class Release(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.zips = os.path.join(self.tmp.name, "lambda")
        self.out = os.path.join(self.tmp.name, "dist")
        for name, body in (("deploy", b"deploy-code"), ("status", b"status-code")):
            os.makedirs(os.path.join(self.zips, name))
            with open(os.path.join(self.zips, name, "bootstrap.zip"), "wb") as f:
                f.write(body)

    def tearDown(self):
        self.tmp.cleanup()

    def test_the_manifest_names_every_zip_with_the_hash_lambda_reports(self):
        target = rm.build_release(self.zips, self.out, "1.2.3", ["deploy", "status"],
                                  commit="abc")
        with open(os.path.join(target, "manifest.json")) as f:
            manifest = json.load(f)
        self.assertEqual(manifest["version"], "1.2.3")
        self.assertEqual(manifest["architecture"], "arm64")
        self.assertEqual(sorted(manifest["functions"]), ["deploy", "status"])
        entry = manifest["functions"]["status"]
        with open(os.path.join(target, entry["file"]), "rb") as f:
            body = f.read()
        self.assertEqual(body, b"status-code")
        self.assertEqual(entry["sha256"], hashlib.sha256(body).hexdigest())
        self.assertEqual(entry["base64sha256"],
                         base64.b64encode(hashlib.sha256(body).digest()).decode())
        self.assertEqual(entry["bytes"], len(body))

    def test_the_checksums_verify_with_sha256sum(self):
        target = rm.build_release(self.zips, self.out, "1.2.3", ["deploy", "status"])
        r = subprocess.run(["sha256sum", "-c", "SHA256SUMS"], cwd=target,
                           capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        with open(os.path.join(target, "deploy.zip"), "ab") as f:
            f.write(b"tampered")
        r = subprocess.run(["sha256sum", "-c", "SHA256SUMS"], cwd=target,
                           capture_output=True, text=True)
        self.assertNotEqual(r.returncode, 0)

    def test_a_partial_release_is_refused(self):
        with self.assertRaisesRegex(rm.ReleaseError, "terminate"):
            rm.build_release(self.zips, self.out, "1.2.3", ["deploy", "status", "terminate"])
        open(os.path.join(self.zips, "status", "bootstrap.zip"), "w").close()
        with self.assertRaisesRegex(rm.ReleaseError, "status"):
            rm.build_release(self.zips, self.out, "1.2.3", ["deploy", "status"])
        self.assertFalse(os.path.exists(os.path.join(self.out, "1.2.3")))

    def test_bad_names_are_refused(self):
        for version in ("", "../x", "a b"):
            with self.assertRaises(rm.ReleaseError):
                rm.build_release(self.zips, self.out, version, ["deploy"])
        with self.assertRaises(rm.ReleaseError):
            rm.build_release(self.zips, self.out, "1", ["deploy"], architecture="riscv")

    def test_every_workspace_function_is_released(self):
        names = rm.functions()
        self.assertIn("deploy", names)
        self.assertIn("adopt", names)
        self.assertEqual(len(names), len(os.listdir(os.path.join(rm.ROOT, "functions"))))


if __name__ == "__main__":
    unittest.main()
