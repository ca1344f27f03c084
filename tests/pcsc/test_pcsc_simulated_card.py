"""The full simulated My Number card as a real PC/SC card: ``python -m simulator serve`` in
the stack's namespace, pyscard (apdu.pcsc) on the other side of pcscd.

The APDUs below are written from jpki-card-spec.md (§3.1 SELECT, §3.3 VERIFY, §3.4 COMPUTE
DIGITAL SIGNATURE), not taken from the simulator, so the test checks the simulator too.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from pcscstack import PcscStack

pytest.importorskip("smartcard", reason="pyscard not installed (the pcsc extra)")

from apdu.pcsc import PcscTransport

pytestmark = pytest.mark.pcsc

SELECT_JPKI_AP = bytes.fromhex("00A4040C0AD392F000260100000001")
SELECT_AUTH_PIN = bytes.fromhex("00A4020C020018")
SELECT_AUTH_KEY = bytes.fromhex("00A4020C020017")
SELECT_AUTH_CERT = bytes.fromhex("00A4020C02000A")
READ_HEADER = bytes.fromhex("00B0000004")
PIN_STATUS = bytes.fromhex("00200080")  # case 1: tries left, no try used
VERIFY_DEFAULT_AUTH_PIN = bytes.fromhex("00200080") + b"\x04" + b"1234"  # DEFAULT_AUTH_PIN
SHA256_DIGEST_INFO = bytes.fromhex("3031300D060960864801650304020105000420")


def _sign_command() -> bytes:
    digest_info = SHA256_DIGEST_INFO + hashlib.sha256(b"pcsc disposition test").digest()
    return bytes.fromhex("802A0080") + bytes([len(digest_info)]) + digest_info + b"\x00"


@pytest.fixture
def served_card(
    pcsc_stack: PcscStack, card_factory: Callable[..., Any], tmp_path: Path
) -> Iterator[tuple[str, Path]]:
    """A fresh simulated card (default PINs) in reader 0, served from its state file."""
    state = tmp_path / "card.jpkisim"
    card_factory(path=state).close()  # provision and persist, then let the server own the file
    proc = pcsc_stack.start_card(
        [
            sys.executable,
            "-m",
            "simulator",
            "serve",
            str(state),
            "--vpcd",
            f"127.0.0.1:{pcsc_stack.port(0)}",
            "--latency",
            "off",
        ],
        name="simulator",
    )
    try:
        pcsc_stack.wait_for_card(0)
        yield pcsc_stack.reader_name(0), state
    finally:
        code = pcsc_stack.stop_card(proc)
        pcsc_stack.wait_for_card(0, present=False)
    assert code in (0, -15), f"simulator exited with {code}"


def test_select_jpki_ap_through_pcscd(served_card: tuple[str, Path]) -> None:
    reader, _ = served_card
    with PcscTransport.connect(reader) as transport:
        assert transport.transmit(SELECT_JPKI_AP) == b"\x90\x00"


def test_pcscd_path_answers_like_the_in_process_card(
    served_card: tuple[str, Path], card_factory: Callable[..., Any]
) -> None:
    """Same state, same commands: pcscd + vpcd must not change a single byte."""
    reader, _ = served_card
    script = [SELECT_JPKI_AP, SELECT_AUTH_CERT, READ_HEADER, SELECT_AUTH_PIN, PIN_STATUS]
    with PcscTransport.connect(reader) as transport:
        through_pcscd = [transport.transmit(c) for c in script]
    in_process = card_factory()
    try:
        direct = [in_process.transmit(c) for c in script]
    finally:
        in_process.close()
    assert through_pcscd == direct
    assert through_pcscd[2][:2] == b"\x30\x82" and through_pcscd[2][-2:] == b"\x90\x00"


def _verified_session(reader: str) -> PcscTransport:
    transport = PcscTransport.connect(reader)
    for command in (SELECT_JPKI_AP, SELECT_AUTH_PIN, VERIFY_DEFAULT_AUTH_PIN):
        assert transport.transmit(command) == b"\x90\x00"
    return transport


def _sign_in_new_session(reader: str) -> bytes:
    with PcscTransport.connect(reader) as transport:
        assert transport.transmit(SELECT_JPKI_AP) == b"\x90\x00"
        assert transport.transmit(SELECT_AUTH_KEY) == b"\x90\x00"
        return transport.transmit(_sign_command())


def test_default_close_does_not_leave_the_pin_verified(served_card: tuple[str, Path]) -> None:
    reader, _ = served_card
    _verified_session(reader).close()  # default disposition: reset
    assert _sign_in_new_session(reader)[-2:] == b"\x69\x82"  # security status not satisfied


def test_leave_disposition_keeps_the_card_state(served_card: tuple[str, Path]) -> None:
    reader, _ = served_card
    _verified_session(reader).close("leave")
    answer = _sign_in_new_session(reader)
    assert answer[-2:] == b"\x90\x00" and len(answer) == 256 + 2


def test_opensc_sees_the_simulated_card(
    served_card: tuple[str, Path], pcsc_stack: PcscStack
) -> None:
    reader, _ = served_card
    out = subprocess.run(
        ["opensc-tool", "-l"], env=pcsc_stack.env, capture_output=True, text=True, timeout=30
    )
    assert out.returncode == 0, out.stderr
    line = next(line for line in out.stdout.splitlines() if line.rstrip().endswith(reader))
    assert " Yes " in f" {line} "  # the "Card" column
