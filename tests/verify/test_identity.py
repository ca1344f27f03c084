"""Identity attributes from the signature certificate's SAN, and the legal age rule."""

from __future__ import annotations

import datetime as dt
import logging

import pytest
from chains import (
    DEFAULT_IDENTITY,
    SAN_ADDRESS,
    SAN_ADDRESS_SUBSTITUTES,
    SAN_BIRTH_DATE,
    SAN_NAME,
    SAN_NAME_SUBSTITUTES,
    SAN_SEX,
    ChainFactory,
    identity_san,
    utf8_other_name,
)
from cryptography import x509

from jpki_sdk.verify import (
    Era,
    Identity,
    IdentityAttributeError,
    IdentityAttributeMalformedError,
    IdentityAttributeMissingError,
    Purpose,
    Sex,
    identity_from_certificate,
    identity_from_san,
)

ATTRIBUTE_OF = {
    SAN_NAME: "name",
    SAN_NAME_SUBSTITUTES: "name_substitutes",
    SAN_SEX: "sex",
    SAN_BIRTH_DATE: "birth_date",
    SAN_ADDRESS: "address",
    SAN_ADDRESS_SUBSTITUTES: "address_substitutes",
}


def _san(
    values: dict[str, str] | None = None, extra: list[x509.GeneralName] | None = None
) -> bytes:
    return identity_san(values, extra or []).public_bytes()


def _identity(birth: dt.date) -> Identity:
    return Identity(
        name="試験\u3000太郎",
        name_substitutes="00000",
        address="東京都",
        address_substitutes="000",
        birth_date=birth,
        sex=Sex.MALE,
    )


def test_identity_from_certificate(chains: ChainFactory) -> None:
    identity = identity_from_certificate(chains.ee(Purpose.SIGN))
    assert identity.name == "試験\u3000花子"
    assert identity.name_substitutes == "00000"
    assert not identity.name_has_substitutes
    assert identity.address == "東京都千代田区試験町１－２－３"
    assert identity.birth_date == dt.date(1980, 2, 17)
    assert identity.birth_era is Era.SHOWA
    assert identity.sex is Sex.FEMALE and identity.sex == "2"
    assert identity.extra == ()


def test_real_card_order_and_any_order_give_the_same_identity() -> None:
    forward = identity_san()
    reversed_der = x509.SubjectAlternativeName(list(reversed(list(forward)))).public_bytes()
    assert reversed_der != forward.public_bytes()
    assert identity_from_san(reversed_der) == identity_from_san(forward.public_bytes())


def test_octet_string_values_are_tolerated() -> None:
    names: list[x509.GeneralName] = []
    for oid, text in DEFAULT_IDENTITY.items():
        data = text.encode("utf-8")
        names.append(x509.OtherName(x509.ObjectIdentifier(oid), b"\x04" + _len(data) + data))
    identity = identity_from_san(x509.SubjectAlternativeName(names).public_bytes())
    assert identity.name == DEFAULT_IDENTITY[SAN_NAME]


def _len(data: bytes) -> bytes:
    return bytes([len(data)]) if len(data) < 0x80 else bytes([0x81, len(data)])


def test_unknown_entries_are_kept_and_masked() -> None:
    extra: list[x509.GeneralName] = [
        utf8_other_name("1.2.392.200149.8.5.5.7", "シケン　ハナコ"),
        x509.RFC822Name("someone@example.invalid"),
        x509.OtherName(x509.ObjectIdentifier("1.2.3.4"), b"\x02\x01\x05"),
    ]
    identity = identity_from_san(_san(extra=extra))
    kinds = [(e.kind, e.type_id) for e in identity.extra]
    assert kinds == [
        ("otherName", "1.2.392.200149.8.5.5.7"),
        ("rfc822Name", None),
        ("otherName", "1.2.3.4"),
    ]
    assert identity.extra[0].value == "シケン　ハナコ"
    assert identity.extra[1].value == "someone@example.invalid"
    assert isinstance(identity.extra[2].value, bytes)
    assert "シケン" not in repr(identity) and "someone" not in repr(identity.extra)
    assert identity.to_dict()["extra"][0]["value"] == "<masked>"
    assert identity.to_dict(reveal=True)["extra"][0]["value"] == "シケン　ハナコ"


@pytest.mark.parametrize("oid", list(ATTRIBUTE_OF))
def test_each_missing_attribute_is_named(oid: str) -> None:
    values = {k: v for k, v in DEFAULT_IDENTITY.items() if k != oid}
    with pytest.raises(IdentityAttributeMissingError) as info:
        identity_from_san(_san(values))
    assert info.value.attribute == ATTRIBUTE_OF[oid]
    assert info.value.code == "identity_attribute_missing"


@pytest.mark.parametrize(
    ("oid", "value"),
    [
        (SAN_BIRTH_DATE, "31980021"),  # 8 digits
        (SAN_BIRTH_DATE, "319800230"),  # February 30
        (SAN_BIRTH_DATE, "419800217"),  # 平成 digit for a 昭和 date
        (SAN_BIRTH_DATE, "719800217"),  # no such era
        (SAN_BIRTH_DATE, "３19800217"),  # full-width digit
        (SAN_SEX, "5"),
        (SAN_SEX, ""),
        (SAN_NAME, ""),
        (SAN_NAME, "試験\x00太郎"),
        (SAN_ADDRESS, "東" * 201),
        (SAN_NAME_SUBSTITUTES, "0a0"),
        (SAN_ADDRESS_SUBSTITUTES, ""),
    ],
)
def test_malformed_attribute_is_named_without_its_value(oid: str, value: str) -> None:
    values = dict(DEFAULT_IDENTITY)
    values[oid] = value
    with pytest.raises(IdentityAttributeMalformedError) as info:
        identity_from_san(_san(values))
    assert info.value.attribute == ATTRIBUTE_OF[oid]
    assert info.value.code == "identity_attribute_malformed"
    if value.strip("\x00"):
        assert value not in str(info.value)
    assert DEFAULT_IDENTITY[SAN_ADDRESS] not in str(info.value)


def test_duplicate_attribute_is_malformed() -> None:
    extra: list[x509.GeneralName] = [utf8_other_name(SAN_NAME, "別人")]
    with pytest.raises(IdentityAttributeMalformedError) as info:
        identity_from_san(_san(extra=extra))
    assert info.value.attribute == "name"


def test_non_text_value_is_malformed() -> None:
    names = [utf8_other_name(oid, v) for oid, v in DEFAULT_IDENTITY.items() if oid != SAN_SEX] + [
        x509.OtherName(x509.ObjectIdentifier(SAN_SEX), b"\x02\x01\x01")
    ]
    with pytest.raises(IdentityAttributeMalformedError) as info:
        identity_from_san(x509.SubjectAlternativeName(names).public_bytes())
    assert info.value.attribute == "sex"


def test_not_general_names_is_malformed_san() -> None:
    for junk in (b"", b"\x30\x03\x02\x01\x01", b"\x04\x00", b"\x30\x80\x00\x00", b"\x30\x00"):
        with pytest.raises(IdentityAttributeError) as info:
            identity_from_san(junk)
        assert info.value.attribute == "subjectAltName"


def test_certificate_without_san(chains: ChainFactory) -> None:
    with pytest.raises(IdentityAttributeMissingError) as info:
        identity_from_certificate(chains.ee(Purpose.AUTH))
    assert info.value.attribute == "subjectAltName"


def test_era_zero_accepts_any_date_and_eras_match_boundaries() -> None:
    for value, era in (
        ("018600101", Era.UNKNOWN),
        ("319890107", Era.SHOWA),
        ("419890108", Era.HEISEI),
        ("420190430", Era.HEISEI),
        ("520190501", Era.REIWA),
        ("219120730", Era.TAISHO),
        ("119120729", Era.MEIJI),
    ):
        values = dict(DEFAULT_IDENTITY)
        values[SAN_BIRTH_DATE] = value
        assert identity_from_san(_san(values)).birth_era is era


def test_substitute_flags(caplog: pytest.LogCaptureFixture) -> None:
    values = dict(DEFAULT_IDENTITY)
    values[SAN_NAME_SUBSTITUTES] = "01000"
    values[SAN_ADDRESS_SUBSTITUTES] = "0"  # length differs from the address: tolerated, logged
    with caplog.at_level(logging.INFO):
        identity = identity_from_san(_san(values))
    assert identity.name_has_substitutes and not identity.address_has_substitutes
    assert "substitute flags" in caplog.text
    assert DEFAULT_IDENTITY[SAN_ADDRESS] not in caplog.text


def test_repr_and_dict_mask_personal_data() -> None:
    identity = identity_from_san(_san())
    for text in (repr(identity), str(identity), str(identity.to_dict())):
        assert "試験" not in text and "1980" not in text and "東京都" not in text
    revealed = identity.to_dict(reveal=True)
    assert revealed["name"] == "試験\u3000花子"
    assert revealed["birth_date"] == "1980-02-17"
    assert revealed["sex"] == "2"
    assert revealed["birth_era"] == "showa"


# --------------------------------------------------------------------------- age


def test_born_on_april_first_turns_n_on_march_31() -> None:
    person = _identity(dt.date(2006, 4, 1))
    assert person.is_at_least(18, on=dt.date(2024, 3, 31))
    assert not person.is_at_least(18, on=dt.date(2024, 3, 30))
    assert person.age_on(dt.date(2024, 3, 31)) == 18
    assert person.age_on(dt.date(2024, 3, 30)) == 17


def test_born_on_february_29() -> None:
    person = _identity(dt.date(2004, 2, 29))
    # common year: the anniversary is March 1, the age is attained on February 28
    assert person.is_at_least(21, on=dt.date(2025, 2, 28))
    assert not person.is_at_least(21, on=dt.date(2025, 2, 27))
    # leap year: the anniversary is February 29, the age is attained on February 28
    assert person.is_at_least(20, on=dt.date(2024, 2, 28))
    assert not person.is_at_least(20, on=dt.date(2024, 2, 27))
    assert person.age_on(dt.date(2025, 2, 28)) == 21
    assert person.age_on(dt.date(2025, 2, 27)) == 20


def test_ordinary_birthday_eve_rule() -> None:
    person = _identity(dt.date(1980, 2, 17))
    assert person.is_at_least(20, on=dt.date(2000, 2, 16))
    assert not person.is_at_least(20, on=dt.date(2000, 2, 15))
    assert person.is_at_least(0, on=dt.date(1980, 2, 17))
    assert person.age_on(dt.date(1980, 2, 17)) == 0
    assert person.age_on(dt.date(2025, 6, 1)) == 45


def test_age_argument_errors() -> None:
    person = _identity(dt.date(1980, 2, 17))
    with pytest.raises(TypeError):
        person.is_at_least(True, on=dt.date(2025, 1, 1))
    with pytest.raises(TypeError):
        person.is_at_least(20, on=dt.datetime(2025, 1, 1))  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        person.is_at_least(-1, on=dt.date(2025, 1, 1))
    with pytest.raises(ValueError):
        person.age_on(dt.date(1970, 1, 1))
    with pytest.raises(TypeError):
        identity_from_san("not bytes")  # type: ignore[arg-type]
