"""A realistic, signed CloudTrail digest chain, built the way CloudTrail builds it.

Three hours of gzip log files and one digest per hour, each digest naming the previous one by key, the hex
SHA-256 of its uncompressed bytes and its signature, and signed (RSA PKCS#1 v1.5, SHA-256) over
``digestEndTime\\nbucket/key\\nsha256(digest)\\npreviousSignature``. The string to sign is written out here
on its own rather than taken from cloudwarden, so the test checks the implementation against the spec.
"""

from __future__ import annotations

import copy
import gzip
import hashlib
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

ACCOUNT = "123456789012"
REGION = "us-east-1"
TRAIL = "org_audit-trail"  # an underscore, as trail names may have
BUCKET = "audit-logs-bucket"
PREFIX = "cloudtrail/"
START = datetime(2026, 1, 15, 10, 0, 30, tzinfo=UTC)
HOURS = 3


def fingerprint(key: rsa.RSAPublicKey) -> str:
    der = key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.PKCS1)
    return hashlib.md5(der, usedforsecurity=False).hexdigest()


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def log_key(moment: datetime, unique: str) -> str:
    return (
        f"{PREFIX}AWSLogs/{ACCOUNT}/CloudTrail/{REGION}/{moment:%Y/%m/%d}/"
        f"{ACCOUNT}_CloudTrail_{REGION}_{moment:%Y%m%dT%H%MZ}_{unique}.json.gz"
    )


def digest_key(end: datetime) -> str:
    return (
        f"{PREFIX}AWSLogs/{ACCOUNT}/CloudTrail-Digest/{REGION}/{end:%Y/%m/%d}/"
        f"{ACCOUNT}_CloudTrail-Digest_{REGION}_{TRAIL}_{REGION}_{end:%Y%m%dT%H%M%SZ}.json.gz"
    )


def log_content(moment: datetime, n: int) -> bytes:
    records = [
        {
            "eventVersion": "1.09",
            "userIdentity": {
                "type": "AssumedRole",
                "principalId": "AROAEXAMPLE:alice",
                "arn": f"arn:aws:sts::{ACCOUNT}:assumed-role/Admin/alice",
                "accountId": ACCOUNT,
            },
            "eventTime": _iso(moment - timedelta(minutes=3, seconds=i)),
            "eventSource": "s3.amazonaws.com",
            "eventName": "PutBucketPolicy" if i == 0 else "GetBucketAcl",
            "awsRegion": REGION,
            "sourceIPAddress": "203.0.113.7",
            "userAgent": "aws-cli/2.15.0",
            "requestParameters": {"bucketName": f"bucket-{n}-{i}"},
            "responseElements": None,
            "eventID": f"{n:08d}-0000-4000-8000-{i:012d}",
            "readOnly": i != 0,
            "eventType": "AwsApiCall",
            "recipientAccountId": ACCOUNT,
        }
        for i in range(3)
    ]
    return json.dumps({"Records": records}).encode()


@dataclass
class Trail:
    """Objects as S3 holds them (key -> gzip bytes) and each digest's signature (its S3 metadata)."""

    objects: dict[str, bytes] = field(default_factory=dict)
    signatures: dict[str, str] = field(default_factory=dict)
    digests: list[str] = field(default_factory=list)  # oldest first
    logs: list[list[str]] = field(default_factory=list)  # per hour

    def copy(self) -> Trail:
        return copy.deepcopy(self)

    def write(self, root: Path, strip_prefix: bool = False) -> Path:
        """The files as ``aws s3 sync`` of the bucket (or of the prefix) leaves them, plus .sig sidecars."""
        for key, data in self.objects.items():
            relative = key[len(PREFIX) :] if strip_prefix else key
            path = root / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
            if key in self.signatures:
                path.with_name(path.name + ".sig").write_text(self.signatures[key] + "\n")
        return root

    def upload(self, s3: Any, bucket: str = BUCKET) -> None:
        s3.create_bucket(Bucket=bucket)
        for key, data in self.objects.items():
            metadata = {}
            if key in self.signatures:
                metadata = {"signature": self.signatures[key], "signature-algorithm": "SHA256withRSA"}
            s3.put_object(Bucket=bucket, Key=key, Body=data, Metadata=metadata)

    def digest_json(self, index: int) -> dict[str, Any]:
        return json.loads(gzip.decompress(self.objects[self.digests[index]]))

    def replace_digest(self, index: int, fields: dict[str, Any]) -> None:
        """New content for a digest, keeping its old signature (what an attacker without the key can do)."""
        self.objects[self.digests[index]] = gzip.compress(json.dumps(fields).encode())


def sign(private_key: rsa.RSAPrivateKey, fields: dict[str, Any], raw: bytes) -> str:
    previous = fields["previousDigestSignature"]
    message = "\n".join(
        [
            fields["digestEndTime"],
            f"{fields['digestS3Bucket']}/{fields['digestS3Object']}",
            hashlib.sha256(raw).hexdigest(),
            "null" if previous is None else previous,
        ]
    )
    return private_key.sign(message.encode(), padding.PKCS1v15(), hashes.SHA256()).hex()


def build_trail(private_key: rsa.RSAPrivateKey) -> Trail:
    trail = Trail()
    previous: tuple[str, bytes, str] | None = None  # key, uncompressed bytes, signature
    for hour in range(HOURS):
        end = START + timedelta(hours=hour + 1)
        begin = end - timedelta(hours=1)
        entries, keys = [], []
        for n, minute in enumerate((5, 35)):
            moment = begin.replace(second=0) + timedelta(minutes=minute - begin.minute)
            key = log_key(moment, f"{hour}{n}ab34cd56ef78gh"[:16])
            content = log_content(moment, hour * 10 + n)
            trail.objects[key] = gzip.compress(content)
            keys.append(key)
            entries.append(
                {
                    "s3Bucket": BUCKET,
                    "s3Object": key,
                    "hashValue": hashlib.sha256(content).hexdigest(),
                    "hashAlgorithm": "SHA-256",
                    "newestEventTime": _iso(moment),
                    "oldestEventTime": _iso(moment - timedelta(minutes=5)),
                }
            )
        key = digest_key(end)
        fields = {
            "awsAccountId": ACCOUNT,
            "digestStartTime": _iso(begin),
            "digestEndTime": _iso(end),
            "digestS3Bucket": BUCKET,
            "digestS3Object": key,
            "digestPublicKeyFingerprint": fingerprint(private_key.public_key()),
            "digestSignatureAlgorithm": "SHA256withRSA",
            "newestEventTime": _iso(end - timedelta(minutes=20)),
            "oldestEventTime": _iso(begin + timedelta(minutes=1)),
            "previousDigestS3Bucket": BUCKET if previous else None,
            "previousDigestS3Object": previous[0] if previous else None,
            "previousDigestHashValue": hashlib.sha256(previous[1]).hexdigest() if previous else None,
            "previousDigestHashAlgorithm": "SHA-256" if previous else None,
            "previousDigestSignature": previous[2] if previous else None,
            "logFiles": entries,
        }
        raw = json.dumps(fields).encode()
        signature = sign(private_key, fields, raw)
        trail.objects[key] = gzip.compress(raw)
        trail.signatures[key] = signature
        trail.digests.append(key)
        trail.logs.append(keys)
        previous = (key, raw, signature)
    return trail
