"""File outputs: JSON (OCSF), ASFF, CSV and HTML, each written into the output directory.

``write_outputs(result, formats, out_dir)`` writes each requested format and returns the paths. The
HTML report lives in :mod:`cloudwarden.report.html`.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable
from pathlib import Path

import orjson

from cloudwarden.findings.asff import to_asff
from cloudwarden.findings.ocsf import to_ocsf
from cloudwarden.findings.scan import ScanResult
from cloudwarden.report.text import spreadsheet_cell

CSV_COLUMNS = (
    "status",
    "severity",
    "rule_id",
    "title",
    "service",
    "cis",
    "account_id",
    "region",
    "resource_type",
    "resource_id",
    "resource_arn",
    "message",
    "remediation",
    "muted_reason",
)


def write_json(result: ScanResult, out_dir: Path) -> Path:
    """OCSF Compliance Findings (class 2003), one JSON array; who caused each FAIL under ``unmapped.caused_by``."""
    path = out_dir / "cloudwarden-findings.ocsf.json"
    documents = [to_ocsf(f, result.partition, result.causes.get(f.uid, ())) for f in result.findings]
    path.write_bytes(orjson.dumps(documents, option=orjson.OPT_INDENT_2))
    return path


def write_asff(result: ScanResult, out_dir: Path, home_region: str | None = None) -> Path:
    """ASFF findings, one JSON array, ready for Security Hub's BatchImportFindings."""
    region = home_region or asff_home_region(result)
    path = out_dir / "cloudwarden-findings.asff.json"
    path.write_bytes(
        orjson.dumps(
            [to_asff(f, region, result.partition, result.causes.get(f.uid, ())) for f in result.findings],
            option=orjson.OPT_INDENT_2,
        )
    )
    return path


def asff_home_region(result: ScanResult) -> str:
    return result.regions[0] if result.regions else "us-east-1"


def write_csv(result: ScanResult, out_dir: Path) -> Path:
    path = out_dir / "cloudwarden-findings.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(CSV_COLUMNS)
        for f in result.findings:
            row = (
                f.shown_status,
                f.severity.value,
                f.rule.id,
                f.rule.title,
                f.rule.service,
                " ".join(f.rule.cis),
                f.account_id,
                f.region,
                f.resource_type,
                f.resource_id,
                f.resource_arn,
                f.message,
                f.rule.remediation,
                f.muted_reason or "",
            )
            writer.writerow([spreadsheet_cell(v) for v in row])
    return path


def write_html_report(result: ScanResult, out_dir: Path) -> Path:
    from cloudwarden.report.html import write_html

    return write_html(result, out_dir / "cloudwarden-report.html")


FILE_FORMATS: dict[str, Callable[[ScanResult, Path], Path]] = {
    "json": write_json,
    "asff": write_asff,
    "csv": write_csv,
    "html": write_html_report,
}
ALL_FORMATS = ("console", *FILE_FORMATS)


def write_outputs(result: ScanResult, formats: Iterable[str], out_dir: Path) -> list[Path]:
    """Write each requested file format (``console`` is printed elsewhere) and return the paths."""
    wanted = [f for f in formats if f in FILE_FORMATS]
    if wanted:
        out_dir.mkdir(parents=True, exist_ok=True)
    return [FILE_FORMATS[f](result, out_dir) for f in wanted]
