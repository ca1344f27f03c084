"""apdu.pcsc pieces that need no pcscd: error mapping, link limits, argument checks."""

from __future__ import annotations

import pickle

import pytest
from hypothesis import given
from hypothesis import strategies as st

from apdu.errors import (
    CardRemovedError,
    NoCardError,
    ReaderNotFoundError,
    ReaderUnavailableError,
    TransportError,
)

pytest.importorskip("smartcard", reason="pyscard not installed (the pcsc extra)")

from apdu.pcsc import (
    CardEvent,
    CardEventKind,
    CardWatcher,
    PcscTransport,
    ReaderInfo,
    _limits,
    pcsc_error,
)

# PC/SC codes (pcsc-lite's values, the same as Windows')
NO_SERVICE = 0x8010001D
SERVICE_STOPPED = 0x8010001E
READER_UNAVAILABLE = 0x80100017
SHARING_VIOLATION = 0x8010000B
COMM_ERROR = 0x80100013
UNKNOWN_READER = 0x80100009
NO_READERS = 0x8010002E
NO_SMARTCARD = 0x8010000C
REMOVED_CARD = 0x80100069
RESET_CARD = 0x80100068
UNPOWERED_CARD = 0x80100067
UNRESPONSIVE_CARD = 0x80100066
TIMEOUT = 0x8010000A
NOT_TRANSACTED = 0x80100016


@pytest.mark.parametrize(
    ("code", "outside", "in_session"),
    [
        (NO_SERVICE, ReaderUnavailableError, ReaderUnavailableError),
        (SERVICE_STOPPED, ReaderUnavailableError, ReaderUnavailableError),
        (READER_UNAVAILABLE, ReaderUnavailableError, ReaderUnavailableError),
        (SHARING_VIOLATION, ReaderUnavailableError, ReaderUnavailableError),
        (COMM_ERROR, ReaderUnavailableError, ReaderUnavailableError),
        (UNKNOWN_READER, ReaderNotFoundError, ReaderUnavailableError),  # unplugged mid-session
        (NO_READERS, ReaderNotFoundError, ReaderUnavailableError),
        (NO_SMARTCARD, NoCardError, CardRemovedError),
        (REMOVED_CARD, NoCardError, CardRemovedError),
        (UNPOWERED_CARD, NoCardError, CardRemovedError),
        (RESET_CARD, TransportError, CardRemovedError),  # someone reset it: session state lost
        (UNRESPONSIVE_CARD, NoCardError, NoCardError),
        (TIMEOUT, TransportError, TransportError),
        (NOT_TRANSACTED, TransportError, TransportError),
    ],
)
def test_pcsc_codes_map_to_typed_errors(
    code: int, outside: type[TransportError], in_session: type[TransportError]
) -> None:
    for flag, expected in ((False, outside), (True, in_session)):
        error = pcsc_error(code, "doing something", in_session=flag)
        assert type(error) is expected
        assert error.pcsc_code == code
        assert f"0x{code:08X}" in str(error)
        assert str(error).startswith("doing something: ")


@given(st.integers(min_value=-(2**31), max_value=2**32 - 1), st.booleans())
def test_any_code_gives_a_transport_error_with_the_code_kept(code: int, in_session: bool) -> None:
    error = pcsc_error(code, "x", in_session=in_session)
    assert isinstance(error, TransportError)
    assert error.pcsc_code == code & 0xFFFFFFFF
    assert type(pickle.loads(pickle.dumps(error))) is type(error)  # noqa: S301 (our own bytes)


@pytest.mark.parametrize(
    ("reader_limit", "override", "expected"),
    [
        (None, None, (False, 255, 256)),  # the reader does not say: short APDUs
        (261, None, (False, 255, 256)),  # a short-APDU CCID reader
        (271, None, (True, 262, 269)),  # a little more than short: extended, bounded
        (65544, None, (True, 65535, 65536)),  # a full extended CCID reader
        (None, True, (True, 65535, 65536)),  # the caller knows better
        (65544, False, (False, 255, 256)),
    ],
)
def test_link_limits(
    reader_limit: int | None, override: bool | None, expected: tuple[bool, int, int]
) -> None:
    assert _limits(reader_limit, override, None, None) == expected


def test_link_limits_explicit_sizes_win() -> None:
    assert _limits(None, None, 100, 128) == (False, 100, 128)
    assert _limits(65544, None, 1000, None) == (True, 1000, 65536)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"protocol": "T=2"},
        {"max_command_data": 0},
        {"max_command_data": 65536},
        {"max_response_data": 0},
        {"max_response_data": 65537},
        {"removal_grace": -1},
    ],
)
def test_connect_checks_its_arguments_before_touching_pcsc(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        PcscTransport.connect("any", **kwargs)  # type: ignore[arg-type]


def test_watcher_arguments() -> None:
    with pytest.raises(ValueError):
        CardWatcher(watchdog_interval=0)


def test_values_read_well() -> None:
    atr = bytes.fromhex("3B8880")
    assert str(ReaderInfo("R 00 00", True, atr)) == "R 00 00: card 3B 88 80"
    assert str(ReaderInfo("R 00 00", False)) == "R 00 00: no card"
    assert str(CardEvent(CardEventKind.INSERTED, "R", atr)) == "inserted: R 3B 88 80"
    assert str(CardEvent(CardEventKind.READER_ADDED, "R")) == "reader_added: R"
    assert CardEventKind("removed") is CardEventKind.REMOVED
