"""The platform-operator extension point: a JSON API source against a tiny local server."""

from __future__ import annotations

import datetime as dt
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from revocation_helpers import NOW, Reply, TinyHttpServer, make_ee, make_root

from jpki_sdk.verify.revocation import (
    CertificateRevokedError,
    CrlIndex,
    CrlSource,
    PlatformOperatorSource,
    PlatformSourceError,
    RevocationPolicy,
    RevocationSource,
    RevocationStatus,
)

ISSUER = make_root(2)
KEY = "sk-test-0123456789"


class Clock:
    def now(self) -> dt.datetime:
        return NOW


def iso(when: dt.datetime) -> str:
    return when.isoformat()


class Api:
    """A fake operator API: answers from ``table`` (serial -> dict), checks the API key."""

    def __init__(self) -> None:
        self.table: dict[int, dict[str, Any]] = {}
        self.override: Reply | None = None

    def __call__(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Reply:
        if self.override is not None:
            return self.override
        if headers.get("Authorization") != f"Bearer {KEY}":
            return Reply(401, "application/json", b'{"error": "unauthorized"}')
        request = json.loads(body)
        serial = int(request["serial"], 16)
        answer = {
            "serial": request["serial"],
            "status": "good",
            "this_update": iso(NOW - dt.timedelta(minutes=1)),
            "next_update": iso(NOW + dt.timedelta(hours=1)),
        }
        answer.update(self.table.get(serial, {}))
        return Reply(200, "application/json", json.dumps(answer).encode())


@pytest.fixture
def api() -> Iterator[tuple[Api, TinyHttpServer]]:
    fake = Api()
    with TinyHttpServer(fake) as server:
        yield fake, server


def source(server: TinyHttpServer, **kw: Any) -> PlatformOperatorSource:
    kw.setdefault("api_key", KEY)
    return PlatformOperatorSource(server.url + "v1/revocation", clock=Clock(), timeout=5, **kw)


def test_is_a_revocation_source(api: tuple[Api, TinyHttpServer]) -> None:
    src = source(api[1])
    assert isinstance(src, RevocationSource)
    assert KEY not in repr(src) and "api_key=set" in repr(src)


def test_good_and_request_shape(api: tuple[Api, TinyHttpServer]) -> None:
    _fake, server = api
    answer = source(server).check(make_ee(0x6001), ISSUER, NOW)
    assert answer.status is RevocationStatus.GOOD and answer.source == "platform"
    assert answer.next_update == NOW + dt.timedelta(hours=1)
    [(method, path, headers, body)] = server.requests
    assert method == "POST" and path == "/v1/revocation"
    assert headers["Content-Type"] == "application/json"
    request = json.loads(body)
    assert request["serial"] == "6001"
    assert request["at"] == NOW.isoformat()
    assert len(bytes.fromhex(request["issuer_key_id"])) == 20
    assert request["certificate"]


def test_revoked_unknown_and_revoked_later(api: tuple[Api, TinyHttpServer]) -> None:
    fake, server = api
    when = NOW - dt.timedelta(days=1)
    fake.table[0x6002] = {"status": "revoked", "revoked_at": iso(when), "reason": "keyCompromise"}
    fake.table[0x6003] = {"status": "unknown", "detail": "not in our data"}
    src = source(server)
    revoked = src.check(make_ee(0x6002), ISSUER, NOW)
    assert revoked.status is RevocationStatus.REVOKED
    assert revoked.reason == "keyCompromise" and revoked.revoked_at == when
    assert src.check(make_ee(0x6002), ISSUER, when - dt.timedelta(hours=1)).status is (
        RevocationStatus.GOOD
    )
    unknown = src.check(make_ee(0x6003), ISSUER, NOW)
    assert unknown.status is RevocationStatus.UNKNOWN and "not in our data" in unknown.detail
    with pytest.raises(CertificateRevokedError):
        RevocationPolicy.require(src).evaluate(make_ee(0x6002), ISSUER, NOW)


def test_composes_after_a_crl_without_partition(api: tuple[Api, TinyHttpServer]) -> None:
    _fake, server = api
    policy = RevocationPolicy.require(CrlSource(CrlIndex()), source(server))
    result = policy.evaluate(make_ee(0x6004), ISSUER, NOW)
    assert result.source == "platform"
    assert result.attempts[0].detail.startswith("partition missing")


@pytest.mark.parametrize(
    ("patch", "message"),
    [
        ({"serial": "6fff"}, "another serial"),
        ({"serial": "zz"}, "hex"),
        ({"status": "fine"}, "status must be"),
        ({"status": "revoked"}, "needs revoked_at"),
        ({"status": "revoked", "revoked_at": iso(NOW), "reason": "bored"}, "unknown reason"),
        ({"reason": "keyCompromise"}, "only belong"),
        ({"next_update": "2025-06-01T00:00:00"}, "time zone"),
        ({"next_update": "tomorrow"}, "ISO-8601"),
        ({"next_update": iso(NOW - dt.timedelta(minutes=1))}, "stale"),
        ({"detail": 5}, "short string"),
    ],
)
def test_bad_answers_are_typed_errors(
    api: tuple[Api, TinyHttpServer], patch: dict[str, Any], message: str
) -> None:
    fake, server = api
    fake.table[0x6005] = patch
    with pytest.raises(PlatformSourceError, match=message) as info:
        source(server).check(make_ee(0x6005), ISSUER, NOW)
    assert info.value.code == "platform_source_error"


@pytest.mark.parametrize(
    ("reply", "message"),
    [
        (Reply(200, "text/plain", b"good"), "Content-Type"),
        (Reply(200, "application/json", b"{not json"), "invalid JSON"),
        (Reply(200, "application/json", b"[]"), "not a JSON object"),
        (Reply(503, "application/json", b"{}"), "status 503"),
        (Reply(200, "application/json", b" " * 70_000), "exceeds"),
    ],
)
def test_transport_and_format_failures(
    api: tuple[Api, TinyHttpServer], reply: Reply, message: str
) -> None:
    fake, server = api
    fake.override = reply
    with pytest.raises(PlatformSourceError, match=message):
        source(server).check(make_ee(0x6006), ISSUER, NOW)


def test_wrong_api_key_is_refused(api: tuple[Api, TinyHttpServer]) -> None:
    with pytest.raises(PlatformSourceError, match="401") as info:
        source(api[1], api_key="wrong").check(make_ee(0x6007), ISSUER, NOW)
    assert "wrong" not in str(info.value)


def test_grace(api: tuple[Api, TinyHttpServer]) -> None:
    fake, server = api
    fake.table[0x6008] = {"next_update": iso(NOW - dt.timedelta(minutes=1))}
    graced = source(server, grace=dt.timedelta(minutes=5))
    assert graced.check(make_ee(0x6008), ISSUER, NOW).status is RevocationStatus.GOOD


def test_constructor_arguments() -> None:
    with pytest.raises(ValueError):
        PlatformOperatorSource("file:///etc/passwd")
    with pytest.raises(ValueError):
        PlatformOperatorSource("https://x", api_key="a\nb")
    with pytest.raises(ValueError):
        PlatformOperatorSource("https://x", timeout=0)
