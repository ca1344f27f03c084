"""What a successful verification gives the relying party.

- :class:`LoginResult`: a pseudonymous subject from the user-authentication certificate
  (certificate serial, CN, issuing root and its generation), how revocation was checked, and
  whether a test root was used.
- :class:`IdentityResult`: the same facts about the signature certificate plus **only** the
  identity attributes and age predicates the relying party asked for (selective release).

Attribute names for an identity request (:func:`parse_attribute_request`):

``name``, ``name_substitutes``, ``address``, ``address_substitutes``, ``birth_date``
(ISO ``YYYY-MM-DD``), ``sex`` (``"1"`` male, ``"2"`` female, ``"9"`` not applicable), and
``age_over_N`` for N in 0..150 (``True`` when the holder is at least N years old on the
verification date in Japan, under Japan's rule that an age is attained on the eve of the
birthday).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from types import MappingProxyType
from typing import Any

from jpki_sdk.auth.types import AuthPurpose

#: Japan Standard Time (no daylight saving): the calendar for age predicates.
JST = timezone(timedelta(hours=9), "JST")

#: Plain attributes an identity request may name.
IDENTITY_ATTRIBUTES = (
    "name",
    "name_substitutes",
    "address",
    "address_substitutes",
    "birth_date",
    "sex",
)
#: Most attributes one request may name.
MAX_REQUESTED_ATTRIBUTES = 16
MAX_AGE_PREDICATE = 150

_AGE_OVER = re.compile(r"age_over_(0|[1-9][0-9]{0,2})")
_MASK = "***"

AttributeValue = str | bool


def parse_attribute_request(names: Iterable[str]) -> tuple[str, ...]:
    """Check and de-duplicate requested attribute names (order kept).

    Raises ``ValueError`` for an unknown name, an age outside 0..150, or more than
    :data:`MAX_REQUESTED_ATTRIBUTES` names.
    """
    if isinstance(names, (str, bytes)):
        raise TypeError("attributes must be a list of names, not one string")
    result: list[str] = []
    for name in names:
        if not isinstance(name, str):
            raise TypeError("attribute names must be strings")
        if name in result:
            continue
        if name not in IDENTITY_ATTRIBUTES:
            match = _AGE_OVER.fullmatch(name)
            if match is None or int(match.group(1)) > MAX_AGE_PREDICATE:
                shown = name[:40]
                raise ValueError(
                    f"unknown identity attribute {shown!r}; use one of "
                    f"{', '.join(IDENTITY_ATTRIBUTES)} or age_over_N (N in 0..150)"
                )
        result.append(name)
        if len(result) > MAX_REQUESTED_ATTRIBUTES:
            raise ValueError(f"at most {MAX_REQUESTED_ATTRIBUTES} attributes may be requested")
    return tuple(result)


def japan_date(at: datetime) -> date:
    """The calendar date in Japan at the instant ``at``."""
    return at.astimezone(JST).date()


@dataclass(frozen=True)
class RevocationSummary:
    """How revocation was checked for this result."""

    mode: str  # "require", "soft-fail" or "off"
    status: str  # "good", or "unknown" (soft-fail without an answer, or mode off)
    source: str | None  # the source that answered ("crl", "ocsp", ...), None if none did

    def to_dict(self) -> dict[str, Any]:
        return {"mode": self.mode, "status": self.status, "source": self.source}


@dataclass(frozen=True)
class CertificateSummary:
    """Facts about the verified certificate that carry no personal data."""

    serial: str  # upper-case hex
    issuer: str  # the root's name, e.g. "authca02", or "test-auth-01"
    issuer_generation: int
    test_root: bool  # True when the root is an opted-in test root: never a real card
    not_before: datetime
    not_after: datetime

    def to_dict(self) -> dict[str, Any]:
        return {
            "serial": self.serial,
            "issuer": self.issuer,
            "issuer_generation": self.issuer_generation,
            "test_root": self.test_root,
            "not_before": self.not_before.isoformat(),
            "not_after": self.not_after.isoformat(),
        }


@dataclass(frozen=True)
class LoginResult:
    """A verified login.

    ``subject_key`` is the stable account key to store for this card
    (``<root>:<serial>:<CN>``, prefixed ``test:`` for a test root). A renewed card has a new
    certificate and so a new key: link accounts through your own re-enrolment flow.
    """

    subject_key: str
    cn: str
    municipality_code: str | None
    certificate: CertificateSummary
    revocation: RevocationSummary
    origin: str
    verified_at: datetime
    purpose: AuthPurpose = field(default=AuthPurpose.LOGIN, init=False)

    @property
    def serial(self) -> str:
        return self.certificate.serial

    @property
    def test_root(self) -> bool:
        return self.certificate.test_root

    def to_dict(self) -> dict[str, Any]:
        return {
            "purpose": self.purpose.value,
            "subject": {
                "key": self.subject_key,
                "serial": self.certificate.serial,
                "cn": self.cn,
                "municipality_code": self.municipality_code,
                "issuer": self.certificate.issuer,
                "issuer_generation": self.certificate.issuer_generation,
            },
            "certificate": self.certificate.to_dict(),
            "test_root": self.certificate.test_root,
            "revocation": self.revocation.to_dict(),
            "origin": self.origin,
            "verified_at": self.verified_at.isoformat(),
        }


@dataclass(frozen=True, repr=False)
class IdentityResult:
    """A verified identity: only the ``attributes`` the relying party requested.

    Values are strings for plain attributes and booleans for ``age_over_N``. ``repr()``
    masks every value; :meth:`to_dict` gives them (the relying party asked for them).
    """

    certificate: CertificateSummary
    revocation: RevocationSummary
    origin: str
    verified_at: datetime
    attributes: Mapping[str, AttributeValue]
    purpose: AuthPurpose = field(default=AuthPurpose.IDENTITY, init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "attributes", MappingProxyType(dict(self.attributes)))

    @property
    def serial(self) -> str:
        return self.certificate.serial

    @property
    def test_root(self) -> bool:
        return self.certificate.test_root

    def __repr__(self) -> str:
        shown = ", ".join(
            f"{k}={v}" if isinstance(v, bool) else f"{k}={_MASK}"
            for k, v in self.attributes.items()
        )
        return (
            f"IdentityResult(serial={self.certificate.serial}, "
            f"issuer={self.certificate.issuer}, test_root={self.certificate.test_root}, "
            f"revocation={self.revocation.status}/{self.revocation.mode}, "
            f"attributes=({shown}))"
        )

    __str__ = __repr__

    def to_dict(self, *, reveal: bool = True) -> dict[str, Any]:
        """JSON-ready; ``reveal=False`` masks the string attribute values (for logs)."""
        attributes = {
            k: v if reveal or isinstance(v, bool) else _MASK for k, v in self.attributes.items()
        }
        return {
            "purpose": self.purpose.value,
            "certificate": self.certificate.to_dict(),
            "test_root": self.certificate.test_root,
            "revocation": self.revocation.to_dict(),
            "origin": self.origin,
            "verified_at": self.verified_at.isoformat(),
            "attributes": attributes,
        }


__all__ = [
    "IDENTITY_ATTRIBUTES",
    "JST",
    "MAX_AGE_PREDICATE",
    "MAX_REQUESTED_ATTRIBUTES",
    "AttributeValue",
    "CertificateSummary",
    "IdentityResult",
    "LoginResult",
    "RevocationSummary",
    "japan_date",
    "parse_attribute_request",
]
