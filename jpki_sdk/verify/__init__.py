"""Server-side verification of JPKI (My Number card) certificates and signatures.

Imports nothing from ``apdu`` or pyscard: a verification-only install needs no PC/SC stack.

Typical use::

    from jpki_sdk.verify import (
        CertificateVerifier, CrlIndex, CrlSource, OcspSource, Purpose, RevocationPolicy,
        TrustStore, verify_signature,
    )

    index = CrlIndex.open(directory, trusted_roots=[a.certificate for a in TrustStore.default()])
    revocation = RevocationPolicy.require(CrlSource(index), OcspSource())  # hard-fail
    verifier = CertificateVerifier(TrustStore.default(), revocation=revocation)
    result = verifier.verify(cert_der, Purpose.AUTH)       # raises a VerificationError subclass
    verify_signature(result, message, signature, "sha256")  # the card's PKCS#1 v1.5 signature
    result.subject.key, result.anchor.name, result.revocation.summary

See :mod:`jpki_sdk.verify.verifier` for the order of checks and
:mod:`jpki_sdk.verify.errors` for the error classes and their stable ``code`` strings.
"""

from __future__ import annotations

from jpki_sdk.verify.clock import Clock, FixedClock, SystemClock
from jpki_sdk.verify.errors import (
    BasicConstraintsError,
    CertificateExpiredError,
    CertificateNotYetValidError,
    CertificateParseError,
    CertificatePolicyError,
    CertificateProfileError,
    CertificateSignatureError,
    CertificateVerificationError,
    ExtendedKeyUsageError,
    ExtensionMalformedError,
    HashAlgorithmNotAllowedError,
    IdentityAttributeError,
    IdentityAttributeMalformedError,
    IdentityAttributeMissingError,
    KeyUsageError,
    MissingExtensionError,
    PathValidationError,
    SerialNumberError,
    SignatureAlgorithmNotAllowedError,
    SignatureInvalidError,
    SubjectError,
    TestPolicyNotAllowedError,
    TrustAnchorExpiredError,
    TrustAnchorNotYetValidError,
    UnknownCriticalExtensionError,
    UnsupportedKeyError,
    UntrustedIssuerError,
    WeakKeyError,
    WrongCertificateKindError,
)
from jpki_sdk.verify.identity import (
    Era,
    Identity,
    SanEntry,
    Sex,
    identity_from_certificate,
    identity_from_san,
)
from jpki_sdk.verify.profiles import (
    POLICY_AUTH,
    POLICY_SIGN,
    POLICY_SIGN_TEST,
    CertificateFacts,
    Profile,
    Purpose,
    classify,
    profile_for,
)
from jpki_sdk.verify.revocation import (
    CertificateRevokedError,
    CrlError,
    CrlIndex,
    CrlSource,
    OcspError,
    OcspSource,
    PlatformOperatorSource,
    PlatformSourceError,
    RevocationAnswer,
    RevocationError,
    RevocationMode,
    RevocationPolicy,
    RevocationResult,
    RevocationSource,
    RevocationStatus,
    RevocationUnavailableError,
    ingest_sources,
)
from jpki_sdk.verify.signature import hash_algorithm, verify_signature
from jpki_sdk.verify.subject import CrlDistributionPoint, Subject
from jpki_sdk.verify.trust import TrustAnchor, TrustStore
from jpki_sdk.verify.verifier import CertificateVerifier, ValidatedCertificate, load_certificate

__all__ = [
    "POLICY_AUTH",
    "POLICY_SIGN",
    "POLICY_SIGN_TEST",
    "BasicConstraintsError",
    "CertificateExpiredError",
    "CertificateFacts",
    "CertificateNotYetValidError",
    "CertificateParseError",
    "CertificatePolicyError",
    "CertificateProfileError",
    "CertificateRevokedError",
    "CertificateSignatureError",
    "CertificateVerificationError",
    "CertificateVerifier",
    "Clock",
    "CrlDistributionPoint",
    "CrlError",
    "CrlIndex",
    "CrlSource",
    "Era",
    "ExtendedKeyUsageError",
    "ExtensionMalformedError",
    "FixedClock",
    "HashAlgorithmNotAllowedError",
    "Identity",
    "IdentityAttributeError",
    "IdentityAttributeMalformedError",
    "IdentityAttributeMissingError",
    "KeyUsageError",
    "MissingExtensionError",
    "OcspError",
    "OcspSource",
    "PathValidationError",
    "PlatformOperatorSource",
    "PlatformSourceError",
    "Profile",
    "Purpose",
    "RevocationAnswer",
    "RevocationError",
    "RevocationMode",
    "RevocationPolicy",
    "RevocationResult",
    "RevocationSource",
    "RevocationStatus",
    "RevocationUnavailableError",
    "SanEntry",
    "SerialNumberError",
    "Sex",
    "SignatureAlgorithmNotAllowedError",
    "SignatureInvalidError",
    "Subject",
    "SubjectError",
    "SystemClock",
    "TestPolicyNotAllowedError",
    "TrustAnchor",
    "TrustAnchorExpiredError",
    "TrustAnchorNotYetValidError",
    "TrustStore",
    "UnknownCriticalExtensionError",
    "UnsupportedKeyError",
    "UntrustedIssuerError",
    "ValidatedCertificate",
    "WeakKeyError",
    "WrongCertificateKindError",
    "classify",
    "hash_algorithm",
    "identity_from_certificate",
    "identity_from_san",
    "ingest_sources",
    "load_certificate",
    "profile_for",
    "verify_signature",
]
