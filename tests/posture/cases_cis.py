"""Rule cases for the remaining CIS v5.0 controls of sections 2.1 and 3 and the detection services:
S3 MFA Delete, default encryption, bucket keys and lifecycle; the CloudTrail bucket's access logging and S3
data events; GuardDuty, Security Hub, IAM Access Analyzer and Macie in every region.

Recorded inventories stand in where the emulator cannot show the state: it does not store MFA Delete on
buckets (GetBucketVersioning never returns MFADelete) and does not implement accessanalyzer:ListAnalyzers
(HTTP 500). ``test_cis_errors.py`` checks that the latter, and a trail bucket owned by another account,
become ERROR. Macie's CIS control is Manual: enabled is MANUAL, never PASS (the emulator starts with Macie enabled).
"""

from __future__ import annotations

import json
from typing import Any

from cloudwarden.inventory.model import Inventory, Resource
from tests.conftest import ACCOUNT_ID, REGION, Emulated
from tests.posture.rule_cases import Case, Recorded, Seed, _bucket, on_account, untouched

S3, TRAIL_S3, TRAIL = ("s3",), ("cloudtrail", "s3"), ("cloudtrail",)
NO_MFA_DELETE = "the emulator does not store MFA Delete (GetBucketVersioning never returns MFADelete)"
NO_ANALYZER_API = "the emulator does not implement accessanalyzer:ListAnalyzers (HTTP 500)"


def _recorded(resource: Resource) -> Recorded:
    def build() -> tuple[Inventory, str]:
        inventory = Inventory(
            account_id=ACCOUNT_ID, regions=[REGION], resources=[resource], collected_types={resource.type}
        )
        return Inventory.from_dict(json.loads(json.dumps(inventory.to_dict()))), resource.id

    return build


def _mfa_delete_bucket() -> Recorded:
    return _recorded(
        Resource(
            "AWS::S3::Bucket",
            "ledger",
            REGION,
            ACCOUNT_ID,
            arn="arn:aws:s3:::ledger",
            attributes={"Name": "ledger", "versioning": {"Status": "Enabled", "MFADelete": "Enabled"}},
        )
    )


def _analyzers(*analyzers: dict[str, Any]) -> Recorded:
    return _recorded(
        Resource(
            "AWS::AccessAnalyzer::RegionSettings", REGION, REGION, ACCOUNT_ID, attributes={"analyzers": list(analyzers)}
        )
    )


def _encrypted(algorithm: str, bucket_key: bool = False) -> Seed:
    def seed(aws: Emulated) -> str:
        name = _bucket(aws)
        default: dict[str, Any] = {"SSEAlgorithm": algorithm}
        if algorithm == "aws:kms":
            default["KMSMasterKeyID"] = "alias/data"
        aws.client("s3").put_bucket_encryption(
            Bucket=name,
            ServerSideEncryptionConfiguration={
                "Rules": [{"ApplyServerSideEncryptionByDefault": default, "BucketKeyEnabled": bucket_key}]
            },
        )
        return name

    return seed


def _lifecycle(aws: Emulated) -> str:
    name = _bucket(aws)
    aws.client("s3").put_bucket_lifecycle_configuration(
        Bucket=name,
        LifecycleConfiguration={
            "Rules": [
                {
                    "ID": "expire-old-versions",
                    "Status": "Enabled",
                    "Filter": {"Prefix": ""},
                    "NoncurrentVersionExpiration": {"NoncurrentDays": 90},
                }
            ]
        },
    )
    return name


def _trail(
    logged_bucket: bool = False,
    selectors: list[dict[str, Any]] | None = None,
    advanced: list[dict[str, Any]] | None = None,
) -> Seed:
    def seed(aws: Emulated) -> str:
        s3 = aws.client("s3")
        _bucket(aws, "trail-logs")
        if logged_bucket:
            _bucket(aws, "access-logs")
            s3.put_bucket_acl(Bucket="access-logs", ACL="log-delivery-write")
            s3.put_bucket_logging(
                Bucket="trail-logs",
                BucketLoggingStatus={"LoggingEnabled": {"TargetBucket": "access-logs", "TargetPrefix": "trail-logs/"}},
            )
        cloudtrail = aws.client("cloudtrail")
        cloudtrail.create_trail(Name="main", S3BucketName="trail-logs", IsMultiRegionTrail=True)
        cloudtrail.start_logging(Name="main")
        if selectors is not None:
            cloudtrail.put_event_selectors(TrailName="main", EventSelectors=selectors)
        if advanced is not None:
            cloudtrail.put_event_selectors(TrailName="main", AdvancedEventSelectors=advanced)
        return "main"

    return seed


def _s3_data(read_write: str, values: list[str] | None = None) -> list[dict[str, Any]]:
    return [
        {
            "ReadWriteType": read_write,
            "IncludeManagementEvents": True,
            "DataResources": [{"Type": "AWS::S3::Object", "Values": values or ["arn:aws:s3"]}],
        }
    ]


ADVANCED_S3_WRITES = [
    {
        "Name": "s3-writes",
        "FieldSelectors": [
            {"Field": "eventCategory", "Equals": ["Data"]},
            {"Field": "resources.type", "Equals": ["AWS::S3::Object"]},
            {"Field": "readOnly", "Equals": ["false"]},
        ],
    }
]


def _guardduty(enable: bool) -> Seed:
    def seed(aws: Emulated) -> str:
        aws.client("guardduty").create_detector(Enable=enable)
        return REGION

    return seed


def _security_hub(aws: Emulated) -> str:
    aws.client("securityhub").enable_security_hub()
    return REGION


def _macie_disabled(aws: Emulated) -> str:
    aws.client("macie2").disable_macie()  # the emulator starts with Macie enabled
    return REGION


EXTERNAL = {"name": "external", "type": "ACCOUNT", "status": "ACTIVE"}
UNUSED_ONLY = {"name": "unused", "type": "ACCOUNT_UNUSED_ACCESS", "status": "ACTIVE"}

CASES: list[Case] = [
    # S3 (CIS 2.1.2 and data guidance)
    Case("s3_bucket_mfa_delete", "PASS", inventory=_mfa_delete_bucket(), recorded_because=NO_MFA_DELETE),
    Case("s3_bucket_mfa_delete", "FAIL", _bucket, S3, evidence={"MFADelete": "Disabled"}),
    Case("s3_bucket_default_encryption", "PASS", _encrypted("AES256"), S3, evidence={"SSEAlgorithm": "AES256"}),
    Case("s3_bucket_default_encryption", "FAIL", _bucket, S3, evidence={"SSEAlgorithm": None}),
    Case("s3_bucket_key_enabled", "PASS", _encrypted("aws:kms", bucket_key=True), S3),
    Case("s3_bucket_key_enabled", "FAIL", _encrypted("aws:kms"), S3, evidence={"BucketKeyEnabled": False}),
    Case(
        "s3_bucket_lifecycle_configured", "PASS", _lifecycle, S3, evidence={"lifecycle_rules": ["expire-old-versions"]}
    ),
    Case("s3_bucket_lifecycle_configured", "FAIL", _bucket, S3, evidence={"lifecycle_rules": []}),
    # CloudTrail (CIS 3.4, 3.8, 3.9)
    Case(
        "cloudtrail_bucket_access_logging",
        "PASS",
        _trail(logged_bucket=True),
        TRAIL_S3,
        evidence={"TargetBucket": "access-logs"},
    ),
    Case("cloudtrail_bucket_access_logging", "FAIL", _trail(), TRAIL_S3, evidence={"bucket": "trail-logs"}),
    Case("cloudtrail_s3_data_events_write", "PASS", on_account(_trail(selectors=_s3_data("WriteOnly"))), TRAIL),
    Case(
        "cloudtrail_s3_data_events_write",
        "PASS",
        on_account(_trail(advanced=ADVANCED_S3_WRITES)),
        TRAIL,
        label="advanced",
    ),
    Case(
        "cloudtrail_s3_data_events_write",
        "FAIL",
        on_account(_trail(selectors=_s3_data("ReadOnly"))),
        TRAIL,
        evidence={"trails": ["main"]},
    ),
    Case(
        "cloudtrail_s3_data_events_write",
        "FAIL",
        on_account(_trail(selectors=_s3_data("All", ["arn:aws:s3:::trail-logs/"]))),
        TRAIL,
        label="one-bucket",
    ),
    Case("cloudtrail_s3_data_events_read", "PASS", on_account(_trail(selectors=_s3_data("All"))), TRAIL),
    Case("cloudtrail_s3_data_events_read", "FAIL", on_account(_trail(advanced=ADVANCED_S3_WRITES)), TRAIL),
    Case(
        "cloudtrail_s3_data_events_read",
        "FAIL",
        untouched(ACCOUNT_ID),
        TRAIL,
        label="no-trail",
        evidence={"trails": []},
    ),
    # Detection services
    Case("guardduty_enabled", "PASS", _guardduty(True), ("guardduty",)),
    Case("guardduty_enabled", "FAIL", untouched(REGION), ("guardduty",), evidence={"detectors": []}),
    Case("guardduty_enabled", "FAIL", _guardduty(False), ("guardduty",), label="suspended", message="suspended"),
    Case("securityhub_enabled", "PASS", _security_hub, ("securityhub",)),
    Case("securityhub_enabled", "FAIL", untouched(REGION), ("securityhub",), evidence={"HubArn": None}),
    Case(
        "accessanalyzer_enabled",
        "PASS",
        inventory=_analyzers(EXTERNAL),
        recorded_because=NO_ANALYZER_API,
        evidence={"analyzers": ["external"]},
    ),
    Case("accessanalyzer_enabled", "FAIL", inventory=_analyzers(UNUSED_ONLY), recorded_because=NO_ANALYZER_API),
    Case("accessanalyzer_enabled", "FAIL", inventory=_analyzers(), recorded_because=NO_ANALYZER_API, label="none"),
    Case("macie_enabled", "FAIL", _macie_disabled, ("macie",), evidence={"status": None}),
    Case("macie_enabled", "MANUAL", untouched(REGION), ("macie",), evidence={"status": "ENABLED"}),
]
