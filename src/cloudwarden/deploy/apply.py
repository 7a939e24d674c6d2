"""Creating the lanes' stack: upload the package, create or update the stack and wait for it, and point the trail
bucket's notifications at the slow lane's queue.

Every step here writes to the account, so the clients come from a context built with ``read_only=False``, and the
CLI prints :class:`DeployPlan` and asks before :func:`execute` runs. The trail bucket is not the stack's: its
notification is changed only when the plan says so (``configure_notification``), merged into what the bucket
already notifies (S3 replaces the whole configuration on every write), and left alone when it is already right.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

NOTIFICATION_ID = "cloudwarden-slow-lane"
LOG_SUFFIX = ".json.gz"
DONE = {"CREATE_COMPLETE", "UPDATE_COMPLETE"}
# A stack in one of these states cannot be updated; it must be deleted first (CloudFormation's rule).
DEAD = {"ROLLBACK_COMPLETE", "ROLLBACK_FAILED", "DELETE_FAILED"}
Progress = Callable[[str], None]


class DeployError(RuntimeError):
    """A step failed; the message says which and why (for a stack, every failed resource with its reason)."""


@dataclass(frozen=True)
class StackRequest:
    name: str
    region: str
    template_body: str
    parameters: dict[str, str]


@dataclass
class NotificationChange:
    """The trail bucket's notification configuration before and after adding the slow lane's queue."""

    bucket: str
    queue_arn: str
    before: dict[str, Any]
    after: dict[str, Any]

    @property
    def needed(self) -> bool:
        return self.before != self.after


@dataclass
class StackResult:
    status: str
    outputs: dict[str, str] = field(default_factory=dict)
    changed: bool = True


def bucket_region(s3: Any, bucket: str) -> str:
    """The bucket's region (GetBucketLocation answers None for us-east-1 and ``EU`` for eu-west-1)."""
    try:
        location = s3.get_bucket_location(Bucket=bucket).get("LocationConstraint")
    except ClientError as exc:
        raise DeployError(f"cannot read the location of bucket {bucket}: {_reason(exc)}") from exc
    return {None: "us-east-1", "": "us-east-1", "EU": "eu-west-1"}.get(location, location)


def upload_package(s3: Any, bucket: str, key: str, data: bytes) -> bool:
    """Put the package at ``bucket/key`` unless an object of the same size is already there (the key is named by
    the package's hash). True when it was uploaded."""
    try:
        if s3.head_object(Bucket=bucket, Key=key).get("ContentLength") == len(data):
            return False
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") not in ("404", "NoSuchKey", "NotFound"):
            raise DeployError(f"cannot read s3://{bucket}/{key}: {_reason(exc)}") from exc
    try:
        s3.put_object(Bucket=bucket, Key=key, Body=data, ContentType="application/zip")
    except ClientError as exc:
        raise DeployError(f"cannot upload the package to s3://{bucket}/{key}: {_reason(exc)}") from exc
    return True


def deploy_stack(cfn: Any, request: StackRequest, progress: Progress, timeout: float = 1800,
                 poll: float = 5.0) -> StackResult:
    """Create the stack, or update it when it exists; wait until CloudFormation is done, reporting each stack
    event through ``progress``. A rollback raises :class:`DeployError` with every failed resource's reason."""
    arguments = {
        "StackName": request.name,
        "TemplateBody": request.template_body,
        "Parameters": [{"ParameterKey": k, "ParameterValue": v} for k, v in request.parameters.items()],
        "Capabilities": ["CAPABILITY_IAM"],  # the template creates roles (with generated names)
    }
    existing = _stack(cfn, request.name)
    seen = {e["EventId"] for e in _events(cfn, request.name)} if existing else set()
    try:
        if existing is None:
            progress(f"creating stack {request.name} in {request.region}")
            cfn.create_stack(**arguments, OnFailure="ROLLBACK")
        elif existing["StackStatus"] in DEAD:
            raise DeployError(f"stack {request.name} is {existing['StackStatus']} and cannot be updated: delete it "
                              f"(aws cloudformation delete-stack --stack-name {request.name}) and apply again")
        else:
            progress(f"updating stack {request.name} in {request.region}")
            cfn.update_stack(**arguments)
    except ClientError as exc:
        if "No updates are to be performed" in _reason(exc):
            progress(f"stack {request.name} is up to date")
            return StackResult(existing["StackStatus"], _outputs(existing), changed=False)  # type: ignore[index]
        raise DeployError(f"CloudFormation refused the stack: {_reason(exc)}") from exc
    deadline = time.monotonic() + timeout
    while True:
        stack = _stack(cfn, request.name)
        for event in reversed(_events(cfn, request.name)):
            if event["EventId"] not in seen:
                seen.add(event["EventId"])
                reason = f": {event['ResourceStatusReason']}" if event.get("ResourceStatusReason") else ""
                progress(f"  {event.get('LogicalResourceId')} {event.get('ResourceStatus')}{reason}")
        status = stack["StackStatus"] if stack else "DELETED"
        if not status.endswith("_IN_PROGRESS"):
            break
        if time.monotonic() > deadline:
            raise DeployError(f"stack {request.name} is still {status} after {int(timeout)} s; watch it in the "
                              "CloudFormation console")
        time.sleep(poll)
    if status not in DONE:
        failures = [
            f"{e.get('LogicalResourceId')} ({e.get('ResourceType')}): {e.get('ResourceStatusReason', 'no reason')}"
            for e in _events(cfn, request.name) if str(e.get("ResourceStatus", "")).endswith("_FAILED")
        ]
        raise DeployError(f"stack {request.name} ended {status}" + "".join(f"\n  {f}" for f in failures))
    return StackResult(status, _outputs(stack))


def _stack(cfn: Any, name: str) -> dict[str, Any] | None:
    try:
        stacks = cfn.describe_stacks(StackName=name).get("Stacks") or []
    except ClientError as exc:
        if "does not exist" in _reason(exc):
            return None
        raise DeployError(f"cannot read stack {name}: {_reason(exc)}") from exc
    return stacks[0] if stacks else None


def _events(cfn: Any, name: str) -> list[dict[str, Any]]:
    """The stack's recent events, newest first (one page: enough to report one operation)."""
    try:
        return list(cfn.describe_stack_events(StackName=name).get("StackEvents") or [])
    except ClientError:
        return []


def _outputs(stack: dict[str, Any] | None) -> dict[str, str]:
    return {o["OutputKey"]: o.get("OutputValue", "") for o in (stack or {}).get("Outputs") or []}


def plan_notification(s3: Any, bucket: str, queue_arn: str, prefix: str) -> NotificationChange:
    """The trail bucket's configuration with the slow lane's queue added for new log files under ``prefix``
    (every other notification kept; a previous cloudwarden entry replaced)."""
    try:
        before = s3.get_bucket_notification_configuration(Bucket=bucket)
    except ClientError as exc:
        raise DeployError(f"cannot read the notifications of bucket {bucket}: {_reason(exc)}") from exc
    before = {k: v for k, v in before.items() if k != "ResponseMetadata"}
    rules = [{"Name": "suffix", "Value": LOG_SUFFIX}] + ([{"Name": "prefix", "Value": prefix}] if prefix else [])
    ours = {
        "Id": NOTIFICATION_ID,
        "QueueArn": queue_arn,
        "Events": ["s3:ObjectCreated:*"],
        "Filter": {"Key": {"FilterRules": rules}},
    }
    after = dict(before)
    others = [q for q in before.get("QueueConfigurations") or [] if q.get("Id") != NOTIFICATION_ID]
    mine = [q for q in before.get("QueueConfigurations") or [] if q.get("Id") == NOTIFICATION_ID]
    if len(mine) == 1 and _same(mine[0], ours):
        ours = mine[0]  # already there as S3 wrote it back: nothing to change
    after["QueueConfigurations"] = [*others, ours]
    return NotificationChange(bucket, queue_arn, before, after)


def _same(existing: dict[str, Any], wanted: dict[str, Any]) -> bool:
    def rules(config: dict[str, Any]) -> set[tuple[str, str]]:
        found = (config.get("Filter") or {}).get("Key", {}).get("FilterRules") or []
        return {(str(r.get("Name")).lower(), str(r.get("Value"))) for r in found}

    return (existing.get("QueueArn") == wanted["QueueArn"] and set(existing.get("Events") or []) ==
            set(wanted["Events"]) and rules(existing) == rules(wanted))


def apply_notification(s3: Any, change: NotificationChange) -> None:
    """Write the planned configuration (S3 replaces the bucket's whole notification configuration)."""
    try:
        s3.put_bucket_notification_configuration(Bucket=change.bucket, NotificationConfiguration=change.after)
    except ClientError as exc:
        raise DeployError(f"cannot set the notifications of bucket {change.bucket}: {_reason(exc)} (S3 checks "
                          "that the queue policy lets the bucket send, and that no other rule overlaps)") from exc


def _reason(exc: ClientError) -> str:
    error = exc.response.get("Error", {})
    return f"{error.get('Code', 'Error')}: {error.get('Message', str(exc))}"
