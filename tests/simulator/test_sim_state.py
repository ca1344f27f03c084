"""State files: round trip, atomic counter persistence, corrupt files, the kill -9 crash test."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from simhelpers import query, select_df, select_ef, sw, verify

from simulator.card import SimulatedCard
from simulator.provision import DEFAULT_AUTH_PIN
from simulator.state import FORMAT_ID, CardState, StateFileError

CardFactory = Callable[..., SimulatedCard]
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def state_path(tmp_path: Path, card_factory: CardFactory) -> Path:
    path = tmp_path / "card.json"
    card = card_factory(path=path)
    card.close()
    return path


def _remaining(path: Path, app: str, fid: int) -> int:
    return CardState.load(path).pin(app, fid).remaining


def test_round_trip_keeps_everything(simulated_card: SimulatedCard, tmp_path: Path) -> None:
    path = tmp_path / "c.json"
    simulated_card.state.save(path)
    loaded = CardState.load(path)
    assert loaded.dumps() == simulated_card.state.dumps()
    assert loaded.profile == simulated_card.state.profile
    assert [a.name for a in loaded.applications] == ["isd", "jpki", "text", "kenmen", "juki",
                                                      "common"]  # fmt: skip
    assert os.stat(path).st_mode & 0o777 == 0o600  # private keys inside


def test_file_never_holds_a_pin_in_clear(state_path: Path) -> None:
    raw = state_path.read_bytes()
    document = json.loads(raw)
    assert document["format"] == FORMAT_ID
    pin_entry = document["card"]["applications"][1]["files"]["0018"]
    assert set(pin_entry["secret"]) == {"salt", "sha256"}
    assert b'"1234"' not in raw and b"TESTPASS1" not in raw


def test_every_counter_change_is_on_disk_before_the_answer(state_path: Path) -> None:
    card = SimulatedCard.open(state_path)
    select_df(card, "jpki")
    select_ef(card, 0x0018)
    assert verify(card, "0000") == 0x63C2
    assert _remaining(state_path, "jpki", 0x0018) == 2
    assert verify(card, "0000") == 0x63C1
    assert _remaining(state_path, "jpki", 0x0018) == 1
    assert verify(card, DEFAULT_AUTH_PIN) == 0x9000
    assert _remaining(state_path, "jpki", 0x0018) == 3
    card.close()


def test_pin_change_is_persisted(state_path: Path) -> None:
    card = SimulatedCard.open(state_path)
    select_df(card, "jpki")
    select_ef(card, 0x0018)
    assert verify(card, DEFAULT_AUTH_PIN) == 0x9000
    assert sw(card, "002401800435363738") == 0x9000
    card.close()
    again = SimulatedCard.open(state_path)
    select_df(again, "jpki")
    select_ef(again, 0x0018)
    assert verify(again, "5678") == 0x9000
    again.close()


def test_one_card_per_state_file(state_path: Path) -> None:
    card = SimulatedCard.open(state_path)
    with pytest.raises(StateFileError, match="in use"):
        SimulatedCard.open(state_path)
    card.close()
    other = SimulatedCard.open(state_path)  # the lock went with close()
    other.close()


def test_close_then_transmit_rereads_the_file(state_path: Path) -> None:
    card = SimulatedCard.open(state_path)
    card.close()
    # Another process changes the card meanwhile.
    other = SimulatedCard.open(state_path)
    select_df(other, "jpki")
    select_ef(other, 0x0018)
    assert verify(other, "0000") == 0x63C2
    other.close()
    select_df(card, "jpki")
    select_ef(card, 0x0018)
    assert query(card) == 0x63C2
    card.close()


def test_unwritable_state_file_as_memory_failure(state_path: Path) -> None:
    card = SimulatedCard.open(state_path)
    select_df(card, "jpki")
    select_ef(card, 0x0018)

    def broken(path: object) -> None:
        raise StateFileError("disk full", path=str(path))

    card.state.save = broken  # type: ignore[method-assign]
    assert verify(card, "0000") == 0x6581
    assert query(card) == 0x63C2
    card.close()


# -- corrupt and foreign files -------------------------------------------------------------------


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "empty"),
        (b"\xff\xfe\x00garbage", "not UTF-8"),
        (b"{not json", "invalid JSON"),
        (b"[1, 2, 3]", "no 'format'"),
        (b'{"format": "something-else", "version": 1}', "foreign file"),
        (b'{"format": "jpki-sdk/simulated-card", "version": 99}', "version 99"),
        (b'{"format": "jpki-sdk/simulated-card", "version": 1}', "no 'card'"),
        (b'{"format": "jpki-sdk/simulated-card", "version": 1, "card": {}}', "corrupt card"),
    ],
)
def test_bad_files_get_a_clear_error(tmp_path: Path, content: bytes, message: str) -> None:
    path = _write(tmp_path / "bad.json", content)
    with pytest.raises(StateFileError, match=message) as info:
        CardState.load(path)
    assert str(path) in str(info.value)
    assert path.read_bytes() == content  # untouched


def test_truncated_file(state_path: Path) -> None:
    raw = state_path.read_bytes()
    for cut in (10, len(raw) // 2, len(raw) - 3):
        path = _write(state_path.parent / f"cut{cut}.json", raw[:cut])
        with pytest.raises(StateFileError):
            CardState.load(path)
        assert path.read_bytes() == raw[:cut]


def test_checksum_catches_a_changed_counter(state_path: Path) -> None:
    document = json.loads(state_path.read_bytes())
    document["card"]["applications"][1]["files"]["0018"]["remaining"] = 2
    state_path.write_text(json.dumps(document))
    with pytest.raises(StateFileError, match="checksum"):
        CardState.load(state_path)
    # Removing the checksum accepts a deliberate edit.
    del document["sha256"]
    state_path.write_text(json.dumps(document))
    assert _remaining(state_path, "jpki", 0x0018) == 2


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda c: c["keys"].update(auth="-----BEGIN PRIVATE KEY-----\nAAAA\n"), "PEM"),
        (lambda c: c["applications"][1]["files"]["000A"].update(content="%%%"), "base64"),
        (lambda c: c["applications"][1]["files"]["0018"].update(remaining=9), "remaining"),
        (lambda c: c["applications"][1]["files"].update(XYZW={"kind": "binary"}), "identifier"),
        (lambda c: c["applications"][1]["files"]["0017"].update(key="nope"), "missing key"),
        (lambda c: c["profile"].update(atr="zz"), "ATR"),
        (lambda c: c["profile"].update(bogus=1), "unknown profile"),
        (lambda c: c.update(applications=[]), "non-empty"),
        (lambda c: c["applications"].pop(0), "ISD"),
    ],
)
def test_corrupt_content_is_reported(
    state_path: Path, mutate: Callable[[dict[str, object]], object], message: str
) -> None:
    document = json.loads(state_path.read_bytes())
    del document["sha256"]
    mutate(document["card"])
    state_path.write_text(json.dumps(document))
    with pytest.raises(StateFileError, match=message):
        CardState.load(state_path)


def test_missing_and_directory(tmp_path: Path) -> None:
    with pytest.raises(StateFileError, match="no such"):
        CardState.load(tmp_path / "none.json")
    with pytest.raises(StateFileError, match="directory"):
        CardState.load(tmp_path)
    with pytest.raises(StateFileError, match="no such"):
        SimulatedCard.open(tmp_path / "none.json")


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.binary(max_size=2048))
def test_random_bytes_always_give_state_file_error(data: bytes) -> None:
    with pytest.raises(StateFileError):
        CardState.loads(data, path="random.json")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow,
          HealthCheck.function_scoped_fixture])  # fmt: skip
@given(cut=st.integers(min_value=0), flip=st.integers(min_value=0), bit=st.integers(0, 7))
def test_damaged_files_give_state_file_error_or_load(
    state_path: Path, cut: int, flip: int, bit: int
) -> None:
    raw = bytearray(state_path.read_bytes())
    if cut % 2:
        raw = raw[: cut % len(raw)]
    else:
        raw[flip % len(raw)] ^= 1 << bit
    with contextlib.suppress(StateFileError):
        CardState.loads(bytes(raw))


# -- kill -9 ----------------------------------------------------------------------------------


def _serve(path: Path) -> subprocess.Popen[str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    return subprocess.Popen(
        [sys.executable, "-m", "simulator", "stdio", str(path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=str(REPO),
    )


def _ask(proc: subprocess.Popen[str], apdu: str) -> str:
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.write(apdu + "\n")
    proc.stdin.flush()
    return proc.stdout.readline().strip()


def _kill(proc: subprocess.Popen[str]) -> None:
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)
    for stream in (proc.stdin, proc.stdout, proc.stderr):
        if stream is not None:
            with contextlib.suppress(BrokenPipeError):
                stream.close()


def test_kill_9_after_a_wrong_verify_never_gives_the_try_back(state_path: Path) -> None:
    proc = _serve(state_path)
    try:
        assert _ask(proc, "00A4040C0AD392F000260100000001") == "9000"
        assert _ask(proc, "00A4020C020018") == "9000"
        assert _ask(proc, "002000800430303030") == "63C2"
    finally:
        _kill(proc)
    assert _remaining(state_path, "jpki", 0x0018) == 2
    proc = _serve(state_path)  # restarted from its state file (the lock died with it)
    try:
        assert _ask(proc, "00A4040C0AD392F000260100000001") == "9000"
        assert _ask(proc, "00A4020C020018") == "9000"
        assert _ask(proc, "00200080") == "63C2"
        assert _ask(proc, "002000800430303030") == "63C1"
    finally:
        _kill(proc)
    assert _remaining(state_path, "jpki", 0x0018) == 1


@pytest.mark.slow
def test_kill_9_at_arbitrary_points_never_gives_a_try_back(state_path: Path) -> None:
    """Pipe many wrong VERIFYs and kill at varying moments: the file never has more tries
    than the answers already received imply (and never a torn file)."""
    select = "00A4040C0AD392F000260100000001\n00A4020C02001B\n"
    for delay in (0.0, 0.002, 0.005, 0.01, 0.02, 0.05):
        before = _remaining(state_path, "jpki", 0x001B)
        if before <= 1:
            break
        proc = _serve(state_path)
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.write(select + "00200080085752454E47505731\n" * (before - 1))
        proc.stdin.flush()
        deadline = time.monotonic() + delay
        while time.monotonic() < deadline:
            pass
        os.kill(proc.pid, signal.SIGKILL)  # now, whatever it is doing
        proc.wait(timeout=10)
        answers = [line.strip() for line in proc.stdout.read().splitlines()]
        for stream in (proc.stdin, proc.stdout, proc.stderr):
            if stream is not None:
                with contextlib.suppress(BrokenPipeError):
                    stream.close()
        wrong_answered = sum(1 for a in answers if a.startswith("63C"))
        after = _remaining(state_path, "jpki", 0x001B)  # loads: the file is never torn
        assert after <= before - wrong_answered


# -- fast loading (it runs on every reconnect) --------------------------------------------------


def _spy_key_loading(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    from simulator import state as state_module

    real = state_module.serialization.load_pem_private_key
    skipped: list[bool] = []

    def spy(data: bytes, password: bytes | None, **kw: bool) -> object:
        skipped.append(kw.get("unsafe_skip_rsa_key_validation", False))
        return real(data, password, **kw)

    monkeypatch.setattr(state_module.serialization, "load_pem_private_key", spy)
    return skipped


def test_own_checksummed_file_skips_the_slow_key_validation(
    state_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    skipped = _spy_key_loading(monkeypatch)
    state = CardState.load(state_path)
    assert skipped and all(skipped)
    assert len(skipped) == len(state.keys)


def test_hand_edited_file_gets_full_key_validation(
    state_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    document = json.loads(state_path.read_bytes())
    del document["sha256"]
    state_path.write_text(json.dumps(document))
    skipped = _spy_key_loading(monkeypatch)
    CardState.load(state_path)
    assert skipped and not any(skipped)


def _inconsistent_key_pem(pem: str) -> str:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = serialization.load_pem_private_key(pem.encode(), password=None)
    assert isinstance(key, rsa.RSAPrivateKey)
    n = key.private_numbers()
    broken = rsa.RSAPrivateNumbers(
        p=n.p, q=n.q, d=n.d + 2, dmp1=n.dmp1, dmq1=n.dmq1, iqmp=n.iqmp,
        public_numbers=n.public_numbers,
    ).private_key(unsafe_skip_rsa_key_validation=True)  # fmt: skip
    return broken.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode("ascii")


@pytest.mark.parametrize("with_checksum", [True, False])
def test_inconsistent_key_is_refused_with_or_without_checksum(
    state_path: Path, with_checksum: bool
) -> None:
    import hashlib

    document = json.loads(state_path.read_bytes())
    card = document["card"]
    card["keys"]["auth"] = _inconsistent_key_pem(card["keys"]["auth"])
    if with_checksum:  # a foreign tool that recomputed the checksum
        canonical = json.dumps(card, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        document["sha256"] = hashlib.sha256(canonical.encode()).hexdigest()
    else:
        del document["sha256"]
    state_path.write_text(json.dumps(document))
    with pytest.raises(StateFileError, match="auth"):
        CardState.load(state_path)
