"""The card side of the SDK: a :class:`JpkiCard` session over any reader or the simulator.

Typical use::

    from jpki_sdk.card import CertKind, KeyKind, open_card

    with open_card() as card:                      # first reader holding a JPKI card
        cert = card.read_certificate(CertKind.AUTH)
        signature = card.sign(b"message", key=KeyKind.AUTH, pin=pin)

See docs/card-client.md.
"""

from __future__ import annotations

from jpki_sdk.card.cache import CachedCertificate, CertificateCache
from jpki_sdk.card.certificates import CertKind
from jpki_sdk.card.discovery import (
    CardEvent,
    CardEventKind,
    CardEventMonitor,
    CardPresence,
    ReaderStatus,
    list_readers,
    open_card,
    pcsc_slot,
    wait_for_card,
)
from jpki_sdk.card.errors import (
    CardDataError,
    CardError,
    CardProtocolError,
    CardRemovedError,
    CardWaitTimeoutError,
    CardWrongLengthError,
    CertificateFormatError,
    CertificateNotPresentError,
    ClassNotSupportedError,
    CommandNotAllowedError,
    ConditionsNotSatisfiedError,
    DataObjectNotFoundError,
    EndOfFileError,
    FileNotFoundOnCardError,
    IncorrectParametersError,
    InstructionNotSupportedError,
    IntegrityCheckError,
    LastAttemptRefusedError,
    LogicalChannelNotSupportedError,
    MoreDataAvailableError,
    MyNumberCheckDigitError,
    NoCardError,
    NoReaderError,
    NotJpkiCardError,
    PinAttemptUncertainError,
    PinBlockedError,
    PinChangeUncertainError,
    PinFormatError,
    PinIncorrectError,
    PinRequiredError,
    ReaderError,
    ReaderUnavailableError,
    SecureMessagingNotAvailableError,
    SignatureCheckError,
    TextDataFormatError,
    TokenInfoFormatError,
    UnknownStatusWordError,
    error_for_status,
)
from jpki_sdk.card.pins import Application, PinKind, PinStatus
from jpki_sdk.card.session import (
    CardStatus,
    CertificateAvailability,
    JpkiCard,
    ProgressCallback,
)
from jpki_sdk.card.signing import HashAlg, KeyKind, digest_info
from jpki_sdk.card.textap import BasicInfo, IntegrityReport, MyNumber, Sex
from jpki_sdk.card.tokeninfo import TokenInfo, TokenType

__all__ = [
    "Application",
    "BasicInfo",
    "CachedCertificate",
    "CardDataError",
    "CardError",
    "CardEvent",
    "CardEventKind",
    "CardEventMonitor",
    "CardPresence",
    "CardProtocolError",
    "CardRemovedError",
    "CardStatus",
    "CardWaitTimeoutError",
    "CardWrongLengthError",
    "CertKind",
    "CertificateAvailability",
    "CertificateCache",
    "CertificateFormatError",
    "CertificateNotPresentError",
    "ClassNotSupportedError",
    "CommandNotAllowedError",
    "ConditionsNotSatisfiedError",
    "DataObjectNotFoundError",
    "EndOfFileError",
    "FileNotFoundOnCardError",
    "HashAlg",
    "IncorrectParametersError",
    "InstructionNotSupportedError",
    "IntegrityCheckError",
    "IntegrityReport",
    "JpkiCard",
    "KeyKind",
    "LastAttemptRefusedError",
    "LogicalChannelNotSupportedError",
    "MoreDataAvailableError",
    "MyNumber",
    "MyNumberCheckDigitError",
    "NoCardError",
    "NoReaderError",
    "NotJpkiCardError",
    "PinAttemptUncertainError",
    "PinBlockedError",
    "PinChangeUncertainError",
    "PinFormatError",
    "PinIncorrectError",
    "PinKind",
    "PinRequiredError",
    "PinStatus",
    "ProgressCallback",
    "ReaderError",
    "ReaderStatus",
    "ReaderUnavailableError",
    "SecureMessagingNotAvailableError",
    "Sex",
    "SignatureCheckError",
    "TextDataFormatError",
    "TokenInfo",
    "TokenInfoFormatError",
    "TokenType",
    "UnknownStatusWordError",
    "digest_info",
    "error_for_status",
    "list_readers",
    "open_card",
    "pcsc_slot",
    "wait_for_card",
]
