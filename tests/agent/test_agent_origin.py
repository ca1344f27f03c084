"""The agent's network boundary over real HTTP: bind address, Host, Origin allow-list, CORS."""

from __future__ import annotations

import socket

import pytest
from agentkit import EVIL, KIOSK, SHOP
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from cli.agent import agent as agent_command
from jpki_sdk.agent import DEFAULT_PORT, AgentConfig, bind_loopback
from jpki_sdk.auth.challenges import encode_nonce
from jpki_sdk.errors import ConfigurationError


def _nonce() -> str:
    import os

    return encode_nonce(os.urandom(32))


# -- bind address ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "host",
    ["0.0.0.0", "::", "192.168.1.10", "localhost", "::1", "127.0.0.2", "", "example.org"],  # noqa: S104
)
def test_config_refuses_any_bind_address_but_127_0_0_1(host: str) -> None:
    with pytest.raises(ConfigurationError, match=r"127\.0\.0\.1 only"):
        AgentConfig(allowed_origins=[SHOP], host=host)


def test_default_port_is_fixed_and_documented() -> None:
    config = AgentConfig(allowed_origins=[SHOP])
    assert config.port == DEFAULT_PORT == 24727
    assert config.host == "127.0.0.1"
    guide = (
        __import__("pathlib").Path(__file__).resolve().parents[2]
        / "docs"
        / "kiosk-integrator-guide.md"
    )
    assert "24727" in guide.read_text(encoding="utf-8")


def test_cli_refuses_a_public_bind_address_with_a_clear_error() -> None:
    result = CliRunner().invoke(agent_command, ["--allow-origin", SHOP, "--host", "0.0.0.0"])  # noqa: S104
    assert result.exit_code != 0
    assert "127.0.0.1 only" in result.output
    assert "refusing to bind '0.0.0.0'" in result.output


def test_cli_needs_an_allowed_origin() -> None:
    result = CliRunner().invoke(agent_command, [])
    assert result.exit_code != 0
    assert "at least one allowed web origin" in result.output


def test_cli_refuses_reader_and_simulator_together(tmp_path: object) -> None:
    result = CliRunner().invoke(
        agent_command, ["--allow-origin", SHOP, "--reader", "x", "--simulator", "card.json"]
    )
    assert result.exit_code != 0
    assert "not both" in result.output


def test_bind_loopback_refuses_non_loopback_and_reports_a_busy_port() -> None:
    with pytest.raises(ConfigurationError, match="loopback addresses only"):
        bind_loopback(0, host="0.0.0.0")  # noqa: S104
    first = bind_loopback(0)
    try:
        port = first.getsockname()[1]
        assert first.getsockname()[0] == "127.0.0.1"
        with pytest.raises(ConfigurationError, match="already in use"):
            bind_loopback(port)
    finally:
        first.close()


def _non_loopback_address() -> str | None:
    """This machine's address on its default route (a UDP connect sends nothing)."""
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        probe.connect(("10.255.255.255", 9))
        address = probe.getsockname()[0]
    except OSError:
        return None
    finally:
        probe.close()
    return None if address.startswith("127.") or address == "0.0.0.0" else address  # noqa: S104


def test_the_agent_is_not_reachable_on_other_addresses(start_agent, card_factory) -> None:
    running = start_agent(card_factory())
    address = _non_loopback_address()
    if address is None:
        pytest.skip("this machine has no non-loopback address to probe")
    probe = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    probe.settimeout(5)
    try:
        assert probe.connect_ex((address, running.port)) != 0
    finally:
        probe.close()
    with running.client(SHOP) as client:  # while it does answer on loopback
        assert client.get("/v1/info").status_code == 200


# -- origin allow-list -----------------------------------------------------------------------


def test_config_canonicalises_origins_and_checks_the_kiosk_origin() -> None:
    config = AgentConfig(allowed_origins=["HTTPS://Shop.Example:443/", "https://shop.example"])
    assert config.allowed_origins == ("https://shop.example",)
    with pytest.raises(ConfigurationError, match="not a web origin"):
        AgentConfig(allowed_origins=["https://shop.example/path"])
    with pytest.raises(ConfigurationError, match="not a web origin"):
        AgentConfig(allowed_origins=["http://shop.example"])  # http only for loopback
    with pytest.raises(ConfigurationError, match="must also be an allowed origin"):
        AgentConfig(allowed_origins=[SHOP], kiosk_origin=KIOSK)
    with pytest.raises(ConfigurationError, match="needs kiosk mode"):
        AgentConfig(allowed_origins=[SHOP], kiosk_allow_last_attempt=True)
    with pytest.raises(ConfigurationError, match="list of origins"):
        AgentConfig(allowed_origins=SHOP)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "origin",
    [
        EVIL,
        "http://127.0.0.1:8080/",  # not what a browser sends: exact match only
        "HTTP://127.0.0.1:8080",
        "http://localhost:8080",
        "https://127.0.0.1:8080",
        "null",
        "http://127.0.0.1:8080.evil.example",
    ],
)
def test_other_origins_are_refused_without_touching_the_card(
    start_agent, card_factory, origin: str
) -> None:
    card = card_factory()
    running = start_agent(card, kiosk_origin=SHOP)
    before = card.command_count
    for method, path, body in (
        ("POST", "/v1/sign", {"nonce": _nonce(), "purpose": "login", "pin": "1234"}),
        ("GET", "/v1/status?purpose=login", None),
        ("GET", "/v1/info", None),
    ):
        with running.client(origin) as client:
            response = client.request(method, path, json=body)
        assert response.status_code == 403
        assert response.json()["error"]["code"] == "origin_not_allowed"
        assert "access-control-allow-origin" not in response.headers
    assert card.command_count == before
    assert running.agent.operations == 0


def test_requests_without_origin_are_refused(start_agent, card_factory) -> None:
    card = card_factory()
    running = start_agent(card)
    with running.client(origin=None) as client:
        response = client.post("/v1/sign", json={"nonce": _nonce(), "purpose": "login"})
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "origin_required"
    assert card.command_count == 0


@pytest.mark.parametrize("host", ["evil.example", "127.0.0.1", "127.0.0.1:1", "[::1]:24727"])
def test_a_foreign_host_header_is_refused_dns_rebinding(start_agent, card_factory, host) -> None:
    card = card_factory()
    running = start_agent(card, kiosk_origin=SHOP)
    with running.client(SHOP, Host=host) as client:
        response = client.post(
            "/v1/sign", json={"nonce": _nonce(), "purpose": "login", "pin": "1234"}
        )
    assert response.status_code == 421
    assert response.json()["error"]["code"] == "host_not_allowed"
    assert card.command_count == 0


def test_localhost_host_header_is_accepted(start_agent, card_factory) -> None:
    running = start_agent(card_factory())
    with running.client(SHOP, Host=f"localhost:{running.port}") as client:
        response = client.get("/v1/info")
    assert response.status_code == 200
    assert response.json()["origin"] == SHOP


def test_allowed_origin_gets_cors_headers_and_info(start_agent, card_factory) -> None:
    card = card_factory()
    running = start_agent(card)
    with running.client(SHOP) as client:
        response = client.get("/v1/info")
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == SHOP
    assert response.headers["vary"] == "Origin"
    assert response.headers["cache-control"] == "no-store"
    assert "access-control-allow-credentials" not in response.headers
    info = response.json()
    assert info["pin_entry"] == "agent"
    assert info["origin"] == SHOP
    assert card.command_count == 0  # info never touches the card


# -- preflight -------------------------------------------------------------------------------


def _preflight(running, origin: str, **extra: str):
    headers = {"Access-Control-Request-Method": "POST", **extra}
    with running.client(origin) as client:
        return client.options("/v1/sign", headers=headers)


def test_preflight_is_answered_for_an_allowed_origin(start_agent, card_factory) -> None:
    card = card_factory()
    running = start_agent(card)
    response = _preflight(
        running,
        SHOP,
        **{
            "Access-Control-Request-Headers": "content-type",
            "Access-Control-Request-Private-Network": "true",
        },
    )
    assert response.status_code == 204
    assert response.headers["access-control-allow-origin"] == SHOP
    assert "POST" in response.headers["access-control-allow-methods"]
    assert response.headers["access-control-allow-headers"] == "Content-Type"
    assert response.headers["access-control-allow-private-network"] == "true"
    assert response.headers["vary"] == "Origin"
    assert card.command_count == 0


def test_preflight_is_refused_for_other_origins(start_agent, card_factory) -> None:
    card = card_factory()
    running = start_agent(card)
    response = _preflight(running, EVIL, **{"Access-Control-Request-Headers": "content-type"})
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "origin_not_allowed"
    assert not any(h.startswith("access-control-") for h in response.headers)
    assert card.command_count == 0


@pytest.mark.parametrize(
    ("method", "headers"),
    [("PUT", "content-type"), ("POST", "x-pin"), ("POST", "content-type, authorization")],
)
def test_preflight_for_other_methods_or_headers_is_refused(
    start_agent, card_factory, method: str, headers: str
) -> None:
    running = start_agent(card_factory())
    with running.client(SHOP) as client:
        response = client.options(
            "/v1/sign",
            headers={
                "Access-Control-Request-Method": method,
                "Access-Control-Request-Headers": headers,
            },
        )
    assert response.status_code == 400
    assert "access-control-allow-origin" not in response.headers


def test_sign_requires_json_content_type(start_agent, card_factory) -> None:
    card = card_factory()
    running = start_agent(card, kiosk_origin=SHOP)
    with running.client(SHOP) as client:
        response = client.post(
            "/v1/sign",
            content=b'{"nonce": "x", "purpose": "login", "pin": "1234"}',
            headers={"Content-Type": "text/plain"},
        )
    assert response.status_code == 415
    assert response.json()["error"]["code"] == "unsupported_media_type"
    assert card.command_count == 0


@settings(max_examples=200, deadline=None)
@given(
    origin=st.one_of(
        st.text(max_size=60),
        st.builds(
            lambda scheme, host, port: f"{scheme}://{host}{port}",
            st.sampled_from(["http", "https", "HTTPS", "ftp", ""]),
            st.sampled_from(
                ["127.0.0.1", "localhost", "shop.example", "[::1]", "ｓｈｏｐ.example"]
            ),
            st.sampled_from(["", ":443", ":80", ":8080", ":99999", "/", "/x", "?q"]),
        ),
    )
)
def test_any_configured_origin_is_canonical_or_refused(origin: str) -> None:
    """Configuration never fails with anything but ConfigurationError, and what it accepts
    is the canonical form the browser sends, so the exact comparison can match."""
    from jpki_sdk.auth import normalize_origin

    try:
        config = AgentConfig(allowed_origins=[origin])
    except ConfigurationError:
        return
    (canonical,) = config.allowed_origins
    assert normalize_origin(canonical) == canonical
    assert config.is_allowed(canonical)
    assert not config.is_allowed(canonical + "/")
    assert not config.is_allowed(None)
