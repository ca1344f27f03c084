"""Fault injection: the misbehaving cards and readers integrators must survive.

A :class:`Faults` value describes what goes wrong; :class:`simulator.card.SimulatedCard`
applies it to every APDU it is given (in-process, or served through vpcd):

- ``remove_at=n``: the card leaves the reader during the n-th command, once per insertion
  (:meth:`SimulatedCard.insert` and assigning ``SimulatedCard.faults`` re-arm it, so the same
  card can be pulled repeatedly). With ``remove_after_execute=True`` (the default, and the
  nasty case) the card has already done the command (a VERIFY's counter change is on the
  card) but the answer never arrives; with False the card leaves before doing anything.
  In-process, ``transmit`` raises :class:`apdu.CardRemovedError` and then
  :class:`apdu.NoCardError` until :meth:`SimulatedCard.insert`; over vpcd the connection is
  dropped (the reader sees the card go) and, with ``reinsert_after`` set, comes back after
  that many seconds (and is pulled again at its n-th command).
- ``delay``: extra seconds before every answer (a slow card or a slow contactless link).
- ``max_apdu_size``: command APDUs longer than this many bytes are answered ``6700`` (a reader
  or card buffer limit).
- ``status_words``: ``{n: sw}`` answers the n-th command with that status word and no data,
  without executing it.

Commands are counted from 1 since the card was created, opened or re-inserted.

Spec strings for command lines (``jpki sim serve --fault``): ``remove@5``,
``remove-before@5``, ``reinsert=2.5``, ``delay=0.2``, ``max-apdu=261``, ``sw@3=6A82``.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

__all__ = ["FaultSpecError", "Faults"]

logger = logging.getLogger(__name__)


class FaultSpecError(ValueError):
    """A fault description that cannot be used."""


def _positive_int(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise FaultSpecError(f"{name} must be a positive integer, not {value!r}")
    return value


def _seconds(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise FaultSpecError(f"{name} must be a number of seconds, not {value!r}")
    number = float(value)
    if not 0 <= number <= 3600:
        raise FaultSpecError(f"{name} must be 0..3600 seconds")
    return number


@dataclass(frozen=True)
class Faults:
    """What goes wrong, and when (see the module documentation)."""

    remove_at: int | None = None
    remove_after_execute: bool = True
    reinsert_after: float | None = None
    delay: float = 0.0
    max_apdu_size: int | None = None
    status_words: Mapping[int, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.remove_at is not None:
            _positive_int("remove_at", self.remove_at)
        if not isinstance(self.remove_after_execute, bool):
            raise FaultSpecError("remove_after_execute must be a bool")
        if self.reinsert_after is not None:
            object.__setattr__(
                self, "reinsert_after", _seconds("reinsert_after", self.reinsert_after)
            )
        object.__setattr__(self, "delay", _seconds("delay", self.delay))
        if self.max_apdu_size is not None:
            size = _positive_int("max_apdu_size", self.max_apdu_size)
            if size < 4:
                raise FaultSpecError("max_apdu_size below 4 would refuse every APDU header")
        if not isinstance(self.status_words, Mapping):
            raise FaultSpecError("status_words must map command numbers to status words")
        checked: dict[int, int] = {}
        for n, sw in self.status_words.items():
            _positive_int("command number", n)
            if isinstance(sw, bool) or not isinstance(sw, int) or not 0x6000 <= sw <= 0x9FFF:
                raise FaultSpecError(f"status word for command {n} must be 6000..9FFF")
            if 0x6100 <= sw <= 0x61FF or 0x6C00 <= sw <= 0x6CFF:
                # Sent without data they are still legal; allowed, but noted in the log.
                logger.debug("fault injects procedure-like status word %04X", sw)
            checked[n] = sw
        object.__setattr__(self, "status_words", MappingProxyType(checked))

    @property
    def active(self) -> bool:
        """True when any fault is configured."""
        return bool(
            self.remove_at is not None
            or self.delay
            or self.max_apdu_size is not None
            or self.status_words
        )

    def describe(self) -> list[str]:
        """Human-readable list of the configured faults (for logs and ``sim serve``)."""
        out: list[str] = []
        if self.remove_at is not None:
            when = "after executing" if self.remove_after_execute else "before executing"
            out.append(f"card removed during command {self.remove_at} ({when} it)")
            if self.reinsert_after is not None:
                out.append(f"card re-inserted {self.reinsert_after:g} s after removal")
        if self.delay:
            out.append(f"{self.delay:g} s extra delay per APDU")
        if self.max_apdu_size is not None:
            out.append(f"APDUs over {self.max_apdu_size} bytes answered 6700")
        for n, sw in sorted(self.status_words.items()):
            out.append(f"command {n} answered {sw:04X}")
        return out

    @classmethod
    def parse(cls, specs: Iterable[str]) -> Faults:
        """Build from command-line spec strings (see the module documentation)."""
        remove_at: int | None = None
        remove_after = True
        reinsert: float | None = None
        delay = 0.0
        max_apdu: int | None = None
        sws: dict[int, int] = {}
        for raw in specs:
            spec = raw.strip().lower()
            if m := re.fullmatch(r"remove(-before)?@(\d+)", spec):
                remove_at = int(m.group(2))
                remove_after = m.group(1) is None
            elif m := re.fullmatch(r"reinsert=([0-9]*\.?[0-9]+)", spec):
                reinsert = float(m.group(1))
            elif m := re.fullmatch(r"delay=([0-9]*\.?[0-9]+)", spec):
                delay = float(m.group(1))
            elif m := re.fullmatch(r"max-apdu=(\d+)", spec):
                max_apdu = int(m.group(1))
            elif m := re.fullmatch(r"sw@(\d+)=([0-9a-f]{4})", spec):
                sws[int(m.group(1))] = int(m.group(2), 16)
            else:
                raise FaultSpecError(
                    f"unknown fault {raw!r}; use remove@N, remove-before@N, reinsert=SECONDS, "
                    "delay=SECONDS, max-apdu=BYTES or sw@N=XXXX"
                )
        return cls(
            remove_at=remove_at,
            remove_after_execute=remove_after,
            reinsert_after=reinsert,
            delay=delay,
            max_apdu_size=max_apdu,
            status_words=sws,
        )
