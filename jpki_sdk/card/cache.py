"""Certificate cache: fewer APDUs per tap for a card that stays in the reader.

Reading the 1.5 KB auth certificate costs 7 READ BINARY over short APDUs, half of a cold login.
The cache keeps the certificates read from a card so the next session on the same card skips
that read.

How a cached entry stays honest:

- Certificates are stored once, keyed by their content (SHA-256 of the DER) and findable by
  issuer + serial; never by the ATR, which is the same for every card of a model.
- A *slot* (one reader, or one simulated card) points at the certificates of the card now in
  it. The slot is emptied when the card leaves: on a ``removed`` event from a
  :class:`~jpki_sdk.card.discovery.CardEventMonitor`, when a session sees the card removed or
  reset, and whenever a session fails below the application.
- :meth:`JpkiCard.sign` checks every signature against the certificate; if the cached
  certificate does not match the signature (a different card in the slot), the session drops
  the slot, reads the certificate from the card and checks again. So a stale entry can cost
  APDUs but never yields a wrong answer from ``sign``.

Without an event monitor, a card swapped between two sessions is not noticed by
:meth:`JpkiCard.read_certificate` itself: run a monitor (kiosks) or do not pass a cache.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections import OrderedDict
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from jpki_sdk.card.certificates import CertKind

logger = logging.getLogger(__name__)

__all__ = ["CachedCertificate", "CertificateCache"]


@dataclass(frozen=True)
class CachedCertificate:
    """One certificate as held by the cache."""

    certificate: x509.Certificate
    fingerprint: str
    """SHA-256 of the DER, hex."""
    serial_number: int
    issuer_der: bytes


class CertificateCache:
    """Thread-safe, process-wide cache of card certificates. See the module docstring.

    ``max_slots`` bounds the number of readers remembered (least recently used dropped).
    """

    def __init__(self, *, max_slots: int = 64) -> None:
        if max_slots < 1:
            raise ValueError("max_slots must be at least 1")
        self._lock = threading.Lock()
        self._max_slots = max_slots
        self._by_fingerprint: dict[str, CachedCertificate] = {}
        self._slots: OrderedDict[str, dict[CertKind, str]] = OrderedDict()
        self.hits = 0
        self.misses = 0

    def get(self, slot: str, kind: CertKind) -> x509.Certificate | None:
        """The cached certificate of ``kind`` for the card in ``slot``, or None."""
        with self._lock:
            kinds = self._slots.get(slot)
            fingerprint = kinds.get(kind) if kinds else None
            if fingerprint is None:
                self.misses += 1
                return None
            self._slots.move_to_end(slot)
            self.hits += 1
            return self._by_fingerprint[fingerprint].certificate

    def put(self, slot: str, kind: CertKind, certificate: x509.Certificate) -> CachedCertificate:
        """Remember that the card in ``slot`` holds ``certificate`` as ``kind``."""
        der = certificate.public_bytes(serialization.Encoding.DER)
        fingerprint = hashlib.sha256(der).hexdigest()
        with self._lock:
            entry = self._by_fingerprint.get(fingerprint)
            if entry is None:
                entry = CachedCertificate(
                    certificate=certificate,
                    fingerprint=fingerprint,
                    serial_number=certificate.serial_number,
                    issuer_der=certificate.issuer.public_bytes(),
                )
                self._by_fingerprint[fingerprint] = entry
            kinds = self._slots.setdefault(slot, {})
            kinds[kind] = fingerprint
            self._slots.move_to_end(slot)
            while len(self._slots) > self._max_slots:
                dropped, _ = self._slots.popitem(last=False)
                logger.debug("certificate cache: dropped least recently used slot %s", dropped)
            self._collect()
            return entry

    def find_by_serial(self, issuer: x509.Name, serial_number: int) -> x509.Certificate | None:
        """A cached certificate with this issuer and serial number, if any."""
        issuer_der = issuer.public_bytes()
        with self._lock:
            for entry in self._by_fingerprint.values():
                if entry.serial_number == serial_number and entry.issuer_der == issuer_der:
                    return entry.certificate
        return None

    def invalidate(self, slot: str | None = None) -> None:
        """Forget the card in ``slot`` (the card left), or every slot when ``slot`` is None."""
        with self._lock:
            if slot is None:
                self._slots.clear()
            elif self._slots.pop(slot, None) is None:
                return
            self._collect()
        logger.debug("certificate cache: invalidated %s", slot or "all slots")

    def slots(self) -> list[str]:
        with self._lock:
            return list(self._slots)

    def __len__(self) -> int:
        """Number of distinct certificates held."""
        with self._lock:
            return len(self._by_fingerprint)

    def _collect(self) -> None:
        live = {fp for kinds in self._slots.values() for fp in kinds.values()}
        for fingerprint in list(self._by_fingerprint):
            if fingerprint not in live:
                del self._by_fingerprint[fingerprint]
