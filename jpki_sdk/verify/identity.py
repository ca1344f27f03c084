"""Identity attributes (基本4情報) from the signature certificate's subjectAltName (spec §5.3).

The SAN holds six otherNames, each ``[0] { type-id OID, [0] EXPLICIT UTF8String }`` (an OCTET
STRING holding UTF-8 is tolerated):

========================== ======================================================
``1.2.392.200149.8.5.5.1`` 氏名 name (family and given name separated by U+3000)
``…5.5.2``                 name substitute-character flags (``0``/``1`` per character)
``…5.5.3``                 性別 sex (``1`` male, ``2`` female, ``9``/``3``/``0`` other codes)
``…5.5.4``                 生年月日 birth date: era digit + Gregorian ``YYYYMMDD``
``…5.5.5``                 住所 address (max 200 characters)
``…5.5.6``                 address substitute-character flags
========================== ======================================================

Any other SAN entry (future furigana, 旧氏, ...) is kept in :attr:`Identity.extra`. A missing,
duplicated or malformed attribute raises :class:`IdentityAttributeMissingError` /
:class:`IdentityAttributeMalformedError` naming the attribute, never its value. Personal data
is masked in ``repr()``/``str()`` and in :meth:`Identity.to_dict` unless ``reveal=True``.

Ages follow 年齢計算ニ関スル法律 and 民法 §143: a person attains an age at the end of the day
before the anniversary of their birth, so on the eve of their N-th birthday they are N (born
on April 1: N on March 31; born on February 29: N on February 28 of a common year).
"""

from __future__ import annotations

import datetime as _dt
import enum
import logging
import unicodedata
from dataclasses import dataclass
from typing import Any

from asn1crypto import core as asn1_core
from asn1crypto import x509 as asn1_x509
from cryptography import x509

from jpki_sdk.verify.errors import (
    IdentityAttributeMalformedError,
    IdentityAttributeMissingError,
)
from jpki_sdk.verify.profiles import OID_SUBJECT_ALT_NAME, CertificateFacts, check_der

__all__ = [
    "OID_ADDRESS",
    "OID_ADDRESS_SUBSTITUTES",
    "OID_BIRTH_DATE",
    "OID_NAME",
    "OID_NAME_SUBSTITUTES",
    "OID_SEX",
    "Era",
    "Identity",
    "SanEntry",
    "Sex",
    "identity_from_certificate",
    "identity_from_san",
]

logger = logging.getLogger(__name__)

OID_NAME = "1.2.392.200149.8.5.5.1"
OID_NAME_SUBSTITUTES = "1.2.392.200149.8.5.5.2"
OID_SEX = "1.2.392.200149.8.5.5.3"
OID_BIRTH_DATE = "1.2.392.200149.8.5.5.4"
OID_ADDRESS = "1.2.392.200149.8.5.5.5"
OID_ADDRESS_SUBSTITUTES = "1.2.392.200149.8.5.5.6"

_ATTRIBUTES = {
    OID_NAME: "name",
    OID_NAME_SUBSTITUTES: "name_substitutes",
    OID_SEX: "sex",
    OID_BIRTH_DATE: "birth_date",
    OID_ADDRESS: "address",
    OID_ADDRESS_SUBSTITUTES: "address_substitutes",
}

_MAX_NAME_CHARS = 100
_MAX_ADDRESS_CHARS = 200
_MASK = "<masked>"


class Era(str, enum.Enum):
    """The era digit in front of the birth date (the date itself is Gregorian)."""

    UNKNOWN = "0"  # 不明
    MEIJI = "1"  # 明治
    TAISHO = "2"  # 大正
    SHOWA = "3"  # 昭和
    HEISEI = "4"  # 平成
    REIWA = "5"  # 令和


# First day of each era, newest first.
_ERA_STARTS: tuple[tuple[_dt.date, Era], ...] = (
    (_dt.date(2019, 5, 1), Era.REIWA),
    (_dt.date(1989, 1, 8), Era.HEISEI),
    (_dt.date(1926, 12, 25), Era.SHOWA),
    (_dt.date(1912, 7, 30), Era.TAISHO),
    (_dt.date(1868, 10, 23), Era.MEIJI),
)


def era_of(day: _dt.date) -> Era:
    """The era a Gregorian date falls in (UNKNOWN before 明治)."""
    for start, era in _ERA_STARTS:
        if day >= start:
            return era
    return Era.UNKNOWN


class Sex(str, enum.Enum):
    """性別 codes. ``1``/``2`` are confirmed on cards; the others follow JIS X 0303 (``0``,
    ``9``) and one secondary source (``3`` 不明)."""

    NOT_KNOWN = "0"
    MALE = "1"
    FEMALE = "2"
    UNKNOWN = "3"
    NOT_APPLICABLE = "9"


@dataclass(frozen=True, repr=False)
class SanEntry:
    """A subjectAltName entry the profile does not define, kept as found (masked in repr).

    ``kind`` is the GeneralName choice (``otherName``, ``rfc822Name``, ...); ``type_id`` the
    otherName OID; ``value`` the decoded text, or the raw DER when it is not text.
    """

    kind: str
    type_id: str | None
    value: str | bytes

    def __repr__(self) -> str:
        return f"SanEntry(kind={self.kind!r}, type_id={self.type_id!r}, value={_MASK})"

    def to_dict(self, *, reveal: bool = False) -> dict[str, Any]:
        value: str | None
        if not reveal:
            value = _MASK
        elif isinstance(self.value, bytes):
            value = self.value.hex()
        else:
            value = self.value
        return {"kind": self.kind, "type_id": self.type_id, "value": value}


@dataclass(frozen=True, repr=False)
class Identity:
    """The verified 基本4情報 of a signature certificate's holder."""

    name: str
    name_substitutes: str
    address: str
    address_substitutes: str
    birth_date: _dt.date
    sex: Sex
    birth_era: Era = Era.UNKNOWN
    extra: tuple[SanEntry, ...] = ()

    # ------------------------------------------------------------------ derived values

    @property
    def name_has_substitutes(self) -> bool:
        """True when some name character was replaced by a substitute character (外字)."""
        return "1" in self.name_substitutes

    @property
    def address_has_substitutes(self) -> bool:
        return "1" in self.address_substitutes

    def _attained(self, years: int) -> _dt.date:
        """The date on which the holder attains ``years`` (the eve of the anniversary)."""
        if years == 0:
            return self.birth_date
        year = self.birth_date.year + years
        try:
            anniversary = self.birth_date.replace(year=year)
        except ValueError:  # born on February 29, common year: the anniversary is March 1
            anniversary = _dt.date(year, 3, 1)
        return anniversary - _dt.timedelta(days=1)

    def age_on(self, on: _dt.date) -> int:
        """The holder's legal age on the date ``on`` (a date in Japan, i.e. JST)."""
        _check_date(on)
        if on < self.birth_date:
            raise ValueError("on is before the birth date")
        years = on.year - self.birth_date.year + 1
        while years > 0 and self._attained(years) > on:
            years -= 1
        return years

    def is_at_least(self, years: int, on: _dt.date) -> bool:
        """True when the holder is at least ``years`` old on ``on`` (birthday-eve rule)."""
        if isinstance(years, bool) or not isinstance(years, int):
            raise TypeError("years must be an int")
        if years < 0 or years > 200:
            raise ValueError("years must be between 0 and 200")
        _check_date(on)
        return on >= self._attained(years)

    # ------------------------------------------------------------------ masking

    def __repr__(self) -> str:
        return (
            f"Identity(name={_MASK}, address={_MASK}, birth_date={_MASK}, sex={_MASK}, "
            f"extra={len(self.extra)} entries)"
        )

    __str__ = __repr__

    def to_dict(self, *, reveal: bool = False) -> dict[str, Any]:
        """JSON-ready attributes; personal data masked unless ``reveal``."""

        def shown(value: str) -> str:
            return value if reveal else _MASK

        return {
            "name": shown(self.name),
            "name_substitutes": shown(self.name_substitutes),
            "name_has_substitutes": self.name_has_substitutes,
            "address": shown(self.address),
            "address_substitutes": shown(self.address_substitutes),
            "address_has_substitutes": self.address_has_substitutes,
            "birth_date": shown(self.birth_date.isoformat()),
            "birth_era": shown(self.birth_era.name.lower()),
            "sex": shown(self.sex.value),
            "extra": [e.to_dict(reveal=reveal) for e in self.extra],
        }


def _check_date(on: object) -> None:
    if isinstance(on, _dt.datetime) or not isinstance(on, _dt.date):
        raise TypeError("on must be a datetime.date (the calendar date in Japan)")


# --------------------------------------------------------------------------- parsing

_GENERAL_NAME_KINDS = {
    "other_name": "otherName",
    "rfc822_name": "rfc822Name",
    "dns_name": "dNSName",
    "x400_address": "x400Address",
    "directory_name": "directoryName",
    "edi_party_name": "ediPartyName",
    "uniform_resource_identifier": "uniformResourceIdentifier",
    "ip_address": "iPAddress",
    "registered_id": "registeredID",
}

# Everything asn1crypto may raise while lazily parsing hostile bytes.
_ASN1_ERRORS = (ValueError, TypeError, KeyError, IndexError, OverflowError, AttributeError)


def _malformed(attribute: str, why: str) -> IdentityAttributeMalformedError:
    return IdentityAttributeMalformedError(
        f"identity attribute {attribute} is malformed: {why}", attribute=attribute
    )


def _other_name_text(value: asn1_core.Asn1Value, attribute: str) -> str:
    """The text of an otherName value: UTF8String, or UTF-8 inside an OCTET STRING."""
    try:
        inner = value.parsed if isinstance(value, asn1_core.Any) else value
        if isinstance(inner, asn1_core.UTF8String):
            text = inner.native
        elif isinstance(inner, asn1_core.OctetString):
            text = bytes(inner.native).decode("utf-8")
        else:
            raise _malformed(attribute, f"value is {type(inner).__name__}, not UTF8String")
    except IdentityAttributeMalformedError:
        raise
    except _ASN1_ERRORS:
        raise _malformed(attribute, "value is not valid DER text") from None
    if not isinstance(text, str):  # pragma: no cover - asn1crypto returns str for UTF8String
        raise _malformed(attribute, "value is not text")
    return text


def _extra_value(value: asn1_core.Asn1Value) -> str | bytes:
    try:
        inner = value.parsed if isinstance(value, asn1_core.Any) else value
        native = inner.native
        if isinstance(native, str):
            return native
    except _ASN1_ERRORS:
        pass
    try:
        return bytes(value.dump())
    except _ASN1_ERRORS:  # pragma: no cover - dump of a parsed value
        return b""


def identity_from_san(der: bytes) -> Identity:
    """Read an :class:`Identity` from a subjectAltName extension value (GeneralNames DER)."""
    if not isinstance(der, (bytes, bytearray, memoryview)):
        raise TypeError("der must be bytes")
    raw: dict[str, str] = {}
    extra: list[SanEntry] = []
    try:
        check_der(bytes(der))
        names = asn1_x509.GeneralNames.load(bytes(der), strict=True)
        entries = [(gn.name, gn.chosen) for gn in names]
    except _ASN1_ERRORS:
        raise _malformed("subjectAltName", "not a DER GeneralNames") from None
    if not entries:
        raise _malformed("subjectAltName", "no entries")
    for kind, chosen in entries:
        if kind == "other_name":
            try:
                type_id = chosen["type_id"].dotted
                value = chosen["value"]
            except _ASN1_ERRORS:
                raise _malformed("subjectAltName", "unreadable otherName") from None
            attribute = _ATTRIBUTES.get(type_id)
            if attribute is None:
                extra.append(SanEntry("otherName", type_id, _extra_value(value)))
                continue
            if attribute in raw:
                raise _malformed(attribute, "present more than once")
            raw[attribute] = _other_name_text(value, attribute)
        else:
            extra.append(SanEntry(_GENERAL_NAME_KINDS.get(kind, kind), None, _extra_value(chosen)))
    for attribute in _ATTRIBUTES.values():
        if attribute not in raw:
            raise IdentityAttributeMissingError(
                f"identity attribute {attribute} is missing from the subjectAltName",
                attribute=attribute,
            )
    birth_era, birth_date = _parse_birth_date(raw["birth_date"])
    identity = Identity(
        name=_text("name", raw["name"], _MAX_NAME_CHARS),
        name_substitutes=_flags("name_substitutes", raw["name_substitutes"]),
        address=_text("address", raw["address"], _MAX_ADDRESS_CHARS),
        address_substitutes=_flags("address_substitutes", raw["address_substitutes"]),
        birth_date=birth_date,
        birth_era=birth_era,
        sex=_parse_sex(raw["sex"]),
        extra=tuple(extra),
    )
    for label, text, flags in (
        ("name", identity.name, identity.name_substitutes),
        ("address", identity.address, identity.address_substitutes),
    ):
        if len(text) != len(flags):
            logger.info(
                "%s substitute flags have %d entries for %d characters",
                label,
                len(flags),
                len(text),
            )
    return identity


def identity_from_certificate(
    cert: x509.Certificate, facts: CertificateFacts | None = None
) -> Identity:
    """Read the :class:`Identity` of a signature certificate (no validation of the certificate
    itself: use :class:`CertificateVerifier` for that)."""
    if facts is None:
        from cryptography.hazmat.primitives import serialization

        facts = CertificateFacts.from_der(cert.public_bytes(serialization.Encoding.DER))
    ext = facts.extension(OID_SUBJECT_ALT_NAME)
    if ext is None:
        raise IdentityAttributeMissingError(
            "the certificate has no subjectAltName (not a signature certificate?)",
            attribute="subjectAltName",
        )
    return identity_from_san(ext.value)


def _text(attribute: str, value: str, max_chars: int) -> str:
    if not value or not value.strip():
        raise _malformed(attribute, "empty")
    if len(value) > max_chars:
        raise _malformed(attribute, f"longer than {max_chars} characters")
    if any(unicodedata.category(c) in ("Cc", "Cs", "Co", "Cn") for c in value):
        raise _malformed(attribute, "contains control or unassigned characters")
    return value


def _flags(attribute: str, value: str) -> str:
    if not value or any(c not in "01" for c in value):
        raise _malformed(attribute, "must be one or more '0'/'1' flags")
    if len(value) > _MAX_ADDRESS_CHARS:
        raise _malformed(attribute, "too long")
    return value


def _parse_sex(value: str) -> Sex:
    try:
        return Sex(value)
    except ValueError:
        raise _malformed("sex", "not one of the defined codes") from None


def _parse_birth_date(value: str) -> tuple[Era, _dt.date]:
    if len(value) != 9 or not value.isascii() or not value.isdigit():
        raise _malformed("birth_date", "must be 9 digits (era digit + YYYYMMDD)")
    try:
        era = Era(value[0])
    except ValueError:
        raise _malformed("birth_date", "unknown era digit") from None
    try:
        day = _dt.date(int(value[1:5]), int(value[5:7]), int(value[7:9]))
    except ValueError:
        raise _malformed("birth_date", "not a valid Gregorian date") from None
    if era is not Era.UNKNOWN and era_of(day) is not era:
        raise _malformed("birth_date", "the era digit does not match the date")
    return era, day
