"""cloudwarden's bundled Sigma rules: they all load, cover CIS AWS Foundations v5.0 4.1-4.15, match their
example records and not their near misses, and fire on the Stratus Red Team detonations they are written for.

The examples (bundled_examples.yaml) are data: every bundled rule has at least one record it must match and one
it must not, and every check goes through RuleIndex, as the detector does. The correlation rules (cw_corr_*.yml)
have sequences of records that must raise exactly one alert, or none, through the detector's correlator.
"""

from __future__ import annotations

import json
import re
import tomllib
import uuid
from collections import Counter
from datetime import datetime, timedelta
from fnmatch import fnmatch
from pathlib import Path
from typing import Any

import pytest
import yaml

from cloudwarden.detect.bundled import bundled_rules_dir, short_id
from cloudwarden.detect.correlation import MemoryWindows
from cloudwarden.detect.engine import Detector
from cloudwarden.detect.index import RuleIndex
from cloudwarden.detect.sigma_rules import DetectionRule, load_rules
from tests.trail.helpers import SIGMA_DIR, STRATUS_DIR

EXAMPLES_FILE = Path(__file__).with_name("bundled_examples.yaml")
_EXAMPLE_DATA = yaml.safe_load(EXAMPLES_FILE.read_text(encoding="utf-8"))
EXAMPLES: dict[str, dict[str, list[dict[str, Any]]]] = {
    name: cases for name, cases in _EXAMPLE_DATA.items() if name[0] != "_"
}
CORRELATION_EXAMPLES: dict[str, dict[str, list[list[dict[str, Any]]]]] = _EXAMPLE_DATA["_correlations"]
CORRELATION_PREFIX = "cw_corr_"
PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"
needs_shared_data = pytest.mark.skipif(not STRATUS_DIR.is_dir(), reason="../shared/data is not beside this clone")


def single_event_files() -> list[Path]:
    """The bundled rule files of single-event rules (one rule each); correlation files are tested below."""
    return sorted(p for p in bundled_rules_dir().glob("*.yml") if not p.name.startswith(CORRELATION_PREFIX))


@pytest.fixture(scope="module")
def bundled() -> list[DetectionRule]:
    rules, problems = load_rules(single_event_files())
    assert problems == []
    return rules


def name_of(rule: DetectionRule) -> str:
    name = short_id(rule)
    assert name is not None, f"{rule.source} has no cloudwarden.<short id> tag"
    return name


@pytest.fixture(scope="module")
def by_short_id(bundled: list[DetectionRule]) -> dict[str, DetectionRule]:
    return {name_of(rule): rule for rule in bundled}


@pytest.fixture(scope="module")
def index(bundled: list[DetectionRule]) -> RuleIndex:
    return RuleIndex(bundled)


def fired(index: RuleIndex, records: list[dict[str, Any]]) -> Counter[str]:
    return Counter(name_of(rule) for record in records for rule in index.matches(record))


def stratus(technique: str) -> list[dict[str, Any]]:
    return json.loads((STRATUS_DIR / f"{technique}.json").read_text())


# --- the rule files -------------------------------------------------------------------------------------------


def test_every_bundled_rule_file_loads_into_one_rule(bundled: list[DetectionRule]) -> None:
    files = single_event_files()
    assert len(files) >= 15
    assert sorted(Path(rule.source).name for rule in bundled) == [path.name for path in files]
    assert list(bundled_rules_dir().glob("*.yaml")) == []  # one spelling, the one the package data ships


def test_each_rule_is_named_by_its_short_id_and_carries_it_once(bundled: list[DetectionRule]) -> None:
    for rule in bundled:
        tags = [tag for tag in rule.tags if tag.startswith("cloudwarden.")]
        assert len(tags) == 1, rule.source
        assert Path(rule.source).name == f"cw_{name_of(rule)}.yml"


def test_ids_are_fixed_uuid4s_unique_among_themselves(bundled: list[DetectionRule]) -> None:
    ids = [rule.id for rule in bundled]
    assert len(set(ids)) == len(ids)
    for rule in bundled:
        assert uuid.UUID(rule.id).version == 4, rule.source
    assert len({name_of(rule) for rule in bundled}) == len(bundled)


@needs_shared_data
def test_ids_do_not_clash_with_sigmahq(bundled: list[DetectionRule]) -> None:
    sigmahq, problems = load_rules([SIGMA_DIR])
    assert problems == [] and len(sigmahq) == 57
    assert {rule.id for rule in bundled}.isdisjoint(rule.id for rule in sigmahq)
    assert {rule.title for rule in bundled}.isdisjoint(rule.title for rule in sigmahq)


def test_every_rule_has_the_metadata_a_sigma_rule_should(bundled: list[DetectionRule]) -> None:
    for rule in bundled:
        sigma = rule.sigma
        assert sigma.author == "cloudwarden", rule.source
        assert sigma.status is not None and sigma.date is not None, rule.source
        assert rule.description and sigma.references and sigma.falsepositives, rule.source
        assert sigma.level is not None, rule.source
        assert all(ref.startswith("https://") for ref in sigma.references), rule.source
        assert all(tag.count(".") >= 1 and tag == tag.lower() for tag in rule.tags), rule.source


def test_every_cis_monitoring_control_is_covered(bundled: list[DetectionRule]) -> None:
    covered = {cis for rule in bundled for cis in rule.cis}
    assert {f"4.{n}" for n in range(1, 16)} <= covered
    for rule in bundled:
        assert all(cis.startswith("4.") for cis in rule.cis), rule.source  # only monitoring controls are tagged


def test_attack_tags_name_techniques_and_their_tactics(bundled: list[DetectionRule]) -> None:
    tactics = {
        "initial-access", "execution", "persistence", "privilege-escalation", "stealth", "defense-impairment",
        "credential-access", "discovery", "lateral-movement", "collection", "exfiltration", "impact",
    }  # fmt: skip
    for rule in bundled:
        attack_tags = [tag.removeprefix("attack.") for tag in rule.tags if tag.startswith("attack.")]
        named_tactics = [tag for tag in attack_tags if not tag.startswith("t")]
        assert set(named_tactics) <= tactics, rule.source
        assert bool(rule.attack) == bool(named_tactics), rule.source  # a technique comes with its tactic


def test_the_package_data_ships_the_rule_files() -> None:
    patterns = tomllib.loads(PYPROJECT.read_text())["tool"]["setuptools"]["package-data"]["cloudwarden"]
    relative = bundled_rules_dir().relative_to(Path(__file__).resolve().parents[2] / "src" / "cloudwarden")
    for path in bundled_rules_dir().glob("*.yml"):
        name = str(relative / path.name)
        assert any(fnmatch(name, pattern) for pattern in patterns), f"no [tool.setuptools.package-data] for {name}"


# --- examples -------------------------------------------------------------------------------------------------


def test_the_examples_cover_every_bundled_rule_both_ways(by_short_id: dict[str, DetectionRule]) -> None:
    assert set(EXAMPLES) == set(by_short_id)
    for name, cases in EXAMPLES.items():
        assert set(cases) == {"match", "no_match"}, name
        assert cases["match"] and cases["no_match"], name


EXAMPLE_CASES = [
    pytest.param(name, expected, record, id=f"{name}-{kind}-{n}")
    for name, cases in EXAMPLES.items()
    for kind, expected in (("match", True), ("no_match", False))
    for n, record in enumerate(cases.get(kind) or [])
]


@pytest.mark.parametrize("name, expected, record", EXAMPLE_CASES)
def test_example_records(
    by_short_id: dict[str, DetectionRule], index: RuleIndex, name: str, expected: bool, record: dict[str, Any]
) -> None:
    rule = by_short_id[name]
    through_index = rule in index.matches(record)
    assert through_index is expected
    assert rule.match(record) is expected


def test_the_index_gives_the_brute_force_answer_on_every_example(
    bundled: list[DetectionRule], index: RuleIndex
) -> None:
    records = [record for cases in EXAMPLES.values() for kind in ("match", "no_match") for record in cases[kind]]
    for record in records:
        assert index.matches(record) == [rule for rule in bundled if rule.match(record)]


# --- Stratus Red Team detonations -----------------------------------------------------------------------------


@needs_shared_data
@pytest.mark.parametrize(
    "technique, expected",
    [
        ("aws.defense-evasion.cloudtrail-stop", {"cloudtrail_config_changed", "cloudtrail_tampering"}),
        ("aws.defense-evasion.cloudtrail-delete", {"cloudtrail_config_changed", "cloudtrail_tampering"}),
        ("aws.defense-evasion.cloudtrail-event-selectors", {"cloudtrail_tampering"}),
        ("aws.defense-evasion.vpc-remove-flow-logs", {"vpc_flow_logs_deleted"}),
        # Refused by an SCP, yet CIS 4.15 counts attempts; the refusal itself is CIS 4.1.
        ("aws.defense-evasion.organizations-leave", {"organizations_changed", "unauthorized_api_calls"}),
        ("aws.initial-access.console-login-without-mfa", {"console_login_without_mfa"}),
        # The record gives the range as 208.236.235.254/0 (anonymised 0.0.0.0/0): any /0 is the whole internet.
        (
            "aws.exfiltration.ec2-security-group-open-port-22-ingress",
            {"security_group_open_to_internet", "security_group_changed"},
        ),
        ("aws.persistence.iam-create-admin-user", {"admin_policy_attached", "iam_policy_changed"}),
        ("aws.persistence.iam-create-backdoor-role", {"admin_policy_attached", "role_trust_account_principal"}),
        ("aws.persistence.iam-backdoor-role", {"role_trust_account_principal"}),
        # christophe creates a key for stratus-red-team-backdoor-u-user.
        ("aws.persistence.iam-backdoor-user", {"access_key_for_other_user"}),
        ("aws.execution.ssm-start-session", {"ssm_interactive_session"}),
        ("aws.lateral-movement.ec2-instance-connect", {"ec2_instance_connect"}),
        ("aws.lateral-movement.ec2-serial-console-send-ssh-public-key", {"ec2_instance_connect"}),
        ("aws.credential-access.ec2-get-password-data", {"unauthorized_api_calls"}),
    ],
)
def test_stratus_detonations_fire_the_bundled_rules_written_for_them(
    index: RuleIndex, technique: str, expected: set[str]
) -> None:
    assert expected <= set(fired(index, stratus(technique)))


@needs_shared_data
def test_the_admin_user_detonation_also_shows_its_access_key(index: RuleIndex) -> None:
    # CreateUser, then AttachUserPolicy AdministratorAccess, then CreateAccessKey for the new user, by christophe.
    assert fired(index, stratus("aws.persistence.iam-create-admin-user")) == Counter(
        {"admin_policy_attached": 1, "iam_policy_changed": 1, "access_key_for_other_user": 1}
    )


@needs_shared_data
def test_reading_secrets_fires_no_bundled_rule(index: RuleIndex) -> None:
    # An IAM user listing and reading secrets, all allowed: no bundled rule is about reading data, so none fires.
    records = stratus("aws.credential-access.secretsmanager-retrieve-secrets")
    assert len(records) == 21
    assert fired(index, records) == Counter()


@needs_shared_data
def test_every_stratus_record_gets_the_brute_force_answer(bundled: list[DetectionRule], index: RuleIndex) -> None:
    records = [record for path in sorted(STRATUS_DIR.glob("*.json")) for record in json.loads(path.read_text())]
    for record in records:
        assert index.matches(record) == [rule for rule in bundled if rule.match(record)]


# --- correlation rules ----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def detector() -> Detector:
    loaded = Detector.load()
    assert loaded.problems == []
    return loaded


def correlation_name(correlation: Any) -> str:
    name = short_id(correlation.header)
    assert name is not None, f"{correlation.header.source} has no cloudwarden.<short id> tag"
    return name


def test_each_correlation_file_holds_one_correlation_named_by_its_short_id(detector: Detector) -> None:
    files = sorted(p.name for p in bundled_rules_dir().glob(f"{CORRELATION_PREFIX}*.yml"))
    assert len(files) >= 3
    assert sorted(Path(c.header.source).name for c in detector.correlations) == files
    kinds = {c.kind for c in detector.correlations}
    assert {"event_count", "value_count"} <= kinds and kinds & {"temporal", "temporal_ordered"}
    for correlation in detector.correlations:
        assert Path(correlation.header.source).name == f"cw_{correlation_name(correlation)}.yml"
        assert [tag for tag in correlation.header.tags if tag.startswith("cloudwarden.")] == [
            f"cloudwarden.{correlation_name(correlation)}"
        ]


def test_correlations_have_the_metadata_and_tags_a_bundled_rule_should(detector: Detector) -> None:
    ids = [rule.id for rule in detector.rules] + [c.id for c in detector.correlations]
    assert len(ids) == len(set(ids))
    for correlation in detector.correlations:
        sigma, header = correlation.sigma, correlation.header
        assert uuid.UUID(correlation.id).version == 4, header.source
        assert sigma.author == "cloudwarden" and sigma.status is not None and sigma.date is not None, header.source
        assert header.description and sigma.references and sigma.falsepositives and sigma.level, header.source
        technique = re.compile(r"attack\.t\d{4}(\.\d{3})?")
        tactics = [t for t in header.tags if t.startswith("attack.") and not technique.fullmatch(t)]
        assert header.attack and tactics, header.source
        assert all(cis.startswith("4.") for cis in header.cis), header.source
        for rule in correlation.rules:  # base rules defined beside a correlation are its own: they alert only via it
            assert uuid.UUID(rule.id).version == 4, rule.source
            if rule.source == header.source:
                assert not rule.generates, rule.source


def test_the_correlation_examples_cover_every_bundled_correlation_both_ways(detector: Detector) -> None:
    assert set(CORRELATION_EXAMPLES) == {correlation_name(c) for c in detector.correlations}
    for name, cases in CORRELATION_EXAMPLES.items():
        assert set(cases) == {"fires", "quiet"} and cases["fires"] and cases["quiet"], name


_STEP = re.compile(r"(\d+)([smh])")


def expand(steps: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The records a correlation example describes (see the comment above _correlations in the examples)."""
    records = []
    for n, step in enumerate(steps):
        amount, unit = _STEP.fullmatch(step.get("every", "0s")).groups()  # type: ignore[union-attr]
        every = timedelta(**{{"s": "seconds", "m": "minutes", "h": "hours"}[unit]: int(amount)})
        start = datetime.fromisoformat(step["start"].replace("Z", "+00:00"))
        for i in range(step.get("count", 1)):
            record = json.loads(json.dumps(step["record"]))  # a deep copy
            record["eventID"] = f"example-{n}-{i}"
            record["eventTime"] = (start + i * every).strftime("%Y-%m-%dT%H:%M:%SZ")
            if "vary" in step:
                *parents, leaf = step["vary"].split(".")
                target = record
                for part in parents:
                    target = target[part]
                target[leaf] = f"{target[leaf]}-{i}"
            records.append(record)
    return records


CORRELATION_CASES = [
    pytest.param(name, expected, steps, id=f"{name}-{kind}-{n}")
    for name, cases in CORRELATION_EXAMPLES.items()
    for kind, expected in (("fires", 1), ("quiet", 0))
    for n, steps in enumerate(cases.get(kind) or [])
]


@pytest.mark.parametrize("name, expected, steps", CORRELATION_CASES)
def test_correlation_examples(detector: Detector, name: str, expected: int, steps: list[dict[str, Any]]) -> None:
    correlation = next(c for c in detector.correlations if correlation_name(c) == name)
    correlator = detector.correlator()
    assert correlator is not None
    run = correlator.run(expand(steps), MemoryWindows(), "hunt")
    raised = [a for a in run.alerts if a["finding_info"]["analytic"]["uid"] == correlation.id]
    assert len(raised) == expected
    assert run.untimed == 0


@needs_shared_data
def test_the_secrets_detonation_fires_the_many_secrets_correlation(detector: Detector) -> None:
    correlator = detector.correlator()
    assert correlator is not None
    run = correlator.run(stratus("aws.credential-access.secretsmanager-retrieve-secrets"), MemoryWindows(), "hunt")
    assert [a["finding_info"]["title"] for a in run.alerts] == ["One Principal Read Many Distinct Secrets"]
    assert run.alerts[0]["unmapped"]["correlation"]["group"] == {
        "userIdentity.arn": "arn:aws:iam::903144391865:user/christophe"
    }
