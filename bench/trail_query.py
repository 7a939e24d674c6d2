"""How long the trail questions take over a large store (default 10M events).

Fills a fresh store with N synthetic events generated inside DuckDB (realistic shape: a few hundred principals of
every identity type, 40 API actions, 5% errors, request parameters naming buckets, instances and users, spread
over 90 days), then times each question as the CLI asks it: the first page (``--limit 100``, what a person
sees) and the whole answer streamed (``--limit 0``).

    .venv/bin/python bench/trail_query.py [--events 10000000] [--dir DIR]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cloudwarden.trail.queries import Result, TimeWindow, errors, timeline, touched, what, who
from cloudwarden.trail.store import TrailStore

ACCOUNT = "111122223333"
SERVICES = ("s3", "ec2", "iam", "sts", "kms", "lambda", "logs", "cloudtrail")
VERBS = ("Get", "List", "Describe", "Put", "Create", "Delete", "Attach", "Update")

# One INSERT … SELECT over range(N): every value derives from the row number through hash(), so the data is
# reproducible and nothing crosses from Python per row. Constants only; N is a parameter.
_FILL = f"""
INSERT INTO events
SELECT
  printf('%08x-%04x-4%03x-8%03x-%012x', hash(i) % 4294967296, hash(i + 1) % 65536, hash(i + 2) % 4096,
         hash(i + 3) % 4096, hash(i + 4) % 281474976710656) AS event_id,
  TIMESTAMP '2026-08-30 00:00:00' + to_microseconds(i * (CAST(90 * 86400 AS BIGINT) * 1000000 // $n)) AS event_time,
  list_element({list(SERVICES)!r}, CAST(hash(i + 5) % {len(SERVICES)} AS INT) + 1) || '.amazonaws.com',
  list_element({list(VERBS)!r}, CAST(hash(i + 6) % {len(VERBS)} AS INT) + 1)
    || list_element(['Object', 'UserPolicy', 'Instances', 'Key', 'Function'], CAST(hash(i + 7) % 5 AS INT) + 1),
  list_element(['us-east-1', 'eu-west-1', 'ap-southeast-2'], CAST(hash(i + 8) % 3 AS INT) + 1),
  '{ACCOUNT}',
  'arn:aws:iam::{ACCOUNT}:' || CASE WHEN hash(i + 9) % 3 = 0 THEN 'user/user-' ELSE 'role/role-' END
    || CAST(hash(i + 10) % 300 AS VARCHAR) AS principal,
  CASE WHEN hash(i + 9) % 3 = 0 THEN 'IAMUser' ELSE 'AssumedRole' END,
  NULL, CASE WHEN hash(i + 9) % 3 = 0 THEN 'user-' ELSE 'role-' END || CAST(hash(i + 10) % 300 AS VARCHAR),
  'session-' || CAST(hash(i + 11) % 5000 AS VARCHAR), NULL,
  'ASIA' || upper(printf('%016x', hash(i + 12) % 100000)), NULL,
  '203.0.113.' || CAST(hash(i + 13) % 256 AS VARCHAR), 'aws-cli/2.15.0 Python/3.11.6 Linux/6.1 exe/x86_64',
  CASE WHEN hash(i + 14) % 20 = 0 THEN 'AccessDenied' END,
  CASE WHEN hash(i + 14) % 20 = 0 THEN 'User is not authorized to perform this action' END,
  hash(i + 15) % 2 = 0, 'AwsApiCall',
  '{{"bucketName":"bucket-' || CAST(hash(i + 16) % 500 AS VARCHAR) || '","key":"data/'
    || printf('%x', hash(i + 17)) || '.csv","instanceId":"i-' || printf('%017x', hash(i + 18) % 1000000)
    || '","userName":"user-' || CAST(hash(i + 19) % 300 AS VARCHAR) || '"}}',
  '{{"requestId":"' || printf('%x', hash(i + 20)) || '"}}', NULL, NULL,
  '{{"type":"AssumedRole","arn":"arn:aws:sts::{ACCOUNT}:assumed-role/role-x/s"}}',
  'synthetic'
FROM range($n) t(i)
"""  # noqa: S608 (constants only)


def timed(label: str, question: Callable[..., Result], *args: object) -> None:
    started = time.perf_counter()
    _, batches = question(*args)
    rows = sum(len(batch) for batch in batches)
    print(f"  {label:<58} {rows:>9} rows {time.perf_counter() - started:>8.3f}s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--dir", type=Path, help="work folder (default: a temporary one)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        path = Path(tmp) / "trail.duckdb"
        started = time.perf_counter()
        with TrailStore(path) as store:
            store.connection.execute(_FILL, {"n": args.events})
            count = store.count_events()
        print(
            f"store of {count:,} events ({path.stat().st_size / 1e9:.2f} GB) built in "
            f"{time.perf_counter() - started:.1f}s"
        )
        now = datetime(2026, 11, 28, tzinfo=UTC).replace(tzinfo=None)
        week = TimeWindow(start=now - timedelta(days=7))
        everything = TimeWindow()
        questions: list[tuple[str, Callable[..., Result], str, TimeWindow]] = [
            ("who --action iam:AttachUserPolicy", who, "iam:AttachUserPolicy", everything),
            ("who --action iam:AttachUserPolicy --since 7d", who, "iam:AttachUserPolicy", week),
            ("who --action 'iam:Delete*'", who, "iam:Delete*", everything),
            ("what --principal role-42", what, "role-42", everything),
            ("timeline --principal session-77", timeline, "session-77", everything),
            ("touched --resource bucket-123", touched, "bucket-123", everything),
            ("errors --code AccessDenied --since 7d", errors, "AccessDenied", week),
        ]
        with TrailStore(path, read_only=True) as store:
            for limit in (100, 0):
                print(f"--limit {limit}:")
                for label, question, subject, window in questions:
                    timed(label, question, store, subject, window, limit)


if __name__ == "__main__":
    main()
