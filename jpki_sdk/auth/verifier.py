"""The relying party's verifier: ordered steps, one error class per failed step.

For a token presented to this relying party (whose origin the verifier is configured with):

====  =============================================  ==========================================
step  check                                          error (``code``)
====  =============================================  ==========================================
1     token shape and sizes (:func:`parse_token`)    MalformedTokenError (``malformed_token``,
                                                     ``token_too_large``,
                                                     ``unsupported_token_format``,
                                                     ``unsupported_algorithm``)
      the purpose the RP asked for                   PurposeMismatchError (``purpose_mismatch``)
2     certificate parse                              ``certificate_malformed``, ...
3     purpose/profile (auth cert for login, sign     ``wrong_certificate_kind``,
      cert for identity)                             ``key_usage_invalid``, ...
4     path to a pinned J-LIS root (test roots only   ``untrusted_issuer``,
      if opted in)                                   ``certificate_signature_invalid``, ...
5     validity at the injected time                  ``certificate_expired``, ...
6     revocation (CRL index / OCSP; mode reported)   ``certificate_revoked``,
                                                     ``revocation_unavailable``
7     signature over M = SHA-256(origin) ||          ``signature_invalid`` (also what a token
      SHA-256(nonce), with the RP's own origin        made for another origin gets)
8     challenge known, unexpired, unused, bound as   ``challenge_unknown``, ``challenge_expired``,
      issued; consumed atomically (last)             ``challenge_replayed``,
                                                     ``challenge_mismatch``
====  =============================================  ==========================================

Steps 2-6 are :meth:`jpki_sdk.verify.CertificateVerifier.verify` (see its module for the exact
order inside). The challenge is consumed only when every other check passed, and one
atomic store operation consumes it: two concurrent presentations of one token never both
succeed. The origin in M is always this verifier's configured origin, never anything from the
token.

This module imports nothing from ``apdu``, pyscard or :mod:`jpki_sdk.card`.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

from jpki_sdk.auth.challenges import DEFAULT_TTL, Challenge, ChallengeManager, ChallengeStore
from jpki_sdk.auth.errors import (
    AuthVerificationError,
    PurposeMismatchError,
    UnsupportedAlgorithmError,
    VerificationStep,
    error_code,
)
from jpki_sdk.auth.message import auth_message, normalize_origin
from jpki_sdk.auth.results import (
    AttributeValue,
    CertificateSummary,
    IdentityResult,
    LoginResult,
    RevocationSummary,
    japan_date,
    parse_attribute_request,
)
from jpki_sdk.auth.token import Token, parse_token
from jpki_sdk.auth.types import AuthPurpose, SignatureAlgorithm
from jpki_sdk.errors import VerificationError
from jpki_sdk.verify import (
    CertificateExpiredError,
    CertificateNotYetValidError,
    CertificateParseError,
    CertificateProfileError,
    CertificateSignatureError,
    CertificateVerifier,
    ExtensionMalformedError,
    HashAlgorithmNotAllowedError,
    IdentityAttributeError,
    PathValidationError,
    Purpose,
    RevocationError,
    SignatureInvalidError,
    SubjectError,
    TrustAnchorExpiredError,
    TrustAnchorNotYetValidError,
    UntrustedIssuerError,
    ValidatedCertificate,
)
from jpki_sdk.verify.subject import serial_hex

logger = logging.getLogger(__name__)

_CERT_PURPOSE = {AuthPurpose.LOGIN: Purpose.AUTH, AuthPurpose.IDENTITY: Purpose.SIGN}

TokenInput = Token | str | bytes | bytearray | Mapping[str, Any]


def step_of(error: BaseException) -> VerificationStep | None:
    """The verification step that raised ``error`` (None for a non-verification error)."""
    if isinstance(error, AuthVerificationError):
        return error.step
    if isinstance(error, (CertificateParseError, ExtensionMalformedError)):
        return VerificationStep.CERTIFICATE
    if isinstance(error, (CertificateExpiredError, CertificateNotYetValidError)):
        return VerificationStep.VALIDITY
    if isinstance(
        error,
        (
            UntrustedIssuerError,
            CertificateSignatureError,
            TrustAnchorExpiredError,
            TrustAnchorNotYetValidError,
            PathValidationError,
        ),
    ):
        return VerificationStep.PATH
    if isinstance(error, (CertificateProfileError, SubjectError, IdentityAttributeError)):
        return VerificationStep.PURPOSE
    if isinstance(error, RevocationError):
        return VerificationStep.REVOCATION
    if isinstance(error, (SignatureInvalidError, HashAlgorithmNotAllowedError)):
        return VerificationStep.SIGNATURE
    if isinstance(error, VerificationError):
        return VerificationStep.CERTIFICATE
    return None


class AuthVerifier:
    """Verifies login and identity tokens for one relying party origin.

    - ``origin``: this relying party's web origin (``https://rp.example``); the only origin
      its tokens may sign.
    - ``certificates``: a :class:`~jpki_sdk.verify.CertificateVerifier` (trust store,
      revocation policy, clock). Its clock is the time of every check here, including the
      challenge expiry.
    - ``challenges``: a :class:`~jpki_sdk.auth.challenges.ChallengeStore` shared with
      whatever issues the challenges (usually this verifier's :meth:`issue_challenge`).
    - ``ttl``: challenge time to live (default 5 minutes).
    - ``algorithms``: the token algorithms accepted (default RS256, RS384, RS512).
    """

    def __init__(
        self,
        *,
        origin: str,
        certificates: CertificateVerifier,
        challenges: ChallengeStore,
        ttl: timedelta = DEFAULT_TTL,
        algorithms: Collection[SignatureAlgorithm | str] = tuple(SignatureAlgorithm),
    ) -> None:
        if not isinstance(certificates, CertificateVerifier):
            raise TypeError("certificates must be a jpki_sdk.verify.CertificateVerifier")
        self.origin = normalize_origin(origin)
        self.certificates = certificates
        self.clock = certificates.clock
        self.challenges = ChallengeManager(challenges, ttl=ttl, clock=self.clock)
        allowed = frozenset(SignatureAlgorithm(a) for a in algorithms)
        if not allowed:
            raise ValueError("at least one signature algorithm must be allowed")
        self.algorithms = allowed

    def __repr__(self) -> str:
        return (
            f"AuthVerifier(origin={self.origin!r}, store={self.challenges.store!r}, "
            f"revocation={self.certificates.revocation!r})"
        )

    def for_origin(self, origin: str) -> AuthVerifier:
        """The same verifier (trust, revocation, store, TTL) for another origin."""
        twin = object.__new__(AuthVerifier)
        twin.__dict__.update(self.__dict__)
        twin.origin = normalize_origin(origin)
        return twin

    # -- challenges -------------------------------------------------------------------------

    def issue_challenge(
        self,
        purpose: AuthPurpose | str,
        *,
        session_id: str | None = None,
        ttl: timedelta | None = None,
    ) -> Challenge:
        """Issue a challenge for this origin; send ``challenge.nonce_b64`` to the user's side.

        ``session_id`` (e.g. the RP's pre-login session id) binds the challenge to that
        session: the token is then accepted only with the same ``session_id``.
        """
        return self.challenges.issue(
            AuthPurpose(purpose), self.origin, session_id=session_id, ttl=ttl
        )

    # -- verification -----------------------------------------------------------------------

    def verify_login(self, token: TokenInput, *, session_id: str | None = None) -> LoginResult:
        """Verify a login token (user-authentication certificate)."""
        result = self.verify(token, purpose=AuthPurpose.LOGIN, session_id=session_id)
        assert isinstance(result, LoginResult)
        return result

    def verify_identity(
        self,
        token: TokenInput,
        *,
        attributes: Iterable[str] = (),
        session_id: str | None = None,
    ) -> IdentityResult:
        """Verify an identity token; release only the requested ``attributes``."""
        result = self.verify(
            token, purpose=AuthPurpose.IDENTITY, attributes=attributes, session_id=session_id
        )
        assert isinstance(result, IdentityResult)
        return result

    def verify(
        self,
        token: TokenInput,
        *,
        purpose: AuthPurpose | str | None = None,
        attributes: Iterable[str] = (),
        session_id: str | None = None,
    ) -> LoginResult | IdentityResult:
        """Run the ordered steps (module docstring) and return the result for the token's
        purpose, or raise the one :class:`~jpki_sdk.errors.VerificationError` subclass of the
        first failed step.

        ``purpose``, when given, is the flow the RP is running: a token for the other purpose
        fails at step 1. ``attributes`` is the identity attribute request (ignored for login;
        ``ValueError`` for an unknown name, checked before anything else).
        """
        requested = parse_attribute_request(attributes)
        expected = None if purpose is None else AuthPurpose(purpose)
        at = self.clock.now()
        try:
            # 1. token shape and sizes, algorithm, purpose
            parsed = token if isinstance(token, Token) else parse_token(token)
            if parsed.algorithm not in self.algorithms:
                raise UnsupportedAlgorithmError(
                    f"algorithm {parsed.algorithm.value} is not accepted by this relying party",
                    field="algorithm",
                )
            if expected is not None and parsed.purpose is not expected:
                raise PurposeMismatchError(
                    f"a {expected.value} token is required, this one is for {parsed.purpose.value}"
                )
            # 2-6. certificate parse, profile, path, validity, revocation
            validated = self.certificates.verify(
                parsed.certificate, _CERT_PURPOSE[parsed.purpose], at=at
            )
            # 7. signature over M with this RP's own origin
            message = auth_message(self.origin, parsed.nonce)
            self.certificates.verify_signature(
                validated, message, parsed.signature, parsed.algorithm.hash_name
            )
            # Everything the result needs is computed before the challenge is consumed.
            result = self._result(parsed.purpose, validated, requested, at)
            # 8. the challenge, consumed atomically, last
            self.challenges.redeem(
                parsed.nonce,
                purpose=parsed.purpose,
                origin=self.origin,
                session_id=session_id,
                at=at,
            )
        except VerificationError as exc:
            logger.info(
                "token refused at step %s: %s",
                (step_of(exc) or VerificationStep.TOKEN).value,
                error_code(exc),
            )
            raise
        logger.debug(
            "%s verified: serial %s, root %s%s, revocation %s/%s",
            result.purpose.value,
            result.certificate.serial,
            result.certificate.issuer,
            " (TEST)" if result.certificate.test_root else "",
            result.revocation.status,
            result.revocation.mode,
        )
        return result

    def _result(
        self,
        purpose: AuthPurpose,
        validated: ValidatedCertificate,
        requested: tuple[str, ...],
        at: datetime,
    ) -> LoginResult | IdentityResult:
        anchor = validated.anchor
        certificate = CertificateSummary(
            serial=serial_hex(validated.serial),
            issuer=anchor.name,
            issuer_generation=anchor.generation,
            test_root=validated.is_test_root,
            not_before=validated.not_before,
            not_after=validated.not_after,
        )
        revocation = RevocationSummary(
            mode=validated.revocation.mode.value,
            status=validated.revocation.status.value,
            source=validated.revocation.source,
        )
        if purpose is AuthPurpose.LOGIN:
            subject = validated.subject
            if subject is None:  # CertificateVerifier always sets it for AUTH
                raise SubjectError("the verified certificate has no login subject")
            return LoginResult(
                subject_key=subject.key,
                cn=subject.cn,
                municipality_code=subject.municipality_code,
                certificate=certificate,
                revocation=revocation,
                origin=self.origin,
                verified_at=at,
            )
        identity = validated.identity
        if identity is None:  # CertificateVerifier always sets it for SIGN
            raise IdentityAttributeError(
                "the verified certificate has no identity", attribute="subjectAltName"
            )
        today = japan_date(at)
        values: dict[str, AttributeValue] = {}
        for name in requested:
            if name.startswith("age_over_"):
                values[name] = identity.is_at_least(int(name[len("age_over_") :]), today)
            elif name == "birth_date":
                values[name] = identity.birth_date.isoformat()
            elif name == "sex":
                values[name] = identity.sex.value
            else:
                values[name] = str(getattr(identity, name))
        return IdentityResult(
            certificate=certificate,
            revocation=revocation,
            origin=self.origin,
            verified_at=at,
            attributes=values,
        )


__all__ = ["AuthVerifier", "TokenInput", "step_of"]
