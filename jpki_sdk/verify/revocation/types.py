"""Values and the source protocol shared by every revocation source and the policy."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

from cryptography import x509

__all__ = [
    "RevocationAnswer",
    "RevocationMode",
    "RevocationResult",
    "RevocationSource",
    "RevocationStatus",
]


class RevocationStatus(enum.Enum):
    """What a source knows about one certificate at one time."""

    GOOD = "good"
    REVOKED = "revoked"
    UNKNOWN = "unknown"


class RevocationMode(enum.Enum):
    """How the policy treats the absence of a definitive answer.

    ``REQUIRE`` (the default everywhere): no GOOD/REVOKED answer from any source is a failure.
    ``SOFT_FAIL``: no answer is accepted and reported (status UNKNOWN); REVOKED still fails.
    ``OFF``: no source is asked; every result says revocation was not checked.
    """

    REQUIRE = "require"
    SOFT_FAIL = "soft-fail"
    OFF = "off"

    @classmethod
    def parse(cls, value: RevocationMode | str) -> RevocationMode:
        """Accept a member or its string value ("require", "soft-fail", "off")."""
        if isinstance(value, RevocationMode):
            return value
        if isinstance(value, str):
            normalized = value.strip().lower().replace("_", "-")
            for member in cls:
                if member.value == normalized:
                    return member
            raise ValueError(
                f"unknown revocation mode {value!r}; expected one of "
                + ", ".join(m.value for m in cls)
            )
        raise TypeError(f"revocation mode must be RevocationMode or str, not {type(value)!r}")


def _check_aware(name: str, value: datetime | None) -> None:
    if value is not None:
        if not isinstance(value, datetime):
            raise TypeError(f"{name} must be a datetime, not {type(value)!r}")
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"{name} must be timezone-aware (UTC)")


@dataclass(frozen=True)
class RevocationAnswer:
    """One source's answer about one certificate.

    ``source`` is the answering source's ``name``; ``reason`` is the RFC 5280 reason name
    (e.g. ``"keyCompromise"``) when revoked and known; ``detail`` says why the answer is
    UNKNOWN (``"stale"``, ``"partition missing"``, an error code, ...) or adds context.
    """

    status: RevocationStatus
    source: str
    reason: str | None = None
    revoked_at: datetime | None = None
    this_update: datetime | None = None
    next_update: datetime | None = None
    detail: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.status, RevocationStatus):
            raise TypeError("status must be a RevocationStatus")
        if not isinstance(self.source, str) or not self.source:
            raise ValueError("source must be a non-empty string")
        _check_aware("revoked_at", self.revoked_at)
        _check_aware("this_update", self.this_update)
        _check_aware("next_update", self.next_update)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dictionary (ISO-8601 times)."""
        return {
            "status": self.status.value,
            "source": self.source,
            "reason": self.reason,
            "revoked_at": _iso(self.revoked_at),
            "this_update": _iso(self.this_update),
            "next_update": _iso(self.next_update),
            "detail": self.detail,
        }


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


@runtime_checkable
class RevocationSource(Protocol):
    """Anything that can tell whether ``cert`` (issued by ``issuer``) was revoked at ``at``.

    Implementations return UNKNOWN (with a ``detail``) when they have no usable data, and may
    raise a :class:`~jpki_sdk.verify.revocation.errors.RevocationError` subclass for a failure
    (the policy records it as an UNKNOWN attempt and asks the next source). They never raise
    for a revoked certificate: they answer REVOKED.
    """

    @property
    def name(self) -> str:
        """Short stable name shown in results ("crl", "ocsp", "platform:...")."""
        ...

    def check(
        self, cert: x509.Certificate, issuer: x509.Certificate, at: datetime
    ) -> RevocationAnswer:
        """Answer for ``cert`` at the validation time ``at`` (aware UTC)."""
        ...


@dataclass(frozen=True)
class RevocationResult:
    """The policy's verdict, always naming the mode used and the source that answered.

    ``source`` is ``None`` when no source answered (mode OFF, or SOFT_FAIL without an answer);
    ``detail`` then says so in words. ``answer`` is the deciding answer (None when none).
    ``attempts`` lists every answer collected, in the order the sources were asked.
    """

    mode: RevocationMode
    status: RevocationStatus
    source: str | None
    answer: RevocationAnswer | None
    detail: str
    attempts: tuple[RevocationAnswer, ...] = field(default=())

    @property
    def checked(self) -> bool:
        """True when a source gave a definitive answer (GOOD or REVOKED)."""
        return self.answer is not None and self.answer.status is not RevocationStatus.UNKNOWN

    @property
    def summary(self) -> str:
        """One line for humans: status, source and mode."""
        who = self.source if self.source is not None else "no source"
        return f"{self.status.value} ({who}; mode {self.mode.value}): {self.detail}"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dictionary."""
        return {
            "mode": self.mode.value,
            "status": self.status.value,
            "source": self.source,
            "detail": self.detail,
            "answer": None if self.answer is None else self.answer.to_dict(),
            "attempts": [a.to_dict() for a in self.attempts],
        }
