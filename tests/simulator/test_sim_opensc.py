"""OpenSC's own JPKI driver against the simulator, through pcscd + vpcd (issue 3 "Done when").

Debian's opensc (opensc-tool, pkcs15-tool, pkcs11-tool with opensc-pkcs11.so) talks to the
simulated card exactly as to a real one: the card is ``python -m simulator serve`` inside the
private PC/SC stack (tests/pcscstack.py). openssl checks the signatures against the certificates
read back from the card.
"""

from __future__ import annotations

import contextlib
import re
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from pcscstack import PcscStack

from simulator.card import SimulatedCard
from simulator.profile import CardProfile, preset
from simulator.provision import DEFAULT_AUTH_PIN, DEFAULT_SIGN_PASSWORD
from simulator.state import CardState

pytestmark = pytest.mark.pcsc

PKCS11_MODULE = "/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so"
AUTH_TOKEN = "JPKI (User Authentication PIN)"
SIGN_TOKEN = "JPKI (Digital Signature PIN)"
REPO = Path(__file__).resolve().parents[2]
SELECT_JPKI = "00A4040C"  # header logged by the card for the SELECT of the JPKI AP


def _need(tool: str) -> None:
    if shutil.which(tool) is None:
        pytest.skip(f"{tool} not installed (apt-get install opensc openssl)")


@dataclass
class ServedCard:
    stack: PcscStack
    state: Path
    log_name: str
    proc: Any

    def run(self, *argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            list(argv), env=self.stack.env, capture_output=True, text=True, timeout=120
        )
        if check and result.returncode != 0:
            raise AssertionError(f"{argv[0]} failed: {result.stdout}\n{result.stderr}")
        return result

    def pkcs11(self, *argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return self.run("pkcs11-tool", "--module", PKCS11_MODULE, *argv, check=check)

    def apdu_log(self) -> list[tuple[str, str]]:
        """(header, SW) of every APDU the card answered, in order (from its DEBUG log)."""
        lines: list[str] = []
        for path in self.stack.card_logs(self.log_name):
            lines += path.read_text(errors="replace").splitlines()
        pattern = re.compile(r"APDU ([0-9A-F]{8}) \(\d+ bytes\) -> ([0-9A-F]{4})")
        return [m.groups() for m in map(pattern.search, lines) if m]  # type: ignore[misc]

    def tries(self, pin_label: str) -> int:
        out = self.run("pkcs15-tool", "--list-pins").stdout
        block = out.split(f"PIN [{pin_label}]", 1)[1]
        match = re.search(r"Tries left\s*:\s*(\d+)", block)
        assert match is not None, out
        return int(match.group(1))


@pytest.fixture
def serve_card(
    pcsc_stack: PcscStack, card_factory: Callable[..., SimulatedCard], tmp_path: Path
) -> Iterator[Callable[..., ServedCard]]:
    """``serve_card(profile=...)``: a fresh simulated card in reader 0, served from a file."""
    for tool in ("opensc-tool", "pkcs15-tool", "pkcs11-tool", "openssl"):
        _need(tool)
    if not Path(PKCS11_MODULE).exists():
        pytest.skip(f"{PKCS11_MODULE} missing (apt-get install opensc-pkcs11)")
    served: list[ServedCard] = []

    def serve(profile: CardProfile | str | None = None) -> ServedCard:
        state = tmp_path / f"card{len(served)}.json"
        card_factory(path=state, profile=profile).close()
        name = f"sim-{uuid.uuid4().hex[:8]}"
        proc = pcsc_stack.start_card(
            [sys.executable, "-m", "simulator", "serve", str(state), "--vpcd",
             f"127.0.0.1:{pcsc_stack.port(0)}", "--latency", "off", "--log-level", "DEBUG"],
            name=name,
            env={"PYTHONPATH": str(REPO)},
            cwd=REPO,
        )  # fmt: skip
        pcsc_stack.wait_for_card(0)
        card = ServedCard(pcsc_stack, state, name, proc)
        served.append(card)
        return card

    yield serve
    for card in served:
        if card.proc.poll() is None:
            pcsc_stack.stop_card(card.proc)
        pcsc_stack.wait_for_card(0, present=False)


@pytest.mark.parametrize("profile", ["contact", "contact-3bda", "contactless"])
def test_opensc_tool_names_the_card_jpki(
    serve_card: Callable[..., ServedCard], profile: str
) -> None:
    card = serve_card(profile)
    out = card.run("opensc-tool", "-n").stdout
    assert "jpki" in out.split()
    log = card.apdu_log()
    if preset(profile).atr != bytes.fromhex("3BE000FF8131FE4514"):
        # Not in OpenSC's ATR table: the driver recognises the card by SELECTing the AP.
        assert (SELECT_JPKI, "9000") in log


def test_opensc_probes_for_other_cards_get_errors(serve_card: Callable[..., ServedCard]) -> None:
    card = serve_card("contact-3bda")
    card.run("opensc-tool", "-n")
    log = card.apdu_log()
    first_ok = next(i for i, (_, sw) in enumerate(log) if sw == "9000")
    probes = log[:first_ok]
    assert len(probes) >= 20, log  # OpenSC 0.23 sends ~29 before reaching its jpki driver
    assert all(sw != "9000" for _, sw in probes)
    assert {sw for _, sw in probes} <= {"6A82", "6A86", "6A88", "6D00", "6E00", "6700", "6982"}


def test_pkcs15_lists_the_four_jpki_certificates(serve_card: Callable[..., ServedCard]) -> None:
    card = serve_card()
    out = card.run("pkcs15-tool", "--list-certificates").stdout
    listed = {}
    for block in out.split("X.509 Certificate [")[1:]:
        label = block.split("]", 1)[0]
        path = re.search(r"Path\s*:\s*(\w+)", block)
        assert path is not None, block
        listed[label] = path.group(1)
    assert listed == {
        "User Authentication Certificate": "000a",
        "Digital Signature Certificate": "0001",
        "User Authentication Certificate CA": "000b",
        "Digital Signature Certificate CA": "0002",
    }
    state = CardState.load(card.state)
    auth = x509.load_der_x509_certificate(state.application("jpki").files[0x000A].object)  # type: ignore[union-attr]
    assert f"{auth.serial_number:X}" in out.upper()


def _read_cert(card: ServedCard, cert_id: str, pin: str | None) -> subprocess.CompletedProcess[str]:
    argv = ["pkcs15-tool", "--read-certificate", cert_id]
    if pin is not None:
        argv += ["--verify-pin", "--auth-id", cert_id, "--pin", pin]
    return card.run(*argv, check=False)


def test_sign_certificate_is_refused_without_the_password(
    serve_card: Callable[..., ServedCard],
) -> None:
    card = serve_card()
    refused = _read_cert(card, "02", None)
    assert refused.returncode != 0
    assert "BEGIN CERTIFICATE" not in refused.stdout
    assert ("00B00000", "6982") in card.apdu_log()
    allowed = _read_cert(card, "02", DEFAULT_SIGN_PASSWORD)
    assert allowed.returncode == 0, allowed.stderr
    cert = x509.load_pem_x509_certificate(allowed.stdout.encode())
    sign_ca = x509.load_pem_x509_certificate(_read_cert(card, "04", None).stdout.encode())
    cert.verify_directly_issued_by(sign_ca)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("token", "pin", "key_id"),
    [(AUTH_TOKEN, DEFAULT_AUTH_PIN, "01"), (SIGN_TOKEN, DEFAULT_SIGN_PASSWORD, "02")],
)
def test_pkcs11_signs_and_openssl_verifies(
    serve_card: Callable[..., ServedCard], tmp_path: Path, token: str, pin: str, key_id: str
) -> None:
    card = serve_card()
    data = tmp_path / "data.txt"
    data.write_bytes(b"login challenge for the simulated card\n")
    signature = tmp_path / f"sig{key_id}"
    card.pkcs11("--token-label", token, "--login", "--pin", pin, "--sign", "--mechanism",
                "SHA256-RSA-PKCS", "--id", key_id, "--input-file", str(data), "--output-file",
                str(signature))  # fmt: skip
    assert len(signature.read_bytes()) == 256
    cert_pem = _read_cert(card, key_id, pin if key_id == "02" else None)
    assert cert_pem.returncode == 0, cert_pem.stderr
    (tmp_path / "cert.pem").write_text(cert_pem.stdout)
    pubkey = card.run("openssl", "x509", "-in", str(tmp_path / "cert.pem"), "-pubkey", "-noout")
    (tmp_path / "pub.pem").write_text(pubkey.stdout)
    verified = card.run("openssl", "dgst", "-sha256", "-verify", str(tmp_path / "pub.pem"),
                        "-signature", str(signature), str(data))  # fmt: skip
    assert "Verified OK" in verified.stdout
    data.write_bytes(b"something else\n")
    tampered = card.run("openssl", "dgst", "-sha256", "-verify", str(tmp_path / "pub.pem"),
                        "-signature", str(signature), str(data), check=False)  # fmt: skip
    assert tampered.returncode != 0


def test_wrong_pin_moves_the_counter_and_the_right_one_restores_it(
    serve_card: Callable[..., ServedCard],
) -> None:
    card = serve_card()
    assert card.tries("User Authentication PIN") == 3
    wrong = card.run("pkcs15-tool", "--verify-pin", "--auth-id", "01", "--pin", "9999",
                     check=False)  # fmt: skip
    assert wrong.returncode != 0
    assert card.tries("User Authentication PIN") == 2
    assert CardState.load(card.state).pin("jpki", 0x0018).remaining == 2
    card.run("pkcs15-tool", "--verify-pin", "--auth-id", "01", "--pin", DEFAULT_AUTH_PIN)
    assert card.tries("User Authentication PIN") == 3
    assert card.tries("Digital Signature PIN") == 5


@pytest.mark.slow
@pytest.mark.parametrize(("blocked_sw", "fourth"), [(0x6984, "CKR_GENERAL_ERROR"),
                                                     (0x6983, "CKR_PIN_LOCKED")])  # fmt: skip
def test_three_wrong_pins_lock_the_token(
    serve_card: Callable[..., ServedCard], blocked_sw: int, fourth: str
) -> None:
    card = serve_card(CardProfile(blocked_sw=blocked_sw))
    for _ in range(3):
        login = card.pkcs11("--token-label", AUTH_TOKEN, "--login", "--pin", "9999",
                            "--list-objects", check=False)  # fmt: skip
        assert "CKR_PIN_INCORRECT" in login.stderr
    slots = card.pkcs11("--list-slots").stdout
    auth_slot = slots.split(AUTH_TOKEN, 1)[1].split("Slot", 1)[0]
    assert "user PIN locked" in auth_slot  # CKF_USER_PIN_LOCKED
    # The card now answers every VERIFY with the blocked status word; what OpenSC makes of
    # it depends on which one (spec §2.3/§9: 6984 observed, 6983 in LUL's constants).
    again = card.pkcs11("--token-label", AUTH_TOKEN, "--login", "--pin", DEFAULT_AUTH_PIN,
                        "--list-objects", check=False)  # fmt: skip
    assert again.returncode != 0 and fourth in again.stderr
    assert CardState.load(card.state).pin("jpki", 0x0018).remaining == 0


def test_kill_9_through_vpcd_never_gives_a_try_back(
    serve_card: Callable[..., ServedCard], pcsc_stack: PcscStack
) -> None:
    pytest.importorskip("smartcard", reason="pyscard not installed (the pcsc extra)")
    import signal

    from apdu.pcsc import PcscTransport

    card = serve_card()
    reader = pcsc_stack.reader_name(0)
    transport = PcscTransport.connect(reader)
    try:
        assert transport.transmit(bytes.fromhex("00A4040C0AD392F000260100000001")) == b"\x90\x00"
        assert transport.transmit(bytes.fromhex("00A4020C020018")) == b"\x90\x00"
        assert transport.transmit(bytes.fromhex("002000800430303030")) == b"\x63\xc2"
        pcsc_stack.stop_card(card.proc, sig=signal.SIGKILL)  # between this and the next APDU
    finally:
        with contextlib.suppress(Exception):  # the card is gone; closing may report it
            transport.close()
    pcsc_stack.wait_for_card(0, present=False)
    assert CardState.load(card.state).pin("jpki", 0x0018).remaining == 2
    # Restart the way a person would: not at once. vpcd learns of cards only by asking for
    # the ATR about every 400 ms; a new card that connects within one such interval of the old
    # one dying answers that poll, so pcscd sees no removal and no insertion: it takes the new
    # card for the old one, powers it down at the end of its grace period and never shows a
    # fresh insertion (seen in the card and pcscd logs: one ATR poll, one POWER_OFF, then
    # silence). A real reader without a card-detect switch behaves alike.
    time.sleep(1.0)
    proc = pcsc_stack.start_card(
        [sys.executable, "-m", "simulator", "serve", str(card.state), "--vpcd",
         f"127.0.0.1:{pcsc_stack.port(0)}", "--latency", "off"],
        name="sim-restarted",
        env={"PYTHONPATH": str(REPO)},
        cwd=REPO,
    )  # fmt: skip
    card.proc = proc
    pcsc_stack.wait_for_card(0)
    with PcscTransport.connect(reader) as again:
        assert again.transmit(bytes.fromhex("00A4040C0AD392F000260100000001")) == b"\x90\x00"
        assert again.transmit(bytes.fromhex("00A4020C020018")) == b"\x90\x00"
        assert again.transmit(bytes.fromhex("00200080")) == b"\x63\xc2"
