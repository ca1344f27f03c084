"""A test chain factory: JPKI-shaped roots and end-entity certificates, with every knob the
verifier's tests need (wrong usage, extra critical extension, tampered signature, SHA-1, ...).

The simulator's PKI (simulator.pki) issues realistic cards; this factory builds the variants a
real PKI never issues. Everything is generated: the names say TEST, the keys are made once per
process (RSA key generation is slow), the identities are invented.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtendedKeyUsageOID, NameOID

from jpki_sdk.verify import POLICY_AUTH, POLICY_SIGN, Purpose

UTC = dt.timezone.utc
CPS_URI = "http://www.jpki.go.jp/cps.html"

#: Validity windows modelled on the real generations (01 expired, 02 and 03 current).
GENERATIONS: dict[int, tuple[dt.datetime, dt.datetime]] = {
    1: (
        dt.datetime(2015, 10, 20, 3, 0, tzinfo=UTC),
        dt.datetime(2025, 10, 19, 14, 59, 59, tzinfo=UTC),
    ),
    2: (
        dt.datetime(2019, 9, 14, 23, 42, tzinfo=UTC),
        dt.datetime(2029, 9, 14, 14, 59, 59, tzinfo=UTC),
    ),
    3: (
        dt.datetime(2023, 7, 16, 1, 0, tzinfo=UTC),
        dt.datetime(2033, 7, 15, 14, 59, 59, tzinfo=UTC),
    ),
}

#: A time at which generations 2 and 3 are both valid.
NOW = dt.datetime(2025, 6, 1, 3, 0, 0, tzinfo=UTC)

SAN_NAME = "1.2.392.200149.8.5.5.1"
SAN_NAME_SUBSTITUTES = "1.2.392.200149.8.5.5.2"
SAN_SEX = "1.2.392.200149.8.5.5.3"
SAN_BIRTH_DATE = "1.2.392.200149.8.5.5.4"
SAN_ADDRESS = "1.2.392.200149.8.5.5.5"
SAN_ADDRESS_SUBSTITUTES = "1.2.392.200149.8.5.5.6"

#: An invented person (no real data): 試験 花子, born 1980-02-17.
DEFAULT_IDENTITY: dict[str, str] = {
    SAN_NAME: "試験\u3000花子",
    SAN_BIRTH_DATE: "319800217",
    SAN_SEX: "2",
    SAN_ADDRESS: "東京都千代田区試験町１－２－３",
    SAN_NAME_SUBSTITUTES: "00000",
    SAN_ADDRESS_SUBSTITUTES: "000000000000000",
}
#: Real cards write the six otherNames in the order .1 .4 .3 .5 .2 .6 (spec §5.3).
SAN_ORDER = (
    SAN_NAME,
    SAN_BIRTH_DATE,
    SAN_SEX,
    SAN_ADDRESS,
    SAN_NAME_SUBSTITUTES,
    SAN_ADDRESS_SUBSTITUTES,
)

_LABEL = {Purpose.AUTH: "user authentication", Purpose.SIGN: "digital signature"}


@functools.cache
def rsa_key(index: int, bits: int = 2048) -> rsa.RSAPrivateKey:
    """A process-wide RSA key per index (made once: RSA key generation is slow)."""
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


@functools.cache
def ec_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def root_name(purpose: Purpose) -> x509.Name:
    """One DN per hierarchy, shared by every generation (as for the real J-LIS roots)."""
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "JPKI TEST"),
            x509.NameAttribute(
                NameOID.ORGANIZATIONAL_UNIT_NAME, f"JPKI TEST for {_LABEL[purpose]}"
            ),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "verify chain factory"),
        ]
    )


def dp_name(purpose: Purpose, prefecture: str, municipality: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "JPKI TEST"),
            x509.NameAttribute(
                NameOID.ORGANIZATIONAL_UNIT_NAME, f"JPKI TEST for {_LABEL[purpose]}"
            ),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "CRL Distribution Points"),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, prefecture),
            x509.NameAttribute(NameOID.COMMON_NAME, f"{municipality} CRLDP"),
        ]
    )


def utf8_other_name(oid: str, text: str) -> x509.OtherName:
    """``[0] { oid, [0] EXPLICIT UTF8String }`` as cryptography wants it (value = inner DER)."""
    data = text.encode("utf-8")
    return x509.OtherName(x509.ObjectIdentifier(oid), b"\x0c" + _der_len(len(data)) + data)


def _der_len(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    body = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(body)]) + body


def identity_san(
    values: dict[str, str] | None = None, extra: Iterable[x509.GeneralName] = ()
) -> x509.SubjectAlternativeName:
    vals = dict(DEFAULT_IDENTITY if values is None else values)
    names: list[x509.GeneralName] = [
        utf8_other_name(oid, vals[oid]) for oid in SAN_ORDER if oid in vals
    ]
    names += [utf8_other_name(oid, v) for oid, v in vals.items() if oid not in SAN_ORDER]
    names += list(extra)
    return x509.SubjectAlternativeName(names)


@dataclass(frozen=True)
class Root:
    purpose: Purpose
    generation: int
    key: rsa.RSAPrivateKey
    cert: x509.Certificate

    @property
    def ski(self) -> bytes:
        return x509.SubjectKeyIdentifier.from_public_key(self.key.public_key()).digest


def make_root(
    purpose: Purpose,
    generation: int,
    *,
    key_index: int | None = None,
    not_before: dt.datetime | None = None,
    not_after: dt.datetime | None = None,
    name: x509.Name | None = None,
) -> Root:
    key = rsa_key(
        key_index if key_index is not None else (10 if purpose is Purpose.AUTH else 20) + generation
    )
    start, end = GENERATIONS.get(generation, GENERATIONS[3])
    subject = name or root_name(purpose)
    public = key.public_key()
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(public)
        .serial_number(0x1000 + generation)
        .not_valid_before(not_before or start)
        .not_valid_after(not_after or end)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False),
            critical=True,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .sign(key, hashes.SHA256())
    )
    return Root(purpose, generation, key, cert)


@dataclass
class EeSpec:
    """Everything about an end-entity certificate, defaults = a valid JPKI certificate."""

    purpose: Purpose
    issuer: Root
    serial: int = 0x0600_0001
    not_before: dt.datetime = dt.datetime(2024, 5, 1, tzinfo=UTC)
    not_after: dt.datetime = dt.datetime(2029, 12, 7, 14, 59, 59, tzinfo=UTC)
    key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | None = None
    cn: str | None = "412594E75JACJM14104003A"  # None: no CN at all
    key_usage: set[str] | None = None  # None: the profile's
    ku_critical: bool = True
    eku: list[x509.ObjectIdentifier] | None = None  # None: the profile's ([] = omit)
    policies: list[str] | None = None  # None: the profile's ([] = omit)
    policy_critical: bool = True
    san: x509.SubjectAlternativeName | None = None  # None: identity SAN for SIGN, none for AUTH
    no_san: bool = False
    basic_constraints: x509.BasicConstraints | None = None
    extra: list[tuple[x509.ExtensionType, bool]] = field(default_factory=list)
    aki_key_id: bytes | None = None  # None: the issuer's SKI
    no_aki: bool = False
    issuer_name: x509.Name | None = None
    signer: rsa.RSAPrivateKey | None = None  # None: the issuer's key
    hash: hashes.HashAlgorithm = field(default_factory=hashes.SHA256)
    sha1: bool = False
    tamper: bool = False
    prefecture: str = "Kanagawa-ken"
    municipality: str = "Yokohama-shi-Naka-ku"


_KU_ARGS = (
    "digital_signature",
    "content_commitment",
    "key_encipherment",
    "data_encipherment",
    "key_agreement",
    "key_cert_sign",
    "crl_sign",
    "encipher_only",
    "decipher_only",
)


def key_usage(names: Iterable[str]) -> x509.KeyUsage:
    chosen = set(names)
    return x509.KeyUsage(**{n: n in chosen for n in _KU_ARGS})  # type: ignore[arg-type]


def build_ee(spec: EeSpec) -> x509.Certificate:
    purpose = spec.purpose
    key = spec.key if spec.key is not None else rsa_key(1 if purpose is Purpose.AUTH else 2)
    public = key.public_key()
    if purpose is Purpose.AUTH:
        attrs = [x509.NameAttribute(NameOID.COUNTRY_NAME, "JP")]
        if spec.cn is not None:
            attrs.append(x509.NameAttribute(NameOID.COMMON_NAME, spec.cn))
        subject = x509.Name(attrs)
    else:
        subject = x509.Name(
            [
                x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
                x509.NameAttribute(NameOID.LOCALITY_NAME, spec.prefecture),
                x509.NameAttribute(NameOID.LOCALITY_NAME, spec.municipality),
                x509.NameAttribute(NameOID.COMMON_NAME, "2020010110101012345123456789"),
            ]
        )
    builder = (
        x509.CertificateBuilder()
        .issuer_name(spec.issuer_name or spec.issuer.cert.subject)
        .subject_name(subject)
        .public_key(public)  # type: ignore[arg-type]
        .serial_number(spec.serial)
        .not_valid_before(spec.not_before)
        .not_valid_after(spec.not_after)
    )
    ku = spec.key_usage
    if ku is None:
        ku = (
            {"digital_signature"}
            if purpose is Purpose.AUTH
            else {"digital_signature", "content_commitment"}
        )
    if ku:
        builder = builder.add_extension(key_usage(ku), critical=spec.ku_critical)
    eku = spec.eku
    if eku is None:
        eku = [ExtendedKeyUsageOID.CLIENT_AUTH] if purpose is Purpose.AUTH else []
    if eku:
        builder = builder.add_extension(x509.ExtendedKeyUsage(eku), critical=False)
    if purpose is Purpose.SIGN and not spec.no_san:
        builder = builder.add_extension(spec.san or identity_san(), critical=False)
    elif spec.san is not None and not spec.no_san:
        builder = builder.add_extension(spec.san, critical=False)
    policies = spec.policies
    if policies is None:
        policies = [POLICY_AUTH if purpose is Purpose.AUTH else POLICY_SIGN]
    if policies:
        builder = builder.add_extension(
            x509.CertificatePolicies(
                [x509.PolicyInformation(x509.ObjectIdentifier(p), [CPS_URI]) for p in policies]
            ),
            critical=spec.policy_critical,
        )
    builder = builder.add_extension(
        x509.CRLDistributionPoints(
            [
                x509.DistributionPoint(
                    full_name=[
                        x509.DirectoryName(dp_name(purpose, spec.prefecture, spec.municipality))
                    ],
                    relative_name=None,
                    reasons=None,
                    crl_issuer=None,
                )
            ]
        ),
        critical=False,
    )
    if purpose is Purpose.AUTH:
        builder = builder.add_extension(
            x509.AuthorityInformationAccess(
                [
                    x509.AccessDescription(
                        AuthorityInformationAccessOID.OCSP,
                        x509.UniformResourceIdentifier("http://127.0.0.1:9/ocsp"),
                    )
                ]
            ),
            critical=False,
        )
    if not spec.no_aki:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier(
                key_identifier=spec.aki_key_id or spec.issuer.ski,
                authority_cert_issuer=None,
                authority_cert_serial_number=None,
            ),
            critical=False,
        )
    builder = builder.add_extension(
        x509.SubjectKeyIdentifier.from_public_key(public), critical=False
    )  # type: ignore[arg-type]
    if spec.basic_constraints is not None:
        builder = builder.add_extension(spec.basic_constraints, critical=True)
    for ext, critical in spec.extra:
        builder = builder.add_extension(ext, critical=critical)
    signer = spec.signer or spec.issuer.key
    cert = builder.sign(signer, spec.hash)
    if spec.sha1:
        cert = resign_sha1(cert, signer)
    if spec.tamper:
        cert = tamper_signature(cert)
    return cert


def resign_sha1(cert: x509.Certificate, key: rsa.RSAPrivateKey) -> x509.Certificate:
    """The same certificate signed with sha1WithRSAEncryption (cryptography cannot sign SHA-1)."""
    parsed = asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))
    tbs = parsed["tbs_certificate"]
    tbs["signature"] = asn1_x509.SignedDigestAlgorithm({"algorithm": "sha1_rsa"})
    parsed["signature_algorithm"] = asn1_x509.SignedDigestAlgorithm({"algorithm": "sha1_rsa"})
    body = tbs.dump(force=True)
    parsed["signature_value"] = key.sign(body, padding.PKCS1v15(), hashes.SHA1())  # noqa: S303
    return x509.load_der_x509_certificate(parsed.dump(force=True))


def resign_with_serial(
    cert: x509.Certificate, key: rsa.RSAPrivateKey, serial: int, hash_alg: hashes.HashAlgorithm
) -> bytes:
    """DER of the same certificate with ``serial`` (zero or negative: cryptography's builder
    refuses those, a CA can still sign them), signed again by ``key``."""
    parsed = asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))
    tbs = parsed["tbs_certificate"]
    tbs["serial_number"] = serial
    body = tbs.dump(force=True)
    parsed["signature_value"] = key.sign(body, padding.PKCS1v15(), hash_alg)
    return bytes(parsed.dump(force=True))


def tamper_signature(cert: x509.Certificate) -> x509.Certificate:
    der = bytearray(cert.public_bytes(serialization.Encoding.DER))
    der[-10] ^= 0x01
    return x509.load_der_x509_certificate(bytes(der))


def der(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.DER)


class ChainFactory:
    """Roots for both hierarchies and generations 1-3, plus end-entity certificates."""

    def __init__(self) -> None:
        self._roots = {(p, g): make_root(p, g) for p in Purpose for g in (1, 2, 3)}

    def root(self, purpose: Purpose, generation: int = 3) -> Root:
        return self._roots[(purpose, generation)]

    def roots(
        self, purposes: Sequence[Purpose] = (Purpose.AUTH, Purpose.SIGN)
    ) -> list[x509.Certificate]:
        return [r.cert for (p, _), r in sorted(self._roots.items()) if p in purposes]

    def spec(self, purpose: Purpose, generation: int = 3, **changes: object) -> EeSpec:
        spec = EeSpec(purpose=purpose, issuer=self.root(purpose, generation))
        for name, value in changes.items():
            if not hasattr(spec, name):
                raise AttributeError(name)
            setattr(spec, name, value)
        return spec

    def ee(self, purpose: Purpose, generation: int = 3, **changes: object) -> x509.Certificate:
        return build_ee(self.spec(purpose, generation, **changes))

    def crl(
        self,
        purpose: Purpose,
        generation: int,
        revoked: Iterable[int] = (),
        *,
        this_update: dt.datetime,
        next_update: dt.datetime,
        revoked_at: dt.datetime | None = None,
    ) -> x509.CertificateRevocationList:
        root = self.root(purpose, generation)
        builder = (
            x509.CertificateRevocationListBuilder()
            .issuer_name(root.cert.subject)
            .last_update(this_update)
            .next_update(next_update)
            .add_extension(x509.CRLNumber(1), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(root.key.public_key()),
                critical=False,
            )
        )
        for serial in revoked:
            builder = builder.add_revoked_certificate(
                x509.RevokedCertificateBuilder()
                .serial_number(serial)
                .revocation_date(revoked_at or this_update)
                .add_extension(x509.CRLReason(x509.ReasonFlags.key_compromise), critical=False)
                .build()
            )
        return builder.sign(root.key, hashes.SHA256())
