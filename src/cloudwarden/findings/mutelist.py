"""The mutelist: accepted risks, kept visible.

A YAML file (``--mutelist FILE``) of entries; an entry mutes the findings it matches on every field it
gives (omitted fields match anything)::

    mutes:
      - reason: "Marketing assets are public by design (RISK-142)"   # required
        rule: s3_bucket_no_public_*        # glob on the rule id
        account: "123456789012"            # glob
        region: "*"                        # glob (IAM and other account-wide resources are "global")
        resource: "acme-public-*"          # glob on the resource id or ARN
        tags: {exposure: public}           # every tag must be present; values are globs
        expires: 2027-01-31                # optional; from that day on the entry mutes nothing

Muted findings keep their verdict, are shown as MUTED with the reason, and do not count for ``--fail-on``
or framework failures. An expired entry mutes nothing and is reported, so a forgotten exception surfaces.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import yaml

from cloudwarden.findings.model import Finding

MAX_FILE_BYTES = 1_000_000
FIELDS = {"reason", "rule", "account", "region", "resource", "tags", "expires"}


class MutelistError(ValueError):
    """A mutelist file that cannot be used; the message names the entry and the problem."""


@dataclass(frozen=True)
class MuteEntry:
    reason: str
    rule: str = "*"
    account: str = "*"
    region: str = "*"
    resource: str = "*"
    tags: dict[str, str] = field(default_factory=dict)
    expires: date | None = None

    def expired(self, today: date) -> bool:
        return self.expires is not None and today >= self.expires

    def matches(self, finding: Finding) -> bool:
        return (
            _glob(self.rule, finding.rule.id)
            and _glob(self.account, finding.account_id)
            and _glob(self.region, finding.region)
            and (_glob(self.resource, finding.resource_id) or _glob(self.resource, finding.resource_arn))
            and all(
                key in finding.resource_tags and _glob(value, finding.resource_tags[key])
                for key, value in self.tags.items()
            )
        )

    def describe(self) -> str:
        parts = [
            f"{name}={value}"
            for name in ("rule", "account", "region", "resource")
            if (value := getattr(self, name)) != "*"
        ]
        parts += [f"tag {k}={v}" for k, v in self.tags.items()]
        return ", ".join(parts) or "every finding"


def _glob(pattern: str, value: str) -> bool:
    return fnmatch.fnmatchcase(value, pattern.replace("[", "[[]"))


def load_mutelist(path: Path) -> list[MuteEntry]:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise MutelistError(f"cannot read {path}: {exc.strerror}") from exc
    if len(raw) > MAX_FILE_BYTES:
        raise MutelistError(f"{path} is larger than {MAX_FILE_BYTES} bytes")
    try:
        data = yaml.safe_load(raw)
    except yaml.YAMLError as exc:
        raise MutelistError(f"{path} is not valid YAML: {exc}") from exc
    return parse_mutelist(data)


def parse_mutelist(data: Any) -> list[MuteEntry]:
    if not isinstance(data, dict) or not isinstance(data.get("mutes"), list):
        raise MutelistError('expected a mapping with a list under "mutes"')
    return [_entry(n, item) for n, item in enumerate(data["mutes"], start=1)]


def _entry(n: int, item: Any) -> MuteEntry:
    where = f"mutes entry {n}"
    if not isinstance(item, dict):
        raise MutelistError(f"{where}: expected a mapping")
    unknown = set(map(str, item)) - FIELDS
    if unknown:
        raise MutelistError(f"{where}: unknown field(s) {', '.join(sorted(unknown))}")
    reason = item.get("reason")
    if not isinstance(reason, str) or not reason.strip():
        raise MutelistError(f"{where}: a non-empty reason is required")
    tags = item.get("tags") or {}
    if not isinstance(tags, dict):
        raise MutelistError(f"{where}: tags must be a mapping of key to value glob")
    expires = item.get("expires")
    if isinstance(expires, str):
        try:
            expires = date.fromisoformat(expires)
        except ValueError as exc:
            raise MutelistError(f"{where}: expires must be a date (YYYY-MM-DD)") from exc
    if expires is not None and not isinstance(expires, date):
        raise MutelistError(f"{where}: expires must be a date (YYYY-MM-DD)")
    globs = {}
    for name in ("rule", "account", "region", "resource"):
        value = item.get(name, "*")
        if not isinstance(value, str | int):
            raise MutelistError(f"{where}: {name} must be a string")
        globs[name] = str(value)
    return MuteEntry(reason=reason.strip(), tags={str(k): str(v) for k, v in tags.items()}, expires=expires, **globs)


def apply_mutelist(findings: list[Finding], entries: list[MuteEntry], today: date | None = None) -> list[str]:
    """Mark matching findings muted (first matching live entry wins); return notices for expired entries."""
    today = today or datetime.now(UTC).date()
    live = [e for e in entries if not e.expired(today)]
    for finding in findings:
        for entry in live:
            if entry.matches(finding):
                finding.muted_reason = entry.reason
                break
    return [
        f"mutelist entry for {e.describe()} expired on {e.expires} and mutes nothing (reason was: {e.reason})"
        for e in entries
        if e.expired(today)
    ]
