"""The Inventory: a serialisable snapshot of an account's resources, and what could not be read.

Collection is the only place that calls AWS for posture. Rules read resources through
:meth:`Resource.attr`, which raises :class:`Unreadable` when collection recorded an error for that
attribute, so a rule cannot mistake "could not read" for "not configured".

File format (``FORMAT``/``VERSION``): see docs/inventory-format.md.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

FORMAT = "cloudwarden-inventory"
VERSION = 1

# Not a real AWS region: the scope of global services (IAM, the S3 bucket list).
GLOBAL = "global"


class Unreadable(Exception):
    """The data a rule needs was not collected; ``reason`` says why (e.g. AccessDenied on s3:GetBucketPolicy)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class InventoryFormatError(ValueError):
    """An inventory file that is not one cloudwarden can read."""


@dataclass
class Resource:
    """One resource or account/region-level setting.

    ``type`` uses CloudFormation naming where one exists (``AWS::S3::Bucket``) and the
    ``AWS::<Service>::<Thing>`` shape for settings that have none (``AWS::IAM::AccountSettings``).
    ``attributes`` hold API answers, largely as returned; ``errors`` maps an attribute name to the
    reason it could not be read.
    """

    type: str
    id: str
    region: str
    account_id: str
    arn: str = ""
    attributes: dict[str, Any] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)

    def attr(self, name: str, default: Any = None) -> Any:
        """The collected value of ``name``; raises :class:`Unreadable` when it could not be read."""
        if name in self.errors:
            raise Unreadable(self.errors[name])
        return self.attributes.get(name, default)

    def to_dict(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "id": self.id,
            "arn": self.arn,
            "region": self.region,
            "account_id": self.account_id,
            "tags": self.tags,
            "attributes": self.attributes,
            "errors": self.errors,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Resource:
        return cls(
            type=str(data["type"]),
            id=str(data["id"]),
            arn=str(data.get("arn", "")),
            region=str(data["region"]),
            account_id=str(data["account_id"]),
            tags={str(k): str(v) for k, v in (data.get("tags") or {}).items()},
            attributes=dict(data.get("attributes") or {}),
            errors={str(k): str(v) for k, v in (data.get("errors") or {}).items()},
        )


@dataclass(frozen=True)
class ScopeError:
    """A whole listing that failed: no resource of ``resource_type`` in ``region`` could be seen."""

    resource_type: str
    region: str
    reason: str


@dataclass
class Inventory:
    account_id: str
    regions: list[str]
    partition: str = "aws"
    collected_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    resources: list[Resource] = field(default_factory=list)
    scope_errors: list[ScopeError] = field(default_factory=list)
    # Which resource types were collected at all; a rule whose type was not asked for is not judged.
    collected_types: set[str] = field(default_factory=set)

    def add(self, resource: Resource) -> None:
        self.resources.append(resource)

    def of_type(self, resource_type: str) -> Iterator[Resource]:
        return (r for r in self.resources if r.type == resource_type)

    def by_type(self) -> dict[str, list[Resource]]:
        grouped: dict[str, list[Resource]] = {}
        for resource in self.resources:
            grouped.setdefault(resource.type, []).append(resource)
        return grouped

    def find(self, resource_type: str, resource_id: str, region: str | None = None) -> Resource | None:
        for resource in self.of_type(resource_type):
            if resource.id == resource_id and (region is None or resource.region == region):
                return resource
        return None

    def extend(self, resources: Iterable[Resource]) -> None:
        self.resources.extend(resources)

    # -- file format ---------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "version": VERSION,
            "account_id": self.account_id,
            "partition": self.partition,
            "regions": self.regions,
            "collected_at": self.collected_at.isoformat(),
            "collected_types": sorted(self.collected_types),
            "resources": [r.to_dict() for r in self.resources],
            "scope_errors": [
                {"resource_type": e.resource_type, "region": e.region, "reason": e.reason} for e in self.scope_errors
            ],
        }

    def save(self, path: Path) -> None:
        path.write_bytes(orjson.dumps(self.to_dict(), option=orjson.OPT_INDENT_2, default=_json_default))

    @classmethod
    def from_dict(cls, data: Any) -> Inventory:
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise InventoryFormatError(f'not a cloudwarden inventory (expected "format": "{FORMAT}")')
        if data.get("version") != VERSION:
            raise InventoryFormatError(
                f"inventory version {data.get('version')!r} is not supported (this cloudwarden reads {VERSION})"
            )
        try:
            return cls(
                account_id=str(data["account_id"]),
                partition=str(data.get("partition", "aws")),
                regions=[str(r) for r in data.get("regions", [])],
                collected_at=datetime.fromisoformat(data["collected_at"]),
                collected_types=set(data.get("collected_types", [])),
                resources=[Resource.from_dict(r) for r in data.get("resources", [])],
                scope_errors=[ScopeError(**e) for e in data.get("scope_errors", [])],
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise InventoryFormatError(f"malformed inventory: {exc}") from exc

    @classmethod
    def load(cls, path: Path) -> Inventory:
        try:
            data = orjson.loads(path.read_bytes())
        except orjson.JSONDecodeError as exc:
            raise InventoryFormatError(f"not valid JSON ({exc})") from exc
        return cls.from_dict(data)


def _json_default(value: Any) -> Any:
    """API answers carry datetimes and bytes; the file stores them as ISO strings and text."""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, set):
        return sorted(value)
    raise TypeError(f"cannot store {type(value).__name__} in an inventory")


def jsonable(value: Any) -> Any:
    """``value`` as the inventory file will hold it (datetimes as ISO 8601 strings).

    Collectors store attributes through this so a rule sees the same types live and from a saved file.
    """
    return orjson.loads(orjson.dumps(value, default=_json_default, option=orjson.OPT_NON_STR_KEYS))
