"""ECS (regional): the latest ACTIVE revision of every task definition family.

ListTaskDefinitionFamilies (status ACTIVE) once, then DescribeTaskDefinition per family (given a family,
it answers the latest ACTIVE revision). Container environment values are redacted here
(:func:`cloudwarden.posture.secrets.redact`): an inventory file never holds them.
"""

from __future__ import annotations

from typing import Any

from cloudwarden.inventory.collectors.base import (
    Collector,
    CollectorScope,
    for_each,
    list_all,
    read_attribute,
    tags_to_dict,
)
from cloudwarden.inventory.model import Resource
from cloudwarden.posture.secrets import redact

TASK_DEFINITION = "AWS::ECS::TaskDefinition"


def collect_task_definitions(scope: CollectorScope) -> list[Resource]:
    ecs = scope.client("ecs")
    families = list_all(ecs, "list_task_definition_families", "families[]", status="ACTIVE")
    return for_each([f for f in families if isinstance(f, str)], lambda family: _task_definition(scope, ecs, family))


def _task_definition(scope: CollectorScope, ecs: Any, family: str) -> Resource:
    resource = Resource(
        TASK_DEFINITION,
        family,
        scope.region,
        scope.account_id,
        arn=scope.arn("ecs", f"task-definition/{family}", scope.region),
    )
    read_attribute(
        resource,
        "task_definition",
        lambda: ecs.describe_task_definition(taskDefinition=family, include=["TAGS"]),
        service="ecs",
        operation="DescribeTaskDefinition",
        transform=_redacted,
    )
    definition = resource.attributes.get("task_definition") or {}
    if isinstance(definition.get("taskDefinitionArn"), str):
        resource.arn = definition["taskDefinitionArn"]
    resource.tags = tags_to_dict(definition.pop("tags", None), key="key", value="value")
    return resource


def _redacted(answer: dict[str, Any]) -> dict[str, Any]:
    definition = dict(answer.get("taskDefinition") or {})
    definition["tags"] = answer.get("tags") or []
    containers = []
    for container in definition.get("containerDefinitions") or []:
        if not isinstance(container, dict):
            continue
        container = dict(container)
        environment = container.get("environment")
        if isinstance(environment, list):
            container["environment"] = [
                {"name": str(e.get("name", "")), "value": redact(e.get("value", ""))}
                for e in environment
                if isinstance(e, dict)
            ]
        containers.append(container)
    definition["containerDefinitions"] = containers
    return definition


COLLECTORS = [
    Collector("ecs", (TASK_DEFINITION,), collect_task_definitions, operation="ListTaskDefinitionFamilies"),
]
