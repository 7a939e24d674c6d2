"""SNS rules (topics; subscriptions belong to the monitoring rules)."""

from __future__ import annotations

from cloudwarden.findings.model import Severity
from cloudwarden.inventory.model import Inventory, Resource
from cloudwarden.posture.registry import Verdict, failed, passed, rule


@rule(
    id="sns_topic_kms_encrypted",
    title="SNS topics are encrypted with KMS",
    severity=Severity.MEDIUM,
    resource_type="AWS::SNS::Topic",
    fsbp=("SNS.1",),
    well_architected=("SEC08",),
    rationale="Messages waiting for delivery are stored by SNS; KMS encryption protects them and lets the key "
    "policy decide who may publish encrypted data.",
    remediation="aws sns set-topic-attributes --topic-arn ARN --attribute-name KmsMasterKeyId "
    "--attribute-value KEY (alias/aws/sns or a customer-managed key)",
)
def sns_topic_kms_encrypted(topic: Resource, _: Inventory) -> Verdict:
    key = (topic.attr("attributes") or {}).get("KmsMasterKeyId") or None
    if key:
        return passed("The topic is encrypted with KMS.", KmsMasterKeyId=key)
    return failed(f"Topic {topic.id} is not encrypted.", KmsMasterKeyId=None)
