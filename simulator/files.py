"""The card's file system: applications (DFs), their EFs, PIN keys and private keys.

Everything here is an immutable value; a card's state (:mod:`simulator.state`) holds the
applications and replaces a :class:`PinFile` when its counter or value changes.

EF kinds:

- :class:`BinaryFile`: a transparent EF, stored with its physical content (the object followed
  by ``FF`` filler, spec §3.2) and a read condition (:class:`Access`).
- :class:`RecordFile`: a linear EF read with READ RECORD (共通AP EF 0001).
- :class:`PinFile`: a key reference that VERIFY compares against (a PIN, a password, a
  照合番号) with its retry counter. The value is stored as a salted SHA-256 digest, never in
  clear (see :class:`PinSecret`).
- :class:`KeyFile`: a private key reference (COMPUTE DIGITAL SIGNATURE / INTERNAL
  AUTHENTICATE) naming a key held in the state, with the PINs that unlock it.
- :class:`InternalFile`: selectable, but every read answers ``6981`` (the MF's ``001E``).
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import logging
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Union

__all__ = [
    "AID_COMMON",
    "AID_ISD",
    "AID_JPKI",
    "AID_JUKI",
    "AID_KENMEN",
    "AID_TEXT",
    "FREE",
    "NEVER",
    "Access",
    "Application",
    "BinaryFile",
    "Charset",
    "ElementaryFile",
    "InternalFile",
    "KeyFile",
    "KeyUse",
    "PinFile",
    "PinSecret",
    "RecordFile",
]

logger = logging.getLogger(__name__)

#: 公的個人認証AP (spec §1).
AID_JPKI = bytes.fromhex("D392F000260100000001")
#: 券面事項入力補助AP (text AP).
AID_TEXT = bytes.fromhex("D3921000310001010408")
#: 券面事項確認AP (券面AP).
AID_KENMEN = bytes.fromhex("D3921000310001010402")
#: 住基AP.
AID_JUKI = bytes.fromhex("D3921000310001010401")
#: 共通カードAP.
AID_COMMON = bytes.fromhex("D3921000310001010100")
#: GlobalPlatform Issuer Security Domain: the power-on state ("MF").
AID_ISD = bytes.fromhex("A0000001510000")

FILLER = 0xFF


def _check_fid(fid: object) -> int:
    if isinstance(fid, bool) or not isinstance(fid, int) or not 0 <= fid <= 0xFFFF:
        raise ValueError(f"file identifier must be 0000..FFFF, not {fid!r}")
    return fid


@dataclass(frozen=True)
class Access:
    """Condition to use a file: free, never, or after a VERIFY of any one of ``pins``."""

    pins: tuple[int, ...] = ()
    never: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "pins", tuple(_check_fid(p) for p in self.pins))
        if self.never and self.pins:
            raise ValueError("an access condition is either 'never' or a list of PINs")

    @property
    def free(self) -> bool:
        return not self.never and not self.pins

    def satisfied(self, verified: Iterable[int]) -> bool:
        if self.never:
            return False
        if not self.pins:
            return True
        verified_set = set(verified)
        return any(pin in verified_set for pin in self.pins)

    def describe(self) -> str:
        if self.never:
            return "never"
        if not self.pins:
            return "free"
        return "after VERIFY of " + " or ".join(f"{p:04X}" for p in self.pins)

    def to_json(self) -> object:
        if self.never:
            return "never"
        if not self.pins:
            return "free"
        return [f"{p:04X}" for p in self.pins]

    @classmethod
    def from_json(cls, value: object) -> Access:
        if value == "free":
            return FREE
        if value == "never":
            return NEVER
        if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
            return cls(pins=tuple(int(v, 16) for v in value))
        raise ValueError(f"bad access condition {value!r}")


FREE = Access()
NEVER = Access(never=True)


@dataclass(frozen=True)
class BinaryFile:
    """A transparent EF: ``content`` is its physical content (object then ``FF`` filler)."""

    fid: int
    content: bytes
    read: Access = FREE
    label: str = ""
    object_length: int = -1

    def __post_init__(self) -> None:
        _check_fid(self.fid)
        if not isinstance(self.content, bytes):
            raise TypeError("content must be bytes")
        if len(self.content) > 0x7FFF + 1:
            raise ValueError("a transparent EF holds at most 32768 bytes (15-bit offsets)")
        if self.object_length < 0:
            object.__setattr__(self, "object_length", len(self.content))
        if self.object_length > len(self.content):
            raise ValueError("object_length exceeds the file size")

    @classmethod
    def with_filler(
        cls, fid: int, obj: bytes, size: int, *, read: Access = FREE, label: str = ""
    ) -> BinaryFile:
        """An EF of ``size`` bytes (at least the object) holding ``obj`` then ``FF`` filler."""
        physical = max(size, len(obj))
        return cls(
            fid,
            obj + bytes([FILLER]) * (physical - len(obj)),
            read=read,
            label=label,
            object_length=len(obj),
        )

    @property
    def size(self) -> int:
        return len(self.content)

    @property
    def object(self) -> bytes:
        return self.content[: self.object_length]


@dataclass(frozen=True)
class RecordFile:
    """A linear EF with fixed records, numbered from 1."""

    fid: int
    records: tuple[bytes, ...]
    read: Access = FREE
    label: str = ""

    def __post_init__(self) -> None:
        _check_fid(self.fid)
        object.__setattr__(self, "records", tuple(bytes(r) for r in self.records))
        if any(not 1 <= len(r) <= 254 for r in self.records):
            raise ValueError("records hold 1..254 bytes")


class Charset(str, enum.Enum):
    """What characters a PIN key accepts when its value is changed."""

    DIGITS = "digits"
    UPPER_ALNUM = "upper-alnum"

    def accepts(self, value: bytes) -> bool:
        if self is Charset.DIGITS:
            return all(0x30 <= b <= 0x39 for b in value)
        return all(0x30 <= b <= 0x39 or 0x41 <= b <= 0x5A for b in value)


@dataclass(frozen=True, repr=False)
class PinSecret:
    """A PIN value as the simulated card keeps it: salted SHA-256, compared in constant time.

    This keeps PINs out of state files and dumps; it is not strong protection (a 4-digit PIN
    falls to 10 000 hashes). State files are test artefacts.
    """

    salt: bytes
    digest: bytes

    @classmethod
    def create(cls, value: bytes, *, salt: bytes | None = None) -> PinSecret:
        if not isinstance(value, bytes):
            raise TypeError("a PIN value must be bytes")
        salt = os.urandom(16) if salt is None else salt
        return cls(salt, hashlib.sha256(salt + value).digest())

    def matches(self, value: bytes) -> bool:
        return hmac.compare_digest(hashlib.sha256(self.salt + value).digest(), self.digest)

    def __repr__(self) -> str:
        return "PinSecret(<hidden>)"


@dataclass(frozen=True)
class PinFile:
    """A VERIFY key reference with its retry counter.

    ``secret`` None means the key has no value anyone can present (issued blocked, like
    text-AP ``0012``). ``change_ins`` is the instruction that changes it (``0x24`` CHANGE
    REFERENCE DATA, ``0x32`` CHANGE KEY) or None when it cannot be changed.
    """

    fid: int
    label: str
    max_tries: int
    remaining: int
    min_length: int
    max_length: int
    charset: Charset
    secret: PinSecret | None
    change_ins: int | None = 0x24

    def __post_init__(self) -> None:
        _check_fid(self.fid)
        if not 1 <= self.max_tries <= 15:
            raise ValueError("max_tries must be 1..15")
        if not 0 <= self.remaining <= self.max_tries:
            raise ValueError("remaining tries must be 0..max_tries")
        if not 1 <= self.min_length <= self.max_length <= 255:
            raise ValueError("PIN lengths must satisfy 1 <= min <= max <= 255")
        object.__setattr__(self, "charset", Charset(self.charset))
        if self.change_ins not in (None, 0x24, 0x32):
            raise ValueError("change_ins must be None, 0x24 or 0x32")

    @property
    def blocked(self) -> bool:
        return self.remaining == 0

    def length_ok(self, value: bytes) -> bool:
        return self.min_length <= len(value) <= self.max_length

    def format_ok(self, value: bytes) -> bool:
        return self.length_ok(value) and self.charset.accepts(value)


class KeyUse(str, enum.Enum):
    """What a private key answers to."""

    SIGN = "sign"  # COMPUTE DIGITAL SIGNATURE (80 2A)
    INTERNAL_AUTH = "internal-auth"  # INTERNAL AUTHENTICATE (00 88)


@dataclass(frozen=True)
class KeyFile:
    """A private key reference: ``key`` names an RSA key in the state; ``use`` unlocks it."""

    fid: int
    label: str
    key: str
    use: Access
    operations: frozenset[KeyUse] = frozenset({KeyUse.SIGN})

    def __post_init__(self) -> None:
        _check_fid(self.fid)
        object.__setattr__(self, "operations", frozenset(KeyUse(o) for o in self.operations))
        if not self.key:
            raise ValueError("a key file must name a key")


@dataclass(frozen=True)
class InternalFile:
    """Selectable, not readable (``6981``): an internal EF of the card OS."""

    fid: int
    label: str = ""

    def __post_init__(self) -> None:
        _check_fid(self.fid)


ElementaryFile = Union[BinaryFile, RecordFile, PinFile, KeyFile, InternalFile]  # noqa: UP007


@dataclass(frozen=True)
class Application:
    """A DF selected by name (AID), with its EFs by file identifier.

    ``default_key`` names the state key ``80 2A`` uses with ``P2=00`` and no credential (the
    券面 APs' own card key, spec §3.4); ``isd`` marks the GlobalPlatform ISD, the power-on
    state.
    """

    name: str
    label: str
    aid: bytes
    files: Mapping[int, ElementaryFile] = field(default_factory=dict)
    default_key: str | None = None
    isd: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.aid, bytes) or not 5 <= len(self.aid) <= 16:
            raise ValueError("an AID is 5..16 bytes")
        files = dict(self.files)
        for fid, ef in files.items():
            if ef.fid != fid:
                raise ValueError(f"file {fid:04X} is filed under the wrong identifier")
        if self.default_key is not None and not (
            isinstance(self.default_key, str) and self.default_key
        ):
            raise ValueError("default_key must be a key name")
        object.__setattr__(self, "files", MappingProxyType(files))

    def with_file(self, ef: ElementaryFile) -> Application:
        files = dict(self.files)
        files[ef.fid] = ef
        return Application(
            self.name, self.label, self.aid, files, default_key=self.default_key, isd=self.isd
        )

    def get(self, fid: int) -> ElementaryFile | None:
        return self.files.get(fid)
