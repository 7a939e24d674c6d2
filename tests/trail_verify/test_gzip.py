"""Hashing the uncompressed content of gzip files: several members, truncation, a size bound."""

from __future__ import annotations

import gzip
import hashlib
import os

import pytest

from cloudwarden.trail.digest import FileFormatError, gunzip, sha256_of_gzip

BIG = gzip.compress(b"a" * 5_000_000)


@pytest.mark.parametrize(
    "data",
    [
        gzip.compress(os.urandom(3_000_000)),
        BIG + gzip.compress(b"xyz"),  # a member boundary after more than one output chunk
        gzip.compress(b"ab") + gzip.compress(b"cd") + gzip.compress(os.urandom(2_500_000)),
        gzip.compress(b""),
    ],
    ids=["random", "two-members", "three-members", "empty-content"],
)
def test_hash_is_of_what_gunzip_gives(data: bytes) -> None:
    assert sha256_of_gzip(data) == hashlib.sha256(gzip.decompress(data)).hexdigest()
    assert gunzip(data, 10**9) == gzip.decompress(data)


@pytest.mark.parametrize(
    ("data", "why"),
    [
        (BIG[:-3], "truncated gzip file"),
        (BIG[:20], "truncated gzip file"),
        (BIG + b"junk", "not a valid gzip file"),
        (b"", "empty file"),
    ],
)
def test_damaged_gzip_is_refused(data: bytes, why: str) -> None:
    with pytest.raises(FileFormatError, match=why):
        sha256_of_gzip(data)


def test_inflation_is_bounded() -> None:
    with pytest.raises(FileFormatError, match="more than 1000 bytes"):
        gunzip(BIG, 1000)
