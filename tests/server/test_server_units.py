"""API keys, the Prometheus text format, JSON logs: unit level."""

from __future__ import annotations

import json
import logging
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from jpki_sdk.errors import ConfigurationError
from jpki_sdk.server.apikeys import (
    ApiKey,
    ApiKeyring,
    generate_api_key,
    hash_api_key,
    presented_key,
)
from jpki_sdk.server.logs import JsonFormatter, TextFormatter
from jpki_sdk.server.metrics import Registry


def test_generated_keys() -> None:
    a, b = generate_api_key(), generate_api_key()
    assert a != b
    assert re.fullmatch(r"jpki_[A-Za-z0-9_-]{43}", a)
    assert re.fullmatch(r"[0-9a-f]{64}", hash_api_key(a))
    with pytest.raises(ValueError):
        hash_api_key("")


def test_keyring_authenticates_only_the_right_key() -> None:
    k1, k2 = generate_api_key(), generate_api_key()
    ring = ApiKeyring(
        [
            ApiKey.from_hex("one", hash_api_key(k1), ["https://a.example"]),
            ApiKey.from_hex("two", hash_api_key(k2), ["https://b.example"]),
        ]
    )
    assert ring.authenticate(k1).name == "one"  # type: ignore[union-attr]
    assert ring.authenticate(k2).name == "two"  # type: ignore[union-attr]
    for wrong in (None, "", k1 + "x", k1[:-1], hash_api_key(k1), "x" * 300):
        assert ring.authenticate(wrong) is None
    assert "jpki_" not in repr(ring)
    assert hash_api_key(k1) not in repr(ring.keys[0])


def test_keyring_refuses_duplicates() -> None:
    h = hash_api_key("k")
    with pytest.raises(ConfigurationError, match="unique"):
        ApiKeyring([ApiKey.from_hex("a", h, ["https://a.example"])] * 2)
    with pytest.raises(ConfigurationError, match="same hash"):
        ApiKeyring(
            [
                ApiKey.from_hex("a", h, ["https://a.example"]),
                ApiKey.from_hex("b", h, ["https://a.example"]),
            ]
        )


def test_key_origins_are_canonical() -> None:
    key = ApiKey.from_hex("a", "0" * 64, ["https://A.example:443/", "https://a.example"])
    assert key.origins == ("https://a.example",)
    assert key.allows("https://a.example") and not key.allows("https://b.example")


@pytest.mark.parametrize(
    ("authorization", "x_api_key", "expected"),
    [
        (None, None, (None, True)),
        ("Bearer abc", None, ("abc", True)),
        ("bearer   abc  ", None, ("abc", True)),
        (None, " abc ", ("abc", True)),
        ("Bearer abc", "abc", ("abc", True)),
        ("Bearer abc", "abd", (None, False)),
        ("Basic abc", None, (None, False)),
        ("Bearer", None, (None, False)),
        (None, "", (None, False)),
    ],
)
def test_presented_key(
    authorization: str | None, x_api_key: str | None, expected: tuple[str | None, bool]
) -> None:
    assert presented_key(authorization, x_api_key) == expected


@given(st.text(max_size=80), st.text(max_size=80))
def test_presented_key_never_raises(authorization: str, x_api_key: str) -> None:
    key, ok = presented_key(authorization, x_api_key)
    assert ok or key is None


def test_prometheus_text_format() -> None:
    registry = Registry()
    counter = registry.counter("jobs_total", "Jobs done.\nSecond line.", ["kind"])
    gauge = registry.gauge("temperature", "Temp.")
    hist = registry.histogram("latency_seconds", "Latency.", ["route"], buckets=[0.1, 1])
    collected = registry.gauge(
        "computed", "Computed.", ["name"], collect=lambda: [(('we"ird\\\n',), 2.5)]
    )
    counter.inc('a"b')
    counter.inc('a"b', amount=2)
    gauge.set(-3.5)
    hist.observe(0.05, "/x")
    hist.observe(0.5, "/x")
    hist.observe(5, "/x")
    assert counter.value('a"b') == 3
    assert hist.count("/x") == 3
    text = registry.render()
    assert text.endswith("\n")
    assert "# HELP jobs_total Jobs done.\\nSecond line." in text
    assert "# TYPE jobs_total counter" in text
    assert 'jobs_total{kind="a\\"b"} 3' in text
    assert "temperature -3.5" in text
    assert 'latency_seconds_bucket{route="/x",le="0.1"} 1' in text
    assert 'latency_seconds_bucket{route="/x",le="1"} 2' in text
    assert 'latency_seconds_bucket{route="/x",le="+Inf"} 3' in text
    assert 'latency_seconds_count{route="/x"} 3' in text
    assert 'latency_seconds_sum{route="/x"} 5.55' in text
    assert 'computed{name="we\\"ird\\\\\\n"} 2.5' in text
    assert collected.name == "computed"
    with pytest.raises(ValueError, match="labels"):
        counter.inc()
    with pytest.raises(ValueError, match="only goes up"):
        counter.inc("x", amount=-1)
    with pytest.raises(ValueError, match="already registered"):
        registry.counter("jobs_total", "again")


def test_json_log_lines() -> None:
    record = logging.LogRecord(
        "jpki.test", logging.WARNING, __file__, 1, "hello %s", ("you",), None
    )
    record.fields = {"request_id": "r1", "status": 201, "msg": "not overriding"}
    line = JsonFormatter().format(record)
    body = json.loads(line)
    assert body["msg"] == "hello you" and body["level"] == "warning"
    assert body["request_id"] == "r1" and body["status"] == 201
    assert body["ts"].endswith("+00:00")
    assert "\n" not in line
    assert "request_id=r1" in TextFormatter().format(record)
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        import sys

        record.exc_info = sys.exc_info()
    body = json.loads(JsonFormatter().format(record))
    assert body["error_type"] == "RuntimeError" and "boom" in body["traceback"]
