"""SQS rules."""

from __future__ import annotations

from cloudwarden.findings.model import Severity
from cloudwarden.inventory.model import Inventory, Resource
from cloudwarden.posture.registry import Verdict, failed, passed, rule


@rule(
    id="sqs_queue_encrypted",
    title="SQS queues are encrypted at rest",
    severity=Severity.MEDIUM,
    resource_type="AWS::SQS::Queue",
    fsbp=("SQS.1",),
    well_architected=("SEC08",),
    rationale="Messages often carry customer data; SSE-SQS costs nothing and SSE-KMS adds key-level control.",
    remediation="aws sqs set-queue-attributes --queue-url URL --attributes SqsManagedSseEnabled=true "
    "(or KmsMasterKeyId=KEY for SSE-KMS)",
)
def sqs_queue_encrypted(queue: Resource, _: Inventory) -> Verdict | None:
    attributes = queue.attr("attributes")
    if attributes is None:
        return None  # the queue was deleted between listing and reading
    kms_key = attributes.get("KmsMasterKeyId") or None
    sse_sqs = str(attributes.get("SqsManagedSseEnabled", "")).lower() == "true"
    if kms_key:
        return passed("The queue is encrypted with KMS (SSE-KMS).", KmsMasterKeyId=kms_key)
    if sse_sqs:
        return passed("The queue is encrypted with SQS-managed keys (SSE-SQS).", SqsManagedSseEnabled=True)
    return failed(f"Queue {queue.id} is not encrypted.", KmsMasterKeyId=None, SqsManagedSseEnabled=False)
