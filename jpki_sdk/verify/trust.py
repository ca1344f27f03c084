"""The trust store: the six pinned J-LIS roots, and test roots only by explicit opt-in.

JPKI has two single-tier hierarchies (user authentication, digital signature), each with
three root generations that share one distinguished name (spec §5.1). An end-entity
certificate's issuer is therefore chosen by its authority key identifier (matched against the
roots' subject key identifiers) and its signature, never by name alone.

The shipped roots are package data (``jpki_sdk/verify/roots/*.pem``), each pinned here by its
SHA-256 fingerprint: a modified or missing file is a :class:`ConfigurationError` at load.
An expired root stays in the store so that a certificate can be validated at a historical time
inside the root's validity; results report when the root used has expired.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from importlib import resources
from pathlib import Path
from typing import Any, Union

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import NameOID

from jpki_sdk.errors import ConfigurationError
from jpki_sdk.verify.errors import CertificateSignatureError, UntrustedIssuerError
from jpki_sdk.verify.profiles import CertificateFacts, Purpose

__all__ = ["TestRootSource", "TrustAnchor", "TrustStore"]

logger = logging.getLogger(__name__)

#: What :meth:`TrustStore.with_test_roots` accepts: a directory or file path, a certificate,
#: PEM/DER bytes, or an iterable of those.
TestRootSource = Union[
    str,
    "os.PathLike[str]",
    x509.Certificate,
    bytes,
    Iterable[Union[str, "os.PathLike[str]", x509.Certificate, bytes]],
]

# (file, J-LIS name, hierarchy, generation, SHA-256 of the DER) -- shared/data/jpki-ca/README.md
_SHIPPED_ROOTS: tuple[tuple[str, str, Purpose, int, str], ...] = (
    (
        "jpki-auth-ca-01-2015.pem",
        "authca01",
        Purpose.AUTH,
        1,
        "4dcfc4ca0aaf9fb2a3081b3f0c991c320b3acc008667a341eeaec5af1d58ca7d",
    ),
    (
        "jpki-auth-ca-02-2019.pem",
        "authca02",
        Purpose.AUTH,
        2,
        "0d98de47fc11b7f67126874b7028b6026a803d2638d6edfe53176953961fade6",
    ),
    (
        "jpki-auth-ca-03-2023.pem",
        "authca03",
        Purpose.AUTH,
        3,
        "64114f29620c24ed2631d46476a040e7ee740d956089c00b036a6a8118c322b5",
    ),
    (
        "jpki-sign-ca-01-2015.pem",
        "signca01",
        Purpose.SIGN,
        1,
        "19645405a1fe14377434bd55957628ac4038557c542403a2243f21c706fc9355",
    ),
    (
        "jpki-sign-ca-02-2019.pem",
        "signca02",
        Purpose.SIGN,
        2,
        "79679c33e4cc9319440f1ad120a597ff1844e2ef217063adb176966fd5e6fbeb",
    ),
    (
        "jpki-sign-ca-03-2023.pem",
        "signca03",
        Purpose.SIGN,
        3,
        "d227f6cde11d35c5252178f106f843d24651944975413b539fa2fb68dbfa365f",
    ),
)

_CERT_SUFFIXES = (".pem", ".crt", ".cer", ".der")
_MAX_ROOT_FILE = 1 << 20


@dataclass(frozen=True, eq=False)
class TrustAnchor:
    """One trusted root: its certificate and what the verifier knows about it.

    ``name`` is the J-LIS name (``authca02``) for shipped roots and ``test-<hierarchy>-NN``
    for test roots; ``key_id`` is its subject key identifier (computed from the key when the
    certificate has none).
    """

    certificate: x509.Certificate
    hierarchy: Purpose
    generation: int
    name: str
    is_test: bool
    key_id: bytes
    fingerprint_sha256: str
    der: bytes = field(repr=False)
    subject_der: bytes = field(repr=False)
    not_before: datetime = field(repr=False)
    not_after: datetime = field(repr=False)

    def is_valid_at(self, at: datetime) -> bool:
        return self.not_before <= at <= self.not_after

    def is_expired_at(self, at: datetime) -> bool:
        """True once ``at`` is past the root's notAfter."""
        return at > self.not_after

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, TrustAnchor):
            return NotImplemented
        return self.der == other.der and self.is_test == other.is_test

    def __hash__(self) -> int:
        return hash((self.fingerprint_sha256, self.is_test))

    def __repr__(self) -> str:
        kind = "test" if self.is_test else "J-LIS"
        return (
            f"TrustAnchor({self.name}, {kind} {self.hierarchy.value} root, "
            f"generation {self.generation}, key id {self.key_id.hex()}, "
            f"valid {self.not_before:%Y-%m-%d}..{self.not_after:%Y-%m-%d})"
        )

    def to_dict(self, *, at: datetime | None = None) -> dict[str, Any]:
        """JSON-ready description; with ``at``, also whether the root had expired then."""
        out: dict[str, Any] = {
            "name": self.name,
            "hierarchy": self.hierarchy.value,
            "generation": self.generation,
            "is_test": self.is_test,
            "key_id": self.key_id.hex(),
            "fingerprint_sha256": self.fingerprint_sha256,
            "subject": self.certificate.subject.rfc4514_string(),
            "not_before": self.not_before.isoformat(),
            "not_after": self.not_after.isoformat(),
        }
        if at is not None:
            out["expired"] = self.is_expired_at(at)
        return out

    @classmethod
    def from_certificate(
        cls,
        certificate: x509.Certificate,
        *,
        hierarchy: Purpose,
        generation: int,
        name: str,
        is_test: bool,
    ) -> TrustAnchor:
        """Build an anchor; the certificate must be a self-signed CA with a usable RSA key."""
        der = certificate.public_bytes(serialization.Encoding.DER)
        _check_root(certificate, name)
        facts = CertificateFacts.from_der(der)
        key_id = facts.subject_key_id
        if key_id is None:
            key_id = x509.SubjectKeyIdentifier.from_public_key(certificate.public_key()).digest
        return cls(
            certificate=certificate,
            hierarchy=hierarchy,
            generation=generation,
            name=name,
            is_test=is_test,
            key_id=key_id,
            fingerprint_sha256=hashlib.sha256(der).hexdigest(),
            der=der,
            subject_der=facts.subject_der,
            not_before=certificate.not_valid_before_utc,
            not_after=certificate.not_valid_after_utc,
        )


def _check_root(certificate: x509.Certificate, name: str) -> None:
    try:
        bc = certificate.extensions.get_extension_for_class(x509.BasicConstraints).value
    except x509.ExtensionNotFound:
        raise ConfigurationError(f"root {name}: no basicConstraints (not a CA)") from None
    except ValueError as exc:
        raise ConfigurationError(f"root {name}: unreadable extensions: {exc}") from None
    if not bc.ca:
        raise ConfigurationError(f"root {name}: basicConstraints cA is false (not a CA)")
    try:
        certificate.verify_directly_issued_by(certificate)
    except (ValueError, InvalidSignature, TypeError, UnsupportedAlgorithm) as exc:
        raise ConfigurationError(
            f"root {name}: not a valid self-signed certificate: {exc!r}"
        ) from None


class TrustStore:
    """An immutable set of :class:`TrustAnchor`, indexed by key identifier and hierarchy.

    Build it with :meth:`default` (the six J-LIS roots) and add test roots only with
    :meth:`with_test_roots` (returns a new store).
    """

    __slots__ = ("_anchors", "_by_hierarchy", "_by_key_id")

    def __init__(self, anchors: Iterable[TrustAnchor]) -> None:
        unique: dict[tuple[str, bool], TrustAnchor] = {}
        for anchor in anchors:
            if not isinstance(anchor, TrustAnchor):
                raise TypeError("anchors must be TrustAnchor instances")
            unique.setdefault((anchor.fingerprint_sha256, anchor.is_test), anchor)
        self._anchors = tuple(unique.values())
        self._by_key_id: dict[bytes, list[TrustAnchor]] = {}
        for anchor in self._anchors:
            self._by_key_id.setdefault(anchor.key_id, []).append(anchor)
        self._by_hierarchy = {
            h: tuple(a for a in self._anchors if a.hierarchy is h) for h in Purpose
        }

    # ------------------------------------------------------------------ constructors

    @classmethod
    def default(cls) -> TrustStore:
        """The six shipped J-LIS roots (auth and sign, generations 1-3), fingerprint-pinned."""
        return cls(_load_shipped())

    def with_test_roots(
        self, source: TestRootSource, *, hierarchy: Purpose | str | None = None
    ) -> TrustStore:
        """A new store that also trusts the given test roots (explicit opt-in).

        ``source`` is a directory (every ``*.pem``/``*.crt``/``*.cer``/``*.der`` file in it),
        a file, a certificate, PEM/DER bytes, or an iterable of those. Each root must be a
        self-signed CA. Its hierarchy comes from ``hierarchy`` or else from its name
        ("authentication"/"auth" or "signature"/"sign" in an OU or CN); generations are
        numbered by notBefore within each hierarchy. Results from these roots say
        ``is_test_root``. A certificate that is also a shipped root stays a J-LIS root.
        """
        forced = Purpose.parse(hierarchy) if hierarchy is not None else None
        certs = list(_collect_certificates(source))
        if not certs:
            raise ConfigurationError("no certificate found in the given test-root source")
        production = {a.fingerprint_sha256 for a in self._anchors if not a.is_test}
        existing_tests = [a for a in self._anchors if a.is_test]
        new_certs: list[tuple[x509.Certificate, Purpose]] = []
        for cert in certs:
            fp = hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest()
            if fp in production:
                logger.warning("test-root source contains J-LIS root %s: kept as J-LIS", fp)
                continue
            new_certs.append((cert, forced or _infer_hierarchy(cert)))
        pool = [(a.certificate, a.hierarchy) for a in existing_tests] + new_certs
        tests: list[TrustAnchor] = []
        for h in Purpose:
            ordered = sorted(
                {
                    c.public_bytes(serialization.Encoding.DER): c for c, ch in pool if ch is h
                }.values(),
                key=lambda c: (c.not_valid_before_utc, c.serial_number),
            )
            for generation, cert in enumerate(ordered, start=1):
                tests.append(
                    TrustAnchor.from_certificate(
                        cert,
                        hierarchy=h,
                        generation=generation,
                        name=f"test-{h.value}-{generation:02d}",
                        is_test=True,
                    )
                )
        for anchor in tests:
            logger.info("trusting test root %r (explicit opt-in)", anchor)
        return TrustStore([a for a in self._anchors if not a.is_test] + tests)

    # ------------------------------------------------------------------ queries

    @property
    def anchors(self) -> tuple[TrustAnchor, ...]:
        return self._anchors

    @property
    def has_test_roots(self) -> bool:
        return any(a.is_test for a in self._anchors)

    def __iter__(self) -> Iterator[TrustAnchor]:
        return iter(self._anchors)

    def __len__(self) -> int:
        return len(self._anchors)

    def __repr__(self) -> str:
        names = ", ".join(a.name for a in self._anchors)
        return f"TrustStore([{names}])"

    def for_hierarchy(self, hierarchy: Purpose | str) -> tuple[TrustAnchor, ...]:
        return self._by_hierarchy[Purpose.parse(hierarchy)]

    def by_key_id(self, key_id: bytes) -> tuple[TrustAnchor, ...]:
        """Anchors whose subject key identifier is ``key_id`` (usually zero or one)."""
        return tuple(self._by_key_id.get(key_id, ()))

    def by_name(self, cert: x509.Certificate, issuer_der: bytes) -> tuple[TrustAnchor, ...]:
        """Anchors whose subject is ``cert``'s issuer (raw DER compare, then Name equality)."""
        exact = tuple(a for a in self._anchors if a.subject_der == issuer_der)
        if exact:
            return exact
        try:
            issuer = cert.issuer
        except (ValueError, TypeError):  # cryptography parses the name lazily
            return ()
        return tuple(a for a in self._anchors if a.certificate.subject == issuer)

    def candidates(
        self, cert: x509.Certificate, facts: CertificateFacts | None = None
    ) -> tuple[TrustAnchor, ...]:
        """The anchors that may have issued ``cert``: by AKI key id, or by name without one.

        Raises :class:`UntrustedIssuerError` when there is none.
        """
        if facts is None:
            facts = CertificateFacts.from_der(cert.public_bytes(serialization.Encoding.DER))
        key_id = facts.authority_key_id
        if key_id is not None:
            found = self._by_key_id.get(key_id)
            if found:
                return tuple(found)
            same_name = self.by_name(cert, facts.issuer_der)
            extra = (
                f"; {len(same_name)} trusted root(s) share the issuer name but not the key id"
                if same_name
                else ""
            )
            text = issuer_text(cert)
            raise UntrustedIssuerError(
                f"no trusted root has key id {key_id.hex()} (issuer {text}){extra}",
                key_id=key_id.hex(),
                issuer=text,
            )
        found_by_name = self.by_name(cert, facts.issuer_der)
        if not found_by_name:
            text = issuer_text(cert)
            raise UntrustedIssuerError(f"no trusted root is named {text}", issuer=text)
        return found_by_name

    def select_issuer(
        self, cert: x509.Certificate, facts: CertificateFacts | None = None
    ) -> TrustAnchor:
        """The anchor that issued ``cert``: chosen by key id (or name) and then signature.

        Raises :class:`UntrustedIssuerError` (no candidate) or
        :class:`CertificateSignatureError` (candidates exist, none signed it).
        """
        candidates = self.candidates(cert, facts)
        for anchor in candidates:
            if verifies(cert, anchor):
                return anchor
        names = ", ".join(a.name for a in candidates)
        raise CertificateSignatureError(
            f"the certificate's signature does not verify with {names}",
            anchor=candidates[0] if len(candidates) == 1 else None,
        )


def verifies(cert: x509.Certificate, anchor: TrustAnchor) -> bool:
    """True when ``anchor`` signed ``cert`` (issuer name and signature)."""
    try:
        cert.verify_directly_issued_by(anchor.certificate)
    except (ValueError, InvalidSignature, TypeError, UnsupportedAlgorithm):
        return False
    return True


def issuer_text(cert: x509.Certificate) -> str:
    """The issuer DN as RFC 4514 text, or a placeholder when it cannot be parsed."""
    try:
        return cert.issuer.rfc4514_string()
    except (ValueError, TypeError):  # cryptography parses the name lazily
        return "<unreadable issuer>"


_SHIPPED_CACHE: list[TrustAnchor] = []
_SHIPPED_LOCK = threading.Lock()


def _load_shipped() -> list[TrustAnchor]:
    with _SHIPPED_LOCK:
        if not _SHIPPED_CACHE:
            _SHIPPED_CACHE.extend(_read_shipped())
        return list(_SHIPPED_CACHE)


def _read_shipped() -> list[TrustAnchor]:
    base = resources.files("jpki_sdk.verify").joinpath("roots")
    anchors = []
    for filename, name, hierarchy, generation, fingerprint in _SHIPPED_ROOTS:
        try:
            data = base.joinpath(filename).read_bytes()
        except OSError as exc:
            raise ConfigurationError(f"shipped root {filename} is missing: {exc}") from None
        try:
            cert = x509.load_pem_x509_certificate(data)
        except ValueError as exc:
            raise ConfigurationError(f"shipped root {filename} is unreadable: {exc}") from None
        der = cert.public_bytes(serialization.Encoding.DER)
        actual = hashlib.sha256(der).hexdigest()
        if actual != fingerprint:
            raise ConfigurationError(
                f"shipped root {filename} does not match its pinned fingerprint "
                f"(expected {fingerprint}, found {actual}): the package data was modified"
            )
        anchors.append(
            TrustAnchor.from_certificate(
                cert, hierarchy=hierarchy, generation=generation, name=name, is_test=False
            )
        )
    return anchors


_AUTH_WORDS = re.compile(r"authentication|\bauth\b|利用者証明", re.IGNORECASE)
_SIGN_WORDS = re.compile(r"signature|\bsign\b|署名", re.IGNORECASE)


def _infer_hierarchy(cert: x509.Certificate) -> Purpose:
    texts = [
        str(attr.value)
        for attr in cert.subject
        if attr.oid in (NameOID.ORGANIZATIONAL_UNIT_NAME, NameOID.COMMON_NAME)
    ]
    joined = " | ".join(texts)
    is_auth = bool(_AUTH_WORDS.search(joined))
    is_sign = bool(_SIGN_WORDS.search(joined))
    if is_auth != is_sign:
        return Purpose.AUTH if is_auth else Purpose.SIGN
    raise ConfigurationError(
        f"cannot tell whether test root {cert.subject.rfc4514_string()} serves user "
        "authentication or digital signature: pass hierarchy='auth' or 'sign'"
    )


def _collect_certificates(source: TestRootSource) -> Iterator[x509.Certificate]:
    if isinstance(source, x509.Certificate):
        yield source
    elif isinstance(source, (bytes, bytearray)):
        yield from _parse_blob(bytes(source), "<bytes>")
    elif isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if path.is_dir():
            files = sorted(
                p for p in path.iterdir() if p.is_file() and p.suffix.lower() in _CERT_SUFFIXES
            )
            for file in files:
                yield from _parse_file(file, skip_non_certificates=True)
        elif path.is_file():
            yield from _parse_file(path, skip_non_certificates=False)
        else:
            raise ConfigurationError(f"test-root source {path} does not exist")
    elif isinstance(source, Iterable):
        for item in source:
            if isinstance(item, (list, tuple)):
                raise TypeError("nested iterables are not accepted as test-root sources")
            yield from _collect_certificates(item)
    else:
        raise TypeError(f"unsupported test-root source type {type(source).__name__}")


def _parse_file(path: Path, *, skip_non_certificates: bool) -> Iterator[x509.Certificate]:
    try:
        size = path.stat().st_size
        if size > _MAX_ROOT_FILE:
            raise ConfigurationError(f"{path} is too large to be a root certificate file")
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigurationError(f"cannot read {path}: {exc}") from None
    if skip_non_certificates and b"-----BEGIN" in data and b"CERTIFICATE-----" not in data:
        logger.debug("skipping %s: no certificate in it", path)
        return
    yield from _parse_blob(data, str(path))


def _parse_blob(data: bytes, label: str) -> list[x509.Certificate]:
    try:
        if b"-----BEGIN" in data:
            return x509.load_pem_x509_certificates(data)
        return [x509.load_der_x509_certificate(data)]
    except ValueError as exc:
        raise ConfigurationError(f"{label} is not a certificate: {exc}") from None
