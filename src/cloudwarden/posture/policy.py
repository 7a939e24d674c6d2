"""One place that answers questions about IAM and resource policy documents.

Rules ask questions ("does this policy allow every action on every resource?", "does this bucket policy
deny requests without TLS?") instead of pattern-matching JSON, so string-or-list fields, wildcards,
``NotAction`` and conditions are handled once, here. Documents are untrusted: anything malformed is
treated as granting nothing and denying nothing.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import orjson


@dataclass(frozen=True)
class Statement:
    effect: str
    actions: tuple[str, ...] = ()
    not_actions: tuple[str, ...] = ()
    resources: tuple[str, ...] = ()
    principals: tuple[str, ...] = ()  # "*" for anyone; otherwise ARNs, account ids, service names
    has_principal: bool = False
    condition: dict[str, Any] = field(default_factory=dict)

    def covers_action(self, action: str) -> bool:
        """Whether this statement applies to ``action`` (``NotAction`` applies to everything else)."""
        if self.not_actions:
            return not any(_glob(p, action) for p in self.not_actions)
        return any(_glob(p, action) for p in self.actions)

    def covers_resource(self, resource: str) -> bool:
        return any(_glob(p, resource, case_sensitive=True) for p in self.resources)

    @property
    def is_public(self) -> bool:
        return "*" in self.principals


def load(document: Any) -> dict[str, Any]:
    """A policy document as a dict, from a dict or JSON text; ``{}`` when it is neither."""
    if isinstance(document, dict):
        return document
    if isinstance(document, str | bytes):
        try:
            parsed = orjson.loads(document)
        except orjson.JSONDecodeError:
            return {}
        return parsed if isinstance(parsed, dict) else {}
    return {}


def statements(document: Any) -> Iterator[Statement]:
    raw = load(document).get("Statement", [])
    for item in raw if isinstance(raw, list) else [raw]:
        if not isinstance(item, dict):
            continue
        principals, has_principal = _principals(item.get("Principal"))
        condition = item.get("Condition")
        yield Statement(
            effect=str(item.get("Effect", "")),
            actions=_strings(item.get("Action")),
            not_actions=_strings(item.get("NotAction")),
            resources=_strings(item.get("Resource")),
            principals=principals,
            has_principal=has_principal,
            condition=condition if isinstance(condition, dict) else {},
        )


def allows_full_admin(document: Any) -> bool:
    """True when a statement allows every action (``*``) on every resource (``*``): CIS 1.15."""
    return any(
        s.effect == "Allow" and any(a in ("*", "*:*") for a in s.actions) and "*" in s.resources
        for s in statements(document)
    )


# Condition keys that tie a public principal to something an outsider cannot forge.
_RESTRICTING_KEYS = {
    "aws:sourcearn",
    "aws:sourceaccount",
    "aws:sourceowner",
    "aws:sourcevpc",
    "aws:sourcevpce",
    "aws:sourceip",
    "aws:principalorgid",
    "aws:principalaccount",
    "aws:principalarn",
    "aws:userid",
    "aws:sourceorgid",
}


def allows_public_access(document: Any) -> list[str]:
    """The actions allowed to anyone (``Principal: "*"``) without a restricting condition.

    A condition restricts only with a positive operator (``StringEquals``, ``ArnLike``, ``IpAddress`` …) on a
    key an outsider cannot forge. A negated operator (``StringNotEquals``) lets everyone else in, and an
    ``…IfExists`` operator is met by requests that lack the key, so neither restricts.
    """
    public: list[str] = []
    for s in statements(document):
        if s.effect != "Allow" or not s.is_public:
            continue
        if any(_restricts(operator, clauses) for operator, clauses in s.condition.items()):
            continue
        public.extend(s.actions or [f"NotAction:{a}" for a in s.not_actions])
    return public


def _restricts(operator: str, clauses: Any) -> bool:
    name = operator.split(":")[-1].lower()  # ForAnyValue:StringEquals -> stringequals
    if not isinstance(clauses, dict) or "not" in name or name.endswith("ifexists") or name == "null":
        return False
    return any(str(key).lower() in _RESTRICTING_KEYS for key in clauses)


def denies_insecure_transport(document: Any, bucket_arn: str) -> bool:
    """True when the policy denies every S3 object request to ``bucket_arn`` made without TLS: a Deny for
    any principal, covering s3:GetObject and s3:PutObject on the bucket's objects, on
    ``aws:SecureTransport`` false (CIS 2.1.1)."""
    for s in statements(document):
        if s.effect != "Deny" or not s.is_public:
            continue
        if not (s.covers_action("s3:GetObject") and s.covers_action("s3:PutObject")):
            continue
        if not s.covers_resource(f"{bucket_arn}/object"):
            continue
        if _condition_is_false(s.condition, "Bool", "aws:SecureTransport"):
            return True
    return False


def _condition_is_false(condition: dict[str, Any], operator: str, key: str) -> bool:
    """True when ``condition`` is exactly ``{operator: {key: false}}``: any further clause would narrow the
    statement to some requests only."""
    if len(condition) != 1:
        return False
    ((op, clauses),) = condition.items()
    if op.lower() != operator.lower() or not isinstance(clauses, dict) or len(clauses) != 1:
        return False
    ((k, value),) = clauses.items()
    values = value if isinstance(value, list) else [value]
    return k.lower() == key.lower() and bool(values) and all(str(v).lower() == "false" for v in values)


def _strings(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list):
        return tuple(v for v in value if isinstance(v, str))
    return ()


def _principals(value: Any) -> tuple[tuple[str, ...], bool]:
    if value is None:
        return (), False
    if value == "*":
        return ("*",), True
    if isinstance(value, dict):
        out: list[str] = []
        for v in value.values():
            out.extend(_strings(v))
        return tuple(out), True
    return _strings(value), True


def _glob(pattern: str, value: str, case_sensitive: bool = False) -> bool:
    """IAM wildcards: ``*`` any run, ``?`` one character. Action names compare case-insensitively."""
    if case_sensitive:
        return fnmatch.fnmatchcase(value, pattern.replace("[", "[[]"))
    return fnmatch.fnmatchcase(value.lower(), pattern.lower().replace("[", "[[]"))


# Conditions that make a trust on another account (or on anyone) safe from the confused deputy and from
# strangers: a shared secret with the third party, or a pin to our organization, account or principals.
_TRUST_RESTRICTING_KEYS = {
    "sts:externalid",
    "aws:principalorgid",
    "aws:principalorgpaths",
    "aws:principalaccount",
    "aws:principalarn",
    "aws:sourceaccount",
    "aws:sourcearn",
    "aws:sourceorgid",
    "aws:userid",
}
# Restricting a public principal needs a pin to who the caller is; a guessable ExternalId is not one.
_PUBLIC_TRUST_KEYS = _TRUST_RESTRICTING_KEYS - {"sts:externalid"}
_ASSUME_ACTIONS = ("sts:AssumeRole", "sts:AssumeRoleWithWebIdentity", "sts:AssumeRoleWithSAML")


def untrusted_assumers(trust_policy: Any, account_id: str) -> list[str]:
    """Who outside ``account_id`` may assume a role under this trust policy without a restricting condition.

    Answers descriptions such as ``"anyone (*)"``, ``"account 999988887777"`` or ``"any identity of
    token.actions.githubusercontent.com"``. A trust on another account passes only with a positive condition on
    ``sts:ExternalId``, ``aws:PrincipalOrgID``, ``aws:PrincipalArn`` or similar; a public principal also needs one
    of those other than ExternalId; a web-identity (OIDC) trust needs a condition on the provider's ``:sub``
    (which repository, workload or user), since its ``:aud`` is often the same for everyone. Service principals
    (``ec2.amazonaws.com``) and SAML providers of this account are not outsiders.
    """
    found: list[str] = []
    raw = load(trust_policy).get("Statement", [])
    for item in raw if isinstance(raw, list) else [raw]:
        if not isinstance(item, dict) or item.get("Effect") != "Allow":
            continue
        grant = Statement("Allow", _strings(item.get("Action")), _strings(item.get("NotAction")))
        if not any(grant.covers_action(a) for a in _ASSUME_ACTIONS):
            continue
        condition = item.get("Condition") if isinstance(item.get("Condition"), dict) else {}
        for kind, principal in _principal_pairs(item.get("Principal")):
            who = _outsider(kind, principal, account_id)
            if who is None:
                continue
            if kind == "Federated":
                if not _restricts_web_identity(condition, principal):
                    found.append(who)
                continue
            keys = _PUBLIC_TRUST_KEYS if principal == "*" else _TRUST_RESTRICTING_KEYS
            if not any(_restricts_with(operator, clauses, keys) for operator, clauses in condition.items()):
                found.append(who)
    return sorted(set(found))


def _principal_pairs(value: Any) -> list[tuple[str, str]]:
    """``(kind, principal)`` pairs: kind ``AWS``, ``Service``, ``Federated``, or ``*`` for ``Principal: "*"``."""
    if value == "*":
        return [("*", "*")]
    if isinstance(value, dict):
        return [(str(kind), p) for kind, v in value.items() for p in _strings(v)]
    return []


def _outsider(kind: str, principal: str, account_id: str) -> str | None:
    if kind == "*" or principal == "*":
        return "anyone (*)"
    if kind == "AWS":
        account = principal.split(":")[4] if principal.startswith("arn:") and principal.count(":") >= 5 else principal
        return None if account == account_id else f"account {account}"
    if kind == "Federated":
        if ":saml-provider/" in principal:
            return None  # a SAML provider this account set up; its IdP decides who signs in
        provider = principal.split(":oidc-provider/")[-1]
        return f"any identity of {provider}"
    return None  # Service principals


def _restricts_with(operator: str, clauses: Any, keys: set[str]) -> bool:
    name = operator.split(":")[-1].lower()
    if not isinstance(clauses, dict) or "not" in name or name.endswith("ifexists") or name == "null":
        return False
    return any(str(key).lower() in keys for key in clauses)


def _restricts_web_identity(condition: dict[str, Any], principal: str) -> bool:
    provider = principal.split(":oidc-provider/")[-1].lower()
    wanted = {f"{provider}:sub"}
    if provider.startswith("cognito-identity.amazonaws.com"):
        wanted.add("cognito-identity.amazonaws.com:aud")  # an identity pool id pins Cognito trusts
    return any(_restricts_with(operator, clauses, wanted) for operator, clauses in condition.items())


def wildcard_grants(document: Any) -> list[str]:
    """Allow statements that grant every action (``Action: "*"``) or everything but a list (``NotAction``)."""
    found = []
    for s in statements(document):
        if s.effect != "Allow":
            continue
        if any(a in ("*", "*:*") for a in s.actions):
            found.append("Action *")
        elif s.not_actions:
            found.append("NotAction " + ", ".join(s.not_actions[:5]))
    return found
