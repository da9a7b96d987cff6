"""DynamoDB transactions of the patched moto server (tests/emulator/moto_server.py).

- Cost: moto backs a TransactWriteItems up by deep-copying every table it names, so each
  transaction cost grew with the table (registration items made a group's registrations cost
  O(N²) in all, where DynamoDB's cost is per item written). Here only the items the transaction
  names are copied, and restored if it is canceled: the same outcome, at AWS's cost shape.
- Conflicts: DynamoDB cancels a transaction that conflicts with a concurrent one on the same
  item (reason code `TransactionConflict`); the serialised server never does. `POST
  /_dynamodb/transaction-conflicts {"table": T, "count": K}` makes the next K transactions that
  write to table T canceled that way, so that a client's retry of conflicts can be tested (per
  table, so that tests sharing the server do not take each other's); the answer (and `GET`)
  says how many are left per table.
"""

from __future__ import annotations

import copy
import json
import threading
from typing import Any

import moto_routes

_lock = threading.Lock()
_conflicts_left: dict[str, int] = {}


def _item_key(backend: Any, op: str, body: dict[str, Any]) -> tuple[str, Any, Any] | None:
    """(table, hash, range) of the item one transaction part writes, as moto's Table keys them."""
    from moto.dynamodb.models.dynamo_type import DynamoType

    table_name = body.get("TableName")
    if table_name not in backend.tables:
        return None
    table = backend.tables[table_name]
    source = body.get("Item", {}) if op == "Put" else body.get("Key", {})
    if table.hash_key_attr not in source:
        return None
    hash_value = DynamoType(source[table.hash_key_attr])
    range_value = (DynamoType(source[table.range_key_attr])
                   if table.range_key_attr and table.range_key_attr in source else None)
    return table_name, hash_value, range_value


def _snapshot(backend: Any, keys: list[tuple[str, Any, Any]]) -> list[tuple[tuple, Any]]:
    saved = []
    for table_name, hash_value, range_value in keys:
        item = backend.tables[table_name].get_item(hash_value, range_value)
        saved.append(((table_name, hash_value, range_value), copy.deepcopy(item)))
    return saved


def _restore(backend: Any, saved: list[tuple[tuple, Any]]) -> None:
    for (table_name, hash_value, range_value), item in reversed(saved):
        table = backend.tables[table_name]
        if range_value is None:
            if item is None:
                table.items.pop(hash_value, None)
            else:
                table.items[hash_value] = item
        elif item is None:
            table.items.get(hash_value, {}).pop(range_value, None)
            if hash_value in table.items and not table.items[hash_value]:
                del table.items[hash_value]
        else:
            table.items[hash_value][range_value] = item


class _Shallow:
    """Stands in for the `copy` module inside moto's transaction: tables are not copied (the
    touched items are, by the wrapper), everything else as before."""

    @staticmethod
    def deepcopy(value: Any, *args: Any) -> Any:
        from moto.dynamodb.models.table import Table

        return value if isinstance(value, Table) else copy.deepcopy(value, *args)


def _control_app(environ: dict[str, Any], start_response: Any) -> Any:
    path, method = environ.get("PATH_INFO", ""), environ.get("REQUEST_METHOD", "GET")
    status, body = "404 Not Found", {"error": f"no such control endpoint {path}"}
    if path == "/_dynamodb/transaction-conflicts":
        if method == "POST":
            length = int(environ.get("CONTENT_LENGTH") or 0)
            request = json.loads(environ["wsgi.input"].read(length) or b"{}")
            with _lock:
                _conflicts_left[str(request.get("table", ""))] = max(0, int(request.get("count", 0)))
        with _lock:
            status, body = "200 OK", {"left": {t: n for t, n in _conflicts_left.items() if n}}
    data = json.dumps(body).encode()
    start_response(status, [("Content-Type", "application/json"),
                            ("Content-Length", str(len(data)))])
    return [data]


def apply() -> None:
    """Installs the patch on moto's DynamoDB backend and mounts `/_dynamodb/`."""
    import moto.dynamodb.models as models
    from moto.dynamodb.exceptions import TransactionCanceledException

    original = models.DynamoDBBackend.transact_write_items

    def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
        tables = {body.get("TableName") for part in transact_items for body in part.values()
                  if isinstance(body, dict)}
        with _lock:
            conflicted = [t for t in tables if _conflicts_left.get(t, 0) > 0]
            for table in conflicted:
                _conflicts_left[table] -= 1
        if conflicted:
            raise TransactionCanceledException(
                [("TransactionConflict", "Transaction is ongoing for the item", None)
                 for _ in transact_items])
        keys = []
        for part in transact_items:
            for op, body in part.items():
                key = _item_key(self, op, body) if isinstance(body, dict) else None
                if key is not None:
                    keys.append(key)
        saved = _snapshot(self, keys)
        module_copy = models.copy
        models.copy = _Shallow  # type: ignore[assignment]
        try:
            original(self, transact_items)
        except Exception:
            _restore(self, saved)
            raise
        finally:
            models.copy = module_copy

    models.DynamoDBBackend.transact_write_items = transact_write_items  # type: ignore[method-assign]
    moto_routes.mount("/_dynamodb/", _control_app)
