"""The apdu error tree, and :func:`raise_for_sw`, the one place a status word becomes an error.

::

    ApduError
    ├── ApduFormatError (also a ValueError): bytes or values that are not a valid APDU
    ├── StatusWordError (.sw): the card answered something other than 9000
    │   ├── WrongLengthError (6700, 6Cxx)
    │   ├── VerificationFailedError (63Cx, .retries_remaining)
    │   ├── SecurityStatusNotSatisfiedError (6982)
    │   ├── AuthenticationBlockedError (6983, 6984)
    │   ├── ConditionsNotSatisfiedError (6985)
    │   ├── NotFoundError (6A82)
    │   ├── IncorrectParametersError (6A86, 6B00)
    │   ├── InsNotSupportedError (6D00)
    │   ├── ClaNotSupportedError (6E00)
    │   ├── LogicalChannelNotSupportedError (6881)
    │   └── UnknownStatusError (anything else)
    ├── TransportError (.pcsc_code): the link to the card failed
    │   ├── ReaderNotFoundError
    │   ├── NoCardError
    │   ├── CardRemovedError
    │   └── ReaderUnavailableError
    ├── ResponseTooLargeError: the card sent more than the exchange accepts
    └── ExchangeLoopError: the card kept asking for more rounds than the exchange allows

No message built here contains command or response data: a command may hold a PIN.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from apdu.ins import ins_name
from apdu.status import describe_sw

if TYPE_CHECKING:
    from apdu.codec import CommandApdu, ResponseApdu

__all__ = [
    "ApduError",
    "ApduFormatError",
    "AuthenticationBlockedError",
    "CardRemovedError",
    "ClaNotSupportedError",
    "ConditionsNotSatisfiedError",
    "ExchangeLoopError",
    "IncorrectParametersError",
    "InsNotSupportedError",
    "LogicalChannelNotSupportedError",
    "NoCardError",
    "NotFoundError",
    "ReaderNotFoundError",
    "ReaderUnavailableError",
    "ResponseTooLargeError",
    "SecurityStatusNotSatisfiedError",
    "StatusWordError",
    "TransportError",
    "UnknownStatusError",
    "VerificationFailedError",
    "WrongLengthError",
    "raise_for_sw",
    "status_error_class",
]

logger = logging.getLogger(__name__)


class ApduError(Exception):
    """Root of every error raised by the apdu package."""


class ApduFormatError(ApduError, ValueError):
    """Bytes that do not form a valid APDU, or an APDU field out of range.

    The message names the field and the allowed range, never the data bytes.
    """


class StatusWordError(ApduError):
    """The card answered with a status word other than 9000.

    Attributes: ``sw`` (the two-byte status word), ``sw1``, ``sw2``, ``ins`` and ``cla`` of the
    command when known (else None), ``description`` (from :func:`apdu.describe_sw`).
    """

    def __init__(self, sw: int, *, cla: int | None = None, ins: int | None = None) -> None:
        self.sw = sw
        self.sw1 = sw >> 8
        self.sw2 = sw & 0xFF
        self.cla = cla
        self.ins = ins
        self.description = describe_sw(sw)
        super().__init__(self._message())

    @property
    def command_name(self) -> str:
        """The name of the command that failed (``SELECT``, ``VERIFY``...) or ``command``."""
        if self.ins is None:
            return "command"
        return ins_name(self.cla if self.cla is not None else 0x00, self.ins)

    def _message(self) -> str:
        return f"{self.command_name} failed: SW {self.sw:04X} ({self.description})"

    def __reduce__(self) -> tuple[object, ...]:
        return (_rebuild_status_error, (type(self), self.sw, self.cla, self.ins))


def _rebuild_status_error(
    cls: type[StatusWordError], sw: int, cla: int | None, ins: int | None
) -> StatusWordError:
    return cls(sw, cla=cla, ins=ins)


class WrongLengthError(StatusWordError):
    """Wrong length: 6700, or 6Cxx (``.exact_length`` = xx, 00 meaning 256; None for 6700)."""

    @property
    def exact_length(self) -> int | None:
        """The length the card asked for with 6Cxx, or None for 6700."""
        if self.sw1 == 0x6C:
            return self.sw2 or 256
        return None


class VerificationFailedError(StatusWordError):
    """VERIFY (or another check of reference data) failed: 63Cx, x tries remaining.

    ``63C0`` is the attempt that used the last try; the key is blocked from then on.
    """

    @property
    def retries_remaining(self) -> int:
        """Tries left after this failure (the x of 63Cx)."""
        return self.sw2 & 0x0F


class SecurityStatusNotSatisfiedError(StatusWordError):
    """6982: the command needs a verified PIN or other security state first."""


class AuthenticationBlockedError(StatusWordError):
    """6983 / 6984: the PIN (reference data) is blocked; only the issuer can reset it."""


class ConditionsNotSatisfiedError(StatusWordError):
    """6985: conditions of use not satisfied (for example a signing input of the wrong size)."""


class NotFoundError(StatusWordError):
    """6A82: file or application not found."""


class IncorrectParametersError(StatusWordError):
    """6A86 / 6B00: P1-P2 not accepted (for example an offset outside the EF)."""


class InsNotSupportedError(StatusWordError):
    """6D00: instruction not supported."""


class ClaNotSupportedError(StatusWordError):
    """6E00: class not supported."""


class LogicalChannelNotSupportedError(StatusWordError):
    """6881: the card supports only logical channel 0."""


class UnknownStatusError(StatusWordError):
    """Any other status word that is not 9000 (including warnings such as 6282)."""


class TransportError(ApduError):
    """The link to the card failed; ``pcsc_code`` keeps the PC/SC error code when known."""

    def __init__(self, message: str, *, pcsc_code: int | None = None) -> None:
        self.pcsc_code = pcsc_code
        self.reason = message
        if pcsc_code is not None:
            message = f"{message} (PC/SC 0x{pcsc_code & 0xFFFFFFFF:08X})"
        super().__init__(message)

    def __reduce__(self) -> tuple[object, ...]:
        return (_rebuild_transport_error, (type(self), self.reason, self.pcsc_code))


def _rebuild_transport_error(
    cls: type[TransportError], reason: str, pcsc_code: int | None
) -> TransportError:
    return cls(reason, pcsc_code=pcsc_code)


class ReaderNotFoundError(TransportError):
    """No reader of that name, or no reader at all."""


class NoCardError(TransportError):
    """The reader is there but holds no card (or no usable one)."""


class CardRemovedError(TransportError):
    """The card was removed or reset during the session."""


class ReaderUnavailableError(TransportError):
    """The reader or the PC/SC service is unavailable, busy or held exclusively elsewhere."""


class ResponseTooLargeError(ApduError):
    """The card's response (all GET RESPONSE rounds together) exceeded the exchange's limit."""

    def __init__(self, *, limit: int, received: int, ins: int | None = None) -> None:
        self.limit = limit
        self.received = received
        self.ins = ins
        what = "response" if ins is None else f"response to {ins_name(0x00, ins)}"
        super().__init__(f"{what} exceeded {limit} bytes (got at least {received} bytes)")

    def __reduce__(self) -> tuple[object, ...]:
        return (_rebuild_too_large, (self.limit, self.received, self.ins))


def _rebuild_too_large(limit: int, received: int, ins: int | None) -> ResponseTooLargeError:
    return ResponseTooLargeError(limit=limit, received=received, ins=ins)


class ExchangeLoopError(ApduError):
    """The card asked for more GET RESPONSE / re-send rounds than the exchange allows."""

    def __init__(self, *, rounds: int, ins: int | None = None) -> None:
        self.rounds = rounds
        self.ins = ins
        what = "exchange" if ins is None else f"exchange for {ins_name(0x00, ins)}"
        super().__init__(
            f"{what} stopped after {rounds} rounds of 61xx/6Cxx answers: "
            "the card keeps asking for another round"
        )

    def __reduce__(self) -> tuple[object, ...]:
        return (_rebuild_loop, (self.rounds, self.ins))


def _rebuild_loop(rounds: int, ins: int | None) -> ExchangeLoopError:
    return ExchangeLoopError(rounds=rounds, ins=ins)


_BY_SW: dict[int, type[StatusWordError]] = {
    0x6700: WrongLengthError,
    0x6881: LogicalChannelNotSupportedError,
    0x6982: SecurityStatusNotSatisfiedError,
    0x6983: AuthenticationBlockedError,
    0x6984: AuthenticationBlockedError,
    0x6985: ConditionsNotSatisfiedError,
    0x6A82: NotFoundError,
    0x6A86: IncorrectParametersError,
    0x6B00: IncorrectParametersError,
    0x6D00: InsNotSupportedError,
    0x6E00: ClaNotSupportedError,
}


def status_error_class(sw: int) -> type[StatusWordError] | None:
    """Return the exception class :func:`raise_for_sw` uses for *sw*, or None for 9000."""
    if sw == 0x9000:
        return None
    cls = _BY_SW.get(sw)
    if cls is not None:
        return cls
    sw1, sw2 = sw >> 8, sw & 0xFF
    if sw1 == 0x6C:
        return WrongLengthError
    if sw1 == 0x63 and sw2 & 0xF0 == 0xC0:
        return VerificationFailedError
    return UnknownStatusError


def raise_for_sw(response: ResponseApdu, *, command: CommandApdu | None = None) -> None:
    """Raise the typed :class:`StatusWordError` for *response*'s status word unless it is 9000.

    *command*, when given, names the failed command in the message (by INS only; its data
    never appears).
    """
    cls = status_error_class(response.sw)
    if cls is None:
        return
    if command is None:
        raise cls(response.sw)
    raise cls(response.sw, cla=command.cla, ins=command.ins)
