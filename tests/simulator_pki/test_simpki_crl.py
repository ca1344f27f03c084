"""Revocation and CRLs: per hierarchy x generation x municipality DP, signed by the right root."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from simpki_support import NOW

from simulator.crl import build_crl, build_large_crl
from simulator.identity import Identity
from simulator.keys import rsa_key_from_seed
from simulator.pki import AUTH, SIGN, CrlKey, IssuedCard, TestPki

LATER = NOW + dt.timedelta(hours=2)


@pytest.fixture
def fresh() -> TestPki:
    """A PKI of its own per test (root keys come from the process cache, so it is cheap)."""
    return TestPki.ephemeral(seed=7)


def _dp(cert: x509.Certificate) -> x509.Name:
    dps = cert.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
    name = dps[0].full_name[0]  # type: ignore[index]
    assert isinstance(name, x509.DirectoryName)
    return name.value


def _verifies(crl: x509.CertificateRevocationList, root: x509.Certificate) -> bool:
    key = root.public_key()
    assert isinstance(key, rsa.RSAPublicKey)
    return crl.is_signature_valid(key)


def _issue(pki: TestPki, seed: int, **kw: object) -> IssuedCard:
    return pki.issue(Identity.generate(seed, municipality_code="14104"), now=NOW, **kw)  # type: ignore[arg-type]


def test_revoked_serials_show_in_the_right_partition(fresh: TestPki) -> None:
    revoked = _issue(fresh, 1)
    kept = _issue(fresh, 2)
    old_gen = _issue(fresh, 3, generation=2)
    elsewhere = fresh.issue(Identity.generate(4, municipality_code="13221"), now=NOW, sign=False)
    record = fresh.revoke(revoked.auth_cert, "keyCompromise", at=NOW + dt.timedelta(minutes=5))
    assert record.reason is x509.ReasonFlags.key_compromise
    assert revoked.sign_cert is not None
    fresh.revoke(revoked.sign_cert, x509.ReasonFlags.affiliation_changed, at=NOW)
    fresh.revoke(old_gen.auth_cert, at=NOW)
    fresh.revoke(elsewhere.auth_cert, "superseded", at=NOW)

    crls = fresh.crls(LATER)
    assert set(crls) == {
        CrlKey(AUTH, 3, "14104"),
        CrlKey(SIGN, 3, "14104"),
        CrlKey(AUTH, 2, "14104"),
        CrlKey(SIGN, 2, "14104"),
        CrlKey(AUTH, 3, "13221"),
    }
    auth3 = x509.load_der_x509_crl(crls[CrlKey(AUTH, 3, "14104")])
    assert _verifies(auth3, fresh.root(AUTH, 3))
    assert not _verifies(auth3, fresh.root(AUTH, 2)), "generations have distinct keys"
    assert not _verifies(auth3, fresh.root(SIGN, 3))
    assert auth3.issuer == fresh.root(AUTH, 3).subject
    assert [r.serial_number for r in auth3] == [revoked.auth_cert.serial_number]
    entry = auth3.get_revoked_certificate_by_serial_number(revoked.auth_cert.serial_number)
    assert entry is not None
    assert entry.revocation_date_utc == NOW + dt.timedelta(minutes=5)
    assert entry.extensions.get_extension_for_class(x509.CRLReason).value.reason == (
        x509.ReasonFlags.key_compromise
    )
    assert auth3.get_revoked_certificate_by_serial_number(kept.auth_cert.serial_number) is None

    sign3 = x509.load_der_x509_crl(crls[CrlKey(SIGN, 3, "14104")])
    assert _verifies(sign3, fresh.root(SIGN, 3))
    assert [r.serial_number for r in sign3] == [revoked.sign_cert.serial_number]

    auth2 = x509.load_der_x509_crl(crls[CrlKey(AUTH, 2, "14104")])
    assert _verifies(auth2, fresh.root(AUTH, 2))
    (only,) = list(auth2)
    assert only.serial_number == old_gen.auth_cert.serial_number
    assert len(only.extensions) == 0, "reason unspecified is left out (RFC 5280 5.3.1)"

    other = x509.load_der_x509_crl(crls[CrlKey(AUTH, 3, "13221")])
    assert [r.serial_number for r in other] == [elsewhere.auth_cert.serial_number]
    assert list(x509.load_der_x509_crl(crls[CrlKey(SIGN, 2, "14104")])) == []


def test_crl_extensions_and_times(fresh: TestPki) -> None:
    card = _issue(fresh, 10)
    der = fresh.crl(CrlKey(AUTH, 3, "14104"), now=LATER, next_update=dt.timedelta(hours=6))
    crl = x509.load_der_x509_crl(der)
    assert crl.last_update_utc == LATER
    assert crl.next_update_utc == LATER + dt.timedelta(hours=6)
    assert crl.signature_hash_algorithm is not None
    assert crl.signature_hash_algorithm.name == "sha256"
    assert [e.oid.dotted_string for e in crl.extensions] == ["2.5.29.35", "2.5.29.20", "2.5.29.28"]
    aki = crl.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    root = fresh.root(AUTH, 3)
    ski = root.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    assert aki.key_identifier == ski.digest
    idp = crl.extensions.get_extension_for_class(x509.IssuingDistributionPoint)
    assert idp.critical
    assert idp.value.full_name == [x509.DirectoryName(_dp(card.auth_cert))]
    assert idp.value.only_contains_user_certs and not idp.value.only_contains_ca_certs


def test_crl_numbers_are_monotonic(fresh: TestPki) -> None:
    _issue(fresh, 11, sign=False)
    key = CrlKey(AUTH, 3, "14104")
    numbers = [
        x509.load_der_x509_crl(fresh.crl(key, now=LATER))
        .extensions.get_extension_for_class(x509.CRLNumber)
        .value.crl_number
        for _ in range(3)
    ]
    assert numbers == sorted(numbers) and len(set(numbers)) == 3
    again = x509.load_der_x509_crl(fresh.crls(LATER)[key])
    assert again.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number > numbers[-1]


def test_future_revocations_are_not_listed_yet(fresh: TestPki) -> None:
    card = _issue(fresh, 12, sign=False)
    fresh.revoke(card.auth_cert, at=LATER + dt.timedelta(days=1))
    early = x509.load_der_x509_crl(fresh.crl(CrlKey(AUTH, 3, "14104"), now=LATER))
    assert list(early) == []
    late = fresh.crl(CrlKey(AUTH, 3, "14104"), now=LATER + dt.timedelta(days=2))
    assert len(list(x509.load_der_x509_crl(late))) == 1


def test_arl_is_empty_and_names_the_root_dp(fresh: TestPki) -> None:
    crl = x509.load_der_x509_crl(fresh.arl(SIGN, 2, now=LATER))
    root = fresh.root(SIGN, 2)
    assert _verifies(crl, root)
    assert list(crl) == []
    idp = crl.extensions.get_extension_for_class(x509.IssuingDistributionPoint).value
    assert idp.full_name == [x509.DirectoryName(root.subject)]
    assert idp.only_contains_ca_certs and not idp.only_contains_user_certs


def test_revoke_twice_keeps_the_first_revocation(fresh: TestPki) -> None:
    card = _issue(fresh, 13, sign=False)
    first = fresh.revoke(card.auth_cert, "keyCompromise", at=NOW)
    second = fresh.revoke(card.auth_cert, "superseded", at=LATER)
    assert second == first
    assert fresh.revocations(AUTH) == [first]
    record = fresh.lookup(AUTH, card.auth_cert.serial_number)
    assert record is not None and record.revocation == first


def test_revoke_accepts_der_and_pem(fresh: TestPki) -> None:
    card = _issue(fresh, 14)
    assert card.sign_cert is not None
    fresh.revoke(card.auth_cert.public_bytes(serialization.Encoding.DER), at=NOW)
    fresh.revoke(card.sign_cert.public_bytes(serialization.Encoding.PEM), at=NOW)
    assert len(fresh.revocations()) == 2


def test_revoke_errors(fresh: TestPki, stranger_cert: x509.Certificate) -> None:
    card = _issue(fresh, 15, sign=False)
    with pytest.raises(ValueError, match="unknown revocation reason"):
        fresh.revoke(card.auth_cert, "stolen")
    with pytest.raises(ValueError, match="removeFromCRL"):
        fresh.revoke(card.auth_cert, x509.ReasonFlags.remove_from_crl)
    with pytest.raises(ValueError, match="timezone-aware"):
        fresh.revoke(card.auth_cert, at=dt.datetime(2026, 1, 1))
    with pytest.raises(ValueError, match="not a certificate"):
        fresh.revoke(b"garbage")
    with pytest.raises(TypeError):
        fresh.revoke(12345)  # type: ignore[arg-type]
    # Same roots (same seed) but a PKI that never issued this card: not in its database.
    foreign_db = TestPki.ephemeral(seed=7)
    with pytest.raises(ValueError, match="not in its database"):
        foreign_db.revoke(card.auth_cert)
    with pytest.raises(ValueError, match="not issued by this test PKI"):
        fresh.revoke(stranger_cert)
    assert fresh.revocations() == []


def test_crl_for_a_municipality_without_certificates_uses_the_table(fresh: TestPki) -> None:
    der = fresh.crl(CrlKey(AUTH, 3, "27128"), now=LATER)
    idp = x509.load_der_x509_crl(der).extensions.get_extension_for_class(
        x509.IssuingDistributionPoint
    )
    (name,) = idp.value.full_name  # type: ignore[misc]
    assert name.value.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == (
        "Osaka-shi-Chuo-ku CRLDP"
    )
    with pytest.raises(ValueError, match="unknown municipality"):
        fresh.crl(CrlKey(AUTH, 3, "99999"), now=LATER)


# -- the streaming encoder --------------------------------------------------------------------


def _root_and_key(pki: TestPki) -> tuple[x509.Certificate, rsa.RSAPrivateKey]:
    return pki.root(AUTH, 3), pki.root_key(AUTH, 3)


def test_streaming_encoder_matches_cryptography_byte_for_byte(pki: TestPki) -> None:
    root, key = _root_and_key(pki)
    dp = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Test CRLDP")])
    extra = [(0x01020304, x509.ReasonFlags.key_compromise, NOW - dt.timedelta(days=3))]
    large = build_large_crl(
        issuer=root, issuer_key=key, distribution_point=dp, count=300, number=42,
        this_update=NOW, next_update=LATER, seed=5, extra_entries=extra,
        reason=x509.ReasonFlags.superseded,
    )  # fmt: skip
    parsed = x509.load_der_x509_crl(large)
    entries = []
    for revoked in parsed:
        try:
            reason = revoked.extensions.get_extension_for_class(x509.CRLReason).value.reason
        except x509.ExtensionNotFound:
            reason = x509.ReasonFlags.unspecified
        entries.append((revoked.serial_number, reason, revoked.revocation_date_utc))
    rebuilt = build_crl(
        issuer=root, issuer_key=key, distribution_point=dp, entries=entries, number=42,
        this_update=NOW, next_update=LATER,
    )  # fmt: skip
    assert rebuilt == large
    assert entries[0] == extra[0]
    assert all(r == x509.ReasonFlags.superseded for _, r, _ in entries[1:])


def test_large_crl_entries_are_distinct_four_byte_serials(fresh: TestPki) -> None:
    real = _issue(fresh, 20, sign=False)
    fresh.revoke(real.auth_cert, "keyCompromise", at=NOW)
    key = CrlKey(AUTH, 3, "14104")
    der = fresh.large_crl(key, 5000, now=LATER)
    crl = x509.load_der_x509_crl(der)
    assert _verifies(crl, fresh.root(AUTH, 3))
    serials = [r.serial_number for r in crl]
    assert len(serials) == 5001 == len(set(serials))
    assert all(0x01000000 <= s <= 0x7FFFFFFF for s in serials)
    assert real.auth_cert.serial_number in serials
    issued = {r.serial for r in fresh.issued()}
    assert len(issued & set(serials)) == 1  # only the one really revoked
    idp = crl.extensions.get_extension_for_class(x509.IssuingDistributionPoint).value
    assert idp.full_name == [x509.DirectoryName(_dp(real.auth_cert))]
    assert crl.last_update_utc == LATER


def test_large_crl_to_a_file_and_argument_errors(fresh: TestPki, tmp_path: Path) -> None:
    out = tmp_path / "big.crl"
    size = fresh.write_large_crl(
        out, CrlKey(SIGN, 3, "13221"), 100, now=LATER, reason="keyCompromise"
    )
    assert out.stat().st_size == size
    crl = x509.load_der_x509_crl(out.read_bytes())
    assert len(crl) == 100
    assert not list(out.parent.glob(".*tmp"))
    root, key = _root_and_key(fresh)
    with pytest.raises(ValueError, match="count"):
        build_large_crl(
            issuer=root, issuer_key=key, distribution_point=root.subject, count=-1, number=1,
            this_update=NOW, next_update=LATER,
        )  # fmt: skip
    with pytest.raises(ValueError, match="at most"):
        build_large_crl(
            issuer=root, issuer_key=key, distribution_point=root.subject, count=0x7F000000,
            number=1, this_update=NOW, next_update=LATER, exclude={0x01000000},
        )  # fmt: skip
    with pytest.raises(ValueError, match="after"):
        build_large_crl(
            issuer=root, issuer_key=key, distribution_point=root.subject, count=1, number=1,
            this_update=LATER, next_update=NOW,
        )  # fmt: skip


@pytest.mark.slow
def test_million_entry_crl(fresh: TestPki, tmp_path: Path) -> None:
    out = tmp_path / "million.crl"
    fresh.write_large_crl(out, CrlKey(AUTH, 3, "14104"), 1_000_000, now=LATER)
    crl = x509.load_der_x509_crl(out.read_bytes())
    assert len(crl) == 1_000_000
    assert _verifies(crl, fresh.root(AUTH, 3))


def test_build_crl_signature_uses_the_given_key(pki: TestPki) -> None:
    root = pki.root(SIGN, 3)
    wrong_key = rsa_key_from_seed(b"not the root")
    der = build_crl(
        issuer=root, issuer_key=wrong_key, distribution_point=root.subject, entries=[],
        number=1, this_update=NOW, next_update=LATER,
    )  # fmt: skip
    crl = x509.load_der_x509_crl(der)
    assert not _verifies(crl, root)
    assert crl.signature_algorithm_oid.dotted_string == "1.2.840.113549.1.1.11"
    assert crl.is_signature_valid(wrong_key.public_key())


def test_expired_generations_publish_no_crls(fresh: TestPki) -> None:
    then = dt.datetime(2018, 6, 1, tzinfo=dt.timezone.utc)
    card = fresh.issue(Identity.generate(21, municipality_code="14104"), now=then, sign=False)
    assert card.generation == 1
    fresh.revoke(card.auth_cert, at=then)
    assert CrlKey(AUTH, 1, "14104") in fresh.crls(then + dt.timedelta(days=1))
    assert CrlKey(AUTH, 1, "14104") not in fresh.crls(LATER)  # generation 1 expired in 2025
    # On request, one can still be made (e.g. to test that verifiers refuse it).
    late = x509.load_der_x509_crl(fresh.crl(CrlKey(AUTH, 1, "14104"), now=LATER))
    assert [r.serial_number for r in late] == [card.auth_cert.serial_number]
