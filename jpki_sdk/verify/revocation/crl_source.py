"""The CRL revocation source and the loaders that feed the index (files, directories, URLs)."""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509

from jpki_sdk.verify.revocation._http import HttpFailureError, http_exchange
from jpki_sdk.verify.revocation.crl_index import CrlIndex, IngestReport
from jpki_sdk.verify.revocation.errors import CrlError, CrlFetchError
from jpki_sdk.verify.revocation.policy import RevocationFields
from jpki_sdk.verify.revocation.types import RevocationAnswer

__all__ = [
    "DEFAULT_MAX_CRL_BYTES",
    "DEFAULT_TIMEOUT",
    "CrlSource",
    "IngestOutcome",
    "fetch_url",
    "ingest_sources",
    "read_crl_inputs",
]

logger = logging.getLogger(__name__)

#: Upper bound for one CRL download or file (a 1,000,000-entry CRL is about 27 MB).
DEFAULT_MAX_CRL_BYTES = 256 * 1024 * 1024
#: Seconds allowed for one whole download (connect + all reads).
DEFAULT_TIMEOUT = 60.0

_CRL_SUFFIXES = (".crl", ".der", ".pem")


class CrlSource:
    """A :class:`~jpki_sdk.verify.revocation.RevocationSource` answering from a CRL index.

    Answers GOOD / REVOKED from the partition covering the certificate (its issuing key and
    DirName distribution point), UNKNOWN with ``detail`` "partition missing: ..." when no
    partition covers it and "stale: ..." when the partition is past nextUpdate + grace.

    ``refresh_interval`` (seconds) makes the source call :meth:`CrlIndex.refresh` at most that
    often, so a long-running service picks up partitions another process (``jpki crl ingest``
    from cron) replaced on disk.
    """

    def __init__(
        self, index: CrlIndex, *, name: str = "crl", refresh_interval: float | None = None
    ) -> None:
        if not isinstance(index, CrlIndex):
            raise TypeError("index must be a CrlIndex")
        if not name:
            raise ValueError("name must not be empty")
        if refresh_interval is not None and refresh_interval <= 0:
            raise ValueError("refresh_interval must be positive")
        self._index = index
        self._name = name
        self._interval = refresh_interval
        self._next_refresh = time.monotonic() + (refresh_interval or 0.0)
        self._refresh_lock = threading.Lock()

    @property
    def name(self) -> str:
        return self._name

    @property
    def index(self) -> CrlIndex:
        return self._index

    def __repr__(self) -> str:
        return f"CrlSource(name={self._name!r}, partitions={len(self._index)})"

    def check(
        self, cert: x509.Certificate, issuer: x509.Certificate, at: dt.datetime
    ) -> RevocationAnswer:
        if self._interval is not None and time.monotonic() >= self._next_refresh:
            self._maybe_refresh()
        return self._index.check(cert, issuer, at, source_name=self._name)

    def check_fields(
        self,
        cert: x509.Certificate,
        issuer: x509.Certificate,
        at: dt.datetime,
        fields: RevocationFields,
    ) -> RevocationAnswer:
        """:meth:`check` with ``cert``'s revocation fields already read by the caller (the
        verifier passes what it read from the DER it validated; see
        :class:`~jpki_sdk.verify.revocation.policy.RevocationFields`)."""
        if self._interval is not None and time.monotonic() >= self._next_refresh:
            self._maybe_refresh()
        return self._index.check_fields(cert, issuer, at, fields, source_name=self._name)

    def _maybe_refresh(self) -> None:
        if not self._refresh_lock.acquire(blocking=False):
            return  # another thread is refreshing; keep answering from the current snapshot
        try:
            assert self._interval is not None
            self._next_refresh = time.monotonic() + self._interval
            report = self._index.refresh()
            if report.loaded or report.removed:
                logger.info(
                    "CRL index refreshed: %d loaded, %d removed",
                    len(report.loaded),
                    len(report.removed),
                )
        finally:
            self._refresh_lock.release()


# ----------------------------------------------------------------------------- loaders


def fetch_url(
    url: str, *, max_bytes: int = DEFAULT_MAX_CRL_BYTES, timeout: float = DEFAULT_TIMEOUT
) -> bytes:
    """GET ``url`` (http/https only) within ``timeout`` seconds overall and ``max_bytes``."""
    try:
        response = http_exchange(
            url,
            headers={"Accept": "application/pkix-crl, application/x-pkcs7-crl, */*"},
            timeout=timeout,
            max_bytes=max_bytes,
        )
    except HttpFailureError as exc:
        raise CrlFetchError(f"download failed: {exc}", source=url) from None
    return response.body


def _read_file(path: Path, max_bytes: int) -> bytes:
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise CrlFetchError(
                f"file of {size} bytes exceeds the limit of {max_bytes}", source=str(path)
            )
        with open(path, "rb") as fh:
            data = fh.read(max_bytes + 1)
    except CrlFetchError:
        raise
    except OSError as exc:
        raise CrlFetchError(f"cannot read: {exc.strerror or exc}", source=str(path)) from None
    if len(data) > max_bytes:
        raise CrlFetchError(f"file exceeds the limit of {max_bytes} bytes", source=str(path))
    return data


def read_crl_inputs(
    spec: str | Path,
    *,
    max_bytes: int = DEFAULT_MAX_CRL_BYTES,
    timeout: float = DEFAULT_TIMEOUT,
) -> Iterator[tuple[str, bytes]]:
    """Yield ``(source, data)`` for a URL, a file, or every CRL-looking file in a directory.

    A directory is searched recursively (sorted; hidden entries skipped) for files ending in
    .crl/.der/.pem; PEM files holding no ``X509 CRL`` block (e.g. root certificates next to the
    CRLs, as in the simulator's export) are skipped.
    """
    text = str(spec)
    if text.lower().startswith(("http://", "https://")):
        yield text, fetch_url(text, max_bytes=max_bytes, timeout=timeout)
        return
    path = Path(text)
    if path.is_dir():
        for child in sorted(path.rglob("*")):
            rel = child.relative_to(path)
            if any(part.startswith(".") for part in rel.parts) or not child.is_file():
                continue
            if not child.name.lower().endswith(_CRL_SUFFIXES):
                logger.debug("skipping %s: not a CRL file name", child)
                continue
            data = _read_file(child, max_bytes)
            if data[:1] != b"\x30" and b"-----BEGIN X509 CRL-----" not in data:
                logger.debug("skipping %s: no CRL inside", child)
                continue
            yield str(child), data
        return
    if path.is_file():
        yield str(path), _read_file(path, max_bytes)
        return
    raise CrlFetchError("no such file, directory or URL", source=text)


@dataclass(frozen=True)
class IngestOutcome:
    """One input's result: the reports of its CRLs, or the error that stopped it."""

    source: str
    reports: tuple[IngestReport, ...] = ()
    error: CrlError | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "ok": self.ok,
            "error": None
            if self.error is None
            else {"code": self.error.code, "message": str(self.error)},
            "reports": [r.to_dict() for r in self.reports],
        }


def ingest_sources(
    index: CrlIndex,
    specs: Iterable[str | Path],
    *,
    allow_stale: bool = False,
    max_bytes: int = DEFAULT_MAX_CRL_BYTES,
    timeout: float = DEFAULT_TIMEOUT,
) -> list[IngestOutcome]:
    """Ingest every CRL reachable from ``specs``; one failure does not stop the others."""
    outcomes: list[IngestOutcome] = []
    for spec in specs:
        try:
            inputs = list(read_crl_inputs(spec, max_bytes=max_bytes, timeout=timeout))
        except CrlError as exc:
            outcomes.append(IngestOutcome(str(spec), error=exc))
            continue
        for source, data in inputs:
            try:
                reports = index.ingest(data, source=source, allow_stale=allow_stale)
            except CrlError as exc:
                logger.warning("CRL %s refused: %s (%s)", source, exc.code, exc)
                outcomes.append(IngestOutcome(source, error=exc))
            else:
                outcomes.append(IngestOutcome(source, tuple(reports)))
    return outcomes
