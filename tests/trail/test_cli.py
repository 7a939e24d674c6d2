"""Every `cloudwarden trail` command through the real CLI (a subprocess), against a real store."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest

from tests.e2e.conftest import cli_env, run_cli
from tests.trail.helpers import ACCOUNT, assumed_role, event, iam_user, write_log

NOW = datetime.now(UTC).replace(microsecond=0)


def ago(**delta: float) -> str:
    return (NOW - timedelta(**delta)).strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.fixture(scope="module")
def trail(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    root = tmp_path_factory.mktemp("trail")
    env = cli_env(XDG_DATA_HOME=str(root / "data"))
    records = [
        event(
            "AttachUserPolicy",
            "iam.amazonaws.com",
            ago(hours=2),
            iam_user("alice"),
            "attach-1",
            requestParameters={"userName": "mallory", "policyArn": "arn:aws:iam::aws:policy/AdministratorAccess"},
            readOnly=False,
        ),
        event(
            "AttachUserPolicy",
            "iam.amazonaws.com",
            ago(days=10),
            assumed_role("deployer", "gh-run-7"),
            "attach-old",
            requestParameters={"userName": "svc", "policyArn": "arn:aws:iam::aws:policy/ReadOnly"},
        ),
        event(
            "PutBucketPolicy",
            "s3.amazonaws.com",
            ago(hours=1),
            assumed_role("deployer", "gh-run-8"),
            "put-pol",
            requestParameters={"bucketName": "payroll_100%", "policy": "{}"},
        ),
        event(
            "GetObject",
            "s3.amazonaws.com",
            ago(minutes=20),
            iam_user("alice"),
            "get-1",
            requestParameters={"bucketName": "payroll-data", "key": "2026/salaries.csv"},
            errorCode="AccessDenied",
            errorMessage="Access Denied",
            userAgent="\x1b[31mevil-agent[/bold]",
        ),
        event(
            "RunInstances",
            "ec2.amazonaws.com",
            ago(minutes=10),
            iam_user("bob"),
            "run-1",
            requestParameters={"instanceType": "t3.micro"},
            responseElements={"instancesSet": {"items": [{"instanceId": "i-0123456789abcdef0"}]}},
            errorCode=None,
        ),
        event(
            "DeleteTrail",
            "cloudtrail.amazonaws.com",
            ago(minutes=5),
            iam_user("bob"),
            "del-1",
            errorCode="AccessDeniedException",
            sourceIPAddress="198.51.100.9",
        ),
    ]
    write_log(root / "logs" / f"AWSLogs/{ACCOUNT}/CloudTrail/us-east-1/2026/11/20/a.json.gz", records)
    result = run_cli("trail", "ingest", str(root / "logs"), "--no-progress", env=env, cwd=root)
    assert result.returncode == 0, result.stderr
    assert "6 events added" in result.stdout
    assert (root / "data" / "cloudwarden" / "trail.duckdb").exists()
    return root, env


def json_lines(*args: str, trail: tuple[Path, dict[str, str]]) -> list[dict]:
    root, env = trail
    result = run_cli("trail", *args, "--json", env=env, cwd=root)
    assert result.returncode == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines()]


def ids(rows: list[dict]) -> list[str]:
    return [row["event_id"] for row in rows]


def test_who(trail: tuple[Path, dict[str, str]]) -> None:
    assert ids(json_lines("who", "--action", "iam:AttachUserPolicy", trail=trail)) == ["attach-1", "attach-old"]
    recent = json_lines("who", "--action", "iam:AttachUserPolicy", "--since", "7d", trail=trail)
    assert ids(recent) == ["attach-1"]
    assert recent[0]["principal"] == f"arn:aws:iam::{ACCOUNT}:user/alice"
    assert ids(json_lines("who", "--action", "iam:Attach*", "--to", ago(days=5), trail=trail)) == ["attach-old"]
    assert ids(json_lines("who", "--action", "s3:*", trail=trail)) == ["get-1", "put-pol"]


def test_what_and_timeline_match_names_sessions_arns_and_keys(trail: tuple[Path, dict[str, str]]) -> None:
    assert ids(json_lines("what", "--principal", "alice", trail=trail)) == ["get-1", "attach-1"]
    assert ids(json_lines("what", "--principal", "AKIAALICEXXXXXXXXXXX", trail=trail)) == ["get-1", "attach-1"]
    assert ids(json_lines("what", "--principal", "deployer", trail=trail)) == ["put-pol", "attach-old"]
    assert ids(json_lines("what", "--principal", "gh-run-8", trail=trail)) == ["put-pol"]
    assert ids(
        json_lines("what", "--principal", f"arn:aws:iam::{ACCOUNT}:role/deployer", "--since", "3h", trail=trail)
    ) == ["put-pol"]
    timeline = json_lines("timeline", "--principal", "bob", trail=trail)
    assert ids(timeline) == ["run-1", "del-1"]
    assert timeline[1]["source_ip"] == "198.51.100.9" and timeline[1]["user_agent"] == "aws-cli/2.15.0"


def test_touched_matches_literally(trail: tuple[Path, dict[str, str]]) -> None:
    assert ids(json_lines("touched", "--resource", "payroll-data", trail=trail)) == ["get-1"]
    assert ids(json_lines("touched", "--resource", "i-0123456789abcdef0", trail=trail)) == ["run-1"]
    assert ids(json_lines("touched", "--resource", "payroll_100%", trail=trail)) == ["put-pol"]
    assert ids(json_lines("touched", "--resource", "payroll_", trail=trail)) == ["put-pol"]  # _ is not a wildcard
    assert ids(json_lines("touched", "--resource", "%", trail=trail)) == ["put-pol"]
    assert ids(json_lines("touched", "--resource", "arn:aws:iam::aws:policy/AdministratorAccess", trail=trail)) == [
        "attach-1"
    ]


def test_errors(trail: tuple[Path, dict[str, str]]) -> None:
    assert ids(json_lines("errors", "--code", "AccessDenied", trail=trail)) == ["del-1", "get-1"]
    assert ids(json_lines("errors", "--code", "AccessDenied", "--since", "15m", trail=trail)) == ["del-1"]
    assert ids(json_lines("errors", "--code", "AccessDenied", "--limit", "1", trail=trail)) == ["del-1"]
    assert ids(json_lines("errors", "--from", ago(minutes=30), "--to", ago(minutes=7), trail=trail)) == ["get-1"]


def test_tables_escape_untrusted_text(trail: tuple[Path, dict[str, str]]) -> None:
    root, env = trail
    result = run_cli("trail", "timeline", "--principal", "alice", env={**env, "COLUMNS": "400"}, cwd=root)
    assert result.returncode == 0, result.stderr
    assert "\x1b" not in result.stdout
    assert "?[31mevil-agent[/bold]" in result.stdout
    assert "2 rows" in result.stdout


def test_sql_is_read_only(trail: tuple[Path, dict[str, str]]) -> None:
    root, env = trail
    rows = json_lines("sql", "SELECT principal_type, count(*) AS n FROM events GROUP BY ALL ORDER BY 1", trail=trail)
    assert rows == [{"principal_type": "AssumedRole", "n": 2}, {"principal_type": "IAMUser", "n": 4}]
    for statement in (
        "DELETE FROM events",
        "DROP TABLE events",
        "COPY events TO 'out.csv'",
        "SELECT * FROM read_text('/etc/passwd')",
    ):
        result = run_cli("trail", "sql", statement, env=env, cwd=root)
        assert result.returncode == 1, (statement, result.stdout)
        assert "query failed" in result.stderr
    assert not (root / "out.csv").exists()
    assert json_lines("sql", "SELECT count(*) AS n FROM events", trail=trail) == [{"n": 6}]


def test_sql_injection_in_principal_matches_nothing(trail: tuple[Path, dict[str, str]]) -> None:
    for attempt in ("alice' OR '1'='1", "x'); DROP TABLE events; --", "%", "alice%"):
        assert json_lines("what", "--principal", attempt, trail=trail) == []
        assert json_lines("timeline", "--principal", attempt, trail=trail) == []
    assert json_lines("sql", "SELECT count(*) AS n FROM events", trail=trail) == [{"n": 6}]


def test_usage_errors_exit_2_and_missing_store_exits_1(trail: tuple[Path, dict[str, str]], tmp_path: Path) -> None:
    root, env = trail
    for args in (
        ("who", "--action", "iam:X", "--since", "yesterday"),
        ("who", "--action", "iam:X", "--from", "not-a-date"),
        ("who", "--action", "iam:X", "--since", "1d", "--from", "2026-01-01"),
    ):
        result = run_cli("trail", *args, env=env, cwd=root)
        assert result.returncode == 2, (args, result.stderr)
    missing = run_cli("trail", "who", "--action", "iam:X", "--store", str(tmp_path / "none.duckdb"), env=env, cwd=root)
    assert missing.returncode == 1 and "no trail store" in missing.stderr
    nothing = run_cli("trail", "ingest", str(tmp_path / "nowhere"), env=env, cwd=root)
    assert nothing.returncode == 1 and "no such file or folder" in nothing.stderr


def test_ingest_reports_bad_files_and_progress(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    write_log(logs / "good.json.gz", [event(event_id="g1"), "junk"])
    (logs / "broken.json.gz").write_bytes(b"\x1f\x8b\x08\x00broken")
    env = cli_env()
    store = tmp_path / "s.duckdb"
    result = run_cli("trail", "ingest", str(logs), "--store", str(store), env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "1 events added" in result.stdout and "1 bad" in result.stdout and "1 bad records" in result.stdout
    assert f"bad file {logs / 'broken.json.gz'}" in result.stderr.replace("\n", "")
    assert "record 1: record is str, not an object" in result.stderr.replace("\n", "")
    assert "2/2" in result.stderr  # the progress bar
    again = run_cli("trail", "ingest", str(logs), "--store", str(store), "--no-progress", env=env, cwd=tmp_path)
    assert "0 files read, 2 skipped" in again.stdout.replace("\n", " ")


def test_ingest_from_s3_through_the_cli(aws, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    s3 = aws.client("s3")
    s3.create_bucket(Bucket="org-trail")
    key = f"AWSLogs/o-abc123/{ACCOUNT}/CloudTrail/us-east-1/2026/11/20/{ACCOUNT}_CloudTrail_us-east-1_x.json.gz"
    s3.put_object(
        Bucket="org-trail",
        Key=key,
        Body=gzip.compress(
            orjson.dumps(
                {
                    "Records": [
                        event(
                            "StopLogging",
                            "cloudtrail.amazonaws.com",
                            ago(hours=1),
                            assumed_role("admin", "eve"),
                            "stop-1",
                        )
                    ]
                }
            )
        ),
    )
    env = cli_env(aws.endpoint_url)
    store = tmp_path / "s.duckdb"
    result = run_cli(
        "trail", "ingest", "s3://org-trail/AWSLogs/", "--store", str(store), "--no-progress", env=env, cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    assert "1 events added" in result.stdout
    rows = run_cli(
        "trail", "who", "--action", "cloudtrail:StopLogging", "--store", str(store), "--json", env=env, cwd=tmp_path
    )
    [row] = [json.loads(line) for line in rows.stdout.splitlines()]
    assert (row["principal"], row["session_name"]) == (f"arn:aws:iam::{ACCOUNT}:role/admin", "eve")
    manifest = run_cli(
        "trail", "sql", "SELECT location FROM ingested_files", "--store", str(store), "--json", env=env, cwd=tmp_path
    )
    assert json.loads(manifest.stdout) == {"location": f"s3://org-trail/{key}"}
