"""`jpki cert verify|show` through click's CliRunner (registered here under a stand-in root
group with the real global --json option, until the lead registers `cert` in cli/main.py)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import click
import pytest
from chains import NOW, ChainFactory
from click.testing import CliRunner
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from cli.cert import EXIT_CONFIG, EXIT_INVALID, cert
from cli.main import Settings
from jpki_sdk.verify import Purpose

DATA = Path(__file__).parent / "data"
AUTH_2023 = DATA / "jpki-auth-ee-2023-mynawallet.pem"
SYNTHETIC = DATA / "SYNTHETIC-sign-ee-profile-mynawallet.pem"


@click.group()
@click.option("--json", "json_output", is_flag=True)
@click.pass_context
def root(ctx: click.Context, json_output: bool) -> None:
    ctx.obj = Settings(json_output=json_output)


root.add_command(cert)


def run(*args: str) -> click.testing.Result:
    return CliRunner().invoke(root, list(args), catch_exceptions=False)


@pytest.fixture(scope="module")
def pki_dir(chains: ChainFactory, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Test roots, CRLs (one revoked serial) and certificates on disk."""
    base = tmp_path_factory.mktemp("pki")
    (base / "roots").mkdir()
    (base / "crls").mkdir()
    for purpose in Purpose:
        for generation in (1, 2, 3):
            root_cert = chains.root(purpose, generation).cert
            (base / "roots" / f"{purpose.value}-{generation}.pem").write_bytes(
                root_cert.public_bytes(serialization.Encoding.PEM)
            )
            crl = chains.crl(
                purpose,
                generation,
                [0x0699_0002] if (purpose, generation) == (Purpose.AUTH, 3) else [],
                this_update=NOW - dt.timedelta(hours=1),
                next_update=NOW + dt.timedelta(days=1),
            )
            (base / "crls" / f"{purpose.value}-{generation}.crl").write_bytes(
                crl.public_bytes(serialization.Encoding.DER)
            )
    for name, certificate in {
        "good-auth.pem": chains.ee(Purpose.AUTH, serial=0x0699_0001),
        "revoked-auth.pem": chains.ee(Purpose.AUTH, serial=0x0699_0002),
        "good-sign.pem": chains.ee(Purpose.SIGN, serial=0x0699_0003),
    }.items():
        (base / name).write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    return base


AT = NOW.isoformat()


def test_verify_real_certificate_inside_validity() -> None:
    result = run(
        "cert", "verify", str(AUTH_2023), "--purpose", "auth",
        "--at", "2025-06-01T00:00:00Z", "--revocation", "off",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert result.output.startswith("VALID: auth certificate, serial 06BFC341")
    assert "authca02 (J-LIS root, auth generation 2)" in result.output
    assert "mode off" in result.output
    assert "municipality 14104" in result.output


def test_verify_json(tmp_path: Path) -> None:
    result = run(
        "--json", "cert", "verify", str(AUTH_2023), "--purpose", "auth",
        "--at", "2025-06-01T09:00:00+09:00", "--revocation", "off",
    )  # fmt: skip
    assert result.exit_code == 0
    data = json.loads(result.output)
    assert data["valid"] is True
    assert data["root"]["name"] == "authca02"
    assert data["is_test_root"] is False
    assert data["revocation"]["mode"] == "off"
    assert data["validated_at"] == "2025-06-01T00:00:00+00:00"


def test_verify_expired_exits_1() -> None:
    result = run(
        "cert", "verify", str(AUTH_2023), "--purpose", "auth",
        "--at", "2027-12-07T15:00:00Z", "--revocation", "off",
    )  # fmt: skip
    assert result.exit_code == EXIT_INVALID
    assert result.output.startswith("INVALID: certificate_expired")
    data = json.loads(
        run(
            "--json", "cert", "verify", str(AUTH_2023), "--purpose", "sign",
            "--revocation", "off",
        ).output
    )  # fmt: skip
    assert data["valid"] is False
    assert data["error"]["code"] == "wrong_certificate_kind"


def test_verify_synthetic_signature_fails() -> None:
    result = run(
        "cert", "verify", str(SYNTHETIC), "--purpose", "sign",
        "--at", "2022-01-01T00:00:00Z", "--revocation", "off",
    )  # fmt: skip
    assert result.exit_code == EXIT_INVALID
    assert "certificate_signature_invalid" in result.output


def test_require_without_source_is_a_configuration_error() -> None:
    result = run("cert", "verify", str(AUTH_2023), "--purpose", "auth", "--at", AT)
    assert result.exit_code == EXIT_CONFIG
    assert "--crl" in result.output and "--revocation off" in result.output


def test_bad_arguments(tmp_path: Path) -> None:
    assert (
        run("cert", "verify", str(AUTH_2023), "--purpose", "auth", "--at", "2025-06-01").exit_code
        == 2
    )
    assert run("cert", "verify", str(AUTH_2023), "--purpose", "auth", "--at", "soon").exit_code == 2
    assert run("cert", "verify", str(AUTH_2023), "--purpose", "login").exit_code == 2
    junk = tmp_path / "junk.pem"
    junk.write_bytes(b"hello")
    result = run("cert", "verify", str(junk), "--purpose", "auth", "--revocation", "off")
    assert result.exit_code == EXIT_CONFIG
    assert "not a certificate" in result.output
    result = run("cert", "verify", str(AUTH_2023), "--purpose", "auth", "--test-roots", str(junk))
    assert result.exit_code == EXIT_CONFIG


def test_verify_with_test_roots_and_crls(pki_dir: Path) -> None:
    common = ["--at", AT, "--test-roots", str(pki_dir / "roots"), "--crl", str(pki_dir / "crls")]
    good = run("cert", "verify", str(pki_dir / "good-auth.pem"), "--purpose", "auth", *common)
    assert good.exit_code == 0, good.output
    assert "test-auth-03 (TEST root (explicitly trusted)" in good.output
    assert "good (crl; mode require)" in good.output
    assert "never accept this in production" in good.output
    revoked = run("cert", "verify", str(pki_dir / "revoked-auth.pem"), "--purpose", "auth", *common)
    assert revoked.exit_code == EXIT_INVALID
    assert revoked.output.startswith("INVALID: certificate_revoked")
    data = json.loads(
        run(
            "--json",
            "cert",
            "verify",
            str(pki_dir / "revoked-auth.pem"),
            "--purpose",
            "auth",
            *common,
        ).output
    )
    assert data["error"]["code"] == "certificate_revoked"
    assert data["revocation"]["source"] == "crl"
    # without the test roots the same certificate is untrusted
    plain = run(
        "cert", "verify", str(pki_dir / "good-auth.pem"), "--purpose", "auth", "--at", AT,
        "--revocation", "off",
    )  # fmt: skip
    assert plain.exit_code == EXIT_INVALID and "untrusted_issuer" in plain.output


def test_verify_with_persisted_crl_index(
    pki_dir: Path, chains: ChainFactory, tmp_path: Path
) -> None:
    from jpki_sdk.verify import FixedClock, TrustStore
    from jpki_sdk.verify.revocation import CrlIndex

    trust = TrustStore.default().with_test_roots(chains.roots())
    index = CrlIndex(
        tmp_path / "index", trusted_roots=[a.certificate for a in trust], clock=FixedClock(NOW)
    )
    for crl_file in sorted((pki_dir / "crls").iterdir()):
        index.ingest(crl_file.read_bytes(), source=str(crl_file))
    common = ["--at", AT, "--test-roots", str(pki_dir / "roots")]
    good = run(
        "cert", "verify", str(pki_dir / "good-auth.pem"), "--purpose", "auth", *common,
        "--crl-index", str(tmp_path / "index"),
    )  # fmt: skip
    assert good.exit_code == 0, good.output
    assert "good (crl-index; mode require)" in good.output
    revoked = run(
        "cert", "verify", str(pki_dir / "revoked-auth.pem"), "--purpose", "auth", *common,
        "--crl-index", str(tmp_path / "index"),
    )  # fmt: skip
    assert revoked.exit_code == EXIT_INVALID and "certificate_revoked" in revoked.output
    missing = run(
        "cert", "verify", str(pki_dir / "good-auth.pem"), "--purpose", "auth", *common,
        "--crl-index", str(tmp_path / "nowhere"),
    )  # fmt: skip
    assert missing.exit_code == EXIT_CONFIG and "jpki crl ingest" in missing.output


def test_verify_sign_masks_identity_unless_revealed(pki_dir: Path) -> None:
    args = [
        "cert", "verify", str(pki_dir / "good-sign.pem"), "--purpose", "sign", "--at", AT,
        "--test-roots", str(pki_dir / "roots"), "--revocation", "soft-fail",
        "--crl", str(pki_dir / "crls"),
    ]  # fmt: skip
    masked = run(*args)
    assert masked.exit_code == 0, masked.output
    assert "<masked>" in masked.output and "試験" not in masked.output
    revealed = run(*args, "--reveal")
    assert "試験" in revealed.output


def test_missing_crl_partition_fails_in_require_mode(pki_dir: Path, tmp_path: Path) -> None:
    empty = tmp_path / "no-crls"
    empty.mkdir()
    result = run(
        "cert", "verify", str(pki_dir / "good-auth.pem"), "--purpose", "auth", "--at", AT,
        "--test-roots", str(pki_dir / "roots"), "--crl", str(empty),
    )  # fmt: skip
    assert result.exit_code == EXIT_INVALID
    assert "revocation_unavailable" in result.output
    soft = run(
        "cert", "verify", str(pki_dir / "good-auth.pem"), "--purpose", "auth", "--at", AT,
        "--test-roots", str(pki_dir / "roots"), "--crl", str(empty), "--revocation", "soft-fail",
    )  # fmt: skip
    assert soft.exit_code == 0
    assert "mode soft-fail" in soft.output


def test_verify_with_ocsp_responder(tmp_path: Path) -> None:
    pki_module = pytest.importorskip("simulator.pki")
    ocsp_module = pytest.importorskip("simulator.ocsp")
    pytest.importorskip("jpki_sdk.verify.revocation.ocsp")
    from simulator.identity import Identity

    pki = pki_module.TestPki.ephemeral(seed=9)
    now = dt.datetime.now(dt.timezone.utc)
    card = pki.issue(Identity.generate(31), now=now - dt.timedelta(days=1))
    roots = tmp_path / "roots"
    roots.mkdir()
    for i, root_cert in enumerate(pki.roots("auth")):
        (roots / f"auth-{i}.pem").write_bytes(root_cert.public_bytes(serialization.Encoding.PEM))
    cert_file = tmp_path / "auth.pem"
    cert_file.write_bytes(card.auth_cert.public_bytes(serialization.Encoding.PEM))
    with ocsp_module.OcspResponder(pki) as responder:
        result = run(
            "cert", "verify", str(cert_file), "--purpose", "auth",
            "--test-roots", str(roots), "--ocsp", responder.url,
        )  # fmt: skip
        assert result.exit_code == 0, result.output
        assert "good (ocsp; mode require)" in result.output
        pki.revoke(card.auth_cert, reason="key_compromise", at=now - dt.timedelta(minutes=5))
        revoked = run(
            "cert", "verify", str(cert_file), "--purpose", "auth",
            "--test-roots", str(roots), "--ocsp", responder.url,
        )  # fmt: skip
        assert revoked.exit_code == EXIT_INVALID, revoked.output
        assert "certificate_revoked" in revoked.output


def test_show_real_certificate() -> None:
    result = run("cert", "show", str(AUTH_2023))
    assert result.exit_code == 0, result.output
    assert "利用者証明用" in result.output
    assert "authca02 (J-LIS root, generation 2): signature verifies" in result.output
    assert "CN:          412594E75JACJM14104003A (municipality 14104)" in result.output
    assert "Kanagawa-ken / Yokohama-shi-Naka-ku" in result.output
    data = json.loads(run("--json", "cert", "show", str(AUTH_2023)).output)
    assert data["kind"] == "auth"
    assert data["policies"] == ["1.2.392.200149.8.5.1.3.30"]
    assert data["root"]["name"] == "authca02" and data["root"]["signature_verifies"] is True


def test_show_signature_certificate_masks_identity() -> None:
    masked = run("cert", "show", str(SYNTHETIC))
    assert masked.exit_code == 0
    assert "署名用" in masked.output
    assert "SIGNATURE DOES NOT VERIFY" in masked.output
    assert "<masked>" in masked.output and "なかもと" not in masked.output
    revealed = json.loads(run("--json", "cert", "show", str(SYNTHETIC), "--reveal").output)
    assert revealed["identity"]["name"] == "なかもと\u3000さとし"
    assert revealed["identity"]["birth_date"] == "2008-10-31"


def test_show_unusual_certificates(chains: ChainFactory, tmp_path: Path) -> None:
    root_file = tmp_path / "root.der"
    root_file.write_bytes(
        chains.root(Purpose.AUTH, 1).cert.public_bytes(serialization.Encoding.DER)
    )
    result = run("cert", "show", str(root_file))
    assert result.exit_code == 0
    assert "not a JPKI end-entity certificate" in result.output
    assert "no trusted root matches" in result.output
    broken = x509.UnrecognizedExtension(x509.ObjectIdentifier("2.5.29.15"), b"\x05\x00")
    odd = tmp_path / "odd.pem"
    odd.write_bytes(
        chains.ee(Purpose.AUTH, key_usage=set(), extra=[(broken, True)]).public_bytes(
            serialization.Encoding.PEM
        )
    )
    result = run("cert", "show", str(odd))
    assert result.exit_code == 0
    assert "extension_malformed" in result.output
