"""RDS rules: encryption at rest, public access, minor upgrades, Multi-AZ, backups and deletion protection.

Aurora instances belong to a cluster that owns their storage, backups and deletion protection, so the
instance rules for those settings leave cluster members to the cluster rules.
"""

from __future__ import annotations

from cloudwarden.findings.model import Severity
from cloudwarden.inventory.model import Inventory, Resource
from cloudwarden.posture.registry import Verdict, failed, manual, passed, rule

INSTANCE = "AWS::RDS::DBInstance"
CLUSTER = "AWS::RDS::DBCluster"
MIN_BACKUP_RETENTION_DAYS = 7


def _cluster_member(db: Resource) -> bool:
    return bool(db.attr("DBClusterIdentifier"))


def _encrypted(db: Resource, what: str) -> Verdict:
    if db.attr("StorageEncrypted") is True:
        return passed(f"{what} storage is encrypted.", StorageEncrypted=True, KmsKeyId=db.attr("KmsKeyId"))
    return failed(f"{what} {db.id} stores data unencrypted.", StorageEncrypted=bool(db.attr("StorageEncrypted")))


def _retention(db: Resource, what: str) -> Verdict:
    days = db.attr("BackupRetentionPeriod")
    days = days if isinstance(days, int) else 0
    if days >= MIN_BACKUP_RETENTION_DAYS:
        return passed(f"Automated backups are kept {days} days.", BackupRetentionPeriod=days)
    detail = "automated backups are off" if days == 0 else f"automated backups are kept only {days} day(s)"
    return failed(f"{what} {db.id}: {detail} (want >= {MIN_BACKUP_RETENTION_DAYS}).", BackupRetentionPeriod=days)


def _deletion_protection(db: Resource, what: str) -> Verdict:
    if db.attr("DeletionProtection") is True:
        return passed("Deletion protection is on.", DeletionProtection=True)
    return failed(f"{what} {db.id} can be deleted by one API call.", DeletionProtection=False)


@rule(
    id="rds_instance_storage_encrypted",
    title="RDS DB instances are encrypted at rest",
    severity=Severity.HIGH,
    resource_type=INSTANCE,
    cis=("2.2.1",),
    fsbp=("RDS.3",),
    well_architected=("SEC08",),
    rationale="Unencrypted storage, snapshots and replicas expose the data to anyone who obtains a copy.",
    remediation="Encryption cannot be turned on in place: snapshot, copy the snapshot with --kms-key-id, "
    "restore from the encrypted copy and switch the application over.",
)
def rds_instance_storage_encrypted(db: Resource, _: Inventory) -> Verdict | None:
    if _cluster_member(db):
        return None  # judged on the cluster
    return _encrypted(db, "DB instance")


@rule(
    id="rds_instance_auto_minor_version_upgrade",
    title="RDS DB instances apply minor engine upgrades automatically",
    severity=Severity.MEDIUM,
    resource_type=INSTANCE,
    cis=("2.2.2",),
    fsbp=("RDS.13",),
    well_architected=("SEC06",),
    rationale="Minor engine versions carry security fixes; without automatic upgrades they wait for a person.",
    remediation="aws rds modify-db-instance --db-instance-identifier DB --auto-minor-version-upgrade "
    "--apply-immediately",
)
def rds_instance_auto_minor_version_upgrade(db: Resource, _: Inventory) -> Verdict:
    if db.attr("AutoMinorVersionUpgrade") is True:
        return passed("Automatic minor version upgrades are on.", AutoMinorVersionUpgrade=True)
    return failed(f"DB instance {db.id} does not upgrade minor versions automatically.", AutoMinorVersionUpgrade=False)


@rule(
    id="rds_instance_not_public",
    title="RDS DB instances are not publicly accessible",
    severity=Severity.CRITICAL,
    resource_type=INSTANCE,
    cis=("2.2.3",),
    fsbp=("RDS.2",),
    well_architected=("SEC05",),
    rationale="A publicly accessible instance gets a public DNS address; only security groups stand between "
    "the database and the internet's password guessing.",
    remediation="aws rds modify-db-instance --db-instance-identifier DB --no-publicly-accessible --apply-immediately",
)
def rds_instance_not_public(db: Resource, _: Inventory) -> Verdict:
    if db.attr("PubliclyAccessible") is True:
        return failed(f"DB instance {db.id} is publicly accessible.", PubliclyAccessible=True)
    return passed("The instance is not publicly accessible.", PubliclyAccessible=False)


@rule(
    id="rds_instance_multi_az",
    title="RDS DB instances use Multi-AZ where availability matters (manual)",
    severity=Severity.LOW,
    resource_type=INSTANCE,
    cis=("2.2.4",),
    fsbp=("RDS.5",),
    well_architected=("SEC10",),
    rationale="CIS marks this control Manual: whether a database needs a standby in another Availability Zone "
    "is a business decision. cloudwarden reports what it sees and leaves the decision to a person.",
    remediation="For databases that must survive an AZ outage: aws rds modify-db-instance --db-instance-identifier "
    "DB --multi-az --apply-immediately",
)
def rds_instance_multi_az(db: Resource, _: Inventory) -> Verdict | None:
    if _cluster_member(db):
        return None  # Aurora replicas across AZs are a cluster property
    multi_az = db.attr("MultiAZ") is True
    seen = "is Multi-AZ" if multi_az else "runs in a single Availability Zone"
    return manual(
        f"DB instance {db.id} {seen}; decide whether its availability needs require Multi-AZ.",
        MultiAZ=multi_az,
        AvailabilityZone=db.attr("AvailabilityZone"),
        SecondaryAvailabilityZone=db.attr("SecondaryAvailabilityZone"),
    )


@rule(
    id="rds_instance_backup_retention",
    title=f"RDS DB instances keep automated backups for at least {MIN_BACKUP_RETENTION_DAYS} days",
    severity=Severity.MEDIUM,
    resource_type=INSTANCE,
    fsbp=("RDS.11",),
    well_architected=("SEC10",),
    rationale="Backups are how a team recovers from its own mistakes and from ransomware; a day or two of "
    "retention is often gone before anyone notices the damage.",
    remediation="aws rds modify-db-instance --db-instance-identifier DB --backup-retention-period 7 "
    "--apply-immediately",
)
def rds_instance_backup_retention(db: Resource, _: Inventory) -> Verdict | None:
    if _cluster_member(db):
        return None  # judged on the cluster
    return _retention(db, "DB instance")


@rule(
    id="rds_instance_deletion_protection",
    title="RDS DB instances have deletion protection",
    severity=Severity.MEDIUM,
    resource_type=INSTANCE,
    fsbp=("RDS.8",),
    well_architected=("SEC10",),
    rationale="Deletion protection stops a mistaken script or console click from deleting a database.",
    remediation="aws rds modify-db-instance --db-instance-identifier DB --deletion-protection --apply-immediately",
)
def rds_instance_deletion_protection(db: Resource, _: Inventory) -> Verdict | None:
    if _cluster_member(db):
        return None  # judged on the cluster
    return _deletion_protection(db, "DB instance")


@rule(
    id="rds_cluster_storage_encrypted",
    title="RDS DB clusters are encrypted at rest",
    severity=Severity.HIGH,
    resource_type=CLUSTER,
    fsbp=("RDS.27",),
    well_architected=("SEC08",),
    rationale="Unencrypted cluster storage and snapshots expose the data to anyone who obtains a copy.",
    remediation="Snapshot the cluster, restore it with --kms-key-id into an encrypted cluster and switch over.",
)
def rds_cluster_storage_encrypted(cluster: Resource, _: Inventory) -> Verdict:
    return _encrypted(cluster, "DB cluster")


@rule(
    id="rds_cluster_backup_retention",
    title=f"RDS DB clusters keep automated backups for at least {MIN_BACKUP_RETENTION_DAYS} days",
    severity=Severity.MEDIUM,
    resource_type=CLUSTER,
    well_architected=("SEC10",),
    rationale="Backups are how a team recovers from its own mistakes and from ransomware; a day of retention "
    "is often gone before anyone notices the damage.",
    remediation="aws rds modify-db-cluster --db-cluster-identifier CLUSTER --backup-retention-period 7 "
    "--apply-immediately",
)
def rds_cluster_backup_retention(cluster: Resource, _: Inventory) -> Verdict:
    return _retention(cluster, "DB cluster")


@rule(
    id="rds_cluster_deletion_protection",
    title="RDS DB clusters have deletion protection",
    severity=Severity.MEDIUM,
    resource_type=CLUSTER,
    fsbp=("RDS.7",),
    well_architected=("SEC10",),
    rationale="Deletion protection stops a mistaken script or console click from deleting a database cluster.",
    remediation="aws rds modify-db-cluster --db-cluster-identifier CLUSTER --deletion-protection --apply-immediately",
)
def rds_cluster_deletion_protection(cluster: Resource, _: Inventory) -> Verdict:
    return _deletion_protection(cluster, "DB cluster")
