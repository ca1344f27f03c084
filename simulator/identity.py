"""Test identities: generated fake people (or explicit ones) for simulated cards.

An :class:`Identity` holds the 基本4情報 (name, address, birth date, sex) as the signature
certificate and the text AP carry them, the 個人番号 (12 digits with a valid check digit, spec
§4.5) and the issuing municipality (5-digit code and the romaji forms used in certificate names
and CRL distribution points).

Personal data never shows in ``repr()``/``str()``: a test failure that prints an identity must
not leak it into CI logs, even though generated identities describe nobody.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import logging
import re
import unicodedata
from dataclasses import dataclass, field, fields
from typing import Any

from simulator.keys import DeterministicRandom
from simulator.names import (
    FAMILY_NAMES,
    GIVEN_NAMES_FEMALE,
    GIVEN_NAMES_MALE,
    MUNICIPALITIES,
    TOWN_NAMES,
    municipality_by_code,
)

__all__ = [
    "IDEOGRAPHIC_SPACE",
    "SEX_FEMALE",
    "SEX_MALE",
    "SEX_NOT_APPLICABLE",
    "Identity",
    "birthday_in_year",
    "jpki_birth_date",
    "my_number_check_digit",
    "to_fullwidth",
    "validate_my_number",
]

logger = logging.getLogger(__name__)

IDEOGRAPHIC_SPACE = "\u3000"
SEX_MALE = "1"
SEX_FEMALE = "2"
SEX_NOT_APPLICABLE = "9"
_SEXES = (SEX_MALE, SEX_FEMALE, SEX_NOT_APPLICABLE)

#: Weights for the first 11 digits of the 個人番号, left to right (spec §4.5).
_MY_NUMBER_WEIGHTS = (6, 5, 4, 3, 2, 7, 6, 5, 4, 3, 2)

_ASCII_DIGITS = re.compile(r"^[0-9]+$")
_MAX_ADDRESS_CHARS = 200  # spec §5.3: 住所 max 200 characters
_MAX_NAME_PART_CHARS = 50

# Era starts (first day of each era) and the JPKI era digit (spec §5.3, 生年月日 `EYYYYMMDD`).
_ERAS: tuple[tuple[_dt.date, str], ...] = (
    (_dt.date(2019, 5, 1), "5"),  # 令和
    (_dt.date(1989, 1, 8), "4"),  # 平成
    (_dt.date(1926, 12, 25), "3"),  # 昭和
    (_dt.date(1912, 7, 30), "2"),  # 大正
    (_dt.date(1868, 10, 23), "1"),  # 明治
)

_DEFAULT_BIRTH_RANGE = (_dt.date(1935, 1, 1), _dt.date(2008, 12, 31))


def my_number_check_digit(first11: str) -> int:
    """The check digit of a 個人番号 from its first 11 digits (spec §4.5).

    ``11 - (sum(d_i * w_i) mod 11)``, or 0 when the remainder is 0 or 1, with weights
    6 5 4 3 2 7 6 5 4 3 2.
    """
    if not isinstance(first11, str):
        raise TypeError("first11 must be a str of 11 ASCII digits")
    if len(first11) != 11 or not _ASCII_DIGITS.match(first11):
        raise ValueError("first11 must be exactly 11 ASCII digits")
    remainder = sum(int(d) * w for d, w in zip(first11, _MY_NUMBER_WEIGHTS, strict=True)) % 11
    return 0 if remainder <= 1 else 11 - remainder


def validate_my_number(my_number: str) -> str:
    """Return ``my_number`` if it is 12 ASCII digits with a valid check digit, else ValueError.

    The error message never contains the number itself.
    """
    if not isinstance(my_number, str):
        raise TypeError("my_number must be a str of 12 ASCII digits")
    if len(my_number) != 12 or not _ASCII_DIGITS.match(my_number):
        raise ValueError("my_number must be exactly 12 ASCII digits")
    expected = my_number_check_digit(my_number[:11])
    if int(my_number[11]) != expected:
        raise ValueError(
            "my_number has an invalid check digit (the 12th digit must equal the §4.5 "
            "check digit of the first 11)"
        )
    return my_number


def jpki_birth_date(birth_date: _dt.date) -> str:
    """The signature certificate's 生年月日 value: era digit + Gregorian YYYYMMDD.

    Era digits: 1 明治, 2 大正, 3 昭和, 4 平成, 5 令和, 0 不明 (before 明治).
    1980-02-17 -> ``319800217``.
    """
    if not isinstance(birth_date, _dt.date) or isinstance(birth_date, _dt.datetime):
        raise TypeError("birth_date must be a datetime.date")
    era = "0"
    for start, digit in _ERAS:
        if birth_date >= start:
            era = digit
            break
    return f"{era}{birth_date:%Y%m%d}"


_FULLWIDTH = {ord(c): chr(ord(c) + 0xFEE0) for c in "0123456789"}
_FULLWIDTH[ord("-")] = "\uff0d"  # FULLWIDTH HYPHEN-MINUS －
_FULLWIDTH[ord(" ")] = IDEOGRAPHIC_SPACE


def to_fullwidth(text: str) -> str:
    """ASCII digits, ``-`` and space to their full-width forms (as addresses carry them)."""
    return text.translate(_FULLWIDTH)


def _check_text(label: str, value: object, *, max_chars: int, allow_space: bool) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{label} must be a str")
    if not value:
        raise ValueError(f"{label} must not be empty")
    if len(value) > max_chars:
        raise ValueError(f"{label} is longer than {max_chars} characters")
    for ch in value:
        if ord(ch) < 0x80:
            raise ValueError(
                f"{label} must be written in full-width characters (found an ASCII character;"
                " to_fullwidth() converts digits and hyphens)"
            )
        cat = unicodedata.category(ch)
        if cat.startswith("C"):
            raise ValueError(f"{label} contains a control or unassigned character")
        if cat.startswith("Z") and not (allow_space and ch == IDEOGRAPHIC_SPACE):
            raise ValueError(f"{label} contains a space character")
    return value


def _check_flags(label: str, flags: str, length: int) -> str:
    if not isinstance(flags, str):
        raise TypeError(f"{label} must be a str of '0'/'1' flags")
    if len(flags) != length or any(c not in "01" for c in flags):
        raise ValueError(
            f"{label} must be {length} characters of '0' (normal) or '1' (substitute),"
            " one per character"
        )
    return flags


@dataclass(frozen=True, repr=False)
class Identity:
    """A (fake) card holder.

    ``name`` is ``family_name + U+3000 + given_name``. ``address`` starts with the prefecture
    and uses full-width digits and ``－``. ``sex`` is ``"1"`` male, ``"2"`` female or ``"9"``
    not applicable. ``my_number`` is 12 digits with a valid check digit. The romaji forms of
    the prefecture and municipality are filled from the built-in table when left empty.
    ``name_substitutes`` / ``address_substitutes`` are the certificate's substitute-character
    flags (one ``0``/``1`` per character); empty means all ``0``.
    """

    family_name: str
    given_name: str
    address: str
    birth_date: _dt.date
    sex: str
    my_number: str
    municipality_code: str
    prefecture_romaji: str = ""
    municipality_romaji: str = ""
    name_substitutes: str = field(default="")
    address_substitutes: str = field(default="")

    def __post_init__(self) -> None:
        _check_text(
            "family_name", self.family_name, max_chars=_MAX_NAME_PART_CHARS, allow_space=False
        )
        _check_text("given_name", self.given_name, max_chars=_MAX_NAME_PART_CHARS, allow_space=True)
        _check_text("address", self.address, max_chars=_MAX_ADDRESS_CHARS, allow_space=True)
        if not isinstance(self.birth_date, _dt.date) or isinstance(self.birth_date, _dt.datetime):
            raise TypeError("birth_date must be a datetime.date")
        if self.sex not in _SEXES:
            raise ValueError("sex must be '1' (male), '2' (female) or '9' (not applicable)")
        validate_my_number(self.my_number)
        if (
            not isinstance(self.municipality_code, str)
            or len(self.municipality_code) != 5
            or not _ASCII_DIGITS.match(self.municipality_code)
        ):
            raise ValueError("municipality_code must be exactly 5 ASCII digits")
        if not self.prefecture_romaji or not self.municipality_romaji:
            known = municipality_by_code(self.municipality_code)
            if known is None:
                raise ValueError(
                    f"municipality code {self.municipality_code} is not in the built-in table:"
                    " give prefecture_romaji and municipality_romaji explicitly"
                )
            if not self.prefecture_romaji:
                object.__setattr__(self, "prefecture_romaji", known.prefecture_romaji)
            if not self.municipality_romaji:
                object.__setattr__(self, "municipality_romaji", known.romaji)
        for label in ("prefecture_romaji", "municipality_romaji"):
            value = getattr(self, label)
            if not isinstance(value, str) or not value.isascii() or not value.isprintable():
                raise ValueError(f"{label} must be printable ASCII (e.g. 'Kanagawa-ken')")
            if len(value) > 64:
                raise ValueError(f"{label} is longer than 64 characters")
        name_len = len(self.name)
        object.__setattr__(
            self,
            "name_substitutes",
            _check_flags("name_substitutes", self.name_substitutes or "0" * name_len, name_len),
        )
        addr_len = len(self.address)
        object.__setattr__(
            self,
            "address_substitutes",
            _check_flags(
                "address_substitutes", self.address_substitutes or "0" * addr_len, addr_len
            ),
        )

    # -- derived values -------------------------------------------------------------------

    @property
    def name(self) -> str:
        """氏名: family name, U+3000, given name."""
        return f"{self.family_name}{IDEOGRAPHIC_SPACE}{self.given_name}"

    @property
    def jpki_birth_date(self) -> str:
        """生年月日 as the signature certificate encodes it (era digit + YYYYMMDD)."""
        return jpki_birth_date(self.birth_date)

    # -- (de)serialisation ---------------------------------------------------------------

    def to_dict(self) -> dict[str, str]:
        """Plain JSON-able form (contains personal data: for state files, not for logs)."""
        out: dict[str, str] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            out[f.name] = value.isoformat() if isinstance(value, _dt.date) else value
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Identity:
        """Inverse of :meth:`to_dict`; validates like the constructor."""
        if not isinstance(data, dict):
            raise TypeError("identity data must be a dict")
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown identity fields: {sorted(unknown)}")
        kwargs = dict(data)
        try:
            kwargs["birth_date"] = _dt.date.fromisoformat(str(data["birth_date"]))
        except KeyError:
            raise ValueError("identity data has no birth_date") from None
        except ValueError:
            raise ValueError("identity birth_date is not an ISO date (YYYY-MM-DD)") from None
        try:
            return cls(**kwargs)
        except TypeError as exc:
            raise ValueError(f"incomplete identity data: {exc}") from None

    # -- masking -------------------------------------------------------------------------

    def __repr__(self) -> str:
        return (
            "Identity(name=<masked>, address=<masked>, birth_date=<masked>, sex=<masked>, "
            f"my_number=<masked>, municipality_code={self.municipality_code!r}, "
            f"municipality={self.prefecture_romaji}/{self.municipality_romaji})"
        )

    __str__ = __repr__

    # -- generation ----------------------------------------------------------------------

    @classmethod
    def generate(
        cls,
        seed: int,
        *,
        municipality_code: str | None = None,
        sex: str | None = None,
        birth_date: _dt.date | None = None,
    ) -> Identity:
        """A fake person determined by ``seed`` (same seed -> same person, in any process).

        Optional overrides fix the municipality (a code from the built-in table), the sex or
        the birth date; the rest still comes from the seed.
        """
        if not isinstance(seed, int) or isinstance(seed, bool):
            raise TypeError("seed must be an int")
        rng = DeterministicRandom(
            hashlib.sha256(f"jpki-sim/identity/{seed}".encode()).digest(), b"identity"
        )

        def pick(options: tuple[str, ...]) -> str:
            return options[rng.randbelow(len(options))]

        if municipality_code is None:
            muni = MUNICIPALITIES[rng.randbelow(len(MUNICIPALITIES))]
        else:
            found = municipality_by_code(municipality_code)
            if found is None:
                raise ValueError(
                    f"municipality code {municipality_code!r} is not in the built-in table"
                )
            muni = found
        chosen_sex = sex if sex is not None else (SEX_MALE if rng.randbelow(2) == 0 else SEX_FEMALE)
        if chosen_sex not in _SEXES:
            raise ValueError("sex must be '1' (male), '2' (female) or '9' (not applicable)")
        family = pick(FAMILY_NAMES)
        if chosen_sex == SEX_MALE:
            given = pick(GIVEN_NAMES_MALE)
        elif chosen_sex == SEX_FEMALE:
            given = pick(GIVEN_NAMES_FEMALE)
        else:
            given = pick(GIVEN_NAMES_MALE + GIVEN_NAMES_FEMALE)
        start, end = _DEFAULT_BIRTH_RANGE
        born = birth_date or start + _dt.timedelta(days=rng.randbelow((end - start).days + 1))
        town = pick(TOWN_NAMES)
        chome = 1 + rng.randbelow(9)
        ban = 1 + rng.randbelow(40)
        go = 1 + rng.randbelow(30)
        dashed = rng.randbelow(2) == 1
        street = f"{chome}-{ban}-{go}" if dashed else f"{chome}丁目{ban}番{go}号"
        address = muni.prefecture + muni.name + town + to_fullwidth(street)
        first11 = str(1 + rng.randbelow(9)) + "".join(str(rng.randbelow(10)) for _ in range(10))
        my_number = first11 + str(my_number_check_digit(first11))
        return cls(
            family_name=family,
            given_name=given,
            address=address,
            birth_date=born,
            sex=chosen_sex,
            my_number=my_number,
            municipality_code=muni.code,
            prefecture_romaji=muni.prefecture_romaji,
            municipality_romaji=muni.romaji,
        )


def birthday_in_year(birth_date: _dt.date, year: int) -> _dt.date:
    """The holder's birthday in ``year``; 29 February maps to 28 February in common years.

    Used for the certificate end date (23:59:59 JST on a birthday). For a 29 February
    birthday in a common year the simulator ends the certificate on 28 February: the last day
    of that month, so the certificate never outlives the date a real one could end on.
    """
    try:
        return birth_date.replace(year=year)
    except ValueError:
        return _dt.date(year, 2, 28)
