"""Fixtures for the test PKI's tests: one ephemeral PKI and a few cards per session.

Key generation is slow, so everything here is session-scoped and built at fixed times (never
the wall clock), which also keeps the certificates byte-for-byte reproducible.
"""

from __future__ import annotations

import pytest
from cryptography import x509
from simpki_support import NOW

from simulator.identity import Identity
from simulator.pki import DEFAULT_GENERATIONS, IssuedCard, TestPki


@pytest.fixture(scope="session")
def pki() -> TestPki:
    return TestPki.ephemeral(seed=7)


@pytest.fixture(scope="session")
def identity() -> Identity:
    return Identity.generate(42, municipality_code="14104")


@pytest.fixture(scope="session")
def card(pki: TestPki, identity: Identity) -> IssuedCard:
    return pki.issue(identity, now=NOW)


@pytest.fixture(scope="session")
def stranger() -> TestPki:
    """Another test PKI (other seed, one generation): its certificates are foreign to ``pki``."""
    return TestPki.ephemeral(seed=9, generations=DEFAULT_GENERATIONS[2:])


@pytest.fixture(scope="session")
def stranger_cert(stranger: TestPki) -> x509.Certificate:
    return stranger.issue(Identity.generate(1), now=NOW, sign=False).auth_cert
