"""Loading Sigma detection rules for CloudTrail, as users already have them (SigmaHQ's rules run unchanged).

pySigma parses each YAML document and its condition; :mod:`cloudwarden.detect.matcher` compiles the parsed
condition. A rule that cannot run here (another log source, a feature the matcher lacks, invalid YAML) is never
dropped silently: it comes back as a :class:`RuleProblem` with the file and the reason.

Sigma correlation rules are parsed here too and handed to :mod:`cloudwarden.detect.correlation` (pass a
``correlations`` list), which resolves their references across every loaded file and compiles them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from sigma.collection import SigmaCollection
from sigma.correlations import SigmaCorrelationRule
from sigma.exceptions import SigmaError
from sigma.rule import SigmaRule

from cloudwarden.detect.matcher import Predicate, Unsupported, compile_condition

MAX_RULE_FILE_BYTES = 1024 * 1024
RULE_SUFFIXES = (".yml", ".yaml")
_ATTACK_TECHNIQUE = re.compile(r"t\d{4}(\.\d{3})?")


@dataclass(frozen=True)
class DetectionRule:
    """One Sigma rule, compiled. ``match(event)`` is True when the CloudTrail record (a dict) matches."""

    id: str
    title: str
    level: str
    description: str
    source: str  # the file it came from
    attack: tuple[str, ...]  # MITRE ATT&CK technique ids, e.g. ("T1562.008",)
    cis: tuple[str, ...]  # CIS AWS Foundations control ids, e.g. ("4.5",)
    tags: tuple[str, ...]
    match: Predicate
    # eventName / eventSource values (lower case) the rule requires, for the matcher's index; empty: any event.
    event_names: frozenset[str]
    event_sources: frozenset[str]
    sigma: SigmaRule
    # False for a rule a correlation refers to with ``generate: false`` (Sigma's default): it feeds the correlation
    # and raises no alert of its own.
    generates: bool = True


# A correlation rule as parsed, and the file it came from (compiled by cloudwarden.detect.correlation).
PendingCorrelation = tuple[SigmaCorrelationRule, str]


@dataclass(frozen=True)
class RuleProblem:
    """A rule that was not loaded, and why."""

    source: str
    reason: str


def rule_files(paths: Iterable[Path]) -> Iterator[Path]:
    """Every ``*.yml``/``*.yaml`` file given, or below a folder given, in path order."""
    for path in paths:
        if path.is_dir():
            yield from sorted(p for p in path.rglob("*") if p.suffix in RULE_SUFFIXES and p.is_file())
        else:
            yield path


def load_rules(
    paths: Iterable[Path], correlations: list[PendingCorrelation] | None = None
) -> tuple[list[DetectionRule], list[RuleProblem]]:
    """Load and compile every rule under ``paths``; what cannot run is reported, never skipped. Correlation rules
    are appended to ``correlations`` when it is given, else reported as problems."""
    rules: list[DetectionRule] = []
    problems: list[RuleProblem] = []
    for path in rule_files(paths):
        try:
            if path.stat().st_size > MAX_RULE_FILE_BYTES:
                problems.append(RuleProblem(str(path), f"larger than {MAX_RULE_FILE_BYTES} bytes"))
                continue
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            problems.append(RuleProblem(str(path), f"cannot read: {exc}"))
            continue
        loaded, found = load_text(text, str(path), correlations)
        rules.extend(loaded)
        problems.extend(found)
    return rules, problems


def load_text(
    text: str, source: str, correlations: list[PendingCorrelation] | None = None
) -> tuple[list[DetectionRule], list[RuleProblem]]:
    """The rules of one YAML text (one or more documents); correlation rules as in :func:`load_rules`."""
    try:
        # References are resolved later, across every file loaded (a correlation may name a rule in another file).
        collection = SigmaCollection.from_yaml(text, collect_errors=True, resolve_references=False)
    except (SigmaError, ValueError, yaml.YAMLError) as exc:  # YAML that cannot even be split into documents
        return [], [RuleProblem(source, f"not a Sigma rule file: {exc}")]
    rules: list[DetectionRule] = []
    problems: list[RuleProblem] = []
    for error in collection.errors:
        problems.append(RuleProblem(source, f"invalid Sigma: {error}"))
    for item in collection.rules:
        if isinstance(item, SigmaCorrelationRule) and correlations is not None:
            if item.errors:
                problems.append(RuleProblem(source, f"invalid Sigma in {_title(item)}: {item.errors[0]}"))
            else:
                correlations.append((item, source))
            continue
        if isinstance(item, SigmaCorrelationRule):
            problems.append(RuleProblem(source, f"{_title(item)}: a correlation rule, evaluated by the detector "
                                                "(Detector.load: the slow lane and the hunt), not by load_rules"))
            continue
        if not isinstance(item, SigmaRule):
            kind = type(item).__name__.removeprefix("Sigma")
            problems.append(RuleProblem(source, f"{kind} rules are not supported yet ({_title(item)})"))
            continue
        if item.errors:
            problems.append(RuleProblem(source, f"invalid Sigma in {_title(item)}: {item.errors[0]}"))
            continue
        logsource = item.logsource
        if (logsource.product or "").lower() != "aws" or (logsource.service or "").lower() != "cloudtrail":
            problems.append(
                RuleProblem(source, f"{_title(item)}: log source {logsource.product}/{logsource.service}, "
                                    "not aws/cloudtrail")
            )
            continue
        try:
            rules.append(_compile(item, source))
        except Unsupported as exc:
            problems.append(RuleProblem(source, f"{_title(item)}: {exc}"))
        except SigmaError as exc:
            problems.append(RuleProblem(source, f"{_title(item)}: invalid condition: {exc}"))
    return rules, problems


def _title(item: Any) -> str:
    return str(getattr(item, "title", None) or getattr(item, "id", None) or "untitled")


def tag_ids(rule: SigmaRule | SigmaCorrelationRule) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
    """A rule's tags as ``namespace.name``, its ATT&CK technique ids and its CIS control ids."""
    tags = tuple(f"{tag.namespace}.{tag.name}" for tag in rule.tags)
    attack = tuple(
        tag.name.upper() for tag in rule.tags if tag.namespace == "attack" and _ATTACK_TECHNIQUE.fullmatch(tag.name)
    )
    cis = tuple(tag.name for tag in rule.tags if tag.namespace == "cis")
    return tags, attack, cis


def _compile(rule: SigmaRule, source: str) -> DetectionRule:
    conditions = [condition.parsed for condition in rule.detection.parsed_condition]
    compiled = compile_condition(conditions)
    return detection_rule(
        rule,
        source,
        compiled.match,
        compiled.required.get("eventName", frozenset()),
        compiled.required.get("eventSource", frozenset()),
    )


def detection_rule(
    sigma: Any,
    source: str,
    match: Predicate,
    event_names: frozenset[str] = frozenset(),
    event_sources: frozenset[str] = frozenset(),
) -> DetectionRule:
    """A :class:`DetectionRule` with ``sigma``'s metadata (id, title, level, description, tags) and ``match``."""
    tags, attack, cis = tag_ids(sigma)
    return DetectionRule(
        id=str(sigma.id or sigma.name or sigma.title),
        title=sigma.title,
        level=str(sigma.level.name.lower() if sigma.level else "medium"),
        description=(sigma.description or "").strip(),
        source=source,
        attack=attack,
        cis=cis,
        tags=tags,
        match=match,
        event_names=event_names,
        event_sources=event_sources,
        sigma=sigma,
    )
