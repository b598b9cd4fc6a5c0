"""moto for the benchmark: DynamoDB and Secrets Manager as moto_server serves them, with four differences.

- One request at a time, as scripts/moto_serial.py and for the same reason: DynamoDB applies each request
  atomically, moto under concurrent requests does not.
- Served by waitress instead of moto_server's werkzeug development server, which closes every connection after one
  request (and then waits up to 10 ms draining it); waitress keeps connections open between requests, as DynamoDB's
  endpoint does and the AWS SDK expects.
- `TransactWriteItems` backs up the items it names instead of deep-copying every table it touches (moto's own
  backup is O(table size) per transaction: with the benchmark's 8,000 users a message took ~0.7 s). Requests are
  served one at a time, so restoring the named items when the transaction is cancelled is the same rollback.
- A count of the DynamoDB requests it answered, so the benchmark can report requests and units per message.

    python bench/moto_counting.py HOST PORT

`GET /bench/counts` answers the counts so far as JSON:
    {"requests": {"PutItem": 12, "TransactWriteItems": 3, ...},
     "transact_items": {"Put": 3, "ConditionCheck": 3, ...},   # items inside TransactWriteItems / TransactGetItems
     "consistent_reads": 0,                                      # GetItem/Query with ConsistentRead true
     "largest_request_bytes": 1234}
Units follow from DynamoDB's documented rules (docs: "Read/write capacity mode"): a standard write of an item up
to 1 KB is 1 write unit, every item of a TransactWriteItems 2; an eventually consistent read up to 4 KB half a
read unit, a strongly consistent one 1, a transactional one 2. The benchmark computes them from these counts.
"""

import copy
import io
import json
import logging
import sys
import threading
from collections import Counter

import moto.dynamodb.models as dynamodb_models
from moto.dynamodb.models import DynamoDBBackend, DynamoType
from moto.dynamodb.models.table import Table

import waitress
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app


_moto_transact_write_items = DynamoDBBackend.transact_write_items


class _TablesUncopied:
    """Stands in for the `copy` module inside moto's transact_write_items: tables are not copied, the rest is."""

    @staticmethod
    def deepcopy(value, memo=None):
        return value if isinstance(value, Table) else copy.deepcopy(value, memo)


def _transact_write_items(self, transact_items):
    saved = []
    for entry in transact_items:
        _, op = next(iter(entry.items()))
        table = self.tables.get(op.get("TableName"))
        attrs = op.get("Key") or op.get("Item") or {}
        if table is None or table.hash_key_attr not in attrs:
            continue
        hash_value = DynamoType(attrs[table.hash_key_attr])
        range_value = None
        if table.range_key_attr is not None:
            if table.range_key_attr not in attrs:
                continue
            range_value = DynamoType(attrs[table.range_key_attr])
        saved.append((table, hash_value, range_value, copy.deepcopy(table.get_item(hash_value, range_value))))
    dynamodb_models.copy = _TablesUncopied
    try:
        return _moto_transact_write_items(self, transact_items)
    except Exception:
        for table, hash_value, range_value, old in reversed(saved):
            if range_value is None:
                if old is None:
                    table.items.pop(hash_value, None)
                else:
                    table.items[hash_value] = old
            elif old is None:
                table.items[hash_value].pop(range_value, None)
            else:
                table.items[hash_value][range_value] = old
        raise
    finally:
        dynamodb_models.copy = copy


DynamoDBBackend.transact_write_items = _transact_write_items


def main() -> None:
    host, port = sys.argv[1], int(sys.argv[2])
    app = DomainDispatcherApplication(create_backend_app)
    lock = threading.Lock()
    requests = Counter()
    transact_items = Counter()
    state = {"consistent_reads": 0, "largest_request_bytes": 0}

    def read_body(environ):
        # Read whole before the count and moto look at it.
        if "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower():
            body = environ["wsgi.input"].read()
        else:
            length = int(environ.get("CONTENT_LENGTH") or 0)
            body = environ["wsgi.input"].read(length) if length else b""
        environ["wsgi.input"] = io.BytesIO(body)
        return body

    def count(environ, body):
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        if not target.startswith("DynamoDB_"):
            return
        operation = target.rsplit(".", 1)[-1]
        requests[operation] += 1
        state["largest_request_bytes"] = max(state["largest_request_bytes"], len(body))
        try:
            payload = json.loads(body or b"{}")
        except ValueError:
            return
        for item in payload.get("TransactItems", []):
            for kind in item:
                transact_items[kind] += 1
        if payload.get("ConsistentRead"):
            state["consistent_reads"] += 1

    def counting(environ, start_response):
        if environ.get("PATH_INFO") == "/bench/counts":
            with lock:
                body = json.dumps(
                    {"requests": requests, "transact_items": transact_items, **state}
                ).encode()
            start_response("200 OK", [("content-type", "application/json"), ("content-length", str(len(body)))])
            return [body]
        body = read_body(environ)
        with lock:
            count(environ, body)
            # The whole body is produced inside the lock: moto writes while the response is built.
            return list(app(environ, start_response))

    # waitress instead of werkzeug's development server (moto_server's): it keeps connections open between requests,
    # as DynamoDB's endpoint does and the AWS SDK expects (werkzeug closes every one, so each request paid a new
    # connection, and it waits up to 10 ms after each answer draining the socket).
    logging.getLogger("waitress").setLevel(logging.ERROR)
    waitress.serve(counting, host=host, port=port, threads=8, ident="moto", connection_limit=1000)

if __name__ == "__main__":
    main()
