"""CardWatcher / wait_for_card through the real stack, and pcscd going away and coming back."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest
from pcsc_cards import RunningCard
from pcscstack import PcscStack

from apdu.errors import NoCardError, ReaderNotFoundError, ReaderUnavailableError

pytest.importorskip("smartcard", reason="pyscard not installed (the pcsc extra)")

from apdu.pcsc import (
    CardEvent,
    CardEventKind,
    CardWatcher,
    PcscTransport,
    list_readers,
    wait_for_card,
)

pytestmark = pytest.mark.pcsc

InsertCard = Callable[..., RunningCard]
SCARD_E_NO_SERVICE = 0x8010001D

INSERTED, REMOVED = CardEventKind.INSERTED, CardEventKind.REMOVED
READER_ADDED, READER_REMOVED = CardEventKind.READER_ADDED, CardEventKind.READER_REMOVED


def next_event(watcher: CardWatcher, timeout: float = 15.0) -> CardEvent:
    event = watcher.get(timeout)
    assert event is not None, f"no card event within {timeout} s"
    return event


def test_watcher_reports_the_current_state_first(
    pcsc_stack: PcscStack, insert_card: InsertCard
) -> None:
    card = insert_card(1)
    with CardWatcher() as watcher:
        expected = (
            CardEvent(READER_ADDED, pcsc_stack.reader_name(0)),
            CardEvent(READER_ADDED, pcsc_stack.reader_name(1)),
            CardEvent(INSERTED, card.reader, card.atr),
        )
        assert watcher.initial_events == expected
        assert tuple(next_event(watcher) for _ in expected) == expected
        assert watcher.get(0.5) is None  # and nothing else: no duplicate from the monitor


def test_watcher_sees_insertion_and_removal(pcsc_stack: PcscStack, insert_card: InsertCard) -> None:
    with CardWatcher(watch_readers=False) as watcher:
        assert watcher.initial_events == ()
        card = insert_card(0, wait=False)
        assert next_event(watcher) == CardEvent(INSERTED, card.reader, card.atr)
        card.remove(wait=False)
        assert next_event(watcher) == CardEvent(REMOVED, card.reader, card.atr)


def test_watcher_callback_and_reader_filter(pcsc_stack: PcscStack, insert_card: InsertCard) -> None:
    seen: list[CardEvent] = []
    first, second = threading.Event(), threading.Event()

    def on_event(event: CardEvent) -> None:
        seen.append(event)
        (second if first.is_set() else first).set()

    with CardWatcher(on_event, readers=[pcsc_stack.reader_name(1)], watch_readers=False) as w:
        insert_card(0)  # filtered out
        card = insert_card(1)
        assert first.wait(15)
        card.remove(wait=False)
        assert second.wait(15)
        assert w.get(0) is None  # with a callback, nothing is queued
    assert seen == [
        CardEvent(INSERTED, card.reader, card.atr),
        CardEvent(REMOVED, card.reader, card.atr),
    ]


def test_a_failing_callback_does_not_stop_the_watcher(
    insert_card: InsertCard, caplog: pytest.LogCaptureFixture
) -> None:
    calls: list[CardEvent] = []
    first, second = threading.Event(), threading.Event()

    def flaky(event: CardEvent) -> None:
        calls.append(event)
        (second if first.is_set() else first).set()
        raise RuntimeError("callback bug")

    with CardWatcher(flaky, watch_readers=False):
        card = insert_card(0)
        assert first.wait(15)
        card.remove(wait=False)
        assert second.wait(15)
    assert [e.kind for e in calls] == [INSERTED, REMOVED]
    assert any("callback failed" in r.getMessage() for r in caplog.records)


def test_wait_for_card_returns_a_card_already_present(insert_card: InsertCard) -> None:
    card = insert_card(0)
    assert wait_for_card(timeout=5) == CardEvent(INSERTED, card.reader, card.atr)
    assert wait_for_card(card.reader, timeout=5) == CardEvent(INSERTED, card.reader, card.atr)


def test_wait_for_card_waits_for_a_new_one(insert_card: InsertCard) -> None:
    insert_card(0)
    result: dict[str, CardEvent] = {}
    waiter = threading.Thread(
        target=lambda: result.setdefault("event", wait_for_card(timeout=20, new_only=True))
    )
    waiter.start()
    time.sleep(0.5)
    assert waiter.is_alive(), "new_only must not return the card already present"
    card = insert_card(1, wait=False)
    waiter.join(25)
    assert result["event"] == CardEvent(INSERTED, card.reader, card.atr)


@pytest.mark.parametrize("after_call", [1, 2])
def test_card_arriving_while_the_watch_starts_is_not_missed(
    pcsc_stack: PcscStack,
    insert_card: InsertCard,
    monkeypatch: pytest.MonkeyPatch,
    after_call: int,
) -> None:
    """A card inserted between wait_for_card's look at the readers and its observer's start.

    Another watcher keeps pyscard's monitoring thread running, so it has already taken the
    card in (and told its observers) before wait_for_card's observer is added. pyscard tells
    a new observer the cards its thread knows only when its module flag _START_ON_DEMAND_ is
    False (this version's default): with it True a new observer hears only later changes, and
    only looking at the readers after observing catches the card. ``after_call``: which look
    at the readers the card arrives after (start() looks twice: pcscd check, snapshot).
    """
    import smartcard.CardMonitoring

    import apdu.pcsc as pcsc_module

    real_list_readers = pcsc_module.list_readers
    calls = 0

    with CardWatcher(watch_readers=False) as other:
        assert other.initial_events == ()

        def list_readers_then_insert() -> list[pcsc_module.ReaderInfo]:
            nonlocal calls
            snapshot = real_list_readers()
            calls += 1
            if calls == after_call:
                card = insert_card(0, wait=False)
                assert next_event(other) == CardEvent(INSERTED, card.reader, card.atr)
            return snapshot

        monkeypatch.setattr(pcsc_module, "list_readers", list_readers_then_insert)
        # Only while wait_for_card runs: with the flag set, the last observer leaving would
        # stop and join pyscard's thread (up to its 60 s card request).
        on_demand = smartcard.CardMonitoring._START_ON_DEMAND_
        smartcard.CardMonitoring._START_ON_DEMAND_ = True
        try:
            event = wait_for_card(timeout=10)
        finally:
            smartcard.CardMonitoring._START_ON_DEMAND_ = on_demand
    assert calls >= after_call
    assert event.kind is INSERTED
    assert event.reader == pcsc_stack.reader_name(0)


def test_wait_for_card_times_out_with_no_card_error(pcsc_stack: PcscStack) -> None:
    with pytest.raises(NoCardError, match=r"within 0\.3 s"):
        wait_for_card(pcsc_stack.reader_name(0), timeout=0.3)


def test_wait_for_card_on_an_unknown_reader(pcsc_stack: PcscStack) -> None:
    with pytest.raises(ReaderNotFoundError):
        wait_for_card("No Such Reader", timeout=1)
    with pytest.raises(ValueError):
        wait_for_card(timeout=-1)


# pyscard's own card request objects complain from __del__ once pcscd has gone
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_pcscd_going_away_and_coming_back(pcsc_stack: PcscStack, insert_card: InsertCard) -> None:
    """Service down -> ReaderUnavailableError; the watcher reports it and recovers; the card
    process (VpcdClient) reconnects to the new vpcd by itself."""
    card = insert_card(0)
    watcher = CardWatcher()
    watcher.start()
    try:
        initial = len(watcher.initial_events)
        for _ in range(initial):
            next_event(watcher)
        pcsc_stack.stop_pcscd()
        with pytest.raises(ReaderUnavailableError) as info:
            list_readers()
        assert info.value.pcsc_code == SCARD_E_NO_SERVICE
        with pytest.raises(ReaderUnavailableError):
            PcscTransport.connect()
        lost = {next_event(watcher) for _ in range(3)}
        assert lost == {
            CardEvent(REMOVED, card.reader, card.atr),
            CardEvent(READER_REMOVED, pcsc_stack.reader_name(0)),
            CardEvent(READER_REMOVED, pcsc_stack.reader_name(1)),
        }
        pcsc_stack.start_pcscd()
        back = {next_event(watcher, 30) for _ in range(3)}
        assert back == {
            CardEvent(READER_ADDED, pcsc_stack.reader_name(0)),
            CardEvent(READER_ADDED, pcsc_stack.reader_name(1)),
            CardEvent(INSERTED, card.reader, card.atr),
        }
        # the same card process is back in the reader and answers
        with PcscTransport.connect(card.reader) as transport:
            assert transport.transmit(bytes.fromhex("00EE0000"))[-2:] == b"\x90\x00"
        # and card events flow again after the restart
        card.remove(wait=False)
        assert next_event(watcher) == CardEvent(REMOVED, card.reader, card.atr)
    finally:
        watcher.stop()
        if pcsc_stack.pcscd_pid is None:
            pcsc_stack.start_pcscd()
