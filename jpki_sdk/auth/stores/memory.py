"""In-memory challenge store: one process, any number of threads."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta

from jpki_sdk.auth.challenges import (
    DEFAULT_RETENTION,
    Challenge,
    ConsumeResult,
    ConsumeStatus,
    challenge_key,
)
from jpki_sdk.auth.errors import ChallengeStoreError

logger = logging.getLogger(__name__)

#: Records beyond which new challenges are refused (after purging what may be purged).
DEFAULT_MAX_ENTRIES = 1_000_000
_PURGE_EVERY = 1024


@dataclass
class _Entry:
    challenge: Challenge
    retain_until: datetime
    used: bool = False


class MemoryChallengeStore:
    """A dict behind a lock. Lost when the process ends; not shared between processes."""

    def __init__(
        self,
        *,
        retention: timedelta = DEFAULT_RETENTION,
        max_entries: int = DEFAULT_MAX_ENTRIES,
    ) -> None:
        if retention < timedelta(0):
            raise ValueError("retention must not be negative")
        if max_entries < 1:
            raise ValueError("max_entries must be positive")
        self.retention = retention
        self.max_entries = max_entries
        self._lock = threading.Lock()
        self._entries: dict[bytes, _Entry] = {}
        self._puts = 0

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    def put(self, challenge: Challenge) -> None:
        key = challenge.key
        with self._lock:
            self._puts += 1
            if self._puts % _PURGE_EVERY == 0 or len(self._entries) >= self.max_entries:
                self._purge_locked(challenge.issued_at)
            if len(self._entries) >= self.max_entries:
                raise ChallengeStoreError("the in-memory challenge store is full")
            if key in self._entries:
                raise ChallengeStoreError("a challenge with this nonce already exists")
            self._entries[key] = _Entry(challenge, challenge.expires_at + self.retention)

    def consume(self, nonce: bytes) -> ConsumeResult:
        key = challenge_key(nonce)
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return ConsumeResult(ConsumeStatus.UNKNOWN)
            if entry.used:
                return ConsumeResult(ConsumeStatus.ALREADY_USED)
            entry.used = True
            return ConsumeResult(ConsumeStatus.CONSUMED, entry.challenge)

    def purge(self, now: datetime) -> int:
        with self._lock:
            return self._purge_locked(now)

    def _purge_locked(self, now: datetime) -> int:
        stale = [k for k, e in self._entries.items() if e.retain_until <= now]
        for k in stale:
            del self._entries[k]
        if stale:
            logger.debug("purged %d challenge records", len(stale))
        return len(stale)

    def ping(self) -> None:
        return None

    def close(self) -> None:
        return None

    def __repr__(self) -> str:
        return f"MemoryChallengeStore(entries={len(self._entries)})"
