"""The demo's detections: Acme's CloudTrail replayed through both lanes, as if they had been deployed.

The fast lane sees each event as EventBridge would deliver it, in time order, seconds after the call; the slow
lane then reads every log file as S3 would announce it, minutes later. Both share one checkpoint store, so the
slow lane finds every single-event alert already raised and raises none twice: the alerts file holds each alert
once. What the slow lane adds is what only it evaluates: correlation rules (windows over many events).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from cloudwarden.detect.checkpoints import Checkpoints
from cloudwarden.detect.engine import Detector
from cloudwarden.detect.lanes.fast import process
from cloudwarden.detect.lanes.slow import SlowLane
from cloudwarden.detect.sinks import FileSink
from cloudwarden.trail.sources import LocalSource

ALERTS_FILE = "alerts.ocsf.jsonl"
CHECKPOINTS_FILE = "detect-checkpoints.sqlite"


@dataclass
class Replay:
    alerts: list[dict[str, Any]]  # every alert, once: the fast lane's in event time order, then the slow lane's
    fast_lane: int  # alerts the fast lane raised
    events: int
    files: int
    slow_lane_new: int  # alerts the slow lane raised that the fast lane had not: its correlations
    alerts_file: Path
    rules: int


def replay(trail_folder: Path, output_dir: Path) -> Replay:
    """Run every record under ``trail_folder`` through the fast lane, then every file through the slow lane."""
    detector = Detector.load()
    for stale in (output_dir / ALERTS_FILE, output_dir / CHECKPOINTS_FILE):
        stale.unlink(missing_ok=True)  # the demo's event ids repeat from run to run
    source = LocalSource(trail_folder)
    logs = list(source.list())
    records = [record for log in logs for record in source.read(log).records if type(record) is dict]
    records.sort(key=lambda record: str(record.get("eventTime")))
    alerts_file = output_dir / ALERTS_FILE
    with Checkpoints(output_dir / CHECKPOINTS_FILE) as checkpoints:
        with alerts_file.open("w", encoding="utf-8") as out:
            for record in records:
                process({"detail-type": "AWS API Call via CloudTrail", "detail": record}, detector, out, checkpoints)
        fast_lane = checkpoints.counts()["seen"]
        lane = SlowLane(detector, checkpoints, [FileSink(alerts_file)])
        outcomes = lane.process_all(source)
    alerts = [orjson.loads(line) for line in alerts_file.read_bytes().splitlines() if line.strip()]
    return Replay(
        alerts=alerts,
        fast_lane=fast_lane,
        events=len(records),
        files=len(logs),
        slow_lane_new=sum(outcome.alerts for outcome in outcomes),
        alerts_file=alerts_file,
        rules=len(detector.rules),
    )
