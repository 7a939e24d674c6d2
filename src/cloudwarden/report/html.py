"""The self-contained HTML report: one file, no network, safe to open whatever the account contains.

``write_html(result, path)`` writes it; ``render_html(result)`` returns the text. CSS and JS live beside
the template (``templates/report.css``, ``templates/report.js``) and are inlined at render time. Every
value from AWS or a finding goes through Jinja's autoescaping; the page's Content-Security-Policy allows
only the one inline script whose hash it carries, so an injected script or handler could not run even
if escaping ever failed.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup

from cloudwarden.findings.frameworks import CIS_STANDARD
from cloudwarden.findings.model import Finding
from cloudwarden.findings.scan import ScanResult
from cloudwarden.report.charts import cis_section, summary_charts

# What the report shows, in its default order: a muted finding shows as MUTED whatever its verdict.
STATUS_ORDER = ("FAIL", "ERROR", "MANUAL", "MUTED", "PASS")
_STATUS_RANK = {status: i for i, status in enumerate(STATUS_ORDER)}  # 0 sorts first
_SCRIPT_END = re.compile(r"</script|<!--", re.IGNORECASE)


@dataclass(frozen=True)
class FindingRow:
    """One finding as the template shows it; ``index`` is its place in the default order."""

    index: int
    finding: Finding
    status_rank: int
    evidence_json: str
    cis: tuple[tuple[str, str], ...]  # (control id, section label)
    causes: tuple[Any, ...] = ()  # trail events that caused a FAIL (cloudwarden.trail.causes.Cause), newest first


def _environment() -> Environment:
    # autoescape=True rather than select_autoescape(): the template is named *.html.j2, which
    # select_autoescape's extension check would not recognise as HTML.
    return Environment(
        loader=PackageLoader("cloudwarden.report", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def _asset(env: Environment, name: str) -> str:
    assert env.loader is not None
    source, _, _ = env.loader.get_source(env, name)
    return source


def _rows(findings: list[Finding], causes: dict[str, list[Any]] | None = None) -> list[FindingRow]:
    ordered = sorted(
        findings,
        key=lambda f: (_STATUS_RANK[f.shown_status], -f.severity.rank, f.rule.id, f.region, f.resource_id),
    )
    return [
        FindingRow(
            index=i,
            finding=f,
            status_rank=_STATUS_RANK[f.shown_status],
            evidence_json=json.dumps(f.evidence, indent=2, sort_keys=True, default=str, ensure_ascii=False),
            cis=tuple((control, cis_section(control)) for control in f.rule.cis),
            causes=tuple((causes or {}).get(f.uid, ())),
        )
        for i, f in enumerate(ordered)
    ]


def _timestamp(moment: datetime) -> str:
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%d %H:%M:%S") + (" UTC" if moment.tzinfo is not None else "")


def script_hash(script: str) -> str:
    """The CSP source (``'sha256-…'``) that allows exactly ``script`` as an inline script."""
    digest = hashlib.sha256(script.encode("utf-8")).digest()
    return f"'sha256-{base64.b64encode(digest).decode('ascii')}'"


def render_html(result: ScanResult) -> str:
    """The whole report as one HTML document (str). Needs no network to open or to work."""
    env = _environment()
    css = _asset(env, "report.css")
    script = _asset(env, "report.js")
    if _SCRIPT_END.search(script) or "</style" in css.lower():
        raise ValueError("report.js/report.css must not contain </script, <!-- or </style")
    csp = (
        "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
        f"script-src {script_hash(script)}; base-uri 'none'; form-action 'none'"
    )
    counts = Counter(f.shown_status for f in result.findings)
    context: dict[str, Any] = {
        "result": result,
        "collected_at": _timestamp(result.collected_at),
        "counts": {status: counts.get(status, 0) for status in STATUS_ORDER},
        "worst": result.worst_failure(),
        "charts": summary_charts(result.findings),
        "rows": _rows(result.findings, result.causes),
        "services": sorted({f.rule.service for f in result.findings}),
        "severities": ["critical", "high", "medium", "low", "informational"],
        "statuses": list(STATUS_ORDER),
        "compliance": _compliance(result),
        "cis_standard": CIS_STANDARD,
        "csp": csp,
        # Both are package files, not scan data; Markup keeps them byte-for-byte so the hash holds.
        "css": Markup(css),  # noqa: S704
        "script": Markup(script),  # noqa: S704
    }
    return env.get_template("report.html.j2").render(context)


def _compliance(result: ScanResult) -> list[dict[str, Any]]:
    """CIS v5.0 always, plus any other framework the scan was asked for, grouped by section."""
    from cloudwarden.posture.compliance import assess
    from cloudwarden.posture.frameworks import get_framework

    names = ["cis-5.0", *(n for n in result.frameworks if get_framework(n).id != "cis-5.0")]
    views = []
    for name in names:
        framework = get_framework(name)
        results = assess(framework, result)
        sections = [
            {"id": sid, "title": title, "controls": [r for r in results if r.control.section == sid]}
            for sid, title in framework.sections.items()
        ]
        views.append(
            {
                "framework": framework,
                "counts": Counter(r.status.value for r in results),
                "sections": [s for s in sections if s["controls"]],
            }
        )
    return views


def write_html(result: ScanResult, path: Path) -> Path:
    """Write the report to ``path`` (UTF-8), creating parent directories; returns ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_html(result), encoding="utf-8")
    return path
