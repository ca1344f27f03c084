"""Revocation errors: every one a :class:`jpki_sdk.errors.VerificationError` with a stable ``code``.

The ``code`` strings are part of the public API (the HTTP service and the CLI print them); they
never change meaning. Data is kept on the exception (serial, reason, source, partition, ...).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, ClassVar

from jpki_sdk.errors import VerificationError

if TYPE_CHECKING:  # pragma: no cover - typing only
    from jpki_sdk.verify.revocation.types import RevocationAnswer, RevocationResult

__all__ = [
    "CertificateRevokedError",
    "CrlError",
    "CrlFetchError",
    "CrlFormatError",
    "CrlIndexCorruptError",
    "CrlIssuerUnknownError",
    "CrlNotYetValidError",
    "CrlNumberConflictError",
    "CrlNumberRegressionError",
    "CrlSignatureError",
    "CrlStaleError",
    "CrlUnsupportedError",
    "OcspCertIdMismatchError",
    "OcspError",
    "OcspFetchError",
    "OcspFormatError",
    "OcspNonceError",
    "OcspResponderError",
    "OcspResponderUnauthorizedError",
    "OcspSignatureError",
    "OcspStaleError",
    "PlatformSourceError",
    "RevocationError",
    "RevocationUnavailableError",
]


class RevocationError(VerificationError):
    """Base of every revocation failure. ``code`` is a stable machine-readable identifier."""

    code: ClassVar[str] = "revocation_error"


# --------------------------------------------------------------------------- policy outcomes


class CertificateRevokedError(RevocationError):
    """A revocation source answered that the certificate is revoked."""

    code: ClassVar[str] = "certificate_revoked"

    def __init__(
        self,
        message: str,
        *,
        serial: int,
        source: str,
        reason: str | None = None,
        revoked_at: datetime | None = None,
        result: RevocationResult | None = None,
    ) -> None:
        super().__init__(message)
        self.serial = serial
        self.source = source
        self.reason = reason
        self.revoked_at = revoked_at
        self.result = result


class RevocationUnavailableError(RevocationError):
    """No source gave a definitive answer and the policy requires one (mode ``require``)."""

    code: ClassVar[str] = "revocation_unavailable"

    def __init__(
        self,
        message: str,
        *,
        attempts: Sequence[RevocationAnswer] = (),
        result: RevocationResult | None = None,
    ) -> None:
        super().__init__(message)
        self.attempts = tuple(attempts)
        self.result = result


# --------------------------------------------------------------------------- CRL


class CrlError(RevocationError):
    """A CRL could not be used. ``source`` names where it came from (path or URL) when known."""

    code: ClassVar[str] = "crl_error"

    def __init__(self, message: str, *, source: str | None = None) -> None:
        super().__init__(message)
        self.source = source


class CrlFormatError(CrlError):
    """The bytes are not a well-formed DER/PEM CRL (strict DER)."""

    code: ClassVar[str] = "crl_invalid"


class CrlUnsupportedError(CrlError):
    """A well-formed CRL using a feature the index refuses (delta, indirect, critical unknown)."""

    code: ClassVar[str] = "crl_unsupported"


class CrlIssuerUnknownError(CrlError):
    """No trusted root with the CRL's issuer name and key identifier (and a valid signature)."""

    code: ClassVar[str] = "crl_issuer_unknown"


class CrlSignatureError(CrlError):
    """The CRL's signature does not verify with the root chosen by its key identifier."""

    code: ClassVar[str] = "crl_signature_invalid"


class CrlStaleError(CrlError):
    """The CRL is past nextUpdate + grace at ingest time (or has no nextUpdate)."""

    code: ClassVar[str] = "crl_stale"


class CrlNotYetValidError(CrlError):
    """The CRL's thisUpdate lies in the future (beyond the allowed clock skew)."""

    code: ClassVar[str] = "crl_not_yet_valid"


class CrlNumberRegressionError(CrlError):
    """The CRL number is lower than the one already stored for the same partition."""

    code: ClassVar[str] = "crl_number_regression"

    def __init__(
        self, message: str, *, stored: int, offered: int, source: str | None = None
    ) -> None:
        super().__init__(message, source=source)
        self.stored = stored
        self.offered = offered


class CrlNumberConflictError(CrlError):
    """Same CRL number as the stored one but different content (a CA must never do that)."""

    code: ClassVar[str] = "crl_number_conflict"


class CrlFetchError(CrlError):
    """Downloading or reading a CRL failed (I/O, HTTP status, size or time limit)."""

    code: ClassVar[str] = "crl_fetch_failed"


class CrlIndexCorruptError(CrlError):
    """A persisted partition file is damaged, truncated or of a foreign format."""

    code: ClassVar[str] = "crl_index_corrupt"


# --------------------------------------------------------------------------- OCSP


class OcspError(RevocationError):
    """An OCSP exchange failed. ``url`` names the responder when known."""

    code: ClassVar[str] = "ocsp_error"

    def __init__(self, message: str, *, url: str | None = None) -> None:
        super().__init__(message)
        self.url = url


class OcspFetchError(OcspError):
    """The responder could not be reached, timed out, answered non-200 or too much data."""

    code: ClassVar[str] = "ocsp_fetch_failed"


class OcspFormatError(OcspError):
    """The response is not a well-formed DER OCSPResponse (or uses an unsupported form)."""

    code: ClassVar[str] = "ocsp_response_invalid"


class OcspResponderError(OcspError):
    """The responder answered with a non-successful responseStatus (tryLater, ...)."""

    code: ClassVar[str] = "ocsp_responder_error"

    def __init__(self, message: str, *, status: str, url: str | None = None) -> None:
        super().__init__(message, url=url)
        self.status = status


class OcspSignatureError(OcspError):
    """The response signature does not verify with the responder key."""

    code: ClassVar[str] = "ocsp_signature_invalid"


class OcspResponderUnauthorizedError(OcspError):
    """The signer is neither the issuing CA nor a responder it delegated (EKU OCSPSigning)."""

    code: ClassVar[str] = "ocsp_responder_unauthorized"


class OcspNonceError(OcspError):
    """The response nonce is missing (when required) or differs from the request's."""

    code: ClassVar[str] = "ocsp_nonce_mismatch"


class OcspStaleError(OcspError):
    """thisUpdate in the future, or the response is past nextUpdate + grace / max age."""

    code: ClassVar[str] = "ocsp_response_stale"


class OcspCertIdMismatchError(OcspError):
    """The response does not carry a SingleResponse for the certificate asked about."""

    code: ClassVar[str] = "ocsp_certid_mismatch"


# --------------------------------------------------------------------------- platform operator


class PlatformSourceError(RevocationError):
    """A platform operator's revocation API failed or answered something unusable."""

    code: ClassVar[str] = "platform_source_error"

    def __init__(self, message: str, *, url: str | None = None) -> None:
        super().__init__(message)
        self.url = url
