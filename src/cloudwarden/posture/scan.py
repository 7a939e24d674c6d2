"""A posture scan end to end: collect (or load) an inventory, run the rules, return a ScanResult."""

from __future__ import annotations

import time
from collections.abc import Iterable

from cloudwarden.aws.session import AwsContext
from cloudwarden.findings.scan import ScanResult
from cloudwarden.inventory.collect import ProgressSink, collect_inventory
from cloudwarden.inventory.model import Inventory
from cloudwarden.posture.evaluator import evaluate
from cloudwarden.posture.registry import all_rules


def judge(inventory: Inventory, source: str = "live", api_calls: int = 0, duration: float = 0.0) -> ScanResult:
    """Run every rule over ``inventory`` (no AWS calls)."""
    rules = all_rules()
    return ScanResult(
        account_id=inventory.account_id,
        partition=inventory.partition,
        regions=inventory.regions,
        collected_at=inventory.collected_at,
        findings=evaluate(inventory, rules),
        api_calls=api_calls,
        duration_seconds=duration,
        source=source,
        rule_count=sum(1 for r in rules if r.resource_type in inventory.collected_types),
        scope_errors=[f"{e.resource_type} in {e.region}: {e.reason}" for e in inventory.scope_errors],
        collected_types=set(inventory.collected_types),
    )


def scan_account(
    aws: AwsContext, regions: list[str], services: Iterable[str] | None = None, progress: ProgressSink | None = None
) -> tuple[Inventory, ScanResult]:
    """Collect the account live and judge it; returns the inventory too (to save or inspect)."""
    started = time.monotonic()
    calls_before = sum(aws.api_calls.values())
    inventory = collect_inventory(aws, regions, services=services, progress=progress)
    calls = sum(aws.api_calls.values()) - calls_before
    return inventory, judge(inventory, "live", calls, time.monotonic() - started)
