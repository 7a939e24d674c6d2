"""Bar-chart geometry for the HTML report's summary: plain numbers the template draws as inline SVG.

Each chart counts FAIL findings. Labels are untrusted text (service names come from rules, but stay
escaped like everything else): the template writes them through Jinja's autoescaping, never here.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from cloudwarden.findings.model import Finding, Severity, Status

CIS_SECTIONS = {
    "1": "Identity and Access Management",
    "2": "Storage",
    "3": "Logging",
    "4": "Monitoring",
    "5": "Networking",
}
NOT_IN_CIS = "Not in CIS"

ROW_HEIGHT = 34
BAR_HEIGHT = 8
BAR_Y = 20  # bar offset inside a row, below the label line


@dataclass(frozen=True)
class Bar:
    label: str
    count: int
    y: int  # top of the row, in px
    percent: float  # filled share of the track, 0..100 (the SVG is as wide as its card)
    tone: str  # CSS class suffix: a severity name or "neutral"


@dataclass(frozen=True)
class BarChart:
    id: str
    title: str
    bars: tuple[Bar, ...]
    row_height: int = ROW_HEIGHT
    bar_height: int = BAR_HEIGHT
    bar_y: int = BAR_Y

    @property
    def height(self) -> int:
        return max(len(self.bars), 1) * self.row_height

    @property
    def total(self) -> int:
        return sum(b.count for b in self.bars)


def bar_chart(chart_id: str, title: str, counts: Iterable[tuple[str, int, str]]) -> BarChart:
    """A chart from ``(label, count, tone)`` rows, in the given order; the largest count fills its track."""
    rows = list(counts)
    top = max((count for _, count, _ in rows), default=0) or 1
    bars = tuple(
        Bar(label, count, i * ROW_HEIGHT, round(100 * count / top, 1), tone)
        for i, (label, count, tone) in enumerate(rows)
    )
    return BarChart(chart_id, title, bars)


def cis_section(control: str) -> str:
    """``"1 Identity and Access Management"`` for ``"1.4"``; an unknown section keeps its bare number."""
    number = control.split(".", 1)[0]
    name = CIS_SECTIONS.get(number)
    return f"{number} {name}" if name else number


def summary_charts(findings: list[Finding]) -> list[BarChart]:
    """FAIL counts by severity (all five, most severe first), by service and by CIS section.

    Services and sections that were judged but have no FAIL show as zero bars; "Not in CIS" appears
    only when some finding has no CIS control. A finding counts once per distinct section it maps to.
    """
    failed = [f for f in findings if f.status is Status.FAIL]
    ordered = sorted(Severity, key=lambda s: -s.rank)
    by_severity = Counter(f.severity for f in failed)
    severity = bar_chart("severity", "Failed by severity",
                         ((s.value, by_severity[s], s.value) for s in ordered))

    services = Counter(f.rule.service for f in failed)
    all_services = sorted({f.rule.service for f in findings}, key=lambda s: (-services[s], s))
    service = bar_chart("service", "Failed by service", ((s, services[s], "neutral") for s in all_services))

    sections: Counter[str] = Counter()
    for f in failed:
        sections.update({cis_section(c) for c in f.rule.cis} or {NOT_IN_CIS})
    labels = [cis_section(n) for n in CIS_SECTIONS]
    labels += sorted({cis_section(c) for f in findings for c in f.rule.cis} - set(labels))
    if any(not f.rule.cis for f in findings):
        labels.append(NOT_IN_CIS)
    cis = bar_chart("cis", "Failed by CIS section", ((label, sections[label], "neutral") for label in labels))
    return [severity, service, cis]
