"""Finding a card: readers, opening a session, waiting for a card, card events for kiosks.

A JPKI card is recognised by a successful SELECT of the JPKI AID, never by its ATR (ATRs vary
by reader and interface, spec §1 and §3.9). PC/SC access goes through :mod:`apdu.pcsc`
(imported only when a reader is used, so a verification-only install needs no pyscard);
a simulator is either a state file (opened with :class:`simulator.card.SimulatedCard`) or a
transport object already in the process.
"""

from __future__ import annotations

import enum
import logging
import os
import queue
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType, TracebackType
from typing import TYPE_CHECKING

from apdu import ApduError, ApduTracer, Transport
from apdu import CardRemovedError as ApduCardRemovedError
from apdu import NoCardError as ApduNoCardError
from apdu import ReaderNotFoundError as ApduReaderNotFoundError
from apdu import ReaderUnavailableError as ApduReaderUnavailableError
from apdu.events import CardEvent, CardEventKind
from jpki_sdk.card.cache import CertificateCache
from jpki_sdk.card.errors import (
    CardProtocolError,
    CardRemovedError,
    CardWaitTimeoutError,
    NoCardError,
    NoReaderError,
    NotJpkiCardError,
    ReaderUnavailableError,
)
from jpki_sdk.card.pins import Application
from jpki_sdk.card.session import JpkiCard, ProgressCallback
from jpki_sdk.card.tokeninfo import TokenType
from jpki_sdk.errors import ConfigurationError, JpkiError

if TYPE_CHECKING:
    from apdu.pcsc import PcscTransport

logger = logging.getLogger(__name__)

__all__ = [
    "CardEvent",
    "CardEventKind",
    "CardEventMonitor",
    "CardPresence",
    "ReaderStatus",
    "list_readers",
    "open_card",
    "pcsc_slot",
    "wait_for_card",
]

SimulatorSource = str | os.PathLike[str] | Transport


def _pcsc() -> ModuleType:
    try:
        import apdu.pcsc as pcsc_module
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise ConfigurationError(
            "PC/SC readers need pyscard: install the 'pcsc' extra (pip install 'jpki-sdk[pcsc]')"
        ) from exc
    return pcsc_module


def pcsc_slot(reader: str) -> str:
    """The certificate-cache slot name of a PC/SC reader."""
    return f"pcsc:{reader}"


def _translate(exc: ApduError, doing: str, reader: str | None = None) -> JpkiError:
    code = getattr(exc, "pcsc_code", None)
    if isinstance(exc, ApduReaderNotFoundError):
        return NoReaderError(f"{doing}: {exc}", pcsc_code=code, reader=reader)
    if isinstance(exc, ApduNoCardError):
        return NoCardError(f"{doing}: {exc}", reader=reader)
    if isinstance(exc, ApduReaderUnavailableError):
        return ReaderUnavailableError(f"{doing}: {exc}", pcsc_code=code, reader=reader)
    if isinstance(exc, ApduCardRemovedError):
        return CardRemovedError(f"{doing}: {exc}", operation=doing)
    return CardProtocolError(f"{doing}: {exc}")


# ------------------------------------------------------------------------------------ readers


class CardPresence(str, enum.Enum):
    """What :func:`list_readers` found in a reader."""

    EMPTY = "empty"
    JPKI = "jpki"
    """A card (or phone) answering the JPKI AID."""
    OTHER = "other"
    """A card without the JPKI application."""
    IN_USE = "in-use"
    """A card held exclusively by another program (not probed)."""
    UNKNOWN = "unknown"
    """A card, not probed (``probe=False``) or unreadable."""


@dataclass(frozen=True)
class ReaderStatus:
    """One reader: card present, ATR (informative only), and what the probe found."""

    name: str
    card_present: bool
    atr: bytes | None
    presence: CardPresence
    token_type: TokenType | None = None


def list_readers(*, probe: bool = False) -> list[ReaderStatus]:
    """The PC/SC readers. With ``probe=True`` each card present is identified (SELECT of the
    JPKI AID and its token info, over an exclusive connection left as it was); a card held by
    another program is reported ``in-use`` and not touched."""
    pcsc = _pcsc()
    try:
        infos = pcsc.list_readers()
    except ApduError as exc:
        raise _translate(exc, "listing the PC/SC readers") from exc
    out: list[ReaderStatus] = []
    for info in infos:
        if not info.card_present:
            out.append(ReaderStatus(info.name, False, None, CardPresence.EMPTY))
            continue
        if not probe:
            out.append(ReaderStatus(info.name, True, info.atr, CardPresence.UNKNOWN))
            continue
        out.append(_probe(pcsc, info.name, info.atr))
    return out


def _probe(pcsc: ModuleType, name: str, atr: bytes | None) -> ReaderStatus:
    try:
        transport = pcsc.PcscTransport.connect(name, exclusive=True)
    except ApduReaderUnavailableError:
        return ReaderStatus(name, True, atr, CardPresence.IN_USE)
    except ApduError as exc:
        logger.debug("probing %r: %s", name, exc)
        return ReaderStatus(name, True, atr, CardPresence.UNKNOWN)
    card = JpkiCard(transport, slot=pcsc_slot(name), close_transport=False)
    try:
        card.select(Application.JPKI)
        token = card.token_info().token_type
        return ReaderStatus(name, True, atr, CardPresence.JPKI, token)
    except NotJpkiCardError:
        return ReaderStatus(name, True, atr, CardPresence.OTHER)
    except JpkiError as exc:
        logger.debug("probing %r: %s", name, exc)
        return ReaderStatus(name, True, atr, CardPresence.UNKNOWN)
    finally:
        card.close()
        transport.close(disposition="leave")


# -------------------------------------------------------------------------------- opening


def open_card(
    reader: str | None = None,
    simulator: SimulatorSource | None = None,
    *,
    cache: CertificateCache | None = None,
    tracer: ApduTracer | None = None,
    progress: ProgressCallback | None = None,
    exclusive: bool = True,
) -> JpkiCard:
    """Open a session with a JPKI card.

    - ``simulator``: a state file path (opened with the simulator; every PIN counter change is
      persisted) or a transport object (an in-process :class:`simulator.card.SimulatedCard`).
    - ``reader``: a PC/SC reader name (or unique prefix).
    - neither: the first PC/SC reader whose card answers the JPKI AID.

    The JPKI application is selected before returning (it is how the card is recognised, and
    the next operation does not select it again). Raises :class:`NoReaderError`,
    :class:`NoCardError`, :class:`NotJpkiCardError`, :class:`ReaderUnavailableError`.
    """
    if reader is not None and simulator is not None:
        raise ValueError("give a reader or a simulator, not both")
    if simulator is not None:
        transport, slot = _simulator_transport(simulator)
        return _start(JpkiCard(transport, slot=slot, cache=cache, tracer=tracer, progress=progress))
    pcsc = _pcsc()
    if reader is not None:
        try:
            pt = pcsc.PcscTransport.connect(reader, exclusive=exclusive)
        except ApduError as exc:
            raise _translate(exc, f"opening reader {reader!r}", reader) from exc
        return _start(
            JpkiCard(pt, slot=pcsc_slot(pt.reader), cache=cache, tracer=tracer, progress=progress)
        )
    return _open_first(pcsc, exclusive=exclusive, cache=cache, tracer=tracer, progress=progress)


def _simulator_transport(simulator: SimulatorSource) -> tuple[Transport, str]:
    if isinstance(simulator, (str, os.PathLike)):
        path = Path(simulator)
        from simulator.card import SimulatedCard
        from simulator.state import StateFileError

        if not path.exists():
            raise NoCardError(f"no simulator state file at {path}")
        try:
            card = SimulatedCard.open(path)
        except (StateFileError, OSError, ValueError) as exc:
            raise ConfigurationError(f"cannot open simulator state {path}: {exc}") from exc
        return card, f"sim:{path.resolve()}"
    if isinstance(simulator, Transport):
        state_path = getattr(simulator, "path", None)
        if isinstance(state_path, Path):
            return simulator, f"sim:{state_path.resolve()}"
        return simulator, f"sim:{id(simulator):x}"
    raise TypeError(f"simulator must be a path or a Transport, not {type(simulator).__name__}")


def _start(card: JpkiCard) -> JpkiCard:
    try:
        card.select(Application.JPKI)
    except BaseException:
        card.close()
        raise
    return card


def _open_first(
    pcsc: ModuleType,
    *,
    exclusive: bool,
    cache: CertificateCache | None,
    tracer: ApduTracer | None,
    progress: ProgressCallback | None,
) -> JpkiCard:
    try:
        infos = pcsc.list_readers()
    except ApduError as exc:
        raise _translate(exc, "listing the PC/SC readers") from exc
    if not infos:
        raise NoReaderError("no PC/SC reader is connected")
    candidates = [info.name for info in infos if info.card_present]
    if not candidates:
        raise NoCardError("no card in any reader (" + ", ".join(repr(i.name) for i in infos) + ")")
    reasons: list[str] = []
    busy = 0
    for name in candidates:
        try:
            pt: PcscTransport = pcsc.PcscTransport.connect(name, exclusive=exclusive)
        except ApduReaderUnavailableError:
            busy += 1
            reasons.append(f"{name!r}: in use by another program")
            continue
        except ApduError as exc:
            reasons.append(f"{name!r}: {type(exc).__name__}")
            continue
        card = JpkiCard(
            pt,
            slot=pcsc_slot(pt.reader),
            cache=cache,
            tracer=tracer,
            progress=progress,
            close_transport=False,
        )
        try:
            card.select(Application.JPKI)
        except NotJpkiCardError:
            reasons.append(f"{name!r}: not a JPKI card")
            card.close()
            pt.close(disposition="leave")
            continue
        except JpkiError as exc:
            reasons.append(f"{name!r}: {type(exc).__name__}")
            card.close()
            pt.close(disposition="leave")
            continue
        card.close_transport = True
        logger.info("JPKI card found in %r", name)
        return card
    detail = "; ".join(reasons)
    if busy == len(candidates):
        raise ReaderUnavailableError(f"every card is in use by another program ({detail})")
    raise NotJpkiCardError(f"no JPKI card found ({detail})")


def wait_for_card(
    reader: str | None = None,
    *,
    timeout: float | None = None,
    cache: CertificateCache | None = None,
    tracer: ApduTracer | None = None,
    progress: ProgressCallback | None = None,
    new_only: bool = False,
) -> JpkiCard:
    """Wait until a JPKI card is in ``reader`` (or any reader) and open a session on it.

    A card already present counts unless ``new_only``. Cards that are not JPKI cards (or that
    leave again at once) are skipped and the wait goes on. Raises
    :class:`CardWaitTimeoutError` after ``timeout`` seconds (None waits forever).
    """
    if timeout is not None and timeout < 0:
        raise ValueError("timeout must be >= 0 or None")
    pcsc = _pcsc()
    deadline = None if timeout is None else time.monotonic() + timeout
    try:
        name = None if reader is None else _resolve_reader_name(pcsc, reader)
        watcher = pcsc.CardWatcher(readers=None if name is None else [name], watch_readers=False)
        watcher.start()
    except ApduError as exc:
        raise _translate(exc, "waiting for a card", reader) from exc
    try:
        skip = set(watcher.initial_events) if new_only else set()
        tried: set[tuple[str, bytes | None]] = set()  # cards that were looked at and refused
        while True:
            remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
            event = watcher.get(
                _RESYNC_INTERVAL if remaining is None else min(remaining, _RESYNC_INTERVAL)
            )
            if event is None:
                if deadline is not None and time.monotonic() >= deadline:
                    where = repr(name) if name is not None else "any reader"
                    raise CardWaitTimeoutError(
                        f"no JPKI card in {where} within {timeout} s", reader=name
                    )
                event = _missed_insertion(pcsc, name, skip, tried)
                if event is None:
                    continue
            if event.kind is CardEventKind.REMOVED:
                skip = {e for e in skip if e.reader != event.reader}
                tried = {t for t in tried if t[0] != event.reader}
                continue
            if event.kind is not CardEventKind.INSERTED or event in skip:
                continue
            try:
                return open_card(event.reader, cache=cache, tracer=tracer, progress=progress)
            except NotJpkiCardError:
                tried.add((event.reader, event.atr))
                logger.info("card in %r is not a JPKI card; still waiting", event.reader)
            except (NoCardError, CardRemovedError, ReaderUnavailableError) as exc:
                logger.info(
                    "card in %r not usable (%s); still waiting", event.reader, type(exc).__name__
                )
    finally:
        watcher.stop()


#: How long wait_for_card trusts the monitor's silence before it looks at the readers itself.
_RESYNC_INTERVAL = 1.0


def _missed_insertion(
    pcsc: ModuleType,
    name: str | None,
    skip: set[CardEvent],
    tried: set[tuple[str, bytes | None]],
) -> CardEvent | None:
    """A card present now that no event announced, as an INSERTED event; else None.

    The events come from pyscard's monitors; this is only a safety net for a change a monitor
    dropped (seen once in a full test run, when monitors of earlier sessions had been stopped
    and restarted): a kiosk must not leave a citizen waiting with the card on the reader.
    Cards already refused (not JPKI) and cards present at the start of a ``new_only`` wait are
    not reported again until their reader empties.
    """
    try:
        readers = pcsc.list_readers()
    except ApduError:
        return None
    for info in readers:
        if name is not None and info.name != name:
            continue
        if not info.card_present:
            tried.difference_update({t for t in tried if t[0] == info.name})
            skip.difference_update({e for e in skip if e.reader == info.name})
            continue
        event = CardEvent(CardEventKind.INSERTED, info.name, info.atr or b"")
        if event in skip or (info.name, event.atr) in tried:
            continue
        logger.info("card in %r found by a reader check (no event from the monitor)", info.name)
        return event
    return None


def _resolve_reader_name(pcsc: ModuleType, reader: str) -> str:
    """``reader`` if it is a reader's name, else the one reader whose name starts with it."""
    names: list[str] = [str(info.name) for info in pcsc.list_readers()]
    if reader in names:
        return reader
    prefixed = [n for n in names if reader and n.startswith(reader)]
    if len(prefixed) == 1:
        return prefixed[0]
    detail = "matches several readers" if prefixed else "is not a reader"
    raise NoReaderError(
        f"{reader!r} {detail} (readers: {', '.join(map(repr, names)) or 'none'})", reader=reader
    )


# ---------------------------------------------------------------------------------- events


class CardEventMonitor:
    """Card events for a kiosk, with the certificate cache kept honest.

    Wraps :class:`apdu.pcsc.CardWatcher`: every ``removed`` / ``reader_removed`` event first
    empties that reader's cache slot (so the next card never gets the previous card's
    certificates), then reaches ``callback`` (called on a pyscard thread: keep it short) or
    the queue read with :meth:`get`.
    """

    def __init__(
        self,
        callback: Callable[[CardEvent], None] | None = None,
        *,
        readers: Iterable[str] | None = None,
        cache: CertificateCache | None = None,
        watch_readers: bool = True,
    ) -> None:
        self._callback = callback
        self._cache = cache
        self._queue: queue.Queue[CardEvent] = queue.Queue()
        self._readers = list(readers) if readers is not None else None
        self._watch_readers = watch_readers
        self._watcher: object | None = None
        self._lock = threading.Lock()

    def start(self) -> CardEventMonitor:
        pcsc = _pcsc()
        with self._lock:
            if self._watcher is not None:
                raise RuntimeError("CardEventMonitor already started")
            watcher = pcsc.CardWatcher(
                self._on_event, readers=self._readers, watch_readers=self._watch_readers
            )
            try:
                watcher.start()
            except ApduError as exc:
                raise _translate(exc, "starting the card monitor") from exc
            self._watcher = watcher
        return self

    def stop(self) -> None:
        with self._lock:
            watcher, self._watcher = self._watcher, None
        if watcher is not None:
            watcher.stop()  # type: ignore[attr-defined]

    def __enter__(self) -> CardEventMonitor:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def get(self, timeout: float | None = None) -> CardEvent | None:
        """The next event (when no callback was given), or None after ``timeout`` seconds."""
        try:
            return self._queue.get(timeout=timeout)
        except queue.Empty:
            return None

    def _on_event(self, event: CardEvent) -> None:
        self.handle(event)

    def handle(self, event: CardEvent) -> None:
        """Process one event (what the watcher calls; also for tests and custom sources)."""
        if self._cache is not None and event.kind in (
            CardEventKind.REMOVED,
            CardEventKind.READER_REMOVED,
            CardEventKind.INSERTED,
        ):
            # Inserted too: a removal missed while the monitor was not running must not leave
            # the previous card's certificates in the slot.
            self._cache.invalidate(pcsc_slot(event.reader))
        if self._callback is None:
            self._queue.put(event)
            return
        try:
            self._callback(event)
        except Exception:
            logger.exception("card event callback failed on %s", event.kind.value)
