"""Token format v1: what the user's side sends the relying party after the card signed.

A token is one JSON object with exactly these members (all strings)::

    {
      "format": "jpki-auth-token/v1",
      "purpose": "login" | "identity",
      "algorithm": "RS256" | "RS384" | "RS512",
      "certificate": "<standard base64 of the certificate DER>",
      "signature": "<standard base64 of the RSASSA-PKCS1-v1_5 signature>",
      "nonce": "<standard base64 of the 32-byte challenge nonce>"
    }

The signature is over ``M = SHA-256(origin) || SHA-256(nonce)`` (:mod:`jpki_sdk.auth.message`)
with the hash ``algorithm`` names. The full specification, with examples, is
``docs/token-format-v1.md``.

Parsing is strict and bounded: unknown or duplicate members, non-string values, non-canonical
base64 and oversized input are refused with a :class:`~jpki_sdk.auth.errors.MalformedTokenError`
(or a subclass), never any other exception.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from jpki_sdk.auth.errors import (
    MalformedTokenError,
    TokenTooLargeError,
    UnsupportedAlgorithmError,
    UnsupportedTokenFormatError,
)
from jpki_sdk.auth.types import NONCE_SIZE, AuthPurpose, SignatureAlgorithm

#: The value of the ``format`` member for this version.
TOKEN_FORMAT_V1 = "jpki-auth-token/v1"  # noqa: S105 - a format id, not a secret
#: Largest token accepted, in bytes of JSON text.
MAX_TOKEN_BYTES = 16 * 1024
#: Largest certificate accepted, in DER bytes (JPKI certificates are about 1.6-1.8 KB).
MAX_CERTIFICATE_BYTES = 8 * 1024
#: Largest signature accepted, in bytes (RSA-4096; JPKI cards sign with RSA-2048: 256 bytes).
MAX_SIGNATURE_BYTES = 512
#: Smallest signature accepted, in bytes.
MIN_SIGNATURE_BYTES = 64

_MEMBERS = ("format", "purpose", "algorithm", "certificate", "signature", "nonce")


def _b64encode(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def _b64decode(value: str, member: str, *, min_size: int, max_size: int) -> bytes:
    # Bound the text before decoding it (4 characters per 3 bytes, padded).
    if len(value) > 4 * ((max_size + 2) // 3):
        raise TokenTooLargeError(f"{member} is larger than {max_size} bytes", field=member)
    try:
        raw = base64.b64decode(value.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError):
        raise MalformedTokenError(f"{member} is not standard base64", field=member) from None
    if _b64encode(raw) != value:
        raise MalformedTokenError(f"{member} is not canonical padded base64", field=member)
    if len(raw) > max_size:
        raise TokenTooLargeError(f"{member} is larger than {max_size} bytes", field=member)
    if len(raw) < min_size:
        raise MalformedTokenError(f"{member} is shorter than {min_size} bytes", field=member)
    return raw


def _reject_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise MalformedTokenError(f"member {key!r} appears twice", field=key[:64])
        result[key] = value
    return result


@dataclass(frozen=True)
class Token:
    """A decoded v1 token. Build one with :func:`parse_token` or the client helper."""

    purpose: AuthPurpose
    algorithm: SignatureAlgorithm
    certificate: bytes = field(repr=False)
    signature: bytes = field(repr=False)
    nonce: bytes = field(repr=False)

    def __post_init__(self) -> None:
        if not isinstance(self.purpose, AuthPurpose):
            raise TypeError("purpose must be an AuthPurpose")
        if not isinstance(self.algorithm, SignatureAlgorithm):
            raise TypeError("algorithm must be a SignatureAlgorithm")
        for name, value, low, high in (
            ("certificate", self.certificate, 1, MAX_CERTIFICATE_BYTES),
            ("signature", self.signature, MIN_SIGNATURE_BYTES, MAX_SIGNATURE_BYTES),
            ("nonce", self.nonce, NONCE_SIZE, NONCE_SIZE),
        ):
            if not isinstance(value, bytes):
                raise TypeError(f"{name} must be bytes")
            if not low <= len(value) <= high:
                raise ValueError(f"{name} must be {low}..{high} bytes")

    def to_dict(self) -> dict[str, str]:
        """The JSON object of the token (member order as in the specification)."""
        return {
            "format": TOKEN_FORMAT_V1,
            "purpose": self.purpose.value,
            "algorithm": self.algorithm.value,
            "certificate": _b64encode(self.certificate),
            "signature": _b64encode(self.signature),
            "nonce": _b64encode(self.nonce),
        }

    def to_json(self) -> str:
        """Compact JSON text (ASCII only)."""
        return json.dumps(self.to_dict(), separators=(",", ":"))

    def __repr__(self) -> str:
        return (
            f"Token({self.purpose.value}, {self.algorithm.value}, "
            f"certificate={len(self.certificate)} bytes, signature={len(self.signature)} bytes)"
        )


def parse_token(data: str | bytes | bytearray | Mapping[str, Any]) -> Token:
    """Decode and check the shape of a v1 token.

    ``data`` is the JSON text (``str`` or UTF-8 ``bytes``) or an already decoded JSON object
    (for a token embedded in a larger request). Raises :class:`MalformedTokenError` or one of
    its subclasses (:class:`TokenTooLargeError`, :class:`UnsupportedTokenFormatError`,
    :class:`UnsupportedAlgorithmError`) for anything that is not a valid v1 token.
    """
    if isinstance(data, (bytes, bytearray)):
        if len(data) > MAX_TOKEN_BYTES:
            raise TokenTooLargeError(f"token is larger than {MAX_TOKEN_BYTES} bytes")
        try:
            text = bytes(data).decode("utf-8")
        except UnicodeDecodeError:
            raise MalformedTokenError("token is not UTF-8 text") from None
        obj = _loads(text)
    elif isinstance(data, str):
        if len(data) > MAX_TOKEN_BYTES:
            raise TokenTooLargeError(f"token is larger than {MAX_TOKEN_BYTES} bytes")
        obj = _loads(data)
    elif isinstance(data, Mapping):
        obj = data
    else:
        raise MalformedTokenError(f"a token is a JSON object, not {type(data).__name__}")
    return _from_object(obj)


def _loads(text: str) -> Any:
    if len(text.encode("utf-8", "surrogatepass")) > MAX_TOKEN_BYTES:
        raise TokenTooLargeError(f"token is larger than {MAX_TOKEN_BYTES} bytes")
    try:
        return json.loads(text, object_pairs_hook=_reject_duplicates)
    except MalformedTokenError:
        raise
    except (ValueError, RecursionError):
        raise MalformedTokenError("token is not valid JSON") from None


def _from_object(obj: object) -> Token:
    if not isinstance(obj, Mapping):
        raise MalformedTokenError("a token is a JSON object")
    for key in obj:
        if not isinstance(key, str) or key not in _MEMBERS:
            shown = key[:64] if isinstance(key, str) else type(key).__name__
            raise MalformedTokenError(f"unknown token member {shown!r}", field=shown)
    for member in _MEMBERS:
        if member not in obj:
            raise MalformedTokenError(f"token member {member!r} is missing", field=member)
        if not isinstance(obj[member], str):
            raise MalformedTokenError(f"token member {member!r} must be a string", field=member)
    if obj["format"] != TOKEN_FORMAT_V1:
        raise UnsupportedTokenFormatError(
            f"token format must be {TOKEN_FORMAT_V1!r}", field="format"
        )
    try:
        purpose = AuthPurpose(obj["purpose"])
    except ValueError:
        raise MalformedTokenError(
            "token purpose must be 'login' or 'identity'", field="purpose"
        ) from None
    try:
        algorithm = SignatureAlgorithm(obj["algorithm"])
    except ValueError:
        raise UnsupportedAlgorithmError(
            "token algorithm must be RS256, RS384 or RS512", field="algorithm"
        ) from None
    certificate = _b64decode(
        obj["certificate"], "certificate", min_size=1, max_size=MAX_CERTIFICATE_BYTES
    )
    signature = _b64decode(
        obj["signature"],
        "signature",
        min_size=MIN_SIGNATURE_BYTES,
        max_size=MAX_SIGNATURE_BYTES,
    )
    if len(obj["nonce"]) != 4 * ((NONCE_SIZE + 2) // 3):
        raise MalformedTokenError(f"nonce must be {NONCE_SIZE} bytes", field="nonce")
    # 44 characters hold 31 to 33 bytes: decode, then insist on exactly 32.
    nonce = _b64decode(obj["nonce"], "nonce", min_size=0, max_size=NONCE_SIZE + 1)
    if len(nonce) != NONCE_SIZE:
        raise MalformedTokenError(f"nonce must be {NONCE_SIZE} bytes", field="nonce")
    return Token(purpose, algorithm, certificate, signature, nonce)


__all__ = [
    "MAX_CERTIFICATE_BYTES",
    "MAX_SIGNATURE_BYTES",
    "MAX_TOKEN_BYTES",
    "MIN_SIGNATURE_BYTES",
    "TOKEN_FORMAT_V1",
    "Token",
    "parse_token",
]
