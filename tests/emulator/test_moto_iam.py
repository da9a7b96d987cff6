"""IAM enforcement of the patched moto server (tests/emulator/moto_iam.py, start_moto(iam=True)):
unknown keys are refused, the admin may do anything, a role's temporary credentials (assumed as
the service its trust policy names) may do exactly what its policy allows on the resources it
names, Lambda Invoke is checked as lambda:InvokeFunction, and Step Functions executions invoke
with their state machine's role.

Run: python -m unittest tests/emulator/test_moto_iam.py
"""

import io
import json
import os
import shutil
import sys
import tempfile
import time
import unittest
import urllib.error
import zipfile

import boto3
from botocore.exceptions import ClientError

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from harness import get_json, post_json, start_moto  # noqa: E402

ACCOUNT = "123456789012"
REGION = "us-east-1"
LAMBDA_TRUST = {"Version": "2012-10-17", "Statement": [{
    "Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole",
    "Condition": {"StringEquals": {"aws:SourceAccount": ACCOUNT}}}]}
STATES_TRUST = {"Version": "2012-10-17", "Statement": [{
    "Effect": "Allow", "Principal": {"Service": "states.amazonaws.com"}, "Action": "sts:AssumeRole"}]}


class MotoIamTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.run_dir = tempfile.mkdtemp(prefix="moto-iam-")
        cls.addClassCleanup(shutil.rmtree, cls.run_dir, ignore_errors=True)
        cls.moto = start_moto(os.path.join(cls.run_dir, "moto.log"), iam=True,
                              config={"stepfunctions": {"execute_state_machine": True},
                                      "lambda": {"use_docker": False}})
        cls.addClassCleanup(cls.moto.stop)
        cls.admin = dict(endpoint_url=cls.moto.url, region_name=REGION,
                         aws_access_key_id=cls.moto.admin["AccessKeyId"],
                         aws_secret_access_key=cls.moto.admin["SecretAccessKey"])
        ddb = boto3.client("dynamodb", **cls.admin)
        for table in ("mine", "other", "txn"):
            ddb.create_table(TableName=table, BillingMode="PAY_PER_REQUEST",
                             KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                             AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}])
        sm = boto3.client("secretsmanager", **cls.admin)
        cls.secret_arn = sm.create_secret(Name="mine", SecretString="s")["ARN"]
        sm.create_secret(Name="other", SecretString="s")
        iam = boto3.client("iam", **cls.admin)
        cls.role_arn = iam.create_role(RoleName="fn", AssumeRolePolicyDocument=json.dumps(
            LAMBDA_TRUST))["Role"]["Arn"]
        iam.put_role_policy(RoleName="fn", PolicyName="least", PolicyDocument=json.dumps({
            "Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Action": ["dynamodb:GetItem"],
                 "Resource": [f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/mine"]},
                {"Effect": "Allow", "Action": ["dynamodb:PutItem", "dynamodb:UpdateItem"],
                 "Resource": [f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/txn"]},
                {"Effect": "Allow", "Action": ["secretsmanager:GetSecretValue"],
                 "Resource": [cls.secret_arn]},
                {"Effect": "Allow", "Action": ["lambda:InvokeFunction"],
                 "Resource": [f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:f1"]}]}))
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as z:
            z.writestr("bootstrap", "#!/bin/sh\n")
        lam = boto3.client("lambda", **cls.admin)
        for name in ("f1", "f2"):
            lam.create_function(FunctionName=name, Runtime="provided.al2", Role=cls.role_arn,
                                Handler="x", Code={"ZipFile": buf.getvalue()})
        creds = post_json(f"{cls.moto.url}/_iam/assume-role-as-service",
                          {"RoleArn": cls.role_arn, "Service": "lambda.amazonaws.com",
                           "SessionName": "f1"})
        cls.role = dict(endpoint_url=cls.moto.url, region_name=REGION,
                        aws_access_key_id=creds["AccessKeyId"],
                        aws_secret_access_key=creds["SecretAccessKey"],
                        aws_session_token=creds["Token"])

    def refused(self, call, code, *words):
        with self.assertRaises(ClientError) as ctx:
            call()
        error = ctx.exception.response["Error"]
        self.assertEqual(error["Code"], code, error)
        for word in words:
            self.assertIn(word, error["Message"])

    def test_unknown_key_refused(self):
        ddb = boto3.client("dynamodb", endpoint_url=self.moto.url, region_name=REGION,
                           aws_access_key_id="test", aws_secret_access_key="test")
        self.refused(ddb.list_tables, "UnrecognizedClientException")

    def test_admin_may_do_anything_bodiless_get_included(self):
        lam = boto3.client("lambda", **self.admin)
        self.assertEqual(lam.get_function(FunctionName="f1")["Configuration"]["FunctionName"], "f1")
        self.assertIn("mine", boto3.client("dynamodb", **self.admin).list_tables()["TableNames"])

    def test_role_may_act_only_on_its_resources(self):
        ddb = boto3.client("dynamodb", **self.role)
        ddb.get_item(TableName="mine", Key={"pk": {"S": "x"}})
        self.refused(lambda: ddb.get_item(TableName="other", Key={"pk": {"S": "x"}}),
                     "AccessDeniedException", "dynamodb:GetItem", "table/other", "assumed-role/fn")
        self.refused(lambda: ddb.put_item(TableName="mine", Item={"pk": {"S": "x"}}),
                     "AccessDeniedException", "dynamodb:PutItem")
        sm = boto3.client("secretsmanager", **self.role)
        self.assertEqual(sm.get_secret_value(SecretId="mine")["SecretString"], "s")
        self.refused(lambda: sm.get_secret_value(SecretId="other"), "AccessDeniedException",
                     "secretsmanager:GetSecretValue")

    def test_a_transaction_needs_each_items_action_on_its_table(self):
        ddb = boto3.client("dynamodb", **self.role)

        def put(table, key):
            return {"Put": {"TableName": table, "Item": {"pk": {"S": key}}}}
        ddb.transact_write_items(TransactItems=[put("txn", "a"), {"Update": {
            "TableName": "txn", "Key": {"pk": {"S": "b"}}, "UpdateExpression": "SET n = :one",
            "ExpressionAttributeValues": {":one": {"N": "1"}}}}])
        admin = boto3.client("dynamodb", **self.admin)
        self.assertIn("Item", admin.get_item(TableName="txn", Key={"pk": {"S": "b"}}))
        self.refused(lambda: ddb.transact_write_items(TransactItems=[
            put("txn", "c"), {"Delete": {"TableName": "txn", "Key": {"pk": {"S": "a"}}}}]),
            "AccessDeniedException", "dynamodb:DeleteItem", "table/txn")
        self.refused(lambda: ddb.transact_write_items(TransactItems=[put("other", "d")]),
                     "AccessDeniedException", "dynamodb:PutItem", "table/other")

    def test_wrong_session_token_refused(self):
        ddb = boto3.client("dynamodb", **dict(self.role, aws_session_token="forged"))
        self.refused(lambda: ddb.get_item(TableName="mine", Key={"pk": {"S": "x"}}),
                     "UnrecognizedClientException")

    def test_invoke_is_lambda_invoke_function_on_the_function(self):
        lam = boto3.client("lambda", **self.role)
        self.assertEqual(lam.invoke(FunctionName="f1", Payload=b"{}")["StatusCode"], 200)
        self.refused(lambda: lam.invoke(FunctionName="f2", Payload=b"{}"),
                     "AccessDeniedException", "lambda:InvokeFunction", "function:f2")

    def test_trust_policy_names_the_service(self):
        with self.assertRaises(urllib.error.HTTPError) as ctx:
            post_json(f"{self.moto.url}/_iam/assume-role-as-service",
                      {"RoleArn": self.role_arn, "Service": "ec2.amazonaws.com"})
        self.assertEqual(ctx.exception.code, 403)

    def test_refusals_are_recorded(self):
        ddb = boto3.client("dynamodb", **self.role)
        with self.assertRaises(ClientError):
            ddb.delete_table(TableName="mine")
        denials = get_json(self.moto.url + "/_iam/denials")["denials"]
        self.assertTrue(any("dynamodb:DeleteTable" in d["message"] for d in denials), denials)

    def test_step_functions_invoke_with_the_state_machine_role(self):
        iam = boto3.client("iam", **self.admin)
        sfn_role = iam.create_role(RoleName="sm", AssumeRolePolicyDocument=json.dumps(
            STATES_TRUST))["Role"]["Arn"]
        iam.put_role_policy(RoleName="sm", PolicyName="invoke", PolicyDocument=json.dumps({
            "Version": "2012-10-17", "Statement": [{
                "Effect": "Allow", "Action": "lambda:InvokeFunction",
                "Resource": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:f1"}]}))
        sfn = boto3.client("stepfunctions", **self.admin)
        results = {}
        for fn in ("f1", "f2"):
            definition = {"StartAt": "T", "States": {"T": {
                "Type": "Task", "Resource": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{fn}",
                "End": True}}}
            arn = sfn.create_state_machine(name=f"sm-{fn}", definition=json.dumps(definition),
                                           roleArn=sfn_role)["stateMachineArn"]
            ex = sfn.start_execution(stateMachineArn=arn, name=f"run-{fn}", input="{}")
            deadline = time.monotonic() + 30
            while True:
                d = sfn.describe_execution(executionArn=ex["executionArn"])
                if d["status"] != "RUNNING" or time.monotonic() > deadline:
                    break
                time.sleep(0.2)
            results[fn] = d
        self.assertEqual(results["f1"]["status"], "SUCCEEDED", results["f1"])
        self.assertEqual(results["f2"]["status"], "FAILED", results["f2"])
        self.assertIn("assumed-role/sm/", results["f2"].get("cause", ""))
        self.assertIn("not authorized to perform: lambda:InvokeFunction", results["f2"]["cause"])


if __name__ == "__main__":
    unittest.main()
