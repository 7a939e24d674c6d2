"""Compliance frameworks as data: CIS AWS Foundations v5.0, AWS Foundational Security Best Practices,
and the Well-Architected security pillar.

A framework lists its controls (``cis-5.0.yaml``, ``well-architected.yaml``); which rules decide a control
is said once, on each rule (``cis=``, ``fsbp=``, ``well_architected=``), and joined here. FSBP's controls
are the ones our rules name: AWS numbers them per service (``S3.8``) and a rule's title says what it checks.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from importlib import resources

import yaml

from cloudwarden.posture.registry import Rule, all_rules


@dataclass(frozen=True)
class Control:
    id: str
    title: str
    section: str
    level: str = ""
    assessment: str = ""  # CIS's own label: Automated or Manual


@dataclass(frozen=True)
class Framework:
    id: str
    name: str
    sections: dict[str, str]
    controls: tuple[Control, ...]
    rule_field: str  # the Rule attribute holding this framework's control ids
    aliases: tuple[str, ...] = field(default=())

    def control_ids(self, rule: Rule) -> tuple[str, ...]:
        return tuple(getattr(rule, self.rule_field))

    def rules_for(self, control_id: str, rules: list[Rule] | None = None) -> list[Rule]:
        """The rules that decide ``control_id``."""
        return [r for r in rules or all_rules() if control_id in self.control_ids(r)]

    def coverage(self) -> tuple[int, int, int]:
        """(automated, manual, total): controls with at least one deciding rule, those without, all."""
        rules = all_rules()
        automated = sum(1 for c in self.controls if self.rules_for(c.id, rules))
        return automated, len(self.controls) - automated, len(self.controls)


def _load(filename: str, rule_field: str, aliases: tuple[str, ...]) -> Framework:
    data = yaml.safe_load(resources.files(__package__).joinpath(filename).read_text(encoding="utf-8"))
    sections = {str(k): str(v) for k, v in data["sections"].items()}
    controls = tuple(
        Control(
            id=str(c["id"]),
            title=str(c["title"]),
            section=_section(str(c["id"]), sections),
            level=str(c.get("level", "")),
            assessment=str(c.get("assessment", "")),
        )
        for c in data["controls"]
    )
    return Framework(str(data["id"]), str(data["name"]), sections, controls, rule_field, aliases)


def _section(control_id: str, sections: dict[str, str]) -> str:
    head = control_id.split(".")[0]
    return head if head in sections else next(iter(sections))


def _fsbp() -> Framework:
    rules = all_rules()
    ids = sorted({i for r in rules for i in r.fsbp}, key=_natural)
    services = sorted({i.split(".")[0] for i in ids})
    titles = {i: "; ".join(r.title for r in rules if i in r.fsbp) for i in ids}
    controls = tuple(Control(id=i, title=titles[i], section=i.split(".")[0]) for i in ids)
    return Framework("fsbp", "AWS Foundational Security Best Practices", {s: s for s in services}, controls, "fsbp")


def _natural(control_id: str) -> tuple[str, int]:
    service, _, number = control_id.partition(".")
    return service, int(number) if number.isdigit() else 0


@cache
def frameworks() -> dict[str, Framework]:
    found = [
        _load("cis-5.0.yaml", "cis", ("cis", "cis-aws-foundations-5.0")),
        _fsbp(),
        _load("well-architected.yaml", "well_architected", ("wa", "well-architected-security")),
    ]
    return {f.id: f for f in found}


def get_framework(name: str) -> Framework:
    """A framework by id or alias (``cis-5.0``, ``cis``, ``fsbp``, ``well-architected``, ``wa``)."""
    for framework in frameworks().values():
        if name.lower() in (framework.id, *framework.aliases):
            return framework
    raise KeyError(f"unknown framework {name!r}; known: {', '.join(frameworks())}")
