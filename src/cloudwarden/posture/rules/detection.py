"""Detection services in every scanned region: GuardDuty, Security Hub (CIS 4.16), IAM Access Analyzer
(CIS 1.19) and Macie (CIS 2.1.3). One RegionSettings resource per region, so each region is judged."""

from __future__ import annotations

from cloudwarden.findings.model import Severity
from cloudwarden.inventory.model import Inventory, Resource
from cloudwarden.posture.registry import Verdict, failed, manual, passed, rule

# Analyzer types that look for access from outside (the unused-access ones do not).
EXTERNAL_ANALYZER_TYPES = {"ACCOUNT", "ORGANIZATION"}


@rule(
    id="guardduty_enabled",
    fsbp=("GuardDuty.1",),
    well_architected=("SEC04",),
    title="GuardDuty is enabled in every region",
    severity=Severity.HIGH,
    resource_type="AWS::GuardDuty::RegionSettings",
    rationale="GuardDuty watches CloudTrail, DNS and flow logs for credential misuse and compromised hosts; a "
    "region without it is where an attacker mines unseen.",
    remediation="aws guardduty create-detector --enable --region REGION (or enable it organization-wide from the "
    "delegated administrator).",
)
def guardduty_enabled(settings: Resource, _: Inventory) -> Verdict:
    detectors = settings.attr("detectors") or []
    enabled = [str(d.get("DetectorId")) for d in detectors if str(d.get("Status", "")).upper() == "ENABLED"]
    if enabled:
        return passed(f"GuardDuty is enabled in {settings.region}.", detectors=enabled)
    state = "suspended" if detectors else "not enabled"
    return failed(f"GuardDuty is {state} in {settings.region}.", detectors=[])


@rule(
    id="securityhub_enabled",
    fsbp=(),
    well_architected=("SEC04",),
    title="Security Hub is enabled in every region",
    severity=Severity.MEDIUM,
    resource_type="AWS::SecurityHub::RegionSettings",
    cis=("4.16",),
    rationale="Security Hub gathers findings from GuardDuty, Inspector, Macie and its own checks in one place per "
    "region; without it nobody sees them together.",
    remediation="aws securityhub enable-security-hub --region REGION",
)
def securityhub_enabled(settings: Resource, _: Inventory) -> Verdict:
    hub = settings.attr("hub")
    if hub and hub.get("HubArn"):
        return passed(f"Security Hub is enabled in {settings.region}.", HubArn=hub.get("HubArn"))
    return failed(f"Security Hub is not enabled in {settings.region}.", HubArn=None)


@rule(
    id="accessanalyzer_enabled",
    fsbp=("IAM.28",),
    well_architected=("SEC03",),
    title="An IAM Access Analyzer for external access is active in every region",
    severity=Severity.MEDIUM,
    resource_type="AWS::AccessAnalyzer::RegionSettings",
    cis=("1.19",),
    rationale="Access Analyzer reports buckets, keys, roles and queues shared outside the account; it analyses "
    "only the region it runs in.",
    remediation="aws accessanalyzer create-analyzer --analyzer-name external --type ACCOUNT --region REGION",
)
def accessanalyzer_enabled(settings: Resource, _: Inventory) -> Verdict:
    analyzers = settings.attr("analyzers") or []
    active = [
        str(a.get("name"))
        for a in analyzers
        if isinstance(a, dict) and a.get("type") in EXTERNAL_ANALYZER_TYPES and a.get("status") == "ACTIVE"
    ]
    if active:
        return passed(f"An external access analyzer is active in {settings.region}.", analyzers=active)
    return failed(f"No active external access analyzer in {settings.region}.", analyzers=[])


@rule(
    id="macie_enabled",
    fsbp=("Macie.1",),
    well_architected=("SEC07",),
    title="Macie is enabled and S3 data is classified (manual)",
    severity=Severity.LOW,
    resource_type="AWS::Macie::RegionSettings",
    cis=("2.1.3",),
    rationale="Macie discovers sensitive data in S3 so it can be secured; whether all data has been discovered "
    "and classified is a process a person confirms (CIS marks this Manual).",
    remediation="aws macie2 enable-macie --region REGION, then turn on automated sensitive data discovery.",
)
def macie_enabled(settings: Resource, _: Inventory) -> Verdict:
    session = settings.attr("session")
    status = (session or {}).get("status")
    if status != "ENABLED":
        return failed(f"Macie is not enabled in {settings.region}.", status=status)
    return manual(
        f"Macie is enabled in {settings.region}; confirm that S3 data has been discovered and classified.",
        status=status,
    )
