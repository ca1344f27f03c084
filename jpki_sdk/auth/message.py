"""The message a card signs to log in: ``M = SHA-256(origin) || SHA-256(nonce)``.

``origin`` is the relying party's own web origin in its canonical serialization
(:func:`normalize_origin`), encoded as ASCII. The verifier always rebuilds ``M`` from the
origin it is configured with, never from anything in the token, so a token relayed to another
site does not verify there.

The card then signs ``M`` with RSASSA-PKCS1-v1_5 and the hash the token names (RS256: the SDK
builds ``DigestInfo(SHA-256, SHA-256(M))`` and the card pads it, the card's ``P1=00`` mode).
"""

from __future__ import annotations

import hashlib
import ipaddress
import logging
from urllib.parse import urlsplit

from jpki_sdk.auth.types import NONCE_SIZE

logger = logging.getLogger(__name__)

#: Longest origin accepted (bytes of the canonical form).
MAX_ORIGIN_LENGTH = 512

_DEFAULT_PORTS = {"https": 443, "http": 80}


def _is_loopback(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def normalize_origin(origin: str) -> str:
    """The canonical ASCII serialization of a web origin (RFC 6454 section 6.2).

    ``scheme://host[:port]`` with the scheme and host in lower case, an internationalized
    host in its IDNA (punycode) form, and the port left out when it is the scheme's default.
    A single trailing ``/`` is tolerated and dropped; any other path, a query, a fragment or
    user info is refused. ``https`` is required except for loopback hosts, where ``http``
    is allowed for development.

    Raises ``ValueError`` for anything that is not an origin.
    """
    if not isinstance(origin, str):
        raise TypeError("origin must be a str")
    if not origin or len(origin) > MAX_ORIGIN_LENGTH:
        raise ValueError("origin is empty or too long")
    if any(ch.isspace() for ch in origin) or any(ord(ch) < 0x20 for ch in origin):
        raise ValueError("origin contains whitespace or control characters")
    try:
        parts = urlsplit(origin)
        port = parts.port
    except ValueError as exc:
        raise ValueError(f"not an origin: {exc}") from None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS:
        raise ValueError("origin scheme must be https (or http for a loopback host)")
    if parts.username is not None or parts.password is not None:
        raise ValueError("origin must not contain user info")
    if parts.path not in ("", "/") or parts.query or parts.fragment or origin.endswith(("?", "#")):
        raise ValueError("origin must not have a path, query or fragment")
    host = parts.hostname
    if not host:
        raise ValueError("origin has no host")
    if ":" in host:  # IPv6 literal
        try:
            host = f"[{ipaddress.IPv6Address(host).compressed}]"
        except ValueError:
            raise ValueError("origin has an invalid IPv6 host") from None
    else:
        try:
            host = host.encode("idna").decode("ascii").lower()
        except UnicodeError:
            raise ValueError("origin has an invalid host name") from None
        if host.endswith("."):
            raise ValueError("origin host must not end with a dot")
    if scheme == "http" and not _is_loopback(host):
        raise ValueError("origin must use https (http is allowed only for loopback hosts)")
    netloc = host if port is None or port == _DEFAULT_PORTS[scheme] else f"{host}:{port}"
    canonical = f"{scheme}://{netloc}"
    if len(canonical) > MAX_ORIGIN_LENGTH:
        raise ValueError("origin is too long")
    return canonical


def auth_message(origin: str, nonce: bytes) -> bytes:
    """``SHA-256(normalize_origin(origin)) || SHA-256(nonce)``: the 64 bytes a card signs."""
    if not isinstance(nonce, (bytes, bytearray)) or len(nonce) != NONCE_SIZE:
        raise ValueError(f"nonce must be {NONCE_SIZE} bytes")
    canonical = normalize_origin(origin)
    return hashlib.sha256(canonical.encode("ascii")).digest() + hashlib.sha256(nonce).digest()


__all__ = ["MAX_ORIGIN_LENGTH", "auth_message", "normalize_origin"]
