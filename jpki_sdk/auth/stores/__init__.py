"""The three :class:`~jpki_sdk.auth.challenges.ChallengeStore` backends, and
:func:`open_store` to pick one from a URL.

The Redis backend is imported only when used (it needs the ``redis`` extra).
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from jpki_sdk.auth.challenges import DEFAULT_RETENTION, ChallengeStore
from jpki_sdk.auth.stores.memory import MemoryChallengeStore
from jpki_sdk.auth.stores.sqlite import SqliteChallengeStore
from jpki_sdk.errors import ConfigurationError

if TYPE_CHECKING:
    from jpki_sdk.auth.stores.redis_store import RedisChallengeStore


def open_store(url: str, *, retention: timedelta = DEFAULT_RETENTION) -> ChallengeStore:
    """Open a store from a URL.

    - ``memory:``
    - ``sqlite:///absolute/path.db`` or ``sqlite:relative/path.db``
    - ``redis://[:password@]host:port/db`` or ``rediss://...`` (TLS)

    Raises ConfigurationError for an unknown scheme or a store that cannot be opened.
    """
    if url in {"memory:", "memory://"}:
        return MemoryChallengeStore(retention=retention)
    if url.startswith("sqlite:"):
        path = url[len("sqlite:") :]
        if path.startswith("//"):
            path = path[2:]
        if not path:
            raise ConfigurationError("sqlite challenge store URL has no path")
        return SqliteChallengeStore(path, retention=retention)
    if url.startswith(("redis://", "rediss://", "unix://")):
        from jpki_sdk.auth.stores.redis_store import RedisChallengeStore

        return RedisChallengeStore(url, retention=retention)
    raise ConfigurationError("challenge store URL must start with memory:, sqlite: or redis://")


def __getattr__(name: str) -> object:
    if name == "RedisChallengeStore":
        from jpki_sdk.auth.stores.redis_store import RedisChallengeStore

        return RedisChallengeStore
    raise AttributeError(name)


__all__ = ["MemoryChallengeStore", "RedisChallengeStore", "SqliteChallengeStore", "open_store"]
