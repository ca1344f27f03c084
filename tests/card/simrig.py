"""One card-test rig, two transports: the simulator in-process, or served through pcscd + vpcd.

A rig owns a simulator state file. ``rig.insert(faults)`` puts a card in (in-process: the
next session opens a SimulatedCard on the file; PC/SC: a card process serving the file is
started in the stack's namespace), ``rig.session()`` opens a JpkiCard on it the way an
application would, ``rig.state()`` reads the counters back from the file. A recording tracer
shows which instructions were sent (the PIN data stays masked), on either transport.
"""

from __future__ import annotations

import os
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from apdu import ApduTracer
from apdu.trace import PendingTrace
from jpki_sdk.card import Application, CertificateCache, JpkiCard, open_card
from simulator.card import SimulatedCard
from simulator.faults import Faults
from simulator.identity import Identity
from simulator.pki import TestPki
from simulator.profile import CardProfile, preset
from simulator.provision import new_card
from simulator.state import CardState

HERE = Path(__file__).parent
REPO = HERE.parents[1]


class RecordingTracer(ApduTracer):
    """Remembers (CLA, INS, P1, P2, length) of every command put on the wire."""

    def __init__(self) -> None:
        super().__init__()
        self.commands: list[tuple[int, int, int, int, int]] = []

    def command(self, raw: bytes, *, mask: bool = False) -> PendingTrace:
        raw = bytes(raw)
        if len(raw) >= 4:
            self.commands.append((raw[0], raw[1], raw[2], raw[3], len(raw)))
        return super().command(raw, mask=mask)

    def verifies_with_pin(self) -> int:
        """VERIFY commands carrying data (the case-1 counter query is 4 bytes)."""
        return sum(1 for c in self.commands if c[1] == 0x20 and c[4] > 4)

    def count(self, ins: int) -> int:
        return sum(1 for c in self.commands if c[1] == ins)


class StateCache:
    """Provisioned card states, built once per session (RSA key generation is slow)."""

    def __init__(self, pki: TestPki | None = None) -> None:
        self._lock = threading.Lock()
        self._pki: TestPki | None = pki
        self._states: dict[tuple[str, bool], CardState] = {}

    def pki(self) -> TestPki:
        if self._pki is None:
            self._pki = TestPki.ephemeral(seed=41)
        return self._pki

    def state(self, *, form: str = "plastic", sign: bool = True) -> CardState:
        """A fresh copy of a provisioned card; ``form`` is plastic, android, iphone, juki."""
        key = (form, sign)
        with self._lock:
            base = self._states.get(key)
            if base is None:
                profile = {
                    "plastic": None,
                    "android": preset("android"),
                    "iphone": preset("iphone"),
                    "juki": preset("jukicard"),
                }[form]
                identity = Identity.generate(7 if sign else 8)
                base = new_card(self.pki(), identity, sign=sign, profile=profile, seed=3)
                self._states[key] = base
            return base.copy()


def with_profile(state: CardState, profile: CardProfile) -> CardState:
    """The same card (same files and keys) behind different reader-facing properties."""
    copy = state.copy()
    copy.profile = profile
    return copy


@dataclass
class Rig:
    kind: str
    path: Path
    tracer: RecordingTracer = field(default_factory=RecordingTracer)
    stack: Any = None
    reader_index: int = 0
    _faults: list[str] = field(default_factory=list)
    _proc: Any = None
    sims: list[SimulatedCard] = field(default_factory=list)
    extended: bool | None = None

    # -- card in / out --------------------------------------------------------------------

    def insert(self, faults: list[str] | None = None) -> None:
        """Put the card (its state file) in the reader, with these simulator faults."""
        self._faults = list(faults or [])
        if self.kind == "pcsc":
            self._stop_process()
            argv = [
                sys.executable,
                str(HERE / "sim_vpcd_handler.py"),
                "--handler",
                "sim_vpcd_handler:factory",
                "--port",
                str(self.stack.port(self.reader_index)),
                "--",
                str(self.path),
                *self._faults,
            ]
            env = {"PYTHONPATH": os.pathsep.join([str(HERE), str(REPO)])}
            self._proc = self.stack.start_card(argv, name="simcard", env=env)
            self.stack.wait_for_card(self.reader_index)

    def wait_present(self) -> None:
        if self.kind == "pcsc":
            self.stack.wait_for_card(self.reader_index, present=True)

    def close(self) -> None:
        self._stop_process()
        for sim in self.sims:
            sim.close()

    def _stop_process(self) -> None:
        if self._proc is not None:
            self.stack.stop_card(self._proc)
            self.stack.wait_for_card(self.reader_index, present=False)
            self._proc = None

    # -- sessions ---------------------------------------------------------------------------

    def session(self, *, cache: CertificateCache | None = None) -> JpkiCard:
        """A JpkiCard session on the card, as an application opens one."""
        if self.kind == "inproc":
            faults = Faults.parse(self._faults) if self._faults else None
            self._faults = []  # a fault plays once, like the card process's
            sim = SimulatedCard.open(self.path, faults=faults)
            self.sims.append(sim)
            return open_card(simulator=sim, cache=cache, tracer=self.tracer)
        if self.extended is not None:
            from apdu.pcsc import PcscTransport

            name = self.stack.reader_name(self.reader_index)
            transport = PcscTransport.connect(
                name,
                extended_length=self.extended,
                max_response_data=65536 if self.extended else 256,
                max_command_data=65535 if self.extended else 255,
            )
            card = JpkiCard(transport, slot=f"pcsc:{name}", cache=cache, tracer=self.tracer)
            card.select(Application.JPKI)
            return card
        return open_card(
            reader=self.stack.reader_name(self.reader_index), cache=cache, tracer=self.tracer
        )

    def state(self) -> CardState:
        return CardState.load(self.path)

    def update(self, change: Any) -> None:
        """Change the card at rest (no card process running, or before insert)."""
        state = self.state()
        change(state)
        state.save(self.path)

    @property
    def sim(self) -> SimulatedCard:
        return self.sims[-1]
