"""Helpers for the auth and server tests: test cards from the simulator's PKI, tokens signed
with the card keys, and a verifier that trusts the test roots (explicit opt-in)."""

from __future__ import annotations

import dataclasses
import datetime as dt

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from jpki_sdk.auth.message import auth_message
from jpki_sdk.auth.token import Token
from jpki_sdk.auth.types import AuthPurpose, SignatureAlgorithm
from jpki_sdk.verify import (
    CertificateVerifier,
    FixedClock,
    RevocationAnswer,
    RevocationPolicy,
    RevocationStatus,
    TrustStore,
)
from simulator.identity import Identity
from simulator.pki import IssuedCard, TestPki

ORIGIN = "https://rp.example"
#: Issuance time of the test cards; tests verify a day later.
ISSUED_AT = dt.datetime(2026, 4, 1, 0, 0, tzinfo=dt.timezone.utc)
VERIFY_AT = ISSUED_AT + dt.timedelta(days=1)
#: Birth date of the identity card holder: 20 on 2026-04-02 (Japan's eve-of-birthday rule).
BIRTH_DATE = dt.date(2006, 4, 3)

_HASHES = {
    SignatureAlgorithm.RS256: hashes.SHA256(),
    SignatureAlgorithm.RS384: hashes.SHA384(),
    SignatureAlgorithm.RS512: hashes.SHA512(),
}


def issue_card(pki: TestPki, seed: int = 11, *, birth_date: dt.date = BIRTH_DATE) -> IssuedCard:
    identity = dataclasses.replace(Identity.generate(seed), birth_date=birth_date)
    return pki.issue(identity, now=ISSUED_AT, seed=f"auth-tests-{seed}")


def der(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.DER)


def make_token(
    card: IssuedCard,
    nonce: bytes,
    *,
    purpose: AuthPurpose = AuthPurpose.LOGIN,
    origin: str = ORIGIN,
    algorithm: SignatureAlgorithm = SignatureAlgorithm.RS256,
    certificate: x509.Certificate | None = None,
    key: rsa.RSAPrivateKey | None = None,
) -> Token:
    """What the card would produce: PKCS#1 v1.5 over M with the named hash."""
    if key is None:
        key = card.auth_key if purpose is AuthPurpose.LOGIN else card.sign_key
    if certificate is None:
        certificate = card.auth_cert if purpose is AuthPurpose.LOGIN else card.sign_cert
    assert key is not None and certificate is not None
    signature = key.sign(auth_message(origin, nonce), padding.PKCS1v15(), _HASHES[algorithm])
    return Token(purpose, algorithm, der(certificate), signature, nonce)


def test_trust(pki: TestPki) -> TrustStore:
    roots: list[x509.Certificate] = [*pki.roots("auth"), *pki.roots("sign")]
    return TrustStore.default().with_test_roots(roots)


test_trust.__test__ = False  # type: ignore[attr-defined]


class PkiRevocationSource:
    """A RevocationSource answering from the test PKI's own records (a stand-in for a CRL
    index or OCSP where a test is about the verifier, not the revocation sources)."""

    name = "test-pki"

    def __init__(self, pki: TestPki) -> None:
        self.pki = pki

    def check(
        self, cert: x509.Certificate, issuer: x509.Certificate, at: dt.datetime
    ) -> RevocationAnswer:
        found = self.pki.find_issuer(cert)
        if found is None:
            return RevocationAnswer(
                status=RevocationStatus.UNKNOWN, source=self.name, detail="not issued here"
            )
        record = self.pki.lookup(found[0], cert.serial_number)
        if record is None:
            return RevocationAnswer(
                status=RevocationStatus.UNKNOWN, source=self.name, detail="not issued here"
            )
        revoked = record.revocation
        if revoked is not None and revoked.revoked_at <= at:
            return RevocationAnswer(
                status=RevocationStatus.REVOKED,
                source=self.name,
                reason=revoked.reason.value,
                revoked_at=revoked.revoked_at,
            )
        return RevocationAnswer(status=RevocationStatus.GOOD, source=self.name)


def certificate_verifier(
    pki: TestPki,
    clock: FixedClock,
    *,
    trust: TrustStore | None = None,
    revocation: RevocationPolicy | None = None,
) -> CertificateVerifier:
    return CertificateVerifier(
        trust if trust is not None else test_trust(pki),
        revocation=revocation
        if revocation is not None
        else RevocationPolicy.require(PkiRevocationSource(pki)),
        clock=clock,
    )
