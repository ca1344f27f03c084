"""OCSP client: every check on the response, over real HTTP on loopback."""

from __future__ import annotations

import datetime as dt
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509 import ocsp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).parent))

from revocation_helpers import (
    NOW,
    Reply,
    TinyHttpServer,
    make_ee,
    make_responder,
    make_root,
    root_key,
    rsa_key,
)

from jpki_sdk.verify.revocation import (
    CertificateRevokedError,
    OcspCertIdMismatchError,
    OcspError,
    OcspFetchError,
    OcspFormatError,
    OcspNonceError,
    OcspResponderError,
    OcspResponderUnauthorizedError,
    OcspSignatureError,
    OcspSource,
    OcspStaleError,
    RevocationPolicy,
    RevocationStatus,
    RevocationUnavailableError,
)
from jpki_sdk.verify.revocation.ocsp import ocsp_urls, validate_ocsp_response

OCSP_TYPE = "application/ocsp-response"
ISSUER = make_root(2)


class Clock:
    def __init__(self, now: dt.datetime = NOW) -> None:
        self.value = now

    def now(self) -> dt.datetime:
        return self.value


def respond(
    request_der: bytes,
    *,
    status: ocsp.OCSPCertStatus = ocsp.OCSPCertStatus.GOOD,
    signer: tuple[x509.Certificate, rsa.RSAPrivateKey] | None = None,
    include: list[x509.Certificate] | None = None,
    nonce: bytes | str | None = "echo",
    this_update: dt.datetime = NOW - dt.timedelta(minutes=1),
    next_update: dt.datetime | None = NOW + dt.timedelta(hours=1),
    revoked_at: dt.datetime | None = None,
    reason: x509.ReasonFlags | None = None,
    serial: int | None = None,
    responder_by_name: bool = False,
    tamper: bool = False,
) -> bytes:
    """A BasicOCSPResponse answering ``request_der`` the way a test wants."""
    request = ocsp.load_der_ocsp_request(request_der)
    cert_for_id = signer[0] if signer else ISSUER
    key = signer[1] if signer else root_key(2)
    builder = ocsp.OCSPResponseBuilder().add_response_by_hash(
        issuer_name_hash=request.issuer_name_hash,
        issuer_key_hash=request.issuer_key_hash,
        serial_number=request.serial_number if serial is None else serial,
        algorithm=request.hash_algorithm,
        cert_status=status,
        this_update=this_update,
        next_update=next_update,
        revocation_time=revoked_at,
        revocation_reason=reason,
    )
    encoding = (
        ocsp.OCSPResponderEncoding.NAME if responder_by_name else ocsp.OCSPResponderEncoding.HASH
    )
    builder = builder.responder_id(encoding, cert_for_id)
    if include:
        builder = builder.certificates(include)
    if nonce == "echo":
        got = request.extensions.get_extension_for_class(x509.OCSPNonce).value.nonce
        builder = builder.add_extension(x509.OCSPNonce(got), critical=False)
    elif isinstance(nonce, bytes):
        builder = builder.add_extension(x509.OCSPNonce(nonce), critical=False)
    der = builder.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)
    if tamper:  # the signature is the last element when no certificates are included
        der = der[:-1] + bytes([der[-1] ^ 1])
    return der


@pytest.fixture
def server() -> Iterator[TinyHttpServer]:
    state: dict[str, Callable[[bytes], Reply]] = {
        "fn": lambda body: Reply(200, OCSP_TYPE, respond(body))
    }
    srv = TinyHttpServer(lambda method, path, headers, body: state["fn"](body))
    srv.state = state  # type: ignore[attr-defined]
    with srv:
        yield srv


def set_reply(server: TinyHttpServer, fn: Callable[[bytes], Reply]) -> None:
    server.state["fn"] = fn  # type: ignore[attr-defined]


def source(server: TinyHttpServer | None = None, **kw: object) -> OcspSource:
    kw.setdefault("clock", Clock())
    kw.setdefault("timeout", 5.0)
    url = None if server is None else server.url
    return OcspSource(url, **kw)  # type: ignore[arg-type]


# ----------------------------------------------------------------------------- happy paths


def test_good_via_aia_url_posts_request_with_nonce(server: TinyHttpServer) -> None:
    cert = make_ee(0x5001, ocsp_url=server.url)
    assert ocsp_urls(cert) == [server.url]
    src = source()
    answer = src.check(cert, ISSUER, NOW)
    assert answer.status is RevocationStatus.GOOD and answer.source == "ocsp"
    assert answer.next_update == NOW + dt.timedelta(hours=1)
    assert "issuer" in answer.detail
    [(method, _, headers, body)] = server.requests
    assert method == "POST"
    assert headers["Content-Type"] == "application/ocsp-request"
    request = ocsp.load_der_ocsp_request(body)
    assert request.serial_number == 0x5001
    assert len(request.extensions.get_extension_for_class(x509.OCSPNonce).value.nonce) == 32
    # Cached until nextUpdate: no second request.
    assert src.check(cert, ISSUER, NOW).detail.endswith("cached)")
    assert len(server.requests) == 1 and src.requests_sent == 1
    src._clock.value = NOW + dt.timedelta(hours=2)  # type: ignore[attr-defined]
    set_reply(
        server,
        lambda b: Reply(
            200,
            OCSP_TYPE,
            respond(
                b,
                this_update=NOW + dt.timedelta(hours=2) - dt.timedelta(seconds=5),
                next_update=NOW + dt.timedelta(hours=3),
            ),
        ),
    )
    assert src.check(cert, ISSUER, NOW + dt.timedelta(hours=2)).status is RevocationStatus.GOOD
    assert len(server.requests) == 2


def test_revoked_and_revoked_later(server: TinyHttpServer) -> None:
    when = NOW - dt.timedelta(days=2)
    set_reply(
        server,
        lambda b: Reply(
            200,
            OCSP_TYPE,
            respond(
                b,
                status=ocsp.OCSPCertStatus.REVOKED,
                revoked_at=when,
                reason=x509.ReasonFlags.key_compromise,
            ),
        ),
    )
    src = source(server)
    cert = make_ee(0x5002)
    answer = src.check(cert, ISSUER, NOW)
    assert answer.status is RevocationStatus.REVOKED
    assert answer.reason == "keyCompromise" and answer.revoked_at == when
    earlier = src.check(cert, ISSUER, when - dt.timedelta(days=1))
    assert earlier.status is RevocationStatus.GOOD and "revoked later" in earlier.detail
    with pytest.raises(CertificateRevokedError) as info:
        RevocationPolicy.require(src).evaluate(cert, ISSUER, NOW)
    assert info.value.source == "ocsp"


def test_unknown_is_not_cached(server: TinyHttpServer) -> None:
    set_reply(
        server, lambda b: Reply(200, OCSP_TYPE, respond(b, status=ocsp.OCSPCertStatus.UNKNOWN))
    )
    src = source(server)
    for _ in range(2):
        answer = src.check(make_ee(0x5003), ISSUER, NOW)
        assert answer.status is RevocationStatus.UNKNOWN and "does not know" in answer.detail
    assert len(server.requests) == 2


def test_delegated_responder(server: TinyHttpServer) -> None:
    responder = make_responder()
    set_reply(
        server,
        lambda b: Reply(200, OCSP_TYPE, respond(b, signer=responder, include=[responder[0]])),
    )
    answer = source(server).check(make_ee(0x5004), ISSUER, NOW)
    assert answer.status is RevocationStatus.GOOD
    assert "delegated:CN=TEST OCSP responder" in answer.detail


@pytest.mark.parametrize(
    "case",
    ["no-eku", "other-generation", "not-included", "expired", "self-signed"],
)
def test_unauthorized_delegates(server: TinyHttpServer, case: str) -> None:
    if case == "no-eku":
        signer = make_responder(eku=False, label="noeku")
    elif case == "other-generation":
        signer = make_responder(signed_by=root_key(3), label="gen3")
    elif case == "expired":
        signer = make_responder(label="old", not_after=NOW - dt.timedelta(days=1))
    elif case == "self-signed":
        key = rsa_key("rogue")
        name = x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "rogue")])
        rogue = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(1)
            .not_valid_before(NOW - dt.timedelta(days=1))
            .not_valid_after(NOW + dt.timedelta(days=1))
            .add_extension(
                x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.OCSP_SIGNING]), critical=False
            )
            .sign(key, hashes.SHA256())
        )
        signer = (rogue, key)
    else:
        signer = make_responder()
    include = [] if case == "not-included" else [signer[0]]
    set_reply(server, lambda b: Reply(200, OCSP_TYPE, respond(b, signer=signer, include=include)))
    with pytest.raises(OcspResponderUnauthorizedError) as info:
        source(server).check(make_ee(0x5005), ISSUER, NOW)
    assert info.value.code == "ocsp_responder_unauthorized"


def test_bad_signature_claiming_the_ca(server: TinyHttpServer) -> None:
    set_reply(server, lambda b: Reply(200, OCSP_TYPE, respond(b, tamper=True)))
    with pytest.raises(OcspSignatureError):
        source(server).check(make_ee(0x5006), ISSUER, NOW)
    # Responder named by DN: the gen-3 root has the same DN as the issuer but another key.
    set_reply(
        server,
        lambda b: Reply(
            200, OCSP_TYPE, respond(b, signer=(make_root(3), root_key(3)), responder_by_name=True)
        ),
    )
    with pytest.raises(OcspSignatureError):
        source(server).check(make_ee(0x5006), ISSUER, NOW)


def test_nonce_checks(server: TinyHttpServer) -> None:
    set_reply(server, lambda b: Reply(200, OCSP_TYPE, respond(b, nonce=b"\x01" * 32)))
    with pytest.raises(OcspNonceError, match="differs"):
        source(server).check(make_ee(0x5007), ISSUER, NOW)
    set_reply(server, lambda b: Reply(200, OCSP_TYPE, respond(b, nonce=None)))
    with pytest.raises(OcspNonceError, match="no nonce"):
        source(server).check(make_ee(0x5007), ISSUER, NOW)
    relaxed = source(server, require_nonce=False)
    assert relaxed.check(make_ee(0x5007), ISSUER, NOW).status is RevocationStatus.GOOD


def test_certid_mismatch(server: TinyHttpServer) -> None:
    set_reply(server, lambda b: Reply(200, OCSP_TYPE, respond(b, serial=0x9999)))
    with pytest.raises(OcspCertIdMismatchError):
        source(server).check(make_ee(0x5008), ISSUER, NOW)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {
                "next_update": NOW - dt.timedelta(minutes=1),
                "this_update": NOW - dt.timedelta(hours=2),
            },
            "has passed",
        ),
        (
            {
                "this_update": NOW + dt.timedelta(hours=1),
                "next_update": NOW + dt.timedelta(hours=2),
            },
            "future",
        ),
        ({"this_update": NOW - dt.timedelta(hours=3), "next_update": None}, "older than"),
    ],
)
def test_stale_responses(server: TinyHttpServer, kwargs: dict[str, object], message: str) -> None:
    set_reply(server, lambda b: Reply(200, OCSP_TYPE, respond(b, **kwargs)))  # type: ignore[arg-type]
    with pytest.raises(OcspStaleError, match=message):
        source(server).check(make_ee(0x5009), ISSUER, NOW)


def test_no_next_update_recent_is_accepted_but_not_cached(server: TinyHttpServer) -> None:
    set_reply(server, lambda b: Reply(200, OCSP_TYPE, respond(b, next_update=None)))
    src = source(server)
    assert src.check(make_ee(0x500A), ISSUER, NOW).status is RevocationStatus.GOOD
    assert src.check(make_ee(0x500A), ISSUER, NOW).status is RevocationStatus.GOOD
    assert len(server.requests) == 2


def test_grace_on_next_update(server: TinyHttpServer) -> None:
    set_reply(
        server,
        lambda b: Reply(
            200,
            OCSP_TYPE,
            respond(
                b,
                this_update=NOW - dt.timedelta(hours=2),
                next_update=NOW - dt.timedelta(minutes=5),
            ),
        ),
    )
    graced = source(server, grace=dt.timedelta(minutes=10))
    assert graced.check(make_ee(0x500B), ISSUER, NOW).status is RevocationStatus.GOOD


# ----------------------------------------------------------------------------- transport failures


def test_responder_error_status(server: TinyHttpServer) -> None:
    body = ocsp.OCSPResponseBuilder.build_unsuccessful(ocsp.OCSPResponseStatus.TRY_LATER)
    set_reply(
        server, lambda b: Reply(200, OCSP_TYPE, body.public_bytes(serialization.Encoding.DER))
    )
    with pytest.raises(OcspResponderError) as info:
        source(server).check(make_ee(0x500C), ISSUER, NOW)
    assert info.value.status == "try_later" and info.value.code == "ocsp_responder_error"


@pytest.mark.parametrize(
    ("reply", "error"),
    [
        (Reply(500, OCSP_TYPE, b"oops"), OcspFetchError),
        (Reply(200, "text/html", b"<html>"), OcspFormatError),
        (Reply(200, OCSP_TYPE, b"\x30\x03\x0a\x01\x00garbage"), OcspFormatError),
        (Reply(200, OCSP_TYPE, b"\x30" * 5000), OcspFetchError),  # over the size cap
        (Reply(200, OCSP_TYPE, b"", delay=1.5), OcspFetchError),  # too slow
    ],
)
def test_transport_failures(server: TinyHttpServer, reply: Reply, error: type[OcspError]) -> None:
    set_reply(server, lambda b: reply)
    src = source(server, max_response_bytes=4096, timeout=0.5)
    with pytest.raises(error) as info:
        src.check(make_ee(0x500D), ISSUER, NOW)
    assert info.value.url == server.url


def test_unreachable_responder() -> None:
    src = OcspSource("http://127.0.0.1:9/", clock=Clock(), timeout=2)
    with pytest.raises(OcspFetchError):
        src.check(make_ee(0x500E), ISSUER, NOW)


def test_no_url_is_unknown_and_configured_url_wins(server: TinyHttpServer) -> None:
    answer = source().check(make_ee(0x500F), ISSUER, NOW)
    assert answer.status is RevocationStatus.UNKNOWN and answer.detail == (
        "no OCSP URL for this certificate"
    )
    cert = make_ee(0x500F, ocsp_url="http://127.0.0.1:9/never")
    assert source(server).check(cert, ISSUER, NOW).status is RevocationStatus.GOOD
    assert source(use_aia=False).check(cert, ISSUER, NOW).status is RevocationStatus.UNKNOWN


def test_policy_falls_through_failures(server: TinyHttpServer) -> None:
    set_reply(server, lambda b: Reply(200, OCSP_TYPE, respond(b, nonce=b"x")))
    src = source(server)
    with pytest.raises(RevocationUnavailableError) as info:
        RevocationPolicy.require(src).evaluate(make_ee(0x5010), ISSUER, NOW)
    assert info.value.attempts[0].detail.startswith("ocsp_nonce_mismatch")
    soft = RevocationPolicy.soft_fail(src).evaluate(make_ee(0x5010), ISSUER, NOW)
    assert soft.status is RevocationStatus.UNKNOWN and soft.source is None


def test_constructor_arguments() -> None:
    with pytest.raises(ValueError):
        OcspSource("ftp://x")
    with pytest.raises(ValueError):
        OcspSource(nonce_size=0)
    with pytest.raises(ValueError):
        OcspSource(nonce_size=33)
    with pytest.raises(ValueError):
        OcspSource(timeout=0)


# ----------------------------------------------------------------------------- property


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=400))
def test_arbitrary_bytes_give_typed_errors_only(data: bytes) -> None:
    cert = make_ee(0x5011)
    request = ocsp.OCSPRequestBuilder().add_certificate(cert, ISSUER, hashes.SHA1())  # noqa: S303 - CertID hash, as RFC 5019 clients send.build()
    with pytest.raises(OcspError):
        validate_ocsp_response(
            data, cert=cert, issuer=ISSUER, request=request, nonce=b"n" * 32, now=NOW
        )


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_mutated_responses_give_typed_errors_only(data: st.DataObject) -> None:
    cert = make_ee(0x5012)
    nonce = b"n" * 32
    request = (
        ocsp.OCSPRequestBuilder()
        .add_certificate(cert, ISSUER, hashes.SHA1())  # noqa: S303 - CertID hash, as RFC 5019 clients send
        .add_extension(x509.OCSPNonce(nonce), critical=False)
        .build()
    )
    good = respond(request.public_bytes(serialization.Encoding.DER))
    pos = data.draw(st.integers(0, len(good) - 1))
    value = data.draw(st.integers(0, 255))
    mutated = good[:pos] + bytes([value]) + good[pos + 1 :]
    try:
        info = validate_ocsp_response(
            mutated, cert=cert, issuer=ISSUER, request=request, nonce=nonce, now=NOW
        )
    except OcspError:
        return
    # Accepted only if the change did not touch anything signed or checked.
    assert info.status is ocsp.OCSPCertStatus.GOOD
