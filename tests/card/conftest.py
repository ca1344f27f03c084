"""Fixtures for the card client tests."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

sys.path.insert(0, str(Path(__file__).parent))
# tests/ is on sys.path (root conftest), where tests/apdu would shadow the real apdu package as
# a namespace package; the repository root on sys.path makes the regular package win.
_REPO_ROOT = str(Path(__file__).resolve().parents[2])
if _REPO_ROOT not in sys.path:
    sys.path.append(_REPO_ROOT)

from cardkit import make_certificate  # noqa: E402 (needs the sys.path set-up above)


@pytest.fixture(scope="session")
def card_key() -> rsa.RSAPrivateKey:
    """One RSA-2048 key for the scripted-card tests (generated once: it is slow)."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="session")
def other_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="session")
def auth_cert_der(card_key: rsa.RSAPrivateKey) -> bytes:
    from cryptography.hazmat.primitives import serialization

    der = make_certificate(card_key, cn="AUTH TEST", padding_bytes=790).public_bytes(
        serialization.Encoding.DER
    )
    # The size of a real auth certificate (spec §5.2: 1586 bytes): 7 short READ BINARY.
    assert 1537 <= len(der) <= 1792, len(der)
    return der


@pytest.fixture(scope="session")
def big_cert_der(card_key: rsa.RSAPrivateKey) -> bytes:
    """A certificate over 3 KB (a long signature certificate)."""
    from cryptography.hazmat.primitives import serialization

    der = make_certificate(card_key, cn="BIG TEST", padding_bytes=2600).public_bytes(
        serialization.Encoding.DER
    )
    assert len(der) > 3072
    return der


# --------------------------------------------------------------------- simulator-backed rigs

from collections.abc import Callable, Iterator  # noqa: E402
from typing import Any  # noqa: E402

from simrig import Rig, StateCache, with_profile  # noqa: E402

from simulator.profile import CardProfile  # noqa: E402


@pytest.fixture(scope="session")
def state_cache(test_pki: Any) -> StateCache:
    """Provisioned cards on the simulator plugin's session PKI (``test_pki``)."""
    return StateCache(test_pki)


@pytest.fixture(params=["inproc", pytest.param("pcsc", marks=pytest.mark.pcsc)])
def transport_kind(request: pytest.FixtureRequest) -> str:
    """The same tests run on the in-process simulator and through pcscd + vpcd + pyscard."""
    return str(request.param)


@pytest.fixture
def make_rig(
    request: pytest.FixtureRequest,
    transport_kind: str,
    state_cache: StateCache,
    tmp_path: Path,
) -> Iterator[Callable[..., Rig]]:
    """``make_rig(form=, sign=, profile=, tries={(app, fid): n}, faults=[...], extended=)``.

    The card is inserted (PC/SC: its process started) with ``faults`` for its first session.
    """
    rigs: list[Rig] = []
    stack = request.getfixturevalue("pcsc_stack") if transport_kind == "pcsc" else None

    def make(
        *,
        form: str = "plastic",
        sign: bool = True,
        profile: CardProfile | None = None,
        tries: dict[tuple[str, int], int] | None = None,
        faults: list[str] | None = None,
        extended: bool | None = None,
    ) -> Rig:
        state = state_cache.state(form=form, sign=sign)
        if profile is not None:
            state = with_profile(state, profile)
        for (app, fid), remaining in (tries or {}).items():
            state.set_tries(app, fid, remaining)
        path = tmp_path / f"card{len(rigs)}.json"
        state.save(path)
        rig = Rig(transport_kind, path, stack=stack, extended=extended)
        rigs.append(rig)
        rig.insert(faults)
        return rig

    yield make
    for rig in rigs:
        rig.close()
