"""One CloudTrail record → one row of the store, or the reason it cannot be one.

Core fields are picked by their exact CloudTrail names; nothing is inferred from the data, so keys that differ
only by case (``userIdentity`` and ``useridentity``) or fields that change type between records cannot break
ingestion. Large nested fields are kept as JSON text, each bounded to ``MAX_JSON_FIELD`` bytes.

This runs once per event, so it is written for speed: plain dict lookups and ``type(x) is str`` checks.
"""

from __future__ import annotations

import re
from typing import Any

import msgspec
import orjson

from cloudwarden.trail.principal import Principal, normalise
from cloudwarden.trail.reader import TrailRecord

MAX_JSON_FIELD = 1024 * 1024
MAX_TEXT_FIELD = 64 * 1024
MAX_EVENT_ID = 256
TRUNCATED_MARKER = "cloudwarden_truncated_bytes"

# Column order of a row, as produced by extract_row and stored in the events table.
COLUMNS = (
    "event_id",
    "event_time",
    "event_source",
    "event_name",
    "aws_region",
    "account_id",
    "principal",
    "principal_type",
    "principal_arn",
    "principal_name",
    "session_name",
    "source_identity",
    "access_key_id",
    "invoked_by",
    "source_ip",
    "user_agent",
    "error_code",
    "error_message",
    "read_only",
    "event_type",
    "request_parameters",
    "response_elements",
    "additional_event_data",
    "resources",
    "user_identity",
)
# The top-level CloudTrail fields kept as JSON text, and their columns.
JSON_FIELDS = (
    ("requestParameters", "request_parameters"),
    ("responseElements", "response_elements"),
    ("additionalEventData", "additional_event_data"),
    ("resources", "resources"),
    ("userIdentity", "user_identity"),
)
JSON_COLUMNS = tuple(column for _, column in JSON_FIELDS)

# CloudTrail writes eventTime as 2024-07-30T21:31:21Z (sometimes with fractions of a second).
EVENT_TIME_PATTERN = (
    r"(?:19|2\d)\d\d-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12]\d|3[01])T(?:[01]\d|2[0-3]):[0-5]\d:[0-5]\d(?:\.\d{1,9})?Z"
)
_EVENT_TIME = re.compile(EVENT_TIME_PATTERN)
_DAYS_IN_MONTH = (0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)
_match_time = _EVENT_TIME.fullmatch
_dumps = orjson.dumps
PRINCIPAL_CACHE_SIZE = 20_000
_principals: dict[bytes | None, Principal] = {}
_UNPARSED = object()  # "parse the identity from its JSON text when it is not cached"
_NULL_RAW = msgspec.Raw(b"null")
# The optional top-level string fields kept verbatim, and their columns.
OPTIONAL_TEXT = (
    ("awsRegion", "aws_region"),
    ("recipientAccountId", "account_id"),
    ("sourceIPAddress", "source_ip"),
    ("userAgent", "user_agent"),
    ("errorCode", "error_code"),
    ("errorMessage", "error_message"),
    ("eventType", "event_type"),
)


def json_field(value: Any, limit: int = MAX_JSON_FIELD) -> bytes | None:
    """``value`` as JSON text (UTF-8 bytes, as the store takes them); None stays None. Past ``limit`` bytes: a
    JSON object with the marker, the full size and the beginning of the text, so the column is still valid JSON
    and still searchable."""
    if value is None:
        return None
    try:
        data = _dumps(value)
    except (TypeError, orjson.JSONEncodeError):  # e.g. integers beyond 64 bits, nesting too deep: keep the text
        data = _dumps(str(value)[:limit])
    if len(data) > limit:
        prefix = data[: limit // 2].decode("utf-8", "ignore")
        return _dumps({TRUNCATED_MARKER: len(data), "prefix": prefix})
    return data


def _text(value: str) -> str:
    return value if len(value) <= MAX_TEXT_FIELD else value[:MAX_TEXT_FIELD] + "…[truncated]"


def real_day(event_time: str) -> bool:
    """Whether the day of a time that matched _EVENT_TIME exists (no 30 February, 29 February in leap years)."""
    year, month, day = int(event_time[:4]), int(event_time[5:7]), int(event_time[8:10])
    if day > _DAYS_IN_MONTH[month]:
        return False
    return not (month == 2 and day == 29 and (year % 4 or (year % 100 == 0 and year % 400)))


def _why_bad(record: Any) -> str:
    """The reason a record failed the fast path (called only for bad records)."""
    if type(record) is not dict:
        return f"record is {type(record).__name__}, not an object"
    for key in ("eventID", "eventTime", "eventSource", "eventName"):
        value = record.get(key)
        if value is None:
            return f"{key} is missing"
        if type(value) is not str:
            return f"{key} is {type(value).__name__}, not a string"
    if not _match_time(record["eventTime"]) or not real_day(record["eventTime"]):
        return f"eventTime {record['eventTime'][:40]!r} is not an ISO 8601 UTC time"
    if not record["eventID"] or len(record["eventID"]) > MAX_EVENT_ID:
        return f"eventID is empty or longer than {MAX_EVENT_ID} characters"
    identity = record.get("userIdentity")
    if identity is not None and type(identity) is not dict:
        return f"userIdentity is {type(identity).__name__}, not an object"
    for key, _ in OPTIONAL_TEXT:
        value = record.get(key)
        if value is not None and type(value) is not str:
            return f"{key} is {type(value).__name__}, not a string"
    read_only = record.get("readOnly")
    if read_only is not None and type(read_only) is not bool and read_only not in ("true", "false"):
        return f"readOnly is {type(read_only).__name__} {str(read_only)[:20]!r}, not a boolean"
    return "unreadable record"


def _raw_field(raw: msgspec.Raw, limit: int = MAX_JSON_FIELD) -> bytes | None:
    """A raw JSON field as stored: None for ``null``, past ``limit`` the same marker as :func:`json_field`."""
    data = bytes(raw)
    if data == b"null":
        return None
    if len(data) > limit:
        return json_field(orjson.Fragment(data), limit)
    return data


def _principal(identity_json: bytes | None, identity: Any) -> Principal:
    """The normalised principal of a userIdentity, cached by its JSON text (a session repeats it per call)."""
    who = _principals.get(identity_json)
    if who is None:
        if len(_principals) >= PRINCIPAL_CACHE_SIZE:
            _principals.clear()
        if identity is _UNPARSED:
            identity = orjson.loads(identity_json) if identity_json is not None else None
        who = _principals[identity_json] = normalise(identity)
    return who


def cached_principal(identity_json: bytes | None) -> Principal | None:
    """:func:`_principal` of a typed record's userIdentity text, or None when :func:`extract_typed` would not
    take that text as it is (not an object, or longer than MAX_JSON_FIELD)."""
    who = _principals.get(identity_json)
    if who is None and identity_json is not None and (identity_json[:1] != b"{" or len(identity_json) > MAX_JSON_FIELD):
        return None
    return who or _principal(identity_json, _UNPARSED)


def _as_dict(record: TrailRecord) -> dict[str, Any]:
    """A typed record as the dict it was decoded from, for the reasons of a bad record (a rare path)."""
    fields = msgspec.structs.asdict(record)
    return {
        key: orjson.loads(bytes(value)) if isinstance(value, msgspec.Raw) else value
        for key, value in fields.items()
        if value is not None and value != _NULL_RAW
    }


def extract_typed(record: TrailRecord) -> tuple[Any, ...] | str:
    """:func:`extract_row` for a :class:`TrailRecord` (string fields already type-checked by the decoder)."""
    event_id = record.eventID
    event_time = record.eventTime
    if (
        not event_id
        or len(event_id) > MAX_EVENT_ID
        or event_time is None
        or record.eventSource is None
        or record.eventName is None
        or not _match_time(event_time)
        or (event_time[8:10] > "28" and not real_day(event_time))
    ):
        return _why_bad(_as_dict(record))
    identity_json = bytes(record.userIdentity)
    if identity_json == b"null":
        identity_json = None
    elif identity_json[:1] != b"{":
        return _why_bad(_as_dict(record))
    read_only = record.readOnly
    if read_only is not None and type(read_only) is not bool:
        if read_only == "true":
            read_only = True
        elif read_only == "false":
            read_only = False
        else:
            return _why_bad(_as_dict(record))
    user_agent = record.userAgent
    if user_agent is not None and len(user_agent) > MAX_TEXT_FIELD:
        user_agent = _text(user_agent)
    error_message = record.errorMessage
    if error_message is not None and len(error_message) > MAX_TEXT_FIELD:
        error_message = _text(error_message)
    if identity_json is not None and len(identity_json) > MAX_JSON_FIELD:
        identity_json = json_field(orjson.Fragment(identity_json))
    return (
        event_id,
        event_time,
        record.eventSource,
        record.eventName,
        record.awsRegion,
        record.recipientAccountId,
        *_principal(identity_json, _UNPARSED),
        record.sourceIPAddress,
        user_agent,
        record.errorCode,
        error_message,
        read_only,
        record.eventType,
        _raw_field(record.requestParameters),
        _raw_field(record.responseElements),
        _raw_field(record.additionalEventData),
        _raw_field(record.resources),
        identity_json,
    )


def extract_row(record: Any) -> tuple[Any, ...] | str:
    """The row of ``record`` (in COLUMNS order), or a string saying why it is not a valid event."""
    if type(record) is not dict:
        return _why_bad(record)
    get = record.get
    event_id = get("eventID")
    event_time = get("eventTime")
    event_source = get("eventSource")
    event_name = get("eventName")
    identity = get("userIdentity")
    region = get("awsRegion")
    account = get("recipientAccountId")
    source_ip = get("sourceIPAddress")
    user_agent = get("userAgent")
    error_code = get("errorCode")
    error_message = get("errorMessage")
    event_type = get("eventType")
    read_only = get("readOnly")
    if (
        type(event_id) is not str
        or not event_id
        or len(event_id) > MAX_EVENT_ID
        or type(event_time) is not str
        or type(event_source) is not str
        or type(event_name) is not str
        or not _match_time(event_time)
        or (event_time[8:10] > "28" and not real_day(event_time))
        or (identity is not None and type(identity) is not dict)
        or (region is not None and type(region) is not str)
        or (account is not None and type(account) is not str)
        or (source_ip is not None and type(source_ip) is not str)
        or (user_agent is not None and type(user_agent) is not str)
        or (error_code is not None and type(error_code) is not str)
        or (error_message is not None and type(error_message) is not str)
        or (event_type is not None and type(event_type) is not str)
    ):
        return _why_bad(record)
    if type(read_only) is not bool:
        if read_only is None:
            pass
        elif read_only == "true":
            read_only = True
        elif read_only == "false":
            read_only = False
        else:
            return _why_bad(record)
    if user_agent is not None and len(user_agent) > MAX_TEXT_FIELD:
        user_agent = _text(user_agent)
    if error_message is not None and len(error_message) > MAX_TEXT_FIELD:
        error_message = _text(error_message)
    identity_json = json_field(identity)
    who = _principal(identity_json, identity)
    return (
        event_id,
        event_time,
        event_source,
        event_name,
        region,
        account,
        *who,
        source_ip,
        user_agent,
        error_code,
        error_message,
        read_only,
        event_type,
        json_field(get("requestParameters")),
        json_field(get("responseElements")),
        json_field(get("additionalEventData")),
        json_field(get("resources")),
        identity_json,
    )
