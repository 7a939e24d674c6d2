"""The ordinary activity around Acme's planted changes: sign-ins, role assumptions, reads, refused calls and AWS
services at work, so that finding "who did it" in the demo trail means searching a haystack.

Everything is drawn from one seeded :class:`random.Random`: the same seed, time and recorded calls give the
same records. The tables below are the whole behaviour; the functions only follow them.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from cloudwarden.demo.environment import PRIMARY_REGION, SECONDARY_REGION
from cloudwarden.demo.trail_personas import (
    AUDITOR_ACCOUNT,
    BROWSER,
    GITHUB_OIDC,
    GITHUB_SUBJECT,
    GLOBAL_REGION,
    PERSONAS,
    Persona,
    cloudtrail_record,
    cloudtrail_time,
    role_arn,
    user_identity,
)

NOISE_PER_CHANGE = 10
DAYS = 6  # the trail covers the six days before today, and today
GLOBAL_SOURCES = frozenset({"iam", "sts", "signin"})
REGION_WEIGHTS = ((PRIMARY_REGION, 4), (SECONDARY_REGION, 1))
DENIED_SHARE = 0.05  # of a session's calls, for personas with refused calls
FAILED_LOGIN_IP = "203.0.113.199"
GITHUB_ACTION_AGENT = (
    "aws-sdk-nodejs/3.699.0 ua/2.1 os/linux#6.5.0-1025-azure lang/js md/nodejs#20.18.0 api/sts#3.699.0 "
    "configure-aws-credentials-for-github-actions"
)

# Names the noise refers to, taken from the recorded calls: pool -> (service, operation, where, key).
POOLS: dict[str, tuple[str, str, str, str]] = {
    "bucket": ("s3", "CreateBucket", "request", "bucketName"),
    "user": ("iam", "CreateUser", "request", "userName"),
    "role": ("iam", "CreateRole", "request", "roleName"),
    "group_id": ("ec2", "CreateSecurityGroup", "response", "groupId"),
    "volume_id": ("ec2", "CreateVolume", "response", "volumeId"),
    "function": ("lambda", "CreateFunction", "request", "functionName"),
    "table": ("dynamodb", "CreateTable", "request", "tableName"),
    "trail": ("cloudtrail", "CreateTrail", "request", "name"),
    "database": ("rds", "CreateDBInstance", "request", "dBInstanceIdentifier"),
    "secret": ("secretsmanager", "CreateSecret", "request", "name"),
}

# Read-only calls per persona: (eventSource prefix, eventName, requestParameters; "{pool}" is a name from POOLS).
READS: dict[str, tuple[tuple[str, str, dict[str, Any]], ...]] = {
    "alice": (
        ("iam", "ListUsers", {}),
        ("iam", "GetUser", {"userName": "{user}"}),
        ("iam", "ListAttachedUserPolicies", {"userName": "{user}"}),
        ("iam", "ListGroupsForUser", {"userName": "{user}"}),
        ("iam", "GetRole", {"roleName": "{role}"}),
        ("iam", "ListRoles", {}),
        ("iam", "ListPolicies", {"scope": "Local", "onlyAttached": False}),
        ("iam", "GetAccountSummary", {}),
        ("kms", "ListKeys", {}),
        ("kms", "ListAliases", {}),
    ),
    "bob": (
        ("s3", "ListBuckets", {}),
        ("s3", "GetBucketLocation", {"bucketName": "{bucket}", "location": ""}),
        ("s3", "GetBucketPolicy", {"bucketName": "{bucket}", "policy": ""}),
        ("s3", "GetBucketAcl", {"bucketName": "{bucket}", "acl": ""}),
        ("s3", "GetBucketVersioning", {"bucketName": "{bucket}", "versioning": ""}),
        ("dynamodb", "DescribeTable", {"tableName": "{table}"}),
        ("rds", "DescribeDBInstances", {"dBInstanceIdentifier": "{database}"}),
        ("sqs", "ListQueues", {}),
        ("secretsmanager", "DescribeSecret", {"secretId": "{secret}"}),
    ),
    "dana": (
        ("monitoring", "DescribeAlarms", {"maxRecords": 100}),
        ("logs", "DescribeLogGroups", {}),
        ("ec2", "DescribeInstances", {"maxResults": 1000}),
        ("ec2", "DescribeVolumes", {"volumeSet": {"items": [{"volumeId": "{volume_id}"}]}}),
        ("rds", "DescribeDBInstances", {}),
        ("health", "DescribeEventAggregates", {"aggregateField": "eventTypeCategory"}),
    ),
    "ci-deployer": (
        ("ec2", "DescribeInstances", {}),
        ("ec2", "DescribeSecurityGroups", {"securityGroupIdSet": {"items": [{"groupId": "{group_id}"}]}}),
        ("ec2", "DescribeVpcs", {}),
        ("ec2", "DescribeSubnets", {}),
        ("lambda", "GetFunction", {"functionName": "{function}"}),
        ("elasticloadbalancing", "DescribeLoadBalancers", {}),
        ("elasticloadbalancing", "DescribeTargetGroups", {}),
        ("ecs", "DescribeTaskDefinition", {"taskDefinition": "acme-api"}),
        ("cloudformation", "DescribeStacks", {"stackName": "acme-app"}),
    ),
    "mallory": (
        ("cloudtrail", "DescribeTrails", {}),
        ("cloudtrail", "GetTrailStatus", {"name": "{trail}"}),
        ("guardduty", "ListDetectors", {}),
        ("config", "DescribeConfigurationRecorders", {}),
        ("securityhub", "DescribeHub", {}),
        ("logs", "DescribeMetricFilters", {"logGroupName": "acme/cloudtrail"}),
    ),
    "root": (
        ("iam", "GetAccountSummary", {}),
        ("iam", "GetAccountPasswordPolicy", {}),
        ("iam", "ListMFADevices", {}),
    ),
    "vendor-audit": (
        ("iam", "GetAccountAuthorizationDetails", {}),
        ("iam", "ListUsers", {}),
        ("iam", "GetAccountPasswordPolicy", {}),
        ("s3", "ListBuckets", {}),
        ("s3", "GetBucketPolicy", {"bucketName": "{bucket}", "policy": ""}),
        ("ec2", "DescribeSecurityGroups", {}),
        ("cloudtrail", "DescribeTrails", {}),
        ("kms", "ListKeys", {}),
    ),
    "aws-config": (
        ("ec2", "DescribeSecurityGroups", {}),
        ("ec2", "DescribeInstances", {}),
        ("ec2", "DescribeVpcs", {}),
        ("s3", "GetBucketAcl", {"bucketName": "{bucket}", "acl": ""}),
        ("iam", "GetUser", {"userName": "{user}"}),
        ("iam", "ListAttachedRolePolicies", {"roleName": "{role}"}),
    ),
}

# Calls a persona tries and is refused: (eventSource prefix, eventName, requestParameters, errorCode).
DENIED: dict[str, tuple[tuple[str, str, dict[str, Any], str], ...]] = {
    "bob": (
        ("iam", "AttachUserPolicy", {"userName": "bob", "policyArn": "arn:aws:iam::aws:policy/AdministratorAccess"},
         "AccessDenied"),
        ("iam", "CreateAccessKey", {"userName": "ci-bot"}, "AccessDenied"),
        ("kms", "DescribeKey", {"keyId": "alias/payments"}, "AccessDeniedException"),
    ),
    "ci-deployer": (
        ("ec2", "TerminateInstances", {"instancesSet": {"items": [{"instanceId": "i-0a1b2c3d4e5f60718"}]}},
         "Client.UnauthorizedOperation"),
        ("iam", "CreateRole", {"roleName": "gh-actions-admin"}, "AccessDenied"),
    ),
    "vendor-audit": (("secretsmanager", "GetSecretValue", {"secretId": "{secret}"}, "AccessDeniedException"),),
}  # fmt: skip

# How each persona's sessions begin: a console sign-in, GitHub's OIDC exchange, or the vendor's AssumeRole.
OPENERS: dict[str, str] = {
    "alice": "console",
    "dana": "console",
    "root": "console",
    "ci-deployer": "web-identity",
    "vendor-audit": "cross-account",
}


@dataclass(frozen=True)
class SessionKind:
    persona: str
    weight: int
    calls: tuple[int, int]  # how many calls, at least and at most
    around_the_clock: bool = False  # services work at night; people between 07:00 and 19:00 UTC
    failed_logins: bool = False  # instead of calls: sign-ins with a wrong password


SESSION_KINDS = (
    SessionKind("alice", 6, (4, 20)),
    SessionKind("dana", 4, (3, 12)),
    SessionKind("bob", 6, (3, 20)),
    SessionKind("ci-deployer", 6, (5, 25)),
    SessionKind("mallory", 3, (2, 10)),
    SessionKind("root", 1, (1, 4)),
    SessionKind("vendor-audit", 2, (10, 30)),
    SessionKind("aws-config", 5, (10, 40), around_the_clock=True),
    SessionKind("alice", 1, (2, 5), failed_logins=True),  # someone guessing alice's password
)


@dataclass
class Session:
    """One sitting of one persona: its role session name, source IP and start."""

    persona: Persona
    key: str
    name: str
    source_ip: str
    since: datetime


@dataclass
class TrailWriter:
    """Builds records for one account with one random generator; ``pools`` are names from the recorded calls."""

    account_id: str
    rng: random.Random
    pools: dict[str, list[str]] = field(default_factory=dict)

    def session(self, key: str, since: datetime) -> Session:
        """A new session of persona ``key`` starting at ``since`` (CI runs are numbered by their start)."""
        persona = PERSONAS[key]
        run = int(since.timestamp()) // 600 % 90_000 + 10_000
        return Session(persona, key, persona.session.format(run=run), self.rng.choice(persona.source_ips), since)

    def opener(self, session: Session) -> list[dict[str, Any]]:
        """The records that start ``session`` (a sign-in or a role assumption), if its persona has any."""
        kind = OPENERS.get(session.key)
        if kind == "console":
            return [self.console_login(session, session.since, success=True)]
        if kind in ("web-identity", "cross-account"):
            return [self.assume_role(session, kind)]
        return []

    def call(
        self,
        session: Session,
        when: datetime,
        source: str,
        name: str,
        region: str,
        parameters: Any,
        response: Any = None,
        read_only: bool = False,
        error: tuple[str, str] | None = None,
    ) -> dict[str, Any]:
        """An API call made in ``session``; ``source`` is the eventSource (``iam.amazonaws.com``)."""
        persona = session.persona
        return cloudtrail_record(
            self.rng,
            account_id=self.account_id,
            when=when,
            event_source=source,
            event_name=name,
            region=region,
            identity=user_identity(persona, self.account_id, session.name, session.since),
            source_ip=session.source_ip,
            user_agent=persona.user_agent,
            request_parameters=parameters,
            response_elements=response,
            read_only=read_only,
            error=error,
        )

    def console_login(self, session: Session, when: datetime, success: bool) -> dict[str, Any]:
        persona = session.persona
        identity = user_identity(persona, self.account_id, session.name, when)
        for key in ("accessKeyId", "sessionContext"):
            identity.pop(key, None)
        extra: dict[str, Any] = {} if success else {"errorMessage": "Failed authentication"}
        return cloudtrail_record(
            self.rng,
            account_id=self.account_id,
            when=when,
            event_source="signin.amazonaws.com",
            event_name="ConsoleLogin",
            region=GLOBAL_REGION,
            identity=identity,
            source_ip=session.source_ip if success else FAILED_LOGIN_IP,
            user_agent=BROWSER,
            response_elements={"ConsoleLogin": "Success" if success else "Failure"},
            event_type="AwsConsoleSignIn",
            additionalEventData={
                "LoginTo": "https://console.aws.amazon.com/console/home?state=hashArgs%23&isauthcode=true",
                "MobileVersion": "No",
                "MFAUsed": "Yes" if persona.mfa else "No",
            },
            **extra,
        )

    def assume_role(self, session: Session, kind: str) -> dict[str, Any]:
        """GitHub's AssumeRoleWithWebIdentity into the CI role, or the vendor's cross-account AssumeRole."""
        persona = session.persona
        account = self.account_id
        arn = role_arn(persona, account)
        assumed = f"arn:aws:sts::{account}:assumed-role/{persona.name}/{session.name}"
        expires = cloudtrail_time(session.since + timedelta(hours=1))
        response: dict[str, Any] = {
            "credentials": {"accessKeyId": persona.key_id, "expiration": expires},
            "assumedRoleUser": {"assumedRoleId": f"{persona.principal_id}:{session.name}", "arn": assumed},
        }
        if kind == "web-identity":
            provider = f"arn:aws:iam::{account}:oidc-provider/{GITHUB_OIDC}"
            identity = {
                "type": "WebIdentityUser",
                "principalId": f"{provider}:sts.amazonaws.com:{GITHUB_SUBJECT}",
                "userName": GITHUB_SUBJECT,
                "identityProvider": provider,
            }
            name, agent = "AssumeRoleWithWebIdentity", GITHUB_ACTION_AGENT
            response["subjectFromWebIdentityToken"] = GITHUB_SUBJECT
            response["provider"] = provider
            response["audience"] = "sts.amazonaws.com"
        else:
            identity = {"type": "AWSAccount", "principalId": "AIDA5VENDORSCANNER01", "accountId": AUDITOR_ACCOUNT}
            name, agent = "AssumeRole", persona.user_agent
        return cloudtrail_record(
            self.rng,
            account_id=account,
            when=session.since,
            event_source="sts.amazonaws.com",
            event_name=name,
            region=GLOBAL_REGION,
            identity=identity,
            source_ip=session.source_ip,
            user_agent=agent,
            request_parameters={"roleArn": arn, "roleSessionName": session.name, "durationSeconds": 3600},
            response_elements=response,
            read_only=True,
            resources=[{"accountId": account, "type": "AWS::IAM::Role", "ARN": arn}],
        )

    def fill(self, value: Any) -> Any:
        """``value`` with each ``"{pool}"`` string replaced by a name from that pool (None when it is empty)."""
        if isinstance(value, dict):
            filled = {k: self.fill(v) for k, v in value.items()}
            return None if any(v is None for v in filled.values()) else filled
        if isinstance(value, list):
            items = [self.fill(v) for v in value]
            return None if any(v is None for v in items) else items
        if isinstance(value, str) and value.startswith("{") and value.endswith("}"):
            names = self.pools.get(value[1:-1])
            return self.rng.choice(names) if names else None
        return value

    def region(self, source: str) -> str:
        if source in GLOBAL_SOURCES:
            return GLOBAL_REGION
        regions, weights = zip(*REGION_WEIGHTS, strict=True)
        return self.rng.choices(regions, weights)[0]

    def activity(self, session: Session, when: datetime) -> dict[str, Any]:
        """One ordinary call in ``session``: a read, now and then a refused call."""
        denied = DENIED.get(session.key, ())
        if denied and self.rng.random() < DENIED_SHARE:
            source, name, parameters, code = self.rng.choice(denied)
            action = f"{source}:{name}"
            message = (
                f"User: {user_identity(session.persona, self.account_id, session.name, session.since)['arn']} "
                f"is not authorized to perform: {action} because no identity-based policy allows the {action} action"
            )
            return self.call(session, when, f"{source}.amazonaws.com", name, self.region(source),
                             self.fill(parameters), error=(code, message))  # fmt: skip
        for _ in range(5):  # a read whose names exist in this account
            source, name, parameters = self.rng.choice(READS[session.key])
            filled = self.fill(parameters)
            if filled is not None:
                break
        return self.call(session, when, f"{source}.amazonaws.com", name, self.region(source), filled or None,
                         read_only=True)  # fmt: skip

    def noise(self, count: int, now: datetime) -> list[dict[str, Any]]:
        """About ``count`` records of ordinary activity in the :data:`DAYS` days before ``now``, and today."""
        records: list[dict[str, Any]] = []
        weights = [kind.weight for kind in SESSION_KINDS]
        while len(records) < count:
            kind = self.rng.choices(SESSION_KINDS, weights)[0]
            start = self._start(kind, now)
            session = self.session(kind.persona, start)
            calls = self.rng.randint(*kind.calls)
            if kind.failed_logins:
                attempts = _times(self.rng, start, calls, 4, 20)
                records.extend(self.console_login(session, when, success=False) for when in attempts)
                continue
            records.extend(self.opener(session))
            slow = 60 if not kind.around_the_clock else 5
            records.extend(self.activity(session, when) for when in _times(self.rng, start, calls, 2, slow))
        return records[:count]

    def _start(self, kind: SessionKind, now: datetime) -> datetime:
        first_day = midnight(now) - timedelta(days=DAYS)
        if kind.around_the_clock:
            span = (now - timedelta(hours=1) - first_day).total_seconds()
            return first_day + timedelta(seconds=self.rng.uniform(0, span))
        start = first_day + timedelta(days=self.rng.randint(0, DAYS), hours=self.rng.uniform(7, 19))
        while start > now - timedelta(hours=1):  # today's office hours have not come yet
            start -= timedelta(days=1)
        return start


def midnight(when: datetime) -> datetime:
    return when.replace(hour=0, minute=0, second=0, microsecond=0)


def _times(rng: random.Random, start: datetime, count: int, low: int, high: int) -> Iterable[datetime]:
    """``count`` times from ``start``, ``low`` to ``high`` seconds apart (the first a little after ``start``)."""
    when = start
    for _ in range(count):
        when += timedelta(seconds=rng.randint(low, high))
        yield when


def resource_pools(calls: Iterable[Any]) -> dict[str, list[str]]:
    """The names of :data:`POOLS` found in recorded calls (:class:`~cloudwarden.demo.trail_recorder.RecordedCall`)."""
    wanted: dict[tuple[str, str], list[Any]] = {(service, operation): [] for service, operation, _, _ in POOLS.values()}
    for call in calls:
        if (call.service, call.operation) in wanted and call.error_code is None:
            wanted[call.service, call.operation].append(call)
    pools: dict[str, list[str]] = {}
    for pool, (service, operation, where, key) in POOLS.items():
        found = (
            (call.request_parameters if where == "request" else call.response_elements) or {}
            for call in wanted[service, operation]
        )
        pools[pool] = [value[key] for value in found if isinstance(value.get(key), str)]
    return pools
