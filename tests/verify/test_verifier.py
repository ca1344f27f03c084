"""CertificateVerifier: one test per error class, the happy paths and the order of checks."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest
from chains import (
    NOW,
    UTC,
    ChainFactory,
    Root,
    der,
    ec_key,
    make_root,
    resign_with_serial,
    rsa_key,
)
from conftest import SetRevocationSource
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from jpki_sdk.errors import VerificationError
from jpki_sdk.verify import (
    POLICY_AUTH,
    POLICY_SIGN,
    POLICY_SIGN_TEST,
    BasicConstraintsError,
    CertificateExpiredError,
    CertificateNotYetValidError,
    CertificateParseError,
    CertificatePolicyError,
    CertificateRevokedError,
    CertificateSignatureError,
    CertificateVerifier,
    ExtendedKeyUsageError,
    ExtensionMalformedError,
    FixedClock,
    IdentityAttributeMissingError,
    KeyUsageError,
    MissingExtensionError,
    PathValidationError,
    Purpose,
    RevocationAnswer,
    RevocationMode,
    RevocationPolicy,
    RevocationStatus,
    RevocationUnavailableError,
    SerialNumberError,
    SignatureAlgorithmNotAllowedError,
    SubjectError,
    TestPolicyNotAllowedError,
    TrustAnchor,
    TrustAnchorExpiredError,
    TrustAnchorNotYetValidError,
    TrustStore,
    UnknownCriticalExtensionError,
    UnsupportedKeyError,
    UntrustedIssuerError,
    WeakKeyError,
    WrongCertificateKindError,
)
from jpki_sdk.verify.path import VALIDATOR_CRYPTOGRAPHY, VALIDATOR_SHA1_LEGACY

MakeVerifier = Callable[..., CertificateVerifier]
UNKNOWN_OID = x509.ObjectIdentifier("1.3.6.1.4.1.55555.1")


def _production_store(chains: ChainFactory) -> TrustStore:
    """The chain factory's roots as if they were production (not test) anchors."""
    anchors = [
        TrustAnchor.from_certificate(
            chains.root(p, g).cert,
            hierarchy=p,
            generation=g,
            name=f"prod-like-{p.value}-{g}",
            is_test=False,
        )
        for p in Purpose
        for g in (1, 2, 3)
    ]
    return TrustStore(anchors)


# --------------------------------------------------------------------------- valid paths


def test_valid_auth_certificate(chains: ChainFactory, make_verifier: MakeVerifier) -> None:
    result = make_verifier().verify(chains.ee(Purpose.AUTH), Purpose.AUTH)
    assert result.purpose is Purpose.AUTH
    assert result.anchor.generation == 3
    assert result.is_test_root
    assert result.path_validator == VALIDATOR_CRYPTOGRAPHY
    assert result.revocation.status is RevocationStatus.GOOD
    assert result.revocation.source == "test-set"
    assert result.revocation.mode is RevocationMode.REQUIRE
    assert result.subject is not None and result.subject.municipality_code == "14104"
    assert result.subject.root_generation == 3
    assert result.identity is None
    as_dict = result.to_dict()
    assert as_dict["root"]["name"] == result.anchor.name
    assert as_dict["is_test_root"] is True
    assert as_dict["revocation"]["source"] == "test-set"


def test_valid_sign_certificate_has_identity(
    chains: ChainFactory, make_verifier: MakeVerifier
) -> None:
    result = make_verifier().verify(der(chains.ee(Purpose.SIGN)), "sign")
    assert result.identity is not None
    assert result.identity.birth_date == dt.date(1980, 2, 17)
    assert result.subject is None
    assert "試験" not in repr(result) and "試験" not in str(result.to_dict())
    assert "試験" in str(result.to_dict(reveal=True))


def test_every_generation_validates_at_its_time(
    chains: ChainFactory, make_verifier: MakeVerifier
) -> None:
    at = dt.datetime(2020, 6, 1, tzinfo=UTC)
    for generation in (1, 2):
        cert = chains.ee(
            Purpose.AUTH,
            generation,
            not_before=dt.datetime(2020, 1, 1, tzinfo=UTC),
            not_after=dt.datetime(2024, 12, 7, 14, 59, 59, tzinfo=UTC),
        )
        result = make_verifier(at=at).verify(cert, Purpose.AUTH)
        assert result.anchor.generation == generation
        assert result.anchor.certificate == chains.root(Purpose.AUTH, generation).cert


def test_expired_root_usable_for_historical_time_and_reported(
    chains: ChainFactory, make_verifier: MakeVerifier
) -> None:
    cert = chains.ee(
        Purpose.AUTH,
        1,
        not_before=dt.datetime(2018, 1, 1, tzinfo=UTC),
        not_after=dt.datetime(2022, 1, 1, tzinfo=UTC),
    )
    verifier = make_verifier(at=dt.datetime(2026, 1, 1, tzinfo=UTC))  # gen 1 expired 2025-10
    result = verifier.verify(cert, Purpose.AUTH, at=dt.datetime(2020, 1, 1, tzinfo=UTC))
    assert result.anchor.generation == 1
    assert result.anchor_expired is True
    assert result.to_dict()["root_expired"] is True
    assert result.validated_at == dt.datetime(2020, 1, 1, tzinfo=UTC)


def test_pem_input_and_certificate_object_give_same_result(
    chains: ChainFactory, make_verifier: MakeVerifier
) -> None:
    cert = chains.ee(Purpose.AUTH, serial=0x0600_0100)
    verifier = make_verifier()
    a = verifier.verify(cert.public_bytes(serialization.Encoding.PEM), Purpose.AUTH)
    b = verifier.verify(cert, Purpose.AUTH)
    assert a.certificate == b.certificate
    assert b.from_cache


def test_sign_certificate_with_test_policy_under_test_root(
    chains: ChainFactory, make_verifier: MakeVerifier
) -> None:
    cert = chains.ee(Purpose.SIGN, policies=[POLICY_SIGN_TEST])
    assert make_verifier().verify(cert, Purpose.SIGN).is_test_root


def test_simulator_card_certificates_validate(make_verifier: MakeVerifier) -> None:
    """Certificates issued by the simulator's PKI (independent code) pass our verifier."""
    pytest.importorskip("simulator.pki")
    from simulator.identity import Identity
    from simulator.pki import TestPki

    pki = TestPki.ephemeral(seed=3)
    card = pki.issue(Identity.generate(11), now=NOW)
    trust = TrustStore.default().with_test_roots(pki.roots("auth") + pki.roots("sign"))
    verifier = make_verifier(at=NOW + dt.timedelta(days=1), trust=trust)
    auth = verifier.verify(card.auth_cert, Purpose.AUTH)
    assert auth.is_test_root and auth.subject is not None
    assert auth.subject.municipality_code_consistent is True
    assert auth.subject.crl_municipality == card.identity.municipality_romaji
    sign = verifier.verify(card.sign_cert, Purpose.SIGN)  # type: ignore[arg-type]
    assert sign.identity is not None
    assert sign.identity.name == card.identity.name
    assert sign.identity.birth_date == card.identity.birth_date
    assert sign.identity.address == card.identity.address
    assert sign.identity.sex == card.identity.sex
    with pytest.raises(UntrustedIssuerError):
        make_verifier(trust=TrustStore.default()).verify(card.auth_cert, Purpose.AUTH)


# --------------------------------------------------------------------------- one test per error


def test_certificate_parse_error(make_verifier: MakeVerifier) -> None:
    verifier = make_verifier()
    for bad in (b"", b"\x30\x03\x02\x01\x01", b"not a certificate", b"\x30" * 70000):
        with pytest.raises(CertificateParseError) as info:
            verifier.verify(bad, Purpose.AUTH)
        assert info.value.code == "certificate_malformed"
    with pytest.raises(CertificateParseError):
        verifier.verify(b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", "auth")


def test_two_pem_certificates_are_rejected(
    chains: ChainFactory, make_verifier: MakeVerifier
) -> None:
    pem = chains.ee(Purpose.AUTH).public_bytes(serialization.Encoding.PEM)
    with pytest.raises(CertificateParseError):
        make_verifier().verify(pem + pem, Purpose.AUTH)


def test_extension_malformed_error(chains: ChainFactory, make_verifier: MakeVerifier) -> None:
    broken_ku = x509.UnrecognizedExtension(x509.ObjectIdentifier("2.5.29.15"), b"\x05\x00")
    cert = chains.ee(Purpose.AUTH, key_usage=set(), extra=[(broken_ku, True)])
    with pytest.raises(ExtensionMalformedError) as info:
        make_verifier().verify(cert, Purpose.AUTH)
    assert info.value.oid == "2.5.29.15"
    assert info.value.code == "extension_malformed"


def test_certificate_expired_error(chains: ChainFactory, make_verifier: MakeVerifier) -> None:
    cert = chains.ee(Purpose.AUTH)
    with pytest.raises(CertificateExpiredError) as info:
        make_verifier(at=dt.datetime(2029, 12, 7, 15, 0, tzinfo=UTC)).verify(cert, "auth")
    assert info.value.code == "certificate_expired"
    assert info.value.not_after == cert.not_valid_after_utc


def test_certificate_not_yet_valid_error(chains: ChainFactory, make_verifier: MakeVerifier) -> None:
    cert = chains.ee(Purpose.AUTH)
    with pytest.raises(CertificateNotYetValidError) as info:
        make_verifier(at=dt.datetime(2024, 4, 30, tzinfo=UTC)).verify(cert, "auth")
    assert info.value.code == "certificate_not_yet_valid"


def test_untrusted_issuer_error(chains: ChainFactory, make_verifier: MakeVerifier) -> None:
    cert = chains.ee(Purpose.AUTH)
    with pytest.raises(UntrustedIssuerError) as info:
        make_verifier(trust=TrustStore.default()).verify(cert, Purpose.AUTH)
    assert info.value.code == "untrusted_issuer"
    assert info.value.key_id == chains.root(Purpose.AUTH, 3).ski.hex()


def test_untrusted_root_generation_not_in_store(
    chains: ChainFactory, make_verifier: MakeVerifier
) -> None:
    """A fourth generation with the same DN but not trusted: no fallback to the name."""
    gen4 = make_root(Purpose.AUTH, 4, key_index=99)
    cert = chains.ee(Purpose.AUTH, issuer=gen4)
    with pytest.raises(UntrustedIssuerError) as info:
        make_verifier().verify(cert, Purpose.AUTH)
    assert "share the issuer name" in str(info.value)


def test_key_id_of_a_root_with_another_name_is_untrusted(
    chains: ChainFactory, make_verifier: MakeVerifier
) -> None:
    other = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Someone else")])
    cert = chains.ee(Purpose.AUTH, issuer_name=other)
    with pytest.raises(UntrustedIssuerError):
        make_verifier().verify(cert, Purpose.AUTH)


def test_certificate_signature_error_tampered(
    chains: ChainFactory, make_verifier: MakeVerifier
) -> None:
    cert = chains.ee(Purpose.AUTH, tamper=True)
    with pytest.raises(CertificateSignatureError) as info:
        make_verifier().verify(cert, Purpose.AUTH)
    assert info.value.code == "certificate_signature_invalid"
    assert info.value.anchor is not None and info.value.anchor.generation == 3


def test_wrong_generation_key_is_a_signature_error(
    chains: ChainFactory, make_verifier: MakeVerifier
) -> None:
    """AKI says generation 3, generation 2 signed: the issuer is never re-chosen by name."""
    cert = chains.ee(Purpose.AUTH, 3, signer=chains.root(Purpose.AUTH, 2).key)
    with pytest.raises(CertificateSignatureError):
        make_verifier().verify(cert, Purpose.AUTH)


def test_without_aki_the_issuer_is_chosen_by_signature(
    chains: ChainFactory, make_verifier: MakeVerifier
) -> None:
    cert = chains.ee(Purpose.AUTH, 2, no_aki=True)
    assert make_verifier().verify(cert, Purpose.AUTH).anchor.generation == 2
    bad = chains.ee(Purpose.AUTH, 2, no_aki=True, tamper=True)
    with pytest.raises(CertificateSignatureError):
        make_verifier().verify(bad, Purpose.AUTH)


def test_trust_anchor_expired_error(chains: ChainFactory, make_verifier: MakeVerifier) -> None:
    cert = chains.ee(Purpose.AUTH, 1, not_after=dt.datetime(2029, 1, 1, tzinfo=UTC))
    with pytest.raises(TrustAnchorExpiredError) as info:
        make_verifier(at=dt.datetime(2026, 1, 1, tzinfo=UTC)).verify(cert, Purpose.AUTH)
    assert info.value.anchor.generation == 1
    assert info.value.code == "trust_anchor_expired"


def test_trust_anchor_not_yet_valid_error(
    chains: ChainFactory, make_verifier: MakeVerifier
) -> None:
    cert = chains.ee(Purpose.AUTH, 3, not_before=dt.datetime(2022, 1, 1, tzinfo=UTC))
    with pytest.raises(TrustAnchorNotYetValidError) as info:
        make_verifier(at=dt.datetime(2023, 1, 1, tzinfo=UTC)).verify(cert, Purpose.AUTH)
    assert info.value.code == "trust_anchor_not_yet_valid"


def test_path_validation_error_from_cryptography(
    chains: ChainFactory, make_verifier: MakeVerifier
) -> None:
    """A test root without keyCertSign: our checks pass, cryptography (the authority) refuses."""
    key = rsa_key(77)
    name = x509.Name([x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "user authentication")])
    root_cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(7)
        .not_valid_before(dt.datetime(2020, 1, 1, tzinfo=UTC))
        .not_valid_after(dt.datetime(2035, 1, 1, tzinfo=UTC))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    root = Root(Purpose.AUTH, 9, key, root_cert)
    cert = chains.ee(Purpose.AUTH, issuer=root)
    trust = TrustStore.default().with_test_roots(root_cert)
    with pytest.raises(PathValidationError) as info:
        make_verifier(trust=trust).verify(cert, Purpose.AUTH)
    assert info.value.code == "path_validation_failed"
    assert info.value.detail


def test_wrong_certificate_kind_error(chains: ChainFactory, make_verifier: MakeVerifier) -> None:
    verifier = make_verifier()
    with pytest.raises(WrongCertificateKindError) as info:
        verifier.verify(chains.ee(Purpose.SIGN), Purpose.AUTH)
    assert (info.value.expected, info.value.actual) == (Purpose.AUTH, Purpose.SIGN)
    with pytest.raises(WrongCertificateKindError):
        verifier.verify(chains.ee(Purpose.AUTH), Purpose.SIGN)


def test_wrong_kind_by_issuing_hierarchy(chains: ChainFactory, make_verifier: MakeVerifier) -> None:
    """No policy or usage gives the kind away, but the issuer is a signature root."""
    cert = chains.ee(Purpose.AUTH, issuer=chains.root(Purpose.SIGN, 3), policies=[], eku=[])
    with pytest.raises(WrongCertificateKindError) as info:
        make_verifier().verify(cert, Purpose.AUTH)
    assert info.value.actual is Purpose.SIGN


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"key_usage": {"digital_signature", "key_encipherment"}}, "exactly"),
        ({"key_usage": {"key_encipherment"}}, "exactly"),
        ({"ku_critical": False}, "critical"),
    ],
)
def test_key_usage_error(
    chains: ChainFactory, make_verifier: MakeVerifier, changes: dict[str, object], message: str
) -> None:
    with pytest.raises(KeyUsageError, match=message) as info:
        make_verifier().verify(chains.ee(Purpose.AUTH, **changes), Purpose.AUTH)
    assert info.value.code == "key_usage_invalid"


def test_sign_key_usage_needs_non_repudiation(
    chains: ChainFactory, make_verifier: MakeVerifier
) -> None:
    cert = chains.ee(Purpose.SIGN, key_usage={"digital_signature"})
    with pytest.raises(KeyUsageError):
        make_verifier().verify(cert, Purpose.SIGN)


@pytest.mark.parametrize(
    ("purpose", "eku"),
    [
        (Purpose.AUTH, [ExtendedKeyUsageOID.SERVER_AUTH]),
        (Purpose.AUTH, []),
        (Purpose.AUTH, [ExtendedKeyUsageOID.CLIENT_AUTH, ExtendedKeyUsageOID.SERVER_AUTH]),
        (Purpose.SIGN, [ExtendedKeyUsageOID.EMAIL_PROTECTION]),
    ],
)
def test_extended_key_usage_error(
    chains: ChainFactory,
    make_verifier: MakeVerifier,
    purpose: Purpose,
    eku: list[x509.ObjectIdentifier],
) -> None:
    with pytest.raises(ExtendedKeyUsageError) as info:
        make_verifier().verify(chains.ee(purpose, eku=eku), purpose)
    assert info.value.code == "extended_key_usage_invalid"


@pytest.mark.parametrize(
    "changes",
    [
        {"policies": ["1.2.3.4"]},
        {"policies": [POLICY_AUTH, "1.2.3.4"]},
        {"policy_critical": False},
    ],
)
def test_certificate_policy_error(
    chains: ChainFactory, make_verifier: MakeVerifier, changes: dict[str, object]
) -> None:
    with pytest.raises(CertificatePolicyError) as info:
        make_verifier().verify(chains.ee(Purpose.AUTH, **changes), Purpose.AUTH)
    assert info.value.code == "certificate_policy_invalid"


def test_policy_of_the_other_kind_is_wrong_kind(
    chains: ChainFactory, make_verifier: MakeVerifier
) -> None:
    with pytest.raises(WrongCertificateKindError):
        make_verifier().verify(chains.ee(Purpose.AUTH, policies=[POLICY_SIGN]), Purpose.AUTH)


def test_test_policy_not_allowed_error(chains: ChainFactory, make_verifier: MakeVerifier) -> None:
    cert = chains.ee(Purpose.SIGN, policies=[POLICY_SIGN_TEST])
    with pytest.raises(TestPolicyNotAllowedError) as info:
        make_verifier(trust=_production_store(chains)).verify(cert, Purpose.SIGN)
    assert info.value.code == "test_policy_not_allowed"
    assert isinstance(info.value, CertificatePolicyError)
    prod = chains.ee(Purpose.SIGN)
    assert not make_verifier(trust=_production_store(chains)).verify(prod, "sign").is_test_root


def test_unknown_critical_extension_error(
    chains: ChainFactory, make_verifier: MakeVerifier
) -> None:
    extra = [(x509.UnrecognizedExtension(UNKNOWN_OID, b"\x05\x00"), True)]
    with pytest.raises(UnknownCriticalExtensionError) as info:
        make_verifier().verify(chains.ee(Purpose.AUTH, extra=extra), Purpose.AUTH)
    assert info.value.oids == (UNKNOWN_OID.dotted_string,)
    assert info.value.code == "unknown_critical_extension"


def test_unknown_non_critical_extension_is_tolerated(
    chains: ChainFactory, make_verifier: MakeVerifier
) -> None:
    extra = [(x509.UnrecognizedExtension(UNKNOWN_OID, b"\x05\x00"), False)]
    assert make_verifier().verify(chains.ee(Purpose.AUTH, extra=extra), Purpose.AUTH)


@pytest.mark.parametrize(
    ("purpose", "changes", "oid"),
    [
        (Purpose.AUTH, {"key_usage": set()}, "2.5.29.15"),
        (Purpose.AUTH, {"policies": []}, "2.5.29.32"),
        (Purpose.SIGN, {"no_san": True}, "2.5.29.17"),
    ],
)
def test_missing_extension_error(
    chains: ChainFactory,
    make_verifier: MakeVerifier,
    purpose: Purpose,
    changes: dict[str, object],
    oid: str,
) -> None:
    with pytest.raises(MissingExtensionError) as info:
        make_verifier().verify(chains.ee(purpose, **changes), purpose)
    assert info.value.oid == oid
    assert info.value.code == "required_extension_missing"


def test_basic_constraints_error(chains: ChainFactory, make_verifier: MakeVerifier) -> None:
    cert = chains.ee(Purpose.AUTH, basic_constraints=x509.BasicConstraints(ca=True, path_length=0))
    with pytest.raises(BasicConstraintsError) as info:
        make_verifier().verify(cert, Purpose.AUTH)
    assert info.value.code == "end_entity_is_ca"
    ok = chains.ee(
        Purpose.AUTH, basic_constraints=x509.BasicConstraints(ca=False, path_length=None)
    )
    assert make_verifier().verify(ok, Purpose.AUTH)


@pytest.mark.filterwarnings("ignore:Parsed a serial number")  # cryptography's deprecation
@pytest.mark.parametrize("serial", [0, -5])
def test_serial_number_error(
    chains: ChainFactory, make_verifier: MakeVerifier, serial: int
) -> None:
    """A CA-signed certificate with serial 0 (cryptography's verifier lets it pass) or a
    negative serial is refused by the profile: RFC 5280 wants a positive integer."""
    good = chains.ee(Purpose.AUTH)
    bad = resign_with_serial(good, chains.root(Purpose.AUTH).key, serial, hashes.SHA256())
    with pytest.raises(SerialNumberError) as info:
        make_verifier().verify(bad, Purpose.AUTH)
    assert info.value.code == "serial_number_invalid"
    assert make_verifier().verify(good, Purpose.AUTH)


def test_weak_key_error(chains: ChainFactory, make_verifier: MakeVerifier) -> None:
    cert = chains.ee(Purpose.AUTH, key=rsa_key(5, 1024))
    with pytest.raises(WeakKeyError) as info:
        make_verifier().verify(cert, Purpose.AUTH)
    assert info.value.bits == 1024
    assert info.value.code == "weak_key"


def test_unsupported_key_error(chains: ChainFactory, make_verifier: MakeVerifier) -> None:
    cert = chains.ee(Purpose.AUTH, key=ec_key())
    with pytest.raises(UnsupportedKeyError) as info:
        make_verifier().verify(cert, Purpose.AUTH)
    assert info.value.code == "unsupported_key"


def test_signature_algorithm_not_allowed_error(
    chains: ChainFactory, make_verifier: MakeVerifier
) -> None:
    cert = chains.ee(Purpose.AUTH, sha1=True)
    with pytest.raises(SignatureAlgorithmNotAllowedError) as info:
        make_verifier().verify(cert, Purpose.AUTH)
    assert info.value.algorithm == "sha1WithRSAEncryption"
    assert info.value.code == "signature_algorithm_not_allowed"


def test_sha1_certificate_only_when_allowed(
    chains: ChainFactory, make_verifier: MakeVerifier
) -> None:
    verifier = make_verifier(allow_sha1=True)
    result = verifier.verify(chains.ee(Purpose.AUTH, sha1=True), Purpose.AUTH)
    assert result.path_validator == VALIDATOR_SHA1_LEGACY
    with pytest.raises(CertificateSignatureError):
        verifier.verify(chains.ee(Purpose.AUTH, sha1=True, tamper=True, serial=5), Purpose.AUTH)


def test_sha384_and_sha512_certificates_are_allowed(
    chains: ChainFactory, make_verifier: MakeVerifier
) -> None:
    for serial, algorithm in ((11, hashes.SHA384()), (12, hashes.SHA512())):
        cert = chains.ee(Purpose.AUTH, serial=serial, hash=algorithm)
        assert make_verifier().verify(cert, Purpose.AUTH).path_validator == VALIDATOR_CRYPTOGRAPHY


def test_subject_error(chains: ChainFactory, make_verifier: MakeVerifier) -> None:
    cert = chains.ee(Purpose.AUTH, cn=None)
    with pytest.raises(SubjectError) as info:
        make_verifier().verify(cert, Purpose.AUTH)
    assert info.value.code == "subject_invalid"


def test_identity_error_surfaces_from_verify(
    chains: ChainFactory, make_verifier: MakeVerifier
) -> None:
    from chains import DEFAULT_IDENTITY, SAN_SEX, identity_san

    values = {k: v for k, v in DEFAULT_IDENTITY.items() if k != SAN_SEX}
    cert = chains.ee(Purpose.SIGN, san=identity_san(values))
    with pytest.raises(IdentityAttributeMissingError) as info:
        make_verifier().verify(cert, Purpose.SIGN)
    assert info.value.attribute == "sex"


def test_revoked_certificate_error_propagates(
    chains: ChainFactory, make_verifier: MakeVerifier, revocation_source: SetRevocationSource
) -> None:
    cert = chains.ee(Purpose.AUTH, serial=0x0600_0777)
    revocation_source.revoked.add(cert.serial_number)
    with pytest.raises(CertificateRevokedError) as info:
        make_verifier().verify(cert, Purpose.AUTH)
    assert info.value.code == "certificate_revoked"
    assert info.value.source == "test-set"


def test_revocation_unavailable_error_propagates(chains: ChainFactory) -> None:
    class Silent:
        name = "silent"

        def check(
            self, cert: x509.Certificate, issuer: x509.Certificate, at: dt.datetime
        ) -> object:

            return RevocationAnswer(
                status=RevocationStatus.UNKNOWN, source="silent", detail="no data"
            )

    trust = TrustStore.default().with_test_roots(chains.roots())
    clock = FixedClock(NOW)
    hard = CertificateVerifier(trust, revocation=RevocationPolicy.require(Silent()), clock=clock)
    with pytest.raises(RevocationUnavailableError):
        hard.verify(chains.ee(Purpose.AUTH), Purpose.AUTH)
    soft = CertificateVerifier(trust, revocation=RevocationPolicy.soft_fail(Silent()), clock=clock)
    result = soft.verify(chains.ee(Purpose.AUTH), Purpose.AUTH)
    assert result.revocation.status is RevocationStatus.UNKNOWN
    assert result.revocation.mode is RevocationMode.SOFT_FAIL


def test_every_failure_is_a_verification_error(
    chains: ChainFactory, make_verifier: MakeVerifier
) -> None:
    cases = [
        (b"junk", Purpose.AUTH),
        (chains.ee(Purpose.AUTH, tamper=True), Purpose.AUTH),
        (chains.ee(Purpose.SIGN), Purpose.AUTH),
    ]
    for cert, purpose in cases:
        with pytest.raises(VerificationError) as info:
            make_verifier().verify(cert, purpose)
        assert isinstance(type(info.value).code, str)


# --------------------------------------------------------------------------- arguments


def test_wrong_arguments_are_type_and_value_errors(
    chains: ChainFactory, make_verifier: MakeVerifier, test_trust: TrustStore
) -> None:
    verifier = make_verifier()
    with pytest.raises(TypeError):
        verifier.verify("not bytes", Purpose.AUTH)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        verifier.verify(chains.ee(Purpose.AUTH), "login")
    with pytest.raises(ValueError):
        verifier.verify(chains.ee(Purpose.AUTH), Purpose.AUTH, at=dt.datetime(2025, 1, 1))
    with pytest.raises(TypeError):
        CertificateVerifier(object(), revocation=RevocationPolicy.off())  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        CertificateVerifier(test_trust, revocation=object())  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        CertificateVerifier(test_trust, revocation=RevocationPolicy.off(), cache_size=-1)


def test_at_with_another_timezone_is_normalised(
    chains: ChainFactory, make_verifier: MakeVerifier
) -> None:
    jst = dt.timezone(dt.timedelta(hours=9))
    result = make_verifier().verify(
        chains.ee(Purpose.AUTH), Purpose.AUTH, at=dt.datetime(2025, 6, 1, 9, 0, tzinfo=jst)
    )
    assert result.validated_at == dt.datetime(2025, 6, 1, 0, 0, tzinfo=UTC)
