"""RevocationPolicy: modes, source order, and what every result reports."""

from __future__ import annotations

import datetime as dt
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from cryptography import x509

sys.path.insert(0, str(Path(__file__).parent))

from revocation_helpers import NOW, make_ee, make_root

from jpki_sdk.errors import ConfigurationError, VerificationError
from jpki_sdk.verify.revocation import (
    CertificateRevokedError,
    OcspFetchError,
    RevocationAnswer,
    RevocationMode,
    RevocationPolicy,
    RevocationResult,
    RevocationSource,
    RevocationStatus,
    RevocationUnavailableError,
)

UTC = dt.timezone.utc


@dataclass
class FakeSource:
    name: str
    answer: RevocationAnswer | None = None
    error: Exception | None = None
    calls: list[tuple[int, dt.datetime]] = field(default_factory=list)

    def check(
        self, cert: x509.Certificate, issuer: x509.Certificate, at: dt.datetime
    ) -> RevocationAnswer:
        self.calls.append((cert.serial_number, at))
        if self.error is not None:
            raise self.error
        assert self.answer is not None
        return self.answer


def good(name: str) -> FakeSource:
    return FakeSource(name, RevocationAnswer(RevocationStatus.GOOD, name))


def unknown(name: str, detail: str = "partition missing") -> FakeSource:
    return FakeSource(name, RevocationAnswer(RevocationStatus.UNKNOWN, name, detail=detail))


def revoked(name: str) -> FakeSource:
    return FakeSource(
        name,
        RevocationAnswer(
            RevocationStatus.REVOKED,
            name,
            reason="keyCompromise",
            revoked_at=NOW - dt.timedelta(days=3),
        ),
    )


@pytest.fixture(scope="module")
def pair() -> tuple[x509.Certificate, x509.Certificate]:
    return make_ee(0x1234), make_root(2)


def test_fake_source_satisfies_protocol() -> None:
    assert isinstance(good("x"), RevocationSource)


def test_default_mode_is_require() -> None:
    assert RevocationPolicy(sources=[good("crl")]).mode is RevocationMode.REQUIRE


def test_off_asks_nobody_and_says_so(pair: tuple[x509.Certificate, x509.Certificate]) -> None:
    policy = RevocationPolicy.off()
    result = policy.evaluate(*pair, NOW)
    assert result.mode is RevocationMode.OFF
    assert result.status is RevocationStatus.UNKNOWN
    assert result.source is None and result.answer is None
    assert "off" in result.detail and "not checked" in result.detail
    assert not result.checked
    src = good("crl")
    RevocationPolicy(RevocationMode.OFF, [src]).evaluate(*pair, NOW)
    assert src.calls == []


def test_first_definitive_answer_wins_in_order(
    pair: tuple[x509.Certificate, x509.Certificate],
) -> None:
    a, b, c = unknown("crl"), good("ocsp"), revoked("platform")
    result = RevocationPolicy.require(a, b, c).evaluate(*pair, NOW)
    assert result.status is RevocationStatus.GOOD
    assert result.source == "ocsp"
    assert result.mode is RevocationMode.REQUIRE
    assert [x.source for x in result.attempts] == ["crl", "ocsp"]
    assert c.calls == []
    assert a.calls == [(0x1234, NOW)]
    assert result.checked
    assert result.to_dict()["source"] == "ocsp"


def test_revoked_raises_with_data_in_every_mode(
    pair: tuple[x509.Certificate, x509.Certificate],
) -> None:
    for mode in (RevocationMode.REQUIRE, RevocationMode.SOFT_FAIL):
        with pytest.raises(CertificateRevokedError) as info:
            RevocationPolicy(mode, [unknown("crl"), revoked("ocsp")]).evaluate(*pair, NOW)
        err = info.value
        assert isinstance(err, VerificationError)
        assert err.code == "certificate_revoked"
        assert err.serial == 0x1234 and err.source == "ocsp"
        assert err.reason == "keyCompromise"
        assert err.result is not None and err.result.mode is mode
        assert err.result.status is RevocationStatus.REVOKED


def test_require_without_answer_raises_unavailable(
    pair: tuple[x509.Certificate, x509.Certificate],
) -> None:
    policy = RevocationPolicy.require(unknown("crl", "stale"), unknown("ocsp", "timeout"))
    with pytest.raises(RevocationUnavailableError) as info:
        policy.evaluate(*pair, NOW)
    err = info.value
    assert err.code == "revocation_unavailable"
    assert [a.detail for a in err.attempts] == ["stale", "timeout"]
    assert err.result is not None and err.result.source is None
    assert "stale" in str(err)


def test_soft_fail_without_answer_returns_unknown_and_says_so(
    pair: tuple[x509.Certificate, x509.Certificate],
) -> None:
    result = RevocationPolicy.soft_fail(unknown("crl", "stale")).evaluate(*pair, NOW)
    assert isinstance(result, RevocationResult)
    assert result.mode is RevocationMode.SOFT_FAIL
    assert result.status is RevocationStatus.UNKNOWN
    assert result.source is None
    assert "no source answered" in result.detail and "soft-fail" in result.detail
    assert "stale" in result.summary


def test_source_errors_become_unknown_attempts(
    pair: tuple[x509.Certificate, x509.Certificate],
) -> None:
    failing = FakeSource("ocsp", error=OcspFetchError("connection refused", url="http://x"))
    buggy = FakeSource("buggy", error=KeyError("oops"))
    result = RevocationPolicy.require(failing, buggy, good("crl")).evaluate(*pair, NOW)
    assert result.source == "crl"
    assert result.attempts[0].detail.startswith("ocsp_fetch_failed")
    assert result.attempts[1].detail == "source_error: KeyError"
    with pytest.raises(RevocationUnavailableError):
        RevocationPolicy.require(failing).evaluate(*pair, NOW)


def test_source_returning_wrong_type_is_unknown(
    pair: tuple[x509.Certificate, x509.Certificate],
) -> None:
    class Wrong:
        name = "wrong"

        def check(self, cert: object, issuer: object, at: object) -> object:
            return "good"

    with pytest.raises(RevocationUnavailableError) as info:
        RevocationPolicy.require(Wrong()).evaluate(*pair, NOW)  # type: ignore[arg-type]
    assert "not RevocationAnswer" in info.value.attempts[0].detail


def test_configuration_errors() -> None:
    with pytest.raises(ConfigurationError):
        RevocationPolicy(RevocationMode.REQUIRE, [])
    with pytest.raises(ConfigurationError):
        RevocationPolicy("soft-fail")
    with pytest.raises(ValueError):
        RevocationPolicy("hard")
    with pytest.raises(TypeError):
        RevocationPolicy(RevocationMode.OFF, [object()])  # type: ignore[list-item]
    assert RevocationPolicy("SOFT_FAIL", [good("x")]).mode is RevocationMode.SOFT_FAIL


def test_naive_time_is_refused(pair: tuple[x509.Certificate, x509.Certificate]) -> None:
    with pytest.raises(ValueError):
        RevocationPolicy.off().evaluate(*pair, dt.datetime(2025, 1, 1))


def test_answer_validation() -> None:
    with pytest.raises(ValueError):
        RevocationAnswer(RevocationStatus.GOOD, "")
    with pytest.raises(ValueError):
        RevocationAnswer(RevocationStatus.GOOD, "x", this_update=dt.datetime(2025, 1, 1))
    with pytest.raises(TypeError):
        RevocationAnswer("good", "x")  # type: ignore[arg-type]
    d = RevocationAnswer(
        RevocationStatus.REVOKED, "crl", reason="superseded", revoked_at=NOW
    ).to_dict()
    assert d == {
        "status": "revoked",
        "source": "crl",
        "reason": "superseded",
        "revoked_at": NOW.isoformat(),
        "this_update": None,
        "next_update": None,
        "detail": "",
    }


def test_repr_names_mode_and_sources() -> None:
    assert repr(RevocationPolicy.soft_fail(good("crl"), good("ocsp"))) == (
        "RevocationPolicy(mode='soft-fail', sources=[crl, ocsp])"
    )
