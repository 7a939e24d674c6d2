"""Network and compute rules never turn "could not read" into PASS."""

from __future__ import annotations

from cloudwarden.findings.model import Status
from tests.conftest import REGION, verdict
from tests.posture.cases_network import _instance_in_default_subnet


def test_ssm_not_implemented_is_error_for_every_instance(aws):
    instance = _instance_in_default_subnet(public=False)(aws)

    findings = aws.scan(services=["ec2", "ssm"])

    finding = verdict(findings, "ec2_instance_managed_by_ssm", instance)
    assert finding.status is Status.ERROR
    assert finding.evidence["reason"] == "500 on ssm:DescribeInstanceInformation"


def test_ssm_not_scanned_is_error_not_fail(aws):
    instance = _instance_in_default_subnet(public=False)(aws)

    finding = verdict(aws.scan(services=["ec2"]), "ec2_instance_managed_by_ssm", instance)

    assert finding.status is Status.ERROR
    assert "not collected" in finding.message


def test_snapshots_of_other_owners_are_not_judged(aws):
    # The emulator answers OwnerIds=self with the AMI catalogue's snapshots too (owned by another account).
    inventory = aws.collect(services=["ec2"])
    owners = {s.attributes.get("OwnerId") for s in inventory.of_type("AWS::EC2::Snapshot")}
    assert owners <= {inventory.account_id}
    assert inventory.regions == [REGION]
