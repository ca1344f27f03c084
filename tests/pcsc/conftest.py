"""Fixtures for the PC/SC stack tests: scripted cards served through vpcd."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest
from pcsc_cards import DEFAULT_ATR, SCRIPTED_CARD, RunningCard
from pcscstack import PcscStack


@pytest.fixture
def insert_card(pcsc_stack: PcscStack, tmp_path: Path) -> Iterator[Callable[..., RunningCard]]:
    """``insert_card(index=0, atr=..., wait=True, extra=[...])`` -> RunningCard.

    Every card is removed at teardown and the readers are empty again before the next test.
    """
    cards: list[RunningCard] = []

    def insert(
        index: int = 0, *, atr: bytes = DEFAULT_ATR, wait: bool = True, extra: Sequence[str] = ()
    ) -> RunningCard:
        events = tmp_path / f"card{len(cards)}-events.jsonl"
        argv = [
            sys.executable,
            str(SCRIPTED_CARD),
            "--port",
            str(pcsc_stack.port(index)),
            "--atr",
            atr.hex(),
            "--events",
            str(events),
            *extra,
        ]
        proc = pcsc_stack.start_card(argv, name=f"scripted{index}")
        card = RunningCard(pcsc_stack, proc, index, events, atr)
        cards.append(card)
        if wait:
            pcsc_stack.wait_for_card(index)
        return card

    yield insert
    for card in cards:
        pcsc_stack.stop_card(card.proc)
    for card in cards:
        pcsc_stack.wait_for_card(card.index, present=False)
