"""Fixtures for the card agent tests: agents on real loopback ports, a verifier for tokens."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from agentkit import SHOP, RunningAgent

from jpki_sdk.auth import AuthVerifier, MemoryChallengeStore
from jpki_sdk.verify import CertificateVerifier, RevocationPolicy, SystemClock, TrustStore


@pytest.fixture
def start_agent() -> Iterator[Callable[..., RunningAgent]]:
    """``start_agent(card, prompt=..., clock=..., **AgentConfig kwargs)``; stopped afterwards."""
    running: list[RunningAgent] = []

    def start(card: Any, **kwargs: Any) -> RunningAgent:
        agent = RunningAgent(card, **kwargs)
        running.append(agent)
        return agent

    yield start
    for agent in running:
        agent.stop()


@pytest.fixture(scope="session")
def rp_certificates(test_pki: Any) -> CertificateVerifier:
    """Trusts the simulator's test roots (explicitly); revocation off (not what is tested)."""
    roots = [*test_pki.roots("auth"), *test_pki.roots("sign")]
    return CertificateVerifier(
        TrustStore.default().with_test_roots(roots),
        revocation=RevocationPolicy.off(),
        clock=SystemClock(),
    )


@pytest.fixture
def rp(rp_certificates: CertificateVerifier) -> AuthVerifier:
    """The relying party at SHOP, with its own in-memory challenge store."""
    return AuthVerifier(
        origin=SHOP, certificates=rp_certificates, challenges=MemoryChallengeStore()
    )
