"""PC/SC readers through pyscard: the only module of the project that imports ``smartcard``.

- :func:`list_readers` -> :class:`ReaderInfo` per reader (name, card present, ATR).
- :class:`PcscTransport` -> a :class:`apdu.Transport` over one card: exclusive by default while
  open, T=0 or T=1 as the card offers, ``close()`` resets the card by default so a verified PIN
  does not outlive the session.
- :class:`CardWatcher` -> card and reader events (:class:`CardEvent`) from pyscard's
  ``CardMonitor`` (driven by ``SCardGetStatusChange``) and ``ReaderMonitor``, through a callback
  or a queue; :func:`wait_for_card` is built on it.

Every PC/SC failure becomes an :class:`apdu.TransportError` subclass with the PC/SC code kept
in ``pcsc_code``:

=============================  ==================================================
:class:`ReaderNotFoundError`   no reader at all, or no reader of the given name
:class:`NoCardError`           the reader is empty (or its card is mute/unpowered)
:class:`CardRemovedError`      the card was removed or reset during the session
:class:`ReaderUnavailableError`  pcscd not running, reader gone or held elsewhere
=============================  ==================================================

Nothing here logs APDU contents (a command may carry a PIN): use :class:`apdu.ApduTracer`.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
import time
import weakref
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Final, Literal

from smartcard import scard
from smartcard.CardMonitoring import CardMonitor, CardMonitoringThread, CardObserver
from smartcard.ReaderMonitoring import ReaderMonitor, ReaderObserver

from apdu.codec import MAX_EXTENDED_LC, MAX_EXTENDED_LE, MAX_SHORT_LC, MAX_SHORT_LE
from apdu.errors import (
    ApduFormatError,
    CardRemovedError,
    NoCardError,
    ReaderNotFoundError,
    ReaderUnavailableError,
    TransportError,
)
from apdu.events import CardEvent, CardEventKind

__all__ = [
    "CardEvent",
    "CardEventKind",
    "CardWatcher",
    "Disposition",
    "PcscTransport",
    "ReaderInfo",
    "list_readers",
    "wait_for_card",
]

logger = logging.getLogger(__name__)

Disposition = Literal["leave", "reset", "unpower"]

_DISPOSITIONS: Final[dict[str, int]] = {
    "leave": scard.SCARD_LEAVE_CARD,
    "reset": scard.SCARD_RESET_CARD,
    "unpower": scard.SCARD_UNPOWER_CARD,
}
_PROTOCOLS: Final[dict[str, int]] = {
    "any": scard.SCARD_PROTOCOL_T0 | scard.SCARD_PROTOCOL_T1,
    "T=0": scard.SCARD_PROTOCOL_T0,
    "T=1": scard.SCARD_PROTOCOL_T1,
}

#: The longest short command APDU: header, Lc, 255 data bytes, Le.
_SHORT_APDU_MAX: Final = 4 + 1 + MAX_SHORT_LC + 1
#: The longest extended command APDU: header, 3-byte Lc, 65535 data bytes, 2-byte Le.
_EXTENDED_APDU_MAX: Final = 4 + 3 + MAX_EXTENDED_LC + 2


def _code(hresult: int) -> int:
    return int(hresult) & 0xFFFFFFFF


_S_SUCCESS: Final = _code(scard.SCARD_S_SUCCESS)
_E_TIMEOUT: Final = _code(scard.SCARD_E_TIMEOUT)
_E_NO_READERS: Final = _code(scard.SCARD_E_NO_READERS_AVAILABLE)

# Which transport error a PC/SC code means. "Session" codes are read differently once a card
# is connected: a missing card then means it was removed, not that there never was one.
_UNAVAILABLE: Final = frozenset(
    _code(c)
    for c in (
        scard.SCARD_E_NO_SERVICE,
        scard.SCARD_E_SERVICE_STOPPED,
        scard.SCARD_E_READER_UNAVAILABLE,
        scard.SCARD_E_SHARING_VIOLATION,
        scard.SCARD_E_SERVER_TOO_BUSY,
        scard.SCARD_F_COMM_ERROR,
        scard.SCARD_E_NO_ACCESS,
    )
)
_NOT_FOUND: Final = frozenset(
    _code(c)
    for c in (
        scard.SCARD_E_UNKNOWN_READER,
        scard.SCARD_E_NO_READERS_AVAILABLE,
        scard.SCARD_E_READER_UNSUPPORTED,
    )
)
_NO_CARD: Final = frozenset(
    _code(c)
    for c in (
        scard.SCARD_E_NO_SMARTCARD,
        scard.SCARD_W_REMOVED_CARD,
        scard.SCARD_W_UNPOWERED_CARD,
        scard.SCARD_W_UNRESPONSIVE_CARD,
        scard.SCARD_W_UNSUPPORTED_CARD,
        scard.SCARD_E_CARD_UNSUPPORTED,
        scard.SCARD_E_PROTO_MISMATCH,
    )
)
_GONE_IN_SESSION: Final = frozenset(
    _code(c)
    for c in (
        scard.SCARD_E_NO_SMARTCARD,
        scard.SCARD_W_REMOVED_CARD,
        scard.SCARD_W_RESET_CARD,
        scard.SCARD_W_UNPOWERED_CARD,
    )
)
# The reader reported a failed exchange; whether the card left is found out afterwards.
_LINK_FAILED: Final = frozenset(
    _code(c)
    for c in (
        scard.SCARD_E_NOT_TRANSACTED,
        scard.SCARD_F_UNKNOWN_ERROR,
        scard.SCARD_W_UNRESPONSIVE_CARD,
    )
)


def _message(hresult: int) -> str:
    try:
        text = str(scard.SCardGetErrorMessage(hresult)).strip().rstrip(".")
    except Exception:  # pragma: no cover - pyscard always has a message
        text = ""
    return text or "PC/SC error"


def pcsc_error(hresult: int, doing: str, *, in_session: bool = False) -> TransportError:
    """The :class:`TransportError` subclass for a PC/SC result code (``pcsc_code`` kept).

    ``doing`` says what failed ("connecting to 'X'"); ``in_session`` is true once a card is
    connected, where a missing card means a removed one.
    """
    code = _code(hresult)
    text = f"{doing}: {_message(hresult)}"
    cls: type[TransportError]
    if in_session and code in _GONE_IN_SESSION:
        cls = CardRemovedError
    elif code in _UNAVAILABLE or (in_session and code in _NOT_FOUND):
        cls = ReaderUnavailableError
    elif code in _NOT_FOUND:
        cls = ReaderNotFoundError
    elif code in _NO_CARD:
        cls = NoCardError
    else:
        cls = TransportError
    return cls(text, pcsc_code=code)


# -- contexts and reader states ----------------------------------------------------------------


def _establish() -> Any:
    hresult, context = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
    if _code(hresult) != _S_SUCCESS:
        raise pcsc_error(hresult, "cannot reach the PC/SC service (is pcscd running?)")
    return context


def _release(context: Any) -> None:
    hresult = scard.SCardReleaseContext(context)
    if _code(hresult) != _S_SUCCESS:
        logger.debug("SCardReleaseContext: %s", _message(hresult))


def _reader_names(context: Any) -> list[str]:
    hresult, names = scard.SCardListReaders(context, [])
    code = _code(hresult)
    if code == _E_NO_READERS:
        return []
    if code != _S_SUCCESS:
        raise pcsc_error(hresult, "cannot list PC/SC readers")
    return [str(name) for name in names]


@dataclass(frozen=True)
class ReaderInfo:
    """One PC/SC reader as pcscd sees it now. ``atr`` is None when no card is present."""

    name: str
    card_present: bool
    atr: bytes | None = None

    def __str__(self) -> str:
        if not self.card_present:
            return f"{self.name}: no card"
        return f"{self.name}: card {self.atr.hex(' ').upper() if self.atr else '(no ATR)'}"


def _states(context: Any, names: list[str]) -> list[tuple[str, int, bytes]]:
    if not names:
        return []
    hresult, states = scard.SCardGetStatusChange(
        context, 0, [(name, scard.SCARD_STATE_UNAWARE) for name in names]
    )
    if _code(hresult) not in (_S_SUCCESS, _E_TIMEOUT):
        raise pcsc_error(hresult, "cannot read the state of the PC/SC readers")
    return [(str(name), int(state), bytes(atr)) for name, state, atr in states]


def _info(name: str, state: int, atr: bytes) -> ReaderInfo:
    present = bool(state & scard.SCARD_STATE_PRESENT) and not state & scard.SCARD_STATE_MUTE
    return ReaderInfo(name, present, atr if present and atr else None)


def list_readers() -> list[ReaderInfo]:
    """Every reader pcscd knows, in its order, with whether a (responsive) card is in it.

    No readers gives an empty list; pcscd not running raises :class:`ReaderUnavailableError`.
    """
    context = _establish()
    try:
        return [_info(*state) for state in _states(context, _reader_names(context))]
    finally:
        _release(context)


def _resolve_reader(context: Any, reader: str | None) -> str:
    names = _reader_names(context)
    if not names:
        raise ReaderNotFoundError("no PC/SC reader found", pcsc_code=_E_NO_READERS)
    if reader is None:
        for name, state, atr in _states(context, names):
            if _info(name, state, atr).card_present:
                return name
        raise NoCardError(
            f"no card in any reader ({', '.join(repr(n) for n in names)})",
            pcsc_code=_code(scard.SCARD_E_NO_SMARTCARD),
        )
    return _match_reader(names, reader)


def _match_reader(names: list[str], reader: str) -> str:
    """``reader`` if it is a reader's name, else the one reader whose name starts with it."""
    if reader in names:
        return reader
    prefixed = [name for name in names if name.startswith(reader)] if reader else []
    if len(prefixed) == 1:
        return prefixed[0]
    available = ", ".join(repr(n) for n in names) or "none"
    detail = "matches several readers" if prefixed else "is not a reader"
    raise ReaderNotFoundError(
        f"{reader!r} {detail} (readers: {available})",
        pcsc_code=_code(scard.SCARD_E_UNKNOWN_READER),
    )


# -- the transport ---------------------------------------------------------------------------


def _finalize(context: Any, handle: Any) -> None:
    """Last resort for a transport dropped without close(): reset and release."""
    with contextlib.suppress(Exception):  # interpreter shutdown: pyscard may be half gone
        scard.SCardDisconnect(handle, scard.SCARD_RESET_CARD)
        scard.SCardReleaseContext(context)


class PcscTransport:
    """A connection to the card in one PC/SC reader; implements :class:`apdu.Transport`.

    Create with :meth:`connect`. Link limits:

    - by default from the reader (``SCARD_ATTR_MAXINPUT``, which CCID readers report): more
      than a short APDU means the reader carries extended APDUs;
    - a reader that does not say (vpcd, some drivers) is taken as short-APDU only, which every
      card and reader handle (the exchange layer chains commands and uses GET RESPONSE);
    - ``extended_length``, ``max_command_data`` and ``max_response_data`` given to
      :meth:`connect` override the detection.

    Thread-safe: transmit and close are serialized.
    """

    def __init__(
        self,
        *,
        context: Any,
        handle: Any,
        reader: str,
        protocol: int,
        atr: bytes,
        exclusive: bool,
        extended_length: bool,
        max_command_data: int,
        max_response_data: int,
        removal_grace: float,
    ) -> None:
        # Private: use PcscTransport.connect().
        self._context = context
        self._handle = handle
        self._reader = reader
        self._protocol = protocol
        self._pci = {
            scard.SCARD_PROTOCOL_T0: scard.SCARD_PCI_T0,
            scard.SCARD_PROTOCOL_T1: scard.SCARD_PCI_T1,
        }.get(protocol, scard.SCARD_PCI_RAW)
        self._atr = atr
        self._exclusive = exclusive
        self._extended_length = extended_length
        self._max_command_data = max_command_data
        self._max_response_data = max_response_data
        self._removal_grace = removal_grace
        self._lock = threading.RLock()
        self._closed = False
        self._finalizer = weakref.finalize(self, _finalize, context, handle)

    @classmethod
    def connect(
        cls,
        reader: str | None = None,
        *,
        exclusive: bool = True,
        protocol: Literal["any", "T=0", "T=1"] = "any",
        extended_length: bool | None = None,
        max_command_data: int | None = None,
        max_response_data: int | None = None,
        removal_grace: float = 1.0,
    ) -> PcscTransport:
        """Connect to the card in ``reader`` (exact name, or a unique prefix of one).

        ``reader=None`` takes the first reader that holds a card. ``exclusive`` keeps other
        applications off the card while this transport is open (``SCARD_SHARE_EXCLUSIVE``).
        ``removal_grace`` is how long a failed exchange waits for the reader to report the
        card gone (to raise :class:`CardRemovedError` rather than a bare TransportError).
        """
        if protocol not in _PROTOCOLS:
            raise ValueError(f"protocol must be one of {sorted(_PROTOCOLS)}, not {protocol!r}")
        if max_command_data is not None and not 1 <= max_command_data <= MAX_EXTENDED_LC:
            raise ValueError(f"max_command_data must be 1..{MAX_EXTENDED_LC}")
        if max_response_data is not None and not 1 <= max_response_data <= MAX_EXTENDED_LE:
            raise ValueError(f"max_response_data must be 1..{MAX_EXTENDED_LE}")
        if removal_grace < 0:
            raise ValueError("removal_grace must be >= 0")
        context = _establish()
        try:
            name = _resolve_reader(context, reader)
            share = scard.SCARD_SHARE_EXCLUSIVE if exclusive else scard.SCARD_SHARE_SHARED
            hresult, handle, active = scard.SCardConnect(context, name, share, _PROTOCOLS[protocol])
            if _code(hresult) != _S_SUCCESS:
                raise pcsc_error(hresult, f"cannot connect to the card in {name!r}")
            try:
                atr = _status_atr(handle, name)
                reader_limit = _max_input(handle)
            except BaseException:
                scard.SCardDisconnect(handle, scard.SCARD_LEAVE_CARD)
                raise
        except BaseException:
            _release(context)
            raise
        ext, max_cmd, max_rsp = _limits(
            reader_limit, extended_length, max_command_data, max_response_data
        )
        logger.info(
            "connected to %r (%s, %s, %s APDUs)",
            name,
            {scard.SCARD_PROTOCOL_T0: "T=0", scard.SCARD_PROTOCOL_T1: "T=1"}.get(active, "raw"),
            "exclusive" if exclusive else "shared",
            "extended" if ext else "short",
        )
        return cls(
            context=context,
            handle=handle,
            reader=name,
            protocol=int(active),
            atr=atr,
            exclusive=exclusive,
            extended_length=ext,
            max_command_data=max_cmd,
            max_response_data=max_rsp,
            removal_grace=removal_grace,
        )

    # -- Transport protocol ----------------------------------------------------------------

    @property
    def extended_length(self) -> bool:
        return self._extended_length

    @property
    def max_command_data(self) -> int:
        return self._max_command_data

    @property
    def max_response_data(self) -> int:
        return self._max_response_data

    def transmit(self, command: bytes) -> bytes:
        """Send one raw command APDU; return response data followed by SW1 SW2."""
        if not isinstance(command, bytes | bytearray | memoryview):
            raise TypeError(f"command must be bytes, not {type(command).__name__}")
        if not 4 <= len(command) <= _EXTENDED_APDU_MAX:
            raise ApduFormatError(
                f"a command APDU has 4..{_EXTENDED_APDU_MAX} bytes, not {len(command)}"
            )
        with self._lock:
            if self._closed:
                raise TransportError(f"the connection to {self._reader!r} is closed")
            hresult, response = scard.SCardTransmit(self._handle, self._pci, list(command))
            if _code(hresult) != _S_SUCCESS:
                raise self._transmit_error(hresult)
            if len(response) < 2:
                # Some drivers (vpcd among them) report a card lost mid-command as success
                # with an empty answer.
                doing = f"exchange with the card in {self._reader!r} failed"
                if self._card_left():
                    raise CardRemovedError(f"{doing}: the card was removed")
                raise TransportError(f"{doing}: {len(response)}-byte answer, no status word")
        return bytes(response)

    def close(self, disposition: Disposition = "reset") -> None:
        """Disconnect: ``"reset"`` (default: clears the card's security state, so a verified
        PIN does not linger), ``"unpower"``, or ``"leave"`` the card as it is. Idempotent."""
        if disposition not in _DISPOSITIONS:
            raise ValueError(
                f"disposition must be one of {sorted(_DISPOSITIONS)}, not {disposition!r}"
            )
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._finalizer.detach()
            hresult = scard.SCardDisconnect(self._handle, _DISPOSITIONS[disposition])
            if _code(hresult) != _S_SUCCESS:
                # the card or reader may be gone already: nothing is left to release there
                logger.debug("disconnect from %r: %s", self._reader, _message(hresult))
            _release(self._context)
        logger.info("disconnected from %r (%s)", self._reader, disposition)

    def __enter__(self) -> PcscTransport:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- extras ------------------------------------------------------------------------------

    @property
    def reader(self) -> str:
        """The reader's full name."""
        return self._reader

    @property
    def atr(self) -> bytes:
        """The card's ATR as the reader reported it at connect time."""
        return self._atr

    @property
    def protocol(self) -> str:
        """``"T=0"``, ``"T=1"`` or ``"raw"``."""
        return {scard.SCARD_PROTOCOL_T0: "T=0", scard.SCARD_PROTOCOL_T1: "T=1"}.get(
            self._protocol, "raw"
        )

    @property
    def exclusive(self) -> bool:
        return self._exclusive

    @property
    def closed(self) -> bool:
        return self._closed

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        return (
            f"PcscTransport(reader={self._reader!r}, protocol={self.protocol!r}, "
            f"exclusive={self._exclusive}, extended_length={self._extended_length}, {state})"
        )

    # -- internals ---------------------------------------------------------------------------

    def _transmit_error(self, hresult: int) -> TransportError:
        code = _code(hresult)
        doing = f"exchange with the card in {self._reader!r} failed"
        if code in _LINK_FAILED and self._card_left():
            return CardRemovedError(f"{doing}: the card was removed", pcsc_code=code)
        return pcsc_error(hresult, doing, in_session=True)

    def _card_left(self) -> bool:
        """After a failed exchange: did the card leave the reader (within the grace time)?"""
        deadline = time.monotonic() + self._removal_grace
        known = scard.SCARD_STATE_UNAWARE
        while True:
            remaining = max(0, int((deadline - time.monotonic()) * 1000))
            hresult, states = scard.SCardGetStatusChange(
                self._context, remaining, [(self._reader, known)]
            )
            code = _code(hresult)
            if code == _E_TIMEOUT:
                return False
            if code != _S_SUCCESS or not states:
                return True  # the reader itself went away
            _, state, _ = states[0]
            if not state & scard.SCARD_STATE_PRESENT or state & scard.SCARD_STATE_MUTE:
                return True
            if remaining == 0:
                return False
            known = state & ~scard.SCARD_STATE_CHANGED


def _status_atr(handle: Any, name: str) -> bytes:
    hresult, _reader, _state, _protocol, atr = scard.SCardStatus(handle)
    if _code(hresult) != _S_SUCCESS:
        raise pcsc_error(hresult, f"cannot read the card status in {name!r}", in_session=True)
    return bytes(atr)


def _max_input(handle: Any) -> int | None:
    """The reader's largest command (``SCARD_ATTR_MAXINPUT``), or None when it does not say."""
    hresult, value = scard.SCardGetAttrib(handle, scard.SCARD_ATTR_MAXINPUT)
    if _code(hresult) != _S_SUCCESS or not value:
        return None
    size = int.from_bytes(bytes(value[:4]), "little")
    return size or None


def _limits(
    reader_limit: int | None,
    extended_length: bool | None,
    max_command_data: int | None,
    max_response_data: int | None,
) -> tuple[bool, int, int]:
    if extended_length is None:
        extended_length = reader_limit is not None and reader_limit > _SHORT_APDU_MAX
    if extended_length:
        cmd_cap, rsp_cap = MAX_EXTENDED_LC, MAX_EXTENDED_LE
        if reader_limit is not None and reader_limit > _SHORT_APDU_MAX:
            # the reader's message limit bounds both directions (CCID dwMaxCCIDMessageLength)
            cmd_cap = min(cmd_cap, reader_limit - 9)
            rsp_cap = min(rsp_cap, reader_limit - 2)
    else:
        cmd_cap, rsp_cap = MAX_SHORT_LC, MAX_SHORT_LE
    return (
        extended_length,
        max_command_data if max_command_data is not None else cmd_cap,
        max_response_data if max_response_data is not None else rsp_cap,
    )


# -- events --------------------------------------------------------------------------------


_MONITOR_LOCK = threading.Lock()


def _card_monitor() -> Any:
    """pyscard's CardMonitor, with its monitoring thread alive.

    pyscard's card monitoring thread ends for good when pcscd goes away (SCARD_E_NO_SERVICE),
    which would leave every later watcher in this process deaf after a pcscd restart. When the
    thread is found dead, a new one is attached to the (singleton) monitor.
    """
    with _MONITOR_LOCK:
        monitor = CardMonitor()
        thread = CardMonitoringThread.instance
        if thread is not None and not thread.is_alive():
            logger.info("pyscard's card monitoring thread had stopped; starting a new one")
            with CardMonitoringThread.lock:
                CardMonitoringThread.instance = None
            monitor.instance.rmthread = CardMonitoringThread(monitor.instance)
        return monitor


def _monitor_reader_names() -> list[str]:
    """ReaderMonitor's reader lister: no readers (rather than an error) without pcscd.

    pyscard's default lister raises when pcscd is gone, which ends its monitoring thread;
    this one makes the monitor report the readers removed, and added again when pcscd is back.
    """
    try:
        context = _establish()
    except TransportError:
        return []
    try:
        return _reader_names(context)
    except TransportError:
        return []
    finally:
        _release(context)


def _card_monitor_alive() -> bool:
    with _MONITOR_LOCK:
        thread = CardMonitoringThread.instance
        return thread is not None and bool(thread.is_alive())


class _CardSink(CardObserver):  # type: ignore[misc]
    def __init__(self, watcher: CardWatcher) -> None:
        super().__init__()
        self._watcher = watcher

    def update(self, observable: Any, handlers: Any) -> None:
        added, removed = handlers
        for card in removed:
            self._watcher._observed(CardEventKind.REMOVED, str(card.reader), bytes(card.atr))
        for card in added:
            self._watcher._observed(CardEventKind.INSERTED, str(card.reader), bytes(card.atr))


class _ReaderSink(ReaderObserver):  # type: ignore[misc]
    def __init__(self, watcher: CardWatcher) -> None:
        super().__init__()
        self._watcher = watcher

    def update(self, observable: Any, handlers: Any) -> None:
        added, removed = handlers
        for reader in removed:
            self._watcher._observed(CardEventKind.READER_REMOVED, str(reader), None)
        for reader in added:
            self._watcher._observed(CardEventKind.READER_ADDED, str(reader), None)


class CardWatcher:
    """Card and reader events, from pyscard's CardMonitor and ReaderMonitor observers.

    Events go to ``callback`` (called on a pyscard thread: keep it short) or, without a
    callback, to a queue read with :meth:`get`. The first events after :meth:`start` describe
    the current state (also kept in ``initial_events``): ``reader_added`` for each reader,
    ``inserted`` for each card present. ``readers`` restricts events to those reader names;
    ``watch_readers=False`` leaves out reader events (pyscard learns of readers by listing
    them once a second; cards are reported by pcscd as they come and go).

    pcscd going away stops pyscard's monitoring threads for good. A small watchdog notices
    (it checks once a second whether those threads still run; it never polls readers or cards
    while they do): every known card and reader is then reported removed, and once pcscd
    answers again the monitors are restarted and the current state reported as it is.
    """

    def __init__(
        self,
        callback: Callable[[CardEvent], None] | None = None,
        *,
        readers: Iterable[str] | None = None,
        watch_readers: bool = True,
        watchdog_interval: float = 1.0,
    ) -> None:
        if watchdog_interval <= 0:
            raise ValueError("watchdog_interval must be > 0")
        self._callback = callback
        self._filter = frozenset(readers) if readers is not None else None
        self._watch_readers = watch_readers
        self._watchdog_interval = watchdog_interval
        self._queue: queue.Queue[CardEvent] = queue.Queue()
        self._lock = threading.Lock()
        self._cards: dict[str, bytes] = {}
        self._readers: set[str] = set()
        self._card_sink: _CardSink | None = None
        self._reader_sink: _ReaderSink | None = None
        self._card_monitor: Any = None
        self._reader_monitor: Any = None
        self._stopping = threading.Event()
        self._watchdog: threading.Thread | None = None
        self.initial_events: tuple[CardEvent, ...] = ()
        self._collect: list[CardEvent] | None = None
        # Observer news held back while start() reports the snapshot (see start()).
        self._gate = threading.RLock()
        self._held: list[tuple[CardEventKind, str, bytes | None]] | None = None

    def start(self) -> CardWatcher:
        """Report the current state, then start observing. Raises if pcscd is unreachable."""
        if self._watchdog is not None:
            raise RuntimeError("CardWatcher already started")
        # Observe first, then take the snapshot: a card that arrives in between is then seen by
        # one or the other (reported once: _card drops the duplicate). The other order loses
        # it when pyscard's monitoring thread already runs for another observer, since a new
        # observer only hears later changes. What the observers report before the snapshot
        # is in is part of the initial state.
        list_readers()  # pcscd unreachable: raise before any monitoring thread starts
        self._stopping.clear()
        with self._gate:
            self._held = []  # observers' news waits until the snapshot is reported
        self._attach()
        try:
            snapshot = list_readers()
        except BaseException:
            self._detach()
            with self._gate:
                self._held = None
            raise
        self._collect = []
        self._resync(snapshot)
        self.initial_events = tuple(self._collect)
        self._collect = None
        with self._gate:
            held, self._held = self._held or [], None
            for kind, reader, atr in held:
                self._observed(kind, reader, atr)
        self._watchdog = threading.Thread(
            target=self._watch_monitors, name="apdu.pcsc.CardWatcher", daemon=True
        )
        self._watchdog.start()
        return self

    def stop(self) -> None:
        """Stop observing (idempotent). Queued events stay readable."""
        self._stopping.set()
        watchdog, self._watchdog = self._watchdog, None
        if watchdog is not None and watchdog is not threading.current_thread():
            watchdog.join()
        self._detach()

    def __enter__(self) -> CardWatcher:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def get(self, timeout: float | None = None) -> CardEvent | None:
        """The next event (without a callback), or None after ``timeout`` seconds."""
        try:
            return self._queue.get(timeout=timeout)
        except queue.Empty:
            return None

    # -- observers and their watchdog ----------------------------------------------------------

    def _attach(self) -> None:
        if self._watch_readers:
            self._reader_sink = _ReaderSink(self)
            self._reader_monitor = ReaderMonitor(readerProc=_monitor_reader_names)
            self._reader_monitor.addObserver(self._reader_sink)
        self._card_sink = _CardSink(self)
        self._card_monitor = _card_monitor()
        self._card_monitor.addObserver(self._card_sink)

    def _detach(self) -> None:
        if self._card_sink is not None:
            self._card_monitor.deleteObserver(self._card_sink)
            self._card_sink = None
        if self._reader_sink is not None:
            self._reader_monitor.deleteObserver(self._reader_sink)
            # pyscard keeps a thread that died on an error; drop it so the next observer
            # gets a live one
            thread = getattr(self._reader_monitor, "rmthread", None)
            if thread is not None and not thread.is_alive():
                self._reader_monitor.rmthread = None
            self._reader_sink = None

    def _monitors_alive(self) -> bool:
        if not _card_monitor_alive():
            return False
        if self._reader_sink is None:
            return True
        thread = getattr(self._reader_monitor, "rmthread", None)
        # pyscard starts the reader thread a moment after addObserver: not started is alive
        return thread is None or not thread.ident or bool(thread.is_alive())

    def _watch_monitors(self) -> None:
        while not self._stopping.wait(self._watchdog_interval):
            if self._monitors_alive():
                continue
            logger.warning("PC/SC monitoring stopped (pcscd gone?); waiting for pcscd")
            self._detach()
            self._resync([])
            backoff = self._watchdog_interval
            snapshot: list[ReaderInfo] | None = None
            while snapshot is None and not self._stopping.wait(backoff):
                try:
                    snapshot = list_readers()
                except TransportError:
                    backoff = min(backoff * 2, 10.0)
            if snapshot is None:
                return
            logger.info("pcscd answers again; restarting PC/SC monitoring")
            self._resync(snapshot)
            self._attach()

    # -- fed by the observers (pyscard threads) and the watchdog --------------------------------

    def _resync(self, snapshot: list[ReaderInfo]) -> None:
        """Report the difference between what was known and ``snapshot``."""
        present = {info.name: info.atr or b"" for info in snapshot if info.card_present}
        names = {info.name for info in snapshot}
        with self._lock:
            known_cards = dict(self._cards)
            known_readers = set(self._readers)
        for reader, atr in known_cards.items():
            if present.get(reader) != atr:
                self._card(CardEventKind.REMOVED, reader, atr)
        if self._watch_readers:
            for reader in sorted(known_readers - names):
                self._reader(CardEventKind.READER_REMOVED, reader)
            for info in snapshot:
                self._reader(CardEventKind.READER_ADDED, info.name)
        for info in snapshot:
            if info.card_present:
                self._card(CardEventKind.INSERTED, info.name, info.atr or b"")

    def _observed(self, kind: CardEventKind, reader: str, atr: bytes | None) -> None:
        """News from a pyscard observer (``atr`` None for reader events)."""
        with self._gate:
            if self._held is not None:
                self._held.append((kind, reader, atr))
            elif atr is None:
                self._reader(kind, reader)
            else:
                self._card(kind, reader, atr)

    def _card(self, kind: CardEventKind, reader: str, atr: bytes) -> None:
        if self._filter is not None and reader not in self._filter:
            return
        with self._lock:
            if kind is CardEventKind.INSERTED:
                if self._cards.get(reader) == atr:
                    return  # already reported (the snapshot, or the monitor's first look)
                self._cards[reader] = atr
            else:
                if reader not in self._cards:
                    return
                del self._cards[reader]
        self._emit(CardEvent(kind, reader, atr))

    def _reader(self, kind: CardEventKind, reader: str) -> None:
        if self._filter is not None and reader not in self._filter:
            return
        with self._lock:
            if kind is CardEventKind.READER_ADDED:
                if reader in self._readers:
                    return
                self._readers.add(reader)
            else:
                if reader not in self._readers:
                    return
                self._readers.discard(reader)
        self._emit(CardEvent(kind, reader))

    def _emit(self, event: CardEvent) -> None:
        logger.debug("card event %s", event)
        if self._collect is not None:
            self._collect.append(event)
        if self._callback is None:
            self._queue.put(event)
            return
        try:
            self._callback(event)
        except Exception:
            logger.exception("CardWatcher callback failed on %s", event)


def wait_for_card(
    reader: str | None = None, timeout: float | None = None, *, new_only: bool = False
) -> CardEvent:
    """Wait until a card is in ``reader`` (any reader if None) and return its ``inserted`` event.

    A card already present counts unless ``new_only``. Raises :class:`NoCardError` after
    ``timeout`` seconds (None waits forever), :class:`ReaderUnavailableError` without pcscd.
    """
    if timeout is not None and timeout < 0:
        raise ValueError("timeout must be >= 0 or None")
    deadline = None if timeout is None else time.monotonic() + timeout
    if reader is not None:
        reader = _match_reader([info.name for info in list_readers()], reader)
    with CardWatcher(readers=[reader] if reader is not None else None, watch_readers=False) as w:
        initial = set(w.initial_events) if new_only else set()
        while True:
            remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
            event = w.get(remaining)
            if event is None:
                where = repr(reader) if reader is not None else "any reader"
                raise NoCardError(f"no card in {where} within {timeout} s")
            if event.kind is CardEventKind.INSERTED and event not in initial:
                return event
            if event.kind is CardEventKind.REMOVED:
                initial = {e for e in initial if e.reader != event.reader}
