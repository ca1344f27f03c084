"""A tiny scripted card for the PC/SC stack tests, served to vpcd by simulator.vpcd.

Run inside the stack's network namespace::

    python tests/pcsc/scripted_card.py --port 35963 --events /tmp/x.jsonl [--atr HEX]

Every power/reset message and every APDU (command and response, hex) is appended to the
events file as one JSON object per line, so a test can check the exact bytes that crossed
pcscd in both directions. Commands (CLA is ignored):

- ``INS EE``: echo: the answer is the whole command APDU followed by 9000;
- ``INS B0``: the answer is P1P2 (big-endian) bytes ``i % 251`` followed by 9000;
- ``INS 5E``: stall P1 seconds (P1 = 0: until killed), then 9000;
- ``INS EF``: eject the card (vpcd sees it leave); P1 tenths of a second until it is put back
  (P1 = 0: never);
- anything else: 6D00; fewer than 4 bytes: 6700.
"""

from __future__ import annotations

import argparse
import json
import threading
import time
from pathlib import Path
from typing import Any

from simulator.vpcd import DEFAULT_PORT, CardEjected, serve

DEFAULT_ATR = bytes.fromhex("3B8880010000000000000000")  # a plain T=1 ATR


class ScriptedCard:
    def __init__(self, atr: bytes, events: Path | None) -> None:
        self._atr = atr
        self._events = events.open("a", buffering=1) if events else None
        self._lock = threading.Lock()
        self._t0 = time.monotonic()

    @property
    def atr(self) -> bytes:
        return self._atr

    def _log(self, event: str, **fields: Any) -> None:
        if self._events is None:
            return
        record = {"t": round(time.monotonic() - self._t0, 6), "event": event, **fields}
        with self._lock:
            self._events.write(json.dumps(record) + "\n")

    def power_on(self) -> None:
        self._log("power_on")

    def power_off(self) -> None:
        self._log("power_off")

    def reset(self) -> None:
        self._log("reset")

    def transmit(self, command: bytes) -> bytes:
        response = self._answer(command)
        self._log("apdu", command=command.hex(), response=response.hex())
        return response

    def _answer(self, command: bytes) -> bytes:
        if len(command) < 4:
            return b"\x67\x00"
        ins, p1, p2 = command[1], command[2], command[3]
        if ins == 0xEE:
            return command + b"\x90\x00"
        if ins == 0xB0:
            return bytes(i % 251 for i in range(p1 << 8 | p2)) + b"\x90\x00"
        if ins == 0x5E:
            self._log("stalling", seconds=p1)
            if p1 == 0:
                threading.Event().wait()
            time.sleep(p1)
            return b"\x90\x00"
        if ins == 0xEF:
            self._log("eject", command=command.hex())
            raise CardEjected(p1 / 10 if p1 else None)
        return b"\x6d\x00"


def make_handler(args: list[str]) -> ScriptedCard:
    """Factory for ``python -m simulator.vpcd --handler scripted_card:make_handler -- ARGS``."""
    parser = argparse.ArgumentParser(prog="scripted_card")
    parser.add_argument("--atr", default=DEFAULT_ATR.hex())
    parser.add_argument("--events", type=Path)
    ns = parser.parse_args(args)
    return ScriptedCard(bytes.fromhex(ns.atr), ns.events)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    parser.add_argument("--atr", default=DEFAULT_ATR.hex())
    parser.add_argument("--events", type=Path)
    parser.add_argument("--no-quickack", action="store_true")
    ns = parser.parse_args(argv)
    card = ScriptedCard(bytes.fromhex(ns.atr), ns.events)
    serve(card, ns.host, ns.port, quickack=not ns.no_quickack)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
