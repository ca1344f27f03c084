"""BER-TLV builders for the 券面 applications' files (spec §4.2, §4.3).

The files use BER with private-class tags (``FFxx`` constructed, ``DFxx`` primitive), plus the
card-verifiable certificate of EF 0004 (``7F21``). What is built here:

- text AP EF 0001 (個人番号), EF 0002 (基本4情報 with the ``DF21`` offset table, short or
  ``82 LLLL`` outer length), EF 0003 (integrity record), EF 0004 (CV certificate), EF 0005 (AP
  basic info), EF 0007 (the card key's public half with an issuer signature);
- 券面AP EF 0001 (age record), EF 0003 (AP basic info), EF 0004 (CV certificate).

Signatures: the integrity record (``DF33``) and the other records are PKCS#1 v1.5 / SHA-256 over
every object before the signature field, as written (without the outer header), made by the
issuing municipality's record key; that key is certified in EF 0004 by a CV CA whose key ID is
``6000033`` (text AP) or ``6000023`` (券面AP), the JPKI *test* identifiers (spec §4.2). The CV CA
keys of the simulator are test keys derived from fixed seeds: :func:`cv_ca_key`.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from simulator.keys import rsa_key_from_seed

__all__ = [
    "CV_CA_KEY_ID",
    "AgeRecord",
    "ap_basic_info_kenmen",
    "ap_basic_info_text",
    "basic_info_digest_source",
    "basic_info_file",
    "cv_ca_key",
    "cv_certificate",
    "encode_length",
    "integrity_record",
    "issuer_key",
    "key_id",
    "my_number_file",
    "parse_tlvs",
    "public_key_tlvs",
    "signed_public_key",
    "tlv",
]

logger = logging.getLogger(__name__)

#: 証明者鍵ID numbers of the CV CAs on JPKI *test* cards (spec §4.2): text AP, 券面AP.
CV_CA_KEY_ID = {"text": "6000033", "kenmen": "6000023"}
#: Key IDs the AP basic-info files carry (``x000034`` / ``x000024`` with the test prefix).
AP_INFO_KEY_ID = {"text": "6000034", "kenmen": "6000024"}

_SHA256 = hashes.SHA256()


# -- TLV primitives -------------------------------------------------------------------------


def _tag_bytes(tag: int) -> bytes:
    if not 0 <= tag <= 0xFFFF:
        raise ValueError("tags here are one or two bytes")
    return tag.to_bytes(2 if tag > 0xFF else 1, "big")


def encode_length(length: int, *, long_form: bool = False) -> bytes:
    """BER definite length: short form below 128, else ``81 LL`` / ``82 LLLL``.

    ``long_form`` forces ``82 LLLL`` (some cards write it even for short values, spec §4.2).
    """
    if not 0 <= length <= 0xFFFF:
        raise ValueError("length must be 0..65535")
    if long_form:
        return b"\x82" + length.to_bytes(2, "big")
    if length < 0x80:
        return bytes([length])
    if length <= 0xFF:
        return bytes([0x81, length])
    return b"\x82" + length.to_bytes(2, "big")


def tlv(tag: int, value: bytes, *, long_form: bool = False) -> bytes:
    """One BER-TLV object."""
    return _tag_bytes(tag) + encode_length(len(value), long_form=long_form) + value


def parse_tlvs(data: bytes) -> list[tuple[int, bytes, bytes]]:
    """Parse consecutive TLVs (1- or 2-byte tags, definite lengths); stops at ``00``/``FF``.

    Returns ``(tag, value, whole_object)`` triples. Raises ValueError on malformed input.
    """
    out: list[tuple[int, bytes, bytes]] = []
    pos = 0
    while pos < len(data):
        if data[pos] == 0x00 or (
            data[pos] == 0xFF and (pos + 1 >= len(data) or data[pos + 1] == 0xFF)
        ):
            break  # filler after the objects
        start = pos
        tag = data[pos]
        pos += 1
        if tag & 0x1F == 0x1F:
            if pos >= len(data):
                raise ValueError("truncated tag")
            tag = (tag << 8) | data[pos]
            pos += 1
        if pos >= len(data):
            raise ValueError("truncated length")
        first = data[pos]
        pos += 1
        if first < 0x80:
            length = first
        elif first in (0x81, 0x82):
            n = first & 0x7F
            if pos + n > len(data):
                raise ValueError("truncated length")
            length = int.from_bytes(data[pos : pos + n], "big")
            pos += n
        else:
            raise ValueError(f"unsupported length byte {first:02X}")
        if pos + length > len(data):
            raise ValueError("value runs past the end")
        out.append((tag, data[pos : pos + length], data[start : pos + length]))
        pos += length
    return out


# -- key identifiers and keys ---------------------------------------------------------------


def key_id(number: str, group: str = "001") -> bytes:
    """A 16-byte key ID: 7 ASCII digits, ``08 05``, 3 ASCII digits, 4 zero bytes."""
    if len(number) != 7 or not number.isdigit() or len(group) != 3 or not group.isdigit():
        raise ValueError("a key ID is a 7-digit number and a 3-digit group")
    return number.encode() + b"\x08\x05" + group.encode() + b"\x00" * 4


def cv_ca_key(kind: str) -> rsa.RSAPrivateKey:
    """The simulator's test CV CA key for ``kind`` ("text" or "kenmen"); fixed, cached."""
    if kind not in CV_CA_KEY_ID:
        raise ValueError("kind must be 'text' or 'kenmen'")
    return rsa_key_from_seed(f"jpki-sim/cv-ca/{CV_CA_KEY_ID[kind]}".encode())


def issuer_key(kind: str, municipality_code: str) -> tuple[bytes, rsa.RSAPrivateKey]:
    """The municipality's record-signing key for ``kind`` and its 16-byte key ID."""
    if kind not in CV_CA_KEY_ID:
        raise ValueError("kind must be 'text' or 'kenmen'")
    if len(municipality_code) != 5 or not municipality_code.isdigit():
        raise ValueError("municipality code must be 5 digits")
    digit = "3" if kind == "text" else "2"
    number = "7" + municipality_code + digit
    key = rsa_key_from_seed(f"jpki-sim/cv-issuer/{kind}/{municipality_code}".encode())
    return key_id(number), key


def public_key_tlvs(key: rsa.RSAPublicKey) -> bytes:
    """``90`` exponent and ``91`` modulus, as the card stores RSA public keys."""
    numbers = key.public_numbers()
    e = numbers.e.to_bytes((numbers.e.bit_length() + 7) // 8, "big")
    n = numbers.n.to_bytes((key.key_size + 7) // 8, "big")
    return tlv(0x90, e) + tlv(0x91, n)


def _sign(key: rsa.RSAPrivateKey, data: bytes) -> bytes:
    return key.sign(data, padding.PKCS1v15(), _SHA256)


# -- text AP ----------------------------------------------------------------------------------


def my_number_file(my_number: str) -> bytes:
    """EF 0001's object: ``FF 10 0C`` + 12 ASCII digits (15 bytes; the EF adds ``FF FF``)."""
    if len(my_number) != 12 or not my_number.isdigit() or not my_number.isascii():
        raise ValueError("個人番号 must be 12 ASCII digits")
    return tlv(0xFF10, my_number.encode("ascii"))


def basic_info_file(
    name: str, address: str, birth_yyyymmdd: str, sex: str, *, long_form: bool = False
) -> bytes:
    """EF 0002's object: ``FF20 { DF21 offsets, DF22 name, DF23 address, DF24 birth, DF25 sex }``.

    ``DF21`` holds four big-endian 16-bit offsets, counted from the start of the file, of the
    ``DF22``..``DF25`` objects. ``long_form`` writes the outer length as ``82 LLLL``.
    """
    if len(birth_yyyymmdd) != 8 or not birth_yyyymmdd.isdigit():
        raise ValueError("birth date must be YYYYMMDD")
    if len(sex) != 1 or not sex.isdigit():
        raise ValueError("sex must be one digit")
    fields = [
        tlv(0xDF22, name.encode("utf-8")),
        tlv(0xDF23, address.encode("utf-8")),
        tlv(0xDF24, birth_yyyymmdd.encode("ascii")),
        tlv(0xDF25, sex.encode("ascii")),
    ]
    table_len = len(tlv(0xDF21, b"\x00" * 8))
    content_len = table_len + sum(len(f) for f in fields)
    header_len = 2 + len(encode_length(content_len, long_form=long_form))
    offsets = b""
    pos = header_len + table_len
    for f in fields:
        offsets += pos.to_bytes(2, "big")
        pos += len(f)
    content = tlv(0xDF21, offsets) + b"".join(fields)
    return tlv(0xFF20, content, long_form=long_form)


def basic_info_digest_source(obj: bytes) -> bytes:
    """What ``DF32`` hashes: EF 0002's outer value with the ``DF21`` table skipped."""
    outer = parse_tlvs(obj)
    if not outer or outer[0][0] != 0xFF20:
        raise ValueError("not a 基本4情報 object")
    inner = parse_tlvs(outer[0][1])
    if not inner or inner[0][0] != 0xDF21:
        raise ValueError("the offset table is not the first object")
    return b"".join(whole for _, _, whole in inner[1:])


def integrity_record(
    my_number_physical: bytes, basic_info_obj: bytes, signer: rsa.RSAPrivateKey
) -> bytes:
    """EF 0003: ``FF30 { DF31 SHA-256(EF0001 physical), DF32 SHA-256(EF0002 source), DF33 sig }``.

    ``DF31`` covers EF 0001's 17 physical bytes (filler included); ``DF32`` covers EF 0002's
    outer value without ``DF21``; ``DF33`` signs the ``DF31`` and ``DF32`` objects.
    """
    signed = tlv(0xDF31, hashlib.sha256(my_number_physical).digest()) + tlv(
        0xDF32, hashlib.sha256(basic_info_digest_source(basic_info_obj)).digest()
    )
    return tlv(0xFF30, signed + tlv(0xDF33, _sign(signer, signed)))


def cv_certificate(
    issuer_id: bytes,
    subject_id: bytes,
    subject_key: rsa.RSAPublicKey,
    ca_key: rsa.RSAPrivateKey,
) -> bytes:
    """EF 0004: ``7F21 { 5F4E body, 5F37 signature }``.

    The body is 証明者鍵ID (16) ‖ 被証明者鍵ID (16) ‖ the public key (``90``/``91``, 265 bytes for
    RSA-2048); the signature is PKCS#1 v1.5 / SHA-256 over the body by the CV CA.
    """
    if len(issuer_id) != 16 or len(subject_id) != 16:
        raise ValueError("key IDs are 16 bytes")
    body = issuer_id + subject_id + public_key_tlvs(subject_key)
    return tlv(0x7F21, tlv(0x5F4E, body) + tlv(0x5F37, _sign(ca_key, body)))


def ap_basic_info_text(extra: bytes) -> bytes:
    """Text-AP EF 0005: ``FF40 { DF41 01 03 0E 01, DF42 key ID, DF43 32 bytes + 96 FF }``."""
    if len(extra) != 32:
        raise ValueError("the DF43 value starts with 32 bytes")
    return tlv(
        0xFF40,
        tlv(0xDF41, bytes.fromhex("01030E01"))
        + tlv(0xDF42, key_id(AP_INFO_KEY_ID["text"]))
        + tlv(0xDF43, extra + b"\xff" * 96),
    )


def signed_public_key(card_key: rsa.RSAPublicKey, signer: rsa.RSAPrivateKey) -> bytes:
    """Text-AP EF 0007: ``FF50 { DF51 card public key, DF52 issuer signature over DF51 }``."""
    signed = tlv(0xDF51, public_key_tlvs(card_key))
    return tlv(0xFF50, signed + tlv(0xDF52, _sign(signer, signed)))


# -- 券面AP ------------------------------------------------------------------------------------


def ap_basic_info_kenmen(municipality_code: str, opaque: bytes) -> bytes:
    """券面AP EF 0003: ``FF30 { DF31 06 03 0E 01, DF32 key ID, DF33 version, DF34 code,
    DF35 key ID ‖ 256 opaque bytes }``."""
    if len(opaque) != 256:
        raise ValueError("DF35 carries 256 opaque bytes after its key ID")
    return tlv(
        0xFF30,
        tlv(0xDF31, bytes.fromhex("06030E01"))
        + tlv(0xDF32, key_id(AP_INFO_KEY_ID["kenmen"]))
        + tlv(0xDF33, b"\x01")
        + tlv(0xDF34, municipality_code.encode("ascii"))
        + tlv(0xDF35, key_id(AP_INFO_KEY_ID["kenmen"]) + opaque),
    )


@dataclass(frozen=True)
class AgeRecord:
    """券面AP EF 0001: ``FF10 { DF11 birth YYYYMMDD, DF12 card public key, DF13 signature }``."""

    birth_yyyymmdd: str
    card_key: rsa.RSAPublicKey

    def build(self, signer: rsa.RSAPrivateKey) -> bytes:
        signed = tlv(0xDF11, self.birth_yyyymmdd.encode("ascii")) + tlv(
            0xDF12, public_key_tlvs(self.card_key)
        )
        return tlv(0xFF10, signed + tlv(0xDF13, _sign(signer, signed)))
