"""Parse CRLs fast enough for 1,000,000 entries, strictly, with typed errors only.

cryptography parses and validates the whole CRL (its Rust DER parser checks every entry's
framing, INTEGER and Time encodings) and gives us the envelope: issuer, times, extensions,
signature parameters. What it does not give fast is the entry list: per-entry iteration makes
a Python object per entry and ``tbs_certlist_bytes`` re-encodes the TBS. So this module

1. slices the TBS, the algorithm and the signature out of the original DER with a strict
   reader (:mod:`._der`) so the signature is checked over the exact bytes received;
2. walks ``revokedCertificates`` with a tight loop that re-checks each entry's framing
   (SEQUENCE, positive INTEGER, Time, lengths) and reads the serial, handing anything unusual
   (long-form lengths, extensions other than a reasonCode) to a fully strict slow path;
3. packs ``serial << idx_bits | entry_index`` into one number so one C-level sort orders the
   serials and keeps each entry's position (floats when they fit 53 bits: CPython sorts
   floats about twice as fast as multi-digit ints).

Dates and reasons are not decoded at ingest: the index keeps the entry offsets and the CRL
bytes, and :func:`parse_entry` decodes the one entry that matched (rare: most lookups miss).
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import logging
import re
from array import array
from bisect import bisect_left
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import repeat
from typing import Any, Union

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.x509.oid import ExtensionOID

from jpki_sdk.verify.revocation._der import DerError, read_tlv
from jpki_sdk.verify.revocation.errors import CrlFormatError, CrlUnsupportedError

__all__ = [
    "REASON_NAMES",
    "EntryTable",
    "ParsedCrl",
    "RevokedEntry",
    "build_directory",
    "decode_crls",
    "parse_crl",
    "parse_entry",
    "walk_entries",
]

logger = logging.getLogger(__name__)

UTC = dt.timezone.utc

#: RFC 5280 CRLReason values (7 is unused) -> the names cryptography's ReasonFlags use.
REASON_NAMES: dict[int, str] = {
    0: "unspecified",
    1: "keyCompromise",
    2: "cACompromise",
    3: "affiliationChanged",
    4: "superseded",
    5: "cessationOfOperation",
    6: "certificateHold",
    8: "removeFromCRL",
    9: "privilegeWithdrawn",
    10: "aACompromise",
}

# Extensions ::= SEQUENCE { Extension { reasonCode, OCTET STRING { ENUMERATED (1 octet) } } }
_REASON_ONLY_PREFIX = bytes.fromhex("300c300a0603551d1504030a01")
_VALID_REASON_OCTETS = frozenset(REASON_NAMES)
_OID_REASON = bytes.fromhex("551d15")
_OID_INVALIDITY_DATE = bytes.fromhex("551d18")
_OID_CERTIFICATE_ISSUER = bytes.fromhex("551d1d")

_PEM_RE = re.compile(
    rb"-----BEGIN X509 CRL-----\r?\n(?P<body>[A-Za-z0-9+/=\r\n\t ]*?)-----END X509 CRL-----"
)

#: Smallest possible entry: 30 12 | 02 01 xx | 17 0d YYMMDDHHMMSSZ.
_MIN_ENTRY_SIZE = 20
_FLOAT_EXACT = float(1 << 53)

Keys = Union["array[float]", "array[int]", list[int]]


# ----------------------------------------------------------------------------- input framing


def decode_crls(data: bytes, *, source: str | None = None) -> list[bytes]:
    """Split input into DER CRLs: one DER CRL, or one or more PEM ``X509 CRL`` blocks."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError("CRL data must be bytes")
    data = bytes(data)
    if not data:
        raise CrlFormatError("empty CRL data", source=source)
    if data[0] == 0x30:
        return [data]
    blocks = list(_PEM_RE.finditer(data))
    if not blocks:
        raise CrlFormatError(
            "neither DER (no leading SEQUENCE) nor PEM (no 'BEGIN X509 CRL' block)", source=source
        )
    out = []
    for match in blocks:
        body = re.sub(rb"\s+", b"", match.group("body"))
        try:
            der = base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise CrlFormatError(f"bad base64 in PEM CRL: {exc}", source=source) from None
        if not der:
            raise CrlFormatError("empty PEM CRL block", source=source)
        out.append(der)
    return out


# ----------------------------------------------------------------------------- envelope


@dataclass(frozen=True)
class ParsedCrl:
    """A CRL parsed but not yet trusted: signature, issuer and freshness are checked later."""

    der: bytes
    crl: x509.CertificateRevocationList
    issuer: x509.Name
    tbs: tuple[int, int]
    signature_algorithm: bytes
    signature: bytes
    revoked: tuple[int, int]
    entry_count: int
    crl_number: int
    authority_key_id: bytes | None
    this_update: dt.datetime
    next_update: dt.datetime | None
    distribution_points: tuple[x509.GeneralName, ...]
    scope: str
    source: str | None

    @property
    def tbs_bytes(self) -> memoryview:
        return memoryview(self.der)[self.tbs[0] : self.tbs[1]]


def _fmt(source: str | None) -> str:
    return f" ({source})" if source else ""


def parse_crl(der: bytes, *, source: str | None = None) -> ParsedCrl:
    """Parse one DER CRL strictly. Raises :class:`CrlFormatError` / :class:`CrlUnsupportedError`."""
    if not isinstance(der, bytes):
        raise TypeError("der must be bytes")
    try:
        crl = x509.load_der_x509_crl(der)
    except (ValueError, x509.InvalidVersion, UnsupportedAlgorithm) as exc:
        raise CrlFormatError(f"not a valid DER CRL: {exc}", source=source) from None
    try:
        _, body, stop = read_tlv(der, 0, len(der))
        if stop != len(der):
            raise DerError("trailing data after the CRL", stop)
        tag, tbs_body, tbs_end = read_tlv(der, body, stop)
        if tag != 0x30:
            raise DerError("tbsCertList is not a SEQUENCE", body)
        tag, _, alg_end = read_tlv(der, tbs_end, stop)
        if tag != 0x30:
            raise DerError("signatureAlgorithm is not a SEQUENCE", tbs_end)
        alg_tlv = der[tbs_end:alg_end]
        tag, sig_start, sig_end = read_tlv(der, alg_end, stop)
        if tag != 0x03 or sig_end != stop or sig_start == sig_end or der[sig_start] != 0:
            raise DerError("signatureValue is not a BIT STRING without unused bits", alg_end)
        signature = der[sig_start + 1 : sig_end]
        revoked = _tbs_revoked_span(der, tbs_body, tbs_end, alg_tlv)
    except DerError as exc:
        raise CrlFormatError(f"malformed CRL: {exc}", source=source) from None

    try:  # cryptography decodes these lazily: a bad value surfaces here as ValueError
        issuer = crl.issuer
        this_update = crl.last_update_utc
        next_update = crl.next_update_utc
        entry_count = len(crl)
    except ValueError as exc:
        raise CrlFormatError(f"malformed CRL field: {exc}", source=source) from None
    if next_update is None:
        raise CrlFormatError("CRL has no nextUpdate (RFC 5280 requires it)", source=source)
    number, aki, dps, scope = _crl_extensions(crl, issuer, source)
    return ParsedCrl(
        der=der,
        crl=crl,
        issuer=issuer,
        tbs=(body, tbs_end),
        signature_algorithm=alg_tlv,
        signature=signature,
        revoked=revoked,
        entry_count=entry_count,
        crl_number=number,
        authority_key_id=aki,
        this_update=this_update,
        next_update=next_update,
        distribution_points=dps,
        scope=scope,
        source=source,
    )


def _tbs_revoked_span(der: bytes, pos: int, end: int, outer_alg: bytes) -> tuple[int, int]:
    """Walk TBSCertList; return the content span of revokedCertificates ((x, x) if absent)."""
    tag, _, stop = read_tlv(der, pos, end)
    if tag == 0x02:  # version
        if der[pos:stop] != b"\x02\x01\x01":
            raise DerError("only v2 CRLs are supported", pos)
        pos = stop
        tag, _, stop = read_tlv(der, pos, end)
    else:
        raise DerError("v1 CRL (no version, so no CRL number): not supported", pos)
    if tag != 0x30 or der[pos:stop] != outer_alg:
        raise DerError("TBS signature algorithm differs from the outer one", pos)
    pos = stop
    tag, _, stop = read_tlv(der, pos, end)  # issuer
    if tag != 0x30:
        raise DerError("issuer is not a Name", pos)
    pos = stop
    for _ in range(2):  # thisUpdate, optional nextUpdate
        if pos < end and der[pos] in (0x17, 0x18):
            _, _, pos = read_tlv(der, pos, end)
    if pos < end and der[pos] == 0x30:
        _, content, stop = read_tlv(der, pos, end)
        revoked = (content, stop)
        pos = stop
    else:
        revoked = (pos, pos)
    if pos < end:
        tag, _, stop = read_tlv(der, pos, end)
        if tag != 0xA0:
            raise DerError("unexpected element after revokedCertificates", pos)
        pos = stop
    if pos != end:
        raise DerError("trailing data in tbsCertList", pos)
    return revoked


def _crl_extensions(
    crl: x509.CertificateRevocationList, issuer: x509.Name, source: str | None
) -> tuple[int, bytes | None, tuple[x509.GeneralName, ...], str]:
    try:
        extensions = crl.extensions
    except ValueError as exc:
        raise CrlFormatError(f"bad CRL extension: {exc}", source=source) from None
    number: int | None = None
    aki: bytes | None = None
    dps: tuple[x509.GeneralName, ...] = ()
    scope = "all"
    for ext in extensions:
        value = ext.value
        if isinstance(value, x509.CRLNumber):
            number = value.crl_number
        elif isinstance(value, x509.AuthorityKeyIdentifier):
            aki = value.key_identifier
        elif isinstance(value, x509.IssuingDistributionPoint):
            if value.indirect_crl:
                raise CrlUnsupportedError("indirect CRLs are not supported", source=source)
            if value.only_some_reasons:
                raise CrlUnsupportedError(
                    "CRLs limited to some reasons (onlySomeReasons) are not supported",
                    source=source,
                )
            if value.only_contains_attribute_certs:
                raise CrlUnsupportedError(
                    "attribute-certificate CRLs are not supported", source=source
                )
            if value.only_contains_user_certs:
                scope = "user"
            elif value.only_contains_ca_certs:
                scope = "ca"
            if value.full_name is not None:
                dps = tuple(value.full_name)
            elif value.relative_name is not None:
                dps = (x509.DirectoryName(_append_rdn(issuer, value.relative_name)),)
        elif isinstance(value, x509.DeltaCRLIndicator):
            raise CrlUnsupportedError("delta CRLs are not supported", source=source)
        elif ext.critical:
            raise CrlUnsupportedError(
                f"unsupported critical CRL extension {ext.oid.dotted_string}", source=source
            )
    if number is None:
        raise CrlFormatError("CRL has no CRL number (RFC 5280 requires it)", source=source)
    if number < 0:
        raise CrlFormatError("negative CRL number", source=source)
    return number, aki, dps, scope


def _append_rdn(name: x509.Name, rdn: x509.RelativeDistinguishedName) -> x509.Name:
    return x509.Name([*name.rdns, rdn])


def dp_key(general_name: x509.GeneralName) -> bytes | None:
    """Stable bytes identifying a distribution point name (DirName or URI); None otherwise."""
    if isinstance(general_name, x509.DirectoryName):
        return b"D" + general_name.value.public_bytes()
    if isinstance(general_name, x509.UniformResourceIdentifier):
        return b"U" + general_name.value.encode("utf-8")
    return None


def dp_display(general_name: x509.GeneralName) -> str:
    if isinstance(general_name, x509.DirectoryName):
        return general_name.value.rfc4514_string()
    if isinstance(general_name, x509.UniformResourceIdentifier):
        return general_name.value
    return repr(general_name)


def certificate_dp_keys(cert: x509.Certificate) -> list[tuple[bytes, x509.GeneralName]]:
    """The CRL distribution point keys of ``cert`` with their names (DirName/URI full names,
    relative names resolved against the issuer); DPs naming another CRL issuer are ignored."""
    try:
        ext = cert.extensions.get_extension_for_oid(ExtensionOID.CRL_DISTRIBUTION_POINTS)
    except x509.ExtensionNotFound:
        return []
    value = ext.value
    assert isinstance(value, x509.CRLDistributionPoints)
    return distribution_point_keys(value, cert.issuer)


def distribution_point_keys(
    value: x509.CRLDistributionPoints, issuer: x509.Name
) -> list[tuple[bytes, x509.GeneralName]]:
    """Keys of the usable names in a cRLDistributionPoints value (see
    :func:`certificate_dp_keys`)."""
    out: list[tuple[bytes, x509.GeneralName]] = []
    for point in value:
        if point.crl_issuer:
            continue
        names: Sequence[x509.GeneralName]
        if point.full_name is not None:
            names = point.full_name
        elif point.relative_name is not None:
            names = [x509.DirectoryName(_append_rdn(issuer, point.relative_name))]
        else:
            continue
        for gn in names:
            key = dp_key(gn)
            if key is not None:
                out.append((key, gn))
    return out


_OID_AKI_TLV = bytes.fromhex("0603551d23")
_OID_CRLDP_TLV = bytes.fromhex("0603551d1f")
_OID_BC_TLV = bytes.fromhex("0603551d13")


def certificate_revocation_fields(der: bytes) -> tuple[bytes | None, bytes | None, bool]:
    """(AKI keyIdentifier, raw cRLDistributionPoints extnValue, basicConstraints cA) read
    straight from a certificate's DER, without having cryptography decode every extension
    (which costs tens of microseconds per new certificate object). Raises :class:`DerError`
    if malformed."""
    _, body, end = read_tlv(der, 0, len(der))
    tag, pos, tbs_end = read_tlv(der, body, end)
    if tag != 0x30:
        raise DerError("tbsCertificate is not a SEQUENCE", body)
    aki: bytes | None = None
    crldp: bytes | None = None
    is_ca = False
    while pos < tbs_end:
        tag, content, stop = read_tlv(der, pos, tbs_end)
        if tag == 0xA3:
            tag, ext_pos, ext_end = read_tlv(der, content, stop)
            if tag != 0x30:
                raise DerError("extensions is not a SEQUENCE", content)
            while ext_pos < ext_end:
                tag, inner, ext_stop = read_tlv(der, ext_pos, ext_end)
                if tag != 0x30:
                    raise DerError("extension is not a SEQUENCE", ext_pos)
                _, _, oid_stop = read_tlv(der, inner, ext_stop)
                oid = der[inner:oid_stop]
                if oid in (_OID_AKI_TLV, _OID_CRLDP_TLV, _OID_BC_TLV):
                    cursor = oid_stop
                    tag, vstart, vstop = read_tlv(der, cursor, ext_stop)
                    if tag == 0x01:
                        tag, vstart, vstop = read_tlv(der, vstop, ext_stop)
                    if tag != 0x04:
                        raise DerError("extnValue is not an OCTET STRING", cursor)
                    if oid == _OID_CRLDP_TLV:
                        crldp = der[vstart:vstop]
                    elif oid == _OID_BC_TLV:
                        tag, bstart, bstop = read_tlv(der, vstart, vstop)
                        if tag != 0x30:
                            raise DerError("basicConstraints is not a SEQUENCE", vstart)
                        if bstart < bstop and der[bstart] == 0x01:
                            _, fstart, fstop = read_tlv(der, bstart, bstop)
                            is_ca = der[fstart:fstop] == b"\xff"
                    else:
                        tag, kstart, kstop = read_tlv(der, vstart, vstop)
                        if tag != 0x30:
                            raise DerError("AKI is not a SEQUENCE", vstart)
                        if kstart < kstop and der[kstart] == 0x80:
                            _, idstart, idstop = read_tlv(der, kstart, kstop)
                            aki = der[idstart:idstop]
                ext_pos = ext_stop
        pos = stop
    return aki, crldp, is_ca


# ----------------------------------------------------------------------------- entries


@dataclass(frozen=True)
class EntryTable:
    """Sorted packed keys (``serial << idx_bits | entry_index``) and entry offsets.

    ``kind`` is ``"f64"`` (keys are doubles: exact because every key is below 2**53),
    ``"u64"`` (unsigned 64-bit ints) or ``"wide"`` (a list of Python ints, for serials too big
    for 64 bits with the index).
    """

    keys: Keys
    offsets: array[int]
    idx_bits: int
    kind: str

    @property
    def count(self) -> int:
        return len(self.offsets)


def walk_entries(
    der: bytes,
    start: int,
    end: int,
    *,
    expected_count: int | None = None,
    source: str | None = None,
) -> EntryTable:
    """Read every entry of the revokedCertificates content ``der[start:end]``.

    ``expected_count`` (cryptography's own count of the entries) is cross-checked. Raises
    :class:`CrlFormatError` (malformed entry, negative serial) or :class:`CrlUnsupportedError`
    (an entry extension the index cannot honour).
    """
    max_entries = (end - start) // _MIN_ENTRY_SIZE + 1
    idx_bits = max(1, max_entries.bit_length())
    try:
        fkeys, offsets = _walk(der, start, end, idx_bits, float, source=source)
        if expected_count is not None and len(offsets) != expected_count:
            raise DerError(
                f"{len(offsets)} entries walked but the parser counted {expected_count}", start
            )
        if not fkeys or max(fkeys) < _FLOAT_EXACT:
            fkeys.sort()
            return EntryTable(array("d", fkeys), offsets, idx_bits, kind="f64")
        del fkeys, offsets
        ikeys, offsets = _walk(der, start, end, idx_bits, int, source=source)
    except DerError as exc:
        raise CrlFormatError(f"malformed revoked entry: {exc}", source=source) from None
    ikeys.sort()
    if ikeys[-1] < (1 << 64):
        return EntryTable(array("Q", ikeys), offsets, idx_bits, kind="u64")
    return EntryTable(ikeys, offsets, idx_bits, kind="wide")


def _walk(
    b: bytes, p: int, end: int, ib: int, conv: Callable[[int], Any], *, source: str | None
) -> tuple[list[Any], array[int]]:
    """The hot loop: one pass, a few operations per entry.

    cryptography's parser has already validated every entry against the ASN.1 schema
    (SEQUENCE { INTEGER, Time, Extensions OPTIONAL }, minimal INTEGERs, valid times), so the
    plain case only needs the framing equation ``entry length == INTEGER TLV + Time TLV``, a
    short-form length and a non-negative serial. Anything else (long lengths, negative serials,
    extensions other than exactly one reasonCode) goes through :func:`_slow_entry`, which checks
    everything itself.
    """
    out: list[Any] = []
    append = out.append
    offsets = array("I")
    record = offsets.append
    from_bytes = int.from_bytes
    prefix = _REASON_ONLY_PREFIX
    valid_reasons = _VALID_REASON_OCTETS
    i = 0
    try:
        while p < end:
            length = b[p + 1]
            q = p + 4 + b[p + 3]
            e = p + 2 + length
            if length < 128 and b[p + 4] < 128 and e == q + 2 + b[q + 1]:
                append(conv((from_bytes(b[p + 4 : q], "big") << ib) | i))
            else:
                t = q + 2 + b[q + 1]
                if (
                    length < 128
                    and b[p + 4] < 128
                    and e == t + 14
                    and b[t : t + 13] == prefix
                    and b[t + 13] in valid_reasons
                ):
                    append(conv((from_bytes(b[p + 4 : q], "big") << ib) | i))
                else:
                    serial, e = _slow_entry(b, p, end, source)
                    append(conv((serial << ib) | i))
            record(p)
            i += 1
            p = e
    except IndexError:
        raise DerError("entry runs past the end of the CRL", p) from None
    if p != end:
        raise DerError("last entry runs past revokedCertificates", p)
    return out, offsets


def _slow_entry(b: bytes, p: int, end: int, source: str | None) -> tuple[int, int]:
    """Fully strict parse of one entry; returns (serial, end offset)."""
    tag, body, stop = read_tlv(b, p, end)
    if tag != 0x30:
        raise DerError("revoked entry is not a SEQUENCE", p)
    serial, pos = _read_serial(b, body, stop)
    tag, tstart, tstop = read_tlv(b, pos, stop)
    _decode_time(tag, bytes(b[tstart:tstop]), pos)
    pos = tstop
    if pos < stop:
        tag, ext_start, ext_stop = read_tlv(b, pos, stop)
        if tag != 0x30 or ext_stop != stop:
            raise DerError("crlEntryExtensions is not the last SEQUENCE", pos)
        _entry_extensions(b, ext_start, ext_stop, source)
    return serial, stop


def _read_serial(b: bytes, pos: int, end: int) -> tuple[int, int]:
    tag, start, stop = read_tlv(b, pos, end)
    if tag != 0x02:
        raise DerError("userCertificate is not an INTEGER", pos)
    if start == stop:
        raise DerError("empty INTEGER", pos)
    if b[start] & 0x80:
        raise DerError("negative serial number (RFC 5280 requires positive)", pos)
    if stop - start > 1 and b[start] == 0 and not b[start + 1] & 0x80:
        raise DerError("non-minimal INTEGER", pos)
    return int.from_bytes(b[start:stop], "big"), stop


def _entry_extensions(
    b: bytes, pos: int, end: int, source: str | None
) -> tuple[int | None, dt.datetime | None]:
    reason: int | None = None
    invalidity: dt.datetime | None = None
    seen: set[bytes] = set()
    if pos == end:
        raise DerError("empty crlEntryExtensions", pos)
    while pos < end:
        tag, body, stop = read_tlv(b, pos, end)
        if tag != 0x30:
            raise DerError("extension is not a SEQUENCE", pos)
        tag, oid_start, oid_stop = read_tlv(b, body, stop)
        if tag != 0x06 or oid_start == oid_stop:
            raise DerError("extension id is not an OID", body)
        oid = bytes(b[oid_start:oid_stop])
        if oid in seen:
            raise DerError("duplicate entry extension", body)
        seen.add(oid)
        cursor = oid_stop
        critical = False
        tag, vstart, vstop = read_tlv(b, cursor, stop)
        if tag == 0x01:
            if vstop - vstart != 1 or b[vstart] != 0xFF:
                raise DerError("critical flag must be an explicit TRUE in DER", cursor)
            critical = True
            cursor = vstop
            tag, vstart, vstop = read_tlv(b, cursor, stop)
        if tag != 0x04 or vstop != stop:
            raise DerError("extnValue is not the final OCTET STRING", cursor)
        if oid == _OID_REASON:
            itag, istart, istop = read_tlv(b, vstart, vstop)
            if itag != 0x0A or istop != vstop or istop - istart != 1:
                raise DerError("reasonCode is not a one-octet ENUMERATED", vstart)
            if b[istart] not in _VALID_REASON_OCTETS:
                raise DerError(f"unknown reasonCode {b[istart]}", istart)
            reason = b[istart]
        elif oid == _OID_INVALIDITY_DATE:
            itag, istart, istop = read_tlv(b, vstart, vstop)
            if itag != 0x18 or istop != vstop:
                raise DerError("invalidityDate is not a GeneralizedTime", vstart)
            invalidity = _decode_time(0x18, bytes(b[istart:istop]), vstart)
        elif oid == _OID_CERTIFICATE_ISSUER:
            raise CrlUnsupportedError(
                "entry with certificateIssuer (indirect CRL) is not supported", source=source
            )
        elif critical:
            raise CrlUnsupportedError(
                f"unsupported critical entry extension {_oid_text(oid)}", source=source
            )
        pos = stop
    return reason, invalidity


def _oid_text(oid: bytes) -> str:
    try:
        return x509.ObjectIdentifier(_oid_dotted(oid)).dotted_string
    except ValueError:
        return oid.hex()


def _oid_dotted(oid: bytes) -> str:
    arcs: list[int] = []
    value = 0
    for byte in oid:
        value = (value << 7) | (byte & 0x7F)
        if not byte & 0x80:
            arcs.append(value)
            value = 0
    if not arcs:
        raise ValueError("empty OID")
    first = arcs[0]
    head = [min(first // 40, 2), first - 40 * min(first // 40, 2)]
    return ".".join(str(a) for a in head + arcs[1:])


def _decode_time(tag: int, text: bytes, pos: int) -> dt.datetime:
    if tag == 0x17:
        if len(text) != 13:
            raise DerError("UTCTime must be YYMMDDHHMMSSZ", pos)
        digits, year_digits = text[:12], 2
    elif tag == 0x18:
        if len(text) != 15:
            raise DerError("GeneralizedTime must be YYYYMMDDHHMMSSZ", pos)
        digits, year_digits = text[:14], 4
    else:
        raise DerError("not a Time", pos)
    if text[-1:] != b"Z" or not digits.isdigit():
        raise DerError("malformed time", pos)
    year = int(digits[:year_digits])
    if year_digits == 2:
        year += 2000 if year < 50 else 1900
    rest = digits[year_digits:]
    try:
        return dt.datetime(
            year,
            int(rest[0:2]),
            int(rest[2:4]),
            int(rest[4:6]),
            int(rest[6:8]),
            int(rest[8:10]),
            tzinfo=UTC,
        )
    except ValueError:
        raise DerError("time out of range", pos) from None


@dataclass(frozen=True)
class RevokedEntry:
    """One decoded CRL entry."""

    serial: int
    revoked_at: dt.datetime
    reason: str | None
    invalidity_date: dt.datetime | None


def parse_entry(buf: bytes | memoryview, offset: int, end: int | None = None) -> RevokedEntry:
    """Decode the entry at ``offset`` (strict). Raises :class:`DerError` if damaged."""
    limit = len(buf) if end is None else end
    tag, body, stop = read_tlv(buf, offset, limit)
    if tag != 0x30:
        raise DerError("revoked entry is not a SEQUENCE", offset)
    serial, pos = _read_serial(bytes(buf[body:stop]), 0, stop - body)
    pos += body
    tag, tstart, tstop = read_tlv(buf, pos, stop)
    revoked_at = _decode_time(tag, bytes(buf[tstart:tstop]), pos)
    reason: int | None = None
    invalidity: dt.datetime | None = None
    if tstop < stop:
        tag, ext_start, ext_stop = read_tlv(buf, tstop, stop)
        if tag != 0x30 or ext_stop != stop:
            raise DerError("crlEntryExtensions is not the last SEQUENCE", tstop)
        chunk = bytes(buf[ext_start:ext_stop])
        reason, invalidity = _entry_extensions(chunk, 0, len(chunk), None)
    return RevokedEntry(
        serial=serial,
        revoked_at=revoked_at,
        reason=None if reason is None else REASON_NAMES[reason],
        invalidity_date=invalidity,
    )


# ----------------------------------------------------------------------------- directory


def build_directory(keys: Keys, idx_bits: int) -> tuple[int, int, array[int]]:
    """A bucket directory over sorted packed keys: returns (min_serial, shift, starts).

    Bucket ``b`` holds serials in ``[min + (b << shift), min + ((b + 1) << shift))``;
    ``starts[b]`` is the index of its first key and ``starts[-1] == len(keys)``. About 8 keys
    per bucket on average (uniform serials), so a lookup bisects a handful of keys. Boundaries
    are compared as Python ints, so float keys are compared exactly.
    """
    count = len(keys)
    if count == 0:
        return 0, 0, array("I", [0, 0])
    lo = int(keys[0]) >> idx_bits
    hi = int(keys[-1]) >> idx_bits
    dir_bits = max(0, (count // 8).bit_length())
    shift = max(0, (hi - lo).bit_length() - dir_bits)
    buckets = ((hi - lo) >> shift) + 1
    step = 1 << (shift + idx_bits)
    first = lo << idx_bits
    bounds = range(first, first + buckets * step, step)
    starts = array("I", map(bisect_left, repeat(keys, buckets), bounds))
    starts.append(count)
    return lo, shift, starts
