"""Principal normalisation: every identity type CloudTrail writes."""

from __future__ import annotations

from cloudwarden.trail.principal import UNKNOWN, normalise
from tests.trail.helpers import ACCOUNT, assumed_role, iam_user


def test_root() -> None:
    got = normalise(
        {
            "type": "Root",
            "principalId": ACCOUNT,
            "arn": f"arn:aws:iam::{ACCOUNT}:root",
            "accountId": ACCOUNT,
            "accessKeyId": "ASIAROOT",
        }
    )
    assert got.principal == f"arn:aws:iam::{ACCOUNT}:root"
    assert (got.principal_type, got.principal_name, got.access_key_id) == ("Root", "root", "ASIAROOT")


def test_iam_user() -> None:
    got = normalise(iam_user("alice"))
    assert got.principal == got.principal_arn == f"arn:aws:iam::{ACCOUNT}:user/alice"
    assert (got.principal_type, got.principal_name, got.access_key_id) == ("IAMUser", "alice", "AKIAALICEXXXXXXXXXXX")


def test_assumed_role_becomes_the_role_with_session_and_source_identity() -> None:
    got = normalise(assumed_role("deployer", "gh-run-42", source_identity="carol"))
    assert got.principal == got.principal_arn == f"arn:aws:iam::{ACCOUNT}:role/deployer"
    assert (got.principal_type, got.principal_name, got.session_name, got.source_identity) == (
        "AssumedRole",
        "deployer",
        "gh-run-42",
        "carol",
    )


def test_assumed_role_without_session_issuer_is_derived_from_the_arn() -> None:
    got = normalise({"type": "AssumedRole", "arn": "arn:aws-cn:sts::123456789012:assumed-role/app/i-0abc"})
    assert got.principal == "arn:aws-cn:iam::123456789012:role/app"
    assert (got.principal_name, got.session_name) == ("app", "i-0abc")


def test_identity_center_role() -> None:
    identity = assumed_role("AWSReservedSSO_Admin_0123456789abcdef", "alice@example.com")
    got = normalise(identity)
    assert got.principal_type == "IdentityCenterUser"
    assert got.session_name == "alice@example.com"
    assert got.principal_name == "AWSReservedSSO_Admin_0123456789abcdef"


def test_identity_center_user_identity_store_fields() -> None:
    got = normalise(
        {
            "type": "IdentityCenterUser",
            "accountId": ACCOUNT,
            "onBehalfOf": {"userId": "9067-uid", "identityStoreArn": "arn:aws:identitystore::1:identitystore/d-1"},
        }
    )
    assert (got.principal, got.principal_type, got.session_name) == (
        "identitycenter:9067-uid",
        "IdentityCenterUser",
        "9067-uid",
    )


def test_federated_user() -> None:
    got = normalise(
        {
            "type": "FederatedUser",
            "arn": f"arn:aws:sts::{ACCOUNT}:federated-user/bob",
            "sessionContext": {"sessionIssuer": {"type": "IAMUser", "arn": f"arn:aws:iam::{ACCOUNT}:user/fed-issuer"}},
        }
    )
    assert got.principal == f"arn:aws:sts::{ACCOUNT}:federated-user/bob"
    assert (got.principal_type, got.principal_name, got.principal_arn) == (
        "FederatedUser",
        "bob",
        f"arn:aws:iam::{ACCOUNT}:user/fed-issuer",
    )


def test_aws_service() -> None:
    got = normalise({"type": "AWSService", "invokedBy": "cloudtrail.amazonaws.com"})
    assert (got.principal, got.principal_type, got.invoked_by) == (
        "cloudtrail.amazonaws.com",
        "AWSService",
        "cloudtrail.amazonaws.com",
    )


def test_role_session_invoked_by_a_service_keeps_the_role() -> None:
    identity = assumed_role("ecs-task", "task-1") | {"invokedBy": "ecs-tasks.amazonaws.com"}
    got = normalise(identity)
    assert got.principal == f"arn:aws:iam::{ACCOUNT}:role/ecs-task"
    assert got.invoked_by == "ecs-tasks.amazonaws.com"


def test_other_account_web_identity_and_saml() -> None:
    assert normalise({"type": "AWSAccount", "accountId": "444455556666", "principalId": "AIDAX"}).principal == (
        "arn:aws:iam::444455556666:root"
    )
    web = normalise({"type": "WebIdentityUser", "identityProvider": "accounts.google.com", "userName": "u1"})
    assert web.principal == "WebIdentityUser:accounts.google.com:u1"
    saml = normalise({"type": "SAMLUser", "identityProvider": "arn:aws:iam::1:saml-provider/okta", "userName": "dana"})
    assert (saml.principal_type, saml.principal_name) == ("SAMLUser", "dana")


def test_garbage_is_unknown() -> None:
    assert normalise(None) == UNKNOWN
    assert normalise("alice") == UNKNOWN
    assert normalise({"type": 5, "arn": ["x"]}).principal == "unknown"
