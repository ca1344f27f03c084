"""Test PKI and raw DER builders for the revocation tests and the revocation bench.

Everything here is generated (keys, names, serials); nothing is real. RSA keys are made once
per process (lru_cache) because RSA key generation is slow.

``build_crl_der`` writes the revokedCertificates list itself (fast: a 1,000,000-entry CRL in
about a second) and lets tests put arbitrary, even malformed, entries inside a CRL that is
still correctly signed, which cryptography's builder cannot do.
"""

from __future__ import annotations

import datetime as dt
import functools
import random
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

UTC = dt.timezone.utc
NOW = dt.datetime(2025, 6, 1, 3, 0, 0, tzinfo=UTC)

AUTH_OU = "JPKI TEST for user authentication"


def root_name(ou: str = AUTH_OU) -> x509.Name:
    """One DN shared by every generation (as for the real J-LIS roots)."""
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "JPKI TEST"),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, ou),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "Revocation test PKI"),
        ]
    )


def dp_name(prefecture: str, municipality: str, ou: str = AUTH_OU) -> x509.Name:
    """The per-municipality CRL distribution point DirName (spec 5.2 shape)."""
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "JPKI TEST"),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, ou),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "CRL Distribution Points"),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, prefecture),
            x509.NameAttribute(NameOID.COMMON_NAME, f"{municipality} CRLDP"),
        ]
    )


DP_KIYOSE = dp_name("Tokyo-to", "Kiyose-shi")
DP_NAKA = dp_name("Kanagawa-ken", "Yokohama-shi-Naka-ku")


@functools.cache
def rsa_key(label: str) -> rsa.RSAPrivateKey:
    """One RSA-2048 key per label per process."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def ski(key: rsa.RSAPrivateKey) -> bytes:
    return x509.SubjectKeyIdentifier.from_public_key(key.public_key()).digest


@functools.cache
def make_root(generation: int, ou: str = AUTH_OU) -> x509.Certificate:
    """A self-signed test root; generations share the DN and differ by key."""
    key = rsa_key(f"root-{ou}-{generation}")
    name = root_name(ou)
    start = dt.datetime(2015 + 4 * (generation - 1), 1, 1, tzinfo=UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(0x1000 + generation)
        .not_valid_before(start)
        .not_valid_after(start + dt.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier(ski(key)), critical=False)
    )
    return builder.sign(key, hashes.SHA256())


def root_key(generation: int, ou: str = AUTH_OU) -> rsa.RSAPrivateKey:
    return rsa_key(f"root-{ou}-{generation}")


def make_ee(
    serial: int,
    *,
    generation: int = 2,
    dp: x509.Name | None = DP_KIYOSE,
    ocsp_url: str | None = None,
    ou: str = AUTH_OU,
    dp_uri: str | None = None,
) -> x509.Certificate:
    """An end-entity certificate issued by root ``generation`` with a DirName CRL DP."""
    issuer_key = root_key(generation, ou)
    key = rsa_key("ee")
    builder = (
        x509.CertificateBuilder()
        .subject_name(
            x509.Name(
                [
                    x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
                    x509.NameAttribute(NameOID.COMMON_NAME, f"TESTEE{serial:08X}13221TEST"),
                ]
            )
        )
        .issuer_name(root_name(ou))
        .public_key(key.public_key())
        .serial_number(serial)
        .not_valid_before(dt.datetime(2024, 1, 1, tzinfo=UTC))
        .not_valid_after(dt.datetime(2028, 12, 7, 14, 59, 59, tzinfo=UTC))
        .add_extension(
            x509.AuthorityKeyIdentifier(ski(issuer_key), None, None),
            critical=False,
        )
    )
    points = []
    if dp is not None:
        points.append(x509.DistributionPoint([x509.DirectoryName(dp)], None, None, None))
    if dp_uri is not None:
        points.append(
            x509.DistributionPoint([x509.UniformResourceIdentifier(dp_uri)], None, None, None)
        )
    if points:
        builder = builder.add_extension(x509.CRLDistributionPoints(points), critical=False)
    if ocsp_url is not None:
        builder = builder.add_extension(
            x509.AuthorityInformationAccess(
                [
                    x509.AccessDescription(
                        x509.oid.AuthorityInformationAccessOID.OCSP,
                        x509.UniformResourceIdentifier(ocsp_url),
                    )
                ]
            ),
            critical=False,
        )
    return builder.sign(issuer_key, hashes.SHA256())


def make_responder(
    *,
    generation: int = 2,
    eku: bool = True,
    signed_by: rsa.RSAPrivateKey | None = None,
    label: str = "responder",
    not_after: dt.datetime | None = None,
) -> tuple[x509.Certificate, rsa.RSAPrivateKey]:
    """A delegated OCSP responder certificate issued by root ``generation``."""
    key = rsa_key(label)
    issuer_key = signed_by or root_key(generation)
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"TEST OCSP {label}")]))
        .issuer_name(root_name())
        .public_key(key.public_key())
        .serial_number(0x77000 + generation)
        .not_valid_before(dt.datetime(2024, 1, 1, tzinfo=UTC))
        .not_valid_after(not_after or dt.datetime(2030, 1, 1, tzinfo=UTC))
        .add_extension(x509.AuthorityKeyIdentifier(ski(issuer_key), None, None), critical=False)
    )
    if eku:
        builder = builder.add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.OCSP_SIGNING]), critical=False
        )
    return builder.sign(issuer_key, hashes.SHA256()), key


# ----------------------------------------------------------------------------- raw DER


def der_len(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    body = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(body)]) + body


def tlv(tag: int, body: bytes) -> bytes:
    return bytes([tag]) + der_len(len(body)) + body


def der_int(value: int) -> bytes:
    length = max(1, (value.bit_length() + 8) // 8) if value >= 0 else (value.bit_length() + 8) // 8
    return tlv(0x02, value.to_bytes(length, "big", signed=True))


def der_time(when: dt.datetime) -> bytes:
    when = when.astimezone(UTC)
    if 1950 <= when.year < 2050:
        return tlv(0x17, when.strftime("%y%m%d%H%M%SZ").encode())
    return tlv(0x18, when.strftime("%Y%m%d%H%M%SZ").encode())


REASON_CODES = {
    "unspecified": 0,
    "keyCompromise": 1,
    "cACompromise": 2,
    "affiliationChanged": 3,
    "superseded": 4,
    "cessationOfOperation": 5,
    "certificateHold": 6,
    "removeFromCRL": 8,
    "privilegeWithdrawn": 9,
    "aACompromise": 10,
}


def reason_ext(code: int) -> bytes:
    """crlEntryExtensions with one reasonCode extension."""
    ext = tlv(0x30, tlv(0x06, bytes([0x55, 0x1D, 0x15])) + tlv(0x04, tlv(0x0A, bytes([code]))))
    return tlv(0x30, ext)


def entry_der(serial: int, when: dt.datetime, reason: int | None = None) -> bytes:
    body = der_int(serial) + der_time(when)
    if reason is not None:
        body += reason_ext(reason)
    return tlv(0x30, body)


@dataclass(frozen=True)
class CrlSpec:
    generation: int = 2
    dp: x509.Name | None = DP_KIYOSE
    number: int = 1
    this_update: dt.datetime = NOW - dt.timedelta(hours=1)
    next_update: dt.datetime | None = NOW + dt.timedelta(days=1)
    ou: str = AUTH_OU


def _split_tlvs(data: bytes) -> list[bytes]:
    out = []
    pos = 0
    while pos < len(data):
        start = pos
        pos += 1
        first = data[pos]
        pos += 1
        if first < 0x80:
            length = first
        else:
            n = first & 0x7F
            length = int.from_bytes(data[pos : pos + n], "big")
            pos += n
        pos += length
        out.append(data[start:pos])
    return out


def _unwrap(data: bytes) -> bytes:
    first = data[1]
    if first < 0x80:
        return data[2:]
    return data[2 + (first & 0x7F) :]


def build_crl_der(
    entries: bytes | Iterable[bytes] = b"",
    spec: CrlSpec = CrlSpec(),
    *,
    extensions: Sequence[tuple[x509.ExtensionType, bool]] = (),
    sign_key: rsa.RSAPrivateKey | None = None,
    include_idp: bool = True,
    aki: bool = True,
    empty_list: bool = False,
    tamper_signature: bool = False,
) -> bytes:
    """A signed CRL whose revokedCertificates content is exactly ``entries`` (raw DER).

    The envelope (version, algorithm, issuer, times, extensions) comes from cryptography's
    builder so it is standard; the entry list is spliced in and the TBS re-signed.
    """
    key = sign_key or root_key(spec.generation, spec.ou)
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(root_name(spec.ou))
        .last_update(spec.this_update)
        .next_update(spec.next_update or spec.this_update + dt.timedelta(days=1))
        .add_extension(x509.CRLNumber(spec.number), critical=False)
    )
    if aki:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier(ski(root_key(spec.generation, spec.ou)), None, None),
            critical=False,
        )
    if include_idp and spec.dp is not None:
        builder = builder.add_extension(
            x509.IssuingDistributionPoint(
                full_name=[x509.DirectoryName(spec.dp)],
                relative_name=None,
                only_contains_user_certs=False,
                only_contains_ca_certs=False,
                only_some_reasons=None,
                indirect_crl=False,
                only_contains_attribute_certs=False,
            ),
            critical=True,
        )
    for ext, critical in extensions:
        builder = builder.add_extension(ext, critical=critical)
    template = builder.sign(key, hashes.SHA256())
    parts = _split_tlvs(_unwrap(template.tbs_certlist_bytes))
    if spec.next_update is None:
        parts = [p for i, p in enumerate(parts) if i != 4]
    body = b"".join(entries) if not isinstance(entries, bytes) else entries
    revoked = tlv(0x30, body) if (body or empty_list) else b""
    insert_at = len(parts) - 1  # before [0] crlExtensions
    tbs = tlv(0x30, b"".join(parts[:insert_at]) + revoked + parts[insert_at])
    signature = key.sign(tbs, padding.PKCS1v15(), hashes.SHA256())
    if tamper_signature:
        signature = bytes([signature[0] ^ 1]) + signature[1:]
    alg = _split_tlvs(_unwrap(template.public_bytes(serialization.Encoding.DER)))[1]
    return tlv(0x30, tbs + alg + tlv(0x03, b"\x00" + signature))


def bulk_entries(
    count: int, *, seed: int = 1, reason_every: int = 3, serial_bits: int = 32
) -> tuple[bytes, list[int]]:
    """``count`` distinct random serials in random (revocation) order; returns (DER, serials).

    Serials are ``serial_bits``-bit positive integers (JPKI auth certs: 4 bytes); every
    ``reason_every``-th entry carries a reasonCode extension.
    """
    rng = random.Random(seed)
    if serial_bits <= 60:
        serials = rng.sample(range(1, 1 << serial_bits), count)
    else:
        chosen: set[int] = set()
        while len(chosen) < count:
            chosen.add(rng.getrandbits(serial_bits) | 1)
        serials = list(chosen)
        rng.shuffle(serials)
    base = dt.datetime(2020, 1, 1, tzinfo=UTC)
    # Pre-encode a few thousand distinct revocation times and reuse them.
    span = 5 * 365 * 86400
    times = [der_time(base + dt.timedelta(seconds=rng.randrange(span))) for _ in range(4096)]
    reasons = [reason_ext(c) for c in (0, 1, 3, 4, 5, 9)]
    out = []
    ap = out.append
    for i, s in enumerate(serials):
        blen = (s.bit_length() + 8) // 8
        ser = b"\x02" + bytes([blen]) + s.to_bytes(blen, "big")
        body = ser + times[i & 4095]
        if reason_every and i % reason_every == 0:
            body += reasons[i % len(reasons)]
        ap(b"\x30" + bytes([len(body)]) + body)
    return b"".join(out), serials


def pem(der: bytes, label: str = "X509 CRL") -> bytes:
    import base64

    b64 = base64.encodebytes(der).replace(b"\n", b"")
    lines = [b64[i : i + 64] for i in range(0, len(b64), 64)]
    return (
        f"-----BEGIN {label}-----\n".encode()
        + b"\n".join(lines)
        + f"\n-----END {label}-----\n".encode()
    )


# ----------------------------------------------------------------------------- tiny HTTP server


@dataclass
class Reply:
    status: int = 200
    content_type: str = "application/octet-stream"
    body: bytes = b""
    delay: float = 0.0
    headers: dict[str, str] | None = None


class TinyHttpServer:
    """A loopback HTTP server whose answer to each request is computed by ``handler``
    (called with (method, path, headers, body) -> Reply). Requests are recorded."""

    def __init__(self, handler: Callable[[str, str, dict[str, str], bytes], Reply]) -> None:
        import http.server
        import threading

        owner = self
        self.handler = handler
        self.requests: list[tuple[str, str, dict[str, str], bytes]] = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                return

            def _serve(self, method: str) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                headers = {k: v for k, v in self.headers.items()}
                owner.requests.append((method, self.path, headers, body))
                reply = owner.handler(method, self.path, headers, body)
                if reply.delay:
                    import time

                    time.sleep(reply.delay)
                try:
                    self.send_response(reply.status)
                    self.send_header("Content-Type", reply.content_type)
                    self.send_header("Content-Length", str(len(reply.body)))
                    for k, v in (reply.headers or {}).items():
                        self.send_header(k, v)
                    self.end_headers()
                    self.wfile.write(reply.body)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def do_GET(self) -> None:
                self._serve("GET")

            def do_POST(self) -> None:
                self._serve("POST")

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/"

    def __enter__(self) -> TinyHttpServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
