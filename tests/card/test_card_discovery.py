"""Finding cards through a real PC/SC stack (pcscd + vpcd), and the certificate cache."""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from simrig import HERE, REPO, StateCache

from jpki_sdk.card import (
    CardEvent,
    CardEventKind,
    CardEventMonitor,
    CardPresence,
    CardWaitTimeoutError,
    CertificateCache,
    CertKind,
    NoCardError,
    NoReaderError,
    NotJpkiCardError,
    ReaderUnavailableError,
    TokenType,
    list_readers,
    open_card,
    pcsc_slot,
    wait_for_card,
)


def _cert(cn: str, card_key: Any) -> x509.Certificate:
    from cardkit import make_certificate

    return make_certificate(card_key, cn=cn)


# ------------------------------------------------------------------------------------- cache


def test_cache_is_keyed_by_content_and_slot(card_key: Any) -> None:
    cache = CertificateCache(max_slots=2)
    a = _cert("A", card_key)
    cache.put("r1", CertKind.AUTH, a)
    cache.put("r2", CertKind.AUTH, a)
    assert len(cache) == 1  # one certificate, two readers
    assert cache.get("r1", CertKind.AUTH) is a
    assert cache.get("r1", CertKind.AUTH_CA) is None
    assert cache.find_by_serial(a.issuer, a.serial_number) is a
    cache.invalidate("r1")
    assert cache.get("r1", CertKind.AUTH) is None and cache.get("r2", CertKind.AUTH) is a
    cache.put("r3", CertKind.AUTH, _cert("B", card_key))
    cache.put("r4", CertKind.AUTH, _cert("C", card_key))
    assert cache.slots() == ["r3", "r4"]  # least recently used dropped
    assert len(cache) == 2
    cache.invalidate()
    assert len(cache) == 0 and cache.slots() == []
    assert cache.hits >= 2 and cache.misses >= 2


def test_event_monitor_invalidates_on_removal(card_key: Any) -> None:
    cache = CertificateCache()
    seen: list[CardEvent] = []
    monitor = CardEventMonitor(seen.append, cache=cache)
    cache.put(pcsc_slot("R"), CertKind.AUTH, _cert("A", card_key))
    monitor.handle(CardEvent(CardEventKind.READER_ADDED, "R"))
    assert cache.get(pcsc_slot("R"), CertKind.AUTH) is not None
    monitor.handle(CardEvent(CardEventKind.REMOVED, "R"))
    assert cache.get(pcsc_slot("R"), CertKind.AUTH) is None
    assert [e.kind for e in seen] == [CardEventKind.READER_ADDED, CardEventKind.REMOVED]


# ------------------------------------------------------------------------------ PC/SC stack


@pytest.fixture
def cards(pcsc_stack: Any, state_cache: StateCache, tmp_path: Path) -> Iterator[Callable[..., Any]]:
    """``cards(index, "jpki" | "foreign")`` starts a card process in vpcd reader ``index``."""
    procs: list[tuple[Any, int]] = []
    state_cache.state()  # provision now (slow), not while a test is timing a card arrival
    env = {"PYTHONPATH": os.pathsep.join([str(HERE), str(REPO)])}

    def start(index: int, kind: str = "jpki", *, wait: bool = True) -> Any:
        if kind == "jpki":
            path = tmp_path / f"card{index}.json"
            state_cache.state().save(path)
            handler, extra = "sim_vpcd_handler:factory", ["--", str(path)]
        else:
            handler, extra = "sim_vpcd_handler:foreign", []
        argv = [
            sys.executable,
            str(HERE / "sim_vpcd_handler.py"),
            "--handler",
            handler,
            "--port",
            str(pcsc_stack.port(index)),
            *extra,
        ]
        proc = pcsc_stack.start_card(argv, name=f"{kind}{index}", env=env)
        procs.append((proc, index))
        if wait:
            pcsc_stack.wait_for_card(index)
        return proc

    yield start
    for proc, index in procs:
        pcsc_stack.stop_card(proc)
        pcsc_stack.wait_for_card(index, present=False)


@pytest.mark.pcsc
def test_list_readers_probes_cards(pcsc_stack: Any, cards: Callable[..., Any]) -> None:
    cards(0, "foreign")
    cards(1, "jpki")
    by_name = {r.name: r for r in list_readers(probe=True)}
    foreign = by_name[pcsc_stack.reader_name(0)]
    jpki = by_name[pcsc_stack.reader_name(1)]
    assert foreign.presence is CardPresence.OTHER and foreign.card_present
    assert jpki.presence is CardPresence.JPKI and jpki.token_type is TokenType.MY_NUMBER_CARD
    unprobed = {r.name: r for r in list_readers()}
    assert unprobed[pcsc_stack.reader_name(1)].presence is CardPresence.UNKNOWN


@pytest.mark.pcsc
def test_open_first_jpki_card_skips_other_cards(pcsc_stack: Any, cards: Callable[..., Any]) -> None:
    cards(0, "foreign")
    cards(1, "jpki")
    with open_card() as card:
        assert card.slot == pcsc_slot(pcsc_stack.reader_name(1))
        assert card.read_certificate(CertKind.AUTH).serial_number > 0
    with pytest.raises(NotJpkiCardError):
        open_card(reader=pcsc_stack.reader_name(0))


@pytest.mark.pcsc
def test_no_card_and_unknown_reader(pcsc_stack: Any) -> None:
    with pytest.raises(NoCardError):
        open_card()
    with pytest.raises(NoReaderError):
        open_card(reader="No Such Reader")


@pytest.mark.pcsc
def test_session_is_exclusive(pcsc_stack: Any, cards: Callable[..., Any]) -> None:
    cards(0, "jpki")
    name = pcsc_stack.reader_name(0)
    with open_card(reader=name):
        with pytest.raises(ReaderUnavailableError):
            open_card(reader=name)
        assert {r.name: r for r in list_readers(probe=True)}[name].presence is (CardPresence.IN_USE)
    with open_card(reader=name) as card:
        assert card.token_info().token_type is TokenType.MY_NUMBER_CARD


@pytest.mark.pcsc
def test_wait_for_card(pcsc_stack: Any, cards: Callable[..., Any]) -> None:
    with pytest.raises(CardWaitTimeoutError):
        wait_for_card(timeout=0.5)
    timer = threading.Timer(0.5, lambda: cards(1, "jpki", wait=False))
    timer.start()
    try:
        started = time.monotonic()
        with wait_for_card(timeout=20) as card:
            assert card.slot == pcsc_slot(pcsc_stack.reader_name(1))
            assert card.token_info().token_type is TokenType.MY_NUMBER_CARD
        assert time.monotonic() - started < 20
    finally:
        timer.join()


@pytest.mark.pcsc
def test_wait_for_card_survives_a_dropped_insertion_event(
    pcsc_stack: Any, cards: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A monitor that loses the insertion event must not leave the person waiting."""
    import apdu.pcsc

    real_get = apdu.pcsc.CardWatcher.get
    dropped: list[Any] = []

    def lossy_get(self: Any, timeout: float | None = None) -> Any:
        event = real_get(self, timeout)
        if event is not None and event.kind is apdu.pcsc.CardEventKind.INSERTED:
            dropped.append(event)
            return None
        return event

    monkeypatch.setattr(apdu.pcsc.CardWatcher, "get", lossy_get)
    timer = threading.Timer(0.5, lambda: cards(1, "jpki", wait=False))
    timer.start()
    try:
        with wait_for_card(timeout=20) as card:
            assert card.slot == pcsc_slot(pcsc_stack.reader_name(1))
    finally:
        timer.join()
    assert dropped, "the monitor reported no insertion at all: the test proved nothing"


@pytest.mark.pcsc
def test_wait_for_card_finds_a_present_jpki_card_behind_another_card(
    pcsc_stack: Any, cards: Callable[..., Any]
) -> None:
    cards(0, "foreign")
    cards(1, "jpki")
    with wait_for_card(timeout=10) as card:
        assert card.slot == pcsc_slot(pcsc_stack.reader_name(1))
    with pytest.raises(CardWaitTimeoutError):
        wait_for_card(timeout=0.5, new_only=True)
    with pytest.raises(NoReaderError):
        wait_for_card("No Such Reader", timeout=0.5)


@pytest.mark.pcsc
def test_events_reach_the_kiosk_and_empty_the_cache(
    pcsc_stack: Any, cards: Callable[..., Any]
) -> None:
    cache = CertificateCache()
    name = pcsc_stack.reader_name(0)
    with CardEventMonitor(cache=cache, watch_readers=False) as monitor:
        proc = cards(0, "jpki")
        event = monitor.get(timeout=15)
        assert event is not None and event.kind is CardEventKind.INSERTED and event.reader == name
        with open_card(reader=name, cache=cache) as card:
            card.read_certificate(CertKind.AUTH)
        assert cache.get(pcsc_slot(name), CertKind.AUTH) is not None
        pcsc_stack.stop_card(proc)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            event = monitor.get(timeout=1)
            if event is not None and event.kind is CardEventKind.REMOVED:
                break
        else:
            pytest.fail("no removal event")
        assert cache.get(pcsc_slot(name), CertKind.AUTH) is None
