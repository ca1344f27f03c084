"""The card's PINs: kinds, the offline format rules, the counter status, and PIN buffers.

Spec §2.2: the auth PIN (JPKI key 0018) and the 券面事項入力補助AP PIN (text key 0011) are 4 ASCII
digits with 3 tries; the signature password (JPKI key 001B) is 6-16 characters of A-Z and 0-9
with 5 tries, uppercased before it is sent (the card compares bytes). A PIN with the wrong
format is refused here, before anything is sent, so a typo in the *format* never costs a try.

PINs are converted into a :class:`bytearray` that is zeroed as soon as the APDU has been built
(:class:`PinBuffer`). A Python ``str`` given by the caller cannot be wiped; callers who care
pass a ``bytearray`` and get it zeroed too (``wipe_input=True``).
"""

from __future__ import annotations

import enum
import logging
from dataclasses import dataclass
from types import TracebackType
from typing import TypeAlias

from jpki_sdk.card.errors import PinFormatError

logger = logging.getLogger(__name__)

PinInput: TypeAlias = str | bytes | bytearray | memoryview
"""What the API accepts as a PIN. Prefer ``bytearray``: it is zeroed after use."""

JPKI_AID = bytes.fromhex("D392F000260100000001")
TEXT_AID = bytes.fromhex("D3921000310001010408")
GP_ISD_AID = bytes.fromhex("A0000001510000")


class Application(enum.Enum):
    """The card applications this SDK selects (spec §1)."""

    JPKI = JPKI_AID
    TEXT = TEXT_AID
    ISSUER_SECURITY_DOMAIN = GP_ISD_AID

    @property
    def aid(self) -> bytes:
        return self.value

    @property
    def label(self) -> str:
        return _APP_LABELS[self]


_APP_LABELS = {
    Application.JPKI: "JPKI-AP",
    Application.TEXT: "券面事項入力補助AP",
    Application.ISSUER_SECURITY_DOMAIN: "GP ISD",
}


class PinKind(enum.Enum):
    """The three PINs the SDK presents."""

    AUTH = "auth"
    """利用者証明用電子証明書 暗証番号: 4 digits, 3 tries (JPKI key 0018)."""
    SIGN = "sign"
    """署名用電子証明書 パスワード: 6-16 of A-Z 0-9, 5 tries (JPKI key 001B)."""
    TEXT = "text"
    """券面事項入力補助用 暗証番号: 4 digits, 3 tries (text AP key 0011)."""

    @property
    def label(self) -> str:
        return _PIN_LABELS[self]

    @property
    def application(self) -> Application:
        return Application.TEXT if self is PinKind.TEXT else Application.JPKI

    @property
    def key_fid(self) -> int:
        return _PIN_FIDS[self]

    @property
    def max_tries(self) -> int:
        return 5 if self is PinKind.SIGN else 3

    @property
    def is_password(self) -> bool:
        return self is PinKind.SIGN


_PIN_LABELS = {
    PinKind.AUTH: "auth PIN (利用者証明用暗証番号)",
    PinKind.SIGN: "signature password (署名用パスワード)",
    PinKind.TEXT: "text PIN (券面事項入力補助用暗証番号)",
}
_PIN_FIDS = {PinKind.AUTH: 0x0018, PinKind.SIGN: 0x001B, PinKind.TEXT: 0x0011}

_DIGITS = frozenset(b"0123456789")
_UPPER_ALNUM = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
_LETTERS = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ")


@dataclass(frozen=True)
class PinStatus:
    """The retry counter of one PIN, read without using a try (case-1 VERIFY, spec §2.3).

    ``remaining`` is ``None`` only for a key that reports no limit (6300, not seen on JPKI).
    The card never reports whether the PIN is currently verified (the query answers 63Cx even
    after a correct VERIFY), so this says nothing about login state.
    """

    kind: PinKind
    remaining: int | None
    max_tries: int

    @property
    def blocked(self) -> bool:
        return self.remaining == 0

    @property
    def last_attempt(self) -> bool:
        """One try left: the SDK refuses to send the PIN unless explicitly allowed."""
        return self.remaining == 1


class PinBuffer:
    """A PIN normalised into a bytearray that is zeroed on :meth:`wipe` / context exit.

    Never printed: ``repr`` and ``str`` show only the kind and the length.
    """

    __slots__ = ("_buf", "kind")

    def __init__(self, kind: PinKind, buf: bytearray):
        self.kind = kind
        self._buf = buf

    def __len__(self) -> int:
        return len(self._buf)

    def __repr__(self) -> str:
        return f"PinBuffer({self.kind.name}, <{len(self._buf)} bytes redacted>)"

    __str__ = __repr__

    def view(self) -> bytearray:
        """The bytes to send. Valid until :meth:`wipe`."""
        return self._buf

    def wipe(self) -> None:
        for i in range(len(self._buf)):
            self._buf[i] = 0
        self._buf = bytearray()

    def __enter__(self) -> PinBuffer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.wipe()


def _to_bytearray(kind: PinKind, pin: PinInput) -> bytearray:
    if isinstance(pin, str):
        try:
            return bytearray(pin.encode("ascii"))
        except UnicodeEncodeError:
            raise PinFormatError(kind, "contains characters other than ASCII") from None
    if isinstance(pin, (bytes, bytearray, memoryview)):
        return bytearray(pin)
    raise TypeError(f"a PIN must be str, bytes or bytearray, not {type(pin).__name__}")


def normalize_pin(kind: PinKind, pin: PinInput, *, wipe_input: bool = False) -> PinBuffer:
    """Check ``pin`` against the offline format rules of ``kind`` and return it ready to send.

    The signature password is uppercased first (the card compares bytes, spec §2.2). Raises
    :class:`PinFormatError` (nothing is sent, so no try is used). With ``wipe_input=True`` a
    ``bytearray`` passed in is zeroed once it has been copied.
    """
    buf = _to_bytearray(kind, pin)
    if wipe_input and isinstance(pin, bytearray):
        for i in range(len(pin)):
            pin[i] = 0
    try:
        _check_format(kind, buf)
    except PinFormatError:
        for i in range(len(buf)):
            buf[i] = 0
        raise
    return PinBuffer(kind, buf)


def _check_format(kind: PinKind, buf: bytearray) -> None:
    if kind is PinKind.SIGN:
        for i, b in enumerate(buf):
            if 0x61 <= b <= 0x7A:  # a-z -> A-Z
                buf[i] = b - 0x20
        if not 6 <= len(buf) <= 16:
            raise PinFormatError(kind, f"must be 6 to 16 characters, got {len(buf)}")
        if not all(b in _UPPER_ALNUM for b in buf):
            raise PinFormatError(kind, "may only contain letters A-Z and digits 0-9")
        return
    if len(buf) != 4:
        raise PinFormatError(kind, f"must be exactly 4 digits, got {len(buf)} characters")
    if not all(b in _DIGITS for b in buf):
        raise PinFormatError(kind, "must be 4 digits 0-9")


def check_new_pin(kind: PinKind, pin: PinInput) -> PinBuffer:
    """Like :func:`normalize_pin`, plus the rule for choosing a new signature password: at
    least one letter and one digit (spec §2.2, municipal guidance)."""
    buf = normalize_pin(kind, pin)
    if kind is PinKind.SIGN:
        data = buf.view()
        if not (any(b in _LETTERS for b in data) and any(b in _DIGITS for b in data)):
            buf.wipe()
            raise PinFormatError(kind, "must contain at least one letter and one digit")
    return buf


def pin_kind_from_name(name: str) -> PinKind:
    """``"auth"``, ``"sign"`` or ``"text"`` (case-insensitive) to a :class:`PinKind`."""
    try:
        return PinKind(name.lower())
    except ValueError:
        raise ValueError(f"unknown PIN kind {name!r}: use auth, sign or text") from None
