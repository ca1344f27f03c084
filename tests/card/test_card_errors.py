"""Every status word of the card spec maps to its own named error; apdu errors translate."""

from __future__ import annotations

import pytest

from apdu import CardRemovedError as ApduCardRemoved
from apdu import ExchangeLoopError, ResponseTooLargeError, TransportError
from apdu import NoCardError as ApduNoCard
from apdu import ReaderNotFoundError as ApduReaderNotFound
from apdu import ReaderUnavailableError as ApduReaderUnavailable
from jpki_sdk.card import (
    CardError,
    CardProtocolError,
    CardRemovedError,
    CardWrongLengthError,
    ClassNotSupportedError,
    CommandNotAllowedError,
    ConditionsNotSatisfiedError,
    DataObjectNotFoundError,
    EndOfFileError,
    FileNotFoundOnCardError,
    IncorrectParametersError,
    InstructionNotSupportedError,
    LogicalChannelNotSupportedError,
    MoreDataAvailableError,
    NoReaderError,
    PinBlockedError,
    PinIncorrectError,
    PinKind,
    PinRequiredError,
    ReaderUnavailableError,
    SecureMessagingNotAvailableError,
    UnknownStatusWordError,
    error_for_status,
)
from jpki_sdk.card.session import translate_apdu_error
from jpki_sdk.errors import CardOperationError, JpkiError, PinError

# Spec §2.4 (and §2.3) status words -> the class each must raise.
SPEC_STATUS_WORDS = [
    (0x63C2, PinIncorrectError),
    (0x63C0, PinBlockedError),
    (0x6300, PinIncorrectError),
    (0x6984, PinBlockedError),
    (0x6983, PinBlockedError),
    (0x6982, PinRequiredError),
    (0x6A82, FileNotFoundOnCardError),
    (0x6A86, IncorrectParametersError),
    (0x6700, CardWrongLengthError),
    (0x6985, ConditionsNotSatisfiedError),
    (0x6881, LogicalChannelNotSupportedError),
    (0x6981, CommandNotAllowedError),
    (0x6A88, DataObjectNotFoundError),
    (0x6B00, IncorrectParametersError),
    (0x6282, EndOfFileError),
    (0x6110, MoreDataAvailableError),
    (0x6C10, CardWrongLengthError),
    (0x66F1, SecureMessagingNotAvailableError),
    (0x69FC, SecureMessagingNotAvailableError),
    (0x6D00, InstructionNotSupportedError),
    (0x6E00, ClassNotSupportedError),
    (0x6F00, UnknownStatusWordError),
]


@pytest.mark.parametrize(("sw", "cls"), SPEC_STATUS_WORDS)
def test_status_word_maps_to_named_error(sw: int, cls: type[CardError]) -> None:
    error = error_for_status(sw, operation="TEST", pin_kind=PinKind.AUTH)
    assert type(error) is cls
    assert error.sw == sw and error.operation == "TEST"
    assert isinstance(error, CardOperationError) and isinstance(error, JpkiError)
    assert f"{sw:04X}" in str(error)


def test_pin_errors_carry_their_data() -> None:
    wrong = error_for_status(0x63C1, operation="VERIFY", pin_kind=PinKind.SIGN)
    assert isinstance(wrong, PinIncorrectError) and isinstance(wrong, PinError)
    assert wrong.remaining == 1 and wrong.kind is PinKind.SIGN
    blocked = error_for_status(0x63C0, operation="VERIFY", pin_kind=PinKind.AUTH)
    assert isinstance(blocked, PinBlockedError) and blocked.just_blocked and blocked.remaining == 0
    required = error_for_status(0x6982, operation="READ", pin_kind=PinKind.SIGN)
    assert isinstance(required, PinRequiredError) and required.kind is PinKind.SIGN


def test_bad_status_word_argument() -> None:
    with pytest.raises(ValueError):
        error_for_status(0x10000, operation="x")


@pytest.mark.parametrize(
    ("exc", "cls"),
    [
        (ApduCardRemoved("gone", pcsc_code=0x80100069), CardRemovedError),
        (ApduNoCard("none"), CardRemovedError),
        (ApduReaderNotFound("unplugged"), NoReaderError),
        (ApduReaderUnavailable("busy", pcsc_code=0x8010000B), ReaderUnavailableError),
        (TransportError("broken"), CardProtocolError),
        (ResponseTooLargeError(limit=10, received=20), CardProtocolError),
        (ExchangeLoopError(rounds=5), CardProtocolError),
    ],
)
def test_apdu_errors_translate(exc: Exception, cls: type[JpkiError]) -> None:
    translated = translate_apdu_error(exc, "READ BINARY")  # type: ignore[arg-type]
    assert type(translated) is cls
    assert "READ BINARY" in str(translated)
    if cls is ReaderUnavailableError:
        assert translated.pcsc_code == 0x8010000B  # type: ignore[attr-defined]
