"""End to end with everything real: simulated cards driven through jpki_sdk.card, the service
built from its configuration (SQLite store, test roots opted in, CRL index fed with the
simulator's CRLs), called with ServiceClient over loopback HTTP."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable
from pathlib import Path

import pytest
from authkit import BIRTH_DATE, ISSUED_AT, ORIGIN, VERIFY_AT
from serverkit import API_KEY, LiveServer

from jpki_sdk.auth.client import sign_challenge
from jpki_sdk.card import CertKind, open_card
from jpki_sdk.server import Service, hash_api_key, load_config
from jpki_sdk.server.client import RemoteVerificationError, ServiceClient
from jpki_sdk.verify import FixedClock
from simulator.card import SimulatedCard
from simulator.identity import Identity
from simulator.pki import TestPki
from simulator.provision import DEFAULT_AUTH_PIN, DEFAULT_SIGN_PASSWORD

GOOD = dataclasses.replace(Identity.generate(51), birth_date=BIRTH_DATE)
REVOKED = dataclasses.replace(Identity.generate(52), birth_date=dt.date(1950, 1, 1))


@pytest.fixture
def service_url(
    test_pki: TestPki,
    card_factory: Callable[..., SimulatedCard],
    tmp_path: Path,
    serve: Callable[[Service], LiveServer],
) -> str:
    # Provision both cards first (issuance), revoke one, then export roots and CRLs.
    for holder in (GOOD, REVOKED):
        card_factory(holder, issued_at=ISSUED_AT).close()
    with open_card(simulator=card_factory(REVOKED, issued_at=ISSUED_AT)) as card:
        revoked_cert = card.read_certificate(CertKind.AUTH)
    test_pki.revoke(revoked_cert, "keyCompromise", at=VERIFY_AT - dt.timedelta(days=1))
    export = tmp_path / "pki"
    test_pki.export(export, now=VERIFY_AT - dt.timedelta(hours=1))
    crl_dirs = ", ".join(f'"{p}"' for p in sorted(export.glob("crls/*/gen-*")) if p.is_dir())
    config = tmp_path / "service.toml"
    config.write_text(
        f"""
[trust]
test_roots = ["{export / "roots"}"]

[revocation]
mode = "require"
crl_index = "crl-index"
crl_sources = [{crl_dirs}]

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
    service = Service.from_config(load_config(config, env={}), clock=FixedClock(VERIFY_AT))
    return serve(service).url


def test_login_and_identity(service_url: str, card_factory: Callable[..., SimulatedCard]) -> None:
    with ServiceClient(service_url, API_KEY) as rp:
        challenge = rp.create_challenge("login", session_id="browser-session-1")
        with open_card(simulator=card_factory(GOOD, issued_at=ISSUED_AT)) as card:
            token = sign_challenge(card, challenge.nonce_b64, ORIGIN, "login", DEFAULT_AUTH_PIN)
        login = rp.verify(token, session_id="browser-session-1", purpose="login")
        assert login["subject"]["municipality_code"] == GOOD.municipality_code
        assert login["revocation"] == {"mode": "require", "status": "good", "source": "crl"}

        challenge = rp.create_challenge("identity")
        with open_card(simulator=card_factory(GOOD, issued_at=ISSUED_AT)) as card:
            token = sign_challenge(card, challenge.nonce, ORIGIN, "identity", DEFAULT_SIGN_PASSWORD)
        identity = rp.verify(token, attributes=["name", "age_over_20"])
        assert identity["attributes"] == {"name": GOOD.name, "age_over_20": True}

        with pytest.raises(RemoteVerificationError) as info:
            rp.verify(token, attributes=["name"])
        assert (info.value.code, info.value.step, info.value.status) == (
            "challenge_replayed",
            "challenge",
            422,
        )


def test_revoked_card_through_the_crl(
    service_url: str, card_factory: Callable[..., SimulatedCard]
) -> None:
    with ServiceClient(service_url, API_KEY) as rp:
        challenge = rp.create_challenge("login")
        with open_card(simulator=card_factory(REVOKED, issued_at=ISSUED_AT)) as card:
            token = sign_challenge(card, challenge, ORIGIN, "login", DEFAULT_AUTH_PIN)
        with pytest.raises(RemoteVerificationError) as info:
            rp.verify(token)
        assert (info.value.code, info.value.step) == ("certificate_revoked", "revocation")
        # The revoked card's signature certificate is not revoked: identity still works.
        challenge = rp.create_challenge("identity")
        with open_card(simulator=card_factory(REVOKED, issued_at=ISSUED_AT)) as card:
            token = sign_challenge(card, challenge, ORIGIN, "identity", DEFAULT_SIGN_PASSWORD)
        result = rp.verify(token, attributes=["age_over_65"])
        assert result["attributes"] == {"age_over_65": True}
