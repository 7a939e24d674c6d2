"""`cloudwarden dead-letters`: the alerts a sink refused, listed (escaped: their uids carry an attacker's eventID)
and sent again on request, from the SQLite checkpoint store `watch` writes.

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
from tests.e2e.conftest import cli_env, run_cli
from tests.trail.helpers import SIGMA_DIR, STRATUS_DIR, cloudtrail_key

pytestmark = pytest.mark.skipif(not SIGMA_DIR.is_dir(), reason="../shared/data is not beside this clone")
HOSTILE_ID = "evil\x1b[2J\x1b]0;pwned\x07\nid"


class RefusesHostileAlerts:
    """A sink whose service refuses the alerts about the hostile events (for what they hold) and takes the rest."""

    name = "picky"

    def __init__(self, path: Path) -> None:
        self.file = FileSink(path)

    def send_encoded(self, alerts: Sequence[tuple[str, bytes]]) -> None:
        if any("evil" in uid for uid, _ in alerts):
            raise SinkError("InvalidInput: refused")
        self.file.send_encoded(alerts)


@pytest.fixture
def store(tmp_path: Path) -> tuple[Path, set[str], Path]:
    """A checkpoint store holding the dead letters of the alerts about three events with a hostile eventID, and
    the file the other alerts went to."""
    detector = Detector.load([SIGMA_DIR], bundled=False)
    records = [r for path in sorted(STRATUS_DIR.glob("*.json")) for r in json.loads(path.read_text())]
    misuse = "905d389b-b853-46d0-9d3d-dea0d3a3cd49"
    target = next(r for r in records if any(rule.id == misuse for rule in detector.matches(r)))
    records += [target | {"eventID": f"{HOSTILE_ID}{n}"} for n in range(3)]
    log = tmp_path / "logs" / cloudtrail_key(name="one")
    log.parent.mkdir(parents=True)
    log.write_bytes(gzip.compress(orjson.dumps({"Records": records})))
    out = tmp_path / "alerts.jsonl"
    with Checkpoints(tmp_path / "c.sqlite") as checkpoints:
        SlowLane(detector, checkpoints, [RefusesHostileAlerts(out)]).process_all(LocalSource(tmp_path / "logs"))
        dead = {uid for uid, _, _ in checkpoints.dead_letters()}
    assert f"{misuse}:{HOSTILE_ID}2" in dead and len(dead) >= 3 and all("evil" in uid for uid in dead)
    return tmp_path / "c.sqlite", dead, out


def test_dead_letters_are_listed_escaped_and_as_json(store: tuple[Path, set[str], Path], tmp_path: Path) -> None:
    path, dead, _ = store
    listed = run_cli("dead-letters", "--checkpoints", str(path), env=cli_env(), cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    assert "\x1b" not in listed.stdout and "\x07" not in listed.stdout and "picky" in listed.stdout
    assert "InvalidInput: refused" in listed.stdout
    as_json = run_cli("dead-letters", "--checkpoints", str(path), "--json", env=cli_env(), cwd=tmp_path)
    rows = [orjson.loads(line) for line in as_json.stdout.splitlines()]
    assert {row["uid"] for row in rows} == dead and {row["sink"] for row in rows} == {"picky"}


def test_redelivered_dead_letters_reach_the_sink_and_are_gone(store: tuple[Path, set[str], Path],
                                                              tmp_path: Path) -> None:
    path, dead, out = store
    before = out.read_bytes().splitlines()
    redelivered = run_cli("dead-letters", "--checkpoints", str(path), "--redeliver", "--sink", f"file:{out}",
                          env=cli_env(), cwd=tmp_path)
    assert redelivered.returncode == 0, redelivered.stderr
    assert f"{len(dead)} dead letters sent again: {len(dead)} delivered, 0 refused again" in redelivered.stderr
    lines = out.read_bytes().splitlines()
    assert lines[: len(before)] == before  # the alerts the file held already are not written again
    assert {orjson.loads(line)["finding_info"]["uid"] for line in lines[len(before) :]} == dead
    again = run_cli("dead-letters", "--checkpoints", str(path), env=cli_env(), cwd=tmp_path)
    assert again.returncode == 0 and "no dead letters" in again.stderr
    with Checkpoints(path) as checkpoints:
        assert checkpoints.dead_letters() == [] and checkpoints.counts()["outbox"] == 0


def test_redeliver_needs_a_sink_and_a_missing_store_is_a_clear_error(tmp_path: Path) -> None:
    no_sink = run_cli("dead-letters", "--redeliver", "--checkpoints", str(tmp_path / "c.sqlite"), env=cli_env(),
                      cwd=tmp_path)
    assert no_sink.returncode == 2 and "--redeliver needs at least one --sink" in no_sink.stderr
    missing = run_cli("dead-letters", "--checkpoints", str(tmp_path / "none.sqlite"), env=cli_env(), cwd=tmp_path)
    assert missing.returncode == 1 and "no checkpoint store at" in missing.stderr
