"""EFS (regional): file systems, from one DescribeFileSystems listing."""

from __future__ import annotations

from cloudwarden.inventory.collectors.base import CollectorScope, listing
from cloudwarden.inventory.model import Resource

FILE_SYSTEM = "AWS::EFS::FileSystem"


def _use_own_arn(_: CollectorScope, file_systems: list[Resource]) -> None:
    # EFS ARNs name the service "elasticfilesystem", not the client name "efs".
    for fs in file_systems:
        arn = fs.attributes.get("FileSystemArn")
        if isinstance(arn, str) and arn:
            fs.arn = arn


COLLECTORS = [
    listing(
        "efs",
        FILE_SYSTEM,
        "DescribeFileSystems",
        "FileSystems[]",
        "FileSystemId",
        "file-system/{FileSystemId}",
        augment=_use_own_arn,
    ),
]
