"""Card profiles: what kind of My Number card the simulator is, and its unconfirmed behaviours.

A :class:`CardProfile` says how the card looks from the reader (ATR, contact or contactless,
APDU sizes, extended length) and settles every point the card spec marks unconfirmed, each
with the default chosen from what OpenSC and most implementations expect. A profile is
stored in the card's state file; presets are available by name (:func:`preset`,
:data:`PRESETS`).

The ATRs are the ones listed in the card spec §3.9 (OpenSC's ``customactions.cpp``). The
contactless ATRs are what a PC/SC reader synthesises from the card's ATQB.
"""

from __future__ import annotations

import dataclasses
import enum
import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "KNOWN_ATRS",
    "LABEL_ANDROID",
    "LABEL_IPHONE",
    "LABEL_JUKI",
    "LABEL_PLASTIC",
    "PRESETS",
    "TOKEN_LABELS",
    "CardProfile",
    "Interface",
    "Latency",
    "PinLengthPolicy",
    "ProfileError",
    "preset",
]

logger = logging.getLogger(__name__)


class ProfileError(ValueError):
    """A profile value or name that does not make sense."""


class Interface(str, enum.Enum):
    """How the card talks to the reader."""

    CONTACT = "contact"
    CONTACTLESS = "contactless"


class PinLengthPolicy(str, enum.Enum):
    """What VERIFY does with a PIN whose length the key cannot hold (spec §9: unconfirmed).

    ``COUNTS``: compared like any other value, so it fails and costs a try (the default: it
    catches clients that skip the offline format check). ``REJECT``: answered ``6700`` without
    touching the counter.
    """

    COUNTS = "counts"
    REJECT = "reject"


LABEL_PLASTIC = "JPKIAPICCTOKEN2"
LABEL_JUKI = "JPKIAPICCTOKEN"
LABEL_ANDROID = "JPKIAPGPSETOKEN"
LABEL_IPHONE = "JPKIAPIOSTOKEN"

#: Token labels (EF 0006, first 32 bytes, space-padded) seen on real tokens (spec §2.1).
TOKEN_LABELS: Mapping[str, str] = {
    LABEL_PLASTIC: "plastic My Number card",
    LABEL_JUKI: "old 住基カード",
    LABEL_ANDROID: "Android smartphone JPKI (auth certificate needs the auth PIN)",
    LABEL_IPHONE: "iPhone JPKI",
}

#: ATRs of spec §3.9: (name, ATR, interface).
KNOWN_ATRS: tuple[tuple[str, bytes, Interface], ...] = (
    ("contact", bytes.fromhex("3BE000FF8131FE4514"), Interface.CONTACT),
    (
        "contact-3bda",
        bytes.fromhex("3BDA13FF8131FB468012392F31C173C601C03B"),
        Interface.CONTACT,
    ),
    ("contact-3bc5", bytes.fromhex("3BC5FF8131FB458073C6010000"), Interface.CONTACT),
    ("contact-3bf5-d1d6", bytes.fromhex("3BF59100FF918171FE400042000100D1D6"), Interface.CONTACT),
    ("contact-3bf5-a115", bytes.fromhex("3BF59100FF918171FE4000420001B3A115"), Interface.CONTACT),
    ("contactless", bytes.fromhex("3B888001000005E0B381A1007F"), Interface.CONTACTLESS),
    ("contactless-41e0", bytes.fromhex("3B888001000041E0B381A1003B"), Interface.CONTACTLESS),
    ("contactless-d1", bytes.fromhex("3B888001004B51FF0081D100BC"), Interface.CONTACTLESS),
    ("contactless-d1-b3", bytes.fromhex("3B888001004B51FFB381D1000F"), Interface.CONTACTLESS),
)


def _check_nonneg(name: str, value: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ProfileError(f"{name} must be a number of seconds")
    if value < 0 or math.isnan(value):
        raise ProfileError(f"{name} must be >= 0 seconds")
    return float(value)


@dataclass(frozen=True)
class Latency:
    """How long the card takes (seconds). Off (all zero) unless a profile or caller asks.

    ``round_trip`` is added to every APDU, ``per_byte`` per byte moved (command + response),
    ``rsa`` to each private-key operation (a real card takes hundreds of ms; contactless
    slower), ``verify`` to each VERIFY that compares a PIN.
    """

    round_trip: float = 0.0
    per_byte: float = 0.0
    rsa: float = 0.0
    verify: float = 0.0

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            object.__setattr__(self, f.name, _check_nonneg(f.name, getattr(self, f.name)))

    @property
    def enabled(self) -> bool:
        return any(getattr(self, f.name) for f in dataclasses.fields(self))

    @classmethod
    def realistic(cls, interface: Interface = Interface.CONTACT) -> Latency:
        """Rough figures for a real card (estimates, not measurements of one card)."""
        if interface is Interface.CONTACTLESS:
            return cls(round_trip=0.015, per_byte=0.00008, rsa=0.6, verify=0.05)
        return cls(round_trip=0.008, per_byte=0.00005, rsa=0.35, verify=0.03)

    def to_dict(self) -> dict[str, float]:
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Latency:
        if not isinstance(data, Mapping):
            raise ProfileError("latency must be an object")
        unknown = set(data) - {f.name for f in dataclasses.fields(cls)}
        if unknown:
            raise ProfileError(f"unknown latency fields: {sorted(unknown)}")
        return cls(**{k: data[k] for k in data})


@dataclass(frozen=True)
class CardProfile:
    """What kind of card this is, and how it settles the spec's unconfirmed points.

    Reader-facing:

    - ``atr``; ``interface`` (contact / contactless); ``extended_length`` (whether extended
      Lc/Le APDUs get through: the contact card takes them, contactless readers and Android
      are not dependable, spec §3.6/§3.8); ``max_command_data`` / ``max_response_data`` (the
      largest Lc / Le the link carries in one APDU).

    Card content (used when a card is provisioned):

    - ``token_label``: EF 0006 label (``JPKIAPICCTOKEN2`` plastic card; see
      :data:`TOKEN_LABELS`). ``JPKIAPGPSETOKEN`` also puts the auth certificate behind the
      auth PIN (spec §2.1, §7 quirk 6).
    - ``long_basic_info_length``: write text-AP EF 0002's outer length as ``82 LLLL`` even
      when it fits the short form (both occur on real cards, spec §4.2).
    - ``cert_ef_size``: physical size of the certificate EFs (unconfirmed, spec §9; at least
      the certificate, ``FF`` filler after it).
    - ``verification_code_tries``: tries of 照合番号A/B (text AP 0014/0015, 券面AP 0013/0012)
      and the 券面AP birth-date key 0011 (unconfirmed; a vendor slide says 10).

    Unconfirmed behaviours (spec §9):

    - ``reselect_clears_state``: re-selecting the current DF clears its VERIFY state
      (default False: MS citing JICSAP 5.1.3; OpenSC's logout assumes True).
    - ``read_past_end_sw``: READ BINARY at or beyond the end of the EF: ``0x6B00`` (JICSAP,
      default) or ``0x6282`` (ISO, no data).
    - ``wrong_length_pin``: see :class:`PinLengthPolicy`.
    - ``blocked_sw``: what VERIFY answers once a key is blocked: ``0x6984`` (observed on a
      card by MC, JICSAP; the default) or ``0x6983`` (LUL's constant; OpenSC maps only this one
      to ``CKR_PIN_LOCKED``). The exhausting attempt answers ``63C0`` either way.
    """

    name: str = "contact"
    atr: bytes = bytes.fromhex("3BE000FF8131FE4514")
    interface: Interface = Interface.CONTACT
    extended_length: bool = True
    max_command_data: int = 65535
    max_response_data: int = 65536
    token_label: str = LABEL_PLASTIC
    long_basic_info_length: bool = False
    cert_ef_size: int = 2560
    verification_code_tries: int = 10
    reselect_clears_state: bool = False
    read_past_end_sw: int = 0x6B00
    wrong_length_pin: PinLengthPolicy = PinLengthPolicy.COUNTS
    blocked_sw: int = 0x6984
    latency: Latency = field(default_factory=Latency)

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise ProfileError("profile name must be a non-empty string")
        atr = self.atr
        if isinstance(atr, (bytearray, memoryview)):
            atr = bytes(atr)
            object.__setattr__(self, "atr", atr)
        if not isinstance(atr, bytes) or not 2 <= len(atr) <= 33:
            raise ProfileError("ATR must be 2..33 bytes")
        if atr[0] not in (0x3B, 0x3F):
            raise ProfileError("ATR must start with TS = 3B (direct) or 3F (inverse)")
        try:
            object.__setattr__(self, "interface", Interface(self.interface))
            object.__setattr__(self, "wrong_length_pin", PinLengthPolicy(self.wrong_length_pin))
        except ValueError as exc:
            raise ProfileError(str(exc)) from None
        for name in ("extended_length", "long_basic_info_length", "reselect_clears_state"):
            if not isinstance(getattr(self, name), bool):
                raise ProfileError(f"{name} must be true or false")
        short_max = (255, 256)
        long_max = (65535, 65536)
        cmd, rsp = self.max_command_data, self.max_response_data
        for label, value, limit in (
            ("max_command_data", cmd, long_max[0] if self.extended_length else short_max[0]),
            ("max_response_data", rsp, long_max[1] if self.extended_length else short_max[1]),
        ):
            if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= limit:
                raise ProfileError(f"{label} must be 1..{limit} with this extended_length")
        if cmd < 32 or rsp < 256:
            raise ProfileError(
                "max_command_data must be >= 32 and max_response_data >= 256 "
                "(a PIN and a 256-byte signature must fit)"
            )
        label = self.token_label
        if not isinstance(label, str) or not label.isascii() or not 1 <= len(label) <= 32:
            raise ProfileError("token_label must be 1..32 ASCII characters")
        if not label.isprintable():
            raise ProfileError("token_label must be printable")
        if isinstance(self.cert_ef_size, bool) or not isinstance(self.cert_ef_size, int):
            raise ProfileError("cert_ef_size must be an int")
        if not 1024 <= self.cert_ef_size <= 0x7FFF:
            raise ProfileError("cert_ef_size must be 1024..32767 bytes")
        tries = self.verification_code_tries
        if isinstance(tries, bool) or not isinstance(tries, int) or not 1 <= tries <= 15:
            raise ProfileError("verification_code_tries must be 1..15 (63Cx holds one nibble)")
        if self.read_past_end_sw not in (0x6B00, 0x6282):
            raise ProfileError("read_past_end_sw must be 0x6B00 or 0x6282")
        if self.blocked_sw not in (0x6984, 0x6983):
            raise ProfileError("blocked_sw must be 0x6984 or 0x6983")
        if not isinstance(self.latency, Latency):
            raise ProfileError("latency must be a Latency")

    # -- derived --------------------------------------------------------------------------

    @property
    def auth_cert_needs_pin(self) -> bool:
        """True for the smartphone token, whose auth certificate is behind the auth PIN."""
        return self.token_label == LABEL_ANDROID

    @property
    def accepts_last_command_marker(self) -> bool:
        """True for the iPhone token (``80 FC 00 00``); a plastic card answers 6700."""
        return self.token_label == LABEL_IPHONE

    def replace(self, **changes: Any) -> CardProfile:
        """A copy with some fields changed (validated)."""
        return dataclasses.replace(self, **changes)

    # -- (de)serialisation ---------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if isinstance(value, bytes):
                value = value.hex().upper()
            elif isinstance(value, enum.Enum):
                value = value.value
            elif isinstance(value, Latency):
                value = value.to_dict()
            out[f.name] = value
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CardProfile:
        if not isinstance(data, Mapping):
            raise ProfileError("profile must be an object")
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = set(data) - names
        if unknown:
            raise ProfileError(f"unknown profile fields: {sorted(unknown)}")
        kwargs: dict[str, Any] = dict(data)
        if "atr" in kwargs:
            try:
                kwargs["atr"] = bytes.fromhex(str(kwargs["atr"]))
            except ValueError:
                raise ProfileError("profile ATR is not hex") from None
        if "latency" in kwargs:
            kwargs["latency"] = Latency.from_dict(kwargs["latency"])
        try:
            return cls(**kwargs)
        except TypeError as exc:
            raise ProfileError(f"bad profile: {exc}") from None


def _contactless(name: str, atr: bytes, **extra: Any) -> CardProfile:
    return CardProfile(
        name=name,
        atr=atr,
        interface=Interface.CONTACTLESS,
        extended_length=False,
        max_command_data=255,
        max_response_data=256,
        **extra,
    )


def _build_presets() -> dict[str, CardProfile]:
    presets: dict[str, CardProfile] = {}
    for name, atr, interface in KNOWN_ATRS:
        if interface is Interface.CONTACT:
            presets[name] = CardProfile(name=name, atr=atr)
        else:
            presets[name] = _contactless(name, atr)
    contactless_atr = KNOWN_ATRS[5][1]
    presets["jukicard"] = CardProfile(name="jukicard", token_label=LABEL_JUKI)
    presets["android"] = _contactless("android", contactless_atr, token_label=LABEL_ANDROID)
    presets["iphone"] = _contactless("iphone", contactless_atr, token_label=LABEL_IPHONE)
    presets["opensc-logout"] = CardProfile(name="opensc-logout", reselect_clears_state=True)
    return presets


#: Presets by name: one per ATR of spec §3.9 (``contact`` is the default), plus
#: ``jukicard`` (JPKIAPICCTOKEN), ``android`` (JPKIAPGPSETOKEN), ``iphone`` (JPKIAPIOSTOKEN)
#: and ``opensc-logout`` (re-selecting the AP clears the VERIFY state).
PRESETS: Mapping[str, CardProfile] = _build_presets()


def preset(name: str) -> CardProfile:
    """The preset profile called ``name`` (see :data:`PRESETS`)."""
    try:
        return PRESETS[name]
    except KeyError:
        raise ProfileError(
            f"unknown card profile {name!r}; known: {', '.join(sorted(PRESETS))}"
        ) from None
