"""Status words, describe_sw, the error tree and raise_for_sw (the one SW -> exception place)."""

from __future__ import annotations

import pickle

import pytest
from hypothesis import given
from hypothesis import strategies as st

import apdu
from apdu import (
    ApduError,
    AuthenticationBlockedError,
    CardRemovedError,
    ClaNotSupportedError,
    CommandApdu,
    ConditionsNotSatisfiedError,
    ExchangeLoopError,
    IncorrectParametersError,
    InsNotSupportedError,
    LogicalChannelNotSupportedError,
    NoCardError,
    NotFoundError,
    ReaderNotFoundError,
    ReaderUnavailableError,
    ResponseApdu,
    ResponseTooLargeError,
    SecurityStatusNotSatisfiedError,
    StatusWord,
    StatusWordError,
    TransportError,
    UnknownStatusError,
    VerificationFailedError,
    WrongLengthError,
    describe_sw,
    raise_for_sw,
    status_error_class,
)


def test_contract_status_word_values() -> None:
    values = {member.name: int(member) for member in StatusWord}
    assert values["SUCCESS"] == 0x9000
    assert values["WRONG_LENGTH"] == 0x6700
    assert values["LOGICAL_CHANNEL_NOT_SUPPORTED"] == 0x6881
    assert values["SECURITY_STATUS_NOT_SATISFIED"] == 0x6982
    assert values["AUTHENTICATION_METHOD_BLOCKED"] == 0x6983
    assert values["REFERENCE_DATA_NOT_USABLE"] == 0x6984
    assert values["CONDITIONS_NOT_SATISFIED"] == 0x6985
    assert values["FILE_NOT_FOUND"] == 0x6A82
    assert values["INCORRECT_P1P2"] == 0x6A86
    assert values["WRONG_P1P2"] == 0x6B00
    assert values["INS_NOT_SUPPORTED"] == 0x6D00
    assert values["CLA_NOT_SUPPORTED"] == 0x6E00


@pytest.mark.parametrize("sw", list(StatusWord))
def test_every_named_status_word_has_its_own_description(sw: StatusWord) -> None:
    text = describe_sw(sw)
    assert text
    assert "unknown" not in text
    assert "(SW2" not in text  # a specific text, not the family fallback


@pytest.mark.parametrize(
    ("sw", "text"),
    [
        (0x6110, "16 more response bytes available (GET RESPONSE)"),
        (0x6101, "1 more response byte available (GET RESPONSE)"),
        (0x6100, "256 or more response bytes available (GET RESPONSE)"),
        (0x6C11, "wrong Le; the exact length is 17"),
        (0x6C00, "wrong Le; the exact length is 256"),
        (0x63C3, "verification failed, 3 tries left"),
        (0x63C1, "verification failed, 1 try left"),
        (0x63C0, "verification failed, no tries left"),
        (0x9000, "success"),
        (0x6A82, "file or application not found"),
        (0x6984, "reference data not usable (blocked)"),
        (0x6A8F, "wrong parameters P1-P2 (SW2 8F)"),
        (0x66F1, "security-related error (SW2 F1)"),
        (0x69FC, "command not allowed (SW2 FC)"),
        (0x9001, "success with proprietary information (SW2 01)"),
        (0x1234, "unknown status word"),
    ],
)
def test_describe_sw(sw: int, text: str) -> None:
    assert describe_sw(sw) == text


def test_describe_sw_rejects_bad_values() -> None:
    with pytest.raises(ValueError, match=r"0x0000\.\.0xFFFF"):
        describe_sw(0x10000)
    with pytest.raises(ValueError):
        describe_sw(-1)
    with pytest.raises(TypeError):
        describe_sw("9000")  # type: ignore[arg-type]


@given(st.integers(min_value=0, max_value=0xFFFF))
def test_describe_sw_total(sw: int) -> None:
    assert isinstance(describe_sw(sw), str)
    assert describe_sw(sw)


# Every status word the contract lists, and the class raise_for_sw must raise.
MAPPING: list[tuple[int, type[StatusWordError]]] = [
    (0x6700, WrongLengthError),
    (0x6C00, WrongLengthError),
    (0x6C01, WrongLengthError),
    (0x6C11, WrongLengthError),
    (0x6CFF, WrongLengthError),
    *[(0x63C0 | x, VerificationFailedError) for x in range(16)],
    (0x6982, SecurityStatusNotSatisfiedError),
    (0x6983, AuthenticationBlockedError),
    (0x6984, AuthenticationBlockedError),
    (0x6985, ConditionsNotSatisfiedError),
    (0x6A82, NotFoundError),
    (0x6A86, IncorrectParametersError),
    (0x6B00, IncorrectParametersError),
    (0x6D00, InsNotSupportedError),
    (0x6E00, ClaNotSupportedError),
    (0x6881, LogicalChannelNotSupportedError),
    # anything else
    (0x6300, UnknownStatusError),
    (0x63B1, UnknownStatusError),
    (0x6282, UnknownStatusError),
    (0x6A88, UnknownStatusError),
    (0x6A80, UnknownStatusError),
    (0x6981, UnknownStatusError),
    (0x6986, UnknownStatusError),
    (0x66F1, UnknownStatusError),
    (0x6F00, UnknownStatusError),
    (0x6100, UnknownStatusError),
    (0x6110, UnknownStatusError),
    (0x6B01, UnknownStatusError),
    (0x9001, UnknownStatusError),
    (0x0000, UnknownStatusError),
    (0xFFFF, UnknownStatusError),
]


@pytest.mark.parametrize(("sw", "cls"), MAPPING, ids=[f"{sw:04X}" for sw, _ in MAPPING])
def test_raise_for_sw_mapping(sw: int, cls: type[StatusWordError]) -> None:
    assert status_error_class(sw) is cls
    with pytest.raises(StatusWordError) as info:
        raise_for_sw(ResponseApdu(b"", sw))
    error = info.value
    assert type(error) is cls
    assert isinstance(error, ApduError)
    assert error.sw == sw
    assert error.sw1 == sw >> 8
    assert error.sw2 == sw & 0xFF
    assert f"{sw:04X}" in str(error)
    assert error.description == describe_sw(sw)


def test_raise_for_sw_success_returns_none() -> None:
    assert status_error_class(0x9000) is None
    raise_for_sw(ResponseApdu(b"\x01\x02", 0x9000))  # must not raise


def test_verification_failed_carries_tries() -> None:
    for x in range(16):
        with pytest.raises(VerificationFailedError) as info:
            raise_for_sw(ResponseApdu(b"", 0x63C0 | x))
        assert info.value.retries_remaining == x


def test_wrong_length_exact_length() -> None:
    with pytest.raises(WrongLengthError) as info:
        raise_for_sw(ResponseApdu(b"", 0x6C11))
    assert info.value.exact_length == 17
    with pytest.raises(WrongLengthError) as info:
        raise_for_sw(ResponseApdu(b"", 0x6C00))
    assert info.value.exact_length == 256
    with pytest.raises(WrongLengthError) as info:
        raise_for_sw(ResponseApdu(b"", 0x6700))
    assert info.value.exact_length is None


def test_message_names_the_command_never_its_data() -> None:
    pin = b"9182"
    verify = CommandApdu(0x00, 0x20, 0x00, 0x80, pin)
    with pytest.raises(VerificationFailedError) as info:
        raise_for_sw(ResponseApdu(b"", 0x63C2), command=verify)
    error = info.value
    assert str(error) == "VERIFY failed: SW 63C2 (verification failed, 2 tries left)"
    assert error.ins == 0x20
    assert error.cla == 0x00
    assert error.command_name == "VERIFY"
    for text in (str(error), repr(error), repr(error.args)):
        assert "9182" not in text
        assert "39313832" not in text.replace(" ", "").upper()
    sign = CommandApdu(0x80, 0x2A, 0x00, 0x80, b"x", le=256)
    with pytest.raises(SecurityStatusNotSatisfiedError, match="COMPUTE DIGITAL SIGNATURE failed"):
        raise_for_sw(ResponseApdu(b"", 0x6982), command=sign)
    with pytest.raises(NotFoundError, match=r"^command failed: SW 6A82"):
        raise_for_sw(ResponseApdu(b"", 0x6A82))


def test_status_errors_pickle() -> None:
    error = VerificationFailedError(0x63C1, cla=0x00, ins=0x20)
    copy = pickle.loads(pickle.dumps(error))  # noqa: S301 - our own bytes
    assert type(copy) is VerificationFailedError
    assert copy.sw == 0x63C1
    assert copy.retries_remaining == 1
    assert str(copy) == str(error)


@pytest.mark.parametrize(
    "cls",
    [TransportError, ReaderNotFoundError, NoCardError, CardRemovedError, ReaderUnavailableError],
)
def test_transport_errors(cls: type[TransportError]) -> None:
    error = cls("card removed during READ BINARY", pcsc_code=0x80100069)
    assert isinstance(error, TransportError)
    assert isinstance(error, ApduError)
    assert error.pcsc_code == 0x80100069
    assert str(error) == "card removed during READ BINARY (PC/SC 0x80100069)"
    copy = pickle.loads(pickle.dumps(error))  # noqa: S301 - our own bytes
    assert type(copy) is cls
    assert copy.pcsc_code == 0x80100069
    assert str(copy) == str(error)
    plain = cls("no reader")
    assert plain.pcsc_code is None
    assert str(plain) == "no reader"


def test_negative_pcsc_code_is_shown_as_unsigned() -> None:
    # pyscard can report SCARD_ codes as negative 32-bit ints on some platforms.
    error = NoCardError("no card", pcsc_code=-2146435060)
    assert str(error) == "no card (PC/SC 0x8010000C)"


def test_guard_errors() -> None:
    too_large = ResponseTooLargeError(limit=100, received=256, ins=0xB0)
    assert too_large.limit == 100
    assert too_large.received == 256
    assert "READ BINARY" in str(too_large)
    assert isinstance(too_large, ApduError)
    loop = ExchangeLoopError(rounds=8, ins=0xC0)
    assert loop.rounds == 8
    assert "GET RESPONSE" in str(loop)
    assert isinstance(loop, ApduError)
    for error in (too_large, loop):
        copy = pickle.loads(pickle.dumps(error))  # noqa: S301 - our own bytes
        assert str(copy) == str(error)


def test_public_names_are_documented() -> None:
    for name in apdu.__all__:
        obj = getattr(apdu, name)
        if isinstance(obj, int) and not isinstance(obj, type):
            continue  # constants
        assert getattr(obj, "__doc__", None), name
