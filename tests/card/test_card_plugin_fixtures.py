"""The SDK with the simulator's own pytest fixtures (``simulated_card``, ``card_factory``), as
an application's test suite would use them."""

from __future__ import annotations

from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from jpki_sdk.card import (
    CardRemovedError,
    CertKind,
    JpkiCard,
    KeyKind,
    LastAttemptRefusedError,
    PinKind,
    TokenType,
    open_card,
)


def test_login_on_the_default_simulated_card(simulated_card: Any) -> None:
    with open_card(simulator=simulated_card) as card:
        signature = card.sign(b"nonce", key=KeyKind.AUTH, pin="1234")
        cert = card.read_certificate(CertKind.AUTH)
        assert card.token_info().token_type is TokenType.MY_NUMBER_CARD
    key = cert.public_key()
    assert isinstance(key, rsa.RSAPublicKey)
    key.verify(signature, b"nonce", padding.PKCS1v15(), hashes.SHA256())


def test_factory_card_with_one_try_left(card_factory: Any) -> None:
    sim = card_factory(tries={"auth": 1})
    with JpkiCard(sim) as card, pytest.raises(LastAttemptRefusedError):
        card.verify_pin(PinKind.AUTH, "1234")
    assert sim.state.pin("jpki", 0x18).remaining == 1


def test_factory_card_removed_at_the_signature(card_factory: Any) -> None:
    from simulator.faults import Faults

    sim = card_factory(profile="contactless", faults=Faults(remove_at=14))
    with JpkiCard(sim) as card, pytest.raises(CardRemovedError):
        card.sign(b"m", key=KeyKind.AUTH, pin="1234")
    sim.insert()
    sim.faults = Faults()
    with JpkiCard(sim) as card:
        assert len(card.sign(b"m", key=KeyKind.AUTH, pin="1234")) == 256
