"""CRLs of the test PKI: ordinary ones (cryptography's builder) and very large ones.

JPKI CRLs are partitioned per municipality, each named by a DirName distribution point that the
CRL repeats in a critical issuingDistributionPoint extension. Verifiers at national scale must
cope with CRLs of a million entries; cryptography's CRL builder is far too slow for that, so
:func:`write_large_crl` encodes the DER itself, streaming: the TBSCertList goes to the output
and into an incremental SHA-256 at the same time, then the RSA signature is made over the
prehashed digest. Entries have a fixed size, so every length is known before writing.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import io
import logging
import struct
from collections.abc import Collection, Iterable, Sequence
from typing import BinaryIO

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa, utils
from cryptography.x509.oid import ExtensionOID

__all__ = ["REASON_CODES", "build_crl", "build_large_crl", "write_large_crl"]

logger = logging.getLogger(__name__)

#: RFC 5280 CRLReason codes.
REASON_CODES: dict[x509.ReasonFlags, int] = {
    x509.ReasonFlags.unspecified: 0,
    x509.ReasonFlags.key_compromise: 1,
    x509.ReasonFlags.ca_compromise: 2,
    x509.ReasonFlags.affiliation_changed: 3,
    x509.ReasonFlags.superseded: 4,
    x509.ReasonFlags.cessation_of_operation: 5,
    x509.ReasonFlags.certificate_hold: 6,
    x509.ReasonFlags.privilege_withdrawn: 9,
    x509.ReasonFlags.aa_compromise: 10,
}

Entry = tuple[int, x509.ReasonFlags, _dt.datetime]

_SHA256_RSA = bytes.fromhex("300d06092a864886f70d01010b0500")
_OID_CRL_REASON = bytes.fromhex("0603551d15")


def _idp(distribution_point: x509.Name, only_ca_certs: bool) -> x509.IssuingDistributionPoint:
    return x509.IssuingDistributionPoint(
        full_name=[x509.DirectoryName(distribution_point)],
        relative_name=None,
        only_contains_user_certs=not only_ca_certs,
        only_contains_ca_certs=only_ca_certs,
        only_some_reasons=None,
        indirect_crl=False,
        only_contains_attribute_certs=False,
    )


def _aki(issuer: x509.Certificate) -> x509.AuthorityKeyIdentifier:
    ski = issuer.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    return x509.AuthorityKeyIdentifier(
        key_identifier=ski.digest, authority_cert_issuer=None, authority_cert_serial_number=None
    )


def _check_times(this_update: _dt.datetime, next_update: _dt.datetime) -> None:
    for label, value in (("this_update", this_update), ("next_update", next_update)):
        if value.tzinfo is None:
            raise ValueError(f"{label} must be timezone-aware")
    if next_update <= this_update:
        raise ValueError("next_update must be after this_update")


def build_crl(
    *,
    issuer: x509.Certificate,
    issuer_key: rsa.RSAPrivateKey,
    distribution_point: x509.Name,
    entries: Iterable[Entry],
    number: int,
    this_update: _dt.datetime,
    next_update: _dt.datetime,
    only_ca_certs: bool = False,
) -> bytes:
    """A DER CRL (v2, sha256WithRSA) with AKI, CRL number and a critical IDP naming the DP.

    ``entries`` are ``(serial, reason, revocation time)``; reason ``unspecified`` is left out of
    the entry (RFC 5280 §5.3.1), any other reason becomes a CRLReason entry extension.
    """
    _check_times(this_update, next_update)
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(issuer.subject)
        .last_update(this_update)
        .next_update(next_update)
    )
    for serial, reason, revoked_at in entries:
        entry = x509.RevokedCertificateBuilder().serial_number(serial).revocation_date(revoked_at)
        if reason is not x509.ReasonFlags.unspecified:
            entry = entry.add_extension(x509.CRLReason(reason), critical=False)
        builder = builder.add_revoked_certificate(entry.build())
    builder = (
        builder.add_extension(_aki(issuer), critical=False)
        .add_extension(x509.CRLNumber(number), critical=False)
        .add_extension(_idp(distribution_point, only_ca_certs), critical=True)
    )
    crl = builder.sign(issuer_key, hashes.SHA256())
    from cryptography.hazmat.primitives import serialization

    return crl.public_bytes(serialization.Encoding.DER)


# -- a small DER encoder ----------------------------------------------------------------------


def _len(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    body = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(body)]) + body


def _tlv(tag: int, content: bytes) -> bytes:
    return bytes([tag]) + _len(len(content)) + content


def _header(tag: int, length: int) -> bytes:
    return bytes([tag]) + _len(length)


def _integer(value: int) -> bytes:
    if value < 0:
        raise ValueError("serial numbers must be positive")
    body = value.to_bytes(value.bit_length() // 8 + 1, "big")
    return _tlv(0x02, body)


def _time(value: _dt.datetime) -> bytes:
    utc = value.astimezone(_dt.timezone.utc)
    if 1950 <= utc.year < 2050:
        return _tlv(0x17, utc.strftime("%y%m%d%H%M%SZ").encode())
    return _tlv(0x18, utc.strftime("%Y%m%d%H%M%SZ").encode())


def _extension(ext: x509.ExtensionType, oid: x509.ObjectIdentifier, critical: bool) -> bytes:
    body = _oid(oid.dotted_string)
    if critical:
        body += b"\x01\x01\xff"
    body += _tlv(0x04, ext.public_bytes())
    return _tlv(0x30, body)


def _oid(dotted: str) -> bytes:
    parts = [int(p) for p in dotted.split(".")]
    out = bytearray([parts[0] * 40 + parts[1]])
    for part in parts[2:]:
        chunk = [part & 0x7F]
        rest = part >> 7
        while rest:
            chunk.append(0x80 | (rest & 0x7F))
            rest >>= 7
        out += bytes(reversed(chunk))
    return _tlv(0x06, bytes(out))


def _entry(serial: int, revoked_at: _dt.datetime, reason: x509.ReasonFlags | None) -> bytes:
    body = _integer(serial) + _time(revoked_at)
    if reason is not None and reason is not x509.ReasonFlags.unspecified:
        ext = _tlv(0x30, _OID_CRL_REASON + _tlv(0x04, _tlv(0x0A, bytes([REASON_CODES[reason]]))))
        body += _tlv(0x30, ext)
    return _tlv(0x30, body)


def _crl_extensions(
    issuer: x509.Certificate, distribution_point: x509.Name, number: int, only_ca_certs: bool
) -> bytes:
    exts = (
        _extension(_aki(issuer), ExtensionOID.AUTHORITY_KEY_IDENTIFIER, False)
        + _extension(x509.CRLNumber(number), ExtensionOID.CRL_NUMBER, False)
        + _extension(
            _idp(distribution_point, only_ca_certs),
            ExtensionOID.ISSUING_DISTRIBUTION_POINT,
            True,
        )
    )
    return _tlv(0xA0, _tlv(0x30, exts))


_SERIAL_LOW = 0x01000000
_SERIAL_SPACE = 0x7F000000  # serials in [0x01000000, 0x7FFFFFFF]; 2^24 * 127 of them


def _bulk_serial_params(seed: int) -> tuple[int, int, int, int]:
    """An affine permutation i -> lo + (a*i + b) mod m over the 4-byte serial range."""
    lo, m = _SERIAL_LOW, _SERIAL_SPACE
    digest = hashlib.sha256(f"jpki-sim/bulk-crl/{seed}".encode()).digest()
    a = int.from_bytes(digest[:4], "big") | 1
    while a % 127 == 0:
        a += 2
    b = int.from_bytes(digest[4:8], "big") % m
    return lo, m, a % m, b


def write_large_crl(
    out: BinaryIO,
    *,
    issuer: x509.Certificate,
    issuer_key: rsa.RSAPrivateKey,
    distribution_point: x509.Name,
    count: int,
    number: int,
    this_update: _dt.datetime,
    next_update: _dt.datetime,
    seed: int = 0,
    extra_entries: Sequence[Entry] = (),
    reason: x509.ReasonFlags | None = None,
    exclude: Collection[int] = (),
) -> int:
    """Stream a valid signed CRL with ``count`` synthetic revoked serials (plus ``extra_entries``).

    Synthetic serials are distinct 4-byte positive integers (a permutation of the serial space
    from ``seed``), none equal to an extra entry's serial or to one in ``exclude``, with
    revocation times spread over the three years before ``this_update``. ``reason`` (if not
    None/unspecified) is added to every synthetic entry. Returns the number of bytes written.
    """
    if count < 0:
        raise ValueError("count must be >= 0")
    if count > _SERIAL_SPACE - len(extra_entries) - len(exclude):
        raise ValueError(f"count must be at most {_SERIAL_SPACE:,} minus the excluded serials")
    _check_times(this_update, next_update)
    extras = b"".join(_entry(s, t, r) for s, r, t in extra_entries)
    taken = {s for s, _, _ in extra_entries} | set(exclude)

    # Fixed-size synthetic entries: 30 L [02 04 serial] [17 0D time] ([30 0D reason ext]).
    times = [
        _time(this_update - _dt.timedelta(seconds=(k * 23_563) % (3 * 365 * 86_400) + 60))
        for k in range(4096)
    ]
    if len({len(t) for t in times}) != 1:
        raise ValueError("revocation times straddle 2050; choose another this_update")
    reason_ext = b""
    if reason is not None and reason is not x509.ReasonFlags.unspecified:
        reason_ext = _tlv(
            0x30,
            _tlv(0x30, _OID_CRL_REASON + _tlv(0x04, _tlv(0x0A, bytes([REASON_CODES[reason]])))),
        )
    entry_body_len = 6 + len(times[0]) + len(reason_ext)
    entry_len = 2 + entry_body_len
    assert entry_body_len < 0x80

    revoked_len = count * entry_len + len(extras)
    prefix = (
        _integer(1)  # v2
        + _SHA256_RSA
        + issuer.subject.public_bytes()
        + _time(this_update)
        + _time(next_update)
    )
    extensions = _crl_extensions(issuer, distribution_point, number, only_ca_certs=False)
    revoked_header = _header(0x30, revoked_len) if revoked_len else b""
    tbs_len = len(prefix) + len(revoked_header) + revoked_len + len(extensions)
    tbs_header = _header(0x30, tbs_len)

    key_bytes = (issuer_key.key_size + 7) // 8
    signature_field_len = len(_header(0x03, key_bytes + 1)) + key_bytes + 1
    total_len = len(tbs_header) + tbs_len + len(_SHA256_RSA) + signature_field_len
    outer = _header(0x30, total_len)

    digest = hashes.Hash(hashes.SHA256())
    written = 0

    def emit(chunk: bytes | bytearray | memoryview, hashed: bool = True) -> None:
        nonlocal written
        out.write(chunk)
        written += len(chunk)
        if hashed:
            digest.update(chunk)

    emit(outer, hashed=False)
    emit(tbs_header + prefix + revoked_header)
    if extras:
        emit(extras)

    lo, m, a, b = _bulk_serial_params(seed)
    entry_head = bytes([0x30, entry_body_len, 0x02, 0x04])
    chunk_entries = 8192
    buf = bytearray(chunk_entries * entry_len)
    pack_into = struct.pack_into
    produced = 0
    i = 0
    while produced < count:
        n = min(chunk_entries, count - produced)
        pos = 0
        filled = 0
        while filled < n:
            serial = lo + (a * i + b) % m
            i += 1
            if serial in taken:
                continue
            buf[pos : pos + 4] = entry_head
            pack_into(">I", buf, pos + 4, serial)
            t = times[i & 4095]
            end = pos + 8 + len(t)
            buf[pos + 8 : end] = t
            if reason_ext:
                buf[end : end + len(reason_ext)] = reason_ext
            pos += entry_len
            filled += 1
        emit(memoryview(buf)[:pos])
        produced += n
    emit(extensions)
    tbs_digest = digest.finalize()
    signature = issuer_key.sign(tbs_digest, padding.PKCS1v15(), utils.Prehashed(hashes.SHA256()))
    emit(_SHA256_RSA + _header(0x03, len(signature) + 1) + b"\x00" + signature, hashed=False)
    if written != len(outer) + total_len:  # pragma: no cover - an encoder bug, not user input
        raise AssertionError("large CRL length mismatch")
    logger.info("wrote a CRL with %d synthetic entries (%d bytes)", count, written)
    return written


def build_large_crl(
    *,
    issuer: x509.Certificate,
    issuer_key: rsa.RSAPrivateKey,
    distribution_point: x509.Name,
    count: int,
    number: int,
    this_update: _dt.datetime,
    next_update: _dt.datetime,
    seed: int = 0,
    extra_entries: Sequence[Entry] = (),
    reason: x509.ReasonFlags | None = None,
    exclude: Collection[int] = (),
) -> bytes:
    """:func:`write_large_crl` into memory; returns the DER."""
    buf = io.BytesIO()
    write_large_crl(
        buf,
        issuer=issuer,
        issuer_key=issuer_key,
        distribution_point=distribution_point,
        count=count,
        number=number,
        this_update=this_update,
        next_update=next_update,
        seed=seed,
        extra_entries=extra_entries,
        reason=reason,
        exclude=exclude,
    )
    return buf.getvalue()
