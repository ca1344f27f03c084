"""The certificate verifier: parse, profile, path, revocation -- one typed error per failure.

Order of the checks (each raises its own error class, see :mod:`jpki_sdk.verify.errors`):

1. parse (DER or PEM, one certificate)                     ``certificate_malformed``
2. kind: a certificate of the other purpose                 ``wrong_certificate_kind``
3. validity at the validation time                          ``certificate_expired`` /
                                                            ``certificate_not_yet_valid``
4. issuer: the root with the certificate's AKI key id       ``untrusted_issuer``
   (by name only when there is no AKI; then by signature)
5. the root's own validity at the validation time           ``trust_anchor_expired`` / ...
6. profile of the purpose (algorithms, key, extensions)     ``key_usage_invalid``, ...
7. path validation by ``cryptography.x509.verification``    ``certificate_signature_invalid``
   (the authority; signature and extension policy)          / ``path_validation_failed``
8. subject (AUTH) or identity attributes (SIGN)             ``subject_invalid`` /
                                                            ``identity_attribute_*``
9. revocation through the injected :class:`RevocationPolicy` (``certificate_revoked``,
   ``revocation_unavailable``)

Steps 1-8 do not depend on the time except for the validity windows, so their outcome is cached
by the certificate's bytes (and purpose): a returning user costs a dictionary look-up, the two
validity checks and the revocation check, which are always re-done at the current time.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization

from jpki_sdk.errors import VerificationError
from jpki_sdk.verify.clock import Clock, SystemClock, as_utc
from jpki_sdk.verify.errors import (
    CertificateExpiredError,
    CertificateNotYetValidError,
    CertificateParseError,
    CertificateSignatureError,
    PathValidationError,
    TrustAnchorExpiredError,
    TrustAnchorNotYetValidError,
    UntrustedIssuerError,
    WrongCertificateKindError,
)
from jpki_sdk.verify.identity import Identity, identity_from_certificate
from jpki_sdk.verify.path import VALIDATOR_SHA1_LEGACY, PathValidator
from jpki_sdk.verify.profiles import (
    CertificateFacts,
    Purpose,
    check_kind,
    check_profile,
)
from jpki_sdk.verify.revocation import RevocationPolicy, RevocationResult
from jpki_sdk.verify.revocation.policy import RevocationFields
from jpki_sdk.verify.signature import verify_signature
from jpki_sdk.verify.subject import Subject, common_name, serial_hex
from jpki_sdk.verify.trust import TrustAnchor, TrustStore, issuer_text, verifies

__all__ = ["MAX_CERTIFICATE_BYTES", "CertificateVerifier", "ValidatedCertificate"]

logger = logging.getLogger(__name__)

#: Larger inputs are refused before parsing (JPKI certificates are about 1.6-1.8 KB).
MAX_CERTIFICATE_BYTES = 64 * 1024

_DER = serialization.Encoding.DER
_ANCHOR_MEMO_SIZE = 256


class _Entry:
    """What steps 1-8 established for one certificate and purpose (cached).

    The :class:`Subject` value is built on first use from the fields read at validation
    (the CN was checked then); everything else is fixed at construction.
    """

    __slots__ = (
        "_cn",
        "_dp_der",
        "_subject",
        "anchor",
        "certificate",
        "identity",
        "not_after",
        "not_before",
        "path_validator",
        "purpose",
        "revocation_fields",
    )

    def __init__(  # noqa: PLR0917 - internal, built once per first-seen certificate
        self,
        certificate: x509.Certificate,
        purpose: Purpose,
        anchor: TrustAnchor,
        not_before: datetime,
        not_after: datetime,
        cn: str | None,
        identity: Identity | None,
        path_validator: str,
        revocation_fields: RevocationFields,
    ) -> None:
        self.certificate = certificate
        self.purpose = purpose
        self.anchor = anchor
        self.not_before = not_before
        self.not_after = not_after
        self.identity = identity
        self.path_validator = path_validator
        self.revocation_fields = revocation_fields
        self._cn = cn
        self._dp_der = revocation_fields.crl_distribution_points
        self._subject: Subject | None = None

    @property
    def subject(self) -> Subject | None:
        subject = self._subject
        if subject is None and self._cn is not None:
            subject = Subject.from_parts(
                serial=self.revocation_fields.serial,
                cn=self._cn,
                anchor=self.anchor,
                not_before=self.not_before,
                not_after=self.not_after,
                crl_distribution_point_der=self._dp_der,
            )
            self._subject = subject  # a race builds two equal values: harmless
        return subject


@dataclass(frozen=True, slots=True)
class ValidatedCertificate:
    """A certificate that passed every check at ``validated_at``.

    ``anchor`` is the root used (``is_test_root`` says whether it is an opted-in test root);
    ``anchor_expired`` is True when that root has expired by the verifier clock's present
    time (possible when validating at a historical ``at``). ``revocation`` names the mode and
    the source that answered. ``subject`` is set for AUTH, ``identity`` for SIGN.
    ``from_cache`` says whether steps 1-8 came from the cache.
    """

    _entry: _Entry
    validated_at: datetime
    revocation: RevocationResult
    anchor_expired: bool
    from_cache: bool

    @property
    def certificate(self) -> x509.Certificate:
        return self._entry.certificate

    @property
    def purpose(self) -> Purpose:
        return self._entry.purpose

    @property
    def anchor(self) -> TrustAnchor:
        return self._entry.anchor

    @property
    def is_test_root(self) -> bool:
        return self._entry.anchor.is_test

    @property
    def subject(self) -> Subject | None:
        return self._entry.subject

    @property
    def identity(self) -> Identity | None:
        return self._entry.identity

    @property
    def path_validator(self) -> str:
        return self._entry.path_validator

    @property
    def serial(self) -> int:
        return self._entry.certificate.serial_number

    @property
    def not_before(self) -> datetime:
        return self._entry.not_before

    @property
    def not_after(self) -> datetime:
        return self._entry.not_after

    def __repr__(self) -> str:
        return (
            f"ValidatedCertificate({self.purpose.value}, serial {serial_hex(self.serial)}, "
            f"root {self.anchor.name}{' (TEST)' if self.is_test_root else ''}, "
            f"at {self.validated_at.isoformat()}, revocation {self.revocation.status.value})"
        )

    def to_dict(self, *, reveal: bool = False) -> dict[str, Any]:
        """JSON-ready result; identity attributes masked unless ``reveal``."""
        return {
            "valid": True,
            "purpose": self.purpose.value,
            "serial": serial_hex(self.serial),
            "validated_at": self.validated_at.isoformat(),
            "not_before": self.not_before.isoformat(),
            "not_after": self.not_after.isoformat(),
            "root": self.anchor.to_dict(),
            "is_test_root": self.is_test_root,
            "root_expired": self.anchor_expired,
            "path_validator": self.path_validator,
            "revocation": self.revocation.to_dict(),
            "subject": self.subject.to_dict() if self.subject is not None else None,
            "identity": self.identity.to_dict(reveal=reveal) if self.identity else None,
            "from_cache": self.from_cache,
        }


CertificateInput = x509.Certificate | bytes | bytearray | memoryview


def load_certificate(data: CertificateInput) -> tuple[bytes, x509.Certificate | None]:
    """(DER, parsed certificate or None) from a certificate, DER bytes or PEM bytes."""
    if isinstance(data, x509.Certificate):
        return data.public_bytes(_DER), data
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError(f"certificate must be x509.Certificate or bytes, not {type(data).__name__}")
    raw = bytes(data)
    if len(raw) > MAX_CERTIFICATE_BYTES:
        raise CertificateParseError(
            f"{len(raw)} bytes is too large for a certificate (max {MAX_CERTIFICATE_BYTES})"
        )
    if raw[:1] == b"\x30":  # DER (a PEM text never starts with "0" before -----BEGIN)
        return raw, None
    if raw[:64].lstrip().startswith(b"-----BEGIN"):
        try:
            certs = x509.load_pem_x509_certificates(raw)
        except (ValueError, x509.InvalidVersion) as exc:
            raise CertificateParseError(f"not a PEM certificate: {exc}") from None
        if len(certs) != 1:
            raise CertificateParseError(f"expected one PEM certificate, found {len(certs)}")
        return certs[0].public_bytes(_DER), certs[0]
    return raw, None


def _parse_der(der: bytes) -> x509.Certificate:
    try:
        return x509.load_der_x509_certificate(der)
    except (ValueError, x509.InvalidVersion) as exc:
        raise CertificateParseError(f"not a DER X.509 certificate: {exc}") from None


def _check_validity(not_before: datetime, not_after: datetime, at: datetime) -> None:
    if at > not_after:
        raise CertificateExpiredError(
            f"certificate expired at {not_after.isoformat()} (validation time {at.isoformat()})",
            not_after=not_after,
            at=at,
        )
    if at < not_before:
        raise CertificateNotYetValidError(
            f"certificate is valid from {not_before.isoformat()} "
            f"(validation time {at.isoformat()})",
            not_before=not_before,
            at=at,
        )


def _check_anchor_validity(anchor: TrustAnchor, at: datetime) -> None:
    if at > anchor.not_after:
        raise TrustAnchorExpiredError(
            f"root {anchor.name} expired at {anchor.not_after.isoformat()} "
            f"(validation time {at.isoformat()})",
            anchor=anchor,
            at=at,
        )
    if at < anchor.not_before:
        raise TrustAnchorNotYetValidError(
            f"root {anchor.name} is valid from {anchor.not_before.isoformat()} "
            f"(validation time {at.isoformat()})",
            anchor=anchor,
            at=at,
        )


class CertificateVerifier:
    """Validates JPKI end-entity certificates for a purpose.

    ``trust`` is the :class:`TrustStore` (``TrustStore.default()`` for the J-LIS roots);
    ``revocation`` the :class:`RevocationPolicy` (``RevocationPolicy.off()`` must be chosen
    explicitly); ``clock`` gives the present time (validation time unless ``at`` is given);
    ``cache_size`` bounds the per-certificate cache (0 disables it); ``allow_sha1`` admits
    sha1WithRSAEncryption certificates and SHA-1 signatures.
    """

    def __init__(
        self,
        trust: TrustStore,
        *,
        revocation: RevocationPolicy,
        clock: Clock | None = None,
        cache_size: int = 10_000,
        allow_sha1: bool = False,
    ) -> None:
        if not isinstance(trust, TrustStore):
            raise TypeError("trust must be a TrustStore (e.g. TrustStore.default())")
        if not callable(getattr(revocation, "evaluate", None)):
            raise TypeError("revocation must be a RevocationPolicy")
        if isinstance(cache_size, bool) or not isinstance(cache_size, int) or cache_size < 0:
            raise ValueError("cache_size must be an int >= 0")
        self._trust = trust
        self._revocation = revocation
        self._clock: Clock = clock if clock is not None else SystemClock()
        self._cache_size = cache_size
        self._allow_sha1 = bool(allow_sha1)
        self._paths = PathValidator(allow_sha1=self._allow_sha1)
        self._cache: OrderedDict[tuple[bytes, Purpose], _Entry] = OrderedDict()
        # (AKI key id, issuer Name DER) -> the one root with that key id and exact name.
        self._anchor_by_key: dict[tuple[bytes, bytes], TrustAnchor] = {}
        self._lock = threading.Lock()
        self._hits = 0
        self._misses = 0

    # ------------------------------------------------------------------ properties

    @property
    def trust(self) -> TrustStore:
        return self._trust

    @property
    def revocation(self) -> RevocationPolicy:
        return self._revocation

    @property
    def clock(self) -> Clock:
        return self._clock

    @property
    def allow_sha1(self) -> bool:
        return self._allow_sha1

    def cache_info(self) -> dict[str, int]:
        with self._lock:
            return {
                "size": len(self._cache),
                "max_size": self._cache_size,
                "hits": self._hits,
                "misses": self._misses,
            }

    def clear_cache(self) -> None:
        with self._lock:
            self._cache.clear()

    # ------------------------------------------------------------------ verification

    def verify(
        self,
        cert: CertificateInput,
        purpose: Purpose | str,
        *,
        at: datetime | None = None,
    ) -> ValidatedCertificate:
        """Validate ``cert`` for ``purpose`` at ``at`` (default: the clock's present time).

        Returns a :class:`ValidatedCertificate` or raises the specific
        :class:`~jpki_sdk.errors.VerificationError` subclass of the first failed check.
        """
        if type(purpose) is not Purpose:
            purpose = Purpose.parse(purpose)
        now = self._clock.now()
        when = now if at is None else as_utc(at, "at")
        der, parsed = load_certificate(cert)
        key = (der, purpose)
        entry: _Entry | None = None
        if self._cache_size:
            with self._lock:
                entry = self._cache.get(key)
                if entry is not None:
                    self._cache.move_to_end(key)
                    self._hits += 1
                else:
                    self._misses += 1
        from_cache = entry is not None
        if entry is None:
            entry = self._first_seen(der, parsed, purpose, when)
            if self._cache_size:
                with self._lock:
                    self._cache[key] = entry
                    while len(self._cache) > self._cache_size:
                        self._cache.popitem(last=False)
        else:
            _check_validity(entry.not_before, entry.not_after, when)
            _check_anchor_validity(entry.anchor, when)
        revocation = self._revocation.evaluate(
            entry.certificate, entry.anchor.certificate, when, fields=entry.revocation_fields
        )
        return ValidatedCertificate(
            entry, when, revocation, entry.anchor.is_expired_at(now), from_cache
        )

    def verify_signature(
        self,
        validated: ValidatedCertificate,
        data: bytes | None,
        signature: bytes,
        hash_alg: str,
        *,
        digest: bytes | None = None,
    ) -> None:
        """:func:`~jpki_sdk.verify.verify_signature` with this verifier's SHA-1 setting."""
        if not isinstance(validated, ValidatedCertificate):
            raise TypeError("validated must be a ValidatedCertificate from verify()")
        verify_signature(
            validated, data, signature, hash_alg, digest=digest, allow_sha1=self._allow_sha1
        )

    # ------------------------------------------------------------------ steps 1-8

    def _first_seen(
        self, der: bytes, parsed: x509.Certificate | None, purpose: Purpose, when: datetime
    ) -> _Entry:
        try:
            return self._steps(der, parsed, purpose, when)
        except (ValueError, TypeError, UnsupportedAlgorithm, x509.InvalidVersion) as exc:
            # cryptography parses some fields (names, validity, key) only when first read and
            # raises ValueError/TypeError for hostile content: report it as a parse error.
            logger.debug("%s certificate rejected: unparsable field", purpose.value)
            raise CertificateParseError(
                f"certificate field cannot be parsed: {type(exc).__name__}: {exc}"
            ) from None
        except VerificationError as exc:
            logger.debug(
                "%s certificate rejected: %s", purpose.value, getattr(exc, "code", type(exc))
            )
            raise

    def _steps(
        self, der: bytes, parsed: x509.Certificate | None, purpose: Purpose, when: datetime
    ) -> _Entry:
        cert = parsed if parsed is not None else _parse_der(der)
        facts = CertificateFacts.from_der(der)
        check_kind(facts, purpose)
        not_before = cert.not_valid_before_utc
        not_after = cert.not_valid_after_utc
        if not not_before <= when <= not_after:
            _check_validity(not_before, not_after, when)
        anchor = self._select_anchor(cert, facts)
        if anchor.hierarchy is not purpose:
            raise WrongCertificateKindError(
                f"the certificate was issued by {anchor.name}, a {anchor.hierarchy.label} "
                f"root; a {purpose.label} certificate is required",
                expected=purpose,
                actual=anchor.hierarchy,
            )
        if not anchor.not_before <= when <= anchor.not_after:
            _check_anchor_validity(anchor, when)
        check_profile(cert, facts, purpose, test_root=anchor.is_test, allow_sha1=self._allow_sha1)
        try:
            validator = self._paths.validate(cert, anchor, purpose, when)
        except PathValidationError:
            if not verifies(cert, anchor):
                raise CertificateSignatureError(
                    f"the certificate's signature does not verify with root {anchor.name} "
                    f"(selected by key id {anchor.key_id.hex()})",
                    anchor=anchor,
                ) from None
            raise
        cn = identity = None
        if purpose is Purpose.AUTH:
            cn = common_name(cert, facts.subject_der)
        else:
            identity = identity_from_certificate(cert, facts)
        if validator == VALIDATOR_SHA1_LEGACY:
            logger.warning(
                "serial %X accepted with a SHA-1 signature (allowed)", cert.serial_number
            )
        fields = RevocationFields(
            cert.serial_number,
            facts.authority_key_id,
            facts.crl_distribution_points,
            bool(facts.is_ca),
        )
        return _Entry(cert, purpose, anchor, not_before, not_after, cn, identity, validator, fields)

    def _select_anchor(self, cert: x509.Certificate, facts: CertificateFacts) -> TrustAnchor:
        aki = facts.authority_key_id
        if aki is not None:
            known = self._anchor_by_key.get((aki, facts.issuer_der))
            if known is not None:
                return known
        anchor = self._find_anchor(cert, facts)
        if aki is not None:
            # Remembered only when the key id names exactly this root and the issuer name is
            # its exact DER: then _find_anchor returns it for every certificate with the same
            # (key id, issuer name) without looking at anything else. A choice that needed a
            # name comparison or a signature check is made again each time.
            candidates = self._trust.by_key_id(aki)
            if (
                len(candidates) == 1
                and candidates[0] is anchor
                and anchor.subject_der == facts.issuer_der
            ):
                if len(self._anchor_by_key) >= _ANCHOR_MEMO_SIZE:
                    self._anchor_by_key.clear()
                self._anchor_by_key[(aki, facts.issuer_der)] = anchor
        return anchor

    def _find_anchor(self, cert: x509.Certificate, facts: CertificateFacts) -> TrustAnchor:
        candidates = self._trust.candidates(cert, facts)
        if facts.authority_key_id is not None:
            named = [
                a
                for a in candidates
                if a.subject_der == facts.issuer_der or a.certificate.subject == cert.issuer
            ]
            if not named:
                raise UntrustedIssuerError(
                    f"root {candidates[0].name} has key id {facts.authority_key_id.hex()} but "
                    "a different name than the certificate's issuer",
                    key_id=facts.authority_key_id.hex(),
                    issuer=issuer_text(cert),
                )
            if len(named) == 1:
                return named[0]  # its signature is checked by the path validator
        return self._trust.select_issuer(cert, facts)
