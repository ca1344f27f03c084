"""AuthVerifier: every step's error class and code, the results, selective release."""

from __future__ import annotations

import dataclasses
import datetime as dt
import threading

import pytest
from authkit import ORIGIN, VERIFY_AT, certificate_verifier, make_token

from jpki_sdk.auth import (
    AuthPurpose,
    ChallengeExpiredError,
    ChallengeMismatchError,
    ChallengeReplayedError,
    ChallengeUnknownError,
    MalformedTokenError,
    PurposeMismatchError,
    SignatureAlgorithm,
    UnsupportedAlgorithmError,
    VerificationStep,
    error_code,
)
from jpki_sdk.auth.results import IdentityResult, LoginResult, parse_attribute_request
from jpki_sdk.auth.stores import MemoryChallengeStore
from jpki_sdk.auth.verifier import AuthVerifier, step_of
from jpki_sdk.errors import VerificationError
from jpki_sdk.verify import (
    CertificateExpiredError,
    CertificateParseError,
    CertificateRevokedError,
    FixedClock,
    RevocationPolicy,
    SignatureInvalidError,
    TrustStore,
    UntrustedIssuerError,
    WrongCertificateKindError,
)
from simulator.pki import IssuedCard, TestPki


def login_token(verifier: AuthVerifier, card: IssuedCard, **kwargs: object) -> object:
    challenge = verifier.issue_challenge(AuthPurpose.LOGIN)
    return make_token(card, challenge.nonce, **kwargs)  # type: ignore[arg-type]


# -- success -----------------------------------------------------------------------------------


def test_login(auth_verifier: AuthVerifier, issued_card: IssuedCard) -> None:
    challenge = auth_verifier.issue_challenge("login")
    token = make_token(issued_card, challenge.nonce)
    result = auth_verifier.verify_login(token.to_json())
    assert isinstance(result, LoginResult)
    cert = issued_card.auth_cert
    assert result.serial == f"{cert.serial_number:08X}"
    assert result.cn == cert.subject.rfc4514_string().split("CN=")[1].split(",")[0]
    assert result.certificate.issuer == "test-auth-03"
    assert result.certificate.issuer_generation == 3
    assert result.test_root is True
    assert result.subject_key.startswith("test:test-auth-03:")
    assert result.municipality_code == "13101"
    assert result.revocation.mode == "require"
    assert result.revocation.status == "good"
    assert result.revocation.source == "test-pki"
    assert result.origin == ORIGIN
    assert result.verified_at == VERIFY_AT
    body = result.to_dict()
    assert body["subject"]["key"] == result.subject_key
    assert body["test_root"] is True


@pytest.mark.parametrize("algorithm", list(SignatureAlgorithm))
def test_every_algorithm(
    auth_verifier: AuthVerifier, issued_card: IssuedCard, algorithm: SignatureAlgorithm
) -> None:
    challenge = auth_verifier.issue_challenge(AuthPurpose.LOGIN)
    token = make_token(issued_card, challenge.nonce, algorithm=algorithm)
    assert auth_verifier.verify(token).purpose is AuthPurpose.LOGIN


def test_identity_releases_only_requested_attributes(
    auth_verifier: AuthVerifier, issued_card: IssuedCard
) -> None:
    challenge = auth_verifier.issue_challenge(AuthPurpose.IDENTITY, session_id="sess")
    token = make_token(issued_card, challenge.nonce, purpose=AuthPurpose.IDENTITY)
    result = auth_verifier.verify_identity(
        token.to_dict(),
        attributes=["name", "address", "age_over_20", "age_over_21", "name"],
        session_id="sess",
    )
    assert isinstance(result, IdentityResult)
    identity = issued_card.identity
    assert dict(result.attributes) == {
        "name": identity.name,
        "address": identity.address,
        "age_over_20": True,  # born 2006-04-03: 20 from 2026-04-02 (eve of the birthday)
        "age_over_21": False,
    }
    assert result.certificate.issuer == "test-sign-03"
    assert result.certificate.serial == f"{issued_card.sign_cert.serial_number:08X}"
    text = repr(result)
    assert identity.name not in text and identity.address not in text
    assert "age_over_20=True" in text
    masked = result.to_dict(reveal=False)["attributes"]
    assert masked["name"] == "***" and masked["age_over_20"] is True
    assert result.to_dict()["attributes"]["name"] == identity.name
    with pytest.raises(TypeError):
        result.attributes["sex"] = "1"  # type: ignore[index]


def test_identity_all_plain_attributes(
    auth_verifier: AuthVerifier, issued_card: IssuedCard
) -> None:
    challenge = auth_verifier.issue_challenge(AuthPurpose.IDENTITY)
    token = make_token(issued_card, challenge.nonce, purpose=AuthPurpose.IDENTITY)
    result = auth_verifier.verify_identity(
        token,
        attributes=["birth_date", "sex", "name_substitutes", "address_substitutes", "age_over_0"],
    )
    identity = issued_card.identity
    assert result.attributes["birth_date"] == "2006-04-03"
    assert result.attributes["sex"] == identity.sex
    assert set(result.attributes["name_substitutes"]) <= {"0", "1"}  # type: ignore[arg-type]
    assert len(result.attributes["address_substitutes"]) == len(identity.address)  # type: ignore[arg-type]
    assert result.attributes["age_over_0"] is True
    assert "name" not in result.attributes and "address" not in result.attributes


def test_identity_with_no_attributes(auth_verifier: AuthVerifier, issued_card: IssuedCard) -> None:
    challenge = auth_verifier.issue_challenge(AuthPurpose.IDENTITY)
    token = make_token(issued_card, challenge.nonce, purpose=AuthPurpose.IDENTITY)
    assert dict(auth_verifier.verify_identity(token).attributes) == {}


def test_age_on_the_eve_of_the_birthday_in_japan(
    auth_verifier: AuthVerifier, issued_card: IssuedCard, clock: FixedClock
) -> None:
    # 2026-04-01T14:59:59Z is 23:59:59 JST on 04-01: not yet 20. One second later it is.
    for at, expected in [
        (dt.datetime(2026, 4, 1, 14, 59, 59, tzinfo=dt.timezone.utc), False),
        (dt.datetime(2026, 4, 1, 15, 0, 0, tzinfo=dt.timezone.utc), True),
    ]:
        clock.set(at)
        challenge = auth_verifier.issue_challenge(AuthPurpose.IDENTITY)
        token = make_token(issued_card, challenge.nonce, purpose=AuthPurpose.IDENTITY)
        result = auth_verifier.verify_identity(token, attributes=["age_over_20"])
        assert result.attributes["age_over_20"] is expected


@pytest.mark.parametrize(
    "bad", [["age"], ["age_over_151"], ["age_over_020"], ["my_number"], ["x"] * 1, "name"]
)
def test_bad_attribute_request_is_a_value_error_and_consumes_nothing(
    auth_verifier: AuthVerifier, issued_card: IssuedCard, bad: object
) -> None:
    challenge = auth_verifier.issue_challenge(AuthPurpose.IDENTITY)
    token = make_token(issued_card, challenge.nonce, purpose=AuthPurpose.IDENTITY)
    with pytest.raises((ValueError, TypeError)):
        auth_verifier.verify_identity(token, attributes=bad)  # type: ignore[arg-type]
    auth_verifier.verify_identity(token)  # the challenge is still there


def test_attribute_request_limits() -> None:
    many = [f"age_over_{n}" for n in range(17)]
    with pytest.raises(ValueError, match="at most"):
        parse_attribute_request(many)
    assert parse_attribute_request(["sex", "sex", "age_over_18"]) == ("sex", "age_over_18")


# -- one failure per step ----------------------------------------------------------------------


def expect(
    error_type: type[VerificationError], code: str, step: VerificationStep, fn: object
) -> None:
    with pytest.raises(error_type) as info:
        fn()  # type: ignore[operator]
    assert error_code(info.value) == code
    assert step_of(info.value) is step


def test_malformed_token(auth_verifier: AuthVerifier) -> None:
    expect(
        MalformedTokenError,
        "malformed_token",
        VerificationStep.TOKEN,
        lambda: auth_verifier.verify('{"format": "jpki-auth-token/v1"}'),
    )


def test_purpose_mismatch(auth_verifier: AuthVerifier, issued_card: IssuedCard) -> None:
    challenge = auth_verifier.issue_challenge(AuthPurpose.IDENTITY)
    token = make_token(issued_card, challenge.nonce, purpose=AuthPurpose.IDENTITY)
    expect(
        PurposeMismatchError,
        "purpose_mismatch",
        VerificationStep.PURPOSE,
        lambda: auth_verifier.verify_login(token),
    )


def test_disallowed_algorithm(
    test_pki: TestPki, clock: FixedClock, issued_card: IssuedCard
) -> None:
    verifier = AuthVerifier(
        origin=ORIGIN,
        certificates=certificate_verifier(test_pki, clock),
        challenges=MemoryChallengeStore(),
        algorithms=["RS256"],
    )
    challenge = verifier.issue_challenge(AuthPurpose.LOGIN)
    token = make_token(issued_card, challenge.nonce, algorithm=SignatureAlgorithm.RS512)
    expect(
        UnsupportedAlgorithmError,
        "unsupported_algorithm",
        VerificationStep.TOKEN,
        lambda: verifier.verify(token),
    )


def test_certificate_garbage(auth_verifier: AuthVerifier, issued_card: IssuedCard) -> None:
    challenge = auth_verifier.issue_challenge(AuthPurpose.LOGIN)
    token = make_token(issued_card, challenge.nonce)
    broken = dataclasses.replace(token, certificate=b"\x30\x03\x02\x01\x01")
    expect(
        CertificateParseError,
        "certificate_malformed",
        VerificationStep.CERTIFICATE,
        lambda: auth_verifier.verify(broken),
    )


def test_wrong_certificate_for_the_purpose(
    auth_verifier: AuthVerifier, issued_card: IssuedCard
) -> None:
    challenge = auth_verifier.issue_challenge(AuthPurpose.LOGIN)
    # A login token carrying the signature certificate (signed with the sign key).
    token = make_token(
        issued_card,
        challenge.nonce,
        certificate=issued_card.sign_cert,
        key=issued_card.sign_key,
    )
    expect(
        WrongCertificateKindError,
        "wrong_certificate_kind",
        VerificationStep.PURPOSE,
        lambda: auth_verifier.verify(token),
    )


def test_test_root_not_trusted_by_default(
    test_pki: TestPki, clock: FixedClock, issued_card: IssuedCard
) -> None:
    verifier = AuthVerifier(
        origin=ORIGIN,
        certificates=certificate_verifier(test_pki, clock, trust=TrustStore.default()),
        challenges=MemoryChallengeStore(),
    )
    challenge = verifier.issue_challenge(AuthPurpose.LOGIN)
    token = make_token(issued_card, challenge.nonce)
    expect(
        UntrustedIssuerError,
        "untrusted_issuer",
        VerificationStep.PATH,
        lambda: verifier.verify(token),
    )


def test_expired_certificate(
    auth_verifier: AuthVerifier, issued_card: IssuedCard, clock: FixedClock
) -> None:
    challenge = auth_verifier.issue_challenge(AuthPurpose.LOGIN)
    token = make_token(issued_card, challenge.nonce)
    clock.set(issued_card.auth_cert.not_valid_after_utc + dt.timedelta(seconds=1))
    expect(
        CertificateExpiredError,
        "certificate_expired",
        VerificationStep.VALIDITY,
        lambda: auth_verifier.verify(token),
    )


def test_revoked_card(test_pki: TestPki, clock: FixedClock, other_card: IssuedCard) -> None:
    verifier = AuthVerifier(
        origin=ORIGIN,
        certificates=certificate_verifier(test_pki, clock),
        challenges=MemoryChallengeStore(),
    )
    test_pki.revoke(other_card.auth_cert, "keyCompromise", at=clock.now() - dt.timedelta(hours=1))
    challenge = verifier.issue_challenge(AuthPurpose.LOGIN)
    token = make_token(other_card, challenge.nonce)
    expect(
        CertificateRevokedError,
        "certificate_revoked",
        VerificationStep.REVOCATION,
        lambda: verifier.verify(token),
    )
    # The signature certificate is not revoked: identity still works with the same card.
    challenge = verifier.issue_challenge(AuthPurpose.IDENTITY)
    verifier.verify(make_token(other_card, challenge.nonce, purpose=AuthPurpose.IDENTITY))


def test_revocation_mode_off_is_reported(
    test_pki: TestPki, clock: FixedClock, issued_card: IssuedCard
) -> None:
    verifier = AuthVerifier(
        origin=ORIGIN,
        certificates=certificate_verifier(test_pki, clock, revocation=RevocationPolicy.off()),
        challenges=MemoryChallengeStore(),
    )
    challenge = verifier.issue_challenge(AuthPurpose.LOGIN)
    result = verifier.verify_login(make_token(issued_card, challenge.nonce))
    assert (result.revocation.mode, result.revocation.status) == ("off", "unknown")
    assert result.revocation.source is None


def test_tampered_signature(auth_verifier: AuthVerifier, issued_card: IssuedCard) -> None:
    challenge = auth_verifier.issue_challenge(AuthPurpose.LOGIN)
    token = make_token(issued_card, challenge.nonce)
    flipped = bytes([token.signature[0] ^ 1]) + token.signature[1:]
    tampered = dataclasses.replace(token, signature=flipped)
    expect(
        SignatureInvalidError,
        "signature_invalid",
        VerificationStep.SIGNATURE,
        lambda: auth_verifier.verify(tampered),
    )
    auth_verifier.verify(token)  # the challenge survived the refused token


def test_signature_from_another_key(
    auth_verifier: AuthVerifier, issued_card: IssuedCard, other_card: IssuedCard
) -> None:
    challenge = auth_verifier.issue_challenge(AuthPurpose.LOGIN)
    token = make_token(issued_card, challenge.nonce, key=other_card.auth_key)
    expect(
        SignatureInvalidError,
        "signature_invalid",
        VerificationStep.SIGNATURE,
        lambda: auth_verifier.verify(token),
    )


def test_token_for_another_origin(auth_verifier: AuthVerifier, issued_card: IssuedCard) -> None:
    challenge = auth_verifier.issue_challenge(AuthPurpose.LOGIN)
    relayed = make_token(issued_card, challenge.nonce, origin="https://evil.example")
    expect(
        SignatureInvalidError,
        "signature_invalid",
        VerificationStep.SIGNATURE,
        lambda: auth_verifier.verify(relayed),
    )
    # The verifier for the other origin refuses it too: its challenge store never issued it.
    evil = auth_verifier.for_origin("https://evil.example")
    expect(
        ChallengeMismatchError,
        "challenge_mismatch",
        VerificationStep.CHALLENGE,
        lambda: evil.verify(relayed),
    )


def test_replayed_token(auth_verifier: AuthVerifier, issued_card: IssuedCard) -> None:
    challenge = auth_verifier.issue_challenge(AuthPurpose.LOGIN)
    token = make_token(issued_card, challenge.nonce)
    auth_verifier.verify(token)
    expect(
        ChallengeReplayedError,
        "challenge_replayed",
        VerificationStep.CHALLENGE,
        lambda: auth_verifier.verify(token),
    )


def test_expired_challenge(
    auth_verifier: AuthVerifier, issued_card: IssuedCard, clock: FixedClock
) -> None:
    challenge = auth_verifier.issue_challenge(AuthPurpose.LOGIN)
    token = make_token(issued_card, challenge.nonce)
    clock.advance(dt.timedelta(minutes=5))
    expect(
        ChallengeExpiredError,
        "challenge_expired",
        VerificationStep.CHALLENGE,
        lambda: auth_verifier.verify(token),
    )


def test_unknown_challenge(auth_verifier: AuthVerifier, issued_card: IssuedCard) -> None:
    token = make_token(issued_card, bytes(32))
    expect(
        ChallengeUnknownError,
        "challenge_unknown",
        VerificationStep.CHALLENGE,
        lambda: auth_verifier.verify(token),
    )


def test_session_binding(auth_verifier: AuthVerifier, issued_card: IssuedCard) -> None:
    challenge = auth_verifier.issue_challenge(AuthPurpose.LOGIN, session_id="alice-session")
    token = make_token(issued_card, challenge.nonce)
    expect(
        ChallengeMismatchError,
        "challenge_mismatch",
        VerificationStep.CHALLENGE,
        lambda: auth_verifier.verify(token, session_id="mallory-session"),
    )


def test_identity_token_for_a_login_challenge(
    auth_verifier: AuthVerifier, issued_card: IssuedCard
) -> None:
    challenge = auth_verifier.issue_challenge(AuthPurpose.LOGIN)
    token = make_token(issued_card, challenge.nonce, purpose=AuthPurpose.IDENTITY)
    with pytest.raises(ChallengeMismatchError) as info:
        auth_verifier.verify(token)
    assert info.value.binding == "purpose"


def test_concurrent_presentations_one_success(
    auth_verifier: AuthVerifier, issued_card: IssuedCard
) -> None:
    challenge = auth_verifier.issue_challenge(AuthPurpose.LOGIN)
    token = make_token(issued_card, challenge.nonce)
    barrier = threading.Barrier(8)
    outcomes: list[str] = []

    def present() -> None:
        barrier.wait(timeout=30)
        try:
            auth_verifier.verify(token)
            outcomes.append("ok")
        except VerificationError as exc:
            outcomes.append(error_code(exc))

    threads = [threading.Thread(target=present) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sorted(outcomes) == ["challenge_replayed"] * 7 + ["ok"]


def test_origin_is_normalized_and_validated(test_pki: TestPki, clock: FixedClock) -> None:
    certs = certificate_verifier(test_pki, clock)
    verifier = AuthVerifier(
        origin="HTTPS://RP.EXAMPLE:443/", certificates=certs, challenges=MemoryChallengeStore()
    )
    assert verifier.origin == ORIGIN
    with pytest.raises(ValueError):
        AuthVerifier(origin="rp.example", certificates=certs, challenges=MemoryChallengeStore())
    with pytest.raises(TypeError):
        AuthVerifier(origin=ORIGIN, certificates=object(), challenges=MemoryChallengeStore())  # type: ignore[arg-type]


def test_step_of_non_verification_error() -> None:
    assert step_of(RuntimeError("x")) is None
    assert error_code(RuntimeError("x")) == "internal_error"
