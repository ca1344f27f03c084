"""The demo's simulated card reader: cards to insert and remove, and "pull the card" on demand.

:class:`DemoReader` is a :class:`~jpki_sdk.agent.CardSource` for the agent. It holds the demo's
simulated cards (each a :class:`simulator.card.SimulatedCard` persisting its counters to a
state file in the demo's work directory) and lets the demo controls (and the tests) insert one,
take it out, reset its PIN counters (what the municipal office does), or arm a removal during
the next COMPUTE DIGITAL SIGNATURE. That removal is the simulator's own fault injection
(:class:`simulator.faults.Faults`), triggered on the signing command: the card executes it and
leaves before answering, the nastiest moment for a reader to lose the card.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography import x509

from apdu import CardRemovedError as ApduCardRemovedError
from jpki_sdk.card import JpkiCard, NoCardError, open_card
from simulator.card import SimulatedCard
from simulator.faults import Faults
from simulator.identity import Identity
from simulator.provision import PIN_KEYS

logger = logging.getLogger(__name__)

_INS_COMPUTE_SIGNATURE = 0x2A


@dataclass
class DemoCard:
    """One simulated card of the demo (no PIN in it: the card keeps only digests)."""

    key: str
    label: str
    note: str
    identity: Identity = field(repr=False)
    card: SimulatedCard = field(repr=False)
    auth_certificate: x509.Certificate = field(repr=False)
    sign_certificate: x509.Certificate | None = field(repr=False)
    revoked: bool = False

    @property
    def path(self) -> Path:
        assert self.card.path is not None
        return self.card.path

    def tries(self) -> dict[str, int]:
        """Remaining tries of the auth PIN and the signature password (the card's counters)."""
        state = self.card.state
        out = {}
        for name in ("auth", "sign"):
            app, fid = PIN_KEYS[name]
            out[name] = state.pin(app, fid).remaining
        return out

    def age(self, today: dt.date) -> int:
        born = self.identity.birth_date
        return today.year - born.year - ((today.month, today.day) < (born.month, born.day))


class _PullingTransport:
    """Forwards APDUs to the current simulated card; when armed, makes the simulator remove
    the card during the next COMPUTE DIGITAL SIGNATURE (fault injection)."""

    def __init__(self, reader: DemoReader, card: SimulatedCard) -> None:
        self._reader = reader
        self._card = card

    @property
    def path(self) -> Path | None:
        return self._card.path

    @property
    def extended_length(self) -> bool:
        return self._card.extended_length

    @property
    def max_command_data(self) -> int:
        return self._card.max_command_data

    @property
    def max_response_data(self) -> int:
        return self._card.max_response_data

    def transmit(self, command: bytes) -> bytes:
        signing = len(command) >= 2 and command[1] == _INS_COMPUTE_SIGNATURE
        if not (signing and self._reader.take_pull_request()):
            return self._card.transmit(command)
        logger.info("demo: pulling the card during COMPUTE DIGITAL SIGNATURE")
        self._card.faults = Faults(remove_at=self._card.command_count + 1)
        self._card.transmit(command)  # raises CardRemovedError when the fault fires
        # The simulator fires a removal fault once per card object, even across re-insertions;
        # from the second pull on, take the card out the same way by hand: the command was
        # executed, its answer never arrives.
        self._card.remove()
        raise ApduCardRemovedError("the card was removed from the simulated reader")

    def close(self) -> None:
        # The end of a session: the reader resets the card (volatile state such as a verified
        # PIN is gone) but the card stays in the reader, its state file held by this process.
        if self._card.present:
            self._card.reset()

    def __enter__(self) -> _PullingTransport:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class DemoReader:
    """A simulated reader with a choice of demo cards (a :class:`~jpki_sdk.agent.CardSource`)."""

    def __init__(self, cards: list[DemoCard], *, inserted: str | None = None) -> None:
        if not cards:
            raise ValueError("the demo reader needs at least one card")
        self.cards = {c.key: c for c in cards}
        if len(self.cards) != len(cards):
            raise ValueError("demo card keys must be unique")
        self._lock = threading.Lock()
        self._current: str | None = inserted if inserted is not None else cards[0].key
        self._pull_next = False

    # -- CardSource ------------------------------------------------------------------------------

    def describe(self) -> str:
        return "simulated card reader (demo)"

    def open(self) -> JpkiCard:
        with self._lock:
            current = self.current
            if current is None or not current.card.present:
                raise NoCardError("no card in the simulated reader")
            transport = _PullingTransport(self, current.card)
        return open_card(simulator=transport)

    # -- demo controls ---------------------------------------------------------------------------

    @property
    def current(self) -> DemoCard | None:
        return None if self._current is None else self.cards[self._current]

    def insert(self, key: str) -> DemoCard:
        """Put card ``key`` in the reader (taking out any other)."""
        if key not in self.cards:
            raise KeyError(key)
        with self._lock:
            self._current = key
            card = self.cards[key].card
            if not card.present:
                card.insert()
            card.faults = Faults()
            return self.cards[key]

    def remove(self) -> None:
        """Take the card out of the reader."""
        with self._lock:
            self._current = None

    def pull_during_next_signature(self, armed: bool = True) -> None:
        self._pull_next = armed

    def take_pull_request(self) -> bool:
        with self._lock:
            armed, self._pull_next = self._pull_next, False
            return armed

    @property
    def pull_armed(self) -> bool:
        return self._pull_next

    def reset_pins(self, key: str) -> None:
        """What the municipal office does: the PIN counters back to their maximum, written to
        the card's state file. Call it only between card operations (the demo holds the
        agent's maintenance lock)."""
        demo = self.cards[key]
        for name in ("auth", "sign"):
            app, fid = PIN_KEYS[name]
            self.set_tries(key, name, demo.card.state.pin(app, fid).max_tries)

    def set_tries(self, key: str, pin: str, remaining: int) -> None:
        """Set a PIN counter of card ``key`` (``pin``: ``auth`` or ``sign``; 0 blocks it), as
        the municipal office's terminal would; written to the state file at once."""
        if pin not in ("auth", "sign"):
            raise ValueError("pin must be 'auth' or 'sign'")
        demo = self.cards[key]
        app, fid = PIN_KEYS[pin]
        demo.card.state.set_tries(app, fid, remaining)
        demo.card.state.save(demo.path)

    def status(self, today: dt.date) -> dict[str, Any]:
        """For the demo controls page (no personal data beyond the test card's label)."""
        current = self.current
        return {
            "inserted": None if current is None else current.key,
            "present": bool(current is not None and current.card.present),
            "pull_armed": self._pull_next,
            "cards": [
                {
                    "key": c.key,
                    "label": c.label,
                    "note": c.note,
                    "revoked": c.revoked,
                    "age": c.age(today),
                    "tries": c.tries(),
                }
                for c in self.cards.values()
            ],
        }

    def close(self) -> None:
        for demo in self.cards.values():
            demo.card.close()


__all__ = ["DemoCard", "DemoReader"]
