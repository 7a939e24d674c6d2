"""Reading one CloudTrail log file (gzip or plain JSON, told apart by magic bytes) into records, bounded.

Nothing here raises on bad input: a file that cannot be read becomes a :class:`LogFile` with ``error`` set (the
reason, for the report), and its records are simply absent. A file is never decompressed past ``max_bytes``.

Records are dicts, or with ``typed=True`` (ingestion's fast path) :class:`TrailRecord` structs: the fields the
store needs, decoded by type, with the nested fields kept as their raw JSON text. A file the typed decoder
rejects (a field of the wrong type anywhere, invalid JSON) is read again as dicts, so the bad records can be
told apart from the good ones and each reported with its reason.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import msgspec
import orjson
from isal import isal_zlib

DEFAULT_MAX_BYTES = 64 * 1024 * 1024
GZIP_MAGIC = b"\x1f\x8b"


_NULL = msgspec.Raw(b"null")


class TrailRecord(msgspec.Struct, gc=False):
    """The fields of a CloudTrail record the store keeps, by their exact CloudTrail names (a key that differs
    only by case is another, ignored, field). Nested fields stay raw JSON text (``null`` when absent)."""

    eventID: str | None = None
    eventTime: str | None = None
    eventSource: str | None = None
    eventName: str | None = None
    awsRegion: str | None = None
    recipientAccountId: str | None = None
    sourceIPAddress: str | None = None
    userAgent: str | None = None
    errorCode: str | None = None
    errorMessage: str | None = None
    eventType: str | None = None
    readOnly: bool | str | None = None
    userIdentity: msgspec.Raw = _NULL
    requestParameters: msgspec.Raw = _NULL
    responseElements: msgspec.Raw = _NULL
    additionalEventData: msgspec.Raw = _NULL
    resources: msgspec.Raw = _NULL


class _TypedLog(msgspec.Struct, gc=False):
    Records: list[TrailRecord]


_decode_typed = msgspec.json.Decoder(_TypedLog).decode


class OverLimit(Exception):
    """The decompressed file would exceed the limit."""


@dataclass
class LogFile:
    """The outcome of reading one file: its records, or the reason it could not be read."""

    location: str
    size: int = 0  # bytes as stored (compressed for .gz)
    records: list[Any] = field(default_factory=list)
    error: str | None = None
    decompressed_bytes: int = 0
    # Why the source could not even decode some records (e.g. a LookupEvents CloudTrailEvent that is not JSON):
    # counted and reported as bad records beside the ones the extractor rejects.
    rejected: list[str] = field(default_factory=list)


def decompress_bounded(data: bytes, max_bytes: int) -> bytes:
    """The gunzipped ``data`` (every gzip member), raising OverLimit past ``max_bytes`` and ValueError when the
    stream is truncated or corrupt."""
    parts: list[bytes] = []
    total = 0
    rest = data
    while rest:
        inflater = isal_zlib.decompressobj(wbits=31)
        try:
            out = inflater.decompress(rest, max_bytes - total + 1)
        except isal_zlib.error as exc:
            raise ValueError(f"corrupt gzip: {exc}") from exc
        total += len(out)
        if total > max_bytes or inflater.unconsumed_tail:
            raise OverLimit(f"decompressed size exceeds the limit of {max_bytes} bytes")
        if not inflater.eof:
            raise ValueError("truncated gzip: the stream ends before the end of the compressed data")
        parts.append(out)
        rest = inflater.unused_data
        if rest and not rest.startswith(GZIP_MAGIC):
            break  # trailing garbage after the last member: ignored, as gzip(1) does
    return parts[0] if len(parts) == 1 else b"".join(parts)


def parse_log(location: str, data: bytes, max_bytes: int = DEFAULT_MAX_BYTES, typed: bool = False) -> LogFile:
    """Records of a log file's content ``data`` (gzip or JSON): ``{"Records": [...]}``; with ``typed``,
    :class:`TrailRecord` structs when every record decodes by type, else dicts."""
    result = LogFile(location=location, size=len(data))
    try:
        text = decompress_bounded(data, max_bytes) if data.startswith(GZIP_MAGIC) else data
    except OverLimit as exc:
        result.error = str(exc)
        return result
    except ValueError as exc:
        result.error = str(exc)
        return result
    if len(text) > max_bytes:
        result.error = f"size exceeds the limit of {max_bytes} bytes"
        return result
    result.decompressed_bytes = len(text)
    if typed:
        try:
            result.records = _decode_typed(text).Records
            return result
        except (msgspec.ValidationError, msgspec.DecodeError):
            pass  # read as dicts below: per-record reasons, and orjson's message for invalid JSON
    try:
        document = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        result.error = f"invalid JSON: {exc}"
        return result
    records = document.get("Records") if type(document) is dict else None
    if type(records) is not list:
        result.error = "not a CloudTrail log: no Records list at the top level"
        return result
    result.records = records
    return result
