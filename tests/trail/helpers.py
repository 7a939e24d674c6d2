"""Building CloudTrail log files for the trail tests."""

from __future__ import annotations

import gzip
import uuid
from pathlib import Path
from typing import Any

import orjson

ACCOUNT = "111122223333"
STRATUS_DIR = Path(__file__).resolve().parents[3] / "shared" / "data" / "stratus-red-team-detonation-logs"
SIGMA_DIR = STRATUS_DIR.parent / "sigma-rules-aws-cloudtrail"  # SigmaHQ's CloudTrail rules, beside the Stratus logs


def event(
    name: str = "GetObject",
    source: str = "s3.amazonaws.com",
    when: str = "2026-11-20T10:00:00Z",
    identity: dict[str, Any] | None = None,
    event_id: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    record = {
        "eventVersion": "1.09",
        "eventID": event_id or str(uuid.uuid4()),
        "eventTime": when,
        "eventSource": source,
        "eventName": name,
        "awsRegion": "us-east-1",
        "recipientAccountId": ACCOUNT,
        "sourceIPAddress": "203.0.113.7",
        "userAgent": "aws-cli/2.15.0",
        "eventType": "AwsApiCall",
        "readOnly": True,
        "requestParameters": {"bucketName": "example-bucket"},
        "userIdentity": identity if identity is not None else iam_user("alice"),
    }
    record.update(extra)
    return record


def iam_user(name: str) -> dict[str, Any]:
    return {
        "type": "IAMUser",
        "principalId": "AIDA" + name.upper(),
        "arn": f"arn:aws:iam::{ACCOUNT}:user/{name}",
        "accountId": ACCOUNT,
        "accessKeyId": "AKIA" + name.upper().ljust(16, "X"),
        "userName": name,
    }


def assumed_role(role: str, session: str, source_identity: str | None = None) -> dict[str, Any]:
    context: dict[str, Any] = {
        "sessionIssuer": {
            "type": "Role",
            "principalId": "AROAEXAMPLE",
            "arn": f"arn:aws:iam::{ACCOUNT}:role/{role}",
            "accountId": ACCOUNT,
            "userName": role,
        },
        "attributes": {"creationDate": "2026-11-20T09:00:00Z", "mfaAuthenticated": "false"},
    }
    if source_identity:
        context["sourceIdentity"] = source_identity
    return {
        "type": "AssumedRole",
        "principalId": f"AROAEXAMPLE:{session}",
        "arn": f"arn:aws:sts::{ACCOUNT}:assumed-role/{role}/{session}",
        "accountId": ACCOUNT,
        "accessKeyId": "ASIAEXAMPLE" + session.upper()[:6],
        "sessionContext": context,
    }


def write_log(path: Path, records: list[Any], gz: bool = True) -> Path:
    data = orjson.dumps({"Records": records})
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(data) if gz else data)
    return path


def cloudtrail_key(
    account: str = ACCOUNT, region: str = "us-east-1", day: str = "2026/11/20", name: str = "a", org: str | None = None
) -> str:
    prefix = f"AWSLogs/{org}/{account}" if org else f"AWSLogs/{account}"
    return f"{prefix}/CloudTrail/{region}/{day}/{account}_CloudTrail_{region}_{name}.json.gz"
