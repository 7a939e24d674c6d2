"""The fast lane: a Lambda handler for CloudTrail events delivered by EventBridge, within seconds of the call.

Deploy with ``cloudwarden.detect.lanes.fast.handler`` as the function's handler. Rules are the bundled ones plus
any rule files under the paths in ``CLOUDWARDEN_RULES`` (``os.pathsep``-separated), loaded once per container.
Alerts are written to standard output as JSON lines (OCSF Detection Findings), which Lambda sends to CloudWatch
Logs. Rules that could not be loaded are logged once, at cold start, with the reason.
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import Any, TextIO

import orjson

from cloudwarden.detect.checkpoints import Checkpoints
from cloudwarden.detect.engine import Detector
from cloudwarden.detect.sinks import StreamSink

# EventBridge spells the sign-in detail type two ways; both carry a CloudTrail record as ``detail``.
DETAIL_TYPES = frozenset(
    {"AWS API Call via CloudTrail", "AWS Console Sign In via CloudTrail", "AWS Console Signin via CloudTrail"}
)
RULES_ENV = "CLOUDWARDEN_RULES"

log = logging.getLogger("cloudwarden.detect.fast")
_detector: Detector | None = None


def detector() -> Detector:
    """The container's detector, loaded on first use."""
    global _detector
    if _detector is None:
        extra = [Path(p) for p in os.environ.get(RULES_ENV, "").split(os.pathsep) if p]
        _detector = Detector.load(extra)
        for problem in _detector.problems:
            log.warning("rule not loaded: %s: %s", problem.source, problem.reason)
    return _detector


def process(event: Any, loaded: Detector, out: TextIO, checkpoints: Checkpoints | None = None) -> dict[str, Any]:
    """Evaluate one EventBridge event and write its alerts to ``out``; what the handler returns. With
    ``checkpoints`` (shared with the slow lane), an alert either lane raised before is not raised again."""
    if type(event) is not dict:
        return {"alerts": 0, "skipped": "not an EventBridge event"}
    detail_type, record = event.get("detail-type"), event.get("detail")
    if detail_type not in DETAIL_TYPES or type(record) is not dict:
        return {"alerts": 0, "skipped": f"detail-type {str(detail_type)[:100]!r} is not a CloudTrail event"}
    alerts = loaded.alerts(record, lane="fast")
    rules = [a["finding_info"]["analytic"]["uid"] for a in alerts]
    if checkpoints is not None:
        new = checkpoints.record(alerts)
        checkpoints.drain([StreamSink(out)])
        return {"alerts": new, "rules": rules}
    for alert in alerts:
        out.write(orjson.dumps(alert, option=orjson.OPT_APPEND_NEWLINE).decode())
    out.flush()
    return {"alerts": len(alerts), "rules": rules}


def handler(event: Any, context: Any) -> dict[str, Any]:
    """The Lambda entry point."""
    return process(event, detector(), sys.stdout)
