"""Helpers for the simulator tests: send hex APDUs, select applications and files."""

from __future__ import annotations

import hashlib

from apdu import CommandApdu, ResponseApdu
from simulator.card import SimulatedCard
from simulator.files import AID_COMMON, AID_ISD, AID_JPKI, AID_JUKI, AID_KENMEN, AID_TEXT

AIDS = {
    "jpki": AID_JPKI,
    "text": AID_TEXT,
    "kenmen": AID_KENMEN,
    "juki": AID_JUKI,
    "common": AID_COMMON,
    "isd": AID_ISD,
}

SHA256_PREFIX = bytes.fromhex("3031300D060960864801650304020105000420")


def tx(card: SimulatedCard, apdu: str | bytes | CommandApdu) -> ResponseApdu:
    """Send one APDU (hex text, raw bytes or a CommandApdu) and decode the answer."""
    if isinstance(apdu, CommandApdu):
        raw = apdu.encode()
    elif isinstance(apdu, str):
        raw = bytes.fromhex(apdu.replace(" ", ""))
    else:
        raw = apdu
    return ResponseApdu.decode(card.transmit(raw))


def sw(card: SimulatedCard, apdu: str | bytes | CommandApdu) -> int:
    return tx(card, apdu).sw


def select_df(card: SimulatedCard, name: str) -> int:
    aid = AIDS[name]
    return sw(card, CommandApdu(0x00, 0xA4, 0x04, 0x0C, aid))


def select_ef(card: SimulatedCard, fid: int) -> int:
    return sw(card, CommandApdu(0x00, 0xA4, 0x02, 0x0C, fid.to_bytes(2, "big")))


def verify(card: SimulatedCard, pin: str | bytes, p2: int = 0x80) -> int:
    data = pin.encode() if isinstance(pin, str) else pin
    return sw(card, CommandApdu(0x00, 0x20, 0x00, p2, data))


def query(card: SimulatedCard, p2: int = 0x80) -> int:
    return sw(card, CommandApdu(0x00, 0x20, 0x00, p2))


def read_all(card: SimulatedCard, chunk: int = 256) -> bytes:
    """Read the current EF's whole physical content with short READ BINARYs (to 6B00)."""
    out = b""
    while True:
        r = tx(card, CommandApdu(0x00, 0xB0, len(out) >> 8, len(out) & 0xFF, le=chunk))
        if r.sw in (0x6B00, 0x6282):
            return out
        assert r.sw == 0x9000, f"{r.sw:04X}"
        out += r.data
        if len(r.data) < chunk:
            return out


def read_ef(card: SimulatedCard, fid: int) -> bytes:
    assert select_ef(card, fid) == 0x9000
    return read_all(card)


def read_object(card: SimulatedCard, fid: int) -> bytes:
    """Read a BER-TLV object by its header, as OpenSC/MYNA do (never to EOF)."""
    assert select_ef(card, fid) == 0x9000
    head = tx(card, CommandApdu(0x00, 0xB0, 0, 0, le=7))
    assert head.sw == 0x9000
    data = head.data
    pos = 1 if data[0] & 0x1F != 0x1F else 2
    first = data[pos]
    if first < 0x80:
        total = pos + 1 + first
    else:
        n = first & 0x7F
        total = pos + 1 + n + int.from_bytes(data[pos + 1 : pos + 1 + n], "big")
    out = data[:total]
    while len(out) < total:
        want = min(256, total - len(out))
        r = tx(card, CommandApdu(0x00, 0xB0, len(out) >> 8, len(out) & 0xFF, le=want))
        assert r.sw == 0x9000
        out += r.data
    return out


def digest_info(message: bytes) -> bytes:
    return SHA256_PREFIX + hashlib.sha256(message).digest()


def sign(card: SimulatedCard, data: bytes, *, p1: int = 0x00, p2: int = 0x80) -> ResponseApdu:
    return tx(card, CommandApdu(0x80, 0x2A, p1, p2, data, le=256))
