"""Secrets Manager (regional): secrets from ListSecrets, which already says whether rotation is on."""

from __future__ import annotations

from cloudwarden.inventory.collectors.base import CollectorScope, listing
from cloudwarden.inventory.model import Resource

SECRET = "AWS::SecretsManager::Secret"  # noqa: S105 - a resource type name


def _use_own_arn(_: CollectorScope, secrets: list[Resource]) -> None:
    # A secret's ARN ends in a random suffix that only the API knows.
    for secret in secrets:
        arn = secret.attributes.get("ARN")
        if isinstance(arn, str) and arn:
            secret.arn = arn


COLLECTORS = [
    listing(
        "secretsmanager",
        SECRET,
        "ListSecrets",
        "SecretList[]",
        "Name",
        "secret:{Name}",
        augment=_use_own_arn,
    ),
]
