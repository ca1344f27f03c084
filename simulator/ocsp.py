"""An OCSP responder for the test PKI (RFC 6960 over HTTP, loopback only).

``OcspResponder(pki)`` answers for every root generation of both hierarchies: ``good`` for a
certificate the PKI issued and has not revoked, ``revoked`` (with time and reason) after
:meth:`TestPki.revoke`, ``unknown`` for a serial the issuing generation never issued. Requests
for another CA get ``unauthorized``; bytes that are not an OCSP request get
``malformedRequest``. Responses are signed by the root itself (``mode="ca"``) or by a
delegated responder certificate issued by that root (``mode="delegated"``: EKU OCSPSigning and
id-pkix-ocsp-nocheck, included in the response). The request nonce is echoed.

HTTP: ``POST`` with the DER request as body, or ``GET <url>/<url-encoded base64 request>``.
The server binds a loopback address only.
"""

from __future__ import annotations

import base64
import binascii
import datetime as _dt
import enum
import ipaddress
import logging
import threading
import time
import urllib.parse
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp

from simulator.pki import TestPki

__all__ = ["DEFAULT_NEXT_UPDATE", "OcspResponder", "ResponderMode"]

logger = logging.getLogger(__name__)

DEFAULT_NEXT_UPDATE = _dt.timedelta(hours=1)
MAX_REQUEST_BYTES = 64 * 1024
CONTENT_TYPE_REQUEST = "application/ocsp-request"
CONTENT_TYPE_RESPONSE = "application/ocsp-response"


class ResponderMode(str, enum.Enum):
    CA = "ca"  # signed by the issuing root's own key
    DELEGATED = "delegated"  # signed by a responder certificate issued by that root


def _system_clock() -> _dt.datetime:
    return _dt.datetime.now(_dt.timezone.utc)


class OcspResponder:
    """RFC 6960 responder over HTTP on a loopback address (``port=0``: any free port).

    Usable as a context manager; :meth:`respond` answers a DER request without HTTP.
    ``clock`` (a function returning an aware datetime) sets thisUpdate and the revocation
    cut-off; ``next_update`` is added to it for nextUpdate (None: no nextUpdate).
    """

    def __init__(
        self,
        pki: TestPki,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        mode: ResponderMode | str = ResponderMode.CA,
        clock: Callable[[], _dt.datetime] | None = None,
        next_update: _dt.timedelta | None = DEFAULT_NEXT_UPDATE,
    ) -> None:
        if not isinstance(pki, TestPki):
            raise TypeError("pki must be a simulator.pki.TestPki")
        try:
            loopback = ipaddress.ip_address(host).is_loopback
        except ValueError:
            loopback = host == "localhost"
        if not loopback:
            raise ValueError("the test OCSP responder binds a loopback address only")
        if not isinstance(port, int) or not 0 <= port <= 65535:
            raise ValueError("port must be 0..65535")
        try:
            self.mode = ResponderMode(mode)
        except ValueError:
            raise ValueError("mode must be 'ca' or 'delegated'") from None
        self.pki = pki
        self.host = host
        self.port = port
        self.next_update = next_update
        self._clock = clock or _system_clock
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self.requests_served = 0

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> OcspResponder:
        """Bind and serve in a background thread; returns self."""
        with self._lock:
            if self._server is not None:
                raise RuntimeError("the OCSP responder is already running")
            responder = self

            class Handler(_Handler):
                owner = responder

            server = ThreadingHTTPServer((self.host, self.port), Handler)
            server.daemon_threads = True
            self._server = server
            self.port = server.server_address[1]
            self._thread = threading.Thread(
                target=server.serve_forever, name=f"jpki-sim-ocsp:{self.port}", daemon=True
            )
            self._thread.start()
        logger.info("test OCSP responder listening on %s (%s mode)", self.url, self.mode.value)
        return self

    def stop(self) -> None:
        """Stop serving and close the socket (idempotent)."""
        with self._lock:
            server, thread = self._server, self._thread
            self._server = self._thread = None
        if server is not None:
            server.shutdown()
            server.server_close()
        if thread is not None:
            thread.join(timeout=10)

    @property
    def running(self) -> bool:
        return self._server is not None

    @property
    def url(self) -> str:
        """``http://host:port/`` (the bound port once started)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/"

    def wait(self, timeout: float | None = None) -> None:
        """Block until the responder stops (or ``timeout`` seconds pass); Ctrl-C interrupts."""
        thread = self._thread
        if thread is None:
            return
        deadline = None if timeout is None else time.monotonic() + timeout
        while thread.is_alive():
            remaining = 0.5 if deadline is None else min(0.5, deadline - time.monotonic())
            if remaining <= 0:
                return
            thread.join(remaining)

    def __enter__(self) -> OcspResponder:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- the protocol ------------------------------------------------------------------------

    def respond(self, request_der: bytes) -> bytes:
        """The DER OCSPResponse for a DER OCSPRequest (never raises for bad input)."""
        with self._lock:
            self.requests_served += 1
        try:
            return self._respond(request_der)
        except Exception:
            logger.exception("test OCSP responder failed on a request")
            return _unsuccessful(ocsp.OCSPResponseStatus.INTERNAL_ERROR)

    def _respond(self, request_der: bytes) -> bytes:
        try:
            request = ocsp.load_der_ocsp_request(request_der)
            algorithm = request.hash_algorithm
            name_hash = request.issuer_name_hash
            key_hash = request.issuer_key_hash
            serial = request.serial_number
        except (ValueError, TypeError, NotImplementedError, UnsupportedAlgorithm) as exc:
            logger.info("malformed OCSP request: %s", exc)
            return _unsuccessful(ocsp.OCSPResponseStatus.MALFORMED_REQUEST)
        try:
            nonce = request.extensions.get_extension_for_class(x509.OCSPNonce).value.nonce
        except x509.ExtensionNotFound:
            nonce = None
        except ValueError:
            return _unsuccessful(ocsp.OCSPResponseStatus.MALFORMED_REQUEST)
        found = self.pki.find_root_by_hash(algorithm, name_hash, key_hash)
        if found is None:
            logger.info("OCSP request for an issuer this test PKI does not have")
            return _unsuccessful(ocsp.OCSPResponseStatus.UNAUTHORIZED)
        hierarchy, generation = found
        now = self._clock().astimezone(_dt.timezone.utc).replace(microsecond=0)

        record = self.pki.lookup(hierarchy, serial)
        revocation_time = None
        revocation_reason = None
        if record is None or record.generation != generation:
            status = ocsp.OCSPCertStatus.UNKNOWN
        elif record.revocation is not None and record.revocation.revoked_at <= now:
            status = ocsp.OCSPCertStatus.REVOKED
            revocation_time = record.revocation.revoked_at
            revocation_reason = record.revocation.reason
        else:
            status = ocsp.OCSPCertStatus.GOOD

        if self.mode is ResponderMode.DELEGATED:
            try:
                signer_cert, signer_key = self.pki.ocsp_responder(hierarchy, generation, now)
            except ValueError:
                logger.info("no delegated responder: generation %d root not valid now", generation)
                return _unsuccessful(ocsp.OCSPResponseStatus.UNAUTHORIZED)
        else:
            signer_cert = self.pki.root(hierarchy, generation)
            signer_key = self.pki.root_key(hierarchy, generation)

        builder = ocsp.OCSPResponseBuilder().add_response_by_hash(
            issuer_name_hash=name_hash,
            issuer_key_hash=key_hash,
            serial_number=serial,
            algorithm=algorithm,
            cert_status=status,
            this_update=now,
            next_update=None if self.next_update is None else now + self.next_update,
            revocation_time=revocation_time,
            revocation_reason=revocation_reason,
        )
        builder = builder.responder_id(ocsp.OCSPResponderEncoding.HASH, signer_cert)
        if self.mode is ResponderMode.DELEGATED:
            builder = builder.certificates([signer_cert])
        if nonce is not None:
            builder = builder.add_extension(x509.OCSPNonce(nonce), critical=False)
        response = builder.sign(signer_key, hashes.SHA256())
        logger.debug("OCSP %s/%d serial %X: %s", hierarchy, generation, serial, status.name.lower())
        return response.public_bytes(serialization.Encoding.DER)


def _unsuccessful(status: ocsp.OCSPResponseStatus) -> bytes:
    return ocsp.OCSPResponseBuilder.build_unsuccessful(status).public_bytes(
        serialization.Encoding.DER
    )


class _Handler(BaseHTTPRequestHandler):
    owner: OcspResponder
    server_version = "jpki-sim-ocsp/1"
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:
        logger.debug("%s - %s", self.address_string(), format % args)

    def _reply(self, status: int, body: bytes, content_type: str = CONTENT_TYPE_RESPONSE) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _error(self, status: int, text: str) -> None:
        self.close_connection = True
        self._reply(status, text.encode() + b"\n", "text/plain; charset=utf-8")

    def do_POST(self) -> None:
        length_header = self.headers.get("Content-Length")
        if length_header is None:
            self._error(411, "Content-Length required")
            return
        try:
            length = int(length_header)
        except ValueError:
            self._error(400, "bad Content-Length")
            return
        if length < 0 or length > MAX_REQUEST_BYTES:
            self._error(413, "OCSP request too large")
            return
        body = self.rfile.read(length)
        content_type = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if content_type != CONTENT_TYPE_REQUEST:
            logger.info("OCSP POST with Content-Type %r (answered anyway)", content_type)
        self._reply(200, self.owner.respond(body))

    def do_GET(self) -> None:
        path = urllib.parse.urlsplit(self.path).path
        encoded = urllib.parse.unquote(path.lstrip("/"))
        if not encoded:
            self._error(404, "send an OCSP request: POST / or GET /<base64 request>")
            return
        if len(encoded) > MAX_REQUEST_BYTES * 2:
            self._error(414, "OCSP request too large")
            return
        try:
            der = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            try:
                der = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
            except (binascii.Error, ValueError):
                self._reply(200, _unsuccessful(ocsp.OCSPResponseStatus.MALFORMED_REQUEST))
                return
        self._reply(200, self.owner.respond(der))
