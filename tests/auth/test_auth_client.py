"""sign_challenge with a simulated card (in-process, through the real JpkiCard client), then
the AuthVerifier: the whole protocol without HTTP."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import pytest
from authkit import BIRTH_DATE, ISSUED_AT, ORIGIN

from jpki_sdk.auth import AuthPurpose, SignatureAlgorithm
from jpki_sdk.auth.client import sign_challenge
from jpki_sdk.auth.verifier import AuthVerifier
from jpki_sdk.card import (
    CertKind,
    JpkiCard,
    LastAttemptRefusedError,
    PinIncorrectError,
    PinKind,
    PinRequiredError,
    open_card,
)
from jpki_sdk.verify import SignatureInvalidError
from simulator.card import SimulatedCard
from simulator.identity import Identity
from simulator.provision import DEFAULT_AUTH_PIN, DEFAULT_SIGN_PASSWORD

HOLDER = dataclasses.replace(Identity.generate(41), birth_date=BIRTH_DATE)

CardFactory = Callable[..., SimulatedCard]


@pytest.fixture
def card(card_factory: CardFactory) -> JpkiCard:
    return open_card(simulator=card_factory(HOLDER, issued_at=ISSUED_AT))


def test_login_with_a_simulated_card(auth_verifier: AuthVerifier, card: JpkiCard) -> None:
    challenge = auth_verifier.issue_challenge(AuthPurpose.LOGIN)
    with card:
        token = sign_challenge(card, challenge.nonce_b64, ORIGIN, "login", DEFAULT_AUTH_PIN)
        cert = card.read_certificate(CertKind.AUTH)
    result = auth_verifier.verify_login(token.to_json())
    assert result.serial == f"{cert.serial_number:08X}"
    assert result.test_root is True
    assert result.municipality_code == HOLDER.municipality_code


def test_identity_with_a_simulated_card(auth_verifier: AuthVerifier, card: JpkiCard) -> None:
    challenge = auth_verifier.issue_challenge(AuthPurpose.IDENTITY)
    password = bytearray(DEFAULT_SIGN_PASSWORD.lower().encode())  # uppercased by the client
    with card:
        token = sign_challenge(card, challenge, ORIGIN, AuthPurpose.IDENTITY, password)
    result = auth_verifier.verify_identity(token, attributes=["name", "address", "age_over_18"])
    assert dict(result.attributes) == {
        "name": HOLDER.name,
        "address": HOLDER.address,
        "age_over_18": True,
    }


@pytest.mark.parametrize("algorithm", list(SignatureAlgorithm))
def test_every_algorithm_through_the_card(
    auth_verifier: AuthVerifier, card: JpkiCard, algorithm: SignatureAlgorithm
) -> None:
    challenge = auth_verifier.issue_challenge(AuthPurpose.LOGIN)
    with card:
        token = sign_challenge(
            card, challenge.nonce, ORIGIN, "login", DEFAULT_AUTH_PIN, algorithm=algorithm.value
        )
    assert token.algorithm is algorithm
    auth_verifier.verify(token)


def test_the_card_signs_for_the_origin_it_is_given(
    auth_verifier: AuthVerifier, card: JpkiCard
) -> None:
    challenge = auth_verifier.issue_challenge(AuthPurpose.LOGIN)
    with card:
        token = sign_challenge(card, challenge, "https://phish.example", "login", "1234")
    with pytest.raises(SignatureInvalidError):
        auth_verifier.verify(token)


def test_wrong_pin_uses_one_try_and_gives_no_token(card: JpkiCard) -> None:
    with card:
        with pytest.raises(PinIncorrectError) as info:
            sign_challenge(card, bytes(32), ORIGIN, "login", "9999")
        assert info.value.remaining == 2
        assert card.pin_status(PinKind.AUTH).remaining == 2


def test_last_attempt_is_refused_unless_allowed(
    auth_verifier: AuthVerifier, card_factory: CardFactory
) -> None:
    challenge = auth_verifier.issue_challenge(AuthPurpose.LOGIN)
    with open_card(simulator=card_factory(HOLDER, issued_at=ISSUED_AT, tries={"auth": 1})) as c:
        with pytest.raises(LastAttemptRefusedError):
            sign_challenge(c, challenge, ORIGIN, "login", DEFAULT_AUTH_PIN)
        assert c.pin_status(PinKind.AUTH).remaining == 1  # nothing was sent
        token = sign_challenge(
            c, challenge, ORIGIN, "login", DEFAULT_AUTH_PIN, allow_last_attempt=True
        )
    auth_verifier.verify(token)


def test_pin_verified_earlier_in_the_session(auth_verifier: AuthVerifier, card: JpkiCard) -> None:
    challenge = auth_verifier.issue_challenge(AuthPurpose.LOGIN)
    with card:
        with pytest.raises(PinRequiredError):
            sign_challenge(card, challenge, ORIGIN, "login", None)
        card.verify_pin(PinKind.AUTH, DEFAULT_AUTH_PIN)
        token = sign_challenge(card, challenge, ORIGIN, "login", None)
    auth_verifier.verify(token)


@pytest.mark.parametrize("bad", [b"short", "not base64", 42, bytes(33)])
def test_bad_challenge_argument(card: JpkiCard, bad: object) -> None:
    with card, pytest.raises((ValueError, TypeError)):
        sign_challenge(card, bad, ORIGIN, "login", DEFAULT_AUTH_PIN)  # type: ignore[arg-type]


def test_not_a_card() -> None:
    with pytest.raises(TypeError):
        sign_challenge(object(), bytes(32), ORIGIN, "login", "1234")  # type: ignore[arg-type]
