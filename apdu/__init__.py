"""ISO/IEC 7816-4 APDUs: codec, status words, errors, the exchange layer and the tracer.

This package imports no other project package and no PC/SC library; :mod:`apdu.pcsc` (the
only pyscard importer) is imported explicitly by whoever needs a physical reader.

Typical use::

    from apdu import CommandApdu, Exchange

    exchange = Exchange(transport)
    exchange.send(CommandApdu(0x00, 0xA4, 0x04, 0x0C, bytes.fromhex("D392F000260100000001")))
"""

from __future__ import annotations

from apdu.codec import (
    MAX_EXTENDED_LC,
    MAX_EXTENDED_LE,
    MAX_SHORT_LC,
    MAX_SHORT_LE,
    ApduCase,
    CommandApdu,
    ResponseApdu,
)
from apdu.errors import (
    ApduError,
    ApduFormatError,
    AuthenticationBlockedError,
    CardRemovedError,
    ClaNotSupportedError,
    ConditionsNotSatisfiedError,
    ExchangeLoopError,
    IncorrectParametersError,
    InsNotSupportedError,
    LogicalChannelNotSupportedError,
    NoCardError,
    NotFoundError,
    ReaderNotFoundError,
    ReaderUnavailableError,
    ResponseTooLargeError,
    SecurityStatusNotSatisfiedError,
    StatusWordError,
    TransportError,
    UnknownStatusError,
    VerificationFailedError,
    WrongLengthError,
    raise_for_sw,
    status_error_class,
)
from apdu.exchange import DEFAULT_MAX_RESPONSE_SIZE, DEFAULT_MAX_ROUNDS, Exchange
from apdu.ins import ins_name, is_secret_command
from apdu.status import StatusWord, describe_sw
from apdu.trace import TRAFFIC, ApduTracer
from apdu.transport import Transport

__all__ = [
    "DEFAULT_MAX_RESPONSE_SIZE",
    "DEFAULT_MAX_ROUNDS",
    "MAX_EXTENDED_LC",
    "MAX_EXTENDED_LE",
    "MAX_SHORT_LC",
    "MAX_SHORT_LE",
    "TRAFFIC",
    "ApduCase",
    "ApduError",
    "ApduFormatError",
    "ApduTracer",
    "AuthenticationBlockedError",
    "CardRemovedError",
    "ClaNotSupportedError",
    "CommandApdu",
    "ConditionsNotSatisfiedError",
    "Exchange",
    "ExchangeLoopError",
    "IncorrectParametersError",
    "InsNotSupportedError",
    "LogicalChannelNotSupportedError",
    "NoCardError",
    "NotFoundError",
    "ReaderNotFoundError",
    "ReaderUnavailableError",
    "ResponseApdu",
    "ResponseTooLargeError",
    "SecurityStatusNotSatisfiedError",
    "StatusWord",
    "StatusWordError",
    "Transport",
    "TransportError",
    "UnknownStatusError",
    "VerificationFailedError",
    "WrongLengthError",
    "describe_sw",
    "ins_name",
    "is_secret_command",
    "raise_for_sw",
    "status_error_class",
]
