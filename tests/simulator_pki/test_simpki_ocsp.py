"""The OCSP responder over real HTTP on loopback (RFC 6960), CA-signed and delegated."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import http.client
import urllib.parse
import urllib.request
from collections.abc import Iterator

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509 import ocsp
from cryptography.x509.oid import ExtendedKeyUsageOID
from hypothesis import given, settings
from hypothesis import strategies as st
from simpki_support import NOW

from simulator.identity import Identity
from simulator.ocsp import OcspResponder, ResponderMode
from simulator.pki import AUTH, SIGN, IssuedCard, TestPki

CLOCK_TIME = NOW + dt.timedelta(hours=3)
NONCE = bytes(range(16))


def clock() -> dt.datetime:
    return CLOCK_TIME


class Cards:
    def __init__(self, pki: TestPki) -> None:
        self.good: IssuedCard = pki.issue(Identity.generate(1001), now=NOW, sign=False)
        self.revoked: IssuedCard = pki.issue(Identity.generate(1002), now=NOW)
        self.old: IssuedCard = pki.issue(Identity.generate(1003), now=NOW, generation=2, sign=False)
        self.later: IssuedCard = pki.issue(Identity.generate(1004), now=NOW, sign=False)
        pki.revoke(self.revoked.auth_cert, "keyCompromise", at=NOW + dt.timedelta(hours=1))
        # Revoked after the responder's clock time: still good at that time.
        pki.revoke(self.later.auth_cert, "superseded", at=CLOCK_TIME + dt.timedelta(days=1))


@pytest.fixture(scope="module")
def ocsp_pki() -> TestPki:
    return TestPki.ephemeral(seed=7)


@pytest.fixture(scope="module")
def cards(ocsp_pki: TestPki) -> Cards:
    return Cards(ocsp_pki)


@pytest.fixture(scope="module")
def responder(ocsp_pki: TestPki, cards: Cards) -> Iterator[OcspResponder]:
    with OcspResponder(ocsp_pki, clock=clock) as running:
        yield running


@pytest.fixture(scope="module")
def delegated(ocsp_pki: TestPki, cards: Cards) -> Iterator[OcspResponder]:
    with OcspResponder(ocsp_pki, mode="delegated", clock=clock) as running:
        yield running


def request_for(
    cert: x509.Certificate,
    issuer: x509.Certificate,
    *,
    nonce: bytes | None = NONCE,
    algorithm: hashes.HashAlgorithm | None = None,
) -> bytes:
    # SHA-1 CertIDs are what RFC 5019 clients send; the hash only names the issuer.
    chosen = algorithm or hashes.SHA1()  # noqa: S303
    builder = ocsp.OCSPRequestBuilder().add_certificate(cert, issuer, chosen)
    if nonce is not None:
        builder = builder.add_extension(x509.OCSPNonce(nonce), critical=False)
    return builder.build().public_bytes(serialization.Encoding.DER)


def post(url: str, body: bytes) -> ocsp.OCSPResponse:
    headers = {"Content-Type": "application/ocsp-request"}
    req = urllib.request.Request(url, data=body, headers=headers)  # noqa: S310 - loopback
    with urllib.request.urlopen(req, timeout=30) as resp:  # noqa: S310 - loopback test URL
        assert resp.status == 200
        assert resp.headers["Content-Type"] == "application/ocsp-response"
        return ocsp.load_der_ocsp_response(resp.read())


def get(url: str, body: bytes) -> ocsp.OCSPResponse:
    encoded = urllib.parse.quote(base64.b64encode(body).decode(), safe="")
    with urllib.request.urlopen(url + encoded, timeout=30) as resp:  # noqa: S310
        assert resp.status == 200
        return ocsp.load_der_ocsp_response(resp.read())


def verify_signature(response: ocsp.OCSPResponse, signer: x509.Certificate) -> None:
    key = signer.public_key()
    assert isinstance(key, rsa.RSAPublicKey)
    assert response.signature_hash_algorithm is not None
    key.verify(
        response.signature,
        response.tbs_response_bytes,
        padding.PKCS1v15(),
        response.signature_hash_algorithm,
    )


def key_hash(cert: x509.Certificate) -> bytes:
    bits = cert.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.PKCS1
    )
    return hashlib.sha1(bits).digest()  # noqa: S324 - the RFC 6960 responder key hash


def test_good(responder: OcspResponder, ocsp_pki: TestPki, cards: Cards) -> None:
    root = ocsp_pki.root(AUTH, 3)
    response = post(responder.url, request_for(cards.good.auth_cert, root))
    assert response.response_status is ocsp.OCSPResponseStatus.SUCCESSFUL
    assert response.certificate_status is ocsp.OCSPCertStatus.GOOD
    assert response.serial_number == cards.good.auth_cert.serial_number
    assert response.this_update_utc == CLOCK_TIME
    assert response.next_update_utc == CLOCK_TIME + dt.timedelta(hours=1)
    assert response.extensions.get_extension_for_class(x509.OCSPNonce).value.nonce == NONCE
    assert response.responder_key_hash == key_hash(root)
    assert response.certificates == []
    verify_signature(response, root)
    with pytest.raises(Exception):  # noqa: B017 - another generation's key does not verify
        verify_signature(response, ocsp_pki.root(AUTH, 2))


def test_revoked_with_time_and_reason(
    responder: OcspResponder, ocsp_pki: TestPki, cards: Cards
) -> None:
    root = ocsp_pki.root(AUTH, 3)
    response = post(responder.url, request_for(cards.revoked.auth_cert, root))
    assert response.certificate_status is ocsp.OCSPCertStatus.REVOKED
    assert response.revocation_time_utc == NOW + dt.timedelta(hours=1)
    assert response.revocation_reason is x509.ReasonFlags.key_compromise
    verify_signature(response, root)
    # The card's signature certificate was not revoked.
    assert cards.revoked.sign_cert is not None
    sign = post(responder.url, request_for(cards.revoked.sign_cert, ocsp_pki.root(SIGN, 3)))
    assert sign.certificate_status is ocsp.OCSPCertStatus.GOOD
    verify_signature(sign, ocsp_pki.root(SIGN, 3))


def test_revocation_after_the_clock_time_is_not_yet_visible(
    responder: OcspResponder, ocsp_pki: TestPki, cards: Cards
) -> None:
    response = post(responder.url, request_for(cards.later.auth_cert, ocsp_pki.root(AUTH, 3)))
    assert response.certificate_status is ocsp.OCSPCertStatus.GOOD


def test_unknown_serial_and_wrong_generation(
    responder: OcspResponder, ocsp_pki: TestPki, cards: Cards
) -> None:
    root = ocsp_pki.root(AUTH, 3)
    name_hash = hashlib.sha1(root.subject.public_bytes()).digest()  # noqa: S324
    request = (
        ocsp.OCSPRequestBuilder()
        .add_certificate_by_hash(name_hash, key_hash(root), 0x01020304, hashes.SHA1())  # noqa: S303
        .build()
        .public_bytes(serialization.Encoding.DER)
    )
    response = post(responder.url, request)
    assert response.certificate_status is ocsp.OCSPCertStatus.UNKNOWN
    assert response.serial_number == 0x01020304
    verify_signature(response, root)
    # Issued by generation 2, asked about with generation 3 (same DN, other key): unknown.
    wrong = post(responder.url, request_for(cards.old.auth_cert, root))
    assert wrong.certificate_status is ocsp.OCSPCertStatus.UNKNOWN
    right = post(responder.url, request_for(cards.old.auth_cert, ocsp_pki.root(AUTH, 2)))
    assert right.certificate_status is ocsp.OCSPCertStatus.GOOD
    verify_signature(right, ocsp_pki.root(AUTH, 2))


def test_sha256_cert_id_and_no_nonce(
    responder: OcspResponder, ocsp_pki: TestPki, cards: Cards
) -> None:
    response = post(
        responder.url,
        request_for(
            cards.good.auth_cert, ocsp_pki.root(AUTH, 3), nonce=None, algorithm=hashes.SHA256()
        ),
    )
    assert response.certificate_status is ocsp.OCSPCertStatus.GOOD
    assert isinstance(response.hash_algorithm, hashes.SHA256)
    with pytest.raises(x509.ExtensionNotFound):
        response.extensions.get_extension_for_class(x509.OCSPNonce)


def test_get_with_url_encoded_base64(
    responder: OcspResponder, ocsp_pki: TestPki, cards: Cards
) -> None:
    response = get(responder.url, request_for(cards.revoked.auth_cert, ocsp_pki.root(AUTH, 3)))
    assert response.certificate_status is ocsp.OCSPCertStatus.REVOKED


def test_unknown_issuer_is_unauthorized(
    responder: OcspResponder, stranger: TestPki, stranger_cert: x509.Certificate
) -> None:
    response = post(responder.url, request_for(stranger_cert, stranger.root(AUTH, 1)))
    assert response.response_status is ocsp.OCSPResponseStatus.UNAUTHORIZED


@pytest.mark.parametrize("body", [b"", b"not an OCSP request", b"\x30\x03\x02\x01\x01"])
def test_malformed_requests(responder: OcspResponder, body: bytes) -> None:
    response = post(responder.url, body)
    assert response.response_status is ocsp.OCSPResponseStatus.MALFORMED_REQUEST


def test_get_with_bad_base64_is_malformed(responder: OcspResponder) -> None:
    with urllib.request.urlopen(responder.url + "%%%not-base64", timeout=30) as resp:  # noqa: S310
        response = ocsp.load_der_ocsp_response(resp.read())
    assert response.response_status is ocsp.OCSPResponseStatus.MALFORMED_REQUEST


def _raw_http(responder: OcspResponder, method: str, path: str, body: bytes | None = None,
              headers: dict[str, str] | None = None) -> tuple[int, bytes]:  # fmt: skip
    conn = http.client.HTTPConnection(responder.host, responder.port, timeout=30)
    try:
        conn.putrequest(method, path)
        for name, value in (headers or {}).items():
            conn.putheader(name, value)
        conn.endheaders()
        if body:
            conn.send(body)
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def test_http_errors(responder: OcspResponder) -> None:
    assert _raw_http(responder, "POST", "/")[0] == 411
    assert _raw_http(responder, "POST", "/", headers={"Content-Length": "abc"})[0] == 400
    too_big = str(64 * 1024 + 1)
    assert _raw_http(responder, "POST", "/", headers={"Content-Length": too_big})[0] == 413
    assert _raw_http(responder, "GET", "/")[0] == 404
    assert _raw_http(responder, "PUT", "/")[0] == 501


def test_delegated_responder(delegated: OcspResponder, ocsp_pki: TestPki, cards: Cards) -> None:
    root = ocsp_pki.root(SIGN, 3)
    assert cards.revoked.sign_cert is not None
    response = post(delegated.url, request_for(cards.revoked.sign_cert, root))
    assert response.certificate_status is ocsp.OCSPCertStatus.GOOD
    assert response.extensions.get_extension_for_class(x509.OCSPNonce).value.nonce == NONCE
    (signer,) = response.certificates
    signer.verify_directly_issued_by(root)
    assert response.responder_key_hash == key_hash(signer)
    verify_signature(response, signer)
    with pytest.raises(Exception):  # noqa: B017 - not signed by the root itself
        verify_signature(response, root)
    eku = signer.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(eku) == [ExtendedKeyUsageOID.OCSP_SIGNING]
    assert signer.extensions.get_extension_for_class(x509.OCSPNoCheck)
    ku = signer.extensions.get_extension_for_class(x509.KeyUsage)
    assert ku.critical and ku.value.digital_signature
    assert signer.not_valid_before_utc <= CLOCK_TIME <= signer.not_valid_after_utc
    revoked = post(delegated.url, request_for(cards.revoked.auth_cert, ocsp_pki.root(AUTH, 3)))
    assert revoked.certificate_status is ocsp.OCSPCertStatus.REVOKED
    (auth_signer,) = revoked.certificates
    auth_signer.verify_directly_issued_by(ocsp_pki.root(AUTH, 3))


def test_delegated_mode_refuses_an_expired_generation(ocsp_pki: TestPki) -> None:
    card = ocsp_pki.issue(
        Identity.generate(1005), now=dt.datetime(2018, 1, 1, tzinfo=dt.timezone.utc), sign=False
    )
    responder = OcspResponder(ocsp_pki, mode=ResponderMode.DELEGATED, clock=clock)
    response = ocsp.load_der_ocsp_response(
        responder.respond(request_for(card.auth_cert, ocsp_pki.root(AUTH, 1)))
    )
    assert response.response_status is ocsp.OCSPResponseStatus.UNAUTHORIZED
    ca_mode = OcspResponder(ocsp_pki, clock=clock)
    answer = ocsp.load_der_ocsp_response(
        ca_mode.respond(request_for(card.auth_cert, ocsp_pki.root(AUTH, 1)))
    )
    assert answer.certificate_status is ocsp.OCSPCertStatus.GOOD


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=300))
def test_any_bytes_get_a_well_formed_error(ocsp_pki: TestPki, body: bytes) -> None:
    responder = OcspResponder(ocsp_pki, clock=clock)
    response = ocsp.load_der_ocsp_response(responder.respond(body))
    assert response.response_status in (
        ocsp.OCSPResponseStatus.MALFORMED_REQUEST,
        ocsp.OCSPResponseStatus.UNAUTHORIZED,
    )


def test_constructor_and_lifecycle(ocsp_pki: TestPki, cards: Cards) -> None:
    with pytest.raises(ValueError, match="loopback"):
        OcspResponder(ocsp_pki, host="0.0.0.0")  # noqa: S104 - the refusal is the test
    with pytest.raises(ValueError, match="loopback"):
        OcspResponder(ocsp_pki, host="example.org")
    with pytest.raises(ValueError, match="mode"):
        OcspResponder(ocsp_pki, mode="other")
    with pytest.raises(ValueError, match="port"):
        OcspResponder(ocsp_pki, port=70000)
    with pytest.raises(TypeError):
        OcspResponder("pki")  # type: ignore[arg-type]
    responder = OcspResponder(ocsp_pki, clock=clock).start()
    try:
        assert responder.running and responder.port != 0
        assert responder.url == f"http://127.0.0.1:{responder.port}/"
        with pytest.raises(RuntimeError, match="already running"):
            responder.start()
        body = request_for(cards.good.auth_cert, ocsp_pki.root(AUTH, 3))
        assert post(responder.url, body).certificate_status is ocsp.OCSPCertStatus.GOOD
        assert responder.requests_served >= 1
    finally:
        responder.stop()
    responder.stop()  # idempotent
    assert not responder.running
    with pytest.raises(OSError):
        post(responder.url, body)


def test_aia_points_at_the_running_responder(ocsp_pki: TestPki, responder: OcspResponder) -> None:
    card = ocsp_pki.issue(Identity.generate(1006), now=NOW, sign=False, ocsp_url=responder.url)
    aia = card.auth_cert.extensions.get_extension_for_class(x509.AuthorityInformationAccess)
    url = aia.value[0].access_location.value
    response = post(url, request_for(card.auth_cert, card.auth_ca_cert))
    assert response.certificate_status is ocsp.OCSPCertStatus.GOOD
