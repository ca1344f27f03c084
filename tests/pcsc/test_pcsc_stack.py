"""apdu.pcsc through a real pcscd + vpcd stack, with scripted cards served by simulator.vpcd."""

from __future__ import annotations

import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from pcsc_cards import DEFAULT_ATR, RunningCard
from pcscstack import PcscStack

from apdu import CommandApdu, Exchange, Transport
from apdu.errors import (
    ApduFormatError,
    CardRemovedError,
    NoCardError,
    ReaderNotFoundError,
    ReaderUnavailableError,
    TransportError,
)

pytest.importorskip("smartcard", reason="pyscard not installed (the pcsc extra)")

from apdu.pcsc import PcscTransport, ReaderInfo, list_readers

pytestmark = pytest.mark.pcsc

InsertCard = Callable[..., RunningCard]

SCARD_E_SHARING_VIOLATION = 0x8010000B
SCARD_E_UNKNOWN_READER = 0x80100009
SCARD_E_NO_SMARTCARD = 0x8010000C


def _reader(name: str) -> ReaderInfo:
    return next(info for info in list_readers() if info.name == name)


def test_pyscard_lists_the_virtual_readers_empty(pcsc_stack: PcscStack) -> None:
    infos = {info.name: info for info in list_readers()}
    assert pcsc_stack.readers == ["Virtual PCD 00 00", "Virtual PCD 00 01"]
    for name in pcsc_stack.readers:
        assert infos[name] == ReaderInfo(name, card_present=False, atr=None)


def test_only_the_private_vpcd_readers_exist(pcsc_stack: PcscStack) -> None:
    """USB drivers are hidden from the private pcscd: it never claims a physical reader."""
    assert sorted(info.name for info in list_readers()) == pcsc_stack.readers


def test_opensc_tool_sees_the_reader(pcsc_stack: PcscStack) -> None:
    if shutil.which("opensc-tool") is None:
        pytest.skip("opensc-tool not installed (apt-get install opensc)")
    out = subprocess.run(
        ["opensc-tool", "-l"], env=pcsc_stack.env, capture_output=True, text=True, timeout=30
    )
    assert out.returncode == 0, out.stderr
    assert pcsc_stack.reader_name(0) in out.stdout
    assert pcsc_stack.reader_name(1) in out.stdout


def test_vpcd_listener_is_unreachable_from_outside_the_namespace(
    pcsc_stack: PcscStack, insert_card: InsertCard
) -> None:
    # a card process inside the namespace reaches it ...
    card = insert_card(1)
    assert _reader(card.reader).card_present
    # ... a connection from the normal namespace does not reach our vpcd
    try:
        outsider = socket.create_connection(("127.0.0.1", pcsc_stack.port(0)), timeout=2)
    except OSError:
        return  # refused: nothing listens there outside the namespace
    with outsider:  # something else (a system vpcd?) listens: it must not be ours
        time.sleep(1.0)
        assert not _reader(pcsc_stack.reader_name(0)).card_present


def test_card_started_from_a_short_lived_thread_outlives_it(
    pcsc_stack: PcscStack, insert_card: InsertCard
) -> None:
    """setpriv's parent-death signal follows the forking *thread*: a card inserted from a
    timer thread must not be killed when that thread ends (the stack forks from its own)."""
    started: list[RunningCard] = []

    def insert_later() -> None:
        started.append(insert_card(1, wait=False))
        time.sleep(0.5)  # setpriv has armed its signal by now: the thread's end would fire it

    worker = threading.Thread(target=insert_later)
    worker.start()
    worker.join()
    time.sleep(0.5)
    (card,) = started
    assert card.proc.poll() is None, "the card process died with the thread that started it"
    pcsc_stack.wait_for_card(1)


def test_card_insertion_shows_in_list_readers(insert_card: InsertCard) -> None:
    atr = bytes.fromhex("3B8F8001804F0CA0000003060300030000000068")
    card = insert_card(0, atr=atr)
    assert _reader(card.reader) == ReaderInfo(card.reader, card_present=True, atr=atr)


def test_exchange_exact_bytes_both_ways(insert_card: InsertCard) -> None:
    card = insert_card(0)
    commands = [
        bytes.fromhex("00EE0000"),  # case 1
        bytes.fromhex("00EE000003010203"),  # case 3 short
        bytes.fromhex("00EE00000401020304FF"),  # case 4 short
        bytes.fromhex("80EE123400"),  # case 2, Le=256
    ]
    with PcscTransport.connect(card.reader) as transport:
        assert isinstance(transport, Transport)
        assert transport.reader == card.reader
        assert transport.atr == DEFAULT_ATR
        assert transport.protocol in ("T=0", "T=1")
        answers = [transport.transmit(c) for c in commands]
    assert answers == [c + b"\x90\x00" for c in commands]
    assert card.apdus() == list(zip(commands, answers, strict=True))


def test_extended_apdus_and_large_responses_cross_pcscd(insert_card: InsertCard) -> None:
    card = insert_card(0)
    big_data = bytes(i % 256 for i in range(3000))
    extended = bytes.fromhex("00EE0000") + b"\x00" + len(big_data).to_bytes(2, "big") + big_data
    extended_le = extended + b"\x00\x00"  # case 4 extended, Le=65536
    with PcscTransport.connect(card.reader) as transport:
        assert transport.transmit(extended) == extended + b"\x90\x00"
        assert transport.transmit(extended_le) == extended_le + b"\x90\x00"
        # a response far beyond 256 bytes
        big = transport.transmit(bytes.fromhex("00B0") + (4000).to_bytes(2, "big"))
    assert big == bytes(i % 251 for i in range(4000)) + b"\x90\x00"
    assert [c for c, _ in card.apdus()][:2] == [extended, extended_le]


def test_link_limits_default_to_short_and_can_be_overridden(insert_card: InsertCard) -> None:
    card = insert_card(0)
    # vpcd does not report SCARD_ATTR_MAXINPUT: short APDUs are the safe default
    with PcscTransport.connect(card.reader) as transport:
        assert (transport.extended_length, transport.max_command_data) == (False, 255)
        assert transport.max_response_data == 256
    with PcscTransport.connect(card.reader, extended_length=True) as transport:
        assert transport.extended_length
        assert (transport.max_command_data, transport.max_response_data) == (65535, 65536)
        # the exchange layer now sends one extended APDU instead of chaining
        exchange = Exchange(transport)
        response = exchange.transmit(CommandApdu(0x00, 0xEE, 0, 0, bytes(600), le=65536))
        assert response.sw == 0x9000
        assert exchange.apdu_count == 1
    with PcscTransport.connect(
        card.reader, max_command_data=100, max_response_data=128
    ) as transport:
        assert (transport.max_command_data, transport.max_response_data) == (100, 128)


def test_exchange_layer_over_pcsc_with_chaining(insert_card: InsertCard) -> None:
    card = insert_card(0)
    with PcscTransport.connect(card.reader) as transport:
        exchange = Exchange(transport)
        response = exchange.transmit(CommandApdu(0x00, 0xEE, 0, 0, bytes(range(256)) * 2))
    assert response.sw == 0x9000
    sent = [c for c, _ in card.apdus()]
    assert len(sent) == 3  # 512 bytes in short APDUs: 255 + 255 + 2, CLA 10 on all but the last
    assert [c[0] for c in sent] == [0x10, 0x10, 0x00]


def test_first_reader_with_a_card_is_chosen(insert_card: InsertCard) -> None:
    card = insert_card(1)  # reader 0 stays empty
    with PcscTransport.connect() as transport:
        assert transport.reader == card.reader


def test_reader_prefix_picks_the_one_matching_reader(insert_card: InsertCard) -> None:
    card = insert_card(1)
    with PcscTransport.connect("Virtual PCD 00 01") as transport:
        assert transport.reader == card.reader
    with pytest.raises(ReaderNotFoundError, match="matches several readers"):
        PcscTransport.connect("Virtual PCD")


def test_unknown_reader_name(pcsc_stack: PcscStack) -> None:
    with pytest.raises(ReaderNotFoundError) as info:
        PcscTransport.connect("No Such Reader 00 00")
    assert info.value.pcsc_code == SCARD_E_UNKNOWN_READER
    assert pcsc_stack.reader_name(0) in str(info.value)  # the message lists the real ones


def test_empty_reader_and_no_card_anywhere(pcsc_stack: PcscStack) -> None:
    with pytest.raises(NoCardError) as info:
        PcscTransport.connect(pcsc_stack.reader_name(0))
    assert info.value.pcsc_code == SCARD_E_NO_SMARTCARD
    with pytest.raises(NoCardError):
        PcscTransport.connect()


def test_exclusive_session_keeps_others_out(insert_card: InsertCard) -> None:
    card = insert_card(0)
    with PcscTransport.connect(card.reader):
        with pytest.raises(ReaderUnavailableError) as info:
            PcscTransport.connect(card.reader)
        assert info.value.pcsc_code == SCARD_E_SHARING_VIOLATION
    # once closed, the card is free again
    with PcscTransport.connect(card.reader) as again:
        assert again.transmit(bytes.fromhex("00EE0000"))[-2:] == b"\x90\x00"


def test_shared_sessions_coexist(insert_card: InsertCard) -> None:
    card = insert_card(0)
    with (
        PcscTransport.connect(card.reader, exclusive=False) as first,
        PcscTransport.connect(card.reader, exclusive=False) as second,
    ):
        assert not first.exclusive
        assert first.transmit(bytes.fromhex("00EE0001"))[-2:] == b"\x90\x00"
        assert second.transmit(bytes.fromhex("00EE0002"))[-2:] == b"\x90\x00"


def _events_after_close(card: RunningCard, disposition: str | None) -> list[str]:
    transport = PcscTransport.connect(card.reader)
    transport.transmit(bytes.fromhex("00EE0000"))
    mark = len(card.events())
    if disposition is None:
        transport.close()
    else:
        transport.close(disposition)  # type: ignore[arg-type]
    # a marker APDU in a new session: whatever close caused comes before it
    with PcscTransport.connect(card.reader) as probe:
        probe.transmit(bytes.fromhex("00EE0099"))
    card.wait_event(lambda e: e.get("command") == "00ee0099", after=mark)
    events = card.events()[mark:]
    names = [e["event"] for e in events]
    return names[: names.index("apdu")]


def test_close_resets_the_card_by_default(insert_card: InsertCard) -> None:
    card = insert_card(0)
    assert _events_after_close(card, None) == ["reset"]


@pytest.mark.parametrize(
    ("disposition", "expected"),
    [("reset", ["reset"]), ("leave", []), ("unpower", ["power_off", "power_on"])],
)
def test_close_dispositions_reach_the_card(
    insert_card: InsertCard, disposition: str, expected: list[str]
) -> None:
    card = insert_card(0)
    assert _events_after_close(card, disposition) == expected


def test_close_is_idempotent_and_rejects_bad_dispositions(insert_card: InsertCard) -> None:
    card = insert_card(0)
    transport = PcscTransport.connect(card.reader)
    with pytest.raises(ValueError, match="disposition"):
        transport.close("eject")  # type: ignore[arg-type]
    transport.close()
    transport.close()
    assert transport.closed
    with pytest.raises(TransportError, match="closed"):
        transport.transmit(bytes.fromhex("00EE0000"))


def test_power_on_reaches_the_handler_at_insertion(insert_card: InsertCard) -> None:
    card = insert_card(0)
    card.wait_event(lambda e: e["event"] == "power_on")


def test_bad_commands_are_refused_before_pcscd(insert_card: InsertCard) -> None:
    card = insert_card(0)
    with PcscTransport.connect(card.reader) as transport:
        with pytest.raises(ApduFormatError):
            transport.transmit(b"\x00\xee\x00")
        with pytest.raises(TypeError):
            transport.transmit("00EE0000")  # type: ignore[arg-type]
    assert card.apdus() == []


def test_card_removed_between_commands(insert_card: InsertCard) -> None:
    card = insert_card(0)
    with PcscTransport.connect(card.reader) as transport:
        transport.transmit(bytes.fromhex("00EE0000"))
        card.remove()
        with pytest.raises(CardRemovedError) as info:
            transport.transmit(bytes.fromhex("00EE0000"))
        assert info.value.pcsc_code is not None
        with pytest.raises(CardRemovedError):
            transport.transmit(bytes.fromhex("00EE0000"))


def test_card_removed_mid_command_does_not_hang(insert_card: InsertCard) -> None:
    card = insert_card(0)
    outcome: dict[str, Any] = {}

    def stalled_command() -> None:
        try:
            outcome["answer"] = transport.transmit(bytes.fromhex("005E0000"))
        except Exception as exc:
            outcome["error"] = exc

    with PcscTransport.connect(card.reader) as transport:
        worker = threading.Thread(target=stalled_command)
        worker.start()
        card.wait_event(lambda e: e["event"] == "stalling")
        card.remove(wait=False)
        worker.join(30)
        assert not worker.is_alive(), "transmit hung after the card was removed"
    assert isinstance(outcome.get("error"), CardRemovedError | NoCardError), outcome


def test_card_ejected_by_the_handler_mid_command(insert_card: InsertCard) -> None:
    card = insert_card(0)
    with PcscTransport.connect(card.reader) as transport, pytest.raises(CardRemovedError):
        transport.transmit(bytes.fromhex("00EF0000"))  # eject for good
    card.stack.wait_for_card(card.index, present=False)


def test_reinserted_card_can_be_used_again(insert_card: InsertCard) -> None:
    card = insert_card(0)
    with PcscTransport.connect(card.reader) as transport, pytest.raises(CardRemovedError):
        transport.transmit(bytes.fromhex("00EF0500"))  # out for half a second
    card.stack.wait_for_card(card.index)
    with PcscTransport.connect(card.reader) as transport:
        assert transport.transmit(bytes.fromhex("00EE0000")) == bytes.fromhex("00EE00009000")


def test_pcsc_errors_keep_their_code_and_are_transport_errors(pcsc_stack: PcscStack) -> None:
    with pytest.raises(TransportError) as info:
        PcscTransport.connect("nope")
    assert info.value.pcsc_code == SCARD_E_UNKNOWN_READER
    assert "0x80100009" in str(info.value)
