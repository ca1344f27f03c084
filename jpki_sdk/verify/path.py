"""Path validation through ``cryptography.x509.verification`` with the JPKI extension policies.

JPKI is single-tier: the end-entity certificate is signed directly by a root
(``max_chain_depth(0)``, no intermediates). The verifier chooses the root itself (by key
identifier and signature, see :mod:`jpki_sdk.verify.trust`) and gives cryptography a store
holding only that root, so the path cryptography validates is exactly the one reported.

The web-PKI defaults do not fit JPKI certificates (a critical certificatePolicies extension,
no subjectAltName on the authentication certificate), so each purpose gets its own end-entity
:class:`~cryptography.x509.verification.ExtensionPolicy` built on ``permit_all`` (which still
rejects any critical extension it has not been told about) that fixes the presence and
criticality of each profile extension; their values are checked by the profile just before.
The roots are checked with the web-PKI CA policy.

cryptography refuses SHA-1 certificate signatures outright. When the caller explicitly allows
SHA-1, a sha1WithRSAEncryption certificate is instead checked here with the root's key, after
the verifier's own profile, validity and issuer checks (reported as ``sha1-legacy``).
"""

from __future__ import annotations

import logging
import math
import threading
from datetime import datetime, timezone

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.verification import (
    ClientVerifier,
    Criticality,
    ExtensionPolicy,
    PolicyBuilder,
    Store,
)
from cryptography.x509.verification import VerificationError as _CryptoVerificationError

from jpki_sdk.verify.errors import CertificateSignatureError, PathValidationError
from jpki_sdk.verify.profiles import SIG_SHA1_RSA, Purpose, profile_for
from jpki_sdk.verify.trust import TrustAnchor

__all__ = ["VALIDATOR_CRYPTOGRAPHY", "VALIDATOR_SHA1_LEGACY", "PathValidator"]

logger = logging.getLogger(__name__)

VALIDATOR_CRYPTOGRAPHY = "cryptography.x509.verification"
VALIDATOR_SHA1_LEGACY = "sha1-legacy"


def _ee_policy(purpose: Purpose) -> ExtensionPolicy:
    """Presence and criticality of the JPKI end-entity extensions for ``purpose``.

    Built on ``permit_all`` (which still rejects every critical extension not named here).
    The values (exact key usage, extended key usage, policy) are checked by
    :func:`jpki_sdk.verify.profiles.check_profile` just before; repeating them in Python
    validator callbacks here would only add a second parse of the same bytes per certificate.
    """
    profile = profile_for(purpose)
    policy = (
        ExtensionPolicy.permit_all()
        .require_present(x509.KeyUsage, Criticality.CRITICAL, None)
        .require_present(x509.CertificatePolicies, Criticality.CRITICAL, None)
        .may_be_present(x509.BasicConstraints, Criticality.AGNOSTIC, None)
    )
    if profile.ext_key_usage is None:
        policy = policy.require_not_present(x509.ExtendedKeyUsage)
    else:
        policy = policy.may_be_present(x509.ExtendedKeyUsage, Criticality.AGNOSTIC, None)
    if profile.requires_san:
        policy = policy.require_present(x509.SubjectAlternativeName, Criticality.AGNOSTIC, None)
    else:
        policy = policy.may_be_present(x509.SubjectAlternativeName, Criticality.AGNOSTIC, None)
    return policy


#: Built verifiers kept per validator (one per root, purpose and second in use).
_VERIFIER_CACHE_SIZE = 64


class PathValidator:
    """Runs cryptography's client verifier for one (certificate, root, purpose, time).

    Stores and extension policies are built once per (root, purpose). The built
    ``ClientVerifier`` is kept per (root, purpose, validation time truncated to the second)
    and reused: cryptography itself keeps only whole seconds of the validation time (its
    ASN.1 time type has no fraction; a time 0.999999 s past notAfter still passes there), so a
    verifier built for the truncated second decides exactly as one built for the exact time.
    The verifier's own validity checks (:mod:`jpki_sdk.verify.verifier`) use the exact time.
    A service validating at the present time therefore builds one verifier per second; the
    cache is bounded and simply cleared when full.
    """

    def __init__(self, *, allow_sha1: bool = False) -> None:
        self._allow_sha1 = allow_sha1
        self._lock = threading.Lock()
        self._built: dict[tuple[str, bool], Store] = {}
        self._verifiers: dict[tuple[str, bool, Purpose, int], ClientVerifier] = {}
        self._ee_policies = {p: _ee_policy(p) for p in Purpose}
        self._ca_policy = ExtensionPolicy.webpki_defaults_ca()

    def _store(self, anchor: TrustAnchor) -> Store:
        key = (anchor.fingerprint_sha256, anchor.is_test)
        store = self._built.get(key)
        if store is None:
            with self._lock:
                store = self._built.get(key)
                if store is None:
                    store = Store([anchor.certificate])
                    self._built[key] = store
        return store

    def verifier(self, anchor: TrustAnchor, purpose: Purpose, at: datetime) -> ClientVerifier:
        """cryptography's verifier for paths to ``anchor`` at ``at`` (whole seconds)."""
        second = math.floor(at.timestamp())
        key = (anchor.fingerprint_sha256, anchor.is_test, purpose, second)
        verifier = self._verifiers.get(key)
        if verifier is None:
            verifier = (
                PolicyBuilder()
                .store(self._store(anchor))
                .time(datetime.fromtimestamp(second, timezone.utc))
                .max_chain_depth(0)
                .extension_policies(ca_policy=self._ca_policy, ee_policy=self._ee_policies[purpose])
                .build_client_verifier()
            )
            with self._lock:
                if len(self._verifiers) >= _VERIFIER_CACHE_SIZE:
                    self._verifiers.clear()
                self._verifiers[key] = verifier
        return verifier

    def validate(
        self, cert: x509.Certificate, anchor: TrustAnchor, purpose: Purpose, at: datetime
    ) -> str:
        """Validate the path ``cert`` -> ``anchor`` at ``at``; return the validator's name.

        Raises :class:`PathValidationError` with cryptography's reason on failure.
        """
        if self._allow_sha1 and cert.signature_algorithm_oid.dotted_string == SIG_SHA1_RSA:
            self._validate_sha1(cert, anchor)
            return VALIDATOR_SHA1_LEGACY
        try:
            verified = self.verifier(anchor, purpose, at).verify(cert, [])
        except _CryptoVerificationError as exc:
            detail = str(exc)
            logger.debug("cryptography rejected the path to %s: %s", anchor.name, detail)
            raise PathValidationError(
                f"path validation to {anchor.name} failed: {detail}", detail=detail
            ) from None
        except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
            detail = f"{type(exc).__name__}: {exc}"
            raise PathValidationError(
                f"path validation to {anchor.name} failed: {detail}", detail=detail
            ) from None
        if verified.chain[-1] is not anchor.certificate and verified.chain[-1] != (
            anchor.certificate
        ):  # pragma: no cover - the store holds only this anchor
            raise PathValidationError(
                "cryptography chose a different root", detail="unexpected chain"
            )
        return VALIDATOR_CRYPTOGRAPHY

    @staticmethod
    def _validate_sha1(cert: x509.Certificate, anchor: TrustAnchor) -> None:
        key = anchor.certificate.public_key()
        if not isinstance(key, rsa.RSAPublicKey):  # pragma: no cover - roots are RSA
            raise PathValidationError("root key is not RSA", detail="root key type")
        try:
            key.verify(
                cert.signature,
                cert.tbs_certificate_bytes,
                padding.PKCS1v15(),
                hashes.SHA1(),  # noqa: S303 - legacy certificates, explicitly allowed
            )
        except InvalidSignature:
            raise CertificateSignatureError(
                f"the SHA-1 signature does not verify with {anchor.name}", anchor=anchor
            ) from None
