"""Every posture rule, PASS and FAIL, judged by cloudwarden's real collection and evaluation.

The cases live in ``rule_cases.py`` and ``cases_*.py`` (gathered by ``all_cases.py``); the meta-tests
below keep the table complete: a rule added to the registry without a PASS and a FAIL case fails the suite.
"""

from __future__ import annotations

from collections import Counter

import pytest

from cloudwarden.inventory.collect import SERVICES
from cloudwarden.posture.evaluator import evaluate
from cloudwarden.posture.registry import all_rules
from tests.conftest import verdict
from tests.posture.all_cases import CASES
from tests.posture.rule_cases import Case

RULES = {r.id: r for r in all_rules()}


@pytest.mark.parametrize("case", [c.param() for c in CASES])
def test_rule_verdict(case: Case, request: pytest.FixtureRequest) -> None:
    if case.inventory is not None:
        inventory, resource_id = case.inventory()
        findings = evaluate(inventory)
    else:
        assert case.seed is not None
        aws = request.getfixturevalue("aws")  # only seeded cases reset and use the emulator
        resource_id = case.seed(aws)
        if "iam" in case.services:
            # Have the credential report ready, so collection does not wait a poll interval for it.
            aws.client("iam").generate_credential_report()
        findings = aws.scan(services=list(case.services), regions=list(case.regions))

    finding = verdict(findings, case.rule_id, resource_id)
    assert finding.status == case.expected, f"{finding.status}: {finding.message} {finding.evidence}"
    for key, value in case.evidence.items():
        assert finding.evidence.get(key) == value, f"evidence[{key!r}]: {finding.evidence}"
    assert case.message in finding.message


def _covering(case: Case) -> bool:
    return not case.xfail  # a case expected to fail proves nothing about the rule


def test_every_rule_has_a_pass_and_a_fail_case() -> None:
    """Every rule needs a PASS and a FAIL case; a rule that only ever says MANUAL needs a MANUAL case."""
    covered = {(c.rule_id, c.expected) for c in CASES if _covering(c)}
    missing = [f"{rule_id}-{status}" for rule_id in RULES for status in ("PASS", "FAIL")
               if (rule_id, status) not in covered and (rule_id, "MANUAL") not in covered]
    assert not missing, f"rules without a case: {missing}"


def test_cases_name_known_rules_and_are_well_formed() -> None:
    unknown = sorted({c.rule_id for c in CASES} - set(RULES))
    assert not unknown, f"cases for unknown rules: {unknown}"
    duplicates = [case_id for case_id, n in Counter(c.id for c in CASES).items() if n > 1]
    assert not duplicates, f"duplicate case ids: {duplicates}"
    for case in CASES:
        assert case.expected in ("PASS", "FAIL", "MANUAL"), case.id
        assert (case.seed is None) != (case.inventory is None), f"{case.id}: give exactly one of seed, inventory"
        if case.inventory is not None:
            assert case.recorded_because, f"{case.id}: say why the emulator cannot produce this state"
            assert not case.services, f"{case.id}: a recorded inventory scans nothing"
        else:
            assert set(case.services) <= set(SERVICES), case.id
            # The scan must collect the rule's own resource type, or the rule is never judged.
            assert RULES[case.rule_id].service in case.services, f"{case.id}: scans {case.services}"
            assert case.regions, case.id
