"""One suite for every ChallengeStore backend (memory, real SQLite file, real redis-server)."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import textwrap
import threading
import time
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from jpki_sdk.auth.challenges import (
    Challenge,
    ChallengeStore,
    ConsumeStatus,
    session_binding,
)
from jpki_sdk.auth.errors import ChallengeStoreError
from jpki_sdk.auth.stores import SqliteChallengeStore
from jpki_sdk.auth.types import AuthPurpose

T0 = datetime(2026, 4, 1, 9, 0, tzinfo=timezone.utc)
ORIGIN = "https://rp.example"

StoreFactory = tuple[str, Callable[[], ChallengeStore]]


def make_challenge(
    *,
    issued_at: datetime = T0,
    ttl: timedelta = timedelta(minutes=5),
    purpose: AuthPurpose = AuthPurpose.LOGIN,
    session: str | None = None,
) -> Challenge:
    return Challenge(
        nonce=secrets.token_bytes(32),
        purpose=purpose,
        origin=ORIGIN,
        issued_at=issued_at,
        expires_at=issued_at + ttl,
        session_binding=None if session is None else session_binding(session),
    )


def test_consume_returns_the_record_once(store: ChallengeStore) -> None:
    challenge = make_challenge(purpose=AuthPurpose.IDENTITY, session="sess-1")
    store.put(challenge)
    first = store.consume(challenge.nonce)
    assert first.status is ConsumeStatus.CONSUMED
    assert first.challenge == challenge
    second = store.consume(challenge.nonce)
    assert second.status is ConsumeStatus.ALREADY_USED
    assert second.challenge is None


def test_unknown_nonce(store: ChallengeStore) -> None:
    store.put(make_challenge())
    result = store.consume(secrets.token_bytes(32))
    assert result.status is ConsumeStatus.UNKNOWN
    assert result.challenge is None


def test_unbound_challenge_round_trips_without_session(store: ChallengeStore) -> None:
    challenge = make_challenge()
    store.put(challenge)
    consumed = store.consume(challenge.nonce).challenge
    assert consumed is not None
    assert consumed.session_binding is None
    assert consumed.expires_at == challenge.expires_at
    assert consumed.issued_at == challenge.issued_at


def test_duplicate_put_is_refused(store: ChallengeStore) -> None:
    challenge = make_challenge()
    store.put(challenge)
    with pytest.raises(ChallengeStoreError, match="already exists"):
        store.put(challenge)
    # The original is untouched by the refused put.
    assert store.consume(challenge.nonce).status is ConsumeStatus.CONSUMED


def test_expired_record_is_still_consumable_until_retention(store: ChallengeStore) -> None:
    # Expiry is judged by the caller (ChallengeManager) so the answer can be "expired"
    # rather than "unknown"; the store only forgets records after the retention time.
    challenge = make_challenge()
    store.put(challenge)
    store.purge(challenge.expires_at + timedelta(seconds=1))
    result = store.consume(challenge.nonce)
    assert result.status is ConsumeStatus.CONSUMED


def test_purge_after_retention(store_factory: StoreFactory) -> None:
    backend, make = store_factory
    store = make()
    old = make_challenge(issued_at=T0 - timedelta(days=1))
    fresh = make_challenge()
    store.put(old)
    store.put(fresh)
    purged = store.purge(T0)
    if backend == "redis":
        # Redis expires keys itself after TTL + retention (real time); purge is a no-op.
        assert purged == 0
        return
    assert purged == 1
    assert store.consume(old.nonce).status is ConsumeStatus.UNKNOWN
    assert store.consume(fresh.nonce).status is ConsumeStatus.CONSUMED


def test_ping(store: ChallengeStore) -> None:
    store.ping()


def test_a_second_handle_sees_the_same_challenges(store_factory: StoreFactory) -> None:
    _, make = store_factory
    a, b = make(), make()
    challenge = make_challenge()
    a.put(challenge)
    assert b.consume(challenge.nonce).status is ConsumeStatus.CONSUMED
    assert a.consume(challenge.nonce).status is ConsumeStatus.ALREADY_USED


@pytest.mark.parametrize("rounds", [5])
def test_thread_race_exactly_one_winner(store_factory: StoreFactory, rounds: int) -> None:
    _, make = store_factory
    threads_per_round = 16
    for _ in range(rounds):
        challenge = make_challenge()
        make().put(challenge)
        barrier = threading.Barrier(threads_per_round)
        outcomes: list[ConsumeStatus] = []
        lock = threading.Lock()
        errors: list[BaseException] = []

        def race(
            challenge: Challenge = challenge,
            barrier: threading.Barrier = barrier,
            outcomes: list[ConsumeStatus] = outcomes,
            lock: threading.Lock = lock,
            errors: list[BaseException] = errors,
        ) -> None:
            try:
                handle = make()  # its own connection where the backend has them
                barrier.wait(timeout=30)
                status = handle.consume(challenge.nonce).status
                with lock:
                    outcomes.append(status)
            except BaseException as exc:  # reported below
                errors.append(exc)

        workers = [threading.Thread(target=race) for _ in range(threads_per_round)]
        for w in workers:
            w.start()
        for w in workers:
            w.join(timeout=60)
        assert not errors
        counts = Counter(outcomes)
        assert counts == {
            ConsumeStatus.CONSUMED: 1,
            ConsumeStatus.ALREADY_USED: threads_per_round - 1,
        }


_RACE_SCRIPT = textwrap.dedent(
    """
    import os, sys, time, threading
    from pathlib import Path
    backend, target, prefix, nonce_hex, go_file = sys.argv[1:6]
    if backend == "sqlite":
        from jpki_sdk.auth.stores import SqliteChallengeStore
        make = lambda: SqliteChallengeStore(target)
    else:
        from jpki_sdk.auth.stores.redis_store import RedisChallengeStore
        make = lambda: RedisChallengeStore(target, prefix=prefix)
    nonce = bytes.fromhex(nonce_hex)
    handles = [make() for _ in range(4)]
    results = []
    def run(h):
        results.append(h.consume(nonce).status.value)
    print("ready", flush=True)
    while not os.path.exists(go_file):
        time.sleep(0.001)
    threads = [threading.Thread(target=run, args=(h,)) for h in handles]
    for t in threads: t.start()
    for t in threads: t.join()
    print(" ".join(results), flush=True)
    """
)


@pytest.mark.parametrize("backend", ["sqlite", "redis"])
def test_process_race_exactly_one_winner(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """Several OS processes (4 threads each, own connections) consume one challenge."""
    prefix = f"race:{secrets.token_hex(8)}:"
    if backend == "sqlite":
        target = str(tmp_path / "race.sqlite3")
        store: ChallengeStore = SqliteChallengeStore(target)
    else:
        from jpki_sdk.auth.stores.redis_store import RedisChallengeStore

        target = request.getfixturevalue("redis_server").url
        store = RedisChallengeStore(target, prefix=prefix)
    challenge = make_challenge()
    store.put(challenge)
    go_file = tmp_path / "go"
    processes = 6
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-c",
                _RACE_SCRIPT,
                backend,
                target,
                prefix,
                challenge.nonce.hex(),
                str(go_file),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(processes)
    ]
    try:
        for proc in procs:
            assert proc.stdout is not None
            assert proc.stdout.readline().strip() == "ready", proc.stderr
        go_file.touch()
        outcomes: Counter[str] = Counter()
        for proc in procs:
            out, err = proc.communicate(timeout=120)
            assert proc.returncode == 0, err
            outcomes.update(out.split())
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        store.close()
    assert outcomes == {"consumed": 1, "already_used": processes * 4 - 1}


# -- SQLite specifics --------------------------------------------------------------------------


def test_sqlite_survives_restart(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite3"
    first = SqliteChallengeStore(path)
    used, pending = make_challenge(), make_challenge()
    first.put(used)
    first.put(pending)
    assert first.consume(used.nonce).status is ConsumeStatus.CONSUMED
    first.close()
    second = SqliteChallengeStore(path)
    assert second.consume(used.nonce).status is ConsumeStatus.ALREADY_USED
    assert second.consume(pending.nonce).status is ConsumeStatus.CONSUMED
    second.close()


def test_sqlite_does_not_store_the_nonce(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite3"
    store = SqliteChallengeStore(path)
    challenge = make_challenge(session="my-session-cookie")
    store.put(challenge)
    store.close()
    raw = b"".join(p.read_bytes() for p in tmp_path.iterdir() if p.is_file())
    assert challenge.nonce not in raw
    assert b"my-session-cookie" not in raw
    assert challenge.key in raw


def test_sqlite_refuses_a_foreign_file(tmp_path: Path) -> None:
    path = tmp_path / "not-a-db.sqlite3"
    path.write_bytes(b"this is not an SQLite database at all" * 100)
    with pytest.raises(ChallengeStoreError, match="not a database"):
        SqliteChallengeStore(path)


def test_sqlite_refuses_a_newer_schema(tmp_path: Path) -> None:
    import sqlite3

    path = tmp_path / "future.sqlite3"
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA user_version = 99")
    conn.close()
    with pytest.raises(ChallengeStoreError, match="schema 99"):
        SqliteChallengeStore(path)


def test_sqlite_unwritable_location(tmp_path: Path) -> None:
    with pytest.raises(ChallengeStoreError):
        SqliteChallengeStore(tmp_path / "missing-dir" / "c.sqlite3")


def test_sqlite_closed_store_raises(tmp_path: Path) -> None:
    store = SqliteChallengeStore(tmp_path / "c.sqlite3")
    store.close()
    store.close()
    with pytest.raises(ChallengeStoreError, match="closed"):
        store.consume(secrets.token_bytes(32))


# -- Redis specifics ---------------------------------------------------------------------------


def test_redis_unreachable_raises_store_error() -> None:
    from redis_server import free_port

    from jpki_sdk.auth.stores.redis_store import RedisChallengeStore

    store = RedisChallengeStore(f"redis://127.0.0.1:{free_port()}/0", socket_timeout=1)
    with pytest.raises(ChallengeStoreError, match="unreachable"):
        store.ping()
    with pytest.raises(ChallengeStoreError):
        store.put(make_challenge())
    with pytest.raises(ChallengeStoreError):
        store.consume(secrets.token_bytes(32))
    store.close()


def test_redis_keys_expire_after_ttl_plus_retention(redis_server: object) -> None:
    import redis

    from jpki_sdk.auth.stores.redis_store import RedisChallengeStore

    url = redis_server.url  # type: ignore[attr-defined]
    client = redis.Redis.from_url(url)
    store = RedisChallengeStore(client, prefix="ttl:", retention=timedelta(minutes=1))
    challenge = make_challenge(ttl=timedelta(minutes=2))
    store.put(challenge)
    ttls = [client.pttl(k) for k in client.keys("ttl:*")]
    assert len(ttls) == 2
    assert all(150_000 < t <= 180_000 for t in ttls)
    assert all(challenge.nonce.hex() not in k.decode() for k in client.keys("ttl:*"))
    store.close()
    client.close()


def test_redis_url_password_is_not_in_repr() -> None:
    from jpki_sdk.auth.stores.redis_store import RedisChallengeStore

    store = RedisChallengeStore("redis://:s3cret@127.0.0.1:1/0")
    assert "s3cret" not in repr(store)
    store.close()


def test_redis_is_imported_only_when_used() -> None:
    # Importing the auth verifier side must not need redis; it is loaded only on use.
    code = "import sys, jpki_sdk.auth.stores as s; print('redis' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env=dict(os.environ),
        check=True,
    )
    assert out.stdout.strip() == "False"


def test_threads_do_not_wait_forever(store_factory: StoreFactory) -> None:
    """Many interleaved puts and consumes from threads all complete (no deadlock)."""
    _, make = store_factory
    done = Counter[str]()
    lock = threading.Lock()

    errors: list[str] = []

    def work() -> None:
        try:
            handle = make()
            for _ in range(25):
                c = make_challenge()
                handle.put(c)
                status = handle.consume(c.nonce).status
                with lock:
                    done[status.value] += 1
        except Exception as exc:  # reported by the assertion below
            errors.append(repr(exc))

    workers = [threading.Thread(target=work) for _ in range(8)]
    start = time.monotonic()
    for w in workers:
        w.start()
    for w in workers:
        w.join(timeout=120)
    assert all(not w.is_alive() for w in workers), f"stuck after {time.monotonic() - start}s"
    assert errors == []
    assert done == {"consumed": 200}
