"""The detector: loaded rules plus their index, turning one CloudTrail record into the alerts it raises.

Every lane (fast, slow, historical hunt) uses this one object, so the same event meets the same rules and
yields the same alerts wherever it is seen. Correlation rules (:mod:`cloudwarden.detect.correlation`) load with
the others; the slow lane and the hunt evaluate them through :meth:`Detector.correlator`, the fast lane does not.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cloudwarden.detect.alerts import alerts_for
from cloudwarden.detect.correlation import CorrelationRule, Correlator, compile_correlations
from cloudwarden.detect.index import RuleIndex
from cloudwarden.detect.sigma_rules import DetectionRule, PendingCorrelation, RuleProblem, load_rules


@dataclass
class Detector:
    index: RuleIndex
    problems: list[RuleProblem] = field(default_factory=list)
    correlations: list[CorrelationRule] = field(default_factory=list)

    @classmethod
    def load(cls, paths: Iterable[Path] = (), bundled: bool = True) -> Detector:
        """The bundled rules (unless ``bundled`` is False) plus every rule file under ``paths``."""
        sources = list(paths)
        if bundled:
            from cloudwarden.detect.bundled import bundled_rules_dir

            sources.insert(0, bundled_rules_dir())
        pending: list[PendingCorrelation] = []
        rules, problems = load_rules(sources, pending)
        rules, correlations, unsupported = compile_correlations(rules, pending)
        return cls(RuleIndex(rules), problems + unsupported, correlations)

    @property
    def rules(self) -> list[DetectionRule]:
        return self.index.rules

    def matches(self, record: Any) -> list[DetectionRule]:
        """The rules ``record`` matches (a record that is not a JSON object matches none)."""
        return self.index.matches(record)

    def alerts(self, record: Any, lane: str) -> list[dict[str, Any]]:
        """One OCSF Detection Finding per rule ``record`` matches (except rules that only feed a correlation)."""
        return alerts_for(self.index.matches(record), record, lane)

    def correlator(self) -> Correlator | None:
        """The correlation rules' evaluator (window state is the caller's); None when none loaded."""
        return Correlator(self.correlations) if self.correlations else None
