"""The fast lane: a Lambda handler for CloudTrail events delivered by EventBridge, within seconds of the call.

Deploy with ``cloudwarden.detect.lanes.fast.handler`` as the function's handler. Rules are the bundled ones plus
any rule files under the paths in ``CLOUDWARDEN_RULES`` (``os.pathsep``-separated), loaded once per container.
Alerts (OCSF Detection Findings) go to the sinks in ``CLOUDWARDEN_SINKS`` (comma-separated specs, see
:mod:`cloudwarden.detect.sinks`; default ``stdout``, JSON lines that Lambda sends to CloudWatch Logs). A sink that
fails makes the invocation fail, so EventBridge's retries (and the function's dead-letter queue) keep the event:
delivery is at least once. Rules that could not be loaded are logged once, at cold start, with the reason.

With ``CLOUDWARDEN_CHECKPOINTS`` (``dynamodb:<table>``, the table the slow lane shares, as ``cloudwarden deploy``
sets it; or an SQLite path) alerts are recorded there first and the outbox drained to the sinks: an event the
slow lane alerted on (or a retried invocation) raises nothing again. Without it, every alert is sent.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

from cloudwarden.detect.checkpoints import CHECKPOINTS_ENV, CheckpointStore, open_checkpoints
from cloudwarden.detect.engine import Detector
from cloudwarden.detect.sinks import Sink, StreamSink, sinks_from_env

# EventBridge spells the sign-in detail type two ways; both carry a CloudTrail record as ``detail``.
DETAIL_TYPES = frozenset(
    {"AWS API Call via CloudTrail", "AWS Console Sign In via CloudTrail", "AWS Console Signin via CloudTrail"}
)
RULES_ENV = "CLOUDWARDEN_RULES"

log = logging.getLogger("cloudwarden.detect.fast")
_detector: Detector | None = None
_sinks: list[Sink] | None = None
_checkpoints: CheckpointStore | None = None


def detector() -> Detector:
    """The container's detector, loaded on first use."""
    global _detector
    if _detector is None:
        extra = [Path(p) for p in os.environ.get(RULES_ENV, "").split(os.pathsep) if p]
        _detector = Detector.load(extra)
        for problem in _detector.problems:
            log.warning("rule not loaded: %s: %s", problem.source, problem.reason)
        if _detector.correlations:  # one event at a time cannot fill a window: said once, not silently skipped
            log.warning(
                "note: %d correlation rules are evaluated by the slow lane and the hunt, not by the fast lane: %s",
                len(_detector.correlations),
                ", ".join(correlation.header.title for correlation in _detector.correlations),
            )
    return _detector


def sinks() -> list[Sink]:
    """The container's sinks, from ``CLOUDWARDEN_SINKS``, parsed on first use (AWS clients on first send)."""
    global _sinks
    if _sinks is None:
        _sinks = sinks_from_env()
    return _sinks


def checkpoints() -> CheckpointStore | None:
    """The container's checkpoint store from ``CLOUDWARDEN_CHECKPOINTS``, opened on first use; None without it."""
    global _checkpoints
    spec = os.environ.get(CHECKPOINTS_ENV)
    if _checkpoints is None and spec:
        _checkpoints = open_checkpoints(spec)
    return _checkpoints


def process(
    event: Any, loaded: Detector, out: TextIO | Sequence[Sink], checkpoints: CheckpointStore | None = None
) -> dict[str, Any]:
    """Evaluate one EventBridge event and send its alerts to ``out`` (a text stream, written as JSON lines, or
    sinks); what the handler returns. With ``checkpoints`` (shared with the slow lane), an alert either lane
    raised before is not raised again. A sink's failure raises (with checkpoints, the alerts wait in the outbox)."""
    if type(event) is not dict:
        return {"alerts": 0, "skipped": "not an EventBridge event"}
    detail_type, record = event.get("detail-type"), event.get("detail")
    if detail_type not in DETAIL_TYPES or type(record) is not dict:
        return {"alerts": 0, "skipped": f"detail-type {str(detail_type)[:100]!r} is not a CloudTrail event"}
    alerts = loaded.alerts(record, lane="fast")
    rules = [a["finding_info"]["analytic"]["uid"] for a in alerts]
    targets = out if isinstance(out, Sequence) else [StreamSink(out)]
    if checkpoints is not None:
        # Most events match no rule: they cost no checkpoint call. A retried event that matched drains what its
        # failed attempt left in the outbox; the slow lane's drains deliver anything else left there.
        new = checkpoints.record(alerts) if alerts else 0
        if alerts:
            checkpoints.drain(targets)
        return {"alerts": new, "rules": rules}
    if alerts:
        for sink in targets:
            sink.send(alerts)
    return {"alerts": len(alerts), "rules": rules}


def handler(event: Any, context: Any) -> dict[str, Any]:
    """The Lambda entry point."""
    return process(event, detector(), sinks(), checkpoints())
