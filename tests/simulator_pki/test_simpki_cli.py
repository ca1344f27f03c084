"""`jpki sim revoke` and `jpki sim ca ...` (called through click's CliRunner and a subprocess)."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path
from types import SimpleNamespace

import pytest
from click.testing import CliRunner
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509 import ocsp
from simpki_support import NOW

from cli.sim_ca import ca, revoke
from simulator.identity import Identity
from simulator.pki import AUTH, SIGN, IssuedCard, TestPki

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def ca_dir(tmp_path: Path) -> Path:
    path = tmp_path / "ca"
    result = CliRunner().invoke(ca, ["init", "--ca", str(path), "--seed", "7"])
    assert result.exit_code == 0, result.output
    assert "TEST ONLY" in result.output
    return path


def _issue(ca_dir: Path, seed: int, **kw: object) -> IssuedCard:
    with TestPki.load(ca_dir) as pki:
        return pki.issue(Identity.generate(seed), now=NOW, **kw)  # type: ignore[arg-type]


def _pem(cert: x509.Certificate, path: Path) -> Path:
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return path


def test_init_refuses_an_existing_ca(ca_dir: Path) -> None:
    result = CliRunner().invoke(ca, ["init", "--ca", str(ca_dir)])
    assert result.exit_code != 0 and "exists" in result.output


def test_show(ca_dir: Path) -> None:
    _issue(ca_dir, 1)
    result = CliRunner().invoke(ca, ["show", "--ca", str(ca_dir)])
    assert result.exit_code == 0, result.output
    assert "auth root 01" in result.output and "(expired)" in result.output
    assert "issued certificates: 2, revoked: 0" in result.output
    as_json = CliRunner().invoke(
        ca, ["show", "--ca", str(ca_dir)], obj=SimpleNamespace(json_output=True)
    )
    data = json.loads(as_json.output)
    assert data["issued"] == 2 and len(data["roots"]) == 6
    assert data["roots"][0]["expired"] is True


def test_missing_ca_gives_a_hint(tmp_path: Path) -> None:
    result = CliRunner().invoke(ca, ["show", "--ca", str(tmp_path / "none")])
    assert result.exit_code == 1
    assert "jpki sim ca init" in result.output


def test_ca_from_the_environment(ca_dir: Path) -> None:
    result = CliRunner().invoke(ca, ["show"], env={"JPKI_SIM_CA": str(ca_dir)})
    assert result.exit_code == 0 and str(ca_dir) in result.output


def test_revoke_certificate_files(ca_dir: Path, tmp_path: Path) -> None:
    card = _issue(ca_dir, 2)
    assert card.sign_cert is not None
    auth_pem = _pem(card.auth_cert, tmp_path / "auth.pem")
    sign_der = tmp_path / "sign.der"
    sign_der.write_bytes(card.sign_cert.public_bytes(serialization.Encoding.DER))
    result = CliRunner().invoke(
        revoke,
        ["--ca", str(ca_dir), "--reason", "keyCompromise", "--at", "2026-11-28T00:00:00Z",
         str(auth_pem), str(sign_der)],
        obj=SimpleNamespace(json_output=True),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)["revoked"]
    assert [(r["hierarchy"], r["already_revoked"]) for r in data] == [
        (AUTH, False),
        (SIGN, False),
    ]
    assert data[0]["serial"] == f"{card.auth_cert.serial_number:08X}"
    assert data[0]["revoked_at"] == "2026-11-28T00:00:00+00:00"
    with TestPki.load(ca_dir) as pki:
        record = pki.lookup(AUTH, card.auth_cert.serial_number)
        assert record is not None and record.revocation is not None
        assert record.revocation.reason is x509.ReasonFlags.key_compromise
    again = CliRunner().invoke(revoke, ["--ca", str(ca_dir), str(auth_pem)])
    assert again.exit_code == 0 and again.output.startswith("already revoked")


def test_revoke_only_one_kind(ca_dir: Path, tmp_path: Path) -> None:
    card = _issue(ca_dir, 3)
    assert card.sign_cert is not None
    both = tmp_path / "both.pem"
    both.write_bytes(
        card.auth_cert.public_bytes(serialization.Encoding.PEM)
        + card.sign_cert.public_bytes(serialization.Encoding.PEM)
    )
    result = CliRunner().invoke(revoke, ["--ca", str(ca_dir), "--which", "sign", str(both)])
    assert result.exit_code == 0, result.output
    assert "revoked: sign certificate" in result.output and "auth" not in result.output
    with TestPki.load(ca_dir) as pki:
        assert [r.hierarchy for r in pki.revocations()] == [SIGN]


def test_revoke_errors(ca_dir: Path, tmp_path: Path, stranger_cert: x509.Certificate) -> None:
    foreign = _pem(stranger_cert, tmp_path / "foreign.pem")
    result = CliRunner().invoke(revoke, ["--ca", str(ca_dir), str(foreign)])
    assert result.exit_code == 1 and "no certificate issued by the test CA" in result.output
    junk = tmp_path / "junk.bin"
    junk.write_bytes(b"\x00\x01junk")
    result = CliRunner().invoke(revoke, ["--ca", str(ca_dir), str(junk)])
    assert result.exit_code == 1 and "neither a certificate nor a card state" in result.output
    card = _issue(ca_dir, 4, sign=False)
    auth = _pem(card.auth_cert, tmp_path / "a.pem")
    result = CliRunner().invoke(revoke, ["--ca", str(ca_dir), "--reason", "stolen", str(auth)])
    assert result.exit_code == 2
    result = CliRunner().invoke(revoke, ["--ca", str(ca_dir), "--at", "yesterday", str(auth)])
    assert result.exit_code == 2 and "ISO 8601" in result.output
    result = CliRunner().invoke(
        revoke, ["--ca", str(ca_dir), "--at", "2026-01-01T00:00", str(auth)]
    )
    assert result.exit_code == 2 and "time zone" in result.output
    result = CliRunner().invoke(revoke, ["--ca", str(ca_dir), "--which", "sign", str(auth)])
    assert result.exit_code == 1 and "no sign certificate" in result.output
    with TestPki.load(ca_dir) as fresh:
        assert fresh.revocations() == []


def test_revoke_a_card_state_file(ca_dir: Path, tmp_path: Path) -> None:
    provision = pytest.importorskip("simulator.provision")
    with TestPki.load(ca_dir) as pki:
        state = provision.new_card(pki, Identity.generate(5), now=NOW)
    path = tmp_path / "card.jpkisim"
    state.save(path)
    result = CliRunner().invoke(revoke, ["--ca", str(ca_dir), "--reason", "superseded", str(path)])
    assert result.exit_code == 0, result.output
    assert result.output.count("revoked: ") == 2  # auth + sign, never the CA certificates
    with TestPki.load(ca_dir) as pki:
        assert sorted(r.hierarchy for r in pki.revocations()) == [AUTH, SIGN]


def test_export_and_crl(ca_dir: Path, tmp_path: Path) -> None:
    card = _issue(ca_dir, 6)
    _pem(card.auth_cert, tmp_path / "c.pem")
    # both times fixed: a revocation at the real present would fall after a fixed export time
    # once the wall clock passes it (it did, on the day the test was written)
    revoked_at = (NOW + dt.timedelta(hours=1)).isoformat()
    exported_at = (NOW + dt.timedelta(hours=2)).isoformat()
    result = CliRunner().invoke(
        revoke, ["--ca", str(ca_dir), "--at", revoked_at, str(tmp_path / "c.pem")]
    )
    assert result.exit_code == 0, result.output
    out = tmp_path / "export"
    result = CliRunner().invoke(ca, ["export", "--ca", str(ca_dir), "--now", exported_at, str(out)])
    assert result.exit_code == 0, result.output
    assert "wrote 6 test roots" in result.output
    assert (out / "index.json").is_file()
    code = card.identity.municipality_code
    crl = x509.load_der_x509_crl((out / f"crls/auth/gen-03/{code}.crl").read_bytes())
    assert crl.get_revoked_certificate_by_serial_number(card.auth_cert.serial_number)

    crl_dir = tmp_path / "crls"
    result = CliRunner().invoke(ca, ["crl", "--ca", str(ca_dir), str(crl_dir)])
    assert result.exit_code == 0, result.output
    assert sorted(p.relative_to(crl_dir).as_posix() for p in crl_dir.rglob("*.crl")) == [
        f"auth/gen-03/{code}.crl",
        f"sign/gen-03/{code}.crl",
    ]

    bulk = tmp_path / "bulk.crl"
    result = CliRunner().invoke(
        ca,
        ["crl", "--ca", str(ca_dir), "--bulk", "2000", "--municipality", code,
         "--now", "2026-11-27T08:00:00Z", str(bulk)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    big = x509.load_der_x509_crl(bulk.read_bytes())
    assert len(big) == 2001  # 2000 synthetic + the real revocation
    assert big.last_update_utc == dt.datetime(2026, 11, 27, 8, tzinfo=dt.timezone.utc)
    result = CliRunner().invoke(
        ca, ["crl", "--ca", str(ca_dir), "--bulk", "5", "--municipality", "99999", str(bulk)]
    )
    assert result.exit_code == 1 and "unknown municipality" in result.output


def test_ocsp_command_serves_until_interrupted(ca_dir: Path) -> None:
    card = _issue(ca_dir, 7, sign=False)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(
        [sys.executable, "-c", "from cli.sim_ca import ca; ca(prog_name='ca')",
         "ocsp", "--ca", str(ca_dir), "--port", "0", "--mode", "delegated"],
        stderr=subprocess.PIPE, stdout=subprocess.PIPE, env=env, cwd=REPO, text=True,
    )  # fmt: skip
    try:
        assert proc.stderr is not None
        line = proc.stderr.readline()
        match = re.search(r"at (http://127\.0\.0\.1:\d+/)", line)
        assert match, line
        body = (
            ocsp.OCSPRequestBuilder()
            .add_certificate(card.auth_cert, card.auth_ca_cert, hashes.SHA1())  # noqa: S303
            .build()
            .public_bytes(serialization.Encoding.DER)
        )
        req = urllib.request.Request(match.group(1), data=body)  # noqa: S310 - loopback
        with urllib.request.urlopen(req, timeout=30) as resp:  # noqa: S310 - loopback
            answer = ocsp.load_der_ocsp_response(resp.read())
        assert answer.certificate_status is ocsp.OCSPCertStatus.GOOD
        assert len(answer.certificates) == 1  # delegated responder certificate included
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
    assert proc.returncode == 0


def test_ocsp_command_refuses_a_public_address(ca_dir: Path) -> None:
    result = CliRunner().invoke(ca, ["ocsp", "--ca", str(ca_dir), "--host", "0.0.0.0"])  # noqa: S104
    assert result.exit_code == 2 and "loopback" in result.output


def _public_numbers(state_path: Path) -> list[rsa.RSAPublicNumbers]:
    from simulator.state import CardState

    state = CardState.load(state_path)
    return [state.keys[name].public_key().public_numbers() for name in ("auth", "sign")]


def test_sim_init_with_the_same_seed_gives_the_same_keys(ca_dir: Path, tmp_path: Path) -> None:
    """``jpki sim init --seed N`` twice against one persistent CA: the same card keys."""
    from cli.sim import sim

    paths = [tmp_path / f"card{i}.jpkisim" for i in range(3)]
    for path, seed in zip(paths, ("4", "4", "5"), strict=True):
        result = CliRunner().invoke(sim, ["init", str(path), "--seed", seed, "--ca", str(ca_dir)])
        assert result.exit_code == 0, result.output
    first, second, other = (_public_numbers(p) for p in paths)
    assert first == second
    assert all(a != b for a, b in zip(first, other, strict=True))


def test_new_card_same_seed_same_keys_other_identity_other_keys(ca_dir: Path) -> None:
    provision = pytest.importorskip("simulator.provision")
    person, stranger = Identity.generate(11), Identity.generate(12)
    later = NOW + dt.timedelta(days=1)
    with TestPki.load(ca_dir) as pki:
        a = provision.new_card(pki, person, seed=2, now=NOW)
        again = provision.new_card(pki, person, seed=2, now=NOW)
        renewed = provision.new_card(pki, person, seed=2, now=later)
        other = provision.new_card(pki, stranger, seed=2, now=NOW)

    def public(state: object, name: str) -> rsa.RSAPublicNumbers:
        return state.keys[name].public_key().public_numbers()  # type: ignore[attr-defined]

    def auth_serial(state: object) -> int:
        ef = state.application("jpki").get(0x000A)  # type: ignore[attr-defined]
        return x509.load_der_x509_certificate(ef.content[: ef.object_length]).serial_number

    for name in ("auth", "sign"):
        assert public(a, name) == public(again, name) == public(renewed, name)
        assert public(other, name) != public(a, name)
    # Same issuance time: the very same certificate; another time: a new serial (the CA never
    # gives one serial to two different certificates).
    assert auth_serial(a) == auth_serial(again)
    assert auth_serial(renewed) != auth_serial(a)
