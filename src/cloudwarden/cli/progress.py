"""The collection progress bar: one line per service, advancing as each region finishes."""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from cloudwarden.inventory.collect import CollectionTask, ProgressSink


class RichProgress(ProgressSink):
    """Use as a context manager around collection."""

    def __init__(self, console: Console, enabled: bool = True) -> None:
        self._progress = Progress(
            TextColumn("[bold]{task.description:<12}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[last]}"),
            TimeElapsedColumn(),
            console=console,
            disable=not enabled,
            transient=False,
        )
        self._tasks: dict[str, Any] = {}
        self._lock = threading.Lock()

    def planned(self, tasks: list[CollectionTask]) -> None:
        totals = Counter(t.collector.service for t in tasks)
        for service, total in totals.items():
            self._tasks[service] = self._progress.add_task(service, total=total, last="")

    def finished(self, task: CollectionTask) -> None:
        with self._lock:
            self._progress.update(self._tasks[task.collector.service], advance=1, last=task.region)

    def __enter__(self) -> RichProgress:
        self._progress.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._progress.stop()
