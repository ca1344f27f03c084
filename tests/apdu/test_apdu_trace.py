"""The redacting tracer: record shape, INS names, timing, and PINs never reaching any record."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from apdu import (
    TRAFFIC,
    ApduTracer,
    CardRemovedError,
    CommandApdu,
    Exchange,
    ExchangeLoopError,
    StatusWordError,
    TransportError,
    ins_name,
    is_secret_command,
)
from apdu.trace import TRAFFIC_LOGGER_NAME, format_command, format_response

Scripted = Callable[..., Any]


def spaced_hex(data: bytes) -> str:
    return data.hex(" ").upper()


def assert_secret_absent(text: str, secret: bytes) -> None:
    """The secret must not appear as text, as hex (any case, spaced or not), or as a repr."""
    compact = re.sub(r"[\s:]", "", text).upper()
    assert secret.hex().upper() not in compact
    assert spaced_hex(secret) not in text.upper()
    assert secret.decode("latin-1") not in text
    assert repr(secret) not in text


def test_traffic_level_registered() -> None:
    assert TRAFFIC == 7  # not 5: uvicorn registers 5 as TRACE
    assert TRAFFIC < logging.DEBUG
    assert logging.getLevelName(TRAFFIC) == "TRAFFIC"
    assert logging.getLevelName("TRAFFIC") == TRAFFIC


@pytest.mark.parametrize(
    ("cla", "ins", "name"),
    [
        (0x00, 0xA4, "SELECT"),
        (0x00, 0xB0, "READ BINARY"),
        (0x00, 0x20, "VERIFY"),
        (0x00, 0x24, "CHANGE REFERENCE DATA"),
        (0x80, 0x2A, "COMPUTE DIGITAL SIGNATURE"),
        (0x00, 0x2A, "PERFORM SECURITY OPERATION"),
        (0x00, 0xC0, "GET RESPONSE"),
        (0x00, 0xCA, "GET DATA"),
        (0x00, 0x84, "GET CHALLENGE"),
        (0x00, 0x88, "INTERNAL AUTHENTICATE"),
        (0x80, 0xA2, "SET PUBLIC IC KEY"),
        (0x80, 0xAE, "SET SESSION KEY"),
        (0x80, 0x32, "CHANGE KEY"),
        (0x80, 0xB0, "READ BINARY"),  # proprietary class falls back to the ISO name
        (0x10, 0x20, "VERIFY"),  # chained
        (0x00, 0x5A, "INS 5A"),
    ],
)
def test_ins_names(cla: int, ins: int, name: str) -> None:
    assert ins_name(cla, ins) == name


def test_secret_commands() -> None:
    for ins in (0x20, 0x21, 0x24, 0x25, 0x2C, 0x2D):
        for cla in (0x00, 0x10, 0x80, 0x90, 0x0C):
            assert is_secret_command(cla, ins)
    assert is_secret_command(0x80, 0x32)
    assert not is_secret_command(0x00, 0x32)
    for ins in (0xA4, 0xB0, 0x2A, 0xC0, 0x84):
        assert not is_secret_command(0x00, ins)


@pytest.mark.parametrize(
    ("raw", "text"),
    [
        ("00200080 04 31323334", "00 20 00 80 04 XX XX XX XX"),
        ("00240180 06 393837363534", "00 24 01 80 06 XX XX XX XX XX XX"),
        ("10200080 02 3132", "10 20 00 80 02 XX XX"),  # chained VERIFY block
        ("00200080 000004 31323334", "00 20 00 80 00 00 04 XX XX XX XX"),  # extended
        ("00200080 04 31323334 00", "00 20 00 80 04 XX XX XX XX 00"),  # with Le
        ("80320080 04 31323334", "80 32 00 80 04 XX XX XX XX"),  # JICSAP CHANGE KEY
        ("002C0080 04 31323334", "00 2C 00 80 04 XX XX XX XX"),
        ("00200080", "00 20 00 80"),  # the retry-counter query has nothing to mask
        ("00200080 09 31323334", "00 20 00 80 XX XX XX XX XX (malformed)"),
        ("00A4040C 02 000A", "00 A4 04 0C 02 00 0A"),
        ("802A0080 02 0102 00", "80 2A 00 80 02 01 02 00"),
        ("00B08A00 000000", "00 B0 8A 00 00 00 00"),
        ("00B0", "00 B0 (malformed, 2 bytes)"),
        ("00A40000 05 01", "00 A4 00 00 05 01 (malformed)"),
    ],
)
def test_format_command(raw: str, text: str) -> None:
    assert format_command(bytes.fromhex(raw.replace(" ", ""))) == text


def test_format_command_mask_and_clip() -> None:
    raw = bytes.fromhex("00D60000 05 0102030405".replace(" ", ""))
    assert format_command(raw, mask=True) == "00 D6 00 00 05 XX XX XX XX XX"
    assert format_command(raw, max_bytes=2) == "00 D6 00 00 05 01 02 ... (3 more bytes)"
    malformed_secret = bytes.fromhex("00D60000 09 01".replace(" ", ""))
    assert format_command(malformed_secret, mask=True) == "00 D6 00 00 XX XX (malformed)"
    malformed_long = bytes.fromhex("00D60000 09 0102030405".replace(" ", ""))
    assert format_command(malformed_long, max_bytes=2) == (
        "00 D6 00 00 09 01 ... (4 more bytes) (malformed)"
    )


def test_format_response() -> None:
    assert format_response(bytes.fromhex("0102 9000")) == "01 02 90 00"
    assert format_response(bytes.fromhex("0102 9000"), mask=True) == "XX XX 90 00"
    assert format_response(bytes.fromhex("6A82")) == "6A 82"
    assert format_response(bytes.fromhex("90")) == "90 (malformed, 1 bytes)"
    assert format_response(bytes(10) + b"\x90\x00", max_bytes=3) == (
        "00 00 00 ... (7 more bytes) 90 00"
    )


def test_records_per_command_and_response(scripted: Scripted, capture_all: Any) -> None:
    transport = scripted(
        [
            ("00A4040C0AD392F000260100000001", "9000"),
            ("00B0000000", "3082 6102"),
            ("00C0000002", "062E 9000"),
        ]
    )
    exchange = Exchange(transport, tracer=ApduTracer())
    exchange.send(CommandApdu(0x00, 0xA4, 0x04, 0x0C, bytes.fromhex("D392F000260100000001")))
    exchange.send(CommandApdu(0x00, 0xB0, 0x00, 0x00, le=256))
    traffic = [r for r in capture_all.records if r.name == TRAFFIC_LOGGER_NAME]
    assert len(traffic) == 6  # one per command and one per response, GET RESPONSE included
    assert all(r.levelno == TRAFFIC for r in traffic)
    messages = [r.getMessage() for r in traffic]
    assert messages[0] == "> 00 A4 04 0C 0A D3 92 F0 00 26 01 00 00 00 01  SELECT"
    assert re.fullmatch(r"< 90 00  SELECT  9000 success  \(\d+\.\d ms\)", messages[1])
    assert messages[2] == "> 00 B0 00 00 00  READ BINARY"
    assert re.fullmatch(
        r"< 30 82 61 02  READ BINARY  6102 2 more response bytes available \(GET RESPONSE\)"
        r"  \(\d+\.\d ms\)",
        messages[3],
    )
    assert messages[4] == "> 00 C0 00 00 02  GET RESPONSE"
    assert messages[5].startswith("< 06 2E 90 00  GET RESPONSE  9000 success  (")
    assert [r.apdu_direction for r in traffic] == ["command", "response"] * 3
    assert traffic[1].apdu_sw == 0x9000
    assert traffic[1].apdu_elapsed_ms >= 0
    assert all(not r.args for r in traffic)


def test_default_exchange_tracer_is_silent_unless_enabled(
    scripted: Scripted, caplog: pytest.LogCaptureFixture
) -> None:
    transport = scripted([("00A40000", "9000"), ("00A40000", "9000")])
    exchange = Exchange(transport)
    with caplog.at_level(logging.DEBUG):
        exchange.transmit(CommandApdu(0x00, 0xA4, 0x00, 0x00))
    assert not [r for r in caplog.records if r.name == TRAFFIC_LOGGER_NAME]
    with caplog.at_level(TRAFFIC, logger=TRAFFIC_LOGGER_NAME):
        exchange.transmit(CommandApdu(0x00, 0xA4, 0x00, 0x00))
    assert len([r for r in caplog.records if r.name == TRAFFIC_LOGGER_NAME]) == 2


def test_tracer_options() -> None:
    named = ApduTracer("my.traffic", level=logging.DEBUG)
    assert named.logger.name == "my.traffic"
    assert named.level == logging.DEBUG
    own = logging.getLogger("own.logger")
    assert ApduTracer(own).logger is own
    with pytest.raises(ValueError):
        ApduTracer(max_bytes=-1)


def test_redact_response(scripted: Scripted, capture_all: Any) -> None:
    my_number = b"\xff\x10\x0c" + b"537686677188"
    transport = scripted([("00B0000011", my_number.hex() + "9000")])
    exchange = Exchange(transport)
    data = exchange.send(CommandApdu(0x00, 0xB0, 0x00, 0x00, le=17), redact_response=True)
    assert data == my_number
    text = capture_all.everything()
    assert "XX XX XX" in text
    assert_secret_absent(text, b"537686677188")


def test_transport_failure_record_has_no_transport_message(
    scripted: Scripted, capture_all: Any
) -> None:
    # A transport could (wrongly) echo the APDU in its message; the trace must not pass it on.
    leaky = CardRemovedError("lost while sending 00 20 00 80 04 31 32 33 34", pcsc_code=0x80100069)
    transport = scripted([("00200080 04 31323334", leaky)])
    with pytest.raises(CardRemovedError):
        Exchange(transport).transmit(CommandApdu(0x00, 0x20, 0x00, 0x80, b"1234"))
    traffic = [r for r in capture_all.records if r.name == TRAFFIC_LOGGER_NAME]
    assert len(traffic) == 2
    assert re.fullmatch(
        r"x CardRemovedError  VERIFY PC/SC 0x80100069  \(\d+\.\d ms\)", traffic[1].getMessage()
    )
    for record in traffic:
        assert "31 32 33 34" not in record.getMessage()


# --- PINs never reach a log record


PIN = b"5871"
PASSWORD = b"Zq7SignPassWd"  # a 6-16 character signature password
NEW_PIN = b"8305"


def _pin_scenarios(scripted: Scripted) -> list[tuple[Exchange, list[CommandApdu]]]:
    """Every exchange path a PIN-bearing command can take."""
    cases: list[tuple[Exchange, list[CommandApdu]]] = []
    # Plain VERIFY, wrong and right, and the retry query.
    t = scripted(
        [
            ("00200080", "63C3"),
            (f"00200080 04 {PIN.hex()}", "63C2"),
            (f"00200080 04 {PIN.hex()}", "9000"),
        ]
    )
    cases.append(
        (
            Exchange(t),
            [
                CommandApdu(0x00, 0x20, 0x00, 0x80),
                CommandApdu(0x00, 0x20, 0x00, 0x80, PIN),
                CommandApdu(0x00, 0x20, 0x00, 0x80, PIN),
            ],
        )
    )
    # CHANGE REFERENCE DATA.
    t = scripted([(f"00240180 04 {NEW_PIN.hex()}", "9000")])
    cases.append((Exchange(t), [CommandApdu(0x00, 0x24, 0x01, 0x80, NEW_PIN)]))
    # VERIFY answered 61xx: the GET RESPONSE path.
    t = scripted(
        [
            (f"00200080 0D {PASSWORD.hex()}", "6102"),
            ("00C0000002", "0000 9000"),
        ]
    )
    cases.append((Exchange(t), [CommandApdu(0x00, 0x20, 0x00, 0x80, PASSWORD)]))
    # VERIFY answered 6Cxx: the re-send path (which refuses to send the PIN again).
    t = scripted([(f"00200080 04 {PIN.hex()}", "6C04")])
    cases.append((Exchange(t), [CommandApdu(0x00, 0x20, 0x00, 0x80, PIN)]))
    # Chained VERIFY of a long password over a link that carries 4 bytes per APDU.
    blocks = [PASSWORD[i : i + 4] for i in range(0, len(PASSWORD), 4)]
    steps = [(f"10200080 {len(b):02X} {b.hex()}", "9000") for b in blocks[:-1]]
    steps.append((f"00200080 {len(blocks[-1]):02X} {blocks[-1].hex()}", "63C4"))
    t = scripted(steps, max_command_data=4)
    cases.append((Exchange(t), [CommandApdu(0x00, 0x20, 0x00, 0x80, PASSWORD)]))
    # Chained VERIFY whose first block is refused.
    t = scripted([(f"10200080 04 {PASSWORD[:4].hex()}", "6884")], max_command_data=4)
    cases.append((Exchange(t), [CommandApdu(0x00, 0x20, 0x00, 0x80, PASSWORD)]))
    # Extended VERIFY on an extended link.
    t = scripted(
        [(f"00200080 00000D {PASSWORD.hex()}", "9000")],
        extended_length=True,
        max_command_data=65535,
        max_response_data=65536,
    )
    cases.append((Exchange(t), [CommandApdu(0x00, 0x20, 0x00, 0x80, PASSWORD, extended=True)]))
    # VERIFY answered forever with 61xx: the loop-guard path.
    t = scripted(
        [(f"00200080 04 {PIN.hex()}", "6101"), ("00C0000001", "00 6101"), ("00C0000001", "00 6101")]
    )
    cases.append((Exchange(t, max_rounds=2), [CommandApdu(0x00, 0x20, 0x00, 0x80, PIN)]))
    # VERIFY whose link fails: the transport-error paths.
    t = scripted([(f"00200080 04 {PIN.hex()}", BrokenPipeError("vpcd went away"))])
    cases.append((Exchange(t), [CommandApdu(0x00, 0x20, 0x00, 0x80, PIN)]))
    t = scripted([(f"00200080 04 {PIN.hex()}", "90")])
    cases.append((Exchange(t), [CommandApdu(0x00, 0x20, 0x00, 0x80, PIN)]))
    # JICSAP CHANGE KEY (80 32) of the common AP.
    t = scripted([(f"80320080 04 {NEW_PIN.hex()}", "9000")])
    cases.append((Exchange(t), [CommandApdu(0x80, 0x32, 0x00, 0x80, NEW_PIN)]))
    return cases


def test_pin_never_reaches_any_log_record(scripted: Scripted, capture_all: Any) -> None:
    seen_errors: list[str] = []
    for exchange, commands in _pin_scenarios(scripted):
        for cmd in commands:
            try:
                exchange.send(cmd)
            except (StatusWordError, TransportError, ExchangeLoopError) as error:
                # Exception text and repr are checked as well as the log records.
                seen_errors.append(f"{error!s} {error!r} {error.args!r}")
                logging.getLogger("test.app").exception("card operation failed")
                if error.__cause__ is not None:
                    seen_errors.append(f"{error.__cause__!s} {error.__cause__!r}")
            seen_errors.append(repr(cmd))
    traffic = [r for r in capture_all.records if r.name == TRAFFIC_LOGGER_NAME]
    assert len(traffic) >= 30  # the scenarios really were traced
    text = capture_all.everything() + "\n".join(seen_errors)
    assert "XX XX XX XX" in text
    for secret in (PIN, PASSWORD, NEW_PIN):
        assert_secret_absent(text, secret)
    # Every block of the chained password was masked, not just the first (the 1-byte tail
    # block is too short to search for meaningfully).
    for block in (PASSWORD[i : i + 4] for i in range(0, len(PASSWORD), 4)):
        if len(block) >= 3:
            assert spaced_hex(block) not in text


@st.composite
def secret_scenarios(draw: st.DrawFn) -> tuple[bytes, int, int, str, int]:
    """(secret, INS, CLA, final reply, link's max_command_data)."""
    return (
        draw(st.binary(min_size=4, max_size=16).filter(lambda b: len(set(b)) >= 3)),
        draw(st.sampled_from([0x20, 0x24, 0x2C])),
        draw(st.sampled_from([0x00, 0x0C, 0x80])),
        draw(st.sampled_from(["9000", "63C1", "6983", "6984", "6700", "6C00", "6A86", "6100"])),
        draw(st.integers(min_value=1, max_value=255)),
    )


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(scenario=secret_scenarios())
def test_property_secret_data_never_logged(
    scripted: Scripted, capture_all: Any, scenario: tuple[bytes, int, int, str, int]
) -> None:
    pin, ins, cla, reply, max_command_data = scenario
    capture_all.records.clear()
    capture_all.texts.clear()
    cmd = CommandApdu(cla, ins, 0x00, 0x80, pin)
    blocks = [pin[i : i + max_command_data] for i in range(0, len(pin), max_command_data)]
    steps: list[tuple[str, str]] = []
    for block in blocks[:-1]:
        steps.append((f"{cla | 0x10:02X}{ins:02X}0080 {len(block):02X} {block.hex()}", "9000"))
    steps.append((f"{cla:02X}{ins:02X}0080 {len(blocks[-1]):02X} {blocks[-1].hex()}", reply))
    if reply == "6100":
        steps.append(("00C0000000", "9000"))
    transport = scripted(steps, max_command_data=max_command_data)
    try:
        Exchange(transport).send(cmd)
    except StatusWordError as error:
        capture_all.texts.append(f"{error!s} {error!r}")
    capture_all.texts.append(repr(cmd))
    text = capture_all.everything()
    compact = re.sub(r"\s", "", text).upper()
    assert pin.hex().upper() not in compact
    for block in blocks:
        if len(block) >= 3:
            assert spaced_hex(block) not in text
    assert f"{ins_name(cla, ins)}" in text


@given(
    cla=st.integers(min_value=0, max_value=255),
    ins=st.sampled_from([0x20, 0x21, 0x24, 0x25, 0x2C, 0x2D]),
    data=st.binary(min_size=1, max_size=300),
    le=st.one_of(st.none(), st.integers(min_value=1, max_value=65536)),
    extended=st.booleans(),
)
def test_property_secret_command_format_is_fully_masked(
    cla: int, ins: int, data: bytes, le: int | None, extended: bool
) -> None:
    cmd = CommandApdu(cla, ins, 0x00, 0x80, data, le=le, extended=extended)
    raw = cmd.encode()
    tokens = format_command(raw).split()
    # Exactly one XX per data byte, and everything else is the bytes around the data field.
    assert tokens.count("XX") == len(data)
    others = bytes.fromhex("".join(t for t in tokens if t != "XX"))
    le_field = 0 if le is None else (2 if cmd.extended else 1)
    data_start = len(raw) - le_field - len(data)
    assert others == raw[:data_start] + raw[len(raw) - le_field :]
    # And the masked tokens sit exactly where the data field is.
    start = len(raw[:data_start])
    assert tokens[start : start + len(data)] == ["XX"] * len(data)
