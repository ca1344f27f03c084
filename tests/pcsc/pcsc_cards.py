"""Scripted cards in the private PC/SC stack: the process, its reader, its event log."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pcscstack import PcscStack

SCRIPTED_CARD = Path(__file__).with_name("scripted_card.py")
DEFAULT_ATR = bytes.fromhex("3B8880010000000000000000")


class RunningCard:
    """A scripted card process in one vpcd reader, with its event log."""

    def __init__(
        self, stack: PcscStack, proc: subprocess.Popen[bytes], index: int, events: Path, atr: bytes
    ) -> None:
        self.stack = stack
        self.proc = proc
        self.index = index
        self.events_path = events
        self.atr = atr

    @property
    def reader(self) -> str:
        return self.stack.reader_name(self.index)

    def events(self) -> list[dict[str, Any]]:
        if not self.events_path.exists():
            return []
        lines = self.events_path.read_text().splitlines()
        return [json.loads(line) for line in lines if line.strip()]

    def apdus(self) -> list[tuple[bytes, bytes]]:
        return [
            (bytes.fromhex(e["command"]), bytes.fromhex(e["response"]))
            for e in self.events()
            if e["event"] == "apdu"
        ]

    def wait_event(
        self, predicate: Callable[[dict[str, Any]], bool], *, after: int = 0, timeout: float = 10
    ) -> dict[str, Any]:
        """The first event at index >= ``after`` matching ``predicate`` (waits for it)."""
        deadline = time.monotonic() + timeout
        while True:
            for event in self.events()[after:]:
                if predicate(event):
                    return event
            if time.monotonic() > deadline:
                raise TimeoutError(f"no matching card event; events: {self.events()[after:]}")
            time.sleep(0.02)

    def remove(self, *, wait: bool = True) -> None:
        """Pull the card: kill its process (SIGKILL, no goodbye), wait for pcscd to notice."""
        self.stack.stop_card(self.proc, sig=signal.SIGKILL)
        if wait:
            self.stack.wait_for_card(self.index, present=False)
