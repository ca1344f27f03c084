"""Where the agent finds the card: a PC/SC reader or a simulated card.

The agent opens a fresh :class:`~jpki_sdk.card.JpkiCard` session for every operation and
closes it afterwards (which resets the card: no PIN stays verified between requests).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Protocol

from apdu import Transport
from jpki_sdk.card import JpkiCard, open_card

logger = logging.getLogger(__name__)


class CardSource(Protocol):
    """Opens a session with the card for one operation."""

    def describe(self) -> str:
        """A short description for logs and ``/v1/info`` (no personal data)."""
        ...

    def open(self) -> JpkiCard:
        """A session with the JPKI application selected; raises the SDK's card errors
        (:class:`~jpki_sdk.card.NoCardError`, :class:`~jpki_sdk.card.NoReaderError`...)."""
        ...


class ReaderCardSource:
    """A PC/SC reader: the named one (or unique prefix), else the first holding a JPKI card."""

    def __init__(self, reader: str | None = None) -> None:
        self.reader = reader

    def describe(self) -> str:
        return f"PC/SC reader {self.reader!r}" if self.reader else "first PC/SC reader with a card"

    def open(self) -> JpkiCard:
        return open_card(reader=self.reader)


class SimulatorFileSource:
    """A simulated card in a state file (``jpki sim init``): every PIN counter change is
    written to the file before the card answers, like a real card's EEPROM."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

    def describe(self) -> str:
        return f"simulated card {self.path.name}"

    def open(self) -> JpkiCard:
        return open_card(simulator=self.path)


class TransportSource:
    """A card transport already in this process (an in-process simulated card)."""

    def __init__(self, transport: Transport, *, label: str = "in-process simulated card") -> None:
        self.transport = transport
        self.label = label

    def describe(self) -> str:
        return self.label

    def open(self) -> JpkiCard:
        return open_card(simulator=self.transport)


__all__ = ["CardSource", "ReaderCardSource", "SimulatorFileSource", "TransportSource"]
