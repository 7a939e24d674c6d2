"""EFS rules."""

from __future__ import annotations

from cloudwarden.findings.model import Severity
from cloudwarden.inventory.model import Inventory, Resource
from cloudwarden.posture.registry import Verdict, failed, passed, rule


@rule(
    id="efs_filesystem_encrypted",
    title="EFS file systems are encrypted at rest",
    severity=Severity.HIGH,
    resource_type="AWS::EFS::FileSystem",
    cis=("2.3.1",),
    fsbp=("EFS.1",),
    well_architected=("SEC08",),
    rationale="Encryption at rest can only be chosen when a file system is created; unencrypted ones stay so.",
    remediation="Create an encrypted file system (--encrypted --kms-key-id KEY), copy the data with AWS "
    "DataSync, move the mount targets, then delete the old file system.",
)
def efs_filesystem_encrypted(fs: Resource, _: Inventory) -> Verdict:
    if fs.attr("Encrypted") is True:
        return passed("The file system is encrypted.", Encrypted=True, KmsKeyId=fs.attr("KmsKeyId"))
    return failed(f"File system {fs.id} ({fs.attr('Name') or 'no name'}) is not encrypted.", Encrypted=False)
