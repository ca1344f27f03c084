"""The service over real HTTP on loopback: endpoints, API keys, limits, error codes, metrics."""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import json
import logging
import time
from collections.abc import Callable
from typing import Any

import pytest
from authkit import ORIGIN, make_token
from serverkit import API_KEY, MULTI_KEY, OTHER_ORIGIN, LiveServer, ServiceFactory

from jpki_sdk.auth.types import AuthPurpose, SignatureAlgorithm
from jpki_sdk.server.logs import JsonFormatter
from jpki_sdk.server.openapi import openapi_document
from jpki_sdk.server.service import Service
from jpki_sdk.verify import FixedClock, RevocationPolicy, TrustStore
from simulator.pki import IssuedCard, TestPki


def challenge(live: LiveServer, purpose: str = "login", **body: Any) -> dict[str, Any]:
    with live.client() as client:
        response = client.post("/v1/challenges", json={"purpose": purpose, **body})
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


def verify(live: LiveServer, token: object, key: str = API_KEY, **body: Any) -> Any:
    with live.client(key) as client:
        return client.post("/v1/verify", json={"token": token, **body})


def error_of(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    error: dict[str, Any] = response.json()["error"]
    return error


# -- the happy paths ---------------------------------------------------------------------------


def test_login_round_trip(live: LiveServer, issued_card: IssuedCard) -> None:
    issued = challenge(live)
    assert issued["purpose"] == "login"
    assert issued["origin"] == ORIGIN
    assert issued["ttl_seconds"] == 300
    assert issued["session_bound"] is False
    nonce = base64.b64decode(issued["nonce"])
    assert len(nonce) == 32
    token = make_token(issued_card, nonce)
    response = verify(live, token.to_dict())
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["verified"] is True
    assert body["purpose"] == "login"
    assert body["subject"]["serial"] == f"{issued_card.auth_cert.serial_number:08X}"
    assert body["subject"]["issuer"] == "test-auth-03"
    assert body["test_root"] is True
    assert body["revocation"] == {"mode": "require", "status": "good", "source": "test-pki"}
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["x-request-id"]


def test_token_as_json_text(live: LiveServer, issued_card: IssuedCard) -> None:
    nonce = base64.b64decode(challenge(live)["nonce"])
    response = verify(live, make_token(issued_card, nonce).to_json())
    assert response.status_code == 200, response.text


def test_identity_returns_only_requested_attributes(
    live: LiveServer, issued_card: IssuedCard
) -> None:
    nonce = base64.b64decode(challenge(live, "identity", session_id="s-1")["nonce"])
    token = make_token(issued_card, nonce, purpose=AuthPurpose.IDENTITY)
    response = verify(
        live,
        token.to_dict(),
        purpose="identity",
        session_id="s-1",
        attributes=["name", "age_over_20", "age_over_65"],
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["purpose"] == "identity"
    assert body["attributes"] == {
        "name": issued_card.identity.name,
        "age_over_20": True,
        "age_over_65": False,
    }
    text = response.text
    assert issued_card.identity.address not in text
    assert "birth_date" not in text and '"sex"' not in text


def test_multi_origin_key(live: LiveServer, issued_card: IssuedCard) -> None:
    with live.client(MULTI_KEY) as client:
        missing = client.post("/v1/challenges", json={"purpose": "login"})
        assert error_of(missing, 400)["field"] == "origin"
        issued = client.post(
            "/v1/challenges", json={"purpose": "login", "origin": OTHER_ORIGIN + ":443/"}
        ).json()
    assert issued["origin"] == OTHER_ORIGIN
    token = make_token(issued_card, base64.b64decode(issued["nonce"]), origin=OTHER_ORIGIN)
    # The token is bound to the shop's origin: verifying it as the RP's origin fails.
    wrong = verify(live, token.to_dict(), key=MULTI_KEY, origin=ORIGIN)
    assert error_of(wrong, 422)["code"] == "signature_invalid"
    ok = verify(live, token.to_dict(), key=MULTI_KEY, origin=OTHER_ORIGIN)
    assert ok.status_code == 200, ok.text
    assert ok.json()["origin"] == OTHER_ORIGIN


def test_ttl_seconds(live: LiveServer) -> None:
    assert challenge(live, ttl_seconds=30)["ttl_seconds"] == 30
    with live.client() as client:
        for bad in (0, 301, "30", True, 1.5):
            response = client.post("/v1/challenges", json={"ttl_seconds": bad})
            assert error_of(response, 400)["field"] == "ttl_seconds"


# -- each failure class with its code ----------------------------------------------------------


def test_wrong_origin(live: LiveServer, issued_card: IssuedCard) -> None:
    nonce = base64.b64decode(challenge(live)["nonce"])
    token = make_token(issued_card, nonce, origin="https://phish.example")
    error = error_of(verify(live, token.to_dict()), 422)
    assert error == {
        "code": "signature_invalid",
        "message": error["message"],
        "step": "signature",
    }


def test_origin_not_allowed_for_key(live: LiveServer, issued_card: IssuedCard) -> None:
    with live.client() as client:
        response = client.post("/v1/challenges", json={"origin": OTHER_ORIGIN})
    assert error_of(response, 403)["code"] == "origin_not_allowed"
    nonce = base64.b64decode(challenge(live)["nonce"])
    token = make_token(issued_card, nonce, origin=OTHER_ORIGIN)
    assert error_of(verify(live, token.to_dict(), origin=OTHER_ORIGIN), 403)["code"] == (
        "origin_not_allowed"
    )


def test_replayed_token(live: LiveServer, issued_card: IssuedCard) -> None:
    nonce = base64.b64decode(challenge(live)["nonce"])
    token = make_token(issued_card, nonce).to_dict()
    assert verify(live, token).status_code == 200
    error = error_of(verify(live, token), 422)
    assert (error["code"], error["step"]) == ("challenge_replayed", "challenge")


def test_expired_challenge(live: LiveServer, issued_card: IssuedCard, clock: FixedClock) -> None:
    nonce = base64.b64decode(challenge(live)["nonce"])
    token = make_token(issued_card, nonce).to_dict()
    clock.advance(dt.timedelta(minutes=5, seconds=1))
    assert error_of(verify(live, token), 422)["code"] == "challenge_expired"


def test_unknown_challenge(live: LiveServer, issued_card: IssuedCard) -> None:
    token = make_token(issued_card, b"\x07" * 32).to_dict()
    assert error_of(verify(live, token), 422)["code"] == "challenge_unknown"


def test_session_mismatch(live: LiveServer, issued_card: IssuedCard) -> None:
    nonce = base64.b64decode(challenge(live, session_id="alice")["nonce"])
    token = make_token(issued_card, nonce).to_dict()
    error = error_of(verify(live, token, session_id="mallory"), 422)
    assert error["code"] == "challenge_mismatch"


def test_revoked_card(
    make_service: ServiceFactory,
    serve: Callable[[Service], LiveServer],
    test_pki: TestPki,
    clock: FixedClock,
) -> None:
    from authkit import issue_card

    card = issue_card(test_pki, 21)
    test_pki.revoke(card.auth_cert, "keyCompromise", at=clock.now() - dt.timedelta(hours=2))
    live = serve(make_service())
    nonce = base64.b64decode(challenge(live)["nonce"])
    error = error_of(verify(live, make_token(card, nonce).to_dict()), 422)
    assert (error["code"], error["step"]) == ("certificate_revoked", "revocation")


def test_revocation_unavailable_is_503(
    make_service: ServiceFactory,
    serve: Callable[[Service], LiveServer],
    issued_card: IssuedCard,
) -> None:
    from jpki_sdk.verify import RevocationAnswer, RevocationStatus

    class Flaky:
        name = "flaky"
        status = RevocationStatus.UNKNOWN

        def check(self, cert: object, issuer: object, at: object) -> RevocationAnswer:
            return RevocationAnswer(status=self.status, source=self.name)

    source = Flaky()
    live = serve(make_service(revocation=RevocationPolicy.require(source)))
    nonce = base64.b64decode(challenge(live)["nonce"])
    token = make_token(issued_card, nonce).to_dict()
    error = error_of(verify(live, token), 503)
    assert (error["code"], error["step"]) == ("revocation_unavailable", "revocation")
    # Nothing was consumed: once revocation answers again the same token logs in.
    source.status = RevocationStatus.GOOD
    response = verify(live, token)
    assert response.status_code == 200, response.text
    assert response.json()["revocation"]["source"] == "flaky"


def test_test_root_not_trusted(
    make_service: ServiceFactory,
    serve: Callable[[Service], LiveServer],
    issued_card: IssuedCard,
) -> None:
    live = serve(make_service(trust=TrustStore.default()))
    nonce = base64.b64decode(challenge(live)["nonce"])
    error = error_of(verify(live, make_token(issued_card, nonce).to_dict()), 422)
    assert (error["code"], error["step"]) == ("untrusted_issuer", "path")


def test_wrong_certificate_for_the_purpose(live: LiveServer, issued_card: IssuedCard) -> None:
    nonce = base64.b64decode(challenge(live)["nonce"])
    token = make_token(
        issued_card, nonce, certificate=issued_card.sign_cert, key=issued_card.sign_key
    )
    error = error_of(verify(live, token.to_dict()), 422)
    assert (error["code"], error["step"]) == ("wrong_certificate_kind", "purpose")


def test_purpose_mismatch(live: LiveServer, issued_card: IssuedCard) -> None:
    nonce = base64.b64decode(challenge(live, "identity")["nonce"])
    token = make_token(issued_card, nonce, purpose=AuthPurpose.IDENTITY)
    error = error_of(verify(live, token.to_dict(), purpose="login"), 422)
    assert error["code"] == "purpose_mismatch"


def test_tampered_signature(live: LiveServer, issued_card: IssuedCard) -> None:
    nonce = base64.b64decode(challenge(live)["nonce"])
    token = make_token(issued_card, nonce)
    bad = dataclasses.replace(token, signature=token.signature[:-1] + b"\x00")
    assert error_of(verify(live, bad.to_dict()), 422)["code"] == "signature_invalid"


@pytest.mark.parametrize(
    ("mutation", "code", "field"),
    [
        ({"format": "jpki-auth-token/v9"}, "unsupported_token_format", "format"),
        ({"algorithm": "HS256"}, "unsupported_algorithm", "algorithm"),
        ({"nonce": "AAAA"}, "malformed_token", "nonce"),
        ({"extra": 1}, "malformed_token", "extra"),
        ({"certificate": "!!!"}, "malformed_token", "certificate"),
    ],
)
def test_malformed_token(
    live: LiveServer, issued_card: IssuedCard, mutation: dict[str, Any], code: str, field: str
) -> None:
    token = make_token(issued_card, b"\x01" * 32).to_dict() | mutation
    error = error_of(verify(live, token), 422)
    assert (error["code"], error["field"], error["step"]) == (code, field, "token")


def test_token_of_wrong_json_type(live: LiveServer) -> None:
    for token in (5, None, [], True):
        assert error_of(verify(live, token), 422)["code"] == "malformed_token"


def test_every_algorithm_over_http(live: LiveServer, issued_card: IssuedCard) -> None:
    for algorithm in SignatureAlgorithm:
        nonce = base64.b64decode(challenge(live)["nonce"])
        token = make_token(issued_card, nonce, algorithm=algorithm)
        assert verify(live, token.to_dict()).status_code == 200


# -- request validation, keys, limits ----------------------------------------------------------


def test_malformed_json(live: LiveServer) -> None:
    with live.client() as client:
        for body in (b"{", b"\xff\xfe", b"[1,2", b'{"a": NaN'[:-1]):
            response = client.post(
                "/v1/verify", content=body, headers={"Content-Type": "application/json"}
            )
            assert error_of(response, 400)["code"] == "malformed_json"
        response = client.post("/v1/verify", json=[1, 2])
        assert error_of(response, 400)["code"] == "invalid_request"
        response = client.post(
            "/v1/challenges",
            content=b'{"purpose": "login", "purpose": "identity"}',
            headers={"Content-Type": "application/json"},
        )
        assert error_of(response, 400)["code"] == "invalid_request"


def test_invalid_requests(live: LiveServer) -> None:
    with live.client() as client:
        cases = [
            ("/v1/challenges", {"purpose": "logout"}, "purpose"),
            ("/v1/challenges", {"surprise": 1}, "surprise"),
            ("/v1/challenges", {"session_id": ""}, "session_id"),
            ("/v1/challenges", {"session_id": "x" * 1025}, "session_id"),
            ("/v1/challenges", {"origin": "not an origin"}, "origin"),
            ("/v1/verify", {}, "token"),
            ("/v1/verify", {"token": {}, "attributes": ["my_number"]}, "attributes"),
            ("/v1/verify", {"token": {}, "attributes": "name"}, "attributes"),
            ("/v1/verify", {"token": {}, "attributes": ["x"] * 17}, "attributes"),
            ("/v1/verify", {"token": {}, "attributes": [1]}, "attributes"),
        ]
        for path, body, field in cases:
            error = error_of(client.post(path, json=body), 400)
            assert (error["code"], error.get("field")) == ("invalid_request", field), body


def test_content_type_required(live: LiveServer) -> None:
    with live.client() as client:
        response = client.post("/v1/challenges", content=b"{}")
        assert error_of(response, 415)["code"] == "unsupported_media_type"
        response = client.post(
            "/v1/challenges", content=b"{}", headers={"Content-Type": "text/plain"}
        )
        assert error_of(response, 415)["code"] == "unsupported_media_type"
        response = client.post(
            "/v1/challenges",
            content=b"{}",
            headers={"Content-Type": "application/json; charset=utf-8"},
        )
        assert response.status_code == 201


def test_oversized_body(live: LiveServer) -> None:
    big = json.dumps({"token": "x" * 70_000}).encode()
    with live.client() as client:
        response = client.post(
            "/v1/verify", content=big, headers={"Content-Type": "application/json"}
        )
        assert error_of(response, 413)["code"] == "payload_too_large"

        def chunks() -> Any:  # no Content-Length: counted while streaming
            for i in range(0, len(big), 4096):
                yield big[i : i + 4096]

        response = client.post(
            "/v1/verify", content=chunks(), headers={"Content-Type": "application/json"}
        )
        assert error_of(response, 413)["code"] == "payload_too_large"


def test_oversized_token_inside_limit(
    make_service: ServiceFactory, serve: Callable[[Service], LiveServer]
) -> None:
    live = serve(make_service(max_body_bytes=200_000))
    response = verify(live, "x" * 20_000)
    assert error_of(response, 422)["code"] == "malformed_token"
    response = verify(live, {"format": "x" * 20_000})
    assert error_of(response, 422)["code"] == "malformed_token"


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong"},
        {"Authorization": f"Basic {API_KEY}"},
        {"Authorization": "Bearer"},
        {"X-API-Key": "wrong"},
        {"X-API-Key": ""},
        {"Authorization": f"Bearer {API_KEY}", "X-API-Key": MULTI_KEY},
        {"Authorization": "Bearer " + "k" * 5000},
    ],
)
def test_missing_or_wrong_api_key(live: LiveServer, headers: dict[str, str]) -> None:
    with live.client(None) as client:
        for path in ("/v1/challenges", "/v1/verify"):
            response = client.post(path, json={}, headers=headers)
            assert error_of(response, 401)["code"] == "unauthorized"
            assert response.headers["www-authenticate"].startswith("Bearer")


def test_x_api_key_header(live: LiveServer) -> None:
    with live.client(None) as client:
        response = client.post("/v1/challenges", json={}, headers={"X-API-Key": API_KEY})
        assert response.status_code == 201
        both = {"X-API-Key": API_KEY, "Authorization": f"bearer {API_KEY}"}
        assert client.post("/v1/challenges", json={}, headers=both).status_code == 201


def test_unauthenticated_body_is_not_read(live: LiveServer) -> None:
    # The key is checked before the body: an anonymous oversized body still gets 401.
    with live.client(None) as client:
        response = client.post("/v1/verify", content=b"x" * 100_000)
    assert error_of(response, 401)["code"] == "unauthorized"


def test_not_found_and_method_not_allowed(live: LiveServer) -> None:
    with live.client() as client:
        assert error_of(client.get("/v2/nothing"), 404)["code"] == "not_found"
        assert error_of(client.get("/v1/verify"), 405)["code"] == "method_not_allowed"
        assert error_of(client.post("/healthz"), 405)["code"] == "method_not_allowed"


# -- health, metrics, OpenAPI, logs ------------------------------------------------------------


def test_healthz(live: LiveServer) -> None:
    with live.client(None) as client:
        response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok" and body["challenge_store"] == "ok"
    assert body["revocation_mode"] == "require"
    assert body["test_roots_trusted"] is True


def test_metrics_count_verifications(live: LiveServer, issued_card: IssuedCard) -> None:
    nonce = base64.b64decode(challenge(live)["nonce"])
    token = make_token(issued_card, nonce).to_dict()
    verify(live, token)
    verify(live, token)
    verify(live, {"format": "nope"})
    with live.client(None) as client:
        response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    text = response.text
    assert 'jpki_verifications_total{purpose="login",result="ok",reason="ok"} 1' in text
    assert (
        'jpki_verifications_total{purpose="login",result="error",reason="challenge_replayed"} 1'
        in text
    )
    assert (
        'jpki_verifications_total{purpose="unknown",result="error",reason="malformed_token"} 1'
        in text
    )
    assert 'jpki_verification_duration_seconds_count{purpose="login"} 2' in text
    assert 'jpki_challenges_issued_total{purpose="login"} 1' in text
    assert 'jpki_http_requests_total{method="POST",route="/v1/verify",status="422"} 2' in text
    assert "# TYPE jpki_verification_duration_seconds histogram" in text


def test_openapi_document_is_served(live: LiveServer) -> None:
    with live.client(None) as client:
        document = client.get("/openapi.json").json()
    assert document == json.loads(
        json.dumps(openapi_document(max_body_bytes=65536, ttl_seconds=300))
    )
    from jpki_sdk.server.app import ROUTES

    assert sorted(document["paths"]) == sorted(ROUTES)


def test_logs_hold_no_secrets_or_personal_data(
    live: LiveServer, issued_card: IssuedCard, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    issued = challenge(live, "identity", session_id="secret-session-id")
    nonce = base64.b64decode(issued["nonce"])
    token = make_token(issued_card, nonce, purpose=AuthPurpose.IDENTITY)
    response = verify(
        live,
        token.to_dict(),
        session_id="secret-session-id",
        attributes=["name", "address", "birth_date"],
    )
    assert response.status_code == 200
    verify(live, token.to_dict(), session_id="secret-session-id")  # replay: an error record
    formatter = JsonFormatter()

    def access_records() -> tuple[list[str], list[dict[str, Any]]]:
        lines = [formatter.format(record) for record in list(caplog.records)]
        return lines, [
            json.loads(line) for line in lines if '"logger":"jpki_sdk.server.access"' in line
        ]

    # The access record is written after the response has gone out (the server's `finally`),
    # so the client can hold the reply before the record exists: wait for it, boundedly.
    def both_logged(access: list[dict[str, Any]]) -> bool:
        results = {(r["route"], r["result"]) for r in access}
        return {("/v1/verify", "ok"), ("/v1/verify", "challenge_replayed")} <= results

    deadline = time.monotonic() + 10
    lines, access = access_records()
    while not both_logged(access) and time.monotonic() < deadline:
        time.sleep(0.02)
        lines, access = access_records()
    text = "\n".join(lines)
    assert any(r["route"] == "/v1/verify" and r["result"] == "ok" for r in access)
    assert any(r["result"] == "challenge_replayed" for r in access)
    assert all(r["api_key"] in ("rp", None) for r in access)
    identity = issued_card.identity
    for secret in (
        API_KEY,
        issued["nonce"],
        "secret-session-id",
        identity.name,
        identity.address,
        identity.birth_date.isoformat(),
        identity.my_number,
        token.to_dict()["signature"][:40],
        token.to_dict()["certificate"][:40],
    ):
        assert secret not in text, secret
