"""The streaming matcher: every loaded rule, indexed so an event only meets the rules that can match it.

A rule whose condition requires ``eventName`` to be one of a few values is filed under those names; else under
the ``eventSource`` values it requires; else under another field it requires to equal one of a few values
(``userIdentity.type: Root``, ``userAgent: TruffleHog``), looked up in the event the way the rule compares it;
else it meets every event. Matching is case-insensitive, so the keys are lower case. An event whose eventName or
eventSource is not a string (attacker-controlled input) meets every rule, so the index never changes an answer,
only how fast it comes.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from cloudwarden.detect.matcher import as_text, field_values, required_values
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
        # The rules neither field narrows that require another field's value: about one in ten of SigmaHQ's
        # CloudTrail rules, which would otherwise run on every event.
        self._by_field: dict[tuple[str, ...], dict[str, list[DetectionRule]]] = {}
        unindexed = []
        for rule in self.unindexed:
            key = _discriminator(rule)
            if key is None:
                unindexed.append(rule)
                continue
            path, values = key
            table = self._by_field.setdefault(path, {})
            for value in values:
                table.setdefault(value, []).append(rule)
        self.unindexed = unindexed
        self._fields = list(self._by_field.items())
        self._position = {id(rule): position for position, rule in enumerate(self.rules)}

    def candidates(self, event: Any) -> list[DetectionRule]:
        """The rules that could match ``event`` (a superset of those that do), in load order."""
        if type(event) is not dict:
            return self.rules
        name, source = event.get("eventName"), event.get("eventSource")
        if type(name) is not str or type(source) is not str:
            return self.rules
        named = self._by_name.get(name.lower(), ())
        sourced = self._by_source.get(source.lower(), ())
        fielded = self._field_candidates(event) if self._fields else ()
        if not named and not sourced and not fielded:
            return self.unindexed
        return [*named, *sourced, *fielded, *self.unindexed]

    def _field_candidates(self, event: dict[str, Any]) -> list[DetectionRule]:
        found: list[DetectionRule] = []
        for path, table in self._fields:
            if len(path) == 1:
                value = event.get(path[0])
                values = value if type(value) is list else () if value is None else (value,)
            elif len(path) == 2 and type(container := event.get(path[0])) is dict:  # the usual shape: no list
                value = container.get(path[1])
                values = value if type(value) is list else () if value is None else (value,)
            else:
                values = field_values(event, path)
            for value in values:
                text = value if type(value) is str else as_text(value)
                if text is not None and (rules := table.get(text.lower())):
                    found.extend(rules)
        if len(found) > 1:  # a list holding the same value twice, or a rule under two values of one field
            found = list({id(rule): rule for rule in found}.values())
        return found

    def matches(self, event: Any) -> list[DetectionRule]:
        """The rules ``event`` matches."""
        if type(event) is not dict:
            return []
        matched = [rule for rule in self.candidates(event) if rule.match(event)]
        if len(matched) > 1:  # candidates come group by group: give them in load order, as documented
            matched.sort(key=lambda rule: self._position[id(rule)])
        return matched


def _discriminator(rule: DetectionRule) -> tuple[tuple[str, ...], frozenset[str]] | None:
    """The field (path) and values to file ``rule`` under: of the fields it requires, the one with the fewest
    values, then the shortest path (one lookup serves every rule under it); None when it requires none."""
    try:
        required = required_values([condition.parsed for condition in rule.sigma.detection.parsed_condition])
    except Exception:  # any surprise in a rule's parse tree only means: not indexed
        return None
    if not required:
        return None
    field = min(required, key=lambda name: (len(required[name]), name.count("."), name))
    return tuple(field.split(".")), required[field]
