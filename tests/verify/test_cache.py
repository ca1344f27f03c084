"""The per-certificate cache: repeated work skipped, time and revocation always re-checked."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest
from chains import NOW, UTC, ChainFactory, der
from conftest import SetRevocationSource

from jpki_sdk.verify import (
    CertificateExpiredError,
    CertificateNotYetValidError,
    CertificateRevokedError,
    CertificateVerifier,
    FixedClock,
    Purpose,
    TrustAnchorExpiredError,
    WrongCertificateKindError,
)

MakeVerifier = Callable[..., CertificateVerifier]


def test_returning_certificate_comes_from_cache(
    chains: ChainFactory, make_verifier: MakeVerifier, revocation_source: SetRevocationSource
) -> None:
    verifier = make_verifier()
    cert = der(chains.ee(Purpose.AUTH, serial=0x0700_0001))
    first = verifier.verify(cert, Purpose.AUTH)
    second = verifier.verify(bytes(cert), Purpose.AUTH)
    assert not first.from_cache and second.from_cache
    assert second.subject == first.subject and second.anchor == first.anchor
    assert verifier.cache_info() == {"size": 1, "max_size": 10_000, "hits": 1, "misses": 1}
    assert revocation_source.calls == 2  # revocation asked on every call


def test_cached_certificate_still_expires(chains: ChainFactory, test_trust: object) -> None:
    from jpki_sdk.verify import RevocationPolicy, TrustStore

    assert isinstance(test_trust, TrustStore)
    clock = FixedClock(NOW)
    verifier = CertificateVerifier(test_trust, revocation=RevocationPolicy.off(), clock=clock)
    cert = chains.ee(Purpose.AUTH, serial=0x0700_0002)
    verifier.verify(cert, Purpose.AUTH)
    clock.set(cert.not_valid_after_utc + dt.timedelta(seconds=1))
    with pytest.raises(CertificateExpiredError):
        verifier.verify(cert, Purpose.AUTH)
    with pytest.raises(CertificateNotYetValidError):
        verifier.verify(cert, Purpose.AUTH, at=dt.datetime(2024, 1, 1, tzinfo=UTC))
    assert verifier.verify(cert, Purpose.AUTH, at=NOW).from_cache


def test_cached_certificate_root_expiry_is_rechecked(
    chains: ChainFactory, make_verifier: MakeVerifier
) -> None:
    not_after = dt.datetime(2029, 1, 1, tzinfo=UTC)
    cert = chains.ee(Purpose.AUTH, 1, serial=0x0700_0003, not_after=not_after)
    verifier = make_verifier(at=dt.datetime(2025, 1, 1, tzinfo=UTC))
    verifier.verify(cert, Purpose.AUTH)
    with pytest.raises(TrustAnchorExpiredError):
        verifier.verify(cert, Purpose.AUTH, at=dt.datetime(2026, 1, 1, tzinfo=UTC))


def test_cached_certificate_revoked_later(
    chains: ChainFactory, make_verifier: MakeVerifier, revocation_source: SetRevocationSource
) -> None:
    verifier = make_verifier()
    cert = chains.ee(Purpose.AUTH, serial=0x0700_0004)
    verifier.verify(cert, Purpose.AUTH)
    revocation_source.revoked.add(cert.serial_number)
    with pytest.raises(CertificateRevokedError):
        verifier.verify(cert, Purpose.AUTH)


def test_purpose_is_part_of_the_key_and_failures_are_not_cached(
    chains: ChainFactory, make_verifier: MakeVerifier
) -> None:
    verifier = make_verifier()
    cert = chains.ee(Purpose.AUTH, serial=0x0700_0005)
    verifier.verify(cert, Purpose.AUTH)
    with pytest.raises(WrongCertificateKindError):
        verifier.verify(cert, Purpose.SIGN)
    with pytest.raises(WrongCertificateKindError):
        verifier.verify(cert, Purpose.SIGN)
    assert verifier.cache_info()["size"] == 1
    assert verifier.cache_info()["misses"] == 3


def test_cache_is_bounded_and_can_be_disabled(
    chains: ChainFactory, make_verifier: MakeVerifier
) -> None:
    certs = [chains.ee(Purpose.AUTH, serial=0x0710_0000 + i) for i in range(4)]
    small = make_verifier(cache_size=2)
    for cert in certs:
        small.verify(cert, Purpose.AUTH)
    assert small.cache_info()["size"] == 2
    assert small.verify(certs[-1], Purpose.AUTH).from_cache
    assert not small.verify(certs[0], Purpose.AUTH).from_cache  # evicted (least recent)
    small.clear_cache()
    assert small.cache_info()["size"] == 0
    none = make_verifier(cache_size=0)
    none.verify(certs[0], Purpose.AUTH)
    assert not none.verify(certs[0], Purpose.AUTH).from_cache
    assert none.cache_info()["size"] == 0
