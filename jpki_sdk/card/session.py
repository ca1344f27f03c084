"""The card session: :class:`JpkiCard` over any :class:`apdu.Transport`.

One session = one connection to one card. It keeps what it knows about the card to avoid
APDUs: which application and EF are selected (never re-selected), which PINs are verified in
this session, the certificates already read. All of it is dropped when anything goes wrong
below the application (a transport error, a reset), because then the card state is unknown.

PIN rules (spec §7), enforced here for every method that presents a PIN:

1. the format is checked offline first (nothing sent, no try used);
2. the counter is read with a case-1 VERIFY (no try used);
3. a blocked PIN is refused without sending VERIFY;
4. with one try left the PIN is not sent unless ``allow_last_attempt=True``;
5. VERIFY is sent once and never retried; if the link breaks during it, the counter is read
   back when possible and :class:`PinAttemptUncertainError` says the try may have counted.

On close, the security state is cleared: if a PIN was verified, the GP Issuer Security Domain
is selected (which leaves the JPKI application and drops its security state), then the
transport is closed (PC/SC resets the card by default).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from types import TracebackType

from cryptography import x509

from apdu import (
    ApduError,
    ApduTracer,
    CommandApdu,
    Exchange,
    ExchangeLoopError,
    ResponseApdu,
    ResponseTooLargeError,
    Transport,
    TransportError,
)
from apdu import CardRemovedError as ApduCardRemovedError
from apdu import NoCardError as ApduNoCardError
from apdu import ReaderNotFoundError as ApduReaderNotFoundError
from apdu import ReaderUnavailableError as ApduReaderUnavailableError
from jpki_sdk.card.cache import CertificateCache
from jpki_sdk.card.certificates import (
    MAX_EF_OFFSET,
    CertKind,
    der_total_length,
    parse_certificate,
)
from jpki_sdk.card.errors import (
    CardDataError,
    CardProtocolError,
    CardRemovedError,
    CertificateFormatError,
    CertificateNotPresentError,
    FileNotFoundOnCardError,
    LastAttemptRefusedError,
    NoReaderError,
    NotJpkiCardError,
    PinAttemptUncertainError,
    PinBlockedError,
    PinChangeUncertainError,
    PinRequiredError,
    ReaderUnavailableError,
    SignatureCheckError,
    TextDataFormatError,
    error_for_status,
)
from jpki_sdk.card.pins import (
    Application,
    PinBuffer,
    PinInput,
    PinKind,
    PinStatus,
    check_new_pin,
    normalize_pin,
)
from jpki_sdk.card.signing import (
    HashAlg,
    KeyKind,
    check_signature,
    digest_info,
    hash_message,
)
from jpki_sdk.card.textap import (
    BasicInfo,
    CardVerifiableCertificate,
    IntegrityRecord,
    MyNumber,
    ber_total_length,
    parse_basic_info,
    parse_my_number,
)
from jpki_sdk.card.textap import check_integrity as _check_integrity
from jpki_sdk.card.tokeninfo import TokenInfo, parse_token_info
from jpki_sdk.errors import JpkiError

logger = logging.getLogger(__name__)

__all__ = [
    "CardStatus",
    "CertificateAvailability",
    "JpkiCard",
    "ProgressCallback",
    "translate_apdu_error",
]

ProgressCallback = Callable[[str, int, "int | None"], None]
"""``progress(step, done, total)``: called while reading (bytes done / total bytes) and before
the card computes a signature (``("signing", 0, None)``). For a kiosk UI or the CLI."""

INS_SELECT = 0xA4
INS_READ_BINARY = 0xB0
INS_VERIFY = 0x20
INS_CHANGE_REFERENCE_DATA = 0x24
INS_COMPUTE_SIGNATURE = 0x2A

SHORT_CHUNK = 256
CERT_FIRST_READ = 2048
"""First extended READ BINARY of a certificate: every certificate seen (1.3-1.8 KB) fits, so
one APDU usually reads it; a longer one costs one more APDU for exactly the rest."""
TEXT_FIRST_READ = 1024
EF_TOKEN_INFO = 0x0006
EF_CERT_AVAILABILITY = 0x0008
EF_TEXT_MY_NUMBER = 0x0001
EF_TEXT_BASIC_INFO = 0x0002
EF_TEXT_INTEGRITY = 0x0003
EF_TEXT_CV_CERT = 0x0004
CERT_PRESENT = 0x8F


@dataclass(frozen=True)
class CertificateAvailability:
    """JPKI EF 0008: which certificates the card carries (``8F`` = present, spec §2.1)."""

    sign: bool
    auth: bool
    raw: bytes

    @classmethod
    def parse(cls, raw: bytes) -> CertificateAvailability:
        if len(raw) < 2:
            raise CardDataError(f"EF 0008 is {len(raw)} bytes, expected 3")
        return cls(sign=raw[0] == CERT_PRESENT, auth=raw[1] == CERT_PRESENT, raw=bytes(raw[:3]))


@dataclass(frozen=True)
class CardStatus:
    """What ``jpki status`` shows: token type, PIN counters, certificates present."""

    token: TokenInfo
    pins: dict[PinKind, PinStatus] = field(default_factory=dict)
    certificates: CertificateAvailability | None = None


class JpkiCard:
    """A session with one My Number card (or smartphone JPKI token) over ``transport``.

    Use as a context manager; see the module docstring for the PIN rules and state handling.
    ``cache`` (shared between sessions) and ``slot`` (which reader/card this is, for the
    cache) are optional; the signature certificate, which carries personal data, is only ever
    kept for the session. Methods are serialised by a lock, so a session may be shared
    between threads, one operation at a time.
    """

    def __init__(
        self,
        transport: Transport,
        *,
        tracer: ApduTracer | None = None,
        cache: CertificateCache | None = None,
        slot: str | None = None,
        progress: ProgressCallback | None = None,
        close_transport: bool = True,
    ) -> None:
        self._transport = transport
        self._exchange = Exchange(transport, tracer=tracer)
        self._cache = cache
        self._slot = slot if slot is not None else f"transport:{id(transport):x}"
        self._progress = progress
        self._close_transport = close_transport
        self._lock = threading.RLock()
        self._closed = False
        self._current_df: Application | None = None
        self._current_ef: int | None = None
        self._verified: set[PinKind] = set()
        self._certs: dict[CertKind, x509.Certificate] = {}
        self._certs_from_cache: set[CertKind] = set()
        self._token_info: TokenInfo | None = None
        self._text_integrity: tuple[IntegrityRecord, CardVerifiableCertificate] | None = None
        self._extended_reads = bool(transport.extended_length)

    # ----------------------------------------------------------------------------- lifecycle

    def __enter__(self) -> JpkiCard:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        return f"JpkiCard(slot={self._slot!r}, {state})"

    @property
    def exchange(self) -> Exchange:
        """The exchange layer (APDU and byte counters for benchmarks)."""
        return self._exchange

    @property
    def transport(self) -> Transport:
        return self._transport

    @property
    def slot(self) -> str:
        return self._slot

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def verified_pins(self) -> frozenset[PinKind]:
        """PINs verified in this session (as far as the SDK knows; the card never says)."""
        return frozenset(self._verified)

    @property
    def close_transport(self) -> bool:
        """Whether :meth:`close` also closes the transport (True unless told otherwise)."""
        return self._close_transport

    @close_transport.setter
    def close_transport(self, value: bool) -> None:
        self._close_transport = bool(value)

    def select(self, app: Application) -> None:
        """Select ``app`` unless it is already selected (recognises a JPKI card: a card
        without the JPKI application raises :class:`NotJpkiCardError`)."""
        if not isinstance(app, Application):
            raise TypeError(f"app must be an Application, not {type(app).__name__}")
        with self._lock:
            self._check_open()
            self._select_app(app)

    def close(self) -> None:
        """Clear the card's security state and release the transport. Idempotent."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            if self._verified:
                self._clear_security_state()
            self._forget_state()
            self._certs.clear()
            if self._close_transport:
                try:
                    self._transport.close()
                except (ApduError, OSError) as exc:
                    logger.debug("closing the transport failed: %s", type(exc).__name__)

    def logout(self) -> None:
        """Drop every verified PIN on the card now (select the GP ISD), keep the session."""
        with self._lock:
            self._check_open()
            self._clear_security_state()

    def _clear_security_state(self) -> None:
        cmd = CommandApdu(0x00, INS_SELECT, 0x04, 0x0C, Application.ISSUER_SECURITY_DOMAIN.aid)
        try:
            response = self._exchange.transmit(cmd)
        except ApduError as exc:
            logger.debug("clearing the security state failed: %s", type(exc).__name__)
            self._forget_state()
            return
        # Selecting any other DF leaves the JPKI/text AP and its security state, whatever the
        # answer; 9000 is expected (spec §1), anything else is only logged.
        if not response.ok:
            logger.debug("SELECT GP ISD answered %04X", response.sw)
        self._current_df = Application.ISSUER_SECURITY_DOMAIN if response.ok else None
        self._current_ef = None
        self._verified.clear()

    def _check_open(self) -> None:
        if self._closed:
            raise ValueError("this JpkiCard session is closed")

    def _forget_state(self) -> None:
        self._current_df = None
        self._current_ef = None
        self._verified.clear()

    # ------------------------------------------------------------------------ low level I/O

    def _transmit(self, cmd: CommandApdu, *, operation: str, redact: bool = False) -> ResponseApdu:
        try:
            return self._exchange.transmit(cmd, redact_response=redact)
        except ApduError as exc:
            raise self._link_failed(exc, operation) from exc

    def _link_failed(self, exc: ApduError, operation: str) -> JpkiError:
        """The card state is unknown after a transport failure: forget it, translate."""
        self._forget_state()
        self._certs.clear()
        self._certs_from_cache.clear()
        self._token_info = None
        self._text_integrity = None
        if self._cache is not None:
            self._cache.invalidate(self._slot)
        return translate_apdu_error(exc, operation)

    def _select_app(self, app: Application) -> None:
        if self._current_df is app:
            return
        cmd = CommandApdu(0x00, INS_SELECT, 0x04, 0x0C, app.aid)
        operation = f"SELECT {app.label}"
        response = self._transmit(cmd, operation=operation)
        # Whatever the answer, the previous DF's security state is gone or unknown.
        self._verified.clear()
        self._current_ef = None
        if not response.ok:
            self._current_df = None
            if app is Application.JPKI and response.sw in (0x6A82, 0x6A86, 0x6D00, 0x6E00):
                raise NotJpkiCardError(
                    f"the card has no JPKI application (SELECT answered {response.sw:04X})"
                )
            raise error_for_status(response.sw, operation=operation)
        self._current_df = app

    def _select_ef(self, app: Application, fid: int, *, pin_kind: PinKind | None = None) -> None:
        self._select_app(app)
        if self._current_ef == fid:
            return
        operation = f"SELECT EF {fid:04X}"
        cmd = CommandApdu(0x00, INS_SELECT, 0x02, 0x0C, fid.to_bytes(2, "big"))
        response = self._transmit(cmd, operation=operation)
        if not response.ok:
            self._current_ef = None
            raise error_for_status(response.sw, operation=operation, pin_kind=pin_kind)
        self._current_ef = fid

    def _chunk(self) -> int:
        cap = int(self._transport.max_response_data)
        if self._extended_reads:
            return max(1, min(cap, 65536))
        return max(1, min(cap, SHORT_CHUNK))

    def _read_binary(self, offset: int, le: int, *, operation: str, redact: bool) -> ResponseApdu:
        cmd = CommandApdu(0x00, INS_READ_BINARY, offset >> 8, offset & 0xFF, le=le)
        return self._transmit(cmd, operation=operation, redact=redact)

    def _read_object(
        self,
        total_length: Callable[[bytes], int | None],
        *,
        what: str,
        first_read: int,
        redact: bool = False,
        pin_kind: PinKind | None = None,
        error: type[CardDataError] = CardDataError,
    ) -> bytes:
        """Read the object at offset 0 of the current EF, length taken from its header.

        The first READ BINARY also gives the length; the rest is read in the largest chunks
        the link allows. An extended READ answered 6700/6Cxx falls back to short chunks for
        the rest of the session.
        """
        data = bytearray()
        total: int | None = None
        operation = f"READ BINARY {what}"
        while True:
            chunk = self._chunk()
            want = min(chunk, first_read) if total is None else min(chunk, total - len(data))
            offset = len(data)
            if offset > MAX_EF_OFFSET:
                raise error(f"{what}: object extends beyond the largest readable offset")
            response = self._read_binary(offset, want, operation=operation, redact=redact)
            sw = response.sw
            if want > SHORT_CHUNK and (sw == 0x6700 or response.sw1 == 0x6C):
                logger.info("extended READ BINARY refused (%04X): falling back to 256 bytes", sw)
                self._extended_reads = False
                continue
            if not response.ok and sw != 0x6282:
                raise error_for_status(sw, operation=operation, pin_kind=pin_kind)
            if not response.data:
                raise error(
                    f"{what}: the file ended after {len(data)} bytes"
                    + ("" if total is None else f", the object declares {total}")
                )
            data += response.data
            if total is None:
                total = total_length(bytes(data))
            if self._progress is not None:
                self._progress(
                    f"reading {what}", len(data) if total is None else min(len(data), total), total
                )
            if total is not None and len(data) >= total:
                return bytes(data[:total])
            if sw == 0x6282:
                raise error(f"{what}: end of file before the object's end")

    def _read_physical(self, *, what: str, redact: bool = False) -> bytes:
        """One READ BINARY of up to 256 bytes at offset 0: the whole of a small EF, filler
        included (the card returns what exists, spec §3.2)."""
        operation = f"READ BINARY {what}"
        response = self._read_binary(0, SHORT_CHUNK, operation=operation, redact=redact)
        if not response.ok and response.sw != 0x6282:
            raise error_for_status(response.sw, operation=operation)
        return response.data

    # -------------------------------------------------------------------------------- PINs

    def pin_status(self, kind: PinKind) -> PinStatus:
        """Tries left for ``kind`` without using one (case-1 VERIFY ``00 20 00 80``)."""
        if not isinstance(kind, PinKind):
            raise TypeError(f"kind must be a PinKind, not {type(kind).__name__}")
        with self._lock:
            self._check_open()
            self._select_ef(kind.application, kind.key_fid, pin_kind=kind)
            cmd = CommandApdu(0x00, INS_VERIFY, 0x00, 0x80)
            response = self._transmit(cmd, operation="VERIFY (retry counter query)")
            return self._status_from(kind, response)

    @staticmethod
    def _status_from(kind: PinKind, response: ResponseApdu) -> PinStatus:
        sw = response.sw
        if response.sw1 == 0x63 and response.sw2 & 0xF0 == 0xC0:
            return PinStatus(kind, response.sw2 & 0x0F, kind.max_tries)
        if sw in (0x6983, 0x6984):
            return PinStatus(kind, 0, kind.max_tries)
        if sw in (0x6300, 0x9000):
            # 6300: no limit reported; 9000: not expected from a JPKI card (spec §2.3).
            logger.debug("retry counter query answered %04X: tries left unknown", sw)
            return PinStatus(kind, None, kind.max_tries)
        raise error_for_status(sw, operation="VERIFY (retry counter query)", pin_kind=kind)

    def verify_pin(self, kind: PinKind, pin: PinInput, *, allow_last_attempt: bool = False) -> None:
        """Present ``pin`` for ``kind``, under the PIN rules of the module docstring.

        Raises :class:`PinFormatError`, :class:`PinBlockedError`,
        :class:`LastAttemptRefusedError` (all without sending the PIN),
        :class:`PinIncorrectError` (``remaining``), :class:`PinAttemptUncertainError`.
        """
        if not isinstance(kind, PinKind):
            raise TypeError(f"kind must be a PinKind, not {type(kind).__name__}")
        buf = normalize_pin(kind, pin)
        with buf, self._lock:
            self._check_open()
            self._verify_buffer(buf, allow_last_attempt=allow_last_attempt)

    def _verify_buffer(self, buf: PinBuffer, *, allow_last_attempt: bool) -> None:
        kind = buf.kind
        status = self.pin_status(kind)
        if status.blocked:
            raise PinBlockedError(kind)
        if status.last_attempt and not allow_last_attempt:
            raise LastAttemptRefusedError(kind)
        self._send_verify(buf)

    def _send_verify(self, buf: PinBuffer) -> None:
        kind = buf.kind
        # pin_status() just selected the key EF; P2=80 names it.
        cmd = CommandApdu(0x00, INS_VERIFY, 0x00, 0x80, bytes(buf.view()))
        try:
            response = self._exchange.transmit(cmd)
        except ApduError as exc:
            del cmd
            self._link_failed(exc, "VERIFY")
            remaining = self._reread_counter(kind)
            raise PinAttemptUncertainError(kind, remaining, type(exc).__name__) from exc
        del cmd
        if response.ok:
            self._verified.add(kind)
            logger.debug("%s verified", kind.name)
            return
        self._verified.discard(kind)
        raise error_for_status(response.sw, operation="VERIFY", pin_kind=kind)

    def _reread_counter(self, kind: PinKind) -> int | None:
        try:
            return self.pin_status(kind).remaining
        except JpkiError as exc:
            logger.debug(
                "could not re-read the counter after a broken VERIFY: %s", type(exc).__name__
            )
            return None

    def change_pin(
        self,
        kind: PinKind,
        current: PinInput,
        new: PinInput,
        *,
        allow_last_attempt: bool = False,
    ) -> None:
        """Change ``kind`` from ``current`` to ``new``: VERIFY, then CHANGE REFERENCE DATA
        ``00 24 01 80``. Both values are format-checked before anything is sent."""
        if not isinstance(kind, PinKind):
            raise TypeError(f"kind must be a PinKind, not {type(kind).__name__}")
        new_buf = check_new_pin(kind, new)
        with new_buf:
            cur_buf = normalize_pin(kind, current)
            with cur_buf, self._lock:
                self._check_open()
                self._verify_buffer(cur_buf, allow_last_attempt=allow_last_attempt)
                cmd = CommandApdu(
                    0x00, INS_CHANGE_REFERENCE_DATA, 0x01, 0x80, bytes(new_buf.view())
                )
                try:
                    response = self._exchange.transmit(cmd)
                except ApduError as exc:
                    del cmd
                    self._link_failed(exc, "CHANGE REFERENCE DATA")
                    raise PinChangeUncertainError(kind, type(exc).__name__) from exc
                del cmd
                if not response.ok:
                    raise error_for_status(
                        response.sw, operation="CHANGE REFERENCE DATA", pin_kind=kind
                    )
                logger.info("%s changed", kind.name)

    def _ensure_verified(
        self, kind: PinKind, pin: PinInput | None, *, allow_last_attempt: bool, purpose: str
    ) -> None:
        if pin is not None:
            self.verify_pin(kind, pin, allow_last_attempt=allow_last_attempt)
            return
        if self._is_verified(kind):
            return
        raise PinRequiredError(
            f"{purpose} needs the {kind.label}: pass it, or verify it first in this session "
            "(nothing was sent)",
            kind=kind,
        )

    # ------------------------------------------------------------------------- certificates

    def read_certificate(
        self,
        kind: CertKind,
        *,
        sign_password: PinInput | None = None,
        allow_last_attempt: bool = False,
    ) -> x509.Certificate:
        """Read a certificate of the JPKI-AP (length from the DER header, any size).

        The signature certificate needs the signature password (``sign_password``, or a
        :meth:`verify_pin` earlier in the session). Raises :class:`CertificateNotPresentError`
        when the card holds none of that kind.
        """
        if not isinstance(kind, CertKind):
            raise TypeError(f"kind must be a CertKind, not {type(kind).__name__}")
        with self._lock:
            self._check_open()
            if kind is CertKind.SIGN and not self._is_verified(PinKind.SIGN):
                if sign_password is None:
                    raise PinRequiredError(
                        "reading the signature certificate needs the signature password "
                        "(nothing was sent)",
                        kind=PinKind.SIGN,
                    )
                try:
                    self.verify_pin(
                        PinKind.SIGN, sign_password, allow_last_attempt=allow_last_attempt
                    )
                except FileNotFoundOnCardError as exc:
                    raise _no_sign_key(exc) from None
            cert = self._known_certificate(kind)
            if cert is not None:
                return cert
            return self._read_certificate_from_card(kind)

    def _is_verified(self, kind: PinKind) -> bool:
        return kind in self._verified and self._current_df is kind.application

    def _known_certificate(self, kind: CertKind) -> x509.Certificate | None:
        cert = self._certs.get(kind)
        if cert is None and self._cache is not None and kind is not CertKind.SIGN:
            cert = self._cache.get(self._slot, kind)
            if cert is not None:
                self._certs[kind] = cert
                self._certs_from_cache.add(kind)
        return cert

    def _read_certificate_from_card(self, kind: CertKind) -> x509.Certificate:
        pin_kind = kind.pin_kind or (PinKind.AUTH if kind is CertKind.AUTH else None)
        try:
            self._select_ef(Application.JPKI, kind.fid, pin_kind=pin_kind)
        except FileNotFoundOnCardError as exc:
            raise CertificateNotPresentError(
                f"the card has no {kind.label}", kind=kind, sw=exc.sw
            ) from None

        def length(head: bytes) -> int | None:
            if head[0] in (0x00, 0xFF):
                raise CertificateNotPresentError(f"the card has no {kind.label}", kind=kind)
            return der_total_length(head)

        der = self._read_object(
            length,
            what=kind.value + " certificate",
            first_read=CERT_FIRST_READ,
            # The signature certificate carries 基本4情報: kept out of APDU traces.
            redact=kind is CertKind.SIGN,
            pin_kind=pin_kind,
            error=CertificateFormatError,
        )
        cert = parse_certificate(der)
        self._certs[kind] = cert
        self._certs_from_cache.discard(kind)
        if self._cache is not None and kind is not CertKind.SIGN:
            self._cache.put(self._slot, kind, cert)
        return cert

    def certificate_availability(self) -> CertificateAvailability:
        """EF 0008: which certificates the card carries (free to read)."""
        with self._lock:
            self._check_open()
            self._select_ef(Application.JPKI, EF_CERT_AVAILABILITY)
            return CertificateAvailability.parse(self._read_physical(what="EF 0008"))

    def token_info(self) -> TokenInfo:
        """EF 0006: plastic card, 住基カード or smartphone token (cached for the session)."""
        with self._lock:
            self._check_open()
            if self._token_info is None:
                self._select_ef(Application.JPKI, EF_TOKEN_INFO)
                self._token_info = parse_token_info(self._read_physical(what="token info"))
            return self._token_info

    def status(self, *, include_text_pin: bool = True) -> CardStatus:
        """Token type, the counters of every PIN (no try used), certificates present."""
        with self._lock:
            token = self.token_info()
            try:
                availability: CertificateAvailability | None = self.certificate_availability()
            except (CardDataError, FileNotFoundOnCardError) as exc:
                logger.debug("EF 0008 unreadable: %s", exc)
                availability = None
            pins: dict[PinKind, PinStatus] = {}
            kinds = [PinKind.AUTH, PinKind.SIGN] + ([PinKind.TEXT] if include_text_pin else [])
            for kind in kinds:
                try:
                    pins[kind] = self.pin_status(kind)
                except FileNotFoundOnCardError:
                    # No signature key (a card without a signature certificate), or no
                    # text AP (a smartphone token).
                    logger.debug("no %s PIN on this token", kind.name)
            return CardStatus(token=token, pins=pins, certificates=availability)

    # ------------------------------------------------------------------------------ signing

    def sign(
        self,
        data: bytes | None = None,
        *,
        digest: bytes | None = None,
        key: KeyKind,
        hash: HashAlg = HashAlg.SHA256,
        pin: PinInput | None = None,
        allow_last_attempt: bool = False,
    ) -> bytes:
        """Sign ``data`` (hashed here) or a prehashed ``digest`` with ``key``.

        Builds the DigestInfo, verifies ``pin`` when given (else the PIN must have been
        verified in this session), signs with ``80 2A 00 80`` and checks the signature
        against the card's certificate before returning it (:class:`SignatureCheckError`).
        """
        if not isinstance(key, KeyKind):
            raise TypeError(f"key must be a KeyKind, not {type(key).__name__}")
        if not isinstance(hash, HashAlg):
            raise TypeError(f"hash must be a HashAlg, not {type(hash).__name__}")
        if (data is None) == (digest is None):
            raise ValueError("pass exactly one of data and digest")
        if digest is None:
            if not isinstance(data, (bytes, bytearray, memoryview)):
                raise TypeError("data must be bytes")
            digest = hash_message(hash, bytes(data))
        payload = digest_info(hash, digest)
        pin_kind = key.pin_kind
        buf = normalize_pin(pin_kind, pin) if pin is not None else None
        with self._lock:
            self._check_open()
            if buf is not None:
                with buf:
                    try:
                        self._verify_buffer(buf, allow_last_attempt=allow_last_attempt)
                    except FileNotFoundOnCardError as exc:
                        if key is KeyKind.SIGN:
                            raise _no_sign_key(exc) from None
                        raise
            elif not self._is_verified(pin_kind):
                raise PinRequiredError(
                    f"signing with the {key.value} key needs the {pin_kind.label}: pass pin= "
                    "or verify it first in this session (nothing was sent)",
                    kind=pin_kind,
                )
            cert = self._known_certificate(key.cert_kind)
            if cert is None:
                cert = self._read_certificate_from_card(key.cert_kind)
            from_shared = key.cert_kind in self._certs_from_cache
            signature = self._compute_signature(key, payload)
            try:
                check_signature(cert, hash, digest, signature)
            except SignatureCheckError:
                if not from_shared:
                    raise
                logger.info(
                    "cached certificate does not match the card in %s: re-reading", self._slot
                )
                self._certs.pop(key.cert_kind, None)
                if self._cache is not None:
                    self._cache.invalidate(self._slot)
                cert = self._read_certificate_from_card(key.cert_kind)
                check_signature(cert, hash, digest, signature)
            return signature

    def _compute_signature(self, key: KeyKind, payload: bytes) -> bytes:
        self._select_ef(Application.JPKI, key.key_fid, pin_kind=key.pin_kind)
        if self._progress is not None:
            self._progress("signing", 0, None)
        cmd = CommandApdu(0x80, INS_COMPUTE_SIGNATURE, 0x00, 0x80, payload, le=256)
        response = self._transmit(cmd, operation="COMPUTE DIGITAL SIGNATURE")
        if not response.ok:
            if response.sw == 0x6982:
                self._verified.discard(key.pin_kind)
            raise error_for_status(
                response.sw, operation="COMPUTE DIGITAL SIGNATURE", pin_kind=key.pin_kind
            )
        if not response.data:
            raise SignatureCheckError("the card answered 9000 to COMPUTE SIGNATURE without data")
        return response.data

    # ------------------------------------------------------------------------------ text AP

    def read_my_number(
        self,
        pin: PinInput | None = None,
        *,
        check_integrity: bool = True,
        allow_last_attempt: bool = False,
    ) -> MyNumber:
        """The 個人番号 (text AP EF 0001), check digit validated, checked against EF 0003.

        ``pin`` is the 4-digit text PIN (None if verified earlier in this session).
        """
        with self._lock:
            self._check_open()
            self._ensure_verified(
                PinKind.TEXT,
                pin,
                allow_last_attempt=allow_last_attempt,
                purpose="reading the 個人番号",
            )
            self._select_ef(Application.TEXT, EF_TEXT_MY_NUMBER, pin_kind=PinKind.TEXT)
            physical = self._read_physical(what="個人番号", redact=True)
            number = parse_my_number(physical)
            if check_integrity:
                record, cv = self._integrity_record()
                _check_integrity(record, cv, my_number_file=physical)
            return number

    def read_basic_info(
        self,
        pin: PinInput | None = None,
        *,
        check_integrity: bool = True,
        allow_last_attempt: bool = False,
    ) -> BasicInfo:
        """基本4情報 (text AP EF 0002) for form prefill, checked against EF 0003.

        The result's ``integrity`` says what the check proves (see
        :class:`~jpki_sdk.card.textap.IntegrityReport`): never verified identity.
        """
        with self._lock:
            self._check_open()
            self._ensure_verified(
                PinKind.TEXT,
                pin,
                allow_last_attempt=allow_last_attempt,
                purpose="reading the 基本4情報",
            )
            self._select_ef(Application.TEXT, EF_TEXT_BASIC_INFO, pin_kind=PinKind.TEXT)
            raw = self._read_object(
                ber_total_length,
                what="基本4情報",
                first_read=TEXT_FIRST_READ,
                redact=True,
                pin_kind=PinKind.TEXT,
                error=TextDataFormatError,
            )
            info = parse_basic_info(raw)
            if not check_integrity:
                return info
            record, cv = self._integrity_record()
            report = _check_integrity(record, cv, basic_info_file=raw)
            return BasicInfo(
                name=info.name,
                address=info.address,
                birth_date=info.birth_date,
                sex=info.sex,
                integrity=report,
            )

    def _integrity_record(self) -> tuple[IntegrityRecord, CardVerifiableCertificate]:
        if self._text_integrity is None:
            self._select_ef(Application.TEXT, EF_TEXT_INTEGRITY, pin_kind=PinKind.TEXT)
            raw = self._read_object(
                ber_total_length,
                what="EF 0003",
                first_read=TEXT_FIRST_READ,
                # Digests of the 個人番号 and 基本4情報 (a 12-digit number's digest can be
                # searched): kept out of APDU traces.
                redact=True,
                pin_kind=PinKind.TEXT,
                error=TextDataFormatError,
            )
            record = IntegrityRecord.parse(raw)
            self._select_ef(Application.TEXT, EF_TEXT_CV_CERT)
            raw = self._read_object(
                ber_total_length,
                what="EF 0004",
                first_read=TEXT_FIRST_READ,
                error=TextDataFormatError,
            )
            self._text_integrity = (record, CardVerifiableCertificate.parse(raw))
        return self._text_integrity


def _no_sign_key(exc: FileNotFoundOnCardError) -> CertificateNotPresentError:
    return CertificateNotPresentError(
        "the card has no signature certificate (no signature key or password on it)",
        kind=CertKind.SIGN,
        sw=exc.sw,
    )


def translate_apdu_error(exc: ApduError, operation: str) -> JpkiError:
    """The :mod:`jpki_sdk` error for an :mod:`apdu` error raised during ``operation``."""
    code = getattr(exc, "pcsc_code", None)
    if isinstance(exc, ApduCardRemovedError):
        return CardRemovedError(
            f"the card was removed or reset during {operation}; open a new session",
            operation=operation,
        )
    if isinstance(exc, ApduNoCardError):
        return CardRemovedError(
            f"no card in the reader during {operation}; open a new session",
            operation=operation,
        )
    if isinstance(exc, ApduReaderNotFoundError):
        return NoReaderError(f"the reader went away during {operation}", pcsc_code=code)
    if isinstance(exc, ApduReaderUnavailableError):
        return ReaderUnavailableError(
            f"the reader became unavailable during {operation}", pcsc_code=code
        )
    if isinstance(exc, TransportError):
        return CardProtocolError(f"the link to the card failed during {operation}: {exc}")
    if isinstance(exc, (ResponseTooLargeError, ExchangeLoopError)):
        return CardProtocolError(f"{operation}: {exc}")
    return CardProtocolError(f"{operation}: {type(exc).__name__}: {exc}")
