"""The terminal PIN prompt (through a pipe), PINs never logged, and the rate limiter."""

from __future__ import annotations

import io
import os

import pytest
from agentkit import SHOP, FakeClock
from hypothesis import given, settings
from hypothesis import strategies as st

from jpki_sdk.agent import (
    AgentError,
    PinRateLimiter,
    PinRequest,
    TerminalPinPrompt,
)
from jpki_sdk.auth import AuthPurpose
from jpki_sdk.auth.challenges import encode_nonce
from jpki_sdk.card import PinKind

AUTH_PIN = "8642"
SIGN_PASSWORD = "SECRET9PW"


class Pipe:
    """A terminal stand-in: the agent reads the read end, the test types into the write end."""

    def __init__(self) -> None:
        self.read_fd, self.write_fd = os.pipe()
        self.output = io.StringIO()

    def type(self, text: str) -> None:
        os.write(self.write_fd, text.encode())

    def hang_up(self) -> None:
        if self.write_fd >= 0:
            os.close(self.write_fd)
            self.write_fd = -1

    def prompt(self, timeout: float = 30.0) -> TerminalPinPrompt:
        return TerminalPinPrompt(input_fd=self.read_fd, output=self.output, timeout=timeout)

    def close(self) -> None:
        self.hang_up()
        os.close(self.read_fd)


@pytest.fixture
def pipe():
    p = Pipe()
    yield p
    p.close()


def _request(tries: int | None = 3, purpose: AuthPurpose = AuthPurpose.LOGIN) -> PinRequest:
    kind = PinKind.AUTH if purpose is AuthPurpose.LOGIN else PinKind.SIGN
    return PinRequest(SHOP, purpose, kind, tries, kind.max_tries)


def test_prompt_shows_the_request_before_reading_and_never_echoes(pipe: Pipe) -> None:
    pipe.type(AUTH_PIN + "\n")
    answer = pipe.prompt().ask(_request())
    assert bytes(answer.pin) == AUTH_PIN.encode()
    assert answer.allow_last_attempt is False
    shown = pipe.output.getvalue()
    asked_at = shown.index("Enter your 4-digit PIN")
    assert shown.index(SHOP) < asked_at
    assert shown.index("LOG IN") < asked_at
    assert shown.index("3 of 3 tries left") < asked_at
    assert AUTH_PIN not in shown
    assert AUTH_PIN not in repr(answer)
    answer.wipe()
    assert answer.pin == bytearray()


def test_identity_prompt_says_what_the_site_learns(pipe: Pipe) -> None:
    pipe.type(SIGN_PASSWORD + "\r\n")
    answer = pipe.prompt().ask(_request(5, AuthPurpose.IDENTITY))
    assert bytes(answer.pin) == SIGN_PASSWORD.encode()
    shown = pipe.output.getvalue()
    assert "VERIFY YOUR IDENTITY" in shown
    assert "NAME, ADDRESS, BIRTH DATE and SEX" in shown
    assert "Enter your password" in shown


def test_last_try_needs_yes(pipe: Pipe) -> None:
    pipe.type("yes\n")
    with pytest.raises(AgentError) as refused:
        pipe.prompt().ask(_request(1))
    assert refused.value.code == "last_attempt_refused"
    assert "Only ONE try is left" in pipe.output.getvalue()
    pipe.type("YES\n" + AUTH_PIN + "\n")
    answer = pipe.prompt().ask(_request(1))
    assert answer.allow_last_attempt is True
    assert bytes(answer.pin) == AUTH_PIN.encode()


@pytest.mark.parametrize(
    ("typed", "code"),
    [("\n", "user_cancelled"), ("1" * 80 + "\n", "user_cancelled")],
)
def test_empty_or_absurd_answers_cancel(pipe: Pipe, typed: str, code: str) -> None:
    pipe.type(typed)
    with pytest.raises(AgentError) as caught:
        pipe.prompt().ask(_request())
    assert caught.value.code == code


def test_closed_terminal_cancels(pipe: Pipe) -> None:
    pipe.type("12")
    pipe.hang_up()
    with pytest.raises(AgentError) as caught:
        pipe.prompt().ask(_request())
    assert caught.value.code == "user_cancelled"


def test_nobody_at_the_terminal_times_out(pipe: Pipe) -> None:
    with pytest.raises(AgentError) as caught:
        pipe.prompt(timeout=0.01).ask(_request())
    assert caught.value.code == "prompt_timeout"


def test_prompt_needs_both_ends() -> None:
    with pytest.raises(ValueError, match="both"):
        TerminalPinPrompt(input_fd=0)


# -- PINs never logged ---------------------------------------------------------------------------


def _secrets() -> list[str]:
    out = []
    for secret in (AUTH_PIN, SIGN_PASSWORD):
        out += [secret, secret.encode().hex(), secret.encode().hex().upper()]
    return out


@pytest.fixture
def agent_rig(start_agent, card_factory, rp):
    return start_agent, card_factory, rp


def test_pins_never_reach_logs_or_terminal(agent_rig, pipe, caplog, capfd) -> None:
    start_agent, card_factory, rp = agent_rig
    caplog.set_level(1)  # everything, including the APDU traffic level
    card = card_factory(auth_pin=AUTH_PIN, sign_password=SIGN_PASSWORD)
    kiosk = start_agent(card, kiosk_origin=SHOP, failure_delay=0, max_failure_delay=0)
    for pin in (AUTH_PIN, "1111"):
        challenge = rp.issue_challenge(AuthPurpose.LOGIN)
        kiosk.sign(SHOP, {"nonce": challenge.nonce_b64, "purpose": "login", "pin": pin})
    challenge = rp.issue_challenge(AuthPurpose.IDENTITY)
    response = kiosk.sign(
        SHOP, {"nonce": challenge.nonce_b64, "purpose": "identity", "pin": SIGN_PASSWORD}
    )
    assert response.status_code == 200
    kiosk.stop()
    # The same through the terminal prompt.
    terminal = start_agent(card, prompt=pipe.prompt(), failure_delay=0, max_failure_delay=0)
    pipe.type(AUTH_PIN + "\n" + "1119\n")
    for _ in range(2):
        terminal.sign(SHOP, {"nonce": encode_nonce(os.urandom(32)), "purpose": "login"})
    logged = "\n".join(
        f"{r.name} {r.levelname} {r.getMessage()} {r.args!r} {r.__dict__.get('fields')!r}"
        for r in caplog.records
    )
    assert "sign request from" in logged  # the agent does log its operations
    captured = capfd.readouterr()
    for secret in [*_secrets(), "1111", "1119"]:
        assert secret not in logged
        assert secret not in captured.out + captured.err
        assert secret not in pipe.output.getvalue()


def test_agent_error_text_never_contains_the_pin(start_agent, card_factory) -> None:
    card = card_factory(auth_pin=AUTH_PIN)
    running = start_agent(card, kiosk_origin=SHOP, failure_delay=0, max_failure_delay=0)
    for pin in ("7531", "75", "７５３１"):
        response = running.sign(
            SHOP, {"nonce": encode_nonce(os.urandom(32)), "purpose": "login", "pin": pin}
        )
        assert response.status_code in (400, 422)
        assert pin not in response.text


# -- rate limiter --------------------------------------------------------------------------------


def test_rate_limiter_backs_off_and_resets() -> None:
    clock = FakeClock()
    limiter = PinRateLimiter(
        failure_delay=2, max_failure_delay=10, max_operations=100, window=60, clock=clock
    )
    limiter.check()
    assert [limiter.failure() for _ in range(5)] == [2, 4, 8, 10, 10]
    with pytest.raises(AgentError) as caught:
        limiter.check()
    assert caught.value.code == "rate_limited" and caught.value.extra["retry_after"] == 10
    limiter.success()
    limiter.check()
    assert limiter.consecutive_failures == 0


@settings(max_examples=60, deadline=None)
@given(
    events=st.lists(
        st.tuples(st.sampled_from(["check", "fail", "ok"]), st.floats(0, 100)), max_size=40
    ),
    base=st.floats(0, 10),
    cap_extra=st.floats(0, 50),
    max_ops=st.integers(1, 5),
)
def test_rate_limiter_properties(events, base: float, cap_extra: float, max_ops: int) -> None:
    """A refusal always says how long to wait (at least 1 s), and no more than the larger of
    the back-off cap and the window; operations never exceed the cap per window."""
    clock = FakeClock()
    cap = base + cap_extra
    limiter = PinRateLimiter(
        failure_delay=base, max_failure_delay=cap, max_operations=max_ops, window=30, clock=clock
    )
    started: list[float] = []
    for kind, advance in events:
        clock.now += advance
        if kind == "fail":
            assert 0 <= limiter.failure() <= cap
        elif kind == "ok":
            limiter.success()
        else:
            try:
                limiter.check()
            except AgentError as exc:
                assert exc.code == "rate_limited"
                assert 1 <= exc.extra["retry_after"] <= max(cap, 30) + 1
            else:
                started.append(clock.now)
                recent = [t for t in started if t > clock.now - 30]
                assert len(recent) <= max_ops


def test_request_description_names_origin_and_tries() -> None:
    lines = _request(2).describe()
    assert lines[0].startswith(SHOP)
    assert "2 of 3 tries left" in lines[2]


def test_the_person_at_the_terminal_sees_each_outcome(start_agent, card_factory, pipe) -> None:
    card = card_factory(auth_pin=AUTH_PIN)
    running = start_agent(card, prompt=pipe.prompt(), failure_delay=0, max_failure_delay=0)
    pipe.type("1111\n" + AUTH_PIN + "\n")
    for expected in (422, 200):
        response = running.sign(SHOP, {"nonce": encode_nonce(os.urandom(32)), "purpose": "login"})
        assert response.status_code == expected
    shown = pipe.output.getvalue()
    assert f"{SHOP} (login): not signed: wrong PIN: 2 tries left" in shown
    assert f"{SHOP} (login): signed: the token was handed to the page" in shown
    assert shown.index("not signed") < shown.index("2 of 3 tries left")  # asked again after
