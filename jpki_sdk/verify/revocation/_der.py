"""A minimal, strict, bounded DER reader for the few structures cryptography does not expose.

Only what the CRL index needs: walking a TLV at a position inside explicit bounds, with
definite minimal lengths (DER), single-byte tags (low tag numbers) and nothing read outside
``[start, end)``. Every problem raises :class:`DerError` (a ValueError subclass: callers turn it
into their own typed error).
"""

from __future__ import annotations

__all__ = ["MAX_LENGTH_OCTETS", "DerError", "read_tlv"]

#: Length fields longer than 4 octets (4 GiB) are refused: nothing this SDK reads is that big.
MAX_LENGTH_OCTETS = 4


class DerError(ValueError):
    """Malformed or non-DER encoding at a given offset."""

    def __init__(self, message: str, offset: int) -> None:
        super().__init__(f"{message} at offset {offset}")
        self.offset = offset


def read_tlv(buf: bytes | memoryview, pos: int, end: int) -> tuple[int, int, int]:
    """Read one TLV at ``pos`` that must end at or before ``end``.

    Returns ``(tag, content_start, content_end)``. Refuses high-tag-number form, indefinite
    lengths, non-minimal length encodings and anything running past ``end``.
    """
    if pos < 0 or end > len(buf) or pos >= end:
        raise DerError("truncated: no room for a tag", pos)
    tag = buf[pos]
    if tag & 0x1F == 0x1F:
        raise DerError("high-tag-number form is not supported", pos)
    if pos + 1 >= end:
        raise DerError("truncated: no length octet", pos)
    first = buf[pos + 1]
    content = pos + 2
    if first < 0x80:
        length = first
    elif first == 0x80:
        raise DerError("indefinite length is not DER", pos)
    else:
        count = first & 0x7F
        if count > MAX_LENGTH_OCTETS:
            raise DerError(f"length field of {count} octets is too long", pos)
        if content + count > end:
            raise DerError("truncated length field", pos)
        length_bytes = bytes(buf[content : content + count])
        if length_bytes[0] == 0:
            raise DerError("non-minimal length (leading zero octet)", pos)
        length = int.from_bytes(length_bytes, "big")
        if length < 0x80:
            raise DerError("non-minimal length (long form for a short length)", pos)
        content += count
    stop = content + length
    if stop > end:
        raise DerError(f"content of {length} octets runs past its container", pos)
    return tag, content, stop
