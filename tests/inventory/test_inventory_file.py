"""The inventory file: round trip, versioning, and clear errors for what is not one."""

from __future__ import annotations

import json

import pytest

from cloudwarden.inventory.model import FORMAT, VERSION, Inventory, InventoryFormatError, Unreadable
from cloudwarden.posture.evaluator import evaluate


def test_round_trip_gives_identical_verdicts(aws, tmp_path):
    s3 = aws.client("s3")
    s3.create_bucket(Bucket="round-trip")
    s3.put_bucket_acl(Bucket="round-trip", ACL="public-read")
    aws.client("iam").create_user(UserName="frank")
    live = aws.collect(services=["s3", "iam", "ec2"])
    path = tmp_path / "inventory.json"
    live.save(path)
    loaded = Inventory.load(path)

    def verdicts(inventory):
        return sorted((f.rule.id, f.resource_id, f.region, f.status.value, f.message) for f in evaluate(inventory))

    assert verdicts(loaded) == verdicts(live)
    raw = json.loads(path.read_text())
    assert raw["format"] == FORMAT and raw["version"] == VERSION
    assert {"type", "id", "arn", "region", "account_id", "attributes", "errors", "tags"} <= set(raw["resources"][0])


def test_errors_survive_the_round_trip(tmp_path):
    inventory = Inventory.from_dict({
        "format": FORMAT, "version": VERSION, "account_id": "123456789012", "regions": ["us-east-1"],
        "collected_at": "2026-11-28T00:00:00+00:00", "collected_types": ["AWS::S3::Bucket"],
        "resources": [{"type": "AWS::S3::Bucket", "id": "b", "region": "us-east-1", "account_id": "123456789012",
                       "errors": {"policy": "AccessDenied on s3:GetBucketPolicy"}}],
        "scope_errors": [{"resource_type": "AWS::S3::Bucket", "region": "global", "reason": "x"}],
    })
    inventory.save(tmp_path / "i.json")
    again = Inventory.load(tmp_path / "i.json")
    with pytest.raises(Unreadable, match="AccessDenied on s3:GetBucketPolicy"):
        again.resources[0].attr("policy")
    assert again.scope_errors[0].reason == "x"


@pytest.mark.parametrize("content, message", [
    ("[]", "not a cloudwarden inventory"),
    ('{"format": "cloudwarden-inventory", "version": 99}', "version 99 is not supported"),
    ('{"format": "cloudwarden-inventory", "version": 1}', "malformed inventory"),
    ('{"format": "cloudwarden-inventory", "version": 1, "account_id": "1", "collected_at": "yesterday"}',
     "malformed inventory"),
    ('{"format": "cloudwarden-inventory", "version": 1, "account_id": "1", "collected_at": "2026-01-01",'
     ' "resources": [{"id": "x"}]}', "malformed inventory"),
    ("\x00\x01", "not valid JSON"),
])
def test_malformed_files_are_clear_errors(tmp_path, content, message):
    path = tmp_path / "inventory.json"
    path.write_text(content)
    with pytest.raises(InventoryFormatError, match=message):
        Inventory.load(path)
