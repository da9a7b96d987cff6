"""A release of the functions as the Terraform module consumes it (`make package`).

  python tests/release_manifest.py --zips target/lambda --out target/dist --version 0.3.0

Reads `<zips>/<function>/bootstrap.zip` for every function under `functions/` and writes
`<out>/<version>/`: `<function>.zip`, `SHA256SUMS` (sha256sum's format) and `manifest.json`:

  {"format": 1, "version": "0.3.0", "architecture": "arm64", "runtime": "provided.al2023",
   "commit": "<git sha>", "functions": {"deploy": {"file": "deploy.zip", "bytes": 123,
   "sha256": "<hex>", "base64sha256": "<what Lambda's CodeSha256 and source_code_hash hold>"}}}

Upload the directory as it is (`aws s3 cp --recursive <out>/<version> s3://<bucket>/<prefix>/`)
and point the module at it (`lambdas_custom_s3_bucket`, `lambdas_custom_s3_key = "<prefix>"`),
or pass the directory itself as `lambdas_dir`. A missing or empty zip fails the release: a
partial release cannot be published.
"""

import argparse
import base64
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FORMAT = 1
VERSION_RE = re.compile(r"^[0-9A-Za-z][0-9A-Za-z.+_-]{0,63}$")


class ReleaseError(Exception):
    pass


def functions(root=ROOT):
    """The workspace's functions: one directory each under `functions/`."""
    return sorted(d for d in os.listdir(os.path.join(root, "functions"))
                  if os.path.isfile(os.path.join(root, "functions", d, "Cargo.toml")))


def digest(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h


def build_release(zips, out, version, names, architecture="arm64", commit=""):
    """Writes `<out>/<version>/` from `<zips>/<name>/bootstrap.zip`; returns its path."""
    if not VERSION_RE.match(version):
        raise ReleaseError(f"version {version!r} is not a release name (letters, digits, . + _ -)")
    if architecture not in ("arm64", "x86_64"):
        raise ReleaseError(f"architecture {architecture!r}: expected arm64 or x86_64")
    missing = [n for n in names
               if not os.path.isfile(os.path.join(zips, n, "bootstrap.zip"))
               or os.path.getsize(os.path.join(zips, n, "bootstrap.zip")) == 0]
    if missing:
        raise ReleaseError(f"no zip for {', '.join(missing)} under {zips}: build them first "
                           "(make package)")
    target = os.path.join(out, version)
    shutil.rmtree(target, ignore_errors=True)
    os.makedirs(target)
    entries, sums = {}, []
    for name in names:
        file = f"{name}.zip"
        dest = os.path.join(target, file)
        shutil.copyfile(os.path.join(zips, name, "bootstrap.zip"), dest)
        h = digest(dest)
        entries[name] = {"file": file, "bytes": os.path.getsize(dest), "sha256": h.hexdigest(),
                         "base64sha256": base64.b64encode(h.digest()).decode()}
        sums.append(f"{h.hexdigest()}  {file}\n")
    manifest = {"format": FORMAT, "version": version, "architecture": architecture,
                "runtime": "provided.al2023", "commit": commit, "functions": entries}
    with open(os.path.join(target, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=2, sort_keys=True)
        f.write("\n")
    with open(os.path.join(target, "SHA256SUMS"), "w") as f:
        f.writelines(sums)
    return target


def git_commit(root=ROOT):
    try:
        return subprocess.run(["git", "-C", root, "rev-parse", "HEAD"], check=True,
                              capture_output=True, text=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return ""


def default_version(root=ROOT):
    """The tag on HEAD (`v0.3.0` -> `0.3.0`), else `0.0.0-<short sha>` (not a release)."""
    try:
        tag = subprocess.run(["git", "-C", root, "describe", "--tags", "--exact-match"],
                             check=True, capture_output=True, text=True).stdout.strip()
        return tag[1:] if tag.startswith("v") else tag
    except (OSError, subprocess.CalledProcessError):
        commit = git_commit(root)
        return f"0.0.0-{commit[:12]}" if commit else "0.0.0-dev"


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--zips", default=os.path.join(ROOT, "target", "lambda"))
    p.add_argument("--out", default=os.path.join(ROOT, "target", "dist"))
    p.add_argument("--version", default=None, help="default: the tag on HEAD")
    p.add_argument("--architecture", default="arm64")
    a = p.parse_args(argv)
    try:
        target = build_release(a.zips, a.out, a.version or default_version(), functions(),
                               a.architecture, git_commit())
    except ReleaseError as e:
        print(f"release: {e}", file=sys.stderr)
        return 1
    print(f"release written to {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
