"""Reading one CloudTrail log file (gzip or plain JSON, told apart by magic bytes) into records, bounded.

Nothing here raises on bad input: a file that cannot be read becomes a :class:`LogFile` with ``error`` set (the
reason, for the report), and its records are simply absent. A file is never decompressed past ``max_bytes``.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from typing import Any

import orjson

DEFAULT_MAX_BYTES = 64 * 1024 * 1024
GZIP_MAGIC = b"\x1f\x8b"


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


def decompress_bounded(data: bytes, max_bytes: int) -> bytes:
    """The gunzipped ``data`` (every gzip member), raising OverLimit past ``max_bytes`` and ValueError when the
    stream is truncated or corrupt."""
    parts: list[bytes] = []
    total = 0
    rest = data
    while rest:
        inflater = zlib.decompressobj(wbits=31)
        try:
            out = inflater.decompress(rest, max_bytes - total + 1)
        except zlib.error as exc:
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


def parse_log(location: str, data: bytes, max_bytes: int = DEFAULT_MAX_BYTES) -> LogFile:
    """Records of a log file's content ``data`` (gzip or JSON): ``{"Records": [...]}``."""
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
