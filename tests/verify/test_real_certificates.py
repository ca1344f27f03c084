"""The real J-LIS roots and the real user-authentication certificates (spec §5, data/)."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pytest

from jpki_sdk.verify import (
    CertificateExpiredError,
    CertificateNotYetValidError,
    CertificateSignatureError,
    CertificateVerifier,
    FixedClock,
    Purpose,
    RevocationMode,
    RevocationPolicy,
    TrustStore,
    WrongCertificateKindError,
)

UTC = timezone.utc
SAMPLES = Path(__file__).resolve().parent / "data"
AUTH_2023 = "jpki-auth-ee-2023-mynawallet.pem"
AUTH_2020 = "jpki-auth-ee-2020-mynawallet.pem"
SYNTHETIC_SIGN = "SYNTHETIC-sign-ee-profile-mynawallet.pem"


def _sample(name: str) -> bytes:
    return (SAMPLES / name).read_bytes()


def _verifier(at: datetime) -> CertificateVerifier:
    return CertificateVerifier(
        TrustStore.default(), revocation=RevocationPolicy.off(), clock=FixedClock(at)
    )


def test_real_auth_certificate_validates_inside_its_validity() -> None:
    result = _verifier(datetime(2025, 6, 1, tzinfo=UTC)).verify(_sample(AUTH_2023), Purpose.AUTH)
    assert result.anchor.name == "authca02"
    assert result.anchor.generation == 2
    assert not result.is_test_root
    assert not result.anchor_expired
    assert result.revocation.mode is RevocationMode.OFF
    assert result.subject is not None
    assert result.subject.cn == "412594E75JACJM14104003A"
    assert result.subject.serial_hex == "06BFC341"
    assert result.subject.municipality_code == "14104"
    assert result.subject.municipality_code_consistent is True
    assert result.subject.crl_municipality == "Yokohama-shi-Naka-ku"
    assert result.identity is None


def test_real_auth_certificate_last_second_and_expiry() -> None:
    verifier = _verifier(datetime(2025, 6, 1, tzinfo=UTC))
    last = datetime(2027, 12, 7, 14, 59, 59, tzinfo=UTC)
    assert verifier.verify(_sample(AUTH_2023), "auth", at=last).validated_at == last
    after = datetime(2027, 12, 7, 15, 0, 0, tzinfo=UTC)
    with pytest.raises(CertificateExpiredError) as info:
        verifier.verify(_sample(AUTH_2023), "auth", at=after)
    assert info.value.code == "certificate_expired"
    assert info.value.not_after == last


def test_real_2020_certificate_expired_now_but_valid_historically() -> None:
    verifier = _verifier(datetime(2026, 1, 1, tzinfo=UTC))
    with pytest.raises(CertificateExpiredError):
        verifier.verify(_sample(AUTH_2020), Purpose.AUTH)
    past = verifier.verify(_sample(AUTH_2020), Purpose.AUTH, at=datetime(2022, 1, 1, tzinfo=UTC))
    assert past.anchor.name == "authca02"


def test_real_certificate_before_issue_is_not_yet_valid() -> None:
    with pytest.raises(CertificateNotYetValidError):
        _verifier(datetime(2023, 1, 1, tzinfo=UTC)).verify(_sample(AUTH_2023), Purpose.AUTH)


def test_synthetic_sign_certificate_fails_signature() -> None:
    verifier = _verifier(datetime(2022, 1, 1, tzinfo=UTC))
    with pytest.raises(CertificateSignatureError) as info:
        verifier.verify(_sample(SYNTHETIC_SIGN), Purpose.SIGN)
    assert info.value.anchor is not None and info.value.anchor.name == "signca02"


def test_auth_certificate_offered_for_signature_is_wrong_kind() -> None:
    verifier = _verifier(datetime(2025, 6, 1, tzinfo=UTC))
    with pytest.raises(WrongCertificateKindError) as info:
        verifier.verify(_sample(AUTH_2023), Purpose.SIGN)
    assert info.value.expected is Purpose.SIGN
    assert info.value.actual is Purpose.AUTH
