"""Redis challenge store: many hosts share one Redis (needs the ``redis`` extra, Redis >= 6.2).

Each challenge is two keys with the same expiry (TTL plus retention):

- ``<prefix>rec:<hex SHA-256(nonce)>``: the record (JSON, no nonce),
- ``<prefix>live:<hex SHA-256(nonce)>``: present while the challenge is unused.

Consuming is one atomic ``GETDEL`` of the live key, sent in a MULTI/EXEC block together with a
``GET`` of the record: exactly one of any number of concurrent consumers gets the live key
back, and every other one sees the record without it (already used). Neither key exists for a
nonce that was never issued or whose retention passed.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime, timedelta, timezone
from typing import Any

from jpki_sdk.auth.challenges import (
    DEFAULT_RETENTION,
    Challenge,
    ConsumeResult,
    ConsumeStatus,
    challenge_key,
)
from jpki_sdk.auth.errors import ChallengeStoreError
from jpki_sdk.auth.types import AuthPurpose
from jpki_sdk.errors import ConfigurationError

logger = logging.getLogger(__name__)

DEFAULT_PREFIX = "jpki:challenge:"


def _import_redis() -> Any:
    try:
        import redis
    except ImportError as exc:  # pragma: no cover - depends on the installed extras
        raise ConfigurationError(
            "the Redis challenge store needs the 'redis' extra: pip install 'jpki-sdk[redis]'"
        ) from exc
    return redis


class RedisChallengeStore:
    """Challenges in Redis. Pass a URL (``redis://host:6379/0``, ``rediss://...``) or a
    ready ``redis.Redis`` client."""

    def __init__(
        self,
        url_or_client: str | Any,
        *,
        prefix: str = DEFAULT_PREFIX,
        retention: timedelta = DEFAULT_RETENTION,
        socket_timeout: float = 5.0,
    ) -> None:
        if retention < timedelta(0):
            raise ValueError("retention must not be negative")
        redis = _import_redis()
        self._errors: tuple[type[BaseException], ...] = (redis.exceptions.RedisError, OSError)
        if isinstance(url_or_client, str):
            try:
                self._client = redis.Redis.from_url(
                    url_or_client,
                    socket_timeout=socket_timeout,
                    socket_connect_timeout=socket_timeout,
                )
            except ValueError as exc:
                raise ConfigurationError(f"invalid Redis URL: {exc}") from exc
            self._owns_client = True
            self._description = _redact_url(url_or_client)
        else:
            self._client = url_or_client
            self._owns_client = False
            self._description = "client"
        self.prefix = prefix
        self.retention = retention

    def _keys(self, key: bytes) -> tuple[str, str]:
        digest = key.hex()
        return f"{self.prefix}rec:{digest}", f"{self.prefix}live:{digest}"

    def put(self, challenge: Challenge) -> None:
        rec_key, live_key = self._keys(challenge.key)
        record = json.dumps(
            {
                "purpose": challenge.purpose.value,
                "origin": challenge.origin,
                "session": None
                if challenge.session_binding is None
                else challenge.session_binding.hex(),
                "issued_at": challenge.issued_at.timestamp(),
                "expires_at": challenge.expires_at.timestamp(),
            },
            separators=(",", ":"),
        )
        lifetime_ms = max(1, (challenge.ttl + self.retention) // timedelta(milliseconds=1))
        try:
            pipe = self._client.pipeline(transaction=True)
            pipe.set(rec_key, record, px=lifetime_ms, nx=True)
            pipe.set(live_key, b"1", px=lifetime_ms, nx=True)
            created = pipe.execute()
        except self._errors as exc:
            raise ChallengeStoreError(f"Redis challenge store write failed: {exc}") from exc
        if not all(created):
            raise ChallengeStoreError("a challenge with this nonce already exists")

    def consume(self, nonce: bytes) -> ConsumeResult:
        rec_key, live_key = self._keys(challenge_key(nonce))
        try:
            pipe = self._client.pipeline(transaction=True)
            pipe.getdel(live_key)
            pipe.get(rec_key)
            live, record = pipe.execute()
        except self._errors as exc:
            raise ChallengeStoreError(f"Redis challenge store consume failed: {exc}") from exc
        if record is None:
            # Both keys share one expiry; a live key without its record cannot be consumed.
            return ConsumeResult(ConsumeStatus.UNKNOWN)
        if live is None:
            return ConsumeResult(ConsumeStatus.ALREADY_USED)
        try:
            data = json.loads(record)
            session = data["session"]
            challenge = Challenge(
                nonce=bytes(nonce),
                purpose=AuthPurpose(data["purpose"]),
                origin=str(data["origin"]),
                issued_at=datetime.fromtimestamp(float(data["issued_at"]), timezone.utc),
                expires_at=datetime.fromtimestamp(float(data["expires_at"]), timezone.utc),
                session_binding=None if session is None else bytes.fromhex(session),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ChallengeStoreError(f"corrupt challenge record in Redis: {exc}") from exc
        return ConsumeResult(ConsumeStatus.CONSUMED, challenge)

    def purge(self, now: datetime) -> int:
        """Redis expires records by itself (TTL plus retention); nothing to do."""
        return 0

    def ping(self) -> None:
        try:
            self._client.ping()
        except self._errors as exc:
            raise ChallengeStoreError(f"Redis challenge store unreachable: {exc}") from exc

    def close(self) -> None:
        if self._owns_client:
            try:
                self._client.close()
            except self._errors as exc:
                logger.debug("closing the Redis client failed: %s", exc)

    def __repr__(self) -> str:
        return f"RedisChallengeStore({self._description})"


def _redact_url(url: str) -> str:
    """The URL without its password, for reprs and logs."""
    from urllib.parse import urlsplit, urlunsplit

    try:
        parts = urlsplit(url)
    except ValueError:
        return "<invalid url>"
    if parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    user = parts.username or ""
    return urlunsplit((parts.scheme, f"{user}:***@{host}", parts.path, parts.query, ""))
