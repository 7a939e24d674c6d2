"""Fitting an alert into a message service's size limit without dropping it.

SNS and EventBridge take at most 256 KB per message, and an alert carries its whole CloudTrail event as evidence,
whose request parameters an attacker chooses (a 1 MB policy document, a million-character user agent). An alert
that does not fit keeps everything but the bulk of its evidence: :func:`fit_alert` cuts the event's largest fields
to JSON prefixes, records that it did so and how big the event was (``unmapped.evidence_trimmed``), and says so
in ``message``. Only the copy sent is trimmed; the outbox and other sinks keep the whole alert.

The JSON is also made safe for services that reject some Unicode (SNS and SQS refuse U+FFFE/U+FFFF and lone
surrogates): such characters are written as ``\\u`` escapes, which decode to the same string.
"""

from __future__ import annotations

import json
from typing import Any

import orjson

TRIMMED_NOTE = " [evidence trimmed to fit the sink's size limit]"
MAX_KEYS = 200  # top-level fields of an event kept when trimming (CloudTrail records have about 30)
MIN_FIELD_BYTES = 64
CLIP_STRING = 256  # last resort: every string in the alert cut to this many characters
CLIP_ITEMS = 20
CLIP_DEPTH = 6
UID_KEPT = 1024


def service_json(value: Any) -> bytes:
    """``value`` as compact JSON that every AWS message service accepts as it is."""
    try:
        data = orjson.dumps(value)
    except TypeError:  # a lone surrogate (events decoded by the stdlib may hold them): not UTF-8, written as "?"
        data = json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str).encode("utf-8", "replace")
    if b"\xef\xbf\xbe" in data or b"\xef\xbf\xbf" in data:  # U+FFFE / U+FFFF: not in SNS's character set
        data = data.replace(b"\xef\xbf\xbe", b"\\ufffe").replace(b"\xef\xbf\xbf", b"\\uffff")
    return data


def fit_alert(alert: dict[str, Any], limit: int) -> bytes:
    """The alert as JSON of at most ``limit`` bytes (``limit`` at least 16 KB), trimming only its evidence unless
    the rest of the alert is too big too (a 100 KB user ARN): then every string outside the evidence is clipped
    as well, and as a last resort the evidence goes."""
    data = service_json(alert)
    if len(data) <= limit:
        return data
    event = _evidence(alert)
    original = len(service_json(event)) if event is not None else 0
    outside = {k: v for k, v in alert.items() if k != "evidences"}
    for base in (alert, {**_clip_keeping_uid(outside, alert), "evidences": alert.get("evidences")}):
        budget = limit // 2
        for _ in range(8):  # halve each field's share until the alert fits
            data = service_json(_with_evidence(base, _trim_event(event, budget), original, limit))
            if len(data) <= limit:
                return data
            budget //= 2
    # Still too big (an event with thousands of huge keys): keep the alert's shape, clip everything.
    data = service_json(_clip_keeping_uid(_with_evidence(alert, None, original, limit), alert))
    if len(data) > limit:
        raise ValueError(f"an alert cannot be cut below {len(data)} bytes (limit {limit})")
    return data


def _evidence(alert: dict[str, Any]) -> Any:
    evidences = alert.get("evidences")
    if type(evidences) is list and evidences and type(evidences[0]) is dict:
        return evidences[0].get("data")
    return None


def _trim_event(event: Any, budget: int) -> Any:
    """The event with each top-level field whose JSON exceeds its share of ``budget`` replaced by a prefix of
    that JSON (a string ending in ``…``); a non-object event becomes such a prefix itself."""
    if type(event) is not dict:
        text = service_json(event).decode()
        return text if len(text) <= budget else text[:budget] + "…"
    share = max(MIN_FIELD_BYTES, budget // max(1, min(len(event), MAX_KEYS)))
    trimmed: dict[str, Any] = {}
    for index, (key, value) in enumerate(event.items()):
        if index >= MAX_KEYS:
            trimmed["…"] = f"{len(event) - MAX_KEYS} more fields left out"
            break
        key = str(key)[:MIN_FIELD_BYTES]
        text = service_json(value)
        trimmed[key] = value if len(text) <= share else text[:share].decode(errors="ignore") + "…"
    return trimmed


def _with_evidence(alert: dict[str, Any], data: Any, original: int, limit: int) -> dict[str, Any]:
    """A copy of ``alert`` whose evidence is ``data``, saying that and why."""
    copy = dict(alert)
    copy["evidences"] = [{"data": data}]
    unmapped = dict(alert["unmapped"]) if type(alert.get("unmapped")) is dict else {}
    unmapped["evidence_trimmed"] = {
        "original_bytes": original,
        "reason": f"the event was cut to fit the sink's limit of {limit} bytes per message",
    }
    copy["unmapped"] = unmapped
    copy["message"] = str(alert.get("message", ""))[:1024] + TRIMMED_NOTE
    return copy


def _clip_keeping_uid(value: dict[str, Any], alert: dict[str, Any]) -> dict[str, Any]:
    """``value`` with every string and list clipped, except the alert's uid (what consumers de-duplicate on) when
    it is of a sane length."""
    clipped: dict[str, Any] = _clip(value, CLIP_DEPTH)
    uid = (alert.get("finding_info") or {}).get("uid")
    if type(uid) is str and len(uid) <= UID_KEPT and type(clipped.get("finding_info")) is dict:
        clipped["finding_info"]["uid"] = uid
    return clipped


def _clip(value: Any, depth: int) -> Any:
    if type(value) is str:
        return value if len(value) <= CLIP_STRING else value[:CLIP_STRING] + "…"
    if type(value) is dict:
        if depth <= 0:
            return "…"
        return {str(k)[:CLIP_STRING]: _clip(v, depth - 1) for k, v in list(value.items())[:CLIP_ITEMS * 5]}
    if type(value) is list:
        if depth <= 0:
            return "…"
        return [_clip(v, depth - 1) for v in value[:CLIP_ITEMS]]
    return value
