"""The service built from its configuration file, with real revocation sources: the
simulator's CRLs in a CRL index, and its OCSP responder. A revoked card is refused by each."""

from __future__ import annotations

import base64
import datetime as dt
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from authkit import ORIGIN, VERIFY_AT, issue_card, make_token
from serverkit import API_KEY, LiveServer

from jpki_sdk.server import Service, hash_api_key, load_config
from jpki_sdk.verify import FixedClock
from simulator.ocsp import OcspResponder
from simulator.pki import IssuedCard, TestPki


@pytest.fixture(scope="module")
def revoked_and_good(test_pki: TestPki) -> tuple[IssuedCard, IssuedCard]:
    good = issue_card(test_pki, 31)
    revoked = issue_card(test_pki, 32)
    test_pki.revoke(revoked.auth_cert, "keyCompromise", at=VERIFY_AT - dt.timedelta(days=1))
    return good, revoked


def write_config(tmp_path: Path, revocation: str, roots: Path) -> Path:
    path = tmp_path / "service.toml"
    path.write_text(
        f"""
[trust]
test_roots = ["{roots}"]

[revocation]
{revocation}

[challenges]
store = "sqlite"
sqlite_path = "challenges.sqlite3"

[[api_keys]]
name = "rp"
sha256 = "{hash_api_key(API_KEY)}"
origins = ["{ORIGIN}"]
""",
        encoding="utf-8",
    )
    return path


@pytest.fixture
def exported(test_pki: TestPki, tmp_path: Path, revoked_and_good: object) -> Path:
    out = tmp_path / "pki-export"
    test_pki.export(out, now=VERIFY_AT - dt.timedelta(hours=1))
    return out


def login(live: LiveServer, card: IssuedCard) -> tuple[int, dict[str, object]]:
    with live.client() as client:
        issued = client.post("/v1/challenges", json={}).json()
        token = make_token(card, base64.b64decode(issued["nonce"]))
        response = client.post("/v1/verify", json={"token": token.to_dict()})
    return response.status_code, response.json()


def test_crl_index(
    tmp_path: Path,
    exported: Path,
    revoked_and_good: tuple[IssuedCard, IssuedCard],
    serve: Callable[[Service], LiveServer],
) -> None:
    crl_dirs = sorted(str(p) for p in exported.glob("crls/*/gen-*") if p.is_dir())
    assert crl_dirs
    sources = ", ".join(f'"{d}"' for d in crl_dirs)
    config = load_config(
        write_config(
            tmp_path,
            f'mode = "require"\ncrl_index = "crl-index"\ncrl_sources = [{sources}]',
            exported / "roots",
        ),
        env={},
    )
    clock = FixedClock(VERIFY_AT)
    service = Service.from_config(config, clock=clock)
    live = serve(service)
    good, revoked = revoked_and_good
    status, body = login(live, good)
    assert status == 200, body
    assert body["revocation"] == {"mode": "require", "status": "good", "source": "crl"}
    status, body = login(live, revoked)
    assert status == 422
    assert body["error"]["code"] == "certificate_revoked"  # type: ignore[index]
    assert body["error"]["step"] == "revocation"  # type: ignore[index]
    with live.client(None) as client:
        metrics = client.get("/metrics").text
    assert "jpki_crl_next_update_timestamp_seconds{partition=" in metrics
    assert "jpki_crl_age_seconds{partition=" in metrics
    # The index persisted: a restarted service answers without re-ingesting.
    assert any((tmp_path / "crl-index").iterdir())


def test_crl_missing_partition_is_unavailable(
    tmp_path: Path,
    exported: Path,
    revoked_and_good: tuple[IssuedCard, IssuedCard],
    serve: Callable[[Service], LiveServer],
) -> None:
    # An index without any CRL: in mode require no source answers, so the login is refused
    # (503, retry later), never accepted.
    config = load_config(
        write_config(tmp_path, 'mode = "require"\ncrl_index = "empty-index"', exported / "roots"),
        env={},
    )
    live = serve(Service.from_config(config, clock=FixedClock(VERIFY_AT)))
    status, body = login(live, revoked_and_good[0])
    assert status == 503
    assert body["error"]["code"] == "revocation_unavailable"  # type: ignore[index]


@pytest.fixture
def responder(test_pki: TestPki) -> Iterator[OcspResponder]:
    with OcspResponder(test_pki, clock=lambda: VERIFY_AT - dt.timedelta(minutes=1)) as server:
        yield server


def test_ocsp_responder(
    tmp_path: Path,
    exported: Path,
    responder: OcspResponder,
    revoked_and_good: tuple[IssuedCard, IssuedCard],
    serve: Callable[[Service], LiveServer],
) -> None:
    config = load_config(
        write_config(
            tmp_path, f'mode = "require"\nocsp_url = "{responder.url}"', exported / "roots"
        ),
        env={},
    )
    live = serve(Service.from_config(config, clock=FixedClock(VERIFY_AT)))
    good, revoked = revoked_and_good
    status, body = login(live, good)
    assert status == 200, body
    assert body["revocation"] == {"mode": "require", "status": "good", "source": "ocsp"}
    status, body = login(live, revoked)
    assert status == 422
    assert body["error"]["code"] == "certificate_revoked"  # type: ignore[index]
    assert responder.requests_served >= 2


def test_soft_fail_reports_unknown(
    tmp_path: Path,
    exported: Path,
    revoked_and_good: tuple[IssuedCard, IssuedCard],
    serve: Callable[[Service], LiveServer],
) -> None:
    # An OCSP URL where nothing listens: soft-fail accepts the login and says so.
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    config = load_config(
        write_config(
            tmp_path,
            f'mode = "soft-fail"\nocsp_url = "http://127.0.0.1:{port}/"\nocsp_timeout_seconds = 2',
            exported / "roots",
        ),
        env={},
    )
    live = serve(Service.from_config(config, clock=FixedClock(VERIFY_AT)))
    status, body = login(live, revoked_and_good[0])
    assert status == 200, body
    assert body["revocation"] == {"mode": "soft-fail", "status": "unknown", "source": None}
