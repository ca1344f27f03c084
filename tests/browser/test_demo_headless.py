"""The demo without a browser: the headless run, the site's own checks, and `jpki demo`.

These use the same demo stack as the browser tests but need no Chromium.
"""

from __future__ import annotations

import json

import httpx
import pytest
from click.testing import CliRunner
from demokit import restore

from cli.demo import demo as demo_command
from jpki_sdk.demo import DemoStack, run_headless


def test_headless_run_passes_every_scenario(demo: DemoStack) -> None:
    restore(demo)
    report = run_headless(demo)
    assert report.ok, "\n".join(report.lines())
    names = [r.name for r in report.results]
    assert names[0].startswith("journey 1") and names[1].startswith("journey 2")
    assert len(names) == 9
    text = "\n".join(report.lines())
    assert "9/9 scenarios passed" in text
    assert demo.reader is not None
    identity = demo.reader.cards["a"].identity
    assert identity.name not in text and identity.address not in text  # masked by default
    assert identity.birth_date.isoformat() not in text
    assert "form sex: *" in text
    revealed = run_headless(demo, reveal=True)
    assert revealed.ok
    assert identity.name in "\n".join(revealed.lines())


def test_headless_run_reports_a_failure(demo: DemoStack) -> None:
    restore(demo)
    report = run_headless(demo, auth_pin="9999")  # not the card's PIN: journeys must fail
    assert not report.ok
    login = report.results[0]
    assert not login.ok
    assert any("wrong_pin" in line for line in login.lines)
    restore(demo)


def test_site_refuses_cross_origin_posts(demo: DemoStack) -> None:
    with httpx.Client(base_url=demo.site_url) as client:
        other = client.post(
            "/api/challenge",
            json={"purpose": "login"},
            headers={"Origin": "http://127.0.0.1:1"},
        )
        none = client.post("/api/challenge", json={"purpose": "login"})
        text = client.post(
            "/api/challenge",
            content=b'{"purpose": "login"}',
            headers={"Origin": demo.site_url, "Content-Type": "text/plain"},
        )
        bad = client.post(
            "/api/challenge", json={"purpose": "admin"}, headers={"Origin": demo.site_url}
        )
    assert other.status_code == 403 and none.status_code == 403
    assert text.status_code == 415
    assert bad.status_code == 400


def test_site_sends_a_content_security_policy(demo: DemoStack) -> None:
    with httpx.Client(base_url=demo.site_url) as client:
        response = client.get("/login")
    assert response.status_code == 200
    csp = response.headers["content-security-policy"]
    assert "script-src 'self'" in csp
    assert f"connect-src 'self' {demo.agent_url}" in csp
    assert response.cookies.get("demo_session")
    assert "httponly" in response.headers["set-cookie"].lower()
    assert "samesite=strict" in response.headers["set-cookie"].lower()


def test_a_challenge_is_bound_to_the_session_that_asked(demo: DemoStack) -> None:
    """A token made for one visitor's challenge is refused in another visitor's session."""
    restore(demo)
    headers = {"Origin": demo.site_url}
    with (
        httpx.Client(base_url=demo.site_url, headers=headers) as alice,
        httpx.Client(base_url=demo.site_url, headers=headers) as mallory,
        httpx.Client(base_url=demo.agent_url, headers=headers) as agent,
    ):
        challenge = alice.post("/api/challenge", json={"purpose": "login"}).json()
        signed = agent.post(
            "/v1/sign", json={"nonce": challenge["nonce"], "purpose": "login", "pin": "1234"}
        )
        assert signed.status_code == 200, signed.text
        mallory.get("/api/config")
        stolen = mallory.post("/api/login", json={"token": signed.json()["token"]})
        assert stolen.status_code == 422
        assert stolen.json()["error"]["code"] == "challenge_mismatch"
        # The challenge is burned: the rightful owner cannot use it any more either.
        late = alice.post("/api/login", json={"token": signed.json()["token"]})
        assert late.json()["error"]["code"] == "challenge_replayed"


def test_demo_controls_refuse_bad_requests(demo: DemoStack) -> None:
    headers = {"Origin": demo.site_url}
    with httpx.Client(base_url=demo.site_url, headers=headers) as client:
        unknown_card = client.post("/api/controls/insert", json={"card": "z"})
        unknown_action = client.post("/api/controls/explode", json={})
        state = client.get("/api/controls").json()
    assert unknown_card.status_code == 400
    assert unknown_action.status_code == 404
    assert [c["key"] for c in state["cards"]] == ["a", "b", "c"]
    assert [c["revoked"] for c in state["cards"]] == [False, True, False]
    assert state["cards"][2]["age"] == 17


@pytest.mark.slow
def test_jpki_demo_without_a_terminal_runs_headless() -> None:
    """`jpki demo` with stdin not a TTY (CliRunner) plays the journeys and exits 0."""
    result = CliRunner().invoke(demo_command, [], obj=None)
    assert result.exit_code == 0, result.output
    assert "running the headless demo" in result.output
    assert "9/9 scenarios passed" in result.output


@pytest.mark.slow
def test_jpki_demo_headless_json() -> None:
    from cli.main import Settings

    result = CliRunner().invoke(demo_command, ["--headless"], obj=Settings(json_output=True))
    assert result.exit_code == 0, result.output
    start = result.output.index("{")
    report = json.loads(result.output[start:])
    assert report["ok"] is True
    assert len(report["scenarios"]) == 9


def test_jpki_demo_reports_a_busy_port() -> None:
    from jpki_sdk.agent import bind_loopback

    taken = bind_loopback(0)
    try:
        port = taken.getsockname()[1]
        result = CliRunner().invoke(demo_command, ["--headless", "--port", str(port)])
    finally:
        taken.close()
    assert result.exit_code == 3
    assert f"demo site: port {port} on 127.0.0.1 is already in use" in result.output
    assert "--port / --agent-port" in result.output
