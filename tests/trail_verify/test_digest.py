"""The verification logic against a signed digest chain, in a folder and in the emulator's S3.

Each case tampers with a copy of the same trail and asserts the whole report: every digest and log
file, in order, with its status.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from cloudwarden.trail.digest import Report, Result, StaticKeyRing, Status, Window, parse_time, verify_trail
from cloudwarden.trail.digest_sources import LocalDigestStore, S3DigestStore
from tests.trail_verify.builder import BUCKET, PREFIX, Trail

V, MOD, DEL, NC = Status.VALID, Status.MODIFIED, Status.DELETED, Status.NOT_COVERED
BAD_SIG, GAP, UNKNOWN, MALFORMED = Status.INVALID_SIGNATURE, Status.CHAIN_GAP, Status.UNKNOWN_KEY, Status.MALFORMED

Verify = Callable[..., tuple[Report, Callable[[str], str]]]


@pytest.fixture(params=["folder", "s3"])
def run(request: pytest.FixtureRequest, tmp_path: Path, signing_key: rsa.RSAPrivateKey) -> Verify:
    """Verify a trail where it lives: written to a folder, or uploaded to the emulator's S3."""

    def verify(trail: Trail, key: rsa.RSAPrivateKey = signing_key, window: Window | None = None):
        keys = StaticKeyRing([key.public_key()])
        if request.param == "folder":
            root = trail.write(tmp_path / "trail")
            store = LocalDigestStore(root)
            return verify_trail(store, keys, window), lambda k: str(root / k)
        aws = request.getfixturevalue("aws")
        trail.upload(aws.client("s3"))
        store = S3DigestStore(aws.context().client("s3"), BUCKET, PREFIX)
        return verify_trail(store, keys, window), lambda k: f"s3://{BUCKET}/{k}"

    return verify


def statuses(report: Report, where: Callable[[str], str]) -> list[tuple[str, Status, str]]:
    return [(r.kind, r.status, r.location) for r in report.results]


def expected(where: Callable[[str], str], digests: list[tuple[str, Status]], logs: list[tuple[str, Status]]):
    return [("digest", s, where(k)) for k, s in digests] + [("log", s, where(k)) for k, s in sorted(logs)]


def all_logs(trail: Trail, status: Status = V) -> dict[str, Status]:
    return {key: status for hour in trail.logs for key in hour}


def reason(report: Report, location: str, status: Status) -> str:
    (match,) = [r for r in report.results if r.location == location and r.status is status]
    return match.reason


def test_an_untouched_trail_verifies(run: Verify, trail: Trail) -> None:
    report, where = run(trail)
    assert statuses(report, where) == expected(where, [(d, V) for d in trail.digests], list(all_logs(trail).items()))
    assert report.intact
    assert report.counts("digest") == {V: 3} and report.counts("log") == {V: 6}


def test_a_log_file_with_one_byte_changed_is_modified(run: Verify, trail: Trail) -> None:
    target = trail.logs[1][0]
    content = gzip.decompress(trail.objects[target])
    changed = content.replace(b"PutBucketPolicy", b"PutBucketPolicz", 1)
    assert len(changed) == len(content) and changed != content
    trail.objects[target] = gzip.compress(changed)
    report, where = run(trail)
    logs = all_logs(trail) | {target: MOD}
    assert statuses(report, where) == expected(where, [(d, V) for d in trail.digests], list(logs.items()))
    assert reason(report, where(target), MOD).startswith("sha256 ")
    assert not report.intact


def test_a_deleted_log_file_is_reported_deleted(run: Verify, trail: Trail) -> None:
    target = trail.logs[2][1]
    del trail.objects[target]
    report, where = run(trail)
    logs = all_logs(trail) | {target: DEL}
    assert statuses(report, where) == expected(where, [(d, V) for d in trail.digests], list(logs.items()))


def test_a_log_file_in_no_digest_is_not_covered(run: Verify, trail: Trail) -> None:
    forged = trail.logs[1][0].replace("T1105Z_10", "T1120Z_99")
    trail.objects[forged] = gzip.compress(b'{"Records": []}')
    report, where = run(trail)
    logs = all_logs(trail) | {forged: NC}
    assert statuses(report, where) == expected(where, [(d, V) for d in trail.digests], list(logs.items()))
    assert reason(report, where(forged), NC) == "in no digest"


def test_a_log_file_newer_than_the_newest_digest_is_pending_not_a_failure(run: Verify, trail: Trail) -> None:
    newer = trail.logs[2][1].replace("T1235Z_21", "T1310Z_31")
    trail.objects[newer] = gzip.compress(b'{"Records": []}')
    report, where = run(trail)
    logs = all_logs(trail) | {newer: Status.PENDING}
    assert statuses(report, where) == expected(where, [(d, V) for d in trail.digests], list(logs.items()))
    assert report.intact


def test_an_altered_signature_is_invalid_and_its_logs_are_not_covered(run: Verify, trail: Trail) -> None:
    target = trail.digests[1]
    signature = trail.signatures[target]
    trail.signatures[target] = ("0" if signature[0] != "0" else "1") + signature[1:]
    report, where = run(trail)
    logs = all_logs(trail) | dict.fromkeys(trail.logs[1], NC)
    digests = [(trail.digests[0], V), (target, BAD_SIG), (trail.digests[2], V)]
    assert statuses(report, where) == expected(where, digests, list(logs.items()))
    assert "does not verify" in reason(report, where(target), BAD_SIG)
    assert "which did not verify" in reason(report, where(trail.logs[1][0]), NC)


def test_a_digest_deleted_from_the_middle_is_a_chain_gap(run: Verify, trail: Trail) -> None:
    removed = trail.digests[1]
    del trail.objects[removed]
    report, where = run(trail)
    logs = all_logs(trail) | dict.fromkeys(trail.logs[1], NC)
    digests = [(trail.digests[0], V), (trail.digests[2], GAP)]
    assert statuses(report, where) == expected(where, digests, list(logs.items()))
    assert reason(report, where(trail.digests[2]), GAP) == f"previous digest {removed} is missing"


def test_an_altered_previous_hash_is_a_chain_gap_and_an_invalid_signature(run: Verify, trail: Trail) -> None:
    target = trail.digests[1]
    fields = trail.digest_json(1)
    fields["previousDigestHashValue"] = "0" * 64
    trail.replace_digest(1, fields)
    report, where = run(trail)
    logs = all_logs(trail) | dict.fromkeys(trail.logs[1], NC)
    # The altered digest fails both checks; the next one no longer links to what it now contains.
    digests = [(trail.digests[0], V), (target, BAD_SIG), (target, GAP), (trail.digests[2], GAP)]
    assert statuses(report, where) == expected(where, digests, list(logs.items()))
    assert reason(report, where(target), GAP).startswith("previousDigestHashValue does not match")
    assert reason(report, where(trail.digests[2]), GAP).startswith("previousDigestHashValue does not match")


def test_a_wrong_public_key_proves_nothing(run: Verify, trail: Trail, other_key: rsa.RSAPrivateKey) -> None:
    report, where = run(trail, key=other_key)
    assert statuses(report, where) == expected(
        where, [(d, UNKNOWN) for d in trail.digests], list(all_logs(trail, NC).items())
    )
    assert not report.intact


def test_a_key_with_the_right_fingerprint_but_wrong_value_is_an_invalid_signature(
    tmp_path: Path, trail: Trail, signing_key: rsa.RSAPrivateKey, other_key: rsa.RSAPrivateKey
) -> None:
    from tests.trail_verify.builder import fingerprint

    keys = StaticKeyRing()
    keys.add(other_key.public_key(), fingerprint(signing_key.public_key()))
    report = verify_trail(LocalDigestStore(trail.write(tmp_path)), keys)
    assert [r.status for r in report.results if r.kind == "digest"] == [BAD_SIG] * 3


@pytest.mark.parametrize(
    ("damage", "why"),
    [
        (lambda data: data[: len(data) // 2], "truncated gzip file"),
        (lambda data: gzip.compress(b"this is not json {"), "not JSON"),
        (lambda data: _without(data, "digestEndTime"), "missing or non-string field digestEndTime"),
        (lambda data: _without(data, "logFiles"), "missing or non-list field logFiles"),
        (lambda data: b"plain text", "not a valid gzip file"),
    ],
    ids=["truncated-gzip", "not-json", "no-end-time", "no-log-files", "not-gzip"],
)
def test_a_malformed_digest_is_reported_and_the_rest_still_verified(
    run: Verify, trail: Trail, damage: Callable[[bytes], bytes], why: str
) -> None:
    target = trail.digests[1]
    trail.objects[target] = damage(trail.objects[target])
    report, where = run(trail)
    logs = all_logs(trail) | dict.fromkeys(trail.logs[1], NC)
    digests = [(trail.digests[0], V), (target, MALFORMED), (trail.digests[2], GAP)]
    assert statuses(report, where) == expected(where, digests, list(logs.items()))
    assert reason(report, where(target), MALFORMED).startswith(why)
    assert reason(report, where(trail.digests[2]), GAP) == f"previous digest {target} is unreadable"


def _without(data: bytes, name: str) -> bytes:
    fields = json.loads(gzip.decompress(data))
    del fields[name]
    return gzip.compress(json.dumps(fields).encode())


def test_a_time_window_reads_only_its_digests_without_a_gap_at_its_start(run: Verify, trail: Trail) -> None:
    window = Window(start=parse_time("2026-01-15T11:30:00Z"), end=parse_time("2026-01-15T12:40:00Z"))
    report, where = run(trail, window=window)
    logs = {key: V for key in trail.logs[1] + trail.logs[2]}
    assert statuses(report, where) == expected(
        where, [(trail.digests[1], V), (trail.digests[2], V)], list(logs.items())
    )


def test_a_copy_of_the_prefix_verifies_like_a_copy_of_the_bucket(
    tmp_path: Path, trail: Trail, signing_key: rsa.RSAPrivateKey
) -> None:
    root = trail.write(tmp_path, strip_prefix=True)
    report = verify_trail(LocalDigestStore(root), StaticKeyRing([signing_key.public_key()]))
    assert [r.status for r in report.results] == [V] * 9


def test_a_digest_copied_to_another_name_is_moved(tmp_path: Path, trail: Trail, signing_key: rsa.RSAPrivateKey) -> None:
    source = trail.digests[2]
    copied = source.replace("T130030Z", "T140030Z")
    trail.objects[copied] = trail.objects[source]
    trail.signatures[copied] = trail.signatures[source]
    report = verify_trail(LocalDigestStore(trail.write(tmp_path)), StaticKeyRing([signing_key.public_key()]))
    moved = [r for r in report.results if r.status is Status.MOVED]
    assert [r.location for r in moved] == [str(tmp_path / copied)]


def test_a_listed_object_outside_the_folder_is_never_read(tmp_path: Path, trail: Trail) -> None:
    store = LocalDigestStore(trail.write(tmp_path / "t"))
    (tmp_path / "secret.json.gz").write_bytes(b"x")
    assert store.key_for(BUCKET, "../../secret.json.gz", trail.digests[0]) is None
    with pytest.raises(Exception) as raised:
        store.read("../secret.json.gz")
    assert type(raised.value).__name__ == "MissingObject"


def test_results_carry_plain_json_fields() -> None:
    result = Result("log", MOD, "s3://b/k", "why")
    assert result.as_dict() == {"type": "log", "status": "modified", "path": "s3://b/k", "reason": "why"}
