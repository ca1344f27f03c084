"""Rate limits of the card agent: PIN failures back off, operations per window are capped.

The card itself blocks a PIN after 3 wrong tries (5 for the signature password), and the agent
refuses to send a PIN at one try left. The limits here slow down whoever drives the agent
(a misbehaving allowed page, a script on the machine) long before that, and stop a page from
flooding the person at the terminal with prompts:

- after a wrong PIN, no PIN attempt is accepted for ``failure_delay`` seconds, doubling with
  each further consecutive failure up to ``max_failure_delay``; a correct PIN resets it;
- at most ``max_operations`` signing operations start per sliding ``window`` seconds.

Time comes from an injected monotonic clock so tests never sleep.
"""

from __future__ import annotations

import collections
import logging
import threading
import time
from collections.abc import Callable

from jpki_sdk.agent.errors import AgentError

logger = logging.getLogger(__name__)


class PinRateLimiter:
    """Thread-safe limiter; :meth:`check` raises ``AgentError("rate_limited")``."""

    def __init__(
        self,
        *,
        failure_delay: float,
        max_failure_delay: float,
        max_operations: int,
        window: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._failure_delay = failure_delay
        self._max_failure_delay = max_failure_delay
        self._max_operations = max_operations
        self._window = window
        self._clock = clock
        self._lock = threading.Lock()
        self._failures = 0
        self._blocked_until = 0.0
        self._started: collections.deque[float] = collections.deque()

    @property
    def consecutive_failures(self) -> int:
        return self._failures

    def check(self) -> None:
        """Refuse now (without touching the card) if a limit applies; else count one operation."""
        with self._lock:
            now = self._clock()
            if now < self._blocked_until:
                wait = self._blocked_until - now
                raise AgentError(
                    "rate_limited",
                    f"a wrong PIN was entered recently: wait {_seconds(wait)} s before the next "
                    "attempt",
                    retry_after=_seconds(wait),
                )
            while self._started and self._started[0] <= now - self._window:
                self._started.popleft()
            if len(self._started) >= self._max_operations:
                wait = self._started[0] + self._window - now
                raise AgentError(
                    "rate_limited",
                    f"more than {self._max_operations} card operations in {_seconds(self._window)}"
                    f" s: wait {_seconds(wait)} s",
                    retry_after=_seconds(wait),
                )
            self._started.append(now)

    def failure(self) -> float:
        """Record a wrong PIN; returns the delay imposed before the next attempt."""
        with self._lock:
            self._failures += 1
            delay = min(
                self._failure_delay * float(2 ** (self._failures - 1)), self._max_failure_delay
            )
            self._blocked_until = self._clock() + delay
            logger.info("wrong PIN (%d in a row): next attempt in %.1f s", self._failures, delay)
            return delay

    def success(self) -> None:
        """Record a correct PIN: the back-off starts again from the beginning."""
        with self._lock:
            self._failures = 0
            self._blocked_until = 0.0


def _seconds(value: float) -> int:
    """Whole seconds, rounded up, at least 1 (what a Retry-After header carries)."""
    whole = int(value)
    return max(1, whole if whole == value else whole + 1)


__all__ = ["PinRateLimiter"]
