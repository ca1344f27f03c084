"""Configuration: TOML + environment, and a clear ConfigurationError for every bad value."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from jpki_sdk.auth.types import SignatureAlgorithm
from jpki_sdk.errors import ConfigurationError
from jpki_sdk.server import hash_api_key, load_config

KEY_HASH = hash_api_key("jpki_config-test-key")

MINIMAL = f"""
[revocation]
mode = "off"

[challenges]
store = "memory"

[[api_keys]]
name = "rp"
sha256 = "{KEY_HASH}"
origins = ["https://rp.example"]
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "service.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_minimal(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, MINIMAL), env={})
    assert config.host == "127.0.0.1" and config.port == 8750
    assert config.max_body_bytes == 65536
    assert config.revocation.mode == "off"
    assert config.challenges.store == "memory"
    assert config.challenges.ttl == timedelta(minutes=5)
    assert config.test_roots == ()
    assert config.algorithms == tuple(SignatureAlgorithm)
    (key,) = config.api_keys
    assert key.name == "rp" and key.origins == ("https://rp.example",)
    assert key.digest.hex() == KEY_HASH
    described = json.dumps(config.describe())
    assert KEY_HASH not in described


def test_full(tmp_path: Path) -> None:
    (tmp_path / "roots").mkdir()
    (tmp_path / "crls").mkdir()
    (tmp_path / "var").mkdir()
    text = f"""
[server]
host = "0.0.0.0"
port = 9000
max_body_bytes = 32768
log_format = "text"
log_level = "DEBUG"

[trust]
test_roots = ["roots"]

[revocation]
mode = "soft-fail"
crl_index = "var/crl-index"
crl_sources = ["crls", "https://crl.example/a.crl"]
crl_refresh_seconds = 600
ocsp = true
ocsp_timeout_seconds = 2.5

[challenges]
store = "sqlite"
sqlite_path = "var/challenges.sqlite3"
ttl_seconds = 120
retention_seconds = 60

[verify]
algorithms = ["RS256"]

[[api_keys]]
name = "shop"
sha256 = "{KEY_HASH.upper()}"
origins = ["https://shop.example/", "HTTPS://SHOP.example:443"]
"""
    config = load_config(write(tmp_path, text), env={})
    assert (config.host, config.port, config.max_body_bytes) == ("0.0.0.0", 9000, 32768)  # noqa: S104
    assert (config.log_format, config.log_level) == ("text", "debug")
    assert config.test_roots == (tmp_path / "roots",)
    revocation = config.revocation
    assert revocation.mode == "soft-fail"
    assert revocation.crl_index == tmp_path / "var" / "crl-index"
    assert revocation.crl_sources == (str(tmp_path / "crls"), "https://crl.example/a.crl")
    assert revocation.crl_refresh_seconds == 600
    assert revocation.ocsp is True and revocation.ocsp_timeout_seconds == 2.5
    assert config.challenges.sqlite_path == tmp_path / "var" / "challenges.sqlite3"
    assert config.challenges.ttl == timedelta(seconds=120)
    assert config.algorithms == (SignatureAlgorithm.RS256,)
    assert config.api_keys[0].origins == ("https://shop.example",)


def test_environment_overrides(tmp_path: Path) -> None:
    extra = [{"name": "env-key", "sha256": "ab" * 32, "origins": ["https://env.example"]}]
    env = {
        "JPKI_SERVER_PORT": "9100",
        "JPKI_SERVER_HOST": "::1",
        "JPKI_SERVER_REVOCATION_MODE": "require",
        "JPKI_SERVER_OCSP_URL": "http://127.0.0.1:1/ocsp",
        "JPKI_SERVER_CHALLENGE_STORE": "redis",
        "JPKI_SERVER_REDIS_URL": "redis://:pw@127.0.0.1:6379/0",
        "JPKI_SERVER_CHALLENGE_TTL": "60",
        "JPKI_SERVER_API_KEYS": json.dumps(extra),
    }
    config = load_config(write(tmp_path, MINIMAL), env=env)
    assert (config.host, config.port) == ("::1", 9100)
    assert config.revocation.mode == "require"
    assert config.revocation.ocsp and config.revocation.ocsp_url == "http://127.0.0.1:1/ocsp"
    assert config.challenges.store == "redis"
    assert config.challenges.redis_url == "redis://:pw@127.0.0.1:6379/0"
    assert "pw" not in repr(config.challenges)
    assert config.challenges.ttl == timedelta(seconds=60)
    assert [k.name for k in config.api_keys] == ["rp", "env-key"]


def test_environment_only() -> None:
    env = {
        "JPKI_SERVER_REVOCATION_MODE": "off",
        "JPKI_SERVER_CHALLENGE_STORE": "memory",
        "JPKI_SERVER_API_KEYS": json.dumps(
            [{"name": "a", "sha256": KEY_HASH, "origins": ["https://a.example"]}]
        ),
    }
    config = load_config(None, env=env)
    assert config.source == "<environment>"
    assert config.api_keys[0].name == "a"


def _replace(old: str, new: str) -> str:
    assert old in MINIMAL
    return MINIMAL.replace(old, new)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("this is = not [toml", "not valid TOML"),
        (MINIMAL + "\n[nonsense]\na = 1\n", "nonsense: unknown section"),
        (_replace('mode = "off"', 'mode = "off"\nmdoe = "x"'), "revocation.mdoe: unknown setting"),
        (_replace('mode = "off"', 'mode = "maybe"'), "revocation.mode"),
        (_replace('mode = "off"', 'mode = "require"'), "needs a source"),
        (_replace('mode = "off"', "mode = 1"), "revocation.mode: has the wrong type"),
        (MINIMAL + "\n[server]\nport = 70000\n", "server.port"),
        (MINIMAL + "\n[server]\nport = true\n", "server.port: has the wrong type"),
        (MINIMAL + "\n[server]\nmax_body_bytes = 10\n", "server.max_body_bytes"),
        (MINIMAL + '\n[server]\nlog_format = "xml"\n', "server.log_format"),
        (MINIMAL + '\n[server]\nlog_level = "loud"\n', "server.log_level"),
        (MINIMAL + '\n[trust]\ntest_roots = ["missing-dir"]\n', "does not exist"),
        (MINIMAL + '\n[verify]\nalgorithms = ["HS256"]\n', "verify.algorithms"),
        (MINIMAL + "\n[verify]\nalgorithms = []\n", "verify.algorithms"),
        (_replace('store = "memory"', 'store = "postgres"'), "challenges.store"),
        (_replace('store = "memory"', 'store = "redis"'), "challenges.redis_url"),
        (
            _replace('store = "memory"', 'store = "redis"\nredis_url = "http://x"'),
            "challenges.redis_url",
        ),
        (
            _replace('store = "memory"', 'store = "sqlite"\nsqlite_path = "no/such/dir/c.db"'),
            "challenges.sqlite_path",
        ),
        (_replace('store = "memory"', 'store = "memory"\nttl_seconds = 0'), "ttl_seconds"),
        (_replace('store = "memory"', 'store = "memory"\nttl_seconds = 90000'), "ttl_seconds"),
        (_replace(f'sha256 = "{KEY_HASH}"', 'sha256 = "abc"'), "64 hex digits"),
        (_replace(f'sha256 = "{KEY_HASH}"', 'key = "plain"'), "api_keys[0].key: unknown"),
        (_replace('origins = ["https://rp.example"]', "origins = []"), "at least one origin"),
        (_replace('origins = ["https://rp.example"]', 'origins = ["http://rp.example"]'), "origin"),
        (_replace('name = "rp"', 'name = "bad name!"'), "API key name"),
        (MINIMAL.split("[[api_keys]]", maxsplit=1)[0], "at least one API key"),
        (
            MINIMAL + MINIMAL.split("[challenges]")[1].split('store = "memory"')[1],
            "names must be unique",
        ),
        (
            _replace('mode = "off"', 'mode = "require"\ncrl_sources = ["x"]'),
            "needs revocation.crl_index",
        ),
        (
            _replace('mode = "off"', 'mode = "require"\nocsp_url = "ftp://x"'),
            "revocation.ocsp_url",
        ),
        ("api_keys = 5", "api_keys"),
        ("server = 5", "server: must be a table"),
    ],
)
def test_bad_configuration(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        load_config(write(tmp_path, text), env={})
    assert message in str(info.value)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"JPKI_SERVER_PORT": "eighty"}, "JPKI_SERVER_PORT"),
        ({"JPKI_SERVER_OCSP": "perhaps"}, "JPKI_SERVER_OCSP"),
        ({"JPKI_SERVER_API_KEYS": "not json"}, "JPKI_SERVER_API_KEYS"),
        ({"JPKI_SERVER_API_KEYS": "{}"}, "JPKI_SERVER_API_KEYS"),
        ({"JPKI_SERVER_API_KEYS": "[5]"}, "api_keys[1]"),
        ({"JPKI_SERVER_API_KEYS": '[{"name": "x"}]'}, "api_keys[1]"),
    ],
)
def test_bad_environment(tmp_path: Path, env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        load_config(write(tmp_path, MINIMAL), env=env)
    assert message in str(info.value)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="No such file"):
        load_config(tmp_path / "nope.toml", env={})
