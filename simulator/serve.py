"""Serving a simulated card outside the test process: to vpcd, or over stdin/stdout.

- :func:`serve_vpcd` makes a state file a card in a real PC/SC reader: vsmartcard's vpcd driver
  in pcscd listens on a TCP port and :class:`simulator.vpcd.VpcdClient` connects to it (and
  reconnects when pcscd restarts). vpcd's power off / power on / reset reach the card; a
  removal fault drops the connection, so applications see the card leave the reader.
- :func:`serve_stdio` reads one hex-encoded command APDU per line and writes one hex response
  per line (flushed): a card in a pipe, for scripts and for the crash tests.

Both persist every counter change to the state file before answering.
"""

from __future__ import annotations

import logging
import signal
import sys
import threading
from collections.abc import Callable
from types import FrameType
from typing import IO

from apdu import CardRemovedError, NoCardError, TransportError
from simulator.card import SimulatedCard

__all__ = ["VpcdCardAdapter", "parse_host_port", "serve_stdio", "serve_vpcd"]

logger = logging.getLogger(__name__)


def parse_host_port(value: str, *, default_port: int = 35963) -> tuple[str, int]:
    """``HOST:PORT``, ``HOST`` or ``:PORT`` (IPv6 in brackets) -> (host, port)."""
    text = value.strip()
    if not text:
        raise ValueError("empty vpcd address")
    if text.startswith("["):
        host, sep, rest = text[1:].partition("]")
        if not sep:
            raise ValueError(f"unterminated IPv6 address in {value!r}")
        port_text = rest[1:] if rest.startswith(":") else ""
        if rest and not rest.startswith(":"):
            raise ValueError(f"bad vpcd address {value!r}")
    else:
        host, sep, port_text = text.rpartition(":")
        if not sep:
            host, port_text = text, ""
    host = host or "127.0.0.1"
    if not port_text:
        return host, default_port
    if not port_text.isdigit() or not 0 < int(port_text) <= 0xFFFF:
        raise ValueError(f"bad port in {value!r} (1..65535)")
    return host, int(port_text)


class VpcdCardAdapter:
    """Adapts a :class:`SimulatedCard` to :class:`simulator.vpcd.VpcdClient`'s handler.

    A card removal (fault) becomes :class:`simulator.vpcd.CardEjected`: the connection drops,
    and with ``reinsert_after`` the card comes back (a fresh power-up).
    """

    def __init__(self, card: SimulatedCard) -> None:
        self.card = card

    @property
    def atr(self) -> bytes:
        return self.card.atr

    def transmit(self, command: bytes) -> bytes:
        from simulator.vpcd import CardEjected

        try:
            if not self.card.powered and self.card.present:
                # vpcd powers the card before any APDU; be lenient if it did not.
                self.card.power_on()
            return self.card.transmit(command)
        except (CardRemovedError, NoCardError):
            raise CardEjected(reinsert_after=self.card.faults.reinsert_after) from None

    def power_on(self) -> None:
        if not self.card.present:
            self.card.insert()
        else:
            self.card.power_on()

    def power_off(self) -> None:
        self.card.power_off()

    def reset(self) -> None:
        if not self.card.present:
            self.card.insert()
        else:
            self.card.reset()


def serve_vpcd(
    card: SimulatedCard,
    host: str,
    port: int,
    *,
    stop: threading.Event | None = None,
    on_ready: Callable[[], None] | None = None,
) -> None:
    """Serve ``card`` to vpcd at host:port until SIGINT/SIGTERM (or ``stop`` is set)."""
    from simulator.vpcd import VpcdClient

    client = VpcdClient(VpcdCardAdapter(card), host, port)
    done = stop or threading.Event()

    def _on_signal(signum: int, frame: FrameType | None) -> None:
        logger.info("signal %d: taking the card out of the reader", signum)
        done.set()

    previous = {}
    if threading.current_thread() is threading.main_thread():
        previous = {sig: signal.signal(sig, _on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        client.start()
        if on_ready is not None:
            on_ready()
        while not done.wait(0.2) and client.running:
            pass
    finally:
        client.stop()
        card.close()
        for sig, old in previous.items():
            signal.signal(sig, old)


def serve_stdio(
    card: SimulatedCard, stdin: IO[str] | None = None, stdout: IO[str] | None = None
) -> int:
    """Answer hex APDU lines from ``stdin`` with hex response lines on ``stdout``.

    Lines: ``<hex APDU>`` -> ``<hex response>``; ``reset`` / ``power-off`` / ``power-on`` ->
    ``ok``; blank lines and ``#`` comments are ignored. A line that is not hex gets
    ``error: ...``. A transport failure (a removal fault) answers ``removed``. Returns at EOF.
    """
    source = stdin or sys.stdin
    sink = stdout or sys.stdout
    for line in source:
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        if text in ("reset", "power-on", "power-off", "insert", "remove"):
            {
                "reset": card.reset,
                "power-on": card.power_on,
                "power-off": card.power_off,
                "insert": card.insert,
                "remove": card.remove,
            }[text]()
            answer = "ok"
        else:
            try:
                raw = bytes.fromhex(text)
            except ValueError:
                answer = "error: not hex"
            else:
                try:
                    answer = card.transmit(raw).hex().upper()
                except (CardRemovedError, NoCardError):
                    answer = "removed"
                except TransportError as exc:
                    answer = f"error: {exc}"
        sink.write(answer + "\n")
        sink.flush()
    card.close()
    return 0
