"""The service over its shared challenge stores: two service instances (as two workers or
two hosts would be) on one SQLite file or one Redis: a token verified by one is a replay for
the other; a store that goes away gives 503, never a login."""

from __future__ import annotations

import base64
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
from authkit import make_token
from redis_server import RedisServer, free_port
from serverkit import LiveServer, ServiceFactory

from jpki_sdk.auth.challenges import ChallengeStore
from jpki_sdk.auth.stores import SqliteChallengeStore
from jpki_sdk.auth.stores.redis_store import RedisChallengeStore
from jpki_sdk.server import Service
from simulator.pki import IssuedCard


def two_stores(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> list[ChallengeStore]:
    if backend == "sqlite":
        path = tmp_path / "shared.sqlite3"
        return [SqliteChallengeStore(path), SqliteChallengeStore(path)]
    redis: RedisServer = request.getfixturevalue("redis_server")
    prefix = f"svc:{uuid.uuid4().hex}:"
    return [RedisChallengeStore(redis.url, prefix=prefix) for _ in range(2)]


@pytest.mark.parametrize("backend", ["sqlite", "redis"])
def test_two_instances_share_challenges(
    *,
    backend: str,
    tmp_path: Path,
    request: pytest.FixtureRequest,
    make_service: ServiceFactory,
    serve: Callable[[Service], LiveServer],
    issued_card: IssuedCard,
) -> None:
    first_store, second_store = two_stores(backend, tmp_path, request)
    first = serve(make_service(store=first_store))
    second = serve(make_service(store=second_store))
    with first.client() as a, second.client() as b:
        issued = a.post("/v1/challenges", json={}).json()
        token = make_token(issued_card, base64.b64decode(issued["nonce"])).to_dict()
        ok = b.post("/v1/verify", json={"token": token})  # issued by one, verified by the other
        assert ok.status_code == 200, ok.text
        replay = a.post("/v1/verify", json={"token": token})
        assert replay.status_code == 422
        assert replay.json()["error"]["code"] == "challenge_replayed"
        assert b.get("/healthz").json()["challenge_store"] == "ok"
    first_store.close()
    second_store.close()


def test_unreachable_redis_is_503(
    make_service: ServiceFactory, serve: Callable[[Service], LiveServer], issued_card: IssuedCard
) -> None:
    store = RedisChallengeStore(f"redis://127.0.0.1:{free_port()}/0", socket_timeout=1)
    live = serve(make_service(store=store))
    with live.client() as client:
        response = client.post("/v1/challenges", json={})
        assert response.status_code == 503
        assert response.json()["error"]["code"] == "challenge_store_unavailable"
        token = make_token(issued_card, b"\x05" * 32).to_dict()
        response = client.post("/v1/verify", json={"token": token})
        assert response.status_code == 503
        assert response.json()["error"]["code"] == "challenge_store_unavailable"
        health = client.get("/healthz")
        assert health.status_code == 503
        assert health.json()["challenge_store"] == "unavailable"
        metrics = client.get("/metrics").text
    assert (
        'jpki_verifications_total{purpose="login",result="error",'
        'reason="challenge_store_unavailable"} 1' in metrics
    )
    store.close()
