"""Interoperability with OpenSSL's own tools: chains, CRLs and OCSP (subprocess)."""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from simpki_support import NOW

from simulator.identity import Identity
from simulator.ocsp import OcspResponder
from simulator.pki import SIGN, CrlKey, IssuedCard, TestPki

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="needs openssl")

#: Verification time for openssl (-attime): a day after issuance, independent of the wall clock.
AT = str(int((NOW + dt.timedelta(days=1)).timestamp()))


def openssl(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["openssl", *args], capture_output=True, text=True, timeout=60)


@pytest.fixture(scope="module")
def exported(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[TestPki, IssuedCard, Path]]:
    pki = TestPki.ephemeral(seed=7)
    card = pki.issue(Identity.generate(2001), now=NOW)
    out = tmp_path_factory.mktemp("export")
    pki.revoke(card.auth_cert, "keyCompromise", at=NOW)
    pki.export(out, now=NOW + dt.timedelta(hours=1))
    (out / "auth.pem").write_bytes(card.auth_cert.public_bytes(serialization.Encoding.PEM))
    assert card.sign_cert is not None
    (out / "sign.pem").write_bytes(card.sign_cert.public_bytes(serialization.Encoding.PEM))
    yield pki, card, out


@pytest.mark.parametrize("kind", ["auth", "sign"])
def test_chain_verifies_against_the_exported_root(
    exported: tuple[TestPki, IssuedCard, Path], kind: str
) -> None:
    _, card, out = exported
    root = out / "roots" / f"jpki-test-{kind}-ca-{card.generation:02d}.pem"
    ok = openssl(
        "verify", "-attime", AT, "-x509_strict", "-CAfile", str(root), str(out / f"{kind}.pem")
    )
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert ok.stdout.strip().endswith(": OK")
    # The previous generation shares the DN but not the key: no chain.
    other = out / "roots" / f"jpki-test-{kind}-ca-{card.generation - 1:02d}.pem"
    bad = openssl("verify", "-attime", AT, "-CAfile", str(other), str(out / f"{kind}.pem"))
    assert bad.returncode != 0
    # And the other hierarchy's root does not verify it either.
    cross = "sign" if kind == "auth" else "auth"
    wrong = out / "roots" / f"jpki-test-{cross}-ca-{card.generation:02d}.pem"
    assert (
        openssl("verify", "-attime", AT, "-CAfile", str(wrong), str(out / f"{kind}.pem")).returncode
        != 0
    )


def test_auth_certificate_passes_the_client_purpose(
    exported: tuple[TestPki, IssuedCard, Path],
) -> None:
    _, card, out = exported
    root = out / "roots" / f"jpki-test-auth-ca-{card.generation:02d}.pem"
    ok = openssl(
        "verify",
        "-attime",
        AT,
        "-purpose",
        "sslclient",
        "-CAfile",
        str(root),
        str(out / "auth.pem"),
    )
    assert ok.returncode == 0, ok.stdout + ok.stderr


def test_exported_crl_and_revocation_check(exported: tuple[TestPki, IssuedCard, Path]) -> None:
    _, card, out = exported
    code = card.identity.municipality_code
    root = out / "roots" / f"jpki-test-auth-ca-{card.generation:02d}.pem"
    crl = out / "crls" / "auth" / f"gen-{card.generation:02d}" / f"{code}.crl"
    text = openssl("crl", "-inform", "DER", "-in", str(crl), "-noout", "-text")
    assert text.returncode == 0, text.stderr
    assert f"Serial Number: {card.auth_cert.serial_number:08X}" in text.stdout
    assert "Key Compromise" in text.stdout
    assert "Issuing Distribution Point: critical" in text.stdout
    checked = openssl("crl", "-inform", "DER", "-in", str(crl), "-noout", "-CAfile", str(root))
    assert checked.returncode == 0 and "verify OK" in checked.stderr + checked.stdout
    pem_crl = out / "auth-crl.pem"
    conv = openssl("crl", "-inform", "DER", "-in", str(crl), "-out", str(pem_crl))
    assert conv.returncode == 0
    revoked = openssl(
        "verify", "-attime", str(int((NOW + dt.timedelta(hours=2)).timestamp())), "-crl_check",
        "-CAfile", str(root), "-CRLfile", str(pem_crl), str(out / "auth.pem"),
    )  # fmt: skip
    assert revoked.returncode != 0
    assert "certificate revoked" in revoked.stdout + revoked.stderr


def test_large_crl_is_readable_by_openssl(exported: tuple[TestPki, IssuedCard, Path]) -> None:
    pki, _, out = exported
    path = out / "large.crl"
    pki.write_large_crl(path, CrlKey(SIGN, 3, "13221"), 20_000, now=NOW)
    root = out / "roots" / "jpki-test-sign-ca-03.pem"
    checked = openssl("crl", "-inform", "DER", "-in", str(path), "-noout", "-CAfile", str(root))
    assert checked.returncode == 0 and "verify OK" in checked.stderr + checked.stdout
    text = openssl("crl", "-inform", "DER", "-in", str(path), "-noout", "-text")
    assert text.stdout.count("Serial Number:") == 20_000


@pytest.mark.parametrize("mode", ["ca", "delegated"])
def test_openssl_ocsp_client(exported: tuple[TestPki, IssuedCard, Path], mode: str) -> None:
    pki, card, out = exported
    root = out / "roots" / f"jpki-test-auth-ca-{card.generation:02d}.pem"
    with OcspResponder(pki, mode=mode) as responder:
        result = openssl(
            "ocsp", "-issuer", str(root), "-cert", str(out / "auth.pem"), "-url", responder.url,
            "-CAfile", str(root),
        )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Response verify OK" in result.stderr
    assert ": revoked" in result.stdout and "keyCompromise" in result.stdout
