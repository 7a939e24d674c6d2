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


BUCKET = "AWS::S3::Bucket"
S3_OBJECT = "AWS::S3::Object"
ALL_BUCKETS = {
    "arn:aws:s3",
    "arn:aws:s3:::",
    "arn:aws-cn:s3",
    "arn:aws-cn:s3:::",
    "arn:aws-us-gov:s3",
    "arn:aws-us-gov:s3:::",
}


@rule(
    id="cloudtrail_bucket_access_logging",
    fsbp=("CloudTrail.7",),
    well_architected=("SEC04",),
    title="The CloudTrail bucket has server access logging",
    severity=Severity.LOW,
    resource_type=TRAIL,
    cis=("3.4",),
    rationale="Access logs on the trail's bucket show who read or deleted the audit logs themselves.",
    remediation="aws s3api put-bucket-logging --bucket TRAIL_BUCKET --bucket-logging-status "
    '\'{"LoggingEnabled":{"TargetBucket":"LOG_BUCKET","TargetPrefix":"trail-bucket/"}}\'',
)
def cloudtrail_bucket_access_logging(trail: Resource, inventory: Inventory) -> Verdict:
    name = (trail.attr("trail") or {}).get("S3BucketName")
    if not name:
        raise Unreadable(f"trail {trail.id} names no S3 bucket")
    if BUCKET not in inventory.collected_types:
        raise Unreadable(f"S3 was not collected in this scan; bucket {name} could not be checked (scan the s3 service)")
    bucket = inventory.find(BUCKET, str(name))
    if bucket is None:
        listing = [e.reason for e in inventory.scope_errors if e.resource_type == BUCKET]
        raise Unreadable(listing[0] if listing else f"evaluated in the account that owns bucket {name}")
    logging = bucket.attr("logging")
    if logging and logging.get("TargetBucket"):
        return passed(
            f"Bucket {name} logs access to {logging.get('TargetBucket')}.",
            bucket=name,
            TargetBucket=logging.get("TargetBucket"),
        )
    return failed(f"The trail's bucket {name} has no server access logging.", bucket=name, TargetBucket=None)


def s3_data_events(selectors: dict[str, Any], read: bool) -> bool:
    """Whether the selectors log S3 object-level read (``read``) or write events for every bucket."""
    wanted = "ReadOnly" if read else "WriteOnly"
    for selector in selectors.get("EventSelectors") or []:
        if selector.get("ReadWriteType", "All") not in ("All", wanted):
            continue
        for resource in selector.get("DataResources") or []:
            if resource.get("Type") == S3_OBJECT and ALL_BUCKETS & set(resource.get("Values") or []):
                return True
    for advanced in selectors.get("AdvancedEventSelectors") or []:
        fields = {f.get("Field"): f for f in advanced.get("FieldSelectors", []) if isinstance(f, dict)}
        if "Data" not in (fields.get("eventCategory") or {}).get("Equals", []):
            continue
        if S3_OBJECT not in (fields.get("resources.type") or {}).get("Equals", []):
            continue
        if set(fields) - {"eventCategory", "resources.type", "readOnly"}:
            continue  # narrowed to some buckets, events or callers
        read_only = [str(v).lower() for v in (fields.get("readOnly") or {}).get("Equals", [])]
        if not read_only or ("true" if read else "false") in read_only:
            return True
    return False


def _data_event_rule(inventory: Inventory, read: bool) -> Verdict:
    kind = "read" if read else "write"
    unreadable: list[str] = []
    checked: list[str] = []
    for trail in inventory.of_type(TRAIL):
        try:
            details = trail.attr("trail") or {}
            logging = (trail.attr("status") or {}).get("IsLogging")
            covers = s3_data_events(trail.attr("event_selectors") or {}, read)
        except Unreadable as exc:
            unreadable.append(f"{trail.id}: {exc.reason}")
            continue
        if details.get("IsMultiRegionTrail") and logging and covers:
            return passed(f"Trail {trail.id} logs S3 object-level {kind} events for all buckets.", trail=trail.arn)
        checked.append(trail.id)
    if unreadable:
        raise Unreadable("no qualifying trail among those readable; could not read " + "; ".join(unreadable))
    return failed(
        f"No logging multi-region trail records S3 object-level {kind} events for all buckets.", trails=checked
    )


@rule(
    id="cloudtrail_s3_data_events_write",
    fsbp=("S3.22",),
    well_architected=("SEC04",),
    title="A multi-region trail logs S3 object-level write events",
    severity=Severity.MEDIUM,
    resource_type=ACCOUNT,
    cis=("3.8",),
    rationale="Management events do not show who put or deleted objects; data events do.",
    remediation="aws cloudtrail put-event-selectors --trail-name TRAIL --event-selectors "
    '\'[{"ReadWriteType":"WriteOnly","DataResources":[{"Type":"AWS::S3::Object","Values":["arn:aws:s3"]}]}]\'',
)
def cloudtrail_s3_data_events_write(_: Resource, inventory: Inventory) -> Verdict:
    return _data_event_rule(inventory, read=False)


@rule(
    id="cloudtrail_s3_data_events_read",
    fsbp=("S3.23",),
    well_architected=("SEC04",),
    title="A multi-region trail logs S3 object-level read events",
    severity=Severity.MEDIUM,
    resource_type=ACCOUNT,
    cis=("3.9",),
    rationale="Without read data events there is no record of which objects were read, so an exfiltration "
    "cannot be scoped.",
    remediation="aws cloudtrail put-event-selectors --trail-name TRAIL --event-selectors "
    '\'[{"ReadWriteType":"ReadOnly","DataResources":[{"Type":"AWS::S3::Object","Values":["arn:aws:s3"]}]}]\'',
)
def cloudtrail_s3_data_events_read(_: Resource, inventory: Inventory) -> Verdict:
    return _data_event_rule(inventory, read=True)
