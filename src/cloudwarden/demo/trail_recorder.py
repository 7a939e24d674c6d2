"""Acme's CloudTrail for the demo: record every write call the seeder makes, then write the trail AWS would have.

:meth:`TrailRecorder.wrap` takes the seeder's client factory and returns one whose clients report each write
call (botocore's ``before-parameter-build`` and ``after-call`` hooks): the parameters as sent, the parsed
response, the error code. Seeding code does not know it is recorded, and what it creates does not change.

:func:`demo_trail` turns the recorded calls into CloudTrail records, each made by the person or role the
tables of :mod:`cloudwarden.demo.trail_personas` name, a few minutes apart over the days before ``now``,
among ten times as much ordinary activity (:mod:`cloudwarden.demo.trail_noise`). :func:`write_trail` writes
them in CloudTrail's delivery layout, ready for ``cloudwarden trail ingest``.

Parameters and responses are untrusted and may hold secrets: secret values are replaced with
``HIDDEN_DUE_TO_SECURITY_REASONS`` as CloudTrail does, binary values dropped, and sizes bounded.
"""

from __future__ import annotations

import contextlib
import gzip
import random
import shutil
import string
from collections import defaultdict
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

from cloudwarden.aws.session import is_read_operation
from cloudwarden.demo.environment import ClientFactory
from cloudwarden.demo.trail_noise import DAYS, NOISE_PER_CHANGE, Session, TrailWriter, midnight, resource_pools
from cloudwarden.demo.trail_personas import GLOBAL_REGION, cloudtrail_time, persona_for
from cloudwarden.trail.extract import TRUNCATED_MARKER
from cloudwarden.trail.ingest import IngestSummary, ingest
from cloudwarden.trail.sources import LocalSource
from cloudwarden.trail.store import STORE_FILE, TrailStore

DEFAULT_SEED = 20261128
HIDDEN = "HIDDEN_DUE_TO_SECURITY_REASONS"
# Parameter and response names whose values are secret wherever they appear (compared in lower case).
# Environments are hidden whole: Lambda and ECS keep passwords and API keys there (the sample company does).
SECRET_NAMES = frozenset(
    {
        "password",
        "newpassword",
        "oldpassword",
        "masteruserpassword",
        "secretstring",
        "secretbinary",
        "secretaccesskey",
        "sessiontoken",
        "privatekey",
        "authenticationcode1",
        "authenticationcode2",
        "environment",
        "userdata",
    }
)
GLOBAL_SERVICES = frozenset({"iam", "cloudfront", "route53", "organizations"})  # they log in us-east-1
# Where CloudTrail names a parameter differently from the API (per botocore service name).
PARAMETER_NAMES: dict[str, dict[str, str]] = {
    "s3": {"Bucket": "bucketName", "Policy": "bucketPolicy", "ACL": "x-amz-acl", "Key": "key"},
    "ec2": {"Return": "_return"},
}
# Operations CloudTrail logs under another eventName (per botocore service name).
EVENT_NAMES: dict[str, dict[str, str]] = {
    "s3": {
        "PutPublicAccessBlock": "PutBucketPublicAccessBlock",
        "DeletePublicAccessBlock": "DeleteBucketPublicAccessBlock",
        "PutBucketLifecycleConfiguration": "PutBucketLifecycle",
        "GetBucketLifecycleConfiguration": "GetBucketLifecycle",
    },
    "lambda": {
        "CreateFunction": "CreateFunction20150331",
        "DeleteFunction": "DeleteFunction20150331",
        "AddPermission": "AddPermission20150331v2",
        "RemovePermission": "RemovePermission20150331v2",
        "UpdateFunctionCode": "UpdateFunctionCode20150331v2",
        "UpdateFunctionConfiguration": "UpdateFunctionConfiguration20150331v2",
        "PublishVersion": "PublishVersion20150331",
        "CreateEventSourceMapping": "CreateEventSourceMapping20150331",
    },
}
# Parameters CloudTrail shows as the JSON document they hold rather than as text.
JSON_DOCUMENTS = frozenset({("s3", "Policy")})
# EC2's query API: CloudTrail names members as the XML does (instancesSet, groupId) and wraps every list as
# {"items": [...]}.
EC2_PROTOCOL = "ec2"
MAX_TEXT_CHARS = 16 * 1024
MAX_LIST_ITEMS = 100
MAX_DEPTH = 16
MAX_REQUEST_BYTES = 64 * 1024
MAX_RESPONSE_BYTES = 8 * 1024
IDENTIFIER_SUFFIXES = ("id", "ids", "arn", "arns", "name", "names", "identifier")
# A day's changes start about 09:00 UTC and fit in WORKDAY, at most MAX_GAP_SECONDS apart.
WORKDAY = timedelta(hours=9)
MAX_GAP_SECONDS = 300
FILE_MINUTES = 5  # CloudTrail delivers a region's events about every five minutes
TRAIL_FOLDER = "trail"
INGEST_WORKERS = 2  # small local files: more threads only wait
_DROP = object()  # a value CloudTrail would not show (bytes, streams)


@dataclass(frozen=True)
class RecordedCall:
    """One write call, in CloudTrail's terms: ``service`` is botocore's name (``elbv2``), ``operation`` the API's
    (``AddPermission``), ``event_name`` CloudTrail's (``AddPermission20150331v2``), ``event_source`` the
    CloudTrail host (``elasticloadbalancing.amazonaws.com``), ``region`` where it is logged."""

    service: str
    operation: str
    event_name: str
    event_source: str
    region: str
    request_parameters: dict[str, Any] | None
    response_elements: dict[str, Any] | None
    error_code: str | None = None
    error_message: str | None = None


class TrailRecorder:
    """Collects :class:`RecordedCall` s, in call order, from the clients it is attached to."""

    def __init__(self) -> None:
        self.calls: list[RecordedCall] = []
        self._hook_id = f"cloudwarden-trail-recorder-{id(self)}"
        self._pending = f"{self._hook_id}-request"

    def wrap(self, factory: ClientFactory) -> ClientFactory:
        """``factory`` whose clients are recorded (a cached client is hooked once)."""

        def recorded(service: str, region: str) -> Any:
            return self.attach(factory(service, region))

        return recorded

    def attach(self, client: Any) -> Any:
        events = client.meta.events
        events.register("before-parameter-build", self._before_call, unique_id=f"{self._hook_id}-before")
        events.register("after-call", self._after_call, unique_id=f"{self._hook_id}-after")
        return client

    def _before_call(self, params: dict[str, Any], model: Any, context: dict[str, Any], **_: Any) -> None:
        if is_read_operation(model.name):
            return
        service = model.service_model
        # Shaped (copied) now: later handlers may add to ``params`` in place.
        context[self._pending] = cloudtrail_shape(
            params, model.input_shape, service.service_name, service.protocol, MAX_REQUEST_BYTES
        )

    def _after_call(self, parsed: dict[str, Any], model: Any, context: dict[str, Any], **_: Any) -> None:
        request = context.pop(self._pending, _DROP)
        if request is _DROP:
            return
        service = model.service_model
        name = service.service_name
        error = parsed.get("Error") if isinstance(parsed, dict) else None
        response = None
        if not error:
            response = cloudtrail_shape(parsed, model.output_shape, name, service.protocol, MAX_RESPONSE_BYTES)
        self.calls.append(
            RecordedCall(
                service=name,
                operation=model.name,
                event_name=EVENT_NAMES.get(name, {}).get(model.name, model.name),
                event_source=f"{service.signing_name or service.endpoint_prefix}.amazonaws.com",
                region=GLOBAL_REGION if name in GLOBAL_SERVICES else context.get("client_region") or GLOBAL_REGION,
                request_parameters=request or None,
                response_elements=response or None,
                error_code=str(error.get("Code") or "Unknown") if error else None,
                error_message=str(error.get("Message") or "")[:MAX_TEXT_CHARS] if error else None,
            )
        )


def cloudtrail_shape(value: dict[str, Any], shape: Any, service: str, protocol: str, limit: int) -> dict[str, Any]:
    """API parameters or a parsed response (``shape``: its botocore shape, or None) as CloudTrail shows them:
    member names in lowerCamelCase (map keys as they are), secrets hidden, binary dropped, EC2 lists as
    ``{"items": [...]}``, and at most ``limit`` bytes of JSON (past it: the identifiers only, with the original
    size under ``cloudwarden_truncated_bytes``). Times stay datetimes: the record gives them its event time."""
    style = _Style(service, PARAMETER_NAMES.get(service, {}), protocol == EC2_PROTOCOL)
    shaped = _shape(value, shape, style, 0)
    if not isinstance(shaped, dict):
        return {}
    size = len(orjson.dumps(shaped))
    if size <= limit:
        return shaped
    identifiers = _identifiers(shaped)
    if isinstance(identifiers, dict) and len(orjson.dumps(identifiers)) < limit - 64:
        return {**identifiers, TRUNCATED_MARKER: size}
    return {TRUNCATED_MARKER: size}


@dataclass(frozen=True)
class _Style:
    service: str
    names: dict[str, str]
    ec2: bool
    verbatim: bool = False  # a JSON document inside a parameter: its keys are not API member names


def _shape(value: Any, shape: Any, style: _Style, depth: int) -> Any:
    if isinstance(value, str):
        extra = len(value) - MAX_TEXT_CHARS
        return value if extra <= 0 else f"{value[:MAX_TEXT_CHARS]}…[{extra} more characters]"
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if depth >= MAX_DEPTH:
        return _DROP
    kind = getattr(shape, "type_name", None)
    if isinstance(value, dict):
        is_map = kind == "map" or style.verbatim
        members = shape.members if kind == "structure" else {}
        shaped: dict[str, Any] = {}
        for key, item in list(value.items())[: MAX_LIST_ITEMS if is_map else None]:
            if key == "ResponseMetadata" or not isinstance(key, str) or not key:
                continue
            name = key if is_map else style.names.get(key) or _member_name(key, members.get(key), style.ec2)
            if key.lower() in SECRET_NAMES:
                shaped[name] = HIDDEN
                continue
            item_style = style
            if (style.service, key) in JSON_DOCUMENTS and isinstance(item, str):
                with contextlib.suppress(orjson.JSONDecodeError):  # not JSON: shown as the text it is
                    item, item_style = orjson.loads(item), replace(style, verbatim=True)
            converted = _shape(item, shape.value if kind == "map" else members.get(key), item_style, depth + 1)
            if converted is not _DROP:
                shaped[name] = converted
        return shaped
    if isinstance(value, list | tuple):
        member = shape.member if kind == "list" else None
        items = [_shape(item, member, style, depth + 1) for item in value[:MAX_LIST_ITEMS]]
        items = [item for item in items if item is not _DROP]
        if len(value) > MAX_LIST_ITEMS:
            items.append(f"…[{len(value) - MAX_LIST_ITEMS} more items]")
        if style.ec2 and not style.verbatim:
            return {"items": items} if items else {}
        return items
    return _DROP  # bytes, streams, anything CloudTrail would not show as JSON


def _member_name(key: str, member: Any, ec2: bool) -> str:
    """CloudTrail's name for API member ``key``: lowerCamelCase, or for EC2 the XML name where it has one
    (``Instances`` → ``instancesSet``; capitalised query names such as ``SecurityGroupId`` are not used)."""
    wire = member.serialization.get("name") if ec2 and member is not None else None
    if wire and wire[0].islower():
        return str(wire)
    return key[0].lower() + key[1:]


def _identifiers(value: Any) -> Any:
    """Only the names, ids and ARNs in ``value`` (dicts and lists that hold none are left out)."""
    if isinstance(value, dict):
        kept = {}
        for key, item in value.items():
            if isinstance(item, dict | list):
                inner = _identifiers(item)
                if inner:
                    kept[key] = inner
            elif key.lower().endswith(IDENTIFIER_SUFFIXES) and (not isinstance(item, str) or len(item) <= 2048):
                kept[key] = item
        return kept
    if isinstance(value, list):
        return [inner for inner in (_identifiers(item) for item in value) if inner]
    return value


def demo_trail(
    calls: list[RecordedCall], account_id: str, now: datetime, seed: int = DEFAULT_SEED
) -> list[dict[str, Any]]:
    """CloudTrail records for ``calls`` (made by the personas of the tables, in call order, over the
    :data:`~cloudwarden.demo.trail_noise.DAYS` days before ``now``) and about :data:`NOISE_PER_CHANGE` times as
    much ordinary activity, oldest first. The same calls, ``now`` and ``seed`` give the same records."""
    now = now.astimezone(UTC)
    writer = TrailWriter(account_id, random.Random(seed), resource_pools(calls))  # noqa: S311 - reproducible, not secret
    records = _changes(writer, calls, now)
    openers = len(records) - len(calls)  # the sign-ins and role assumptions before the changes: noise too
    records.extend(writer.noise(max(0, NOISE_PER_CHANGE * len(calls) - openers), now))
    records.sort(key=lambda record: record["eventTime"])
    return records


def _changes(writer: TrailWriter, calls: list[RecordedCall], now: datetime) -> list[dict[str, Any]]:
    """The records of ``calls``, spread over working days, each persona's calls of a day in one session that
    begins with its sign-in or role assumption."""
    rng = writer.rng
    per_day = max(1, -(-len(calls) // DAYS))
    widest = max(4, min(MAX_GAP_SECONDS, int(WORKDAY.total_seconds()) // per_day))
    records: list[dict[str, Any]] = []
    for day in range(DAYS):
        batch = calls[day * per_day : (day + 1) * per_day]
        if not batch:
            break
        when = midnight(now) - timedelta(days=DAYS - day) + timedelta(hours=9, seconds=rng.randint(0, 3600))
        sessions: dict[str, Session] = {}
        for call in batch:
            when += timedelta(seconds=rng.randint(max(1, widest // 3), widest))
            key = persona_for(call.service, call.operation)
            session = sessions.get(key)
            if session is None:
                session = sessions[key] = writer.session(key, when - timedelta(seconds=rng.randint(20, 120)))
                records.extend(writer.opener(session))
            error = (call.error_code, call.error_message or "") if call.error_code else None
            stamp = cloudtrail_time(when)
            records.append(
                writer.call(
                    session,
                    when,
                    call.event_source,
                    call.event_name,
                    call.region,
                    _at_time(call.request_parameters, stamp),
                    _at_time(call.response_elements, stamp),
                    error=error,
                )
            )
    return records


def _at_time(value: Any, stamp: str) -> Any:
    """``value`` with every datetime (a creation date the emulator set when seeding) as the event's time."""
    if isinstance(value, datetime):
        return stamp
    if isinstance(value, dict):
        return {key: _at_time(item, stamp) for key, item in value.items()}
    if isinstance(value, list):
        return [_at_time(item, stamp) for item in value]
    return value


def write_trail(records: list[dict[str, Any]], root: Path, account_id: str, seed: int = DEFAULT_SEED) -> list[Path]:
    """Write ``records`` below ``root`` as CloudTrail delivers them: ``AWSLogs/<account>/CloudTrail/<region>/
    YYYY/MM/DD/<account>_CloudTrail_<region>_<YYYYMMDDTHHMMZ>_<random>.json.gz``, one gzip file of
    ``{"Records": [...]}`` per region per five minutes. Returns the files written (same input, same bytes)."""
    batches: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for record in records:
        when = datetime.strptime(record["eventTime"], "%Y-%m-%dT%H:%M:%SZ")
        delivered = when - timedelta(minutes=when.minute % FILE_MINUTES - FILE_MINUTES, seconds=when.second)
        batches[record["awsRegion"], delivered.strftime("%Y%m%dT%H%MZ")].append(record)
    written = []
    alphabet = string.ascii_letters + string.digits
    for (region, stamp), batch in sorted(batches.items()):
        suffix = "".join(random.Random(f"{seed}/{region}/{stamp}").choices(alphabet, k=16))  # noqa: S311
        folder = root / "AWSLogs" / account_id / "CloudTrail" / region / stamp[:4] / stamp[4:6] / stamp[6:8]
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{account_id}_CloudTrail_{region}_{stamp}_{suffix}.json.gz"
        path.write_bytes(gzip.compress(orjson.dumps({"Records": batch}), compresslevel=6, mtime=0))
        written.append(path)
    return written


@dataclass(frozen=True)
class DemoTrail:
    """What :func:`record_demo_trail` wrote: the log folder, its files, the store and what ingestion said."""

    folder: Path
    files: list[Path]
    store: Path
    summary: IngestSummary


def record_demo_trail(
    calls: list[RecordedCall], account_id: str, output_dir: Path, now: datetime, seed: int = DEFAULT_SEED
) -> DemoTrail:
    """Write the demo trail of ``calls`` to ``<output_dir>/trail/`` and ingest it into ``<output_dir>/trail.duckdb``
    with the ordinary pipeline. The account's logs and the store of an earlier demo there are replaced (their
    event ids would repeat)."""
    folder = output_dir / TRAIL_FOLDER
    store_path = output_dir / STORE_FILE
    shutil.rmtree(folder / "AWSLogs" / account_id / "CloudTrail", ignore_errors=True)
    for stale in (store_path, store_path.with_name(store_path.name + ".wal")):
        stale.unlink(missing_ok=True)
    files = write_trail(demo_trail(calls, account_id, now, seed), folder, account_id, seed)
    with TrailStore(store_path) as store:
        summary = ingest(store, LocalSource(folder), workers=INGEST_WORKERS)
    return DemoTrail(folder, files, store_path, summary)
