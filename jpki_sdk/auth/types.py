"""Small value types shared by the login protocol modules."""

from __future__ import annotations

import enum

#: Size of a challenge nonce in bytes.
NONCE_SIZE = 32


class AuthPurpose(str, enum.Enum):
    """What a challenge and its token are for.

    - ``LOGIN``: the user-authentication certificate and its 4-digit PIN (利用者証明).
    - ``IDENTITY``: the signature certificate and its password (本人確認, 4 attributes).
    """

    LOGIN = "login"
    IDENTITY = "identity"


class SignatureAlgorithm(str, enum.Enum):
    """RSASSA-PKCS1-v1_5 with the named hash (JOSE names)."""

    RS256 = "RS256"
    RS384 = "RS384"
    RS512 = "RS512"

    @property
    def hash_name(self) -> str:
        """The hash name as :mod:`hashlib` and :func:`jpki_sdk.verify.verify_signature` say it."""
        return _HASHES[self]


_HASHES = {
    SignatureAlgorithm.RS256: "sha256",
    SignatureAlgorithm.RS384: "sha384",
    SignatureAlgorithm.RS512: "sha512",
}

__all__ = ["NONCE_SIZE", "AuthPurpose", "SignatureAlgorithm"]
