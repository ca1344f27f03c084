"""The card side of vsmartcard's virtual reader (vpcd): makes any card handler a PC/SC card.

vpcd is a pcscd reader driver. For each of its readers it listens on a TCP port (35963 for
the first reader, 35964 for the second with Debian's default ``/etc/reader.conf.d/vpcd``); a
"virtual ICC" connects to that port and the reader shows a card for as long as the connection
lives. This module is that virtual ICC: :class:`VpcdClient` connects to vpcd and answers its
frames with a *handler*, usually :class:`simulator.card.SimulatedCard`.

The wire protocol (vsmartcard-vpcd 3.3, as shipped by Debian 12):

- every message, both ways, is a frame: a 2-byte big-endian length, then that many bytes;
- a 1-byte frame from vpcd is a control message: ``00`` power off, ``01`` power on,
  ``02`` reset, ``04`` ATR request. Only the ATR request is answered (a frame holding the
  ATR); vpcd polls it about every 400 ms to learn whether the card is still there;
- any longer frame is a command APDU, answered with one frame holding the response APDU
  (data followed by SW1 SW2);
- vpcd treats an empty answer, or the connection closing, as the card being removed.

Debian's vpcd sends the 2-byte length and the APDU in two separate writes. With delayed ACKs
the second write waits for the ACK of the first, which costs about 40 ms per APDU; this client
therefore re-arms ``TCP_QUICKACK`` after every read (Linux resets it on its own) and sets
``TCP_NODELAY`` for its own writes.

The handler needs ``transmit(bytes) -> bytes``, ``power_off()``, ``reset()`` and ``atr``;
``power_on()`` is used when present (a card without it gets ``reset()`` on power-on, which
is what a cold start does to a card's volatile state). A handler that wants the card to
vanish in the middle of a command (to test removal) raises :class:`CardEjected`.

This module never imports jpki_sdk; it imports nothing but the standard library.
"""

from __future__ import annotations

import argparse
import contextlib
import enum
import importlib
import logging
import os
import signal
import socket
import struct
import threading
import time
from collections.abc import Callable, Sequence
from types import FrameType
from typing import Protocol

logger = logging.getLogger(__name__)

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 35963
MAX_FRAME = 0xFFFF

#: Answer sent when the handler fails: "no precise diagnosis", as a real card's OS would.
SW_NO_PRECISE_DIAGNOSIS = b"\x6f\x00"

_LENGTH = struct.Struct(">H")


class VpcdControl(enum.IntEnum):
    """The 1-byte control messages vpcd sends to the card."""

    POWER_OFF = 0x00
    POWER_ON = 0x01
    RESET = 0x02
    ATR = 0x04


class VpcdCardHandler(Protocol):
    """What :class:`VpcdClient` needs from a card (``power_on`` is optional at run time)."""

    @property
    def atr(self) -> bytes: ...

    def transmit(self, command: bytes) -> bytes: ...

    def power_off(self) -> None: ...

    def reset(self) -> None: ...


class CardEjected(Exception):  # noqa: N818 (an instruction to the client, not a failure)
    """Raised by a handler to pull the card out of the reader in the middle of a command.

    The client drops the connection without answering, so pcscd reports the card removed
    (the application sees its transmit fail). With ``reinsert_after`` set, the client
    reconnects after that many seconds (the card is put back); with ``None`` it stays out
    until :meth:`VpcdClient.stop`.
    """

    def __init__(self, reinsert_after: float | None = None) -> None:
        super().__init__("card ejected by the handler")
        self.reinsert_after = reinsert_after


class VpcdProtocolError(Exception):
    """vpcd sent something this client cannot take (a connection is dropped and remade)."""


class _ConnectionClosedError(Exception):
    """The peer closed the connection."""


class VpcdClient:
    """Serves one card handler to one vpcd reader over TCP.

    ``run()`` blocks until :meth:`stop`; ``start()`` runs the same loop in a daemon thread.
    When vpcd is not there yet, or goes away (pcscd restarted), the client reconnects with an
    exponential back-off bounded by ``max_backoff`` seconds; each lost connection counts as a
    card removal (the handler gets ``power_off()``).

    ``quickack=False`` leaves the kernel's delayed ACKs alone; it exists so benchmarks can
    measure what TCP_QUICKACK saves, and is not meant for real use.
    """

    def __init__(
        self,
        handler: VpcdCardHandler,
        host: str = DEFAULT_HOST,
        port: int = DEFAULT_PORT,
        *,
        quickack: bool = True,
        connect_timeout: float = 5.0,
        initial_backoff: float = 0.05,
        max_backoff: float = 2.0,
    ) -> None:
        if not 0 < port <= 0xFFFF:
            raise ValueError(f"port must be 1..65535, not {port}")
        if initial_backoff <= 0 or max_backoff < initial_backoff:
            raise ValueError("need 0 < initial_backoff <= max_backoff")
        self._handler = handler
        self.host = host
        self.port = port
        self.quickack = quickack
        self.connect_timeout = connect_timeout
        self.initial_backoff = initial_backoff
        self.max_backoff = max_backoff
        self._stop = threading.Event()
        self._connected = threading.Event()
        self._lock = threading.Lock()
        self._sock: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self.connections = 0
        self.apdus = 0

    def __repr__(self) -> str:
        state = "connected" if self._connected.is_set() else "disconnected"
        return f"VpcdClient({self.host}:{self.port}, {state}, apdus={self.apdus})"

    # -- life cycle -------------------------------------------------------------------------

    @property
    def connected(self) -> bool:
        """True while a connection to vpcd is up (the reader shows the card)."""
        return self._connected.is_set()

    @property
    def running(self) -> bool:
        """True while the :meth:`start` thread is alive."""
        thread = self._thread
        return thread is not None and thread.is_alive()

    def join(self, timeout: float | None = None) -> None:
        """Wait for the :meth:`start` thread to end (after :meth:`stop`)."""
        thread = self._thread
        if thread is not None:
            thread.join(timeout)

    def wait_connected(self, timeout: float | None = None) -> bool:
        """Block until connected to vpcd (or ``timeout``); return whether it is."""
        return self._connected.wait(timeout)

    def start(self) -> VpcdClient:
        """Run :meth:`run` in a daemon thread; returns self."""
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                raise RuntimeError("VpcdClient is already running")
            self._stop.clear()
            self._thread = threading.Thread(
                target=self.run, name=f"vpcd-client-{self.port}", daemon=True
            )
            self._thread.start()
        return self

    def stop(self, timeout: float | None = 5.0) -> None:
        """Stop serving: close the connection (the card leaves the reader) and end the loop.

        Safe to call from any thread (also from a signal handler's thread) and more than once.
        """
        self._stop.set()
        with self._lock:
            sock = self._sock
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    def __enter__(self) -> VpcdClient:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def run(self) -> None:
        """Connect, serve, reconnect with back-off; return once :meth:`stop` is called."""
        backoff = self.initial_backoff
        while not self._stop.is_set():
            try:
                sock = socket.create_connection((self.host, self.port), self.connect_timeout)
            except OSError as exc:
                logger.debug("vpcd at %s:%d not reachable (%s)", self.host, self.port, exc)
                self._stop.wait(backoff)
                backoff = min(backoff * 2, self.max_backoff)
                continue
            backoff = self.initial_backoff
            pause = self._serve(sock)
            if pause is None:
                # ejected for good: stay out of the reader until stopped
                self._stop.wait()
            elif pause > 0:
                self._stop.wait(pause)
            elif not self._stop.is_set():
                self._stop.wait(self.initial_backoff)

    # -- one connection ---------------------------------------------------------------------

    def _serve(self, sock: socket.socket) -> float | None:
        """Serve one connection until it ends; return the pause before reconnecting.

        0 means "reconnect as usual", a positive number a requested pause, None "stay out".
        """
        sock.settimeout(None)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self._lock:
            if self._stop.is_set():
                sock.close()
                return 0
            self._sock = sock
        self.connections += 1
        self._connected.set()
        logger.info("card inserted into vpcd at %s:%d", self.host, self.port)
        pause: float | None = 0.0
        connected_at = time.monotonic()
        first = True
        try:
            while not self._stop.is_set():
                frame = self._read_frame(sock)
                if first:
                    # vpcd accepts a connection only when it polls the reader: this shows
                    # how long the card waited in vpcd's queue
                    logger.debug(
                        "first frame from vpcd %.3f s after connecting",
                        time.monotonic() - connected_at,
                    )
                    first = False
                answer = self._dispatch(frame)
                if answer is not None:
                    sock.sendall(_LENGTH.pack(len(answer)) + answer)
        except CardEjected as ejected:
            logger.info("handler ejected the card (reinsert after %s s)", ejected.reinsert_after)
            pause = ejected.reinsert_after
        except _ConnectionClosedError:
            logger.info("vpcd closed the connection")
        except VpcdProtocolError as exc:
            logger.warning("dropping the vpcd connection: %s", exc)
        except OSError as exc:
            if not self._stop.is_set():
                logger.info("vpcd connection lost: %s", exc)
        finally:
            with self._lock:
                self._sock = None
            self._connected.clear()
            with contextlib.suppress(OSError):
                sock.close()
            self._call_handler("power_off")
        return pause

    def _recv_exact(self, sock: socket.socket, size: int) -> bytes:
        chunks = bytearray()
        while len(chunks) < size:
            chunk = sock.recv(size - len(chunks))
            if not chunk:
                raise _ConnectionClosedError
            chunks += chunk
            if self.quickack:
                # Linux clears QUICKACK by itself: re-arm it after every read.
                _set_quickack(sock)
        return bytes(chunks)

    def _read_frame(self, sock: socket.socket) -> bytes:
        (size,) = _LENGTH.unpack(self._recv_exact(sock, _LENGTH.size))
        return self._recv_exact(sock, size) if size else b""

    def _dispatch(self, frame: bytes) -> bytes | None:
        if not frame:
            logger.debug("ignoring an empty frame from vpcd")
            return None
        if len(frame) == 1:
            return self._control(frame[0])
        self.apdus += 1
        return self._apdu(frame)

    def _control(self, code: int) -> bytes | None:
        if code == VpcdControl.ATR:
            atr = bytes(self._handler.atr)
            if not 2 <= len(atr) <= 33:
                raise VpcdProtocolError(f"handler ATR has {len(atr)} bytes (2..33 allowed)")
            return atr
        if code == VpcdControl.POWER_ON:
            logger.debug("power on")
            if not self._call_handler("power_on"):
                self._call_handler("reset")
        elif code == VpcdControl.POWER_OFF:
            logger.debug("power off")
            self._call_handler("power_off")
        elif code == VpcdControl.RESET:
            logger.debug("reset")
            self._call_handler("reset")
        else:
            logger.warning("unknown vpcd control byte %02X ignored", code)
        return None

    def _apdu(self, command: bytes) -> bytes:
        try:
            response = bytes(self._handler.transmit(command))
        except CardEjected:
            raise
        except Exception:
            logger.exception(
                "card handler failed on a %d-byte command; answering 6F00", len(command)
            )
            return SW_NO_PRECISE_DIAGNOSIS
        if not 2 <= len(response) <= MAX_FRAME:
            logger.error(
                "card handler returned %d bytes (2..%d allowed); answering 6F00",
                len(response),
                MAX_FRAME,
            )
            return SW_NO_PRECISE_DIAGNOSIS
        return response

    def _call_handler(self, name: str) -> bool:
        """Call an optional no-argument handler method; False when the handler lacks it."""
        method: Callable[[], object] | None = getattr(self._handler, name, None)
        if method is None:
            return False
        try:
            method()
        except Exception:
            logger.exception("card handler %s() failed", name)
        return True


def _set_quickack(sock: socket.socket) -> None:
    quickack = getattr(socket, "TCP_QUICKACK", None)
    if quickack is None:  # not Linux: nothing to re-arm
        return
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.IPPROTO_TCP, quickack, 1)


def serve(
    handler: VpcdCardHandler,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    *,
    quickack: bool = True,
) -> None:
    """Serve ``handler`` in the foreground until SIGINT/SIGTERM (for command-line launchers)."""
    client = VpcdClient(handler, host, port, quickack=quickack)
    logger.info("serving %s to vpcd at %s:%d", type(handler).__name__, host, port)
    stopping = threading.Event()

    def _on_signal(signum: int, frame: FrameType | None) -> None:
        logger.info("signal %d: leaving the reader", signum)
        stopping.set()
        client.stop(timeout=0)

    previous = {sig: signal.signal(sig, _on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        client.start()
        while client.running and not stopping.is_set():
            client.join(0.5)
    finally:
        # a handler stuck in a command cannot hold the process: the client thread is a daemon
        client.stop(timeout=2.0)
        for sig, old in previous.items():
            signal.signal(sig, old)


def _load_handler(spec: str, args: Sequence[str]) -> VpcdCardHandler:
    module_name, sep, attr = spec.partition(":")
    if not sep or not module_name or not attr:
        raise SystemExit(f"--handler must look like package.module:factory, not {spec!r}")
    factory = getattr(importlib.import_module(module_name), attr)
    handler: VpcdCardHandler = factory(list(args))
    return handler


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m simulator.vpcd --handler module:factory [-- factory args]``.

    ``factory(args: list[str])`` returns the card handler. Runs until SIGINT/SIGTERM.
    """
    parser = argparse.ArgumentParser(
        prog="python -m simulator.vpcd", description="Serve a card handler to vpcd."
    )
    parser.add_argument("--handler", required=True, help="package.module:factory")
    parser.add_argument("--host", default=DEFAULT_HOST)
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    parser.add_argument("--no-quickack", action="store_true", help="benchmarks only")
    parser.add_argument(
        "--log-level",
        default=os.environ.get("JPKI_SIM_LOG_LEVEL", "WARNING"),
        help="logging level (default: $JPKI_SIM_LOG_LEVEL, else WARNING)",
    )
    parser.add_argument("args", nargs="*", help="passed to the factory")
    ns = parser.parse_args(argv)
    logging.basicConfig(level=ns.log_level.upper(), format="%(asctime)s %(name)s %(message)s")
    handler = _load_handler(ns.handler, ns.args)
    serve(handler, ns.host, ns.port, quickack=not ns.no_quickack)
    return 0


if __name__ == "__main__":
    # Under ``python -m`` this file runs as ``__main__``, a second copy of the module: its
    # CardEjected is not the ``simulator.vpcd.CardEjected`` that handlers import and raise, so
    # an ejection would be answered 6F00. Run the imported module's main instead.
    raise SystemExit(importlib.import_module("simulator.vpcd").main())
