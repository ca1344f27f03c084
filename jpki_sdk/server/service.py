"""The service's state: API keys, the verifier (trust, revocation, challenge store), metrics.

:meth:`Service.from_config` builds everything from a :class:`ServiceConfig`; tests and
embedders can also build a :class:`Service` directly (injecting a clock, a trust store or a
revocation policy).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timedelta, timezone
from typing import Any

from jpki_sdk import __version__
from jpki_sdk.auth.challenges import ChallengeStore
from jpki_sdk.auth.errors import ChallengeStoreError
from jpki_sdk.auth.stores import MemoryChallengeStore, SqliteChallengeStore
from jpki_sdk.auth.types import SignatureAlgorithm
from jpki_sdk.auth.verifier import AuthVerifier
from jpki_sdk.errors import ConfigurationError
from jpki_sdk.server.apikeys import ApiKey, ApiKeyring
from jpki_sdk.server.config import DEFAULT_MAX_BODY_BYTES, ChallengeConfig, ServiceConfig
from jpki_sdk.server.metrics import Registry
from jpki_sdk.verify import CertificateVerifier, Clock, RevocationPolicy, SystemClock, TrustStore

logger = logging.getLogger(__name__)

#: One freshness record per CRL partition: (partition label, thisUpdate, nextUpdate).
CrlFreshness = Callable[[], Iterable[tuple[str, datetime, datetime]]]


def open_challenge_store(config: ChallengeConfig) -> ChallengeStore:
    """The configured store; ConfigurationError when it cannot be opened."""
    try:
        if config.store == "memory":
            return MemoryChallengeStore(retention=config.retention)
        if config.store == "sqlite":
            return SqliteChallengeStore(config.sqlite_path, retention=config.retention)
        from jpki_sdk.auth.stores.redis_store import RedisChallengeStore

        assert config.redis_url is not None  # checked by load_config
        store = RedisChallengeStore(config.redis_url, retention=config.retention)
        store.ping()
        return store
    except ChallengeStoreError as exc:
        raise ConfigurationError(f"challenge store ({config.store}): {exc}") from exc


class Metrics:
    """The service's Prometheus metrics."""

    def __init__(self, crl_freshness: CrlFreshness | None, clock: Clock) -> None:
        self.registry = Registry()
        r = self.registry
        self.build_info = r.gauge("jpki_build_info", "jpki-sdk version.", ["version"])
        self.build_info.set(1, __version__)
        self.verifications = r.counter(
            "jpki_verifications_total",
            "Token verifications by purpose, result (ok/error) and reason (error code or ok).",
            ["purpose", "result", "reason"],
        )
        self.verification_seconds = r.histogram(
            "jpki_verification_duration_seconds",
            "Time to verify one token (all steps, including revocation and the challenge).",
            ["purpose"],
        )
        self.challenges = r.counter(
            "jpki_challenges_issued_total", "Challenges issued by purpose.", ["purpose"]
        )
        self.requests = r.counter(
            "jpki_http_requests_total",
            "HTTP requests by method, route and status.",
            ["method", "route", "status"],
        )
        self.request_seconds = r.histogram(
            "jpki_http_request_duration_seconds", "HTTP request latency by route.", ["route"]
        )

        def next_update() -> list[tuple[tuple[str, ...], float]]:
            if crl_freshness is None:
                return []
            return [((label,), nu.timestamp()) for label, _tu, nu in crl_freshness()]

        def age() -> list[tuple[tuple[str, ...], float]]:
            if crl_freshness is None:
                return []
            now = clock.now()
            return [((label,), (now - tu).total_seconds()) for label, tu, _nu in crl_freshness()]

        r.gauge(
            "jpki_crl_next_update_timestamp_seconds",
            "nextUpdate of each CRL partition in the index (Unix time).",
            ["partition"],
            collect=next_update,
        )
        r.gauge(
            "jpki_crl_age_seconds",
            "Seconds since thisUpdate of each CRL partition in the index.",
            ["partition"],
            collect=age,
        )


class Service:
    """Everything a request handler needs, shared by all requests of one process."""

    def __init__(
        self,
        *,
        keys: ApiKeyring | Sequence[ApiKey],
        certificates: CertificateVerifier,
        store: ChallengeStore,
        ttl: timedelta = timedelta(minutes=5),
        algorithms: Iterable[SignatureAlgorithm | str] = tuple(SignatureAlgorithm),
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
        crl_freshness: CrlFreshness | None = None,
        closers: Sequence[Callable[[], None]] = (),
    ) -> None:
        self.keys = keys if isinstance(keys, ApiKeyring) else ApiKeyring(keys)
        if not len(self.keys):
            raise ConfigurationError("the service needs at least one API key")
        self.certificates = certificates
        self.store = store
        self.clock = certificates.clock
        self.max_body_bytes = max_body_bytes
        self.revocation_mode = certificates.revocation.mode.value
        self.test_roots = certificates.trust.has_test_roots
        first_origin = self.keys.keys[0].origins[0]
        self._base = AuthVerifier(
            origin=first_origin,
            certificates=certificates,
            challenges=store,
            ttl=ttl,
            algorithms=tuple(algorithms),
        )
        self.ttl = ttl
        self._verifiers: dict[str, AuthVerifier] = {first_origin: self._base}
        self._lock = threading.Lock()
        self.metrics = Metrics(crl_freshness, self.clock)
        self._closers = list(closers)
        self.started_at = datetime.now(timezone.utc)

    @classmethod
    def from_config(
        cls,
        config: ServiceConfig,
        *,
        clock: Clock | None = None,
        trust: TrustStore | None = None,
        revocation: RevocationPolicy | None = None,
    ) -> Service:
        """Build the service; ConfigurationError for anything that cannot be set up."""
        clock = clock if clock is not None else SystemClock()
        if trust is None:
            trust = TrustStore.default()
            if config.test_roots:
                trust = trust.with_test_roots(list(config.test_roots))
                logger.warning(
                    "TEST roots are trusted (%s): never do this in production",
                    ", ".join(str(p) for p in config.test_roots),
                )
        crl_freshness: CrlFreshness | None = None
        closers: list[Callable[[], None]] = []
        if revocation is None:
            from jpki_sdk.server.revocation import build_revocation

            revocation, crl_freshness, closers = build_revocation(config.revocation, trust, clock)
        store = open_challenge_store(config.challenges)
        closers.append(store.close)
        service = cls(
            keys=config.api_keys,
            certificates=CertificateVerifier(trust, revocation=revocation, clock=clock),
            store=store,
            ttl=config.challenges.ttl,
            algorithms=config.algorithms,
            max_body_bytes=config.max_body_bytes,
            crl_freshness=crl_freshness,
            closers=closers,
        )
        logger.info("service configured", extra={"fields": config.describe()})
        return service

    def verifier_for(self, origin: str) -> AuthVerifier:
        """The verifier for one (canonical, allowed) origin; cached."""
        with self._lock:
            verifier = self._verifiers.get(origin)
            if verifier is None:
                verifier = self._base.for_origin(origin)
                self._verifiers[origin] = verifier
            return verifier

    def health(self) -> dict[str, Any]:
        """Store reachability and the settings a monitor wants to see."""
        try:
            self.store.ping()
            store_ok = True
        except ChallengeStoreError as exc:
            logger.warning("health check: challenge store unavailable: %s", exc)
            store_ok = False
        return {
            "status": "ok" if store_ok else "unavailable",
            "version": __version__,
            "challenge_store": "ok" if store_ok else "unavailable",
            "revocation_mode": self.revocation_mode,
            "test_roots_trusted": self.test_roots,
        }

    def close(self) -> None:
        for close in reversed(self._closers):
            try:
                close()
            except Exception:
                logger.warning("error while closing the service", exc_info=True)
        self._closers = []


__all__ = ["CrlFreshness", "Metrics", "Service", "open_challenge_store"]
