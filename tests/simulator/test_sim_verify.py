"""VERIFY, retry counters, security state, CHANGE REFERENCE DATA (spec §2.2, §2.3, §3.3, §8)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from simhelpers import query, select_df, select_ef, sw, tx, verify

from apdu import CommandApdu
from simulator.card import SimulatedCard
from simulator.profile import CardProfile, PinLengthPolicy
from simulator.provision import DEFAULT_AUTH_PIN, DEFAULT_SIGN_PASSWORD, DEFAULT_TEXT_PIN

CardFactory = Callable[..., SimulatedCard]

Key = tuple[str, int, str, str, int]
KEYS: list[Key] = [
    # (application, key, right value, wrong value, max tries)
    ("jpki", 0x0018, DEFAULT_AUTH_PIN, "9999", 3),
    ("jpki", 0x001B, DEFAULT_SIGN_PASSWORD, "WRONGPW1", 5),
    ("text", 0x0011, DEFAULT_TEXT_PIN, "0000", 3),
]


def _at_key(card: SimulatedCard, app: str, fid: int) -> None:
    assert select_df(card, app) == 0x9000
    assert select_ef(card, fid) == 0x9000


@pytest.mark.parametrize("key", KEYS, ids=lambda k: f"{k[0]}-{k[1]:04X}")
def test_query_consumes_nothing_and_reports_tries(simulated_card: SimulatedCard, key: Key) -> None:
    app, fid, _right, _wrong, tries = key
    _at_key(simulated_card, app, fid)
    for _ in range(5):
        r = tx(simulated_card, "00200080")
        assert (r.sw, r.data) == (0x63C0 | tries, b"")


@pytest.mark.parametrize("key", KEYS, ids=lambda k: f"{k[0]}-{k[1]:04X}")
def test_query_after_success_still_answers_63cx(simulated_card: SimulatedCard, key: Key) -> None:
    app, fid, right, _wrong, tries = key
    _at_key(simulated_card, app, fid)
    assert verify(simulated_card, right) == 0x9000
    assert query(simulated_card) == 0x63C0 | tries  # never 9000: no "logged in" report


@pytest.mark.parametrize("key", KEYS, ids=lambda k: f"{k[0]}-{k[1]:04X}")
def test_query_with_le_answers_6700_and_consumes_nothing(
    simulated_card: SimulatedCard, key: Key
) -> None:
    app, fid, _right, _wrong, tries = key
    _at_key(simulated_card, app, fid)
    assert sw(simulated_card, "0020008000") == 0x6700
    assert sw(simulated_card, "00200080000000") == 0x6700  # extended Le
    assert query(simulated_card) == 0x63C0 | tries


@pytest.mark.parametrize("key", KEYS, ids=lambda k: f"{k[0]}-{k[1]:04X}")
def test_wrong_values_count_down_then_63c0_then_6984(
    simulated_card: SimulatedCard, key: Key
) -> None:
    app, fid, right, wrong, tries = key
    _at_key(simulated_card, app, fid)
    for left in range(tries - 1, -1, -1):
        assert verify(simulated_card, wrong) == 0x63C0 | left
    assert query(simulated_card) == 0x63C0  # the query on a blocked key
    assert verify(simulated_card, wrong) == 0x6984
    assert verify(simulated_card, right) == 0x6984  # the right value cannot unblock it
    assert query(simulated_card) == 0x63C0


@pytest.mark.parametrize("key", KEYS, ids=lambda k: f"{k[0]}-{k[1]:04X}")
def test_success_resets_the_counter_to_its_maximum(simulated_card: SimulatedCard, key: Key) -> None:
    app, fid, right, wrong, tries = key
    _at_key(simulated_card, app, fid)
    assert verify(simulated_card, wrong) == 0x63C0 | (tries - 1)
    assert verify(simulated_card, wrong) == 0x63C0 | (tries - 2)
    assert verify(simulated_card, right) == 0x9000
    assert query(simulated_card) == 0x63C0 | tries


def test_last_try_then_right_pin_restores_the_counter(card_factory: CardFactory) -> None:
    card = card_factory(tries={"auth": 1})
    _at_key(card, "jpki", 0x0018)
    assert query(card) == 0x63C1
    assert verify(card, DEFAULT_AUTH_PIN) == 0x9000
    assert query(card) == 0x63C3


def test_sign_password_is_compared_as_bytes(simulated_card: SimulatedCard) -> None:
    _at_key(simulated_card, "jpki", 0x001B)
    assert verify(simulated_card, DEFAULT_SIGN_PASSWORD.lower()) == 0x63C4
    assert verify(simulated_card, DEFAULT_SIGN_PASSWORD + " ") == 0x63C3
    assert verify(simulated_card, DEFAULT_SIGN_PASSWORD) == 0x9000


def test_wrong_length_pin_counts_by_default(simulated_card: SimulatedCard) -> None:
    _at_key(simulated_card, "jpki", 0x0018)
    assert verify(simulated_card, "12345") == 0x63C2
    assert verify(simulated_card, "1") == 0x63C1


def test_wrong_length_pin_rejected_by_profile_option(card_factory: CardFactory) -> None:
    card = card_factory(profile=CardProfile(wrong_length_pin=PinLengthPolicy.REJECT))
    _at_key(card, "jpki", 0x0018)
    assert verify(card, "12345") == 0x6700
    assert verify(card, "123") == 0x6700
    assert query(card) == 0x63C3
    assert verify(card, "9999") == 0x63C2  # right length, wrong value: counted


def test_verify_with_data_and_le_is_refused_without_counting(
    simulated_card: SimulatedCard,
) -> None:
    _at_key(simulated_card, "jpki", 0x0018)
    assert sw(simulated_card, CommandApdu(0x00, 0x20, 0x00, 0x80, b"9999", le=256)) == 0x6700
    assert query(simulated_card) == 0x63C3


def test_verify_by_short_ef_identifier(simulated_card: SimulatedCard) -> None:
    select_df(simulated_card, "jpki")
    assert query(simulated_card, p2=0x98) == 0x63C3
    assert query(simulated_card, p2=0x9B) == 0x63C5
    assert simulated_card.transmit(bytes.fromhex("002000980431323334")) == b"\x90\x00"
    # The SFI form does not select the key EF.
    assert sw(simulated_card, "00B0000001") == 0x6986


def test_verify_parameter_errors(simulated_card: SimulatedCard) -> None:
    select_df(simulated_card, "jpki")
    assert sw(simulated_card, "00200080") == 0x6986  # no current EF
    assert sw(simulated_card, "00200180") == 0x6A86  # P1
    assert sw(simulated_card, "00200000") == 0x6A86  # P2 = 00
    assert sw(simulated_card, "002000FF") == 0x6A86  # SFI 1F
    assert sw(simulated_card, "00200083") == 0x6A82  # no key 0003
    assert sw(simulated_card, "0020008A") == 0x6981  # a certificate is not a key
    select_ef(simulated_card, 0x000A)
    assert sw(simulated_card, "002000800431323334") == 0x6981
    select_ef(simulated_card, 0x0017)  # a private key is not a PIN either
    assert query(simulated_card) == 0x6981


def test_each_pin_unlocks_only_its_own_key(simulated_card: SimulatedCard) -> None:
    from simhelpers import digest_info, sign

    _at_key(simulated_card, "jpki", 0x0018)
    assert verify(simulated_card, DEFAULT_AUTH_PIN) == 0x9000
    assert sign(simulated_card, digest_info(b"m"), p2=0x97).sw == 0x9000
    assert sign(simulated_card, digest_info(b"m"), p2=0x9A).sw == 0x6982


def test_security_state_is_cleared_by_reset_power_and_other_df(
    simulated_card: SimulatedCard,
) -> None:
    card = simulated_card

    def unlocked() -> bool:
        select_ef(card, 0x0001)
        return sw(card, "00B0000001") == 0x9000

    def login() -> None:
        _at_key(card, "jpki", 0x001B)
        assert verify(card, DEFAULT_SIGN_PASSWORD) == 0x9000
        assert unlocked()

    login()
    card.reset()
    select_df(card, "jpki")
    assert not unlocked()
    login()
    card.power_off()
    card.power_on()
    select_df(card, "jpki")
    assert not unlocked()
    login()
    select_df(card, "text")
    select_df(card, "jpki")
    assert not unlocked()
    login()
    select_df(card, "isd")
    select_df(card, "jpki")
    assert not unlocked()


def test_reselecting_the_same_df_keeps_the_state_by_default(
    simulated_card: SimulatedCard, card_factory: CardFactory
) -> None:
    for card, kept in ((simulated_card, True), (card_factory(profile="opensc-logout"), False)):
        _at_key(card, "jpki", 0x001B)
        assert verify(card, DEFAULT_SIGN_PASSWORD) == 0x9000
        select_df(card, "jpki")
        select_ef(card, 0x0001)
        assert (sw(card, "00B0000001") == 0x9000) is kept


def test_a_failed_verify_drops_the_keys_state(simulated_card: SimulatedCard) -> None:
    _at_key(simulated_card, "jpki", 0x001B)
    assert verify(simulated_card, DEFAULT_SIGN_PASSWORD) == 0x9000
    assert verify(simulated_card, "WRONGPW1") == 0x63C4
    select_ef(simulated_card, 0x0001)
    assert sw(simulated_card, "00B0000001") == 0x6982


def test_text_ap_pre_blocked_key(simulated_card: SimulatedCard) -> None:
    _at_key(simulated_card, "text", 0x0012)
    assert query(simulated_card) == 0x63C0
    assert verify(simulated_card, "1234") == 0x6984
    assert query(simulated_card) == 0x63C0


def test_verification_codes_have_the_profile_limit(
    simulated_card: SimulatedCard, card_factory: CardFactory
) -> None:
    select_df(simulated_card, "text")
    assert query(simulated_card, 0x94) == 0x63CA
    assert query(simulated_card, 0x95) == 0x63CA
    card = card_factory(profile=CardProfile(verification_code_tries=5))
    select_df(card, "text")
    assert query(card, 0x95) == 0x63C5


def test_pin_state_of_other_applications(simulated_card: SimulatedCard) -> None:
    for app, fid, tries in (
        ("juki", 0x001C, 3),
        ("common", 0x001C, 3),
        ("kenmen", 0x0011, 10),
        ("kenmen", 0x0012, 10),
        ("kenmen", 0x0013, 10),
    ):
        _at_key(simulated_card, app, fid)
        assert query(simulated_card) == 0x63C0 | tries


# -- CHANGE REFERENCE DATA ----------------------------------------------------------------------


def test_change_pin_needs_a_verify_first(simulated_card: SimulatedCard) -> None:
    _at_key(simulated_card, "jpki", 0x0018)
    assert sw(simulated_card, "002401800435363738") == 0x6982
    assert verify(simulated_card, DEFAULT_AUTH_PIN) == 0x9000
    assert sw(simulated_card, "002401800435363738") == 0x9000
    assert query(simulated_card) == 0x63C3
    simulated_card.reset()
    _at_key(simulated_card, "jpki", 0x0018)
    assert verify(simulated_card, DEFAULT_AUTH_PIN) == 0x63C2
    assert verify(simulated_card, "5678") == 0x9000


def test_change_sign_password_format(simulated_card: SimulatedCard) -> None:
    _at_key(simulated_card, "jpki", 0x001B)
    assert verify(simulated_card, DEFAULT_SIGN_PASSWORD) == 0x9000

    def change(value: bytes) -> int:
        return sw(simulated_card, CommandApdu(0x00, 0x24, 0x01, 0x80, value))

    assert change(b"ABC12") == 0x6700  # too short
    assert change(b"A" * 17) == 0x6700  # too long
    assert change(b"newpass1") == 0x6A80  # lowercase is not allowed
    assert change(b"NEW-PASS1") == 0x6A80
    assert change(b"NEWPASS2") == 0x9000
    simulated_card.reset()
    _at_key(simulated_card, "jpki", 0x001B)
    assert verify(simulated_card, "NEWPASS2") == 0x9000


def test_change_parameter_errors(simulated_card: SimulatedCard) -> None:
    _at_key(simulated_card, "jpki", 0x0018)
    assert verify(simulated_card, DEFAULT_AUTH_PIN) == 0x9000
    assert sw(simulated_card, "002400800435363738") == 0x6A86  # P1=00 (old+new) unsupported
    assert sw(simulated_card, "00240180") == 0x6700  # no data
    assert sw(simulated_card, "00240180043536373800") == 0x6700  # with Le
    assert sw(simulated_card, "0024018004ABCD3738") == 0x6A80  # not digits


def test_verification_codes_cannot_be_changed(simulated_card: SimulatedCard) -> None:
    from simulator.provision import PIN_KEYS

    state = simulated_card.state
    assert state.identity is not None
    _at_key(simulated_card, "text", 0x0014)
    assert verify(simulated_card, state.identity["my_number"]) == 0x9000
    assert sw(simulated_card, "00240180" + "0C" + "31" * 12) == 0x6985
    assert PIN_KEYS["text-a"] == ("text", 0x0014)


def test_change_key_for_the_juki_pins(simulated_card: SimulatedCard) -> None:
    _at_key(simulated_card, "juki", 0x001C)
    assert sw(simulated_card, "803200800435363738") == 0x6982
    assert verify(simulated_card, "1234") == 0x9000
    assert sw(simulated_card, "002401800435363738") == 0x6985  # not this key's command
    assert sw(simulated_card, "803200800435363738") == 0x9000
    # The 共通AP key is a separate reference: unchanged.
    _at_key(simulated_card, "common", 0x001C)
    assert verify(simulated_card, "1234") == 0x9000


def test_blocked_status_word_option(card_factory: CardFactory) -> None:
    card = card_factory(profile=CardProfile(blocked_sw=0x6983), tries={"auth": 1})
    _at_key(card, "jpki", 0x0018)
    assert verify(card, "0000") == 0x63C0
    assert verify(card, "0000") == 0x6983
    assert verify(card, DEFAULT_AUTH_PIN) == 0x6983
    assert query(card) == 0x63C0
