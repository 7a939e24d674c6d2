"""``cloudwarden deploy apply`` as a plan the user reads first, then its steps in order.

:func:`make_plan` only reads (the package's manifest, the trail bucket's region) and refuses what cannot work:
a slow lane in another region than its bucket (S3 notifies only a queue in the bucket's region). :func:`execute`
uploads the package, creates or updates the stack, and, only when the plan says so, adds the slow lane's queue
to the trail bucket's notifications.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from cloudwarden.aws.session import AwsContext
from cloudwarden.deploy.apply import (
    DeployError,
    NotificationChange,
    Progress,
    StackRequest,
    StackResult,
    apply_notification,
    bucket_region,
    deploy_stack,
    plan_notification,
    upload_package,
)
from cloudwarden.deploy.package import read_manifest
from cloudwarden.deploy.template import GLOBAL_EVENTS_REGION, LaneSettings, render_template


@dataclass
class DeployPlan:
    stack: StackRequest
    code_bucket: str
    package: Path
    package_key: str
    trail_bucket: str
    trail_prefix: str
    lanes: str
    configure_notification: bool
    warnings: list[str] = field(default_factory=list)

    def describe(self) -> list[str]:
        """The plan as lines for the terminal, one step a line."""
        steps = [
            f"upload the Lambda package {self.package.name} to s3://{self.code_bucket}/{self.package_key}",
            f"create or update CloudFormation stack {self.stack.name} in {self.stack.region} (lanes: {self.lanes}; "
            "IAM roles, Lambda functions, queues, an SNS topic, log groups)",
        ]
        if self.lanes == "fast":
            return steps  # no queue, no bucket change
        if self.configure_notification:
            steps.append(f"change bucket {self.trail_bucket}: notify the stack's queue of new log files under "
                         f"{self.trail_prefix or '(the whole bucket)'} (its other notifications kept)")
        else:
            steps.append(f"leave bucket {self.trail_bucket} unchanged: its notifications are not the stack's; pass "
                         "--configure-trail-bucket to add the queue, or add it yourself (see the outputs)")
        return steps


@dataclass
class DeployOutcome:
    stack: StackResult
    uploaded: bool
    notification: NotificationChange | None = None


def make_plan(
    aws: AwsContext,
    *,
    stack_name: str,
    region: str,
    trail_bucket: str,
    code_bucket: str,
    package: Path,
    package_key: str,
    lanes: str = "both",
    trail_prefix: str = "AWSLogs/",
    trail_kms_key_arn: str = "",
    log_retention_days: int = 365,
    configure_notification: bool = False,
) -> DeployPlan:
    """The plan for these options; raises :class:`DeployError` for a deployment that could not work."""
    try:
        manifest = read_manifest(package)
    except (OSError, ValueError) as exc:
        raise DeployError(f"cannot use package {package}: {exc}") from exc
    settings = LaneSettings(str(manifest["runtime"]), str(manifest["architecture"]))
    warnings = []
    if lanes in ("both", "slow"):
        where = bucket_region(aws.client("s3", region), trail_bucket)
        if where != region:
            raise DeployError(
                f"the trail bucket {trail_bucket} is in {where}, the stack would be in {region}: S3 notifies only "
                f"a queue in the bucket's region. Deploy --lanes slow --region {where}, and --lanes fast "
                f"--region {GLOBAL_EVENTS_REGION}"
            )
    if lanes in ("both", "fast") and region != GLOBAL_EVENTS_REGION:
        warnings.append(f"the fast lane in {region} sees this region's API calls only: IAM, STS and console "
                        f"sign-in events reach EventBridge in {GLOBAL_EVENTS_REGION}; deploy --lanes fast there too")
    parameters = {
        "CodeBucket": code_bucket,
        "CodeKey": package_key,
        "TrailBucket": trail_bucket,
        "TrailKmsKeyArn": trail_kms_key_arn,
        "Lanes": lanes,
        "LogRetentionInDays": str(log_retention_days),
    }
    return DeployPlan(
        stack=StackRequest(stack_name, region, render_template(settings), parameters),
        code_bucket=code_bucket,
        package=package,
        package_key=package_key,
        trail_bucket=trail_bucket,
        trail_prefix=trail_prefix,
        lanes=lanes,
        configure_notification=configure_notification and lanes != "fast",
        warnings=warnings,
    )


def execute(aws: AwsContext, plan: DeployPlan, progress: Progress,
            show_notification: Callable[[NotificationChange], None] | None = None) -> DeployOutcome:
    """Run the plan's steps in order. ``show_notification(change)`` is called with the bucket's configuration
    before and after, just before it is written."""
    region = plan.stack.region
    progress(f"uploading {plan.package.name} ({plan.package.stat().st_size / 1e6:.1f} MB)")
    uploaded = upload_package(aws.client("s3", region), plan.code_bucket, plan.package_key, plan.package.read_bytes())
    if not uploaded:
        progress("  already there (same content)")
    result = deploy_stack(aws.client("cloudformation", region), plan.stack, progress)
    outcome = DeployOutcome(result, uploaded)
    if plan.configure_notification:
        queue_arn = result.outputs.get("NotificationQueueArn")
        if not queue_arn:
            raise DeployError("the stack has no NotificationQueueArn output: the bucket was not changed")
        s3 = aws.client("s3", region)
        change = plan_notification(s3, plan.trail_bucket, queue_arn, plan.trail_prefix)
        if show_notification is not None:
            show_notification(change)
        if change.needed:
            progress(f"setting the notifications of bucket {plan.trail_bucket}")
            apply_notification(s3, change)
        else:
            progress(f"bucket {plan.trail_bucket} already notifies the queue")
        outcome.notification = change
    return outcome
