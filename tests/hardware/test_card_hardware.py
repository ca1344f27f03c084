"""A real My Number card in a real reader. Skipped unless pytest runs with ``--reader NAME``
(``--reader '*'``: the first reader holding a JPKI card).

Read-only by default: nothing here presents a PIN, so no try can be used. Counters are read
with the case-1 VERIFY, which uses none. To also run one login signature with the auth key,
set ``JPKI_HW_AUTH_PIN`` (a wrong PIN costs a try; the SDK refuses to send it at one try left).
"""

from __future__ import annotations

import os

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from jpki_sdk.card import (
    CardPresence,
    CertKind,
    KeyKind,
    PinKind,
    PinRequiredError,
    TokenType,
    list_readers,
    open_card,
)

pytestmark = pytest.mark.hardware


def test_the_reader_holds_a_jpki_card(hardware_reader: str | None) -> None:
    found = list_readers(probe=True)
    assert found, "no PC/SC reader"
    jpki = [r for r in found if r.presence is CardPresence.JPKI]
    if hardware_reader is not None:
        jpki = [r for r in jpki if r.name.startswith(hardware_reader)]
    assert jpki, f"no JPKI card found in {[r.name for r in found]}"


def test_token_info_and_counters_without_using_a_try(hardware_reader: str | None) -> None:
    with open_card(reader=hardware_reader) as card:
        token = card.token_info()
        assert token.token_type is not TokenType.UNKNOWN, token.label
        first = {kind: card.pin_status(kind).remaining for kind in (PinKind.AUTH, PinKind.SIGN)}
        again = {kind: card.pin_status(kind).remaining for kind in (PinKind.AUTH, PinKind.SIGN)}
        assert first == again  # the query uses no try
        assert card.verified_pins == frozenset()


def test_public_certificates_read_by_their_length(hardware_reader: str | None) -> None:
    with open_card(reader=hardware_reader) as card:
        if card.token_info().token_type.auth_certificate_needs_pin:
            with pytest.raises(PinRequiredError):
                card.read_certificate(CertKind.AUTH)
            pytest.skip("smartphone token: the auth certificate needs the PIN (read-only run)")
        auth = card.read_certificate(CertKind.AUTH)
        auth_ca = card.read_certificate(CertKind.AUTH_CA)
        sign_ca = card.read_certificate(CertKind.SIGN_CA)
        with pytest.raises(PinRequiredError):
            card.read_certificate(CertKind.SIGN)  # no password given: nothing is sent
    assert auth.issuer == auth_ca.subject
    key = auth_ca.public_key()
    assert isinstance(key, rsa.RSAPublicKey)
    assert auth.signature_hash_algorithm is not None
    key.verify(
        auth.signature,
        auth.tbs_certificate_bytes,
        padding.PKCS1v15(),
        auth.signature_hash_algorithm,
    )
    assert sign_ca.subject != auth_ca.subject


@pytest.mark.skipif(not os.environ.get("JPKI_HW_AUTH_PIN"), reason="set JPKI_HW_AUTH_PIN")
def test_login_signature(hardware_reader: str | None) -> None:
    pin = os.environ["JPKI_HW_AUTH_PIN"]
    with open_card(reader=hardware_reader) as card:
        signature = card.sign(b"jpki-sdk hardware test", key=KeyKind.AUTH, pin=pin)
        cert = card.read_certificate(CertKind.AUTH)
        limit = 8 if card.transport.extended_length else 14
        assert card.exchange.apdu_count <= limit
    key = cert.public_key()
    assert isinstance(key, rsa.RSAPublicKey)
    key.verify(signature, b"jpki-sdk hardware test", padding.PKCS1v15(), hashes.SHA256())
