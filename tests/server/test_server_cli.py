"""`jpki login` against a live service with a simulated card in a state file, and
`jpki serve` (new key, --check, bad configuration, a real server process)."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from authkit import BIRTH_DATE, ISSUED_AT, ORIGIN
from click.testing import CliRunner
from redis_server import free_port
from serverkit import API_KEY, OTHER_ORIGIN, LiveServer

from cli.login import login
from cli.main import Settings
from cli.serve import serve
from jpki_sdk.server import hash_api_key
from simulator.card import SimulatedCard
from simulator.identity import Identity
from simulator.provision import DEFAULT_AUTH_PIN, DEFAULT_SIGN_PASSWORD

HOLDER = dataclasses.replace(Identity.generate(43), birth_date=BIRTH_DATE)


@pytest.fixture
def card_file(card_factory: Callable[..., SimulatedCard], tmp_path: Path) -> Path:
    path = tmp_path / "card.json"
    card_factory(HOLDER, issued_at=ISSUED_AT, path=path).close()
    return path


def run_login(
    live_url: str, card_file: Path, *args: str, json_output: bool = False, **env: str
) -> object:
    environment = {"JPKI_API_KEY": API_KEY, "JPKI_PIN": DEFAULT_AUTH_PIN} | env
    return CliRunner().invoke(
        login,
        ["--service", live_url, "--origin", ORIGIN, "--simulator", str(card_file), *args],
        obj=Settings(json_output=json_output),
        env=environment,
        catch_exceptions=False,
    )


def test_login(live: LiveServer, card_file: Path) -> None:
    result = run_login(live.url, card_file)
    assert result.exit_code == 0, result.output  # type: ignore[attr-defined]
    out = result.output  # type: ignore[attr-defined]
    assert f"login verified for {ORIGIN}" in out
    assert "TEST root" in out
    assert "subject key:  test:test-auth-03:" in out
    assert "revocation:   good (mode require, source test-pki)" in out
    assert DEFAULT_AUTH_PIN not in out


def test_login_json(live: LiveServer, card_file: Path) -> None:
    result = run_login(live.url, card_file, json_output=True)
    assert result.exit_code == 0, result.output  # type: ignore[attr-defined]
    body = json.loads(result.output)  # type: ignore[attr-defined]
    assert body["verified"] is True and body["purpose"] == "login"


def test_identity_masked_unless_revealed(live: LiveServer, card_file: Path) -> None:
    env = {"JPKI_SIGN_PASSWORD": DEFAULT_SIGN_PASSWORD}
    masked = run_login(live.url, card_file, "--identity", "--attributes", "name,age_over_20", **env)
    assert masked.exit_code == 0, masked.output  # type: ignore[attr-defined]
    assert "name: ***" in masked.output  # type: ignore[attr-defined]
    assert "age_over_20: True" in masked.output  # type: ignore[attr-defined]
    assert HOLDER.name not in masked.output  # type: ignore[attr-defined]
    shown = run_login(
        live.url,
        card_file,
        "--identity",
        "--attributes",
        "name",
        "--reveal",
        json_output=True,
        **env,
    )
    assert shown.exit_code == 0, shown.output  # type: ignore[attr-defined]
    assert json.loads(shown.output)["attributes"] == {"name": HOLDER.name}  # type: ignore[attr-defined]


def test_pin_prompt_is_hidden(live: LiveServer, card_file: Path) -> None:
    result = CliRunner().invoke(
        login,
        ["--service", live.url, "--origin", ORIGIN, "--simulator", str(card_file)],
        obj=Settings(),
        env={"JPKI_API_KEY": API_KEY, "JPKI_PIN": None},
        input=f"{DEFAULT_AUTH_PIN}\n",
    )
    assert result.exit_code == 0, result.output
    assert DEFAULT_AUTH_PIN not in result.output


def test_wrong_pin(live: LiveServer, card_file: Path) -> None:
    result = run_login(live.url, card_file, json_output=True, JPKI_PIN="9999")
    assert result.exit_code == 5  # type: ignore[attr-defined]
    error = json.loads(result.output)["error"]  # type: ignore[attr-defined]
    assert error["remaining"] == 2
    assert "9999" not in result.output  # type: ignore[attr-defined]


def test_refused_by_the_service(live: LiveServer, card_file: Path) -> None:
    # API_KEY is only for ORIGIN: the service itself refuses the request (403).
    result = CliRunner().invoke(
        login,
        ["--service", live.url, "--origin", OTHER_ORIGIN, "--simulator", str(card_file)],
        obj=Settings(json_output=True),
        env={"JPKI_API_KEY": API_KEY, "JPKI_PIN": DEFAULT_AUTH_PIN},
    )
    assert result.exit_code == 10, result.output
    assert json.loads(result.output)["error"]["code"] == "origin_not_allowed"


def test_wrong_api_key(live: LiveServer, card_file: Path) -> None:
    result = run_login(live.url, card_file, json_output=True, JPKI_API_KEY="jpki_wrong")
    assert result.exit_code == 10  # type: ignore[attr-defined]
    error = json.loads(result.output)["error"]  # type: ignore[attr-defined]
    assert (error["code"], error["status"]) == ("unauthorized", 401)


def test_service_unreachable(card_file: Path) -> None:
    result = run_login(f"http://127.0.0.1:{free_port()}", card_file, json_output=True)
    assert result.exit_code == 10  # type: ignore[attr-defined]
    assert json.loads(result.output)["error"]["code"] == "service_unreachable"  # type: ignore[attr-defined]


def test_no_card(live: LiveServer, tmp_path: Path) -> None:
    result = run_login(live.url, tmp_path / "missing.json")
    assert result.exit_code == 4  # type: ignore[attr-defined]


# -- jpki serve ---------------------------------------------------------------------------------


def test_new_api_key() -> None:
    result = CliRunner().invoke(
        serve,
        ["--new-api-key", "--name", "shop", "--origin", "https://shop.example"],
        obj=Settings(json_output=True),
    )
    assert result.exit_code == 0, result.output
    body = json.loads(result.output)
    assert body["sha256"] == hash_api_key(body["api_key"])
    assert body["origins"] == ["https://shop.example"]
    text = CliRunner().invoke(serve, ["--new-api-key"], obj=Settings()).output
    assert "[[api_keys]]" in text and 'origins = ["https://rp.example"]' in text


def config_text(port: int, extra: str = "") -> str:
    return f"""
[server]
host = "127.0.0.1"
port = {port}
log_format = "json"

[revocation]
mode = "off"

[challenges]
store = "sqlite"
sqlite_path = "challenges.sqlite3"
{extra}
[[api_keys]]
name = "rp"
sha256 = "{hash_api_key(API_KEY)}"
origins = ["{ORIGIN}"]
"""


def test_check(tmp_path: Path) -> None:
    path = tmp_path / "service.toml"
    path.write_text(config_text(8750))
    result = CliRunner().invoke(serve, ["--config", str(path), "--check"], obj=Settings())
    assert result.exit_code == 0, result.output
    assert "configuration OK" in result.output
    assert "challenge_store: sqlite" in result.output
    assert hash_api_key(API_KEY) not in result.output


def test_bad_configuration_exit_3(tmp_path: Path) -> None:
    path = tmp_path / "service.toml"
    path.write_text(config_text(8750).replace('mode = "off"', 'mode = "sometimes"'))
    result = CliRunner().invoke(serve, ["--config", str(path)], obj=Settings())
    assert result.exit_code == 3
    assert "configuration error: configuration: revocation.mode" in result.output


def test_serve_process(tmp_path: Path) -> None:
    """The real `run()` path: uvicorn in its own process, JSON logs on stderr, SIGINT stops."""
    port = free_port()
    path = tmp_path / "service.toml"
    path.write_text(config_text(port))
    log = tmp_path / "stderr.log"
    with open(log, "wb") as stderr:
        proc = subprocess.Popen(
            [sys.executable, "-c", "from cli.serve import serve; serve()", "--config", str(path)],
            stdout=subprocess.DEVNULL,
            stderr=stderr,
            env=dict(os.environ),
        )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
                break
            except httpx.HTTPError:
                assert proc.poll() is None, log.read_text()
                assert time.monotonic() < deadline, "service did not start"
                time.sleep(0.1)
        assert health.status_code == 200
        assert health.json()["revocation_mode"] == "off"
        issued = httpx.post(
            f"http://127.0.0.1:{port}/v1/challenges",
            json={},
            headers={"Authorization": f"Bearer {API_KEY}"},
            timeout=10,
        )
        assert issued.status_code == 201
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=30)
    lines = [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
    assert any(r.get("route") == "/v1/challenges" and r.get("status") == 201 for r in lines)
    assert any(r["msg"] == "service configured" for r in lines)
    assert API_KEY not in log.read_text()
    assert (tmp_path / "challenges.sqlite3").exists()
