"""ECS rules over the latest ACTIVE revision of each task definition family."""

from __future__ import annotations

from typing import Any

from cloudwarden.findings.model import Severity
from cloudwarden.inventory.model import Inventory, Resource
from cloudwarden.posture.registry import Verdict, failed, passed, rule
from cloudwarden.posture.secrets import suspicious_variables

TASK_DEFINITION = "AWS::ECS::TaskDefinition"


def _containers(task: Resource) -> list[dict[str, Any]]:
    definition = task.attr("task_definition") or {}
    containers = definition.get("containerDefinitions") if isinstance(definition, dict) else None
    return [c for c in containers or [] if isinstance(c, dict)]


def _revision(task: Resource) -> Any:
    return (task.attr("task_definition") or {}).get("revision")


@rule(
    id="ecs_task_no_privileged_containers",
    title="ECS task definitions run no privileged containers",
    severity=Severity.HIGH,
    resource_type=TASK_DEFINITION,
    fsbp=("ECS.4",),
    well_architected=("SEC06",),
    rationale="A privileged container has root on the host: one compromised container owns every task there.",
    remediation='Register a new revision without "privileged": true (grant specific linuxParameters '
    "capabilities if the workload needs one) and deploy it.",
)
def ecs_task_no_privileged_containers(task: Resource, _: Inventory) -> Verdict:
    privileged = sorted(str(c.get("name", "")) for c in _containers(task) if c.get("privileged") is True)
    if privileged:
        return failed(f"Task definition {task.id}:{_revision(task)} runs privileged containers.", privileged=privileged)
    return passed("No container is privileged.", privileged=[])


@rule(
    id="ecs_task_no_host_network",
    title="ECS task definitions do not use host network mode",
    severity=Severity.MEDIUM,
    resource_type=TASK_DEFINITION,
    fsbp=("ECS.17",),
    well_architected=("SEC05",),
    rationale="In host mode containers share the instance's network stack: they can reach the instance "
    "metadata service and every port the host listens on, and security groups cannot tell tasks apart.",
    remediation="Register a new revision with networkMode awsvpc (or bridge) and deploy it.",
)
def ecs_task_no_host_network(task: Resource, _: Inventory) -> Verdict:
    mode = (task.attr("task_definition") or {}).get("networkMode")
    if mode == "host":
        return failed(f"Task definition {task.id}:{_revision(task)} uses host network mode.", networkMode=mode)
    return passed(f"Network mode is {mode or 'the default'}.", networkMode=mode)


@rule(
    id="ecs_task_no_secrets_in_env",
    title="ECS task definitions keep no secrets in plain environment variables",
    severity=Severity.HIGH,
    resource_type=TASK_DEFINITION,
    fsbp=("ECS.8",),
    well_architected=("SEC02",),
    rationale="Plain environment values are readable by anyone who can describe the task definition, in every "
    "revision, forever; the secrets field fetches them from Secrets Manager or Parameter Store at start.",
    remediation='Move the value to Secrets Manager and reference it under the container\'s "secrets" '
    "(valueFrom), register a new revision, deregister the old ones, and rotate the exposed secret.",
)
def ecs_task_no_secrets_in_env(task: Resource, _: Inventory) -> Verdict:
    found: list[str] = []
    for container in _containers(task):
        environment = container.get("environment")
        pairs = [(e.get("name", ""), e.get("value")) for e in environment or [] if isinstance(e, dict)]
        found += [f"{container.get('name', '')}/{hit}" for hit in suspicious_variables(pairs)]
    if found:
        return failed(
            f"Task definition {task.id}:{_revision(task)} has secret-looking environment variables.",
            variables=sorted(found),
        )
    return passed("No environment variable looks like a secret.", variables=[])
