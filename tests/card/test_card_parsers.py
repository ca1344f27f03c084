"""Parsers of card data: known answers, and any bytes -> a value or a typed error (hypothesis)."""

from __future__ import annotations

import contextlib
import datetime
import hashlib

import pytest
from asn1crypto import algos, core
from cardkit import (
    MC_BASIC_INFO_HEX,
    basic_info_file,
    cv_certificate,
    integrity_file,
    my_number_file,
    token_info_file,
)
from cryptography.hazmat.primitives.asymmetric import rsa
from hypothesis import given, settings
from hypothesis import strategies as st

from jpki_sdk.card import (
    CardDataError,
    CertificateFormatError,
    HashAlg,
    IntegrityCheckError,
    MyNumberCheckDigitError,
    Sex,
    TextDataFormatError,
    TokenInfoFormatError,
    TokenType,
    digest_info,
)
from jpki_sdk.card.certificates import der_total_length, parse_certificate
from jpki_sdk.card.textap import (
    CardVerifiableCertificate,
    IntegrityRecord,
    ber_total_length,
    check_integrity,
    my_number_check_digit,
    parse_basic_info,
    parse_my_number,
    parse_tlv,
)
from jpki_sdk.card.tokeninfo import parse_token_info

# ------------------------------------------------------------------------------ known answers


def test_spec_example_basic_info_short_outer_length() -> None:
    info = parse_basic_info(bytes.fromhex(MC_BASIC_INFO_HEX) + b"\xff" * 40)
    assert info.name == "黒桐\u3000幹也"
    assert info.address == "東京都清瀬市観布子南１２－７－２０２"
    assert info.birth_date == datetime.date(1980, 2, 17)
    assert info.sex is Sex.MALE


@pytest.mark.parametrize("long_form", [False, True])
def test_basic_info_either_outer_length_form(long_form: bool) -> None:
    raw = basic_info_file(
        "試験\u3000一郎", "大阪府大阪市北区１－１", "20000101", "9", long_form=long_form
    )
    assert raw[2] == (0x82 if long_form else len(raw) - 3)
    info = parse_basic_info(raw + b"\xff" * 17)
    assert info.sex is Sex.NOT_APPLICABLE and info.name == "試験\u3000一郎"


def test_long_address_needs_the_long_form_and_parses() -> None:
    address = "北海道" + "１" * 200
    raw = basic_info_file("試験\u3000長", address, "19700101", "1")
    assert raw[2] == 0x82
    assert parse_basic_info(raw).address == address


def test_offset_table_is_checked_not_trusted() -> None:
    raw = bytearray(bytes.fromhex(MC_BASIC_INFO_HEX))
    raw[7] += 1  # the name's offset
    with pytest.raises(TextDataFormatError, match="offset table"):
        parse_basic_info(bytes(raw))


@pytest.mark.parametrize(
    ("birth", "sex"),
    [("19801317", "1"), ("1980021", "1"), ("abcdefgh", "1"), ("19800217", "3"), ("19800217", "")],
)
def test_bad_fields_are_typed_errors(birth: str, sex: str) -> None:
    with pytest.raises(TextDataFormatError):
        parse_basic_info(basic_info_file("名前", "住所", birth, sex))


def test_my_number_known_answer_and_check_digit() -> None:
    assert my_number_check_digit("53768667718") == 8
    n = parse_my_number(my_number_file("537686677188"))
    assert n.value == "537686677188"
    assert n.masked() == "********7188"
    assert "5376" not in repr(n) and "5376" not in str(n)
    with pytest.raises(MyNumberCheckDigitError) as info:
        parse_my_number(my_number_file("537686677189"))
    assert "537686677189" not in str(info.value)


def test_integrity_record_round_trip(card_key: rsa.RSAPrivateKey) -> None:
    mn = my_number_file("537686677188")
    bi = basic_info_file("試験\u3000花子", "東京都千代田区", "19900315", "2", long_form=True)
    record = IntegrityRecord.parse(integrity_file(card_key, mn, bi))
    cv = CardVerifiableCertificate.parse(cv_certificate(card_key))
    assert cv.issuer_key_label == "6000033/001"
    report = check_integrity(record, cv, my_number_file=mn, basic_info_file=bi)
    assert report.my_number_digest_ok and report.basic_info_digest_ok
    assert report.signature_consistent_with_card_key and not report.proves_jlis_origin
    # The digest covers the 個人番号 file as stored, filler included.
    with pytest.raises(IntegrityCheckError):
        check_integrity(record, cv, my_number_file=mn[:15])
    # The DF21 offset table is outside the 基本4情報 digest.
    assert record.matches_basic_info_file(bi)
    assert record.basic_info_digest != hashlib.sha256(bi).digest()


def test_integrity_signature_from_another_key_fails(
    card_key: rsa.RSAPrivateKey, other_key: rsa.RSAPrivateKey
) -> None:
    mn = my_number_file("537686677188")
    bi = basic_info_file("試験\u3000花子", "東京都千代田区", "19900315", "2")
    record = IntegrityRecord.parse(integrity_file(other_key, mn, bi))
    cv = CardVerifiableCertificate.parse(cv_certificate(card_key))
    with pytest.raises(IntegrityCheckError, match="DF33"):
        check_integrity(record, cv, my_number_file=mn)


@pytest.mark.parametrize(
    ("label", "kind"),
    [
        ("JPKIAPICCTOKEN2", TokenType.MY_NUMBER_CARD),
        ("JPKIAPICCTOKEN", TokenType.JUKI_CARD),
        ("JPKIAPGPSETOKEN", TokenType.ANDROID),
        ("JPKIAPIOSTOKEN", TokenType.IPHONE),
        ("SOMETHINGELSE", TokenType.UNKNOWN),
    ],
)
def test_token_labels(label: str, kind: TokenType) -> None:
    info = parse_token_info(token_info_file(label))
    assert info.token_type is kind and info.complete
    assert info.token_type.is_smartphone == (kind in (TokenType.ANDROID, TokenType.IPHONE))
    assert info.flags == 0x040D and info.hardware_version == b"03"


def test_token_label_padded_with_nuls_and_label_only_files() -> None:
    info = parse_token_info(b"JPKIAPICCTOKEN2" + b"\x00" * 17)
    assert info.token_type is TokenType.MY_NUMBER_CARD and not info.complete
    with pytest.raises(TokenInfoFormatError):
        parse_token_info(b"JPKI")
    with pytest.raises(TokenInfoFormatError):
        parse_token_info(b" " * 32)


@pytest.mark.parametrize("alg", list(HashAlg))
def test_digest_info_prefixes_match_an_independent_der_encoder(alg: HashAlg) -> None:
    digest = hashlib.new(alg.value, b"x").digest()
    expected = algos.DigestInfo(
        {
            "digest_algorithm": {"algorithm": alg.value, "parameters": core.Null()},
            "digest": digest,
        }
    ).dump()
    assert digest_info(alg, digest) == expected


def test_der_total_length() -> None:
    assert der_total_length(b"\x30") is None
    assert der_total_length(b"\x30\x82\x06") is None
    assert der_total_length(bytes.fromhex("3082062E")) == 1586
    assert der_total_length(bytes.fromhex("3010")) == 18
    for bad in ("3180", "3080", "3084000000", "30817F", "3082007F", "3083010000"):
        with pytest.raises(CertificateFormatError):
            der_total_length(bytes.fromhex(bad) + b"\x00" * 4)


# ---------------------------------------------------------------------------------- fuzzing

FUZZ = settings(max_examples=300, deadline=None)


@FUZZ
@given(st.binary(max_size=600))
def test_basic_info_any_bytes(raw: bytes) -> None:
    with contextlib.suppress(TextDataFormatError):
        parse_basic_info(raw)


@FUZZ
@given(st.binary(max_size=40))
def test_my_number_any_bytes(raw: bytes) -> None:
    with contextlib.suppress(TextDataFormatError):
        parse_my_number(raw)


@FUZZ
@given(st.binary(max_size=200))
def test_token_info_any_bytes(raw: bytes) -> None:
    try:
        info = parse_token_info(raw)
    except TokenInfoFormatError:
        return
    assert isinstance(info.token_type, TokenType)


@FUZZ
@given(st.binary(max_size=700))
def test_integrity_and_cv_any_bytes(raw: bytes) -> None:
    for parse in (IntegrityRecord.parse, CardVerifiableCertificate.parse):
        with contextlib.suppress(TextDataFormatError):
            parse(raw)


@FUZZ
@given(st.binary(max_size=12))
def test_length_helpers_any_bytes(raw: bytes) -> None:
    for helper, error in (
        (der_total_length, CertificateFormatError),
        (ber_total_length, TextDataFormatError),
    ):
        try:
            total = helper(raw)
        except error:
            continue
        assert total is None or total >= 2


@FUZZ
@given(st.binary(max_size=64), st.integers(min_value=0, max_value=70))
def test_tlv_any_bytes(raw: bytes, offset: int) -> None:
    try:
        tlv = parse_tlv(raw, offset)
    except TextDataFormatError:
        return
    assert offset < tlv.value_start <= tlv.end <= len(raw)


@FUZZ
@given(st.binary(max_size=300))
def test_certificate_any_bytes(raw: bytes) -> None:
    with contextlib.suppress(CertificateFormatError):
        parse_certificate(raw)


@FUZZ
@given(
    st.text(min_size=1, max_size=30).filter(lambda s: "\x00" not in s),
    st.text(min_size=1, max_size=120),
    st.dates(min_value=datetime.date(1900, 1, 1), max_value=datetime.date(2099, 12, 31)),
    st.sampled_from(["0", "1", "2", "9"]),
    st.booleans(),
)
def test_basic_info_round_trip(
    name: str, address: str, birth: datetime.date, sex: str, long_form: bool
) -> None:
    raw = basic_info_file(name, address, birth.strftime("%Y%m%d"), sex, long_form=long_form)
    info = parse_basic_info(raw + b"\xff" * 8)
    assert (info.name, info.address, info.birth_date, info.sex) == (name, address, birth, Sex(sex))


def test_card_data_errors_are_communication_errors() -> None:
    from jpki_sdk.errors import CardCommunicationError

    for cls in (TextDataFormatError, TokenInfoFormatError, CertificateFormatError):
        assert issubclass(cls, CardDataError) and issubclass(cls, CardCommunicationError)
