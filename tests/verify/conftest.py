"""Fixtures of the verify tests: the chain factory, trust stores and a set-based revocation
source (a test double answering GOOD/REVOKED from a set of serials)."""

from __future__ import annotations

import datetime as dt
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from cryptography import x509

sys.path.insert(0, str(Path(__file__).parent))

from chains import NOW, ChainFactory

from jpki_sdk.verify import (
    CertificateVerifier,
    FixedClock,
    RevocationAnswer,
    RevocationMode,
    RevocationPolicy,
    RevocationStatus,
    TrustStore,
)

DATA = Path(__file__).parent / "data"


@dataclass
class SetRevocationSource:
    """Test double: REVOKED for serials in ``revoked``, GOOD otherwise; counts its calls."""

    revoked: set[int] = field(default_factory=set)
    name: str = "test-set"
    calls: int = 0

    def check(
        self, cert: x509.Certificate, issuer: x509.Certificate, at: dt.datetime
    ) -> RevocationAnswer:
        self.calls += 1
        if cert.serial_number in self.revoked:
            return RevocationAnswer(
                status=RevocationStatus.REVOKED,
                source=self.name,
                reason="keyCompromise",
                revoked_at=at - dt.timedelta(days=1),
            )
        return RevocationAnswer(status=RevocationStatus.GOOD, source=self.name)


@pytest.fixture(scope="session")
def chains() -> ChainFactory:
    return ChainFactory()


@pytest.fixture(scope="session")
def test_trust(chains: ChainFactory) -> TrustStore:
    """The J-LIS roots plus the chain factory's six test roots (explicit opt-in)."""
    return TrustStore.default().with_test_roots(chains.roots())


@pytest.fixture
def revocation_source() -> SetRevocationSource:
    return SetRevocationSource()


@pytest.fixture
def make_verifier(
    test_trust: TrustStore, revocation_source: SetRevocationSource
) -> Callable[..., CertificateVerifier]:
    """``make_verifier(at=NOW, mode="require", **kwargs)`` over the test trust store."""

    def make(
        at: dt.datetime = NOW,
        mode: str = "require",
        trust: TrustStore | None = None,
        **kwargs: object,
    ) -> CertificateVerifier:
        policy = (
            RevocationPolicy.off()
            if RevocationMode.parse(mode) is RevocationMode.OFF
            else RevocationPolicy(mode, [revocation_source])
        )
        return CertificateVerifier(
            trust or test_trust,
            revocation=policy,
            clock=FixedClock(at),
            **kwargs,  # type: ignore[arg-type]
        )

    return make


@pytest.fixture
def real_sample() -> Callable[[str], bytes]:
    return lambda name: (DATA / name).read_bytes()
