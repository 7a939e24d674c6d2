"""Names of the compliance frameworks findings refer to, in the forms each output format wants."""

from __future__ import annotations

CIS_STANDARD = "CIS AWS Foundations Benchmark v5.0.0"


def cis_requirements(cis_ids: tuple[str, ...]) -> list[str]:
    """``["CIS AWS Foundations Benchmark v5.0.0/1.4", ...]``: Security Hub's RelatedRequirements form."""
    return [f"{CIS_STANDARD}/{control}" for control in cis_ids]
