"""CloudTrail ingestion speed against the cost of just reading the logs.

Generates N synthetic CloudTrail log files (.json.gz, CloudTrail's folder layout; records of IAM users, assumed
roles, Identity Center users, root and AWS services; some with large requestParameters), then measures in one run

  (a) gunzip + orjson.loads of every file (the floor: what any reader must pay),
  (b) `trail ingest` of the same files into a fresh store (read, extract, normalise, dedupe, insert),

and prints events/s of both and the ratio (b)/(a) (target >= 0.7 on one core), then times a `who` query.

    .venv/bin/python bench/trail_ingest.py [--files 1000] [--records 1000] [--workers 1] [--dir DIR]
    taskset -c 0 .venv/bin/python bench/trail_ingest.py      # one core, as the target is stated
"""

from __future__ import annotations

import argparse
import gzip
import random
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson

from cloudwarden.trail.ingest import ingest
from cloudwarden.trail.queries import TimeWindow, who
from cloudwarden.trail.sources import LocalSource
from cloudwarden.trail.store import TrailStore

ACCOUNT = "111122223333"
REGIONS = ("us-east-1", "eu-west-1")
ACTIONS = (
    ("s3.amazonaws.com", "GetObject", True),
    ("s3.amazonaws.com", "PutObject", False),
    ("ec2.amazonaws.com", "DescribeInstances", True),
    ("iam.amazonaws.com", "AttachUserPolicy", False),
    ("iam.amazonaws.com", "PutRolePolicy", False),
    ("sts.amazonaws.com", "AssumeRole", True),
    ("kms.amazonaws.com", "Decrypt", True),
    ("lambda.amazonaws.com", "UpdateFunctionCode20150331v2", False),
)


def identity(rng: random.Random) -> dict:
    kind = rng.random()
    if kind < 0.35:
        name = rng.choice(("alice", "bob", "carol", "deploy-bot"))
        return {
            "type": "IAMUser",
            "principalId": "AIDAEXAMPLE" + name.upper(),
            "arn": f"arn:aws:iam::{ACCOUNT}:user/{name}",
            "accountId": ACCOUNT,
            "accessKeyId": "AKIAEXAMPLE" + name.upper()[:6],
            "userName": name,
        }
    if kind < 0.75:
        role = rng.choice(("app-server", "ci-deployer", "AWSReservedSSO_Admin_0123456789abcdef"))
        session = rng.choice(("i-0abc123", "alice@example.com", "gh-actions-1234"))
        path = "aws-reserved/sso.amazonaws.com/" if role.startswith("AWSReservedSSO_") else ""
        return {
            "type": "AssumedRole",
            "principalId": f"AROAEXAMPLE:{session}",
            "arn": f"arn:aws:sts::{ACCOUNT}:assumed-role/{role}/{session}",
            "accountId": ACCOUNT,
            "accessKeyId": "ASIAEXAMPLE" + uuid.UUID(int=rng.getrandbits(128)).hex[:9].upper(),
            "sessionContext": {
                "sessionIssuer": {
                    "type": "Role",
                    "principalId": "AROAEXAMPLE",
                    "arn": f"arn:aws:iam::{ACCOUNT}:role/{path}{role}",
                    "accountId": ACCOUNT,
                    "userName": role,
                },
                "attributes": {"creationDate": "2026-11-01T10:00:00Z", "mfaAuthenticated": "false"},
            },
        }
    if kind < 0.8:
        return {
            "type": "Root",
            "principalId": ACCOUNT,
            "arn": f"arn:aws:iam::{ACCOUNT}:root",
            "accountId": ACCOUNT,
            "accessKeyId": "",
        }
    return {"type": "AWSService", "invokedBy": rng.choice(("cloudtrail.amazonaws.com", "config.amazonaws.com"))}


def request_parameters(rng: random.Random, name: str) -> dict | None:
    if name == "PutRolePolicy" or rng.random() < 0.05:  # a large policy document
        statements = [
            {
                "Effect": "Allow",
                "Action": [f"s3:Get{i}" for i in range(20)],
                "Resource": [f"arn:aws:s3:::bucket-{i}/*" for i in range(20)],
            }
            for _ in range(12)
        ]
        return {
            "roleName": "app-server",
            "policyName": "inline",
            "policyDocument": orjson.dumps({"Version": "2012-10-17", "Statement": statements}).decode(),
        }
    if name.endswith("Object"):
        return {
            "bucketName": f"bucket-{rng.randrange(50)}",
            "key": f"data/{rng.getrandbits(40):x}.csv",
            "Host": "s3.amazonaws.com",
        }
    if name == "DescribeInstances":
        return {"instancesSet": {"items": [{"instanceId": f"i-{rng.getrandbits(60):015x}"}]}, "filterSet": {}}
    return {"userName": "alice", "policyArn": "arn:aws:iam::aws:policy/ReadOnlyAccess"}


def record(rng: random.Random, when: datetime, region: str) -> dict:
    source, name, read_only = rng.choice(ACTIONS)
    ident = identity(rng)
    event = {
        "eventVersion": "1.09",
        "userIdentity": ident,
        "eventTime": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "eventSource": source,
        "eventName": name,
        "awsRegion": region,
        "sourceIPAddress": ident.get("invokedBy") or f"203.0.113.{rng.randrange(256)}",
        "userAgent": rng.choice(
            (
                "aws-cli/2.15.0 Python/3.11.6 Linux/6.1 exe/x86_64.amzn.2 prompt/off",
                "Boto3/1.34.0 md/Botocore#1.34.0 ua/2.0 os/linux#6.1 lang/python#3.11",
                "console.amazonaws.com",
            )
        ),
        "requestParameters": request_parameters(rng, name),
        "responseElements": None if read_only else {"requestId": str(uuid.UUID(int=rng.getrandbits(128)))},
        "requestID": str(uuid.UUID(int=rng.getrandbits(128))),
        "eventID": str(uuid.UUID(int=rng.getrandbits(128))),
        "readOnly": read_only,
        "eventType": "AwsApiCall",
        "managementEvent": True,
        "recipientAccountId": ACCOUNT,
        "eventCategory": "Management",
        "tlsDetails": {
            "tlsVersion": "TLSv1.3",
            "cipherSuite": "TLS_AES_128_GCM_SHA256",
            "clientProvidedHostHeader": f"{source.split('.')[0]}.{region}.amazonaws.com",
        },
    }
    if rng.random() < 0.05:
        event["errorCode"], event["errorMessage"] = "AccessDenied", "User is not authorized to perform this action"
    if name.endswith("Object"):
        event["resources"] = [{"type": "AWS::S3::Object", "ARN": "arn:aws:s3:::bucket/key"}]
    return event


def generate(folder: Path, files: int, records: int, seed: int = 7) -> tuple[list[Path], int]:
    rng = random.Random(seed)
    start = datetime.now(UTC) - timedelta(days=3)
    paths = []
    for index in range(files):
        region = REGIONS[index % len(REGIONS)]
        when = start + timedelta(seconds=index * 60)
        day = folder / "AWSLogs" / ACCOUNT / "CloudTrail" / region / when.strftime("%Y/%m/%d")
        day.mkdir(parents=True, exist_ok=True)
        batch = [record(rng, when + timedelta(milliseconds=i * 50), region) for i in range(records)]
        path = day / f"{ACCOUNT}_CloudTrail_{region}_{when:%Y%m%dT%H%MZ}_{index:06d}.json.gz"
        path.write_bytes(gzip.compress(orjson.dumps({"Records": batch}), compresslevel=6))
        paths.append(path)
    return paths, files * records


def parse_only(paths: list[Path]) -> tuple[int, float]:
    started = time.perf_counter()
    events = 0
    for path in paths:
        events += len(orjson.loads(gzip.decompress(path.read_bytes()))["Records"])
    return events, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=1000)
    parser.add_argument("--records", type=int, default=1000, help="records per file")
    parser.add_argument("--workers", type=int, default=1, help="reader threads for (b); 1 = no threads")
    parser.add_argument("--dir", type=Path, help="work folder (default: a temporary one)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        folder = Path(tmp)
        started = time.perf_counter()
        paths, total = generate(folder / "logs", args.files, args.records)
        size = sum(p.stat().st_size for p in paths)
        print(
            f"generated {len(paths)} files, {total} events, {size / 1e6:.1f} MB gz "
            f"in {time.perf_counter() - started:.1f}s"
        )
        parse_only(paths[: min(20, len(paths))])  # warm the page cache and the allocator
        events_a, seconds_a = parse_only(paths)
        with TrailStore(folder / "trail.duckdb") as store:
            summary = ingest(store, LocalSource(folder / "logs"), workers=args.workers)
            assert summary.events_added == total, (summary.events_added, total)
            rate_a, rate_b = events_a / seconds_a, summary.events_added / summary.seconds
            print(f"(a) gunzip + orjson.loads: {events_a} events in {seconds_a:.2f}s = {rate_a:,.0f} events/s")
            print(
                f"(b) trail ingest:          {summary.events_added} events in {summary.seconds:.2f}s "
                f"= {rate_b:,.0f} events/s (workers={args.workers})"
            )
            print(f"ratio (b)/(a) = {rate_b / rate_a:.2f} (target >= 0.7)")
        with TrailStore(folder / "trail.duckdb", read_only=True) as store:
            started = time.perf_counter()
            _, batches = who(store, "iam:AttachUserPolicy", TimeWindow(), limit=0)
            rows = sum(len(batch) for batch in batches)
            print(
                f"who --action iam:AttachUserPolicy over {total} events: {rows} rows in "
                f"{time.perf_counter() - started:.3f}s"
            )
            started = time.perf_counter()
            _, batches = who(store, "iam:AttachUserPolicy", TimeWindow(), limit=100)
            rows = sum(len(batch) for batch in batches)
            print(f"who --action iam:AttachUserPolicy --limit 100: {rows} rows in {time.perf_counter() - started:.3f}s")


if __name__ == "__main__":
    main()
