"""JPKI certificate profiles per purpose, checked strictly (spec §5.2, §5.3).

- :attr:`Purpose.AUTH` (利用者証明用): critical keyUsage digitalSignature only, extKeyUsage
  clientAuth only, critical certificatePolicies ``1.2.392.200149.8.5.1.3.30``.
- :attr:`Purpose.SIGN` (署名用): critical keyUsage digitalSignature + nonRepudiation, no
  extKeyUsage, a subjectAltName (the identity attributes), critical certificatePolicies
  ``1.2.392.200149.8.5.1.1.20``; the JPKI-TEST policy ``1.2.392.200149.8.5.1.0.20`` only for a
  certificate under an explicitly trusted test root.

Both: RSA 2048..8192 bits, signature sha256/384/512WithRSAEncryption (sha1WithRSAEncryption only
when explicitly allowed), no critical extension other than keyUsage, extKeyUsage,
certificatePolicies, basicConstraints and subjectAltName, and not a CA. A certificate of the
other kind for the purpose is :class:`WrongCertificateKindError`.

:class:`CertificateFacts` reads the few fields these checks need straight from the DER (a
strict TLV walk) instead of ``Certificate.extensions`` (which builds Python objects for every
name in every extension, ~160 us): verification runs at national scale. Certificates of one
kind, root and municipality share every extension but the subjectKeyIdentifier, so the walk is
memoized by exact bytes: each shared extension, the extension block before a trailing 20-octet
SKI, the decoding of an extension set, and the extension-profile verdict of a set per
(purpose, test root). Memo keys are the exact bytes (or the decoded values) a check reads, so a
hit decides exactly as a fresh walk would; the per-certificate checks (key, signature
algorithm, validity, issuer, path, revocation) are never memoized. The authority is still
cryptography's path validator, whose extension policy re-checks presence and criticality on
its own parse (see :mod:`jpki_sdk.verify.path`).
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import NamedTuple, TypeVar

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric import rsa

from jpki_sdk.verify.errors import (
    BasicConstraintsError,
    CertificateParseError,
    CertificatePolicyError,
    ExtendedKeyUsageError,
    ExtensionMalformedError,
    KeyUsageError,
    MissingExtensionError,
    SerialNumberError,
    SignatureAlgorithmNotAllowedError,
    TestPolicyNotAllowedError,
    UnknownCriticalExtensionError,
    UnsupportedKeyError,
    WeakKeyError,
    WrongCertificateKindError,
)

__all__ = [
    "ALLOWED_CRITICAL_EXTENSIONS",
    "EKU_CLIENT_AUTH",
    "MAX_RSA_BITS",
    "MIN_RSA_BITS",
    "POLICY_AUTH",
    "POLICY_SIGN",
    "POLICY_SIGN_TEST",
    "CertificateFacts",
    "Profile",
    "Purpose",
    "RawExtension",
    "check_der",
    "check_profile",
    "classify",
    "profile_for",
]

logger = logging.getLogger(__name__)

_T = TypeVar("_T")


class Purpose(str, enum.Enum):
    """What a certificate is used for; also names the root hierarchy that serves it."""

    AUTH = "auth"
    SIGN = "sign"

    @classmethod
    def parse(cls, value: Purpose | str) -> Purpose:
        """Accept a member or its value (``"auth"``/``"sign"``, case-insensitive)."""
        if isinstance(value, Purpose):
            return value
        if isinstance(value, str):
            normalized = value.strip().lower()
            for member in cls:
                if member.value == normalized:
                    return member
            raise ValueError(f"unknown purpose {value!r}; expected 'auth' or 'sign'")
        raise TypeError(f"purpose must be Purpose or str, not {type(value).__name__}")

    @property
    def label(self) -> str:
        return "user authentication" if self is Purpose.AUTH else "digital signature"


# Policy OIDs (spec §5.2, §5.3).
POLICY_AUTH = "1.2.392.200149.8.5.1.3.30"
POLICY_SIGN = "1.2.392.200149.8.5.1.1.20"
POLICY_SIGN_TEST = "1.2.392.200149.8.5.1.0.20"

EKU_CLIENT_AUTH = "1.3.6.1.5.5.7.3.2"

OID_KEY_USAGE = "2.5.29.15"
OID_EXT_KEY_USAGE = "2.5.29.37"
OID_CERT_POLICIES = "2.5.29.32"
OID_BASIC_CONSTRAINTS = "2.5.29.19"
OID_SUBJECT_ALT_NAME = "2.5.29.17"
OID_AUTHORITY_KEY_ID = "2.5.29.35"
OID_SUBJECT_KEY_ID = "2.5.29.14"
OID_CRL_DISTRIBUTION_POINTS = "2.5.29.31"

#: Extensions the JPKI profiles allow to be marked critical.
ALLOWED_CRITICAL_EXTENSIONS = frozenset(
    {
        OID_KEY_USAGE,
        OID_EXT_KEY_USAGE,
        OID_CERT_POLICIES,
        OID_BASIC_CONSTRAINTS,
        OID_SUBJECT_ALT_NAME,
    }
)

MIN_RSA_BITS = 2048
MAX_RSA_BITS = 8192

SIG_SHA1_RSA = "1.2.840.113549.1.1.5"
_SIGNATURE_ALGORITHMS = {
    "1.2.840.113549.1.1.11": "sha256WithRSAEncryption",
    "1.2.840.113549.1.1.12": "sha384WithRSAEncryption",
    "1.2.840.113549.1.1.13": "sha512WithRSAEncryption",
}
#: The allowed algorithms as the AlgorithmIdentifier content DER (OID, NULL parameters) that
#: certificates carry: a certificate with exactly these bytes needs no OID decoding.
_SIGNATURE_ALGORITHMS_DER = frozenset(
    bytes.fromhex("06092a864886f70d0101" + last + "0500") for last in ("0b", "0c", "0d")
)

# keyUsage bit positions (RFC 5280 4.2.1.3) and the names cryptography uses.
KU_BITS = (
    "digital_signature",
    "content_commitment",  # nonRepudiation
    "key_encipherment",
    "data_encipherment",
    "key_agreement",
    "key_cert_sign",
    "crl_sign",
    "encipher_only",
    "decipher_only",
)


@dataclass(frozen=True)
class Profile:
    """The rules for one purpose."""

    purpose: Purpose
    key_usage: frozenset[str]
    ext_key_usage: frozenset[str] | None  # None: extKeyUsage must be absent
    policy: str
    test_policy: str | None
    requires_san: bool

    def allowed_policies(self, *, test_root: bool) -> frozenset[str]:
        """Policy OIDs acceptable for a certificate under a production or a test root."""
        if test_root and self.test_policy is not None:
            return frozenset({self.policy, self.test_policy})
        return frozenset({self.policy})


_PROFILES = {
    Purpose.AUTH: Profile(
        purpose=Purpose.AUTH,
        key_usage=frozenset({"digital_signature"}),
        ext_key_usage=frozenset({EKU_CLIENT_AUTH}),
        policy=POLICY_AUTH,
        test_policy=None,
        requires_san=False,
    ),
    Purpose.SIGN: Profile(
        purpose=Purpose.SIGN,
        key_usage=frozenset({"digital_signature", "content_commitment"}),
        ext_key_usage=None,
        policy=POLICY_SIGN,
        test_policy=POLICY_SIGN_TEST,
        requires_san=True,
    ),
}

_POLICY_KIND = {
    POLICY_AUTH: Purpose.AUTH,
    POLICY_SIGN: Purpose.SIGN,
    POLICY_SIGN_TEST: Purpose.SIGN,
}
TEST_POLICIES = frozenset({POLICY_SIGN_TEST})


def profile_for(purpose: Purpose | str) -> Profile:
    """The :class:`Profile` of a purpose."""
    return _PROFILES[Purpose.parse(purpose)]


# --------------------------------------------------------------------------- DER facts


class _DerError(Exception):
    pass


def _tlv(buf: bytes, pos: int, end: int) -> tuple[int, int, int]:
    """One strict-DER TLV at ``pos``: (tag byte, content start, content end)."""
    if end - pos < 2:
        raise _DerError("truncated")
    tag = buf[pos]
    if tag & 0x1F == 0x1F:
        raise _DerError("high tag numbers are not used in certificates")
    first = buf[pos + 1]
    pos += 2
    if first & 0x80:
        n = first & 0x7F
        if n == 0 or n > 4 or end - pos < n:
            raise _DerError("bad length")
        if buf[pos] == 0:
            raise _DerError("non-minimal length")
        length = int.from_bytes(buf[pos : pos + n], "big")
        if length < 0x80:
            raise _DerError("non-minimal length")
        pos += n
    else:
        length = first
    if length > end - pos:
        raise _DerError("length beyond the enclosing value")
    return tag, pos, pos + length


def _children(buf: bytes, start: int, end: int) -> list[tuple[int, int, int]]:
    """The TLVs inside ``buf[start:end]`` as (tag, content start, content end).

    Same rules as :func:`_tlv`, inlined: this loop is the verifier's hot path.
    """
    out: list[tuple[int, int, int]] = []
    append = out.append
    pos = start
    while pos < end:
        if end - pos < 2:
            raise _DerError("truncated")
        tag = buf[pos]
        first = buf[pos + 1]
        if first < 0x80 and tag & 0x1F != 0x1F:
            s = pos + 2
            e = s + first
            if e > end:
                raise _DerError("length beyond the enclosing value")
        else:
            tag, s, e = _tlv(buf, pos, end)
        append((tag, s, e))
        pos = e
    return out


def _children_with_start(buf: bytes, start: int, end: int) -> list[tuple[int, int, int, int]]:
    """Like :func:`_children` with each TLV's own start offset first."""
    out = []
    pos = start
    while pos < end:
        tag, s, e = _tlv(buf, pos, end)
        out.append((pos, tag, s, e))
        pos = e
    return out


def check_der(buf: bytes, *, max_depth: int = 32) -> None:
    """Raise ``ValueError`` unless ``buf`` is exactly one value in definite-length DER framing
    (every constructed value walked recursively; lengths minimal)."""

    def walk(start: int, end: int, depth: int) -> None:
        if depth > max_depth:
            raise _DerError("nested too deeply")
        pos = start
        while pos < end:
            tag, s, e = _tlv(buf, pos, end)
            if tag & 0x20:
                walk(s, e, depth + 1)
            pos = e

    try:
        tag, s, e = _tlv(buf, 0, len(buf))
        if e != len(buf):
            raise _DerError("trailing data")
        if tag & 0x20:
            walk(s, e, 1)
    except _DerError as exc:
        raise ValueError(f"not DER: {exc}") from None


_OID_CACHE: dict[bytes, str] = {}
_OID_CACHE_MAX = 4096


def _oid(content: bytes) -> str:
    """Dotted string of an OBJECT IDENTIFIER's content octets (strict)."""
    cached = _OID_CACHE.get(content)
    if cached is not None:
        return cached
    if not content or content[-1] & 0x80:
        raise _DerError("bad OID")
    arcs: list[int] = []
    value = 0
    fresh = True
    for byte in content:
        if fresh and byte == 0x80:
            raise _DerError("non-minimal OID arc")
        value = (value << 7) | (byte & 0x7F)
        fresh = not byte & 0x80
        if fresh:
            arcs.append(value)
            value = 0
    first = arcs[0]
    head = [0, first] if first < 40 else [1, first - 40] if first < 80 else [2, first - 80]
    dotted = ".".join(str(a) for a in head + arcs[1:])
    if len(_OID_CACHE) < _OID_CACHE_MAX:
        _OID_CACHE[content] = dotted
    return dotted


class RawExtension(NamedTuple):
    """One extension as it is in the certificate: OID, critical flag, DER value."""

    oid: str
    critical: bool
    value: bytes


#: Extensions whose value is the same in every certificate of one kind, root and municipality
#: (keyUsage, extKeyUsage, policies, basicConstraints, AKI, CRL DP, issuerAltName, AIA): their
#: parse is
#: memoized by their exact bytes. Per-certificate ones (SKI, the identity SAN) are not.
_SHARED_EXTENSIONS = frozenset(
    {
        OID_KEY_USAGE,
        OID_EXT_KEY_USAGE,
        OID_CERT_POLICIES,
        OID_BASIC_CONSTRAINTS,
        OID_AUTHORITY_KEY_ID,
        OID_CRL_DISTRIBUTION_POINTS,
        "2.5.29.18",  # issuerAltName
        "1.3.6.1.5.5.7.1.1",  # authorityInfoAccess
    }
)
#: Memo bounds (each memo is cleared when full). JPKI has about 1,900 municipalities (CRL
#: distribution points) per root generation and hierarchy, so a national service meets a few
#: thousand distinct extension blocks; a block entry holds about 2 KB.
_MEMO_MAX = 8192
_EXTENSION_MEMO_MAX = 16384
#: Exact Extension TLV bytes -> its parse (shared extensions only).
_EXTENSION_MEMO: dict[bytes, RawExtension] = {}


class _Decoded:
    """The profile-relevant extension values of a certificate, decoded and checked once per
    distinct extension set (see :func:`_decoded`). Immutable except ``passed``, the
    (purpose, test root) pairs whose extension profile already passed for this set."""

    __slots__ = (
        "authority_key_id",
        "critical_oids",
        "crl_distribution_points",
        "ext_key_usage",
        "is_ca",
        "key_usage",
        "kind",
        "passed",
        "policies",
    )

    def __init__(self, extensions: tuple[RawExtension, ...]) -> None:
        by_oid = {e.oid: e.value for e in extensions}
        if len(by_oid) != len(extensions):
            raise CertificateParseError("an extension appears twice")
        self.critical_oids = tuple(e.oid for e in extensions if e.critical)
        self.key_usage = _decode(by_oid, OID_KEY_USAGE, _decode_key_usage)
        self.ext_key_usage = _decode(by_oid, OID_EXT_KEY_USAGE, _decode_oid_sequence)
        self.policies = _decode(by_oid, OID_CERT_POLICIES, _decode_policies)
        self.authority_key_id = _decode(by_oid, OID_AUTHORITY_KEY_ID, _decode_aki)
        self.is_ca = _decode(by_oid, OID_BASIC_CONSTRAINTS, _decode_basic_constraints)
        #: The raw cRLDistributionPoints value (None when absent), for revocation look-ups.
        self.crl_distribution_points = by_oid.get(OID_CRL_DISTRIBUTION_POINTS)
        self.kind = _classify(self.policies, self.key_usage, self.ext_key_usage)
        self.passed: set[tuple[Purpose, bool]] = set()


#: Memo key of an extension set (shared extensions by value, the others by OID and
#: criticality: all that :class:`_Decoded` reads) -> its decoding.
_DECODED_MEMO: dict[tuple[object, ...], _Decoded] = {}


def _decoded(extensions: tuple[RawExtension, ...], key: tuple[object, ...]) -> _Decoded:
    decoded = _DECODED_MEMO.get(key)
    if decoded is None:
        decoded = _Decoded(extensions)
        if len(_DECODED_MEMO) >= _MEMO_MAX:
            _DECODED_MEMO.clear()
        _DECODED_MEMO[key] = decoded
    return decoded


class CertificateFacts:
    """What the profile checks and issuer selection need, read from the certificate DER.

    ``key_usage``/``ext_key_usage``/``policies``/``authority_key_id`` are ``None`` when the
    extension is absent. ``issuer_der``/``subject_der`` are the raw Name encodings;
    ``signature_algorithm_der`` the content of the certificate's (outer) signatureAlgorithm.
    Immutable.
    """

    __slots__ = (
        "_decoded",
        "extensions",
        "issuer_der",
        "signature_algorithm_der",
        "subject_der",
    )

    extensions: tuple[RawExtension, ...]
    issuer_der: bytes
    subject_der: bytes
    signature_algorithm_der: bytes
    _decoded: _Decoded

    def __init__(
        self,
        extensions: tuple[RawExtension, ...],
        issuer_der: bytes,
        subject_der: bytes,
        signature_algorithm_der: bytes,
        decoded: _Decoded,
    ) -> None:
        setattr_ = object.__setattr__
        setattr_(self, "extensions", extensions)
        setattr_(self, "issuer_der", issuer_der)
        setattr_(self, "subject_der", subject_der)
        setattr_(self, "signature_algorithm_der", signature_algorithm_der)
        setattr_(self, "_decoded", decoded)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"CertificateFacts is immutable (cannot set {name})")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"CertificateFacts is immutable (cannot delete {name})")

    def __repr__(self) -> str:
        return (
            f"CertificateFacts(extensions={[e.oid for e in self.extensions]}, "
            f"key_usage={sorted(self.key_usage) if self.key_usage is not None else None}, "
            f"ext_key_usage={self.ext_key_usage}, policies={self.policies}, "
            f"authority_key_id={self.authority_key_id.hex() if self.authority_key_id else None}, "
            f"is_ca={self.is_ca})"
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, CertificateFacts):
            return NotImplemented
        return (
            self.extensions == other.extensions
            and self.issuer_der == other.issuer_der
            and self.subject_der == other.subject_der
            and self.signature_algorithm_der == other.signature_algorithm_der
        )

    def __hash__(self) -> int:
        return hash((self.extensions, self.issuer_der, self.subject_der))

    @property
    def key_usage(self) -> frozenset[str] | None:
        return self._decoded.key_usage

    @property
    def ext_key_usage(self) -> tuple[str, ...] | None:
        return self._decoded.ext_key_usage

    @property
    def policies(self) -> tuple[str, ...] | None:
        return self._decoded.policies

    @property
    def authority_key_id(self) -> bytes | None:
        return self._decoded.authority_key_id

    @property
    def is_ca(self) -> bool | None:
        return self._decoded.is_ca

    @property
    def critical_oids(self) -> tuple[str, ...]:
        return self._decoded.critical_oids

    @property
    def crl_distribution_points(self) -> bytes | None:
        """The raw cRLDistributionPoints extension value, or None."""
        return self._decoded.crl_distribution_points

    def extension(self, oid: str) -> RawExtension | None:
        for ext in self.extensions:
            if ext.oid == oid:
                return ext
        return None

    @property
    def subject_key_id(self) -> bytes | None:
        """The subjectKeyIdentifier, or None (decoded on demand: roots need it, EEs do not)."""
        ext = self.extension(OID_SUBJECT_KEY_ID)
        if ext is None:
            return None
        try:
            return _decode_octets(ext.value)
        except (_DerError, IndexError, ValueError) as exc:
            raise ExtensionMalformedError(
                f"extension {OID_SUBJECT_KEY_ID} cannot be decoded: {exc}", oid=OID_SUBJECT_KEY_ID
            ) from None

    @classmethod
    def from_der(cls, der: bytes) -> CertificateFacts:
        """Read the facts; :class:`CertificateParseError` if the structure is broken,
        :class:`ExtensionMalformedError` if a profile-relevant extension cannot be decoded."""
        try:
            issuer, subject, sig_alg, exts, decoded = _walk_certificate(der)
        except _DerError as exc:
            raise CertificateParseError(f"certificate DER is malformed: {exc}") from None
        return cls(exts, issuer, subject, sig_alg, decoded)


def _header(der: bytes, pos: int, end: int) -> tuple[int, int, int]:
    """One strict-DER TLV header at ``pos`` inside ``[pos, end)``: (tag, content, stop)."""
    tag = der[pos]
    if tag & 0x1F == 0x1F:
        raise _DerError("high tag numbers are not used in certificates")
    length = der[pos + 1]
    pos += 2
    if length & 0x80:
        k = length & 0x7F
        if k == 0 or k > 4 or der[pos] == 0:
            raise _DerError("bad or non-minimal length")
        length = int.from_bytes(der[pos : pos + k], "big")
        if length < 0x80:
            raise _DerError("non-minimal length")
        pos += k
    stop = pos + length
    if stop > end:
        raise _DerError("length beyond the enclosing value")
    return tag, pos, stop


def _walk_certificate(
    der: bytes,
) -> tuple[bytes, bytes, bytes, tuple[RawExtension, ...], _Decoded]:
    """(issuer Name DER, subject Name DER, signatureAlgorithm content, extensions, their
    decoding) of a certificate, strict DER framing.

    The hot path of a first-seen certificate: short-form headers are read inline, and the
    extensions are looked up by their exact bytes instead of being parsed again (see
    :func:`_walk_extensions`).
    """
    n = len(der)
    header = _header
    try:
        if (  # the usual shape, read inline: 30 82 LL LL 30 82 LL LL ... (two-octet lengths)
            n >= 8
            and der[0] == 0x30
            and der[1] == 0x82
            and der[2]
            and der[4] == 0x30
            and der[5] == 0x82
            and der[6]
            and (der[2] << 8 | der[3]) + 4 == n
        ):
            e = n
            ts = 8
            te = 8 + (der[6] << 8 | der[7])
            if te > n:
                raise _DerError("length beyond the enclosing value")
        else:
            tag, s, e = header(der, 0, n)
            if tag != 0x30 or e != n:
                raise _DerError("not one SEQUENCE")
            tag, ts, te = header(der, s, e)
            if tag != 0x30:
                raise _DerError("tbsCertificate is not a SEQUENCE")
        if (  # signatureAlgorithm (short form), signatureValue (two-octet length): inline
            te + 6 <= e
            and der[te] == 0x30
            and der[te + 1] < 0x80
            and der[te + 2 + der[te + 1]] == 0x03
            and der[te + 3 + der[te + 1]] == 0x82
        ):
            a_s = te + 2
            a_e = a_s + der[te + 1]
            if not der[a_e + 2] or a_e + 4 + (der[a_e + 2] << 8 | der[a_e + 3]) != e:
                raise _DerError("certificate is not tbsCertificate, algorithm, signature")
        else:
            tag, a_s, a_e = header(der, te, e)
            tag2, _, b_e = header(der, a_e, e)
            if tag != 0x30 or tag2 != 0x03 or b_e != e:
                raise _DerError("certificate is not tbsCertificate, algorithm, signature")
        layout = _v3_layout(der, ts, te)
        if layout is not None:
            i0, i1, s0, s1, x0 = layout
            found = _walk_extensions(der, x0, te)
            return der[i0:i1], der[s0:s1], der[a_s:a_e], found[0], found[1]
        pos = ts
        field = -1 if der[ts] == 0xA0 else 0
        issuer = subject = b""
        exts: tuple[RawExtension, ...] = ()
        decoded: _Decoded | None = None
        while pos < te:
            # _header inlined for the short and the one/two-octet long forms
            tag = der[pos]
            length = der[pos + 1]
            if length < 0x80:
                cs = pos + 2
            elif length == 0x81 and der[pos + 2] >= 0x80:
                length = der[pos + 2]
                cs = pos + 3
            elif length == 0x82 and der[pos + 2]:
                length = der[pos + 2] << 8 | der[pos + 3]
                cs = pos + 4
            else:
                tag, cs, length = header(der, pos, te)
                length -= cs
            ce = cs + length
            if ce > te or tag & 0x1F == 0x1F:
                raise _DerError("length beyond the enclosing value or high tag number")
            if field == 2:
                if tag != 0x30:
                    raise _DerError("issuer is not a Name")
                issuer = der[pos:ce]
            elif field == 4:
                if tag != 0x30:
                    raise _DerError("subject is not a Name")
                subject = der[pos:ce]
            elif tag == 0xA3 and field >= 6:
                if decoded is not None:
                    raise _DerError("extensions appear twice")
                exts, decoded = _walk_extensions(der, cs, ce)
            field += 1
            pos = ce
        if field < 6:
            raise _DerError("tbsCertificate has too few fields")
    except IndexError:
        raise _DerError("truncated") from None
    if decoded is None:
        decoded = _decoded((), ())
    return issuer, subject, der[a_s:a_e], exts, decoded


_VERSION_3 = b"\xa0\x03\x02\x01\x02"


def _v3_layout(der: bytes, ts: int, te: int) -> tuple[int, int, int, int, int] | None:
    """Offsets of the issuer, the subject and the extensions' content in a tbsCertificate of
    the usual shape (v3; serial, algorithm, validity with short lengths; names with one- or
    two-octet-form lengths; key; extensions ending exactly at ``te``), or None: the caller
    then walks the fields one by one. Every field starts where the previous one ends and the
    last ends at ``te``, so all lie inside the tbsCertificate; lengths are minimal."""
    if der[ts : ts + 5] != _VERSION_3:
        return None
    p = ts + 5
    if der[p] != 0x02 or der[p + 1] >= 0x80:  # serialNumber
        return None
    p += 2 + der[p + 1]
    if der[p] != 0x30 or der[p + 1] >= 0x80:  # signature AlgorithmIdentifier
        return None
    p += 2 + der[p + 1]
    i0 = p  # issuer Name
    if der[p] != 0x30:
        return None
    length = der[p + 1]
    if length < 0x80:
        p += 2 + length
    elif length == 0x81 and der[p + 2] >= 0x80:
        p += 3 + der[p + 2]
    else:
        return None
    i1 = p
    if der[p] != 0x30 or der[p + 1] >= 0x80:  # validity
        return None
    p += 2 + der[p + 1]
    s0 = p  # subject Name
    if der[p] != 0x30:
        return None
    length = der[p + 1]
    if length < 0x80:
        p += 2 + length
    elif length == 0x81 and der[p + 2] >= 0x80:
        p += 3 + der[p + 2]
    else:
        return None
    s1 = p
    if der[p] != 0x30:  # subjectPublicKeyInfo
        return None
    length = der[p + 1]
    if length == 0x82 and der[p + 2]:
        p += 4 + (der[p + 2] << 8 | der[p + 3])
    elif length < 0x80:
        p += 2 + length
    elif length == 0x81 and der[p + 2] >= 0x80:
        p += 3 + der[p + 2]
    else:
        return None
    if der[p] != 0xA3:  # [3] extensions
        return None
    length = der[p + 1]
    if length == 0x82 and der[p + 2]:
        x0 = p + 4
        end = x0 + (der[p + 2] << 8 | der[p + 3])
    elif length == 0x81 and der[p + 2] >= 0x80:
        x0 = p + 3
        end = x0 + der[p + 2]
    elif length < 0x80:
        x0 = p + 2
        end = x0 + length
    else:
        return None
    if end != te:
        return None
    return i0, i1, s0, s1, x0


#: The usual last extension, a non-critical subjectKeyIdentifier of 20 octets:
#: SEQUENCE(29) { OID 2.5.29.14, OCTET STRING(22) { OCTET STRING(20) <key id> } }.
_SKI20_HEAD = bytes.fromhex("301d0603551d0e04160414")
_SKI20_LEN = len(_SKI20_HEAD) + 20
#: Extensions block minus a trailing 20-octet SKI -> (the other extensions, the decoding of
#: the whole set). Every certificate of one kind, root and municipality shares that prefix.
_BLOCK_MEMO: dict[bytes, tuple[tuple[RawExtension, ...], _Decoded]] = {}


def _walk_extensions(der: bytes, start: int, end: int) -> tuple[tuple[RawExtension, ...], _Decoded]:
    """The extensions in ``[3] { SEQUENCE OF Extension }`` at ``der[start:end]``, decoded.

    Fast path: when the block ends with a 20-octet SKI extension and the bytes before it were
    already walked (strictly) for an earlier certificate, only the SKI is new; identical
    prefix bytes parse identically and end exactly where the SKI starts.
    """
    tail = end - _SKI20_LEN
    if tail > start and der[tail : tail + len(_SKI20_HEAD)] == _SKI20_HEAD:
        prefix = der[start:tail]
        hit = _BLOCK_MEMO.get(prefix)
        if hit is not None:
            ski = RawExtension(OID_SUBJECT_KEY_ID, False, der[end - 22 : end])
            return (*hit[0], ski), hit[1]
    else:
        prefix = b""
    exts, key, last_start = _walk_extension_list(der, start, end)
    decoded = _decoded(exts, key)
    if prefix and last_start == tail:  # the last extension is exactly that SKI
        if len(_BLOCK_MEMO) >= _MEMO_MAX:
            _BLOCK_MEMO.clear()
        _BLOCK_MEMO[prefix] = (exts[:-1], decoded)
    return exts, decoded


def _walk_extension_list(
    der: bytes, start: int, end: int
) -> tuple[tuple[RawExtension, ...], tuple[object, ...], int]:
    """The extensions, the memo key of the set (shared extensions by value, others by OID and
    criticality) and the offset of the last extension."""
    tag, p, se = _header(der, start, end)
    if tag != 0x30 or se != end:
        raise _DerError("extensions is not one SEQUENCE")
    exts: list[RawExtension] = []
    key: list[object] = []
    memo = _EXTENSION_MEMO
    last = -1
    while p < se:
        # _header inlined for the short and the one/two-octet long forms
        tag = der[p]
        length = der[p + 1]
        if length < 0x80:
            ee = p + 2 + length
        elif length == 0x81 and der[p + 2] >= 0x80:
            ee = p + 3 + der[p + 2]
        elif length == 0x82 and der[p + 2]:
            ee = p + 4 + (der[p + 2] << 8 | der[p + 3])
        else:
            tag, _, ee = _header(der, p, se)
        if ee > se:
            raise _DerError("length beyond the enclosing value")
        if tag != 0x30:
            raise _DerError("extension is not a SEQUENCE")
        tlv = der[p:ee]
        ext = memo.get(tlv)
        if ext is None:
            ext = _parse_extension(tlv)
            if ext.oid in _SHARED_EXTENSIONS:
                if len(memo) >= _EXTENSION_MEMO_MAX:
                    memo.clear()
                memo[tlv] = ext
                key.append(ext)
            else:
                key.append((ext.oid, ext.critical))
        else:
            key.append(ext)
        exts.append(ext)
        last = p
        p = ee
    return tuple(exts), tuple(key), last


def _parse_extension(tlv: bytes) -> RawExtension:
    """Extension ::= SEQUENCE { extnID, critical BOOLEAN DEFAULT FALSE, extnValue }."""
    _, es, ee = _header(tlv, 0, len(tlv))
    t4, os_, oe = _header(tlv, es, ee)
    if t4 != 0x06:
        raise _DerError("extension does not start with an OID")
    critical = False
    t5, vs, ve = _header(tlv, oe, ee)
    if t5 == 0x01:
        if ve - vs != 1 or tlv[vs] != 0xFF:  # DER never encodes the default
            raise _DerError("extension critical flag is not DER BOOLEAN TRUE")
        critical = True
        t5, vs, ve = _header(tlv, ve, ee)
    if t5 != 0x04 or ve != ee:
        raise _DerError("extension value is not one OCTET STRING")
    return RawExtension(_oid(tlv[os_:oe]), critical, tlv[vs:ve])


def _decode(by_oid: dict[str, bytes], oid: str, decode: Callable[[bytes], _T]) -> _T | None:
    """Decode an extension value (None when absent); a typed error when it cannot be."""
    value = by_oid.get(oid)
    if value is None:
        return None
    try:
        return decode(value)
    except (_DerError, IndexError, ValueError) as exc:
        raise ExtensionMalformedError(
            f"extension {oid} cannot be decoded: {exc}", oid=oid
        ) from None


def _single(value: bytes, expected_tag: int) -> tuple[int, int]:
    tag, s, e = _tlv(value, 0, len(value))
    if tag != expected_tag or e != len(value):
        raise _DerError(f"expected one value with tag 0x{expected_tag:02x}")
    return s, e


def _decode_key_usage(value: bytes) -> frozenset[str]:
    s, e = _single(value, 0x03)
    if e - s < 1 or value[s] > 7 or (e - s == 1 and value[s] != 0):
        raise _DerError("bad BIT STRING")
    bits = value[s + 1 : e]
    names = set()
    for i, name in enumerate(KU_BITS):
        byte = i // 8
        if byte < len(bits) and bits[byte] & (0x80 >> (i % 8)):
            names.add(name)
    # Bits beyond decipherOnly are not defined: a certificate asserting them is malformed.
    for i in range(len(KU_BITS), len(bits) * 8 - value[s]):
        if bits[i // 8] & (0x80 >> (i % 8)):
            raise _DerError("undefined keyUsage bit set")
    return frozenset(names)


def _decode_oid_sequence(value: bytes) -> tuple[str, ...]:
    s, e = _single(value, 0x30)
    out = []
    for tag, cs, ce in _children(value, s, e):
        if tag != 0x06:
            raise _DerError("expected OBJECT IDENTIFIER")
        out.append(_oid(value[cs:ce]))
    if not out:
        raise _DerError("empty sequence")
    return tuple(out)


def _decode_policies(value: bytes) -> tuple[str, ...]:
    s, e = _single(value, 0x30)
    out = []
    for tag, cs, ce in _children(value, s, e):
        if tag != 0x30:
            raise _DerError("PolicyInformation is not a SEQUENCE")
        items = _children(value, cs, ce)
        if not items or items[0][0] != 0x06 or len(items) > 2:
            raise _DerError("PolicyInformation is not OID [qualifiers]")
        if len(items) == 2 and items[1][0] != 0x30:
            raise _DerError("policyQualifiers is not a SEQUENCE")
        out.append(_oid(value[items[0][1] : items[0][2]]))
    if not out:
        raise _DerError("no policy")
    return tuple(out)


def _decode_aki(value: bytes) -> bytes | None:
    s, e = _single(value, 0x30)
    for tag, cs, ce in _children(value, s, e):
        if tag == 0x80:
            return value[cs:ce]
        if tag not in (0xA1, 0x82):
            raise _DerError("unexpected field in AuthorityKeyIdentifier")
    return None


def _decode_octets(value: bytes) -> bytes:
    s, e = _single(value, 0x04)
    return value[s:e]


def _decode_basic_constraints(value: bytes) -> bool:
    s, e = _single(value, 0x30)
    items = _children(value, s, e)
    if items and items[0][0] == 0x01:
        _, bs, be = items[0]
        if be - bs != 1 or value[bs] not in (0x00, 0xFF):
            raise _DerError("cA is not a DER BOOLEAN")
        return value[bs] == 0xFF
    return False


# --------------------------------------------------------------------------- checks


def classify(facts: CertificateFacts) -> Purpose | None:
    """Which kind of JPKI end-entity certificate this looks like, or None if neither.

    By policy OID first (unambiguous), then by the usage pattern.
    """
    return facts._decoded.kind


def _classify(
    policies: tuple[str, ...] | None,
    key_usage: frozenset[str] | None,
    ext_key_usage: tuple[str, ...] | None,
) -> Purpose | None:
    kinds = {_POLICY_KIND[p] for p in policies or () if p in _POLICY_KIND}
    if len(kinds) == 1:
        return kinds.pop()
    if kinds:
        return None
    if "content_commitment" in (key_usage or frozenset()):
        return Purpose.SIGN
    if EKU_CLIENT_AUTH in (ext_key_usage or ()):
        return Purpose.AUTH
    return None


def check_kind(facts: CertificateFacts, purpose: Purpose) -> None:
    """Raise :class:`WrongCertificateKindError` when the certificate is of the other kind."""
    kind = facts._decoded.kind
    if kind is not None and kind is not purpose:
        raise WrongCertificateKindError(
            f"this is a {kind.label} ({kind.value}) certificate; "
            f"a {purpose.label} ({purpose.value}) certificate is required",
            expected=purpose,
            actual=kind,
        )


def _ku_text(names: Iterable[str]) -> str:
    return ", ".join(sorted(names)) or "none"


def check_profile(
    cert: x509.Certificate,
    facts: CertificateFacts,
    purpose: Purpose,
    *,
    test_root: bool,
    allow_sha1: bool = False,
) -> None:
    """Check ``cert`` against the profile of ``purpose``; raise the specific error on failure.

    ``test_root`` says whether the chosen issuer is an opted-in test root (only then is the
    JPKI-TEST policy acceptable).
    """
    if cert.serial_number <= 0:
        # cryptography's verifier refuses negative serials but lets zero through
        raise SerialNumberError("the serial number must be a positive integer (RFC 5280 4.1.2.2)")
    decoded = facts._decoded
    passed = (purpose, test_root) in decoded.passed
    if not passed:
        check_kind(facts, purpose)
    if facts.signature_algorithm_der not in _SIGNATURE_ALGORITHMS_DER:
        check_signature_algorithm(cert, allow_sha1=allow_sha1)
    check_key(cert)
    if passed:
        return  # the same extension set already passed every check below
    _check_extensions(facts, purpose, test_root=test_root)
    decoded.passed.add((purpose, test_root))


def _check_extensions(facts: CertificateFacts, purpose: Purpose, *, test_root: bool) -> None:
    """The extension part of :func:`check_profile` (a function of the extension set only)."""
    profile = _PROFILES[purpose]
    unknown = [o for o in facts.critical_oids if o not in ALLOWED_CRITICAL_EXTENSIONS]
    if unknown:
        raise UnknownCriticalExtensionError(
            "critical extension(s) not allowed by the JPKI profile: " + ", ".join(unknown),
            oids=unknown,
        )

    if facts.is_ca:
        raise BasicConstraintsError("an end-entity certificate must not be a CA (cA=TRUE)")

    ku_ext = facts.extension(OID_KEY_USAGE)
    if ku_ext is None or facts.key_usage is None:
        raise MissingExtensionError("keyUsage is required", oid=OID_KEY_USAGE)
    if not ku_ext.critical:
        raise KeyUsageError("keyUsage must be critical")
    if facts.key_usage != profile.key_usage:
        raise KeyUsageError(
            f"keyUsage is {_ku_text(facts.key_usage)}; the {purpose.value} profile requires "
            f"exactly {_ku_text(profile.key_usage)}"
        )

    if profile.ext_key_usage is None:
        if facts.ext_key_usage is not None:
            raise ExtendedKeyUsageError(
                f"the {purpose.value} profile has no extKeyUsage; found "
                + ", ".join(facts.ext_key_usage)
            )
    else:
        if facts.ext_key_usage is None:
            raise ExtendedKeyUsageError(
                f"extKeyUsage {', '.join(sorted(profile.ext_key_usage))} is required"
            )
        if set(facts.ext_key_usage) != profile.ext_key_usage or len(facts.ext_key_usage) != len(
            profile.ext_key_usage
        ):
            raise ExtendedKeyUsageError(
                f"extKeyUsage is {', '.join(facts.ext_key_usage)}; the {purpose.value} profile "
                f"requires exactly {', '.join(sorted(profile.ext_key_usage))}"
            )

    cp_ext = facts.extension(OID_CERT_POLICIES)
    if cp_ext is None or facts.policies is None:
        raise MissingExtensionError("certificatePolicies is required", oid=OID_CERT_POLICIES)
    if not cp_ext.critical:
        raise CertificatePolicyError(
            "certificatePolicies must be critical", policies=facts.policies
        )
    check_policies(facts.policies, purpose, test_root=test_root)

    if profile.requires_san and facts.extension(OID_SUBJECT_ALT_NAME) is None:
        raise MissingExtensionError(
            "the signature certificate must carry the identity subjectAltName",
            oid=OID_SUBJECT_ALT_NAME,
        )


def check_policies(policies: Iterable[str], purpose: Purpose, *, test_root: bool) -> None:
    """Exactly one policy, the purpose's (or its test policy under a test root)."""
    profile = _PROFILES[purpose]
    found = tuple(policies)
    allowed = profile.allowed_policies(test_root=test_root)
    if len(found) == 1 and found[0] in allowed:
        return
    if len(found) == 1 and found[0] in TEST_POLICIES and _POLICY_KIND[found[0]] is purpose:
        raise TestPolicyNotAllowedError(
            f"policy {found[0]} is the JPKI-TEST policy: accepted only for certificates under "
            "an explicitly trusted test root",
            policies=found,
        )
    raise CertificatePolicyError(
        f"certificatePolicies is {', '.join(found)}; the {purpose.value} profile requires "
        f"exactly {profile.policy}",
        policies=found,
    )


def signature_algorithm_name(cert: x509.Certificate, *, allow_sha1: bool) -> str:
    """The allowed signature algorithm's name, or raise."""
    try:
        oid = cert.signature_algorithm_oid.dotted_string
    except ValueError:  # pragma: no cover - cryptography parses the OID at load time
        raise SignatureAlgorithmNotAllowedError(
            "unreadable signature algorithm", algorithm="?"
        ) from None
    name = _SIGNATURE_ALGORITHMS.get(oid)
    if name is not None:
        return name
    if oid == SIG_SHA1_RSA:
        if allow_sha1:
            return "sha1WithRSAEncryption"
        raise SignatureAlgorithmNotAllowedError(
            "sha1WithRSAEncryption is allowed only when SHA-1 is explicitly enabled",
            algorithm="sha1WithRSAEncryption",
        )
    raise SignatureAlgorithmNotAllowedError(
        f"signature algorithm {oid} is not allowed (sha256/384/512WithRSAEncryption only)",
        algorithm=oid,
    )


def check_signature_algorithm(cert: x509.Certificate, *, allow_sha1: bool) -> None:
    signature_algorithm_name(cert, allow_sha1=allow_sha1)


#: cryptography's concrete RSA public key class (an exact type check is cheaper than the ABC
#: isinstance; other registered implementations still pass the isinstance test).
_RSA_PUBLIC_KEY_TYPE = type(
    rsa.RSAPublicNumbers(65537, (1 << 2047) + 1).public_key()  # any well-formed key
)


def check_key(cert: x509.Certificate) -> int:
    """RSA with 2048..8192 bits; returns the size."""
    try:
        key = cert.public_key()
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise UnsupportedKeyError(f"the public key cannot be loaded: {exc}") from None
    if type(key) is not _RSA_PUBLIC_KEY_TYPE and not isinstance(key, rsa.RSAPublicKey):
        raise UnsupportedKeyError(f"the key is {type(key).__name__}; JPKI certificates use RSA")
    bits = key.key_size
    if bits < MIN_RSA_BITS:
        raise WeakKeyError(f"RSA key of {bits} bits; at least {MIN_RSA_BITS} required", bits=bits)
    if bits > MAX_RSA_BITS:
        raise UnsupportedKeyError(f"RSA key of {bits} bits; at most {MAX_RSA_BITS} accepted")
    return bits
