"""Choosing the regions a scan covers."""

from __future__ import annotations

from botocore.exceptions import BotoCoreError, ClientError

from cloudwarden.aws.errors import describe_failure
from cloudwarden.aws.session import AwsContext


def resolve_regions(aws: AwsContext, requested: list[str]) -> tuple[list[str], str | None]:
    """The regions to scan and, if the account's region list could not be read, a warning.

    ``requested`` (``--region``, repeatable) wins; otherwise every region enabled for the account. If
    DescribeRegions is denied, the scan falls back to the session's region and says so.
    """
    if requested:
        return sorted(dict.fromkeys(requested)), None
    try:
        return aws.enabled_regions(), None
    except (ClientError, BotoCoreError) as exc:
        reason = describe_failure(exc, "ec2", "DescribeRegions")
        return [
            aws.default_region
        ], f"could not list the account's regions ({reason}); scanning {aws.default_region} only"
