"""What every collector shares: the collector description, paginated listing, and recording a
per-resource read as either a value or the reason it could not be read."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar

from botocore import xform_name
from botocore.exceptions import BotoCoreError, ClientError

from cloudwarden.aws.errors import describe_failure, error_code
from cloudwarden.aws.session import AwsContext
from cloudwarden.inventory.model import Resource, ScopeError, jsonable

T = TypeVar("T")
R = TypeVar("R")

# Per-resource reads (one bucket's policy, one user's keys) fan out this wide within one collector.
PER_RESOURCE_WORKERS = 8


@dataclass
class CollectorScope:
    """Where one collector runs: the account and, for regional services, one region.

    A collector that loses one listing but not the others records it with :meth:`unreadable`.
    """

    aws: AwsContext
    account_id: str
    region: str
    partition: str = "aws"
    scope_errors: list[ScopeError] = field(default_factory=list)

    def client(self, service: str, region: str | None = None) -> Any:
        return self.aws.client(service, region or self.region)

    def unreadable(self, resource_type: str, exc: BaseException, service: str, operation: str) -> None:
        self.scope_errors.append(ScopeError(resource_type, self.region, describe_failure(exc, service, operation)))

    def arn(self, service: str, resource: str, region: str = "", account: str | None = None) -> str:
        account = self.account_id if account is None else account
        return f"arn:{self.partition}:{service}:{region}:{account}:{resource}"


def for_each(items: Sequence[T], fn: Callable[[T], R]) -> list[R]:
    """``[fn(i) for i in items]``, concurrently: per-resource reads are I/O bound."""
    if len(items) <= 1:
        return [fn(i) for i in items]
    with ThreadPoolExecutor(max_workers=min(PER_RESOURCE_WORKERS, len(items))) as pool:
        return list(pool.map(fn, items))


@dataclass(frozen=True)
class Collector:
    """A unit of collection: ``collect(scope)`` returns resources of ``resource_types``.

    If ``collect`` raises, every type it owns is recorded as unreadable in that region (a ScopeError),
    so each rule over those types reports ERROR rather than silently passing. ``regional`` collectors
    run once per region; the others once per account.
    """

    service: str
    resource_types: tuple[str, ...]
    collect: Callable[[CollectorScope], list[Resource]]
    regional: bool = True
    # The API behind the whole listing, for the reason when it fails ("AccessDenied on ec2:Describe...").
    operation: str = ""


def list_all(client: Any, operation: str, expression: str, **kwargs: Any) -> list[Any]:
    """Every item of a paginated list call, selected by a JMESPath ``expression``."""
    if client.can_paginate(operation):
        pages = client.get_paginator(operation).paginate(**kwargs)
        return [item for item in pages.search(expression) if item is not None]
    import jmespath

    return list(jmespath.search(expression, getattr(client, operation)(**kwargs)) or [])


def read_attribute(
    resource: Resource,
    name: str,
    call: Callable[[], Any],
    *,
    service: str,
    operation: str,
    absent: Iterable[str] = (),
    absent_value: Any = None,
    transform: Callable[[Any], Any] = lambda response: response,
) -> None:
    """Store ``transform(call())`` as attribute ``name``, or record why it could not be read.

    Error codes in ``absent`` are AWS's way of saying "not configured" (e.g. NoSuchBucketPolicy); they
    are answers, stored as ``absent_value``. Anything else (AccessDenied, throttling after retries, a
    network failure) becomes ``resource.errors[name]``.
    """
    try:
        value = transform(call())
    except ClientError as exc:
        if error_code(exc) in set(absent):
            resource.attributes[name] = absent_value
            return
        resource.errors[name] = describe_failure(exc, service, operation)
        return
    except BotoCoreError as exc:
        resource.errors[name] = describe_failure(exc, service, operation)
        return
    resource.attributes[name] = jsonable(value)


def strip_metadata(response: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in response.items() if k != "ResponseMetadata"}


def tags_to_dict(tags: Iterable[dict[str, Any]] | None, key: str = "Key", value: str = "Value") -> dict[str, str]:
    return {str(t.get(key)): str(t.get(value, "")) for t in tags or [] if t.get(key) is not None}


def listing(
    service: str,
    resource_type: str,
    operation: str,
    expression: str,
    id_key: str,
    arn_resource: str,
    augment: Callable[[CollectorScope, list[Resource]], None] | None = None,
    **kwargs: Any,
) -> Collector:
    """A collector for a plain paginated list call, described as data.

    ``arn_resource`` is formatted with the item (``"security-group/{GroupId}"``). ``augment`` adds
    per-resource detail in one step after listing (it records its own read failures on the resources).
    """
    snake = xform_name(operation)  # DescribeDBInstances -> describe_db_instances

    def collect(scope: CollectorScope) -> list[Resource]:
        items = list_all(scope.client(service), snake, expression, **kwargs)
        resources = [
            Resource(
                resource_type,
                str(item[id_key]),
                scope.region,
                scope.account_id,
                arn=scope.arn(service, arn_resource.format(**item), scope.region),
                attributes=jsonable(item),
                tags=tags_to_dict(item.get("Tags")),
            )
            for item in items
        ]
        if augment is not None:
            augment(scope, resources)
        return resources

    return Collector(service, (resource_type,), collect, regional=True, operation=operation)
