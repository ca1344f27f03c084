"""The pytest plugin's fixtures, as users' own suites use them."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from simhelpers import query, select_df, select_ef, verify

from simulator.card import SimulatedCard
from simulator.faults import Faults
from simulator.identity import Identity
from simulator.pki import TestPki
from simulator.state import CardState

CardFactory = Callable[..., SimulatedCard]


def test_simulated_card_is_fresh_for_each_test_part_1(simulated_card: SimulatedCard) -> None:
    select_df(simulated_card, "jpki")
    select_ef(simulated_card, 0x0018)
    assert verify(simulated_card, "0000") == 0x63C2


def test_simulated_card_is_fresh_for_each_test_part_2(simulated_card: SimulatedCard) -> None:
    select_df(simulated_card, "jpki")
    select_ef(simulated_card, 0x0018)
    assert query(simulated_card) == 0x63C3


def test_factory_cards_are_independent(card_factory: CardFactory) -> None:
    first, second = card_factory(), card_factory()
    for card in (first, second):
        select_df(card, "jpki")
        select_ef(card, 0x0018)
    assert verify(first, "0000") == 0x63C2
    assert query(second) == 0x63C3


def test_factory_identity_pins_and_tries(card_factory: CardFactory) -> None:
    person = Identity.generate(42)
    card = card_factory(person, auth_pin="4321", sign_password="ABC123", tries={"sign": 2})
    assert card.state.identity == person.to_dict()
    select_df(card, "jpki")
    select_ef(card, 0x0018)
    assert verify(card, "4321") == 0x9000
    select_ef(card, 0x001B)
    assert query(card) == 0x63C2
    assert verify(card, "ABC123") == 0x9000
    by_seed = card_factory(42)
    assert by_seed.state.identity == person.to_dict()


def test_factory_blocked_and_profile(card_factory: CardFactory) -> None:
    card = card_factory(tries={"auth": 0}, profile="contactless")
    assert card.profile.name == "contactless"
    select_df(card, "jpki")
    select_ef(card, 0x0018)
    assert query(card) == 0x63C0
    assert verify(card, "1234") == 0x6984


def test_factory_errors(card_factory: CardFactory) -> None:
    with pytest.raises(ValueError, match="unknown PIN key"):
        card_factory(tries={"nope": 1})
    with pytest.raises(ValueError, match=r"0\.\.3"):
        card_factory(tries={"auth": 4})
    with pytest.raises(ValueError, match="no sign PIN"):
        card_factory(sign=False, sign_password="OTHER123")
    with pytest.raises(ValueError, match="characters"):
        card_factory(auth_pin="12a4")


def test_factory_faults_and_state_file(card_factory: CardFactory, tmp_path: Path) -> None:
    path = tmp_path / "card.json"
    card = card_factory(path=path, faults=Faults(status_words={1: 0x6F00}))
    assert select_df(card, "jpki") == 0x6F00
    assert CardState.load(path).pin("jpki", 0x0018).remaining == 3


def test_test_pki_is_a_session_test_pki(test_pki: TestPki) -> None:
    assert len(test_pki.roots("auth")) >= 2
    assert all("TEST" in c.subject.rfc4514_string() for c in test_pki.roots("sign"))
