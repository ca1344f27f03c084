"""verify_signature: PKCS#1 v1.5 with SHA-1/256/384/512 DigestInfo, data or digest."""

from __future__ import annotations

import hashlib
from collections.abc import Callable

import pytest
from chains import ChainFactory, ec_key, rsa_key
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, utils

from jpki_sdk.verify import (
    CertificateVerifier,
    HashAlgorithmNotAllowedError,
    Purpose,
    SignatureInvalidError,
    UnsupportedKeyError,
    hash_algorithm,
    verify_signature,
)

MESSAGE = b"challenge: origin hash || nonce hash"
HASHES = {
    "sha1": hashes.SHA1,
    "sha256": hashes.SHA256,
    "sha384": hashes.SHA384,
    "sha512": hashes.SHA512,
}


def _card_sign(data: bytes, name: str) -> bytes:
    """What the card returns: RSASSA-PKCS1-v1_5 over DigestInfo(hash(data)) with its key."""
    return rsa_key(1).sign(data, padding.PKCS1v15(), HASHES[name]())


@pytest.mark.parametrize("name", ["sha256", "sha384", "sha512", "SHA-256", "Sha_512"])
def test_valid_signatures(chains: ChainFactory, name: str) -> None:
    cert = chains.ee(Purpose.AUTH)
    canonical = name.lower().replace("-", "").replace("_", "")
    signature = _card_sign(MESSAGE, canonical)
    verify_signature(cert, MESSAGE, signature, name)
    digest = hashlib.new(canonical, MESSAGE).digest()
    verify_signature(cert, None, signature, name, digest=digest)
    verify_signature(cert.public_key(), MESSAGE, signature, name)  # type: ignore[arg-type]


def test_sha1_only_when_allowed(chains: ChainFactory) -> None:
    cert = chains.ee(Purpose.AUTH)
    signature = _card_sign(MESSAGE, "sha1")
    with pytest.raises(HashAlgorithmNotAllowedError) as info:
        verify_signature(cert, MESSAGE, signature, "sha1")
    assert info.value.code == "hash_algorithm_not_allowed"
    verify_signature(cert, MESSAGE, signature, "sha1", allow_sha1=True)
    sha1_digest = hashlib.new("sha1", MESSAGE).digest()  # noqa: S324 - the point of the test
    verify_signature(cert, None, signature, "sha-1", digest=sha1_digest, allow_sha1=True)


def test_invalid_signatures(chains: ChainFactory) -> None:
    cert = chains.ee(Purpose.AUTH)
    signature = _card_sign(MESSAGE, "sha256")
    bad = bytes([signature[0] ^ 1]) + signature[1:]
    for args, kwargs in (
        ((cert, MESSAGE + b"x", signature, "sha256"), {}),
        ((cert, MESSAGE, bad, "sha256"), {}),
        ((cert, MESSAGE, signature, "sha384"), {}),  # DigestInfo names another hash
        ((cert, MESSAGE, signature[:-1], "sha256"), {}),  # wrong length
        ((cert, None, signature, "sha256"), {"digest": b"\x00" * 32}),
        ((cert, None, signature, "sha256"), {"digest": b"\x00" * 20}),  # wrong digest size
    ):
        with pytest.raises(SignatureInvalidError) as info:
            verify_signature(*args, **kwargs)  # type: ignore[arg-type]
        assert info.value.code == "signature_invalid"
    other_key_signature = rsa_key(2).sign(MESSAGE, padding.PKCS1v15(), hashes.SHA256())
    with pytest.raises(SignatureInvalidError):
        verify_signature(cert, MESSAGE, other_key_signature, "sha256")


def test_raw_rsa_without_digest_info_is_rejected(chains: ChainFactory) -> None:
    """A signature over the bare digest (no DigestInfo) is not what the card makes."""
    cert = chains.ee(Purpose.AUTH)
    digest = hashlib.sha256(MESSAGE).digest()
    key = rsa_key(1)
    n = key.private_numbers().public_numbers.n
    d = key.private_numbers().d
    k = (n.bit_length() + 7) // 8
    block = b"\x00\x01" + b"\xff" * (k - 3 - len(digest)) + b"\x00" + digest
    raw = pow(int.from_bytes(block, "big"), d, n).to_bytes(k, "big")
    with pytest.raises(SignatureInvalidError):
        verify_signature(cert, MESSAGE, raw, "sha256")
    prehashed = key.sign(digest, padding.PKCS1v15(), utils.Prehashed(hashes.SHA256()))
    verify_signature(cert, None, prehashed, "sha256", digest=digest)


def test_unknown_hash_and_argument_errors(chains: ChainFactory) -> None:
    cert = chains.ee(Purpose.AUTH)
    signature = _card_sign(MESSAGE, "sha256")
    with pytest.raises(HashAlgorithmNotAllowedError):
        verify_signature(cert, MESSAGE, signature, "md5")
    with pytest.raises(ValueError):
        verify_signature(cert, MESSAGE, signature, "sha256", digest=b"x" * 32)
    with pytest.raises(ValueError):
        verify_signature(cert, None, signature, "sha256")
    with pytest.raises(TypeError):
        verify_signature(cert, MESSAGE, "sig", "sha256")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        verify_signature(cert, MESSAGE, signature, 256)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        verify_signature(object(), MESSAGE, signature, "sha256")  # type: ignore[arg-type]
    with pytest.raises(UnsupportedKeyError):
        verify_signature(chains.ee(Purpose.AUTH, key=ec_key()), MESSAGE, signature, "sha256")
    assert hash_algorithm("SHA512").name == "sha512"


def test_verifier_verify_signature_uses_its_sha1_setting(
    chains: ChainFactory, make_verifier: Callable[..., CertificateVerifier]
) -> None:
    cert = chains.ee(Purpose.AUTH)
    strict = make_verifier()
    validated = strict.verify(cert, Purpose.AUTH)
    strict.verify_signature(validated, MESSAGE, _card_sign(MESSAGE, "sha256"), "sha256")
    with pytest.raises(HashAlgorithmNotAllowedError):
        strict.verify_signature(validated, MESSAGE, _card_sign(MESSAGE, "sha1"), "sha1")
    lenient = make_verifier(allow_sha1=True)
    lenient.verify_signature(
        lenient.verify(cert, Purpose.AUTH), MESSAGE, _card_sign(MESSAGE, "sha1"), "sha1"
    )
    with pytest.raises(TypeError):
        strict.verify_signature(cert, MESSAGE, b"", "sha256")  # type: ignore[arg-type]
