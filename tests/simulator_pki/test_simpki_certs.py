"""Roots and end-entity certificates against the JPKI profiles of spec §5, field by field.

Parsed twice: with cryptography (semantics) and with asn1crypto (DER details: string types,
critical flags, extension order, otherName encoding).
"""

from __future__ import annotations

import datetime as dt
import hashlib

import pytest
from asn1crypto import x509 as ax
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtensionOID, NameOID, SignatureAlgorithmOID
from simpki_support import NOW

from simulator.identity import Identity, jpki_birth_date
from simulator.pki import (
    AUTH,
    AUTH_POLICY_OID,
    CPS_URI,
    SIGN,
    SIGN_POLICY_OID,
    SIGN_TEST_POLICY_OID,
    GenerationSpec,
    IssuedCard,
    TestPki,
)

KU, EKU, SAN, IAN = "2.5.29.15", "2.5.29.37", "2.5.29.17", "2.5.29.18"
CP, CRLDP, AIA, AKI, SKI, BC = (
    "2.5.29.32",
    "2.5.29.31",
    "1.3.6.1.5.5.7.1.1",
    "2.5.29.35",
    "2.5.29.14",
    "2.5.29.19",
)

# Extension values copied from the real auth certificate (shared/data/jpki-samples): the
# simulator must produce the same bytes where the content is the same.
REAL_KU_AUTH = bytes.fromhex("03020780")
REAL_EKU_AUTH = bytes.fromhex("300A06082B06010505070302")
REAL_CP_AUTH = bytes.fromhex(
    "303D303B060B2A83088C9B55080501031E302C302A06082B06010505070201161E687474703A2F2F7777772E"
    "6A706B692E676F2E6A702F6370732E68746D6C"
)
SYNTHETIC_KU_SIGN = bytes.fromhex("030206C0")


def der(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.DER)


def asn1(cert: x509.Certificate) -> ax.Certificate:
    return ax.Certificate.load(der(cert))


def ext_list(cert: x509.Certificate) -> list[tuple[str, bool, bytes]]:
    tbs = asn1(cert)["tbs_certificate"]
    return [
        (e["extn_id"].dotted, bool(e["critical"].native), e["extn_value"].contents)
        for e in tbs["extensions"]
    ]


def name_types(name: ax.Name) -> list[tuple[str, str, str]]:
    out = []
    for rdn in name.chosen:
        assert len(rdn) == 1
        for ava in rdn:
            out.append((ava["type"].dotted, ava["value"].name, ava["value"].native))
    return out


def pkcs1_sha1(cert: x509.Certificate) -> bytes:
    pub = cert.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.PKCS1
    )
    return hashlib.sha1(pub).digest()  # noqa: S324 - SKI method 1 is SHA-1 by definition


# -- roots ----------------------------------------------------------------------------------


@pytest.mark.parametrize("hierarchy", [AUTH, SIGN])
def test_roots_profile(pki: TestPki, hierarchy: str) -> None:
    roots = pki.roots(hierarchy)
    assert len(roots) >= 2
    assert len({r.subject for r in roots}) == 1, "generations share one DN, like J-LIS"
    assert len({r.public_key().public_numbers().n for r in roots}) == len(roots)  # type: ignore[union-attr]
    assert len({r.serial_number for r in roots}) == len(roots)
    for root in roots:
        assert root.subject == root.issuer
        root.verify_directly_issued_by(root)
        assert root.signature_algorithm_oid == SignatureAlgorithmOID.RSA_WITH_SHA256
        key = root.public_key()
        assert isinstance(key, rsa.RSAPublicKey)
        assert key.key_size == 2048 and key.public_numbers().e == 65537
        types = name_types(asn1(root)["tbs_certificate"]["subject"])
        assert types[0] == ("2.5.4.6", "printable_string", "JP")
        assert all(t == "utf8_string" for _, t, _ in types[1:])
        values = [v for _, _, v in types]
        assert values[1] == "JPKI TEST"
        assert "TEST" in values[2]
        assert "Japan Agency for Local Authority Information Systems" not in values
        exts = ext_list(root)
        assert [(o, c) for o, c, _ in exts] == [
            (KU, True),
            (SAN, False),
            (BC, True),
            (CRLDP, False),
            (SKI, False),
        ]
        ku = root.extensions.get_extension_for_class(x509.KeyUsage).value
        assert ku.key_cert_sign and ku.crl_sign and not ku.digital_signature
        assert exts[0][2] == bytes.fromhex("03020106")  # same bytes as the real roots
        assert root.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
        san = root.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        (dirname,) = san.get_values_for_type(x509.DirectoryName)
        assert "テスト" in dirname.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value
        dp = root.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
        assert dp[0].full_name == [x509.DirectoryName(root.subject)]
        ski = root.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
        assert ski.digest == pkcs1_sha1(root)


def test_root_generations_roll_over(pki: TestPki) -> None:
    auth = pki.roots(AUTH)
    assert auth[0].not_valid_after_utc < NOW, "the oldest generation has expired"
    assert all(r.not_valid_before_utc < NOW < r.not_valid_after_utc for r in auth[1:])
    assert pki.current_generation(AUTH, NOW) == len(auth)
    assert pki.current_generation(SIGN, dt.datetime(2021, 1, 1, tzinfo=dt.timezone.utc)) == 2
    assert pki.current_generation(AUTH, dt.datetime(2017, 1, 1, tzinfo=dt.timezone.utc)) == 1
    with pytest.raises(ValueError, match="no auth root generation"):
        pki.current_generation(AUTH, dt.datetime(2010, 1, 1, tzinfo=dt.timezone.utc))


# -- auth certificate -------------------------------------------------------------------------


def test_auth_certificate_profile(pki: TestPki, card: IssuedCard, identity: Identity) -> None:
    cert = card.auth_cert
    root = pki.root(AUTH, card.generation)
    assert card.auth_ca_cert == root
    cert.verify_directly_issued_by(root)
    assert cert.version == x509.Version.v3
    assert cert.signature_algorithm_oid == SignatureAlgorithmOID.RSA_WITH_SHA256
    key = cert.public_key()
    assert isinstance(key, rsa.RSAPublicKey)
    assert key.key_size == 2048 and key.public_numbers().e == 65537
    assert key.public_numbers() == card.auth_key.public_key().public_numbers()

    tbs = asn1(cert)["tbs_certificate"]
    serial = tbs["serial_number"]
    assert len(serial.contents) == 4 and serial.contents[0] < 0x80 and serial.native > 0
    assert tbs["issuer"].dump() == asn1(root)["tbs_certificate"]["subject"].dump()
    subject = name_types(tbs["subject"])
    assert [(o, t) for o, t, _ in subject] == [
        ("2.5.4.6", "printable_string"),
        ("2.5.4.3", "utf8_string"),
    ]
    cn = subject[1][2]
    assert len(cn) == 23
    assert cn[14:19] == identity.municipality_code
    assert cn.endswith("003A")
    assert tbs["validity"]["not_before"].name == "utc_time"
    assert tbs["validity"]["not_after"].name == "utc_time"
    assert cert.not_valid_before_utc == NOW

    exts = ext_list(cert)
    assert [(o, c) for o, c, _ in exts] == [
        (KU, True),
        (EKU, False),
        (CP, True),
        (IAN, False),
        (CRLDP, False),
        (AIA, False),
        (AKI, False),
        (SKI, False),
    ]
    values = dict((o, v) for o, _, v in exts)
    assert values[KU] == REAL_KU_AUTH
    assert values[EKU] == REAL_EKU_AUTH
    assert values[CP] == REAL_CP_AUTH
    with pytest.raises(x509.ExtensionNotFound):
        cert.extensions.get_extension_for_oid(ExtensionOID.BASIC_CONSTRAINTS)

    ian = cert.extensions.get_extension_for_class(x509.IssuerAlternativeName).value
    (ian_name,) = ian.get_values_for_type(x509.DirectoryName)
    assert "利用者証明用" in ian_name.rfc4514_string() and "テスト" in ian_name.rfc4514_string()
    dp = cert.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
    assert len(dp) == 1 and dp[0].relative_name is None and dp[0].crl_issuer is None
    (dp_name,) = dp[0].full_name  # type: ignore[misc]
    assert isinstance(dp_name, x509.DirectoryName)
    rdns = [(a.oid, a.value) for a in dp_name.value]
    assert rdns == [
        (NameOID.COUNTRY_NAME, "JP"),
        (NameOID.ORGANIZATION_NAME, "JPKI TEST"),
        (NameOID.ORGANIZATIONAL_UNIT_NAME, "JPKI TEST for user authentication"),
        (NameOID.ORGANIZATIONAL_UNIT_NAME, "CRL Distribution Points"),
        (NameOID.ORGANIZATIONAL_UNIT_NAME, "Kanagawa-ken"),
        (NameOID.COMMON_NAME, "Yokohama-shi-Naka-ku CRLDP"),
    ]
    aia = cert.extensions.get_extension_for_class(x509.AuthorityInformationAccess).value
    assert [(d.access_method.dotted_string, d.access_location.value) for d in aia] == [
        ("1.3.6.1.5.5.7.48.1", pki.ocsp_url)
    ]
    aki = cert.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    root_ski = root.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    assert aki.key_identifier == root_ski.digest
    assert aki.authority_cert_issuer == [x509.DirectoryName(root.subject)]
    assert aki.authority_cert_serial_number == root.serial_number
    ski = cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    assert ski.digest == pkcs1_sha1(cert)
    # The real samples are 1586 bytes; ours differ only in names and URL lengths.
    assert 1400 < len(der(cert)) < 1800


def test_auth_certificate_ocsp_url_override(pki: TestPki) -> None:
    card = pki.issue(
        Identity.generate(100), sign=False, now=NOW, ocsp_url="http://127.0.0.1:9/ocsp"
    )
    aia = card.auth_cert.extensions.get_extension_for_class(x509.AuthorityInformationAccess)
    assert aia.value[0].access_location.value == "http://127.0.0.1:9/ocsp"
    assert card.sign_cert is None and card.sign_key is None
    assert card.sign_ca_cert == pki.root(SIGN, card.generation)


# -- signature certificate --------------------------------------------------------------------


def _other_names(cert: x509.Certificate) -> list[tuple[str, str, bytes]]:
    tbs = asn1(cert)["tbs_certificate"]
    (san,) = [e for e in tbs["extensions"] if e["extn_id"].dotted == SAN]
    out = []
    for gn in san["extn_value"].parsed:
        assert gn.name == "other_name"
        assert gn.dump()[0] == 0xA0  # [0] IMPLICIT OtherName
        on = gn.chosen
        explicit = on["value"].dump()
        tag, inner, rest = split_tlv(explicit)
        assert tag == 0xA0 and rest == b""  # value [0] EXPLICIT, constructed
        tag, text, rest = split_tlv(inner)
        assert tag == 0x0C and rest == b""  # UTF8String
        out.append((on["type_id"].dotted, text.decode("utf-8"), explicit))
    return out


def split_tlv(data: bytes) -> tuple[int, bytes, bytes]:
    """(tag, contents, remainder) of the first DER TLV in ``data``."""
    tag, first = data[0], data[1]
    if first < 0x80:
        length, offset = first, 2
    else:
        count = first & 0x7F
        length, offset = int.from_bytes(data[2 : 2 + count], "big"), 2 + count
    return tag, data[offset : offset + length], data[offset + length :]


def test_sign_certificate_profile(pki: TestPki, card: IssuedCard, identity: Identity) -> None:
    cert = card.sign_cert
    assert cert is not None and card.sign_key is not None
    root = pki.root(SIGN, card.generation)
    assert card.sign_ca_cert == root
    cert.verify_directly_issued_by(root)
    assert cert.public_key().public_numbers() == card.sign_key.public_key().public_numbers()  # type: ignore[union-attr]
    tbs = asn1(cert)["tbs_certificate"]
    assert len(tbs["serial_number"].contents) == 4
    subject = name_types(tbs["subject"])
    assert subject[:3] == [
        ("2.5.4.6", "printable_string", "JP"),
        ("2.5.4.7", "utf8_string", "Kanagawa-ken"),
        ("2.5.4.7", "utf8_string", "Yokohama-shi-Naka-ku"),
    ]
    assert subject[3][:2] == ("2.5.4.3", "utf8_string") and len(subject) == 4
    exts = ext_list(cert)
    assert [(o, c) for o, c, _ in exts] == [
        (KU, True),
        (SAN, False),
        (CP, True),
        (IAN, False),
        (CRLDP, False),
        (AKI, False),
        (SKI, False),
    ]
    assert exts[0][2] == SYNTHETIC_KU_SIGN
    ku = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    assert ku.digital_signature and ku.content_commitment and not ku.key_cert_sign
    names = _other_names(cert)
    assert [oid for oid, _, _ in names] == [
        "1.2.392.200149.8.5.5.1",
        "1.2.392.200149.8.5.5.4",
        "1.2.392.200149.8.5.5.3",
        "1.2.392.200149.8.5.5.5",
        "1.2.392.200149.8.5.5.2",
        "1.2.392.200149.8.5.5.6",
    ]
    values = {oid.rsplit(".", 1)[1]: value for oid, value, _ in names}
    assert values["1"] == identity.name and "\u3000" in values["1"]
    assert values["4"] == jpki_birth_date(identity.birth_date)
    assert len(values["4"]) == 9 and values["4"][1:] == identity.birth_date.strftime("%Y%m%d")
    assert values["3"] == identity.sex
    assert values["5"] == identity.address
    assert values["2"] == "0" * len(identity.name)
    assert values["6"] == "0" * len(identity.address)
    policies = cert.extensions.get_extension_for_class(x509.CertificatePolicies).value
    assert [p.policy_identifier.dotted_string for p in policies] == [SIGN_POLICY_OID]
    assert policies[0].policy_qualifiers == [CPS_URI]
    ian = cert.extensions.get_extension_for_class(x509.IssuerAlternativeName).value
    assert "署名用" in ian.get_values_for_type(x509.DirectoryName)[0].rfc4514_string()
    dp = cert.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
    dp_name = dp[0].full_name[0].value  # type: ignore[index]
    assert "JPKI TEST for digital signature" in dp_name.rfc4514_string()
    assert dp_name.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == (
        "Yokohama-shi-Naka-ku CRLDP"
    )
    aki = cert.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    assert (
        aki.key_identifier
        == root.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
    )
    assert aki.authority_cert_serial_number == root.serial_number
    ski = cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    assert ski.digest == pkcs1_sha1(cert)
    assert cert.not_valid_after_utc == card.auth_cert.not_valid_after_utc


def test_sign_certificate_substitute_flags_and_options(pki: TestPki) -> None:
    base = Identity.generate(200)
    ident = Identity(
        family_name=base.family_name,
        given_name=base.given_name,
        address=base.address,
        birth_date=base.birth_date,
        sex=base.sex,
        my_number=base.my_number,
        municipality_code=base.municipality_code,
        name_substitutes="1" + "0" * (len(base.name) - 1),
        address_substitutes="0" * (len(base.address) - 1) + "1",
    )
    card = pki.issue(ident, now=NOW, test_policy=True, sign_ocsp=True)
    assert card.sign_cert is not None
    values = {oid: value for oid, value, _ in _other_names(card.sign_cert)}
    assert values["1.2.392.200149.8.5.5.2"] == ident.name_substitutes
    assert values["1.2.392.200149.8.5.5.6"] == ident.address_substitutes
    policies = card.sign_cert.extensions.get_extension_for_class(x509.CertificatePolicies)
    assert policies.critical
    assert [p.policy_identifier.dotted_string for p in policies.value] == [SIGN_TEST_POLICY_OID]
    order = [o for o, _, _ in ext_list(card.sign_cert)]
    assert order == [KU, SAN, CP, IAN, CRLDP, AIA, AKI, SKI]
    auth_policies = card.auth_cert.extensions.get_extension_for_class(x509.CertificatePolicies)
    assert auth_policies.value[0].policy_identifier.dotted_string == AUTH_POLICY_OID


# -- issuance options and determinism -----------------------------------------------------------


def test_chosen_generation(pki: TestPki) -> None:
    card = pki.issue(Identity.generate(300), now=NOW, generation=2)
    assert card.generation == 2
    card.auth_cert.verify_directly_issued_by(pki.root(AUTH, 2))
    assert card.sign_cert is not None
    card.sign_cert.verify_directly_issued_by(pki.root(SIGN, 2))
    with pytest.raises(Exception):  # noqa: B017 - any error: the wrong generation's key
        card.auth_cert.verify_directly_issued_by(pki.root(AUTH, 3))
    assert pki.find_issuer(card.auth_cert) == (AUTH, 2)
    assert pki.find_issuer(card.sign_cert) == (SIGN, 2)


def test_issuance_with_an_expired_generation_is_refused(pki: TestPki) -> None:
    with pytest.raises(ValueError, match="not valid at"):
        pki.issue(Identity.generate(301), now=NOW, generation=1)
    with pytest.raises(ValueError, match="no generation"):
        pki.issue(Identity.generate(301), now=NOW, generation=9)


def test_issuance_in_the_past_uses_the_then_current_generation(pki: TestPki) -> None:
    then = dt.datetime(2018, 4, 1, 0, 0, tzinfo=dt.timezone.utc)
    card = pki.issue(Identity.generate(302), now=then, sign=False)
    assert card.generation == 1
    assert card.auth_cert.not_valid_before_utc == then


def test_issue_argument_errors(pki: TestPki) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        pki.issue(Identity.generate(1), now=dt.datetime(2026, 1, 1))
    with pytest.raises(TypeError):
        pki.issue("someone", now=NOW)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="birth date is after"):
        pki.issue(Identity.generate(1, birth_date=dt.date(2027, 1, 1)), now=NOW)
    with pytest.raises(ValueError, match="http"):
        pki.issue(Identity.generate(1), now=NOW, ocsp_url="ldap://x")


def test_same_seed_same_pki_and_cards(pki: TestPki, card: IssuedCard, identity: Identity) -> None:
    twin = TestPki.ephemeral(seed=7)
    assert [der(r) for r in twin.roots(AUTH)] == [der(r) for r in pki.roots(AUTH)]
    assert [der(r) for r in twin.roots(SIGN)] == [der(r) for r in pki.roots(SIGN)]
    again = twin.issue(identity, now=NOW)
    assert der(again.auth_cert) == der(card.auth_cert)
    assert again.sign_cert is not None and card.sign_cert is not None
    assert der(again.sign_cert) == der(card.sign_cert)
    assert again.auth_key.private_numbers() == card.auth_key.private_numbers()


def test_different_pki_seed_gives_different_roots(pki: TestPki, stranger: TestPki) -> None:
    # Same validity as pki's generation 3, other seed: other keys and serials.
    assert stranger.generation_specs == pki.generation_specs[2:]
    assert len(stranger.roots(AUTH)) == 1
    theirs, ours = stranger.root(AUTH, 1), pki.root(AUTH, 3)
    assert der(theirs) != der(ours)
    assert theirs.serial_number != ours.serial_number
    assert theirs.public_key().public_numbers() != ours.public_key().public_numbers()  # type: ignore[union-attr]


def test_second_card_for_the_same_person_gets_new_keys_and_serials(pki: TestPki) -> None:
    person = Identity.generate(400)
    first = pki.issue(person, now=NOW, sign=False)
    second = pki.issue(person, now=NOW, sign=False)
    assert first.auth_cert.serial_number != second.auth_cert.serial_number
    assert (
        first.auth_key.public_key().public_numbers()
        != second.auth_key.public_key().public_numbers()
    )


def test_explicit_card_seed_is_reproducible_and_idempotent(pki: TestPki) -> None:
    person = Identity.generate(401)
    a = pki.issue(person, now=NOW, seed=99, sign=False)
    b = pki.issue(person, now=NOW, seed=99, sign=False)  # the very same certificate again
    assert der(a.auth_cert) == der(b.auth_cert)
    later = pki.issue(person, now=NOW + dt.timedelta(days=1), seed=99, sign=False)
    # Same key (same seed) but a different certificate, so it needs a fresh serial.
    assert later.auth_key.private_numbers() == a.auth_key.private_numbers()
    assert later.auth_cert.serial_number != a.auth_cert.serial_number
    assert len({r.serial for r in pki.issued(AUTH)}) == len(pki.issued(AUTH))


def test_generation_spec_validation() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        GenerationSpec(dt.datetime(2020, 1, 1), dt.datetime(2030, 1, 1))
    start = dt.datetime(2020, 1, 1, tzinfo=dt.timezone.utc)
    with pytest.raises(ValueError, match="after"):
        GenerationSpec(start, start)
    spec = GenerationSpec(start, start + dt.timedelta(days=1))
    with pytest.raises(ValueError, match="increasing"):
        TestPki.ephemeral(seed=1, generations=[spec, spec])
    with pytest.raises(ValueError, match="at least one"):
        TestPki.ephemeral(seed=1, generations=[])


def test_issued_card_repr_is_masked(card: IssuedCard, identity: Identity) -> None:
    text = repr(card)
    assert identity.family_name not in text and identity.my_number not in text
    assert f"{card.auth_cert.serial_number:08X}" in text


def test_directory_names_in_extensions_use_the_real_string_types(card: IssuedCard) -> None:
    """C is a PrintableString and every other attribute a UTF8String, as on real cards."""
    for cert in (card.auth_cert, card.sign_cert, card.auth_ca_cert):
        assert cert is not None
        tbs = asn1(cert)["tbs_certificate"]
        names = [tbs["issuer"]]
        for ext in tbs["extensions"]:
            oid = ext["extn_id"].dotted
            if oid == IAN or (oid == SAN and cert is not card.sign_cert):
                names += [gn.chosen for gn in ext["extn_value"].parsed]
            elif oid == CRLDP:
                for dp in ext["extn_value"].parsed:
                    assert dp["distribution_point"].name == "full_name"
                    assert dp["reasons"].native is None and dp["crl_issuer"].native is None
                    names += [gn.chosen for gn in dp["distribution_point"].chosen]
            elif oid == AKI:
                names += [gn.chosen for gn in ext["extn_value"].parsed["authority_cert_issuer"]]
        assert len(names) >= 3
        for name in names:
            types = name_types(name)
            assert types[0][:2] == ("2.5.4.6", "printable_string")
            assert all(t == "utf8_string" for _, t, _ in types[1:]), types
