"""Fixtures for the service tests: a uvicorn server on a free loopback port in a thread, API
keys, services built around the simulator's test PKI with an injected clock."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "auth"))

from authkit import VERIFY_AT, PkiRevocationSource, issue_card, test_trust
from redis_server import RedisServer

sys.path.insert(0, str(Path(__file__).resolve().parent))

from serverkit import LiveServer, ServiceFactory, api_keys

from jpki_sdk.auth.challenges import ChallengeStore
from jpki_sdk.auth.stores import MemoryChallengeStore
from jpki_sdk.server import Service, create_app
from jpki_sdk.verify import CertificateVerifier, FixedClock, RevocationPolicy, TrustStore
from simulator.pki import IssuedCard, TestPki


@pytest.fixture(scope="session")
def issued_card(test_pki: TestPki) -> IssuedCard:
    return issue_card(test_pki, 11)


@pytest.fixture(scope="session")
def other_card(test_pki: TestPki) -> IssuedCard:
    return issue_card(test_pki, 12)


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(VERIFY_AT)


@pytest.fixture
def make_service(test_pki: TestPki, clock: FixedClock) -> Iterator[ServiceFactory]:
    made: list[Service] = []

    def make(
        *,
        store: ChallengeStore | None = None,
        trust: TrustStore | None = None,
        revocation: RevocationPolicy | None = None,
        **kwargs: Any,
    ) -> Service:
        certificates = CertificateVerifier(
            trust if trust is not None else test_trust(test_pki),
            revocation=revocation
            if revocation is not None
            else RevocationPolicy.require(PkiRevocationSource(test_pki)),
            clock=clock,
        )
        service = Service(
            keys=api_keys(),
            certificates=certificates,
            store=store if store is not None else MemoryChallengeStore(),
            **kwargs,
        )
        made.append(service)
        return service

    yield make
    for service in made:
        service.close()


@pytest.fixture
def serve() -> Iterator[Callable[[Service], LiveServer]]:
    servers: list[LiveServer] = []

    def start(service: Service) -> LiveServer:
        server = LiveServer(create_app(service))
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def live(make_service: ServiceFactory, serve: Callable[[Service], LiveServer]) -> LiveServer:
    """The default service (memory store, test roots trusted, revocation from the test PKI)."""
    return serve(make_service())
