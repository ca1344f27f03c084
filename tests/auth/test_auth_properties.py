"""Property tests on the verifier: whatever arrives, the answer is a result or one typed
VerificationError, never another exception; a refused token never consumes its challenge."""

from __future__ import annotations

import dataclasses
import json

import pytest
from authkit import ORIGIN, make_token
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jpki_sdk.auth import AuthPurpose, MemoryChallengeStore
from jpki_sdk.auth.verifier import AuthVerifier, step_of
from jpki_sdk.errors import VerificationError
from jpki_sdk.verify import FixedClock
from simulator.pki import IssuedCard, TestPki

SETTINGS = settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)


@pytest.fixture
def fresh_verifier(test_pki: TestPki) -> AuthVerifier:
    from authkit import VERIFY_AT, certificate_verifier

    return AuthVerifier(
        origin=ORIGIN,
        certificates=certificate_verifier(test_pki, FixedClock(VERIFY_AT)),
        challenges=MemoryChallengeStore(),
    )


@SETTINGS
@given(st.binary(max_size=4096) | st.text(max_size=2048))
def test_any_input_gives_a_typed_error(fresh_verifier: AuthVerifier, data: bytes | str) -> None:
    with pytest.raises(VerificationError) as info:
        fresh_verifier.verify(data)
    assert step_of(info.value) is not None


@SETTINGS
@given(
    field=st.sampled_from(["certificate", "signature", "nonce"]),
    position=st.integers(min_value=0, max_value=4000),
    flip=st.integers(min_value=1, max_value=255),
)
def test_flipped_bits_are_refused_and_consume_nothing(
    fresh_verifier: AuthVerifier,
    issued_card: IssuedCard,
    field: str,
    position: int,
    flip: int,
) -> None:
    challenge = fresh_verifier.issue_challenge(AuthPurpose.LOGIN)
    token = make_token(issued_card, challenge.nonce)
    value = bytearray(getattr(token, field))
    value[position % len(value)] ^= flip
    tampered = dataclasses.replace(token, **{field: bytes(value)})
    with pytest.raises(VerificationError):
        fresh_verifier.verify(tampered)
    fresh_verifier.verify(token)  # the genuine token still logs in: nothing was consumed


@SETTINGS
@given(
    member=st.sampled_from(["format", "purpose", "algorithm", "certificate", "signature", "nonce"]),
    value=st.none() | st.booleans() | st.integers() | st.text(max_size=64) | st.lists(st.text()),
)
def test_mutated_json_member_is_refused(
    fresh_verifier: AuthVerifier, issued_card: IssuedCard, member: str, value: object
) -> None:
    challenge = fresh_verifier.issue_challenge(AuthPurpose.LOGIN)
    body = make_token(issued_card, challenge.nonce).to_dict()
    if body[member] == value:
        return
    mutated: dict[str, object] = dict(body)
    mutated[member] = value
    with pytest.raises(VerificationError):
        fresh_verifier.verify(json.dumps(mutated))
