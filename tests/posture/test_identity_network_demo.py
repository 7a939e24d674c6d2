"""The sample environment's identity and network mistakes (demo/sample_identity.py, sample_network.py) are
each reported as FAIL on the resource they were planted on."""

from __future__ import annotations

from cloudwarden.demo.environment import DEMO_REGIONS, SampleEnvironment, seed_sample_company
from cloudwarden.findings.model import Status
from cloudwarden.posture.registry import all_rules


def test_planted_identity_and_network_mistakes_fail(aws):
    env: SampleEnvironment = seed_sample_company(aws.client, aws.account_id)
    findings = aws.scan(regions=list(DEMO_REGIONS))
    mine = {r.id for r in all_rules()} & {
        "account_security_contact_registered",
        "guardduty_enabled",
        "securityhub_enabled",
        "macie_enabled",
        "iam_role_trust_restricted",
        "iam_role_inline_policy_no_wildcard",
        "iam_group_inline_policy_no_wildcard",
        "iam_no_cloudshell_full_access",
        "iam_user_no_setup_access_keys",
        "iam_user_console_and_access_keys",
        "iam_server_certificate_not_expired",
        "iam_root_hardware_mfa",
        "ec2_instance_no_public_ip",
        "ec2_ami_not_public",
        "ec2_snapshot_not_public",
        "ec2_vpc_gateway_endpoints",
        "ec2_sg_unused",
        "ec2_route_table_peering_least_access",
        "s3_bucket_key_enabled",
        "s3_bucket_lifecycle_configured",
        "s3_bucket_mfa_delete",
        "cloudtrail_bucket_access_logging",
        "cloudtrail_s3_data_events_write",
        "cloudtrail_s3_data_events_read",
    }
    planted = [m for m in env.mistakes if m.rule_id in mine]
    assert {m.rule_id for m in planted} == mine
    status = {(f.rule.id, f.resource_id): f.status for f in findings}
    missed = [
        (m.rule_id, m.resource_id, status.get((m.rule_id, m.resource_id)))
        for m in planted
        if status.get((m.rule_id, m.resource_id)) is not Status.FAIL
    ]
    assert not missed
    # The well-configured counterparts pass.
    assert status[("iam_role_trust_restricted", "partner-reporting")] is Status.PASS
    assert status[("guardduty_enabled", "eu-west-1")] is Status.PASS
    assert status[("securityhub_enabled", "eu-west-1")] is Status.PASS
