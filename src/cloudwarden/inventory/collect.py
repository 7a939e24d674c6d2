"""Collection: run every collector for every region concurrently and assemble the Inventory.

Nothing here judges; it only reads. A collector that fails records ScopeErrors for the resource types
it owns, so the scan goes on and the rules over those types report ERROR.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass

from botocore.exceptions import BotoCoreError, ClientError

from cloudwarden.aws.errors import describe_failure
from cloudwarden.aws.session import AwsContext
from cloudwarden.inventory import collectors as collector_modules
from cloudwarden.inventory.collectors.base import Collector, CollectorScope
from cloudwarden.inventory.model import GLOBAL, Inventory, Resource, ScopeError


def _discover() -> list[Collector]:
    """Every module in ``inventory/collectors`` contributes its ``COLLECTORS``: a new service is a new module."""
    found: list[Collector] = []
    for module in sorted(pkgutil.iter_modules(collector_modules.__path__), key=lambda m: m.name):
        found.extend(getattr(importlib.import_module(f"{collector_modules.__name__}.{module.name}"), "COLLECTORS", []))
    return found


ALL_COLLECTORS: list[Collector] = _discover()
SERVICES = tuple(sorted({c.service for c in ALL_COLLECTORS}))
COLLECTION_WORKERS = 16


@dataclass(frozen=True)
class CollectionTask:
    collector: Collector
    region: str  # GLOBAL for collectors that run once per account


class ProgressSink:
    """Told about collection as it happens; the CLI draws a progress bar from it."""

    def planned(self, tasks: list[CollectionTask]) -> None:
        """Called once with every task before collection starts."""

    def finished(self, task: CollectionTask) -> None:
        """Called as each task ends, successfully or not."""


def plan(regions: Iterable[str], services: Iterable[str] | None = None) -> list[CollectionTask]:
    wanted = set(services) if services else set(SERVICES)
    unknown = wanted - set(SERVICES)
    if unknown:
        raise ValueError(f"unknown service(s): {', '.join(sorted(unknown))} (known: {', '.join(SERVICES)})")
    tasks: list[CollectionTask] = []
    for collector in ALL_COLLECTORS:
        if collector.service not in wanted:
            continue
        for region in regions if collector.regional else [GLOBAL]:
            tasks.append(CollectionTask(collector, region))
    return tasks


def collect_inventory(
    aws: AwsContext,
    regions: list[str],
    services: Iterable[str] | None = None,
    progress: ProgressSink | None = None,
    workers: int = COLLECTION_WORKERS,
) -> Inventory:
    """Read the account through the AWS APIs (read-only calls only) into an Inventory."""
    tasks = plan(regions, services)
    identity = aws.client("sts").get_caller_identity()
    account_id = str(identity["Account"])
    partition = str(identity["Arn"]).split(":")[1]
    inventory = Inventory(account_id=account_id, regions=list(regions), partition=partition)
    for task in tasks:
        inventory.collected_types.update(task.collector.resource_types)
    progress = progress or ProgressSink()
    progress.planned(tasks)

    def run(task: CollectionTask) -> tuple[list[Resource], list[ScopeError]]:
        region = aws.default_region if task.region == GLOBAL else task.region
        scope = CollectorScope(aws, account_id, region, partition)
        try:
            resources = task.collector.collect(scope)
        except (ClientError, BotoCoreError) as exc:
            reason = describe_failure(exc, task.collector.service, task.collector.operation)
            return [], [ScopeError(t, task.region, reason) for t in task.collector.resource_types]
        except Exception as exc:  # a collector bug must not end the scan, nor pass silently
            reason = f"collector {task.collector.service} failed: {type(exc).__name__}: {exc}"
            return [], [ScopeError(t, task.region, reason) for t in task.collector.resource_types]
        errors = [ScopeError(e.resource_type, task.region, e.reason) for e in scope.scope_errors]
        return resources, errors

    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        futures = {pool.submit(run, task): task for task in tasks}
        for future in as_completed(futures):
            resources, errors = future.result()
            inventory.extend(resources)
            inventory.scope_errors.extend(errors)
            progress.finished(futures[future])
    # Deterministic order regardless of which thread finished first.
    inventory.resources.sort(key=lambda r: (r.type, r.region, r.id))
    inventory.scope_errors.sort(key=lambda e: (e.resource_type, e.region))
    return inventory
