"""jpki-sdk: log in and verify identity with Japan's My Number card (JPKI).

Public API. Sub-packages:

- :mod:`jpki_sdk.card`: the card session over any reader or the simulator.
- :mod:`jpki_sdk.verify`: server-side verification (imports nothing from the transport side).
- :mod:`jpki_sdk.auth`: challenge-response login and identity verification.
- :mod:`jpki_sdk.server`: the HTTP service (optional extra ``server``).
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from jpki_sdk.errors import (
    CardCommunicationError,
    CardOperationError,
    ConfigurationError,
    JpkiError,
    PinError,
    VerificationError,
)

try:
    __version__ = version("jpki-sdk")
except PackageNotFoundError:  # pragma: no cover - running from a source tree without install
    __version__ = "0.0.0+unknown"

__all__ = [
    "CardCommunicationError",
    "CardOperationError",
    "ConfigurationError",
    "JpkiError",
    "PinError",
    "VerificationError",
    "__version__",
]
