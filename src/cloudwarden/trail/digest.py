"""CloudTrail log file integrity: digest signatures, the digest chain and log file hashes.

This follows AWS's "CloudTrail digest file structure" and "Validating CloudTrail log file integrity with
custom implementations", as ``aws cloudtrail validate-logs`` does:

* each digest file (gzip JSON) lists the log files delivered in its hour with the hex SHA-256 of each
  *uncompressed* log file, and links to the previous digest by its key, the hex SHA-256 of its uncompressed
  bytes and its signature;
* each digest is signed with RSA PKCS#1 v1.5 / SHA-256 over the string
  ``digestEndTime + "\\n" + digestS3Bucket + "/" + digestS3Object + "\\n" + hex(sha256(uncompressed digest))
  + "\\n" + previousDigestSignature`` (the literal ``null`` for the first digest of a chain); the hex
  signature is the ``x-amz-meta-signature`` metadata of the digest object;
* the public key is chosen by ``digestPublicKeyFingerprint`` (hex MD5 of the DER public key).

Everything here is pure: storage is reached only through the :class:`DigestStore` and :class:`KeyRing`
passed in (``cloudwarden.trail.digest_sources`` has the local folder, S3 and ListPublicKeys versions).
A log file counts as covered only by a digest whose signature verified: an unverified digest's hashes prove
nothing, so the files it lists are reported as not covered rather than valid.
"""

from __future__ import annotations

import hashlib
import re
import zlib
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, Protocol

import orjson
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

# Bounds on untrusted input: a digest lists at most a few thousand files (a few hundred KB); a log file is
# at most tens of MB uncompressed. Anything larger is reported, not inflated into memory or hashed forever.
MAX_DIGEST_BYTES = 64 * 1024 * 1024
MAX_LOG_BYTES = 2 * 1024 * 1024 * 1024
SIGNATURE_ALGORITHM = "SHA256withRSA"
HASH_ALGORITHMS = ("SHA-256", "SHA256")
_AWSLOGS = r"AWSLogs/(?:(?P<org>o-[a-z0-9]{10,32})/)?(?P<account>\d{12})"
DIGEST_KEY = re.compile(
    rf"^(?P<base>(?:.*/)?){_AWSLOGS}/CloudTrail-Digest/(?P<region>[a-z0-9-]+)/\d{{4}}/\d{{2}}/\d{{2}}/"
    r"(?P=account)_CloudTrail-Digest_(?P=region)_(?P<trail>.+)_(?P<home>[a-z0-9-]+)_(?P<time>\d{8}T\d{6}Z)"
    r"(?P<backfill>_backfill)?\.json\.gz$"
)
LOG_KEY = re.compile(
    rf"^(?P<base>(?:.*/)?){_AWSLOGS}/CloudTrail/(?P<region>[a-z0-9-]+)/\d{{4}}/\d{{2}}/\d{{2}}/"
    r"(?P=account)_CloudTrail_(?P=region)_(?P<time>\d{8}T\d{4}Z)_[A-Za-z0-9]+\.json\.gz$"
)
_REQUIRED_STRINGS = (
    "digestStartTime",
    "digestEndTime",
    "digestS3Bucket",
    "digestS3Object",
    "digestPublicKeyFingerprint",
    "digestSignatureAlgorithm",
)


class Status(StrEnum):
    VALID = "valid"
    PENDING = "pending"  # a log file newer than the newest digest: not yet digested, not yet provable
    MODIFIED = "modified"
    DELETED = "deleted"
    NOT_COVERED = "not-covered"
    INVALID_SIGNATURE = "invalid-signature"
    UNKNOWN_KEY = "unknown-key"
    CHAIN_GAP = "chain-gap"
    MOVED = "moved"
    MALFORMED = "malformed"


# Statuses that are not evidence of tampering or of a gap; anything else makes `trail verify` exit 4.
INTACT = frozenset({Status.VALID, Status.PENDING})


@dataclass(frozen=True)
class Result:
    """One line of the report: a digest or log file (``kind``), what was found, where, and why."""

    kind: str  # "digest" or "log"
    status: Status
    location: str
    reason: str = ""

    def as_dict(self) -> dict[str, str]:
        return {"type": self.kind, "status": self.status.value, "path": self.location, "reason": self.reason}


class MissingObject(Exception):
    """The object is not in the store (deleted, or never there)."""


class DigestStore(Protocol):
    """Read access to the files of one trail: a local folder or an S3 bucket and prefix.

    Keys are '/'-separated object keys (relative paths for a folder). ``read`` raises
    :class:`MissingObject` for an absent object; any other failure is the store's own exception, which
    stops verification (the command cannot run), since a file that could not be read proves nothing.
    """

    def list_keys(self) -> Iterable[str]: ...

    def read(self, key: str) -> bytes: ...

    def signature(self, key: str) -> str | None:
        """The hex signature of a digest (S3: ``x-amz-meta-signature``), or None when it has none."""
        ...

    def location(self, key: str) -> str:
        """How to show ``key`` to a person (``s3://bucket/key`` or a local path)."""
        ...

    def key_for(self, s3_bucket: str, s3_object: str, near: str) -> str | None:
        """The store key of the object a digest names (``near`` is the key of that digest), or None when
        it cannot be in this store."""
        ...

    def is_own_location(self, key: str, s3_bucket: str, s3_object: str) -> bool:
        """Whether the digest read from ``key`` is where it says it was delivered."""
        ...


class KeyRing(Protocol):
    """CloudTrail's public keys by fingerprint; ``load`` is called once per region before any ``find``."""

    def load(self, region: str, start: datetime, end: datetime) -> None: ...

    def find(self, fingerprint: str) -> rsa.RSAPublicKey | None: ...


# --- public keys -----------------------------------------------------------------------------------------


class KeyFormatError(ValueError):
    """Bytes that are not an RSA public key in PEM or DER."""


def load_public_key(data: bytes) -> rsa.RSAPublicKey:
    """An RSA public key from PEM or DER, as SubjectPublicKeyInfo or PKCS#1 RSAPublicKey (what ListPublicKeys
    returns)."""
    loaders: list[Callable[[bytes], Any]] = []
    if data.lstrip().startswith(b"-----BEGIN"):
        loaders = [serialization.load_pem_public_key]
    else:
        loaders = [serialization.load_der_public_key, _load_pkcs1_der]
    for loader in loaders:
        try:
            key = loader(data)
        except (ValueError, UnsupportedAlgorithm):
            continue
        if isinstance(key, rsa.RSAPublicKey):
            return key
        raise KeyFormatError("not an RSA public key")
    raise KeyFormatError("not a PEM or DER public key")


def _load_pkcs1_der(data: bytes) -> Any:
    pem = b"-----BEGIN RSA PUBLIC KEY-----\n" + _base64_lines(data) + b"-----END RSA PUBLIC KEY-----\n"
    return serialization.load_pem_public_key(pem)


def _base64_lines(data: bytes) -> bytes:
    import base64

    encoded = base64.b64encode(data)
    return b"".join(encoded[i : i + 64] + b"\n" for i in range(0, len(encoded), 64))


def key_fingerprints(key: rsa.RSAPublicKey) -> set[str]:
    """The hex MD5 fingerprints ``key`` may carry in ``digestPublicKeyFingerprint``.

    CloudTrail's fingerprint is the MD5 of the DER key as ListPublicKeys returns it (PKCS#1 RSAPublicKey);
    the SubjectPublicKeyInfo form is accepted too so a key exported by other tools matches. The
    fingerprint only selects a key: the signature check is what proves anything.
    """
    pkcs1 = key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.PKCS1)
    spki = key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return {hashlib.md5(pkcs1, usedforsecurity=False).hexdigest(), hashlib.md5(spki, usedforsecurity=False).hexdigest()}


class StaticKeyRing:
    """Keys given up front (``--public-key``/``--public-keys-dir``): no AWS call."""

    def __init__(self, keys: Iterable[rsa.RSAPublicKey] = ()) -> None:
        self._keys: dict[str, rsa.RSAPublicKey] = {}
        for key in keys:
            self.add(key)

    def add(self, key: rsa.RSAPublicKey, fingerprint: str | None = None) -> None:
        for value in key_fingerprints(key) | ({fingerprint.lower()} if fingerprint else set()):
            self._keys[value] = key

    def load(self, region: str, start: datetime, end: datetime) -> None:
        return None

    def find(self, fingerprint: str) -> rsa.RSAPublicKey | None:
        return self._keys.get(fingerprint.lower())


# --- parsing ---------------------------------------------------------------------------------------------


class FileFormatError(ValueError):
    """A digest or log file that cannot be read as what it claims to be."""


def gunzip(data: bytes, limit: int) -> bytes:
    """The uncompressed bytes of a gzip file (all members), refusing truncation and more than ``limit``."""
    return b"".join(_inflate(data, limit))


def sha256_of_gzip(data: bytes, limit: int = MAX_LOG_BYTES) -> str:
    """Hex SHA-256 of the uncompressed content of a gzip file, without holding it in memory."""
    digest = hashlib.sha256()
    for chunk in _inflate(data, limit):
        digest.update(chunk)
    return digest.hexdigest()


def _inflate(data: bytes, limit: int, chunk_size: int = 1 << 20) -> Iterator[bytes]:
    if not data:
        raise FileFormatError("empty file")
    total = 0
    remaining = data
    while remaining:
        inflater = zlib.decompressobj(zlib.MAX_WBITS | 16)
        try:
            pending = remaining
            while pending:
                chunk = inflater.decompress(pending, chunk_size)
                pending = inflater.unconsumed_tail
                total += len(chunk)
                if total > limit:
                    raise FileFormatError(f"more than {limit} bytes uncompressed")
                yield chunk
                if inflater.eof:
                    break
            # After the end of a member, flush() would append the unconsumed input to unused_data a second time.
            tail = b"" if inflater.eof else inflater.flush()
        except zlib.error as exc:
            raise FileFormatError(f"not a valid gzip file: {exc}") from exc
        total += len(tail)
        if total > limit:
            raise FileFormatError(f"more than {limit} bytes uncompressed")
        if tail:
            yield tail
        if not inflater.eof:
            raise FileFormatError("truncated gzip file")
        remaining = inflater.unused_data


@dataclass(frozen=True)
class LogEntry:
    s3_bucket: str
    s3_object: str
    hash_value: str


@dataclass
class Digest:
    """A parsed digest file plus what verification learns about it."""

    key: str
    name: re.Match[str]
    fields: dict[str, Any]
    sha256: str  # hex SHA-256 of the uncompressed digest
    logs: list[LogEntry]
    signature: str | None = None
    problems: list[tuple[Status, str]] = field(default_factory=list)

    @property
    def end_time(self) -> datetime:
        return parse_time(self.fields["digestEndTime"])

    @property
    def start_time(self) -> datetime:
        return parse_time(self.fields["digestStartTime"])

    @property
    def signature_verified(self) -> bool:
        return not any(s in (Status.INVALID_SIGNATURE, Status.UNKNOWN_KEY, Status.MOVED) for s, _ in self.problems)


def parse_time(value: str) -> datetime:
    """An ISO 8601 time (``2015-08-17T15:01:31Z``, ``20150817T150131Z``, a date) in UTC."""
    text = value.strip()
    for pattern in ("%Y%m%dT%H%M%SZ", "%Y%m%dT%H%MZ"):
        try:
            return datetime.strptime(text, pattern).replace(tzinfo=UTC)
        except ValueError:
            pass
    parsed = datetime.fromisoformat(text)
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def parse_digest(key: str, name: re.Match[str], data: bytes) -> Digest:
    """A digest from the bytes of its ``.json.gz`` file; :class:`FileFormatError` says what is wrong."""
    raw = gunzip(data, MAX_DIGEST_BYTES)
    try:
        fields = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise FileFormatError(f"not JSON: {exc}") from exc
    if not isinstance(fields, dict):
        raise FileFormatError("not a JSON object")
    for name_ in _REQUIRED_STRINGS:
        if not isinstance(fields.get(name_), str) or not fields[name_]:
            raise FileFormatError(f"missing or non-string field {name_}")
    for time_field in ("digestStartTime", "digestEndTime"):
        try:
            parse_time(fields[time_field])
        except ValueError as exc:
            raise FileFormatError(f"{time_field} is not a time: {fields[time_field]!r}") from exc
    if "previousDigestSignature" not in fields:
        raise FileFormatError("missing field previousDigestSignature")
    for link_field in (
        "previousDigestSignature",
        "previousDigestS3Bucket",
        "previousDigestS3Object",
        "previousDigestHashValue",
    ):
        if fields.get(link_field) is not None and not isinstance(fields[link_field], str):
            raise FileFormatError(f"field {link_field} is not a string")
    if fields.get("previousDigestSignature") is not None and not (
        fields.get("previousDigestS3Object") and fields.get("previousDigestHashValue")
    ):
        raise FileFormatError("previousDigestSignature without previousDigestS3Object/previousDigestHashValue")
    algorithm = fields.get("previousDigestHashAlgorithm")
    if fields.get("previousDigestHashValue") is not None and algorithm not in HASH_ALGORITHMS:
        raise FileFormatError(f"unsupported previousDigestHashAlgorithm {algorithm!r}")
    entries = fields.get("logFiles")
    if not isinstance(entries, list):
        raise FileFormatError("missing or non-list field logFiles")
    logs = []
    for index, entry in enumerate(entries):
        if not isinstance(entry, dict) or not all(
            isinstance(entry.get(f), str) and entry[f] for f in ("s3Bucket", "s3Object", "hashValue")
        ):
            raise FileFormatError(f"logFiles[{index}] lacks s3Bucket, s3Object or hashValue")
        if entry.get("hashAlgorithm", "SHA-256") not in HASH_ALGORITHMS:
            raise FileFormatError(f"logFiles[{index}] has unsupported hashAlgorithm {entry['hashAlgorithm']!r}")
        logs.append(LogEntry(entry["s3Bucket"], entry["s3Object"], entry["hashValue"].lower()))
    return Digest(key, name, fields, hashlib.sha256(raw).hexdigest(), logs)


def string_to_sign(digest: Digest) -> bytes:
    """The exact string CloudTrail signs for ``digest``."""
    f = digest.fields
    previous = f["previousDigestSignature"]
    return (
        f"{f['digestEndTime']}\n{f['digestS3Bucket']}/{f['digestS3Object']}\n{digest.sha256}\n"
        f"{'null' if previous is None else previous}"
    ).encode()


def check_signature(digest: Digest, keys: KeyRing) -> tuple[Status, str] | None:
    """None when ``digest.signature`` verifies, else the problem."""
    f = digest.fields
    if f["digestSignatureAlgorithm"] != SIGNATURE_ALGORITHM:
        return Status.INVALID_SIGNATURE, f"unsupported digestSignatureAlgorithm {f['digestSignatureAlgorithm']!r}"
    fingerprint = f["digestPublicKeyFingerprint"]
    key = keys.find(fingerprint)
    if key is None:
        return Status.UNKNOWN_KEY, f"no public key with fingerprint {fingerprint}"
    if digest.signature is None:
        return Status.INVALID_SIGNATURE, "the digest has no signature"
    try:
        signature = bytes.fromhex(digest.signature.strip())
    except ValueError:
        return Status.INVALID_SIGNATURE, "the signature is not hexadecimal"
    try:
        key.verify(signature, string_to_sign(digest), padding.PKCS1v15(), hashes.SHA256())
    except InvalidSignature:
        return Status.INVALID_SIGNATURE, f"signature does not verify with key {fingerprint}"
    return None


# --- the whole verification ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Window:
    """Which digests and log files to verify, by the time in their names (UTC). A digest's name carries its
    end time; like ``validate-logs``, digests up to one hour after ``end`` are read so that log files
    delivered just before ``end`` are covered."""

    start: datetime | None = None
    end: datetime | None = None

    def has_digest(self, end_time: datetime) -> bool:
        return (self.start is None or end_time >= self.start) and (
            self.end is None or end_time <= self.end + timedelta(hours=1)
        )

    def has_log(self, time: datetime) -> bool:
        return (self.start is None or time >= self.start) and (self.end is None or time <= self.end)


@dataclass
class Report:
    results: list[Result] = field(default_factory=list)
    digests_read: int = 0  # digest files that parsed
    digests_unsigned: int = 0  # of those, how many had no signature at all

    def counts(self, kind: str) -> Counter[Status]:
        return Counter(r.status for r in self.results if r.kind == kind)

    @property
    def intact(self) -> bool:
        return all(r.status in INTACT for r in self.results)


def verify_trail(
    store: DigestStore,
    keys: KeyRing,
    window: Window | None = None,
    workers: int = 8,
) -> Report:
    """Verify every digest and log file of ``store`` within ``window``.

    Results come in order: digests oldest first (by the time in their names), then log files by key.
    Errors of ``store`` or ``keys`` other than a missing object propagate: verification could not run.
    """
    window = window or Window()
    digest_keys: dict[str, re.Match[str]] = {}
    log_keys: dict[str, re.Match[str]] = {}
    for key in store.list_keys():
        if match := DIGEST_KEY.match(key):
            if window.has_digest(parse_time(match["time"])):
                digest_keys[key] = match
        elif (match := LOG_KEY.match(key)) and window.has_log(parse_time(match["time"])):
            log_keys[key] = match

    report = Report()
    digests: dict[str, Digest] = {}
    malformed: dict[str, Result] = {}
    for key in sorted(digest_keys, key=lambda k: (digest_keys[k]["time"], k)):
        try:
            digest = parse_digest(key, digest_keys[key], store.read(key))
        except MissingObject:
            continue  # vanished between listing and reading
        except FileFormatError as exc:
            malformed[key] = Result("digest", Status.MALFORMED, store.location(key), str(exc))
            continue
        digest.signature = store.signature(key)
        digests[key] = digest
    report.digests_read = len(digests)
    report.digests_unsigned = sum(1 for d in digests.values() if d.signature is None)

    by_region: dict[str, list[Digest]] = {}
    for digest in digests.values():
        by_region.setdefault(digest.name["region"], []).append(digest)
    for region, members in sorted(by_region.items()):
        keys.load(region, min(d.start_time for d in members), max(d.end_time for d in members))

    for digest in digests.values():
        if not store.is_own_location(digest.key, digest.fields["digestS3Bucket"], digest.fields["digestS3Object"]):
            digest.problems.append(
                (
                    Status.MOVED,
                    f"says it was delivered to s3://{digest.fields['digestS3Bucket']}/"
                    f"{digest.fields['digestS3Object']}",
                )
            )
        if problem := check_signature(digest, keys):
            digest.problems.append(problem)
        digest.problems.extend(_chain_problems(digest, digests, malformed, store, window))

    # Digests (and malformed digest files) in time order, each with its problems or as valid.
    ordered = sorted(
        [(d.name["time"], d.key) for d in digests.values()] + [(digest_keys[k]["time"], k) for k in malformed]
    )
    for _, key in ordered:
        if key in malformed:
            report.results.append(malformed[key])
            continue
        digest = digests[key]
        if not digest.problems:
            report.results.append(Result("digest", Status.VALID, store.location(key)))
        for status, reason in digest.problems:
            report.results.append(Result("digest", status, store.location(key), reason))

    report.results.extend(_log_results(store, digests, log_keys, workers))
    return report


def _chain_problems(
    digest: Digest,
    digests: Mapping[str, Digest],
    malformed: Mapping[str, Result],
    store: DigestStore,
    window: Window,
) -> list[tuple[Status, str]]:
    f = digest.fields
    previous_object = f.get("previousDigestS3Object")
    if f.get("previousDigestSignature") is None and not previous_object:
        return []  # the first digest of a chain (validation or logging just started)
    previous_key = store.key_for(f.get("previousDigestS3Bucket") or "", previous_object or "", digest.key)
    previous = digests.get(previous_key) if previous_key else None
    if previous is None:
        name = DIGEST_KEY.match(previous_object or "")
        if name and window.start is not None and parse_time(name["time"]) < window.start:
            return []  # before the window: not read, not judged
        if previous_key in malformed:
            return [(Status.CHAIN_GAP, f"previous digest {previous_object} is unreadable")]
        return [(Status.CHAIN_GAP, f"previous digest {previous_object} is missing")]
    problems = []
    if previous.sha256 != str(f.get("previousDigestHashValue", "")).lower():
        problems.append((Status.CHAIN_GAP, f"previousDigestHashValue does not match previous digest {previous_object}"))
    # A previous digest whose own signature failed is reported as such; comparing against it adds nothing.
    signature = (previous.signature or "").strip().lower()
    if previous.signature_verified and signature != str(f["previousDigestSignature"]).lower():
        problems.append((Status.CHAIN_GAP, f"previousDigestSignature is not the signature of {previous_object}"))
    return problems


def _log_results(
    store: DigestStore, digests: Mapping[str, Digest], log_keys: Mapping[str, re.Match[str]], workers: int
) -> list[Result]:
    expected: dict[str, set[str]] = {}  # log key -> hashes that verified digests give for it
    listed_unverified: dict[str, str] = {}  # log key -> a digest that lists it but did not verify
    outside: dict[str, Result] = {}  # listed by a verified digest but not addressable in this store
    for digest in digests.values():
        for entry in digest.logs:
            key = store.key_for(entry.s3_bucket, entry.s3_object, digest.key)
            if key is None:
                if digest.signature_verified:
                    where = f"s3://{entry.s3_bucket}/{entry.s3_object}"
                    outside[where] = Result("log", Status.DELETED, where, "listed in a digest, not in this source")
                continue
            if digest.signature_verified:
                expected.setdefault(key, set()).add(entry.hash_value)
            else:
                listed_unverified.setdefault(key, digest.key)

    def check(key: str) -> Result:
        location = store.location(key)
        try:
            actual = sha256_of_gzip(store.read(key))
        except MissingObject:
            return Result("log", Status.DELETED, location, "listed in a digest but missing")
        except FileFormatError as exc:
            return Result("log", Status.MODIFIED, location, str(exc))
        if actual in expected[key]:
            return Result("log", Status.VALID, location)
        return Result("log", Status.MODIFIED, location, f"sha256 {actual} differs from the digest's")

    # Newest verified digest end time per account and region: later log files are not digested yet.
    newest: dict[tuple[str, str, str], datetime] = {}
    for digest in digests.values():
        if digest.signature_verified:
            n = digest.name
            place = (n["base"], n["account"], n["region"])
            newest[place] = max(newest.get(place, digest.end_time), digest.end_time)

    results: dict[str, Result] = {}
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        for key, result in zip(sorted(expected), pool.map(check, sorted(expected)), strict=True):
            results[key] = result
    for key, match in log_keys.items():
        if key in results:
            continue
        last = newest.get((match["base"], match["account"], match["region"]))
        # Log names carry the delivery minute; a digest ending at 10:00:30 may not list a file named 10:00.
        if last is not None and parse_time(match["time"]) >= last.replace(second=0, microsecond=0):
            results[key] = Result("log", Status.PENDING, store.location(key), "newer than the newest digest")
        elif key in listed_unverified:
            reason = f"listed only in digest {store.location(listed_unverified[key])}, which did not verify"
            results[key] = Result("log", Status.NOT_COVERED, store.location(key), reason)
        else:
            results[key] = Result("log", Status.NOT_COVERED, store.location(key), "in no digest")
    return [results[key] for key in sorted(results)] + [outside[where] for where in sorted(outside)]
