"""The injected clock: every verification time comes from a :class:`Clock`.

Production code uses :class:`SystemClock`; tests and historical validation use
:class:`FixedClock`. Times are always timezone-aware UTC datetimes.
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime, timedelta, timezone
from typing import Protocol, runtime_checkable

__all__ = ["Clock", "FixedClock", "SystemClock", "as_utc"]

logger = logging.getLogger(__name__)


def as_utc(value: datetime, name: str = "time") -> datetime:
    """Return ``value`` converted to UTC; a naive datetime is a caller error (ValueError)."""
    if not isinstance(value, datetime):
        raise TypeError(f"{name} must be a datetime, not {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware (e.g. datetime(..., tzinfo=timezone.utc))")
    return value.astimezone(timezone.utc)


@runtime_checkable
class Clock(Protocol):
    """A source of the current time (aware, UTC)."""

    def now(self) -> datetime:
        """The current time as an aware UTC datetime."""
        ...


class SystemClock:
    """The real time, from the operating system."""

    __slots__ = ()

    def now(self) -> datetime:
        return datetime.now(timezone.utc)

    def __repr__(self) -> str:
        return "SystemClock()"


class FixedClock:
    """A clock that says what it is told: for tests and for validation at a past time.

    ``set`` and ``advance`` move it (thread-safe); it never moves by itself.
    """

    __slots__ = ("_lock", "_now")

    def __init__(self, at: datetime) -> None:
        self._now = as_utc(at, "at")
        self._lock = threading.Lock()

    def now(self) -> datetime:
        return self._now

    def set(self, at: datetime) -> None:
        """Move the clock to ``at``."""
        value = as_utc(at, "at")
        with self._lock:
            self._now = value

    def advance(self, delta: timedelta) -> None:
        """Move the clock by ``delta`` (may be negative)."""
        if not isinstance(delta, timedelta):
            raise TypeError("delta must be a datetime.timedelta")
        with self._lock:
            self._now = self._now + delta

    def __repr__(self) -> str:
        return f"FixedClock({self._now.isoformat()})"
