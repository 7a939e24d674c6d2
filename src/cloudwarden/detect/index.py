"""The streaming matcher: every loaded rule, indexed so an event only meets the rules that can match it.

A rule whose condition requires ``eventName`` to be one of a few values is filed under those names; else under
the ``eventSource`` values it requires; else it meets every event. Matching is case-insensitive, so the keys are
lower case. An event whose eventName or eventSource is not a string (attacker-controlled input) meets every
rule, so the index never changes an answer, only how fast it comes.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from cloudwarden.detect.sigma_rules import DetectionRule


class RuleIndex:
    def __init__(self, rules: Iterable[DetectionRule]) -> None:
        self.rules = list(rules)
        by_name: defaultdict[str, list[DetectionRule]] = defaultdict(list)
        by_source: defaultdict[str, list[DetectionRule]] = defaultdict(list)
        self.unindexed: list[DetectionRule] = []
        for rule in self.rules:
            if rule.event_names:
                for name in rule.event_names:
                    by_name[name].append(rule)
            elif rule.event_sources:
                for source in rule.event_sources:
                    by_source[source].append(rule)
            else:
                self.unindexed.append(rule)
        self._by_name = dict(by_name)
        self._by_source = dict(by_source)

    def candidates(self, event: Any) -> list[DetectionRule]:
        """The rules that could match ``event`` (a superset of those that do), in load order."""
        if type(event) is not dict:
            return self.rules
        name, source = event.get("eventName"), event.get("eventSource")
        if type(name) is not str or type(source) is not str:
            return self.rules
        named = self._by_name.get(name.lower(), ())
        sourced = self._by_source.get(source.lower(), ())
        if not named and not sourced:
            return self.unindexed
        return [*named, *sourced, *self.unindexed]

    def matches(self, event: Any) -> list[DetectionRule]:
        """The rules ``event`` matches."""
        if type(event) is not dict:
            return []
        return [rule for rule in self.candidates(event) if rule.match(event)]
