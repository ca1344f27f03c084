"""OCSP client (RFC 6960) as a revocation source.

Every response is checked before it is believed:

- HTTP: POST ``application/ocsp-request`` to the configured responder or the certificate's
  AIA OCSP URL (http/https only), with an overall timeout and a response size cap;
- structure: a DER OCSPResponse with status ``successful`` and a BasicOCSPResponse;
- signer: the issuing CA itself, or a *delegated* responder whose certificate is in the
  response, was issued (and signed) by that same CA, carries EKU OCSPSigning and is valid at
  the response's producedAt; the signature over the exact ResponseData bytes must verify;
- nonce: the response echoes the request's random nonce (a missing nonce is refused unless
  ``require_nonce=False``);
- CertID: a SingleResponse for exactly this serial, issuer name hash and issuer key hash;
- freshness: thisUpdate not in the future (clock skew allowed), nextUpdate + grace not passed
  (without nextUpdate, thisUpdate no older than ``max_age``).

Good/revoked answers are cached per CertID until their nextUpdate. Each failure raises its own
:class:`~jpki_sdk.verify.revocation.errors.OcspError` subclass; the policy records it as an
UNKNOWN attempt and asks the next source.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Protocol

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtendedKeyUsageOID

from jpki_sdk.verify.revocation._http import HttpFailureError, http_exchange
from jpki_sdk.verify.revocation._sig import UnsupportedSignatureError, signature_ok
from jpki_sdk.verify.revocation.errors import (
    OcspCertIdMismatchError,
    OcspError,
    OcspFetchError,
    OcspFormatError,
    OcspNonceError,
    OcspResponderError,
    OcspResponderUnauthorizedError,
    OcspSignatureError,
    OcspStaleError,
)
from jpki_sdk.verify.revocation.types import RevocationAnswer, RevocationStatus

__all__ = ["OcspResponseInfo", "OcspSource", "ocsp_urls", "validate_ocsp_response"]

logger = logging.getLogger(__name__)

UTC = dt.timezone.utc
CONTENT_TYPE_REQUEST = "application/ocsp-request"
CONTENT_TYPE_RESPONSE = "application/ocsp-response"
_PSS_OID = x509.ObjectIdentifier("1.2.840.113549.1.1.10")


class _ClockLike(Protocol):
    def now(self) -> dt.datetime: ...


class _SystemClock:
    def now(self) -> dt.datetime:
        return dt.datetime.now(UTC)


def ocsp_urls(cert: x509.Certificate) -> list[str]:
    """The http(s) OCSP URLs in ``cert``'s authorityInfoAccess, in order."""
    try:
        aia = cert.extensions.get_extension_for_class(x509.AuthorityInformationAccess).value
    except x509.ExtensionNotFound:
        return []
    urls = []
    for desc in aia:
        if desc.access_method == AuthorityInformationAccessOID.OCSP and isinstance(
            desc.access_location, x509.UniformResourceIdentifier
        ):
            url = desc.access_location.value
            if url.lower().startswith(("http://", "https://")):
                urls.append(url)
    return urls


@dataclass(frozen=True)
class OcspResponseInfo:
    """The checked facts of one response about one certificate."""

    status: ocsp.OCSPCertStatus
    this_update: dt.datetime
    next_update: dt.datetime | None
    revoked_at: dt.datetime | None
    reason: str | None
    signer: str  # "issuer" or "delegated:<subject>"
    url: str | None


def _key_hash(cert: x509.Certificate) -> bytes:
    """SHA-1 of the subjectPublicKey BIT STRING value (RFC 6960 KeyHash; RFC 5280 method 1)."""
    return x509.SubjectKeyIdentifier.from_public_key(cert.public_key()).digest  # type: ignore[arg-type,unused-ignore]


def _signed_by(response: ocsp.OCSPResponse, signer: x509.Certificate, url: str | None) -> bool:
    if response.signature_algorithm_oid == _PSS_OID:
        raise OcspFormatError("RSASSA-PSS OCSP signatures are not supported", url=url)
    try:
        hash_alg = response.signature_hash_algorithm
    except UnsupportedAlgorithm as exc:
        raise OcspFormatError(f"unsupported signature algorithm: {exc}", url=url) from None
    try:
        return signature_ok(
            signer.public_key(), response.signature, response.tbs_response_bytes, hash_alg, None
        )
    except UnsupportedSignatureError as exc:
        raise OcspSignatureError(f"signature refused: {exc}", url=url) from None
    except (ValueError, TypeError):
        return False


def _matches_responder_id(response: ocsp.OCSPResponse, cert: x509.Certificate) -> bool:
    if response.responder_key_hash is not None:
        return response.responder_key_hash == _key_hash(cert)
    return response.responder_name == cert.subject


def _authorize_delegate(
    candidate: x509.Certificate, issuer: x509.Certificate, produced_at: dt.datetime
) -> str | None:
    """Why ``candidate`` may not sign for ``issuer`` (None when it may)."""
    if candidate.issuer != issuer.subject:
        return "responder certificate not issued by the certificate's issuer"
    try:
        candidate.verify_directly_issued_by(issuer)
    except (InvalidSignature, ValueError, TypeError, UnsupportedAlgorithm):
        return "responder certificate not signed by the certificate's issuer"
    try:
        eku = candidate.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except x509.ExtensionNotFound:
        return "responder certificate lacks EKU OCSPSigning"
    except ValueError:
        return "responder certificate has a malformed extension"
    if ExtendedKeyUsageOID.OCSP_SIGNING not in eku:
        return "responder certificate lacks EKU OCSPSigning"
    try:
        ku = candidate.extensions.get_extension_for_class(x509.KeyUsage).value
        if not ku.digital_signature:
            return "responder certificate key usage excludes digitalSignature"
    except x509.ExtensionNotFound:
        pass
    if not candidate.not_valid_before_utc <= produced_at <= candidate.not_valid_after_utc:
        return "responder certificate not valid at producedAt"
    return None


def validate_ocsp_response(
    der: bytes,
    *,
    cert: x509.Certificate,
    issuer: x509.Certificate,
    request: ocsp.OCSPRequest,
    nonce: bytes | None,
    now: dt.datetime,
    require_nonce: bool = True,
    grace: dt.timedelta = dt.timedelta(0),
    clock_skew: dt.timedelta = dt.timedelta(minutes=5),
    max_age: dt.timedelta = dt.timedelta(hours=1),
    url: str | None = None,
) -> OcspResponseInfo:
    """Check a DER OCSPResponse for ``cert``; raise the matching OcspError on any failure."""
    try:
        return _validate(
            der,
            cert=cert,
            issuer=issuer,
            request=request,
            nonce=nonce,
            now=now,
            require_nonce=require_nonce,
            grace=grace,
            clock_skew=clock_skew,
            max_age=max_age,
            url=url,
        )
    except OcspError:
        raise
    except (ValueError, TypeError, UnsupportedAlgorithm, x509.InvalidVersion) as exc:
        # cryptography decodes some fields lazily (embedded certificates, extensions, times)
        raise OcspFormatError(f"malformed OCSP response: {exc}", url=url) from None


def _validate(  # the defaults live on validate_ocsp_response only
    der: bytes,
    *,
    cert: x509.Certificate,
    issuer: x509.Certificate,
    request: ocsp.OCSPRequest,
    nonce: bytes | None,
    now: dt.datetime,
    require_nonce: bool,
    grace: dt.timedelta,
    clock_skew: dt.timedelta,
    max_age: dt.timedelta,
    url: str | None,
) -> OcspResponseInfo:
    try:
        response = ocsp.load_der_ocsp_response(der)
    except ValueError as exc:
        raise OcspFormatError(f"not a DER OCSPResponse: {exc}", url=url) from None
    if response.response_status is not ocsp.OCSPResponseStatus.SUCCESSFUL:
        status = response.response_status.name.lower()
        raise OcspResponderError(f"responder answered {status}", status=status, url=url)
    try:
        produced_at = response.produced_at_utc
        extensions = response.extensions
        certificates = response.certificates
        singles = list(response.responses)
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise OcspFormatError(f"malformed BasicOCSPResponse: {exc}", url=url) from None

    # -- who signed it
    signer_label: str | None = None
    if _matches_responder_id(response, issuer):
        if not _signed_by(response, issuer, url):
            raise OcspSignatureError("response signature does not verify with the CA key", url=url)
        signer_label = "issuer"
    else:
        reasons: list[str] = []
        for candidate in certificates:
            if not _matches_responder_id(response, candidate):
                continue
            problem = _authorize_delegate(candidate, issuer, produced_at)
            if problem is not None:
                reasons.append(problem)
                continue
            if not _signed_by(response, candidate, url):
                raise OcspSignatureError(
                    "response signature does not verify with the delegated responder key",
                    url=url,
                )
            signer_label = f"delegated:{candidate.subject.rfc4514_string()}"
            break
        if signer_label is None:
            why = "; ".join(reasons) or "signer is neither the CA nor an included certificate"
            raise OcspResponderUnauthorizedError(f"unauthorized responder: {why}", url=url)

    # -- nonce
    try:
        got = extensions.get_extension_for_class(x509.OCSPNonce).value.nonce
    except x509.ExtensionNotFound:
        got = None
    if nonce is not None:
        if got is None:
            if require_nonce:
                raise OcspNonceError("response carries no nonce", url=url)
        elif got != nonce:
            raise OcspNonceError("response nonce differs from the request's", url=url)

    # -- the SingleResponse for this certificate
    single = None
    for candidate_single in singles:
        if (
            candidate_single.serial_number == request.serial_number
            and candidate_single.issuer_key_hash == request.issuer_key_hash
            and candidate_single.issuer_name_hash == request.issuer_name_hash
            and isinstance(candidate_single.hash_algorithm, type(request.hash_algorithm))
        ):
            single = candidate_single
            break
    if single is None:
        raise OcspCertIdMismatchError(
            f"no SingleResponse for serial {cert.serial_number:x} of this issuer", url=url
        )

    # -- freshness
    this_update = single.this_update_utc
    next_update = single.next_update_utc
    if this_update > now + clock_skew:
        raise OcspStaleError(f"thisUpdate {this_update.isoformat()} is in the future", url=url)
    if next_update is not None:
        if next_update < this_update:
            raise OcspFormatError("nextUpdate precedes thisUpdate", url=url)
        if now > next_update + grace:
            raise OcspStaleError(f"nextUpdate {next_update.isoformat()} has passed", url=url)
    elif now - this_update > max_age:
        raise OcspStaleError(
            f"thisUpdate {this_update.isoformat()} is older than {max_age} (no nextUpdate)",
            url=url,
        )

    revoked_at = reason = None
    if single.certificate_status is ocsp.OCSPCertStatus.REVOKED:
        revoked_at = single.revocation_time_utc
        flag = single.revocation_reason
        reason = flag.value if flag is not None else "unspecified"
    return OcspResponseInfo(
        status=single.certificate_status,
        this_update=this_update,
        next_update=next_update,
        revoked_at=revoked_at,
        reason=reason,
        signer=signer_label,
        url=url,
    )


class OcspSource:
    """A :class:`~jpki_sdk.verify.revocation.RevocationSource` asking an OCSP responder.

    ``url`` is a configured responder (used for every certificate); without it the
    certificate's AIA OCSP URL is used (``use_aia``), and a certificate with neither gets an
    UNKNOWN answer ("no OCSP URL"). ``hash_algorithm`` is the CertID hash (SHA-1 by default, as
    RFC 5019 responders expect; it is an identifier, not a signature).
    """

    def __init__(
        self,
        url: str | None = None,
        *,
        use_aia: bool = True,
        name: str = "ocsp",
        timeout: float = 10.0,
        max_response_bytes: int = 1 << 20,
        require_nonce: bool = True,
        nonce_size: int = 32,
        grace: dt.timedelta = dt.timedelta(0),
        clock_skew: dt.timedelta = dt.timedelta(minutes=5),
        max_age: dt.timedelta = dt.timedelta(hours=1),
        hash_algorithm: hashes.HashAlgorithm | None = None,
        cache_size: int = 100_000,
        clock: _ClockLike | None = None,
    ) -> None:
        if url is not None and not url.lower().startswith(("http://", "https://")):
            raise ValueError("the OCSP responder URL must be http:// or https://")
        if not 1 <= nonce_size <= 32:
            raise ValueError("nonce_size must be 1..32 bytes (RFC 8954)")
        if timeout <= 0 or max_response_bytes <= 0 or cache_size < 0:
            raise ValueError("timeout, max_response_bytes must be positive; cache_size >= 0")
        self._url = url
        self._use_aia = use_aia
        self._name = name
        self._timeout = timeout
        self._max_bytes = max_response_bytes
        self._require_nonce = require_nonce
        self._nonce_size = nonce_size
        self.grace = grace
        self.clock_skew = clock_skew
        self.max_age = max_age
        self._hash = hash_algorithm or hashes.SHA1()  # noqa: S303 - CertID identifier only
        self._cache: OrderedDict[tuple[bytes, int], OcspResponseInfo] = OrderedDict()
        self._cache_size = cache_size
        self._lock = threading.Lock()
        self._clock: _ClockLike = clock or _SystemClock()
        self.requests_sent = 0

    @property
    def name(self) -> str:
        return self._name

    def __repr__(self) -> str:
        where = self._url or ("certificate AIA" if self._use_aia else "nowhere")
        return f"OcspSource(name={self._name!r}, url={where!r})"

    def clear_cache(self) -> None:
        with self._lock:
            self._cache.clear()

    def responder_url(self, cert: x509.Certificate) -> str | None:
        if self._url is not None:
            return self._url
        if self._use_aia:
            urls = ocsp_urls(cert)
            return urls[0] if urls else None
        return None

    def check(
        self, cert: x509.Certificate, issuer: x509.Certificate, at: dt.datetime
    ) -> RevocationAnswer:
        url = self.responder_url(cert)
        if url is None:
            return RevocationAnswer(
                RevocationStatus.UNKNOWN, self._name, detail="no OCSP URL for this certificate"
            )
        now = self._clock.now()
        info = self._cached(cert, issuer, now)
        cached = info is not None
        if info is None:
            info = self.query(cert, issuer, url=url, now=now)
            self._store(cert, issuer, info)
        return self._answer(info, at, cached)

    def query(
        self,
        cert: x509.Certificate,
        issuer: x509.Certificate,
        *,
        url: str,
        now: dt.datetime | None = None,
    ) -> OcspResponseInfo:
        """One request/response round trip, fully checked (no cache)."""
        try:
            builder = ocsp.OCSPRequestBuilder().add_certificate(cert, issuer, self._hash)
        except (ValueError, TypeError) as exc:
            raise OcspFormatError(f"cannot build a request: {exc}", url=url) from None
        nonce = os.urandom(self._nonce_size)
        request = builder.add_extension(x509.OCSPNonce(nonce), critical=False).build()
        body = request.public_bytes(serialization.Encoding.DER)
        try:
            response = http_exchange(
                url,
                data=body,
                headers={
                    "Content-Type": CONTENT_TYPE_REQUEST,
                    "Accept": CONTENT_TYPE_RESPONSE,
                },
                timeout=self._timeout,
                max_bytes=self._max_bytes,
            )
        except HttpFailureError as exc:
            raise OcspFetchError(f"OCSP request failed: {exc}", url=url) from None
        finally:
            with self._lock:
                self.requests_sent += 1
        if response.content_type and response.content_type != CONTENT_TYPE_RESPONSE:
            raise OcspFormatError(
                f"responder answered Content-Type {response.content_type!r}", url=url
            )
        info = validate_ocsp_response(
            response.body,
            cert=cert,
            issuer=issuer,
            request=request,
            nonce=nonce,
            now=now or self._clock.now(),
            require_nonce=self._require_nonce,
            grace=self.grace,
            clock_skew=self.clock_skew,
            max_age=self.max_age,
            url=url,
        )
        logger.debug(
            "OCSP %s serial %x: %s (signer %s)",
            url,
            cert.serial_number,
            info.status.name.lower(),
            info.signer,
        )
        return info

    # ------------------------------------------------------------------ cache

    @staticmethod
    def _key(cert: x509.Certificate, issuer: x509.Certificate) -> tuple[bytes, int]:
        return (_key_hash(issuer), cert.serial_number)

    def _cached(
        self, cert: x509.Certificate, issuer: x509.Certificate, now: dt.datetime
    ) -> OcspResponseInfo | None:
        if not self._cache_size:
            return None
        key = self._key(cert, issuer)
        with self._lock:
            info = self._cache.get(key)
            if info is None:
                return None
            if info.next_update is None or now > info.next_update:
                del self._cache[key]
                return None
            self._cache.move_to_end(key)
            return info

    def _store(
        self, cert: x509.Certificate, issuer: x509.Certificate, info: OcspResponseInfo
    ) -> None:
        if not self._cache_size or info.next_update is None:
            return
        if info.status is ocsp.OCSPCertStatus.UNKNOWN:
            return
        key = self._key(cert, issuer)
        with self._lock:
            self._cache[key] = info
            self._cache.move_to_end(key)
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)

    def _answer(self, info: OcspResponseInfo, at: dt.datetime, cached: bool) -> RevocationAnswer:
        where = f"{info.url} ({info.signer}{', cached' if cached else ''})"
        if info.status is ocsp.OCSPCertStatus.UNKNOWN:
            return RevocationAnswer(
                RevocationStatus.UNKNOWN,
                self._name,
                this_update=info.this_update,
                next_update=info.next_update,
                detail=f"responder does not know this certificate: {where}",
            )
        if info.status is ocsp.OCSPCertStatus.REVOKED:
            assert info.revoked_at is not None
            if info.revoked_at > at:
                return RevocationAnswer(
                    RevocationStatus.GOOD,
                    self._name,
                    this_update=info.this_update,
                    next_update=info.next_update,
                    detail=f"{where}: revoked later, at {info.revoked_at.isoformat()}",
                )
            return RevocationAnswer(
                RevocationStatus.REVOKED,
                self._name,
                reason=info.reason,
                revoked_at=info.revoked_at,
                this_update=info.this_update,
                next_update=info.next_update,
                detail=where,
            )
        return RevocationAnswer(
            RevocationStatus.GOOD,
            self._name,
            this_update=info.this_update,
            next_update=info.next_update,
            detail=where,
        )
