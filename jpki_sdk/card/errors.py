"""Errors raised by :mod:`jpki_sdk.card`: the card sub-tree of :mod:`jpki_sdk.errors`.

Three branches, each under one of the SDK's roots:

- :class:`CardError` (a :class:`~jpki_sdk.errors.CardOperationError`): the card answered a
  status word other than success. Every status word of the card spec (§2.4, §2.3) has its own
  class; :func:`error_for_status` is the one place that maps a status word to a class.
- PIN errors (:class:`~jpki_sdk.errors.PinError`): wrong PIN with the tries left, blocked,
  wrong format (nothing sent), last try refused (nothing sent), and the uncertain outcome of a
  VERIFY whose link broke.
- Communication errors (:class:`~jpki_sdk.errors.CardCommunicationError`): no reader, no card,
  card removed, protocol trouble, and card data that cannot be used (bad certificate, bad TLV,
  failed integrity or signature check).

No exception text ever contains a PIN or personal data.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from apdu import describe_sw
from jpki_sdk.errors import CardCommunicationError, CardOperationError, PinError

if TYPE_CHECKING:
    from jpki_sdk.card.pins import PinKind

logger = logging.getLogger(__name__)

__all__ = [
    "CardDataError",
    "CardError",
    "CardProtocolError",
    "CardRemovedError",
    "CardWaitTimeoutError",
    "CardWrongLengthError",
    "CertificateFormatError",
    "CertificateNotPresentError",
    "ClassNotSupportedError",
    "CommandNotAllowedError",
    "ConditionsNotSatisfiedError",
    "DataObjectNotFoundError",
    "EndOfFileError",
    "FileNotFoundOnCardError",
    "IncorrectParametersError",
    "InstructionNotSupportedError",
    "IntegrityCheckError",
    "LastAttemptRefusedError",
    "LogicalChannelNotSupportedError",
    "MoreDataAvailableError",
    "MyNumberCheckDigitError",
    "NoCardError",
    "NoReaderError",
    "NotJpkiCardError",
    "PinAttemptUncertainError",
    "PinBlockedError",
    "PinChangeUncertainError",
    "PinFormatError",
    "PinIncorrectError",
    "PinRequiredError",
    "ReaderError",
    "ReaderUnavailableError",
    "SecureMessagingNotAvailableError",
    "SignatureCheckError",
    "TextDataFormatError",
    "TokenInfoFormatError",
    "UnknownStatusWordError",
    "error_for_status",
]


def _sw_text(sw: int | None) -> str:
    return "" if sw is None else f" (SW {sw:04X})"


# --------------------------------------------------------------------------- card status words


class CardError(CardOperationError):
    """The card answered a status word other than success.

    ``sw`` is the status word (``None`` when the SDK refused before sending anything);
    ``operation`` names what the SDK was doing ("SELECT EF 000A", "VERIFY", ...).
    """

    def __init__(self, message: str, *, sw: int | None = None, operation: str | None = None):
        super().__init__(message)
        self.sw = sw
        self.operation = operation


class CardWrongLengthError(CardError):
    """6700 / 6Cxx: wrong length (Lc or Le) for this command."""


class PinRequiredError(CardError, PinError):
    """6982: security status not satisfied. The PIN guarding this file or key must be verified
    first (for example the sign password before reading the signature certificate). Also raised
    without sending anything when the SDK knows no PIN was verified in this session."""

    def __init__(
        self,
        message: str,
        *,
        kind: PinKind | None = None,
        sw: int | None = None,
        operation: str | None = None,
    ):
        super().__init__(message, sw=sw, operation=operation)
        self.kind = kind


class ConditionsNotSatisfiedError(CardError):
    """6985: conditions of use not satisfied (for example a signing input of the wrong size)."""


class CommandNotAllowedError(CardError):
    """6981: command incompatible with the file structure."""


class FileNotFoundOnCardError(CardError):
    """6A82: the file or application does not exist on this card."""


class DataObjectNotFoundError(CardError):
    """6A88: the referenced data object is absent (GET DATA)."""


class IncorrectParametersError(CardError):
    """6A86 / 6B00: incorrect P1-P2 (for 6B00: offset beyond the end of the file)."""


class EndOfFileError(CardError):
    """6282: end of file reached before reading Le bytes."""


class LogicalChannelNotSupportedError(CardError):
    """6881: only logical channel 0 works on this card."""


class SecureMessagingNotAvailableError(CardError):
    """66F1 / 69FC: a secure-messaging form of the command was refused by this application."""


class InstructionNotSupportedError(CardError):
    """6D00: instruction not supported."""


class ClassNotSupportedError(CardError):
    """6E00: class byte not supported."""


class MoreDataAvailableError(CardError):
    """61xx reached the SDK: the exchange layer normally collects it with GET RESPONSE."""


class UnknownStatusWordError(CardError):
    """A status word the card spec does not list."""


class CertificateNotPresentError(CardError):
    """The card holds no certificate of this kind (for example no signature certificate on the
    card of a child under 15). ``kind`` is the :class:`~jpki_sdk.card.CertKind`."""

    def __init__(self, message: str, *, kind: object = None, sw: int | None = None):
        super().__init__(message, sw=sw, operation="READ BINARY")
        self.kind = kind


# --------------------------------------------------------------------------------- PIN errors


class PinIncorrectError(PinError, CardError):
    """63Cx: the PIN was wrong; ``remaining`` tries are left (None if the card did not say)."""

    def __init__(
        self,
        kind: PinKind | None,
        remaining: int | None,
        *,
        sw: int | None = None,
        operation: str | None = "VERIFY",
    ):
        what = kind.label if kind is not None else "PIN"
        left = "unknown" if remaining is None else str(remaining)
        super().__init__(
            f"incorrect {what}: {left} tries left{_sw_text(sw)}", sw=sw, operation=operation
        )
        self.kind = kind
        self.remaining = remaining


class PinBlockedError(PinError, CardError):
    """The PIN is blocked (63C0 on the attempt that used the last try, 6983/6984 afterwards,
    or refused by the SDK without sending anything). Only the municipal office can reset it.

    ``just_blocked`` is True when this very attempt used the last try.
    """

    def __init__(
        self,
        kind: PinKind | None,
        *,
        sw: int | None = None,
        just_blocked: bool = False,
        operation: str | None = "VERIFY",
    ):
        what = kind.label if kind is not None else "PIN"
        if just_blocked:
            text = f"incorrect {what}: that was the last try, the {what} is now blocked"
        elif sw is None:
            text = f"the {what} is blocked; nothing was sent to the card"
        else:
            text = f"the {what} is blocked"
        text += "; it can only be reset at the municipal office" + _sw_text(sw)
        super().__init__(text, sw=sw, operation=operation)
        self.kind = kind
        self.remaining = 0
        self.just_blocked = just_blocked


class PinFormatError(PinError, ValueError):
    """The PIN has the wrong format for its kind; it was not sent, so no try was used."""

    def __init__(self, kind: PinKind, reason: str):
        super().__init__(f"{kind.label} {reason}; nothing was sent to the card (no try used)")
        self.kind = kind
        self.reason = reason


class LastAttemptRefusedError(PinError):
    """Only one try is left: the SDK refused to send the PIN (pass ``allow_last_attempt=True``
    after the user has confirmed). A wrong PIN now would block it."""

    def __init__(self, kind: PinKind, remaining: int = 1):
        super().__init__(
            f"only {remaining} try left for the {kind.label}: not sent, a wrong entry would "
            "block it (allow the last attempt explicitly after asking the user)"
        )
        self.kind = kind
        self.remaining = remaining


class PinAttemptUncertainError(PinError, CardCommunicationError):
    """The link broke while a VERIFY was in flight: the try may or may not have been counted.

    ``remaining`` is the counter read back afterwards when that was possible, else ``None``.
    The VERIFY is never retried automatically.
    """

    def __init__(self, kind: PinKind, remaining: int | None, cause: str):
        if remaining is None:
            after = "the counter could not be read back"
        else:
            after = f"the card now reports {remaining} tries left"
        super().__init__(
            f"the connection broke during VERIFY of the {kind.label} ({cause}): the try may "
            f"have been counted; {after}. Not retried."
        )
        self.kind = kind
        self.remaining = remaining


# ----------------------------------------------------------------------- communication errors


class PinChangeUncertainError(PinError, CardCommunicationError):
    """The link broke while CHANGE REFERENCE DATA was in flight: the new PIN may or may not
    have been set. Check with the old and new PIN in a new session (each check uses a try if
    wrong, so check the counter first)."""

    def __init__(self, kind: PinKind, cause: str):
        super().__init__(
            f"the connection broke while changing the {kind.label} ({cause}): the new value "
            "may or may not have been set. Not retried."
        )
        self.kind = kind


class ReaderError(CardCommunicationError):
    """A PC/SC reader problem. ``pcsc_code`` keeps the PC/SC error code when there is one."""

    def __init__(self, message: str, *, pcsc_code: int | None = None, reader: str | None = None):
        super().__init__(message)
        self.pcsc_code = pcsc_code
        self.reader = reader


class NoReaderError(ReaderError):
    """No reader is connected, or the named reader does not exist."""


class ReaderUnavailableError(ReaderError):
    """The reader exists but cannot be used now (held exclusively by another program, the
    PC/SC service is not running, ...)."""


class NoCardError(CardCommunicationError):
    """No card is present (in the named reader, or in any reader)."""

    def __init__(self, message: str, *, reader: str | None = None):
        super().__init__(message)
        self.reader = reader


class NotJpkiCardError(NoCardError):
    """A card is present but it has no JPKI application (SELECT of the JPKI AID failed)."""


class CardWaitTimeoutError(NoCardError):
    """No JPKI card was presented before the timeout."""


class CardRemovedError(CardCommunicationError):
    """The card was removed or reset in the middle of an operation. Open a new session."""

    def __init__(self, message: str, *, operation: str | None = None):
        super().__init__(message)
        self.operation = operation


class CardProtocolError(CardCommunicationError):
    """The exchange with the card failed below the application (transport error, a response
    too large, a GET RESPONSE loop, an unparseable APDU)."""


class CardDataError(CardCommunicationError):
    """The card answered with data the SDK cannot use."""


class CertificateFormatError(CardDataError):
    """A certificate file does not hold a well-formed DER X.509 certificate."""


class TextDataFormatError(CardDataError):
    """A 券面事項入力補助AP file (TLV) is malformed."""


class MyNumberCheckDigitError(TextDataFormatError):
    """The 個人番号 read from the card fails its check digit (the number is never shown)."""


class TokenInfoFormatError(CardDataError):
    """EF 0006 (token info) is malformed."""


class IntegrityCheckError(CardDataError):
    """The 券面事項入力補助AP integrity record (EF 0003) does not match the data read."""


class SignatureCheckError(CardDataError):
    """The signature returned by the card does not verify against the card's certificate: a
    faulty card or reader, or a card swapped mid-session. The signature is not returned."""


# ------------------------------------------------------------------------- status word mapping

_SIMPLE: dict[int, tuple[type[CardError], str]] = {
    0x6700: (CardWrongLengthError, "wrong length"),
    0x6981: (CommandNotAllowedError, "command incompatible with the file structure"),
    0x6985: (ConditionsNotSatisfiedError, "conditions of use not satisfied"),
    0x6A82: (FileNotFoundOnCardError, "file or application not found"),
    0x6A88: (DataObjectNotFoundError, "referenced data not found"),
    0x6A86: (IncorrectParametersError, "incorrect parameters P1-P2"),
    0x6B00: (IncorrectParametersError, "wrong parameters (offset outside the file)"),
    0x6282: (EndOfFileError, "end of file reached before Le bytes"),
    0x6881: (LogicalChannelNotSupportedError, "logical channel not supported"),
    0x66F1: (SecureMessagingNotAvailableError, "secure messaging not available here"),
    0x69FC: (SecureMessagingNotAvailableError, "secure messaging form refused"),
    0x6D00: (InstructionNotSupportedError, "instruction not supported"),
    0x6E00: (ClassNotSupportedError, "class not supported"),
}


def error_for_status(sw: int, *, operation: str, pin_kind: PinKind | None = None) -> CardError:
    """The typed error for a non-success status word ``sw`` answered to ``operation``.

    ``pin_kind`` names the PIN concerned when the command was a VERIFY / CHANGE REFERENCE DATA
    (or a command guarded by that PIN), so PIN errors can say which PIN.
    """
    if not 0 <= sw <= 0xFFFF:
        raise ValueError(f"not a status word: {sw!r}")
    sw1, sw2 = sw >> 8, sw & 0xFF
    if sw1 == 0x63 and sw2 & 0xF0 == 0xC0:
        remaining = sw2 & 0x0F
        if remaining == 0:
            return PinBlockedError(pin_kind, sw=sw, just_blocked=True, operation=operation)
        return PinIncorrectError(pin_kind, remaining, sw=sw, operation=operation)
    if sw == 0x6300:
        return PinIncorrectError(pin_kind, None, sw=sw, operation=operation)
    if sw in (0x6983, 0x6984):
        return PinBlockedError(pin_kind, sw=sw, operation=operation)
    if sw == 0x6982:
        what = pin_kind.label if pin_kind is not None else "the PIN guarding it"
        return PinRequiredError(
            f"{operation}: security status not satisfied, verify {what} first{_sw_text(sw)}",
            kind=pin_kind,
            sw=sw,
            operation=operation,
        )
    if sw1 == 0x6C:
        return CardWrongLengthError(
            f"{operation}: wrong Le, the card has {sw2 or 256} bytes{_sw_text(sw)}",
            sw=sw,
            operation=operation,
        )
    if sw1 == 0x61:
        return MoreDataAvailableError(
            f"{operation}: {sw2 or 256} more bytes available{_sw_text(sw)}",
            sw=sw,
            operation=operation,
        )
    simple = _SIMPLE.get(sw)
    if simple is not None:
        cls, text = simple
        return cls(f"{operation}: {text}{_sw_text(sw)}", sw=sw, operation=operation)
    return UnknownStatusWordError(
        f"{operation}: unexpected status word{_sw_text(sw)}: {describe_sw(sw)}",
        sw=sw,
        operation=operation,
    )
