"""API keys of the relying parties calling the service.

A key is ``jpki_`` followed by 43 base64url characters (32 random bytes). The service stores
only ``SHA-256(key)`` (hex) in its configuration: keys have 256 bits of entropy, so a fast hash
is enough and a leaked configuration does not reveal usable keys. Checking a presented key
hashes it and compares the digest against **every** configured digest with
:func:`hmac.compare_digest`, without stopping at a match, so the time taken does not depend on
which key (if any) matched.

Each key names the origins it may act for: a relying party can only issue and verify
challenges for its own web origins.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field

from jpki_sdk.auth.message import normalize_origin
from jpki_sdk.errors import ConfigurationError

logger = logging.getLogger(__name__)

KEY_PREFIX = "jpki_"
#: Longest credential accepted from a request (characters); longer ones are refused unhashed.
MAX_PRESENTED_KEY_LENGTH = 256
_HEX64 = re.compile(r"[0-9a-f]{64}")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


def generate_api_key() -> str:
    """A new random API key (give it to the relying party; store only its hash)."""
    raw = secrets.token_bytes(32)
    return KEY_PREFIX + base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def hash_api_key(key: str) -> str:
    """The hex SHA-256 of a key, the form stored in the service configuration."""
    if not isinstance(key, str) or not key:
        raise ValueError("an API key is a non-empty string")
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class ApiKey:
    """One configured key: a name for logs and metrics, its SHA-256, its origins."""

    name: str
    digest: bytes = field(repr=False)
    origins: tuple[str, ...]

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not _NAME.fullmatch(self.name):
            raise ConfigurationError(
                f"API key name {self.name!r} must be 1-64 characters of letters, digits, "
                "'.', '_' or '-'"
            )
        if len(self.digest) != 32:
            raise ConfigurationError(f"API key {self.name!r}: the digest must be 32 bytes")
        if not self.origins:
            raise ConfigurationError(f"API key {self.name!r} must allow at least one origin")
        canonical: list[str] = []
        for origin in self.origins:
            try:
                value = normalize_origin(origin)
            except (TypeError, ValueError) as exc:
                raise ConfigurationError(
                    f"API key {self.name!r}: invalid origin {origin!r}: {exc}"
                ) from None
            if value not in canonical:
                canonical.append(value)
        object.__setattr__(self, "origins", tuple(canonical))

    @classmethod
    def from_hex(cls, name: str, sha256_hex: str, origins: Iterable[str]) -> ApiKey:
        if not isinstance(sha256_hex, str) or not _HEX64.fullmatch(sha256_hex.lower()):
            raise ConfigurationError(
                f"API key {name!r}: sha256 must be 64 hex digits (the hash of the key, "
                "see `jpki serve --new-api-key`)"
            )
        return cls(name, bytes.fromhex(sha256_hex), tuple(origins))

    def allows(self, origin: str) -> bool:
        """True when ``origin`` (already canonical) is one of this key's origins."""
        return origin in self.origins


class ApiKeyring:
    """The configured keys; :meth:`authenticate` checks a presented key in constant time."""

    def __init__(self, keys: Iterable[ApiKey]) -> None:
        self._keys = tuple(keys)
        names = [k.name for k in self._keys]
        if len(set(names)) != len(names):
            raise ConfigurationError("API key names must be unique")
        digests = [k.digest for k in self._keys]
        if len(set(digests)) != len(digests):
            raise ConfigurationError("two API keys have the same hash")
        # A digest no key can have, compared when nothing is presented, so that a request
        # without a key costs the same comparisons as one with a wrong key.
        self._dummy = hashlib.sha256(b"jpki-sdk: no key presented").digest()

    def __len__(self) -> int:
        return len(self._keys)

    @property
    def keys(self) -> tuple[ApiKey, ...]:
        return self._keys

    def authenticate(self, presented: str | None) -> ApiKey | None:
        """The key whose hash matches ``presented``, or None. Never logs the key."""
        if presented is None or not presented or len(presented) > MAX_PRESENTED_KEY_LENGTH:
            digest = self._dummy
        else:
            digest = hashlib.sha256(presented.encode("utf-8", "surrogatepass")).digest()
        found: ApiKey | None = None
        for key in self._keys:
            if hmac.compare_digest(key.digest, digest) and presented:
                found = key
        return found

    def __repr__(self) -> str:
        return f"ApiKeyring({', '.join(k.name for k in self._keys)})"


def presented_key(authorization: str | None, x_api_key: str | None) -> tuple[str | None, bool]:
    """The key from ``Authorization: Bearer <key>`` or ``X-API-Key``.

    Returns ``(key, ok)``: ``ok`` is False when the headers are malformed or disagree (then
    the request is refused as unauthenticated).
    """
    bearer: str | None = None
    if authorization is not None:
        scheme, _, value = authorization.strip().partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            return None, False
        bearer = value.strip()
    if x_api_key is not None:
        x_api_key = x_api_key.strip()
        if not x_api_key:
            return None, False
    if (
        bearer is not None
        and x_api_key is not None
        and not hmac.compare_digest(
            bearer.encode("utf-8", "surrogatepass"), x_api_key.encode("utf-8", "surrogatepass")
        )
    ):
        return None, False
    return (bearer if bearer is not None else x_api_key), True


__all__ = [
    "KEY_PREFIX",
    "ApiKey",
    "ApiKeyring",
    "generate_api_key",
    "hash_api_key",
    "presented_key",
]
