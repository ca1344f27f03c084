"""The HTTP service: a Starlette (ASGI) application served by uvicorn.

Endpoints (the OpenAPI document at ``/openapi.json`` is the reference):

- ``POST /v1/challenges``: a new challenge (nonce, expiry) for an origin of the caller's key.
- ``POST /v1/verify``: verify a token; the result, or an error with a stable code.
- ``GET /healthz``: liveness and challenge-store reachability (no key needed).
- ``GET /metrics``: Prometheus text format (no key needed; bind the service to an internal
  interface or filter this path at the proxy).

Callers authenticate with an API key in ``Authorization: Bearer <key>`` or ``X-API-Key``.
Errors are ``{"error": {"code", "message", ...}}`` with the codes of
:data:`jpki_sdk.server.openapi.ERROR_CODES` and the verification codes of the verifier.
"""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from jpki_sdk.auth.challenges import MAX_SESSION_ID_LENGTH
from jpki_sdk.auth.errors import ChallengeStoreError, MalformedTokenError, error_code
from jpki_sdk.auth.message import normalize_origin
from jpki_sdk.auth.results import MAX_REQUESTED_ATTRIBUTES, parse_attribute_request
from jpki_sdk.auth.token import MAX_TOKEN_BYTES, Token, parse_token
from jpki_sdk.auth.types import AuthPurpose
from jpki_sdk.auth.verifier import step_of
from jpki_sdk.errors import VerificationError
from jpki_sdk.server.apikeys import ApiKey, presented_key
from jpki_sdk.server.metrics import CONTENT_TYPE as METRICS_CONTENT_TYPE
from jpki_sdk.server.openapi import openapi_document
from jpki_sdk.server.service import Service
from jpki_sdk.verify import RevocationUnavailableError

logger = logging.getLogger(__name__)
access_logger = logging.getLogger("jpki_sdk.server.access")

ROUTES = ("/v1/challenges", "/v1/verify", "/healthz", "/metrics", "/openapi.json")
_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
_JSON_TYPES = re.compile(r"application/(?:[a-z0-9.+-]+\+)?json", re.IGNORECASE)


class ApiError(Exception):
    """An error answered as ``{"error": {...}}`` with an HTTP status."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        field: str | None = None,
        step: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.field = field
        self.step = step
        self.headers = dict(headers or {})

    def response(self) -> JSONResponse:
        body: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.field is not None:
            body["field"] = self.field
        if self.step is not None:
            body["step"] = self.step
        return JSONResponse({"error": body}, status_code=self.status, headers=self.headers)


def _invalid(message: str, field: str | None = None) -> ApiError:
    return ApiError(400, "invalid_request", message, field=field)


# -- request plumbing ---------------------------------------------------------------------------


async def _read_json(request: Request, limit: int) -> dict[str, Any]:
    content_type = request.headers.get("content-type", "")
    if not _JSON_TYPES.fullmatch(content_type.split(";")[0].strip()):
        raise ApiError(415, "unsupported_media_type", "the body must be application/json")
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            raise _invalid("invalid Content-Length header")
        if int(declared) > limit:
            raise ApiError(413, "payload_too_large", f"the body is larger than {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise ApiError(413, "payload_too_large", f"the body is larger than {limit} bytes")
        chunks.append(chunk)
    raw = b"".join(chunks)
    try:
        body = json.loads(raw.decode("utf-8"), object_pairs_hook=_no_duplicates)
    except _DuplicateMemberError as exc:
        raise _invalid(f"member {exc.args[0]!r} appears twice") from None
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise ApiError(400, "malformed_json", "the body is not valid JSON") from None
    if not isinstance(body, dict):
        raise _invalid("the body must be a JSON object")
    return body


class _DuplicateMemberError(ValueError):
    pass


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise _DuplicateMemberError(key[:64])
        result[key] = value
    return result


def _authenticate(request: Request, service: Service) -> ApiKey:
    key, well_formed = presented_key(
        request.headers.get("authorization"), request.headers.get("x-api-key")
    )
    found = service.keys.authenticate(key if well_formed else None)
    if found is None:
        message = "a valid API key is required" if key is None else "invalid API key"
        raise ApiError(
            401,
            "unauthorized",
            message,
            headers={"WWW-Authenticate": 'Bearer realm="jpki"'},
        )
    request.state.api_key = found.name
    return found


def _check_members(body: Mapping[str, Any], allowed: tuple[str, ...]) -> None:
    for key in body:
        if key not in allowed:
            raise _invalid(f"unknown member {key[:64]!r}", field=key[:64])


def _optional_str(body: Mapping[str, Any], name: str, max_length: int) -> str | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or not 1 <= len(value) <= max_length:
        raise _invalid(f"{name} must be a string of 1..{max_length} characters", field=name)
    return value


def _origin(body: Mapping[str, Any], key: ApiKey) -> str:
    given = _optional_str(body, "origin", 512)
    if given is None:
        if len(key.origins) == 1:
            return key.origins[0]
        raise _invalid("origin is required: this API key has several origins", field="origin")
    try:
        origin = normalize_origin(given)
    except ValueError as exc:
        raise _invalid(f"origin: {exc}", field="origin") from None
    if not key.allows(origin):
        raise ApiError(403, "origin_not_allowed", "this API key may not act for this origin")
    return origin


def _purpose(body: Mapping[str, Any], default: AuthPurpose | None) -> AuthPurpose | None:
    value = body.get("purpose")
    if value is None:
        return default
    if value not in ("login", "identity"):
        raise _invalid("purpose must be 'login' or 'identity'", field="purpose")
    return AuthPurpose(value)


# -- endpoints ----------------------------------------------------------------------------------


def _service(request: Request) -> Service:
    service: Service = request.app.state.service
    return service


async def create_challenge(request: Request) -> Response:
    service = _service(request)
    key = _authenticate(request, service)
    body = await _read_json(request, service.max_body_bytes)
    _check_members(body, ("purpose", "origin", "session_id", "ttl_seconds"))
    purpose = _purpose(body, AuthPurpose.LOGIN)
    assert purpose is not None
    origin = _origin(body, key)
    session_id = _optional_str(body, "session_id", MAX_SESSION_ID_LENGTH)
    ttl = service.ttl
    if "ttl_seconds" in body:
        value = body["ttl_seconds"]
        limit = int(service.ttl.total_seconds())
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= limit:
            raise _invalid(f"ttl_seconds must be an integer 1..{limit}", field="ttl_seconds")
        ttl = timedelta(seconds=value)
    verifier = service.verifier_for(origin)
    try:
        challenge = await run_in_threadpool(
            verifier.issue_challenge, purpose, session_id=session_id, ttl=ttl
        )
    except ChallengeStoreError as exc:
        logger.error("challenge store unavailable: %s", exc)
        raise ApiError(503, exc.code, "the challenge store is unavailable") from None
    service.metrics.challenges.inc(purpose.value)
    request.state.result = "issued"
    return JSONResponse(
        {
            "nonce": challenge.nonce_b64,
            "purpose": challenge.purpose.value,
            "origin": challenge.origin,
            "issued_at": challenge.issued_at.isoformat(),
            "expires_at": challenge.expires_at.isoformat(),
            "ttl_seconds": int(challenge.ttl.total_seconds()),
            "session_bound": challenge.session_binding is not None,
        },
        status_code=201,
        headers={"Cache-Control": "no-store"},
    )


async def verify_token(request: Request) -> Response:
    service = _service(request)
    key = _authenticate(request, service)
    body = await _read_json(request, service.max_body_bytes)
    _check_members(body, ("token", "origin", "session_id", "purpose", "attributes"))
    origin = _origin(body, key)
    expected = _purpose(body, None)
    session_id = _optional_str(body, "session_id", MAX_SESSION_ID_LENGTH)
    attributes = body.get("attributes", [])
    if not isinstance(attributes, list) or len(attributes) > MAX_REQUESTED_ATTRIBUTES:
        raise _invalid(
            f"attributes must be a list of at most {MAX_REQUESTED_ATTRIBUTES} names",
            field="attributes",
        )
    try:
        requested = parse_attribute_request(attributes)
    except (TypeError, ValueError) as exc:
        raise _invalid(str(exc), field="attributes") from None
    if "token" not in body:
        raise _invalid("token is required", field="token")
    raw_token = body["token"]
    label = expected.value if expected is not None else "unknown"
    started = time.perf_counter()
    result_code = "ok"
    try:
        if isinstance(raw_token, str):
            if len(raw_token) > MAX_TOKEN_BYTES:
                raise MalformedTokenError(f"token is larger than {MAX_TOKEN_BYTES} bytes")
            token: Token = parse_token(raw_token)
        elif isinstance(raw_token, dict):
            token = parse_token(raw_token)
        else:
            raise MalformedTokenError("token must be a JSON object (or its JSON text)")
        label = token.purpose.value
        verifier = service.verifier_for(origin)
        result = await run_in_threadpool(
            verifier.verify,
            token,
            purpose=expected,
            attributes=requested,
            session_id=session_id,
        )
    except VerificationError as exc:
        result_code = error_code(exc)
        step = step_of(exc)
        status = 503 if isinstance(exc, RevocationUnavailableError) else 422
        raise ApiError(
            status,
            result_code,
            str(exc),
            field=getattr(exc, "field", None) if isinstance(exc, MalformedTokenError) else None,
            step=step.value if step is not None else None,
        ) from None
    except ChallengeStoreError as exc:
        result_code = exc.code
        logger.error("challenge store unavailable: %s", exc)
        raise ApiError(503, exc.code, "the challenge store is unavailable") from None
    finally:
        service.metrics.verification_seconds.observe(time.perf_counter() - started, label)
        service.metrics.verifications.inc(
            label, "ok" if result_code == "ok" else "error", result_code
        )
        request.state.result = result_code
    payload = {"verified": True, **result.to_dict()}
    return JSONResponse(payload, headers={"Cache-Control": "no-store"})


async def healthz(request: Request) -> Response:
    service = _service(request)
    report = await run_in_threadpool(service.health)
    return JSONResponse(report, status_code=200 if report["status"] == "ok" else 503)


async def metrics(request: Request) -> Response:
    service = _service(request)
    text = await run_in_threadpool(service.metrics.registry.render)
    return Response(text, media_type=METRICS_CONTENT_TYPE)


async def openapi(request: Request) -> Response:
    return JSONResponse(request.app.state.openapi)


# -- error handlers -----------------------------------------------------------------------------


async def _api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    request.state.result = exc.code
    return exc.response()


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    codes = {404: "not_found", 405: "method_not_allowed"}
    code = codes.get(exc.status_code, "http_error")
    request.state.result = code
    return ApiError(exc.status_code, code, str(exc.detail), headers=exc.headers).response()


async def _internal_error(request: Request, exc: Exception) -> Response:
    logger.error("unhandled error", exc_info=exc)
    return ApiError(500, "internal_error", "internal error").response()


# -- access log and request metrics -------------------------------------------------------------


class AccessLog:
    """Pure ASGI middleware: request id, one JSON access record and metrics per request."""

    def __init__(self, app: ASGIApp, service: Service) -> None:
        self.app = app
        self.service = service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        given = headers.get("x-request-id", "")
        request_id = given if _REQUEST_ID.fullmatch(given) else uuid.uuid4().hex
        state = scope.setdefault("state", {})
        state["request_id"] = request_id
        status = 500

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                message.setdefault("headers", [])
                message["headers"] = [
                    *message["headers"],
                    (b"x-request-id", request_id.encode("ascii")),
                ]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            elapsed = time.perf_counter() - started
            path = scope.get("path", "")
            route = path if path in ROUTES else "other"
            method = scope.get("method", "")
            self.service.metrics.requests.inc(method, route, str(status))
            self.service.metrics.request_seconds.observe(elapsed, route)
            access_logger.info(
                "request",
                extra={
                    "fields": {
                        "request_id": request_id,
                        "method": method,
                        "route": route,
                        "status": status,
                        "duration_ms": round(elapsed * 1000, 2),
                        "api_key": state.get("api_key"),
                        "result": state.get("result"),
                    }
                },
            )


# -- the application ----------------------------------------------------------------------------


def create_app(service: Service) -> ASGIApp:
    """The ASGI application for ``service`` (closed when the application shuts down)."""

    @asynccontextmanager
    async def lifespan(app: Starlette) -> Any:
        yield
        service.close()

    routes = [
        Route("/v1/challenges", create_challenge, methods=["POST"]),
        Route("/v1/verify", verify_token, methods=["POST"]),
        Route("/healthz", healthz, methods=["GET"]),
        Route("/metrics", metrics, methods=["GET"]),
        Route("/openapi.json", openapi, methods=["GET"]),
    ]
    handlers: dict[Any, Callable[[Request, Exception], Awaitable[Response]]] = {
        ApiError: _api_error,
        HTTPException: _http_error,
        Exception: _internal_error,
    }
    app = Starlette(routes=routes, exception_handlers=handlers, lifespan=lifespan)
    app.state.service = service
    app.state.openapi = openapi_document(
        max_body_bytes=service.max_body_bytes, ttl_seconds=int(service.ttl.total_seconds())
    )
    return AccessLog(app, service)


__all__ = ["ROUTES", "AccessLog", "ApiError", "create_app"]
