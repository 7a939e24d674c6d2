"""Where CloudTrail log files come from: a local folder or ``s3://bucket/prefix``.

CloudTrail delivers to ``AWSLogs/[o-ORGID/]ACCOUNT/CloudTrail/REGION/YYYY/MM/DD/*.json.gz``; any ``*.json`` or
``*.json.gz`` below the folder or prefix is taken, except digest files (``CloudTrail-Digest/``), which hold no
events. S3 is read through :class:`cloudwarden.aws.session.AwsContext` clients (read-only, endpoint-aware).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from cloudwarden.trail.reader import DEFAULT_MAX_BYTES, LogFile, parse_log

LOG_SUFFIXES = (".json", ".json.gz")
DIGEST_FOLDER = "CloudTrail-Digest"


@dataclass(frozen=True)
class LogObject:
    """One log file to read: where it is, its size and its version (S3 ETag, or local mtime in ns)."""

    location: str
    size: int
    version: str


class TrailSource(Protocol):
    description: str

    def list(self) -> Iterator[LogObject]: ...

    def read(self, log: LogObject, max_bytes: int = DEFAULT_MAX_BYTES, typed: bool = False) -> LogFile:
        """The file's records (``typed``: see :func:`cloudwarden.trail.reader.parse_log`), or why not."""
        ...


def is_log_name(name: str) -> bool:
    return name.endswith(LOG_SUFFIXES) and DIGEST_FOLDER not in name


class LocalSource:
    """Every log file below a folder (or one file), in path order."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.description = str(root)

    def list(self) -> Iterator[LogObject]:
        if self.root.is_file():
            stat = self.root.stat()
            yield LogObject(str(self.root.resolve()), stat.st_size, str(stat.st_mtime_ns))
            return
        for folder, dirs, files in os.walk(self.root):
            dirs.sort()
            if DIGEST_FOLDER in dirs:
                dirs.remove(DIGEST_FOLDER)
            for name in sorted(files):
                if not is_log_name(name):
                    continue
                path = Path(folder, name)
                try:
                    stat = path.stat()
                except OSError:
                    continue  # vanished between listing and stat
                yield LogObject(str(path.resolve()), stat.st_size, str(stat.st_mtime_ns))

    def read(self, log: LogObject, max_bytes: int = DEFAULT_MAX_BYTES, typed: bool = False) -> LogFile:
        try:
            with open(log.location, "rb") as handle:
                data = handle.read(max_bytes + 1)
        except OSError as exc:
            return LogFile(location=log.location, size=log.size, error=f"cannot read: {exc.strerror or exc}")
        if len(data) > max_bytes:
            return LogFile(
                location=log.location, size=log.size, error=f"file size exceeds the limit of {max_bytes} bytes"
            )
        return parse_log(log.location, data, max_bytes, typed)


def parse_s3_url(url: str) -> tuple[str, str]:
    """``s3://bucket/prefix`` → (bucket, prefix)."""
    if not url.startswith("s3://"):
        raise ValueError(f"not an S3 URL: {url}")
    bucket, _, prefix = url[5:].partition("/")
    if not bucket:
        raise ValueError(f"no bucket in {url}")
    return bucket, prefix


class S3Source:
    """Every log object under ``s3://bucket/prefix`` (list_objects_v2, paginated), read with get_object."""

    def __init__(self, client: Any, bucket: str, prefix: str) -> None:
        self.client = client
        self.bucket = bucket
        self.prefix = prefix
        self.description = f"s3://{bucket}/{prefix}"

    def list(self) -> Iterator[LogObject]:
        paginator = self.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=self.prefix):
            for item in page.get("Contents", []):
                key = item["Key"]
                if is_log_name(key):
                    yield LogObject(
                        f"s3://{self.bucket}/{key}", int(item.get("Size", 0)), str(item.get("ETag", "")).strip('"')
                    )

    def read(self, log: LogObject, max_bytes: int = DEFAULT_MAX_BYTES, typed: bool = False) -> LogFile:
        from botocore.exceptions import BotoCoreError, ClientError

        key = log.location[len(f"s3://{self.bucket}/") :]
        if log.size > max_bytes:
            return LogFile(
                location=log.location, size=log.size, error=f"object size exceeds the limit of {max_bytes} bytes"
            )
        try:
            body = self.client.get_object(Bucket=self.bucket, Key=key)["Body"]
            try:
                data = body.read(max_bytes + 1)
            finally:
                body.close()
        except (ClientError, BotoCoreError, OSError) as exc:
            return LogFile(location=log.location, size=log.size, error=f"cannot read: {exc}")
        if len(data) > max_bytes:
            return LogFile(
                location=log.location, size=log.size, error=f"object size exceeds the limit of {max_bytes} bytes"
            )
        return parse_log(log.location, data, max_bytes, typed)
