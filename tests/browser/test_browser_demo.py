"""The demo in a real browser: both journeys, and every failure a person must understand."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from jpki_sdk.demo import DemoStack
from simulator.provision import DEFAULT_AUTH_PIN, DEFAULT_SIGN_PASSWORD

pytestmark = pytest.mark.browser


def _tries(demo: DemoStack, key: str = "a") -> dict[str, int]:
    assert demo.reader is not None
    return demo.reader.cards[key].tries()


def _login(page: Any, demo: DemoStack, pin: str) -> None:
    page.goto(f"{demo.site_url}/login")
    page.wait_for_selector("#agent-status.ok, #agent-status.warning, #agent-status.error")
    page.fill("#pin", pin)
    page.click("#login-button")


def _error_text(page: Any) -> str:
    page.wait_for_selector("#message.error")
    return str(page.inner_text("#message"))


# -- journey 1 ------------------------------------------------------------------------------------


def test_index_page_offers_both_journeys(page, demo, shot) -> None:
    page.goto(f"{demo.site_url}/")
    page.wait_for_selector("#agent-status.ok")
    assert "Card agent" in page.inner_text("#agent-status")
    assert page.inner_text("#go-login") == "Log in with My Number card"
    assert page.inner_text("#go-identity") == "Fill in this form from your card"
    assert page.inner_text("#agent-url") == demo.agent_url
    shot(page, "00-index")


def test_login_journey_shows_the_pseudonymous_subject(page, demo, shot) -> None:
    page.goto(f"{demo.site_url}/login")
    page.wait_for_selector("#agent-status.ok")
    assert "3 of 3 tries left" in page.inner_text("#agent-status")
    assert page.is_visible("#pin")  # kiosk mode: the page's PIN field is used
    page.fill("#pin", DEFAULT_AUTH_PIN)
    shot(page, "01-login-pin-entered")
    page.click("#login-button")
    page.wait_for_url(f"{demo.site_url}/account")
    page.wait_for_selector("#account:not(.hidden)")
    key = page.inner_text("#subject-key")
    assert demo.reader is not None and demo.site is not None
    serial = f"{demo.reader.cards['a'].auth_certificate.serial_number:X}"
    assert key.startswith("test:") and serial in key
    assert page.inner_text("#subject-serial") == serial
    assert "good according to crl" in page.inner_text("#revocation")
    assert page.is_visible("#test-root-warning")
    # Nothing personal on the page: the login certificate carries no name or address.
    identity = demo.reader.cards["a"].identity
    text = page.inner_text("main")
    assert identity.family_name not in text and identity.address[:3] not in text
    shot(page, "02-login-account")
    page.click("#logout-button")
    page.wait_for_url(f"{demo.site_url}/")


def test_replayed_token_is_refused(page, demo, shot) -> None:
    _login(page, demo, DEFAULT_AUTH_PIN)
    page.wait_for_url(f"{demo.site_url}/account")
    page.click("#replay-button")
    page.wait_for_selector("#replay-result.success")
    result = page.inner_text("#replay-result")
    assert result.startswith("Refused")
    assert "already used" in result
    shot(page, "03-login-replay-refused")


# -- journey 2 ------------------------------------------------------------------------------------


def test_identity_journey_prefills_the_form_from_the_certificate(page, demo, shot) -> None:
    page.goto(f"{demo.site_url}/identity")
    page.wait_for_selector("#agent-status.ok")
    assert "5 of 5 tries left" in page.inner_text("#agent-status")
    page.fill("#password", DEFAULT_SIGN_PASSWORD.lower())  # upper-cased, as the card expects
    page.click("#fill-button")
    page.wait_for_selector("#verified-note:not(.hidden)")
    assert demo.reader is not None
    identity = demo.reader.cards["a"].identity
    assert page.input_value("#name") == identity.name
    assert page.input_value("#address") == identity.address
    assert page.input_value("#birth-date") == identity.birth_date.isoformat()
    assert page.input_value("#sex") == identity.sex
    assert page.inner_text("#age-answer") == "Yes"
    released = json.loads(page.inner_text("#released-json"))
    assert set(released["attributes"]) == {"name", "address", "birth_date", "sex", "age_over_20"}
    assert page.input_value("#password") == ""  # cleared after use
    shot(page, "04-identity-form-prefilled")


def test_age_check_releases_no_birth_date(page, demo, shot) -> None:
    assert demo.reader is not None and demo.agent is not None
    with demo.agent.maintenance():
        demo.reader.insert("c")  # the 17-year-old
    page.goto(f"{demo.site_url}/identity")
    page.wait_for_selector("#agent-status.ok")
    page.fill("#password", DEFAULT_SIGN_PASSWORD)
    page.click("#age-button")
    page.wait_for_selector("#age-result:not(.hidden)")
    assert page.inner_text("#age-answer") == "No"
    released = json.loads(page.inner_text("#released-json"))
    assert released == {"requested": ["age_over_20"], "attributes": {"age_over_20": False}}
    assert page.input_value("#birth-date") == ""
    assert page.input_value("#name") == ""
    assert "without releasing your birth date" in page.inner_text("#age-note")
    shot(page, "05-identity-age-check-only")


# -- what goes wrong ------------------------------------------------------------------------------


def test_wrong_pin_shows_the_tries_left(page, demo, shot) -> None:
    _login(page, demo, "0000")
    assert _error_text(page) == "Wrong PIN. 2 tries left."
    page.wait_for_selector("#agent-status.ok >> text=2 of 3 tries left")
    assert _tries(demo)["auth"] == 2
    assert page.url == f"{demo.site_url}/login"
    shot(page, "06-wrong-pin")
    page.fill("#pin", "1111")
    page.click("#login-button")
    page.wait_for_selector("#message.error >> text=1 try left")
    assert "one more wrong PIN blocks it" in page.inner_text("#message")
    page.wait_for_selector("#agent-status.warning")


def test_last_try_needs_confirmation_and_blocking_is_explained(page, demo, shot) -> None:
    assert demo.reader is not None and demo.agent is not None
    with demo.agent.maintenance():
        demo.reader.set_tries("a", "auth", 1)
    _login(page, demo, "0000")
    assert "Only one try is left" in _error_text(page)
    assert _tries(demo)["auth"] == 1  # nothing was sent
    assert "1 of 3 tries left" in page.inner_text("#agent-status.warning")
    assert page.is_visible("#last-try")
    shot(page, "07-last-try-confirmation")
    page.check("#last-try")
    page.fill("#pin", "0000")
    page.click("#login-button")
    page.wait_for_selector("#message.error >> text=now blocked")
    assert "That was the last try: the PIN is now blocked" in page.inner_text("#message")
    assert _tries(demo)["auth"] == 0
    page.wait_for_selector("#agent-status.error")
    assert "blocked" in page.inner_text("#agent-status")
    page.fill("#pin", DEFAULT_AUTH_PIN)
    page.click("#login-button")
    page.wait_for_selector("#message.error >> text=This PIN is blocked")
    assert "Only your municipal office can reset it" in page.inner_text("#message")
    shot(page, "08-pin-blocked")


def test_last_try_with_confirmation_and_the_right_pin_logs_in(page, demo) -> None:
    assert demo.reader is not None and demo.agent is not None
    with demo.agent.maintenance():
        demo.reader.set_tries("a", "auth", 1)
    page.goto(f"{demo.site_url}/login")
    page.wait_for_selector("#agent-status.warning")
    page.check("#last-try")
    page.fill("#pin", DEFAULT_AUTH_PIN)
    page.click("#login-button")
    page.wait_for_url(f"{demo.site_url}/account")
    assert _tries(demo)["auth"] == 3


def test_revoked_card_is_refused(page, demo, shot) -> None:
    page.goto(f"{demo.site_url}/controls")
    page.click("#insert-b")
    page.wait_for_selector("#reader-state >> text=Card B")
    shot(page, "09-controls-revoked-card-inserted")
    _login(page, demo, DEFAULT_AUTH_PIN)
    text = _error_text(page)
    assert "revoked" in text
    assert page.url == f"{demo.site_url}/login"
    shot(page, "10-revoked-card-refused")


def test_pulling_the_card_mid_login_gives_a_clear_message(page, demo, shot) -> None:
    page.goto(f"{demo.site_url}/controls")
    page.wait_for_selector("#reader-state >> text=in the reader")
    page.click("#pull-button")
    page.wait_for_selector("#reader-state >> text=pulled during the next signature")
    _login(page, demo, DEFAULT_AUTH_PIN)
    text = _error_text(page)
    assert (
        text
        == "The card was removed during the operation. Put it back on the reader and try again."
    )
    page.wait_for_selector("#agent-status.error")
    assert "No card on the reader" in page.inner_text("#agent-status")
    shot(page, "11-card-pulled-mid-login")
    page.goto(f"{demo.site_url}/controls")
    page.wait_for_selector("#reader-state >> text=OUT of the reader")
    page.click("#insert-a")
    page.wait_for_selector("#reader-state >> text=is in the reader")
    _login(page, demo, DEFAULT_AUTH_PIN)
    page.wait_for_url(f"{demo.site_url}/account")


def test_expired_challenge_is_refused(page, demo, shot) -> None:
    page.goto(f"{demo.site_url}/controls")
    page.click("#expire-button")
    page.wait_for_selector("#reader-state >> text=will expire")
    _login(page, demo, DEFAULT_AUTH_PIN)
    assert "challenge expired" in _error_text(page)
    shot(page, "12-challenge-expired")


# -- a page of another origin ---------------------------------------------------------------------

EVIL_PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>Another site</title></head>
<body><h1>Another site on this computer</h1><pre id="result">running...</pre>
<script>
const agent = %(agent)s;
async function attempt(path, init) {
  try {
    const response = await fetch(agent + path, init);
    return "answered HTTP " + response.status + ": " + await response.text();
  } catch (err) {
    return "refused: " + err;
  }
}
(async () => {
  const nonce = btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(32))));
  const sign = await attempt("/v1/sign", {method: "POST",
    headers: {"Content-Type": "application/json"},
    body: JSON.stringify({nonce, purpose: "login", pin: "1234"})});
  const status = await attempt("/v1/status?purpose=login", {});
  const simple = await attempt("/v1/sign", {method: "POST", mode: "no-cors",
    headers: {"Content-Type": "text/plain"},
    body: JSON.stringify({nonce, purpose: "login", pin: "1234"})});
  document.getElementById("result").textContent =
    JSON.stringify({sign, status, simple}, null, 2);
  document.body.dataset.done = "1";
})();
</script></body></html>"""


@pytest.fixture
def evil_site(demo: DemoStack):
    body = (EVIL_PAGE % {"agent": json.dumps(demo.agent_url)}).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_a_page_of_another_origin_cannot_get_a_signature(page, demo, evil_site, shot) -> None:
    assert demo.reader is not None
    card = demo.reader.cards["a"].card
    before_commands = card.command_count
    before_tries = _tries(demo)
    operations = demo.agent.operations if demo.agent is not None else None
    page.goto(f"{evil_site}/")
    page.wait_for_selector("body[data-done='1']")
    result = json.loads(page.inner_text("#result"))
    # CORS: the agent's refusal carries no Access-Control-Allow-Origin, so the page's fetch
    # fails outright and it cannot even read why.
    assert result["sign"].startswith("refused: TypeError")
    assert result["status"].startswith("refused: TypeError")
    # A no-cors "simple" request reaches the agent but is refused there (wrong origin and
    # content type) and its answer is opaque to the page.
    assert result["simple"] == "answered HTTP 0: "
    assert card.command_count == before_commands  # the card was never touched
    assert _tries(demo) == before_tries
    assert demo.agent is not None and demo.agent.operations == operations
    shot(page, "13-other-origin-refused")


# -- the PIN entered at the agent (no kiosk mode) -------------------------------------------------


class _PersonAtTheAgent:
    """Stands in for the person typing at the agent's own prompt (a real agent: terminal)."""

    def __init__(self, pin: str) -> None:
        self.pin = pin
        self.asked: list[Any] = []
        self.told: list[str] = []

    def ask(self, request: Any) -> Any:
        from jpki_sdk.agent import PinAnswer

        self.asked.append(request)
        return PinAnswer(bytearray(self.pin.encode()))

    def notify(self, request: Any, message: str) -> None:
        self.told.append(message)


def test_login_with_the_pin_entered_at_the_agent(page, demo, shot) -> None:
    """Without kiosk mode the page has no PIN field: the agent asks, after showing the origin."""
    import dataclasses

    assert demo.agent is not None
    agent = demo.agent
    saved = (agent.config, agent.prompt)
    person = _PersonAtTheAgent(DEFAULT_AUTH_PIN)
    with agent.maintenance():
        agent.config = dataclasses.replace(
            agent.config, kiosk_origin=None, kiosk_allow_last_attempt=False
        )
        agent.prompt = person
    try:
        page.goto(f"{demo.site_url}/login")
        page.wait_for_selector("#agent-status.ok")
        assert not page.is_visible("#pin")
        assert page.is_visible("#agent-prompt-note")
        shot(page, "14-login-pin-at-the-agent")
        page.click("#login-button")
        page.wait_for_url(f"{demo.site_url}/account")
        (request,) = person.asked
        assert request.origin == demo.site_url
        assert request.purpose.value == "login"
        assert request.tries_left == 3
        assert person.told == ["signed: the token was handed to the page"]
    finally:
        with agent.maintenance():
            agent.config, agent.prompt = saved
