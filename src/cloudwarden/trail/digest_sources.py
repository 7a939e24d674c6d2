"""Where ``trail verify`` reads digests, log files and public keys: a local folder, S3, ListPublicKeys.

A local folder is a copy of the bucket (``aws s3 sync s3://bucket/prefix DIR``). ``aws s3 sync`` does not
keep object metadata, so the signature of each digest, which S3 holds in ``x-amz-meta-signature``, is read
from a sidecar file next to it: ``<digest>.json.gz.sig`` holding that hex string (see docs/trail-verify.md
for a one-line way to fetch them). In a folder a digest names its log files and its predecessor by S3 key;
they are looked up by the part of the key from ``AWSLogs/`` on, below the folder in which the digest
itself was found, so a copy of the bucket root and a copy of the prefix both work.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path, PurePosixPath
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from cryptography.hazmat.primitives.asymmetric import rsa

from cloudwarden.aws.errors import describe_failure, error_code
from cloudwarden.aws.session import AwsContext
from cloudwarden.trail.digest import KeyFormatError, MissingObject, StaticKeyRing, load_public_key

SIGNATURE_SUFFIX = ".sig"
MAX_SIGNATURE_BYTES = 8192  # a 4096-bit RSA signature is 1024 hex characters
MAX_KEY_FILE_BYTES = 64 * 1024
_FROM_AWSLOGS = re.compile(r"^(?P<base>.*?)(?P<rest>AWSLogs/(?:o-[a-z0-9]{10,32}/)?\d{12}/CloudTrail(?:-Digest)?/.+)$")
_MISSING_CODES = frozenset({"NoSuchKey", "404", "NotFound"})


class SourceError(Exception):
    """A source that cannot be read (no such folder, access denied, an API failure)."""


def _split_awslogs(key: str) -> tuple[str, str] | None:
    match = _FROM_AWSLOGS.match(key)
    return (match["base"], match["rest"]) if match else None


class LocalDigestStore:
    """A folder laid out as CloudTrail delivers to S3, with ``.sig`` sidecars for digest signatures."""

    def __init__(self, root: Path) -> None:
        if not root.is_dir():
            raise SourceError(f"{root} is not a folder")
        self.root = root
        self._resolved = root.resolve()

    def list_keys(self) -> Iterator[str]:
        for folder, dirs, files in os.walk(self.root):
            dirs.sort()
            relative = PurePosixPath(Path(folder).relative_to(self.root).as_posix())
            for name in sorted(files):
                if name.endswith(".json.gz"):
                    yield str(relative / name) if str(relative) != "." else name

    def _path(self, key: str) -> Path:
        parts = PurePosixPath(key).parts
        if not parts or key.startswith("/") or any(part in ("..", "") for part in parts):
            raise MissingObject(key)
        path = self.root.joinpath(*parts)
        if not path.resolve().is_relative_to(self._resolved):
            raise MissingObject(key)  # a symlink out of the folder is not part of the trail
        return path

    def read(self, key: str) -> bytes:
        try:
            return self._path(key).read_bytes()
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError) as exc:
            raise MissingObject(key) from exc
        except OSError as exc:
            raise SourceError(f"cannot read {self.location(key)}: {exc.strerror or exc}") from exc

    def signature(self, key: str) -> str | None:
        try:
            path = self._path(key + SIGNATURE_SUFFIX)
            with open(path, "rb") as handle:
                data = handle.read(MAX_SIGNATURE_BYTES + 1)
        except (MissingObject, FileNotFoundError):
            return None
        except OSError as exc:
            raise SourceError(f"cannot read {path}: {exc.strerror or exc}") from exc
        if len(data) > MAX_SIGNATURE_BYTES:
            return "too-long"  # not hex: reported as an invalid signature
        return data.decode("ascii", errors="replace").strip()

    def location(self, key: str) -> str:
        return str(self.root.joinpath(*PurePosixPath(key).parts))

    def key_for(self, s3_bucket: str, s3_object: str, near: str) -> str | None:
        target = _split_awslogs(s3_object)
        here = _split_awslogs(near)
        if target is None or here is None:
            return None
        return here[0] + target[1]

    def is_own_location(self, key: str, s3_bucket: str, s3_object: str) -> bool:
        own, named = _split_awslogs(key), _split_awslogs(s3_object)
        return own is not None and named is not None and own[1] == named[1]


class S3DigestStore:
    """``s3://bucket/prefix`` through an AwsContext S3 client; signatures from the object metadata."""

    def __init__(self, client: Any, bucket: str, prefix: str) -> None:
        self.client = client
        self.bucket = bucket
        self.prefix = prefix
        self._signatures: dict[str, str | None] = {}
        self._lock = threading.Lock()

    def list_keys(self) -> Iterator[str]:
        try:
            paginator = self.client.get_paginator("list_objects_v2")
            for page in paginator.paginate(Bucket=self.bucket, Prefix=self.prefix):
                for item in page.get("Contents", []):
                    yield item["Key"]
        except (ClientError, BotoCoreError) as exc:
            raise SourceError(
                f"cannot list s3://{self.bucket}/{self.prefix}: {describe_failure(exc, 's3', 'ListObjectsV2')}"
            ) from exc

    def read(self, key: str) -> bytes:
        try:
            response = self.client.get_object(Bucket=self.bucket, Key=key)
            body = response["Body"]
            try:
                data: bytes = body.read()
            finally:
                body.close()
        except ClientError as exc:
            if error_code(exc) in _MISSING_CODES:
                raise MissingObject(key) from exc
            raise SourceError(f"cannot read {self.location(key)}: {describe_failure(exc, 's3', 'GetObject')}") from exc
        except BotoCoreError as exc:
            raise SourceError(f"cannot read {self.location(key)}: {describe_failure(exc, 's3', 'GetObject')}") from exc
        with self._lock:
            self._signatures[key] = response.get("Metadata", {}).get("signature")
        return data

    def signature(self, key: str) -> str | None:
        with self._lock:
            if key in self._signatures:
                return self._signatures[key]
        try:
            metadata = self.client.head_object(Bucket=self.bucket, Key=key).get("Metadata", {})
        except ClientError as exc:
            if error_code(exc) in _MISSING_CODES:
                return None
            raise SourceError(f"cannot read {self.location(key)}: {describe_failure(exc, 's3', 'HeadObject')}") from exc
        return metadata.get("signature")

    def location(self, key: str) -> str:
        return f"s3://{self.bucket}/{key}"

    def key_for(self, s3_bucket: str, s3_object: str, near: str) -> str | None:
        return s3_object if s3_bucket == self.bucket and s3_object else None

    def is_own_location(self, key: str, s3_bucket: str, s3_object: str) -> bool:
        return s3_bucket == self.bucket and s3_object == key


class CloudTrailKeyRing(StaticKeyRing):
    """Public keys from CloudTrail's ListPublicKeys in each digest's region, plus any given keys."""

    def __init__(self, aws: AwsContext | Callable[[], AwsContext]) -> None:
        super().__init__()
        self._aws = aws
        self._loaded: set[str] = set()

    @property
    def aws(self) -> AwsContext:
        """The context, made on first use: a folder whose digests need no key needs no credentials."""
        if not isinstance(self._aws, AwsContext):
            self._aws = self._aws()
        return self._aws

    def load(self, region: str, start: datetime, end: datetime) -> None:
        if region in self._loaded:
            return
        client = self.aws.client("cloudtrail", region)
        # A key is valid for a period; ask with a margin so a key rotated inside the window is included.
        arguments: dict[str, Any] = {"StartTime": start - timedelta(days=1), "EndTime": end + timedelta(days=1)}
        found = 0
        try:
            while True:
                page = client.list_public_keys(**arguments)
                for item in page.get("PublicKeyList", []):
                    try:
                        self.add(load_public_key(bytes(item["Value"])), item.get("Fingerprint"))
                        found += 1
                    except KeyFormatError:
                        continue  # an unusable key cannot verify anything; its digests report unknown-key
                if not page.get("NextToken"):
                    break
                arguments["NextToken"] = page["NextToken"]
        except (ClientError, BotoCoreError) as exc:
            raise SourceError(
                f"cannot fetch CloudTrail public keys: {describe_failure(exc, 'cloudtrail', 'ListPublicKeys')} "
                f"in {region}; for offline verification pass --public-key FILE"
            ) from exc
        if not found:
            raise SourceError(
                f"cloudtrail:ListPublicKeys returned no usable key in {region} for {start:%Y-%m-%dT%H:%M:%SZ} to "
                f"{end:%Y-%m-%dT%H:%M:%SZ}; for offline verification pass --public-key FILE"
            )
        self._loaded.add(region)


def read_key_files(paths: list[Path]) -> list[rsa.RSAPublicKey]:
    """Public keys from PEM or DER files (``--public-key``), or every file in a folder (``--public-keys-dir``)."""
    keys = []
    for path in paths:
        files = sorted(p for p in path.iterdir() if p.is_file()) if path.is_dir() else [path]
        for file in files:
            try:
                with open(file, "rb") as handle:
                    data = handle.read(MAX_KEY_FILE_BYTES + 1)
            except OSError as exc:
                raise SourceError(f"cannot read public key {file}: {exc.strerror or exc}") from exc
            if len(data) > MAX_KEY_FILE_BYTES:
                raise SourceError(f"public key {file} is larger than {MAX_KEY_FILE_BYTES} bytes")
            try:
                keys.append(load_public_key(data))
            except KeyFormatError as exc:
                raise SourceError(f"public key {file}: {exc}") from exc
    return keys
