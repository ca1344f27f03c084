"""SELECT, the power-on state, classes and instructions (spec §1, §3.1, §8 first bullet)."""

from __future__ import annotations

import pytest
from simhelpers import AIDS, select_df, select_ef, sw, tx

from apdu import CommandApdu
from simulator.card import SimulatedCard


@pytest.mark.parametrize("name", ["jpki", "text", "kenmen", "juki", "common", "isd"])
def test_every_application_selects_by_df_name_with_no_data(
    simulated_card: SimulatedCard, name: str
) -> None:
    r = tx(simulated_card, CommandApdu(0x00, 0xA4, 0x04, 0x0C, AIDS[name]))
    assert (r.sw, r.data) == (0x9000, b"")
    assert simulated_card.current_application == name


def test_select_jpki_is_the_exact_byte_sequence_of_the_spec(simulated_card: SimulatedCard) -> None:
    assert simulated_card.transmit(bytes.fromhex("00A4040C0AD392F000260100000001")) == b"\x90\x00"
    assert simulated_card.transmit(bytes.fromhex("00A4020C02000A")) == b"\x90\x00"


def test_power_on_state_is_the_gp_isd(simulated_card: SimulatedCard) -> None:
    assert simulated_card.current_application == "isd"
    select_df(simulated_card, "jpki")
    simulated_card.reset()
    assert simulated_card.current_application == "isd"


@pytest.mark.parametrize(
    "aid",
    [
        "D392F000260100000000",  # last byte differs (no partial match)
        "D392F00026010000",  # a prefix of the JPKI AID (no partial match)
        "D392F0002601000000010000",
        "A000000003000000",  # GP card manager of other cards
        "A0000003974349442D01",
        "D2760001240102",
    ],
)
def test_unknown_aid_answers_6a82_and_keeps_the_current_df(
    simulated_card: SimulatedCard, aid: str
) -> None:
    select_df(simulated_card, "jpki")
    assert sw(simulated_card, CommandApdu(0x00, 0xA4, 0x04, 0x0C, bytes.fromhex(aid))) == 0x6A82
    assert simulated_card.current_application == "jpki"


@pytest.mark.parametrize("fid", [0x0003, 0x0004, 0x0005, 0x0007, 0x000C, 0x0019, 0x3F00, 0x2F00])
def test_unknown_ef_answers_6a82(simulated_card: SimulatedCard, fid: int) -> None:
    select_df(simulated_card, "jpki")
    assert select_ef(simulated_card, fid) == 0x6A82


@pytest.mark.parametrize("fid", [0x0001, 0x0002, 0x0006, 0x0008, 0x000A, 0x000B, 0x0017, 0x0018,
                                 0x001A, 0x001B])  # fmt: skip
def test_jpki_files_of_section_2_1_select(simulated_card: SimulatedCard, fid: int) -> None:
    select_df(simulated_card, "jpki")
    r = tx(simulated_card, CommandApdu(0x00, 0xA4, 0x02, 0x0C, fid.to_bytes(2, "big")))
    assert (r.sw, r.data) == (0x9000, b"")


def test_select_ef_needs_a_df_beyond_the_isd(simulated_card: SimulatedCard) -> None:
    # Nothing with a short identifier lives at the MF level except the internal EF 001E.
    for fid in (0x0001, 0x000A, 0x0018):
        assert select_ef(simulated_card, fid) == 0x6A82
    assert select_ef(simulated_card, 0x001E) == 0x9000
    assert sw(simulated_card, "00B0000000") == 0x6981


def test_select_mf_quirks(simulated_card: SimulatedCard) -> None:
    # Straight after reset: 00 A4 00 00 -> 6A86.
    assert sw(simulated_card, "00A40000") == 0x6A86
    assert sw(simulated_card, "00A4000C023F00") == 0x6A86
    # With an AP current it answers 9000 but changes nothing.
    select_df(simulated_card, "jpki")
    assert sw(simulated_card, "00A40000") == 0x9000
    assert simulated_card.current_application == "jpki"
    assert select_ef(simulated_card, 0x000A) == 0x9000  # still in the JPKI AP
    # 3F00 by file identifier: 6A82.
    assert select_ef(simulated_card, 0x3F00) == 0x6A82
    # Back to the power-on state through the GP ISD AID.
    assert select_df(simulated_card, "isd") == 0x9000
    assert simulated_card.current_application == "isd"


def test_select_by_path_does_not_work(simulated_card: SimulatedCard) -> None:
    select_df(simulated_card, "jpki")
    assert sw(simulated_card, "00A4090C02000A") == 0x6A86
    assert sw(simulated_card, "00A4080C02000A") == 0x6A86


def test_select_with_wrong_lengths(simulated_card: SimulatedCard) -> None:
    select_df(simulated_card, "jpki")
    assert sw(simulated_card, "00A4020C03000A00") == 0x6700
    assert sw(simulated_card, "00A4020C0100") == 0x6700
    assert sw(simulated_card, "00A4040C") == 0x6700


@pytest.mark.parametrize("cla", [0x01, 0x02, 0x03, 0x41, 0x4F, 0x81])
def test_logical_channels_other_than_0_answer_6881(simulated_card: SimulatedCard, cla: int) -> None:
    r = tx(simulated_card, CommandApdu(cla, 0xA4, 0x04, 0x0C, AIDS["jpki"]))
    assert r.sw == 0x6881
    assert simulated_card.current_application == "isd"


@pytest.mark.parametrize("cla", [0x20, 0x3F, 0x90, 0xA0, 0xB0, 0xC0, 0xFF])
def test_unknown_class_answers_6e00(simulated_card: SimulatedCard, cla: int) -> None:
    assert sw(simulated_card, CommandApdu(cla, 0xA4, 0x04, 0x0C, AIDS["jpki"])) == 0x6E00


@pytest.mark.parametrize("ins", [0x00, 0x0E, 0x22, 0x46, 0x70, 0x82, 0xC0, 0xD6, 0xE0, 0xF2])
def test_unknown_instruction_answers_6d00(simulated_card: SimulatedCard, ins: int) -> None:
    select_df(simulated_card, "jpki")
    assert sw(simulated_card, CommandApdu(0x00, ins, 0x00, 0x00)) == 0x6D00


def test_card_commands_need_their_class(simulated_card: SimulatedCard) -> None:
    select_df(simulated_card, "jpki")
    # 00 2A is ISO PERFORM SECURITY OPERATION: not this card's; 80 A4 is not a SELECT.
    assert sw(simulated_card, "002A0080023031") == 0x6D00
    assert sw(simulated_card, "80A4040C0AD392F000260100000001") == 0x6D00


def test_command_chaining_and_secure_messaging_are_refused(simulated_card: SimulatedCard) -> None:
    select_df(simulated_card, "jpki")
    assert sw(simulated_card, "10A4020C02000A") == 0x6884
    # CLA=08 in the JPKI AP answers 69FC (spec §2.4); elsewhere SM is not supported.
    assert sw(simulated_card, "08B0000004") == 0x69FC
    select_df(simulated_card, "text")
    assert sw(simulated_card, "0CB0000004") == 0x6882


@pytest.mark.parametrize("raw", ["", "00", "00A4", "00A404", "00A4040C0A00", "00A4040C05D392"])
def test_malformed_apdus_answer_6700(simulated_card: SimulatedCard, raw: str) -> None:
    assert simulated_card.transmit(bytes.fromhex(raw)) == b"\x67\x00"


def test_get_response_is_not_offered(simulated_card: SimulatedCard) -> None:
    # The card never answers 61xx, so there is nothing to get.
    assert sw(simulated_card, "00C0000000") == 0x6D00


def test_selecting_another_df_keeps_nothing_from_the_first(simulated_card: SimulatedCard) -> None:
    select_df(simulated_card, "jpki")
    assert select_ef(simulated_card, 0x000A) == 0x9000
    select_df(simulated_card, "text")
    # No current EF after a DF change.
    assert sw(simulated_card, "00B0000004") == 0x6986
