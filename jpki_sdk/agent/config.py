"""The card agent's settings, checked when the agent starts.

- It binds ``127.0.0.1`` and nothing else: any other address (``0.0.0.0``, ``::``, a LAN
  address, a host name) is refused with a :class:`~jpki_sdk.errors.ConfigurationError`, so no
  other machine can ever reach the card.
- ``allowed_origins``: the web origins whose pages may ask for a signature, compared
  **exactly** with the browser's ``Origin`` header (after canonicalising the configured
  values once at start: ``https://Shop.Example:443`` becomes ``https://shop.example``).
- ``kiosk_origin``: kiosk mode, off unless set. Only a page of this origin (which must also
  be allowed) may send the PIN with its request; every other origin gets the agent's own
  terminal prompt. ``kiosk_allow_last_attempt`` lets the kiosk page send the PIN when one try
  is left (its own screen must have asked the citizen); off by default.
- Rate limits: after a wrong PIN the next PIN attempt waits ``failure_delay`` seconds,
  doubling with each further failure up to ``max_failure_delay``; at most
  ``max_operations`` signing operations per ``window`` seconds.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass

from jpki_sdk.auth.message import normalize_origin
from jpki_sdk.errors import ConfigurationError

logger = logging.getLogger(__name__)

#: The agent's fixed default port (documented in docs/kiosk-integrator-guide.md).
DEFAULT_PORT = 24727
#: The only address the agent binds.
LOOPBACK_HOST = "127.0.0.1"
#: Largest request body accepted (bytes).
MAX_BODY_BYTES = 4096


@dataclass(frozen=True)
class AgentConfig:
    """Checked settings of one agent (see the module documentation)."""

    allowed_origins: tuple[str, ...]
    host: str = LOOPBACK_HOST
    port: int = DEFAULT_PORT
    kiosk_origin: str | None = None
    kiosk_allow_last_attempt: bool = False
    failure_delay: float = 2.0
    max_failure_delay: float = 60.0
    max_operations: int = 20
    window: float = 60.0
    prompt_timeout: float = 120.0

    def __post_init__(self) -> None:
        if self.host != LOOPBACK_HOST:
            raise ConfigurationError(
                f"the card agent listens on {LOOPBACK_HOST} only; refusing to bind "
                f"{self.host!r} (any other address would expose the card to other machines)"
            )
        if isinstance(self.port, bool) or not isinstance(self.port, int):
            raise ConfigurationError("agent port must be an integer")
        if not 0 <= self.port <= 65535:
            raise ConfigurationError("agent port must be 0..65535 (0: any free port, for tests)")
        if isinstance(self.allowed_origins, str):
            raise ConfigurationError("allowed_origins must be a list of origins, not one string")
        origins = _canonical_origins(self.allowed_origins)
        if not origins:
            raise ConfigurationError(
                "the card agent needs at least one allowed web origin (--allow-origin)"
            )
        object.__setattr__(self, "allowed_origins", origins)
        if self.kiosk_origin is not None:
            kiosk = _canonical(self.kiosk_origin, "kiosk origin")
            if kiosk not in origins:
                raise ConfigurationError(
                    f"the kiosk origin {kiosk} must also be an allowed origin (--allow-origin)"
                )
            object.__setattr__(self, "kiosk_origin", kiosk)
        elif self.kiosk_allow_last_attempt:
            raise ConfigurationError("kiosk_allow_last_attempt needs kiosk mode (a kiosk origin)")
        for name in ("failure_delay", "max_failure_delay", "window", "prompt_timeout"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                raise ConfigurationError(f"agent {name} must be a number of seconds >= 0")
        if self.max_failure_delay < self.failure_delay:
            raise ConfigurationError("max_failure_delay must be >= failure_delay")
        if self.window <= 0 or self.prompt_timeout <= 0:
            raise ConfigurationError("agent window and prompt_timeout must be positive")
        if (
            isinstance(self.max_operations, bool)
            or not isinstance(self.max_operations, int)
            or self.max_operations < 1
        ):
            raise ConfigurationError("agent max_operations must be a positive integer")

    @property
    def kiosk_mode(self) -> bool:
        return self.kiosk_origin is not None

    def is_allowed(self, origin: str | None) -> bool:
        """Exact comparison of a request's ``Origin`` header with the allow-list."""
        return origin is not None and origin in self.allowed_origins

    def is_kiosk(self, origin: str) -> bool:
        return self.kiosk_origin is not None and origin == self.kiosk_origin

    def accepted_hosts(self, port: int) -> frozenset[str]:
        """Host header values the agent answers (anything else could be DNS rebinding)."""
        return frozenset({f"{LOOPBACK_HOST}:{port}", f"localhost:{port}"})


def _canonical(origin: str, what: str) -> str:
    try:
        return normalize_origin(origin)
    except (TypeError, ValueError) as exc:
        raise ConfigurationError(f"{what} {origin!r} is not a web origin: {exc}") from None


def _canonical_origins(origins: Iterable[str]) -> tuple[str, ...]:
    result: list[str] = []
    for origin in origins:
        value = _canonical(origin, "allowed origin")
        if value not in result:
            result.append(value)
    return tuple(result)


__all__ = ["DEFAULT_PORT", "LOOPBACK_HOST", "MAX_BODY_BYTES", "AgentConfig"]
