"""CertificateFacts (read from DER) agree with cryptography's parse; profile helpers."""

from __future__ import annotations

import pytest
from chains import ChainFactory, der
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID as Eku

from jpki_sdk.verify import (
    POLICY_AUTH,
    POLICY_SIGN,
    POLICY_SIGN_TEST,
    CertificateFacts,
    CertificateParseError,
    Purpose,
    TrustStore,
    classify,
    profile_for,
)
from jpki_sdk.verify.profiles import check_der

KU_NAMES = (
    "digital_signature",
    "content_commitment",
    "key_encipherment",
    "data_encipherment",
    "key_agreement",
    "key_cert_sign",
    "crl_sign",
)


def _cryptography_view(cert: x509.Certificate) -> dict[str, object]:
    exts = cert.extensions
    out: dict[str, object] = {"critical": tuple(e.oid.dotted_string for e in exts if e.critical)}
    try:
        ku = exts.get_extension_for_class(x509.KeyUsage).value
        out["ku"] = frozenset(n for n in KU_NAMES if getattr(ku, n))
    except x509.ExtensionNotFound:
        out["ku"] = None
    try:
        eku = exts.get_extension_for_class(x509.ExtendedKeyUsage).value
        out["eku"] = tuple(o.dotted_string for o in eku)
    except x509.ExtensionNotFound:
        out["eku"] = None
    try:
        cps = exts.get_extension_for_class(x509.CertificatePolicies).value
        out["policies"] = tuple(p.policy_identifier.dotted_string for p in cps)
    except x509.ExtensionNotFound:
        out["policies"] = None
    try:
        out["aki"] = exts.get_extension_for_class(x509.AuthorityKeyIdentifier).value.key_identifier
    except x509.ExtensionNotFound:
        out["aki"] = None
    try:
        out["ca"] = exts.get_extension_for_class(x509.BasicConstraints).value.ca
    except x509.ExtensionNotFound:
        out["ca"] = None
    return out


def _facts_view(facts: CertificateFacts) -> dict[str, object]:
    return {
        "critical": facts.critical_oids,
        "ku": facts.key_usage,
        "eku": facts.ext_key_usage,
        "policies": facts.policies,
        "aki": facts.authority_key_id,
        "ca": facts.is_ca,
    }


def _variants(chains: ChainFactory) -> list[x509.Certificate]:
    return [
        chains.ee(Purpose.AUTH),
        chains.ee(Purpose.SIGN),
        chains.ee(Purpose.AUTH, 1, no_aki=True),
        chains.ee(Purpose.AUTH, key_usage={"digital_signature", "key_agreement", "crl_sign"}),
        chains.ee(Purpose.AUTH, eku=[Eku.SERVER_AUTH, Eku.ANY_EXTENDED_KEY_USAGE]),
        chains.ee(Purpose.AUTH, policies=[POLICY_AUTH, POLICY_SIGN, "2.999.1"]),
        chains.ee(Purpose.AUTH, basic_constraints=x509.BasicConstraints(True, 3)),
        chains.ee(Purpose.AUTH, basic_constraints=x509.BasicConstraints(False, None)),
        chains.ee(Purpose.AUTH, policy_critical=False, ku_critical=False),
        *chains.roots(),
        *(a.certificate for a in TrustStore.default()),
    ]


def test_facts_match_cryptography(chains: ChainFactory) -> None:
    for cert in _variants(chains):
        facts = CertificateFacts.from_der(der(cert))
        assert _facts_view(facts) == _cryptography_view(cert)
        assert facts.issuer_der == cert.issuer.public_bytes()
        assert facts.subject_der == cert.subject.public_bytes()
        assert [e.oid for e in facts.extensions] == [e.oid.dotted_string for e in cert.extensions]


def test_real_sample_facts(real_sample: object) -> None:
    cert = x509.load_pem_x509_certificate(real_sample("jpki-auth-ee-2023-mynawallet.pem"))  # type: ignore[operator]
    facts = CertificateFacts.from_der(der(cert))
    assert _facts_view(facts) == _cryptography_view(cert)
    assert classify(facts) is Purpose.AUTH


def test_classify(chains: ChainFactory) -> None:
    def kind(cert: x509.Certificate) -> Purpose | None:
        return classify(CertificateFacts.from_der(der(cert)))

    assert kind(chains.ee(Purpose.AUTH)) is Purpose.AUTH
    assert kind(chains.ee(Purpose.SIGN)) is Purpose.SIGN
    assert kind(chains.ee(Purpose.SIGN, policies=[POLICY_SIGN_TEST])) is Purpose.SIGN
    assert kind(chains.ee(Purpose.AUTH, policies=[POLICY_AUTH, POLICY_SIGN])) is None
    assert kind(chains.ee(Purpose.AUTH, policies=[])) is Purpose.AUTH  # by EKU
    assert kind(chains.ee(Purpose.SIGN, policies=[])) is Purpose.SIGN  # by nonRepudiation
    assert kind(chains.ee(Purpose.AUTH, policies=[], eku=[])) is None


def test_profiles_and_purpose_parsing() -> None:
    assert profile_for("auth").policy == POLICY_AUTH
    sign = profile_for(Purpose.SIGN)
    assert sign.allowed_policies(test_root=True) == {POLICY_SIGN, POLICY_SIGN_TEST}
    assert profile_for(Purpose.SIGN).allowed_policies(test_root=False) == {POLICY_SIGN}
    assert profile_for(Purpose.AUTH).allowed_policies(test_root=True) == {POLICY_AUTH}
    assert Purpose.parse(" SIGN ") is Purpose.SIGN
    with pytest.raises(ValueError):
        Purpose.parse("login")
    with pytest.raises(TypeError):
        Purpose.parse(1)  # type: ignore[arg-type]


def test_malformed_der_is_a_parse_error(chains: ChainFactory) -> None:
    good = der(chains.ee(Purpose.AUTH))
    for bad in (b"", good[:-1], good + b"\x00", b"\x30\x81\x05" + good[3:8], b"\x31\x00"):
        with pytest.raises(CertificateParseError):
            CertificateFacts.from_der(bad)
    check_der(good)
    with pytest.raises(ValueError):
        check_der(b"\x30\x80\x00\x00")
    with pytest.raises(ValueError):
        check_der(b"\x30\x81\x01\x00")  # non-minimal length
