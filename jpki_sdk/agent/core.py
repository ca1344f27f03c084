"""The card agent's logic, independent of HTTP: one card operation at a time, PIN rules, limits.

:class:`CardAgent` is what the HTTP layer (:mod:`jpki_sdk.agent.app`) calls once it has checked
the request's Host and Origin. Every method takes the requesting page's origin (already
matched against the allow-list): it is the origin signed into the token, never a value from
the request body.

Order of a signing operation, and what each refusal costs:

1. origin allowed, kiosk rules for a PIN in the request (nothing touched);
2. no other operation in progress (``busy``), rate limits (``rate_limited``) (nothing touched);
3. open the card, read the PIN's retry counter (no try used);
4. blocked: refuse; one try left: refuse unless the person (terminal) or the kiosk page
   (when configured) explicitly allowed it;
5. terminal mode: show origin, purpose and tries left, then read the PIN at the terminal;
6. VERIFY + COMPUTE SIGNATURE over ``SHA-256(origin) || SHA-256(nonce)`` by the auth client
   helper (:func:`jpki_sdk.auth.client.sign_challenge`, RS256); the session is closed (card
   reset) whatever happens.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from jpki_sdk import __version__
from jpki_sdk.agent.cards import CardSource
from jpki_sdk.agent.config import AgentConfig
from jpki_sdk.agent.errors import AgentError, from_card_error
from jpki_sdk.agent.prompt import PinAnswer, PinPrompt, PinRequest, TerminalPinPrompt
from jpki_sdk.agent.ratelimit import PinRateLimiter
from jpki_sdk.auth.client import sign_challenge
from jpki_sdk.auth.token import Token
from jpki_sdk.auth.types import AuthPurpose
from jpki_sdk.card import (
    CardRemovedError,
    FileNotFoundOnCardError,
    JpkiCard,
    LastAttemptRefusedError,
    PinAttemptUncertainError,
    PinBlockedError,
    PinIncorrectError,
    PinKind,
    PinStatus,
)
from jpki_sdk.errors import JpkiError

logger = logging.getLogger(__name__)


_PINS = {AuthPurpose.LOGIN: PinKind.AUTH, AuthPurpose.IDENTITY: PinKind.SIGN}


def pin_kind_for(purpose: AuthPurpose) -> PinKind:
    """The PIN a purpose needs: the 4-digit auth PIN to log in, the password for identity."""
    return _PINS[purpose]


@dataclass(frozen=True)
class PinReport:
    """The retry counter of the PIN a purpose needs (read without using a try)."""

    purpose: AuthPurpose
    status: PinStatus

    def to_dict(self) -> dict[str, Any]:
        return {
            "purpose": self.purpose.value,
            "pin": self.status.kind.value,
            "tries_left": self.status.remaining,
            "max_tries": self.status.max_tries,
            "blocked": self.status.blocked,
            "last_attempt": self.status.last_attempt,
        }


class CardAgent:
    """One card, one operation at a time (see the module documentation)."""

    def __init__(
        self,
        config: AgentConfig,
        cards: CardSource,
        *,
        prompt: PinPrompt | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.config = config
        self.cards = cards
        self.prompt: PinPrompt = (
            prompt if prompt is not None else TerminalPinPrompt(timeout=config.prompt_timeout)
        )
        self.limiter = PinRateLimiter(
            failure_delay=config.failure_delay,
            max_failure_delay=config.max_failure_delay,
            max_operations=config.max_operations,
            window=config.window,
            clock=clock,
        )
        self._busy = threading.Lock()
        self.operations = 0

    # -- helpers -------------------------------------------------------------------------------

    def _check_origin(self, origin: str) -> None:
        if not self.config.is_allowed(origin):
            raise AgentError("origin_not_allowed")

    def _exclusive(self) -> _Exclusive:
        if not self._busy.acquire(blocking=False):
            raise AgentError(
                "busy", "another card operation is in progress: finish or cancel it first"
            )
        return _Exclusive(self._busy)

    def maintenance(self, timeout: float = 30.0) -> _Exclusive:
        """Hold the agent's operation lock (waiting up to ``timeout`` seconds for a running
        operation to finish), e.g. to swap or reset a simulated card between operations."""
        if not self._busy.acquire(timeout=timeout):
            raise AgentError("busy", "a card operation is still in progress")
        return _Exclusive(self._busy)

    def _open(self) -> JpkiCard:
        try:
            return self.cards.open()
        except CardRemovedError:
            # Nothing was in progress yet: the card is simply not there (an in-process
            # simulated reader reports its empty slot this way on the first SELECT).
            raise AgentError(
                "no_card", "no card in the reader: insert your My Number card"
            ) from None
        except JpkiError as exc:
            raise from_card_error(exc) from None

    # -- operations ----------------------------------------------------------------------------

    def info(self, origin: str) -> dict[str, Any]:
        """What a page needs to know before it starts (does not touch the card)."""
        self._check_origin(origin)
        kiosk = self.config.is_kiosk(origin)
        return {
            "agent": "jpki-agent",
            "version": __version__,
            "origin": origin,
            "pin_entry": "page" if kiosk else "agent",
            "kiosk_allow_last_attempt": kiosk and self.config.kiosk_allow_last_attempt,
            "card_source": self.cards.describe(),
            "purposes": [p.value for p in AuthPurpose],
        }

    def pin_status(self, origin: str, purpose: AuthPurpose) -> PinReport:
        """The tries left of the PIN ``purpose`` needs (a counter query: no try used)."""
        self._check_origin(origin)
        with self._exclusive():
            card = self._open()
            try:
                status = _read_status(card, purpose)
            finally:
                _close(card)
        return PinReport(purpose, status)

    def sign(
        self,
        origin: str,
        purpose: AuthPurpose,
        nonce: bytes,
        *,
        pin: str | None = None,
        allow_last_attempt: bool = False,
    ) -> Token:
        """Sign the challenge ``nonce`` for ``origin`` (the page's Origin) and ``purpose``.

        ``pin`` and ``allow_last_attempt`` are accepted only from the kiosk origin in kiosk
        mode (``allow_last_attempt`` only when configured); elsewhere the PIN is asked at the
        agent's prompt. Raises :class:`AgentError`.
        """
        self._check_origin(origin)
        kiosk = self.config.is_kiosk(origin)
        if pin is not None and not kiosk:
            raise AgentError("pin_not_accepted")
        if kiosk and pin is None:
            raise AgentError("pin_required")
        if allow_last_attempt and not (kiosk and self.config.kiosk_allow_last_attempt):
            raise AgentError("last_attempt_not_allowed")
        code = "ok"
        try:
            with self._exclusive():
                self.limiter.check()
                self.operations += 1
                return self._sign_exclusive(
                    origin, purpose, nonce, pin=pin, allow_last_attempt=allow_last_attempt
                )
        except AgentError as exc:
            code = exc.code
            raise
        finally:
            logger.info("sign request from %s for %s: %s", origin, purpose.value, code)

    def _sign_exclusive(
        self,
        origin: str,
        purpose: AuthPurpose,
        nonce: bytes,
        *,
        pin: str | None,
        allow_last_attempt: bool,
    ) -> Token:
        kind = pin_kind_for(purpose)
        card = self._open()
        answer: PinAnswer | None = None
        try:
            status = _read_status(card, purpose)
            request = PinRequest(origin, purpose, kind, status.remaining, status.max_tries)
            if status.blocked:
                if pin is None:
                    self._tell(request, f"the {kind.label} is BLOCKED: nothing was sent")
                raise from_card_error(PinBlockedError(kind))
            if pin is not None:
                if status.last_attempt and not allow_last_attempt:
                    raise from_card_error(LastAttemptRefusedError(kind))
                answer = PinAnswer(_pin_bytes(pin), allow_last_attempt=allow_last_attempt)
            else:
                answer = self.prompt.ask(request)
            try:
                token = sign_challenge(
                    card,
                    nonce,
                    origin,
                    purpose,
                    answer.pin,
                    allow_last_attempt=answer.allow_last_attempt,
                )
            except JpkiError as exc:
                if isinstance(exc, (PinIncorrectError, PinAttemptUncertainError)) or (
                    isinstance(exc, PinBlockedError) and exc.just_blocked
                ):
                    self.limiter.failure()
                error = from_card_error(exc)
                if pin is None:
                    self._tell(request, f"not signed: {error.message}")
                raise error from None
            self.limiter.success()
            if pin is None:
                self._tell(request, "signed: the token was handed to the page")
            return token
        finally:
            if answer is not None:
                answer.wipe()
            _close(card)

    def _tell(self, request: PinRequest, message: str) -> None:
        """Tell the person at the agent's prompt what happened (best effort)."""
        try:
            self.prompt.notify(request, message)
        except AgentError as exc:
            logger.info("could not tell the person at the agent: %s", exc.code)


class _Exclusive:
    """Releases the agent's operation lock on exit (acquired by ``CardAgent._exclusive``)."""

    def __init__(self, lock: threading.Lock) -> None:
        self._lock = lock

    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        self._lock.release()


def _read_status(card: JpkiCard, purpose: AuthPurpose) -> PinStatus:
    """The counter of the PIN ``purpose`` needs; a card without the signature key (holders
    under 15) is told apart from other card errors."""
    try:
        return card.pin_status(pin_kind_for(purpose))
    except FileNotFoundOnCardError as exc:
        if purpose is AuthPurpose.IDENTITY:
            raise AgentError("no_signature_certificate") from None
        raise from_card_error(exc) from None
    except JpkiError as exc:
        raise from_card_error(exc) from None


def _pin_bytes(pin: str) -> bytearray:
    try:
        return bytearray(pin.encode("ascii"))
    except UnicodeEncodeError:
        # Not a valid PIN of any kind: the card layer refuses its format without sending it.
        return bytearray(pin.encode("utf-8"))


def _close(card: JpkiCard) -> None:
    try:
        card.close()
    except JpkiError as exc:
        logger.debug("closing the card session: %s", type(exc).__name__)


__all__ = ["CardAgent", "PinReport", "pin_kind_for"]
