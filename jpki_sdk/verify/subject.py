"""The login subject of a user-authentication certificate (spec §5.2).

The authentication certificate carries no personal data: its subject is ``C=JP`` and a
23-character CN. In every CN seen so far characters 15-19 (1-based) are the issuing
municipality's 5-digit code (``412594E75JACJM14104003A`` -> ``14104``, Yokohama Naka-ku); the
rest of the CN is opaque. The CRL distribution point names the prefecture and municipality in
romaji (``OU=Kanagawa-ken, CN=Yokohama-shi-Naka-ku CRLDP``); the code's first two digits are
the prefecture (JIS X 0401), which is cross-checked against the distribution point where
both are readable. A relying party keys its accounts on the certificate serial and CN; see
:attr:`Subject.key` for a stable pseudonymous key that includes the hierarchy and root.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from typing import Any

from cryptography import x509
from cryptography.x509.oid import NameOID

from jpki_sdk.verify.errors import SubjectError
from jpki_sdk.verify.profiles import (
    OID_CRL_DISTRIBUTION_POINTS,
    CertificateFacts,
    _children,
    _DerError,
    _oid,
    _tlv,
)
from jpki_sdk.verify.trust import TrustAnchor

__all__ = [
    "PREFECTURES_ROMAJI",
    "CrlDistributionPoint",
    "Subject",
    "common_name",
    "municipality_code_from_cn",
    "read_crl_distribution_point",
    "serial_hex",
]

logger = logging.getLogger(__name__)

#: JIS X 0401 prefecture codes with the romaji style used in JPKI CRL distribution points.
PREFECTURES_ROMAJI: dict[str, str] = {
    "01": "Hokkaido",
    "02": "Aomori-ken",
    "03": "Iwate-ken",
    "04": "Miyagi-ken",
    "05": "Akita-ken",
    "06": "Yamagata-ken",
    "07": "Fukushima-ken",
    "08": "Ibaraki-ken",
    "09": "Tochigi-ken",
    "10": "Gunma-ken",
    "11": "Saitama-ken",
    "12": "Chiba-ken",
    "13": "Tokyo-to",
    "14": "Kanagawa-ken",
    "15": "Niigata-ken",
    "16": "Toyama-ken",
    "17": "Ishikawa-ken",
    "18": "Fukui-ken",
    "19": "Yamanashi-ken",
    "20": "Nagano-ken",
    "21": "Gifu-ken",
    "22": "Shizuoka-ken",
    "23": "Aichi-ken",
    "24": "Mie-ken",
    "25": "Shiga-ken",
    "26": "Kyoto-fu",
    "27": "Osaka-fu",
    "28": "Hyogo-ken",
    "29": "Nara-ken",
    "30": "Wakayama-ken",
    "31": "Tottori-ken",
    "32": "Shimane-ken",
    "33": "Okayama-ken",
    "34": "Hiroshima-ken",
    "35": "Yamaguchi-ken",
    "36": "Tokushima-ken",
    "37": "Kagawa-ken",
    "38": "Ehime-ken",
    "39": "Kochi-ken",
    "40": "Fukuoka-ken",
    "41": "Saga-ken",
    "42": "Nagasaki-ken",
    "43": "Kumamoto-ken",
    "44": "Oita-ken",
    "45": "Miyazaki-ken",
    "46": "Kagoshima-ken",
    "47": "Okinawa-ken",
}

_CN_LENGTH = 23
_OID_CN = "2.5.4.3"
_OID_OU = "2.5.4.11"
_STRING_TAGS = {0x0C: "utf-8", 0x13: "ascii", 0x16: "ascii"}


@dataclass(frozen=True)
class CrlDistributionPoint:
    """The directory-name CRL distribution point (a per-municipality CRL partition)."""

    prefecture: str | None
    municipality: str | None
    organizational_units: tuple[str, ...]
    common_name: str | None


def _name_attributes(der: bytes, start: int, end: int) -> list[tuple[str, str]] | None:
    """(OID, text) pairs of a DER Name in ``der[start:end]``; None if a value is not text."""
    tag, s, e = _tlv(der, start, end)
    if tag != 0x30:
        raise _DerError("Name is not a SEQUENCE")
    out: list[tuple[str, str]] = []
    for set_tag, ss, se in _children(der, s, e):
        if set_tag != 0x31:
            raise _DerError("RDN is not a SET")
        for atv_tag, as_, ae in _children(der, ss, se):
            if atv_tag != 0x30:
                raise _DerError("AttributeTypeAndValue is not a SEQUENCE")
            parts = _children(der, as_, ae)
            if len(parts) != 2 or parts[0][0] != 0x06:
                raise _DerError("bad AttributeTypeAndValue")
            encoding = _STRING_TAGS.get(parts[1][0])
            if encoding is None:
                return None
            try:
                text = der[parts[1][1] : parts[1][2]].decode(encoding)
            except UnicodeDecodeError:
                raise _DerError("undecodable name string") from None
            out.append((_oid(der[parts[0][1] : parts[0][2]]), text))
    return out


_CN_OID_TLV = b"\x06\x03\x55\x04\x03"


def _common_names(der: bytes) -> list[str] | None:
    """The CN values of the DER Name ``der``, or None when one is not a UTF8String,
    PrintableString or IA5String, or the Name does not have short-form lengths (the caller
    then asks cryptography, which has already parsed the certificate strictly). Runs once per
    first-seen certificate, so it is one inlined loop that decodes only the CN values."""
    try:
        end = len(der)
        if der[0] != 0x30 or der[1] + 2 != end:
            return None
        out: list[str] = []
        p = 2
        while p < end:
            if der[p] != 0x31 or der[p + 1] >= 0x80:
                return None
            set_end = p + 2 + der[p + 1]
            q = p + 2
            while q < set_end:
                # AttributeTypeAndValue ::= SEQUENCE { type OID, value ANY }, short forms
                if der[q] != 0x30 or der[q + 1] >= 0x80 or der[q + 2] != 0x06 or der[q + 3] >= 0x80:
                    return None
                atv_end = q + 2 + der[q + 1]
                value = q + 4 + der[q + 3]
                if value + 2 > atv_end or der[value + 1] >= 0x80:
                    return None
                if value + 2 + der[value + 1] != atv_end:
                    return None
                if der[q + 2 : value] == _CN_OID_TLV:
                    encoding = _STRING_TAGS.get(der[value])
                    if encoding is None:
                        return None
                    out.append(der[value + 2 : atv_end].decode(encoding))
                q = atv_end
            if q != set_end or set_end > end:
                return None
            p = set_end
    except (IndexError, UnicodeDecodeError):
        return None
    return out


#: SET { SEQUENCE { OID countryName, PrintableString "JP" } }: the first RDN of every JPKI
#: user-authentication certificate subject (C=JP, CN=...).
_RDN_C_JP = bytes.fromhex("310b3009060355040613024a50")


def _jpki_auth_cn(der: bytes) -> str | None:
    """The CN of a subject of exactly the user-authentication shape ``C=JP, CN=<text>`` (short
    lengths, one attribute per RDN), read at fixed offsets; None for any other shape or an
    empty CN (then :func:`_common_names` decides)."""
    n = len(der)
    if n < 27 or der[2:15] != _RDN_C_JP or der[19:24] != _CN_OID_TLV:
        return None
    size = der[25]
    if (
        der[0] != 0x30
        or der[1] != n - 2
        or der[15] != 0x31
        or der[16] != size + 9
        or der[17] != 0x30
        or der[18] != size + 7
        or n != 26 + size
    ):
        return None
    encoding = _STRING_TAGS.get(der[24])
    if encoding is None:
        return None
    try:
        return der[26:].decode(encoding)
    except UnicodeDecodeError:
        return None


def common_name(cert: x509.Certificate, subject_der: bytes) -> str:
    """The certificate's single, non-empty CN; :class:`SubjectError` otherwise.

    ``subject_der`` is the certificate's subject Name DER (read by the caller).
    """
    cn = _jpki_auth_cn(subject_der)
    if cn:  # None (another shape) and "" (empty: refused below) take the general path
        return cn
    cns = _common_names(subject_der)
    if cns is None:  # a form the fast path does not read: let cryptography do it
        cns = [str(a.value) for a in cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)]
    if len(cns) != 1 or not cns[0]:
        raise SubjectError("the certificate subject has no single, non-empty CN")
    return cns[0]


def serial_hex(serial: int) -> str:
    """A certificate serial as upper-case hex of even length (``06BFC341``)."""
    text = f"{serial:X}"
    return text if len(text) % 2 == 0 else "0" + text


def municipality_code_from_cn(cn: str) -> str | None:
    """Characters 15-19 (1-based) of a 23-character JPKI CN, when they look like a code."""
    if len(cn) != _CN_LENGTH:
        return None
    code = cn[14:19]
    if not (code.isascii() and code.isdigit()) or code[:2] not in PREFECTURES_ROMAJI:
        return None
    return code


def read_crl_distribution_point(value: bytes) -> CrlDistributionPoint | None:
    """The first directory-name distribution point of a cRLDistributionPoints value."""
    try:
        tag, s, e = _tlv(value, 0, len(value))
        if tag != 0x30 or e != len(value):
            return None
        for dp_tag, ds, de in _children(value, s, e):
            if dp_tag != 0x30:
                return None
            for field_tag, fs, fe in _children(value, ds, de):
                if field_tag != 0xA0:  # distributionPoint [0]
                    continue
                name_tag, ns, ne = _tlv(value, fs, fe)
                if name_tag != 0xA0:  # fullName [0] GeneralNames
                    continue
                for gn_tag, gs, ge in _children(value, ns, ne):
                    if gn_tag != 0xA4:  # directoryName [4]
                        continue
                    attrs = _name_attributes(value, gs, ge)
                    if attrs is None:
                        continue
                    return _dp_from_attributes(attrs)
    except _DerError:
        return None
    return None


def _dp_from_attributes(attrs: list[tuple[str, str]]) -> CrlDistributionPoint:
    ous = tuple(v for oid, v in attrs if oid == _OID_OU)
    cns = [v for oid, v in attrs if oid == _OID_CN]
    cn = cns[0] if len(cns) == 1 else None
    municipality = None
    if cn is not None:
        municipality = cn[: -len(" CRLDP")] if cn.endswith(" CRLDP") else cn
    prefecture = None
    if len(ous) >= 2 and ous[-2] == "CRL Distribution Points":
        prefecture = ous[-1]
    return CrlDistributionPoint(
        prefecture=prefecture,
        municipality=municipality,
        organizational_units=ous,
        common_name=cn,
    )


def _norm_prefecture(text: str) -> str:
    t = re.sub(r"[^a-z]", "", text.lower())
    for suffix in ("ken", "to", "fu", "do"):
        if t.endswith(suffix) and len(t) > len(suffix) + 2:
            t = t[: -len(suffix)]
            break
    return t.replace("ou", "o").replace("oo", "o").replace("uu", "u")


def _consistent(code: str | None, dp: CrlDistributionPoint | None) -> bool | None:
    if code is None or dp is None or dp.prefecture is None:
        return None
    expected = PREFECTURES_ROMAJI[code[:2]]
    return _norm_prefecture(expected) == _norm_prefecture(dp.prefecture)


@dataclass(frozen=True)
class Subject:
    """Who logged in: a pseudonymous subject from the user-authentication certificate.

    ``municipality_code`` is read from the CN (``None`` when the CN does not have the usual
    shape); ``municipality_code_consistent`` says whether its prefecture digits agree with the
    CRL distribution point (``None`` when either is unreadable).
    """

    serial: int
    cn: str
    municipality_code: str | None
    root_name: str
    root_generation: int
    is_test_root: bool
    not_before: datetime
    not_after: datetime
    crl_distribution_point_der: bytes | None = field(default=None, repr=False, compare=False)

    @cached_property
    def crl_distribution_point(self) -> CrlDistributionPoint | None:
        """The directory-name CRL distribution point (read on first use)."""
        if self.crl_distribution_point_der is None:
            return None
        return read_crl_distribution_point(self.crl_distribution_point_der)

    @property
    def crl_prefecture(self) -> str | None:
        dp = self.crl_distribution_point
        return dp.prefecture if dp is not None else None

    @property
    def crl_municipality(self) -> str | None:
        dp = self.crl_distribution_point
        return dp.municipality if dp is not None else None

    @property
    def municipality_code_consistent(self) -> bool | None:
        """Whether the CN's prefecture digits agree with the CRL DP (None: cannot tell)."""
        consistent = _consistent(self.municipality_code, self.crl_distribution_point)
        if consistent is False:
            logger.info(
                "CN municipality code %s does not match CRL DP prefecture %s",
                self.municipality_code,
                self.crl_prefecture,
            )
        return consistent

    @property
    def serial_hex(self) -> str:
        """Upper-case hex, even length (``06BFC341``)."""
        return serial_hex(self.serial)

    @property
    def key(self) -> str:
        """A stable account key: hierarchy root name, serial and CN."""
        prefix = "test:" if self.is_test_root else ""
        return f"{prefix}{self.root_name}:{self.serial_hex}:{self.cn}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "serial": self.serial_hex,
            "cn": self.cn,
            "municipality_code": self.municipality_code,
            "municipality_code_consistent": self.municipality_code_consistent,
            "crl_prefecture": self.crl_prefecture,
            "crl_municipality": self.crl_municipality,
            "root": self.root_name,
            "root_generation": self.root_generation,
            "is_test_root": self.is_test_root,
            "not_before": self.not_before.isoformat(),
            "not_after": self.not_after.isoformat(),
        }

    @classmethod
    def from_certificate(
        cls,
        cert: x509.Certificate,
        anchor: TrustAnchor,
        facts: CertificateFacts | None = None,
        *,
        not_before: datetime | None = None,
        not_after: datetime | None = None,
    ) -> Subject:
        """Build the subject; :class:`SubjectError` when the certificate has no single CN."""
        if facts is None:
            from cryptography.hazmat.primitives import serialization

            facts = CertificateFacts.from_der(cert.public_bytes(serialization.Encoding.DER))
        dp_ext = facts.extension(OID_CRL_DISTRIBUTION_POINTS)
        return cls.from_parts(
            serial=cert.serial_number,
            cn=common_name(cert, facts.subject_der),
            anchor=anchor,
            not_before=not_before or cert.not_valid_before_utc,
            not_after=not_after or cert.not_valid_after_utc,
            crl_distribution_point_der=dp_ext.value if dp_ext is not None else None,
        )

    @classmethod
    def from_parts(
        cls,
        *,
        serial: int,
        cn: str,
        anchor: TrustAnchor,
        not_before: datetime,
        not_after: datetime,
        crl_distribution_point_der: bytes | None,
    ) -> Subject:
        """Build the subject from what the verifier already read from the certificate."""
        return cls(
            serial=serial,
            cn=cn,
            municipality_code=municipality_code_from_cn(cn),
            root_name=anchor.name,
            root_generation=anchor.generation,
            is_test_root=anchor.is_test,
            not_before=not_before,
            not_after=not_after,
            crl_distribution_point_der=crl_distribution_point_der,
        )
