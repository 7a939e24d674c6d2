"""The detector: loaded rules plus their index, turning one CloudTrail record into the alerts it raises.

Every lane (fast, slow, historical hunt) uses this one object, so the same event meets the same rules and
yields the same alerts wherever it is seen.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cloudwarden.detect.alerts import to_detection_finding
from cloudwarden.detect.index import RuleIndex
from cloudwarden.detect.sigma_rules import DetectionRule, RuleProblem, load_rules


@dataclass
class Detector:
    index: RuleIndex
    problems: list[RuleProblem] = field(default_factory=list)

    @classmethod
    def load(cls, paths: Iterable[Path] = (), bundled: bool = True) -> Detector:
        """The bundled rules (unless ``bundled`` is False) plus every rule file under ``paths``."""
        sources = list(paths)
        if bundled:
            from cloudwarden.detect.bundled import bundled_rules_dir

            sources.insert(0, bundled_rules_dir())
        rules, problems = load_rules(sources)
        return cls(RuleIndex(rules), problems)

    @property
    def rules(self) -> list[DetectionRule]:
        return self.index.rules

    def matches(self, record: Any) -> list[DetectionRule]:
        """The rules ``record`` matches (a record that is not a JSON object matches none)."""
        return self.index.matches(record)

    def alerts(self, record: Any, lane: str) -> list[dict[str, Any]]:
        """One OCSF Detection Finding per rule ``record`` matches."""
        return [to_detection_finding(rule, record, lane) for rule in self.index.matches(record)]
