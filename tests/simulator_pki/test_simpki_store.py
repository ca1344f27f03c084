"""A PKI in a directory: create/load, the files it writes, bad directories, and export."""

from __future__ import annotations

import datetime as dt
import json
import stat
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from simpki_support import NOW

from simulator.identity import Identity
from simulator.pki import (
    AUTH,
    SIGN,
    CrlKey,
    PkiStoreError,
    TestPki,
    default_ca_directory,
)

LATER = NOW + dt.timedelta(hours=1)


@pytest.fixture
def store(tmp_path: Path) -> Path:
    path = tmp_path / "ca"
    TestPki.create(path, seed=7).close()
    return path


def test_create_writes_labelled_files(store: Path, pki: TestPki) -> None:
    manifest = json.loads((store / "manifest.json").read_text())
    assert manifest["format"] == "jpki-simulator-test-pki"
    assert "NOT J-LIS" in manifest["warning"]
    assert manifest["seed"] == 7
    keys = sorted((store / "keys").iterdir())
    assert [k.name for k in keys] == [
        f"TEST-ONLY-{h}-ca-{g:02d}.key.pem" for h in ("auth", "sign") for g in (1, 2, 3)
    ]
    for key in keys:
        text = key.read_text()
        assert text.startswith("JPKI SIMULATOR TEST KEY") and "NOT A J-LIS KEY" in text
        assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert stat.S_IMODE((store / "keys").stat().st_mode) == 0o700
    roots = sorted((store / "roots").glob("*.pem"))
    assert len(roots) == 6
    # The same seed gives the same roots as the in-memory PKI.
    loaded = TestPki.load(store)
    assert loaded.roots(AUTH) == pki.roots(AUTH)
    assert loaded.roots(SIGN) == pki.roots(SIGN)
    assert loaded.seed == 7 and loaded.directory == store
    assert "TestPki(seed=7" in repr(loaded)


def test_state_is_shared_between_instances(store: Path) -> None:
    first = TestPki.load(store)
    second = TestPki.load(store)
    card = first.issue(Identity.generate(1), now=NOW, sign=False)
    record = second.lookup(AUTH, card.auth_cert.serial_number)
    assert record is not None and record.certificate == card.auth_cert
    second.revoke(card.auth_cert, "keyCompromise", at=NOW)
    seen = first.lookup(AUTH, card.auth_cert.serial_number)
    assert seen is not None and seen.revocation is not None
    key = CrlKey(AUTH, 3, card.identity.municipality_code)
    n1 = first.next_crl_number(AUTH, 3, key.municipality_code)
    n2 = second.next_crl_number(AUTH, 3, key.municipality_code)
    assert n2 == n1 + 1
    first.close()
    second.close()
    with TestPki.load(store) as third:
        assert third.next_crl_number(AUTH, 3, key.municipality_code) == n2 + 1


def test_ocsp_url_is_persisted(store: Path) -> None:
    with TestPki.load(store) as pki:
        pki.set_ocsp_url("http://127.0.0.1:18080/")
        with pytest.raises(ValueError, match="http"):
            pki.set_ocsp_url("127.0.0.1:1")
    with TestPki.load(store) as pki:
        assert pki.ocsp_url == "http://127.0.0.1:18080/"


def test_open_creates_then_loads(tmp_path: Path) -> None:
    path = tmp_path / "new-ca"
    with TestPki.open(path, seed=7) as created:
        roots = created.roots(AUTH)
    with TestPki.open(path, seed=999) as loaded:  # exists: the seed argument is not used
        assert loaded.seed == 7 and loaded.roots(AUTH) == roots


def test_create_refuses_a_non_empty_directory(store: Path, tmp_path: Path) -> None:
    with pytest.raises(FileExistsError):
        TestPki.create(store)
    a_file = tmp_path / "file"
    a_file.write_text("x")
    with pytest.raises(FileExistsError):
        TestPki.create(a_file)


def _break(store: Path, what: str) -> None:
    manifest_path = store / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    if what == "json":
        manifest_path.write_text("{not json")
    elif what == "foreign":
        manifest_path.write_text(json.dumps({"format": "something-else"}))
    elif what == "version":
        manifest["version"] = 99
        manifest_path.write_text(json.dumps(manifest))
    elif what == "incomplete":
        del manifest["roots"]
        manifest_path.write_text(json.dumps(manifest))
    elif what == "swapped-key":
        a = store / "keys" / "TEST-ONLY-auth-ca-01.key.pem"
        b = store / "keys" / "TEST-ONLY-auth-ca-02.key.pem"
        data = a.read_bytes()
        a.write_bytes(b.read_bytes())
        b.write_bytes(data)
    elif what == "missing-root":
        (store / "roots" / "jpki-test-sign-ca-02.pem").unlink()
    elif what == "bad-root":
        (store / "roots" / "jpki-test-sign-ca-02.pem").write_text("not a certificate")
    elif what == "bad-key":
        (store / "keys" / "TEST-ONLY-sign-ca-03.key.pem").write_text("JPKI SIMULATOR TEST KEY\n")
    elif what == "wrong-hierarchy":
        manifest["roots"]["auth"][0]["certificate"] = "roots/jpki-test-sign-ca-01.pem"
        manifest["roots"]["auth"][0]["key"] = "keys/TEST-ONLY-sign-ca-01.key.pem"
        manifest_path.write_text(json.dumps(manifest))
    elif what == "missing-db":
        (store / "pki.sqlite3").unlink()
    elif what == "corrupt-db":
        for extra in store.glob("pki.sqlite3-*"):
            extra.unlink()
        (store / "pki.sqlite3").write_bytes(b"this is not sqlite" * 100)
    elif what == "missing-generation":
        manifest["roots"]["sign"].pop()
        manifest_path.write_text(json.dumps(manifest))
    else:  # pragma: no cover
        raise AssertionError(what)


@pytest.mark.parametrize(
    ("what", "message"),
    [
        ("json", "not valid JSON"),
        ("foreign", "not a jpki simulator test PKI"),
        ("version", "unsupported test PKI version"),
        ("incomplete", "incomplete or invalid"),
        ("swapped-key", "does not match"),
        ("missing-root", "cannot read root certificate"),
        ("bad-root", "not a PEM certificate"),
        ("bad-key", "not an unencrypted PEM private key"),
        ("wrong-hierarchy", "not a test root of this hierarchy"),
        ("missing-db", "database is missing"),
        ("corrupt-db", "database is unreadable"),
        ("missing-generation", "do not match"),
    ],
)
def test_broken_directories_give_a_clear_error(store: Path, what: str, message: str) -> None:
    _break(store, what)
    with pytest.raises(PkiStoreError, match=message) as info:
        TestPki.load(store)
    assert info.value.path.is_relative_to(store)


def test_missing_directory(tmp_path: Path) -> None:
    with pytest.raises(PkiStoreError, match=r"no manifest\.json"):
        TestPki.load(tmp_path / "nowhere")


def test_default_directory(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("JPKI_SIM_CA", str(tmp_path / "x"))
    assert default_ca_directory() == tmp_path / "x"
    monkeypatch.delenv("JPKI_SIM_CA")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    assert default_ca_directory() == tmp_path / "data" / "jpki-sdk" / "simulator-test-ca"


def test_export_layout(store: Path, tmp_path: Path) -> None:
    with TestPki.load(store) as pki:
        card = pki.issue(Identity.generate(2, municipality_code="13221"), now=NOW)
        pki.revoke(card.auth_cert, at=NOW)
        old = pki.issue(Identity.generate(3, municipality_code="14104"), now=NOW, generation=2)
        out = tmp_path / "export"
        written = pki.export(out, now=LATER)
    names = sorted(str(p.relative_to(out)) for p in written["roots"] + written["crls"])
    assert names == sorted(
        [f"roots/jpki-test-{h}-ca-{g:02d}.pem" for h in ("auth", "sign") for g in (1, 2, 3)]
        + [f"crls/{h}/gen-{g:02d}/arl.crl" for h in ("auth", "sign") for g in (2, 3)]
        + [f"crls/{h}/gen-03/13221.crl" for h in ("auth", "sign")]
        + [f"crls/{h}/gen-02/14104.crl" for h in ("auth", "sign")]
    ), "generation 1 expired: no CRLs from it"
    assert "NOT J-LIS" in (out / "README.txt").read_text()
    index = json.loads((out / "index.json").read_text())
    assert {(r["hierarchy"], r["generation"]) for r in index["roots"]} == {
        (h, g) for h in ("auth", "sign") for g in (1, 2, 3)
    }
    by_file = {c["file"]: c for c in index["crls"]}
    entry = by_file["crls/auth/gen-03/13221.crl"]
    assert entry["distribution_point"] == (
        "C=JP, O=JPKI TEST, OU=JPKI TEST for user authentication, OU=CRL Distribution Points,"
        " OU=Tokyo-to, CN=Kiyose-shi CRLDP"
    )
    crl = x509.load_der_x509_crl((out / entry["file"]).read_bytes())
    root = x509.load_pem_x509_certificate((out / "roots/jpki-test-auth-ca-03.pem").read_bytes())
    key = root.public_key()
    assert isinstance(key, rsa.RSAPublicKey)
    assert crl.is_signature_valid(key)
    assert [r.serial_number for r in crl] == [card.auth_cert.serial_number]
    old_crl = x509.load_der_x509_crl((out / "crls/sign/gen-02/14104.crl").read_bytes())
    assert list(old_crl) == [] and old.sign_cert is not None


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)
manifest_paths = st.sampled_from(
    [
        ("seed",),
        ("ocsp_url",),
        ("version",),
        ("generations",),
        ("generations", 0),
        ("generations", 0, "not_before"),
        ("roots",),
        ("roots", "auth"),
        ("roots", "auth", 0),
        ("roots", "auth", 0, "generation"),
        ("roots", "sign", 1, "certificate"),
        ("roots", "sign", 2, "key"),
    ]
)


@settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(where=manifest_paths, value=json_values)
def test_any_manifest_damage_gives_a_store_error(
    store: Path, where: tuple[object, ...], value: object
) -> None:
    manifest_path = store / "manifest.json"
    original = manifest_path.read_text()
    manifest = json.loads(original)
    target = manifest
    for step in where[:-1]:
        target = target[step]
    target[where[-1]] = value
    manifest_path.write_text(json.dumps(manifest))
    try:
        loaded = TestPki.load(store)
    except PkiStoreError:
        pass
    else:  # the damage happened to be harmless (e.g. the same value): it still works
        assert len(loaded.roots(AUTH)) == 3
        loaded.close()
    finally:
        manifest_path.write_text(original)


def test_manifest_paths_must_stay_inside_the_directory(store: Path, tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere.pem"
    outside.write_bytes((store / "roots" / "jpki-test-auth-ca-01.pem").read_bytes())
    manifest = json.loads((store / "manifest.json").read_text())
    manifest["roots"]["auth"][0]["certificate"] = "../elsewhere.pem"
    (store / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(PkiStoreError, match="outside the directory"):
        TestPki.load(store)
