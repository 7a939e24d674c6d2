"""``cloudwarden rules list``."""

from __future__ import annotations

import orjson
from rich.table import Table

from cloudwarden.cli.common import console
from cloudwarden.posture.registry import all_rules
from cloudwarden.report.console import SEVERITY_STYLE


def print_rules(service: str | None, as_json: bool) -> None:
    rules = [r for r in all_rules() if service is None or r.service == service.lower()]
    if as_json:
        console.print_json(
            orjson.dumps(
                [
                    {
                        "id": r.id,
                        "title": r.title,
                        "severity": r.severity.value,
                        "service": r.service,
                        "resource_type": r.resource_type,
                        "cis": list(r.cis),
                        "rationale": r.rationale,
                        "remediation": r.remediation,
                    }
                    for r in rules
                ]
            ).decode()
        )
        return
    table = Table(title=f"{len(rules)} posture rules", title_justify="left")
    for column in ("Rule", "Severity", "Service", "CIS v5.0", "Title"):
        table.add_column(column)
    for r in rules:
        table.add_row(
            r.id, f"[{SEVERITY_STYLE[r.severity]}]{r.severity.value}[/]", r.service, ", ".join(r.cis), r.title
        )
    console.print(table)
