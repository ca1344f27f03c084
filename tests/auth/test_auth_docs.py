"""docs/token-format-v1.md agrees with the implementation: the example token verifies, the
test vector is what the code computes, and every auth error code is documented."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest
from cryptography import x509

from jpki_sdk.auth import errors
from jpki_sdk.auth.message import auth_message
from jpki_sdk.auth.token import parse_token
from jpki_sdk.verify import verify_signature

DOC = Path(__file__).resolve().parents[2] / "docs" / "token-format-v1.md"


@pytest.fixture(scope="module")
def doc() -> str:
    return DOC.read_text(encoding="utf-8")


def _row(doc: str, label: str) -> str:
    match = re.search(rf"^\| {re.escape(label)} \| `([^`]+)` \|$", doc, re.MULTILINE)
    assert match is not None, label
    return match.group(1)


def test_example_token_verifies(doc: str) -> None:
    block = re.search(r"```json\n(.*?)\n```", doc, re.DOTALL)
    assert block is not None
    token = parse_token(block.group(1))
    assert token.nonce == bytes(range(32))
    cert = x509.load_der_x509_certificate(token.certificate)
    assert "JPKI TEST" in cert.issuer.rfc4514_string()
    verify_signature(
        cert, auth_message("https://rp.example", token.nonce), token.signature, "sha256"
    )


def test_test_vector(doc: str) -> None:
    nonce = bytes.fromhex(_row(doc, "nonce (hex)"))
    origin = _row(doc, "origin")
    m = auth_message(origin, nonce)
    assert _row(doc, "SHA-256(origin)") == hashlib.sha256(origin.encode()).hexdigest()
    assert _row(doc, "SHA-256(nonce)") == hashlib.sha256(nonce).hexdigest()
    assert _row(doc, "SHA-256(M)") == hashlib.sha256(m).hexdigest()
    prefix = bytes.fromhex("3031300d060960864801650304020105000420")
    assert (
        _row(doc, "DigestInfo sent to the card (RS256)")
        == (prefix + hashlib.sha256(m).digest()).hex()
    )


def test_every_auth_error_code_is_documented(doc: str) -> None:
    codes = {
        cls.code
        for cls in vars(errors).values()
        if isinstance(cls, type)
        and issubclass(cls, errors.AuthVerificationError)
        and cls is not errors.AuthVerificationError
        and cls is not errors.ChallengeError
    }
    assert codes
    missing = [code for code in sorted(codes) if f"`{code}`" not in doc]
    assert missing == []
