"""A test PKI shaped like J-LIS's JPKI (a simulated J-LIS).

Two single-tier hierarchies, ``auth`` (利用者証明用) and ``sign`` (署名用), each with several
root generations that share one DN (like the real roots: choose the issuer by key identifier or
signature, never by name). End-entity certificates follow spec §5.2/§5.3 field by field and in
the real extension order; only the names say TEST (``O=JPKI TEST``), the keys are generated
from a seed, and nothing here is signed with, or claims, a real J-LIS name.

A PKI lives either in memory (:meth:`TestPki.ephemeral`) or in a directory
(:meth:`TestPki.create` / :meth:`TestPki.load`): a manifest, the root certificates, the root
keys as PEM files labelled TEST, and an SQLite database of issued certificates, revocations and
CRL numbers (shared safely with an OCSP responder or CLI in another process).
"""

from __future__ import annotations

import datetime as _dt
import enum
import hashlib
import io
import itertools
import json
import logging
import os
import sqlite3
import string
import tempfile
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtendedKeyUsageOID, NameOID

from simulator.identity import Identity, birthday_in_year, jpki_birth_date
from simulator.keys import DeterministicRandom, rsa_key_from_seed
from simulator.names import municipality_by_code

__all__ = [
    "AUTH",
    "AUTH_POLICY_OID",
    "CPS_URI",
    "DEFAULT_GENERATIONS",
    "DEFAULT_OCSP_URL",
    "HIERARCHIES",
    "SAN_OID_ADDRESS",
    "SAN_OID_ADDRESS_SUBSTITUTES",
    "SAN_OID_BIRTH_DATE",
    "SAN_OID_NAME",
    "SAN_OID_NAME_SUBSTITUTES",
    "SAN_OID_SEX",
    "SAN_ORDER",
    "SIGN",
    "SIGN_POLICY_OID",
    "SIGN_TEST_POLICY_OID",
    "CrlKey",
    "GenerationSpec",
    "Hierarchy",
    "IssuedCard",
    "IssuedRecord",
    "PkiError",
    "PkiStoreError",
    "RevocationRecord",
    "TestPki",
    "certificate_not_after",
    "crl_distribution_point_name",
    "default_ca_directory",
    "root_name",
]

logger = logging.getLogger(__name__)

_CertBuilder = Callable[[int], x509.Certificate]
_ResponderKey = tuple[str, int, _dt.date]
Entry = tuple[int, x509.ReasonFlags, _dt.datetime]

JST = _dt.timezone(_dt.timedelta(hours=9), "JST")


class Hierarchy(str, enum.Enum):
    """The two JPKI hierarchies."""

    AUTH = "auth"  # 利用者証明用 (user authentication)
    SIGN = "sign"  # 署名用 (digital signature)


AUTH = Hierarchy.AUTH.value
SIGN = Hierarchy.SIGN.value
HIERARCHIES: tuple[str, ...] = (AUTH, SIGN)

AUTH_POLICY_OID = "1.2.392.200149.8.5.1.3.30"
SIGN_POLICY_OID = "1.2.392.200149.8.5.1.1.20"
#: The policy OID JPKI-TEST cards carry in their signature certificates (spec §5.3).
SIGN_TEST_POLICY_OID = "1.2.392.200149.8.5.1.0.20"
CPS_URI = "http://www.jpki.go.jp/cps.html"

SAN_OID_NAME = "1.2.392.200149.8.5.5.1"
SAN_OID_NAME_SUBSTITUTES = "1.2.392.200149.8.5.5.2"
SAN_OID_SEX = "1.2.392.200149.8.5.5.3"
SAN_OID_BIRTH_DATE = "1.2.392.200149.8.5.5.4"
SAN_OID_ADDRESS = "1.2.392.200149.8.5.5.5"
SAN_OID_ADDRESS_SUBSTITUTES = "1.2.392.200149.8.5.5.6"
#: The order of the six otherNames on real cards: .1 .4 .3 .5 .2 .6 (spec §5.3).
SAN_ORDER: tuple[str, ...] = (
    SAN_OID_NAME,
    SAN_OID_BIRTH_DATE,
    SAN_OID_SEX,
    SAN_OID_ADDRESS,
    SAN_OID_NAME_SUBSTITUTES,
    SAN_OID_ADDRESS_SUBSTITUTES,
)

DEFAULT_OCSP_URL = "http://127.0.0.1:8089/"
DEFAULT_CRL_VALIDITY = _dt.timedelta(hours=24)

_FORMAT = "jpki-simulator-test-pki"
_FORMAT_VERSION = 1
_WARNING = (
    "TEST PKI of the jpki-sdk simulator. NOT J-LIS. Its keys are derived from a public seed: "
    "never trust these roots outside tests."
)

# Serials of end-entity certificates: 4-byte positive integers, as on real cards.
_SERIAL_MIN = 0x01000000
_SERIAL_MAX = 0x7FFFFFFF


class PkiError(Exception):
    """Base class of the test PKI's errors."""


class PkiStoreError(PkiError):
    """A PKI directory is missing, corrupt or not a test PKI directory."""

    def __init__(self, path: Path | str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = Path(path)
        self.reason = reason


@dataclass(frozen=True)
class GenerationSpec:
    """Validity of one root generation (shared by both hierarchies)."""

    not_before: _dt.datetime
    not_after: _dt.datetime

    def __post_init__(self) -> None:
        for label in ("not_before", "not_after"):
            value = getattr(self, label)
            if not isinstance(value, _dt.datetime) or value.tzinfo is None:
                raise ValueError(f"{label} must be a timezone-aware datetime")
            object.__setattr__(
                self, label, value.astimezone(_dt.timezone.utc).replace(microsecond=0)
            )
        if self.not_after <= self.not_before:
            raise ValueError("not_after must be after not_before")


def _utc(text: str) -> _dt.datetime:
    return _dt.datetime.fromisoformat(text).replace(tzinfo=_dt.timezone.utc)


#: Root generations modelled on the real ones (10 years each, a new one about every 4 years;
#: the first has expired, like J-LIS's 2015 roots).
DEFAULT_GENERATIONS: tuple[GenerationSpec, ...] = (
    GenerationSpec(_utc("2015-10-20T03:00:00"), _utc("2025-10-19T14:59:59")),
    GenerationSpec(_utc("2019-09-14T23:42:00"), _utc("2029-09-14T14:59:59")),
    GenerationSpec(_utc("2023-07-16T01:00:00"), _utc("2033-07-15T14:59:59")),
)

_HIERARCHY_LABEL = {AUTH: "user authentication", SIGN: "digital signature"}
_HIERARCHY_JA = {AUTH: "利用者証明用", SIGN: "署名用"}
_SIM_OU = "JPKI Simulator - not J-LIS"


def _hierarchy(value: str | Hierarchy) -> str:
    try:
        return Hierarchy(value).value
    except ValueError:
        raise ValueError(f"hierarchy must be 'auth' or 'sign', not {value!r}") from None


def root_name(hierarchy: str) -> x509.Name:
    """Subject = issuer of a test root: ``C=JP, O=JPKI TEST, OU=JPKI TEST for ..., OU=...``."""
    h = _hierarchy(hierarchy)
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "JPKI TEST"),
            x509.NameAttribute(
                NameOID.ORGANIZATIONAL_UNIT_NAME, f"JPKI TEST for {_HIERARCHY_LABEL[h]}"
            ),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, _SIM_OU),
        ]
    )


def _japanese_dirname(hierarchy: str) -> x509.Name:
    """The roots' SAN and the end entities' IAN: the Japanese name, marked テスト."""
    h = _hierarchy(hierarchy)
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "公的個人認証サービス（テスト）"),
            x509.NameAttribute(
                NameOID.ORGANIZATIONAL_UNIT_NAME,
                f"公的個人認証サービス{_HIERARCHY_JA[h]}（テスト）",
            ),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "JPKIシミュレータ（試験用）"),
        ]
    )


def crl_distribution_point_name(
    hierarchy: str, prefecture_romaji: str, municipality_romaji: str
) -> x509.Name:
    """The per-municipality CRL DP DirName (spec §5.2 ext 5), with the TEST names."""
    h = _hierarchy(hierarchy)
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "JPKI TEST"),
            x509.NameAttribute(
                NameOID.ORGANIZATIONAL_UNIT_NAME, f"JPKI TEST for {_HIERARCHY_LABEL[h]}"
            ),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "CRL Distribution Points"),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, prefecture_romaji),
            x509.NameAttribute(NameOID.COMMON_NAME, f"{municipality_romaji} CRLDP"),
        ]
    )


def default_ca_directory() -> Path:
    """Where the CLI keeps its test PKI: ``$JPKI_SIM_CA``, else a per-user data directory."""
    env = os.environ.get("JPKI_SIM_CA")
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "jpki-sdk" / "simulator-test-ca"


def certificate_not_after(birth_date: _dt.date, issued_at: _dt.datetime) -> _dt.datetime:
    """End of validity: 23:59:59 JST (14:59:59Z) on the holder's 5th birthday after issuance.

    Birthdays are counted from the day after the issuance date in Japan (a certificate issued
    on the holder's birthday counts that birthday's next occurrence as the first). A 29
    February birthday falls on 28 February in common years.
    """
    if issued_at.tzinfo is None:
        raise ValueError("issued_at must be timezone-aware")
    issue_day = issued_at.astimezone(JST).date()
    first = birthday_in_year(birth_date, issue_day.year)
    if first <= issue_day:
        first = birthday_in_year(birth_date, issue_day.year + 1)
    fifth = birthday_in_year(birth_date, first.year + 4)
    return _dt.datetime(fifth.year, fifth.month, fifth.day, 14, 59, 59, tzinfo=_dt.timezone.utc)


def _now(now: _dt.datetime | None) -> _dt.datetime:
    if now is None:
        return _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0)
    if not isinstance(now, _dt.datetime):
        raise TypeError("now must be a datetime")
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware (e.g. datetime.now(timezone.utc))")
    return now.astimezone(_dt.timezone.utc).replace(microsecond=0)


def _reason(reason: x509.ReasonFlags | str) -> x509.ReasonFlags:
    if isinstance(reason, x509.ReasonFlags):
        flag = reason
    elif isinstance(reason, str):
        wanted = reason.replace("-", "_").replace(" ", "_").lower()
        for candidate in x509.ReasonFlags:
            if wanted in (candidate.name.lower(), candidate.value.lower()):
                flag = candidate
                break
        else:
            names = ", ".join(r.value for r in x509.ReasonFlags if r.name != "remove_from_crl")
            raise ValueError(f"unknown revocation reason {reason!r}; one of: {names}")
    else:
        raise TypeError("reason must be an x509.ReasonFlags or its name")
    if flag is x509.ReasonFlags.remove_from_crl:
        raise ValueError("removeFromCRL is not a revocation reason")
    return flag


def _utf8_der(text: str) -> bytes:
    raw = text.encode("utf-8")
    return b"\x0c" + _der_length(len(raw)) + raw


def _der_length(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    body = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(body)]) + body


def _ski(cert: x509.Certificate) -> bytes:
    return cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest


@dataclass(frozen=True)
class CrlKey:
    """One CRL partition: hierarchy x root generation x municipality DP."""

    hierarchy: str
    generation: int
    municipality_code: str

    @property
    def filename(self) -> str:
        return f"{self.municipality_code}.crl"


@dataclass(frozen=True)
class RevocationRecord:
    hierarchy: str
    generation: int
    serial: int
    reason: x509.ReasonFlags
    revoked_at: _dt.datetime


@dataclass(frozen=True)
class IssuedRecord:
    """What the PKI remembers about an issued certificate (no personal data)."""

    hierarchy: str
    generation: int
    serial: int
    municipality_code: str
    prefecture_romaji: str
    municipality_romaji: str
    not_after: _dt.datetime
    certificate_der: bytes
    revocation: RevocationRecord | None

    @property
    def certificate(self) -> x509.Certificate:
        return x509.load_der_x509_certificate(self.certificate_der)


@dataclass(frozen=True, repr=False)
class IssuedCard:
    """The keys and certificates for one new card."""

    identity: Identity
    generation: int
    auth_key: rsa.RSAPrivateKey
    auth_cert: x509.Certificate
    auth_ca_cert: x509.Certificate
    sign_key: rsa.RSAPrivateKey | None
    sign_cert: x509.Certificate | None
    sign_ca_cert: x509.Certificate

    def __repr__(self) -> str:
        sign = f"{self.sign_cert.serial_number:08X}" if self.sign_cert is not None else None
        return (
            f"IssuedCard(generation={self.generation}, "
            f"auth_serial={self.auth_cert.serial_number:08X}, sign_serial={sign}, "
            f"identity={self.identity!r})"
        )


@dataclass(frozen=True)
class _Root:
    hierarchy: str
    generation: int
    cert: x509.Certificate
    key: rsa.RSAPrivateKey
    ski: bytes


_SCHEMA = """
CREATE TABLE IF NOT EXISTS issued (
    hierarchy TEXT NOT NULL,
    serial INTEGER NOT NULL,
    generation INTEGER NOT NULL,
    municipality_code TEXT NOT NULL,
    prefecture_romaji TEXT NOT NULL,
    municipality_romaji TEXT NOT NULL,
    not_after TEXT NOT NULL,
    holder TEXT NOT NULL,
    der BLOB NOT NULL,
    PRIMARY KEY (hierarchy, serial)
);
CREATE INDEX IF NOT EXISTS issued_holder ON issued (holder, hierarchy);
CREATE TABLE IF NOT EXISTS revoked (
    hierarchy TEXT NOT NULL,
    serial INTEGER NOT NULL,
    reason TEXT NOT NULL,
    revoked_at TEXT NOT NULL,
    PRIMARY KEY (hierarchy, serial)
);
CREATE TABLE IF NOT EXISTS crl_number (
    hierarchy TEXT NOT NULL,
    generation INTEGER NOT NULL,
    scope TEXT NOT NULL,
    number INTEGER NOT NULL,
    PRIMARY KEY (hierarchy, generation, scope)
);
"""


class _Store:
    """The SQLite database of a PKI (a file, or in memory for ephemeral PKIs)."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        target = ":memory:" if path is None else str(path)
        self._conn = sqlite3.connect(
            target, timeout=30.0, isolation_level=None, check_same_thread=False
        )
        self._lock = threading.RLock()
        with self._lock:
            if path is not None:
                self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.executescript(_SCHEMA)

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def query(self, sql: str, params: Sequence[object] = ()) -> list[tuple[object, ...]]:
        with self._lock:
            return list(self._conn.execute(sql, params).fetchall())

    def close(self) -> None:
        with self._lock:
            self._conn.close()


def _card_key_seed(pki_seed: int, material: str, hierarchy: str) -> bytes:
    return hashlib.sha256(f"jpki-sim/v1/{pki_seed}/card/{material}/{hierarchy}".encode()).digest()


def _holder_key(identity: Identity) -> str:
    data = json.dumps(identity.to_dict(), sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(data.encode("utf-8")).hexdigest()[:32]


_CN_ALPHABET = string.digits + string.ascii_uppercase


class TestPki:
    """A simulated J-LIS: test roots (auth/sign x generations), issuance, revocation, CRLs.

    Build with :meth:`ephemeral`, :meth:`create` or :meth:`load`; not directly.
    """

    __test__ = False  # not a pytest test class despite its name

    def __init__(
        self,
        *,
        seed: int,
        generations: Sequence[GenerationSpec],
        roots: dict[tuple[str, int], _Root],
        store: _Store,
        directory: Path | None,
        ocsp_url: str,
    ) -> None:
        self._seed = seed
        self._generations = tuple(generations)
        self._roots = roots
        self._store = store
        self._directory = directory
        self._ocsp_url = ocsp_url
        self._responders: dict[_ResponderKey, tuple[x509.Certificate, rsa.RSAPrivateKey]] = {}
        self._lock = threading.RLock()

    # -- construction ----------------------------------------------------------------------

    @classmethod
    def ephemeral(
        cls,
        seed: int = 0,
        *,
        generations: Sequence[GenerationSpec] | None = None,
        ocsp_url: str = DEFAULT_OCSP_URL,
    ) -> TestPki:
        """An in-memory PKI (nothing written to disk). Same seed -> same roots."""
        seed = _check_seed(seed)
        gens = _check_generations(generations)
        roots = _make_roots(seed, gens)
        return cls(
            seed=seed,
            generations=gens,
            roots=roots,
            store=_Store(None),
            directory=None,
            ocsp_url=_check_url(ocsp_url),
        )

    @classmethod
    def create(
        cls,
        directory: str | os.PathLike[str],
        *,
        seed: int = 0,
        generations: Sequence[GenerationSpec] | None = None,
        ocsp_url: str = DEFAULT_OCSP_URL,
    ) -> TestPki:
        """Create a PKI in ``directory`` (which must not exist or be empty)."""
        seed = _check_seed(seed)
        gens = _check_generations(generations)
        url = _check_url(ocsp_url)
        path = Path(directory)
        if path.exists() and (not path.is_dir() or any(path.iterdir())):
            raise FileExistsError(f"{path} exists and is not an empty directory")
        path.mkdir(parents=True, exist_ok=True)
        (path / "keys").mkdir(exist_ok=True)
        (path / "roots").mkdir(exist_ok=True)
        os.chmod(path / "keys", 0o700)
        roots = _make_roots(seed, gens)
        entries: dict[str, list[dict[str, object]]] = {h: [] for h in HIERARCHIES}
        for (h, g), root in sorted(roots.items()):
            cert_rel = f"roots/jpki-test-{h}-ca-{g:02d}.pem"
            key_rel = f"keys/TEST-ONLY-{h}-ca-{g:02d}.key.pem"
            _atomic_write(path / cert_rel, root.cert.public_bytes(serialization.Encoding.PEM))
            key_pem = root.key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
            banner = (
                f"JPKI SIMULATOR TEST KEY ({h} root, generation {g}). NOT A J-LIS KEY.\n"
                f"Derived from the public test seed {seed}: anyone can recompute it.\n"
            ).encode()
            _atomic_write(path / key_rel, banner + key_pem, mode=0o600)
            entries[h].append(
                {
                    "generation": g,
                    "certificate": cert_rel,
                    "key": key_rel,
                    "not_before": root.cert.not_valid_before_utc.isoformat(),
                    "not_after": root.cert.not_valid_after_utc.isoformat(),
                }
            )
        manifest = {
            "format": _FORMAT,
            "version": _FORMAT_VERSION,
            "warning": _WARNING,
            "seed": seed,
            "ocsp_url": url,
            "generations": [
                {"not_before": g.not_before.isoformat(), "not_after": g.not_after.isoformat()}
                for g in gens
            ],
            "roots": entries,
        }
        store = _Store(path / "pki.sqlite3")
        _atomic_write(
            path / "manifest.json",
            (json.dumps(manifest, indent=2, ensure_ascii=False) + "\n").encode(),
        )
        logger.info("created a test PKI in %s (seed %d)", path, seed)
        return cls(
            seed=seed, generations=gens, roots=roots, store=store, directory=path, ocsp_url=url
        )

    @classmethod
    def load(cls, directory: str | os.PathLike[str]) -> TestPki:
        """Open a PKI made by :meth:`create`. Missing or foreign files -> PkiStoreError."""
        path = Path(directory)
        manifest_path = path / "manifest.json"
        try:
            raw = manifest_path.read_bytes()
        except FileNotFoundError:
            raise PkiStoreError(path, "not a test PKI directory (no manifest.json)") from None
        except OSError as exc:
            raise PkiStoreError(path, f"cannot read manifest.json: {exc.strerror}") from None
        try:
            manifest = json.loads(raw)
        except (ValueError, UnicodeDecodeError, RecursionError):
            raise PkiStoreError(manifest_path, "manifest is not valid JSON") from None
        if not isinstance(manifest, dict) or manifest.get("format") != _FORMAT:
            raise PkiStoreError(manifest_path, "not a jpki simulator test PKI manifest")
        if manifest.get("version") != _FORMAT_VERSION:
            raise PkiStoreError(
                manifest_path, f"unsupported test PKI version {manifest.get('version')!r}"
            )
        try:
            seed = _check_seed(manifest["seed"])
            url = _check_url(manifest["ocsp_url"])
            gens = tuple(
                GenerationSpec(
                    _dt.datetime.fromisoformat(g["not_before"]),
                    _dt.datetime.fromisoformat(g["not_after"]),
                )
                for g in manifest["generations"]
            )
            _check_generations(gens)
            roots: dict[tuple[str, int], _Root] = {}
            for h in HIERARCHIES:
                for entry in manifest["roots"][h]:
                    g = int(entry["generation"])
                    roots[(h, g)] = _load_root(path, h, g, entry["certificate"], entry["key"])
        except PkiStoreError:
            raise
        except (KeyError, TypeError, ValueError, OverflowError, AttributeError) as exc:
            raise PkiStoreError(
                manifest_path, f"manifest is incomplete or invalid ({exc})"
            ) from None
        if sorted(roots) != sorted((h, g) for h in HIERARCHIES for g in range(1, len(gens) + 1)):
            raise PkiStoreError(manifest_path, "manifest roots do not match its generations")
        db = path / "pki.sqlite3"
        if not db.is_file():
            raise PkiStoreError(db, "the PKI database is missing")
        try:
            store = _Store(db)
        except sqlite3.DatabaseError as exc:
            raise PkiStoreError(db, f"the PKI database is unreadable ({exc})") from None
        return cls(
            seed=seed, generations=gens, roots=roots, store=store, directory=path, ocsp_url=url
        )

    @classmethod
    def open(
        cls, directory: str | os.PathLike[str], *, seed: int = 0, ocsp_url: str = DEFAULT_OCSP_URL
    ) -> TestPki:
        """Load the PKI in ``directory``, creating it (with ``seed``) if it does not exist."""
        path = Path(directory)
        if (path / "manifest.json").exists():
            return cls.load(path)
        return cls.create(path, seed=seed, ocsp_url=ocsp_url)

    def close(self) -> None:
        self._store.close()

    def __enter__(self) -> TestPki:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        where = str(self._directory) if self._directory is not None else "memory"
        return f"TestPki(seed={self._seed}, generations={len(self._generations)}, at={where})"

    # -- roots -----------------------------------------------------------------------------

    @property
    def seed(self) -> int:
        return self._seed

    @property
    def directory(self) -> Path | None:
        return self._directory

    @property
    def ocsp_url(self) -> str:
        """The OCSP URL written into new auth certificates (AIA)."""
        return self._ocsp_url

    def set_ocsp_url(self, url: str) -> None:
        """Change the AIA OCSP URL for certificates issued from now on (persisted)."""
        url = _check_url(url)
        with self._lock:
            self._ocsp_url = url
            if self._directory is not None:
                manifest_path = self._directory / "manifest.json"
                manifest = json.loads(manifest_path.read_bytes())
                manifest["ocsp_url"] = url
                _atomic_write(
                    manifest_path,
                    (json.dumps(manifest, indent=2, ensure_ascii=False) + "\n").encode(),
                )

    @property
    def generation_specs(self) -> tuple[GenerationSpec, ...]:
        return self._generations

    def generations(self) -> list[int]:
        """Generation numbers, oldest first (1-based)."""
        return list(range(1, len(self._generations) + 1))

    def roots(self, hierarchy: str) -> list[x509.Certificate]:
        """The root certificates of a hierarchy, oldest generation first."""
        h = _hierarchy(hierarchy)
        return [self._roots[(h, g)].cert for g in self.generations()]

    def root(self, hierarchy: str, generation: int) -> x509.Certificate:
        return self._root(hierarchy, generation).cert

    def root_key(self, hierarchy: str, generation: int) -> rsa.RSAPrivateKey:
        return self._root(hierarchy, generation).key

    def _root(self, hierarchy: str, generation: int) -> _Root:
        h = _hierarchy(hierarchy)
        root = self._roots.get((h, generation))
        if root is None:
            raise ValueError(
                f"no generation {generation!r} in this PKI (generations: {self.generations()})"
            )
        return root

    def current_generation(self, hierarchy: str = AUTH, now: _dt.datetime | None = None) -> int:
        """The newest generation whose root is valid at ``now`` (new cards are issued by it)."""
        at = _now(now)
        h = _hierarchy(hierarchy)
        valid = [
            g
            for g in self.generations()
            if self._roots[(h, g)].cert.not_valid_before_utc
            <= at
            <= self._roots[(h, g)].cert.not_valid_after_utc
        ]
        if not valid:
            raise ValueError(f"no {h} root generation of this PKI is valid at {at.isoformat()}")
        return max(valid)

    def find_issuer(self, cert: x509.Certificate) -> tuple[str, int] | None:
        """(hierarchy, generation) of the root that signed ``cert``, or None."""
        try:
            aki = cert.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
            keyid = aki.key_identifier
        except x509.ExtensionNotFound:
            keyid = None
        for (h, g), root in sorted(self._roots.items()):
            if keyid is not None and keyid != root.ski:
                continue
            if cert.issuer != root.cert.subject:
                continue
            try:
                cert.verify_directly_issued_by(root.cert)
            except (ValueError, TypeError, InvalidSignature):
                logger.debug("certificate not signed by the %s generation %d root", h, g)
                continue
            return (h, g)
        return None

    def find_root_by_hash(
        self, algorithm: hashes.HashAlgorithm, name_hash: bytes, key_hash: bytes
    ) -> tuple[str, int] | None:
        """(hierarchy, generation) whose subject/key hashes match an OCSP CertID, or None."""
        for (h, g), root in sorted(self._roots.items()):
            digest = hashes.Hash(type(algorithm)())
            digest.update(root.cert.subject.public_bytes())
            if digest.finalize() != name_hash:
                continue
            digest = hashes.Hash(type(algorithm)())
            digest.update(_public_key_bits(root.cert))
            if digest.finalize() == key_hash:
                return (h, g)
        return None

    # -- issuance --------------------------------------------------------------------------

    def issue(
        self,
        identity: Identity,
        *,
        sign: bool = True,
        now: _dt.datetime | None = None,
        generation: int | None = None,
        seed: int | str | None = None,
        test_policy: bool = False,
        ocsp_url: str | None = None,
        sign_ocsp: bool = False,
    ) -> IssuedCard:
        """Issue a card's auth (and, with ``sign``, signature) key pair and certificates.

        ``now`` is the issuance time (default: the current time); ``generation`` picks the root
        generation (default: the newest valid at ``now``; the chosen root must be valid at
        ``now``). Keys and serials are deterministic: from ``seed`` when given, otherwise from
        this PKI's seed, the identity and how many cards that identity already has here.
        ``test_policy`` uses the JPKI-TEST signature policy OID ``1.2.392.200149.8.5.1.0.20``.
        ``ocsp_url`` overrides the auth certificate's AIA OCSP URL; ``sign_ocsp`` also gives the
        signature certificate an AIA (real ones are believed to have none, spec §5.3).
        """
        if not isinstance(identity, Identity):
            raise TypeError("identity must be a simulator.identity.Identity")
        at = _now(now)
        gen = self.current_generation(AUTH, at) if generation is None else generation
        auth_root = self._root(AUTH, gen)
        sign_root = self._root(SIGN, gen)
        for root in (auth_root, sign_root):
            if not root.cert.not_valid_before_utc <= at <= root.cert.not_valid_after_utc:
                raise ValueError(
                    f"the generation {gen} {root.hierarchy} root is not valid at {at.isoformat()}"
                    f" (valid {root.cert.not_valid_before_utc.isoformat()} to"
                    f" {root.cert.not_valid_after_utc.isoformat()})"
                )
        if identity.birth_date > at.astimezone(JST).date():
            raise ValueError("the holder's birth date is after the issuance date")
        url = _check_url(ocsp_url) if ocsp_url is not None else self._ocsp_url
        not_after = certificate_not_after(identity.birth_date, at)
        holder = _holder_key(identity)
        with self._store.transaction() as db:
            if seed is None:
                (count,) = db.execute(
                    "SELECT COUNT(*) FROM issued WHERE holder = ? AND hierarchy = ?",
                    (holder, AUTH),
                ).fetchone()
                material = f"holder/{holder}/{count}"
            else:
                if not isinstance(seed, (int, str)) or isinstance(seed, bool):
                    raise TypeError("seed must be an int or a str")
                material = f"seed/{seed}"
            auth_seed = _card_key_seed(self._seed, material, AUTH)
            auth_key = rsa_key_from_seed(auth_seed)
            cn_rng = DeterministicRandom(auth_seed, b"auth-cn")
            cn = _auth_cn(cn_rng, identity.municipality_code)
            auth_cert = self._issue_one(
                db=db,
                root=auth_root,
                key_seed=auth_seed,
                identity=identity,
                holder=holder,
                not_after=not_after,
                build=lambda serial: self._build_auth(
                    root=auth_root,
                    key=auth_key,
                    serial=serial,
                    cn=cn,
                    identity=identity,
                    now=at,
                    not_after=not_after,
                    ocsp_url=url,
                ),
            )
            sign_key: rsa.RSAPrivateKey | None = None
            sign_cert: x509.Certificate | None = None
            if sign:
                sign_seed = _card_key_seed(self._seed, material, SIGN)
                sign_key = rsa_key_from_seed(sign_seed)
                key = sign_key
                sign_cert = self._issue_one(
                    db=db,
                    root=sign_root,
                    key_seed=sign_seed,
                    identity=identity,
                    holder=holder,
                    not_after=not_after,
                    build=lambda serial: self._build_sign(
                        root=sign_root,
                        key=key,
                        serial=serial,
                        identity=identity,
                        now=at,
                        not_after=not_after,
                        policy_oid=SIGN_TEST_POLICY_OID if test_policy else SIGN_POLICY_OID,
                        ocsp_url=url if sign_ocsp else None,
                    ),
                )
        logger.info(
            "issued test card: generation %d, auth serial %08X, sign serial %s",
            gen,
            auth_cert.serial_number,
            f"{sign_cert.serial_number:08X}" if sign_cert is not None else "-",
        )
        return IssuedCard(
            identity=identity,
            generation=gen,
            auth_key=auth_key,
            auth_cert=auth_cert,
            auth_ca_cert=auth_root.cert,
            sign_key=sign_key,
            sign_cert=sign_cert,
            sign_ca_cert=sign_root.cert,
        )

    def _issue_one(
        self,
        *,
        db: sqlite3.Connection,
        root: _Root,
        key_seed: bytes,
        identity: Identity,
        holder: str,
        not_after: _dt.datetime,
        build: _CertBuilder,
    ) -> x509.Certificate:
        hierarchy = root.hierarchy
        rng = DeterministicRandom(key_seed, b"serial")
        for _ in range(1000):
            serial = rng.randrange(_SERIAL_MIN, _SERIAL_MAX + 1)
            cert = build(serial)
            der = cert.public_bytes(serialization.Encoding.DER)
            row = db.execute(
                "SELECT der FROM issued WHERE hierarchy = ? AND serial = ?", (hierarchy, serial)
            ).fetchone()
            if row is not None:
                if bytes(row[0]) == der:
                    return cert  # the very same certificate again (same seed and time)
                continue  # serial taken by another certificate: next candidate
            db.execute(
                "INSERT INTO issued VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    hierarchy,
                    serial,
                    root.generation,
                    identity.municipality_code,
                    identity.prefecture_romaji,
                    identity.municipality_romaji,
                    not_after.isoformat(),
                    holder,
                    der,
                ),
            )
            return cert
        raise PkiError("could not find a free certificate serial")  # pragma: no cover

    @staticmethod
    def _base_builder(
        *,
        root: _Root,
        public_key: rsa.RSAPublicKey,
        subject: x509.Name,
        serial: int,
        now: _dt.datetime,
        not_after: _dt.datetime,
    ) -> x509.CertificateBuilder:
        return (
            x509.CertificateBuilder()
            .issuer_name(root.cert.subject)
            .subject_name(subject)
            .public_key(public_key)
            .serial_number(serial)
            .not_valid_before(now)
            .not_valid_after(not_after)
        )

    @staticmethod
    def _aki(root: _Root) -> x509.AuthorityKeyIdentifier:
        return x509.AuthorityKeyIdentifier(
            key_identifier=root.ski,
            authority_cert_issuer=[x509.DirectoryName(root.cert.subject)],
            authority_cert_serial_number=root.cert.serial_number,
        )

    def _build_auth(
        self,
        *,
        root: _Root,
        key: rsa.RSAPrivateKey,
        serial: int,
        cn: str,
        identity: Identity,
        now: _dt.datetime,
        not_after: _dt.datetime,
        ocsp_url: str,
    ) -> x509.Certificate:
        subject = x509.Name(
            [
                x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
                x509.NameAttribute(NameOID.COMMON_NAME, cn),
            ]
        )
        public_key = key.public_key()
        dp = crl_distribution_point_name(
            AUTH, identity.prefecture_romaji, identity.municipality_romaji
        )
        builder = (
            self._base_builder(
                root=root,
                public_key=public_key,
                subject=subject,
                serial=serial,
                now=now,
                not_after=not_after,
            )
            .add_extension(_key_usage(digital_signature=True), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
            .add_extension(_policies(AUTH_POLICY_OID), critical=True)
            .add_extension(
                x509.IssuerAlternativeName([x509.DirectoryName(_japanese_dirname(AUTH))]),
                critical=False,
            )
            .add_extension(_crl_dp(dp), critical=False)
            .add_extension(_aia(ocsp_url), critical=False)
            .add_extension(self._aki(root), critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        )
        return builder.sign(root.key, hashes.SHA256())

    def _build_sign(
        self,
        *,
        root: _Root,
        key: rsa.RSAPrivateKey,
        serial: int,
        identity: Identity,
        now: _dt.datetime,
        not_after: _dt.datetime,
        policy_oid: str,
        ocsp_url: str | None,
    ) -> x509.Certificate:
        # The CN's structure is unconfirmed (spec §9); this follows the synthetic sample's
        # shape: issuance time (JST, 14 digits) + municipality code + 9 digits of the serial.
        cn = f"{now.astimezone(JST):%Y%m%d%H%M%S}{identity.municipality_code}{serial % 10**9:09d}"
        subject = x509.Name(
            [
                x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
                x509.NameAttribute(NameOID.LOCALITY_NAME, identity.prefecture_romaji),
                x509.NameAttribute(NameOID.LOCALITY_NAME, identity.municipality_romaji),
                x509.NameAttribute(NameOID.COMMON_NAME, cn),
            ]
        )
        values = {
            SAN_OID_NAME: identity.name,
            SAN_OID_NAME_SUBSTITUTES: identity.name_substitutes,
            SAN_OID_SEX: identity.sex,
            SAN_OID_BIRTH_DATE: jpki_birth_date(identity.birth_date),
            SAN_OID_ADDRESS: identity.address,
            SAN_OID_ADDRESS_SUBSTITUTES: identity.address_substitutes,
        }
        san = x509.SubjectAlternativeName(
            [
                x509.OtherName(x509.ObjectIdentifier(oid), _utf8_der(values[oid]))
                for oid in SAN_ORDER
            ]
        )
        public_key = key.public_key()
        dp = crl_distribution_point_name(
            SIGN, identity.prefecture_romaji, identity.municipality_romaji
        )
        builder = (
            self._base_builder(
                root=root,
                public_key=public_key,
                subject=subject,
                serial=serial,
                now=now,
                not_after=not_after,
            )
            .add_extension(
                _key_usage(digital_signature=True, content_commitment=True), critical=True
            )
            .add_extension(san, critical=False)
            .add_extension(_policies(policy_oid), critical=True)
            .add_extension(
                x509.IssuerAlternativeName([x509.DirectoryName(_japanese_dirname(SIGN))]),
                critical=False,
            )
            .add_extension(_crl_dp(dp), critical=False)
        )
        if ocsp_url is not None:
            builder = builder.add_extension(_aia(ocsp_url), critical=False)
        builder = builder.add_extension(self._aki(root), critical=False).add_extension(
            x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False
        )
        return builder.sign(root.key, hashes.SHA256())

    # -- records -----------------------------------------------------------------------------

    def lookup(self, hierarchy: str, serial: int) -> IssuedRecord | None:
        """The record of an issued certificate by hierarchy and serial, or None."""
        h = _hierarchy(hierarchy)
        rows = self._store.query(
            "SELECT i.generation, i.municipality_code, i.prefecture_romaji,"
            " i.municipality_romaji, i.not_after, i.der, r.reason, r.revoked_at"
            " FROM issued i LEFT JOIN revoked r ON r.hierarchy = i.hierarchy"
            " AND r.serial = i.serial WHERE i.hierarchy = ? AND i.serial = ?",
            (h, serial),
        )
        if not rows:
            return None
        gen, code, pref, muni, not_after, der, reason, revoked_at = rows[0]
        if not isinstance(der, bytes):
            raise PkiStoreError(self._store.path or "memory", "corrupt certificate record")
        revocation = None
        if reason is not None:
            revocation = RevocationRecord(
                hierarchy=h,
                generation=int(str(gen)),
                serial=serial,
                reason=x509.ReasonFlags(str(reason)),
                revoked_at=_dt.datetime.fromisoformat(str(revoked_at)),
            )
        return IssuedRecord(
            hierarchy=h,
            generation=int(str(gen)),
            serial=serial,
            municipality_code=str(code),
            prefecture_romaji=str(pref),
            municipality_romaji=str(muni),
            not_after=_dt.datetime.fromisoformat(str(not_after)),
            certificate_der=der,
            revocation=revocation,
        )

    def issued(self, hierarchy: str | None = None) -> list[IssuedRecord]:
        """All issued certificates (optionally of one hierarchy), by serial."""
        hs = HIERARCHIES if hierarchy is None else (_hierarchy(hierarchy),)
        out: list[IssuedRecord] = []
        for h in hs:
            for (serial,) in self._store.query(
                "SELECT serial FROM issued WHERE hierarchy = ? ORDER BY serial", (h,)
            ):
                record = self.lookup(h, int(str(serial)))
                if record is not None:
                    out.append(record)
        return out

    # -- revocation --------------------------------------------------------------------------

    def revoke(
        self,
        cert: x509.Certificate | bytes,
        reason: x509.ReasonFlags | str = x509.ReasonFlags.unspecified,
        at: _dt.datetime | None = None,
    ) -> RevocationRecord:
        """Revoke a certificate issued by this PKI (DER/PEM bytes or a Certificate).

        Revoking an already revoked certificate keeps (and returns) the first revocation.
        A certificate this PKI did not issue -> ValueError.
        """
        certificate = _as_certificate(cert)
        flag = _reason(reason)
        when = _now(at)
        found = self.find_issuer(certificate)
        if found is None:
            raise ValueError("this certificate was not issued by this test PKI")
        h, _generation = found
        serial = certificate.serial_number
        record = self.lookup(h, serial)
        der = certificate.public_bytes(serialization.Encoding.DER)
        if record is None or record.certificate_der != der:
            raise ValueError(
                "this certificate is signed by this test PKI's root but is not in its database"
            )
        if record.revocation is not None:
            logger.info("certificate %s/%08X was already revoked", h, serial)
            return record.revocation
        with self._store.transaction() as db:
            db.execute(
                "INSERT OR IGNORE INTO revoked VALUES (?, ?, ?, ?)",
                (h, serial, flag.value, when.isoformat()),
            )
        logger.info("revoked %s certificate %08X (%s)", h, serial, flag.value)
        current = self.lookup(h, serial)
        assert current is not None and current.revocation is not None
        return current.revocation

    def revocations(self, hierarchy: str | None = None) -> list[RevocationRecord]:
        return [r.revocation for r in self.issued(hierarchy) if r.revocation is not None]

    # -- CRLs --------------------------------------------------------------------------------

    def crl_scopes(self) -> list[CrlKey]:
        """Every CRL partition with at least one issued certificate."""
        rows = self._store.query(
            "SELECT DISTINCT hierarchy, generation, municipality_code FROM issued"
            " ORDER BY hierarchy, generation, municipality_code"
        )
        return [CrlKey(str(h), int(str(g)), str(m)) for h, g, m in rows]

    def crl_distribution_point(self, key: CrlKey) -> x509.Name:
        """The DirName DP of a partition (from issued certificates, else the built-in table)."""
        rows = self._store.query(
            "SELECT prefecture_romaji, municipality_romaji FROM issued WHERE hierarchy = ?"
            " AND municipality_code = ? LIMIT 1",
            (_hierarchy(key.hierarchy), key.municipality_code),
        )
        if rows:
            pref, muni = rows[0]
            return crl_distribution_point_name(key.hierarchy, str(pref), str(muni))
        known = municipality_by_code(key.municipality_code)
        if known is None:
            raise ValueError(
                f"unknown municipality {key.municipality_code!r}: no certificate issued there"
                " and not in the built-in table"
            )
        return crl_distribution_point_name(key.hierarchy, known.prefecture_romaji, known.romaji)

    def _revoked_entries(self, key: CrlKey, at: _dt.datetime) -> list[Entry]:
        rows = self._store.query(
            "SELECT r.serial, r.reason, r.revoked_at FROM revoked r JOIN issued i"
            " ON i.hierarchy = r.hierarchy AND i.serial = r.serial"
            " WHERE i.hierarchy = ? AND i.generation = ? AND i.municipality_code = ?"
            " ORDER BY r.serial",
            (_hierarchy(key.hierarchy), key.generation, key.municipality_code),
        )
        entries = []
        for serial, reason, revoked_at in rows:
            when = _dt.datetime.fromisoformat(str(revoked_at))
            if when <= at:
                entries.append((int(str(serial)), x509.ReasonFlags(str(reason)), when))
        return entries

    def next_crl_number(self, hierarchy: str, generation: int, scope: str) -> int:
        """Reserve the next CRL number of a partition (monotonic, persisted)."""
        h = _hierarchy(hierarchy)
        with self._store.transaction() as db:
            row = db.execute(
                "SELECT number FROM crl_number WHERE hierarchy = ? AND generation = ?"
                " AND scope = ?",
                (h, generation, scope),
            ).fetchone()
            number = 1 if row is None else int(row[0]) + 1
            db.execute(
                "INSERT OR REPLACE INTO crl_number VALUES (?, ?, ?, ?)",
                (h, generation, scope, number),
            )
        return number

    def crl(
        self,
        key: CrlKey,
        *,
        now: _dt.datetime | None = None,
        next_update: _dt.timedelta = DEFAULT_CRL_VALIDITY,
    ) -> bytes:
        """The DER CRL of one partition, signed by that generation's root."""
        from simulator.crl import build_crl

        at = _now(now)
        root = self._root(key.hierarchy, key.generation)
        dp = self.crl_distribution_point(key)
        entries = self._revoked_entries(key, at)
        number = self.next_crl_number(key.hierarchy, key.generation, key.municipality_code)
        return build_crl(
            issuer=root.cert,
            issuer_key=root.key,
            distribution_point=dp,
            entries=entries,
            number=number,
            this_update=at,
            next_update=at + next_update,
        )

    def crls(
        self, now: _dt.datetime | None = None, *, next_update: _dt.timedelta = DEFAULT_CRL_VALIDITY
    ) -> dict[CrlKey, bytes]:
        """Fresh DER CRLs for every partition (hierarchy x generation x municipality DP).

        Partitions of a generation whose root is not valid at ``now`` (expired) are left out,
        as a CA stops publishing with an expired key; :meth:`crl` still makes one on request.
        """
        at = _now(now)
        out: dict[CrlKey, bytes] = {}
        for key in self.crl_scopes():
            root = self._root(key.hierarchy, key.generation).cert
            if root.not_valid_before_utc <= at <= root.not_valid_after_utc:
                out[key] = self.crl(key, now=at, next_update=next_update)
        return out

    def write_large_crl(
        self,
        out: str | os.PathLike[str] | BinaryIO,
        key: CrlKey,
        count: int,
        *,
        now: _dt.datetime | None = None,
        next_update: _dt.timedelta = DEFAULT_CRL_VALIDITY,
        seed: int = 0,
        reason: x509.ReasonFlags | str | None = None,
    ) -> int:
        """Write a valid signed CRL of a partition with ``count`` synthetic revoked serials.

        For verification benchmarks: the real revocations of the partition are included too,
        the synthetic serials are distinct 4-byte serials (none of them issued here). The DER
        is streamed, so a million entries take seconds. Returns the number of bytes written.
        """
        from simulator.crl import write_large_crl

        at = _now(now)
        root = self._root(key.hierarchy, key.generation)
        dp = self.crl_distribution_point(key)
        flag = None if reason is None else _reason(reason)
        issued = {
            int(str(s))
            for (s,) in self._store.query(
                "SELECT serial FROM issued WHERE hierarchy = ?", (root.hierarchy,)
            )
        }
        entries = self._revoked_entries(key, at)
        number = self.next_crl_number(key.hierarchy, key.generation, key.municipality_code)

        def write(fh: BinaryIO) -> int:
            return write_large_crl(
                fh,
                issuer=root.cert,
                issuer_key=root.key,
                distribution_point=dp,
                count=count,
                number=number,
                this_update=at,
                next_update=at + next_update,
                seed=seed,
                extra_entries=entries,
                reason=flag,
                exclude=issued,
            )

        if isinstance(out, (str, os.PathLike)):
            path = Path(out)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
            try:
                with os.fdopen(fd, "wb") as fh:
                    size = write(fh)
                    fh.flush()
                    os.fsync(fh.fileno())
                os.replace(tmp, path)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
            return size
        return write(out)

    def large_crl(
        self,
        key: CrlKey,
        count: int,
        *,
        now: _dt.datetime | None = None,
        next_update: _dt.timedelta = DEFAULT_CRL_VALIDITY,
        seed: int = 0,
        reason: x509.ReasonFlags | str | None = None,
    ) -> bytes:
        """:meth:`write_large_crl` into memory; returns the DER."""
        buf = io.BytesIO()
        self.write_large_crl(
            buf, key, count, now=now, next_update=next_update, seed=seed, reason=reason
        )
        return buf.getvalue()

    def arl(
        self,
        hierarchy: str,
        generation: int,
        *,
        now: _dt.datetime | None = None,
        next_update: _dt.timedelta = DEFAULT_CRL_VALIDITY,
    ) -> bytes:
        """The authority revocation list at the root's own CRL DP (empty: single tier)."""
        from simulator.crl import build_crl

        at = _now(now)
        root = self._root(hierarchy, generation)
        number = self.next_crl_number(root.hierarchy, generation, "arl")
        return build_crl(
            issuer=root.cert,
            issuer_key=root.key,
            distribution_point=root.cert.subject,
            entries=[],
            number=number,
            this_update=at,
            next_update=at + next_update,
            only_ca_certs=True,
        )

    # -- OCSP responder certificates ---------------------------------------------------------

    def ocsp_responder(
        self, hierarchy: str, generation: int, now: _dt.datetime | None = None
    ) -> tuple[x509.Certificate, rsa.RSAPrivateKey]:
        """A delegated OCSP responder certificate (EKU OCSPSigning, ocsp-nocheck) and its key.

        Issued by the given root, valid from the start of the previous day (UTC) for 30 days
        (clipped to the root's validity); deterministic for a given day.
        """
        at = _now(now)
        root = self._root(hierarchy, generation)
        day = at.date()
        cache_key = (root.hierarchy, generation, day)
        with self._lock:
            cached = self._responders.get(cache_key)
            if cached is not None:
                return cached
        key = rsa_key_from_seed(
            hashlib.sha256(
                f"jpki-sim/v1/{self._seed}/ocsp/{root.hierarchy}/{generation}".encode()
            ).digest()
        )
        start = _dt.datetime(day.year, day.month, day.day, tzinfo=_dt.timezone.utc)
        not_before = max(start - _dt.timedelta(days=1), root.cert.not_valid_before_utc)
        not_after = min(start + _dt.timedelta(days=30), root.cert.not_valid_after_utc)
        if not not_before <= at <= not_after:
            raise ValueError(f"the generation {generation} root is not valid at {at.isoformat()}")
        rng = DeterministicRandom(
            f"jpki-sim/v1/{self._seed}/ocsp/{root.hierarchy}/{generation}/{day}".encode(),
            b"serial",
        )
        serial = (0x7E << 56) | rng.randbits(56)  # 8 bytes: never collides with card serials
        subject = x509.Name(
            [
                x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, "JPKI TEST"),
                x509.NameAttribute(
                    NameOID.ORGANIZATIONAL_UNIT_NAME,
                    f"JPKI TEST for {_HIERARCHY_LABEL[root.hierarchy]}",
                ),
                x509.NameAttribute(
                    NameOID.COMMON_NAME, f"JPKI TEST OCSP Responder {generation:02d}"
                ),
            ]
        )
        public_key = key.public_key()
        cert = (
            self._base_builder(
                root=root,
                public_key=public_key,
                subject=subject,
                serial=serial,
                now=not_before,
                not_after=not_after,
            )
            .add_extension(_key_usage(digital_signature=True), critical=True)
            .add_extension(
                x509.ExtendedKeyUsage([ExtendedKeyUsageOID.OCSP_SIGNING]), critical=False
            )
            .add_extension(x509.OCSPNoCheck(), critical=False)
            .add_extension(self._aki(root), critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
            .sign(root.key, hashes.SHA256())
        )
        with self._lock:
            self._responders[cache_key] = (cert, key)
        return cert, key

    # -- export ------------------------------------------------------------------------------

    def export(
        self,
        directory: str | os.PathLike[str],
        *,
        now: _dt.datetime | None = None,
        next_update: _dt.timedelta = DEFAULT_CRL_VALIDITY,
    ) -> dict[str, list[Path]]:
        """Write the roots (PEM) and fresh CRLs (DER) under ``directory``.

        Layout::

            README.txt
            index.json                              what is where (hierarchy, generation, DP)
            roots/jpki-test-{auth,sign}-ca-NN.pem   root certificates (TEST, never trust)
            crls/{auth,sign}/gen-NN/arl.crl         authority revocation list (root's own DP)
            crls/{auth,sign}/gen-NN/<code>.crl      per-municipality CRL (DirName DP)

        Returns ``{"roots": [...], "crls": [...]}`` (paths written).
        """
        at = _now(now)
        out = Path(directory)
        out.mkdir(parents=True, exist_ok=True)
        written: dict[str, list[Path]] = {"roots": [], "crls": []}
        index: dict[str, object] = {"warning": _WARNING, "generated_at": at.isoformat()}
        roots_index: list[dict[str, object]] = []
        for h in HIERARCHIES:
            for g in self.generations():
                root = self._roots[(h, g)]
                path = out / "roots" / f"jpki-test-{h}-ca-{g:02d}.pem"
                path.parent.mkdir(parents=True, exist_ok=True)
                _atomic_write(path, root.cert.public_bytes(serialization.Encoding.PEM))
                written["roots"].append(path)
                roots_index.append(
                    {
                        "hierarchy": h,
                        "generation": g,
                        "file": str(path.relative_to(out)),
                        "serial": f"{root.cert.serial_number:X}",
                        "ski": root.ski.hex().upper(),
                        "not_before": root.cert.not_valid_before_utc.isoformat(),
                        "not_after": root.cert.not_valid_after_utc.isoformat(),
                    }
                )
        crls_index: list[dict[str, object]] = []
        for h in HIERARCHIES:
            for g in self.generations():
                root = self._roots[(h, g)]
                if not root.cert.not_valid_before_utc <= at <= root.cert.not_valid_after_utc:
                    continue  # an expired (or future) root signs no CRLs
                path = out / "crls" / h / f"gen-{g:02d}" / "arl.crl"
                path.parent.mkdir(parents=True, exist_ok=True)
                _atomic_write(path, self.arl(h, g, now=at, next_update=next_update))
                written["crls"].append(path)
                crls_index.append(
                    {
                        "hierarchy": h,
                        "generation": g,
                        "scope": "arl",
                        "file": str(path.relative_to(out)),
                        "distribution_point": _dn_text(root.cert.subject),
                    }
                )
        for key in self.crl_scopes():
            root = self._roots[(key.hierarchy, key.generation)]
            if not root.cert.not_valid_before_utc <= at <= root.cert.not_valid_after_utc:
                continue
            path = out / "crls" / key.hierarchy / f"gen-{key.generation:02d}" / key.filename
            path.parent.mkdir(parents=True, exist_ok=True)
            _atomic_write(path, self.crl(key, now=at, next_update=next_update))
            written["crls"].append(path)
            crls_index.append(
                {
                    "hierarchy": key.hierarchy,
                    "generation": key.generation,
                    "scope": key.municipality_code,
                    "file": str(path.relative_to(out)),
                    "distribution_point": _dn_text(self.crl_distribution_point(key)),
                }
            )
        index["roots"] = roots_index
        index["crls"] = crls_index
        _atomic_write(
            out / "index.json", (json.dumps(index, indent=2, ensure_ascii=False) + "\n").encode()
        )
        _atomic_write(
            out / "README.txt",
            (
                f"{_WARNING}\n\nroots/  test root certificates (PEM)\n"
                "crls/   CRLs (DER) per hierarchy, root generation and municipality DP\n"
                "index.json lists every file with its hierarchy, generation and DP.\n"
            ).encode(),
        )
        return written


def _auth_cn(rng: DeterministicRandom, municipality_code: str) -> str:
    """A 23-character auth CN: 14 opaque characters, the municipality code, then ``003A``.

    Only chars 15-19 (municipality) and the ``003A`` ending are confirmed on real certificates;
    the first 14 mimic the samples' look (5 digits, ``4E``, 7 alphanumerics).
    """
    head = "".join(str(rng.randbelow(10)) for _ in range(5)) + "4E"
    head += "".join(_CN_ALPHABET[rng.randbelow(len(_CN_ALPHABET))] for _ in range(7))
    cn = head + municipality_code + "003A"
    assert len(cn) == 23
    return cn


def _key_usage(
    *,
    digital_signature: bool = False,
    content_commitment: bool = False,
    key_cert_sign: bool = False,
    crl_sign: bool = False,
) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=digital_signature,
        content_commitment=content_commitment,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=key_cert_sign,
        crl_sign=crl_sign,
        encipher_only=False,
        decipher_only=False,
    )


def _policies(oid: str) -> x509.CertificatePolicies:
    return x509.CertificatePolicies([x509.PolicyInformation(x509.ObjectIdentifier(oid), [CPS_URI])])


def _crl_dp(name: x509.Name) -> x509.CRLDistributionPoints:
    return x509.CRLDistributionPoints(
        [
            x509.DistributionPoint(
                full_name=[x509.DirectoryName(name)],
                relative_name=None,
                reasons=None,
                crl_issuer=None,
            )
        ]
    )


def _aia(url: str) -> x509.AuthorityInformationAccess:
    return x509.AuthorityInformationAccess(
        [
            x509.AccessDescription(
                AuthorityInformationAccessOID.OCSP, x509.UniformResourceIdentifier(url)
            )
        ]
    )


def _dn_text(name: x509.Name) -> str:
    """A DN in certificate order, as openssl prints it: ``C=JP, O=JPKI TEST, ...``."""
    return ", ".join(f"{a.rfc4514_attribute_name}={a.value!s}" for a in name)


def _public_key_bits(cert: x509.Certificate) -> bytes:
    """The subjectPublicKey BIT STRING contents (the PKCS#1 RSAPublicKey for RSA)."""
    return cert.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.PKCS1
    )


def _as_certificate(cert: x509.Certificate | bytes) -> x509.Certificate:
    if isinstance(cert, x509.Certificate):
        return cert
    if isinstance(cert, (bytes, bytearray)):
        data = bytes(cert)
        try:
            if data.lstrip().startswith(b"-----BEGIN"):
                return x509.load_pem_x509_certificate(data)
            return x509.load_der_x509_certificate(data)
        except ValueError:
            raise ValueError("not a certificate (expected DER or PEM)") from None
    raise TypeError("cert must be an x509.Certificate or DER/PEM bytes")


def _check_seed(seed: object) -> int:
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise TypeError("seed must be an int")
    return seed


def _check_url(url: object) -> str:
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        raise ValueError("the OCSP URL must be an http:// or https:// URL")
    return url


def _check_generations(generations: Sequence[GenerationSpec] | None) -> tuple[GenerationSpec, ...]:
    gens = DEFAULT_GENERATIONS if generations is None else tuple(generations)
    if len(gens) < 1:
        raise ValueError("a PKI needs at least one root generation")
    for g in gens:
        if not isinstance(g, GenerationSpec):
            raise TypeError("generations must be GenerationSpec values")
    for older, newer in itertools.pairwise(gens):
        if newer.not_before <= older.not_before:
            raise ValueError("generations must start in increasing order")
    return gens


def _make_roots(seed: int, generations: Sequence[GenerationSpec]) -> dict[tuple[str, int], _Root]:
    roots: dict[tuple[str, int], _Root] = {}
    for h in HIERARCHIES:
        name = root_name(h)
        for index, spec in enumerate(generations, start=1):
            key_seed = hashlib.sha256(f"jpki-sim/v1/{seed}/root/{h}/{index}".encode()).digest()
            key = rsa_key_from_seed(key_seed)
            rng = DeterministicRandom(key_seed, b"serial")
            serial = rng.randrange(_SERIAL_MIN, _SERIAL_MAX + 1)
            public_key = key.public_key()
            ski = x509.SubjectKeyIdentifier.from_public_key(public_key)
            cert = (
                x509.CertificateBuilder()
                .issuer_name(name)
                .subject_name(name)
                .public_key(public_key)
                .serial_number(serial)
                .not_valid_before(spec.not_before)
                .not_valid_after(spec.not_after)
                .add_extension(_key_usage(key_cert_sign=True, crl_sign=True), critical=True)
                .add_extension(
                    x509.SubjectAlternativeName([x509.DirectoryName(_japanese_dirname(h))]),
                    critical=False,
                )
                .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                .add_extension(_crl_dp(name), critical=False)
                .add_extension(ski, critical=False)
                .sign(key, hashes.SHA256())
            )
            roots[(h, index)] = _Root(h, index, cert, key, ski.digest)
    return roots


def _inside(directory: Path, relative: object) -> Path:
    """``directory / relative``, refusing anything that is not a plain path inside it."""
    if not isinstance(relative, str) or not relative:
        raise PkiStoreError(directory / "manifest.json", "a file name in the manifest is invalid")
    candidate = (directory / relative).resolve()
    if not candidate.is_relative_to(directory.resolve()):
        raise PkiStoreError(directory / "manifest.json", f"{relative!r} is outside the directory")
    return candidate


def _load_root(
    path: Path, hierarchy: str, generation: int, cert_rel: object, key_rel: object
) -> _Root:
    cert_path = _inside(path, cert_rel)
    key_path = _inside(path, key_rel)
    try:
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    except OSError as exc:
        raise PkiStoreError(cert_path, f"cannot read root certificate: {exc.strerror}") from None
    except ValueError:
        raise PkiStoreError(cert_path, "not a PEM certificate") from None
    try:
        raw = key_path.read_bytes()
        start = raw.find(b"-----BEGIN")
        key = serialization.load_pem_private_key(raw[max(start, 0) :], password=None)
    except OSError as exc:
        raise PkiStoreError(key_path, f"cannot read root key: {exc.strerror}") from None
    except (ValueError, TypeError):
        raise PkiStoreError(key_path, "not an unencrypted PEM private key") from None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise PkiStoreError(key_path, "not an RSA key")
    if key.public_key().public_numbers() != cert.public_key().public_numbers():  # type: ignore[union-attr]
        raise PkiStoreError(key_path, "the key does not match its root certificate")
    if cert.subject != root_name(hierarchy):
        raise PkiStoreError(cert_path, "not a test root of this hierarchy")
    return _Root(hierarchy, generation, cert, key, _ski(cert))


def _atomic_write(path: Path, data: bytes, *, mode: int = 0o644) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
