"""RDS rules beyond the PASS/FAIL table: Multi-AZ is a Manual CIS control (MANUAL, never PASS), and
Aurora cluster members leave storage, backup and deletion settings to their cluster."""

from __future__ import annotations

import pytest

from cloudwarden.findings.model import Status
from cloudwarden.inventory.model import Inventory, Resource
from cloudwarden.posture.evaluator import evaluate
from tests.conftest import ACCOUNT_ID, REGION, verdict
from tests.posture.cases_data import _db_instance


@pytest.mark.parametrize(("multi_az", "seen"), [(True, "is Multi-AZ"), (False, "single Availability Zone")])
def test_multi_az_is_manual_with_what_was_seen(aws, multi_az: bool, seen: str) -> None:
    _db_instance(MultiAZ=multi_az)(aws)
    finding = verdict(aws.scan(services=["rds"]), "rds_instance_multi_az", "orders-db")
    assert finding.status is Status.MANUAL
    assert seen in finding.message
    assert finding.evidence["MultiAZ"] is multi_az


def test_cluster_members_are_judged_on_their_cluster() -> None:
    member = Resource(
        "AWS::RDS::DBInstance",
        "ledger-1",
        REGION,
        ACCOUNT_ID,
        arn=f"arn:aws:rds:{REGION}:{ACCOUNT_ID}:db:ledger-1",
        attributes={
            "DBClusterIdentifier": "ledger",
            "StorageEncrypted": False,
            "MultiAZ": False,
            "BackupRetentionPeriod": 1,
            "DeletionProtection": False,
            "PubliclyAccessible": True,
            "AutoMinorVersionUpgrade": True,
        },
    )
    inventory = Inventory(ACCOUNT_ID, [REGION], resources=[member], collected_types={"AWS::RDS::DBInstance"})
    judged = {f.rule.id: f.status for f in evaluate(inventory)}
    for rule_id in (
        "rds_instance_storage_encrypted",
        "rds_instance_backup_retention",
        "rds_instance_deletion_protection",
        "rds_instance_multi_az",
    ):
        assert rule_id not in judged
    assert judged["rds_instance_not_public"] is Status.FAIL
    assert judged["rds_instance_auto_minor_version_upgrade"] is Status.PASS


def test_wrong_types_do_not_pass() -> None:
    odd = Resource(
        "AWS::RDS::DBInstance",
        "odd",
        REGION,
        ACCOUNT_ID,
        attributes={"StorageEncrypted": "true", "BackupRetentionPeriod": "30", "DeletionProtection": 1},
    )
    inventory = Inventory(ACCOUNT_ID, [REGION], resources=[odd], collected_types={"AWS::RDS::DBInstance"})
    findings = evaluate(inventory)
    for rule_id in (
        "rds_instance_storage_encrypted",
        "rds_instance_backup_retention",
        "rds_instance_deletion_protection",
    ):
        assert verdict(findings, rule_id, "odd").status is Status.FAIL
