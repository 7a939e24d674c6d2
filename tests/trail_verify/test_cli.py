"""``verify`` as a command, through typer's CliRunner on a one-command app (the lead registers it on
``trail_app``): exit codes 0/4/1, text and --json output, offline keys, S3 and ListPublicKeys."""

from __future__ import annotations

import gzip
import time
from pathlib import Path

import orjson
import pytest
import typer
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from typer.testing import CliRunner

from cloudwarden.cli.common import CommandError
from cloudwarden.cli.trail_verify import verify
from cloudwarden.demo.emulator import EMULATOR_CREDENTIALS
from cloudwarden.trail.digest_sources import CloudTrailKeyRing, SourceError
from tests.trail_verify.builder import BUCKET, PREFIX, Trail

app = typer.Typer()
app.command()(verify)
runner = CliRunner()


@pytest.fixture
def pem(tmp_path: Path, signing_key: rsa.RSAPrivateKey) -> Path:
    path = tmp_path / "cloudtrail-us-east-1.pem"
    path.write_bytes(
        signing_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return path


@pytest.fixture
def emulator_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in EMULATOR_CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.delenv("AWS_PROFILE", raising=False)


def test_an_intact_trail_exits_0_with_a_summary(tmp_path: Path, trail: Trail, pem: Path) -> None:
    root = trail.write(tmp_path / "trail")
    result = runner.invoke(app, [str(root), "--public-key", str(pem)])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert sum(line.startswith("digest valid ") or line.startswith("digest  valid") for line in lines) == 3
    assert "Digest files: 3 valid" in result.output
    assert "Log files: 6 valid" in result.output
    assert "Every digest and log file verified." in result.output


def test_tampering_exits_4_and_json_has_one_object_per_result(tmp_path: Path, trail: Trail, pem: Path) -> None:
    del trail.objects[trail.logs[0][1]]
    root = trail.write(tmp_path / "trail")
    result = runner.invoke(app, [str(root), "--public-key", str(pem), "--json"])
    assert result.exit_code == 4, result.output
    objects = [orjson.loads(line) for line in result.output.splitlines()]
    assert [o["type"] for o in objects] == ["digest"] * 3 + ["log"] * 6 + ["summary"]
    deleted = [o for o in objects if o.get("status") == "deleted"]
    assert deleted == [
        {
            "type": "log",
            "status": "deleted",
            "path": str(root / trail.logs[0][1]),
            "reason": "listed in a digest but missing",
        }
    ]
    assert objects[-1] == {
        "type": "summary",
        "digests": {"valid": 3},
        "logs": {"valid": 5, "deleted": 1},
        "intact": False,
    }


def test_text_output_names_the_problem(tmp_path: Path, trail: Trail, pem: Path) -> None:
    target = trail.logs[2][0]
    trail.objects[target] = gzip.compress(gzip.decompress(trail.objects[target]).replace(b"alice", b"alicf"))
    result = runner.invoke(app, [str(trail.write(tmp_path / "t")), "--public-key", str(pem)])
    assert result.exit_code == 4
    (line,) = [line for line in result.output.splitlines() if "MODIFIED" in line]
    assert line.startswith("log    MODIFIED") and target.rsplit("/", 1)[1] in line
    assert "Log files: 5 valid, 1 modified" in result.output
    assert "Integrity problems found (exit 4)." in result.output


def test_der_keys_in_a_folder_work_offline(tmp_path: Path, trail: Trail, signing_key: rsa.RSAPrivateKey) -> None:
    keys = tmp_path / "keys"
    keys.mkdir()
    # As ListPublicKeys returns it: DER PKCS#1.
    (keys / "a.der").write_bytes(
        signing_key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.PKCS1)
    )
    result = runner.invoke(app, [str(trail.write(tmp_path / "t")), "--public-keys-dir", str(keys), "--json"])
    assert result.exit_code == 0, result.output
    assert orjson.loads(result.output.splitlines()[-1])["intact"] is True


def test_a_time_window_limits_what_is_verified(tmp_path: Path, trail: Trail, pem: Path) -> None:
    del trail.objects[trail.logs[0][0]]  # outside the window: not looked at
    root = trail.write(tmp_path / "t")
    result = runner.invoke(
        app,
        [
            str(root),
            "--public-key",
            str(pem),
            "--json",
            "--start-time",
            "2026-01-15T11:30:00Z",
            "--end-time",
            "2026-01-15T12:40:00Z",
        ],
    )
    assert result.exit_code == 0, result.output
    assert orjson.loads(result.output.splitlines()[-1])["digests"] == {"valid": 2}


def test_a_bad_time_is_a_usage_error(tmp_path: Path, pem: Path) -> None:
    result = runner.invoke(app, [str(tmp_path), "--public-key", str(pem), "--start-time", "yesterday"])
    assert result.exit_code == 2


@pytest.mark.parametrize("case", ["no-such-folder", "empty-folder", "no-signatures", "bad-key-file"])
def test_verification_that_cannot_run_exits_1(tmp_path: Path, trail: Trail, pem: Path, case: str) -> None:
    root = tmp_path / "t"
    key = pem
    if case == "empty-folder":
        root.mkdir()
    elif case == "no-signatures":
        trail.signatures.clear()
        trail.write(root)
    elif case == "bad-key-file":
        trail.write(root)
        key = tmp_path / "key.pem"
        key.write_text("not a key")
    result = runner.invoke(app, [str(root), "--public-key", str(key)])
    assert result.exit_code == 1
    assert isinstance(result.exception, CommandError)
    assert "valid" not in result.output


def test_an_s3_source_verifies_through_the_emulator(aws, emulator_credentials: None, trail: Trail, pem: Path) -> None:
    trail.upload(aws.client("s3"))
    aws.client("s3").delete_object(Bucket=BUCKET, Key=trail.logs[1][1])
    result = runner.invoke(
        app, [f"s3://{BUCKET}/{PREFIX}", "--public-key", str(pem), "--endpoint-url", aws.endpoint_url, "--json"]
    )
    assert result.exit_code == 4, result.output
    objects = [orjson.loads(line) for line in result.output.splitlines() if line.startswith("{")]
    assert [o["path"] for o in objects if o.get("status") == "deleted"] == [f"s3://{BUCKET}/{trail.logs[1][1]}"]
    assert objects[-1]["digests"] == {"valid": 3}


def test_list_public_keys_not_implemented_is_an_error_never_valid(
    aws, emulator_credentials: None, tmp_path: Path, trail: Trail
) -> None:
    """The emulator does not implement cloudtrail:ListPublicKeys; without --public-key that must stop the
    command with an error naming the API, not report anything as valid."""
    root = trail.write(tmp_path / "t")
    started = time.monotonic()
    result = runner.invoke(app, [str(root), "--endpoint-url", aws.endpoint_url])
    assert result.exit_code == 1
    assert isinstance(result.exception, CommandError)
    assert "ListPublicKeys" in str(result.exception)
    assert "--public-key" in str(result.exception)
    assert "valid" not in result.output
    assert time.monotonic() - started < 120


def test_the_key_ring_raises_on_the_api_failure(aws) -> None:
    from datetime import UTC, datetime

    keys = CloudTrailKeyRing(aws.context())
    with pytest.raises(SourceError, match=r"cloudtrail:ListPublicKeys.* in us-east-1"):
        keys.load("us-east-1", datetime(2026, 1, 15, tzinfo=UTC), datetime(2026, 1, 16, tzinfo=UTC))
    assert keys.find("0" * 32) is None


def test_keys_from_list_public_keys_verify_the_trail(
    tmp_path: Path, trail: Trail, signing_key: rsa.RSAPrivateKey
) -> None:
    """The online path with a stubbed CloudTrail client (the emulator lacks ListPublicKeys): two pages, the key
    as DER PKCS#1 bytes with its fingerprint, as the API returns it."""
    from datetime import UTC, datetime

    from botocore.stub import ANY, Stubber

    from cloudwarden.aws.session import AwsContext
    from cloudwarden.trail.digest import verify_trail
    from cloudwarden.trail.digest_sources import LocalDigestStore
    from tests.trail_verify.builder import fingerprint

    context = AwsContext.create(endpoint_url="http://127.0.0.1:9", credentials=EMULATOR_CREDENTIALS)
    client = context.client("cloudtrail", "us-east-1")
    der = signing_key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.PKCS1)
    when = datetime(2026, 1, 1, tzinfo=UTC)
    with Stubber(client) as stub:
        stub.add_response(
            "list_public_keys", {"PublicKeyList": [], "NextToken": "page-2"}, {"StartTime": ANY, "EndTime": ANY}
        )
        stub.add_response(
            "list_public_keys",
            {
                "PublicKeyList": [
                    {
                        "Value": der,
                        "ValidityStartTime": when,
                        "ValidityEndTime": when,
                        "Fingerprint": fingerprint(signing_key.public_key()),
                    }
                ]
            },
            {"StartTime": ANY, "EndTime": ANY, "NextToken": "page-2"},
        )
        report = verify_trail(LocalDigestStore(trail.write(tmp_path)), CloudTrailKeyRing(context))
        stub.assert_no_pending_responses()
    assert report.intact and len(report.results) == 9
