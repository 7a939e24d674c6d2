"""Who made a call: CloudTrail's ``userIdentity`` normalised so people can ask about it.

``principal`` is one string to group and search by:

* root: ``arn:aws:iam::ACCOUNT:root``
* IAM user: the user's ARN
* assumed role: the role's ARN (``arn:aws:iam::ACCOUNT:role/NAME``, from ``sessionContext.sessionIssuer``), with
  the session name and the source identity in their own columns
* Identity Center (``AWSReservedSSO_`` roles, ``onBehalfOf``/identity store fields): the role's ARN, type
  ``IdentityCenterUser``, the user's name as the session name
* federated user: the ``federated-user`` ARN, the issuing IAM identity as ``principal_arn``
* AWS service: the service (``invokedBy``, e.g. ``cloudtrail.amazonaws.com``)

Every function here accepts anything (the input is untrusted) and never raises.
"""

from __future__ import annotations

from typing import Any, NamedTuple

SSO_ROLE_PREFIX = "AWSReservedSSO_"


class Principal(NamedTuple):
    principal: str | None
    principal_type: str | None
    principal_arn: str | None
    principal_name: str | None
    session_name: str | None
    source_identity: str | None
    access_key_id: str | None
    invoked_by: str | None


UNKNOWN = Principal("unknown", None, None, None, None, None, None, None)


def _str(value: Any) -> str | None:
    return value if type(value) is str and value else None


def _dict(value: Any) -> dict[str, Any]:
    return value if type(value) is dict else {}


def _role_arn_from_assumed(arn: str | None) -> tuple[str | None, str | None, str | None]:
    """``arn:aws:sts::ACCT:assumed-role/NAME/SESSION`` → (role ARN, role name, session name)."""
    if not arn or ":assumed-role/" not in arn:
        return None, None, None
    head, _, tail = arn.partition(":assumed-role/")
    parts = head.split(":")
    if len(parts) < 5:
        return None, None, None
    name, _, session = tail.partition("/")
    return f"{parts[0]}:{parts[1]}:iam::{parts[4]}:role/{name}", name, session or None


def _partition(arn: str | None) -> str:
    if arn and arn.startswith("arn:"):
        part = arn.split(":", 2)[1]
        if part:
            return part
    return "aws"


def normalise(identity: Any, source_identity_fallback: Any = None) -> Principal:
    """The principal of a record whose ``userIdentity`` is ``identity`` (a dict, or anything else)."""
    if type(identity) is not dict:
        return UNKNOWN
    kind = _str(identity.get("type"))
    arn = _str(identity.get("arn"))
    account = _str(identity.get("accountId"))
    key = _str(identity.get("accessKeyId"))
    invoked_by = _str(identity.get("invokedBy"))
    user_name = _str(identity.get("userName"))
    context = _dict(identity.get("sessionContext"))
    issuer = _dict(context.get("sessionIssuer"))
    source_identity = _str(context.get("sourceIdentity")) or _str(source_identity_fallback)
    on_behalf = _dict(identity.get("onBehalfOf"))

    if kind == "Root":
        root = arn or (f"arn:aws:iam::{account}:root" if account else None)
        return Principal(root or "root", kind, root, "root", None, source_identity, key, invoked_by)
    if kind == "IAMUser":
        name = user_name or (arn.rpartition("/")[2] if arn and ":user/" in arn else None)
        return Principal(arn or name or "unknown", kind, arn, name, None, source_identity, key, invoked_by)
    if kind == "AssumedRole":
        role_arn = _str(issuer.get("arn"))
        role_name = _str(issuer.get("userName"))
        derived_arn, derived_name, session = _role_arn_from_assumed(arn)
        role_arn = role_arn or derived_arn
        role_name = role_name or derived_name or (role_arn.rpartition("/")[2] if role_arn else None)
        if not session:  # principalId is ROLEID:SESSION
            principal_id = _str(identity.get("principalId"))
            session = principal_id.partition(":")[2] or None if principal_id else None
        if (role_name and role_name.startswith(SSO_ROLE_PREFIX)) or on_behalf.get("identityStoreArn"):
            kind = "IdentityCenterUser"
            session = session or _str(on_behalf.get("userId"))
        return Principal(
            role_arn or arn or "unknown", kind, role_arn, role_name, session, source_identity, key, invoked_by
        )
    if kind == "FederatedUser":
        name = arn.rpartition("/")[2] if arn and ":federated-user/" in arn else user_name
        return Principal(
            arn or name or "unknown", kind, _str(issuer.get("arn")) or arn, name, None, source_identity, key, invoked_by
        )
    if kind == "AWSService":
        service = invoked_by or "aws-service"
        return Principal(service, kind, None, service, None, None, key, invoked_by)
    if kind == "AWSAccount":
        principal_id = _str(identity.get("principalId"))
        root = f"arn:{_partition(arn)}:iam::{account}:root" if account else None
        return Principal(
            root or principal_id or "unknown", kind, root, principal_id, None, source_identity, key, invoked_by
        )
    if kind in ("WebIdentityUser", "SAMLUser"):
        provider = _str(identity.get("identityProvider")) or ""
        name = user_name or _str(identity.get("principalId"))
        return Principal(f"{kind}:{provider}:{name or ''}", kind, arn, name, None, source_identity, key, invoked_by)
    if kind == "IdentityCenterUser" or on_behalf.get("identityStoreArn") or identity.get("identityStoreArn"):
        user = user_name or _str(on_behalf.get("userId")) or _str(identity.get("principalId"))
        return Principal(
            f"identitycenter:{user or 'unknown'}",
            "IdentityCenterUser",
            arn,
            user,
            user,
            source_identity,
            key,
            invoked_by,
        )
    if invoked_by and not arn:
        return Principal(invoked_by, kind or "AWSService", None, invoked_by, None, None, key, invoked_by)
    name = user_name or _str(identity.get("principalId"))
    return Principal(arn or name or "unknown", kind, arn, name, None, source_identity, key, invoked_by)
