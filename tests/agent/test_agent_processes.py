"""The agent as a program (`jpki agent --simulator STATEFILE`) and on a PC/SC reader."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from agentkit import SHOP

from jpki_sdk.agent import ReaderCardSource, bind_loopback
from jpki_sdk.auth import AuthPurpose
from jpki_sdk.auth.challenges import encode_nonce

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def state_file(tmp_path: Path, _jpki_card_factory) -> Path:
    path = tmp_path / "card.json"
    _jpki_card_factory.state(auth_pin="5793").save(path)
    return path


def _free_port() -> int:
    sock = bind_loopback(0)
    port = sock.getsockname()[1]
    sock.close()
    return port


def _agent_process(port: int, state: Path, log: Path) -> subprocess.Popen[bytes]:
    code = "import sys; from cli.agent import agent; agent(sys.argv[1:])"
    argv = [
        sys.executable, "-c", code,
        "--allow-origin", SHOP, "--kiosk", SHOP, "--simulator", str(state), "--port", str(port),
    ]  # fmt: skip
    with log.open("wb") as out:
        return subprocess.Popen(
            argv, cwd=REPO, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT
        )


def _wait_up(url: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    for _ in range(300):
        if proc.poll() is not None:
            pytest.fail(f"the agent exited: {log.read_text()}")
        try:
            if httpx.get(url + "/v1/info", headers={"Origin": SHOP}).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    pytest.fail(f"the agent did not start: {log.read_text()}")


def test_jpki_agent_serves_a_simulator_state_file(state_file: Path, tmp_path: Path) -> None:
    from simulator.provision import PIN_KEYS
    from simulator.state import CardState

    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    log = tmp_path / "agent.log"
    proc = _agent_process(port, state_file, log)
    try:
        _wait_up(url, proc, log)
        headers = {"Origin": SHOP}
        body = {"nonce": encode_nonce(os.urandom(32)), "purpose": "login", "pin": "0000"}
        wrong = httpx.post(url + "/v1/sign", json=body, headers=headers, timeout=60)
        assert wrong.json()["error"]["tries_left"] == 2
        app, fid = PIN_KEYS["auth"]
        assert CardState.load(state_file).pin(app, fid).remaining == 2  # persisted at once
        # A second agent on the same port is refused with a clear message.
        second = subprocess.run(
            [sys.executable, "-c", "import sys; from cli.agent import agent; agent(sys.argv[1:])",
             "--allow-origin", SHOP, "--simulator", str(state_file), "--port", str(port)],
            cwd=REPO, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL,
        )  # fmt: skip
        assert second.returncode != 0
        assert "already in use" in second.stderr
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    output = log.read_text()
    assert "jpki agent on http://127.0.0.1:" in output
    assert "5793" not in output and "0000" not in output


@pytest.mark.pcsc
def test_agent_signs_with_a_card_in_a_pcsc_reader(
    pcsc_stack, state_file: Path, start_agent, rp
) -> None:
    proc = pcsc_stack.start_card(
        [sys.executable, "-m", "simulator", "serve", str(state_file), "--vpcd",
         f"127.0.0.1:{pcsc_stack.port(0)}", "--latency", "off"],
        name="agent-card",
        env={"PYTHONPATH": str(REPO)},
    )  # fmt: skip
    try:
        pcsc_stack.wait_for_card(0)
        reader = pcsc_stack.reader_name(0)
        running = start_agent(None, cards=ReaderCardSource(reader), kiosk_origin=SHOP)
        with running.client(SHOP) as client:
            info = client.get("/v1/info").json()
        assert reader in info["card_source"]
        challenge = rp.issue_challenge(AuthPurpose.LOGIN)
        response = running.sign(
            SHOP, {"nonce": challenge.nonce_b64, "purpose": "login", "pin": "5793"}
        )
        assert response.status_code == 200, response.text
        assert rp.verify_login(response.json()["token"]).origin == SHOP
    finally:
        pcsc_stack.stop_card(proc)
        pcsc_stack.wait_for_card(0, present=False)
    gone = running.sign(
        SHOP, {"nonce": encode_nonce(os.urandom(32)), "purpose": "login", "pin": "5793"}
    )
    assert gone.status_code == 503
    assert gone.json()["error"]["code"] == "no_card"
