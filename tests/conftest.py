"""Shared fixtures: one moto server per test session, spoken to over loopback HTTP.

Tests that seed resources take ``aws`` (which resets the emulator first), build boto3 clients with
``client(service, region)``, and collect/evaluate through cloudwarden's own code paths.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from cloudwarden.aws.session import AwsContext
from cloudwarden.demo.emulator import DEFAULT_ACCOUNT_ID, EmbeddedAws
from cloudwarden.findings.model import Finding
from cloudwarden.inventory.collect import collect_inventory
from cloudwarden.inventory.model import Inventory
from cloudwarden.posture.evaluator import evaluate

ACCOUNT_ID = DEFAULT_ACCOUNT_ID
REGION = "us-east-1"


@pytest.fixture(scope="session")
def emulator() -> Iterator[EmbeddedAws]:
    with EmbeddedAws() as aws:
        yield aws


class Emulated:
    """A freshly reset emulated account: seed it with ``client``, scan it with ``scan``."""

    def __init__(self, emulator: EmbeddedAws) -> None:
        self.emulator = emulator
        self.endpoint_url = emulator.endpoint_url
        self.account_id = ACCOUNT_ID
        self._seeder = emulator.context(read_only=False)

    def client(self, service: str, region: str = REGION) -> Any:
        """A boto3 client that may write: for seeding, never for scanning."""
        return self._seeder.client(service, region)

    def context(self) -> AwsContext:
        """A fresh read-only context, as a scan uses."""
        return self.emulator.context()

    def collect(self, services: list[str] | None = None, regions: list[str] | None = None,
                aws: AwsContext | None = None) -> Inventory:
        return collect_inventory(aws or self.context(), regions or [REGION], services=services)

    def scan(self, services: list[str] | None = None, regions: list[str] | None = None,
             aws: AwsContext | None = None) -> list[Finding]:
        return evaluate(self.collect(services, regions, aws))


@pytest.fixture
def aws(emulator: EmbeddedAws) -> Emulated:
    emulator.reset()
    return Emulated(emulator)


def verdict(findings: list[Finding], rule_id: str, resource_id: str) -> Finding:
    """The one finding of ``rule_id`` on ``resource_id``; fails the test if there is none or several."""
    matches = [f for f in findings if f.rule.id == rule_id and f.resource_id == resource_id]
    assert len(matches) == 1, f"{len(matches)} findings for {rule_id} on {resource_id}: " + ", ".join(
        f"{f.rule.id}/{f.resource_id}" for f in findings if f.rule.id == rule_id)
    return matches[0]


FindingLookup = Callable[[list[Finding], str, str], Finding]
