"""The agent's HTTP interface: a small Starlette app on 127.0.0.1 for allowed web pages.

Endpoints (JSON; errors are ``{"error": {"code", "message", ...}}`` with the codes of
:data:`jpki_sdk.agent.errors.ERROR_CODES`):

- ``GET /v1/info``: agent version, whether the PIN is entered at the agent or (kiosk) in the
  page. Does not touch the card.
- ``GET /v1/status?purpose=login|identity``: the tries left of the PIN that purpose needs
  (a counter query: no try used).
- ``POST /v1/sign`` ``{"nonce": "<base64 of the 32-byte challenge>", "purpose": "login" |
  "identity"}`` (kiosk page only: ``"pin"``, and ``"allow_last_attempt"`` when configured):
  ``{"token": {...v1 token...}}``. The origin signed is the request's ``Origin`` header.

Every request is checked by :class:`OriginGate` before any route runs:

1. ``Host`` must be the agent's own loopback address and port (defeats DNS rebinding);
2. ``Origin`` must be present and exactly one of the allowed origins, else 403 with no CORS
   headers, so the browser does not even let the page read the refusal;
3. CORS preflights are answered only for allowed origins (methods GET/POST, header
   Content-Type; Private Network Access answered too).

Nothing is logged about a request beyond origin, route, status and result code.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from jpki_sdk.agent.config import MAX_BODY_BYTES
from jpki_sdk.agent.core import CardAgent
from jpki_sdk.agent.errors import AgentError
from jpki_sdk.auth.challenges import decode_nonce
from jpki_sdk.auth.types import AuthPurpose

logger = logging.getLogger(__name__)

_ALLOWED_METHODS = "GET, POST"
_ALLOWED_HEADERS = frozenset({"content-type"})
_PREFLIGHT_MAX_AGE = "600"
_SECURITY_HEADERS = [
    (b"cache-control", b"no-store"),
    (b"x-content-type-options", b"nosniff"),
]


def _error_response(error: AgentError, headers: dict[str, str] | None = None) -> JSONResponse:
    extra = dict(headers or {})
    retry = error.extra.get("retry_after")
    if error.code == "rate_limited" and isinstance(retry, int):
        extra["Retry-After"] = str(retry)
    return JSONResponse({"error": error.to_dict()}, status_code=error.status, headers=extra)


class OriginGate:
    """Pure ASGI middleware: Host check, exact Origin allow-list, CORS (see module docs)."""

    def __init__(self, app: ASGIApp, agent: CardAgent, port: Callable[[], int]) -> None:
        self.app = app
        self.agent = agent
        self._port = port

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers: dict[str, str] = {}
        for raw_key, raw_value in scope["headers"]:
            key = raw_key.decode("latin-1").lower()
            if key in headers:  # a repeated Host or Origin is not something a browser sends
                headers[key] = "\x00repeated"
            else:
                headers[key] = raw_value.decode("latin-1")
        method = scope.get("method", "")
        path = scope.get("path", "")
        config = self.agent.config
        host = headers.get("host")
        if host not in config.accepted_hosts(self._port()):
            await self._refuse(scope, receive, send, AgentError("host_not_allowed"))
            return
        origin = headers.get("origin")
        if origin is None:
            await self._refuse(scope, receive, send, AgentError("origin_required"))
            return
        if not config.is_allowed(origin):
            logger.warning("refused %s %s from origin %r (not allowed)", method, path, origin[:80])
            await self._refuse(scope, receive, send, AgentError("origin_not_allowed"))
            return
        if method == "OPTIONS" and "access-control-request-method" in headers:
            await self._preflight(scope, receive, send, origin, headers)
            return
        scope.setdefault("state", {})["origin"] = origin
        cors = [
            (b"access-control-allow-origin", origin.encode("latin-1")),
            (b"vary", b"Origin"),
            *_SECURITY_HEADERS,
        ]

        async def send_with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *cors]
            await send(message)

        await self.app(scope, receive, send_with_cors)

    async def _preflight(
        self, scope: Scope, receive: Receive, send: Send, origin: str, headers: dict[str, str]
    ) -> None:
        requested_method = headers.get("access-control-request-method", "")
        requested = {
            h.strip().lower()
            for h in headers.get("access-control-request-headers", "").split(",")
            if h.strip()
        }
        if requested_method not in ("GET", "POST") or not requested <= _ALLOWED_HEADERS:
            await self._refuse(
                scope,
                receive,
                send,
                AgentError("invalid_request", "preflight asks for a method or header not allowed"),
            )
            return
        response_headers = {
            "Access-Control-Allow-Origin": origin,
            "Access-Control-Allow-Methods": _ALLOWED_METHODS,
            "Access-Control-Allow-Headers": "Content-Type",
            "Access-Control-Max-Age": _PREFLIGHT_MAX_AGE,
            "Vary": "Origin",
        }
        if headers.get("access-control-request-private-network", "").lower() == "true":
            response_headers["Access-Control-Allow-Private-Network"] = "true"
        await Response(status_code=204, headers=response_headers)(scope, receive, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send, error: AgentError) -> None:
        # No CORS headers: a page of another origin cannot even read this answer.
        await _error_response(error)(scope, receive, send)


# -- request parsing ----------------------------------------------------------------------------


async def _read_json(request: Request) -> dict[str, Any]:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "application/json":
        raise AgentError("unsupported_media_type")
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > MAX_BODY_BYTES):
        raise AgentError("payload_too_large", f"the body is larger than {MAX_BODY_BYTES} bytes")
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY_BYTES:
            raise AgentError("payload_too_large", f"the body is larger than {MAX_BODY_BYTES} bytes")
    try:
        data = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise AgentError("malformed_json") from None
    if not isinstance(data, dict):
        raise AgentError("invalid_request", "the body must be a JSON object")
    return data


def _purpose(value: object) -> AuthPurpose:
    if value not in ("login", "identity"):
        raise AgentError("invalid_request", "purpose must be 'login' or 'identity'")
    return AuthPurpose(value)


def _origin(request: Request) -> str:
    origin = request.scope.get("state", {}).get("origin")
    if not isinstance(origin, str):  # the gate always sets it; never trust anything else
        raise AgentError("origin_required")
    return origin


def _agent(request: Request) -> CardAgent:
    agent: CardAgent = request.app.state.agent
    return agent


# -- endpoints ----------------------------------------------------------------------------------


async def info(request: Request) -> Response:
    return JSONResponse(_agent(request).info(_origin(request)))


async def status(request: Request) -> Response:
    origin = _origin(request)
    purpose = _purpose(request.query_params.get("purpose", "login"))
    report = await run_in_threadpool(_agent(request).pin_status, origin, purpose)
    return JSONResponse(report.to_dict())


async def sign(request: Request) -> Response:
    origin = _origin(request)
    body = await _read_json(request)
    unknown = [k for k in body if k not in ("nonce", "purpose", "pin", "allow_last_attempt")]
    if unknown:
        raise AgentError("invalid_request", f"unknown member {str(unknown[0])[:40]!r}")
    purpose = _purpose(body.get("purpose"))
    raw_nonce = body.get("nonce")
    try:
        if not isinstance(raw_nonce, str):
            raise TypeError("nonce must be a string")
        nonce = decode_nonce(raw_nonce)
    except (TypeError, ValueError):
        raise AgentError(
            "invalid_request", "nonce must be the challenge's 32 bytes in padded base64"
        ) from None
    pin = body.get("pin")
    if pin is not None and (not isinstance(pin, str) or not 1 <= len(pin) <= 32):
        raise AgentError("invalid_request", "pin must be a string of 1..32 characters")
    allow_last = body.get("allow_last_attempt", False)
    if not isinstance(allow_last, bool):
        raise AgentError("invalid_request", "allow_last_attempt must be true or false")
    token = await run_in_threadpool(
        lambda: _agent(request).sign(origin, purpose, nonce, pin=pin, allow_last_attempt=allow_last)
    )
    return JSONResponse({"token": token.to_dict(), "origin": origin, "purpose": purpose.value})


# -- error handlers -----------------------------------------------------------------------------


async def _agent_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, AgentError)
    return _error_response(exc)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "invalid_request")
    return _error_response(AgentError(code), dict(exc.headers or {}))


async def _internal_error(request: Request, exc: Exception) -> Response:
    logger.error("unhandled error in the agent: %s", type(exc).__name__)
    return _error_response(AgentError("internal_error"))


def create_agent_app(agent: CardAgent, *, port: Callable[[], int] | None = None) -> ASGIApp:
    """The agent's ASGI app. ``port`` gives the bound port for the Host check (default: the
    configured port; pass a callable when binding port 0)."""
    routes = [
        Route("/v1/info", info, methods=["GET"]),
        Route("/v1/status", status, methods=["GET"]),
        Route("/v1/sign", sign, methods=["POST"]),
    ]
    handlers: dict[Any, Callable[[Request, Exception], Awaitable[Response]]] = {
        AgentError: _agent_error,
        HTTPException: _http_error,
        Exception: _internal_error,
    }
    app = Starlette(routes=routes, exception_handlers=handlers)
    app.state.agent = agent
    configured = agent.config.port
    return OriginGate(app, agent, port if port is not None else (lambda: configured))


__all__ = ["OriginGate", "create_agent_app"]
