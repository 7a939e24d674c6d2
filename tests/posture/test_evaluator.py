"""ERROR semantics of the evaluator, on hand-built inventories (no emulator, no network).

Whatever could not be read is reported as ERROR with the reason, never as PASS; a resource type the scan
did not collect is not judged at all.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from cloudwarden.findings.model import Finding, Severity, Status
from cloudwarden.inventory.model import GLOBAL, Inventory, Resource, ScopeError
from cloudwarden.posture.evaluator import evaluate
from cloudwarden.posture.registry import Rule, all_rules, passed
from tests.conftest import ACCOUNT_ID, REGION, verdict

BUCKET = "AWS::S3::Bucket"
S3_ACCOUNT = "AWS::S3::AccountSettings"
POLICY_DENIED = "AccessDenied on s3:GetBucketPolicy"
RULES = all_rules()
BUCKET_RULES = {r.id for r in RULES if r.resource_type == BUCKET}


def inventory(*resources: Resource, types: set[str] | None = None, errors: list[ScopeError] | None = None,
              regions: list[str] | None = None) -> Inventory:
    collected = {r.type for r in resources} if types is None else types
    return Inventory(account_id=ACCOUNT_ID, regions=regions or [REGION], resources=list(resources),
                     scope_errors=errors or [], collected_types=collected)


def bucket(name: str = "data-bucket", errors: dict[str, str] | None = None, **attributes: Any) -> Resource:
    """A bucket as the S3 collector records it: private, no policy, versioned."""
    owner = {"DisplayName": "owner", "ID": "c0ffee"}
    defaults = {
        "Name": name, "CreationDate": "2026-01-01T00:00:00+00:00", "location": REGION, "policy": None,
        "acl": {"Owner": owner, "Grants": [{"Grantee": {**owner, "Type": "CanonicalUser"},
                                            "Permission": "FULL_CONTROL"}]},
        "public_access_block": None, "encryption": None, "versioning": {"Status": "Enabled"}, "logging": None,
        "lifecycle_rules": None,
    }
    return Resource(BUCKET, name, REGION, ACCOUNT_ID, arn=f"arn:aws:s3:::{name}",
                    attributes={**defaults, **attributes}, errors=dict(errors or {}))


class ReadRecorder(Resource):
    """A Resource that remembers which attributes a rule asked for."""

    read: set[str]

    def attr(self, name: str, default: Any = None) -> Any:
        self.read.add(name)
        return super().attr(name, default)


def rules_reading(attribute: str, resource: Resource) -> set[str]:
    """The rules over ``resource``'s type that read ``attribute`` when judging it."""
    readers = set()
    for rule in RULES:
        if rule.resource_type != resource.type:
            continue
        probe = ReadRecorder(**vars(resource))
        probe.read = set()
        rule.check(probe, inventory(probe))
        if attribute in probe.read:
            readers.add(rule.id)
    return readers


def by_rule(findings: list[Finding]) -> dict[str, Finding]:
    return {f.rule.id: f for f in findings}


# -- an attribute that could not be read --------------------------------------------------------------


def test_the_rules_that_read_the_policy_are_the_two_policy_rules() -> None:
    # Guards the mechanical check below against vacuity: it must find these two.
    assert rules_reading("policy", bucket()) == {"s3_bucket_no_public_policy", "s3_bucket_tls_only"}


@pytest.mark.parametrize("policy", [None, {"Statement": [{"Effect": "Allow", "Principal": "*",
                                                          "Action": "s3:GetObject", "Resource": "*"}]}],
                         ids=["no-policy", "public-policy"])
def test_unreadable_policy_is_error_for_every_rule_that_reads_it(policy: Any) -> None:
    # Whatever the policy would have been, the rules that need it say they could not read it.
    resource = bucket(errors={"policy": POLICY_DENIED}, policy=policy)
    readers = rules_reading("policy", bucket(policy=policy))
    findings = by_rule(evaluate(inventory(resource)))

    assert set(findings) == BUCKET_RULES
    for rule_id in readers:
        finding = findings[rule_id]
        assert finding.status == Status.ERROR, rule_id
        assert finding.evidence == {"reason": POLICY_DENIED}
        assert POLICY_DENIED in finding.message
    for rule_id in BUCKET_RULES - readers:
        assert findings[rule_id].status != Status.ERROR, rule_id  # the error is scoped to the attribute


@pytest.mark.parametrize("rule_id", sorted(BUCKET_RULES))
def test_any_unreadable_bucket_attribute_a_rule_reads_makes_it_error(rule_id: str) -> None:
    clean = bucket()
    probe = ReadRecorder(**vars(clean))
    probe.read = set()
    next(r for r in RULES if r.id == rule_id).check(probe, inventory(probe))
    assert probe.read, f"{rule_id} reads nothing"
    for attribute in sorted(probe.read):
        reason = f"AccessDenied reading {attribute}"
        finding = verdict(evaluate(inventory(bucket(errors={attribute: reason}))), rule_id, "data-bucket")
        assert (finding.status, finding.evidence) == (Status.ERROR, {"reason": reason}), attribute


def test_unreadable_account_block_settings_count_as_off_never_as_error_or_on() -> None:
    # A bucket whose own Block Public Access is off, public by ACL; the account settings could not be read.
    public_acl = {"Owner": {"ID": "c0ffee"}, "Grants": [
        {"Grantee": {"Type": "Group", "URI": "http://acs.amazonaws.com/groups/global/AllUsers"}, "Permission": "READ"}]}
    account = Resource(S3_ACCOUNT, ACCOUNT_ID, GLOBAL, ACCOUNT_ID,
                       errors={"public_access_block": "AccessDenied on s3control:GetPublicAccessBlock"})
    findings = evaluate(inventory(bucket(acl=public_acl), account))
    assert verdict(findings, "s3_bucket_no_public_acl", "data-bucket").status == Status.FAIL
    assert verdict(findings, "s3_bucket_public_access_block", "data-bucket").status == Status.FAIL
    assert verdict(findings, "s3_account_public_access_block", ACCOUNT_ID).status == Status.ERROR


def test_an_unreadable_trail_makes_the_account_wide_trail_rule_error() -> None:
    trail = Resource("AWS::CloudTrail::Trail", "main", REGION, ACCOUNT_ID,
                     arn=f"arn:aws:cloudtrail:{REGION}:{ACCOUNT_ID}:trail/main",
                     attributes={"trail": {"Name": "main", "IsMultiRegionTrail": True}, "event_selectors": {}},
                     errors={"status": "AccessDenied on cloudtrail:GetTrailStatus"})
    anchor = Resource("AWS::CloudTrail::AccountSettings", ACCOUNT_ID, GLOBAL, ACCOUNT_ID,
                      attributes={"trail_arns": [trail.arn]})
    finding = verdict(evaluate(inventory(anchor, trail)), "cloudtrail_multi_region_enabled", ACCOUNT_ID)
    assert finding.status == Status.ERROR
    assert "main: AccessDenied on cloudtrail:GetTrailStatus" in finding.evidence["reason"]


# -- a listing that failed ------------------------------------------------------------------------------


def test_scope_error_gives_one_error_per_rule_over_the_type() -> None:
    reason = "AccessDenied on s3:ListBuckets"
    inv = inventory(types={BUCKET}, errors=[ScopeError(BUCKET, GLOBAL, reason)])
    findings = evaluate(inv)

    assert Counter(f.rule.id for f in findings) == Counter(BUCKET_RULES)  # exactly one each, nothing else
    for finding in findings:
        assert finding.status == Status.ERROR
        assert finding.resource_id == f"{BUCKET} in {GLOBAL}"
        assert finding.resource_type == BUCKET
        assert finding.region == GLOBAL
        assert finding.evidence == {"reason": reason}
        assert reason in finding.message


def test_scope_error_in_one_region_leaves_the_other_region_judged() -> None:
    volume = "AWS::EC2::Volume"
    reason = "UnauthorizedOperation on ec2:DescribeVolumes"
    encrypted = Resource(volume, "vol-1", REGION, ACCOUNT_ID, attributes={"Encrypted": True, "KmsKeyId": "k"})
    findings = evaluate(inventory(encrypted, types={volume}, regions=[REGION, "eu-west-1"],
                                  errors=[ScopeError(volume, "eu-west-1", reason)]))
    findings = [f for f in findings if f.rule.id == "ec2_ebs_volume_encrypted"]
    assert [(f.region, f.resource_id, f.status) for f in findings] == [
        (REGION, "vol-1", Status.PASS), ("eu-west-1", f"{volume} in eu-west-1", Status.ERROR)]


def test_scope_errors_of_other_types_do_not_touch_a_rule() -> None:
    inv = inventory(bucket(), types={BUCKET, "AWS::EC2::Volume"},
                    errors=[ScopeError("AWS::EC2::Volume", REGION, "Throttling on ec2:DescribeVolumes")])
    statuses = {f.rule.id: f.status for f in evaluate(inv) if f.resource_type == BUCKET}
    assert Status.ERROR not in statuses.values()
    assert set(statuses) == BUCKET_RULES


# -- a rule that raised ------------------------------------------------------------------------------------


def _rule(check: Any, resource_type: str = BUCKET) -> Rule:
    return Rule("test_probe", "probe", Severity.LOW, resource_type, "rationale", "remediation", check)


def test_a_rule_that_raises_is_error_not_pass() -> None:
    def broken(resource: Resource, _: Inventory) -> Any:
        raise KeyError("Grants")

    (finding,) = evaluate(inventory(bucket()), rules=[_rule(broken)])
    assert finding.status == Status.ERROR
    assert finding.evidence == {"reason": "rule test_probe failed: KeyError: 'Grants'"}
    assert finding.message.startswith("Could not evaluate:")


def test_a_real_rule_fed_junk_is_error_not_pass() -> None:
    # A password policy whose length is not a number makes the rule raise: that is an ERROR.
    account = Resource("AWS::IAM::AccountSettings", ACCOUNT_ID, GLOBAL, ACCOUNT_ID,
                       attributes={"summary": {}, "password_policy": {"MinimumPasswordLength": "fourteen"},
                                   "support_policy_entities": {}})
    finding = verdict(evaluate(inventory(account)), "iam_password_policy_min_length", ACCOUNT_ID)
    assert finding.status == Status.ERROR
    assert "ValueError" in finding.evidence["reason"]


def test_one_resource_raising_does_not_stop_the_others() -> None:
    def picky(resource: Resource, _: Inventory) -> Any:
        if resource.id == "bad":
            raise RuntimeError("boom")
        return passed("fine")

    findings = evaluate(inventory(bucket("bad"), bucket("good")), rules=[_rule(picky)])
    assert {f.resource_id: f.status for f in findings} == {"bad": Status.ERROR, "good": Status.PASS}


# -- what the scan did not collect ----------------------------------------------------------------------------


def test_uncollected_types_are_not_judged() -> None:
    # Resources are present, but the scan did not ask for S3 (e.g. --services iam): no S3 findings at all.
    volume = Resource("AWS::EC2::Volume", "vol-1", REGION, ACCOUNT_ID, attributes={"Encrypted": False})
    findings = evaluate(inventory(bucket(), volume, types={"AWS::EC2::Volume"},
                                  errors=[ScopeError(BUCKET, GLOBAL, "AccessDenied on s3:ListBuckets")]))
    assert [(f.rule.id, f.resource_id) for f in findings] == [("ec2_ebs_volume_encrypted", "vol-1")]


def test_an_empty_inventory_has_no_findings() -> None:
    assert evaluate(inventory(types=set())) == []


def test_a_rule_out_of_scope_returns_no_finding() -> None:
    # A non-default security group is outside ec2_default_sg_restricts_all: no finding, not a PASS.
    group = Resource("AWS::EC2::SecurityGroup", "sg-1", REGION, ACCOUNT_ID,
                     attributes={"GroupName": "web", "IpPermissions": [], "IpPermissionsEgress": []})
    assert "ec2_default_sg_restricts_all" not in by_rule(evaluate(inventory(group)))
