"""券面事項入力補助AP, 券面AP, 共通AP, 住基AP and the MF-level commands (spec §3.5, §4)."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from simhelpers import query, read_all, read_object, select_df, select_ef, sw, tx, verify

from apdu import CommandApdu
from simulator.card import SimulatedCard
from simulator.identity import Identity, my_number_check_digit
from simulator.profile import CardProfile
from simulator.provision import DEFAULT_TEXT_PIN, era_yymmdd, verification_code_b
from simulator.textap import CV_CA_KEY_ID, basic_info_file, cv_ca_key, key_id, parse_tlvs, tlv

CardFactory = Callable[..., SimulatedCard]


def _identity(card: SimulatedCard) -> Identity:
    assert card.state.identity is not None
    return Identity.from_dict(card.state.identity)


def _code_b(card: SimulatedCard) -> str:
    ident = _identity(card)
    expiry = dt.date.fromisoformat(card.state.info["card_expiry"])
    return verification_code_b(ident.birth_date, expiry.year, card.state.info["security_code"])


def _fields(obj: bytes) -> dict[int, bytes]:
    ((_, body, _),) = parse_tlvs(obj)
    return {tag: value for tag, value, _ in parse_tlvs(body)}


def _rsa(tlvs: bytes) -> rsa.RSAPublicKey:
    parts = {tag: value for tag, value, _ in parse_tlvs(tlvs)}
    return rsa.RSAPublicNumbers(
        int.from_bytes(parts[0x90], "big"), int.from_bytes(parts[0x91], "big")
    ).public_key()


@pytest.fixture
def text(simulated_card: SimulatedCard) -> SimulatedCard:
    assert select_df(simulated_card, "text") == 0x9000
    return simulated_card


def _unlock(card: SimulatedCard, fid: int, value: str) -> None:
    select_ef(card, fid)
    assert verify(card, value) == 0x9000


def test_my_number_file_is_17_bytes_with_filler(text: SimulatedCard) -> None:
    select_ef(text, 0x0001)
    assert sw(text, "00B0000011") == 0x6982
    _unlock(text, 0x0011, DEFAULT_TEXT_PIN)
    select_ef(text, 0x0001)
    r = tx(text, "00B0000011")
    number = _identity(text).my_number
    assert r.data == b"\xff\x10\x0c" + number.encode() + b"\xff\xff"
    assert len(read_all(text)) == 17
    assert int(number[-1]) == my_number_check_digit(number[:11])


def test_the_myna_read_sequence_of_the_spec(simulated_card: SimulatedCard) -> None:
    for apdu in ("00A4040C0AD3921000310001010408", "00A4020C020011", "002000800431323334",
                 "00A4020C020001"):  # fmt: skip
        assert simulated_card.transmit(bytes.fromhex(apdu)) == b"\x90\x00"
    r = simulated_card.transmit(bytes.fromhex("00B0000011"))
    assert r[-2:] == b"\x90\x00" and len(r) == 19


def test_basic_info_tlv_and_offset_table(text: SimulatedCard) -> None:
    _unlock(text, 0x0011, DEFAULT_TEXT_PIN)
    obj = read_object(text, 0x0002)
    fields = _fields(obj)
    ident = _identity(text)
    assert fields[0xDF22].decode() == ident.name
    assert "\u3000" in fields[0xDF22].decode()
    assert fields[0xDF23].decode() == ident.address
    assert fields[0xDF24] == ident.birth_date.strftime("%Y%m%d").encode()
    assert fields[0xDF25] == ident.sex.encode()
    offsets = [int.from_bytes(fields[0xDF21][i : i + 2], "big") for i in range(0, 8, 2)]
    for offset, tag in zip(offsets, (0xDF22, 0xDF23, 0xDF24, 0xDF25), strict=True):
        assert int.from_bytes(obj[offset : offset + 2], "big") == tag
    physical = read_all(text)
    assert physical.startswith(obj) and set(physical[len(obj) :]) == {0xFF}


def test_the_spec_example_is_reproduced_byte_for_byte() -> None:
    expected = bytes.fromhex(
        "ff2065df2108000e002000590064df220fe9bb92e6a190e38080e5b9b9e4b99fdf2336e69db1e4baace983bd"
        "e6b885e780ace5b882e8a6b3e5b883e5ad90e58d97efbc91efbc92efbc8defbc97efbc8defbc92efbc90efbc"
        "92df24083139383030323137df250131"
    )
    built = basic_info_file("黒桐　幹也", "東京都清瀬市観布子南１２－７－２０２", "19800217", "1")
    assert built == expected


def test_long_outer_length_option(card_factory: CardFactory) -> None:
    card = card_factory(profile=CardProfile(long_basic_info_length=True))
    select_df(card, "text")
    _unlock(card, 0x0011, DEFAULT_TEXT_PIN)
    obj = read_object(card, 0x0002)
    assert obj[:3] == b"\xff\x20\x82"
    fields = _fields(obj)
    first = int.from_bytes(fields[0xDF21][:2], "big")
    assert first == 5 + 11 and obj[first : first + 2] == b"\xdf\x22"


def test_verification_code_a_opens_0001_and_0003_not_0002(text: SimulatedCard) -> None:
    _unlock(text, 0x0014, _identity(text).my_number)
    for fid, expected in ((0x0001, 0x9000), (0x0003, 0x9000), (0x0002, 0x6982)):
        select_ef(text, fid)
        assert sw(text, "00B0000001") == expected


def test_verification_code_b_opens_0002_and_0003_not_0001(text: SimulatedCard) -> None:
    code = _code_b(text)
    assert len(code) == 14
    _unlock(text, 0x0015, code)
    for fid, expected in ((0x0002, 0x9000), (0x0003, 0x9000), (0x0001, 0x6982)):
        select_ef(text, fid)
        assert sw(text, "00B0000001") == expected


def test_verification_code_b_format() -> None:
    # The spec's example: 1980-02-17 (昭和55), expiry 2035, code 2285.
    assert verification_code_b(dt.date(1980, 2, 17), 2035, "2285") == "55021720352285"
    assert era_yymmdd(dt.date(1989, 1, 7)) == "640107"
    assert era_yymmdd(dt.date(1989, 1, 8)) == "010108"
    assert era_yymmdd(dt.date(2019, 5, 1)) == "010501"


def test_integrity_record(text: SimulatedCard) -> None:
    _unlock(text, 0x0011, DEFAULT_TEXT_PIN)
    select_ef(text, 0x0001)
    my_number_physical = read_all(text)
    basic = read_object(text, 0x0002)
    record = read_object(text, 0x0003)
    assert record[:5] == bytes.fromhex("FF3082014B") and len(record) == 336
    fields = _fields(record)
    assert fields[0xDF31] == hashlib.sha256(my_number_physical).digest()
    basic_fields = parse_tlvs(_fields_raw(basic))
    source = b"".join(whole for tag, _, whole in basic_fields if tag != 0xDF21)
    assert fields[0xDF32] == hashlib.sha256(source).digest()
    signed = tlv(0xDF31, fields[0xDF31]) + tlv(0xDF32, fields[0xDF32])
    # The signer is the key certified by EF 0004, which the test CV CA signed.
    cert = read_object(text, 0x0004)
    assert cert[:5] == bytes.fromhex("7F21820233") and len(cert) == 568
    cert_fields = _fields(cert)
    body = cert_fields[0x5F4E]
    assert body[:16] == key_id(CV_CA_KEY_ID["text"])
    cv_ca_key("text").public_key().verify(
        cert_fields[0x5F37], body, padding.PKCS1v15(), hashes.SHA256()
    )
    issuer = _rsa(body[32:])
    issuer.verify(fields[0xDF33], signed, padding.PKCS1v15(), hashes.SHA256())


def _fields_raw(obj: bytes) -> bytes:
    ((_, body, _),) = parse_tlvs(obj)
    return body


def test_free_files_and_basic_info(text: SimulatedCard) -> None:
    info = read_object(text, 0x0005)
    fields = _fields(info)
    assert fields[0xDF41] == bytes.fromhex("01030E01")
    assert len(fields[0xDF42]) == 16 and fields[0xDF42][:7] == b"6000034"
    assert len(fields[0xDF43]) == 128 and fields[0xDF43][32:] == b"\xff" * 96
    assert len(read_all(text)) == 256


def test_kenmen_ap(simulated_card: SimulatedCard) -> None:
    card = simulated_card
    select_df(card, "kenmen")
    info = _fields(read_object(card, 0x0003))
    assert info[0xDF31] == bytes.fromhex("06030E01")
    assert info[0xDF34] == _identity(card).municipality_code.encode()
    assert len(info[0xDF35]) == 16 + 256
    cert = _fields(read_object(card, 0x0004))
    assert cert[0x5F4E][:7] == b"6000023"
    # The age record opens with the 和暦 birth date key only.
    select_ef(card, 0x0001)
    assert sw(card, "00B0000001") == 0x6982
    _unlock(card, 0x0011, era_yymmdd(_identity(card).birth_date))
    record = read_object(card, 0x0001)
    fields = _fields(record)
    assert fields[0xDF11] == _identity(card).birth_date.strftime("%Y%m%d").encode()
    signed = tlv(0xDF11, fields[0xDF11]) + tlv(0xDF12, fields[0xDF12])
    _rsa(cert[0x5F4E][32:]).verify(fields[0xDF13], signed, padding.PKCS1v15(), hashes.SHA256())
    # Files this simulator does not model answer as absent.
    for fid in (0x0002, 0x0005, 0x0006):
        assert select_ef(card, fid) == 0x6A82
    assert query(card, 0x92) == 0x63CA


def test_common_ap_card_info_record(simulated_card: SimulatedCard) -> None:
    card = simulated_card
    select_df(card, "common")
    r = tx(card, "00B2010C00")  # MYNA's read_record(1, sfi=1)
    assert r.sw == 0x9000
    assert r.data[:2] == b"\x01\x1c" and len(r.data) == 30
    text = r.data[2:].decode()
    assert text[15:20] == _identity(card).municipality_code
    assert text[20:] == card.state.info["card_expiry"].replace("-", "")
    assert sw(card, "00B2020C00") == 0x6A83
    assert sw(card, "00B2010D00") == 0x6A81  # "from P1 to the last" is not offered
    select_ef(card, 0x0001)
    assert tx(card, "00B2010400").data == r.data
    assert sw(card, "00B0000001") == 0x6981  # a record file is not transparent


def test_get_data_and_get_challenge(simulated_card: SimulatedCard) -> None:
    card = simulated_card
    r = tx(card, "00CA5F5100")
    assert (r.sw, r.data) == (0x9000, bytes.fromhex("E000FF8131FE4514"))
    assert tx(card, "00CA00F000").data == _identity(card).municipality_code.encode()
    assert tx(card, "00CA00F200").data == card.state.info["card_expiry"].replace("-", "").encode()
    assert sw(card, "00CA004200") == 0x6A88
    assert sw(card, "00CA7F2100") == 0x6A88
    select_df(card, "jpki")
    assert sw(card, "00CA00F000") == 0x6A88
    assert sw(card, "00CA5F5100") == 0x9000
    first = tx(card, "0084000008")
    second = tx(card, "0084000008")
    assert first.sw == 0x9000 and len(first.data) == 8 and first.data != second.data
    assert len(tx(card, "0084000000").data) == 256
    assert sw(card, CommandApdu(0x00, 0x84, 0, 0, le=16, extended=True)) == 0x6985
    assert sw(card, "0084010008") == 0x6A86


def test_proprietary_commands_answer_as_the_real_card(
    simulated_card: SimulatedCard, card_factory: CardFactory
) -> None:
    card = simulated_card
    assert sw(card, "80FC0000") == 0x6700  # last-command marker: plastic card refuses
    iphone = card_factory(profile="iphone")
    assert sw(iphone, "80FC0000") == 0x9000
    assert sw(card, "80A2000000") == 0x6A86
    expected = {"jpki": 0x6982, "juki": 0x6982, "common": 0x66F1, "kenmen": 0x66F1,
                "text": 0x6982}  # fmt: skip
    for app, answer in expected.items():
        select_df(card, app)
        assert sw(card, "80AE000004AABBCCDD") == answer, app
    select_df(card, "text")
    _unlock(card, 0x0011, DEFAULT_TEXT_PIN)
    assert sw(card, "80AE000004AABBCCDD") == 0x6A80
