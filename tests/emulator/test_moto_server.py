"""Lambda in the patched moto server (moto_server.py) as the Terraform apply uses it.

Run: /work/main/.venv/bin/python -m unittest tests/emulator/test_moto_server.py
(starts its own server with tests/harness.py; VENV defaults to this interpreter's venv).

- CreateFunction with everything the module sets (VPC config, logging config, tracing,
  environment, arm64) answers at once with State Active: the ~5 s per function of an apply is
  the AWS provider's own wait (waitFunctionCreated sleeps 5 s before its first GetFunction, and
  the provider creates functions with a local zip one at a time), not moto.
- An SDK retry of a CreateFunction whose first answer was lost gets that answer, not 409; a new
  CreateFunction of an existing function still gets AWS's 409 ResourceConflictException.
- A function created from a zip staged in S3 (the module's `lambda_code_s3_bucket`) has the
  zip's code hash and size.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import sys
import time
import unittest
import urllib.error
import urllib.request
import zipfile

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError, ConnectionClosedError

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))  # tests/: the shared process harness
import harness  # noqa: E402

ROLE_POLICY = json.dumps({
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
                   "Action": "sts:AssumeRole"}],
})


def _zip(text: str) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        info = zipfile.ZipInfo("bootstrap")
        info.external_attr = 0o755 << 16
        z.writestr(info, text)
    return buf.getvalue()


class MotoLambdaTest(harness.MotoTestCase):
    run_prefix = "moto-server-"

    @classmethod
    def setUpClass(cls) -> None:
        super().setUpClass()
        cls.lam = boto3.client("lambda", **cls.kw)
        iam = boto3.client("iam", **cls.kw)
        cls.role = iam.create_role(RoleName="fn-role", AssumeRolePolicyDocument=ROLE_POLICY)["Role"]["Arn"]
        ec2 = boto3.client("ec2", **cls.kw)
        vpc = ec2.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
        cls.subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.9.1.0/24")["Subnet"]["SubnetId"]
        cls.sg = ec2.create_security_group(GroupName="fn-sg", Description="fn", VpcId=vpc)["GroupId"]
        boto3.client("logs", **cls.kw).create_log_group(logGroupName="/aws/lambda/fn-logs")

    def spec(self, name: str, **extra) -> dict:
        """A CreateFunction request like the module's (lambda.tf)."""
        spec = dict(
            FunctionName=name,
            Role=self.role,
            Runtime="provided.al2023",
            Handler="bootstrap",
            Architectures=["arm64"],
            Code={"ZipFile": _zip(f"#!/bin/sh\necho {name}\n")},
            Timeout=60,
            MemorySize=256,
            Environment={"Variables": {"CLUSTER_NAME": "local", "STATE_TABLE": "t"}},
            LoggingConfig={"LogFormat": "JSON", "ApplicationLogLevel": "INFO", "SystemLogLevel": "WARN",
                           "LogGroup": "/aws/lambda/fn-logs"},
            TracingConfig={"Mode": "Active"},
            VpcConfig={"SubnetIds": [self.subnet], "SecurityGroupIds": [self.sg]},
            Tags={"weka_cluster_name": "local"},
        )
        spec.update(extra)
        return spec

    def test_create_function_with_the_modules_settings_is_immediate_and_active(self):
        t0 = time.monotonic()
        created = self.lam.create_function(**self.spec("fn-fast"))
        elapsed = time.monotonic() - t0
        self.assertLess(elapsed, 2.0, f"CreateFunction took {elapsed:.2f}s")
        self.assertEqual(created["State"], "Active")
        conf = self.lam.get_function(FunctionName="fn-fast")["Configuration"]
        self.assertEqual((conf["State"], conf["LastUpdateStatus"]), ("Active", "Successful"))
        self.assertEqual(conf["VpcConfig"]["SubnetIds"], [self.subnet])

    def test_sdk_retry_of_a_create_whose_answer_was_lost_gets_that_answer(self):
        # The first attempt reaches moto (the function is created) but its answer is "lost":
        # botocore sees a closed connection and resends the request under the same
        # amz-sdk-invocation-id with amz-sdk-request: attempt=2, as the Go SDK does.
        lam = boto3.client("lambda", config=Config(retries={"mode": "standard", "max_attempts": 3}), **self.kw)
        sent = []

        def lose_first_answer(request, **_):
            sent.append({k.lower(): v.decode() if isinstance(v, bytes) else v for k, v in request.headers.items()})
            if len(sent) > 1:
                return None  # botocore sends it
            req = urllib.request.Request(request.url, data=request.body, method=request.method,
                                         headers={k: v for k, v in request.headers.items()})
            with urllib.request.urlopen(req, timeout=10) as r:
                self.assertEqual(r.status, 201)
            raise ConnectionClosedError(endpoint_url=request.url)

        lam.meta.events.register("before-send.lambda.CreateFunction", lose_first_answer)
        created = lam.create_function(**self.spec("fn-retried"))
        self.assertEqual(len(sent), 2)
        self.assertEqual(sent[0]["amz-sdk-invocation-id"], sent[1]["amz-sdk-invocation-id"])
        self.assertIn("attempt=2", sent[1]["amz-sdk-request"])
        self.assertEqual(created["FunctionName"], "fn-retried")
        self.assertEqual(created["State"], "Active")
        names = [f["FunctionName"] for f in self.lam.list_functions()["Functions"]]
        self.assertEqual(names.count("fn-retried"), 1)

    def test_a_new_create_of_an_existing_function_is_still_a_conflict(self):
        self.lam.create_function(**self.spec("fn-dup"))
        with self.assertRaises(ClientError) as cm:
            self.lam.create_function(**self.spec("fn-dup"))
        self.assertEqual(cm.exception.response["Error"]["Code"], "ResourceConflictException")

    def test_a_retry_after_an_error_is_executed_again(self):
        # Only succeeded answers are replayed: attempt 1 fails (its role does not exist yet),
        # attempt 2 of the same invocation runs again and succeeds once the role exists.
        iam = boto3.client("iam", **self.kw)
        role = self.role.replace("fn-role", "late-role")
        body = json.dumps({"FunctionName": "fn-late-role", "Role": role, "Runtime": "provided.al2023",
                           "Handler": "bootstrap", "Code": {"ZipFile": base64.b64encode(_zip("x")).decode()}}).encode()
        headers = {"Content-Type": "application/json", "amz-sdk-invocation-id": "11111111-2222-3333-4444-555555555555",
                   "Authorization": "AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/lambda/aws4_request, "
                                    "SignedHeaders=host, Signature=x"}

        def attempt(n):
            req = urllib.request.Request(self.endpoint + "/2015-03-31/functions", data=body, method="POST",
                                         headers=dict(headers, **{"amz-sdk-request": f"attempt={n}; max=3"}))
            try:
                with urllib.request.urlopen(req, timeout=10) as r:
                    return r.status, r.read()
            except urllib.error.HTTPError as e:
                return e.code, e.read()

        status, answer = attempt(1)
        self.assertEqual(status, 400)
        self.assertIn(b"cannot be assumed", answer)
        iam.create_role(RoleName="late-role", AssumeRolePolicyDocument=ROLE_POLICY)
        status, answer = attempt(2)
        self.assertEqual(status, 201, answer)
        self.assertEqual(json.loads(answer)["Role"], role)

    def test_function_from_a_zip_staged_in_s3_has_the_zips_code(self):
        code = _zip("#!/bin/sh\necho staged\n")
        s3 = boto3.client("s3", **self.kw)
        s3.create_bucket(Bucket="lambda-code")
        s3.put_object(Bucket="lambda-code", Key="fn-s3/bootstrap.zip", Body=code)
        created = self.lam.create_function(
            **self.spec("fn-s3", Code={"S3Bucket": "lambda-code", "S3Key": "fn-s3/bootstrap.zip"}))
        self.assertEqual(created["CodeSha256"], base64.b64encode(hashlib.sha256(code).digest()).decode())
        self.assertEqual(created["CodeSize"], len(code))


if __name__ == "__main__":
    unittest.main()
