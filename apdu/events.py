"""Card and reader events: the values the PC/SC watcher reports.

Kept apart from :mod:`apdu.pcsc` so that code which only consumes events (the SDK's kiosk
monitor, tests) does not import pyscard.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

__all__ = ["CardEvent", "CardEventKind"]


class CardEventKind(str, enum.Enum):
    INSERTED = "inserted"
    REMOVED = "removed"
    READER_ADDED = "reader_added"
    READER_REMOVED = "reader_removed"


@dataclass(frozen=True)
class CardEvent:
    """A card inserted into / removed from ``reader``, or a reader added / removed.

    ``atr`` is the card's ATR for card events, None for reader events.
    """

    kind: CardEventKind
    reader: str
    atr: bytes | None = None

    def __str__(self) -> str:
        atr = f" {self.atr.hex(' ').upper()}" if self.atr else ""
        return f"{self.kind.value}: {self.reader}{atr}"
