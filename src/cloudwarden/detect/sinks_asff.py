"""A detection alert (OCSF 2004) as an AWS Security Finding Format finding, for Security Hub's BatchImportFindings.

* ``Id`` is the alert uid (a SHA-256 of it when longer than ASFF's 512 characters), and every timestamp is the
  event's time, so importing the same alert again updates the one finding, never adds another.
* ``Types``: ``TTPs/<tactic>/<technique>`` for each ATT&CK technique of the rule (``TTPs/<technique>`` when the
  rule names no tactic ASFF knows), plus the CIS type for CIS rules.
* ``Resources``: the event's ``resources`` (at most 32), the calling IAM user, else the event's account.
* ``Action``: the API call, with the caller's IP address when it is one.
* ``ProductFields``: rule, lane, event id, caller, source IP, user agent and the start of the event's JSON (ASFF
  has no field for a whole event; the full alert goes to the other sinks).

Every string comes from the event (attacker-controlled): control characters are removed and each value is cut
to ASFF's limit for its field.
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
from datetime import UTC, datetime
from typing import Any

from cloudwarden.detect.sinks_limits import service_json
from cloudwarden.findings.asff import (
    DESCRIPTION_MAX,
    PRODUCT_FIELD_MAX,
    RESOURCE_TYPES,
    SCHEMA_VERSION,
    TITLE_MAX,
    product_arn,
)

ID_MAX = 512
TYPES_MAX = 50
TYPE_MAX = 128
RESOURCES_MAX = 32
CIS_TYPE = "Software and Configuration Checks/Industry and Regulatory Standards/CIS AWS Foundations Benchmark"
# ASFF's TTPs categories (Security Hub's finding type taxonomy), by ATT&CK tactic name. ATT&CK v18 split Defense
# Evasion into Stealth and Defense Impairment; both still file under ASFF's Defense Evasion.
ASFF_TACTICS = {
    "initial access": "Initial Access",
    "execution": "Execution",
    "persistence": "Persistence",
    "privilege escalation": "Privilege Escalation",
    "defense evasion": "Defense Evasion",
    "defense impairment": "Defense Evasion",
    "stealth": "Defense Evasion",
    "credential access": "Credential Access",
    "discovery": "Discovery",
    "lateral movement": "Lateral Movement",
    "collection": "Collection",
    "command and control": "Command and Control",
}
SEVERITY_LABELS = frozenset({"INFORMATIONAL", "LOW", "MEDIUM", "HIGH", "CRITICAL"})
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_ACCOUNT = re.compile(r"\d{12}")
_REGION = re.compile(r"[a-z]{2}(?:-[a-z]+)+-\d{1,2}")
_IAM_USER = re.compile(r"arn:aws[a-z-]*:iam::\d{12}:user/.+")


def finding_id(uid: str) -> str:
    """The ASFF Id of an alert: its uid, or a digest of it when too long (stable either way)."""
    return uid if len(uid) <= ID_MAX else "cloudwarden/sha256/" + hashlib.sha256(uid.encode()).hexdigest()


def alert_to_asff(alert: dict[str, Any], account_id: str, partition: str, region: str) -> dict[str, Any]:
    """The ASFF finding of ``alert``, imported by ``account_id`` into ``region``'s default product. The finding
    belongs to the importing account (Security Hub accepts no other without an administrator relationship); the
    event's own account is one of its Resources."""
    info = _dict(alert.get("finding_info"))
    analytic = _dict(info.get("analytic"))
    evidences = alert.get("evidences") if type(alert.get("evidences")) is list else []
    event = _dict(_dict(evidences[0]).get("data")) if evidences else {}
    rule_id = _clean(analytic.get("uid"), 256) or "unknown-rule"
    when = _iso(alert.get("time"))
    severity = str(alert.get("severity", "")).upper()
    title = _clean(info.get("title"), TITLE_MAX) or rule_id
    return {
        "SchemaVersion": SCHEMA_VERSION,
        "Id": finding_id(str(info.get("uid") or rule_id)),
        "ProductArn": product_arn(partition, region, account_id),
        "ProductName": "cloudwarden",
        "CompanyName": "cloudwarden",
        "GeneratorId": f"cloudwarden/detect/{rule_id}"[:ID_MAX],
        "AwsAccountId": account_id,
        "Types": _types(info, alert),
        "FirstObservedAt": when,
        "LastObservedAt": when,
        "CreatedAt": when,
        "UpdatedAt": when,
        "Severity": {"Label": severity if severity in SEVERITY_LABELS else "MEDIUM"},
        "Title": title,
        "Description": _clean(info.get("desc"), DESCRIPTION_MAX) or title,
        "Resources": _resources(event, alert, partition, region),
        **_action(event, when),
        "Workflow": {"Status": "NEW"},
        "RecordState": "ACTIVE",
        "ProductFields": _product_fields(alert, event, rule_id),
    }


def _types(info: dict[str, Any], alert: dict[str, Any]) -> list[str]:
    types: list[str] = []
    for attack in info.get("attacks") or []:
        if type(attack) is not dict:
            continue
        technique = _clean(_dict(attack.get("technique")).get("uid"), 64)
        if not technique:
            continue
        tactic = ASFF_TACTICS.get(str(_dict(attack.get("tactic")).get("name", "")).lower())
        types.append(f"TTPs/{tactic}/{technique}" if tactic else f"TTPs/{technique}")
    if _dict(alert.get("unmapped")).get("cis"):
        types.append(CIS_TYPE)
    if not types:
        types.append("Unusual Behaviors/User")
    return [t[:TYPE_MAX] for t in dict.fromkeys(types)][:TYPES_MAX]


def _resources(event: dict[str, Any], alert: dict[str, Any], partition: str, home: str) -> list[dict[str, Any]]:
    # Security Hub rejects a finding with a malformed region, and a rejected alert would stay in the outbox for
    # ever: an event's region that is not a region name is replaced by the import region.
    region = event.get("awsRegion")
    region = region if type(region) is str and _REGION.fullmatch(region) else home
    resources = []
    listed = event.get("resources") if type(event.get("resources")) is list else []
    for item in listed:
        arn = _clean(_dict(item).get("ARN") or _dict(item).get("arn"), ID_MAX)
        if arn:
            kind = RESOURCE_TYPES.get(str(_dict(item).get("type", "")), "Other")
            resources.append({"Type": kind, "Id": arn, "Partition": partition, "Region": region})
        if len(resources) == RESOURCES_MAX - 1:
            break
    actor = _clean(_dict(_dict(alert.get("actor")).get("user")).get("uid"), ID_MAX)
    if actor and _IAM_USER.fullmatch(actor):
        resources.append({"Type": "AwsIamUser", "Id": actor, "Partition": partition, "Region": region})
    if not resources:
        account = _clean(_dict(_dict(alert.get("cloud")).get("account")).get("uid"), 12)
        if account and _ACCOUNT.fullmatch(account):
            resources.append({"Type": "AwsAccount", "Id": f"AWS::::Account:{account}", "Partition": partition,
                              "Region": region})
        else:
            resources.append({"Type": "Other", "Id": "unknown", "Partition": partition, "Region": region})
    return resources


def _action(event: dict[str, Any], when: str) -> dict[str, Any]:
    api = _clean(event.get("eventName"), 128)
    service = _clean(event.get("eventSource"), 128)
    if not api or not service:
        return {}
    call: dict[str, Any] = {"Api": api, "ServiceName": service, "FirstSeen": when, "LastSeen": when}
    source = event.get("sourceIPAddress")
    try:
        address = ipaddress.ip_address(source) if type(source) is str and len(source) <= 64 else None
    except ValueError:
        address = None
    if address is not None:
        call["CallerType"] = "remoteip"
        key = "IpAddressV4" if address.version == 4 else "IpAddressV6"
        call["RemoteIpDetails"] = {key: str(address)}
    else:
        domain = _clean(source, 128)
        call["CallerType"] = "domain"
        if domain:
            call["DomainDetails"] = {"Domain": domain}
    return {"Action": {"ActionType": "AWS_API_CALL", "AwsApiCallAction": call}}


def _product_fields(alert: dict[str, Any], event: dict[str, Any], rule_id: str) -> dict[str, str]:
    identity = _dict(event.get("userIdentity"))
    labels = _dict(alert.get("metadata")).get("labels") or []
    fields = {
        "cloudwarden/rule_id": rule_id,
        "cloudwarden/lane": next((str(x)[5:] for x in labels if str(x).startswith("lane:")), ""),
        "cloudwarden/cis": ",".join(str(c) for c in _dict(alert.get("unmapped")).get("cis") or []),
        "cloudwarden/event_id": event.get("eventID"),
        "cloudwarden/event": f"{event.get('eventSource')}:{event.get('eventName')}",
        "cloudwarden/event_account": event.get("recipientAccountId"),
        "cloudwarden/actor": identity.get("arn") or identity.get("principalId") or identity.get("invokedBy"),
        "cloudwarden/source_ip": event.get("sourceIPAddress"),
        "cloudwarden/user_agent": event.get("userAgent"),
        "cloudwarden/error_code": event.get("errorCode"),
        "cloudwarden/evidence_json": service_json(event).decode(errors="replace") if event else "",
    }
    cleaned = {key: _clean(value, PRODUCT_FIELD_MAX) for key, value in fields.items()}
    return {key: value for key, value in cleaned.items() if value}


def _dict(value: Any) -> dict[str, Any]:
    return value if type(value) is dict else {}


def _clean(value: Any, limit: int) -> str:
    """``value`` as a string without control characters, at most ``limit`` characters; "" for None."""
    if value is None or type(value) in (dict, list):
        return ""
    text = str(value)[: limit * 2]  # bound the regex's work before cleaning
    return _CONTROL.sub("", text)[:limit].strip()


def _iso(epoch_ms: Any) -> str:
    try:
        when = datetime.fromtimestamp(int(epoch_ms) / 1000, UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        when = datetime.fromtimestamp(0, UTC)
    return when.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
