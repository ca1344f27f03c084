"""Challenge-response login and identity verification with My Number card (JPKI).

The relying party (RP) side lives here and never imports the card stack: challenges and their
stores, the token format v1, the signed message, and the ordered verifier. The user's side,
which drives a card, is :mod:`jpki_sdk.auth.client` (``sign_challenge``): import it from there,
it is deliberately not re-exported so that importing :mod:`jpki_sdk.auth` on a server never
loads the card client.
"""

from __future__ import annotations

from jpki_sdk.auth.challenges import (
    DEFAULT_TTL,
    Challenge,
    ChallengeManager,
    ChallengeStore,
    ConsumeResult,
    ConsumeStatus,
)
from jpki_sdk.auth.errors import (
    AuthVerificationError,
    ChallengeError,
    ChallengeExpiredError,
    ChallengeMismatchError,
    ChallengeReplayedError,
    ChallengeStoreError,
    ChallengeUnknownError,
    MalformedTokenError,
    PurposeMismatchError,
    TokenTooLargeError,
    UnsupportedAlgorithmError,
    UnsupportedTokenFormatError,
    VerificationStep,
    error_code,
)
from jpki_sdk.auth.message import auth_message, normalize_origin
from jpki_sdk.auth.results import (
    CertificateSummary,
    IdentityResult,
    LoginResult,
    RevocationSummary,
    parse_attribute_request,
)
from jpki_sdk.auth.stores import (
    MemoryChallengeStore,
    SqliteChallengeStore,
    open_store,
)
from jpki_sdk.auth.token import TOKEN_FORMAT_V1, Token, parse_token
from jpki_sdk.auth.types import NONCE_SIZE, AuthPurpose, SignatureAlgorithm
from jpki_sdk.auth.verifier import AuthVerifier, step_of

__all__ = [
    "DEFAULT_TTL",
    "NONCE_SIZE",
    "TOKEN_FORMAT_V1",
    "AuthPurpose",
    "AuthVerificationError",
    "AuthVerifier",
    "CertificateSummary",
    "Challenge",
    "ChallengeError",
    "ChallengeExpiredError",
    "ChallengeManager",
    "ChallengeMismatchError",
    "ChallengeReplayedError",
    "ChallengeStore",
    "ChallengeStoreError",
    "ChallengeUnknownError",
    "ConsumeResult",
    "ConsumeStatus",
    "IdentityResult",
    "LoginResult",
    "MalformedTokenError",
    "MemoryChallengeStore",
    "PurposeMismatchError",
    "RevocationSummary",
    "SignatureAlgorithm",
    "SqliteChallengeStore",
    "Token",
    "TokenTooLargeError",
    "UnsupportedAlgorithmError",
    "UnsupportedTokenFormatError",
    "VerificationStep",
    "auth_message",
    "error_code",
    "normalize_origin",
    "open_store",
    "parse_attribute_request",
    "parse_token",
    "step_of",
]
