"""simulator.vpcd against a fake vpcd (a TCP server speaking the reader side of the protocol).

No pcscd, no root: these run everywhere. The fake sends frames the way Debian's vpcd does
(length and body in two writes) unless told otherwise.
"""

from __future__ import annotations

import os
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from simulator.vpcd import (
    SW_NO_PRECISE_DIAGNOSIS,
    CardEjected,
    VpcdClient,
    VpcdControl,
    main,
)

ATR = bytes.fromhex("3B8880010000000000000000")


class RecordingHandler:
    """Answers every APDU with the command reversed + 9000, and records every call."""

    def __init__(self, atr: bytes = ATR) -> None:
        self.atr = atr
        self.calls: list[tuple[str, bytes | None]] = []
        self.answer: bytes | None = None
        self.fail: BaseException | None = None

    def transmit(self, command: bytes) -> bytes:
        self.calls.append(("transmit", command))
        if self.fail is not None:
            raise self.fail
        if self.answer is not None:
            return self.answer
        return command[::-1] + b"\x90\x00"

    def power_on(self) -> None:
        self.calls.append(("power_on", None))

    def power_off(self) -> None:
        self.calls.append(("power_off", None))

    def reset(self) -> None:
        self.calls.append(("reset", None))

    def names(self) -> list[str]:
        return [name for name, _ in self.calls]


class NoPowerOnHandler:
    """A handler without power_on (like a card object that only knows reset)."""

    atr = ATR

    def __init__(self) -> None:
        self.calls: list[str] = []

    def transmit(self, command: bytes) -> bytes:
        return b"\x90\x00"

    def power_off(self) -> None:
        self.calls.append("power_off")

    def reset(self) -> None:
        self.calls.append("reset")


class FakeVpcd:
    """The reader side: listens, accepts the card, sends frames, reads answers."""

    def __init__(self, *, split_writes: bool = True) -> None:
        self.server = socket.socket()
        self.server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.server.bind(("127.0.0.1", 0))
        self.server.listen(1)
        self.port = self.server.getsockname()[1]
        self.split_writes = split_writes
        self.conn: socket.socket | None = None

    def accept(self, timeout: float = 10.0) -> socket.socket:
        self.server.settimeout(timeout)
        conn, _ = self.server.accept()
        conn.settimeout(timeout)
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.conn = conn
        return conn

    def send_frame(self, body: bytes) -> None:
        assert self.conn is not None
        header = struct.pack(">H", len(body))
        if self.split_writes:
            self.conn.sendall(header)
            self.conn.sendall(body)
        else:
            self.conn.sendall(header + body)

    def recv_exact(self, size: int) -> bytes:
        assert self.conn is not None
        data = b""
        while len(data) < size:
            chunk = self.conn.recv(size - len(data))
            if not chunk:
                raise EOFError("card closed the connection")
            data += chunk
        return data

    def recv_frame(self) -> bytes:
        (size,) = struct.unpack(">H", self.recv_exact(2))
        return self.recv_exact(size)

    def control(self, code: int) -> None:
        self.send_frame(bytes([code]))

    def atr(self) -> bytes:
        self.control(VpcdControl.ATR)
        return self.recv_frame()

    def apdu(self, command: bytes) -> bytes:
        self.send_frame(command)
        return self.recv_frame()

    def expect_eof(self, timeout: float = 10.0) -> None:
        assert self.conn is not None
        self.conn.settimeout(timeout)
        assert self.conn.recv(1) == b""

    def drop(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    def close(self) -> None:
        self.drop()
        self.server.close()


@pytest.fixture
def vpcd() -> Iterator[FakeVpcd]:
    fake = FakeVpcd()
    yield fake
    fake.close()


@pytest.fixture
def handler() -> RecordingHandler:
    return RecordingHandler()


@pytest.fixture
def client(vpcd: FakeVpcd, handler: RecordingHandler) -> Iterator[VpcdClient]:
    c = VpcdClient(handler, "127.0.0.1", vpcd.port, initial_backoff=0.01, max_backoff=0.05)
    c.start()
    vpcd.accept()
    assert c.wait_connected(10)
    yield c
    c.stop()
    assert not c.running


def wait_until(predicate: object, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():  # type: ignore[operator]
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.01)


def test_atr_request_is_answered_with_the_handler_atr(vpcd: FakeVpcd, client: VpcdClient) -> None:
    assert vpcd.atr() == ATR
    assert vpcd.atr() == ATR  # vpcd polls it; every request gets an answer


def test_power_and_reset_reach_the_handler_in_order(
    vpcd: FakeVpcd, client: VpcdClient, handler: RecordingHandler
) -> None:
    vpcd.control(VpcdControl.POWER_ON)
    vpcd.control(VpcdControl.RESET)
    vpcd.control(VpcdControl.POWER_OFF)
    vpcd.atr()  # a round trip: the three one-way messages were handled before it
    assert handler.names() == ["power_on", "reset", "power_off"]


def test_handler_without_power_on_gets_reset(vpcd: FakeVpcd) -> None:
    handler = NoPowerOnHandler()
    with VpcdClient(handler, "127.0.0.1", vpcd.port) as client:
        vpcd.accept()
        assert client.wait_connected(10)
        vpcd.control(VpcdControl.POWER_ON)
        vpcd.atr()
        assert handler.calls == ["reset"]


def test_unknown_control_byte_is_ignored_and_the_link_stays_up(
    vpcd: FakeVpcd, client: VpcdClient, handler: RecordingHandler
) -> None:
    vpcd.control(0x03)
    vpcd.control(0xFF)
    assert vpcd.atr() == ATR
    assert handler.calls == []


def test_apdu_bytes_cross_exactly_both_ways(
    vpcd: FakeVpcd, client: VpcdClient, handler: RecordingHandler
) -> None:
    command = bytes.fromhex("00A4040C0AD392F000260100000001")
    assert vpcd.apdu(command) == command[::-1] + b"\x90\x00"
    assert handler.calls == [("transmit", command)]
    assert client.apdus == 1


def test_two_byte_frame_is_an_apdu_not_a_control_message(
    vpcd: FakeVpcd, client: VpcdClient, handler: RecordingHandler
) -> None:
    assert vpcd.apdu(b"\x00\x01") == b"\x01\x00\x90\x00"
    assert handler.calls == [("transmit", b"\x00\x01")]


def test_large_frames_both_ways(
    vpcd: FakeVpcd, client: VpcdClient, handler: RecordingHandler
) -> None:
    command = bytes.fromhex("0001000000EA60") + bytes(range(256)) * 234 + b"\x00\x00"
    assert len(command) < 0xFFFF
    assert vpcd.apdu(command) == command[::-1] + b"\x90\x00"
    handler.answer = bytes(0xFFFD) + b"\x90\x00"  # the largest frame there is
    assert vpcd.apdu(b"\x00\xb0\x00\x00") == handler.answer


def test_single_write_frames_work_too(handler: RecordingHandler) -> None:
    fake = FakeVpcd(split_writes=False)
    try:
        with VpcdClient(handler, "127.0.0.1", fake.port):
            fake.accept()
            assert fake.apdu(b"\x80\xca\x00\x00") == b"\x00\x00\xca\x80\x90\x00"
    finally:
        fake.close()


@pytest.mark.parametrize(
    "fault",
    [
        pytest.param(RuntimeError("bug in the card"), id="handler-raised"),
        pytest.param(b"\x90", id="shorter-than-a-status-word"),
        pytest.param(b"", id="empty-answer"),
        pytest.param(bytes(0x10000), id="longer-than-a-frame"),
    ],
)
def test_handler_failures_answer_6f00_and_keep_the_link(
    vpcd: FakeVpcd,
    client: VpcdClient,
    handler: RecordingHandler,
    fault: object,
    caplog: pytest.LogCaptureFixture,
) -> None:
    if isinstance(fault, BaseException):
        handler.fail = fault
    else:
        handler.answer = fault  # type: ignore[assignment]
    assert vpcd.apdu(b"\x00\x00\x00\x00") == SW_NO_PRECISE_DIAGNOSIS
    assert vpcd.atr() == ATR, "the card must stay in the reader"
    assert any("6F00" in r.getMessage() for r in caplog.records)


def test_bad_atr_drops_the_connection(vpcd: FakeVpcd) -> None:
    handler = RecordingHandler(atr=b"\x3b")
    with VpcdClient(handler, "127.0.0.1", vpcd.port, initial_backoff=0.01, max_backoff=0.05):
        vpcd.accept()
        vpcd.control(VpcdControl.ATR)
        vpcd.expect_eof()


def test_reconnects_when_vpcd_goes_away_and_reports_power_off(
    vpcd: FakeVpcd, client: VpcdClient, handler: RecordingHandler
) -> None:
    assert vpcd.atr() == ATR
    vpcd.drop()  # pcscd restarted / reader closed
    vpcd.accept()  # the card comes back by itself
    assert vpcd.atr() == ATR
    wait_until(lambda: client.connections == 2)
    assert "power_off" in handler.names(), "losing the reader powers the card off"


def test_waits_for_vpcd_with_backoff_then_connects(handler: RecordingHandler) -> None:
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()  # nothing listens on the port yet
    client = VpcdClient(handler, "127.0.0.1", port, initial_backoff=0.01, max_backoff=0.05)
    client.start()
    try:
        time.sleep(0.2)
        assert not client.connected
        server = socket.socket()
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind(("127.0.0.1", port))
        server.listen(1)
        server.settimeout(10)
        conn, _ = server.accept()
        assert client.wait_connected(10)
        conn.close()
        server.close()
    finally:
        client.stop()
    assert not client.running


def test_eject_drops_the_link_then_reinserts(
    vpcd: FakeVpcd, client: VpcdClient, handler: RecordingHandler
) -> None:
    handler.fail = CardEjected(reinsert_after=0.05)
    vpcd.send_frame(b"\x00\xa4\x04\x00")
    vpcd.expect_eof()  # no answer: the card left in the middle of the command
    handler.fail = None
    vpcd.accept()
    assert vpcd.atr() == ATR


def test_eject_for_good_stays_out_until_stopped(vpcd: FakeVpcd, handler: RecordingHandler) -> None:
    client = VpcdClient(handler, "127.0.0.1", vpcd.port, initial_backoff=0.01, max_backoff=0.05)
    client.start()
    vpcd.accept()
    handler.fail = CardEjected()
    vpcd.send_frame(b"\x00\xa4\x04\x00")
    vpcd.expect_eof()
    vpcd.server.settimeout(0.3)
    with pytest.raises(TimeoutError):
        vpcd.server.accept()
    started = time.monotonic()
    client.stop()
    assert not client.running
    assert time.monotonic() - started < 5


def test_stop_while_connected_closes_the_link_promptly(vpcd: FakeVpcd, client: VpcdClient) -> None:
    started = time.monotonic()
    client.stop()
    assert time.monotonic() - started < 5
    assert not client.running and not client.connected
    vpcd.expect_eof()


def test_stop_during_backoff_returns_promptly(handler: RecordingHandler) -> None:
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    client = VpcdClient(handler, "127.0.0.1", port, initial_backoff=1.0, max_backoff=2.0)
    client.start()
    time.sleep(0.1)
    started = time.monotonic()
    client.stop()
    assert time.monotonic() - started < 2
    assert not client.running


def test_start_twice_is_refused(vpcd: FakeVpcd, client: VpcdClient) -> None:
    with pytest.raises(RuntimeError):
        client.start()


@pytest.mark.parametrize(
    "kwargs",
    [
        {"port": 0},
        {"port": 70000},
        {"initial_backoff": 0},
        {"initial_backoff": 3, "max_backoff": 1},
    ],
)
def test_bad_arguments(kwargs: dict[str, float]) -> None:
    args: dict[str, float] = {"port": 35963, **kwargs}
    port = int(args.pop("port"))
    with pytest.raises(ValueError):
        VpcdClient(RecordingHandler(), "127.0.0.1", port, **args)  # type: ignore[arg-type]


def test_main_rejects_a_bad_handler_spec() -> None:
    with pytest.raises(SystemExit):
        main(["--handler", "no-colon-here"])


def test_every_apdu_crosses_unchanged() -> None:
    """Any frame of 2..2000 bytes reaches the handler as sent; the answer comes back as given."""
    fake = FakeVpcd()
    handler = RecordingHandler()
    client = VpcdClient(handler, "127.0.0.1", fake.port)
    client.start()
    fake.accept()
    lock = threading.Lock()

    @settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(command=st.binary(min_size=2, max_size=2000), answer=st.binary(min_size=2, max_size=600))
    def exchange(command: bytes, answer: bytes) -> None:
        with lock:
            handler.calls.clear()
            handler.answer = answer
            assert fake.apdu(command) == answer
            assert handler.calls == [("transmit", command)]

    try:
        exchange()
    finally:
        client.stop()
        fake.close()


def test_command_line_serves_a_handler_and_stops_on_sigterm(vpcd: FakeVpcd) -> None:
    """``python -m simulator.vpcd --handler module:factory``: served, then a clean exit."""
    atr = bytes.fromhex("3B8F8001804F0CA0000003060300030000000068")
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parent)}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "simulator.vpcd",
            "--handler",
            "scripted_card:make_handler",
            "--port",
            str(vpcd.port),
            "--",
            "--atr",
            atr.hex(),
        ],
        env=env,
    )
    try:
        vpcd.accept(timeout=30)
        assert vpcd.atr() == atr
        assert vpcd.apdu(bytes.fromhex("00EE000001AA")) == bytes.fromhex("00EE000001AA9000")
        # The handler's CardEjected (simulator.vpcd's, not a __main__ copy of it) drops the
        # link instead of being answered 6F00; the card comes back 0.1 s later.
        vpcd.send_frame(bytes.fromhex("00EF0100"))
        vpcd.expect_eof()
        vpcd.accept(timeout=30)
        assert vpcd.atr() == atr
        assert vpcd.apdu(bytes.fromhex("00EE000001BB")) == bytes.fromhex("00EE000001BB9000")
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
        vpcd.expect_eof()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
