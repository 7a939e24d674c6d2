"""Ingestion end to end with real gzip files, a real DuckDB and the moto S3 emulator.

Part of the input is real: CloudTrail records recorded while detonating Stratus Red Team attack techniques
(DataDog/stratus-red-team, docs/detonation-logs, Apache License 2.0; see the README and LICENSE beside the data in
shared/data/stratus-red-team-detonation-logs/). Each file there is a JSON array; the tests wrap it into CloudTrail's
``{"Records": [...]}`` gzip files.
"""

from __future__ import annotations

import gzip
import json
import os
from pathlib import Path

import orjson
import pytest

from cloudwarden.trail.ingest import ingest
from cloudwarden.trail.sources import LocalSource, S3Source
from cloudwarden.trail.store import TrailStore, default_store_path
from tests.trail.helpers import ACCOUNT, STRATUS_DIR, assumed_role, cloudtrail_key, event, iam_user, write_log

STRATUS_FILES = sorted(STRATUS_DIR.glob("*.json"))


def stratus_logs(folder: Path) -> dict[str, int]:
    """Every Stratus technique as one CloudTrail log file; returns file name → record count."""
    counts = {}
    for path in STRATUS_FILES:
        records = json.loads(path.read_text(encoding="utf-8"))
        name = f"{path.stem}.json.gz"
        write_log(folder / name, records)
        counts[name] = len(records)
    return counts


@pytest.mark.skipif(not STRATUS_FILES, reason="shared/data/stratus-red-team-detonation-logs is not there")
def test_stratus_red_team_logs_ingest_exactly_with_principals(tmp_path: Path) -> None:
    counts = stratus_logs(tmp_path / "logs")
    assert len(counts) == 35 and sum(counts.values()) == 310
    with TrailStore(tmp_path / "trail.duckdb") as store:
        summary = ingest(store, LocalSource(tmp_path / "logs"))
        assert (summary.files_read, summary.events_added, summary.bad_files, summary.bad_records) == (35, 310, [], [])
        per_file = dict(
            store.connection.execute(
                "SELECT regexp_extract(source_file, '[^/]+$'), count(*) FROM events GROUP BY ALL"
            ).fetchall()
        )
        assert per_file == counts
        manifest = dict(
            store.connection.execute("SELECT regexp_extract(location, '[^/]+$'), events FROM ingested_files").fetchall()
        )
        assert manifest == counts

        def principal_of(event_id: str) -> tuple:
            return store.connection.execute(
                "SELECT principal, principal_type, principal_name, session_name, access_key_id FROM events "
                "WHERE event_id = ?",
                [event_id],
            ).fetchone()

        # aws.persistence.iam-create-admin-user: an IAM user attaches AdministratorAccess
        assert principal_of("083dc4ad-e264-46bc-a407-d0dd31b58bdc") == (
            "arn:aws:iam::229654561268:user/christophe",
            "IAMUser",
            "christophe",
            None,
            "AKIAOZUDECYXYM4ONAN4",
        )
        # aws.credential-access.ec2-get-password-data: an assumed role, normalised to the role
        assert principal_of("450230d4-b39e-4a18-a6a0-d07a6e2105cb") == (
            "arn:aws:iam::457448411975:role/stratus-red-team-ec2-get-password-data-role",
            "AssumedRole",
            "stratus-red-team-ec2-get-password-data-role",
            "aws-go-sdk-1722375070115152000",
            "ASIANQQHHS551LWULIWD",
        )
        # aws.lateral-movement.ec2-serial-console-send-ssh-public-key: an Identity Center session
        sso = principal_of("37ba412b-f943-44f2-ae48-4527f6e789d9")
        assert sso[1:4] == (
            "IdentityCenterUser",
            "AWSReservedSSO_account-admin_599c9e90e350d2ff",
            "randomca0L529zwNAY@gmail.com",
        )
        assert sso[0] == (
            "arn:aws:iam::844015365555:role/aws-reserved/sso.amazonaws.com/"
            "AWSReservedSSO_account-admin_599c9e90e350d2ff"
        )
        # aws.persistence.sts-federation-token: a federated user
        assert principal_of("91529247-c4c4-4793-afc8-d70bbcfe9d19")[:3] == (
            "arn:aws:sts::742491224508:federated-user/stratus_red_team",
            "FederatedUser",
            "stratus_red_team",
        )
        types = dict(store.connection.execute("SELECT principal_type, count(*) FROM events GROUP BY ALL").fetchall())
        assert types == {"IAMUser": 241, "AssumedRole": 64, "IdentityCenterUser": 4, "FederatedUser": 1}


def test_incremental_second_run_reads_nothing_new(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    write_log(logs / cloudtrail_key(name="1"), [event(event_id=f"a{i}") for i in range(5)])
    write_log(logs / cloudtrail_key(name="2"), [event(event_id=f"b{i}") for i in range(3)])
    # digest files are not logs
    write_log(logs / f"AWSLogs/{ACCOUNT}/CloudTrail-Digest/us-east-1/2026/11/20/digest.json.gz", [])
    with TrailStore(tmp_path / "trail.duckdb") as store:
        first = ingest(store, LocalSource(logs))
        assert (first.files_read, first.events_added) == (2, 8)
        second = ingest(store, LocalSource(logs))
        assert (second.files_read, second.files_skipped, second.events_added) == (0, 2, 0)

        write_log(logs / cloudtrail_key(name="3"), [event(event_id="c0"), event(event_id="a0")])
        third = ingest(store, LocalSource(logs))
        assert (third.files_read, third.files_skipped, third.events_added, third.duplicates) == (1, 2, 1, 1)

        # the same events again in another file (a re-delivered or copied log) add nothing
        write_log(tmp_path / "copy" / "again.json.gz", [event(event_id=f"a{i}") for i in range(5)] * 2)
        again = ingest(store, LocalSource(tmp_path / "copy"))
        assert (again.events_read, again.events_added, again.duplicates) == (10, 0, 10)

        # a changed file is read again
        changed = logs / cloudtrail_key(name="2")
        write_log(changed, [event(event_id=f"b{i}") for i in range(4)])
        os.utime(changed, ns=(1, 1))
        fourth = ingest(store, LocalSource(logs))
        assert (fourth.files_read, fourth.events_added) == (1, 1)
        assert store.count_events() == 10


def test_bad_files_are_not_read_again_unless_asked(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    (logs).mkdir()
    (logs / "bad.json").write_bytes(b"{not json")
    with TrailStore(tmp_path / "trail.duckdb") as store:
        assert len(ingest(store, LocalSource(logs)).bad_files) == 1
        assert ingest(store, LocalSource(logs)).files_skipped == 1
        assert len(ingest(store, LocalSource(logs), retry_bad=True).bad_files) == 1


@pytest.mark.parametrize("cpus", [1, 2])
def test_batches_smaller_than_a_run_keep_everything(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cpus: int) -> None:
    # on one CPU the batches are written in the reading thread, else in a writer thread beside it
    monkeypatch.setattr("cloudwarden.trail.ingest.usable_cpus", lambda: cpus)
    logs = tmp_path / "logs"
    for n in range(6):
        write_log(
            logs / f"{n}.json.gz",
            [event(event_id=f"{n}-{i}", when=f"2026-11-2{n}T10:00:0{i}Z") for i in range(7)] + [event(event_id="0-0")],
        )
    with TrailStore(tmp_path / "trail.duckdb") as store:
        summary = ingest(store, LocalSource(logs), batch_rows=10, workers=3)
        assert (summary.events_read, summary.events_added) == (48, 42)
        assert store.count_events() == 42


def test_default_store_follows_xdg(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    assert default_store_path() == tmp_path / "cloudwarden" / "trail.duckdb"
    monkeypatch.delenv("XDG_DATA_HOME")
    assert default_store_path() == Path.home() / ".local" / "share" / "cloudwarden" / "trail.duckdb"


def test_s3_source_with_organisation_trail_layout(aws, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    s3 = aws.client("s3")
    s3.create_bucket(Bucket="trail-bucket")
    keys = {
        cloudtrail_key(name="one"): [event(event_id="s3-1", identity=iam_user("alice"))],
        cloudtrail_key(account="444455556666", region="eu-west-1", name="two", org="o-abc123"): [
            event(event_id="s3-2", identity=assumed_role("admin", "bob")),
            event(event_id="s3-3", identity=assumed_role("admin", "bob")),
        ],
        "AWSLogs/o-abc123/444455556666/CloudTrail/eu-west-1/2026/11/20/broken.json.gz": None,
        "elsewhere/not-a-log.txt": [event()],
    }
    for key, records in keys.items():
        body = b"\x1f\x8b\x08broken" if records is None else gzip.compress(orjson.dumps({"Records": records}))
        s3.put_object(Bucket="trail-bucket", Key=key, Body=body)
    source = S3Source(aws.context().client("s3"), "trail-bucket", "AWSLogs/")
    with TrailStore(tmp_path / "trail.duckdb") as store:
        summary = ingest(store, source)
        assert (summary.files_listed, summary.files_read, summary.events_added) == (3, 3, 3)
        [bad] = summary.bad_files
        assert (
            bad.location
            == "s3://trail-bucket/AWSLogs/o-abc123/444455556666/CloudTrail/eu-west-1/2026/11/20/broken.json.gz"
        )
        assert "gzip" in bad.reason
        versions = store.connection.execute("SELECT version FROM ingested_files WHERE events > 0").fetchall()
        assert all(len(v[0]) == 32 for v in versions)  # S3 ETags
        assert ingest(store, source).files_skipped == 3
