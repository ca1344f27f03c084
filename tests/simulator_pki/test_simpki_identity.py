"""Generated and explicit test identities, the 個人番号 check digit and the birth-date code."""

from __future__ import annotations

import datetime as dt
import string

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simulator.identity import (
    IDEOGRAPHIC_SPACE,
    Identity,
    jpki_birth_date,
    my_number_check_digit,
    to_fullwidth,
    validate_my_number,
)
from simulator.names import MUNICIPALITIES, PREFECTURES

digits11 = st.text(alphabet=string.digits, min_size=11, max_size=11)


def _explicit(**overrides: object) -> Identity:
    values: dict[str, object] = {
        "family_name": "試験",
        "given_name": "花子",
        "address": "東京都清瀬市中央１－２－３",
        "birth_date": dt.date(1980, 2, 17),
        "sex": "2",
        "my_number": "537686677188",
        "municipality_code": "13221",
    }
    values.update(overrides)
    return Identity(**values)  # type: ignore[arg-type]


def test_check_digit_matches_the_spec_example() -> None:
    # spec §4.5: the test card's number 537686677188 has check digit 8
    assert my_number_check_digit("53768667718") == 8
    assert validate_my_number("537686677188") == "537686677188"


def test_check_digit_remainders_zero_and_one_give_zero() -> None:
    assert my_number_check_digit("00000000000") == 0  # sum 0: remainder 0 -> 0
    assert my_number_check_digit("20000000000") == 0  # 2*6 = 12: remainder 1 -> 0
    assert my_number_check_digit("00000000001") == 9  # 1*2 = 2: 11 - 2
    assert my_number_check_digit("00000000010") == 8  # 1*3 = 3: 11 - 3


@given(digits11)
def test_check_digit_validates_and_every_other_last_digit_fails(first11: str) -> None:
    check = my_number_check_digit(first11)
    assert 0 <= check <= 9
    validate_my_number(first11 + str(check))
    for other in set(range(10)) - {check}:
        with pytest.raises(ValueError, match="check digit"):
            validate_my_number(first11 + str(other))


@given(st.text(max_size=14))
def test_validate_my_number_rejects_anything_malformed(text: str) -> None:
    if len(text) == 12 and text.isascii() and text.isdigit():
        return  # well-formed input is covered by the property above
    with pytest.raises(ValueError):
        validate_my_number(text)


@pytest.mark.parametrize(
    "bad", ["5376866771", "53768667718x", "５３７６８６６７７１８８", " 537686677188"]
)
def test_check_digit_input_errors(bad: str) -> None:
    with pytest.raises(ValueError):
        validate_my_number(bad)


def test_check_digit_type_errors() -> None:
    with pytest.raises(TypeError):
        my_number_check_digit(53768667718)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        validate_my_number(537686677188)  # type: ignore[arg-type]


def test_bad_check_digit_error_does_not_leak_the_number() -> None:
    with pytest.raises(ValueError, match="check digit") as info:
        _explicit(my_number="537686677189")
    assert "53768667718" not in str(info.value)


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        (dt.date(1980, 2, 17), "319800217"),  # spec §5.3 test card
        (dt.date(1868, 10, 22), "018681022"),
        (dt.date(1868, 10, 23), "118681023"),
        (dt.date(1912, 7, 29), "119120729"),
        (dt.date(1912, 7, 30), "219120730"),
        (dt.date(1926, 12, 24), "219261224"),
        (dt.date(1926, 12, 25), "319261225"),
        (dt.date(1989, 1, 7), "319890107"),
        (dt.date(1989, 1, 8), "419890108"),
        (dt.date(2019, 4, 30), "420190430"),
        (dt.date(2019, 5, 1), "520190501"),
    ],
)
def test_birth_date_code_era_boundaries(day: dt.date, expected: str) -> None:
    assert jpki_birth_date(day) == expected


def test_birth_date_code_rejects_datetimes() -> None:
    with pytest.raises(TypeError):
        jpki_birth_date(dt.datetime(1980, 2, 17))  # type: ignore[arg-type]


def test_explicit_identity_fills_romaji_from_the_table() -> None:
    ident = _explicit()
    assert ident.name == "試験\u3000花子"
    assert ident.prefecture_romaji == "Tokyo-to"
    assert ident.municipality_romaji == "Kiyose-shi"
    assert ident.name_substitutes == "00000"
    assert ident.address_substitutes == "0" * len(ident.address)
    assert ident.jpki_birth_date == "319800217"


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"family_name": ""}, "family_name must not be empty"),
        ({"family_name": "試\u3000験"}, "space"),
        ({"given_name": "Hanako"}, "full-width"),
        ({"address": "東京都清瀬市中央1-2-3"}, "full-width"),
        ({"address": "東" * 201}, "longer than 200"),
        ({"address": "東京都\n清瀬市"}, "full-width"),
        ({"sex": "3"}, "sex"),
        ({"municipality_code": "1322"}, "5 ASCII digits"),
        ({"municipality_code": "99999"}, "not in the built-in table"),
        ({"name_substitutes": "0000"}, "name_substitutes"),
        ({"address_substitutes": "2" * 13}, "address_substitutes"),
        ({"prefecture_romaji": "東京都"}, "printable ASCII"),
    ],
)
def test_explicit_identity_validation(overrides: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        _explicit(**overrides)


def test_explicit_identity_type_errors() -> None:
    with pytest.raises(TypeError):
        _explicit(birth_date=dt.datetime(1980, 2, 17))
    with pytest.raises(TypeError):
        _explicit(birth_date="1980-02-17")


def test_unknown_municipality_with_explicit_romaji_is_accepted() -> None:
    ident = _explicit(
        municipality_code="99999", prefecture_romaji="Test-ken", municipality_romaji="Test-shi"
    )
    assert ident.municipality_romaji == "Test-shi"


def test_substitute_flags_are_kept() -> None:
    ident = _explicit(name_substitutes="01000")
    assert ident.name_substitutes == "01000"


def test_repr_and_str_mask_personal_data() -> None:
    ident = _explicit()
    for text in (repr(ident), str(ident), f"{ident}", repr([ident])):
        for secret in ("試験", "花子", "清瀬市中央", "1980", "537686677188", "19800217"):
            assert secret not in text
        assert "13221" in text  # the municipality code is not personal data


def test_to_dict_round_trip_and_errors() -> None:
    ident = Identity.generate(3)
    data = ident.to_dict()
    assert Identity.from_dict(data) == ident
    with pytest.raises(ValueError, match="unknown identity fields"):
        Identity.from_dict({**data, "extra": "x"})
    with pytest.raises(ValueError, match="ISO date"):
        Identity.from_dict({**data, "birth_date": "17/02/1980"})
    missing = dict(data)
    del missing["sex"]
    with pytest.raises(ValueError, match="incomplete"):
        Identity.from_dict(missing)
    with pytest.raises(ValueError, match="check digit"):
        Identity.from_dict({**data, "my_number": "537686677189"})
    with pytest.raises(TypeError):
        Identity.from_dict([("a", "b")])  # type: ignore[arg-type]


def test_generate_is_deterministic_and_seeds_differ() -> None:
    assert Identity.generate(5) == Identity.generate(5)
    people = {Identity.generate(s).my_number for s in range(50)}
    assert len(people) == 50


def test_generate_overrides() -> None:
    ident = Identity.generate(
        9, municipality_code="14104", sex="9", birth_date=dt.date(2000, 2, 29)
    )
    assert ident.municipality_code == "14104"
    assert ident.municipality_romaji == "Yokohama-shi-Naka-ku"
    assert ident.prefecture_romaji == "Kanagawa-ken"
    assert ident.address.startswith("神奈川県横浜市中区")
    assert ident.sex == "9"
    assert ident.birth_date == dt.date(2000, 2, 29)
    with pytest.raises(ValueError, match="not in the built-in table"):
        Identity.generate(1, municipality_code="00000")
    with pytest.raises(ValueError, match="sex"):
        Identity.generate(1, sex="5")
    with pytest.raises(TypeError):
        Identity.generate("1")  # type: ignore[arg-type]


@settings(max_examples=200)
@given(st.integers(min_value=-(2**64), max_value=2**64))
def test_generated_identities_are_well_formed(seed: int) -> None:
    ident = Identity.generate(seed)
    validate_my_number(ident.my_number)
    assert ident.my_number[0] != "0"
    assert IDEOGRAPHIC_SPACE in ident.name
    assert ident.name.split(IDEOGRAPHIC_SPACE, 1) == [ident.family_name, ident.given_name]
    assert any(ident.address.startswith(p) for p in PREFECTURES)
    assert all(ord(c) >= 0x80 for c in ident.address)  # full-width digits and hyphens
    assert ident.sex in ("1", "2")
    assert dt.date(1935, 1, 1) <= ident.birth_date <= dt.date(2008, 12, 31)
    muni = next(m for m in MUNICIPALITIES if m.code == ident.municipality_code)
    assert ident.address.startswith(muni.prefecture + muni.name)
    assert ident.prefecture_romaji == muni.prefecture_romaji
    assert Identity.from_dict(ident.to_dict()) == ident
    assert ident.my_number not in repr(ident)


def test_to_fullwidth() -> None:
    assert to_fullwidth("1-23 4") == "１－２３\u3000４"
    assert to_fullwidth("丁目") == "丁目"


def test_municipality_table_is_consistent() -> None:
    codes = [m.code for m in MUNICIPALITIES]
    assert len(codes) == len(set(codes))
    for m in MUNICIPALITIES:
        assert len(m.code) == 5 and m.code.isdigit()
        assert m.prefecture in PREFECTURES
        # the first two digits are the prefecture's number in the standard order
        assert PREFECTURES.index(m.prefecture) + 1 == int(m.code[:2])
        assert m.romaji.isascii() and m.prefecture_romaji.isascii()


identity_fields = st.fixed_dictionaries(
    {},
    optional={
        "family_name": st.text(max_size=6),
        "given_name": st.text(max_size=6),
        "address": st.text(max_size=10),
        "birth_date": st.dates() | st.text(max_size=10) | st.none(),
        "sex": st.text(max_size=2),
        "my_number": st.text(alphabet=string.digits, max_size=13),
        "municipality_code": st.text(alphabet=string.digits, max_size=6),
        "prefecture_romaji": st.text(max_size=8),
        "municipality_romaji": st.text(max_size=8),
        "name_substitutes": st.text(alphabet="012", max_size=6),
        "address_substitutes": st.text(alphabet="012", max_size=10),
    },
)


@settings(max_examples=300)
@given(identity_fields)
def test_any_explicit_identity_is_valid_or_a_clear_error(changes: dict[str, object]) -> None:
    try:
        ident = _explicit(**changes)
    except (ValueError, TypeError):
        return
    # Whatever was accepted is well formed.
    validate_my_number(ident.my_number)
    assert len(ident.name_substitutes) == len(ident.name)
    assert len(ident.address_substitutes) == len(ident.address)
    assert Identity.from_dict(ident.to_dict()) == ident


@given(
    st.dictionaries(
        st.sampled_from([*_explicit().to_dict(), "other"]),
        st.text(max_size=12) | st.integers() | st.none(),
        max_size=4,
    )
)
def test_from_dict_gives_an_identity_or_a_clear_error(changes: dict[str, object]) -> None:
    data = {**_explicit().to_dict(), **changes}
    try:
        ident = Identity.from_dict(data)
    except (ValueError, TypeError):
        return
    assert Identity.from_dict(ident.to_dict()) == ident
