"""Card-process side of the PC/SC test rig: serve a simulator state file to vpcd.

Run as ``python sim_vpcd_handler.py --handler sim_vpcd_handler:factory --port P -- STATE
[FAULT ...]`` (with this directory on PYTHONPATH). A removal fault of the simulated card
becomes a real removal in the reader (the vpcd connection drops), and the card is put back
shortly after with its faults cleared, so a test can check that the next session works.
"""

from __future__ import annotations

from apdu import CardRemovedError, NoCardError
from simulator.card import SimulatedCard
from simulator.faults import Faults
from simulator.vpcd import CardEjected

REINSERT_AFTER = 2.0
"""Long enough for pcscd (which polls vpcd about every 400 ms) to see the card gone."""


class EjectingCard:
    """Wraps a SimulatedCard for vpcd: removal faults eject the card from the reader."""

    def __init__(self, card: SimulatedCard) -> None:
        self.card = card

    @property
    def atr(self) -> bytes:
        return self.card.atr

    def transmit(self, command: bytes) -> bytes:
        try:
            return self.card.transmit(command)
        except (CardRemovedError, NoCardError):
            self.card.faults = Faults()
            raise CardEjected(reinsert_after=REINSERT_AFTER) from None

    def power_on(self) -> None:
        if not self.card.present:
            self.card.insert()
        else:
            self.card.power_on()

    def power_off(self) -> None:
        if self.card.present:
            self.card.power_off()

    def reset(self) -> None:
        if not self.card.present:
            self.card.insert()
        else:
            self.card.reset()


def factory(args: list[str]) -> EjectingCard:
    if not args:
        raise SystemExit("usage: -- STATE_FILE [FAULT ...]")
    faults = Faults.parse(args[1:]) if len(args) > 1 else None
    return EjectingCard(SimulatedCard.open(args[0], faults=faults))


class ForeignCard:
    """A card without the JPKI application (a bank card, say): every SELECT answers 6A82."""

    atr = bytes.fromhex("3B8F8001804F0CA000000306030001000000006A")

    def transmit(self, command: bytes) -> bytes:
        if len(command) >= 2 and command[1] == 0xA4:
            return b"\x6a\x82"
        return b"\x6d\x00"

    def power_off(self) -> None:
        pass

    def reset(self) -> None:
        pass


def foreign(args: list[str]) -> ForeignCard:
    return ForeignCard()


if __name__ == "__main__":
    # Launch through simulator.vpcd.main rather than ``python -m simulator.vpcd``: run with -m,
    # that module is ``__main__`` and its CardEjected is not the class a handler imports from
    # simulator.vpcd, so an ejection would be answered 6F00 instead of removing the card.
    import sys

    from simulator.vpcd import main

    raise SystemExit(main(sys.argv[1:]))
