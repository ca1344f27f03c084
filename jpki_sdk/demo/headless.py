"""Both demo journeys, and the failures the demo shows, played over real HTTP without a browser.

:func:`run_headless` does exactly what the demo pages' JavaScript does (``static/app.js``):
it asks the site for a challenge, asks the agent for the PIN status and the signature with the
page's ``Origin``, and posts the token back to the site, which verifies it through the service.
Each scenario checks its outcome; the report lists them (for ``jpki demo --headless``, CI and
people without a browser).

Personal data of the (generated) test identities is masked unless ``reveal=True``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from jpki_sdk.demo.stack import DemoStack
from simulator.provision import DEFAULT_AUTH_PIN, DEFAULT_SIGN_PASSWORD

logger = logging.getLogger(__name__)

FOREIGN_ORIGIN = "http://127.0.0.1:1"


class ScenarioError(Exception):
    """A scenario's outcome was not the expected one."""


@dataclass
class ScenarioResult:
    name: str
    ok: bool
    lines: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "ok": self.ok, "details": self.lines}


@dataclass
class HeadlessReport:
    site_url: str
    results: list[ScenarioResult] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return bool(self.results) and all(r.ok for r in self.results)

    def to_dict(self) -> dict[str, Any]:
        return {
            "site": self.site_url,
            "ok": self.ok,
            "scenarios": [r.to_dict() for r in self.results],
        }

    def lines(self) -> list[str]:
        out = []
        for result in self.results:
            out.append(f"[{'PASS' if result.ok else 'FAIL'}] {result.name}")
            out += [f"       {line}" for line in result.lines]
        passed = sum(r.ok for r in self.results)
        out.append(f"{passed}/{len(self.results)} scenarios passed")
        return out


def _mask(name: str, value: object, reveal: bool) -> str:
    """Personal data masked as the CLI does (first character of name and address only)."""
    text = str(value)
    if reveal or isinstance(value, bool):
        return text
    if name == "birth_date":
        return "****-**-**"
    if name in ("name", "address") and text:
        return text[0] + "＊" * (len(text) - 1)
    return "*"


class Browser:
    """What the demo pages do, over HTTP: a cookie-keeping client for the site, and calls to
    the agent carrying the page's ``Origin``."""

    def __init__(self, stack: DemoStack) -> None:
        self.stack = stack
        self.origin = stack.site_url
        self.site = httpx.Client(
            base_url=stack.site_url,
            headers={"Origin": self.origin},
            timeout=60,
            follow_redirects=False,
        )
        self.agent = httpx.Client(base_url=stack.agent_url, timeout=60)

    def close(self) -> None:
        self.site.close()
        self.agent.close()

    def site_post(self, path: str, body: dict[str, Any]) -> httpx.Response:
        return self.site.post(path, json=body)

    def control(self, action: str, **body: Any) -> dict[str, Any]:
        response = self.site_post(f"/api/controls/{action}", body)
        if response.status_code != 200:
            raise ScenarioError(f"demo control {action} failed: {response.text}")
        result: dict[str, Any] = response.json()
        return result

    def agent_call(
        self, method: str, path: str, body: dict[str, Any] | None = None, origin: str | None = None
    ) -> httpx.Response:
        headers = {"Origin": origin or self.origin}
        for _ in range(3):
            response = self.agent.request(method, path, json=body, headers=headers)
            if response.status_code != 429:
                return response
            wait = float(response.headers.get("retry-after", "1"))
            time.sleep(min(wait, 60.0))  # the agent's back-off after a wrong PIN: honour it
        return response

    def challenge(self, purpose: str, request: str = "form") -> dict[str, Any]:
        response = self.site_post("/api/challenge", {"purpose": purpose, "request": request})
        if response.status_code != 200:
            raise ScenarioError(f"no challenge from the site: {response.text}")
        result: dict[str, Any] = response.json()
        return result

    def sign(self, nonce: str, purpose: str, pin: str) -> httpx.Response:
        return self.agent_call("POST", "/v1/sign", {"nonce": nonce, "purpose": purpose, "pin": pin})

    def run_journey(
        self, purpose: str, pin: str, request: str = "form"
    ) -> tuple[httpx.Response, httpx.Response | None, dict[str, Any] | None]:
        """Challenge, signature, verification: (agent answer, site answer or None, token)."""
        challenge = self.challenge(purpose, request)
        signed = self.sign(challenge["nonce"], purpose, pin)
        if signed.status_code != 200:
            return signed, None, None
        token: dict[str, Any] = signed.json()["token"]
        path = "/api/login" if purpose == "login" else "/api/identity"
        return signed, self.site_post(path, {"token": token}), token


def _error(response: httpx.Response) -> dict[str, Any]:
    try:
        error = response.json().get("error")
    except ValueError:
        error = None
    if not isinstance(error, dict):
        raise ScenarioError(f"expected an error, got HTTP {response.status_code}")
    return error


def _expect_error(response: httpx.Response | None, code: str) -> dict[str, Any]:
    if response is None:
        raise ScenarioError(f"expected {code}, but the step was never reached")
    error = _error(response)
    if error.get("code") != code:
        raise ScenarioError(f"expected {code}, got {error.get('code')}: {error.get('message')}")
    return error


def _expect_ok(response: httpx.Response | None, what: str) -> dict[str, Any]:
    if response is None or response.status_code != 200:
        detail = "no answer" if response is None else response.text[:300]
        raise ScenarioError(f"{what} failed: {detail}")
    body: dict[str, Any] = response.json()
    return body


def run_headless(
    stack: DemoStack,
    *,
    reveal: bool = False,
    auth_pin: str = DEFAULT_AUTH_PIN,
    sign_password: str = DEFAULT_SIGN_PASSWORD,
    on_result: Callable[[ScenarioResult], None] | None = None,
) -> HeadlessReport:
    """Play the demo's journeys and failure cases against a running ``stack``."""
    report = HeadlessReport(stack.site_url)
    browser = Browser(stack)
    state: dict[str, Any] = {}

    def scenario(name: str, body: Callable[[list[str]], None]) -> None:
        lines: list[str] = []
        try:
            body(lines)
            result = ScenarioResult(name, True, lines)
        except (ScenarioError, httpx.HTTPError, KeyError, TypeError, ValueError) as exc:
            lines.append(f"{type(exc).__name__}: {exc}")
            result = ScenarioResult(name, False, lines)
        finally:
            _restore(browser)
        report.results.append(result)
        if on_result is not None:
            on_result(result)

    def login(lines: list[str]) -> None:
        browser.control("insert", card="a")
        status = browser.agent_call("GET", "/v1/status?purpose=login")
        tries = _expect_ok(status, "PIN status")["tries_left"]
        lines.append(f"card A in the reader; auth PIN: {tries} tries left (no try used)")
        signed, verified, token = browser.run_journey("login", auth_pin)
        _expect_ok(signed, "card signature")
        result = _expect_ok(verified, "login")["result"]
        state["login_token"] = token
        me = _expect_ok(browser.site.get("/api/me"), "logged-in page")["result"]
        subject = me["subject"]
        if subject["key"] != result["subject"]["key"] or not result["test_root"]:
            raise ScenarioError("the logged-in page does not show the verified subject")
        lines.append(f"logged in as pseudonymous subject {subject['key']}")
        lines.append(
            f"issuer {subject['issuer']} (generation {subject['issuer_generation']}), "
            f"revocation {result['revocation']['status']} via {result['revocation']['source']}"
            f" ({result['revocation']['mode']})"
        )

    def identity_form(lines: list[str]) -> None:
        browser.control("insert", card="a")
        signed, verified, _token = browser.run_journey("identity", sign_password, "form")
        _expect_ok(signed, "card signature")
        body = _expect_ok(verified, "identity verification")
        attributes = body["result"]["attributes"]
        wanted = {"name", "address", "birth_date", "sex", "age_over_20"}
        if set(attributes) != wanted:
            raise ScenarioError(f"attributes {sorted(attributes)} are not {sorted(wanted)}")
        for name in ("name", "address", "birth_date", "sex"):
            lines.append(f"form {name}: {_mask(name, attributes[name], reveal)}")
        if attributes["age_over_20"] is not True:
            raise ScenarioError("card A's holder should be 20 or over")
        lines.append("age check '20 or over': yes")

    def age_only(lines: list[str]) -> None:
        for key, expected in (("a", True), ("c", False)):
            if key not in stack.reader.cards:  # type: ignore[union-attr]
                continue
            browser.control("insert", card=key)
            signed, verified, _token = browser.run_journey("identity", sign_password, "age")
            _expect_ok(signed, "card signature")
            attributes = _expect_ok(verified, "age check")["result"]["attributes"]
            if attributes != {"age_over_20": expected}:
                raise ScenarioError(f"card {key.upper()}: the service released {attributes}")
            lines.append(
                f"card {key.upper()}: '20 or over' = {'yes' if expected else 'no'}; "
                "the service released nothing else (no birth date)"
            )

    def wrong_pin(lines: list[str]) -> None:
        browser.control("insert", card="a")
        wrong = "0000" if auth_pin != "0000" else "1111"
        signed, _verified, _token = browser.run_journey("login", wrong)
        error = _expect_error(signed, "wrong_pin")
        if error.get("tries_left") != 2:
            raise ScenarioError(f"expected 2 tries left, got {error.get('tries_left')}")
        lines.append(f"wrong PIN refused by the card: {error['message']}")
        signed, verified, _token = browser.run_journey("login", auth_pin)
        _expect_ok(signed, "card signature after a wrong PIN")
        _expect_ok(verified, "login after a wrong PIN")
        status = _expect_ok(browser.agent_call("GET", "/v1/status?purpose=login"), "status")
        lines.append(f"then the right PIN logs in; counter back to {status['tries_left']}")

    def replay(lines: list[str]) -> None:
        token = state.get("login_token")
        if token is None:
            raise ScenarioError("no token from the login journey to replay")
        error = _expect_error(
            browser.site_post("/api/login", {"token": token}), "challenge_replayed"
        )
        lines.append(f"the login token sent again is refused: {error['code']}")

    def revoked(lines: list[str]) -> None:
        browser.control("insert", card="b")
        _signed, verified, _token = browser.run_journey("login", auth_pin)
        error = _expect_error(verified, "certificate_revoked")
        lines.append(f"card B (reported lost): {error['code']} at step {error.get('step')}")

    def pulled(lines: list[str]) -> None:
        browser.control("insert", card="a")
        browser.control("pull", armed=True)
        signed, _verified, _token = browser.run_journey("login", auth_pin)
        error = _expect_error(signed, "card_removed")
        lines.append(f"card pulled during the signature: {error['code']}: {error['message']}")
        again = browser.run_journey("login", auth_pin)[0]
        lines.append(f"next attempt without the card: {_expect_error(again, 'no_card')['code']}")

    def foreign_origin(lines: list[str]) -> None:
        browser.control("insert", card="a")
        card = stack.reader.cards["a"].card  # type: ignore[union-attr]
        before = card.command_count
        challenge = browser.challenge("login")
        response = browser.agent_call(
            "POST",
            "/v1/sign",
            {"nonce": challenge["nonce"], "purpose": "login", "pin": auth_pin},
            origin=FOREIGN_ORIGIN,
        )
        error = _expect_error(response, "origin_not_allowed")
        if "access-control-allow-origin" in response.headers:
            raise ScenarioError("the refusal carries CORS headers")
        if card.command_count != before:
            raise ScenarioError("the card was touched")
        lines.append(f"a page of {FOREIGN_ORIGIN} is refused ({error['code']}); card untouched")

    def expired(lines: list[str]) -> None:
        browser.control("insert", card="a")
        browser.control("expire-next", armed=True)
        _signed, verified, _token = browser.run_journey("login", auth_pin)
        error = _expect_error(verified, "challenge_expired")
        lines.append(f"a challenge used after its lifetime: {error['code']}")

    try:
        scenario("journey 1: log in with My Number card", login)
        scenario("journey 2: fill in the form from the card (verified identity)", identity_form)
        scenario("journey 2: age check only ('20 or over'), no birth date released", age_only)
        scenario("wrong PIN shows the tries left", wrong_pin)
        scenario("replayed token is refused", replay)
        scenario("revoked card is refused", revoked)
        scenario("card pulled mid-login gives a clear message", pulled)
        scenario("a page of another origin cannot use the agent", foreign_origin)
        scenario("expired challenge is refused", expired)
    finally:
        browser.close()
    return report


def _restore(browser: Browser) -> None:
    """Leave card A in the reader, nothing armed, counters as new (for the next scenario)."""
    try:
        browser.control("pull", armed=False)
        browser.control("expire-next", armed=False)
        browser.control("insert", card="a")
        browser.control("reset-pins")
    except (ScenarioError, httpx.HTTPError) as exc:
        logger.warning("could not restore the demo state: %s", exc)


__all__ = ["HeadlessReport", "ScenarioResult", "run_headless"]
