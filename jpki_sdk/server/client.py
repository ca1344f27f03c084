"""A small HTTP client for the service, for Python relying parties and tools (httpx).

::

    from jpki_sdk.server.client import ServiceClient

    with ServiceClient("https://jpki.internal:8750", api_key) as service:
        challenge = service.create_challenge("login")          # -> IssuedChallenge
        ...                                                      # user's side signs it
        result = service.verify(token)                          # dict, or raises

A refused token raises :class:`RemoteVerificationError` (a
:class:`~jpki_sdk.errors.VerificationError`) carrying the service's stable ``code`` and
``step``; any other failure raises :class:`ServiceError` with ``status`` and ``code``.
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import TracebackType
from typing import Any

import httpx

from jpki_sdk.auth.token import Token
from jpki_sdk.auth.types import AuthPurpose
from jpki_sdk.errors import JpkiError, VerificationError

logger = logging.getLogger(__name__)


class ServiceError(JpkiError):
    """The service answered an error (or could not be reached: ``code`` service_unreachable).

    ``status`` is the HTTP status (0 when unreachable); ``code`` the service's stable code.
    """

    def __init__(
        self,
        message: str,
        *,
        status: int,
        code: str,
        step: str | None = None,
        field: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.step = step
        self.field = field


class RemoteVerificationError(ServiceError, VerificationError):
    """The service refused the token (HTTP 422, or 503 revocation_unavailable)."""


@dataclass(frozen=True)
class IssuedChallenge:
    nonce: bytes = field(repr=False)
    nonce_b64: str = field(repr=False)
    purpose: AuthPurpose
    origin: str
    issued_at: datetime
    expires_at: datetime
    ttl_seconds: int
    session_bound: bool


class ServiceClient:
    """Calls ``/v1/challenges`` and ``/v1/verify`` with an API key."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        timeout: float = 30.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        if not api_key:
            raise ValueError("an API key is required")
        self._client = httpx.Client(
            base_url=base_url.rstrip("/"),
            headers={"Authorization": f"Bearer {api_key}", "Accept": "application/json"},
            timeout=timeout,
            transport=transport,
        )

    def __enter__(self) -> ServiceClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self._client.close()

    def __repr__(self) -> str:
        return f"ServiceClient({str(self._client.base_url)!r})"

    def _call(self, method: str, path: str, body: Mapping[str, Any] | None = None) -> Any:
        try:
            response = self._client.request(method, path, json=body)
        except httpx.HTTPError as exc:
            raise ServiceError(
                f"the service at {self._client.base_url} cannot be reached: {exc}",
                status=0,
                code="service_unreachable",
            ) from exc
        try:
            payload = response.json()
        except ValueError:
            payload = None
        if response.is_success and payload is not None:
            return payload
        error = payload.get("error") if isinstance(payload, dict) else None
        if not isinstance(error, dict):
            raise ServiceError(
                f"unexpected answer from the service: HTTP {response.status_code}",
                status=response.status_code,
                code="unexpected_response",
            )
        code = str(error.get("code", "unknown"))
        message = str(error.get("message", code))
        step = error.get("step")
        kind = (
            RemoteVerificationError
            if response.status_code == 422
            or (response.status_code == 503 and code == "revocation_unavailable")
            else ServiceError
        )
        raise kind(
            f"{code}: {message}",
            status=response.status_code,
            code=code,
            step=step if isinstance(step, str) else None,
            field=error.get("field") if isinstance(error.get("field"), str) else None,
        )

    def create_challenge(
        self,
        purpose: AuthPurpose | str = AuthPurpose.LOGIN,
        *,
        origin: str | None = None,
        session_id: str | None = None,
        ttl_seconds: int | None = None,
    ) -> IssuedChallenge:
        body: dict[str, Any] = {"purpose": AuthPurpose(purpose).value}
        if origin is not None:
            body["origin"] = origin
        if session_id is not None:
            body["session_id"] = session_id
        if ttl_seconds is not None:
            body["ttl_seconds"] = ttl_seconds
        data = self._call("POST", "/v1/challenges", body)
        try:
            return IssuedChallenge(
                nonce=base64.b64decode(data["nonce"], validate=True),
                nonce_b64=data["nonce"],
                purpose=AuthPurpose(data["purpose"]),
                origin=data["origin"],
                issued_at=datetime.fromisoformat(data["issued_at"]),
                expires_at=datetime.fromisoformat(data["expires_at"]),
                ttl_seconds=int(data["ttl_seconds"]),
                session_bound=bool(data["session_bound"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ServiceError(
                f"malformed challenge from the service: {exc}",
                status=201,
                code="unexpected_response",
            ) from None

    def verify(
        self,
        token: Token | Mapping[str, Any] | str,
        *,
        origin: str | None = None,
        session_id: str | None = None,
        purpose: AuthPurpose | str | None = None,
        attributes: Iterable[str] = (),
    ) -> dict[str, Any]:
        """The service's result (``verified``, ``purpose``, ``subject`` or ``attributes``...)."""
        body: dict[str, Any] = {
            "token": token.to_dict() if isinstance(token, Token) else token,
        }
        if origin is not None:
            body["origin"] = origin
        if session_id is not None:
            body["session_id"] = session_id
        if purpose is not None:
            body["purpose"] = AuthPurpose(purpose).value
        wanted = list(attributes)
        if wanted:
            body["attributes"] = wanted
        result: dict[str, Any] = self._call("POST", "/v1/verify", body)
        return result

    def health(self) -> dict[str, Any]:
        try:
            response = self._client.get("/healthz")
            result: dict[str, Any] = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise ServiceError(
                f"the service health check failed: {exc}", status=0, code="service_unreachable"
            ) from exc
        return result


__all__ = ["IssuedChallenge", "RemoteVerificationError", "ServiceClient", "ServiceError"]
