"""Command and response APDUs (ISO/IEC 7816-3 12.1, 7816-4 5.1): values, encoding, decoding.

A command is ``CLA INS P1 P2`` followed, depending on its case, by Lc and data and/or Le:

====== ==================== ==========================================
case   short                extended
====== ==================== ==========================================
1      header               header
2      header Le            header 00 Le1 Le2
3      header Lc data       header 00 Lc1 Lc2 data
4      header Lc data Le    header 00 Lc1 Lc2 data Le1 Le2
====== ==================== ==========================================

Lc is 1..255 short, 1..65535 extended. Le is 1..256 short (256 is encoded ``00``) and
1..65536 extended (65536 is encoded ``00 00``). Decoding is unambiguous: a fifth byte ``00``
followed by more bytes starts an extended length, because a short Lc is never 0.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from enum import IntEnum

from apdu.errors import ApduFormatError
from apdu.ins import ins_name, is_secret_command
from apdu.status import StatusWord, describe_sw

__all__ = [
    "MAX_EXTENDED_LC",
    "MAX_EXTENDED_LE",
    "MAX_SHORT_LC",
    "MAX_SHORT_LE",
    "ApduCase",
    "CommandApdu",
    "ResponseApdu",
]

logger = logging.getLogger(__name__)

MAX_SHORT_LC = 255
MAX_EXTENDED_LC = 65535
MAX_SHORT_LE = 256
MAX_EXTENDED_LE = 65536


class ApduCase(IntEnum):
    """The four ISO/IEC 7816-3 command cases."""

    CASE_1 = 1
    """No command data, no response data expected."""
    CASE_2 = 2
    """No command data, response data expected (Le)."""
    CASE_3 = 3
    """Command data (Lc), no response data expected."""
    CASE_4 = 4
    """Command data (Lc) and response data expected (Le)."""


def _check_byte(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, not {type(value).__name__}")
    if not 0 <= value <= 0xFF:
        raise ApduFormatError(f"{name} must be 0..255 (one byte), got {value}")
    return value


@dataclass(frozen=True, slots=True, repr=False)
class CommandApdu:
    """A command APDU.

    ``le`` is None (no response data expected) or 1..65536; 256 is encoded ``00`` in short
    form and 65536 ``00 00`` in extended form. ``data`` may be up to 65535 bytes.
    ``extended=True`` forces the extended encoding even where the short one fits; a command
    whose Lc exceeds 255 or whose Le exceeds 256 is always extended, and its ``extended`` field
    reads True. A case-1 command has no length field, so its ``extended`` reads False. Thus
    ``extended`` always tells the encoding, and ``CommandApdu.decode(x.encode()) == x``.

    The repr never shows the data field (it may hold a PIN), only its length.
    """

    cla: int
    ins: int
    p1: int
    p2: int
    data: bytes = b""
    le: int | None = None
    extended: bool = field(default=False)

    def __post_init__(self) -> None:
        _check_byte("CLA", self.cla)
        _check_byte("INS", self.ins)
        _check_byte("P1", self.p1)
        _check_byte("P2", self.p2)
        data = self.data
        if isinstance(data, (bytearray, memoryview)):
            data = bytes(data)
            object.__setattr__(self, "data", data)
        elif not isinstance(data, bytes):
            raise TypeError(f"data must be bytes, not {type(data).__name__}")
        if len(data) > MAX_EXTENDED_LC:
            raise ApduFormatError(
                f"command data is {len(data)} bytes; at most {MAX_EXTENDED_LC} fit in an APDU "
                "(send longer data with command chaining)"
            )
        le = self.le
        if le is not None:
            if isinstance(le, bool) or not isinstance(le, int):
                raise TypeError(f"le must be an int or None, not {type(le).__name__}")
            if not 1 <= le <= MAX_EXTENDED_LE:
                raise ApduFormatError(
                    f"Le must be None (no response data) or 1..{MAX_EXTENDED_LE}, got {le} "
                    "(256 is sent as 00, 65536 as 0000)"
                )
        if not isinstance(self.extended, bool):
            raise TypeError(f"extended must be a bool, not {type(self.extended).__name__}")
        if not data and le is None:
            # Case 1 has no length field, so it has no extended form.
            if self.extended:
                object.__setattr__(self, "extended", False)
        elif not self.extended and (
            len(data) > MAX_SHORT_LC or (le is not None and le > MAX_SHORT_LE)
        ):
            object.__setattr__(self, "extended", True)

    @property
    def case(self) -> ApduCase:
        """The ISO case: 1 (nothing), 2 (Le), 3 (data), 4 (data and Le)."""
        if self.data:
            return ApduCase.CASE_3 if self.le is None else ApduCase.CASE_4
        return ApduCase.CASE_1 if self.le is None else ApduCase.CASE_2

    @property
    def lc(self) -> int:
        """Length of the data field (Nc); 0 when there is none."""
        return len(self.data)

    @property
    def header(self) -> bytes:
        """The four header bytes CLA INS P1 P2."""
        return bytes((self.cla, self.ins, self.p1, self.p2))

    @property
    def name(self) -> str:
        """Readable instruction name (``SELECT``, ``VERIFY``, ``COMPUTE DIGITAL SIGNATURE``...)."""
        return ins_name(self.cla, self.ins)

    @property
    def is_secret(self) -> bool:
        """True when the data field may hold a PIN (VERIFY, CHANGE REFERENCE DATA, ...)."""
        return is_secret_command(self.cla, self.ins)

    def encode(self) -> bytes:
        """Encode to the bytes sent to the card."""
        header = self.header
        data = self.data
        le = self.le
        if self.extended:
            lc_field = b"\x00" + len(data).to_bytes(2, "big") if data else b""
            if le is None:
                le_field = b""
            else:
                le_bytes = (le & 0xFFFF).to_bytes(2, "big")  # 65536 -> 00 00
                le_field = le_bytes if data else b"\x00" + le_bytes
            return header + lc_field + data + le_field
        lc_field = bytes((len(data),)) if data else b""
        le_field = b"" if le is None else bytes((le & 0xFF,))  # 256 -> 00
        return header + lc_field + data + le_field

    @classmethod
    def decode(cls, raw: bytes | bytearray | memoryview) -> CommandApdu:
        """Decode a command APDU; any malformed input raises :class:`ApduFormatError`.

        The result re-encodes to the same bytes; an extended encoding of a command that would
        fit the short form decodes with ``extended=True``.
        """
        if isinstance(raw, (bytearray, memoryview)):
            raw = bytes(raw)
        elif not isinstance(raw, bytes):
            raise TypeError(f"raw must be bytes, not {type(raw).__name__}")
        n = len(raw)
        if n < 4:
            raise ApduFormatError(f"a command APDU needs at least 4 header bytes, got {n} byte(s)")
        cla, ins, p1, p2 = raw[0], raw[1], raw[2], raw[3]
        if n == 4:
            return cls(cla, ins, p1, p2)
        b0 = raw[4]
        if n == 5:
            return cls(cla, ins, p1, p2, le=b0 or MAX_SHORT_LE)
        if b0 != 0:
            lc = b0
            if n == 5 + lc:
                return cls(cla, ins, p1, p2, raw[5:])
            if n == 6 + lc:
                return cls(cla, ins, p1, p2, raw[5:-1], le=raw[-1] or MAX_SHORT_LE)
            raise ApduFormatError(
                f"short command APDU of {n} bytes with Lc={lc}: expected {5 + lc} bytes "
                f"(no Le) or {6 + lc} bytes (one-byte Le)"
            )
        # b0 == 0 and more bytes follow: an extended length field.
        if n == 6:
            raise ApduFormatError(
                "command APDU of 6 bytes: a 00 after the header starts an extended length, "
                "which needs two more bytes (and a short Lc is never 0)"
            )
        value = int.from_bytes(raw[5:7], "big")
        if n == 7:
            return cls(cla, ins, p1, p2, le=value or MAX_EXTENDED_LE, extended=True)
        if value == 0:
            raise ApduFormatError(
                f"extended command APDU of {n} bytes with Lc=0: Lc must be 1..{MAX_EXTENDED_LC}"
            )
        lc = value
        if n == 7 + lc:
            return cls(cla, ins, p1, p2, raw[7:], extended=True)
        if n == 9 + lc:
            le = int.from_bytes(raw[-2:], "big") or MAX_EXTENDED_LE
            return cls(cla, ins, p1, p2, raw[7:-2], le=le, extended=True)
        raise ApduFormatError(
            f"extended command APDU of {n} bytes with Lc={lc}: expected {7 + lc} bytes "
            f"(no Le) or {9 + lc} bytes (two-byte Le)"
        )

    def __repr__(self) -> str:
        return (
            f"CommandApdu(cla=0x{self.cla:02X}, ins=0x{self.ins:02X}, p1=0x{self.p1:02X}, "
            f"p2=0x{self.p2:02X}, data=<{len(self.data)} bytes>, le={self.le}, "
            f"extended={self.extended})"
        )


@dataclass(frozen=True, slots=True, repr=False)
class ResponseApdu:
    """A response APDU: the data field followed by the status word SW1 SW2.

    The repr shows the data length, never the data (it may be personal data).
    """

    data: bytes
    sw: int

    def __post_init__(self) -> None:
        data = self.data
        if isinstance(data, (bytearray, memoryview)):
            object.__setattr__(self, "data", bytes(data))
        elif not isinstance(data, bytes):
            raise TypeError(f"data must be bytes, not {type(data).__name__}")
        sw = self.sw
        if isinstance(sw, bool) or not isinstance(sw, int):
            raise TypeError(f"sw must be an int, not {type(sw).__name__}")
        if not 0 <= sw <= 0xFFFF:
            raise ApduFormatError(f"status word must be 0x0000..0xFFFF, got {sw}")

    @property
    def sw1(self) -> int:
        """The first status byte."""
        return self.sw >> 8

    @property
    def sw2(self) -> int:
        """The second status byte."""
        return self.sw & 0xFF

    @property
    def ok(self) -> bool:
        """True for 9000 only."""
        return self.sw == StatusWord.SUCCESS

    @property
    def retries_remaining(self) -> int | None:
        """x for a 63Cx answer (tries left), else None."""
        if self.sw & 0xFFF0 == 0x63C0:
            return self.sw & 0x0F
        return None

    @property
    def status(self) -> StatusWord | None:
        """The named :class:`StatusWord`, or None when the SW has no name (61xx, 63Cx...)."""
        try:
            return StatusWord(self.sw)
        except ValueError:
            return None

    def describe(self) -> str:
        """Plain-language description of the status word (see :func:`apdu.describe_sw`)."""
        return describe_sw(self.sw)

    def encode(self) -> bytes:
        """Encode to the bytes a card sends: data, SW1, SW2."""
        return self.data + self.sw.to_bytes(2, "big")

    @classmethod
    def decode(cls, raw: bytes | bytearray | memoryview) -> ResponseApdu:
        """Decode a response; fewer than two bytes raises :class:`ApduFormatError`."""
        if isinstance(raw, (bytearray, memoryview)):
            raw = bytes(raw)
        elif not isinstance(raw, bytes):
            raise TypeError(f"raw must be bytes, not {type(raw).__name__}")
        if len(raw) < 2:
            raise ApduFormatError(
                f"a response APDU needs at least 2 bytes (SW1 SW2), got {len(raw)}"
            )
        return cls(raw[:-2], int.from_bytes(raw[-2:], "big"))

    def __repr__(self) -> str:
        return f"ResponseApdu(data=<{len(self.data)} bytes>, sw=0x{self.sw:04X})"
