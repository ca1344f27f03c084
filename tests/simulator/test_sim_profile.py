"""Card profiles: ATRs of spec §3.9, contact vs contactless, options and validation."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from apdu import Transport
from simulator.card import SimulatedCard
from simulator.profile import (
    KNOWN_ATRS,
    PRESETS,
    CardProfile,
    Interface,
    PinLengthPolicy,
    ProfileError,
    preset,
)

CardFactory = Callable[..., SimulatedCard]

SPEC_ATRS = {
    "3B E0 00 FF 81 31 FE 45 14",
    "3B DA 13 FF 81 31 FB 46 80 12 39 2F 31 C1 73 C6 01 C0 3B",
    "3B C5 FF 81 31 FB 45 80 73 C6 01 00 00",
    "3B F5 91 00 FF 91 81 71 FE 40 00 42 00 01 00 D1 D6",
    "3B F5 91 00 FF 91 81 71 FE 40 00 42 00 01 B3 A1 15",
    "3B 88 80 01 00 00 05 E0 B3 81 A1 00 7F",
    "3B 88 80 01 00 00 41 E0 B3 81 A1 00 3B",
    "3B 88 80 01 00 4B 51 FF 00 81 D1 00 BC",
    "3B 88 80 01 00 4B 51 FF B3 81 D1 00 0F",
}


def test_all_spec_atrs_are_presets() -> None:
    assert {atr.hex(" ").upper() for _, atr, _ in KNOWN_ATRS} == SPEC_ATRS
    for name, atr, interface in KNOWN_ATRS:
        assert PRESETS[name].atr == atr
        assert PRESETS[name].interface is interface


def test_default_is_the_contact_card() -> None:
    profile = CardProfile()
    assert profile.atr == bytes.fromhex("3BE000FF8131FE4514")
    assert profile.interface is Interface.CONTACT and profile.extended_length
    assert profile.token_label == "JPKIAPICCTOKEN2"
    assert not profile.reselect_clears_state
    assert profile.read_past_end_sw == 0x6B00
    assert profile.wrong_length_pin is PinLengthPolicy.COUNTS
    assert not profile.latency.enabled


def test_contactless_atrs_are_iso14443_synthesised() -> None:
    for name, atr, interface in KNOWN_ATRS:
        if interface is Interface.CONTACTLESS:
            assert atr.startswith(bytes.fromhex("3B888001"))
            tck = 0
            for b in atr[1:]:
                tck ^= b
            assert tck == 0, name  # TCK makes the XOR of T0..TCK zero
            assert PRESETS[name].max_response_data == 256


def test_simulated_card_is_a_transport(card_factory: CardFactory) -> None:
    card = card_factory(profile="contactless")
    assert isinstance(card, Transport)
    assert card.atr == preset("contactless").atr
    with card:
        pass
    card.close()  # closing twice is harmless


def test_round_trip_and_replace() -> None:
    for profile in PRESETS.values():
        assert CardProfile.from_dict(profile.to_dict()) == profile
    changed = CardProfile().replace(reselect_clears_state=True)
    assert changed.reselect_clears_state and changed.name == "contact"


@pytest.mark.parametrize(
    "changes",
    [
        {"atr": b"\x3b"},
        {"atr": b"\x00\x01"},
        {"max_command_data": 300, "extended_length": False},
        {"max_response_data": 100},
        {"token_label": "X" * 33},
        {"token_label": "ラベル"},
        {"cert_ef_size": 100},
        {"verification_code_tries": 16},
        {"read_past_end_sw": 0x6A82},
        {"wrong_length_pin": "maybe"},
        {"interface": "nfc"},
        {"reselect_clears_state": "yes"},
    ],
)
def test_bad_profiles(changes: dict[str, object]) -> None:
    with pytest.raises(ProfileError):
        CardProfile(**changes)  # type: ignore[arg-type]


def test_unknown_preset_and_fields() -> None:
    with pytest.raises(ProfileError, match="unknown card profile"):
        preset("nope")
    with pytest.raises(ProfileError, match="unknown profile fields"):
        CardProfile.from_dict({"colour": "blue"})
