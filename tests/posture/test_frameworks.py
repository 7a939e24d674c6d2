"""Framework catalogues as data, the per-control status, and the generated rules reference."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from pathlib import Path

import pytest

from cloudwarden.findings.model import Status
from cloudwarden.findings.scan import ScanResult
from cloudwarden.posture.compliance import assess
from cloudwarden.posture.frameworks import Control, frameworks, get_framework
from cloudwarden.posture.registry import all_rules
from cloudwarden.report.rules_markdown import render_rules_markdown
from tests.findings.factories import finding

DOCS = Path(__file__).parents[2] / "docs" / "rules.md"


def test_cis_catalogue_has_all_63_controls_with_labels():
    cis = get_framework("cis-5.0")
    ids = [c.id for c in cis.controls]
    assert len(ids) == 63 and len(set(ids)) == 63
    assert {c.assessment for c in cis.controls} == {"Automated", "Manual"}
    assert {c.level for c in cis.controls} == {"L1", "L2"}
    assert {c.section for c in cis.controls} == {"1", "2", "3", "4", "5"}
    tls = next(c for c in cis.controls if c.id == "2.1.1")
    assert tls.title == "Ensure S3 Bucket Policy is set to deny HTTP requests"


def test_every_mapped_id_exists_in_its_catalogue():
    cis_ids = {c.id for c in get_framework("cis").controls}
    wa_ids = {c.id for c in get_framework("wa").controls}
    for rule in all_rules():
        assert set(rule.cis) <= cis_ids, rule.id
        assert set(rule.well_architected) <= wa_ids, rule.id
        assert rule.well_architected, f"{rule.id} maps to no Well-Architected question"
        assert all("." in f for f in rule.fsbp), rule.id


def test_coverage_counts_add_up():
    for framework in frameworks().values():
        automated, manual, total = framework.coverage()
        assert automated + manual == total == len(framework.controls)
        assert automated == sum(1 for c in framework.controls if framework.rules_for(c.id))


def test_unknown_framework_is_a_clear_error():
    with pytest.raises(KeyError, match="unknown framework 'sox'"):
        get_framework("sox")


def _result(findings, collected=("AWS::S3::Bucket",)):
    return ScanResult(account_id="123456789012", partition="aws", regions=["us-east-1"],
                      collected_at=datetime(2026, 11, 28, tzinfo=UTC), findings=findings,
                      collected_types=set(collected))


def _status(result, control_id, framework="cis-5.0"):
    return next(r for r in assess(get_framework(framework), result) if r.control.id == control_id)


def test_control_status_combines_the_deciding_rules():
    # 2.1.4 is decided by s3_bucket_public_access_block (bucket) and s3_account_public_access_block (account).
    bucket_rule = next(r for r in all_rules() if r.id == "s3_bucket_public_access_block").ref
    both = ("AWS::S3::Bucket", "AWS::S3::AccountSettings")
    passing = finding(Status.PASS, "a", rule=bucket_rule)
    failing = finding(Status.FAIL, "b", rule=bucket_rule)
    error = finding(Status.ERROR, "c", rule=bucket_rule, reason="AccessDenied on s3:GetPublicAccessBlock")

    assert _status(_result([passing], both), "2.1.4").status is Status.PASS
    fail = _status(_result([passing, failing, error], both), "2.1.4")
    assert fail.status is Status.FAIL and [f.resource_id for f in fail.failing] == ["b"]
    err = _status(_result([passing, error], both), "2.1.4")
    assert err.status is Status.ERROR and "AccessDenied on s3:GetPublicAccessBlock" in err.detail
    # Not collected in this scan (only buckets): ERROR, never PASS.
    partial = _status(_result([passing]), "2.1.4")
    assert partial.status is Status.ERROR and "not collected" in partial.detail
    # Muted failures do not fail the control.
    failing.muted_reason = "accepted"
    muted = _status(_result([passing, failing], both), "2.1.4")
    assert muted.status is Status.PASS and muted.muted == 1


def test_control_without_rules_is_manual_never_pass():
    # Every CIS control has a rule now; a catalogue entry that no rule names stands for a future control.
    cis = get_framework("cis-5.0")
    future = Control(id="9.9", title="A control no rule decides yet", section="5")
    with_future = dataclasses.replace(cis, controls=(*cis.controls, future))
    result = next(r for r in assess(with_future, _result([])) if r.control.id == "9.9")
    assert result.status is Status.MANUAL and "a person must decide" in result.detail


def test_rules_reference_in_docs_is_current():
    assert DOCS.read_text(encoding="utf-8") == render_rules_markdown(), (
        "docs/rules.md is stale: run `cloudwarden rules docs --output docs/rules.md`")
