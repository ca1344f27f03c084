"""Revocation sources of the service, built from the ``[revocation]`` configuration.

- ``crl_index``: a :class:`~jpki_sdk.verify.revocation.CrlIndex` directory (persisted, so a
  restart does not re-parse); ``crl_sources`` (files, directories, URLs) are ingested into it
  at start and, with ``crl_refresh_seconds``, again in the background; the index also picks up
  partitions that another process (``jpki crl ingest`` from cron) replaced on disk.
- ``ocsp``: the certificate's OCSP responder (or ``ocsp_url``), asked after the CRL index.

The policy asks them in that order under the configured mode.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from datetime import datetime
from pathlib import Path

from jpki_sdk.errors import ConfigurationError
from jpki_sdk.server.config import RevocationConfig
from jpki_sdk.verify import Clock, RevocationPolicy, RevocationSource, TrustStore
from jpki_sdk.verify.revocation import CrlIndex, CrlSource, OcspSource, ingest_sources

logger = logging.getLogger(__name__)

Freshness = Callable[[], Iterable[tuple[str, datetime, datetime]]]


class _Reingest:
    """Re-ingest the configured CRL sources every ``interval`` seconds (daemon thread)."""

    def __init__(self, index: CrlIndex, sources: tuple[str, ...], interval: float) -> None:
        self._index = index
        self._sources = sources
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="jpki-crl-refresh", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                outcomes = ingest_sources(self._index, self._sources)
            except Exception:
                logger.exception("CRL refresh failed")
                continue
            failed = [o for o in outcomes if not o.ok]
            for outcome in failed:
                assert outcome.error is not None
                logger.warning("CRL refresh: %s refused: %s", outcome.source, outcome.error.code)
            logger.info("CRL refresh: %d inputs, %d refused", len(outcomes), len(failed))

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


def _crl_index(
    config: RevocationConfig, trust: TrustStore, clock: Clock
) -> tuple[CrlIndex, list[Callable[[], None]]]:
    assert config.crl_index is not None
    try:
        index = CrlIndex(
            config.crl_index,
            trusted_roots=[anchor.certificate for anchor in trust],
            clock=clock,
        )
    except OSError as exc:
        raise ConfigurationError(
            f"revocation.crl_index {config.crl_index}: {exc.strerror or exc}"
        ) from None
    for path, error in index.load_errors:
        logger.warning("CRL index: %s not loaded: %s", path, error)
    closers: list[Callable[[], None]] = []
    if config.crl_sources:
        for spec in config.crl_sources:
            if "://" not in spec and not Path(spec).exists():
                raise ConfigurationError(f"revocation.crl_sources: {spec} does not exist")
        outcomes = ingest_sources(index, config.crl_sources)
        for outcome in outcomes:
            if outcome.ok:
                continue
            assert outcome.error is not None
            logger.warning(
                "CRL source %s refused: %s (%s)",
                outcome.source,
                outcome.error.code,
                outcome.error,
            )
        if config.crl_refresh_seconds:
            refresher = _Reingest(index, config.crl_sources, config.crl_refresh_seconds)
            closers.append(refresher.stop)
    logger.info("CRL index %s: %d partitions", config.crl_index, len(index))
    return index, closers


def build_revocation(
    config: RevocationConfig, trust: TrustStore, clock: Clock
) -> tuple[RevocationPolicy, Freshness | None, list[Callable[[], None]]]:
    """The policy, a CRL freshness reader for the metrics, and what to close at shutdown."""
    if config.mode == "off":
        logger.warning("revocation checking is OFF: revoked cards will be accepted")
        return RevocationPolicy.off(), None, []
    sources: list[RevocationSource] = []
    closers: list[Callable[[], None]] = []
    freshness: Freshness | None = None
    if config.crl_index is not None:
        index, index_closers = _crl_index(config, trust, clock)
        closers.extend(index_closers)
        sources.append(
            CrlSource(
                index,
                refresh_interval=config.crl_refresh_seconds or None,
            )
        )

        def crl_freshness() -> list[tuple[str, datetime, datetime]]:
            return [(p.label, p.this_update, p.next_update) for p in index.partitions()]

        freshness = crl_freshness
    if config.ocsp:
        sources.append(
            OcspSource(config.ocsp_url, timeout=config.ocsp_timeout_seconds, clock=clock)
        )
    return RevocationPolicy(config.mode, sources), freshness, closers


__all__ = ["build_revocation"]
