"""The one error tree of the SDK, rooted at :class:`JpkiError`.

Every failure the SDK reports is a subclass, with its data on the exception
(``PinIncorrectError.remaining``, ``CardError.sw``). ``ValueError``/``TypeError`` are kept
for wrong arguments from the caller. Exception text never contains a PIN, and personal data
only in masked form.

Sub-trees live next to the code that raises them (card, verify, auth, server) and all derive
from the classes below.
"""

from __future__ import annotations


class JpkiError(Exception):
    """Root of every error raised by jpki_sdk."""


class CardCommunicationError(JpkiError):
    """The card or reader could not be reached, or answered something unusable."""


class CardOperationError(JpkiError):
    """The card refused an operation (a status word other than success)."""


class PinError(JpkiError):
    """A PIN or password problem. Never carries the PIN itself."""


class VerificationError(JpkiError):
    """Server-side verification failed: certificate, revocation, signature or token."""


class ConfigurationError(JpkiError):
    """The SDK or service was configured wrongly; raised at start-up, not per request."""
