"""The mutelist: matching, expiry, and clear errors for bad files."""

from __future__ import annotations

from datetime import date

import pytest

from cloudwarden.findings.model import Status
from cloudwarden.findings.mutelist import MutelistError, apply_mutelist, load_mutelist, parse_mutelist
from tests.findings.factories import finding

TODAY = date(2026, 11, 28)


def mutes(*entries):
    return parse_mutelist({"mutes": list(entries)})


@pytest.mark.parametrize("entry, muted", [
    ({"reason": "r"}, True),
    ({"reason": "r", "rule": "s3_bucket_no_public_*"}, True),
    ({"reason": "r", "rule": "iam_*"}, False),
    ({"reason": "r", "account": "123456789012"}, True),
    ({"reason": "r", "account": 111122223333}, False),
    ({"reason": "r", "region": "eu-*"}, False),
    ({"reason": "r", "resource": "acme-public-*"}, True),
    ({"reason": "r", "resource": "arn:aws:s3:::acme-public-assets"}, True),
    ({"reason": "r", "resource": "acme-private"}, False),
    ({"reason": "r", "tags": {"exposure": "pub*"}}, True),
    ({"reason": "r", "tags": {"exposure": "internal"}}, False),
    ({"reason": "r", "tags": {"owner": "*"}}, False),
    ({"reason": "r", "expires": "2026-12-31"}, True),
    ({"reason": "r", "expires": date(2026, 11, 28)}, False),  # expires that day: mutes nothing
])
def test_matching(entry, muted):
    target = finding(resource_id="acme-public-assets", tags={"exposure": "public"})
    apply_mutelist([target], mutes(entry), today=TODAY)
    assert (target.muted_reason == "r") is muted
    assert target.status is Status.FAIL  # the verdict is kept
    assert target.shown_status == ("MUTED" if muted else "FAIL")


def test_expired_entry_is_reported_and_mutes_nothing():
    target = finding()
    notices = apply_mutelist([target], mutes({"reason": "temporary", "rule": "s3_*", "expires": "2026-01-01"}),
                             today=TODAY)
    assert target.muted_reason is None
    assert len(notices) == 1 and "expired on 2026-01-01" in notices[0] and "temporary" in notices[0]


@pytest.mark.parametrize("data, message", [
    ([], 'list under "mutes"'),
    ({"mutes": "all"}, 'list under "mutes"'),
    ({"mutes": [{"rule": "x"}]}, "entry 1: a non-empty reason is required"),
    ({"mutes": [{"reason": "  "}]}, "reason is required"),
    ({"mutes": [{"reason": "r", "rules": "x"}]}, "unknown field(s) rules"),
    ({"mutes": [{"reason": "r", "expires": "next week"}]}, "expires must be a date"),
    ({"mutes": [{"reason": "r", "tags": ["a"]}]}, "tags must be a mapping"),
    ({"mutes": [{"reason": "r", "rule": ["a"]}]}, "rule must be a string"),
    ({"mutes": [{"reason": "r"}, "oops"]}, "entry 2: expected a mapping"),
])
def test_bad_entries_are_clear_errors(data, message):
    with pytest.raises(MutelistError) as caught:
        parse_mutelist(data)
    assert message in str(caught.value)


def test_bad_files_are_clear_errors(tmp_path):
    path = tmp_path / "mutelist.yaml"
    path.write_text("mutes: [unclosed")
    with pytest.raises(MutelistError, match="not valid YAML"):
        load_mutelist(path)
    path.write_text("!!python/object/apply:os.system ['true']")  # safe_load refuses it
    with pytest.raises(MutelistError):
        load_mutelist(path)
    with pytest.raises(MutelistError, match="cannot read"):
        load_mutelist(tmp_path / "missing.yaml")
