"""Signature checks shared by the CRL index and the OCSP client (cryptography does the maths)."""

from __future__ import annotations

import hashlib
from typing import Any, cast

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, padding, rsa

__all__ = [
    "ALLOWED_HASHES",
    "key_identifier",
    "signature_ok",
    "spki_sha256",
]

#: Hashes accepted in CRL and OCSP signatures. SHA-1 and MD5 are refused.
ALLOWED_HASHES: tuple[type[hashes.HashAlgorithm], ...] = (
    hashes.SHA256,
    hashes.SHA384,
    hashes.SHA512,
)

_MIN_RSA_BITS = 2048


class UnsupportedSignatureError(Exception):
    """Raised for a signature algorithm, hash or key the checks refuse (caller maps it)."""


def spki_sha256(cert: x509.Certificate) -> bytes:
    """SHA-256 of the SubjectPublicKeyInfo: the index's identifier of an issuing key."""
    spki = cert.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return hashlib.sha256(spki).digest()


def key_identifier(cert: x509.Certificate) -> bytes:
    """The certificate's SKI extension value, or the RFC 5280 method-1 value computed."""
    try:
        ext = cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier)
        return ext.value.digest
    except x509.ExtensionNotFound:
        return x509.SubjectKeyIdentifier.from_public_key(cert.public_key()).digest  # type: ignore[arg-type,unused-ignore]


def signature_ok(
    public_key: Any,
    signature: bytes,
    data: bytes | memoryview,
    hash_algorithm: hashes.HashAlgorithm | None,
    parameters: Any,
) -> bool:
    """Verify ``signature`` over ``data``. False for a wrong signature; raises
    :class:`UnsupportedSignatureError` for an algorithm, hash or key size the policy refuses."""
    if isinstance(public_key, (ed25519.Ed25519PublicKey, ed448.Ed448PublicKey)):
        try:
            public_key.verify(signature, bytes(data))
        except InvalidSignature:
            return False
        return True
    if hash_algorithm is None or not isinstance(hash_algorithm, ALLOWED_HASHES):
        name = "none" if hash_algorithm is None else hash_algorithm.name
        raise UnsupportedSignatureError(f"signature hash {name} is not allowed")
    try:
        if isinstance(public_key, rsa.RSAPublicKey):
            if public_key.key_size < _MIN_RSA_BITS:
                raise UnsupportedSignatureError(
                    f"RSA key of {public_key.key_size} bits is too small"
                )
            pad = parameters if parameters is not None else padding.PKCS1v15()
            if not isinstance(pad, (padding.PKCS1v15, padding.PSS)):
                raise UnsupportedSignatureError(f"unsupported RSA padding {type(pad).__name__}")
            public_key.verify(signature, cast(bytes, data), pad, hash_algorithm)
        elif isinstance(public_key, ec.EllipticCurvePublicKey):
            public_key.verify(signature, cast(bytes, data), ec.ECDSA(hash_algorithm))
        else:
            raise UnsupportedSignatureError(f"unsupported key type {type(public_key).__name__}")
    except InvalidSignature:
        return False
    return True
