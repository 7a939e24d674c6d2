"""AWS Config rules."""

from __future__ import annotations

from cloudwarden.findings.model import Severity
from cloudwarden.inventory.model import Inventory, Resource
from cloudwarden.posture.registry import Verdict, failed, passed, rule


@rule(
    id="config_recorder_enabled",
    fsbp=("Config.1",),
    well_architected=("SEC04",),
    title="AWS Config records all resources",
    severity=Severity.MEDIUM,
    resource_type="AWS::Config::RegionSettings",
    cis=("3.3",),
    rationale='Config\'s history answers "what did this look like last Tuesday?" and feeds continuous checks.',
    remediation="Create a configuration recorder for all supported resource types with a delivery channel, "
    "then start it (aws configservice start-configuration-recorder).",
)
def config_recorder_enabled(settings: Resource, _: Inventory) -> Verdict:
    recorders = settings.attr("recorders") or []
    recording = {s.get("name") for s in settings.attr("recorder_statuses") or [] if s.get("recording")}
    if not recorders:
        return failed(f"No AWS Config recorder in {settings.region}.", recorders=[])
    for recorder in recorders:
        group = recorder.get("recordingGroup") or {}
        if recorder.get("name") in recording and group.get("allSupported", False):
            return passed(f"Recorder {recorder.get('name')} records all resources.", recorder=recorder.get("name"))
    return failed(
        f"No AWS Config recorder in {settings.region} is recording all resources.",
        recorders=[r.get("name") for r in recorders],
        recording=sorted(recording),
    )
