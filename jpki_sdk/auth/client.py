"""The user's side of a login: have a card sign a relying party's challenge.

This is the only module of :mod:`jpki_sdk.auth` that drives a card (it imports
:mod:`jpki_sdk.card`); the verifier side never imports it.

::

    from jpki_sdk.auth.client import sign_challenge
    from jpki_sdk.card import open_card

    with open_card() as card:
        token = sign_challenge(card, nonce_b64, "https://rp.example", "login", pin)
    send(token.to_json())

The card's PIN rules apply unchanged: the PIN counter is read first (no try used), a card
with one try left is refused unless ``allow_last_attempt`` is set, a VERIFY is never retried.
"""

from __future__ import annotations

import logging
from typing import Protocol

from cryptography.hazmat.primitives import serialization

from jpki_sdk.auth.challenges import Challenge, decode_nonce
from jpki_sdk.auth.message import auth_message
from jpki_sdk.auth.token import Token
from jpki_sdk.auth.types import NONCE_SIZE, AuthPurpose, SignatureAlgorithm
from jpki_sdk.card import CertKind, HashAlg, JpkiCard, KeyKind
from jpki_sdk.card.pins import PinInput

logger = logging.getLogger(__name__)

_HASHES = {
    SignatureAlgorithm.RS256: HashAlg.SHA256,
    SignatureAlgorithm.RS384: HashAlg.SHA384,
    SignatureAlgorithm.RS512: HashAlg.SHA512,
}
_KEYS = {
    AuthPurpose.LOGIN: (KeyKind.AUTH, CertKind.AUTH),
    AuthPurpose.IDENTITY: (KeyKind.SIGN, CertKind.SIGN),
}


class _HasNonce(Protocol):
    @property
    def nonce(self) -> bytes: ...


def _nonce(challenge: bytes | str | _HasNonce) -> bytes:
    if isinstance(challenge, Challenge):
        return challenge.nonce
    nonce = getattr(challenge, "nonce", None)
    if isinstance(nonce, bytes) and len(nonce) == NONCE_SIZE:
        return nonce  # e.g. jpki_sdk.server.client.IssuedChallenge
    if isinstance(challenge, str):
        return decode_nonce(challenge)
    if isinstance(challenge, (bytes, bytearray)) and len(challenge) == NONCE_SIZE:
        return bytes(challenge)
    raise ValueError(f"challenge must be the {NONCE_SIZE}-byte nonce, its base64, or a Challenge")


def sign_challenge(
    card: JpkiCard,
    challenge: bytes | str | Challenge | _HasNonce,
    origin: str,
    purpose: AuthPurpose | str,
    pin: PinInput | None,
    *,
    algorithm: SignatureAlgorithm | str = SignatureAlgorithm.RS256,
    allow_last_attempt: bool = False,
) -> Token:
    """Have ``card`` sign ``M = SHA-256(origin) || SHA-256(nonce)`` and build the v1 token.

    - ``challenge``: the nonce (32 bytes), its base64 as the relying party sent it, or an
      object with a ``nonce`` (a :class:`~jpki_sdk.auth.challenges.Challenge`, or the
      :class:`~jpki_sdk.server.client.IssuedChallenge` of the service client).
    - ``origin``: the relying party's web origin (normalized; the RP verifies with its own).
    - ``purpose``: ``login`` (user-authentication key, 4-digit PIN) or ``identity``
      (signature key, 6-16 character password; also reads the signature certificate).
    - ``pin``: the PIN or password (the card client copies it into a buffer it zeroes after
      use; the caller's own object is left as it is), or None when it was verified earlier
      in this card session.

    Card errors propagate unchanged (:class:`~jpki_sdk.card.PinIncorrectError` with
    ``remaining``, :class:`~jpki_sdk.card.LastAttemptRefusedError`,
    :class:`~jpki_sdk.card.PinBlockedError`, :class:`~jpki_sdk.card.CardRemovedError`, ...).
    """
    if not isinstance(card, JpkiCard):
        raise TypeError("card must be a jpki_sdk.card.JpkiCard")
    nonce = _nonce(challenge)
    flow = AuthPurpose(purpose)
    alg = SignatureAlgorithm(algorithm)
    message = auth_message(origin, nonce)
    key, cert_kind = _KEYS[flow]
    signature = card.sign(
        message,
        key=key,
        hash=_HASHES[alg],
        pin=pin,
        allow_last_attempt=allow_last_attempt,
    )
    # For identity the password was verified by sign(): reading the certificate needs it.
    certificate = card.read_certificate(cert_kind)
    logger.debug("card signed a %s challenge with %s", flow.value, alg.value)
    return Token(
        purpose=flow,
        algorithm=alg,
        certificate=certificate.public_bytes(serialization.Encoding.DER),
        signature=signature,
        nonce=nonce,
    )


__all__ = ["sign_challenge"]
