"""Differential tests: our verifier against pyhanko-certvalidator (the oracle) on many chains.

Every case goes through both: our :class:`CertificateVerifier` (revocation from the real
:class:`CrlIndex`/:class:`CrlSource`, mode require) and pyhanko-certvalidator (the same roots,
the same CRLs, ``hard-fail``, explicit policy, the purpose's key usage). They must agree on
valid vs invalid, and on the category of the failure where both say why.

A few rules are deliberately stricter in the JPKI profile than RFC 5280 (pyhanko checks that
the required usages are present, not that nothing else is); those cases are listed apart and
assert exactly that difference, so that a change on either side shows up.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import datetime as dt
from dataclasses import dataclass
from typing import Any

import pytest
from asn1crypto import x509 as asn1_x509
from chains import (
    NOW,
    UTC,
    ChainFactory,
    der,
    make_root,
)
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.oid import ExtendedKeyUsageOID

from jpki_sdk.errors import VerificationError
from jpki_sdk.verify import (
    POLICY_AUTH,
    POLICY_SIGN,
    POLICY_SIGN_TEST,
    CertificateVerifier,
    FixedClock,
    Purpose,
    RevocationPolicy,
    TrustStore,
)
from jpki_sdk.verify.revocation import CrlIndex, CrlSource

pyhanko_certvalidator = pytest.importorskip("pyhanko_certvalidator")
from pyhanko_certvalidator import CertificateValidator, ValidationContext  # noqa: E402
from pyhanko_certvalidator import errors as ph_errors  # noqa: E402
from pyhanko_certvalidator.policy_decl import PKIXValidationParams  # noqa: E402

UNKNOWN_CRITICAL = x509.UnrecognizedExtension(
    x509.ObjectIdentifier("1.3.6.1.4.1.55555.7"), b"\x05\x00"
)
REVOKED_SERIALS = {0x0666_0001, 0x0666_0002, 0x0666_0003}

_OUR_CATEGORY = {
    "certificate_expired": "expired",
    "certificate_not_yet_valid": "not_yet_valid",
    "trust_anchor_expired": "expired",
    "untrusted_issuer": "issuer",
    "certificate_signature_invalid": "issuer",
    "key_usage_invalid": "usage",
    "extended_key_usage_invalid": "usage",
    "certificate_policy_invalid": "policy",
    "wrong_certificate_kind": "policy",
    "test_policy_not_allowed": "policy",
    "unknown_critical_extension": "critical_extension",
    "certificate_revoked": "revoked",
}


def _pyhanko_category(exc: Exception) -> str:
    text = str(exc).lower()
    if isinstance(exc, ph_errors.RevokedError):
        return "revoked"
    if isinstance(exc, ph_errors.InsufficientRevinfoError):
        return "revocation_unavailable"
    if isinstance(exc, ph_errors.ExpiredError):
        return "expired"
    if isinstance(exc, ph_errors.NotYetValidError):
        return "not_yet_valid"
    if isinstance(exc, ph_errors.PathBuildingError):
        return "issuer"
    if isinstance(exc, ph_errors.InvalidCertificateError):
        return "usage"
    if "signature" in text:
        return "issuer"
    if "polic" in text:
        return "policy"
    if "critical" in text:
        return "critical_extension"
    return "other"


def _run_pyhanko(coroutine: Any) -> Any:
    """Run pyhanko's async validation on a thread of its own.

    asyncio.run() refuses to start inside a running event loop, and a session-scoped fixture
    of another suite (Playwright's sync API, for one) may leave such a loop on the main thread.
    """
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


@dataclass
class Case:
    name: str
    cert: x509.Certificate
    purpose: Purpose
    at: dt.datetime = NOW
    expect: str | None = None  # None: valid; else the category both should report


def _cases(chains: ChainFactory) -> list[Case]:
    auth, sign = Purpose.AUTH, Purpose.SIGN
    gen4 = make_root(Purpose.AUTH, 4, key_index=98)
    early = dt.datetime(2020, 6, 1, tzinfo=UTC)
    early_window = {
        "not_before": dt.datetime(2020, 1, 1, tzinfo=UTC),
        "not_after": dt.datetime(2024, 12, 7, 14, 59, 59, tzinfo=UTC),
    }
    cases = [
        Case("auth gen3 valid", chains.ee(auth, 3, serial=0x0601_0003), auth),
        Case("auth gen2 valid", chains.ee(auth, 2, serial=0x0601_0002), auth),
        Case(
            "auth gen1 valid in 2020",
            chains.ee(auth, 1, serial=0x0601_0001, **early_window),
            auth,
            early,
        ),
        Case("sign gen3 valid", chains.ee(sign, 3, serial=0x0602_0003), sign),
        Case("sign gen2 valid", chains.ee(sign, 2, serial=0x0602_0002), sign),
        Case(
            "sign test policy under test root",
            chains.ee(sign, serial=0x0602_0010, policies=[POLICY_SIGN_TEST]),
            sign,
        ),
        Case("auth no AKI valid", chains.ee(auth, 2, serial=0x0601_0010, no_aki=True), auth),
        Case("auth sha384", chains.ee(auth, serial=0x0601_0011, hash=hashes.SHA384()), auth),
        Case("sign sha512", chains.ee(sign, serial=0x0602_0011, hash=hashes.SHA512()), sign),
        Case(
            "auth expired",
            chains.ee(auth, serial=0x0603_0001),
            auth,
            dt.datetime(2030, 1, 1, tzinfo=UTC),
            "expired",
        ),
        Case(
            "sign expired",
            chains.ee(sign, serial=0x0603_0002),
            sign,
            dt.datetime(2030, 1, 1, tzinfo=UTC),
            "expired",
        ),
        Case(
            "auth not yet valid",
            chains.ee(auth, serial=0x0603_0003, not_before=dt.datetime(2025, 7, 1, tzinfo=UTC)),
            auth,
            NOW,
            "not_yet_valid",
        ),
        Case(
            "wrong generation key",
            chains.ee(auth, 3, serial=0x0604_0001, signer=chains.root(auth, 2).key),
            auth,
            NOW,
            "issuer",
        ),
        Case(
            "untrusted generation 4",
            chains.ee(auth, serial=0x0604_0002, issuer=gen4),
            auth,
            NOW,
            "issuer",
        ),
        Case(
            "sign cert from auth root key",
            chains.ee(sign, 3, serial=0x0604_0003, signer=chains.root(auth, 3).key),
            sign,
            NOW,
            "issuer",
        ),
        Case(
            "tampered auth", chains.ee(auth, serial=0x0604_0004, tamper=True), auth, NOW, "issuer"
        ),
        Case(
            "tampered sign", chains.ee(sign, serial=0x0604_0005, tamper=True), sign, NOW, "issuer"
        ),
        Case(
            "auth without digitalSignature",
            chains.ee(auth, serial=0x0605_0001, key_usage={"key_encipherment"}),
            auth,
            NOW,
            "usage",
        ),
        Case(
            "sign without nonRepudiation",
            chains.ee(sign, serial=0x0605_0002, key_usage={"digital_signature"}),
            sign,
            NOW,
            "usage",
        ),
        Case(
            "auth serverAuth only",
            chains.ee(auth, serial=0x0605_0003, eku=[ExtendedKeyUsageOID.SERVER_AUTH]),
            auth,
            NOW,
            "usage",
        ),
        Case("auth no EKU", chains.ee(auth, serial=0x0605_0004, eku=[]), auth, NOW, "usage"),
        Case(
            "auth with sign policy",
            chains.ee(auth, serial=0x0606_0001, policies=[POLICY_SIGN]),
            auth,
            NOW,
            "policy",
        ),
        Case(
            "auth with foreign policy",
            chains.ee(auth, serial=0x0606_0002, policies=["1.2.3.4.5"]),
            auth,
            NOW,
            "policy",
        ),
        Case(
            "sign with auth policy",
            chains.ee(sign, serial=0x0606_0003, policies=[POLICY_AUTH]),
            sign,
            NOW,
            "policy",
        ),
        Case(
            "auth extra critical extension",
            chains.ee(auth, serial=0x0607_0001, extra=[(UNKNOWN_CRITICAL, True)]),
            auth,
            NOW,
            "critical_extension",
        ),
        Case(
            "sign extra critical extension",
            chains.ee(sign, serial=0x0607_0002, extra=[(UNKNOWN_CRITICAL, True)]),
            sign,
            NOW,
            "critical_extension",
        ),
        Case(
            "auth extra non-critical extension",
            chains.ee(auth, serial=0x0607_0003, extra=[(UNKNOWN_CRITICAL, False)]),
            auth,
        ),
        Case("auth revoked gen3", chains.ee(auth, 3, serial=0x0666_0001), auth, NOW, "revoked"),
        Case("auth revoked gen2", chains.ee(auth, 2, serial=0x0666_0002), auth, NOW, "revoked"),
        Case("sign revoked", chains.ee(sign, 3, serial=0x0666_0003), sign, NOW, "revoked"),
        Case(
            "auth serial revoked under another root",
            chains.ee(auth, 1, serial=0x0666_0002, **early_window),
            auth,
            early,
        ),
    ]
    return cases


def _stricter_cases(chains: ChainFactory) -> list[tuple[Case, str]]:
    """Rules stricter than RFC 5280 as pyhanko applies it: ours rejects, pyhanko accepts.

    JPKI-profile usage rules (exactly these bits/purposes/policy, critical), and the trust
    anchor's own validity (RFC 5280 does not check the anchor's dates; a JPKI root is not
    used after it expires, though its certificates can be validated at an earlier time).
    """
    auth, sign = Purpose.AUTH, Purpose.SIGN
    return [
        (
            Case(
                "auth under expired gen1 root",
                chains.ee(
                    auth, 1, serial=0x0603_0004, not_after=dt.datetime(2029, 1, 1, tzinfo=UTC)
                ),
                auth,
                dt.datetime(2026, 1, 1, tzinfo=UTC),
            ),
            "trust_anchor_expired",
        ),
        (
            Case(
                "auth KU with extra bit",
                chains.ee(
                    auth, serial=0x0608_0001, key_usage={"digital_signature", "key_encipherment"}
                ),
                auth,
            ),
            "key_usage_invalid",
        ),
        (
            Case(
                "auth KU not critical", chains.ee(auth, serial=0x0608_0002, ku_critical=False), auth
            ),
            "key_usage_invalid",
        ),
        (
            Case(
                "auth EKU plus serverAuth",
                chains.ee(
                    auth,
                    serial=0x0608_0003,
                    eku=[ExtendedKeyUsageOID.CLIENT_AUTH, ExtendedKeyUsageOID.SERVER_AUTH],
                ),
                auth,
            ),
            "extended_key_usage_invalid",
        ),
        (
            Case(
                "sign with an EKU",
                chains.ee(sign, serial=0x0608_0004, eku=[ExtendedKeyUsageOID.EMAIL_PROTECTION]),
                sign,
            ),
            "extended_key_usage_invalid",
        ),
        (
            Case(
                "auth two policies",
                chains.ee(auth, serial=0x0608_0005, policies=[POLICY_AUTH, "1.2.3.4.5"]),
                auth,
            ),
            "certificate_policy_invalid",
        ),
        (
            Case(
                "auth policy not critical",
                chains.ee(auth, serial=0x0608_0006, policy_critical=False),
                auth,
            ),
            "certificate_policy_invalid",
        ),
    ]


@dataclass
class Harness:
    chains: ChainFactory
    trust: TrustStore

    def crls(self, at: dt.datetime) -> list[x509.CertificateRevocationList]:
        out = []
        for purpose in Purpose:
            for generation in (1, 2, 3):
                issued_here = {
                    s for s in REVOKED_SERIALS if (s, purpose, generation) in _REVOKED_WHERE
                }
                out.append(
                    self.chains.crl(
                        purpose,
                        generation,
                        issued_here,
                        this_update=at - dt.timedelta(hours=1),
                        next_update=at + dt.timedelta(days=1),
                        revoked_at=at - dt.timedelta(hours=2),
                    )
                )
        return out

    def ours(self, case: Case) -> str | None:
        index = CrlIndex(
            trusted_roots=[a.certificate for a in self.trust], clock=FixedClock(case.at)
        )
        for crl in self.crls(case.at):
            index.ingest(crl.public_bytes(serialization.Encoding.DER))
        verifier = CertificateVerifier(
            self.trust,
            revocation=RevocationPolicy.require(CrlSource(index)),
            clock=FixedClock(case.at),
        )
        try:
            verifier.verify(case.cert, case.purpose)
        except VerificationError as exc:
            return str(type(exc).code)  # type: ignore[attr-defined]
        return None

    def pyhanko(self, case: Case) -> Exception | None:
        roots = [asn1_x509.Certificate.load(der(a.certificate)) for a in self.trust]
        context = ValidationContext(
            trust_roots=roots,
            moment=case.at,
            crls=[crl.public_bytes(serialization.Encoding.DER) for crl in self.crls(case.at)],
            revocation_mode="hard-fail",
        )
        if case.purpose is Purpose.AUTH:
            policies = frozenset({POLICY_AUTH})
            key_usage, eku = {"digital_signature"}, {"client_auth"}
        else:
            policies = frozenset({POLICY_SIGN, POLICY_SIGN_TEST})
            key_usage, eku = {"digital_signature", "non_repudiation"}, None
        validator = CertificateValidator(
            asn1_x509.Certificate.load(der(case.cert)),
            validation_context=context,
            pkix_params=PKIXValidationParams(
                user_initial_policy_set=policies, initial_explicit_policy=True
            ),
        )
        try:
            _run_pyhanko(validator.async_validate_usage(key_usage, extended_key_usage=eku))
        except (ph_errors.ValidationError, ph_errors.PathError) as exc:
            return exc
        return None


# Which root lists which revoked serial (0x06660002 is revoked under gen 2 only).
_REVOKED_WHERE = {
    (0x0666_0001, Purpose.AUTH, 3),
    (0x0666_0002, Purpose.AUTH, 2),
    (0x0666_0003, Purpose.SIGN, 3),
}


@pytest.fixture(scope="module")
def harness(chains: ChainFactory) -> Harness:
    return Harness(chains, TrustStore.default().with_test_roots(chains.roots()))


@pytest.fixture(scope="module")
def cases(chains: ChainFactory) -> list[Case]:
    return _cases(chains)


def test_there_are_many_cases(cases: list[Case]) -> None:
    assert len(cases) >= 30
    assert {c.expect for c in cases} >= {
        None,
        "expired",
        "not_yet_valid",
        "issuer",
        "usage",
        "policy",
        "critical_extension",
        "revoked",
    }


def test_same_verdict_as_pyhanko(harness: Harness, cases: list[Case]) -> None:
    mismatches = []
    for case in cases:
        ours = harness.ours(case)
        theirs = harness.pyhanko(case)
        our_category = None if ours is None else _OUR_CATEGORY.get(ours, "other")
        their_category = None if theirs is None else _pyhanko_category(theirs)
        if our_category != case.expect:
            mismatches.append(f"{case.name}: ours {ours!r}, expected {case.expect!r}")
        if (ours is None) != (theirs is None):
            mismatches.append(f"{case.name}: ours {ours!r}, pyhanko {theirs!r}")
        elif their_category not in (None, "other") and their_category != our_category:
            mismatches.append(f"{case.name}: ours {ours!r}, pyhanko {theirs!r} ({their_category})")
    assert not mismatches, "\n".join(mismatches)


def test_deliberately_stricter_than_pyhanko(harness: Harness, chains: ChainFactory) -> None:
    for case, code in _stricter_cases(chains):
        assert harness.ours(case) == code, case.name
        assert harness.pyhanko(case) is None, f"{case.name}: pyhanko now rejects it too"


def test_simulator_pki_certificates_agree() -> None:
    """The simulator's realistic cards and per-municipality CRLs (with IDP) through both."""
    pki_module = pytest.importorskip("simulator.pki")
    from simulator.identity import Identity

    pki = pki_module.TestPki.ephemeral(seed=5)
    issued = NOW - dt.timedelta(days=30)
    cards = [pki.issue(Identity.generate(s), now=issued) for s in (21, 22, 23)]
    revoked = cards[1]
    pki.revoke(revoked.auth_cert, reason="key_compromise", at=NOW - dt.timedelta(days=1))
    crl_ders = list(pki.crls(now=NOW).values())
    trust = TrustStore.default().with_test_roots(pki.roots("auth") + pki.roots("sign"))
    index = CrlIndex(trusted_roots=[a.certificate for a in trust], clock=FixedClock(NOW))
    for data in crl_ders:
        index.ingest(data)
    ours_verifier = CertificateVerifier(
        trust, revocation=RevocationPolicy.require(CrlSource(index)), clock=FixedClock(NOW)
    )
    context_roots = [asn1_x509.Certificate.load(der(a.certificate)) for a in trust]
    for card in cards:
        for cert, purpose in ((card.auth_cert, Purpose.AUTH), (card.sign_cert, Purpose.SIGN)):
            assert cert is not None
            try:
                ours_verifier.verify(cert, purpose)
                ours: str | None = None
            except VerificationError as exc:
                ours = str(type(exc).code)  # type: ignore[attr-defined]
            context = ValidationContext(
                trust_roots=context_roots, moment=NOW, crls=crl_ders, revocation_mode="hard-fail"
            )
            ku = (
                {"digital_signature"}
                if purpose is Purpose.AUTH
                else {"digital_signature", "non_repudiation"}
            )
            eku = {"client_auth"} if purpose is Purpose.AUTH else None
            validator = CertificateValidator(
                asn1_x509.Certificate.load(der(cert)), validation_context=context
            )
            try:
                _run_pyhanko(validator.async_validate_usage(ku, extended_key_usage=eku))
                theirs: Exception | None = None
            except (ph_errors.ValidationError, ph_errors.PathError) as exc:
                theirs = exc
            is_revoked = card is revoked and purpose is Purpose.AUTH
            assert (ours is None) == (theirs is None) == (not is_revoked), (
                card,
                purpose,
                ours,
                theirs,
            )
            if is_revoked:
                assert ours == "certificate_revoked"
                assert isinstance(theirs, ph_errors.RevokedError)
