"""Signing through the agent over real HTTP: tokens verify for the page's origin, kiosk and
terminal PIN entry, PIN safety, concurrency, rate limits, card errors with stable codes."""

from __future__ import annotations

import concurrent.futures
import os
import threading

import pytest
from agentkit import KIOSK, SHOP, FakeClock, ScriptedPrompt

from jpki_sdk.agent import AgentError
from jpki_sdk.auth import AuthPurpose, AuthVerifier, ChallengeReplayedError
from jpki_sdk.auth.challenges import encode_nonce
from jpki_sdk.card import PinKind
from jpki_sdk.errors import VerificationError
from simulator.faults import Faults

AUTH_PIN = "8642"
SIGN_PASSWORD = "SECRET9PW"


def _tries(card, name: str) -> int:
    """The remaining tries of a PIN, read from the simulated card's own state."""
    from simulator.provision import PIN_KEYS

    app, fid = PIN_KEYS[name]
    return int(card.state.pin(app, fid).remaining)


@pytest.fixture
def card(card_factory):
    return card_factory(auth_pin=AUTH_PIN, sign_password=SIGN_PASSWORD)


# -- tokens ----------------------------------------------------------------------------------


def test_kiosk_login_token_verifies_for_the_page_origin(start_agent, card, rp) -> None:
    running = start_agent(card, kiosk_origin=SHOP)
    challenge = rp.issue_challenge(AuthPurpose.LOGIN)
    response = running.sign(
        SHOP, {"nonce": challenge.nonce_b64, "purpose": "login", "pin": AUTH_PIN}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["origin"] == SHOP and body["purpose"] == "login"
    result = rp.verify_login(body["token"])
    assert result.test_root is True
    assert result.origin == SHOP
    with pytest.raises(ChallengeReplayedError):  # single use
        rp.verify_login(body["token"])


def test_identity_token_carries_the_signature_certificate(start_agent, card, rp) -> None:
    running = start_agent(card, kiosk_origin=SHOP)
    challenge = rp.issue_challenge(AuthPurpose.IDENTITY)
    response = running.sign(
        SHOP, {"nonce": challenge.nonce_b64, "purpose": "identity", "pin": SIGN_PASSWORD.lower()}
    )
    assert response.status_code == 200, response.text
    result = rp.verify_identity(response.json()["token"], attributes=["age_over_20", "sex"])
    assert set(result.attributes) == {"age_over_20", "sex"}


def test_the_signed_origin_is_the_origin_header_not_the_body(start_agent, card, rp) -> None:
    running = start_agent(card, allowed_origins=[SHOP, KIOSK], kiosk_origin=KIOSK)
    challenge = rp.issue_challenge(AuthPurpose.LOGIN)
    # A page cannot name another origin: the member is refused before the card is touched.
    refused = running.sign(
        KIOSK,
        {"nonce": challenge.nonce_b64, "purpose": "login", "pin": AUTH_PIN, "origin": SHOP},
    )
    assert refused.status_code == 400
    assert refused.json()["error"]["code"] == "invalid_request"
    assert card.command_count == 0
    # Signed for KIOSK (its Origin header): the relying party at SHOP refuses it.
    response = running.sign(
        KIOSK, {"nonce": challenge.nonce_b64, "purpose": "login", "pin": AUTH_PIN}
    )
    assert response.status_code == 200
    with pytest.raises(VerificationError) as caught:
        rp.verify_login(response.json()["token"])
    assert getattr(caught.value, "code", "") == "signature_invalid"
    kiosk_rp = rp.for_origin(KIOSK)
    assert isinstance(kiosk_rp, AuthVerifier)


# -- kiosk mode --------------------------------------------------------------------------------


def test_kiosk_mode_is_off_by_default(start_agent, card) -> None:
    running = start_agent(card)
    assert running.config.kiosk_mode is False
    with running.client(SHOP) as client:
        assert client.get("/v1/info").json()["pin_entry"] == "agent"
    response = running.sign(
        SHOP, {"nonce": encode_nonce(os.urandom(32)), "purpose": "login", "pin": AUTH_PIN}
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "pin_not_accepted"
    assert card.command_count == 0
    assert running.prompt.asked == []


def test_kiosk_pin_only_from_the_kiosk_origin(start_agent, card) -> None:
    running = start_agent(card, allowed_origins=[SHOP, KIOSK], kiosk_origin=KIOSK)
    nonce = encode_nonce(os.urandom(32))
    other = running.sign(SHOP, {"nonce": nonce, "purpose": "login", "pin": AUTH_PIN})
    assert other.json()["error"]["code"] == "pin_not_accepted"
    missing = running.sign(KIOSK, {"nonce": nonce, "purpose": "login"})
    assert missing.json()["error"]["code"] == "pin_required"
    last = running.sign(
        KIOSK, {"nonce": nonce, "purpose": "login", "pin": AUTH_PIN, "allow_last_attempt": True}
    )
    assert last.status_code == 403
    assert last.json()["error"]["code"] == "last_attempt_not_allowed"
    assert card.command_count == 0
    with running.client(KIOSK) as client:
        assert client.get("/v1/info").json()["pin_entry"] == "page"


def test_kiosk_refuses_the_last_try_unless_configured(start_agent, card_factory) -> None:
    card = card_factory(auth_pin=AUTH_PIN, tries={"auth": 1})
    running = start_agent(card, kiosk_origin=SHOP)
    nonce = encode_nonce(os.urandom(32))
    response = running.sign(SHOP, {"nonce": nonce, "purpose": "login", "pin": "0000"})
    assert response.status_code == 423
    error = response.json()["error"]
    assert error["code"] == "last_attempt_refused" and error["tries_left"] == 1
    assert _tries(card, "auth") == 1  # nothing was sent


def test_kiosk_last_try_with_override_uses_it(start_agent, card_factory) -> None:
    card = card_factory(auth_pin=AUTH_PIN, tries={"auth": 1})
    running = start_agent(card, kiosk_origin=SHOP, kiosk_allow_last_attempt=True)
    with running.client(SHOP) as client:
        assert client.get("/v1/info").json()["kiosk_allow_last_attempt"] is True
    nonce = encode_nonce(os.urandom(32))
    refused = running.sign(SHOP, {"nonce": nonce, "purpose": "login", "pin": AUTH_PIN})
    assert refused.json()["error"]["code"] == "last_attempt_refused"
    response = running.sign(
        SHOP, {"nonce": nonce, "purpose": "login", "pin": AUTH_PIN, "allow_last_attempt": True}
    )
    assert response.status_code == 200, response.text
    assert _tries(card, "auth") == 3  # a correct PIN resets the counter


# -- terminal prompt ---------------------------------------------------------------------------


def test_terminal_prompt_shows_origin_purpose_and_tries_first(start_agent, card, rp) -> None:
    prompt = ScriptedPrompt(answers=[SIGN_PASSWORD])
    running = start_agent(card, prompt=prompt)
    challenge = rp.issue_challenge(AuthPurpose.IDENTITY)
    response = running.sign(SHOP, {"nonce": challenge.nonce_b64, "purpose": "identity"})
    assert response.status_code == 200, response.text
    (request,) = prompt.asked
    assert request.origin == SHOP
    assert request.purpose is AuthPurpose.IDENTITY
    assert request.pin_kind is PinKind.SIGN
    assert (request.tries_left, request.max_tries) == (5, 5)
    rp.verify_identity(response.json()["token"], attributes=["name"])


def test_terminal_cancel_touches_no_pin(start_agent, card) -> None:
    prompt = ScriptedPrompt(answers=["error:user_cancelled"])
    running = start_agent(card, prompt=prompt)
    response = running.sign(SHOP, {"nonce": encode_nonce(os.urandom(32)), "purpose": "login"})
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "user_cancelled"
    assert _tries(card, "auth") == 3


def test_terminal_last_try_needs_the_persons_confirmation(start_agent, card_factory) -> None:
    card = card_factory(auth_pin=AUTH_PIN, tries={"auth": 1})
    prompt = ScriptedPrompt(answers=[(AUTH_PIN, False), (AUTH_PIN, True)])
    running = start_agent(card, prompt=prompt)
    nonce = encode_nonce(os.urandom(32))
    refused = running.sign(SHOP, {"nonce": nonce, "purpose": "login"})
    assert refused.json()["error"]["code"] == "last_attempt_refused"
    assert prompt.asked[0].last_attempt is True
    assert _tries(card, "auth") == 1
    accepted = running.sign(SHOP, {"nonce": nonce, "purpose": "login"})
    assert accepted.status_code == 200, accepted.text
    assert _tries(card, "auth") == 3


def test_blocked_pin_is_reported_without_a_prompt(start_agent, card_factory) -> None:
    card = card_factory(tries={"auth": 0})
    prompt = ScriptedPrompt(answers=["1234"])
    running = start_agent(card, prompt=prompt)
    response = running.sign(SHOP, {"nonce": encode_nonce(os.urandom(32)), "purpose": "login"})
    assert response.status_code == 423
    error = response.json()["error"]
    assert error["code"] == "pin_blocked" and error["tries_left"] == 0
    assert prompt.asked == []
    assert prompt.notified and "BLOCKED" in prompt.notified[0][1]


# -- PIN errors and rate limits ----------------------------------------------------------------


def test_wrong_pin_reports_tries_left_then_backs_off(start_agent, card) -> None:
    clock = FakeClock()
    running = start_agent(card, kiosk_origin=SHOP, clock=clock, failure_delay=30.0)
    nonce = encode_nonce(os.urandom(32))
    wrong = running.sign(SHOP, {"nonce": nonce, "purpose": "login", "pin": "0000"})
    assert wrong.status_code == 422
    assert wrong.json()["error"] == {
        "code": "wrong_pin",
        "message": "wrong PIN: 2 tries left",
        "tries_left": 2,
        "pin": "auth",
    }
    count = card.command_count
    limited = running.sign(SHOP, {"nonce": nonce, "purpose": "login", "pin": AUTH_PIN})
    assert limited.status_code == 429
    assert limited.json()["error"]["code"] == "rate_limited"
    assert limited.headers["retry-after"] == "30"
    assert card.command_count == count  # refused before touching the card
    clock.now += 29
    assert (
        running.sign(SHOP, {"nonce": nonce, "purpose": "login", "pin": AUTH_PIN}).status_code == 429
    )
    clock.now += 1
    second = running.sign(SHOP, {"nonce": nonce, "purpose": "login", "pin": "1111"})
    assert second.json()["error"]["tries_left"] == 1
    clock.now += 59  # the delay doubled
    assert (
        running.sign(SHOP, {"nonce": nonce, "purpose": "login", "pin": AUTH_PIN}).status_code == 429
    )
    clock.now += 1
    ok = running.sign(SHOP, {"nonce": nonce, "purpose": "login", "pin": "1111"})
    assert ok.json()["error"]["code"] == "last_attempt_refused"  # the agent protects the last try
    assert _tries(card, "auth") == 1


def test_operations_per_window_are_capped(start_agent, card) -> None:
    clock = FakeClock()
    running = start_agent(card, kiosk_origin=SHOP, clock=clock, max_operations=2, window=60)
    body = {"nonce": encode_nonce(os.urandom(32)), "purpose": "login", "pin": AUTH_PIN}
    assert running.sign(SHOP, body).status_code == 200
    assert running.sign(SHOP, body).status_code == 200
    third = running.sign(SHOP, body)
    assert third.status_code == 429 and third.json()["error"]["retry_after"] == 60
    clock.now += 60
    assert running.sign(SHOP, body).status_code == 200


def test_wrong_pin_format_uses_no_try(start_agent, card) -> None:
    running = start_agent(card, kiosk_origin=SHOP)
    for pin in ("12", "abcd", "12345", "１２３４"):
        response = running.sign(
            SHOP, {"nonce": encode_nonce(os.urandom(32)), "purpose": "login", "pin": pin}
        )
        assert response.status_code == 400
        assert response.json()["error"]["code"] == "pin_format"
    assert _tries(card, "auth") == 3


def test_pin_blocked_on_the_last_wrong_try(start_agent, card_factory) -> None:
    card = card_factory(auth_pin=AUTH_PIN, tries={"auth": 1})
    running = start_agent(card, kiosk_origin=SHOP, kiosk_allow_last_attempt=True)
    body = {
        "nonce": encode_nonce(os.urandom(32)),
        "purpose": "login",
        "pin": "0000",
        "allow_last_attempt": True,
    }
    response = running.sign(SHOP, body)
    assert response.status_code == 423
    error = response.json()["error"]
    assert error["code"] == "pin_blocked" and error["just_blocked"] is True
    assert _tries(card, "auth") == 0


# -- concurrency -------------------------------------------------------------------------------


def test_a_second_operation_is_refused_while_one_is_in_progress(start_agent, card, rp) -> None:
    gate = threading.Event()
    prompt = ScriptedPrompt(answers=[AUTH_PIN], gate=gate)
    running = start_agent(card, prompt=prompt)
    challenge = rp.issue_challenge(AuthPurpose.LOGIN)
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        first = pool.submit(running.sign, SHOP, {"nonce": challenge.nonce_b64, "purpose": "login"})
        assert prompt.entered.wait(30)
        count = card.command_count
        second = running.sign(SHOP, {"nonce": challenge.nonce_b64, "purpose": "login"})
        assert second.status_code == 409
        assert second.json()["error"]["code"] == "busy"
        with running.client(SHOP) as client:
            status = client.get("/v1/status?purpose=login")
        assert status.status_code == 409
        assert card.command_count == count
        gate.set()
        result = first.result(timeout=60)
    assert result.status_code == 200, result.text
    rp.verify_login(result.json()["token"])


# -- card errors -------------------------------------------------------------------------------


def test_status_reports_tries_without_using_one(start_agent, card_factory) -> None:
    card = card_factory(tries={"sign": 2})
    running = start_agent(card)
    with running.client(SHOP) as client:
        login = client.get("/v1/status", params={"purpose": "login"}).json()
        identity = client.get("/v1/status", params={"purpose": "identity"}).json()
        bad = client.get("/v1/status", params={"purpose": "admin"})
    assert login == {
        "purpose": "login",
        "pin": "auth",
        "tries_left": 3,
        "max_tries": 3,
        "blocked": False,
        "last_attempt": False,
    }
    assert identity["tries_left"] == 2 and identity["max_tries"] == 5
    assert bad.status_code == 400
    assert _tries(card, "sign") == 2


# A login is: SELECT JPKI-AP (open), SELECT key EF + counter query (agent), counter query
# (card layer's own check), VERIFY, SELECT + READ BINARY (certificate), SELECT key,
# COMPUTE DIGITAL SIGNATURE: the 5th command is the VERIFY, the 9th the signature.
VERIFY_AT = 5
SIGN_AT = 9


def test_card_pulled_mid_signature_is_card_removed(start_agent, card) -> None:
    running = start_agent(card, kiosk_origin=SHOP)
    card.faults = Faults(remove_at=card.command_count + SIGN_AT)
    response = running.sign(
        SHOP, {"nonce": encode_nonce(os.urandom(32)), "purpose": "login", "pin": AUTH_PIN}
    )
    assert response.status_code == 503
    error = response.json()["error"]
    assert error["code"] == "card_removed"
    assert "removed" in error["message"]
    again = running.sign(
        SHOP, {"nonce": encode_nonce(os.urandom(32)), "purpose": "login", "pin": AUTH_PIN}
    )
    assert again.status_code == 503
    assert again.json()["error"]["code"] == "no_card"
    card.faults = Faults()  # a removal fault re-arms on insert(): this time the card stays
    card.insert()
    ok = running.sign(
        SHOP, {"nonce": encode_nonce(os.urandom(32)), "purpose": "login", "pin": AUTH_PIN}
    )
    assert ok.status_code == 200, ok.text


def test_card_pulled_during_verify_is_reported_as_uncertain(start_agent, card) -> None:
    running = start_agent(card, kiosk_origin=SHOP)
    card.faults = Faults(remove_at=card.command_count + VERIFY_AT)
    response = running.sign(
        SHOP, {"nonce": encode_nonce(os.urandom(32)), "purpose": "login", "pin": "0000"}
    )
    assert response.status_code == 503
    error = response.json()["error"]
    assert error["code"] == "pin_attempt_uncertain"
    assert "try may have been counted" in error["message"]
    assert _tries(card, "auth") == 2  # it did count: the card executed the VERIFY
    assert running.agent.limiter.consecutive_failures == 1  # and the agent backs off


def test_identity_on_a_card_without_signature_certificate(start_agent, card_factory) -> None:
    card = card_factory(sign=False)
    running = start_agent(card, kiosk_origin=SHOP)
    response = running.sign(
        SHOP, {"nonce": encode_nonce(os.urandom(32)), "purpose": "identity", "pin": "ABC123"}
    )
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "no_signature_certificate"


@pytest.mark.parametrize(
    "body",
    [
        {"purpose": "login"},
        {"nonce": "AAAA", "purpose": "login"},
        {"nonce": encode_nonce(b"\x00" * 32), "purpose": "logout"},
        {"nonce": encode_nonce(b"\x00" * 32), "purpose": "login", "pin": 1234},
        {"nonce": encode_nonce(b"\x00" * 32), "purpose": "login", "pin": "1" * 33},
        {"nonce": encode_nonce(b"\x00" * 32), "purpose": "login", "allow_last_attempt": "yes"},
        [],
    ],
)
def test_bad_requests_are_refused_without_touching_the_card(start_agent, card, body) -> None:
    running = start_agent(card, kiosk_origin=SHOP)
    with running.client(SHOP) as client:
        response = client.post("/v1/sign", json=body)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_request"
    assert card.command_count == 0


def test_malformed_and_oversized_bodies(start_agent, card) -> None:
    running = start_agent(card, kiosk_origin=SHOP)
    with running.client(SHOP) as client:
        broken = client.post("/v1/sign", content=b"{", headers={"Content-Type": "application/json"})
        huge = client.post(
            "/v1/sign",
            content=b'{"pin": "' + b"1" * 5000 + b'"}',
            headers={"Content-Type": "application/json"},
        )
        missing = client.get("/v1/nothing")
        wrong_method = client.get("/v1/sign")
    assert broken.json()["error"]["code"] == "malformed_json"
    assert huge.status_code == 413
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"
    assert wrong_method.status_code == 405
    assert card.command_count == 0


def test_agent_error_codes_are_known() -> None:
    with pytest.raises(ValueError, match="unknown agent error code"):
        AgentError("no_such_code")
    error = AgentError("wrong_pin", tries_left=2, retry_after=None)
    assert error.to_dict() == {"code": "wrong_pin", "message": "wrong PIN", "tries_left": 2}
