"""DynamoDB transactions of the patched moto (tests/emulator/moto_dynamodb.py): a canceled
transaction leaves every item it named as it was (new, updated and deleted ones), no table is
copied to make that so, and injected conflicts cancel transactions as DynamoDB's
`TransactionConflict` does.

Run: python -m unittest tests/emulator/test_moto_dynamodb.py
"""

import copy
import io
import json
import os
import sys
import unittest

import boto3
from botocore.exceptions import ClientError
from moto import mock_aws

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import moto_dynamodb  # noqa: E402

moto_dynamodb.apply()


def _key(pk, sk):
    return {"pk": {"S": pk}, "sk": {"S": sk}}


class TransactionTest(unittest.TestCase):
    def setUp(self):
        self.mock = mock_aws()
        self.mock.start()
        self.addCleanup(self.mock.stop)
        self.ddb = boto3.client("dynamodb", region_name="us-east-1",
                                aws_access_key_id="test", aws_secret_access_key="test")
        self.ddb.create_table(
            TableName="t", BillingMode="PAY_PER_REQUEST",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"},
                       {"AttributeName": "sk", "KeyType": "RANGE"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                                  {"AttributeName": "sk", "AttributeType": "S"}])
        self.ddb.put_item(TableName="t", Item={**_key("g", "head"), "n": {"N": "1"}})
        self.ddb.put_item(TableName="t", Item={**_key("g", "old"), "v": {"S": "kept"}})

    def items(self):
        return sorted(json.dumps(i, sort_keys=True)
                      for i in self.ddb.scan(TableName="t")["Items"])

    def transaction(self, head_condition):
        return [
            {"Put": {"TableName": "t", "Item": {**_key("g", "new"), "v": {"S": "x"}}}},
            {"Delete": {"TableName": "t", "Key": _key("g", "old")}},
            {"Update": {"TableName": "t", "Key": _key("g", "head"),
                        "UpdateExpression": "SET n = n + :one", "ConditionExpression": head_condition,
                        "ExpressionAttributeValues": {":one": {"N": "1"}}}},
        ]

    def test_a_canceled_transaction_restores_every_item_it_named(self):
        before = self.items()
        with self.assertRaises(ClientError) as ctx:
            self.ddb.transact_write_items(TransactItems=self.transaction("n > :one"))
        reasons = [r["Code"] for r in ctx.exception.response["CancellationReasons"]]
        self.assertEqual(reasons, ["None", "None", "ConditionalCheckFailed"])
        self.assertEqual(self.items(), before)

    def test_a_committed_transaction_writes_every_item_without_copying_the_table(self):
        from moto.dynamodb.models.table import Table
        copied = []
        real = copy.deepcopy

        def counting(value, *args):
            if isinstance(value, Table):
                copied.append(value.name)
            return real(value, *args)
        copy.deepcopy = counting
        try:
            self.ddb.transact_write_items(TransactItems=self.transaction("n = :one"))
        finally:
            copy.deepcopy = real
        self.assertEqual(copied, [], "no table copied")
        keys = [json.loads(i)["sk"]["S"] for i in self.items()]
        self.assertEqual(sorted(keys), ["head", "new"])

    def test_injected_conflicts_cancel_the_next_transactions_only(self):
        environ = {"PATH_INFO": "/_dynamodb/transaction-conflicts", "REQUEST_METHOD": "POST",
                   "CONTENT_LENGTH": "26", "wsgi.input": io.BytesIO(b'{"table": "t", "count": 1}')}
        answer = json.loads(b"".join(moto_dynamodb._control_app(environ, lambda *a: None)))
        self.assertEqual(answer, {"left": {"t": 1}})
        before = self.items()
        with self.assertRaises(ClientError) as ctx:
            self.ddb.transact_write_items(TransactItems=self.transaction("n = :one"))
        reasons = {r["Code"] for r in ctx.exception.response["CancellationReasons"]}
        self.assertEqual(reasons, {"TransactionConflict"})
        self.assertEqual(self.items(), before)
        self.ddb.transact_write_items(TransactItems=self.transaction("n = :one"))
        self.assertNotEqual(self.items(), before)


if __name__ == "__main__":
    unittest.main()
