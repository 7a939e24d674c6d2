"""The remaining CIS controls never turn "could not read" into PASS; Macie's Manual control says MANUAL."""

from __future__ import annotations

import json

from botocore.exceptions import ClientError

from cloudwarden.aws.session import AwsContext
from cloudwarden.demo.emulator import EMULATOR_CREDENTIALS
from cloudwarden.findings.model import Status
from cloudwarden.inventory.collectors.detection import macie_not_enabled
from cloudwarden.inventory.model import GLOBAL, Inventory, Resource
from cloudwarden.posture.evaluator import evaluate
from tests.aws_faults import refuse
from tests.conftest import ACCOUNT_ID, REGION, verdict


def test_access_analyzer_not_implemented_is_error(aws):
    finding = verdict(aws.scan(services=["accessanalyzer"]), "accessanalyzer_enabled", REGION)
    assert finding.status is Status.ERROR
    assert finding.evidence["reason"] == "500 on access-analyzer:ListAnalyzers"


def test_macie_enabled_is_manual(aws):
    finding = verdict(aws.scan(services=["macie"]), "macie_enabled", REGION)  # the emulator starts enabled
    assert finding.status is Status.MANUAL
    assert finding.evidence["status"] == "ENABLED"


def _trail_to(bucket: str, buckets: list[Resource]) -> Inventory:
    trail = Resource(
        "AWS::CloudTrail::Trail",
        "org-trail",
        REGION,
        ACCOUNT_ID,
        arn=f"arn:aws:cloudtrail:{REGION}:{ACCOUNT_ID}:trail/org-trail",
        attributes={"trail": {"S3BucketName": bucket, "IsMultiRegionTrail": True}},
    )
    inventory = Inventory(
        account_id=ACCOUNT_ID,
        regions=[REGION],
        resources=[trail, *buckets],
        collected_types={"AWS::CloudTrail::Trail", "AWS::S3::Bucket"},
    )
    return Inventory.from_dict(json.loads(json.dumps(inventory.to_dict())))


def test_trail_bucket_in_another_account_is_error():
    finding = verdict(evaluate(_trail_to("log-archive-trails", [])), "cloudtrail_bucket_access_logging", "org-trail")
    assert finding.status is Status.ERROR
    assert "evaluated in the account that owns bucket log-archive-trails" in finding.message


def test_trail_bucket_logging_unreadable_is_error():
    bucket = Resource(
        "AWS::S3::Bucket", "trails", GLOBAL, ACCOUNT_ID, errors={"logging": "AccessDenied on s3:GetBucketLogging"}
    )
    finding = verdict(evaluate(_trail_to("trails", [bucket])), "cloudtrail_bucket_access_logging", "org-trail")
    assert finding.status is Status.ERROR
    assert finding.evidence["reason"] == "AccessDenied on s3:GetBucketLogging"


def test_trail_bucket_without_s3_scan_is_error(aws):
    aws.client("s3").create_bucket(Bucket="trail-logs")
    aws.client("cloudtrail").create_trail(Name="main", S3BucketName="trail-logs")
    finding = verdict(aws.scan(services=["cloudtrail"]), "cloudtrail_bucket_access_logging", "main")
    assert finding.status is Status.ERROR
    assert "S3 was not collected" in finding.message


def _client_error(code: str, message: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": message}}, "GetMacieSession")


def test_macie_not_enabled_answer_is_told_apart_from_a_refusal():
    assert macie_not_enabled(_client_error("AccessDeniedException", "Macie is not enabled."))
    assert macie_not_enabled(_client_error("ResourceNotFoundException", "The request failed"))
    assert not macie_not_enabled(_client_error("AccessDeniedException", "User is not authorized to perform macie2:Get"))


def test_macie_refused_is_error(aws):
    reader = AwsContext.create(endpoint_url=aws.endpoint_url, credentials=EMULATOR_CREDENTIALS)
    refuse(reader.session, "macie2", "GetMacieSession", code="AccessDeniedException")
    finding = verdict(aws.scan(services=["macie"], aws=reader), "macie_enabled", REGION)
    assert finding.status is Status.ERROR
    assert finding.evidence["reason"] == "AccessDeniedException on macie2:GetMacieSession"
