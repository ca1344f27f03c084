"""Token info (JPKI EF 0006): which kind of JPKI token answered.

EF 0006 is a PKCS#11 ``CK_TOKEN_INFO`` serialised with 32-bit big-endian ulongs, 160 bytes
(spec §2.1). The label (first 32 bytes, space padded) tells the token apart:

=================== ==========================================
``JPKIAPICCTOKEN2``  plastic My Number card
``JPKIAPICCTOKEN``   住民基本台帳カード (old 住基カード)
``JPKIAPGPSETOKEN``  Android smartphone (スマホ用電子証明書)
``JPKIAPIOSTOKEN``   iPhone smartphone (スマホ用電子証明書)
=================== ==========================================

Smartphone tokens need the auth PIN even to read the auth certificate (spec §7 quirk 6).
"""

from __future__ import annotations

import enum
import logging
from dataclasses import dataclass

from jpki_sdk.card.errors import TokenInfoFormatError

logger = logging.getLogger(__name__)

__all__ = ["TOKEN_INFO_LENGTH", "TokenInfo", "TokenType", "parse_token_info"]

TOKEN_INFO_LENGTH = 160


class TokenType(enum.Enum):
    """What kind of JPKI token the label names."""

    MY_NUMBER_CARD = "JPKIAPICCTOKEN2"
    JUKI_CARD = "JPKIAPICCTOKEN"
    ANDROID = "JPKIAPGPSETOKEN"
    IPHONE = "JPKIAPIOSTOKEN"
    UNKNOWN = ""

    @property
    def is_smartphone(self) -> bool:
        return self in (TokenType.ANDROID, TokenType.IPHONE)

    @property
    def is_plastic_card(self) -> bool:
        return self in (TokenType.MY_NUMBER_CARD, TokenType.JUKI_CARD)

    @property
    def auth_certificate_needs_pin(self) -> bool:
        """Smartphone JPKI guards the auth certificate with the auth PIN."""
        return self.is_smartphone

    @property
    def description(self) -> str:
        return _DESCRIPTIONS[self]

    @classmethod
    def from_label(cls, label: str) -> TokenType:
        for member in cls:
            if member is not TokenType.UNKNOWN and member.value == label:
                return member
        return TokenType.UNKNOWN


_DESCRIPTIONS = {
    TokenType.MY_NUMBER_CARD: "My Number card (マイナンバーカード)",
    TokenType.JUKI_CARD: "Juki card (住基カード)",
    TokenType.ANDROID: "Android smartphone JPKI (スマホ用電子証明書)",
    TokenType.IPHONE: "iPhone smartphone JPKI (スマホ用電子証明書)",
    TokenType.UNKNOWN: "unknown JPKI token",
}


@dataclass(frozen=True)
class TokenInfo:
    """Parsed EF 0006. Fields past the label are None when the file holds only the label."""

    label: str
    token_type: TokenType
    manufacturer_id: str | None = None
    model: str | None = None
    serial_number: str | None = None
    flags: int | None = None
    max_pin_len: int | None = None
    min_pin_len: int | None = None
    hardware_version: bytes | None = None
    firmware_version: bytes | None = None

    @property
    def complete(self) -> bool:
        return self.flags is not None


def _text(raw: bytes, what: str, *, strict: bool) -> str:
    trimmed = raw.rstrip(b" \x00")
    if strict:
        if not all(0x20 <= b < 0x7F for b in trimmed):
            raise TokenInfoFormatError(f"token info {what} is not printable ASCII")
        return trimmed.decode("ascii")
    return trimmed.decode("ascii", errors="replace")


def parse_token_info(raw: bytes) -> TokenInfo:
    """Parse EF 0006. Any bytes give a :class:`TokenInfo` or a :class:`TokenInfoFormatError`.

    At least the 32-byte label is required; the rest of ``CK_TOKEN_INFO`` is decoded when the
    file holds all 160 bytes (filler beyond them is ignored).
    """
    if not isinstance(raw, (bytes, bytearray)):
        raise TypeError(f"token info must be bytes, not {type(raw).__name__}")
    buf = bytes(raw)
    if len(buf) < 32:
        raise TokenInfoFormatError(f"token info is {len(buf)} bytes, the label alone is 32")
    label = _text(buf[:32], "label", strict=True)
    if not label:
        raise TokenInfoFormatError("token info label is empty")
    token_type = TokenType.from_label(label)
    if len(buf) < TOKEN_INFO_LENGTH:
        return TokenInfo(label=label, token_type=token_type)

    def word(offset: int) -> int:
        return int.from_bytes(buf[offset : offset + 4], "big")

    return TokenInfo(
        label=label,
        token_type=token_type,
        manufacturer_id=_text(buf[32:64], "manufacturer", strict=False),
        model=_text(buf[64:80], "model", strict=False),
        serial_number=_text(buf[80:96], "serial number", strict=False),
        flags=word(96),
        max_pin_len=word(116),
        min_pin_len=word(120),
        hardware_version=buf[140:142],
        firmware_version=buf[142:144],
    )
