"""One bounded HTTP exchange over urllib: http/https only, an overall deadline, a size cap.

Callers turn :class:`HttpFailureError` into their own typed error (CRL fetch, OCSP, platform).
"""

from __future__ import annotations

import logging
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass

__all__ = ["HttpFailureError", "HttpResponse", "http_exchange"]

logger = logging.getLogger(__name__)

_CHUNK = 1 << 16


class HttpFailureError(Exception):
    """Transport failure, non-2xx status, size or time limit (``status`` when one was seen)."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class HttpResponse:
    status: int
    content_type: str
    body: bytes


def http_exchange(
    url: str,
    *,
    data: bytes | None = None,
    headers: Mapping[str, str] | None = None,
    timeout: float,
    max_bytes: int,
) -> HttpResponse:
    """GET (``data`` None) or POST ``data`` to ``url``; the whole exchange must finish within
    ``timeout`` seconds and the body must not exceed ``max_bytes``."""
    if not url.lower().startswith(("http://", "https://")):
        raise HttpFailureError("only http:// and https:// URLs are supported")
    if timeout <= 0 or max_bytes <= 0:
        raise ValueError("timeout and max_bytes must be positive")
    deadline = time.monotonic() + timeout
    request = urllib.request.Request(  # noqa: S310 - scheme checked above
        url,
        data=data,
        headers={"User-Agent": "jpki-sdk", **(headers or {})},
        method="GET" if data is None else "POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            status = int(getattr(response, "status", 200))
            if not 200 <= status < 300:
                raise HttpFailureError(f"HTTP status {status}", status)
            declared = response.headers.get("Content-Length")
            if declared is not None and declared.strip().isdigit() and int(declared) > max_bytes:
                raise HttpFailureError(f"response of {declared} bytes exceeds {max_bytes}", status)
            content_type = (response.headers.get("Content-Type") or "").split(";")[0].strip()
            chunks: list[bytes] = []
            total = 0
            while True:
                if time.monotonic() > deadline:
                    raise HttpFailureError(f"exchange exceeded {timeout:g} s", status)
                chunk = response.read(_CHUNK)
                if not chunk:
                    break
                total += len(chunk)
                if total > max_bytes:
                    raise HttpFailureError(f"response exceeds {max_bytes} bytes", status)
                chunks.append(chunk)
    except HttpFailureError:
        raise
    except urllib.error.HTTPError as exc:
        raise HttpFailureError(f"HTTP status {exc.code}", exc.code) from None
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", None) or exc
        raise HttpFailureError(f"request failed: {reason}") from None
    return HttpResponse(status, content_type.lower(), b"".join(chunks))
