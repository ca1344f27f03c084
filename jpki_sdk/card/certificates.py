"""Certificate files of the JPKI-AP and reading them by the DER header length.

The certificate EFs are longer than the certificate and padded with filler (spec §3.2), so a
reader must take the length from the DER header, never read to the end of the file and never
assume a fixed size (real signature certificates vary with the holder's name and address).
"""

from __future__ import annotations

import enum
import logging

from cryptography import x509

from jpki_sdk.card.errors import CertificateFormatError
from jpki_sdk.card.pins import PinKind

logger = logging.getLogger(__name__)

__all__ = ["MAX_EF_OFFSET", "CertKind", "der_total_length", "parse_certificate"]

MAX_EF_OFFSET = 0x7FFF
"""READ BINARY with a 15-bit offset reaches at most this offset (spec §3.2)."""


class CertKind(enum.Enum):
    """The four certificates in the JPKI-AP (spec §2.1)."""

    AUTH = "auth"
    """利用者証明用電子証明書 (EF 000A): free on a plastic card, auth PIN on a smartphone."""
    SIGN = "sign"
    """署名用電子証明書 (EF 0001): needs the signature password; carries 基本4情報."""
    AUTH_CA = "auth-ca"
    """利用者証明用CA証明書 (EF 000B): the issuing root as stored on the card (never trust it)."""
    SIGN_CA = "sign-ca"
    """署名用CA証明書 (EF 0002)."""

    @property
    def fid(self) -> int:
        return _FIDS[self]

    @property
    def pin_kind(self) -> PinKind | None:
        """The PIN that must be verified before reading (plastic card)."""
        return PinKind.SIGN if self is CertKind.SIGN else None

    @property
    def label(self) -> str:
        return _LABELS[self]

    @classmethod
    def from_name(cls, name: str) -> CertKind:
        key = name.lower().replace("_", "-")
        try:
            return cls(key)
        except ValueError:
            raise ValueError(
                f"unknown certificate {name!r}: use auth, sign, auth-ca or sign-ca"
            ) from None


_FIDS = {
    CertKind.AUTH: 0x000A,
    CertKind.SIGN: 0x0001,
    CertKind.AUTH_CA: 0x000B,
    CertKind.SIGN_CA: 0x0002,
}
_LABELS = {
    CertKind.AUTH: "user authentication certificate (利用者証明用電子証明書)",
    CertKind.SIGN: "signature certificate (署名用電子証明書)",
    CertKind.AUTH_CA: "user authentication CA certificate (利用者証明用CA証明書)",
    CertKind.SIGN_CA: "signature CA certificate (署名用CA証明書)",
}


def der_total_length(head: bytes) -> int | None:
    """Total length (header + content) of the DER SEQUENCE that starts ``head``.

    Returns ``None`` when ``head`` is too short to hold the whole header (read more), raises
    :class:`CertificateFormatError` when it is not a definite-length SEQUENCE that fits in an EF.
    An empty EF (first byte ``00`` or ``FF``) is reported by the caller, not here.
    """
    if len(head) < 2:
        return None
    if head[0] != 0x30:
        raise CertificateFormatError(
            f"the file does not start with a DER SEQUENCE (first byte {head[0]:02X})"
        )
    first = head[1]
    if first < 0x80:
        return 2 + first
    if first == 0x80:
        raise CertificateFormatError("indefinite length is not DER")
    count = first & 0x7F
    if count > 3:
        raise CertificateFormatError(f"a {count}-byte length cannot fit in a card file")
    if len(head) < 2 + count:
        return None
    length = int.from_bytes(head[2 : 2 + count], "big")
    if length < 0x80 or (count > 1 and head[2] == 0):
        raise CertificateFormatError("the DER length is not minimally encoded")
    total = 2 + count + length
    if total > MAX_EF_OFFSET + 1:
        raise CertificateFormatError(
            f"declared certificate length {total} exceeds what a card file can hold"
        )
    return total


def parse_certificate(der: bytes) -> x509.Certificate:
    """Parse a DER certificate, raising :class:`CertificateFormatError` on bad input."""
    try:
        return x509.load_der_x509_certificate(der)
    except ValueError as exc:
        raise CertificateFormatError(f"not a valid X.509 certificate: {exc}") from None
