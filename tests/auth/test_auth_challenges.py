"""ChallengeManager over every backend, nonce encoding, origin normalization and M."""

from __future__ import annotations

import base64
import hashlib
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from jpki_sdk.auth.challenges import (
    Challenge,
    ChallengeManager,
    ChallengeStore,
    decode_nonce,
    encode_nonce,
)
from jpki_sdk.auth.errors import (
    ChallengeExpiredError,
    ChallengeMismatchError,
    ChallengeReplayedError,
    ChallengeUnknownError,
)
from jpki_sdk.auth.message import auth_message, normalize_origin
from jpki_sdk.auth.types import AuthPurpose

ORIGIN = "https://rp.example"


class MovableClock:
    def __init__(self, at: datetime) -> None:
        self.at = at

    def now(self) -> datetime:
        return self.at


@pytest.fixture
def clock() -> MovableClock:
    return MovableClock(datetime(2026, 4, 1, 9, 0, tzinfo=timezone.utc))


@pytest.fixture
def manager(store: ChallengeStore, clock: MovableClock) -> ChallengeManager:
    return ChallengeManager(store, clock=clock)


def test_issue_defaults(manager: ChallengeManager, clock: MovableClock) -> None:
    challenge = manager.issue(AuthPurpose.LOGIN, ORIGIN)
    assert len(challenge.nonce) == 32
    assert challenge.issued_at == clock.at
    assert challenge.expires_at == clock.at + timedelta(minutes=5)
    assert challenge.origin == ORIGIN
    assert challenge.session_binding is None
    assert manager.issue(AuthPurpose.LOGIN, ORIGIN).nonce != challenge.nonce


def test_redeem_once(manager: ChallengeManager) -> None:
    challenge = manager.issue(AuthPurpose.IDENTITY, ORIGIN, session_id="abc")
    got = manager.redeem(
        challenge.nonce, purpose=AuthPurpose.IDENTITY, origin=ORIGIN, session_id="abc"
    )
    assert got == challenge
    with pytest.raises(ChallengeReplayedError) as info:
        manager.redeem(
            challenge.nonce, purpose=AuthPurpose.IDENTITY, origin=ORIGIN, session_id="abc"
        )
    assert info.value.code == "challenge_replayed"


def test_unknown(manager: ChallengeManager) -> None:
    with pytest.raises(ChallengeUnknownError) as info:
        manager.redeem(bytes(32), purpose=AuthPurpose.LOGIN, origin=ORIGIN)
    assert info.value.code == "challenge_unknown"


def test_expired_is_reported_and_consumed(manager: ChallengeManager, clock: MovableClock) -> None:
    challenge = manager.issue(AuthPurpose.LOGIN, ORIGIN, ttl=timedelta(seconds=30))
    clock.at += timedelta(seconds=30)  # expiry is exclusive
    with pytest.raises(ChallengeExpiredError):
        manager.redeem(challenge.nonce, purpose=AuthPurpose.LOGIN, origin=ORIGIN)
    with pytest.raises(ChallengeReplayedError):
        manager.redeem(challenge.nonce, purpose=AuthPurpose.LOGIN, origin=ORIGIN)


def test_just_before_expiry_is_accepted(manager: ChallengeManager, clock: MovableClock) -> None:
    challenge = manager.issue(AuthPurpose.LOGIN, ORIGIN)
    clock.at += timedelta(minutes=5) - timedelta(microseconds=1)
    manager.redeem(challenge.nonce, purpose=AuthPurpose.LOGIN, origin=ORIGIN)


@pytest.mark.parametrize(
    ("purpose", "origin", "session", "binding"),
    [
        (AuthPurpose.IDENTITY, ORIGIN, "s1", "purpose"),
        (AuthPurpose.LOGIN, "https://evil.example", "s1", "origin"),
        (AuthPurpose.LOGIN, ORIGIN, "s2", "session"),
        (AuthPurpose.LOGIN, ORIGIN, None, "session"),
    ],
)
def test_mismatch_burns_the_challenge(
    manager: ChallengeManager,
    purpose: AuthPurpose,
    origin: str,
    session: str | None,
    binding: str,
) -> None:
    challenge = manager.issue(AuthPurpose.LOGIN, ORIGIN, session_id="s1")
    with pytest.raises(ChallengeMismatchError) as info:
        manager.redeem(challenge.nonce, purpose=purpose, origin=origin, session_id=session)
    assert info.value.binding == binding
    assert info.value.code == "challenge_mismatch"
    with pytest.raises(ChallengeReplayedError):
        manager.redeem(challenge.nonce, purpose=AuthPurpose.LOGIN, origin=ORIGIN, session_id="s1")


def test_unbound_challenge_accepts_any_session(manager: ChallengeManager) -> None:
    challenge = manager.issue(AuthPurpose.LOGIN, ORIGIN)
    manager.redeem(challenge.nonce, purpose=AuthPurpose.LOGIN, origin=ORIGIN, session_id="x")


def test_origin_is_normalized(manager: ChallengeManager) -> None:
    challenge = manager.issue(AuthPurpose.LOGIN, "HTTPS://RP.Example:443/")
    assert challenge.origin == ORIGIN
    manager.redeem(challenge.nonce, purpose=AuthPurpose.LOGIN, origin="https://rp.example")


@pytest.mark.parametrize("ttl", [timedelta(0), timedelta(milliseconds=999), timedelta(days=2)])
def test_ttl_bounds(store: ChallengeStore, ttl: timedelta) -> None:
    with pytest.raises(ValueError, match="ttl"):
        ChallengeManager(store, ttl=ttl)
    manager = ChallengeManager(store)
    with pytest.raises(ValueError, match="ttl"):
        manager.issue(AuthPurpose.LOGIN, ORIGIN, ttl=ttl)


def test_session_id_bounds(manager: ChallengeManager) -> None:
    with pytest.raises(ValueError, match="session_id"):
        manager.issue(AuthPurpose.LOGIN, ORIGIN, session_id="")
    with pytest.raises(ValueError, match="session_id"):
        manager.issue(AuthPurpose.LOGIN, ORIGIN, session_id="x" * 1025)


def test_naive_clock_is_refused(store: ChallengeStore) -> None:
    manager = ChallengeManager(store, clock=MovableClock(datetime(2026, 1, 1)))
    with pytest.raises(ValueError, match="timezone-aware"):
        manager.issue(AuthPurpose.LOGIN, ORIGIN)


def test_challenge_repr_hides_nonce_and_session() -> None:
    now = datetime(2026, 1, 1, tzinfo=timezone.utc)
    nonce = bytes(range(32))
    c = Challenge(nonce, AuthPurpose.LOGIN, ORIGIN, now, now + timedelta(minutes=1), bytes(32))
    text = repr(c)
    assert nonce.hex() not in text
    assert encode_nonce(nonce) not in text
    assert "session_bound=yes" in text


def test_challenge_value_checks() -> None:
    now = datetime(2026, 1, 1, tzinfo=timezone.utc)
    with pytest.raises(ValueError, match="32 bytes"):
        Challenge(b"short", AuthPurpose.LOGIN, ORIGIN, now, now + timedelta(minutes=1))
    with pytest.raises(ValueError, match="after"):
        Challenge(bytes(32), AuthPurpose.LOGIN, ORIGIN, now, now)
    with pytest.raises(ValueError, match="timezone-aware"):
        Challenge(bytes(32), AuthPurpose.LOGIN, ORIGIN, datetime(2026, 1, 1), now)


# -- nonce encoding ----------------------------------------------------------------------------


@given(st.binary(min_size=32, max_size=32))
def test_nonce_round_trip(nonce: bytes) -> None:
    assert decode_nonce(encode_nonce(nonce)) == nonce


@given(st.text(max_size=60))
def test_decode_nonce_only_value_error(text: str) -> None:
    try:
        raw = decode_nonce(text)
    except ValueError:
        return
    assert len(raw) == 32
    assert encode_nonce(raw) == text


def test_decode_nonce_refuses_non_canonical() -> None:
    good = encode_nonce(bytes(32))
    assert decode_nonce(good) == bytes(32)
    urlsafe = base64.urlsafe_b64encode(b"\xff" * 32).decode()
    for bad in [good.rstrip("="), good[:-2] + "B=", urlsafe]:
        with pytest.raises(ValueError):
            decode_nonce(bad)


# -- origin and M ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given_origin", "canonical"),
    [
        ("https://rp.example", "https://rp.example"),
        ("https://RP.example/", "https://rp.example"),
        ("HTTPS://rp.example:443", "https://rp.example"),
        ("https://rp.example:8443", "https://rp.example:8443"),
        ("http://localhost:8000", "http://localhost:8000"),
        ("http://127.0.0.1:80", "http://127.0.0.1"),
        ("http://[::1]:8080", "http://[::1]:8080"),
        ("https://例え.テスト", "https://xn--r8jz45g.xn--zckzah"),
    ],
)
def test_normalize_origin(given_origin: str, canonical: str) -> None:
    assert normalize_origin(given_origin) == canonical
    assert normalize_origin(canonical) == canonical


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "rp.example",
        "ftp://rp.example",
        "http://rp.example",
        "https://rp.example/login",
        "https://rp.example?x=1",
        "https://rp.example#f",
        "https://user:pw@rp.example",
        "https://rp.example:99999",
        "https://",
        "https://rp.example.",
        " https://rp.example",
        "https://rp.example\n",
        "https://" + "a" * 600,
    ],
)
def test_normalize_origin_refuses(bad: str) -> None:
    with pytest.raises(ValueError):
        normalize_origin(bad)


@given(st.text(max_size=80))
def test_normalize_origin_only_value_error(text: str) -> None:
    try:
        canonical = normalize_origin(text)
    except ValueError:
        return
    assert normalize_origin(canonical) == canonical
    canonical.encode("ascii")


def test_auth_message_layout() -> None:
    nonce = bytes(range(32))
    m = auth_message("https://RP.example/", nonce)
    assert len(m) == 64
    assert m[:32] == hashlib.sha256(b"https://rp.example").digest()
    assert m[32:] == hashlib.sha256(nonce).digest()
    with pytest.raises(ValueError, match="32 bytes"):
        auth_message(ORIGIN, b"x" * 31)
