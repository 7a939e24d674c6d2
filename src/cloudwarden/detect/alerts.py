"""An alert: one rule matched one CloudTrail event, as an OCSF Detection Finding (class 2004, schema 1.1.0).

The matching event travels as evidence (``evidences[0].data``), with the actor, API call and source address
also mapped to OCSF's own objects so a SIEM can search them without reading the raw event. Every value comes
from the event as it was (attacker-controlled): renderers escape it, nothing here interprets it.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from cloudwarden import __version__
from cloudwarden.detect.sigma_rules import DetectionRule

OCSF_VERSION = "1.1.0"
CLASS_UID = 2004
CATEGORY_UID = 2  # Findings
ACTIVITY_CREATE = 1
SEVERITY_ID = {"informational": 1, "low": 2, "medium": 3, "high": 4, "critical": 5}


def alert_uid(rule: DetectionRule, event: dict[str, Any]) -> str:
    """The same rule on the same event is the same alert, whichever lane saw it (the exactly-once key)."""
    return f"{rule.id}:{event.get('eventID')}"


def event_time_ms(event: dict[str, Any]) -> int:
    """The event's time in epoch milliseconds; now when the event has no readable time."""
    text = event.get("eventTime")
    if type(text) is str:
        known = _TIMES.get(text)
        if known is not None:
            return known
        try:
            when = int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000)
        except ValueError:
            pass
        else:
            if len(text) <= 40:  # attacker-chosen text: only timestamp-sized keys, at most _TIMES_KEPT of them
                if len(_TIMES) >= _TIMES_KEPT:
                    _TIMES.clear()
                _TIMES[text] = when
            return when
    return int(datetime.now(UTC).timestamp() * 1000)


_TIMES: dict[str, int] = {}
_TIMES_KEPT = 4096


def _text(value: Any) -> str | None:
    return value if type(value) is str and value else None


def _rule_parts(rule: DetectionRule) -> dict[str, Any]:
    """What every alert of ``rule`` shares, built once per rule (read-only: alerts only serialise it)."""
    parts = _RULE_PARTS.get(rule.id)
    if parts is None or parts["rule"] is not rule:
        severity = rule.level if rule.level in SEVERITY_ID else "medium"
        types = ["Detection", *(["CIS AWS Foundations Benchmark v5.0.0"] if rule.cis else [])]
        parts = _RULE_PARTS[rule.id] = {
            "rule": rule,
            "severity": severity,
            "types": types,
            "analytic": {"uid": rule.id, "name": rule.title, "type_id": 1, "type": "Rule"},
            "attacks": _attacks(rule),
            "unmapped": {"cis": list(rule.cis), "rule_source": rule.source},
        }
    return parts


_RULE_PARTS: dict[str, dict[str, Any]] = {}
# ATT&CK tactic ids by the slug Sigma tags use (``attack.defense-evasion``); an unknown slug keeps its name only.
_TACTICS = {
    "reconnaissance": "TA0043", "resource-development": "TA0042", "initial-access": "TA0001",
    "execution": "TA0002", "persistence": "TA0003", "privilege-escalation": "TA0004",
    "defense-evasion": "TA0005", "credential-access": "TA0006", "discovery": "TA0007",
    "lateral-movement": "TA0008", "collection": "TA0009", "command-and-control": "TA0011",
    "exfiltration": "TA0010", "impact": "TA0040",
}


def _attacks(rule: DetectionRule) -> list[dict[str, Any]]:
    """OCSF attack objects: each technique of the rule, with the rule's first ATT&CK tactic (Sigma tags do not
    say which tactic goes with which technique)."""
    slugs = [tag[7:] for tag in rule.tags if tag.lower().startswith("attack.") and not tag[7:8].isdigit()
             and not (tag[7:8].lower() in "tgs" and tag[8:9].isdigit())]
    tactic = None
    if slugs:
        slug = slugs[0].lower()
        tactic = {"name": slug.replace("-", " ").replace("_", " ").title(), **({"uid": _TACTICS[slug]}
                                                                              if slug in _TACTICS else {})}
    return [{"technique": {"uid": technique}, "version": "v15", **({"tactic": tactic} if tactic else {})}
            for technique in rule.attack]


_PRODUCT = {"name": "cloudwarden", "vendor_name": "cloudwarden", "version": __version__}


def alerts_for(rules: Iterable[DetectionRule], event: dict[str, Any], lane: str) -> list[dict[str, Any]]:
    """The alerts of the rules ``event`` matched: one each, except rules that only feed a correlation."""
    return [to_detection_finding(rule, event, lane) for rule in rules if rule.generates]


def to_detection_finding(rule: DetectionRule, event: dict[str, Any], lane: str) -> dict[str, Any]:
    """The OCSF Detection Finding for ``rule`` matching ``event``, seen by ``lane`` (``fast``, ``slow``, ``hunt``)."""
    when = event_time_ms(event)
    identity = event.get("userIdentity") if type(event.get("userIdentity")) is dict else {}
    shared = _rule_parts(rule)
    severity = shared["severity"]
    return {
        "activity_id": ACTIVITY_CREATE,
        "activity_name": "Create",
        "category_uid": CATEGORY_UID,
        "category_name": "Findings",
        "class_uid": CLASS_UID,
        "class_name": "Detection Finding",
        "type_uid": CLASS_UID * 100 + ACTIVITY_CREATE,
        "type_name": "Detection Finding: Create",
        "severity_id": SEVERITY_ID[severity],
        "severity": severity.capitalize(),
        "status_id": 1,
        "status": "New",
        "is_alert": True,
        "time": when,
        "message": rule.title,
        "metadata": {"version": OCSF_VERSION, "product": _PRODUCT, "event_code": rule.id, "labels": [f"lane:{lane}"]},
        "finding_info": {
            "uid": alert_uid(rule, event),
            "title": rule.title,
            "desc": rule.description,
            "types": shared["types"],
            "created_time": when,
            "analytic": shared["analytic"],
            "attacks": shared["attacks"],
        },
        "cloud": {
            "provider": "AWS",
            "region": _text(event.get("awsRegion")),
            "account": {"uid": _text(event.get("recipientAccountId"))},
        },
        "actor": {
            "user": {
                "type": _text(identity.get("type")),
                "uid": _text(identity.get("arn")) or _text(identity.get("principalId")),
                "name": _text(identity.get("userName")),
                "credential_uid": _text(identity.get("accessKeyId")),
            },
            "invoked_by": _text(identity.get("invokedBy")),
        },
        "api": {
            "operation": _text(event.get("eventName")),
            "service": {"name": _text(event.get("eventSource"))},
            "request": {"uid": _text(event.get("requestID"))},
        },
        "src_endpoint": {"ip": _text(event.get("sourceIPAddress"))},
        "evidences": [{"data": event}],
        "unmapped": shared["unmapped"],
    }
