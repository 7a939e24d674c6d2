"""The slow lane settling several files at once (SQLite checkpoints): the same alerts, counted on the same files,
as one file at a time; a sink that is down, or refuses one alert, loses nothing; a kill before the commit
delivers nothing twice to an idempotent sink.

Stratus Red Team detonation records (Apache 2.0) and SigmaHQ's CloudTrail rules (DRL 1.1), from ../shared/data.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Sequence
from pathlib import Path

import orjson
import pytest

from cloudwarden.detect.checkpoints import Checkpoints
from cloudwarden.detect.engine import Detector
from cloudwarden.detect.lanes.slow import SlowLane
from cloudwarden.detect.sinks import FileSink, SinkError
from cloudwarden.trail.sources import LocalSource
from tests.trail.helpers import SIGMA_DIR, STRATUS_DIR, cloudtrail_key

pytestmark = pytest.mark.skipif(not SIGMA_DIR.is_dir(), reason="../shared/data is not beside this clone")
FILES = 12


@pytest.fixture(scope="module")
def detector() -> Detector:
    return Detector.load([SIGMA_DIR])


@pytest.fixture
def trail(tmp_path: Path) -> Path:
    """FILES log files of Stratus records, the last two repeating events of the first (a trail delivered twice)."""
    records = [r for path in sorted(STRATUS_DIR.glob("*.json")) for r in json.loads(path.read_text())]
    folder = tmp_path / "logs"
    per_file = len(records) // (FILES - 2)
    for index in range(FILES):
        part = records[index * per_file : (index + 1) * per_file] if index < FILES - 2 else records[:per_file]
        path = folder / cloudtrail_key(name=f"part-{index:02d}")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(gzip.compress(orjson.dumps({"Records": part})))
    return folder


def written(path: Path) -> list[str]:
    return [orjson.loads(line)["finding_info"]["uid"] for line in path.read_bytes().splitlines() if line.strip()]


class Switchable:
    """A sink in front of a file sink that can be made to fail: down (refuses everything) or refusing the alerts
    of one rule (a service rejecting what an event holds)."""

    def __init__(self, path: Path) -> None:
        self.file = FileSink(path)
        self.name = "switchable"
        self.down = False
        self.refused_rule: str | None = None
        self.calls = 0

    def send_encoded(self, alerts: Sequence[tuple[str, bytes]]) -> None:
        self.calls += 1
        if self.down:
            raise SinkError("the sink is down")
        if self.refused_rule and any(uid.startswith(self.refused_rule + ":") for uid, _ in alerts):
            raise SinkError("one of these alerts is refused")
        self.file.send_encoded(alerts)


def test_files_settled_together_raise_and_count_what_one_at_a_time_does(detector: Detector, trail: Path,
                                                                       tmp_path: Path) -> None:
    results = {}
    for name, group in (("single", 1), ("grouped", 10_000)):
        out = tmp_path / f"{name}.jsonl"
        with Checkpoints(tmp_path / f"{name}.sqlite") as checkpoints:
            sink = Switchable(out)
            outcomes = SlowLane(detector, checkpoints, [sink], group_records=group).process_all(LocalSource(trail))
            results[name] = ([(Path(o.location).name, o.events, o.alerts) for o in outcomes], written(out),
                             checkpoints.counts(), sink.calls)
    single, grouped = results["single"], results["grouped"]
    assert grouped[0] == single[0] and grouped[2] == single[2]
    # The same alerts. A correlation may be completed by another event of its group: a group orders its files'
    # events by time, one file at a time meets them in file order.
    correlated = {c.id for c in detector.correlations}
    def split(uids: list[str]) -> tuple[list[str], set[str]]:
        return (sorted(u for u in uids if u.split(":")[0] not in correlated),
                {u.rsplit(":", 1)[0] for u in uids if u.split(":")[0] in correlated})
    assert split(grouped[1]) == split(single[1]) and split(grouped[1])[1]
    assert grouped[3] == 1 < single[3]  # one delivery for the whole group
    counts = [alerts for _, _, alerts in grouped[0]]
    assert counts[-2:] == [0, 0] and sum(counts) == len(grouped[1]) == len(set(grouped[1])) > 25
    assert grouped[2] == {"files": FILES, "seen": len(grouped[1]), "outbox": 0}


def test_a_sink_that_is_down_keeps_the_group_s_alerts_and_the_files_are_not_evaluated_again(
        detector: Detector, trail: Path, tmp_path: Path) -> None:
    out = tmp_path / "alerts.jsonl"
    with Checkpoints(tmp_path / "c.sqlite") as checkpoints:
        sink = Switchable(out)
        sink.down = True
        lane = SlowLane(detector, checkpoints, [sink])
        with pytest.raises(SinkError, match="down"):
            lane.process_all(LocalSource(trail))
        kept = checkpoints.counts()
        assert kept["files"] == FILES and kept["outbox"] == kept["seen"] > 25 and not out.exists()
        sink.down = False
        again = lane.process_all(LocalSource(trail))
        assert all(o.skipped for o in again)
        assert checkpoints.counts() == {"files": FILES, "seen": kept["seen"], "outbox": 0}
    assert len(written(out)) == len(set(written(out))) == kept["seen"]


def test_alerts_raised_behind_undelivered_ones_follow_them_out(detector: Detector, trail: Path,
                                                               tmp_path: Path) -> None:
    out = tmp_path / "alerts.jsonl"
    source = LocalSource(trail)
    logs = list(source.list())
    with Checkpoints(tmp_path / "c.sqlite") as checkpoints:
        sink = Switchable(out)
        lane = SlowLane(detector, checkpoints, [sink])
        sink.down = True
        with pytest.raises(SinkError):
            lane.process(source, logs[0])
        kept = {uid for uid, _ in checkpoints.pending(10_000)}
        first = len(kept)
        assert first == checkpoints.counts()["outbox"] > 0
        sink.down = False
        lane.process(source, logs[1])  # the outbox is not empty: these wait behind it, then both go
        assert checkpoints.counts()["outbox"] == 0
    uids = written(out)
    raised = {a["finding_info"]["uid"] for r in source.read(logs[0]).records for a in detector.alerts(r, "slow")}
    assert set(uids[:first]) == kept >= raised and len(uids) == len(set(uids)) > first


def test_an_alert_a_sink_refuses_is_a_dead_letter_and_the_rest_are_delivered(detector: Detector, trail: Path,
                                                                           tmp_path: Path) -> None:
    out = tmp_path / "alerts.jsonl"
    with Checkpoints(tmp_path / "c.sqlite") as checkpoints:
        sink = Switchable(out)
        SlowLane(detector, checkpoints, [sink]).process_all(LocalSource(trail))
        everything = set(written(out))
    poisoned = next(uid for uid in sorted(everything) if uid.startswith("905d389b"))  # SigmaHQ AssumeRole Misuse
    rule = poisoned.split(":")[0]
    out_2 = tmp_path / "again.jsonl"
    with Checkpoints(tmp_path / "c2.sqlite") as checkpoints:
        sink = Switchable(out_2)
        sink.refused_rule = rule
        SlowLane(detector, checkpoints, [sink]).process_all(LocalSource(trail))
        dead = checkpoints.dead_letters()
        assert checkpoints.counts()["outbox"] == 0
    refused = {uid for uid in everything if uid.startswith(rule + ":")}
    assert {uid for uid, _, _ in dead} == refused and all("refused" in reason for _, _, reason in dead)
    assert set(written(out_2)) == everything - refused
