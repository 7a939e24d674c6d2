"""KMS rules."""

from __future__ import annotations

from cloudwarden.findings.model import Severity
from cloudwarden.inventory.model import Inventory, Resource
from cloudwarden.posture.registry import Verdict, failed, passed, rule


@rule(
    id="kms_key_rotation_enabled",
    fsbp=("KMS.4",),
    well_architected=("SEC08",),
    title="Customer-managed KMS keys rotate",
    severity=Severity.MEDIUM,
    resource_type="AWS::KMS::Key",
    cis=("3.6",),
    rationale="Rotation limits how much data one key version protects, and is free for symmetric keys.",
    remediation="aws kms enable-key-rotation --key-id KEY_ID",
)
def kms_key_rotation_enabled(key: Resource, _: Inventory) -> Verdict | None:
    metadata = key.attr("metadata") or {}
    if metadata.get("KeyManager") != "CUSTOMER" or metadata.get("KeyState") != "Enabled":
        return None
    if metadata.get("KeySpec", "SYMMETRIC_DEFAULT") != "SYMMETRIC_DEFAULT":
        return None  # AWS rotates only symmetric keys automatically
    if key.attr("rotation_enabled"):
        return passed("Automatic rotation is on.", KeyRotationEnabled=True)
    return failed(
        f"Key {key.id} does not rotate.", KeyRotationEnabled=False, description=metadata.get("Description", "")
    )
