"""The one place that builds AWS clients: credentials, retries, custom endpoints, read-only guard.

Every client cloudwarden uses for collection comes from :class:`AwsContext.client`. It

* uses botocore's adaptive retry mode (client-side rate limiting on throttling),
* honours ``--endpoint-url`` / ``AWS_ENDPOINT_URL`` (LocalStack, a moto server),
* counts every API call (``api_calls``) through botocore's event hooks, and
* refuses any operation that is not a read while ``read_only`` is set, so a bug in a collector can
  never change an account.
"""

from __future__ import annotations

import os
import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import boto3
import botocore.session
from botocore.config import Config
from botocore.loaders import Loader, create_loader

# Operations that only read. GenerateCredentialReport is the one non-Get/List/Describe call posture
# needs: it asks IAM to build a report and changes no configuration.
READ_PREFIXES = ("Get", "List", "Describe", "Head", "Lookup", "Search", "BatchGet")
READ_OPERATIONS = frozenset({"GenerateCredentialReport", "GetCallerIdentity", "AssumeRole"})

# Adaptive mode rate-limits the client itself once AWS throttles; five attempts ride out throttling and
# transient 5xx without stalling a scan for long on an endpoint that keeps failing.
DEFAULT_MAX_ATTEMPTS = 5
# The embedded emulator answers "not implemented" with HTTP 500, which is worth no retry.
EMULATOR_MAX_ATTEMPTS = 2


_SHARED_LOADER: Loader | None = None
_LOADER_LOCK = threading.Lock()


def _shared_loader() -> Loader:
    """One botocore model loader for the process. Each session otherwise re-reads and re-parses the JSON
    service models (tens of milliseconds per service), once per account in an organisation scan and
    once per warm Lambda invocation."""
    global _SHARED_LOADER
    with _LOADER_LOCK:
        if _SHARED_LOADER is None:
            _SHARED_LOADER = create_loader()
        return _SHARED_LOADER


def new_session(**kwargs: Any) -> boto3.Session:
    """A boto3 session (same arguments as ``boto3.Session``) that shares the process's model loader."""
    loader = _shared_loader()
    core = botocore.session.get_session()
    core.register_component("data_loader", loader)
    session = boto3.Session(botocore_session=core, **kwargs)
    with _LOADER_LOCK:  # boto3 appends its resource path to the loader once per session
        paths = loader.search_paths
        paths[:] = list(dict.fromkeys(paths))
    return session


class WriteRefused(RuntimeError):
    """A collector tried to call an operation that could change the account."""


def _retries(max_attempts: int) -> dict[str, object]:
    # botocore's "max_attempts" counts retries (it adds the first try); "total_max_attempts" counts tries.
    return {"mode": "adaptive", "total_max_attempts": max_attempts}


def is_read_operation(operation: str) -> bool:
    return operation in READ_OPERATIONS or operation.startswith(READ_PREFIXES)


@dataclass
class AwsContext:
    """Credentials plus client settings for one account; thread-safe client cache."""

    session: boto3.Session
    endpoint_url: str | None = None
    read_only: bool = True
    max_pool_connections: int = 32
    max_attempts: int = DEFAULT_MAX_ATTEMPTS
    api_calls: Counter[str] = field(default_factory=Counter)
    _clients: dict[tuple[str, str], Any] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @classmethod
    def create(
        cls,
        profile: str | None = None,
        role_arn: str | None = None,
        endpoint_url: str | None = None,
        region: str | None = None,
        read_only: bool = True,
        credentials: dict[str, str] | None = None,
        max_attempts: int = DEFAULT_MAX_ATTEMPTS,
    ) -> AwsContext:
        """A context from the default credential chain (or ``profile``, or explicit ``credentials`` with
        ``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY``), optionally after assuming ``role_arn``."""
        endpoint_url = endpoint_url or os.environ.get("AWS_ENDPOINT_URL") or None
        keys = {}
        if credentials:
            keys = {
                "aws_access_key_id": credentials["AWS_ACCESS_KEY_ID"],
                "aws_secret_access_key": credentials["AWS_SECRET_ACCESS_KEY"],
            }
        session = new_session(profile_name=profile, region_name=region, **keys)
        if session.region_name is None:
            session = new_session(profile_name=profile, region_name="us-east-1", **keys)
        if role_arn:
            sts = session.client("sts", endpoint_url=endpoint_url, config=Config(retries=_retries(max_attempts)))
            creds = sts.assume_role(RoleArn=role_arn, RoleSessionName="cloudwarden")["Credentials"]
            session = new_session(
                aws_access_key_id=creds["AccessKeyId"],
                aws_secret_access_key=creds["SecretAccessKey"],
                aws_session_token=creds["SessionToken"],
                region_name=session.region_name,
            )
        return cls(session=session, endpoint_url=endpoint_url, read_only=read_only, max_attempts=max_attempts)

    @property
    def default_region(self) -> str:
        return self.session.region_name or "us-east-1"

    def client(self, service: str, region: str | None = None) -> Any:
        """A cached client for ``service`` in ``region`` (default: the session's region)."""
        region = region or self.default_region
        key = (service, region)
        with self._lock:  # boto3 sessions are not thread-safe; clients are
            client = self._clients.get(key)
            if client is None:
                client = self._make_client(service, region)
                self._clients[key] = client
            return client

    def _make_client(self, service: str, region: str) -> Any:
        s3_style = {"addressing_style": "path"} if self.endpoint_url else {}
        config = Config(
            retries=_retries(self.max_attempts),
            max_pool_connections=self.max_pool_connections,
            connect_timeout=10,
            read_timeout=60,
            s3=s3_style or None,
            user_agent_extra="cloudwarden",
        )
        client = self.session.client(service, region_name=region, endpoint_url=self.endpoint_url, config=config)
        events = client.meta.events
        events.register("before-call", self._count_call)
        if self.read_only:
            events.register("before-call", self._refuse_writes)
        if self.endpoint_url and service == "s3control":
            events.register("before-sign.s3-control", self._restore_endpoint_host)
        return client

    def _count_call(self, model: Any, **_: Any) -> None:
        with self._lock:
            self.api_calls[f"{model.service_model.service_name}:{model.name}"] += 1

    def _refuse_writes(self, model: Any, **_: Any) -> None:
        if not is_read_operation(model.name):
            raise WriteRefused(
                f"refused {model.service_model.service_name}:{model.name}: cloudwarden is read-only here"
            )

    def _restore_endpoint_host(self, request: Any, **_: Any) -> None:
        """s3control prefixes the account id to the host (``123456789012.127.0.0.1``), which does not
        resolve for a custom endpoint; send the request to the endpoint's own host instead."""
        assert self.endpoint_url
        want = urlsplit(self.endpoint_url)
        got = urlsplit(request.url)
        if got.netloc != want.netloc and got.netloc.endswith("." + want.netloc):
            request.url = urlunsplit((got.scheme, want.netloc, got.path, got.query, got.fragment))

    def account_id(self) -> str:
        return str(self.client("sts").get_caller_identity()["Account"])

    def partition(self) -> str:
        arn = str(self.client("sts").get_caller_identity()["Arn"])
        return arn.split(":")[1] if arn.count(":") >= 2 else "aws"

    def enabled_regions(self) -> list[str]:
        """The regions this account can use (opted in or not requiring opt-in)."""
        regions = self.client("ec2").describe_regions(AllRegions=False)["Regions"]
        return sorted(r["RegionName"] for r in regions)
