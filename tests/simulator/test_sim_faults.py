"""Fault injection and the latency model (in-process)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from simhelpers import query, select_df, select_ef, sw, verify

from apdu import CardRemovedError, CommandApdu, Exchange, NoCardError, TransportError
from simulator.card import SimulatedCard
from simulator.faults import Faults, FaultSpecError
from simulator.profile import Interface, Latency
from simulator.provision import DEFAULT_AUTH_PIN

CardFactory = Callable[..., SimulatedCard]


def test_removal_after_executing_a_verify(card_factory: CardFactory) -> None:
    card = card_factory(faults=Faults(remove_at=3))
    select_df(card, "jpki")
    select_ef(card, 0x0018)
    with pytest.raises(CardRemovedError):
        verify(card, "0000")
    assert not card.present
    with pytest.raises(NoCardError):
        query(card)
    card.insert()
    card.faults = Faults()  # the insertion re-armed remove_at=3: disarm it
    select_df(card, "jpki")
    select_ef(card, 0x0018)
    # The wrong VERIFY reached the card before it left: the try is gone.
    assert query(card) == 0x63C2
    for _ in range(5):
        assert query(card) == 0x63C2


def test_removal_fault_fires_again_after_each_insertion(card_factory: CardFactory) -> None:
    card = card_factory(faults=Faults(remove_at=2, remove_after_execute=False))
    for _ in range(3):
        assert select_df(card, "jpki") == 0x9000
        with pytest.raises(CardRemovedError):
            select_ef(card, 0x0018)
        assert not card.present
        with pytest.raises(NoCardError):
            query(card)
        card.insert()
    assert card.command_count == 0


def test_assigning_faults_rearms_a_fired_removal(card_factory: CardFactory) -> None:
    card = card_factory(faults=Faults(remove_at=1))
    with pytest.raises(CardRemovedError):
        select_df(card, "jpki")
    card.insert()
    card.faults = Faults(remove_at=2)
    assert select_df(card, "jpki") == 0x9000
    with pytest.raises(CardRemovedError):
        select_ef(card, 0x0018)
    card.insert()
    card.faults = Faults()
    assert select_df(card, "jpki") == 0x9000
    # Without an insertion: the same card, a new fault at a later command.
    card.faults = Faults(remove_at=card.command_count + 1)
    with pytest.raises(CardRemovedError):
        select_df(card, "jpki")
    card.insert()
    card.faults = Faults(remove_at=2)
    assert select_df(card, "jpki") == 0x9000
    with pytest.raises(CardRemovedError):
        select_ef(card, 0x0018)


def test_faults_must_be_faults(simulated_card: SimulatedCard) -> None:
    with pytest.raises(TypeError, match="Faults"):
        simulated_card.faults = "remove@1"  # type: ignore[assignment]


def test_removal_before_executing(card_factory: CardFactory) -> None:
    card = card_factory(faults=Faults(remove_at=3, remove_after_execute=False))
    select_df(card, "jpki")
    select_ef(card, 0x0018)
    with pytest.raises(CardRemovedError):
        verify(card, "0000")
    card.insert()
    card.faults = Faults()
    select_df(card, "jpki")
    select_ef(card, 0x0018)
    assert query(card) == 0x63C3


def test_exchange_sees_a_transport_error(card_factory: CardFactory) -> None:
    card = card_factory(faults=Faults(remove_at=1))
    with pytest.raises(TransportError):
        Exchange(card).transmit(CommandApdu(0x00, 0xA4, 0x04, 0x0C, bytes.fromhex(
            "D392F000260100000001")))  # fmt: skip


def test_status_word_for_the_nth_command(card_factory: CardFactory) -> None:
    card = card_factory(faults=Faults(status_words={2: 0x6F00, 4: 0x6A82}))
    assert select_df(card, "jpki") == 0x9000
    assert select_ef(card, 0x0018) == 0x6F00  # not executed
    assert sw(card, "00200080") == 0x6986  # so there is no current EF
    assert select_ef(card, 0x0018) == 0x6A82
    assert select_ef(card, 0x0018) == 0x9000


def test_apdu_size_limit(card_factory: CardFactory) -> None:
    card = card_factory(faults=Faults(max_apdu_size=20))
    assert select_df(card, "jpki") == 0x9000  # 15 bytes
    select_ef(card, 0x0017)
    assert sw(card, CommandApdu(0x80, 0x2A, 0, 0x80, b"\x00" * 51, le=256)) == 0x6700


def test_slow_card_and_latency_use_the_sleep_hook(card_factory: CardFactory) -> None:
    slept: list[float] = []
    factory_card = card_factory(faults=Faults(delay=0.25))
    state = factory_card.state.copy()
    latency = Latency(round_trip=0.01, per_byte=0.001, rsa=0.3, verify=0.05)
    card = SimulatedCard(state, faults=Faults(delay=0.25), latency=latency, sleep=slept.append)
    select_df(card, "jpki")
    assert slept == [0.25, pytest.approx(0.01 + 0.001 * (15 + 2))]
    slept.clear()
    select_ef(card, 0x0018)
    verify(card, DEFAULT_AUTH_PIN)
    assert 0.05 in slept
    slept.clear()
    from simhelpers import digest_info, sign

    assert sign(card, digest_info(b"x"), p2=0x97).sw == 0x9000
    assert 0.3 in slept


def test_latency_presets() -> None:
    assert not Latency().enabled
    contact = Latency.realistic(Interface.CONTACT)
    contactless = Latency.realistic(Interface.CONTACTLESS)
    assert contact.enabled and 0.1 <= contact.rsa <= 1.0
    assert contactless.rsa > contact.rsa
    assert Latency.from_dict(contact.to_dict()) == contact
    with pytest.raises(ValueError, match=">= 0"):
        Latency(rsa=-1)


def test_power_off_needs_power_on(simulated_card: SimulatedCard) -> None:
    simulated_card.power_off()
    with pytest.raises(TransportError, match="not powered"):
        simulated_card.transmit(bytes.fromhex("00A4040C0AD392F000260100000001"))
    assert simulated_card.power_on() == simulated_card.atr
    assert select_df(simulated_card, "jpki") == 0x9000


def test_remove_and_insert(simulated_card: SimulatedCard) -> None:
    simulated_card.remove()
    with pytest.raises(NoCardError):
        select_df(simulated_card, "jpki")
    simulated_card.insert()
    assert select_df(simulated_card, "jpki") == 0x9000


@pytest.mark.parametrize(
    ("specs", "expected"),
    [
        (["remove@5"], Faults(remove_at=5)),
        (["remove-before@2", "reinsert=1.5"],
         Faults(remove_at=2, remove_after_execute=False, reinsert_after=1.5)),
        (["delay=0.2", "max-apdu=261"], Faults(delay=0.2, max_apdu_size=261)),
        (["sw@3=6a82", "SW@4=6F00"], Faults(status_words={3: 0x6A82, 4: 0x6F00})),
        ([], Faults()),
    ],
)  # fmt: skip
def test_fault_specs(specs: list[str], expected: Faults) -> None:
    faults = Faults.parse(specs)
    assert faults == expected
    assert faults.active == bool(specs)
    assert len(faults.describe()) >= (1 if specs else 0)


@pytest.mark.parametrize(
    "spec", ["remove@0", "remove", "sw@1=9", "sw@1=1234", "delay=-1", "max-apdu=2", "oops"]
)
def test_bad_fault_specs(spec: str) -> None:
    with pytest.raises(FaultSpecError):
        Faults.parse([spec])


def test_bad_fault_values() -> None:
    with pytest.raises(FaultSpecError):
        Faults(remove_at=0)
    with pytest.raises(FaultSpecError):
        Faults(delay=7200)
    with pytest.raises(FaultSpecError):
        Faults(status_words={1: 0x1234})
    with pytest.raises(TypeError):
        SimulatedCard(object())  # type: ignore[arg-type]
