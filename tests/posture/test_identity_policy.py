"""posture/policy.py's trust-policy and wildcard questions."""

from __future__ import annotations

import pytest

from cloudwarden.posture.policy import untrusted_assumers, wildcard_grants

ME, OTHER = "123456789012", "999988887777"
GITHUB = f"arn:aws:iam::{ME}:oidc-provider/token.actions.githubusercontent.com"


def _trust(principal, condition=None, action="sts:AssumeRole", effect="Allow"):
    statement = {"Effect": effect, "Principal": principal, "Action": action}
    if condition is not None:
        statement["Condition"] = condition
    return {"Version": "2012-10-17", "Statement": [statement]}


@pytest.mark.parametrize(
    ("trust", "expected"),
    [
        (_trust({"Service": "lambda.amazonaws.com"}), []),
        (_trust({"AWS": f"arn:aws:iam::{ME}:root"}), []),
        (_trust({"AWS": f"arn:aws:iam::{ME}:role/ci"}), []),
        (_trust({"AWS": OTHER}), [f"account {OTHER}"]),
        (_trust({"AWS": [f"arn:aws:iam::{OTHER}:role/x", f"arn:aws:iam::{ME}:root"]}), [f"account {OTHER}"]),
        (_trust({"AWS": f"arn:aws:iam::{OTHER}:root"}, {"StringEquals": {"sts:ExternalId": "s3cr3t"}}), []),
        (_trust({"AWS": f"arn:aws:iam::{OTHER}:root"}, {"StringEquals": {"aws:PrincipalOrgID": "o-abc"}}), []),
        (
            _trust({"AWS": f"arn:aws:iam::{OTHER}:root"}, {"StringNotEquals": {"sts:ExternalId": "x"}}),
            [f"account {OTHER}"],
        ),
        (
            _trust({"AWS": f"arn:aws:iam::{OTHER}:root"}, {"StringEqualsIfExists": {"sts:ExternalId": "x"}}),
            [f"account {OTHER}"],
        ),
        (
            _trust({"AWS": f"arn:aws:iam::{OTHER}:root"}, {"Bool": {"aws:MultiFactorAuthPresent": "true"}}),
            [f"account {OTHER}"],
        ),
        (_trust("*"), ["anyone (*)"]),
        (_trust({"AWS": "*"}), ["anyone (*)"]),
        (_trust("*", {"StringEquals": {"sts:ExternalId": "guessable"}}), ["anyone (*)"]),
        (_trust("*", {"StringEquals": {"aws:PrincipalOrgID": "o-abc"}}), []),
        (_trust({"AWS": OTHER}, effect="Deny"), []),
        (_trust({"AWS": OTHER}, action="s3:GetObject"), []),
        (_trust({"AWS": OTHER}, action="sts:*"), [f"account {OTHER}"]),
        (
            _trust(
                {"Federated": GITHUB},
                {"StringEquals": {"token.actions.githubusercontent.com:aud": "sts.amazonaws.com"}},
                "sts:AssumeRoleWithWebIdentity",
            ),
            ["any identity of token.actions.githubusercontent.com"],
        ),
        (
            _trust(
                {"Federated": GITHUB},
                {"StringLike": {"token.actions.githubusercontent.com:sub": "repo:acme/app:*"}},
                "sts:AssumeRoleWithWebIdentity",
            ),
            [],
        ),
        (_trust({"Federated": f"arn:aws:iam::{ME}:saml-provider/okta"}, None, "sts:AssumeRoleWithSAML"), []),
    ],
)
def test_untrusted_assumers(trust, expected):
    assert untrusted_assumers(trust, ME) == expected


@pytest.mark.parametrize(
    "document",
    [
        None,
        "",
        "not json",
        [],
        {"Statement": "x"},
        {"Statement": [1, None]},
        '{"Statement": {"Effect": "Allow", "Principal": {"AWS": 5}}}',
    ],
)
def test_malformed_trust_grants_no_one(document):
    assert untrusted_assumers(document, ME) == []


def test_trust_from_json_text():
    assert untrusted_assumers(
        '{"Statement": {"Effect": "Allow", "Principal": "*", "Action": "sts:AssumeRole"}}', ME
    ) == ["anyone (*)"]


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        ({"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}, ["Action *"]),
        ({"Statement": {"Effect": "Allow", "Action": ["s3:*", "*:*"], "Resource": "arn:aws:s3:::x"}}, ["Action *"]),
        ({"Statement": [{"Effect": "Allow", "NotAction": ["iam:*"], "Resource": "*"}]}, ["NotAction iam:*"]),
        ({"Statement": [{"Effect": "Deny", "NotAction": "s3:*", "Resource": "*"}]}, []),
        ({"Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}, []),
        ("garbage", []),
    ],
)
def test_wildcard_grants(document, expected):
    assert wildcard_grants(document) == expected
