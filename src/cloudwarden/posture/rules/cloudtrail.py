"""CloudTrail rules: a multi-region trail that logs management events, validated and KMS-encrypted."""

from __future__ import annotations

from typing import Any

from cloudwarden.findings.model import Severity
from cloudwarden.inventory.model import Inventory, Resource, Unreadable
from cloudwarden.posture.registry import Verdict, failed, passed, rule

TRAIL = "AWS::CloudTrail::Trail"
ACCOUNT = "AWS::CloudTrail::AccountSettings"


def logs_all_management_events(selectors: dict[str, Any]) -> bool:
    """Whether event selectors include read and write management events (basic or advanced form)."""
    for selector in selectors.get("EventSelectors") or []:
        if selector.get("IncludeManagementEvents", True) and selector.get("ReadWriteType", "All") == "All":
            return True
    for advanced in selectors.get("AdvancedEventSelectors") or []:
        fields = {f.get("Field"): f for f in advanced.get("FieldSelectors", [])}
        category = fields.get("eventCategory", {}).get("Equals", [])
        if "Management" in category and "readOnly" not in fields:
            return True
    # A trail with no selectors at all logs all management events (the CloudTrail default).
    return not selectors.get("EventSelectors") and not selectors.get("AdvancedEventSelectors")


@rule(
    id="cloudtrail_multi_region_enabled",
    fsbp=("CloudTrail.1",),
    well_architected=("SEC04",),
    title="A multi-region trail logs all management events",
    severity=Severity.HIGH,
    resource_type=ACCOUNT,
    cis=("3.1",),
    rationale="Without a trail in every region, activity in an unused region (a favourite of attackers) goes "
    "unrecorded.",
    remediation="aws cloudtrail create-trail --name main --s3-bucket-name BUCKET --is-multi-region-trail "
    "--enable-log-file-validation --kms-key-id KEY; aws cloudtrail start-logging --name main",
)
def cloudtrail_multi_region_enabled(_: Resource, inventory: Inventory) -> Verdict:
    unreadable: list[str] = []
    checked: list[str] = []
    for trail in inventory.of_type(TRAIL):
        try:
            details = trail.attr("trail") or {}
            if not details.get("IsMultiRegionTrail"):
                checked.append(f"{trail.id}: single-region")
                continue
            if not (trail.attr("status") or {}).get("IsLogging"):
                checked.append(f"{trail.id}: not logging")
                continue
            if not logs_all_management_events(trail.attr("event_selectors") or {}):
                checked.append(f"{trail.id}: not all management events")
                continue
        except Unreadable as exc:
            unreadable.append(f"{trail.id}: {exc.reason}")
            continue
        return passed(f"Trail {trail.id} is multi-region, logging, with all management events.", trail=trail.arn)
    if unreadable:
        raise Unreadable("no qualifying trail among those readable; could not read " + "; ".join(unreadable))
    return failed("No multi-region trail logs all management events.", trails=checked)


@rule(
    id="cloudtrail_log_file_validation",
    fsbp=("CloudTrail.4",),
    well_architected=("SEC04",),
    title="CloudTrail log file validation is on",
    severity=Severity.MEDIUM,
    resource_type=TRAIL,
    cis=("3.2",),
    rationale="Digest files let you prove log files were not modified or deleted after delivery.",
    remediation="aws cloudtrail update-trail --name TRAIL --enable-log-file-validation",
)
def cloudtrail_log_file_validation(trail: Resource, _: Inventory) -> Verdict:
    if (trail.attr("trail") or {}).get("LogFileValidationEnabled"):
        return passed("Log file validation is on.", LogFileValidationEnabled=True)
    return failed(f"Trail {trail.id} does not validate log files.", LogFileValidationEnabled=False)


@rule(
    id="cloudtrail_kms_encrypted",
    fsbp=("CloudTrail.2",),
    well_architected=("SEC08",),
    title="CloudTrail logs are encrypted with a KMS key",
    severity=Severity.MEDIUM,
    resource_type=TRAIL,
    cis=("3.5",),
    rationale="SSE-KMS adds a second permission (kms:Decrypt) between a reader of the bucket and the logs.",
    remediation="aws cloudtrail update-trail --name TRAIL --kms-key-id KEY_ARN (the key policy must allow CloudTrail).",
)
def cloudtrail_kms_encrypted(trail: Resource, _: Inventory) -> Verdict:
    key = (trail.attr("trail") or {}).get("KmsKeyId")
    if key:
        return passed("Logs are encrypted with a KMS key.", KmsKeyId=key)
    return failed(f"Trail {trail.id} is not encrypted with a KMS key.", KmsKeyId=None)
