"""The card commands through click's runner, on simulated cards (state files)."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner, Result
from cryptography import x509
from simrig import StateCache

from cli.card import CARD_COMMANDS, EXIT_CODES
from cli.card_cert import attach
from cli.main import Settings


@click.group()
@click.option("--json", "json_output", is_flag=True)
@click.option("--trace", is_flag=True)
@click.pass_context
def root(ctx: click.Context, json_output: bool, trace: bool) -> None:
    ctx.obj = Settings(json_output=json_output, trace=trace)


for _command in CARD_COMMANDS:
    root.add_command(_command)


@root.group("cert")
def cert_group() -> None:
    """The card half of `jpki cert`."""


attach(cert_group)

ENV = {"JPKI_PIN": "1234", "JPKI_SIGN_PASSWORD": "TESTPASS1"}


@pytest.fixture
def card_file(state_cache: StateCache, tmp_path: Path) -> Path:
    path = tmp_path / "card.json"
    state_cache.state().save(path)
    return path


def run(*args: str, env: dict[str, str] | None = None, input: str | None = None) -> Result:
    runner = CliRunner()
    full_env = {"JPKI_READER": "", "JPKI_SIMULATOR": "", **(env or {})}
    clean = {k: (v or None) for k, v in full_env.items()}
    return runner.invoke(root, list(args), env=clean, input=input, catch_exceptions=False)


def data(result: Result) -> Any:
    return json.loads(result.stdout)


def test_exit_codes_are_documented() -> None:
    assert set(EXIT_CODES) == set(range(10))


def test_status(card_file: Path) -> None:
    result = run("--json", "status", "--simulator", str(card_file))
    assert result.exit_code == 0, result.output
    out = data(result)
    assert out["token"]["type"] == "my_number_card"
    assert {k: v["remaining"] for k, v in out["pins"].items()} == {"auth": 3, "sign": 5, "text": 3}
    assert out["certificates"] == {"auth": True, "sign": True}
    text = run("status", env={"JPKI_SIMULATOR": str(card_file)})
    assert text.exit_code == 0 and "3/3 tries left" in text.stdout


def test_command_line_source_wins_over_the_environment(card_file: Path) -> None:
    result = run("status", "--simulator", str(card_file), env={"JPKI_READER": "Some Reader"})
    assert result.exit_code == 0, result.output
    both = run("status", "--simulator", str(card_file), "--reader", "R")
    assert both.exit_code == 2


def test_pin_status_one_kind(card_file: Path) -> None:
    result = run("--json", "pin", "status", "sign", "--simulator", str(card_file))
    assert result.exit_code == 0
    assert data(result)["pins"] == {
        "sign": {"remaining": 5, "max": 5, "blocked": False, "last_attempt": False}
    }


def test_sign_then_verify(card_file: Path, tmp_path: Path) -> None:
    message = tmp_path / "doc.txt"
    message.write_bytes(b"contract text")
    sig, cert = tmp_path / "doc.sig", tmp_path / "signer.pem"
    result = run(
        "sign",
        str(message),
        "--key",
        "sign",
        "-o",
        str(sig),
        "--cert-out",
        str(cert),
        "--simulator",
        str(card_file),
        env=ENV,
    )
    assert result.exit_code == 0, result.output
    assert len(sig.read_bytes()) == 256
    ok = run("verify", str(message), str(sig), "--cert", str(cert))
    assert ok.exit_code == 0 and "valid" in ok.stdout
    message.write_bytes(b"contract text, altered")
    bad = run("verify", str(message), str(sig), "--cert", str(cert))
    assert bad.exit_code == 1


def test_sign_reads_the_pin_from_a_hidden_prompt(card_file: Path, tmp_path: Path) -> None:
    message = tmp_path / "m"
    message.write_bytes(b"x")
    result = run(
        "sign",
        str(message),
        "-o",
        str(tmp_path / "s"),
        "--simulator",
        str(card_file),
        input="1234\n",
    )
    assert result.exit_code == 0, result.output
    assert "1234" not in result.output  # hidden input is not echoed


def test_there_is_no_pin_option(card_file: Path, tmp_path: Path) -> None:
    message = tmp_path / "m"
    message.write_bytes(b"x")
    result = CliRunner().invoke(
        root, ["sign", str(message), "-o", str(tmp_path / "s"), "--pin", "1234"]
    )
    assert result.exit_code == 2


def test_wrong_pin_blocked_and_last_attempt_exit_codes(card_file: Path, tmp_path: Path) -> None:
    message = tmp_path / "m"
    message.write_bytes(b"x")
    args = [
        "--json",
        "sign",
        str(message),
        "-o",
        str(tmp_path / "s"),
        "--simulator",
        str(card_file),
    ]
    wrong = run(*args, env={"JPKI_PIN": "9999"})
    assert wrong.exit_code == 5
    assert data(wrong)["error"]["remaining"] == 2 and "9999" not in wrong.output
    run(*args, env={"JPKI_PIN": "9999"})
    last = run(*args, env={"JPKI_PIN": "9999"})
    assert last.exit_code == 7 and data(last)["error"]["type"] == "LastAttemptRefusedError"
    blocked = run(*args, "--allow-last-attempt", env={"JPKI_PIN": "9999"})
    assert blocked.exit_code == 6
    again = run(*args, env={"JPKI_PIN": "1234"})
    assert again.exit_code == 6


def test_bad_format_exit_7_and_no_card_exit_4(card_file: Path, tmp_path: Path) -> None:
    message = tmp_path / "m"
    message.write_bytes(b"x")
    bad = run(
        "sign",
        str(message),
        "-o",
        str(tmp_path / "s"),
        "--simulator",
        str(card_file),
        env={"JPKI_PIN": "12"},
    )
    assert bad.exit_code == 7
    missing = run("status", "--simulator", str(tmp_path / "nowhere.json"))
    assert missing.exit_code == 4


def test_info_is_masked_unless_revealed(card_file: Path, state_cache: StateCache) -> None:
    identity = state_cache.state().identity
    assert identity is not None
    masked = run("--json", "info", "--simulator", str(card_file), env=ENV)
    assert masked.exit_code == 0, masked.output
    for secret in (identity["given_name"], identity["my_number"], identity["birth_date"]):
        assert secret not in masked.output
    out = data(masked)
    assert out["my_number"].endswith(identity["my_number"][-4:]) and out["masked"]
    assert out["verified_identity"] is False
    revealed = run("--json", "info", "--reveal", "--simulator", str(card_file), env=ENV)
    shown = data(revealed)
    assert shown["my_number"] == identity["my_number"]
    assert shown["basic_info"]["address"] == identity["address"]


def test_pin_change_from_environment(card_file: Path) -> None:
    env = {**ENV, "JPKI_NEW_PIN": "2468"}
    assert run("pin", "change", "auth", "--simulator", str(card_file), env=env).exit_code == 0
    wrong = run("--json", "pin", "change", "auth", "--simulator", str(card_file), env=env)
    assert wrong.exit_code == 5  # the old PIN no longer works


@pytest.mark.parametrize("fmt", ["pem", "der", "text"])
def test_cert_export(card_file: Path, tmp_path: Path, fmt: str) -> None:
    out = tmp_path / f"auth.{fmt}"
    result = run(
        "cert", "export", "auth", "--format", fmt, "-o", str(out), "--simulator", str(card_file)
    )
    assert result.exit_code == 0, result.output
    raw = out.read_bytes()
    if fmt == "pem":
        x509.load_pem_x509_certificate(raw)
    elif fmt == "der":
        x509.load_der_x509_certificate(raw)
    else:
        assert b"kind:" in raw


def test_cert_export_sign_needs_the_password(card_file: Path, tmp_path: Path) -> None:
    result = run(
        "cert",
        "export",
        "sign",
        "--simulator",
        str(card_file),
        env={"JPKI_SIGN_PASSWORD": "testpass1"},
    )
    assert result.exit_code == 0
    cert = x509.load_pem_x509_certificate(result.stdout_bytes)
    assert cert.subject.get_attributes_for_oid(x509.NameOID.COUNTRY_NAME)
    shown = run("--json", "cert", "show-card", "sign", "--simulator", str(card_file), env=ENV)
    assert shown.exit_code == 0, shown.output
    assert data(shown)["kind"] == "sign"


def test_trace_masks_the_pin(
    card_file: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(5, logger="apdu.traffic")
    message = tmp_path / "m"
    message.write_bytes(b"x")
    result = run(
        "--trace",
        "sign",
        str(message),
        "-o",
        str(tmp_path / "s"),
        "--simulator",
        str(card_file),
        env={"JPKI_PIN": "1357"},
    )
    assert result.exit_code == 5  # the card's PIN is 1234
    verifies = [r.getMessage() for r in caplog.records if "VERIFY" in r.getMessage()]
    assert any("XX XX XX XX" in line for line in verifies)
    assert not any("31 33 35 37" in r.getMessage() for r in caplog.records)
    logging.getLogger("apdu.traffic").setLevel(logging.NOTSET)


@pytest.mark.pcsc
def test_readers_and_status_through_pcsc(pcsc_stack: Any, card_file: Path) -> None:
    import os
    import sys

    from simrig import HERE, REPO

    argv = [
        sys.executable,
        str(HERE / "sim_vpcd_handler.py"),
        "--handler",
        "sim_vpcd_handler:factory",
        "--port",
        str(pcsc_stack.port(0)),
        "--",
        str(card_file),
    ]
    proc = pcsc_stack.start_card(
        argv, name="cli", env={"PYTHONPATH": os.pathsep.join([str(HERE), str(REPO)])}
    )
    try:
        pcsc_stack.wait_for_card(0)
        listed = run("--json", "readers")
        assert listed.exit_code == 0, listed.output
        readers = {r["name"]: r for r in data(listed)["readers"]}
        assert readers[pcsc_stack.reader_name(0)]["token"] == "JPKIAPICCTOKEN2"
        result = run("--json", "status", "--reader", pcsc_stack.reader_name(0))
        assert result.exit_code == 0, result.output
        assert data(result)["pins"]["auth"]["remaining"] == 3
    finally:
        pcsc_stack.stop_card(proc)
        pcsc_stack.wait_for_card(0, present=False)
    empty = run("--json", "status", "--reader", pcsc_stack.reader_name(0))
    assert empty.exit_code == 4


def test_trace_hides_personal_data(
    card_file: Path, state_cache: StateCache, caplog: pytest.LogCaptureFixture
) -> None:
    identity = state_cache.state().identity
    assert identity is not None
    caplog.set_level(5, logger="apdu.traffic")
    result = run("--trace", "info", "--simulator", str(card_file), env=ENV)
    assert result.exit_code == 0, result.output
    signed = run("--trace", "cert", "export", "sign", "--simulator", str(card_file), env=ENV)
    assert signed.exit_code == 0
    trace = "\n".join(r.getMessage() for r in caplog.records)
    assert "READ BINARY" in trace
    for value in (identity["my_number"], identity["address"], identity["family_name"]):
        for encoded in (value.encode(), value.encode("utf-8")):
            assert encoded.hex(" ").upper() not in trace
    # The 12 ASCII digits of the 個人番号 as the card sends them.
    assert identity["my_number"].encode().hex(" ").upper()[:20] not in trace
    logging.getLogger("apdu.traffic").setLevel(logging.NOTSET)
