"""pytest fixtures for simulated My Number cards (plugin ``jpki_simulator``).

Installed with the package (entry point ``pytest11: jpki_simulator``), so any test suite can use:

- ``test_pki`` (session): an in-memory test PKI (``TestPki.ephemeral(seed=0)``); its roots are
  test roots, never trusted by default anywhere.
- ``simulated_card``: a fresh in-process card (default PINs, both certificates, contact
  profile). It is an :class:`apdu.Transport`.
- ``card_factory``: cards made to order::

      card = card_factory(identity=7, tries={"auth": 1}, profile="contactless")
      card = card_factory(sign=False)                    # holder under 15
      card = card_factory(auth_pin="9999", faults=Faults(remove_at=3))
      card = card_factory(path=tmp_path / "card.json")   # persisted state file

Provisioning (RSA key generation, certificate issuance) happens once per distinct identity,
certificate set and profile in a session; every card handed out is an independent copy with its
own counters, so tests never share state.
"""

from __future__ import annotations

import datetime as _dt
import logging
import os
import threading
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from simulator.card import SimulatedCard
    from simulator.faults import Faults
    from simulator.identity import Identity
    from simulator.pki import TestPki
    from simulator.profile import CardProfile, Latency
    from simulator.state import CardState

__all__ = ["CardFactory", "card_factory", "simulated_card", "test_pki"]

logger = logging.getLogger(__name__)

DEFAULT_IDENTITY_SEED = 1


class CardFactory:
    """Makes simulated cards from one test PKI, caching the expensive provisioning."""

    def __init__(self, pki: TestPki) -> None:
        self.pki = pki
        self._cache: dict[str, CardState] = {}
        self._lock = threading.Lock()

    def state(
        self,
        identity: Identity | int | None = None,
        *,
        auth_pin: str | None = None,
        sign_password: str | None = None,
        text_pin: str | None = None,
        juki_pin: str | None = None,
        sign: bool = True,
        profile: CardProfile | str | None = None,
        tries: Mapping[str, int] | None = None,
        issued_at: _dt.datetime | None = None,
    ) -> CardState:
        """A fresh :class:`CardState` (see :meth:`__call__` for the arguments)."""
        import json

        from simulator.identity import Identity
        from simulator.profile import CardProfile, preset
        from simulator.provision import (
            DEFAULT_AUTH_PIN,
            DEFAULT_JUKI_PIN,
            DEFAULT_SIGN_PASSWORD,
            DEFAULT_TEXT_PIN,
            PIN_KEYS,
            new_card,
        )

        if identity is None:
            identity = DEFAULT_IDENTITY_SEED
        person = identity if isinstance(identity, Identity) else Identity.generate(identity)
        if isinstance(profile, str):
            card_profile = preset(profile)
        elif profile is None:
            card_profile = CardProfile()
        else:
            card_profile = profile
        key = json.dumps(
            {
                "identity": person.to_dict(),
                "sign": sign,
                "profile": card_profile.to_dict(),
                "issued_at": None if issued_at is None else issued_at.isoformat(),
            },
            sort_keys=True,
            ensure_ascii=False,
        )
        with self._lock:
            base = self._cache.get(key)
            if base is None:
                base = new_card(self.pki, person, sign=sign, profile=card_profile, now=issued_at)
                self._cache[key] = base
        state = base.copy()
        for name, value, default in (
            ("auth", auth_pin, DEFAULT_AUTH_PIN),
            ("sign", sign_password, DEFAULT_SIGN_PASSWORD),
            ("text", text_pin, DEFAULT_TEXT_PIN),
            ("juki", juki_pin, DEFAULT_JUKI_PIN),
            ("common", juki_pin, DEFAULT_JUKI_PIN),
        ):
            if value is not None and value != default:
                if name == "sign" and not sign:
                    raise ValueError("a card without a signature certificate has no sign PIN")
                app, fid = PIN_KEYS[name]
                state.set_pin(app, fid, value)
        for name, remaining in (tries or {}).items():
            if name not in PIN_KEYS:
                raise ValueError(f"unknown PIN key {name!r}; known: {', '.join(PIN_KEYS)}")
            app, fid = PIN_KEYS[name]
            state.set_tries(app, fid, remaining)
        return state

    def __call__(
        self,
        identity: Identity | int | None = None,
        *,
        auth_pin: str | None = None,
        sign_password: str | None = None,
        text_pin: str | None = None,
        juki_pin: str | None = None,
        sign: bool = True,
        profile: CardProfile | str | None = None,
        tries: Mapping[str, int] | None = None,
        faults: Faults | None = None,
        latency: Latency | None = None,
        path: str | os.PathLike[str] | None = None,
        issued_at: _dt.datetime | None = None,
    ) -> SimulatedCard:
        """A new simulated card.

        ``identity``: an :class:`~simulator.identity.Identity` or a seed for
        ``Identity.generate`` (default 1). PINs default to ``simulator.provision``'s
        ``DEFAULT_*``. ``sign=False``: no signature certificate. ``profile``: a
        :class:`~simulator.profile.CardProfile` or a preset name. ``tries``: remaining tries by
        PIN name (``auth``, ``sign``, ``text``, ``text-a``, ``text-b``, ``kenmen-birth``,
        ``kenmen-a``, ``kenmen-b``, ``juki``, ``common``; 0 blocks). ``faults`` / ``latency``:
        see :class:`~simulator.card.SimulatedCard`. ``path``: persist to this state file.
        """
        from simulator.card import SimulatedCard

        state = self.state(
            identity,
            auth_pin=auth_pin,
            sign_password=sign_password,
            text_pin=text_pin,
            juki_pin=juki_pin,
            sign=sign,
            profile=profile,
            tries=tries,
            issued_at=issued_at,
        )
        return SimulatedCard(state, path=path, faults=faults, latency=latency)


@pytest.fixture(scope="session")
def test_pki() -> Iterator[TestPki]:
    """An in-memory test PKI for the session (same seed -> same roots every run)."""
    from simulator.pki import TestPki

    pki = TestPki.ephemeral(seed=0)
    try:
        yield pki
    finally:
        pki.close()


@pytest.fixture(scope="session")
def _jpki_card_factory(test_pki: TestPki) -> CardFactory:
    return CardFactory(test_pki)


@pytest.fixture
def card_factory(_jpki_card_factory: CardFactory) -> Iterator[Callable[..., SimulatedCard]]:
    """Make simulated cards with chosen identity, PINs, tries, profile and faults."""
    made: list[SimulatedCard] = []

    def make(*args: Any, **kwargs: Any) -> SimulatedCard:
        card = _jpki_card_factory(*args, **kwargs)
        made.append(card)
        return card

    yield make
    for card in made:
        card.close()


@pytest.fixture
def simulated_card(card_factory: Callable[..., SimulatedCard]) -> SimulatedCard:
    """A fresh in-process simulated card with the default PINs and both certificates."""
    return card_factory()
