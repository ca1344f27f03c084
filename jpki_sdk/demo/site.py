"""The demo relying party: a small web site that uses the verification service as a real one would.

The browser side (``static/``: plain HTML, CSS and one readable JavaScript file, no build step)
asks this site's backend for a challenge, has the local card agent sign it, and posts the token
back. The backend is a relying party like any other: it calls the verification service over
HTTP with its API key (:class:`jpki_sdk.server.client.ServiceClient`), binds each challenge to
the visitor's session, and keeps the verified result in that session.

Backend API (JSON; POSTs must come from the site's own origin):

- ``GET /api/config``: the agent's URL.
- ``POST /api/challenge`` ``{"purpose": "login" | "identity", "request": "form" | "age"}``.
- ``POST /api/login`` / ``POST /api/identity`` ``{"token": {...}}``: verify through the service.
- ``GET /api/me``, ``POST /api/logout``.
- ``/api/controls...``: the demo controls (which simulated card is in the reader, pull it during
  the next signature, reset its PIN counters, make the next challenge expire). They stand in for
  a person's hands on a real reader; a real relying party has nothing like them.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import json
import logging
import secrets
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from jpki_sdk.agent import AgentError, CardAgent
from jpki_sdk.auth.types import AuthPurpose
from jpki_sdk.demo.reader import DemoReader
from jpki_sdk.server.client import RemoteVerificationError, ServiceClient, ServiceError

logger = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).resolve().parent / "static"
SESSION_COOKIE = "demo_session"
MAX_BODY = 32 * 1024

#: What the identity journey asks the service for.
IDENTITY_REQUESTS: dict[str, tuple[str, ...]] = {
    "form": ("name", "address", "birth_date", "sex", "age_over_20"),
    "age": ("age_over_20",),
}

_PAGES = {
    "/": "index.html",
    "/login": "login.html",
    "/account": "account.html",
    "/identity": "identity.html",
    "/controls": "controls.html",
}

#: Messages for the service's verification codes (the page shows ``message``).
SERVICE_MESSAGES = {
    "certificate_revoked": (
        "This card's certificate has been revoked (for example the card was reported lost or "
        "replaced). It can no longer be used."
    ),
    "challenge_expired": (
        "The login took too long: its one-time challenge expired. Please start again."
    ),
    "challenge_replayed": (
        "This token was already used. A replayed token is refused: each login needs a new "
        "challenge and a new signature."
    ),
    "challenge_unknown": "This token answers a challenge this site never issued.",
    "challenge_mismatch": "This token was made for another session or purpose.",
    "signature_invalid": "The signature does not match this site's challenge.",
    "revocation_unavailable": (
        "The revocation status of the card could not be checked right now, so the login was "
        "refused (hard-fail). Try again later."
    ),
    "untrusted_issuer": "The card's certificate was not issued by a trusted J-LIS root.",
    "certificate_expired": "The card's certificate has expired.",
}


@dataclass
class Session:
    """One visitor (server side; the cookie holds only a random id)."""

    id: str
    identity_request: str = "form"  # what the pending identity challenge will ask for
    # purpose -> expiry of a challenge issued under the "slow user" control (1 s to live)
    expiring: dict[str, dt.datetime] = field(default_factory=dict)
    login: dict[str, Any] | None = None
    identity: dict[str, Any] | None = None

    @property
    def binding(self) -> str:
        """What the challenge is bound to: a hash of the session id, never the id itself."""
        return hashlib.sha256(b"jpki-demo session\x00" + self.id.encode()).hexdigest()


class DemoError(Exception):
    def __init__(self, status: int, code: str, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.extra = extra

    def response(self) -> JSONResponse:
        body = {"code": self.code, "message": self.message, **self.extra}
        return JSONResponse({"error": body}, status_code=self.status)


class DemoSite:
    """State of the demo site: sessions, the service client, the agent and the demo reader."""

    def __init__(
        self,
        *,
        origin: str,
        service: ServiceClient,
        agent_url: str,
        agent: CardAgent,
        reader: DemoReader,
        today: Callable[[], dt.date] = dt.date.today,
    ) -> None:
        self.origin = origin
        self.service = service
        self.agent_url = agent_url
        self.agent = agent
        self.reader = reader
        self.today = today
        self.sessions: dict[str, Session] = {}
        self._lock = threading.Lock()
        self.expire_next = False

    def session(self, request: Request) -> tuple[Session, bool]:
        sid = request.cookies.get(SESSION_COOKIE, "")
        with self._lock:
            found = self.sessions.get(sid)
            if found is not None:
                return found, False
            new = Session(secrets.token_urlsafe(32))
            self.sessions[new.id] = new
            return new, True


# -- helpers ------------------------------------------------------------------------------------


def _site(request: Request) -> DemoSite:
    site: DemoSite = request.app.state.site
    return site


async def _json_body(request: Request) -> dict[str, Any]:
    site = _site(request)
    if request.headers.get("origin") != site.origin:
        raise DemoError(403, "forbidden", "requests must come from the demo site's own pages")
    if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
        raise DemoError(415, "unsupported_media_type", "the body must be application/json")
    raw = await request.body()
    if len(raw) > MAX_BODY:
        raise DemoError(413, "payload_too_large", "the body is too large")
    try:
        data = json.loads(raw or b"{}")
    except ValueError:
        raise DemoError(400, "malformed_json", "the body is not valid JSON") from None
    if not isinstance(data, dict):
        raise DemoError(400, "invalid_request", "the body must be a JSON object")
    return data


def _with_cookie(response: Response, session: Session, new: bool) -> Response:
    if new:
        response.set_cookie(SESSION_COOKIE, session.id, httponly=True, samesite="strict", path="/")
    return response


def _service_failure(exc: ServiceError) -> DemoError:
    if isinstance(exc, RemoteVerificationError):
        message = SERVICE_MESSAGES.get(exc.code, f"The card could not be verified ({exc.code}).")
        return DemoError(422, exc.code, message, step=exc.step)
    logger.error("verification service error: %s", exc)
    return DemoError(502, "service_error", f"The verification service failed ({exc.code}).")


# -- pages --------------------------------------------------------------------------------------


async def page(request: Request) -> Response:
    name = _PAGES[request.url.path]
    site = _site(request)
    session, new = site.session(request)
    return _with_cookie(FileResponse(STATIC_DIR / name, media_type="text/html"), session, new)


# -- API ----------------------------------------------------------------------------------------


async def config(request: Request) -> Response:
    site = _site(request)
    session, new = site.session(request)
    body = {"agent_url": site.agent_url, "site_origin": site.origin, "demo": True}
    return _with_cookie(JSONResponse(body), session, new)


async def challenge(request: Request) -> Response:
    site = _site(request)
    session, new = site.session(request)
    body = await _json_body(request)
    purpose_name = body.get("purpose")
    if purpose_name not in ("login", "identity"):
        raise DemoError(400, "invalid_request", "purpose must be 'login' or 'identity'")
    purpose = AuthPurpose(purpose_name)
    kind = body.get("request", "form")
    if purpose is AuthPurpose.IDENTITY and kind not in IDENTITY_REQUESTS:
        raise DemoError(400, "invalid_request", "request must be 'form' or 'age'")
    ttl = 1 if site.expire_next else None
    site.expire_next = False
    try:
        issued = await run_in_threadpool(
            site.service.create_challenge,
            purpose,
            session_id=session.binding,
            ttl_seconds=ttl,
        )
    except ServiceError as exc:
        raise _service_failure(exc) from None
    if purpose is AuthPurpose.IDENTITY:
        session.identity_request = kind
    if ttl is not None:
        session.expiring[purpose.value] = issued.expires_at
    else:
        session.expiring.pop(purpose.value, None)
    answer = {
        "nonce": issued.nonce_b64,
        "purpose": purpose.value,
        "expires_at": issued.expires_at.isoformat(),
        "ttl_seconds": issued.ttl_seconds,
    }
    return _with_cookie(JSONResponse(answer, headers={"Cache-Control": "no-store"}), session, new)


async def _wait_if_expiring(session: Session, purpose: str) -> None:
    """For the "slow user" demo control: wait until a 1-second challenge has expired."""
    expires = session.expiring.pop(purpose, None)
    if expires is None:
        return
    remaining = (expires - dt.datetime.now(dt.timezone.utc)).total_seconds()
    await asyncio.sleep(max(0.0, remaining) + 0.2)


def _token(body: dict[str, Any]) -> dict[str, Any]:
    token = body.get("token")
    if not isinstance(token, dict):
        raise DemoError(400, "invalid_request", "token must be the agent's token object")
    return token


async def login(request: Request) -> Response:
    site = _site(request)
    session, new = site.session(request)
    token = _token(await _json_body(request))
    await _wait_if_expiring(session, "login")
    try:
        result = await run_in_threadpool(
            site.service.verify, token, purpose="login", session_id=session.binding
        )
    except ServiceError as exc:
        raise _service_failure(exc) from None
    session.login = result
    logger.info("demo login: subject %s", result.get("subject", {}).get("key"))
    return _with_cookie(JSONResponse({"ok": True, "result": result}), session, new)


async def identity(request: Request) -> Response:
    site = _site(request)
    session, new = site.session(request)
    token = _token(await _json_body(request))
    kind = session.identity_request
    await _wait_if_expiring(session, "identity")
    wanted = IDENTITY_REQUESTS[kind]
    try:
        result = await run_in_threadpool(
            site.service.verify,
            token,
            purpose="identity",
            session_id=session.binding,
            attributes=wanted,
        )
    except ServiceError as exc:
        raise _service_failure(exc) from None
    session.identity = result
    answer = {"ok": True, "request": kind, "requested": list(wanted), "result": result}
    return _with_cookie(JSONResponse(answer), session, new)


async def me(request: Request) -> Response:
    site = _site(request)
    session, new = site.session(request)
    if session.login is None:
        error = DemoError(401, "not_logged_in", "You are not logged in.").response()
        return _with_cookie(error, session, new)
    return _with_cookie(JSONResponse({"result": session.login}), session, new)


async def logout(request: Request) -> Response:
    site = _site(request)
    session, new = site.session(request)
    await _json_body(request)
    session.login = None
    session.identity = None
    return _with_cookie(JSONResponse({"ok": True}), session, new)


# -- demo controls -------------------------------------------------------------------------------


async def controls(request: Request) -> Response:
    site = _site(request)
    status = await run_in_threadpool(site.reader.status, site.today())
    status["expire_next"] = site.expire_next
    return JSONResponse(status)


async def control_action(request: Request) -> Response:
    site = _site(request)
    body = await _json_body(request)
    action = request.path_params["action"]
    reader = site.reader

    def run() -> None:
        with site.agent.maintenance():
            if action == "insert":
                key = body.get("card")
                if not isinstance(key, str) or key not in reader.cards:
                    raise DemoError(400, "invalid_request", "unknown card")
                reader.insert(key)
            elif action == "remove":
                reader.remove()
            elif action == "pull":
                reader.pull_during_next_signature(bool(body.get("armed", True)))
            elif action == "reset-pins":
                current = reader.current
                if current is None:
                    raise DemoError(400, "invalid_request", "no card in the reader")
                reader.reset_pins(current.key)
            elif action == "expire-next":
                site.expire_next = bool(body.get("armed", True))
            else:
                raise DemoError(404, "not_found", "unknown control")

    try:
        await run_in_threadpool(run)
    except AgentError as exc:
        raise DemoError(409, exc.code, exc.message) from None
    return await controls(request)


# -- the application ----------------------------------------------------------------------------


class SecurityHeaders:
    """CSP (scripts and styles from this site only; fetch to this site and the agent)."""

    def __init__(self, app: ASGIApp, agent_url: str) -> None:
        self.app = app
        csp = (
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
            f"connect-src 'self' {agent_url}; frame-ancestors 'none'; base-uri 'none'; "
            "form-action 'self'"
        )
        self.headers = [
            (b"content-security-policy", csp.encode()),
            (b"x-content-type-options", b"nosniff"),
            (b"referrer-policy", b"no-referrer"),
            (b"cache-control", b"no-store"),
        ]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *self.headers]
            await send(message)

        await self.app(scope, receive, with_headers)


async def _demo_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, DemoError)
    return exc.response()


def create_site_app(site: DemoSite) -> ASGIApp:
    routes: list[Route | Mount] = [Route(path, page, methods=["GET"]) for path in _PAGES]
    routes += [
        Route("/api/config", config, methods=["GET"]),
        Route("/api/challenge", challenge, methods=["POST"]),
        Route("/api/login", login, methods=["POST"]),
        Route("/api/identity", identity, methods=["POST"]),
        Route("/api/me", me, methods=["GET"]),
        Route("/api/logout", logout, methods=["POST"]),
        Route("/api/controls", controls, methods=["GET"]),
        Route("/api/controls/{action}", control_action, methods=["POST"]),
        Mount("/static", app=StaticFiles(directory=STATIC_DIR), name="static"),
    ]
    handlers: dict[Any, Callable[[Request, Exception], Awaitable[Response]]] = {
        DemoError: _demo_error
    }
    app = Starlette(routes=routes, exception_handlers=handlers)
    app.state.site = site
    return SecurityHeaders(app, site.agent_url)


__all__ = [
    "IDENTITY_REQUESTS",
    "SERVICE_MESSAGES",
    "STATIC_DIR",
    "DemoSite",
    "Session",
    "create_site_app",
]
