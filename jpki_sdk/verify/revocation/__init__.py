"""Revocation checking for JPKI certificates at national scale.

One policy (:class:`RevocationPolicy`: ``require`` by default, ``soft-fail``, ``off``) asks
sources in order through one protocol (:class:`RevocationSource`):

- :class:`CrlSource` over a :class:`CrlIndex`: signed, fresh, per-municipality CRL partitions
  kept in a compact on-disk index (ingest once, reload in milliseconds, atomic updates);
- :class:`OcspSource`: RFC 6960 requests with a nonce, responder authorization checked;
- :class:`PlatformOperatorSource`: an example of the extension point for a platform operator's
  API (any object with ``name`` and ``check(cert, issuer, at)`` works).

Every result names the mode used and the source that answered. This package imports nothing
from ``apdu`` or pyscard.
"""

from __future__ import annotations

from jpki_sdk.verify.revocation.crl_index import (
    INDEX_ENV,
    CrlIndex,
    CrlPartition,
    IngestReport,
    PartitionInfo,
    PartitionStatus,
    RefreshReport,
    default_index_directory,
)
from jpki_sdk.verify.revocation.crl_parse import RevokedEntry
from jpki_sdk.verify.revocation.crl_source import (
    CrlSource,
    IngestOutcome,
    fetch_url,
    ingest_sources,
    read_crl_inputs,
)
from jpki_sdk.verify.revocation.errors import (
    CertificateRevokedError,
    CrlError,
    CrlFetchError,
    CrlFormatError,
    CrlIndexCorruptError,
    CrlIssuerUnknownError,
    CrlNotYetValidError,
    CrlNumberConflictError,
    CrlNumberRegressionError,
    CrlSignatureError,
    CrlStaleError,
    CrlUnsupportedError,
    OcspCertIdMismatchError,
    OcspError,
    OcspFetchError,
    OcspFormatError,
    OcspNonceError,
    OcspResponderError,
    OcspResponderUnauthorizedError,
    OcspSignatureError,
    OcspStaleError,
    PlatformSourceError,
    RevocationError,
    RevocationUnavailableError,
)
from jpki_sdk.verify.revocation.ocsp import OcspResponseInfo, OcspSource, validate_ocsp_response
from jpki_sdk.verify.revocation.platform import PlatformOperatorSource
from jpki_sdk.verify.revocation.policy import RevocationPolicy
from jpki_sdk.verify.revocation.types import (
    RevocationAnswer,
    RevocationMode,
    RevocationResult,
    RevocationSource,
    RevocationStatus,
)

__all__ = [
    "INDEX_ENV",
    "CertificateRevokedError",
    "CrlError",
    "CrlFetchError",
    "CrlFormatError",
    "CrlIndex",
    "CrlIndexCorruptError",
    "CrlIssuerUnknownError",
    "CrlNotYetValidError",
    "CrlNumberConflictError",
    "CrlNumberRegressionError",
    "CrlPartition",
    "CrlSignatureError",
    "CrlSource",
    "CrlStaleError",
    "CrlUnsupportedError",
    "IngestOutcome",
    "IngestReport",
    "OcspCertIdMismatchError",
    "OcspError",
    "OcspFetchError",
    "OcspFormatError",
    "OcspNonceError",
    "OcspResponderError",
    "OcspResponderUnauthorizedError",
    "OcspResponseInfo",
    "OcspSignatureError",
    "OcspSource",
    "OcspStaleError",
    "PartitionInfo",
    "PartitionStatus",
    "PlatformOperatorSource",
    "PlatformSourceError",
    "RefreshReport",
    "RevocationAnswer",
    "RevocationError",
    "RevocationMode",
    "RevocationPolicy",
    "RevocationResult",
    "RevocationSource",
    "RevocationStatus",
    "RevocationUnavailableError",
    "RevokedEntry",
    "default_index_directory",
    "fetch_url",
    "ingest_sources",
    "read_crl_inputs",
    "validate_ocsp_response",
]
