"""A test RSA key for the whole session (2048-bit generation takes a moment) and the signed trail."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.trail_verify.builder import Trail, build_trail


@pytest.fixture(scope="session")
def signing_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="session")
def other_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="session")
def pristine_trail(signing_key: rsa.RSAPrivateKey) -> Trail:
    return build_trail(signing_key)


@pytest.fixture
def trail(pristine_trail: Trail) -> Trail:
    """A copy each test may tamper with."""
    return pristine_trail.copy()
