"""Errors the card agent answers, each with a stable machine-readable ``code``.

The agent never lets an exception from the card stack reach the page as such: every failure
becomes an :class:`AgentError` with a ``code`` from :data:`ERROR_CODES`, an HTTP status, a
message for people, and data a page needs to react (``tries_left`` for a wrong PIN,
``retry_after`` for the rate limit). :func:`from_card_error` is the one place that maps the
SDK's card and PIN errors to agent codes.

No message ever contains a PIN, a nonce or personal data.
"""

from __future__ import annotations

import logging
from typing import Any

from jpki_sdk.card import (
    CardDataError,
    CardError,
    CardProtocolError,
    CardRemovedError,
    CertificateNotPresentError,
    LastAttemptRefusedError,
    NoCardError,
    NoReaderError,
    NotJpkiCardError,
    PinAttemptUncertainError,
    PinBlockedError,
    PinFormatError,
    PinIncorrectError,
    ReaderError,
    ReaderUnavailableError,
)
from jpki_sdk.errors import ConfigurationError, JpkiError

logger = logging.getLogger(__name__)

#: Every code the agent answers, with its HTTP status and what it means.
ERROR_CODES: dict[str, tuple[int, str]] = {
    # -- refused before the card is touched
    "origin_required": (403, "the request has no Origin header (only web pages may call)"),
    "origin_not_allowed": (403, "the page's origin is not on the agent's allow-list"),
    "host_not_allowed": (421, "the Host header is not the agent's loopback address"),
    "invalid_request": (400, "the request is malformed"),
    "malformed_json": (400, "the body is not valid JSON"),
    "unsupported_media_type": (415, "the body must be application/json"),
    "payload_too_large": (413, "the body is too large"),
    "not_found": (404, "no such endpoint"),
    "method_not_allowed": (405, "method not allowed on this endpoint"),
    "pin_not_accepted": (
        400,
        "the page sent a PIN but the agent takes PINs only from its own prompt (kiosk mode is "
        "off, or this origin is not the kiosk origin)",
    ),
    "pin_required": (400, "kiosk mode: the kiosk page must send the PIN"),
    "last_attempt_not_allowed": (
        403,
        "the page may not allow the last PIN attempt (kiosk last-attempt override is off)",
    ),
    "busy": (409, "another card operation is in progress"),
    "rate_limited": (429, "too many PIN attempts: wait before trying again"),
    # -- the person at the agent
    "user_cancelled": (403, "the person at the agent refused the request"),
    "prompt_timeout": (408, "nobody entered the PIN at the agent in time"),
    "no_terminal": (503, "the agent has no terminal to ask for the PIN"),
    # -- PIN results
    "pin_format": (400, "the PIN has the wrong format; it was not sent (no try used)"),
    "wrong_pin": (422, "wrong PIN"),
    "pin_blocked": (423, "the PIN is blocked; only the municipal office can reset it"),
    "last_attempt_refused": (
        423,
        "only one try is left: not sent, a wrong PIN would block it",
    ),
    "pin_attempt_uncertain": (
        503,
        "the connection to the card broke while the PIN was checked; the try may have counted",
    ),
    # -- card and reader
    "no_reader": (503, "no card reader is connected"),
    "reader_unavailable": (503, "the card reader is in use by another program or unavailable"),
    "no_card": (503, "no card in the reader"),
    "not_jpki_card": (422, "the card in the reader is not a My Number card"),
    "card_removed": (503, "the card was removed during the operation"),
    "no_signature_certificate": (
        422,
        "the card has no signature certificate (holders under 15 have none)",
    ),
    "card_error": (502, "the card or reader failed"),
    "internal_error": (500, "internal error"),
}


class AgentError(Exception):
    """A failure answered to the page as ``{"error": {"code", "message", ...}}``.

    ``extra`` holds the data the page needs (``tries_left``, ``retry_after``...). Its values
    are never secrets.
    """

    def __init__(self, code: str, message: str | None = None, **extra: Any) -> None:
        if code not in ERROR_CODES:
            raise ValueError(f"unknown agent error code {code!r}")
        status, default = ERROR_CODES[code]
        super().__init__(message or default)
        self.code = code
        self.status = status
        self.message = message or default
        self.extra = {k: v for k, v in extra.items() if v is not None}

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, **self.extra}

    def __repr__(self) -> str:
        return f"AgentError({self.code!r}, status={self.status})"


def from_card_error(exc: JpkiError) -> AgentError:
    """The agent error for a card-side :class:`~jpki_sdk.errors.JpkiError` (the one mapping)."""
    if isinstance(exc, PinIncorrectError):
        left = exc.remaining
        text = "wrong PIN" if left is None else f"wrong PIN: {left} tries left"
        return AgentError("wrong_pin", text, tries_left=left, pin=_pin_name(exc.kind))
    if isinstance(exc, PinBlockedError):
        text = (
            "wrong PIN: that was the last try, the PIN is now blocked"
            if exc.just_blocked
            else "the PIN is blocked"
        )
        return AgentError(
            "pin_blocked",
            text + "; only the municipal office can reset it",
            tries_left=0,
            just_blocked=exc.just_blocked,
            pin=_pin_name(exc.kind),
        )
    if isinstance(exc, LastAttemptRefusedError):
        return AgentError(
            "last_attempt_refused",
            "only one try is left: the PIN was not sent, because a wrong PIN would block it",
            tries_left=exc.remaining,
            pin=_pin_name(exc.kind),
        )
    if isinstance(exc, PinFormatError):
        return AgentError("pin_format", str(exc), pin=_pin_name(exc.kind))
    if isinstance(exc, PinAttemptUncertainError):
        return AgentError(
            "pin_attempt_uncertain",
            "the connection to the card broke while the PIN was being checked (was the card "
            "removed?); the try may have been counted",
            tries_left=exc.remaining,
            pin=_pin_name(exc.kind),
        )
    if isinstance(exc, CardRemovedError):
        return AgentError(
            "card_removed", "the card was removed during the operation: insert it and try again"
        )
    if isinstance(exc, NotJpkiCardError):
        return AgentError("not_jpki_card")
    if isinstance(exc, NoCardError):
        return AgentError("no_card", "no card in the reader: insert your My Number card")
    if isinstance(exc, NoReaderError):
        return AgentError("no_reader")
    if isinstance(exc, ReaderUnavailableError):
        return AgentError("reader_unavailable")
    if isinstance(exc, CertificateNotPresentError):
        return AgentError("no_signature_certificate")
    if isinstance(exc, (ReaderError, CardProtocolError, CardDataError, CardError)):
        logger.warning("card operation failed: %s: %s", type(exc).__name__, exc)
        return AgentError("card_error", f"the card or reader failed ({type(exc).__name__})")
    if isinstance(exc, ConfigurationError):
        logger.error("card source unusable: %s", exc)
        return AgentError("card_error", "the agent's card source cannot be used (see its log)")
    logger.warning("card operation failed: %s", type(exc).__name__)
    return AgentError("card_error", f"the card operation failed ({type(exc).__name__})")


def _pin_name(kind: object) -> str | None:
    value = getattr(kind, "value", None)
    return value if isinstance(value, str) else None


__all__ = ["ERROR_CODES", "AgentError", "from_card_error"]
