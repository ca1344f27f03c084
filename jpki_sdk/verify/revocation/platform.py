"""Extension point example: a platform operator's revocation API as a revocation source.

In Japan, real-time JPKI revocation data is given to certified 署名検証者 and to プラットフォーム
事業者 (platform operators), who resell verification to relying parties over their own APIs.
Such an API plugs into :class:`~jpki_sdk.verify.revocation.RevocationPolicy` through the same
:class:`~jpki_sdk.verify.revocation.RevocationSource` protocol as the CRL index and OCSP: any
object with a ``name`` and ``check(cert, issuer, at) -> RevocationAnswer`` works, no base class.

:class:`PlatformOperatorSource` is a complete, working example for a JSON-over-HTTPS API. Its
wire contract (adapt the two small methods :meth:`build_request` / :meth:`parse_answer` in a
subclass when your operator's API differs):

Request: ``POST <url>`` with ``Content-Type: application/json`` and, when configured,
``Authorization: Bearer <api key>``::

    {"certificate": "<base64 DER>", "serial": "<hex>", "issuer_key_id": "<hex SKI>",
     "at": "<ISO-8601 UTC>"}

Response ``200 application/json``::

    {"serial": "<hex, echoed>", "status": "good" | "revoked" | "unknown",
     "revoked_at": "<ISO-8601>", "reason": "<RFC 5280 reason name>",     (when revoked)
     "this_update": "<ISO-8601>", "next_update": "<ISO-8601>", "detail": "<text>"}

The answer is trusted because of the TLS connection and the contract with the operator (it is
not signed): use https in production. Everything else is checked: size and time limits, JSON
shape, the echoed serial, status and reason vocabularies, aware timestamps, and freshness
(``next_update`` + ``grace`` must not have passed).
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import logging
import re
from typing import Any, Protocol

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from jpki_sdk.verify.revocation._http import HttpFailureError, http_exchange
from jpki_sdk.verify.revocation._sig import key_identifier
from jpki_sdk.verify.revocation.crl_parse import REASON_NAMES
from jpki_sdk.verify.revocation.errors import PlatformSourceError
from jpki_sdk.verify.revocation.types import RevocationAnswer, RevocationStatus

__all__ = ["PlatformOperatorSource"]

logger = logging.getLogger(__name__)

UTC = dt.timezone.utc
_STATUSES = {s.value: s for s in RevocationStatus}
_REASONS = frozenset(REASON_NAMES.values())
_HEX = re.compile(r"[0-9A-Fa-f]{1,64}")


class _ClockLike(Protocol):
    def now(self) -> dt.datetime: ...


class _SystemClock:
    def now(self) -> dt.datetime:
        return dt.datetime.now(UTC)


class PlatformOperatorSource:
    """Ask a platform operator's JSON API (see the module docstring for the contract)."""

    def __init__(
        self,
        url: str,
        *,
        api_key: str | None = None,
        name: str = "platform",
        timeout: float = 10.0,
        max_response_bytes: int = 64 * 1024,
        grace: dt.timedelta = dt.timedelta(0),
        clock: _ClockLike | None = None,
    ) -> None:
        if not isinstance(url, str) or not url.lower().startswith(("http://", "https://")):
            raise ValueError("the platform API URL must be http:// or https://")
        if timeout <= 0 or max_response_bytes <= 0:
            raise ValueError("timeout and max_response_bytes must be positive")
        if api_key is not None and (not api_key or any(c in api_key for c in "\r\n")):
            raise ValueError("api_key must be a non-empty single-line string")
        self._url = url
        self.__api_key = api_key
        self._name = name
        self._timeout = timeout
        self._max_bytes = max_response_bytes
        self.grace = grace
        self._clock: _ClockLike = clock or _SystemClock()

    @property
    def name(self) -> str:
        return self._name

    def __repr__(self) -> str:  # never shows the API key
        key = "set" if self.__api_key else "none"
        return f"PlatformOperatorSource(name={self._name!r}, url={self._url!r}, api_key={key})"

    # ------------------------------------------------------------------ protocol

    def check(
        self, cert: x509.Certificate, issuer: x509.Certificate, at: dt.datetime
    ) -> RevocationAnswer:
        body = json.dumps(self.build_request(cert, issuer, at)).encode()
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if self.__api_key:
            headers["Authorization"] = f"Bearer {self.__api_key}"
        try:
            response = http_exchange(
                self._url,
                data=body,
                headers=headers,
                timeout=self._timeout,
                max_bytes=self._max_bytes,
            )
        except HttpFailureError as exc:
            raise PlatformSourceError(
                f"platform API request failed: {exc}", url=self._url
            ) from None
        if response.content_type != "application/json":
            raise PlatformSourceError(
                f"platform API answered Content-Type {response.content_type!r}", url=self._url
            )
        try:
            payload = json.loads(response.body)
        except (ValueError, UnicodeDecodeError):
            raise PlatformSourceError("platform API answered invalid JSON", url=self._url) from None
        return self.parse_answer(payload, cert, at)

    # ------------------------------------------------------------------ the wire contract

    def build_request(
        self, cert: x509.Certificate, issuer: x509.Certificate, at: dt.datetime
    ) -> dict[str, Any]:
        """The JSON request body (override for another operator's API)."""
        return {
            "certificate": base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode(),
            "serial": f"{cert.serial_number:x}",
            "issuer_key_id": key_identifier(issuer).hex(),
            "at": at.astimezone(UTC).isoformat(),
        }

    def parse_answer(
        self, payload: Any, cert: x509.Certificate, at: dt.datetime
    ) -> RevocationAnswer:
        """Validate the JSON answer strictly and map it (override for another API)."""
        if not isinstance(payload, dict):
            raise self._bad("the answer is not a JSON object")
        serial = payload.get("serial")
        if not isinstance(serial, str) or not _HEX.fullmatch(serial):
            raise self._bad("serial must be a hex string")
        if int(serial, 16) != cert.serial_number:
            raise self._bad("the answer is for another serial number")
        status = _STATUSES.get(payload.get("status"))  # type: ignore[arg-type]
        if status is None:
            raise self._bad("status must be 'good', 'revoked' or 'unknown'")
        this_update = self._time(payload, "this_update")
        next_update = self._time(payload, "next_update")
        revoked_at = self._time(payload, "revoked_at")
        detail = payload.get("detail", "")
        if not isinstance(detail, str) or len(detail) > 500:
            raise self._bad("detail must be a short string")
        reason = payload.get("reason")
        if status is RevocationStatus.REVOKED:
            if revoked_at is None:
                raise self._bad("a revoked answer needs revoked_at")
            if reason is None:
                reason = "unspecified"
            if reason not in _REASONS:
                raise self._bad(f"unknown reason {reason!r}")
        elif reason is not None or revoked_at is not None:
            raise self._bad("reason/revoked_at only belong to a revoked answer")
        now = self._clock.now()
        if next_update is not None and max(now, at) > next_update + self.grace:
            raise PlatformSourceError(
                f"platform answer is stale (next_update {next_update.isoformat()})", url=self._url
            )
        where = f"{self._url}" + (f": {detail}" if detail else "")
        if status is RevocationStatus.REVOKED and revoked_at is not None and revoked_at > at:
            return RevocationAnswer(
                RevocationStatus.GOOD,
                self._name,
                this_update=this_update,
                next_update=next_update,
                detail=f"{where}: revoked later, at {revoked_at.isoformat()}",
            )
        return RevocationAnswer(
            status,
            self._name,
            reason=reason if status is RevocationStatus.REVOKED else None,
            revoked_at=revoked_at,
            this_update=this_update,
            next_update=next_update,
            detail=where,
        )

    def _bad(self, message: str) -> PlatformSourceError:
        return PlatformSourceError(f"unusable platform answer: {message}", url=self._url)

    def _time(self, payload: dict[str, Any], key: str) -> dt.datetime | None:
        value = payload.get(key)
        if value is None:
            return None
        if not isinstance(value, str) or len(value) > 40:
            raise self._bad(f"{key} must be an ISO-8601 string")
        try:
            parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise self._bad(f"{key} is not ISO-8601") from None
        if parsed.tzinfo is None or parsed.utcoffset() is None:
            raise self._bad(f"{key} has no time zone")
        return parsed.astimezone(UTC)
