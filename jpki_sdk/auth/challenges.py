"""Challenges: 32 random bytes, a time to live, single use, optionally bound to a session.

A relying party issues a challenge, hands the nonce to the user's side, and later redeems it
exactly once while verifying the token that signs it. The record is kept in a
:class:`ChallengeStore`; three backends implement the protocol:

- :class:`~jpki_sdk.auth.stores.memory.MemoryChallengeStore`: one process.
- :class:`~jpki_sdk.auth.stores.sqlite.SqliteChallengeStore`: a file; survives restarts and is
  safe with several worker processes on one host (the service's default).
- :class:`~jpki_sdk.auth.stores.redis_store.RedisChallengeStore`: many hosts.

Stores key records by ``SHA-256(nonce)``; the nonce itself is never stored, so a dump of the
store does not reveal live challenges. A consume attempt that finds a challenge takes it out
of play whatever happens next (it is then *used*): a second attempt, even concurrent, is told
``ALREADY_USED``. Expiry and bindings (purpose, origin, session) are checked on the consumed
record by :class:`ChallengeManager`, so an expired or mismatched challenge is burned too.
"""

from __future__ import annotations

import base64
import binascii
import enum
import hashlib
import hmac
import logging
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Protocol, runtime_checkable

from jpki_sdk.auth.errors import (
    ChallengeExpiredError,
    ChallengeMismatchError,
    ChallengeReplayedError,
    ChallengeUnknownError,
)
from jpki_sdk.auth.message import normalize_origin
from jpki_sdk.auth.types import NONCE_SIZE, AuthPurpose

logger = logging.getLogger(__name__)

#: Default time to live of a challenge.
DEFAULT_TTL = timedelta(minutes=5)
#: Bounds on a challenge's time to live.
MIN_TTL = timedelta(seconds=1)
MAX_TTL = timedelta(hours=24)
#: How long stores keep a record after it expired, so that a late or replayed token is told
#: "expired" or "replayed" rather than "unknown".
DEFAULT_RETENTION = timedelta(minutes=15)
#: Longest session id accepted for binding (characters).
MAX_SESSION_ID_LENGTH = 1024

_SESSION_CONTEXT = b"jpki-sdk challenge session binding v1\x00"


class Clock(Protocol):
    """Anything with ``now()`` returning an aware UTC datetime (``jpki_sdk.verify.Clock``)."""

    def now(self) -> datetime: ...


class _SystemClock:
    def now(self) -> datetime:
        return datetime.now(timezone.utc)


def _aware(value: datetime, name: str) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be a timezone-aware datetime")
    return value.astimezone(timezone.utc)


def challenge_key(nonce: bytes) -> bytes:
    """The store key of a nonce: ``SHA-256(nonce)``."""
    return hashlib.sha256(nonce).digest()


def session_binding(session_id: str) -> bytes:
    """The value stored to bind a challenge to a session id (a hash; the id is not stored)."""
    if not isinstance(session_id, str):
        raise TypeError("session_id must be a str")
    if not session_id or len(session_id) > MAX_SESSION_ID_LENGTH:
        raise ValueError(f"session_id must be 1..{MAX_SESSION_ID_LENGTH} characters")
    return hashlib.sha256(_SESSION_CONTEXT + session_id.encode("utf-8")).digest()


def encode_nonce(nonce: bytes) -> str:
    """Standard base64 (RFC 4648 section 4, padded), the form used on the wire."""
    return base64.b64encode(nonce).decode("ascii")


def decode_nonce(text: str) -> bytes:
    """Strict inverse of :func:`encode_nonce`; ``ValueError`` for anything else."""
    if not isinstance(text, str) or len(text) != 44:
        raise ValueError(f"a nonce is {NONCE_SIZE} bytes in padded base64 (44 characters)")
    try:
        raw = base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError):
        raise ValueError("nonce is not valid base64") from None
    if len(raw) != NONCE_SIZE or encode_nonce(raw) != text:
        raise ValueError("nonce is not canonical base64 of 32 bytes")
    return raw


@dataclass(frozen=True)
class Challenge:
    """One issued challenge."""

    nonce: bytes = field(repr=False)
    purpose: AuthPurpose
    origin: str
    issued_at: datetime
    expires_at: datetime
    session_binding: bytes | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if not isinstance(self.nonce, bytes) or len(self.nonce) != NONCE_SIZE:
            raise ValueError(f"nonce must be {NONCE_SIZE} bytes")
        if not isinstance(self.purpose, AuthPurpose):
            raise TypeError("purpose must be an AuthPurpose")
        issued = _aware(self.issued_at, "issued_at")
        expires = _aware(self.expires_at, "expires_at")
        if expires <= issued:
            raise ValueError("expires_at must be after issued_at")
        if self.session_binding is not None and len(self.session_binding) != 32:
            raise ValueError("session_binding must be a 32-byte hash")
        object.__setattr__(self, "issued_at", issued)
        object.__setattr__(self, "expires_at", expires)

    @property
    def key(self) -> bytes:
        """``SHA-256(nonce)``: how stores find the record."""
        return challenge_key(self.nonce)

    @property
    def nonce_b64(self) -> str:
        """The nonce as sent to the user's side."""
        return encode_nonce(self.nonce)

    @property
    def ttl(self) -> timedelta:
        return self.expires_at - self.issued_at

    def is_expired(self, at: datetime) -> bool:
        """True when ``at`` is at or after the expiry time."""
        return _aware(at, "at") >= self.expires_at

    def __repr__(self) -> str:
        bound = "yes" if self.session_binding is not None else "no"
        return (
            f"Challenge(key={self.key.hex()[:12]}..., purpose={self.purpose.value}, "
            f"origin={self.origin!r}, expires_at={self.expires_at.isoformat()}, "
            f"session_bound={bound})"
        )


class ConsumeStatus(enum.Enum):
    """What a store's atomic consume found."""

    CONSUMED = "consumed"  # this call took the challenge (the one winner)
    ALREADY_USED = "already_used"  # it exists but an earlier call took it
    UNKNOWN = "unknown"  # no record (never issued, or purged after its retention)


@dataclass(frozen=True)
class ConsumeResult:
    status: ConsumeStatus
    challenge: Challenge | None = None  # set exactly when status is CONSUMED


@runtime_checkable
class ChallengeStore(Protocol):
    """Where issued challenges live until they are consumed.

    ``consume`` must be atomic across every thread, process and host sharing the store:
    of any number of concurrent calls with the same nonce, exactly one gets ``CONSUMED``.
    Records are kept ``retention`` past their expiry and may be purged after that.
    Backend failures raise :class:`~jpki_sdk.auth.errors.ChallengeStoreError`.
    """

    def put(self, challenge: Challenge) -> None:
        """Store a newly issued challenge (its key must not exist yet)."""
        ...

    def consume(self, nonce: bytes) -> ConsumeResult:
        """Atomically take the challenge out of play and return it (see ConsumeStatus)."""
        ...

    def purge(self, now: datetime) -> int:
        """Drop records whose retention has passed at ``now``; return how many."""
        ...

    def ping(self) -> None:
        """Raise ChallengeStoreError if the backend is not usable (health checks)."""
        ...

    def close(self) -> None:
        """Release connections. Closing twice is harmless."""
        ...


class ChallengeManager:
    """Issues and redeems challenges for one relying party over any :class:`ChallengeStore`.

    ``clock`` is injected (any object with ``now()``) so tests can move time.
    """

    def __init__(
        self,
        store: ChallengeStore,
        *,
        ttl: timedelta = DEFAULT_TTL,
        clock: Clock | None = None,
    ) -> None:
        if not isinstance(ttl, timedelta) or not MIN_TTL <= ttl <= MAX_TTL:
            raise ValueError(f"ttl must be a timedelta between {MIN_TTL} and {MAX_TTL}")
        self.store = store
        self.ttl = ttl
        self.clock: Clock = clock if clock is not None else _SystemClock()

    def issue(
        self,
        purpose: AuthPurpose,
        origin: str,
        *,
        session_id: str | None = None,
        ttl: timedelta | None = None,
    ) -> Challenge:
        """Create a fresh challenge, store it and return it."""
        lifetime = self.ttl if ttl is None else ttl
        if not isinstance(lifetime, timedelta) or not MIN_TTL <= lifetime <= MAX_TTL:
            raise ValueError(f"ttl must be a timedelta between {MIN_TTL} and {MAX_TTL}")
        now = _aware(self.clock.now(), "clock.now()")
        challenge = Challenge(
            nonce=secrets.token_bytes(NONCE_SIZE),
            purpose=AuthPurpose(purpose),
            origin=normalize_origin(origin),
            issued_at=now,
            expires_at=now + lifetime,
            session_binding=None if session_id is None else session_binding(session_id),
        )
        self.store.put(challenge)
        logger.debug("issued %r", challenge)
        return challenge

    def redeem(
        self,
        nonce: bytes,
        *,
        purpose: AuthPurpose,
        origin: str,
        session_id: str | None = None,
        at: datetime | None = None,
    ) -> Challenge:
        """Consume the challenge and check it is unexpired and bound as expected.

        The consume is one atomic store operation and happens first: whatever the outcome,
        the challenge cannot be used again. Raises ChallengeUnknownError,
        ChallengeReplayedError, ChallengeExpiredError or ChallengeMismatchError.
        """
        when = _aware(at if at is not None else self.clock.now(), "at")
        canonical_origin = normalize_origin(origin)
        binding = None if session_id is None else session_binding(session_id)
        result = self.store.consume(bytes(nonce))
        if result.status is ConsumeStatus.UNKNOWN:
            raise ChallengeUnknownError("no challenge was issued with this nonce")
        if result.status is ConsumeStatus.ALREADY_USED:
            raise ChallengeReplayedError("the challenge was already used")
        challenge = result.challenge
        if challenge is None:  # a store broke its contract
            raise ChallengeUnknownError("the challenge store returned no record")
        if challenge.is_expired(when):
            raise ChallengeExpiredError(
                f"the challenge expired at {challenge.expires_at.isoformat()}"
            )
        if challenge.purpose is not AuthPurpose(purpose):
            raise ChallengeMismatchError(
                f"the challenge was issued for {challenge.purpose.value}", binding="purpose"
            )
        if not hmac.compare_digest(challenge.origin.encode(), canonical_origin.encode()):
            raise ChallengeMismatchError(
                "the challenge was issued for another origin", binding="origin"
            )
        if challenge.session_binding is not None and (
            binding is None or not hmac.compare_digest(challenge.session_binding, binding)
        ):
            raise ChallengeMismatchError(
                "the challenge is bound to another session", binding="session"
            )
        return challenge


__all__ = [
    "DEFAULT_RETENTION",
    "DEFAULT_TTL",
    "MAX_TTL",
    "MIN_TTL",
    "Challenge",
    "ChallengeManager",
    "ChallengeStore",
    "Clock",
    "ConsumeResult",
    "ConsumeStatus",
    "challenge_key",
    "decode_nonce",
    "encode_nonce",
    "session_binding",
]
