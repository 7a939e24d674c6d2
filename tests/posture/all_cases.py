"""Every rule case: ``rule_cases.CASES`` plus the ``CASES`` of each ``tests/posture/cases_*.py`` module.

A new group of rules brings its cases in a module of its own, so the table grows without one shared file.
"""

from __future__ import annotations

import importlib
import pkgutil

import tests.posture as package
from tests.posture.rule_cases import CASES as CORE_CASES
from tests.posture.rule_cases import Case


def _discover() -> list[Case]:
    cases = list(CORE_CASES)
    for module in sorted(pkgutil.iter_modules(package.__path__), key=lambda m: m.name):
        if module.name.startswith("cases_"):
            cases.extend(importlib.import_module(f"{package.__name__}.{module.name}").CASES)
    return cases


CASES = _discover()
