"""Exchange over a scripted transport: 61xx, 6Cxx, chaining, link limits, guards, counters."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from apdu import (
    CardRemovedError,
    CommandApdu,
    Exchange,
    ExchangeLoopError,
    NotFoundError,
    ResponseApdu,
    ResponseTooLargeError,
    Transport,
    TransportError,
    VerificationFailedError,
    WrongLengthError,
)

Scripted = Callable[..., Any]

SELECT_JPKI = CommandApdu(0x00, 0xA4, 0x04, 0x0C, bytes.fromhex("D392F000260100000001"))


def h(text: str) -> bytes:
    return bytes.fromhex(text.replace(" ", ""))


def scripted_closed(transport: object) -> bool:
    return bool(getattr(transport, "closed", False))


def test_scripted_transport_is_a_transport(scripted: Scripted) -> None:
    transport = scripted([])
    assert isinstance(transport, Transport)
    exchange = Exchange(transport)
    assert exchange.transport is transport
    with exchange.transport:
        pass
    assert scripted_closed(transport)


def test_plain_command_passes_through(scripted: Scripted) -> None:
    transport = scripted([("00A4040C0AD392F000260100000001", "9000")])
    exchange = Exchange(transport)
    response = exchange.transmit(SELECT_JPKI)
    assert response == ResponseApdu(b"", 0x9000)
    assert exchange.apdu_count == 1
    assert exchange.bytes_sent == 15
    assert exchange.bytes_received == 2


def test_transmit_never_raises_for_a_status_word(scripted: Scripted) -> None:
    transport = scripted([("00A4040C0AD392F000260100000001", "6A82")])
    response = Exchange(transport).transmit(SELECT_JPKI)
    assert response.sw == 0x6A82


def test_send_returns_data_or_raises_typed(scripted: Scripted) -> None:
    transport = scripted(
        [
            ("00B0000007", "30820622 020100 9000"),
            ("00A4040C0AD392F000260100000001", "6A82"),
        ]
    )
    exchange = Exchange(transport)
    assert exchange.send(CommandApdu(0x00, 0xB0, 0x00, 0x00, le=7)) == h("30820622020100")
    with pytest.raises(NotFoundError, match="SELECT failed: SW 6A82") as info:
        exchange.send(SELECT_JPKI)
    assert info.value.sw == 0x6A82


# --- 61xx


def test_get_response_single_round(scripted: Scripted) -> None:
    transport = scripted(
        [
            ("802A0080 03 010203 00", "6100"),
            ("00C0000000", "AB" * 256 + "9000"),
        ]
    )
    exchange = Exchange(transport)
    sign = CommandApdu(0x80, 0x2A, 0x00, 0x80, h("010203"), le=256)
    response = exchange.transmit(sign)
    assert response.data == h("AB" * 256)
    assert response.sw == 0x9000
    assert exchange.apdu_count == 2


def test_get_response_accumulates_every_round(scripted: Scripted) -> None:
    # The first answer carries data as well as 61xx (as T=1 cards may); every piece is kept.
    transport = scripted(
        [
            ("00B0000000", "01" * 100 + "6110"),
            ("00C0000010", "02" * 16 + "6105"),
            ("00C0000005", "03" * 5 + "9000"),
        ]
    )
    response = Exchange(transport).transmit(CommandApdu(0x00, 0xB0, 0x00, 0x00, le=256))
    assert response.data == h("01" * 100 + "02" * 16 + "03" * 5)
    assert response.ok


def test_get_response_final_error_keeps_collected_data(scripted: Scripted) -> None:
    transport = scripted(
        [
            ("00CA010100", "6102"),
            ("00C0000002", "AAAA 6282"),
        ]
    )
    response = Exchange(transport).transmit(CommandApdu(0x00, 0xCA, 0x01, 0x01, le=256))
    assert response == ResponseApdu(h("AAAA"), 0x6282)


@pytest.mark.parametrize(
    ("cla", "get_response_cla"),
    [(0x00, 0x00), (0x01, 0x01), (0x03, 0x03), (0x0C, 0x00), (0x80, 0x00), (0x41, 0x41)],
)
def test_get_response_class_follows_logical_channel(
    scripted: Scripted, cla: int, get_response_cla: int
) -> None:
    transport = scripted(
        [
            (f"{cla:02X}CA0101 00", "6101"),
            (f"{get_response_cla:02X}C0000001", "55 9000"),
        ]
    )
    response = Exchange(transport).transmit(CommandApdu(cla, 0xCA, 0x01, 0x01, le=256))
    assert response.data == h("55")


def test_get_response_le_capped_by_transport(scripted: Scripted) -> None:
    transport = scripted(
        [
            ("00B0000040", "6100"),
            ("00C0000040", "11" * 64 + "6100"),
            ("00C0000040", "22" * 64 + "9000"),
        ],
        max_response_data=64,
    )
    response = Exchange(transport).transmit(CommandApdu(0x00, 0xB0, 0x00, 0x00, le=256))
    assert response.data == h("11" * 64 + "22" * 64)


# --- 6Cxx


def test_wrong_le_resends_with_exact_le(scripted: Scripted) -> None:
    transport = scripted(
        [
            ("00B0000000", "6C11"),
            ("00B0000011", "FF10" + "35" * 15 + "9000"),
        ]
    )
    exchange = Exchange(transport)
    response = exchange.transmit(CommandApdu(0x00, 0xB0, 0x00, 0x00, le=256))
    assert response.data == h("FF10" + "35" * 15)
    assert exchange.apdu_count == 2


def test_wrong_le_00_means_256(scripted: Scripted) -> None:
    transport = scripted(
        [
            ("00CA010110", "6C00"),
            ("00CA010100", "77" * 256 + "9000"),
        ]
    )
    response = Exchange(transport).transmit(CommandApdu(0x00, 0xCA, 0x01, 0x01, le=16))
    assert len(response.data) == 256


def test_wrong_le_turns_case_1_into_case_2_and_keeps_data_of_case_4(scripted: Scripted) -> None:
    transport = scripted(
        [
            ("00840000", "6C08"),
            ("0084000008", "0102030405060708 9000"),
            ("00880000 02 AABB 00", "6C20"),
            ("00880000 02 AABB 20", "CC" * 32 + "9000"),
        ]
    )
    exchange = Exchange(transport)
    assert exchange.send(CommandApdu(0x00, 0x84, 0x00, 0x00)) == h("0102030405060708")
    assert exchange.send(CommandApdu(0x00, 0x88, 0x00, 0x00, h("AABB"), le=256)) == h("CC" * 32)


def test_wrong_le_then_more_data(scripted: Scripted) -> None:
    transport = scripted(
        [
            ("00B0000005", "6C00"),
            ("00B0000000", "01" * 256 + "6103"),
            ("00C0000003", "020202 9000"),
        ]
    )
    response = Exchange(transport).transmit(CommandApdu(0x00, 0xB0, 0x00, 0x00, le=5))
    assert response.data == h("01" * 256 + "020202")


def test_get_response_answered_wrong_le_is_resent(scripted: Scripted) -> None:
    transport = scripted(
        [
            ("00B0000000", "6100"),
            ("00C0000000", "6C04"),
            ("00C0000004", "DEADBEEF 9000"),
        ]
    )
    response = Exchange(transport).transmit(CommandApdu(0x00, 0xB0, 0x00, 0x00, le=256))
    assert response.data == h("DEADBEEF")


def test_wrong_le_never_resends_a_pin(scripted: Scripted) -> None:
    transport = scripted([("00200080 04 31323334", "6C04")])
    exchange = Exchange(transport)
    verify = CommandApdu(0x00, 0x20, 0x00, 0x80, b"1234")
    with pytest.raises(WrongLengthError) as info:
        exchange.send(verify)
    assert info.value.sw == 0x6C04
    assert exchange.apdu_count == 1  # the PIN went out once, never again


def test_wrong_le_above_link_limit_is_returned(scripted: Scripted) -> None:
    transport = scripted([("00B0000040", "6C00")], max_response_data=64)
    response = Exchange(transport).transmit(CommandApdu(0x00, 0xB0, 0x00, 0x00, le=256))
    assert response.sw == 0x6C00


# --- chaining


def test_chaining_splits_long_data(scripted: Scripted) -> None:
    data = bytes(range(256)) * 2 + bytes(88)  # 600 bytes
    blocks = [data[:255], data[255:510], data[510:]]
    transport = scripted(
        [
            ("10DA0000 FF" + blocks[0].hex(), "9000"),
            ("10DA0000 FF" + blocks[1].hex(), "9000"),
            ("00DA0000 5A" + blocks[2].hex() + "00", "0102 9000"),
        ]
    )
    exchange = Exchange(transport)
    response = exchange.transmit(CommandApdu(0x00, 0xDA, 0x00, 0x00, data, le=256))
    assert response == ResponseApdu(h("0102"), 0x9000)
    assert exchange.apdu_count == 3
    assert exchange.bytes_sent == (5 + 255) * 2 + (5 + 90 + 1)
    assert exchange.bytes_received == 2 + 2 + 4


def test_chaining_exact_multiple_of_block(scripted: Scripted) -> None:
    data = bytes([0x11]) * 8
    transport = scripted(
        [
            ("90A20000 04 11111111", "9000"),
            ("80A20000 04 11111111", "9000"),
        ],
        max_command_data=4,
    )
    assert Exchange(transport).send(CommandApdu(0x80, 0xA2, 0x00, 0x00, data)) == b""


def test_chaining_stops_at_first_non_9000(scripted: Scripted) -> None:
    transport = scripted(
        [
            ("10DA0000 02 0102", "9000"),
            ("10DA0000 02 0304", "6884"),
        ],
        max_command_data=2,
    )
    exchange = Exchange(transport)
    cmd = CommandApdu(0x00, 0xDA, 0x00, 0x00, h("0102030405"))
    response = exchange.transmit(cmd)
    assert response.sw == 0x6884
    assert exchange.apdu_count == 2  # the rest of the chain was not sent


def test_chaining_intermediate_answer_is_size_checked(scripted: Scripted) -> None:
    # Found by the chaotic-card property: a refused block's answer must respect the limit too.
    transport = scripted([("10DA0000 02 0102", "00" * 20 + "6100")], max_command_data=2)
    with pytest.raises(ResponseTooLargeError):
        Exchange(transport, max_response_size=10).transmit(
            CommandApdu(0x00, 0xDA, 0x00, 0x00, h("010203"))
        )


def test_chaining_then_get_response(scripted: Scripted) -> None:
    transport = scripted(
        [
            ("902A0080 03 010203", "9000"),
            ("802A0080 02 0405 00", "6104"),
            ("00C0000004", "AABBCCDD 9000"),
        ],
        max_command_data=3,
    )
    cmd = CommandApdu(0x80, 0x2A, 0x00, 0x80, h("0102030405"), le=256)
    assert Exchange(transport).send(cmd) == h("AABBCCDD")


def test_long_data_on_short_link_is_chained_short(scripted: Scripted) -> None:
    # Lc=300 needs an extended APDU, but this link only carries short ones.
    data = bytes([0x42]) * 300
    transport = scripted(
        [
            ("10D60000 FF" + "42" * 255, "9000"),
            ("00D60000 2D" + "42" * 45, "9000"),
        ]
    )
    assert Exchange(transport).transmit(CommandApdu(0x00, 0xD6, 0x00, 0x00, data)).ok


# --- link limits and extended length


def test_extended_used_when_link_allows(scripted: Scripted) -> None:
    data = bytes([0x42]) * 300
    transport = scripted(
        [("00D60000 00012C" + "42" * 300, "9000")],
        extended_length=True,
        max_command_data=65535,
        max_response_data=65536,
    )
    assert Exchange(transport).transmit(CommandApdu(0x00, 0xD6, 0x00, 0x00, data)).ok


def test_extended_le_on_extended_link(scripted: Scripted) -> None:
    transport = scripted(
        [("00B08A00 000000", "30" * 1000 + "9000")],
        extended_length=True,
        max_command_data=65535,
        max_response_data=65536,
    )
    response = Exchange(transport).transmit(CommandApdu(0x00, 0xB0, 0x8A, 0x00, le=65536))
    assert len(response.data) == 1000


def test_extended_le_capped_on_short_link(scripted: Scripted) -> None:
    transport = scripted([("00B08A00 00", "30" * 256 + "9000")])
    response = Exchange(transport).transmit(CommandApdu(0x00, 0xB0, 0x8A, 0x00, le=65536))
    assert len(response.data) == 256


def test_extended_le_capped_to_link_maximum(scripted: Scripted) -> None:
    transport = scripted(
        [("00B00000 000400", "30" * 1024 + "9000")],
        extended_length=True,
        max_command_data=1024,
        max_response_data=1024,
    )
    response = Exchange(transport).transmit(CommandApdu(0x00, 0xB0, 0x00, 0x00, le=65536))
    assert len(response.data) == 1024


def test_short_le_capped_to_link_maximum(scripted: Scripted) -> None:
    transport = scripted([("00B0000064", "30" * 100 + "9000")], max_response_data=100)
    Exchange(transport).transmit(CommandApdu(0x00, 0xB0, 0x00, 0x00, le=256))


def test_forced_extended_kept_on_extended_link_dropped_on_short(scripted: Scripted) -> None:
    cmd = CommandApdu(0x00, 0xCA, 0x7F, 0x21, le=256, extended=True)
    extended_link = scripted(
        [("00CA7F21 000100", "9000")],
        extended_length=True,
        max_command_data=65535,
        max_response_data=65536,
    )
    Exchange(extended_link).transmit(cmd)
    short_link = scripted([("00CA7F21 00", "9000")])
    Exchange(short_link).transmit(cmd)


def test_short_command_stays_short_on_extended_link(scripted: Scripted) -> None:
    transport = scripted(
        [("00A4040C0AD392F000260100000001", "9000")],
        extended_length=True,
        max_command_data=65535,
        max_response_data=65536,
    )
    Exchange(transport).transmit(SELECT_JPKI)


def test_extended_chaining_on_extended_link(scripted: Scripted) -> None:
    data = bytes([0x42]) * 700
    transport = scripted(
        [
            ("10D60000 000200" + "42" * 512, "9000"),
            ("00D60000 0000BC" + "42" * 188, "9000"),
        ],
        extended_length=True,
        max_command_data=512,
        max_response_data=65536,
    )
    assert Exchange(transport).transmit(CommandApdu(0x00, 0xD6, 0x00, 0x00, data)).ok


@pytest.mark.parametrize(
    "caps",
    [
        {"max_command_data": 0},
        {"max_response_data": 0},
        {"max_response_data": -1},
    ],
)
def test_nonsense_link_limits_rejected(scripted: Scripted, caps: dict[str, int]) -> None:
    transport = scripted([], **caps)
    with pytest.raises(ValueError, match="must be a positive int"):
        Exchange(transport).transmit(SELECT_JPKI)


# --- guards


def test_loop_guard_on_endless_61xx(scripted: Scripted) -> None:
    steps = [("00B0000000", "6101")] + [("00C0000001", "00 6101")] * 5
    transport = scripted(steps)
    exchange = Exchange(transport, max_rounds=5)
    with pytest.raises(ExchangeLoopError) as info:
        exchange.transmit(CommandApdu(0x00, 0xB0, 0x00, 0x00, le=256))
    assert info.value.rounds == 5
    assert exchange.apdu_count == 6  # the command and exactly max_rounds GET RESPONSEs


def test_loop_guard_on_endless_6cxx(scripted: Scripted) -> None:
    steps = [("00B0000000", "6C10")] + [("00B0000010", "6C10")] * 3
    transport = scripted(steps)
    with pytest.raises(ExchangeLoopError, match="READ BINARY"):
        Exchange(transport, max_rounds=3).transmit(CommandApdu(0x00, 0xB0, 0x00, 0x00, le=256))


def test_zero_rounds_means_no_get_response(scripted: Scripted) -> None:
    transport = scripted([("00B0000000", "6100")])
    with pytest.raises(ExchangeLoopError):
        Exchange(transport, max_rounds=0).transmit(CommandApdu(0x00, 0xB0, 0x00, 0x00, le=256))


def test_default_round_limit_allows_a_full_65536_byte_response(scripted: Scripted) -> None:
    steps = [("00B0000000", "6100")] + [("00C0000000", "5A" * 256 + "6100")] * 255
    steps.append(("00C0000000", "5A" * 256 + "9000"))
    response = Exchange(scripted(steps)).transmit(CommandApdu(0x00, 0xB0, 0x00, 0x00, le=256))
    assert len(response.data) == 65536


def test_size_guard(scripted: Scripted) -> None:
    transport = scripted(
        [
            ("00B0000000", "01" * 256 + "6100"),
            ("00C0000000", "02" * 256 + "9000"),
        ]
    )
    exchange = Exchange(transport, max_response_size=300)
    with pytest.raises(ResponseTooLargeError) as info:
        exchange.transmit(CommandApdu(0x00, 0xB0, 0x00, 0x00, le=256))
    assert info.value.limit == 300
    assert info.value.received == 512


def test_size_guard_on_a_single_oversized_answer(scripted: Scripted) -> None:
    transport = scripted([("00B0000010", "01" * 17 + "9000")])
    with pytest.raises(ResponseTooLargeError):
        Exchange(transport, max_response_size=16).transmit(
            CommandApdu(0x00, 0xB0, 0x00, 0x00, le=16)
        )


def test_size_exactly_at_limit_is_accepted(scripted: Scripted) -> None:
    transport = scripted(
        [
            ("00B0000000", "01" * 256 + "6104"),
            ("00C0000004", "02" * 4 + "9000"),
        ]
    )
    response = Exchange(transport, max_response_size=260).transmit(
        CommandApdu(0x00, 0xB0, 0x00, 0x00, le=256)
    )
    assert len(response.data) == 260


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"max_rounds": -1}, ValueError),
        ({"max_response_size": -1}, ValueError),
        ({"max_rounds": 1.5}, TypeError),
        ({"max_response_size": True}, TypeError),
    ],
)
def test_exchange_argument_checks(
    scripted: Scripted, kwargs: dict[str, Any], error: type[Exception]
) -> None:
    with pytest.raises(error):
        Exchange(scripted([]), **kwargs)


def test_transmit_rejects_raw_bytes(scripted: Scripted) -> None:
    with pytest.raises(TypeError, match="CommandApdu"):
        Exchange(scripted([])).transmit(b"\x00\xa4\x00\x00")  # type: ignore[arg-type]


# --- transport failures and counters


def test_transport_error_propagates_with_code(scripted: Scripted) -> None:
    removed = CardRemovedError("card removed", pcsc_code=0x80100069)
    transport = scripted([("00B0000000", removed)])
    exchange = Exchange(transport)
    with pytest.raises(CardRemovedError) as info:
        exchange.transmit(CommandApdu(0x00, 0xB0, 0x00, 0x00, le=256))
    assert info.value is removed
    assert info.value.pcsc_code == 0x80100069
    assert exchange.apdu_count == 1
    assert exchange.bytes_received == 0


def test_os_error_becomes_transport_error(scripted: Scripted) -> None:
    transport = scripted([("00200080 04 31323334", ConnectionResetError("peer reset"))])
    with pytest.raises(TransportError) as info:
        Exchange(transport).transmit(CommandApdu(0x00, 0x20, 0x00, 0x80, b"1234"))
    assert isinstance(info.value.__cause__, ConnectionResetError)
    assert "VERIFY" in str(info.value)
    assert "1234" not in str(info.value)


@pytest.mark.parametrize("reply", ["", "90"])
def test_short_reply_is_a_transport_error(scripted: Scripted, reply: str) -> None:
    transport = scripted([("00A4040C0AD392F000260100000001", reply)])
    exchange = Exchange(transport)
    with pytest.raises(TransportError, match="malformed response to SELECT"):
        exchange.transmit(SELECT_JPKI)
    assert exchange.bytes_received == len(reply) // 2


def test_counters_cover_every_raw_apdu_and_reset(scripted: Scripted) -> None:
    transport = scripted(
        [
            ("00A4040C0AD392F000260100000001", "9000"),  # 15 out, 2 in
            ("00B0000000", "6C11"),  # 5 out, 2 in
            ("00B0000011", "01" * 17 + "6102"),  # 5 out, 19 in
            ("00C0000002", "0203 9000"),  # 5 out, 4 in
        ]
    )
    exchange = Exchange(transport)
    exchange.send(SELECT_JPKI)
    assert exchange.send(CommandApdu(0x00, 0xB0, 0x00, 0x00, le=256)) == h("01" * 17 + "0203")
    assert exchange.apdu_count == 4
    assert exchange.bytes_sent == 15 + 5 + 5 + 5
    assert exchange.bytes_received == 2 + 2 + 19 + 4
    exchange.reset_counters()
    assert (exchange.apdu_count, exchange.bytes_sent, exchange.bytes_received) == (0, 0, 0)


def test_verify_failure_is_typed_through_send(scripted: Scripted) -> None:
    transport = scripted([("00200080 04 31323334", "63C2")])
    with pytest.raises(VerificationFailedError) as info:
        Exchange(transport).send(CommandApdu(0x00, 0x20, 0x00, 0x80, b"1234"))
    assert info.value.retries_remaining == 2


def test_properties(scripted: Scripted) -> None:
    exchange = Exchange(scripted([]), max_response_size=1000, max_rounds=7)
    assert exchange.max_response_size == 1000
    assert exchange.max_rounds == 7
    assert exchange.tracer.logger.name == "apdu.traffic"


# --- a broken card never hangs or crashes the exchange


class ChaoticCard:
    """Answers every APDU with whatever hypothesis draws: any SW, any data, short garbage."""

    def __init__(self, data: st.DataObject, caps: tuple[bool, int, int]) -> None:
        self._data = data
        self.extended_length, self.max_command_data, self.max_response_data = caps
        self.received: list[bytes] = []

    def transmit(self, command: bytes) -> bytes:
        self.received.append(command)
        CommandApdu.decode(command)  # the exchange only ever sends well-formed APDUs
        sw1 = self._data.draw(st.sampled_from([0x61, 0x6C, 0x90, 0x63, 0x6A, 0x67, 0x00]))
        sw2 = self._data.draw(st.integers(min_value=0, max_value=255))
        body = self._data.draw(st.binary(max_size=300))
        if self._data.draw(st.integers(min_value=0, max_value=30)) == 0:
            return body[:1]  # a truncated answer
        return body + bytes((sw1, sw2))

    def close(self) -> None:
        pass

    def __enter__(self) -> ChaoticCard:
        return self

    def __exit__(self, *exc: object) -> None:
        pass


@settings(max_examples=150, deadline=None)
@given(
    data=st.data(),
    cmd=st.builds(
        CommandApdu,
        st.sampled_from([0x00, 0x80, 0x01]),
        st.sampled_from([0xB0, 0x2A, 0x20, 0xCA]),
        st.just(0),
        st.just(0),
        st.binary(max_size=40),
        st.one_of(st.none(), st.integers(min_value=1, max_value=65536)),
    ),
    caps=st.tuples(
        st.booleans(),
        st.integers(min_value=1, max_value=300),
        st.integers(min_value=1, max_value=70000),
    ),
    max_rounds=st.integers(min_value=0, max_value=20),
    max_response_size=st.integers(min_value=0, max_value=2000),
)
def test_property_broken_card_gives_a_response_or_a_typed_error(
    data: st.DataObject,
    cmd: CommandApdu,
    caps: tuple[bool, int, int],
    max_rounds: int,
    max_response_size: int,
) -> None:
    card = ChaoticCard(data, caps)
    exchange = Exchange(card, max_rounds=max_rounds, max_response_size=max_response_size)
    try:
        response = exchange.transmit(cmd)
    except (TransportError, ExchangeLoopError, ResponseTooLargeError):
        pass
    else:
        assert len(response.data) <= max_response_size
    blocks = max(1, -(-len(cmd.data) // min(caps[1], 255 if not caps[0] else 65535)))
    assert exchange.apdu_count == len(card.received)
    assert exchange.apdu_count <= blocks + max_rounds
