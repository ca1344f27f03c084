"""Fixtures for the auth tests: a real redis-server, and one store fixture parametrized over
the three ChallengeStore backends."""

from __future__ import annotations

import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from redis_server import RedisServer

from jpki_sdk.auth.challenges import ChallengeStore
from jpki_sdk.auth.stores import (
    MemoryChallengeStore,
    RedisChallengeStore,
    SqliteChallengeStore,
)


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(params=["memory", "sqlite", "redis"])
def store_factory(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, object]]:
    """(backend name, zero-argument factory giving a new handle on the same store)."""
    handles: list[ChallengeStore] = []
    backend: str = request.param
    if backend == "memory":
        shared = MemoryChallengeStore()

        def make() -> ChallengeStore:
            return shared

    elif backend == "sqlite":
        path = tmp_path / "challenges.sqlite3"

        def make() -> ChallengeStore:
            store = SqliteChallengeStore(path)
            handles.append(store)
            return store

    else:
        server: RedisServer = request.getfixturevalue("redis_server")
        prefix = f"test:{uuid.uuid4().hex}:"

        def make() -> ChallengeStore:
            store = RedisChallengeStore(server.url, prefix=prefix)
            handles.append(store)
            return store

    yield backend, make
    for handle in handles:
        handle.close()


@pytest.fixture
def store(store_factory: tuple[str, object]) -> ChallengeStore:
    make = store_factory[1]
    assert callable(make)
    result = make()
    assert isinstance(result, ChallengeStore)
    return result


# -- test cards and a verifier trusting the simulator's roots ----------------------------------

from authkit import ORIGIN, VERIFY_AT, certificate_verifier, issue_card  # noqa: E402

from jpki_sdk.auth.stores import MemoryChallengeStore as _Memory  # noqa: E402
from jpki_sdk.auth.verifier import AuthVerifier  # noqa: E402
from jpki_sdk.verify import FixedClock  # noqa: E402
from simulator.pki import IssuedCard, TestPki  # noqa: E402


@pytest.fixture(scope="session")
def issued_card(test_pki: TestPki) -> IssuedCard:
    """One card with both certificates; the holder turns 20 on the verification date."""
    return issue_card(test_pki, 11)


@pytest.fixture(scope="session")
def other_card(test_pki: TestPki) -> IssuedCard:
    return issue_card(test_pki, 12)


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(VERIFY_AT)


@pytest.fixture
def auth_verifier(test_pki: TestPki, clock: FixedClock) -> AuthVerifier:
    return AuthVerifier(
        origin=ORIGIN,
        certificates=certificate_verifier(test_pki, clock),
        challenges=_Memory(),
    )
