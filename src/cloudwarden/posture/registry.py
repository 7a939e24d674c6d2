"""The rule registry: every posture rule with its metadata, registered by the :func:`rule` decorator.

A rule is a pure function over one resource (and the inventory, for context). It returns a
:class:`Verdict`, or ``None`` when the resource is outside the rule's scope (an AWS-managed KMS key for
a rotation rule). It never calls AWS. Reading an attribute that collection could not read raises
:class:`~cloudwarden.inventory.model.Unreadable`, which the evaluator turns into ERROR.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from cloudwarden.findings.model import RuleRef, Severity, Status
from cloudwarden.inventory.model import Inventory, Resource


@dataclass(frozen=True)
class Verdict:
    status: Status
    message: str
    evidence: dict[str, Any] = field(default_factory=dict)


def passed(message: str, **evidence: Any) -> Verdict:
    return Verdict(Status.PASS, message, evidence)


def failed(message: str, **evidence: Any) -> Verdict:
    return Verdict(Status.FAIL, message, evidence)


def manual(message: str, **evidence: Any) -> Verdict:
    """A person must decide; ``evidence`` is what the tool could see (never reported as PASS)."""
    return Verdict(Status.MANUAL, message, evidence)


Check = Callable[[Resource, Inventory], Verdict | None]


@dataclass(frozen=True)
class Rule:
    id: str
    title: str
    severity: Severity
    resource_type: str
    rationale: str
    remediation: str
    check: Check
    cis: tuple[str, ...] = ()
    fsbp: tuple[str, ...] = ()
    well_architected: tuple[str, ...] = ()

    @property
    def service(self) -> str:
        """``s3`` for ``AWS::S3::Bucket``; VPC resources belong to ``ec2`` as in the AWS APIs."""
        return self.resource_type.split("::")[1].lower()

    @property
    def ref(self) -> RuleRef:
        return RuleRef(
            self.id,
            self.title,
            self.severity,
            self.service,
            self.resource_type,
            self.rationale,
            self.remediation,
            self.cis,
            self.fsbp,
            self.well_architected,
        )


_REGISTRY: dict[str, Rule] = {}


def rule(
    *,
    id: str,
    title: str,
    severity: Severity,
    resource_type: str,
    rationale: str,
    remediation: str,
    cis: tuple[str, ...] = (),
    fsbp: tuple[str, ...] = (),
    well_architected: tuple[str, ...] = (),
) -> Callable[[Check], Check]:
    """Register the decorated check under ``id`` with its metadata.

    ``cis`` names CIS AWS Foundations v5.0 control ids, ``fsbp`` AWS Foundational Security Best Practices
    control ids, ``well_architected`` the security pillar questions (SEC01 to SEC11).
    """

    def register(check: Check) -> Check:
        if id in _REGISTRY:
            raise ValueError(f"duplicate rule id {id}")
        _REGISTRY[id] = Rule(
            id, title, severity, resource_type, rationale, remediation, check, cis, fsbp, well_architected
        )
        return check

    return register


def all_rules() -> list[Rule]:
    """Every registered rule, ordered by id (imports the rule modules on first use)."""
    from cloudwarden.posture import rules as package

    for module in pkgutil.iter_modules(package.__path__):
        importlib.import_module(f"{package.__name__}.{module.name}")
    return sorted(_REGISTRY.values(), key=lambda r: r.id)


def get_rule(rule_id: str) -> Rule:
    rules = {r.id: r for r in all_rules()}
    if rule_id not in rules:
        raise KeyError(rule_id)
    return rules[rule_id]
