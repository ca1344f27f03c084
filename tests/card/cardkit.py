"""Test helpers for the card client: a scripted transport and builders for card files.

The scripted transport checks every command APDU against the script and answers the scripted
response, so tests assert the exact bytes the SDK puts on the wire (and that nothing is sent
when a PIN rule refuses). Builders make certificates and text-AP files from generated keys.
"""

from __future__ import annotations

import datetime
import hashlib
from dataclasses import dataclass, field
from types import TracebackType

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

JPKI_AID = "D392F000260100000001"
TEXT_AID = "D3921000310001010408"
SELECT_JPKI = "00A4040C0A" + JPKI_AID
SELECT_TEXT = "00A4040C0A" + TEXT_AID
SELECT_ISD = "00A4040C07A0000001510000"
QUERY = "00200080"
OK = "9000"


def select_ef(fid: int) -> str:
    return f"00A4020C02{fid:04X}"


def read_binary(offset: int, le: int, *, extended: bool = False) -> str:
    header = f"00B0{offset >> 8:02X}{offset & 0xFF:02X}"
    if extended or le > 256:
        return header + "00" + f"{le & 0xFFFF:04X}"
    return header + f"{le & 0xFF:02X}"


def verify(pin: bytes) -> str:
    return (
        f"0020008004{pin.hex().upper()}"
        if len(pin) == 4
        else (f"00200080{len(pin):02X}{pin.hex().upper()}")
    )


def norm(hexstr: str) -> str:
    return hexstr.replace(" ", "").upper()


@dataclass
class Step:
    expect: str | None
    answer: str | BaseException


@dataclass
class ScriptedTransport:
    """A Transport that plays a script of (expected command hex, response hex or exception)."""

    script: list[Step] = field(default_factory=list)
    extended: bool = False
    max_command: int = 255
    max_response: int = 256
    sent: list[bytes] = field(default_factory=list)
    closed: bool = False

    def add(self, expect: str | None, answer: str | BaseException) -> ScriptedTransport:
        self.script.append(Step(None if expect is None else norm(expect), answer))
        return self

    @property
    def extended_length(self) -> bool:
        return self.extended

    @property
    def max_command_data(self) -> int:
        return self.max_command

    @property
    def max_response_data(self) -> int:
        return self.max_response

    def transmit(self, command: bytes) -> bytes:
        self.sent.append(bytes(command))
        if not self.script:
            raise AssertionError(f"unexpected extra command {command.hex().upper()}")
        step = self.script.pop(0)
        if step.expect is not None and command.hex().upper() != step.expect:
            raise AssertionError(
                f"command {len(self.sent)}: sent {command.hex().upper()}, expected {step.expect}"
            )
        if isinstance(step.answer, BaseException):
            raise step.answer
        return bytes.fromhex(norm(step.answer))

    def close(self) -> None:
        self.closed = True

    def __enter__(self) -> ScriptedTransport:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def done(self) -> bool:
        return not self.script

    def sent_hex(self) -> list[str]:
        return [c.hex().upper() for c in self.sent]

    def verifies_sent(self) -> int:
        """VERIFY commands carrying a PIN (the case-1 query does not count)."""
        return sum(1 for c in self.sent if c[:4] == b"\x00\x20\x00\x80" and len(c) > 4)


def make_certificate(
    key: rsa.RSAPrivateKey, *, cn: str = "TEST CARD", padding_bytes: int = 0, serial: int = 1
) -> x509.Certificate:
    """A self-signed test certificate; ``padding_bytes`` adds an opaque extension to make it
    bigger (to test certificates over 3 KB)."""
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "JPKI TEST (card client tests)"),
            x509.NameAttribute(NameOID.COMMON_NAME, cn),
        ]
    )
    now = datetime.datetime(2025, 1, 1, tzinfo=datetime.timezone.utc)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(serial)
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=3650))
    )
    if padding_bytes:
        builder = builder.add_extension(
            x509.UnrecognizedExtension(
                x509.ObjectIdentifier("1.3.6.1.4.1.55555.1"),
                b"\x04\x82" + (padding_bytes.to_bytes(2, "big")) + b"\xab" * padding_bytes,
            ),
            critical=False,
        )
    return builder.sign(key, hashes.SHA256())


def sign_digest_info(key: rsa.RSAPrivateKey, digest_info: bytes) -> bytes:
    """What the card returns for ``80 2A 00 80 <digest_info>``: PKCS#1 v1.5 type 1 padding of
    the given bytes (raw RSA over the padded block)."""
    k = (key.key_size + 7) // 8
    block = b"\x00\x01" + b"\xff" * (k - 3 - len(digest_info)) + b"\x00" + digest_info
    n = key.private_numbers().public_numbers.n
    d = key.private_numbers().d
    return pow(int.from_bytes(block, "big"), d, n).to_bytes(k, "big")


# ------------------------------------------------------------------------------ text AP files

MC_BASIC_INFO_HEX = (
    "ff2065df2108000e002000590064df220fe9bb92e6a190e38080e5b9b9e4b99fdf2336e69db1e4baace983bd"
    "e6b885e780ace5b882e8a6b3e5b883e5ad90e58d97efbc91efbc92efbc8defbc97efbc8defbc92efbc90efbc"
    "92df24083139383030323137df250131"
)
"""Spec §4.2's test-card example (an invented holder), with the short outer length."""


def tlv(tag: int, value: bytes) -> bytes:
    tag_bytes = tag.to_bytes((tag.bit_length() + 7) // 8 or 1, "big")
    n = len(value)
    if n < 0x80:
        length = bytes([n])
    elif n < 0x100:
        length = b"\x81" + bytes([n])
    else:
        length = b"\x82" + n.to_bytes(2, "big")
    return tag_bytes + length + value


def basic_info_file(
    name: str, address: str, birth: str, sex: str, *, long_form: bool = False
) -> bytes:
    """EF 0002 with a correct DF21 offset table; ``long_form`` forces ``FF20 82 LLLL``."""
    fields = [
        tlv(0xDF22, name.encode()),
        tlv(0xDF23, address.encode()),
        tlv(0xDF24, birth.encode()),
        tlv(0xDF25, sex.encode()),
    ]
    table_len = 3 + 8
    content_len = table_len + sum(len(f) for f in fields)
    header_len = 5 if (long_form or content_len >= 0x80) else 3
    if content_len >= 0x100:
        header_len = 5
    offsets = []
    pos = header_len + table_len
    for f in fields:
        offsets.append(pos)
        pos += len(f)
    table = tlv(0xDF21, b"".join(o.to_bytes(2, "big") for o in offsets))
    content = table + b"".join(fields)
    if header_len == 5:
        return b"\xff\x20\x82" + len(content).to_bytes(2, "big") + content
    return b"\xff\x20" + bytes([len(content)]) + content


def my_number_file(digits: str) -> bytes:
    return b"\xff\x10\x0c" + digits.encode() + b"\xff\xff"


def cv_certificate(
    key: rsa.RSAPrivateKey, *, issuer: bytes = b"6000033", subject: bytes = b"6013221"
) -> bytes:
    def key_id(number: bytes) -> bytes:
        return number + b"\x08\x05" + b"001" + b"\x00\x00\x00\x00"

    pub = key.public_key().public_numbers()
    body = (
        key_id(issuer)
        + key_id(subject)
        + tlv(0x90, pub.e.to_bytes(3, "big"))
        + tlv(0x91, pub.n.to_bytes(256, "big"))
    )
    # The CA signature over the body: signed here with the same key (tests never check it).
    sig = key.sign(body, padding.PKCS1v15(), hashes.SHA256())
    return tlv(0x7F21, tlv(0x5F4E, body) + tlv(0x5F37, sig))


def integrity_file(key: rsa.RSAPrivateKey, my_number_physical: bytes, basic_info: bytes) -> bytes:
    if basic_info[2] == 0x82:
        content = basic_info[5 : 5 + int.from_bytes(basic_info[3:5], "big")]
    elif basic_info[2] == 0x81:
        content = basic_info[4 : 4 + basic_info[3]]
    else:
        content = basic_info[3 : 3 + basic_info[2]]
    assert content[:2] == b"\xdf\x21"
    source = content[3 + content[2] :]
    signed = tlv(0xDF31, hashlib.sha256(my_number_physical).digest()) + tlv(
        0xDF32, hashlib.sha256(source).digest()
    )
    sig = key.sign(signed, padding.PKCS1v15(), hashes.SHA256())
    return tlv(0xFF30, signed + tlv(0xDF33, sig))


def token_info_file(label: str) -> bytes:
    raw = label.encode().ljust(32, b" ")
    raw += b"JPKI TEST MANUFACTURER".ljust(32, b" ")
    raw += b"E16R01NJ".ljust(16, b" ")
    raw += b"0000000000000001".ljust(16, b" ")
    raw += (0x040D).to_bytes(4, "big")
    raw += b"\x00" * 16
    raw += (16).to_bytes(4, "big") + (6).to_bytes(4, "big")
    raw += b"\xff" * 16
    raw += b"03" + b"01" + b" " * 16
    assert len(raw) == 160
    return raw
