"""infra/redrive's own logic, on stand-in S3 and Lambda clients (no network): which records it replays, in which
order, what counts as done, what it deletes, what it refuses, and its exit status. The real path (moto S3, the
welcome function under cargo-lambda, the fake Teams service) is tests/e2e/tests/redrive.rs."""

from __future__ import annotations

import importlib.machinery
import importlib.util
import io
import json
import sys
import unittest
from pathlib import Path

INFRA = Path(__file__).resolve().parent.parent
_loader = importlib.machinery.SourceFileLoader("redrive", str(INFRA / "redrive"))
_spec = importlib.util.spec_from_loader("redrive", _loader)
redrive = importlib.util.module_from_spec(_spec)
sys.modules["redrive"] = redrive  # dataclasses look their module up
_loader.exec_module(redrive)

NOW = 1_796_040_000.0  # 2026-11-30T12:00:00Z
DAY = 86400


def record(sequence: str, age_days: float = 1.0, kind: str = "team-install") -> dict:
    return {
        "eventID": f"e{sequence}",
        "eventName": "INSERT",
        "dynamodb": {
            "SequenceNumber": sequence,
            "ApproximateCreationDateTime": NOW - age_days * DAY,
            "NewImage": {"kind": {"S": kind}},
        },
    }


class FakeS3:
    def __init__(self, objects: dict[str, bytes], page_size: int = 2):
        self.objects = dict(objects)
        self.page_size = page_size
        self.deleted: list[str] = []

    def get_paginator(self, name: str):
        assert name == "list_objects_v2"
        s3 = self

        class Paginator:
            def paginate(self, Bucket: str, Prefix: str):
                keys = sorted(k for k in s3.objects if k.startswith(Prefix))  # S3 lists in UTF-8 order
                for i in range(0, max(len(keys), 1), s3.page_size):
                    yield {"Contents": [{"Key": k} for k in keys[i : i + s3.page_size]]} if keys else {}

        return Paginator()

    def get_object(self, Bucket: str, Key: str):
        return {"Body": io.BytesIO(self.objects[Key])}

    def delete_object(self, Bucket: str, Key: str):
        self.deleted.append(Key)
        del self.objects[Key]


class FakeLambda:
    """Answers each invoke by the replayed record's sequence number: `ok`, `fail` (batch item failure), `error`."""

    def __init__(self, answers: dict[str, str] | None = None):
        self.answers = answers or {}
        self.invoked: list[tuple[str, dict]] = []

    def invoke(self, FunctionName: str, InvocationType: str, Payload: bytes):
        assert InvocationType == "RequestResponse"
        event = json.loads(Payload)
        self.invoked.append((FunctionName, event))
        sequence = event["Records"][0]["dynamodb"]["SequenceNumber"]
        answer = self.answers.get(sequence, "ok")
        if answer == "error":
            body = {"errorType": "Permanent.NoSequenceNumber", "errorMessage": "{}"}
            return {"Payload": io.BytesIO(json.dumps(body).encode()), "FunctionError": "Unhandled"}
        failures = [{"itemIdentifier": sequence}] if answer == "fail" else []
        return {"Payload": io.BytesIO(json.dumps({"batchItemFailures": failures}).encode())}


def objects(*records: dict, prefix: str = "welcome/") -> dict[str, bytes]:
    return {f"{prefix}{r['dynamodb']['SequenceNumber']}.json": json.dumps(r).encode() for r in records}


def run(s3: FakeS3, lam: FakeLambda, *extra: str) -> tuple[int, str]:
    args = redrive.parse_args(["--bucket", "b", "--prefix", "welcome/", "--function", "fn:live", *extra])
    out = io.StringIO()
    code = redrive.redrive(args, s3, lam, now=NOW, out=out)
    return code, out.getvalue()


class Redrive(unittest.TestCase):
    def test_replays_oldest_first_deletes_what_succeeded(self):
        # 10 > 9 as integers, not as strings; three pages of two.
        s3 = FakeS3({**objects(record("10"), record("9"), record("100"), record("11")), "welcome/notes.txt": b"x"})
        lam = FakeLambda()
        code, out = run(s3, lam)
        self.assertEqual(code, 0, out)
        self.assertEqual([e["Records"][0]["dynamodb"]["SequenceNumber"] for _, e in lam.invoked], ["9", "10", "11", "100"])
        self.assertEqual({f for f, _ in lam.invoked}, {"fn:live"})
        self.assertEqual(lam.invoked[0][1], {"Records": [record("9")]}, "the record as kept, alone in Records")
        self.assertEqual(sorted(s3.deleted), ["welcome/10.json", "welcome/100.json", "welcome/11.json", "welcome/9.json"])
        self.assertIn("skipped  welcome/notes.txt", out)
        self.assertIn("4 replayed and deleted", out)
        self.assertEqual(list(s3.objects), ["welcome/notes.txt"])

    def test_a_failure_keeps_the_object_and_fails_the_run(self):
        s3 = FakeS3(objects(record("1"), record("2"), record("3")))
        lam = FakeLambda({"1": "fail", "2": "error"})
        code, out = run(s3, lam)
        self.assertEqual(code, 1, out)
        self.assertEqual(len(lam.invoked), 3, "every record is tried")
        self.assertEqual(s3.deleted, ["welcome/3.json"])
        self.assertIn("failed   welcome/1.json", out)
        self.assertIn("batch item failure", out)
        self.assertIn("function error Permanent.NoSequenceNumber", out)
        self.assertIn("1 replayed and deleted, 0 would be replayed, 2 failed", out)

    def test_a_null_or_empty_answer_is_done(self):
        class Quiet(FakeLambda):
            def invoke(self, **kwargs):
                super().invoke(**kwargs)
                return {"Payload": io.BytesIO(b"null")}

        s3 = FakeS3(objects(record("1")))
        code, out = run(s3, Quiet())
        self.assertEqual(code, 0, out)
        self.assertEqual(s3.deleted, ["welcome/1.json"])

    def test_old_records_are_refused_unless_forced(self):
        s3 = FakeS3(objects(record("1", age_days=8), record("2", age_days=6)))
        lam = FakeLambda()
        code, out = run(s3, lam)
        self.assertEqual(code, 1, out)
        self.assertEqual([e["Records"][0]["dynamodb"]["SequenceNumber"] for _, e in lam.invoked], ["2"])
        self.assertIn("refused  welcome/1.json", out)
        self.assertIn("8.0 days old", out)
        code, out = run(s3, lam, "--force")
        self.assertEqual(code, 0, out)
        self.assertEqual(s3.objects, {})

    def test_records_that_do_not_match_their_key_are_refused(self):
        wrong = record("5")
        s3 = FakeS3({"welcome/4.json": json.dumps(wrong).encode(), "welcome/6.json": b"not json", "welcome/7.json": b"[]"})
        lam = FakeLambda()
        code, out = run(s3, lam)
        self.assertEqual(code, 1, out)
        self.assertEqual(lam.invoked, [])
        self.assertEqual(s3.deleted, [])
        self.assertIn("its SequenceNumber '5' is not the key's 4", out)
        self.assertIn("refused  welcome/6.json: not JSON", out)
        self.assertIn("refused  welcome/7.json: not a JSON object", out)

    def test_dry_run_invokes_and_deletes_nothing(self):
        s3 = FakeS3(objects(record("1"), record("2")))
        lam = FakeLambda()
        code, out = run(s3, lam, "--dry-run")
        self.assertEqual(code, 0, out)
        self.assertEqual((lam.invoked, s3.deleted), ([], []))
        self.assertIn("would-replay welcome/1.json: seq 1 INSERT team-install", out)
        self.assertIn("(dry run)", out)

    def test_nothing_to_do(self):
        code, out = run(FakeS3({}), FakeLambda())
        self.assertEqual(code, 0, out)
        self.assertIn("0 record(s)", out)

    def test_usage(self):
        with self.assertRaises(SystemExit) as exit_:
            redrive.parse_args(["--bucket", "b", "--prefix", "welcome", "--function", "f"])
        self.assertEqual(exit_.exception.code, 2)
        self.assertEqual(redrive.KEEP_DONE_DAYS, 7, "store::KEEP_DONE_SECS, the done keys' life")


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from run import main

    sys.exit(main([__name__]))
