"""Revocation against the simulator's test PKI: its OCSP responder over real HTTP on loopback,
its exported per-municipality CRLs, and its bulk CRL writer (cross-checked with cryptography)."""

from __future__ import annotations

import datetime as dt
import random
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509

sys.path.insert(0, str(Path(__file__).parent))

from revocation_helpers import Reply, TinyHttpServer, make_ee, make_root

from jpki_sdk.verify.revocation import (
    CertificateRevokedError,
    CrlIndex,
    CrlIssuerUnknownError,
    CrlSource,
    OcspResponderError,
    OcspSource,
    RevocationPolicy,
    RevocationStatus,
    ingest_sources,
)
from simulator.identity import Identity
from simulator.ocsp import OcspResponder
from simulator.pki import CrlKey, IssuedCard, TestPki

UTC = dt.timezone.utc


def now() -> dt.datetime:
    return dt.datetime.now(UTC)


@pytest.fixture(scope="module")
def cards(test_pki: TestPki) -> dict[str, IssuedCard]:
    """Three cards of this module's own identities; "revoked" is revoked (keyCompromise)."""
    issued = {
        name: test_pki.issue(Identity.generate(9100 + i))
        for i, name in enumerate(("good", "revoked", "other"))
    }
    test_pki.revoke(
        issued["revoked"].auth_cert,
        reason=x509.ReasonFlags.key_compromise,
        at=now() - dt.timedelta(minutes=5),
    )
    assert issued["revoked"].sign_cert is not None
    test_pki.revoke(issued["revoked"].sign_cert, reason="superseded")
    return issued


@pytest.fixture(scope="module", params=["ca", "delegated"])
def responder(request: pytest.FixtureRequest, test_pki: TestPki) -> Iterator[OcspResponder]:
    with OcspResponder(test_pki, mode=request.param) as running:
        yield running


# ----------------------------------------------------------------------------- OCSP


def test_ocsp_against_simulator(responder: OcspResponder, cards: dict[str, IssuedCard]) -> None:
    src = OcspSource(responder.url)
    good = cards["good"]
    answer = src.check(good.auth_cert, good.auth_ca_cert, now())
    assert answer.status is RevocationStatus.GOOD
    expected_signer = "issuer" if responder.mode.value == "ca" else "delegated:"
    assert expected_signer in answer.detail
    revoked = cards["revoked"]
    answer = src.check(revoked.auth_cert, revoked.auth_ca_cert, now())
    assert answer.status is RevocationStatus.REVOKED
    assert answer.reason == "keyCompromise"
    with pytest.raises(CertificateRevokedError):
        RevocationPolicy.require(src).evaluate(revoked.auth_cert, revoked.auth_ca_cert, now())
    # A signature certificate (no AIA in the real profile) through the configured responder.
    assert revoked.sign_cert is not None
    sign = src.check(revoked.sign_cert, revoked.sign_ca_cert, now())
    assert sign.status is RevocationStatus.REVOKED and sign.reason == "superseded"
    assert src.requests_sent == 3


def test_ocsp_simulator_refuses_foreign_issuer(responder: OcspResponder) -> None:
    with pytest.raises(OcspResponderError) as info:
        OcspSource(responder.url).check(make_ee(0x42), make_root(2), now())
    assert info.value.status == "unauthorized"


def test_ocsp_via_aia_of_a_simulated_card(test_pki: TestPki) -> None:
    with OcspResponder(test_pki) as running:
        card = test_pki.issue(Identity.generate(9200), ocsp_url=running.url)
        answer = OcspSource().check(card.auth_cert, card.auth_ca_cert, now())
    assert answer.status is RevocationStatus.GOOD and running.url in answer.detail


# ----------------------------------------------------------------------------- CRLs


def all_roots(pki: TestPki) -> list[x509.Certificate]:
    return pki.roots("auth") + pki.roots("sign")


def test_exported_crls_ingest_and_answer(
    test_pki: TestPki, cards: dict[str, IssuedCard], tmp_path: Path
) -> None:
    export = tmp_path / "export"
    written = test_pki.export(export)
    index = CrlIndex(tmp_path / "index", trusted_roots=all_roots(test_pki))
    outcomes = ingest_sources(index, [export])
    assert all(o.ok for o in outcomes), [o.error for o in outcomes if o.error]
    assert len(outcomes) == len(written["crls"])  # root PEMs in the same tree are skipped
    scopes = {p.scope for p in index.partitions()}
    assert scopes == {"ca", "user"}  # ARLs (CA only) and municipality CRLs
    src = CrlSource(index)
    for name, card in cards.items():
        auth = src.check(card.auth_cert, card.auth_ca_cert, now())
        assert card.sign_cert is not None
        sign = src.check(card.sign_cert, card.sign_ca_cert, now())
        if name == "revoked":
            assert auth.status is RevocationStatus.REVOKED and auth.reason == "keyCompromise"
            assert sign.status is RevocationStatus.REVOKED and sign.reason == "superseded"
        else:
            assert auth.status is RevocationStatus.GOOD, auth.detail
            assert sign.status is RevocationStatus.GOOD, sign.detail
    # A restart answers the same without re-parsing any CRL.
    reloaded = CrlSource(CrlIndex(tmp_path / "index"))
    revoked = cards["revoked"]
    assert reloaded.check(revoked.auth_cert, revoked.auth_ca_cert, now()).status is (
        RevocationStatus.REVOKED
    )


def test_simulator_crl_over_http(test_pki: TestPki, cards: dict[str, IssuedCard]) -> None:
    card = cards["revoked"]
    der = test_pki.crl(_crl_key(test_pki, card))
    with TinyHttpServer(lambda m, p, h, b: Reply(200, "application/pkix-crl", der)) as server:
        index = CrlIndex(trusted_roots=all_roots(test_pki))
        [outcome] = ingest_sources(index, [server.url + "kiyose.crl"])
    assert outcome.ok and outcome.reports[0].action == "added"
    answer = CrlSource(index).check(card.auth_cert, card.auth_ca_cert, now())
    assert answer.status is RevocationStatus.REVOKED


def test_simulator_crls_are_not_trusted_by_default(test_pki: TestPki, tmp_path: Path) -> None:
    from jpki_sdk.verify.revocation.crl_parse import decode_crls

    jlis = [
        x509.load_pem_x509_certificate(p.read_bytes())
        for p in sorted((Path(__file__).parents[2] / "jpki_sdk/verify/roots").glob("*.pem"))
    ]
    assert len(jlis) == 6
    der = next(iter(test_pki.crls().values()))
    with pytest.raises(CrlIssuerUnknownError):
        CrlIndex(trusted_roots=jlis).ingest(decode_crls(der)[0])


def test_bulk_crl_cross_checked_with_cryptography(
    test_pki: TestPki, cards: dict[str, IssuedCard]
) -> None:
    card = cards["revoked"]
    der = test_pki.large_crl(_crl_key(test_pki, card), 20_000, seed=3)
    index = CrlIndex(trusted_roots=all_roots(test_pki))
    [report] = index.ingest(der)
    assert report.partition.entries == 20_000 + 1  # the synthetic ones + the real revocation
    [part] = list(index)
    listed = {r.serial_number for r in x509.load_der_x509_crl(der)}
    assert len(listed) == 20_001
    assert all(s in part for s in listed)
    rng = random.Random(1)
    probes = [rng.randrange(1 << 32) for _ in range(20_000)]
    assert [s in part for s in probes] == [s in listed for s in probes]
    assert CrlSource(index).check(card.auth_cert, card.auth_ca_cert, now()).status is (
        RevocationStatus.REVOKED
    )


def _crl_key(pki: TestPki, card: IssuedCard) -> CrlKey:
    record = pki.lookup("auth", card.auth_cert.serial_number)
    assert record is not None
    return CrlKey("auth", record.generation, record.municipality_code)
