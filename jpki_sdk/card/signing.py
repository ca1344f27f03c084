"""Signing helpers: hash algorithms, the DigestInfo the card signs, and the signature check.

With ``80 2A 00 80`` the card pads whatever it is given with PKCS#1 v1.5 type 1 (spec §3.4), so
the host must send a full DigestInfo: a bare hash yields a signature no verifier accepts. The
prefixes below are spec §3.4's table (MYNA-GO ``digestInfoPrefix``); the tests cross-check them
against asn1crypto's independent DER encoder.
"""

from __future__ import annotations

import enum
import hashlib
import logging

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa, utils

from jpki_sdk.card.certificates import CertKind
from jpki_sdk.card.errors import SignatureCheckError
from jpki_sdk.card.pins import PinKind

logger = logging.getLogger(__name__)

__all__ = ["HashAlg", "KeyKind", "check_signature", "digest_info", "hash_message"]


class HashAlg(enum.Enum):
    """Hash algorithms for :meth:`JpkiCard.sign`. SHA-256 is the default and what JPKI login
    uses; SHA-1 exists for legacy CMS and is discouraged."""

    SHA1 = "sha1"
    SHA256 = "sha256"
    SHA384 = "sha384"
    SHA512 = "sha512"

    @property
    def digest_size(self) -> int:
        return _SIZES[self]

    @property
    def prefix(self) -> bytes:
        """The DER DigestInfo bytes that precede the digest (spec §3.4)."""
        return _PREFIXES[self]

    def algorithm(self) -> hashes.HashAlgorithm:
        """The cryptography hash object."""
        return _ALGORITHMS[self]()

    @classmethod
    def from_name(cls, name: str) -> HashAlg:
        """``"sha256"``, ``"SHA-256"``, ``"sha_256"``... to a :class:`HashAlg`."""
        key = name.lower().replace("-", "").replace("_", "")
        try:
            return cls(key)
        except ValueError:
            raise ValueError(f"unknown hash {name!r}: use sha1, sha256, sha384 or sha512") from None


_SIZES = {HashAlg.SHA1: 20, HashAlg.SHA256: 32, HashAlg.SHA384: 48, HashAlg.SHA512: 64}
_PREFIXES = {
    HashAlg.SHA1: bytes.fromhex("3021300906052B0E03021A05000414"),
    HashAlg.SHA256: bytes.fromhex("3031300D060960864801650304020105000420"),
    HashAlg.SHA384: bytes.fromhex("3041300D060960864801650304020205000430"),
    HashAlg.SHA512: bytes.fromhex("3051300D060960864801650304020305000440"),
}
_ALGORITHMS: dict[HashAlg, type[hashes.HashAlgorithm]] = {
    HashAlg.SHA1: hashes.SHA1,
    HashAlg.SHA256: hashes.SHA256,
    HashAlg.SHA384: hashes.SHA384,
    HashAlg.SHA512: hashes.SHA512,
}


class KeyKind(enum.Enum):
    """The two private keys of the JPKI-AP."""

    AUTH = "auth"
    """利用者証明用秘密鍵 (EF 0017), unlocked by the auth PIN; login."""
    SIGN = "sign"
    """署名用秘密鍵 (EF 001A), unlocked by the signature password; identity verification."""

    @property
    def key_fid(self) -> int:
        return 0x0017 if self is KeyKind.AUTH else 0x001A

    @property
    def pin_kind(self) -> PinKind:
        return PinKind.AUTH if self is KeyKind.AUTH else PinKind.SIGN

    @property
    def cert_kind(self) -> CertKind:
        return CertKind.AUTH if self is KeyKind.AUTH else CertKind.SIGN

    @classmethod
    def from_name(cls, name: str) -> KeyKind:
        try:
            return cls(name.lower())
        except ValueError:
            raise ValueError(f"unknown key {name!r}: use auth or sign") from None


def hash_message(hash_alg: HashAlg, data: bytes) -> bytes:
    """The digest of ``data`` with ``hash_alg``."""
    return hashlib.new(hash_alg.value, data).digest()


def digest_info(hash_alg: HashAlg, digest: bytes) -> bytes:
    """The DER DigestInfo for ``digest`` (what ``80 2A 00 80`` must be given)."""
    if not isinstance(digest, (bytes, bytearray)):
        raise TypeError(f"digest must be bytes, not {type(digest).__name__}")
    if len(digest) != hash_alg.digest_size:
        raise ValueError(
            f"a {hash_alg.value} digest is {hash_alg.digest_size} bytes, got {len(digest)}"
        )
    return hash_alg.prefix + bytes(digest)


def check_signature(
    certificate: x509.Certificate, hash_alg: HashAlg, digest: bytes, signature: bytes
) -> None:
    """Verify a PKCS#1 v1.5 ``signature`` over ``digest`` with the certificate's RSA key.

    Raises :class:`SignatureCheckError` when it does not verify.
    """
    key = certificate.public_key()
    if not isinstance(key, rsa.RSAPublicKey):
        raise SignatureCheckError("the card's certificate does not hold an RSA key")
    expected = (key.key_size + 7) // 8
    if len(signature) != expected:
        raise SignatureCheckError(
            f"the card returned a {len(signature)}-byte signature, expected {expected} bytes "
            f"for the certificate's {key.key_size}-bit key"
        )
    try:
        key.verify(signature, digest, padding.PKCS1v15(), utils.Prehashed(hash_alg.algorithm()))
    except InvalidSignature:
        raise SignatureCheckError(
            "the signature returned by the card does not verify against the card's "
            "certificate (faulty card or reader, or a different card); it was not returned"
        ) from None
