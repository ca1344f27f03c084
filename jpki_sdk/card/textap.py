"""券面事項入力補助AP (text AP): 個人番号, 基本4情報 and their integrity record (spec §4).

The files are BER with private-class two-byte tags (``FFxx`` constructed, ``DFxx`` primitive,
the non-minimal ``FF10`` included) and carry filler after the object, so every parse is driven
by the TLV lengths, never by the file size. Every malformed input gives a
:class:`TextDataFormatError`; nothing here raises anything else for bad bytes.

What the integrity check proves (:class:`IntegrityReport`):

- EF 0003 holds SHA-256 digests of the 個人番号 file (physical 17 bytes, filler included) and of
  the 基本4情報 file (its outer value with the DF21 offset table skipped), and an RSA signature
  (DF33) over the two digest objects.
- The digests are checked against what was read: a mismatch means the data read is not what
  the card's record vouches for (a read error or a tampered file) and raises
  :class:`IntegrityCheckError`.
- The DF33 signature is checked with the public key in EF 0004 (the AP's card-verifiable
  certificate). That key is itself certified by a J-LIS CA key that is **not on the card** and
  not public, so a valid DF33 only proves the record is consistent with the key the same card
  presents. A forged card can carry a self-consistent key, record and data: this is not proof
  of J-LIS origin, and the text-AP data never counts as verified identity (use the signature
  certificate for that).
"""

from __future__ import annotations

import datetime
import enum
import hashlib
import logging
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from jpki_sdk.card.errors import (
    IntegrityCheckError,
    MyNumberCheckDigitError,
    TextDataFormatError,
)

logger = logging.getLogger(__name__)

__all__ = [
    "BasicInfo",
    "CardVerifiableCertificate",
    "IntegrityRecord",
    "IntegrityReport",
    "MyNumber",
    "Sex",
    "Tlv",
    "basic_info_digest_source",
    "ber_total_length",
    "check_integrity",
    "iter_tlvs",
    "my_number_check_digit",
    "parse_basic_info",
    "parse_my_number",
    "parse_tlv",
]

TAG_MY_NUMBER = 0xFF10
TAG_BASIC_INFO = 0xFF20
TAG_OFFSETS = 0xDF21
TAG_NAME = 0xDF22
TAG_ADDRESS = 0xDF23
TAG_BIRTH = 0xDF24
TAG_SEX = 0xDF25
TAG_INTEGRITY = 0xFF30
TAG_MY_NUMBER_DIGEST = 0xDF31
TAG_BASIC_INFO_DIGEST = 0xDF32
TAG_INTEGRITY_SIGNATURE = 0xDF33
TAG_CV_CERT = 0x7F21
TAG_CV_BODY = 0x5F4E
TAG_CV_SIGNATURE = 0x5F37
TAG_EXPONENT = 0x90
TAG_MODULUS = 0x91


# ---------------------------------------------------------------------------------------- TLV


@dataclass(frozen=True)
class Tlv:
    """One BER object found in a buffer: ``tag`` as the raw tag bytes read big-endian
    (``0xFF20``), ``start`` its first byte, ``value_start``/``end`` its value bounds."""

    tag: int
    start: int
    value_start: int
    end: int

    def value(self, buf: bytes) -> bytes:
        return buf[self.value_start : self.end]

    def raw(self, buf: bytes) -> bytes:
        return buf[self.start : self.end]

    @property
    def length(self) -> int:
        return self.end - self.value_start


def parse_tlv(buf: bytes, offset: int = 0, limit: int | None = None) -> Tlv:
    """Parse the BER object at ``offset`` (not past ``limit``, default the buffer end)."""
    end_limit = len(buf) if limit is None else limit
    pos = offset
    if pos >= end_limit:
        raise TextDataFormatError(f"expected a TLV at offset {offset}, found the end of data")
    first = buf[pos]
    tag = first
    pos += 1
    if first & 0x1F == 0x1F:
        for _ in range(3):
            if pos >= end_limit:
                raise TextDataFormatError(f"truncated tag at offset {offset}")
            b = buf[pos]
            tag = (tag << 8) | b
            pos += 1
            if not b & 0x80:
                break
        else:
            raise TextDataFormatError(f"tag at offset {offset} is longer than 4 bytes")
    if pos >= end_limit:
        raise TextDataFormatError(f"missing length at offset {pos}")
    lb = buf[pos]
    pos += 1
    if lb < 0x80:
        length = lb
    elif lb == 0x80:
        raise TextDataFormatError(f"indefinite length at offset {pos - 1}")
    else:
        count = lb & 0x7F
        if count > 3:
            raise TextDataFormatError(f"{count}-byte length at offset {pos - 1}")
        if pos + count > end_limit:
            raise TextDataFormatError(f"truncated length at offset {pos - 1}")
        length = int.from_bytes(buf[pos : pos + count], "big")
        pos += count
    end = pos + length
    if end > end_limit:
        raise TextDataFormatError(
            f"object {tag:X} at offset {offset} declares {length} bytes, "
            f"only {end_limit - pos} available"
        )
    return Tlv(tag=tag, start=offset, value_start=pos, end=end)


def _is_filler(buf: bytes, pos: int, end: int | None = None) -> bool:
    """Filler (00, or FF FF) where an object would start. A lone FF followed by a byte below
    80 is the first byte of a private constructed tag (FF10, FF20...), not filler."""
    limit = len(buf) if end is None else end
    first = buf[pos]
    if first == 0x00:
        return True
    if first != 0xFF:
        return False
    return pos + 1 >= limit or buf[pos + 1] == 0xFF


def ber_total_length(head: bytes) -> int | None:
    """Total length (header + value) of the BER object starting ``head``, or None when
    ``head`` is too short to hold its header. Raises :class:`TextDataFormatError` when the
    header is invalid or the file is empty (filler)."""
    if not head:
        return None
    if _is_filler(head, 0):
        raise TextDataFormatError("the file is empty (filler where an object should start)")
    pos = 1
    if head[0] & 0x1F == 0x1F:
        while True:
            if pos >= len(head):
                return None
            pos += 1
            if not head[pos - 1] & 0x80:
                break
            if pos > 4:
                raise TextDataFormatError("tag longer than 4 bytes")
    if pos >= len(head):
        return None
    lb = head[pos]
    pos += 1
    if lb < 0x80:
        return pos + lb
    if lb == 0x80 or lb > 0x83:
        raise TextDataFormatError(f"unsupported length byte {lb:02X}")
    count = lb & 0x7F
    if pos + count > len(head):
        return None
    return pos + count + int.from_bytes(head[pos : pos + count], "big")


def iter_tlvs(buf: bytes, start: int, end: int, *, stop_at_filler: bool = True) -> list[Tlv]:
    """The consecutive objects in ``buf[start:end]``; stops at filler (00/FF) if asked."""
    out: list[Tlv] = []
    pos = start
    while pos < end:
        if stop_at_filler and _is_filler(buf, pos, end):
            break
        tlv = parse_tlv(buf, pos, end)
        out.append(tlv)
        pos = tlv.end
    return out


def _outer(buf: bytes, expected_tag: int, what: str) -> Tlv:
    if not isinstance(buf, (bytes, bytearray)):
        raise TypeError(f"{what} must be bytes, not {type(buf).__name__}")
    outer = parse_tlv(bytes(buf), 0)
    if outer.tag != expected_tag:
        raise TextDataFormatError(f"{what}: expected tag {expected_tag:04X}, found {outer.tag:X}")
    return outer


# ---------------------------------------------------------------------------------- 個人番号

_WEIGHTS = (6, 5, 4, 3, 2, 7, 6, 5, 4, 3, 2)


def my_number_check_digit(first11: str) -> int:
    """The check digit of a 個人番号 from its first 11 digits (spec §4.5)."""
    if len(first11) != 11 or not first11.isascii() or not first11.isdigit():
        raise ValueError("need exactly 11 ASCII digits")
    remainder = sum(int(d) * w for d, w in zip(first11, _WEIGHTS, strict=True)) % 11
    return 0 if remainder <= 1 else 11 - remainder


class MyNumber:
    """A 個人番号 (12 digits, check digit validated). ``repr``/``str`` never show it.

    ``.value`` gives the digits; ``.masked()`` the last four only.
    """

    __slots__ = ("_digits",)

    def __init__(self, digits: str):
        if not (len(digits) == 12 and digits.isascii() and digits.isdigit()):
            raise TextDataFormatError("個人番号 must be 12 ASCII digits")
        if my_number_check_digit(digits[:11]) != int(digits[11]):
            raise MyNumberCheckDigitError("the 個人番号 read from the card fails its check digit")
        self._digits = digits

    @property
    def value(self) -> str:
        return self._digits

    def masked(self) -> str:
        return "********" + self._digits[8:]

    def __repr__(self) -> str:
        return "MyNumber(<12 digits redacted>)"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, MyNumber) and other._digits == self._digits

    def __hash__(self) -> int:
        return hash(("MyNumber", self._digits))


def parse_my_number(raw: bytes) -> MyNumber:
    """Parse EF 0001: ``FF 10 0C <12 ASCII digits>`` followed by filler."""
    buf = bytes(raw)
    outer = _outer(buf, TAG_MY_NUMBER, "個人番号 file")
    value = outer.value(buf)
    if len(value) != 12:
        raise TextDataFormatError(f"個人番号 object is {len(value)} bytes, expected 12")
    try:
        text = value.decode("ascii")
    except UnicodeDecodeError:
        raise TextDataFormatError("個人番号 is not ASCII digits") from None
    return MyNumber(text)


# ------------------------------------------------------------------------------- 基本4情報


class Sex(str, enum.Enum):
    """性別 as the card writes it (ISO 5218 / JIS X 0303 digit)."""

    UNKNOWN = "0"
    MALE = "1"
    FEMALE = "2"
    NOT_APPLICABLE = "9"

    @property
    def label(self) -> str:
        return _SEX_LABELS[self]


_SEX_LABELS = {
    Sex.UNKNOWN: "unknown (不明)",
    Sex.MALE: "male (男)",
    Sex.FEMALE: "female (女)",
    Sex.NOT_APPLICABLE: "not applicable (適用不能)",
}


@dataclass(frozen=True)
class IntegrityReport:
    """The outcome of the EF 0003 check. See the module docstring for what it proves.

    Digest fields are True when checked and matching (a mismatch raises instead), None when
    that file was not part of the read.
    """

    my_number_digest_ok: bool | None
    basic_info_digest_ok: bool | None
    signature_consistent_with_card_key: bool
    card_key_id: str
    issuer_key_id: str

    @property
    def proves_jlis_origin(self) -> bool:
        """Always False: the CA key that certifies EF 0004 is not on the card."""
        return False

    def describe(self) -> str:
        parts = []
        if self.my_number_digest_ok:
            parts.append("個人番号 matches the card's digest")
        if self.basic_info_digest_ok:
            parts.append("基本4情報 matches the card's digest")
        parts.append(
            "the digest record's signature verifies with the key of the card's own "
            f"certificate (key {self.card_key_id}, issued by {self.issuer_key_id}); that "
            "certificate's CA key is not on the card, so this shows consistency, not J-LIS "
            "origin"
        )
        return "; ".join(parts)


@dataclass(frozen=True, repr=False)
class BasicInfo:
    """基本4情報 from the text AP: for form prefill only, never verified identity.

    ``repr`` masks every field; use the attributes (or ``masked()``) explicitly.
    """

    name: str
    """氏名, UTF-8; family and given name separated by U+3000."""
    address: str
    """住所, from the prefecture; full-width digits."""
    birth_date: datetime.date
    sex: Sex
    integrity: IntegrityReport | None = field(default=None, compare=False)

    def masked(self) -> dict[str, str]:
        """Masked display values: the first character of name and address, nothing else."""
        return {
            "name": _mask_text(self.name),
            "address": _mask_text(self.address),
            "birth_date": "****-**-**",
            "sex": "*",
        }

    def __repr__(self) -> str:
        m = self.masked()
        return (
            f"BasicInfo(name={m['name']!r}, address={m['address']!r}, "
            f"birth_date={m['birth_date']}, sex={m['sex']})"
        )

    __str__ = __repr__


def _mask_text(text: str) -> str:
    if not text:
        return ""
    return text[0] + "＊" * (len(text) - 1)


def parse_basic_info(raw: bytes) -> BasicInfo:
    """Parse EF 0002: ``FF20 { DF21 offsets, DF22 name, DF23 address, DF24 birth, DF25 sex }``.

    The outer length may be short or long form; the DF21 table (offsets from the start of the
    file) is checked against where each object really starts, not trusted.
    """
    buf = bytes(raw)
    outer = _outer(buf, TAG_BASIC_INFO, "基本4情報 file")
    objects = iter_tlvs(buf, outer.value_start, outer.end)
    found: dict[int, Tlv] = {}
    for tlv in objects:
        if tlv.tag in found:
            raise TextDataFormatError(f"基本4情報: object {tlv.tag:04X} appears twice")
        found[tlv.tag] = tlv
    missing = [t for t in (TAG_NAME, TAG_ADDRESS, TAG_BIRTH, TAG_SEX) if t not in found]
    if missing:
        raise TextDataFormatError("基本4情報: missing " + ", ".join(f"{t:04X}" for t in missing))
    table = found.get(TAG_OFFSETS)
    if table is not None:
        offsets = table.value(buf)
        if len(offsets) != 8:
            raise TextDataFormatError(f"基本4情報: offset table is {len(offsets)} bytes, not 8")
        for i, tag in enumerate((TAG_NAME, TAG_ADDRESS, TAG_BIRTH, TAG_SEX)):
            declared = int.from_bytes(offsets[2 * i : 2 * i + 2], "big")
            if declared != found[tag].start:
                raise TextDataFormatError(
                    f"基本4情報: offset table says {tag:04X} starts at {declared}, "
                    f"it starts at {found[tag].start}"
                )
    name = _utf8(found[TAG_NAME].value(buf), "氏名")
    address = _utf8(found[TAG_ADDRESS].value(buf), "住所")
    birth = _date(found[TAG_BIRTH].value(buf))
    sex_raw = found[TAG_SEX].value(buf)
    try:
        sex = Sex(sex_raw.decode("ascii"))
    except (UnicodeDecodeError, ValueError):
        raise TextDataFormatError(
            f"基本4情報: 性別 is not one of 0, 1, 2, 9 ({len(sex_raw)} B)"
        ) from None
    return BasicInfo(name=name, address=address, birth_date=birth, sex=sex)


def _utf8(value: bytes, what: str) -> str:
    try:
        text = value.decode("utf-8")
    except UnicodeDecodeError:
        raise TextDataFormatError(f"基本4情報: {what} is not valid UTF-8") from None
    if not text:
        raise TextDataFormatError(f"基本4情報: {what} is empty")
    return text


def _date(value: bytes) -> datetime.date:
    if len(value) != 8 or not all(0x30 <= b <= 0x39 for b in value):
        raise TextDataFormatError("基本4情報: 生年月日 is not 8 ASCII digits (YYYYMMDD)")
    text = value.decode("ascii")
    try:
        return datetime.date(int(text[:4]), int(text[4:6]), int(text[6:]))
    except ValueError:
        raise TextDataFormatError("基本4情報: 生年月日 is not a calendar date") from None


def basic_info_digest_source(raw: bytes) -> bytes:
    """What DF32 hashes: the 基本4情報 outer value with the leading DF21 object skipped."""
    buf = bytes(raw)
    outer = _outer(buf, TAG_BASIC_INFO, "基本4情報 file")
    first = parse_tlv(buf, outer.value_start, outer.end)
    if first.tag != TAG_OFFSETS:
        raise TextDataFormatError("基本4情報: the offset table (DF21) is not the first object")
    return buf[first.end : outer.end]


# --------------------------------------------------------------------------- integrity record


@dataclass(frozen=True)
class IntegrityRecord:
    """EF 0003: ``FF30 { DF31 SHA-256, DF32 SHA-256, DF33 RSA signature }``."""

    my_number_digest: bytes
    basic_info_digest: bytes
    signature: bytes
    signed_data: bytes
    """The objects before DF33, as written: what DF33 signs (PKCS#1 v1.5, SHA-256)."""

    @classmethod
    def parse(cls, raw: bytes) -> IntegrityRecord:
        buf = bytes(raw)
        outer = _outer(buf, TAG_INTEGRITY, "integrity record")
        objects = iter_tlvs(buf, outer.value_start, outer.end)
        by_tag = {t.tag: t for t in objects}
        for tag in (TAG_MY_NUMBER_DIGEST, TAG_BASIC_INFO_DIGEST, TAG_INTEGRITY_SIGNATURE):
            if tag not in by_tag:
                raise TextDataFormatError(f"integrity record: missing {tag:04X}")
        d1 = by_tag[TAG_MY_NUMBER_DIGEST].value(buf)
        d2 = by_tag[TAG_BASIC_INFO_DIGEST].value(buf)
        if len(d1) != 32 or len(d2) != 32:
            raise TextDataFormatError("integrity record: digests must be 32 bytes (SHA-256)")
        sig = by_tag[TAG_INTEGRITY_SIGNATURE]
        signed = b"".join(t.raw(buf) for t in objects if t.start < sig.start)
        return cls(
            my_number_digest=d1,
            basic_info_digest=d2,
            signature=sig.value(buf),
            signed_data=signed,
        )

    def matches_my_number_file(self, physical: bytes) -> bool:
        return hashlib.sha256(physical).digest() == self.my_number_digest

    def matches_basic_info_file(self, raw: bytes) -> bool:
        return hashlib.sha256(basic_info_digest_source(raw)).digest() == self.basic_info_digest


@dataclass(frozen=True)
class CardVerifiableCertificate:
    """EF 0004: ``7F21 { 5F4E { issuer key ID 16 | subject key ID 16 | 90 e | 91 n }, 5F37 }``.

    Its signature (5F37) is by a J-LIS CA key that is not on the card and is not checked here.
    """

    issuer_key_id: bytes
    subject_key_id: bytes
    public_key: rsa.RSAPublicKey

    @property
    def issuer_key_label(self) -> str:
        return _key_id_label(self.issuer_key_id)

    @property
    def subject_key_label(self) -> str:
        return _key_id_label(self.subject_key_id)

    @classmethod
    def parse(cls, raw: bytes) -> CardVerifiableCertificate:
        buf = bytes(raw)
        outer = _outer(buf, TAG_CV_CERT, "card-verifiable certificate")
        objects = {t.tag: t for t in iter_tlvs(buf, outer.value_start, outer.end)}
        body = objects.get(TAG_CV_BODY)
        if body is None or TAG_CV_SIGNATURE not in objects:
            raise TextDataFormatError("card-verifiable certificate: missing 5F4E or 5F37")
        if body.length < 32 + 4:
            raise TextDataFormatError("card-verifiable certificate: body too short")
        key_objects = {
            t.tag: t for t in iter_tlvs(buf, body.value_start + 32, body.end, stop_at_filler=False)
        }
        if TAG_EXPONENT not in key_objects or TAG_MODULUS not in key_objects:
            raise TextDataFormatError("card-verifiable certificate: no RSA key (90/91)")
        e = int.from_bytes(key_objects[TAG_EXPONENT].value(buf), "big")
        n = int.from_bytes(key_objects[TAG_MODULUS].value(buf), "big")
        if n.bit_length() < 1024 or e < 3 or e % 2 == 0 or e >= n:
            raise TextDataFormatError("card-verifiable certificate: unusable RSA key")
        try:
            key = rsa.RSAPublicNumbers(e, n).public_key()
        except ValueError:
            raise TextDataFormatError("card-verifiable certificate: invalid RSA key") from None
        ids = buf[body.value_start : body.value_start + 32]
        return cls(issuer_key_id=ids[:16], subject_key_id=ids[16:], public_key=key)


def _key_id_label(key_id: bytes) -> str:
    number = key_id[:7]
    group = key_id[9:12]
    if all(0x30 <= b <= 0x39 for b in number + group) and len(group) == 3:
        return f"{number.decode()}/{group.decode()}"
    return key_id.hex()


def check_integrity(
    record: IntegrityRecord,
    certificate: CardVerifiableCertificate,
    *,
    my_number_file: bytes | None = None,
    basic_info_file: bytes | None = None,
) -> IntegrityReport:
    """Check the files read against the record, and the record against EF 0004's key.

    Raises :class:`~jpki_sdk.card.errors.IntegrityCheckError` on any mismatch.
    """
    mn_ok: bool | None = None
    bi_ok: bool | None = None
    if my_number_file is not None:
        if not record.matches_my_number_file(my_number_file):
            raise IntegrityCheckError(
                "the 個人番号 read does not match the card's integrity record (EF 0003)"
            )
        mn_ok = True
    if basic_info_file is not None:
        if not record.matches_basic_info_file(basic_info_file):
            raise IntegrityCheckError(
                "the 基本4情報 read does not match the card's integrity record (EF 0003)"
            )
        bi_ok = True
    try:
        certificate.public_key.verify(
            record.signature, record.signed_data, padding.PKCS1v15(), hashes.SHA256()
        )
    except InvalidSignature:
        raise IntegrityCheckError(
            "the integrity record's signature (DF33) does not verify with the key in the "
            "card's own certificate (EF 0004): the text-AP files are inconsistent"
        ) from None
    return IntegrityReport(
        my_number_digest_ok=mn_ok,
        basic_info_digest_ok=bi_ok,
        signature_consistent_with_card_key=True,
        card_key_id=certificate.subject_key_label,
        issuer_key_id=certificate.issuer_key_label,
    )
