"""TrustStore: shipped J-LIS roots (pinned), explicit test roots, issuer selection."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from chains import UTC, ChainFactory, der, make_root, rsa_key
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.oid import NameOID

from jpki_sdk.errors import ConfigurationError
from jpki_sdk.verify import (
    CertificateSignatureError,
    Purpose,
    TrustAnchor,
    TrustStore,
    UntrustedIssuerError,
)
from jpki_sdk.verify import trust as trust_module

SHIPPED = {
    "authca01": (Purpose.AUTH, 1, "9567951b5ca70d84a0fff1d85a87f1aab1340385"),
    "authca02": (Purpose.AUTH, 2, "8cd5586a891485e559379b7e29d410cfd28b3593"),
    "authca03": (Purpose.AUTH, 3, "1ac100f596a3bc8c4b3df195e32699249e9e308a"),
    "signca01": (Purpose.SIGN, 1, "0d034cbb34d0714f45e45a1cafd8fd143fab54a7"),
    "signca02": (Purpose.SIGN, 2, "4de017de4b7f473dcd867a62d38b134ace83558a"),
    "signca03": (Purpose.SIGN, 3, "d21ea55895617e93adbf966b941ab4edf653f08f"),
}


def test_default_store_has_the_six_jlis_roots() -> None:
    store = TrustStore.default()
    assert len(store) == 6
    assert not store.has_test_roots
    found = {a.name: (a.hierarchy, a.generation, a.key_id.hex()) for a in store}
    assert found == SHIPPED
    assert all(not a.is_test for a in store)
    assert {a.name for a in store.for_hierarchy("auth")} == {"authca01", "authca02", "authca03"}
    # the three generations of one hierarchy share one DN: names alone cannot tell them apart
    assert len({a.certificate.subject for a in store.for_hierarchy(Purpose.SIGN)}) == 1


def test_expired_roots_are_kept_and_report_expiry() -> None:
    store = TrustStore.default()
    gen1 = next(a for a in store if a.name == "authca01")
    assert gen1.is_expired_at(dt.datetime(2026, 1, 1, tzinfo=UTC))
    assert gen1.is_valid_at(dt.datetime(2020, 1, 1, tzinfo=UTC))
    assert gen1.to_dict(at=dt.datetime(2026, 1, 1, tzinfo=UTC))["expired"] is True
    assert "authca01" in repr(gen1) and "J-LIS" in repr(gen1)


def test_modified_package_root_is_a_configuration_error(monkeypatch: pytest.MonkeyPatch) -> None:
    pinned = list(trust_module._SHIPPED_ROOTS)
    filename, name, hierarchy, generation, _ = pinned[0]
    pinned[0] = (filename, name, hierarchy, generation, "00" * 32)
    monkeypatch.setattr(trust_module, "_SHIPPED_ROOTS", tuple(pinned))
    monkeypatch.setattr(trust_module, "_SHIPPED_CACHE", [])
    with pytest.raises(ConfigurationError, match="pinned fingerprint"):
        TrustStore.default()


def test_missing_package_root_is_a_configuration_error(monkeypatch: pytest.MonkeyPatch) -> None:
    pinned = list(trust_module._SHIPPED_ROOTS)
    _, name, hierarchy, generation, fp = pinned[0]
    pinned[0] = ("no-such-root.pem", name, hierarchy, generation, fp)
    monkeypatch.setattr(trust_module, "_SHIPPED_ROOTS", tuple(pinned))
    monkeypatch.setattr(trust_module, "_SHIPPED_CACHE", [])
    with pytest.raises(ConfigurationError, match="missing"):
        TrustStore.default()


def test_test_roots_only_by_explicit_opt_in(chains: ChainFactory) -> None:
    default = TrustStore.default()
    ee = chains.ee(Purpose.AUTH)
    with pytest.raises(UntrustedIssuerError):
        default.select_issuer(ee)
    with_tests = default.with_test_roots(chains.roots())
    assert len(default) == 6  # the original store is unchanged
    assert len(with_tests) == 12 and with_tests.has_test_roots
    anchor = with_tests.select_issuer(ee)
    assert anchor.is_test and anchor.name == "test-auth-03" and anchor.generation == 3
    assert "test" in repr(anchor)


def test_test_roots_from_directory_file_and_bytes(chains: ChainFactory, tmp_path: Path) -> None:
    for purpose in Purpose:
        for generation in (1, 2, 3):
            cert = chains.root(purpose, generation).cert
            (tmp_path / f"{purpose.value}-{generation}.pem").write_bytes(
                cert.public_bytes(serialization.Encoding.PEM)
            )
    crl = chains.crl(Purpose.AUTH, 3, this_update=chains_now(), next_update=chains_now(1))
    (tmp_path / "auth-3.crl.pem").write_bytes(crl.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "notes.txt").write_text("ignored")
    from_dir = TrustStore.default().with_test_roots(tmp_path)
    assert sorted(a.name for a in from_dir if a.is_test) == [
        f"test-{p}-0{g}" for p in ("auth", "sign") for g in (1, 2, 3)
    ]
    from_file = TrustStore.default().with_test_roots(tmp_path / "sign-2.pem")
    assert [a.hierarchy for a in from_file if a.is_test] == [Purpose.SIGN]
    from_der = TrustStore.default().with_test_roots(der(chains.root(Purpose.AUTH, 1).cert))
    assert [a.name for a in from_der if a.is_test] == ["test-auth-01"]
    # adding more test roots later renumbers generations by notBefore
    grown = from_der.with_test_roots(chains.root(Purpose.AUTH, 2).cert)
    assert [a.generation for a in grown.for_hierarchy("auth") if a.is_test] == [1, 2]


def chains_now(days: int = 0) -> dt.datetime:
    return dt.datetime(2025, 6, 1, tzinfo=UTC) + dt.timedelta(days=days)


def test_hierarchy_inference_and_override(chains: ChainFactory) -> None:
    neutral = make_root(
        Purpose.AUTH,
        3,
        key_index=41,
        name=x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Neutral Test Root")]),
    )
    with pytest.raises(ConfigurationError, match="hierarchy="):
        TrustStore.default().with_test_roots(neutral.cert)
    store = TrustStore.default().with_test_roots(neutral.cert, hierarchy="sign")
    assert [a.hierarchy for a in store if a.is_test] == [Purpose.SIGN]


def test_bad_test_roots_are_configuration_errors(chains: ChainFactory, tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match=r"not a CA|basicConstraints"):
        TrustStore.default().with_test_roots(chains.ee(Purpose.AUTH), hierarchy="auth")
    with pytest.raises(ConfigurationError, match="does not exist"):
        TrustStore.default().with_test_roots(tmp_path / "missing")
    (tmp_path / "junk.pem").write_bytes(
        b"-----BEGIN CERTIFICATE-----\nAA==\n-----END CERTIFICATE-----\n"
    )
    with pytest.raises(ConfigurationError):
        TrustStore.default().with_test_roots(tmp_path / "junk.pem")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ConfigurationError, match="no certificate"):
        TrustStore.default().with_test_roots(empty)
    with pytest.raises(TypeError):
        TrustStore.default().with_test_roots(42)  # type: ignore[arg-type]
    # a root whose self-signature does not verify
    key = rsa_key(43)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "auth test root")])
    forged = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(rsa_key(44).public_key())
        .serial_number(1)
        .not_valid_before(chains_now())
        .not_valid_after(chains_now(30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    with pytest.raises(ConfigurationError, match="self-signed"):
        TrustStore.default().with_test_roots(forged, hierarchy="auth")


def test_jlis_root_offered_as_test_root_stays_jlis() -> None:
    jlis = TrustStore.default().anchors[0].certificate
    store = TrustStore.default().with_test_roots(jlis, hierarchy="auth")
    assert len(store) == 6 and not store.has_test_roots


def test_issuer_selection_by_key_id_then_signature(chains: ChainFactory) -> None:
    store = TrustStore.default().with_test_roots(chains.roots())
    for generation in (1, 2, 3):
        ee = chains.ee(Purpose.AUTH, generation)
        assert store.select_issuer(ee).generation == generation
        assert [a.generation for a in store.candidates(ee)] == [generation]
    # key id of generation 3, signature of generation 2: not re-chosen by name
    forged = chains.ee(Purpose.AUTH, 3, signer=chains.root(Purpose.AUTH, 2).key)
    with pytest.raises(CertificateSignatureError):
        store.select_issuer(forged)
    # without AKI: every same-name root is a candidate, the signature decides
    no_aki = chains.ee(Purpose.AUTH, 2, no_aki=True)
    assert len(store.candidates(no_aki)) == 3
    assert store.select_issuer(no_aki).generation == 2


def test_trust_anchor_value_semantics(chains: ChainFactory) -> None:
    cert = chains.root(Purpose.AUTH, 1).cert
    a = TrustAnchor.from_certificate(
        cert, hierarchy=Purpose.AUTH, generation=1, name="a", is_test=True
    )
    b = TrustAnchor.from_certificate(
        cert, hierarchy=Purpose.AUTH, generation=1, name="b", is_test=True
    )
    c = TrustAnchor.from_certificate(
        cert, hierarchy=Purpose.AUTH, generation=1, name="c", is_test=False
    )
    assert a == b and hash(a) == hash(b)
    assert a != c
    assert len(TrustStore([a, b, c])) == 2
    with pytest.raises(TypeError):
        TrustStore([cert])  # type: ignore[list-item]
