"""Verification errors: one class per failure, all under :class:`jpki_sdk.errors.VerificationError`.

Every class has a stable ``code`` string (the HTTP service and the CLI expose it; it never
changes meaning) and keeps its data on the exception. Messages never contain personal data:
an identity attribute error names the attribute, never its value.

The revocation failures (``certificate_revoked``, ``revocation_unavailable``, CRL and OCSP
errors) live in :mod:`jpki_sdk.verify.revocation.errors`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, ClassVar

from jpki_sdk.errors import VerificationError

if TYPE_CHECKING:  # pragma: no cover - typing only
    from jpki_sdk.verify.profiles import Purpose
    from jpki_sdk.verify.trust import TrustAnchor

__all__ = [
    "BasicConstraintsError",
    "CertificateExpiredError",
    "CertificateNotYetValidError",
    "CertificateParseError",
    "CertificatePolicyError",
    "CertificateProfileError",
    "CertificateSignatureError",
    "CertificateVerificationError",
    "ExtendedKeyUsageError",
    "ExtensionMalformedError",
    "HashAlgorithmNotAllowedError",
    "IdentityAttributeError",
    "IdentityAttributeMalformedError",
    "IdentityAttributeMissingError",
    "KeyUsageError",
    "MissingExtensionError",
    "PathValidationError",
    "SerialNumberError",
    "SignatureAlgorithmNotAllowedError",
    "SignatureInvalidError",
    "SubjectError",
    "TestPolicyNotAllowedError",
    "TrustAnchorExpiredError",
    "TrustAnchorNotYetValidError",
    "UnknownCriticalExtensionError",
    "UnsupportedKeyError",
    "UntrustedIssuerError",
    "WeakKeyError",
    "WrongCertificateKindError",
]


class CertificateVerificationError(VerificationError):
    """Base of every certificate failure raised by :class:`CertificateVerifier` (not revocation)."""

    code: ClassVar[str] = "certificate_invalid"


# --------------------------------------------------------------------------- parsing


class CertificateParseError(CertificateVerificationError):
    """The bytes are not one well-formed DER/PEM X.509 certificate."""

    code: ClassVar[str] = "certificate_malformed"


class ExtensionMalformedError(CertificateVerificationError):
    """An extension the JPKI profile relies on could not be decoded."""

    code: ClassVar[str] = "extension_malformed"

    def __init__(self, message: str, *, oid: str) -> None:
        super().__init__(message)
        self.oid = oid


# --------------------------------------------------------------------------- validity


class CertificateExpiredError(CertificateVerificationError):
    """The validation time is after the certificate's notAfter."""

    code: ClassVar[str] = "certificate_expired"

    def __init__(self, message: str, *, not_after: datetime, at: datetime) -> None:
        super().__init__(message)
        self.not_after = not_after
        self.at = at


class CertificateNotYetValidError(CertificateVerificationError):
    """The validation time is before the certificate's notBefore."""

    code: ClassVar[str] = "certificate_not_yet_valid"

    def __init__(self, message: str, *, not_before: datetime, at: datetime) -> None:
        super().__init__(message)
        self.not_before = not_before
        self.at = at


# --------------------------------------------------------------------------- trust and path


class UntrustedIssuerError(CertificateVerificationError):
    """No trusted root matches the certificate's authority key identifier (or issuer name).

    ``key_id`` is the AKI key identifier (hex) when the certificate has one.
    """

    code: ClassVar[str] = "untrusted_issuer"

    def __init__(self, message: str, *, key_id: str | None = None, issuer: str = "") -> None:
        super().__init__(message)
        self.key_id = key_id
        self.issuer = issuer


class CertificateSignatureError(CertificateVerificationError):
    """The root selected by key identifier (or name) did not sign this certificate."""

    code: ClassVar[str] = "certificate_signature_invalid"

    def __init__(self, message: str, *, anchor: TrustAnchor | None = None) -> None:
        super().__init__(message)
        self.anchor = anchor


class TrustAnchorExpiredError(CertificateVerificationError):
    """The issuing root had expired at the validation time."""

    code: ClassVar[str] = "trust_anchor_expired"

    def __init__(self, message: str, *, anchor: TrustAnchor, at: datetime) -> None:
        super().__init__(message)
        self.anchor = anchor
        self.at = at


class TrustAnchorNotYetValidError(CertificateVerificationError):
    """The issuing root was not yet valid at the validation time."""

    code: ClassVar[str] = "trust_anchor_not_yet_valid"

    def __init__(self, message: str, *, anchor: TrustAnchor, at: datetime) -> None:
        super().__init__(message)
        self.anchor = anchor
        self.at = at


class PathValidationError(CertificateVerificationError):
    """cryptography's path validator (the authority) rejected a certificate our checks passed.

    ``detail`` is cryptography's own message.
    """

    code: ClassVar[str] = "path_validation_failed"

    def __init__(self, message: str, *, detail: str) -> None:
        super().__init__(message)
        self.detail = detail


# --------------------------------------------------------------------------- profile


class CertificateProfileError(CertificateVerificationError):
    """Base of the JPKI profile violations (one subclass per rule)."""

    code: ClassVar[str] = "certificate_profile_invalid"


class WrongCertificateKindError(CertificateProfileError):
    """A certificate of the other kind (e.g. a signature certificate offered for login)."""

    code: ClassVar[str] = "wrong_certificate_kind"

    def __init__(self, message: str, *, expected: Purpose, actual: Purpose | None) -> None:
        super().__init__(message)
        self.expected = expected
        self.actual = actual


class KeyUsageError(CertificateProfileError):
    """keyUsage is not exactly what the purpose requires, or not critical."""

    code: ClassVar[str] = "key_usage_invalid"


class ExtendedKeyUsageError(CertificateProfileError):
    """extKeyUsage is missing or wrong for the purpose."""

    code: ClassVar[str] = "extended_key_usage_invalid"


class CertificatePolicyError(CertificateProfileError):
    """certificatePolicies is not the purpose's JPKI policy, or not critical."""

    code: ClassVar[str] = "certificate_policy_invalid"

    def __init__(self, message: str, *, policies: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.policies = tuple(policies)


class TestPolicyNotAllowedError(CertificatePolicyError):
    """A JPKI-TEST policy on a certificate that does not chain to an opted-in test root."""

    __test__ = False  # not a pytest test class despite its name
    code: ClassVar[str] = "test_policy_not_allowed"


class UnknownCriticalExtensionError(CertificateProfileError):
    """A critical extension the JPKI profile does not know (or does not allow as critical)."""

    code: ClassVar[str] = "unknown_critical_extension"

    def __init__(self, message: str, *, oids: Sequence[str]) -> None:
        super().__init__(message)
        self.oids = tuple(oids)


class MissingExtensionError(CertificateProfileError):
    """An extension the purpose requires is absent."""

    code: ClassVar[str] = "required_extension_missing"

    def __init__(self, message: str, *, oid: str) -> None:
        super().__init__(message)
        self.oid = oid


class BasicConstraintsError(CertificateProfileError):
    """The end-entity certificate claims to be a CA."""

    code: ClassVar[str] = "end_entity_is_ca"


class SerialNumberError(CertificateProfileError):
    """The serial number is zero or negative (RFC 5280 4.1.2.2: a positive integer)."""

    code: ClassVar[str] = "serial_number_invalid"


class WeakKeyError(CertificateProfileError):
    """The RSA key is shorter than 2048 bits."""

    code: ClassVar[str] = "weak_key"

    def __init__(self, message: str, *, bits: int) -> None:
        super().__init__(message)
        self.bits = bits


class UnsupportedKeyError(CertificateProfileError):
    """The key is not RSA, or its size is beyond what the verifier accepts."""

    code: ClassVar[str] = "unsupported_key"


class SignatureAlgorithmNotAllowedError(CertificateProfileError):
    """The certificate's signature algorithm is not on the allow-list."""

    code: ClassVar[str] = "signature_algorithm_not_allowed"

    def __init__(self, message: str, *, algorithm: str) -> None:
        super().__init__(message)
        self.algorithm = algorithm


# --------------------------------------------------------------------------- signatures


class SignatureInvalidError(VerificationError):
    """A PKCS#1 v1.5 signature over data (or a digest) does not verify with the certificate."""

    code: ClassVar[str] = "signature_invalid"


class HashAlgorithmNotAllowedError(VerificationError):
    """The signature's hash algorithm is unknown, or SHA-1 without explicit permission."""

    code: ClassVar[str] = "hash_algorithm_not_allowed"

    def __init__(self, message: str, *, algorithm: str) -> None:
        super().__init__(message)
        self.algorithm = algorithm


# --------------------------------------------------------------------------- identity and subject


class IdentityAttributeError(VerificationError):
    """An identity attribute of the signature certificate is unusable.

    ``attribute`` names it ("name", "name_substitutes", "sex", "birth_date", "address",
    "address_substitutes" or "subjectAltName"); the value itself is never in the message.
    """

    code: ClassVar[str] = "identity_attribute_invalid"

    def __init__(self, message: str, *, attribute: str) -> None:
        super().__init__(message)
        self.attribute = attribute


class IdentityAttributeMissingError(IdentityAttributeError):
    """A required identity attribute (or the subjectAltName itself) is absent."""

    code: ClassVar[str] = "identity_attribute_missing"


class IdentityAttributeMalformedError(IdentityAttributeError):
    """An identity attribute is present but badly encoded, duplicated or out of range."""

    code: ClassVar[str] = "identity_attribute_malformed"


class SubjectError(VerificationError):
    """The user-authentication certificate's subject lacks what a login subject needs (CN)."""

    code: ClassVar[str] = "subject_invalid"
