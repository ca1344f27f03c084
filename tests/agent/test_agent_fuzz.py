"""Any request gets a typed answer with a known code, never a server error (real HTTP)."""

from __future__ import annotations

import base64

import pytest
from agentkit import SHOP, RunningAgent
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jpki_sdk.agent import ERROR_CODES

_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=10,
)
_nonces = st.one_of(
    st.binary(min_size=32, max_size=32).map(lambda b: base64.b64encode(b).decode()),
    st.text(max_size=50),
    _json,
)
_bodies = st.one_of(
    _json,
    st.fixed_dictionaries(
        {"nonce": _nonces, "purpose": st.sampled_from(["login", "identity", "x", 1])},
        optional={
            "pin": st.one_of(st.text(max_size=20), st.integers(), st.none()),
            "allow_last_attempt": _json,
            "origin": st.just("https://evil.example"),
        },
    ),
)


@pytest.fixture(scope="module")
def fuzz_client(_jpki_card_factory):
    card = _jpki_card_factory(auth_pin="2468")
    running = RunningAgent(
        card,
        kiosk_origin=SHOP,
        failure_delay=0,
        max_failure_delay=0,
        max_operations=10_000,
    )
    with running.client(origin=None) as client:
        yield client
    running.stop()
    card.close()


@settings(
    max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(body=_bodies, raw=st.booleans(), origin=st.sampled_from([SHOP, "https://evil.example"]))
def test_sign_never_fails_with_a_server_error(fuzz_client, body, raw: bool, origin: str) -> None:
    headers = {"Origin": origin, "Content-Type": "application/json"}
    if raw:
        content = repr(body).encode()  # Python repr: usually not JSON
    else:
        import json

        content = json.dumps(body).encode()
    response = fuzz_client.post("/v1/sign", content=content, headers=headers)
    assert response.status_code < 500
    code = response.json()["error"]["code"] if response.status_code != 200 else "ok"
    assert code == "ok" or code in ERROR_CODES
    if origin != SHOP:
        assert code == "origin_not_allowed"
