"""Service configuration: a TOML file, then environment variables on top.

Everything is checked when the service starts; a bad value raises
:class:`~jpki_sdk.errors.ConfigurationError` naming the setting and what is wrong. Unknown keys
are errors too (a typo must not silently fall back to a default).

File layout (every section optional except ``[[api_keys]]``)::

    [server]
    host = "127.0.0.1"              # bind address
    port = 8750
    max_body_bytes = 65536           # larger request bodies get 413
    log_format = "json"              # "json" or "text"
    log_level = "info"

    [trust]
    test_roots = []                  # TEST roots to trust as well (files or directories):
                                     # explicit opt-in, never for production

    [revocation]
    mode = "require"                 # "require" (hard-fail), "soft-fail" or "off"
    crl_index = "/var/lib/jpki/crl-index"  # persisted CRL index directory
    crl_sources = ["/var/lib/jpki/crls"]   # CRL files, directories or URLs ingested at start
    crl_refresh_seconds = 0          # re-ingest the sources this often (0: never)
    ocsp = false                     # ask the certificate's OCSP responder (AIA)
    ocsp_url = ""                    # or this responder instead
    ocsp_timeout_seconds = 5.0

    [challenges]
    store = "sqlite"                 # "memory", "sqlite" or "redis"
    sqlite_path = "jpki-challenges.sqlite3"
    redis_url = "redis://127.0.0.1:6379/0"
    ttl_seconds = 300
    retention_seconds = 900

    [verify]
    algorithms = ["RS256", "RS384", "RS512"]

    [[api_keys]]
    name = "shop-backend"
    sha256 = "<64 hex digits: SHA-256 of the key>"   # `jpki serve --new-api-key`
    origins = ["https://shop.example"]

Environment variables (override the file):

====================================  ==================================================
``JPKI_SERVER_HOST``, ``_PORT``       server.host, server.port
``JPKI_SERVER_MAX_BODY_BYTES``        server.max_body_bytes
``JPKI_SERVER_LOG_FORMAT``, ``_LOG_LEVEL``
``JPKI_SERVER_TEST_ROOTS``            trust.test_roots (paths separated by ``:``)
``JPKI_SERVER_REVOCATION_MODE``       revocation.mode
``JPKI_SERVER_CRL_INDEX``             revocation.crl_index
``JPKI_SERVER_CRL_SOURCES``           revocation.crl_sources (separated by ``,``)
``JPKI_SERVER_OCSP``                  revocation.ocsp (``true``/``false``)
``JPKI_SERVER_OCSP_URL``              revocation.ocsp_url
``JPKI_SERVER_CHALLENGE_STORE``       challenges.store
``JPKI_SERVER_SQLITE_PATH``           challenges.sqlite_path
``JPKI_SERVER_REDIS_URL``             challenges.redis_url (keep a password out of files)
``JPKI_SERVER_CHALLENGE_TTL``         challenges.ttl_seconds
``JPKI_SERVER_API_KEYS``              more keys: a JSON list of {name, sha256, origins}
====================================  ==================================================

Relative paths in the file are relative to the file's directory.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from jpki_sdk.auth.challenges import MAX_TTL, MIN_TTL
from jpki_sdk.auth.types import SignatureAlgorithm
from jpki_sdk.errors import ConfigurationError
from jpki_sdk.server.apikeys import ApiKey

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib  # type: ignore[import-not-found, unused-ignore]

DEFAULT_PORT = 8750
DEFAULT_MAX_BODY_BYTES = 64 * 1024
MIN_BODY_BYTES = 1024
MAX_BODY_BYTES = 1024 * 1024
ENV_PREFIX = "JPKI_SERVER_"

_REVOCATION_MODES = ("require", "soft-fail", "off")
_STORES = ("memory", "sqlite", "redis")
_LOG_FORMATS = ("json", "text")
_LOG_LEVELS = ("debug", "info", "warning", "error")

_SCHEMA: dict[str, dict[str, type | tuple[type, ...]]] = {
    "server": {
        "host": str,
        "port": int,
        "max_body_bytes": int,
        "log_format": str,
        "log_level": str,
    },
    "trust": {"test_roots": list},
    "revocation": {
        "mode": str,
        "crl_index": str,
        "crl_sources": list,
        "crl_refresh_seconds": (int, float),
        "ocsp": bool,
        "ocsp_url": str,
        "ocsp_timeout_seconds": (int, float),
    },
    "challenges": {
        "store": str,
        "sqlite_path": str,
        "redis_url": str,
        "ttl_seconds": int,
        "retention_seconds": int,
    },
    "verify": {"algorithms": list},
}
_KEY_FIELDS = {"name": str, "sha256": str, "origins": list}


@dataclass(frozen=True)
class RevocationConfig:
    mode: str = "require"
    crl_index: Path | None = None
    crl_sources: tuple[str, ...] = ()
    crl_refresh_seconds: float = 0.0
    ocsp: bool = False
    ocsp_url: str | None = None
    ocsp_timeout_seconds: float = 5.0

    @property
    def has_sources(self) -> bool:
        return self.crl_index is not None or bool(self.crl_sources) or self.ocsp


@dataclass(frozen=True)
class ChallengeConfig:
    store: str = "sqlite"
    sqlite_path: Path = Path("jpki-challenges.sqlite3")
    redis_url: str | None = field(default=None, repr=False)
    ttl: timedelta = timedelta(minutes=5)
    retention: timedelta = timedelta(minutes=15)


@dataclass(frozen=True)
class ServiceConfig:
    """The checked configuration of one service instance."""

    api_keys: tuple[ApiKey, ...]
    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    log_format: str = "json"
    log_level: str = "info"
    test_roots: tuple[Path, ...] = ()
    revocation: RevocationConfig = RevocationConfig()
    challenges: ChallengeConfig = ChallengeConfig()
    algorithms: tuple[SignatureAlgorithm, ...] = tuple(SignatureAlgorithm)
    source: str = "<defaults>"

    def describe(self) -> dict[str, Any]:
        """A summary without secrets, for the start-up log line."""
        return {
            "source": self.source,
            "listen": f"{self.host}:{self.port}",
            "api_keys": [k.name for k in self.api_keys],
            "test_roots": [str(p) for p in self.test_roots],
            "revocation_mode": self.revocation.mode,
            "crl_index": str(self.revocation.crl_index) if self.revocation.crl_index else None,
            "ocsp": self.revocation.ocsp,
            "challenge_store": self.challenges.store,
            "challenge_ttl_seconds": int(self.challenges.ttl.total_seconds()),
            "algorithms": [a.value for a in self.algorithms],
        }


def _fail(setting: str, why: str) -> ConfigurationError:
    return ConfigurationError(f"configuration: {setting}: {why}")


def _check_types(data: Mapping[str, Any]) -> None:
    for section, value in data.items():
        if section == "api_keys":
            if not isinstance(value, list):
                raise _fail("api_keys", "must be an array of tables ([[api_keys]])")
            for i, entry in enumerate(value):
                if not isinstance(entry, dict):
                    raise _fail(f"api_keys[{i}]", "must be a table")
                for key, item in entry.items():
                    key_type = _KEY_FIELDS.get(key)
                    if key_type is None:
                        raise _fail(f"api_keys[{i}].{key}", "unknown setting")
                    if not isinstance(item, key_type):
                        raise _fail(f"api_keys[{i}].{key}", f"must be a {key_type.__name__}")
            continue
        fields = _SCHEMA.get(section)
        if fields is None:
            raise _fail(section, "unknown section")
        if not isinstance(value, dict):
            raise _fail(section, "must be a table")
        for key, item in value.items():
            expected = fields.get(key)
            if expected is None:
                raise _fail(f"{section}.{key}", "unknown setting")
            if isinstance(item, bool) and expected is not bool:
                raise _fail(f"{section}.{key}", "has the wrong type")
            if not isinstance(item, expected):
                raise _fail(f"{section}.{key}", "has the wrong type")


def _env_overrides(env: Mapping[str, str], data: dict[str, Any]) -> list[dict[str, Any]]:
    def put(section: str, key: str, value: Any) -> None:
        data.setdefault(section, {})[key] = value

    def as_int(name: str, text: str) -> int:
        try:
            return int(text)
        except ValueError:
            raise _fail(name, "must be an integer") from None

    def as_bool(name: str, text: str) -> bool:
        lowered = text.strip().lower()
        if lowered in ("1", "true", "yes", "on"):
            return True
        if lowered in ("0", "false", "no", "off"):
            return False
        raise _fail(name, "must be true or false")

    p = ENV_PREFIX
    simple = {
        "HOST": ("server", "host", str),
        "PORT": ("server", "port", int),
        "MAX_BODY_BYTES": ("server", "max_body_bytes", int),
        "LOG_FORMAT": ("server", "log_format", str),
        "LOG_LEVEL": ("server", "log_level", str),
        "REVOCATION_MODE": ("revocation", "mode", str),
        "CRL_INDEX": ("revocation", "crl_index", str),
        "OCSP": ("revocation", "ocsp", bool),
        "OCSP_URL": ("revocation", "ocsp_url", str),
        "CHALLENGE_STORE": ("challenges", "store", str),
        "SQLITE_PATH": ("challenges", "sqlite_path", str),
        "REDIS_URL": ("challenges", "redis_url", str),
        "CHALLENGE_TTL": ("challenges", "ttl_seconds", int),
    }
    for suffix, (section, key, kind) in simple.items():
        text = env.get(p + suffix)
        if text is None:
            continue
        if kind is int:
            put(section, key, as_int(p + suffix, text))
        elif kind is bool:
            put(section, key, as_bool(p + suffix, text))
        else:
            put(section, key, text)
    if (text := env.get(p + "TEST_ROOTS")) is not None:
        put("trust", "test_roots", [x for x in text.split(":") if x])
    if (text := env.get(p + "CRL_SOURCES")) is not None:
        put("revocation", "crl_sources", [x.strip() for x in text.split(",") if x.strip()])
    extra_keys: list[dict[str, Any]] = []
    if (text := env.get(p + "API_KEYS")) is not None:
        try:
            parsed = json.loads(text)
        except ValueError:
            raise _fail(p + "API_KEYS", "must be a JSON list of {name, sha256, origins}") from None
        if not isinstance(parsed, list):
            raise _fail(p + "API_KEYS", "must be a JSON list of {name, sha256, origins}")
        extra_keys = parsed
    return extra_keys


def _path(base: Path, text: str) -> Path:
    path = Path(text).expanduser()
    return path if path.is_absolute() else base / path


def load_config(
    path: str | os.PathLike[str] | None = None,
    *,
    env: Mapping[str, str] | None = None,
) -> ServiceConfig:
    """Read ``path`` (TOML; None: environment only) and the ``JPKI_SERVER_*`` variables."""
    environ = os.environ if env is None else env
    data: dict[str, Any] = {}
    base = Path.cwd()
    source = "<environment>"
    if path is not None:
        file = Path(path)
        source = str(file)
        try:
            raw = file.read_bytes()
        except OSError as exc:
            raise ConfigurationError(f"configuration file {file}: {exc.strerror}") from None
        try:
            data = tomllib.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise ConfigurationError(
                f"configuration file {file} is not valid TOML: {exc}"
            ) from None
        base = file.resolve().parent
    _check_types(data)
    extra_keys = _env_overrides(environ, data)
    _check_types(data)
    return _build(data, extra_keys, base=base, source=source)


def _build(
    data: Mapping[str, Any], extra_keys: list[Any], *, base: Path, source: str
) -> ServiceConfig:
    server = data.get("server", {})
    trust = data.get("trust", {})
    revocation = data.get("revocation", {})
    challenges = data.get("challenges", {})
    verify = data.get("verify", {})

    port = server.get("port", DEFAULT_PORT)
    if not 0 <= port <= 65535:
        raise _fail("server.port", "must be 0..65535")
    max_body = server.get("max_body_bytes", DEFAULT_MAX_BODY_BYTES)
    if not MIN_BODY_BYTES <= max_body <= MAX_BODY_BYTES:
        raise _fail("server.max_body_bytes", f"must be {MIN_BODY_BYTES}..{MAX_BODY_BYTES}")
    log_format = server.get("log_format", "json")
    if log_format not in _LOG_FORMATS:
        raise _fail("server.log_format", "must be 'json' or 'text'")
    log_level = server.get("log_level", "info").lower()
    if log_level not in _LOG_LEVELS:
        raise _fail("server.log_level", f"must be one of {', '.join(_LOG_LEVELS)}")
    host = server.get("host", "127.0.0.1")
    if not host:
        raise _fail("server.host", "must not be empty")

    test_roots: list[Path] = []
    for item in trust.get("test_roots", []):
        if not isinstance(item, str) or not item:
            raise _fail("trust.test_roots", "must be a list of paths")
        root_path = _path(base, item)
        if not root_path.exists():
            raise _fail("trust.test_roots", f"{root_path} does not exist")
        test_roots.append(root_path)

    mode = revocation.get("mode", "require").strip().lower().replace("_", "-")
    if mode not in _REVOCATION_MODES:
        raise _fail("revocation.mode", "must be 'require', 'soft-fail' or 'off'")
    crl_index = revocation.get("crl_index")
    crl_sources: list[str] = []
    for item in revocation.get("crl_sources", []):
        if not isinstance(item, str) or not item:
            raise _fail("revocation.crl_sources", "must be a list of paths or URLs")
        crl_sources.append(item if "://" in item else str(_path(base, item)))
    refresh = float(revocation.get("crl_refresh_seconds", 0))
    if refresh < 0:
        raise _fail("revocation.crl_refresh_seconds", "must not be negative")
    ocsp_url = revocation.get("ocsp_url") or None
    if ocsp_url is not None and not ocsp_url.startswith(("http://", "https://")):
        raise _fail("revocation.ocsp_url", "must be an http(s) URL")
    ocsp_timeout = float(revocation.get("ocsp_timeout_seconds", 5.0))
    if not 0 < ocsp_timeout <= 60:
        raise _fail("revocation.ocsp_timeout_seconds", "must be in (0, 60]")
    revocation_config = RevocationConfig(
        mode=mode,
        crl_index=_path(base, crl_index) if crl_index else None,
        crl_sources=tuple(crl_sources),
        crl_refresh_seconds=refresh,
        ocsp=bool(revocation.get("ocsp", False)) or ocsp_url is not None,
        ocsp_url=ocsp_url,
        ocsp_timeout_seconds=ocsp_timeout,
    )
    if crl_sources and revocation_config.crl_index is None:
        raise _fail("revocation.crl_sources", "needs revocation.crl_index (where to keep them)")
    if mode != "off" and not revocation_config.has_sources:
        raise _fail(
            "revocation",
            f"mode {mode!r} needs a source (crl_index/crl_sources or ocsp); "
            "set mode = 'off' only if you accept not checking revocation",
        )

    store = challenges.get("store", "sqlite")
    if store not in _STORES:
        raise _fail("challenges.store", "must be 'memory', 'sqlite' or 'redis'")
    sqlite_path = _path(base, challenges.get("sqlite_path", "jpki-challenges.sqlite3"))
    if store == "sqlite" and not sqlite_path.parent.is_dir():
        raise _fail("challenges.sqlite_path", f"directory {sqlite_path.parent} does not exist")
    redis_url = challenges.get("redis_url")
    if store == "redis" and not redis_url:
        raise _fail("challenges.redis_url", "is required with store = 'redis'")
    if redis_url and not redis_url.startswith(("redis://", "rediss://", "unix://")):
        raise _fail("challenges.redis_url", "must start with redis://, rediss:// or unix://")
    ttl = timedelta(seconds=challenges.get("ttl_seconds", 300))
    if not MIN_TTL <= ttl <= MAX_TTL:
        raise _fail("challenges.ttl_seconds", f"must be {int(MIN_TTL.total_seconds())}..86400")
    retention = timedelta(seconds=challenges.get("retention_seconds", 900))
    if retention < timedelta(0):
        raise _fail("challenges.retention_seconds", "must not be negative")

    algorithms: list[SignatureAlgorithm] = []
    for item in verify.get("algorithms", [a.value for a in SignatureAlgorithm]):
        try:
            algorithms.append(SignatureAlgorithm(item))
        except ValueError:
            raise _fail("verify.algorithms", f"{item!r} is not RS256, RS384 or RS512") from None
    if not algorithms:
        raise _fail("verify.algorithms", "must name at least one algorithm")

    keys: list[ApiKey] = []
    entries = list(data.get("api_keys", [])) + list(extra_keys)
    for i, entry in enumerate(entries):
        if not isinstance(entry, dict):
            raise _fail(f"api_keys[{i}]", "must be a table with name, sha256 and origins")
        missing = [k for k in _KEY_FIELDS if k not in entry]
        unknown = [k for k in entry if k not in _KEY_FIELDS]
        if missing or unknown:
            raise _fail(
                f"api_keys[{i}]",
                f"needs exactly name, sha256 and origins (missing {missing}, unknown {unknown})",
            )
        if not isinstance(entry["origins"], list) or not all(
            isinstance(o, str) for o in entry["origins"]
        ):
            raise _fail(f"api_keys[{i}].origins", "must be a list of origins")
        keys.append(ApiKey.from_hex(str(entry["name"]), str(entry["sha256"]), entry["origins"]))
    if not keys:
        raise _fail("api_keys", "at least one API key is required ([[api_keys]])")
    names = [k.name for k in keys]
    if len(set(names)) != len(names):
        raise _fail("api_keys", "names must be unique")
    if len({k.digest for k in keys}) != len(keys):
        raise _fail("api_keys", "two keys have the same sha256")

    return ServiceConfig(
        api_keys=tuple(keys),
        host=host,
        port=port,
        max_body_bytes=max_body,
        log_format=log_format,
        log_level=log_level,
        test_roots=tuple(test_roots),
        revocation=revocation_config,
        challenges=ChallengeConfig(
            store=store,
            sqlite_path=sqlite_path,
            redis_url=redis_url,
            ttl=ttl,
            retention=retention,
        ),
        algorithms=tuple(dict.fromkeys(algorithms)),
        source=source,
    )


__all__ = [
    "ENV_PREFIX",
    "ChallengeConfig",
    "RevocationConfig",
    "ServiceConfig",
    "load_config",
]
