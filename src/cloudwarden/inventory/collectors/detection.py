"""Detection services (regional): GuardDuty, Security Hub, IAM Access Analyzer and Macie, one
``AWS::<Service>::RegionSettings`` per region (id = the region name).

Each is one call per region (GuardDuty adds one GetDetector per detector that exists). "Not enabled"
answers are answers, stored as an empty value; anything else (AccessDenied, an API the endpoint does not
implement) is recorded as the reason the setting could not be read, so the rules report ERROR.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from cloudwarden.aws.errors import describe_failure, error_code
from cloudwarden.inventory.collectors.base import Collector, CollectorScope, list_all, read_attribute, strip_metadata
from cloudwarden.inventory.model import Resource

GUARDDUTY = "AWS::GuardDuty::RegionSettings"
SECURITY_HUB = "AWS::SecurityHub::RegionSettings"
ACCESS_ANALYZER = "AWS::AccessAnalyzer::RegionSettings"
MACIE = "AWS::Macie::RegionSettings"


def _settings(scope: CollectorScope, resource_type: str, service: str) -> Resource:
    return Resource(
        resource_type, scope.region, scope.region, scope.account_id, arn=scope.arn(service, "settings", scope.region)
    )


def collect_guardduty(scope: CollectorScope) -> list[Resource]:
    guardduty = scope.client("guardduty")
    settings = _settings(scope, GUARDDUTY, "guardduty")

    def detectors() -> list[dict[str, Any]]:
        ids = list_all(guardduty, "list_detectors", "DetectorIds[]")
        return [{"DetectorId": i, **strip_metadata(guardduty.get_detector(DetectorId=i))} for i in ids[:50]]

    read_attribute(settings, "detectors", detectors, service="guardduty", operation="GetDetector")
    return [settings]


def collect_security_hub(scope: CollectorScope) -> list[Resource]:
    settings = _settings(scope, SECURITY_HUB, "securityhub")
    read_attribute(
        settings,
        "hub",
        scope.client("securityhub").describe_hub,
        service="securityhub",
        operation="DescribeHub",
        absent=("InvalidAccessException",),  # Security Hub's "this account is not subscribed"
        transform=strip_metadata,
    )
    return [settings]


def collect_access_analyzers(scope: CollectorScope) -> list[Resource]:
    settings = _settings(scope, ACCESS_ANALYZER, "access-analyzer")
    read_attribute(
        settings,
        "analyzers",
        lambda: list_all(scope.client("accessanalyzer"), "list_analyzers", "analyzers[]"),
        service="access-analyzer",
        operation="ListAnalyzers",
    )
    return [settings]


def collect_macie(scope: CollectorScope) -> list[Resource]:
    settings = _settings(scope, MACIE, "macie2")
    try:
        settings.attributes["session"] = strip_metadata(scope.client("macie2").get_macie_session())
    except ClientError as exc:
        if macie_not_enabled(exc):
            settings.attributes["session"] = None
        else:
            settings.errors["session"] = describe_failure(exc, "macie2", "GetMacieSession")
    except BotoCoreError as exc:
        settings.errors["session"] = describe_failure(exc, "macie2", "GetMacieSession")
    return [settings]


def macie_not_enabled(exc: ClientError) -> bool:
    """Macie answers GetMacieSession with AccessDeniedException "Macie is not enabled" (and, after
    DisableMacie, ResourceNotFoundException); any other AccessDenied is a real refusal."""
    code = error_code(exc)
    message = str(exc.response.get("Error", {}).get("Message", "")).lower()
    return code == "ResourceNotFoundException" or (code == "AccessDeniedException" and "not enabled" in message)


COLLECTORS = [
    Collector("guardduty", (GUARDDUTY,), collect_guardduty, operation="ListDetectors"),
    Collector("securityhub", (SECURITY_HUB,), collect_security_hub, operation="DescribeHub"),
    Collector("accessanalyzer", (ACCESS_ANALYZER,), collect_access_analyzers, operation="ListAnalyzers"),
    Collector("macie", (MACIE,), collect_macie, operation="GetMacieSession"),
]
