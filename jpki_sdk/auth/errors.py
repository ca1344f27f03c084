"""Errors of the login protocol, each with a stable machine-readable ``code``.

The verifier runs its checks in a fixed order (see :mod:`jpki_sdk.auth.verifier`) and raises
exactly one error per failed step. Errors from the certificate checks (parse, profile, path,
validity, revocation, signature) come from :mod:`jpki_sdk.verify` and carry their own stable
``code``; :func:`error_code` reads the code of any of them, so an HTTP service or a log line
can report a failure without matching on class names.

Exception text never contains a PIN, a nonce, a session id or personal data.
"""

from __future__ import annotations

import enum
import re
from typing import ClassVar

from jpki_sdk.errors import JpkiError, VerificationError


class VerificationStep(str, enum.Enum):
    """The ordered steps of token verification (the order is the enum order)."""

    TOKEN = "token"  # noqa: S105 - a step name, not a secret
    CERTIFICATE = "certificate"
    PURPOSE = "purpose"
    PATH = "path"
    VALIDITY = "validity"
    REVOCATION = "revocation"
    SIGNATURE = "signature"
    CHALLENGE = "challenge"


class AuthVerificationError(VerificationError):
    """A token was refused by a step owned by :mod:`jpki_sdk.auth`."""

    code: ClassVar[str] = "verification_failed"
    step: ClassVar[VerificationStep] = VerificationStep.TOKEN


# -- step 1: token shape and sizes -------------------------------------------------------------


class MalformedTokenError(AuthVerificationError):
    """The token is not a well-formed v1 token (JSON shape, field types, encodings, sizes).

    ``field`` names the offending field when there is one (``None`` for the whole token).
    """

    code = "malformed_token"
    step = VerificationStep.TOKEN

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class TokenTooLargeError(MalformedTokenError):
    """The token, or one of its fields, is larger than the bounds of the format."""

    code = "token_too_large"


class UnsupportedTokenFormatError(MalformedTokenError):
    """The ``format`` field names a token format this verifier does not implement."""

    code = "unsupported_token_format"


class UnsupportedAlgorithmError(MalformedTokenError):
    """The ``algorithm`` is not one of RS256, RS384, RS512 or not allowed by this verifier."""

    code = "unsupported_algorithm"


class PurposeMismatchError(AuthVerificationError):
    """The token's purpose is not the one the relying party asked to verify."""

    code = "purpose_mismatch"
    step = VerificationStep.PURPOSE


# -- step 8: the challenge ---------------------------------------------------------------------


class ChallengeError(AuthVerificationError):
    """The token's nonce is not a challenge this relying party may accept now."""

    code = "challenge_invalid"
    step = VerificationStep.CHALLENGE


class ChallengeUnknownError(ChallengeError):
    """No challenge with this nonce was issued (or it was purged long after expiry)."""

    code = "challenge_unknown"


class ChallengeExpiredError(ChallengeError):
    """The challenge was issued but its time to live has passed. It is now consumed."""

    code = "challenge_expired"


class ChallengeReplayedError(ChallengeError):
    """The challenge was already consumed: this token (or another one) used it before."""

    code = "challenge_replayed"


class ChallengeMismatchError(ChallengeError):
    """The challenge was issued for another purpose, origin or session. It is now consumed.

    ``binding`` is ``"purpose"``, ``"origin"`` or ``"session"``.
    """

    code = "challenge_mismatch"

    def __init__(self, message: str, *, binding: str) -> None:
        super().__init__(message)
        self.binding = binding


# -- infrastructure ----------------------------------------------------------------------------


class ChallengeStoreError(JpkiError):
    """The challenge store could not be reached or answered something unusable.

    Not a verification failure: the token was neither accepted nor refused, and the
    challenge was not consumed unless the store says so.
    """

    code: ClassVar[str] = "challenge_store_unavailable"


# -- stable codes for every verification error -------------------------------------------------

_CAMEL = re.compile(r"(?<!^)(?=[A-Z])")


def error_code(error: BaseException) -> str:
    """The stable code of a verification failure.

    Errors that define a ``code`` class attribute use it. Other ``VerificationError``
    subclasses get the snake_case of their class name without the ``Error`` suffix
    (``CertificateRevokedError`` -> ``certificate_revoked``), which is stable as long as the
    class keeps its name. Anything else is ``internal_error``.
    """
    code = getattr(error, "code", None)
    if isinstance(code, str) and code:
        return code
    if isinstance(error, VerificationError):
        name = type(error).__name__
        if name.endswith("Error"):
            name = name[: -len("Error")]
        return _CAMEL.sub("_", name).lower()
    return "internal_error"


__all__ = [
    "AuthVerificationError",
    "ChallengeError",
    "ChallengeExpiredError",
    "ChallengeMismatchError",
    "ChallengeReplayedError",
    "ChallengeStoreError",
    "ChallengeUnknownError",
    "MalformedTokenError",
    "PurposeMismatchError",
    "TokenTooLargeError",
    "UnsupportedAlgorithmError",
    "UnsupportedTokenFormatError",
    "VerificationStep",
    "error_code",
]
