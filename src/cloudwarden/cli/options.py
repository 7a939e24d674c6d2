"""Options several commands share, declared once."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

Profile = Annotated[
    str | None, typer.Option("--profile", help="AWS CLI profile to use (default: the credential chain).")
]
Regions = Annotated[
    list[str] | None,
    typer.Option("--region", help="Region to scan; repeat for several. Default: every region enabled for the account."),
]
AllRegions = Annotated[
    bool,
    typer.Option("--all-regions", help="Scan every region enabled for the account (the default without --region)."),
]
RoleArn = Annotated[
    str | None, typer.Option("--role-arn", help="Assume this role first (e.g. a read-only audit role).")
]
EndpointUrl = Annotated[
    str | None,
    typer.Option(
        "--endpoint-url",
        envvar="AWS_ENDPOINT_URL",
        help="Send every AWS call to this endpoint (LocalStack, a moto server). Also AWS_ENDPOINT_URL.",
    ),
]
Services = Annotated[
    str | None,
    typer.Option(
        "--services", help="Comma-separated services to collect (iam,s3,ec2,cloudtrail,kms,config). Default: all."
    ),
]
NoProgress = Annotated[bool, typer.Option("--no-progress", help="Do not draw the progress bar.")]
OutputDir = Annotated[Path, typer.Option("--output-dir", help="Where file outputs are written.")]
OutputFormats = Annotated[
    str,
    typer.Option("--output-formats", help="Comma-separated: console, json (OCSF), asff, csv, html."),
]


Frameworks = Annotated[
    list[str] | None,
    typer.Option(
        "--framework",
        help="Print per-control status for a framework: cis-5.0, fsbp or well-architected (repeatable).",
    ),
]
Mutelist = Annotated[
    Path | None,
    typer.Option("--mutelist", help="YAML file of accepted risks: matching findings are shown as MUTED."),
]


class FailOn(StrEnum):
    critical = "critical"
    high = "high"
    medium = "medium"
    low = "low"


def split_csv(value: str | None) -> list[str]:
    return [part.strip().lower() for part in (value or "").split(",") if part.strip()]
