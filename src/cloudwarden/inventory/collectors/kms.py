"""KMS (regional): keys with their manager, state and rotation status."""

from __future__ import annotations

from cloudwarden.inventory.collectors.base import CollectorScope, for_each, listing, read_attribute
from cloudwarden.inventory.model import Resource

KEY = "AWS::KMS::Key"


def describe_keys(scope: CollectorScope, keys: list[Resource]) -> None:
    kms = scope.client("kms")

    def one(key: Resource) -> None:
        read_attribute(
            key,
            "metadata",
            lambda: kms.describe_key(KeyId=key.id),
            service="kms",
            operation="DescribeKey",
            transform=lambda r: r["KeyMetadata"],
        )
        metadata = key.attributes.get("metadata") or {}
        # AWS answers rotation only for customer-managed symmetric keys; asking for others is an error.
        if (
            metadata.get("KeyManager") == "CUSTOMER"
            and metadata.get("KeySpec", "SYMMETRIC_DEFAULT") == ("SYMMETRIC_DEFAULT")
            and metadata.get("KeyState") == "Enabled"
        ):
            read_attribute(
                key,
                "rotation_enabled",
                lambda: kms.get_key_rotation_status(KeyId=key.id),
                service="kms",
                operation="GetKeyRotationStatus",
                transform=lambda r: bool(r["KeyRotationEnabled"]),
            )

    for_each(keys, one)


COLLECTORS = [
    listing("kms", KEY, "ListKeys", "Keys[]", "KeyId", "key/{KeyId}", augment=describe_keys),
]
