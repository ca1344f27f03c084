"""PKCS#1 v1.5 signatures made by the card, checked against a (validated) certificate.

The card's COMPUTE DIGITAL SIGNATURE signs a DigestInfo (hash OID + digest) with RSASSA-PKCS1
v1.5. :func:`verify_signature` checks such a signature over the data, or over a digest the
caller computed. SHA-256/384/512 are accepted; SHA-1 only with ``allow_sha1=True``.

Verify against a certificate that :class:`~jpki_sdk.verify.CertificateVerifier` validated
(pass the :class:`~jpki_sdk.verify.ValidatedCertificate` itself): this function checks the
signature only, not the certificate.
"""

from __future__ import annotations

import logging
from typing import Protocol, Union

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa, utils

from jpki_sdk.verify.errors import (
    HashAlgorithmNotAllowedError,
    SignatureInvalidError,
    UnsupportedKeyError,
)

__all__ = ["HASH_ALGORITHMS", "hash_algorithm", "verify_signature"]

logger = logging.getLogger(__name__)

HASH_ALGORITHMS: dict[str, type[hashes.HashAlgorithm]] = {
    "sha1": hashes.SHA1,
    "sha256": hashes.SHA256,
    "sha384": hashes.SHA384,
    "sha512": hashes.SHA512,
}


class _HasCertificate(Protocol):
    @property
    def certificate(self) -> x509.Certificate: ...


SignerCertificate = Union[x509.Certificate, _HasCertificate, rsa.RSAPublicKey]  # noqa: UP007


def hash_algorithm(name: str, *, allow_sha1: bool = False) -> hashes.HashAlgorithm:
    """The hash for a name such as ``"sha256"``, ``"SHA-256"`` or ``"sha1"`` (if allowed).

    Unknown names and SHA-1 without permission raise :class:`HashAlgorithmNotAllowedError`.
    """
    if not isinstance(name, str):
        raise TypeError("hash_alg must be a str such as 'sha256'")
    key = name.strip().lower().replace("-", "").replace("_", "")
    algorithm = HASH_ALGORITHMS.get(key)
    if algorithm is None:
        raise HashAlgorithmNotAllowedError(
            f"hash algorithm {name!r} is not supported (sha256, sha384, sha512; sha1 if allowed)",
            algorithm=name,
        )
    if key == "sha1" and not allow_sha1:
        raise HashAlgorithmNotAllowedError(
            "SHA-1 signatures are accepted only when explicitly allowed", algorithm="sha1"
        )
    return algorithm()


def _public_key(cert: SignerCertificate) -> rsa.RSAPublicKey:
    if isinstance(cert, rsa.RSAPublicKey):
        return cert
    certificate = cert if isinstance(cert, x509.Certificate) else getattr(cert, "certificate", None)
    if not isinstance(certificate, x509.Certificate):
        raise TypeError("cert must be an x509.Certificate, a ValidatedCertificate or an RSA key")
    key = certificate.public_key()
    if not isinstance(key, rsa.RSAPublicKey):
        raise UnsupportedKeyError(f"the certificate key is {type(key).__name__}, not RSA")
    return key


def verify_signature(
    cert: SignerCertificate,
    data: bytes | None,
    signature: bytes,
    hash_alg: str,
    *,
    digest: bytes | None = None,
    allow_sha1: bool = False,
) -> None:
    """Check an RSASSA-PKCS1-v1_5 ``signature`` over ``data`` (or over ``digest``).

    Exactly one of ``data`` and ``digest`` is given. Returns None when the signature is
    valid; raises :class:`SignatureInvalidError` when it is not,
    :class:`HashAlgorithmNotAllowedError` for an unknown hash or SHA-1 without
    ``allow_sha1``.
    """
    if (data is None) == (digest is None):
        raise ValueError("give exactly one of data and digest")
    if not isinstance(signature, (bytes, bytearray)):
        raise TypeError("signature must be bytes")
    algorithm = hash_algorithm(hash_alg, allow_sha1=allow_sha1)
    key = _public_key(cert)
    if len(signature) != (key.key_size + 7) // 8:
        raise SignatureInvalidError(
            f"signature is {len(signature)} bytes; the {key.key_size}-bit key makes "
            f"{(key.key_size + 7) // 8}-byte signatures"
        )
    try:
        if digest is not None:
            if not isinstance(digest, (bytes, bytearray)):
                raise TypeError("digest must be bytes")
            if len(digest) != algorithm.digest_size:
                raise SignatureInvalidError(
                    f"digest is {len(digest)} bytes; {algorithm.name} digests are "
                    f"{algorithm.digest_size}"
                )
            key.verify(
                bytes(signature), bytes(digest), padding.PKCS1v15(), utils.Prehashed(algorithm)
            )
        else:
            if not isinstance(data, (bytes, bytearray, memoryview)):
                raise TypeError("data must be bytes")
            key.verify(bytes(signature), bytes(data), padding.PKCS1v15(), algorithm)
    except InvalidSignature:
        logger.debug("PKCS#1 v1.5 %s signature did not verify", algorithm.name)
        raise SignatureInvalidError(
            f"the {algorithm.name} PKCS#1 v1.5 signature does not verify with this certificate"
        ) from None
