"""Unit tests for cloudwarden.posture.policy: the one place that reads IAM and resource policy documents.

Documents are untrusted input: whatever their shape, the functions must not raise, and a malformed part
must never count as a grant (Allow) or as a protection (Deny).
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cloudwarden.posture import policy
from cloudwarden.posture.policy import Statement

BUCKET = "arn:aws:s3:::data-bucket"


def doc(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def allow(action: Any = "s3:GetObject", resource: Any = "*", **extra: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


def public(action: Any = "s3:GetObject", **extra: Any) -> dict[str, Any]:
    return allow(action, f"{BUCKET}/*", **{"Principal": "*", **extra})


def tls_deny(secure_transport: Any = "false", **overrides: Any) -> dict[str, Any]:
    statement = {"Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": [BUCKET, f"{BUCKET}/*"],
                 "Condition": {"Bool": {"aws:SecureTransport": secure_transport}}}
    return {**statement, **overrides}


# -- load and statements ----------------------------------------------------------------------------


@pytest.mark.parametrize("document", [
    doc(allow()), json.dumps(doc(allow())), json.dumps(doc(allow())).encode(),
], ids=["dict", "text", "bytes"])
def test_load_accepts_dict_text_and_bytes(document: Any) -> None:
    assert policy.load(document) == doc(allow())


@pytest.mark.parametrize("document", [None, 5, 1.5, True, "not json {", "", "[1, 2]", '"a string"', b"\xff\xfe",
                                      [doc(allow())], ("Statement",)])
def test_load_gives_empty_dict_for_anything_else(document: Any) -> None:
    assert policy.load(document) == {}


def test_statement_fields_accept_a_string_or_a_list() -> None:
    one, many = policy.statements(doc(allow("s3:GetObject", "arn:aws:s3:::b/*"),
                                      allow(["s3:GetObject", "s3:PutObject"], ["arn:aws:s3:::b", "arn:aws:s3:::b/*"])))
    assert one.actions == ("s3:GetObject",) and one.resources == ("arn:aws:s3:::b/*",)
    assert many.actions == ("s3:GetObject", "s3:PutObject")
    assert many.resources == ("arn:aws:s3:::b", "arn:aws:s3:::b/*")
    assert one.effect == "Allow" and not one.has_principal and one.principals == ()


def test_a_single_statement_object_is_a_statement() -> None:
    assert [s.actions for s in policy.statements({"Statement": allow("iam:*")})] == [("iam:*",)]


@pytest.mark.parametrize(("principal", "principals", "is_public"), [
    ("*", ("*",), True),
    ({"AWS": "*"}, ("*",), True),
    ({"AWS": ["arn:aws:iam::111122223333:root", "*"]}, ("arn:aws:iam::111122223333:root", "*"), True),
    ({"AWS": ["arn:aws:iam::111122223333:root", "arn:aws:iam::444455556666:role/r"]},
     ("arn:aws:iam::111122223333:root", "arn:aws:iam::444455556666:role/r"), False),
    ({"Service": "cloudtrail.amazonaws.com"}, ("cloudtrail.amazonaws.com",), False),
    ({"AWS": 111122223333}, (), False),
    (5, (), False),
])
def test_principal_forms(principal: Any, principals: tuple[str, ...], is_public: bool) -> None:
    (statement,) = policy.statements(doc(allow(Principal=principal)))
    assert statement.principals == principals
    assert statement.has_principal
    assert statement.is_public is is_public


def test_numbers_where_strings_are_expected_are_dropped() -> None:
    (statement,) = policy.statements(doc({"Effect": "Allow", "Action": ["s3:GetObject", 7], "NotAction": 3,
                                          "Resource": [None, "*"], "Condition": "not a mapping"}))
    assert statement.actions == ("s3:GetObject",)
    assert statement.not_actions == ()
    assert statement.resources == ("*",)
    assert statement.condition == {}


@pytest.mark.parametrize("statement_field", ["a string", 42, None, [1, "two", None, ["nested"]]])
def test_statements_that_are_not_objects_are_skipped(statement_field: Any) -> None:
    assert list(policy.statements({"Statement": statement_field})) == []


# -- actions and resources --------------------------------------------------------------------------


@pytest.mark.parametrize(("pattern", "action", "covered"), [
    ("s3:GetObject", "s3:GetObject", True),
    ("S3:getobject", "s3:GetObject", True),  # action names compare case-insensitively
    ("s3:*", "s3:GetObject", True),
    ("s3:Get*", "s3:GetObject", True),
    ("s3:Get*", "s3:PutObject", False),
    ("s3:?etObject", "s3:GetObject", True),
    ("*", "iam:CreateUser", True),
    ("s3:*", "iam:CreateUser", False),
    ("s3:[GP]etObject", "s3:GetObject", False),  # no character classes in IAM: "[" is literal
])
def test_action_wildcards(pattern: str, action: str, covered: bool) -> None:
    assert Statement("Allow", actions=(pattern,)).covers_action(action) is covered


def test_not_action_covers_every_other_action() -> None:
    statement = Statement("Allow", not_actions=("s3:Delete*", "iam:*"))
    assert statement.covers_action("s3:GetObject")
    assert not statement.covers_action("s3:DeleteObject")
    assert not statement.covers_action("iam:PassRole")


def test_resources_compare_case_sensitively() -> None:
    statement = Statement("Allow", resources=(f"{BUCKET}/*",))
    assert statement.covers_resource(f"{BUCKET}/object")
    assert not statement.covers_resource("arn:aws:s3:::DATA-BUCKET/object")
    assert not statement.covers_resource(BUCKET)


# -- allows_full_admin (CIS 1.15) ---------------------------------------------------------------------


@pytest.mark.parametrize("document", [
    doc(allow("*")),
    doc(allow(["s3:GetObject", "*"], ["*"])),
    doc(allow("*:*")),
    {"Statement": allow("*")},
    json.dumps(doc(allow("*"))),
    doc(allow("*", Condition={"Bool": {"aws:MultiFactorAuthPresent": "true"}})),
], ids=["string", "lists", "star-colon-star", "single-statement", "json-text", "with-condition"])
def test_full_admin(document: Any) -> None:
    assert policy.allows_full_admin(document) is True


@pytest.mark.parametrize("document", [
    doc(allow("s3:*")),
    doc(allow("*", "arn:aws:s3:::b/*")),
    doc({"Effect": "Deny", "Action": "*", "Resource": "*"}),
    doc({"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}),
    doc({"Effect": "Allow", "Action": "*"}),
    doc(allow("*", 7)),
    doc(allow(1, "*")),
], ids=["service-wide", "narrow-resource", "deny", "not-action", "no-resource", "numeric-resource", "numeric-action"])
def test_not_full_admin(document: Any) -> None:
    assert policy.allows_full_admin(document) is False


# -- allows_public_access -------------------------------------------------------------------------------


@pytest.mark.parametrize("principal", ["*", {"AWS": "*"}, {"AWS": ["arn:aws:iam::111122223333:root", "*"]}])
def test_public_principals(principal: Any) -> None:
    assert policy.allows_public_access(doc(public(["s3:GetObject", "s3:ListBucket"], Principal=principal))) == [
        "s3:GetObject", "s3:ListBucket"]


def test_not_action_reported_as_such() -> None:
    statement = {"Effect": "Allow", "Principal": "*", "NotAction": "s3:Delete*", "Resource": "*"}
    assert policy.allows_public_access(doc(statement)) == ["NotAction:s3:Delete*"]


@pytest.mark.parametrize("statement", [
    public(Principal={"AWS": ["arn:aws:iam::111122223333:root"]}),
    public(Principal={"Service": "cloudfront.amazonaws.com"}),
    {**public(), "Effect": "Deny"},
    {k: v for k, v in public().items() if k != "Principal"},  # identity policy: no principal at all
], ids=["account", "service", "deny", "no-principal"])
def test_not_public(statement: dict[str, Any]) -> None:
    assert policy.allows_public_access(doc(statement)) == []


@pytest.mark.parametrize("key", [*sorted(policy._RESTRICTING_KEYS), "AWS:SourceVpce", "aws:PrincipalOrgId"])
def test_restricting_conditions_make_a_public_principal_private(key: str) -> None:
    assert policy.allows_public_access(doc(public(Condition={"StringEquals": {key: "o-abc123"}}))) == []


@pytest.mark.parametrize("condition", [
    {"Bool": {"aws:SecureTransport": "true"}},
    {"StringEquals": {"s3:prefix": "public/"}},
    {"StringEquals": "aws:SourceVpce"},  # malformed operator block: restricts nothing
])
def test_other_conditions_do_not_restrict(condition: dict[str, Any]) -> None:
    assert policy.allows_public_access(doc(public(Condition=condition))) == ["s3:GetObject"]


@pytest.mark.parametrize("condition", [
    {"StringNotEquals": {"aws:SourceVpce": "vpce-1a2b3c4d"}},
    {"ArnNotEquals": {"aws:SourceArn": "arn:aws:cloudfront::111122223333:distribution/EXAMPLE"}},
])
def test_negated_restricting_conditions_still_public(condition: dict[str, Any]) -> None:
    assert policy.allows_public_access(doc(public(Condition=condition))) == ["s3:GetObject"]


# -- denies_insecure_transport (CIS 2.1.1) -----------------------------------------------------------------


@pytest.mark.parametrize("value", ["false", False, ["false"], "FALSE", [False]], ids=repr)
def test_tls_only_deny_with_false_in_any_form(value: Any) -> None:
    assert policy.denies_insecure_transport(doc(tls_deny(value)), BUCKET) is True


@pytest.mark.parametrize("overrides", [
    {"Principal": {"AWS": "*"}},
    {"Action": "*"},
    {"Action": ["s3:GetObject", "s3:PutObject"]},
    {"NotAction": "iam:*", "Action": None},
    {"Resource": f"{BUCKET}/*"},
    {"Resource": "*"},
    {"Condition": {"bool": {"AWS:SecureTransport": "false"}}},
], ids=["principal-aws-star", "all-actions", "object-actions", "not-action", "objects-only", "any-resource",
        "case-insensitive-keys"])
def test_tls_only_deny_variants(overrides: dict[str, Any]) -> None:
    statement = {k: v for k, v in tls_deny(**overrides).items() if v is not None}
    assert policy.denies_insecure_transport(doc(allow(), statement), BUCKET) is True


@pytest.mark.parametrize("statement", [
    tls_deny("true"),
    tls_deny(["false", "true"]),
    tls_deny([]),
    tls_deny(0),
    tls_deny(None),
    tls_deny(Effect="Allow"),
    tls_deny(Principal={"AWS": "arn:aws:iam::111122223333:root"}),
    tls_deny(Action="s3:GetObject"),
    tls_deny(Action="s3:PutObject"),
    tls_deny(Action=5),
    tls_deny(Resource=BUCKET),
    tls_deny(Resource="arn:aws:s3:::other-bucket/*"),
    tls_deny(Condition={"StringEquals": {"aws:SecureTransport": "false"}}),
    tls_deny(Condition={"Bool": {"aws:MultiFactorAuthPresent": "false"}}),
    tls_deny(Condition={"Bool": ["aws:SecureTransport", "false"]}),
    tls_deny(Condition=None),
    {k: v for k, v in tls_deny().items() if k != "Principal"},
], ids=["true", "false-or-true", "no-values", "zero", "null", "allow", "one-account", "get-only", "put-only",
        "numeric-action", "bucket-only", "other-bucket", "string-operator", "other-key", "malformed-operator",
        "no-condition", "no-principal"])
def test_not_a_tls_only_deny(statement: dict[str, Any]) -> None:
    assert policy.denies_insecure_transport(doc(statement), BUCKET) is False


@pytest.mark.parametrize("condition", [
    {"Bool": {"aws:SecureTransport": "false"}, "StringEquals": {"aws:PrincipalAccount": "111122223333"}},
    {"Bool": {"aws:SecureTransport": "false", "aws:ViaAWSService": "true"}},
])
def test_narrowed_tls_deny_does_not_deny_every_insecure_request(condition: dict[str, Any]) -> None:
    assert policy.denies_insecure_transport(doc(tls_deny(Condition=condition)), BUCKET) is False


# -- malformed documents ---------------------------------------------------------------------------------

MALFORMED = [
    "{not json", "", "null", "[]", '["Statement"]', b"\x80\x81", 17, None, ["Statement", allow("*")],
    {"Statement": "Allow * on *"}, {"Statement": 5}, {"Statement": [5, "x", None, []]},
    {"Statement": [{"Effect": 1, "Action": 2, "Resource": 3, "Principal": 4, "Condition": 5}]},
    {"Statement": [{"Effect": ["Allow"], "Action": "*", "Resource": "*", "Principal": "*"}]},
    {"Statement": [{"Effect": "Deny", "Principal": "*", "Action": {"s3": "*"}, "Resource": {"*": "*"},
                    "Condition": {"Bool": {"aws:SecureTransport": "false"}}}]},
    {"Statement": [{"Effect": "Allow", "Principal": 5, "Action": "s3:GetObject", "Resource": "*"}]},
]


@pytest.mark.parametrize("document", MALFORMED, ids=[f"malformed-{i}" for i in range(len(MALFORMED))])
def test_malformed_documents_grant_and_deny_nothing(document: Any) -> None:
    assert policy.allows_full_admin(document) is False
    assert policy.allows_public_access(document) == []
    assert policy.denies_insecure_transport(document, BUCKET) is False
    assert all(isinstance(s, Statement) for s in policy.statements(document))


# -- properties ----------------------------------------------------------------------------------------------

# Generated documents: well-formed statements (often real grants and denies), the same with one field
# replaced by junk (almost right), and arbitrary JSON values where a document or a statement should be.
TEXT = st.text(max_size=12)
SCALARS = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | TEXT
JSON_VALUES = st.recursive(
    SCALARS, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TEXT, inner, max_size=5), max_leaves=25
)


def _one_or_list(*values: Any) -> st.SearchStrategy[Any]:
    one = st.sampled_from(values)
    return one | st.lists(one, min_size=1, max_size=3)


ACTIONS = _one_or_list("*", "*:*", "s3:*", "s3:Get*", "s3:GetObject", "s3:PutObject", "iam:*", "S3:GETOBJECT",
                       "s3:[G]et*")
RESOURCES = _one_or_list("*", BUCKET, f"{BUCKET}/*", "arn:aws:s3:::other/*", "arn:aws:s3:::data-?ucket/*")
PRINCIPALS = _one_or_list("*", "arn:aws:iam::111122223333:root") | st.fixed_dictionaries(
    {"AWS": _one_or_list("*", "arn:aws:iam::111122223333:root")})
CONDITIONS = st.dictionaries(
    st.sampled_from(["Bool", "bool", "StringEquals", "StringNotEquals", "IpAddress"]),
    st.dictionaries(st.sampled_from(["aws:SecureTransport", "aws:SourceVpce", "aws:PrincipalOrgID", "s3:prefix"]),
                    _one_or_list("false", "true", False, "vpce-1"), min_size=1, max_size=2),
    max_size=2,
)
WELL_FORMED = st.fixed_dictionaries(
    {"Effect": st.sampled_from(["Allow", "Deny"]), "Resource": RESOURCES},
    optional={"Action": ACTIONS, "NotAction": ACTIONS, "Principal": PRINCIPALS, "Condition": CONDITIONS},
)
ALMOST_RIGHT = WELL_FORMED.flatmap(
    lambda statement: st.tuples(st.sampled_from(sorted(statement)), JSON_VALUES).map(
        lambda junk: {**statement, junk[0]: junk[1]})
)
STATEMENTS = WELL_FORMED | ALMOST_RIGHT | JSON_VALUES
DOCUMENTS = (
    st.fixed_dictionaries({"Statement": st.lists(STATEMENTS, max_size=4) | STATEMENTS})
    | st.fixed_dictionaries({"Version": JSON_VALUES}, optional={"Statement": JSON_VALUES})
    | JSON_VALUES
    | st.binary(max_size=40)
)


def _forms(document: Any) -> list[Any]:
    """The document itself and, where it has one, its JSON text as str and bytes."""
    try:
        text = json.dumps(document)
    except (TypeError, ValueError):  # bytes, or floats JSON cannot write
        return [document]
    return [document, text, text.encode()]


@settings(max_examples=300, deadline=None)
@given(document=DOCUMENTS, action=TEXT, resource=TEXT)
def test_every_public_function_survives_any_document(document: Any, action: str, resource: str) -> None:
    for form in _forms(document):
        assert isinstance(policy.load(form), dict)
        statements = list(policy.statements(form))
        for s in statements:
            assert isinstance(s, Statement)
            assert isinstance(s.effect, str)
            for strings in (s.actions, s.not_actions, s.resources, s.principals):
                assert isinstance(strings, tuple) and all(isinstance(x, str) for x in strings)
            assert isinstance(s.condition, dict)
            assert isinstance(s.covers_action(action), bool)
            assert isinstance(s.covers_resource(resource), bool)
            assert isinstance(s.is_public, bool)
        full_admin = policy.allows_full_admin(form)
        public_actions = policy.allows_public_access(form)
        tls_only = policy.denies_insecure_transport(form, BUCKET)
        assert isinstance(full_admin, bool) and isinstance(tls_only, bool)
        assert isinstance(public_actions, list) and all(isinstance(a, str) for a in public_actions)
        # A grant needs a statement whose Effect is exactly "Allow"; a protection one that is exactly "Deny".
        effects = {s.effect for s in statements}
        if "Allow" not in effects:
            assert not full_admin and public_actions == []
        if "Deny" not in effects:
            assert not tls_only
