"""SQLite challenge store: a file that survives restarts, shared by worker processes.

Consuming is one statement, ``UPDATE ... SET used = 1 WHERE key = ? AND used = 0 RETURNING
...``: SQLite serializes writers, so of any number of concurrent consumers (threads or
processes) exactly one sees the row come back. The database runs in WAL mode with a busy
timeout so readers and the single writer do not block each other for long.

Durability: ``synchronous=NORMAL`` (the default here) survives any process crash; after a
power loss the last few consumes could be lost, which would let a token be replayed within its
TTL. Pass ``durable=True`` (``synchronous=FULL``) to close that window at the cost of an fsync
per write.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from jpki_sdk.auth.challenges import (
    DEFAULT_RETENTION,
    Challenge,
    ConsumeResult,
    ConsumeStatus,
    challenge_key,
)
from jpki_sdk.auth.errors import ChallengeStoreError
from jpki_sdk.auth.types import AuthPurpose

logger = logging.getLogger(__name__)

SCHEMA_VERSION = 1
_PURGE_EVERY = 1024
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jpki_challenges (
    key BLOB PRIMARY KEY NOT NULL,
    purpose TEXT NOT NULL,
    origin TEXT NOT NULL,
    session_binding BLOB,
    issued_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    retain_until INTEGER NOT NULL,
    used INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS jpki_challenges_retain ON jpki_challenges (retain_until);
"""


def _to_us(value: datetime) -> int:
    return (value - _EPOCH) // timedelta(microseconds=1)


def _from_us(value: int) -> datetime:
    return _EPOCH + timedelta(microseconds=value)


class SqliteChallengeStore:
    """Challenges in one SQLite file (created if missing). One connection per thread."""

    def __init__(
        self,
        path: str | Path,
        *,
        retention: timedelta = DEFAULT_RETENTION,
        durable: bool = False,
        busy_timeout: float = 30.0,
    ) -> None:
        if retention < timedelta(0):
            raise ValueError("retention must not be negative")
        self.path = Path(path)
        self.retention = retention
        self.durable = durable
        self.busy_timeout = busy_timeout
        self._local = threading.local()
        self._lock = threading.Lock()
        self._connections: list[sqlite3.Connection] = []
        self._closed = False
        self._puts = 0
        self._initialize()

    # -- connections ------------------------------------------------------------------------

    def _connect(self) -> sqlite3.Connection:
        if self._closed:
            raise ChallengeStoreError("the SQLite challenge store is closed")
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is not None:
            return conn
        try:
            conn = sqlite3.connect(
                str(self.path),
                timeout=self.busy_timeout,
                isolation_level=None,  # autocommit: each statement is its own transaction
                # Each connection is used by its own thread only; this lets close() release
                # connections made by other threads.
                check_same_thread=False,
            )
            conn.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout * 1000)}")
            conn.execute(f"PRAGMA synchronous = {'FULL' if self.durable else 'NORMAL'}")
        except sqlite3.Error as exc:
            raise ChallengeStoreError(
                f"cannot open the SQLite challenge store {self.path}: {exc}"
            ) from exc
        self._local.conn = conn
        with self._lock:
            self._connections.append(conn)
        return conn

    def _initialize(self) -> None:
        conn = self._connect()
        try:
            mode = self._enable_wal(conn)
            conn.execute("BEGIN IMMEDIATE")
            try:
                version = conn.execute("PRAGMA user_version").fetchone()[0]
                if version not in (0, SCHEMA_VERSION):
                    raise ChallengeStoreError(
                        f"{self.path} has challenge store schema {version}, "
                        f"this SDK knows {SCHEMA_VERSION}"
                    )
                for statement in _SCHEMA.split(";"):
                    if statement.strip():
                        conn.execute(statement)
                conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        except sqlite3.Error as exc:
            raise ChallengeStoreError(
                f"{self.path} is not a usable SQLite challenge store: {exc}"
            ) from exc
        logger.debug("opened SQLite challenge store %s (journal %s)", self.path, mode)

    def _enable_wal(self, conn: sqlite3.Connection) -> str:
        """Switch the file to WAL (persistent, so only the first opener does it).

        Changing the journal mode can answer "database is locked" at once, without the busy
        handler, while another connection is opening the same new file: retry until the busy
        timeout.
        """
        deadline = time.monotonic() + self.busy_timeout
        while True:
            try:
                mode = str(conn.execute("PRAGMA journal_mode").fetchone()[0])
                if mode.lower() == "wal":
                    return mode
                return str(conn.execute("PRAGMA journal_mode = WAL").fetchone()[0])
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() >= deadline:
                    raise
                time.sleep(0.01)

    # -- protocol ---------------------------------------------------------------------------

    def put(self, challenge: Challenge) -> None:
        conn = self._connect()
        try:
            conn.execute(
                "INSERT INTO jpki_challenges (key, purpose, origin, session_binding, "
                "issued_at, expires_at, retain_until, used) VALUES (?, ?, ?, ?, ?, ?, ?, 0)",
                (
                    challenge.key,
                    challenge.purpose.value,
                    challenge.origin,
                    challenge.session_binding,
                    _to_us(challenge.issued_at),
                    _to_us(challenge.expires_at),
                    _to_us(challenge.expires_at + self.retention),
                ),
            )
        except sqlite3.IntegrityError as exc:
            raise ChallengeStoreError("a challenge with this nonce already exists") from exc
        except sqlite3.Error as exc:
            raise ChallengeStoreError(f"SQLite challenge store write failed: {exc}") from exc
        with self._lock:
            self._puts += 1
            due = self._puts % _PURGE_EVERY == 0
        if due:
            self.purge(challenge.issued_at)

    def consume(self, nonce: bytes) -> ConsumeResult:
        key = challenge_key(nonce)
        conn = self._connect()
        try:
            rows = conn.execute(
                "UPDATE jpki_challenges SET used = 1 WHERE key = ? AND used = 0 "
                "RETURNING purpose, origin, session_binding, issued_at, expires_at",
                (key,),
            ).fetchall()
            if not rows:
                exists = conn.execute(
                    "SELECT 1 FROM jpki_challenges WHERE key = ?", (key,)
                ).fetchone()
                status = ConsumeStatus.ALREADY_USED if exists else ConsumeStatus.UNKNOWN
                return ConsumeResult(status)
        except sqlite3.Error as exc:
            raise ChallengeStoreError(f"SQLite challenge store consume failed: {exc}") from exc
        purpose, origin, binding, issued_at, expires_at = rows[0]
        try:
            challenge = Challenge(
                nonce=bytes(nonce),
                purpose=AuthPurpose(purpose),
                origin=origin,
                issued_at=_from_us(issued_at),
                expires_at=_from_us(expires_at),
                session_binding=None if binding is None else bytes(binding),
            )
        except (TypeError, ValueError) as exc:
            raise ChallengeStoreError(f"corrupt challenge record: {exc}") from exc
        return ConsumeResult(ConsumeStatus.CONSUMED, challenge)

    def purge(self, now: datetime) -> int:
        conn = self._connect()
        try:
            cur = conn.execute(
                "DELETE FROM jpki_challenges WHERE retain_until <= ?", (_to_us(now),)
            )
        except sqlite3.Error as exc:
            raise ChallengeStoreError(f"SQLite challenge store purge failed: {exc}") from exc
        if cur.rowcount:
            logger.debug("purged %d challenge records", cur.rowcount)
        return cur.rowcount

    def ping(self) -> None:
        try:
            self._connect().execute("SELECT 1 FROM jpki_challenges LIMIT 1").fetchall()
        except sqlite3.Error as exc:
            raise ChallengeStoreError(f"SQLite challenge store unusable: {exc}") from exc

    def close(self) -> None:
        with self._lock:
            self._closed = True
            connections, self._connections = self._connections, []
        for conn in connections:
            try:
                conn.close()
            except sqlite3.Error as exc:
                logger.debug("closing a SQLite connection failed: %s", exc)
        self._local = threading.local()

    def __repr__(self) -> str:
        return f"SqliteChallengeStore({str(self.path)!r})"
