"""The CRL index: verified CRL partitions kept as compact sorted arrays, persisted on disk.

A *partition* is one CRL: one issuing root key (chosen by AKI key identifier and signature,
never by name: the three J-LIS generations share one DN) and one distribution point (JPKI
partitions CRLs per municipality; the DP is a directory name carried in the CRL's
IssuingDistributionPoint and in each certificate's cRLDistributionPoints). A CRL without an
IssuingDistributionPoint is a complete CRL for its issuer.

Per partition the index keeps

- ``keys``: sorted ``serial << idx_bits | entry_index`` (doubles when exact, else 64-bit ints),
- ``offsets``: each entry's position in the CRL, so the one entry that matched is decoded on
  demand (revocation date, reason),
- ``starts``: a bucket directory, so a lookup bisects a few keys instead of a million,
- the CRL itself (DER), so the data stays verifiable.

On disk each partition is one file (``<id>.crlx``: magic, SHA-256 of the rest, a JSON header,
then the arrays and the CRL) written to a temporary file, fsynced and renamed over the old one,
so a reader sees the old or the new partition, never a mix. Files are memory-mapped on load;
a restart costs a checksum over the file and a copy of the arrays (milliseconds).

In-process, the set of partitions is an immutable snapshot replaced by reference under a lock:
lookups never take a lock. Across processes, ingest takes an advisory lock on the directory
(``fcntl.flock``) for the compare-and-replace, and :meth:`CrlIndex.refresh` picks up files other
processes replaced.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import logging
import mmap
import os
import sys
import tempfile
import threading
import time
from array import array
from bisect import bisect_left
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import ExtensionOID

from jpki_sdk.verify.revocation._der import DerError
from jpki_sdk.verify.revocation._sig import (
    UnsupportedSignatureError,
    key_identifier,
    signature_ok,
    spki_sha256,
)
from jpki_sdk.verify.revocation.crl_parse import (
    EntryTable,
    ParsedCrl,
    RevokedEntry,
    build_directory,
    certificate_revocation_fields,
    decode_crls,
    distribution_point_keys,
    dp_display,
    dp_key,
    parse_crl,
    parse_entry,
    walk_entries,
)
from jpki_sdk.verify.revocation.errors import (
    CrlError,
    CrlFormatError,
    CrlIndexCorruptError,
    CrlIssuerUnknownError,
    CrlNotYetValidError,
    CrlNumberConflictError,
    CrlNumberRegressionError,
    CrlSignatureError,
    CrlStaleError,
    CrlUnsupportedError,
)
from jpki_sdk.verify.revocation.policy import RevocationFields
from jpki_sdk.verify.revocation.types import RevocationAnswer, RevocationStatus

try:  # POSIX advisory locks; without them (Windows) only in-process locking applies.
    import fcntl
except ImportError:  # pragma: no cover - not on Linux
    fcntl = None  # type: ignore[assignment]

__all__ = [
    "INDEX_ENV",
    "CrlIndex",
    "CrlPartition",
    "IngestReport",
    "PartitionInfo",
    "PartitionStatus",
    "RefreshReport",
    "default_index_directory",
]

logger = logging.getLogger(__name__)

UTC = dt.timezone.utc
MAGIC = b"JPKICRX\x01"
FILE_SUFFIX = ".crlx"
_HEADER_LIMIT = 1 << 20
_DP_CACHE_SIZE = 8192
_ISSUER_CACHE_SIZE = 64
_ROUTE_CACHE_SIZE = 1024
_NO_DPS: list[tuple[bytes, x509.GeneralName]] = []

#: How a certificate maps to partitions: (issuer SPKI hash, issuer key id, DP keys), or why not.
_Route = tuple[bytes, bytes, tuple[tuple[bytes, x509.GeneralName], ...], bool] | str
_ALIGN = 8


#: Environment variable naming the default index directory (CLI and services).
INDEX_ENV = "JPKI_CRL_INDEX"


def default_index_directory() -> Path:
    """``$JPKI_CRL_INDEX``, else ``$XDG_DATA_HOME/jpki/crl-index`` (``~/.local/share/...``)."""
    explicit = os.environ.get(INDEX_ENV)
    if explicit:
        return Path(explicit).expanduser()
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base).expanduser() / "jpki" / "crl-index"


class _ClockLike(Protocol):
    def now(self) -> dt.datetime: ...


class _SystemClock:
    def now(self) -> dt.datetime:
        return dt.datetime.now(UTC)


# ----------------------------------------------------------------------------- values


@dataclass(frozen=True)
class PartitionInfo:
    """What is known about one stored CRL partition (no entry data)."""

    partition_id: str
    issuer_id: bytes
    issuer_key_id: bytes
    issuer_subject: str
    issuer_serial: int
    issuer_not_after: dt.datetime
    distribution_points: tuple[str, ...]
    dp_keys: tuple[bytes, ...]
    scope: str
    crl_number: int
    this_update: dt.datetime
    next_update: dt.datetime
    entries: int
    crl_sha256: str
    source: str | None
    ingested_at: dt.datetime
    path: Path | None = None

    @property
    def label(self) -> str:
        """Short human label: the DP (or 'complete CRL') and the issuing key id."""
        where = self.distribution_points[0] if self.distribution_points else "complete CRL"
        return f"{where} [issuer key {self.issuer_key_id.hex()[:16]}]"

    def is_stale(self, at: dt.datetime, grace: dt.timedelta) -> bool:
        return at > self.next_update + grace

    def to_dict(self) -> dict[str, Any]:
        return {
            "partition_id": self.partition_id,
            "issuer_id": self.issuer_id.hex(),
            "issuer_key_id": self.issuer_key_id.hex(),
            "issuer_subject": self.issuer_subject,
            "issuer_serial": f"{self.issuer_serial:x}",
            "issuer_not_after": self.issuer_not_after.isoformat(),
            "distribution_points": list(self.distribution_points),
            "dp_keys": [k.hex() for k in self.dp_keys],
            "scope": self.scope,
            "crl_number": self.crl_number,
            "this_update": self.this_update.isoformat(),
            "next_update": self.next_update.isoformat(),
            "entries": self.entries,
            "crl_sha256": self.crl_sha256,
            "source": self.source,
            "ingested_at": self.ingested_at.isoformat(),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any], path: Path | None) -> PartitionInfo:
        return cls(
            partition_id=str(data["partition_id"]),
            issuer_id=bytes.fromhex(data["issuer_id"]),
            issuer_key_id=bytes.fromhex(data["issuer_key_id"]),
            issuer_subject=str(data["issuer_subject"]),
            issuer_serial=int(data["issuer_serial"], 16),
            issuer_not_after=_parse_iso(data["issuer_not_after"]),
            distribution_points=tuple(str(x) for x in data["distribution_points"]),
            dp_keys=tuple(bytes.fromhex(x) for x in data["dp_keys"]),
            scope=str(data["scope"]),
            crl_number=int(data["crl_number"]),
            this_update=_parse_iso(data["this_update"]),
            next_update=_parse_iso(data["next_update"]),
            entries=int(data["entries"]),
            crl_sha256=str(data["crl_sha256"]),
            source=None if data["source"] is None else str(data["source"]),
            ingested_at=_parse_iso(data["ingested_at"]),
            path=path,
        )


def _parse_iso(text: Any) -> dt.datetime:
    value = dt.datetime.fromisoformat(str(text))
    if value.tzinfo is None:
        raise ValueError("naive time in partition header")
    return value.astimezone(UTC)


@dataclass(frozen=True)
class IngestReport:
    """Outcome of ingesting one CRL: ``action`` is "added", "replaced" or "unchanged"."""

    action: str
    partition: PartitionInfo
    previous_number: int | None
    seconds: float
    #: Seconds per phase: "parse", "verify" (issuer + signature), "index", "store".
    timings: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "action": self.action,
            "previous_number": self.previous_number,
            "seconds": round(self.seconds, 4),
            "timings": {k: round(v, 4) for k, v in self.timings.items()},
            "partition": self.partition.to_dict(),
        }


@dataclass(frozen=True)
class PartitionStatus:
    """A partition as seen at ``at``: stale when ``at`` is past nextUpdate + grace."""

    info: PartitionInfo
    at: dt.datetime
    stale: bool
    seconds_to_next_update: float

    def to_dict(self) -> dict[str, Any]:
        data = self.info.to_dict()
        data["stale"] = self.stale
        data["seconds_to_next_update"] = round(self.seconds_to_next_update, 1)
        return data


@dataclass(frozen=True)
class RefreshReport:
    """What :meth:`CrlIndex.refresh` changed."""

    loaded: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    errors: tuple[tuple[str, str], ...] = ()


# ----------------------------------------------------------------------------- partition


def _make_finder(table: EntryTable, directory: tuple[int, int, array[int]]) -> Callable[[int], int]:
    """A closure: serial -> offset of its entry in the CRL, or -1. Kept small: it is the
    per-lookup cost (closure cells are faster than attribute lookups)."""
    keys: Any = table.keys
    offsets = table.offsets
    ib = table.idx_bits
    lo, shift, starts = directory
    nb = len(starts) - 1
    imask = (1 << ib) - 1
    step = float(1 << ib)
    if not offsets:

        def find_empty(serial: int) -> int:
            return -1

        return find_empty
    if table.kind == "f64":

        def find_f64(serial: int) -> int:
            b = (serial - lo) >> shift
            if 0 <= b < nb:
                i1 = starts[b + 1]
                k = float(serial << ib)
                i = bisect_left(keys, k, starts[b], i1)
                if i < i1 and keys[i] < k + step:
                    return offsets[int(keys[i]) & imask]
            return -1

        return find_f64

    def find_int(serial: int) -> int:
        b = (serial - lo) >> shift
        if 0 <= b < nb:
            i1 = starts[b + 1]
            k = serial << ib
            i = bisect_left(keys, k, starts[b], i1)
            if i < i1 and keys[i] >> ib == serial:
                return offsets[int(keys[i]) & imask]
        return -1

    return find_int


class CrlPartition:
    """One verified CRL, ready for lookups. Immutable; replaced as a whole on update."""

    __slots__ = ("_der", "_good", "_mm", "find_offset", "info", "key_kind", "label")

    def __init__(
        self,
        info: PartitionInfo,
        table: EntryTable,
        directory: tuple[int, int, array[int]],
        der: bytes | memoryview,
        mm: mmap.mmap | None = None,
    ) -> None:
        self.info = info
        self._der = der
        self._mm = mm
        self.key_kind = table.kind
        self.label = info.label
        self._good: dict[str, RevocationAnswer] = {}
        self.find_offset: Callable[[int], int] = _make_finder(table, directory)

    def good_answer(self, source_name: str) -> RevocationAnswer:
        """The GOOD answer for any serial not listed here (one shared immutable object)."""
        answer = self._good.get(source_name)
        if answer is None:
            answer = RevocationAnswer(
                RevocationStatus.GOOD,
                source_name,
                detail=f"{self.label}, CRL number {self.info.crl_number}",
                this_update=self.info.this_update,
                next_update=self.info.next_update,
            )
            self._good[source_name] = answer
        return answer

    def __contains__(self, serial: object) -> bool:
        return isinstance(serial, int) and serial >= 0 and self.find_offset(serial) >= 0

    def __len__(self) -> int:
        return self.info.entries

    def __repr__(self) -> str:
        return (
            f"CrlPartition({self.info.label}, crl_number={self.info.crl_number}, "
            f"entries={self.info.entries})"
        )

    def lookup(self, serial: int) -> RevokedEntry | None:
        """The decoded entry for ``serial``, or None when it is not listed."""
        if serial < 0:
            return None
        offset = self.find_offset(serial)
        if offset < 0:
            return None
        try:
            entry = parse_entry(self._der, offset)
        except DerError as exc:
            raise CrlIndexCorruptError(
                f"partition {self.info.partition_id}: damaged entry: {exc}",
                source=str(self.info.path) if self.info.path else None,
            ) from None
        if entry.serial != serial:
            raise CrlIndexCorruptError(
                f"partition {self.info.partition_id}: index points at serial "
                f"{entry.serial:x}, not {serial:x}",
                source=str(self.info.path) if self.info.path else None,
            )
        return entry

    def der(self) -> bytes:
        """The CRL as received (DER)."""
        return bytes(self._der)


# ----------------------------------------------------------------------------- file format


def _pad(n: int) -> int:
    return (-n) % _ALIGN


def _write_partition(
    path: Path,
    info: PartitionInfo,
    table: EntryTable,
    directory: tuple[int, int, array[int]],
    der: bytes,
) -> None:
    lo, shift, starts = directory
    if table.kind == "wide":
        width = max(1, (int(table.keys[-1]).bit_length() + 7) // 8) if table.keys else 1
        keys_blob: bytes | array[Any] = b"".join(int(k).to_bytes(width, "big") for k in table.keys)
    else:
        width = 8
        keys_blob = _le(table.keys)  # type: ignore[arg-type]
    offsets_blob = _le(table.offsets)
    starts_blob = _le(starts)
    sections: dict[str, list[int]] = {}
    blobs: list[Any] = []
    pos = 0
    for name, blob in (
        ("keys", keys_blob),
        ("offsets", offsets_blob),
        ("starts", starts_blob),
        ("der", der),
    ):
        size = memoryview(blob).nbytes
        sections[name] = [pos, size]
        blobs.append(blob)
        pad = _pad(size)
        if pad:
            blobs.append(b"\0" * pad)
        pos += size + pad
    header = info.to_dict()
    header.update(
        {
            "format": 1,
            "kind": table.kind,
            "key_width": width,
            "idx_bits": table.idx_bits,
            "dir_lo": str(lo),
            "dir_shift": shift,
            "sections": sections,
        }
    )
    header_bytes = json.dumps(header, sort_keys=True, separators=(",", ":")).encode()
    prefix = len(header_bytes).to_bytes(4, "little") + header_bytes
    prefix += b"\0" * _pad(len(MAGIC) + 32 + len(prefix))
    digest = hashlib.sha256(prefix)
    for blob in blobs:
        digest.update(blob)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=FILE_SUFFIX, dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(MAGIC)
            fh.write(digest.digest())
            fh.write(prefix)
            for blob in blobs:
                fh.write(blob)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_dir(path.parent)


def _le(values: array[Any]) -> array[Any]:
    if sys.byteorder == "little":
        return values
    swapped = array(values.typecode, values)
    swapped.byteswap()
    return swapped


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms without directory fds
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(fd)


def _read_header(path: Path) -> dict[str, Any]:
    """The JSON header only (cheap): used for monotonicity checks against the disk."""
    with open(path, "rb") as fh:
        head = fh.read(len(MAGIC) + 32 + 4)
        if len(head) < len(MAGIC) + 36 or head[: len(MAGIC)] != MAGIC:
            raise CrlIndexCorruptError(f"{path.name}: not a partition file", source=str(path))
        size = int.from_bytes(head[-4:], "little")
        if size > _HEADER_LIMIT:
            raise CrlIndexCorruptError(f"{path.name}: header too large", source=str(path))
        raw = fh.read(size)
    try:
        header = json.loads(raw)
    except ValueError:
        raise CrlIndexCorruptError(f"{path.name}: unreadable header", source=str(path)) from None
    if not isinstance(header, dict):
        raise CrlIndexCorruptError(f"{path.name}: unreadable header", source=str(path))
    return header


def _load_partition(path: Path, *, verify: bool = True) -> CrlPartition:
    """Map a partition file and rebuild its arrays. Raises :class:`CrlIndexCorruptError`."""
    src = str(path)
    base = len(MAGIC) + 32
    try:
        with open(path, "rb") as fh:
            size = os.fstat(fh.fileno()).st_size
            if size < base + 4:
                raise CrlIndexCorruptError(f"{path.name}: truncated", source=src)
            if verify:
                # Hash by reading, not through the mapping: the CRL bytes then stay out of
                # this process's resident memory until a lookup matches.
                head = fh.read(base)
                if head[: len(MAGIC)] != MAGIC:
                    raise CrlIndexCorruptError(f"{path.name}: not a partition file", source=src)
                digest = hashlib.sha256()
                buf = bytearray(1 << 20)
                while n := fh.readinto(buf):
                    digest.update(memoryview(buf)[:n])
                if digest.digest() != head[len(MAGIC) :]:
                    raise CrlIndexCorruptError(f"{path.name}: checksum mismatch", source=src)
            mm = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
    except OSError as exc:
        raise CrlIndexCorruptError(f"{path.name}: cannot read: {exc}", source=src) from None
    try:
        view = memoryview(mm)
        if view[: len(MAGIC)] != MAGIC:
            raise CrlIndexCorruptError(f"{path.name}: not a partition file", source=src)
        hlen = int.from_bytes(view[base : base + 4], "little")
        if hlen > _HEADER_LIMIT or base + 4 + hlen > size:
            raise CrlIndexCorruptError(f"{path.name}: bad header length", source=src)
        header = json.loads(bytes(view[base + 4 : base + 4 + hlen]))
        body = base + 4 + hlen
        body += _pad(body)
        if header.get("format") != 1:
            raise CrlIndexCorruptError(f"{path.name}: unknown format", source=src)
        info = PartitionInfo.from_dict(header, path)
        sections = header["sections"]

        def section(name: str) -> memoryview:
            off, length = (int(x) for x in sections[name])
            if off < 0 or length < 0 or body + off + length > size:
                raise CrlIndexCorruptError(f"{path.name}: section {name} out of range", source=src)
            return view[body + off : body + off + length]

        kind = str(header["kind"])
        idx_bits = int(header["idx_bits"])
        keys: Any
        if kind in ("f64", "u64"):
            keys = array("d" if kind == "f64" else "Q")
            keys.frombytes(section("keys"))
            if sys.byteorder != "little":  # pragma: no cover - big-endian hosts
                keys.byteswap()
        elif kind == "wide":
            width = int(header["key_width"])
            blob = bytes(section("keys"))
            if width <= 0 or len(blob) % width:
                raise CrlIndexCorruptError(f"{path.name}: bad key width", source=src)
            keys = [int.from_bytes(blob[i : i + width], "big") for i in range(0, len(blob), width)]
        else:
            raise CrlIndexCorruptError(f"{path.name}: unknown key kind {kind!r}", source=src)
        offsets = array("I")
        offsets.frombytes(section("offsets"))
        starts = array("I")
        starts.frombytes(section("starts"))
        if sys.byteorder != "little":  # pragma: no cover
            offsets.byteswap()
            starts.byteswap()
        der = section("der")
        if (
            len(keys) != info.entries
            or len(offsets) != info.entries
            or len(starts) < 2
            or starts[-1] != info.entries
        ):
            raise CrlIndexCorruptError(f"{path.name}: inconsistent section sizes", source=src)
        table = EntryTable(keys, offsets, idx_bits, kind)
        directory = (int(header["dir_lo"]), int(header["dir_shift"]), starts)
        return CrlPartition(info, table, directory, der, mm)
    except CrlIndexCorruptError:
        raise
    except (ValueError, KeyError, TypeError, OverflowError) as exc:
        raise CrlIndexCorruptError(f"{path.name}: malformed: {exc}", source=src) from None


# ----------------------------------------------------------------------------- the index


@dataclass(frozen=True)
class _Snapshot:
    partitions: dict[str, CrlPartition] = field(default_factory=dict)
    by_key: dict[tuple[bytes, bytes], CrlPartition] = field(default_factory=dict)
    stats: dict[str, tuple[int, int, int]] = field(default_factory=dict)

    @staticmethod
    def build(
        partitions: dict[str, CrlPartition], stats: dict[str, tuple[int, int, int]]
    ) -> _Snapshot:
        by_key: dict[tuple[bytes, bytes], CrlPartition] = {}
        for part in partitions.values():
            for dpk in part.info.dp_keys or (b"",):
                by_key[(part.info.issuer_id, dpk)] = part
        return _Snapshot(partitions, by_key, stats)


def _partition_id(issuer_id: bytes, dp_keys: Sequence[bytes]) -> str:
    digest = hashlib.sha256(issuer_id + b"\0" + b"\0".join(sorted(dp_keys)))
    return digest.hexdigest()[:24]


def _stat_sig(path: Path) -> tuple[int, int, int]:
    st = path.stat()
    return (st.st_ino, st.st_mtime_ns, st.st_size)


class CrlIndex:
    """Verified CRL partitions, persisted in ``directory`` (or in memory when it is None).

    ``trusted_roots`` are the certificates allowed to sign CRLs (the lead passes the trust
    store's roots); they are needed to ingest, not to look up. ``grace`` extends each CRL's
    nextUpdate (default: none); ``clock_skew`` tolerates a thisUpdate slightly in the future.
    """

    def __init__(
        self,
        directory: str | os.PathLike[str] | None = None,
        *,
        trusted_roots: Iterable[x509.Certificate] = (),
        grace: dt.timedelta = dt.timedelta(0),
        clock_skew: dt.timedelta = dt.timedelta(minutes=5),
        clock: _ClockLike | None = None,
        verify_checksums: bool = True,
    ) -> None:
        if grace < dt.timedelta(0) or clock_skew < dt.timedelta(0):
            raise ValueError("grace and clock_skew must not be negative")
        self._dir = Path(directory) if directory is not None else None
        self._roots = tuple(trusted_roots)
        for root in self._roots:
            if not isinstance(root, x509.Certificate):
                raise TypeError("trusted_roots must be x509.Certificate objects")
        self.grace = grace
        self.clock_skew = clock_skew
        self._clock: _ClockLike = clock or _SystemClock()
        self._verify = verify_checksums
        self._lock = threading.Lock()
        self._snapshot = _Snapshot()
        # Identity-keyed caches hold a reference to their key object, so an id is never
        # reused while its entry exists; all are bounded and simply cleared when full.
        self._issuer_by_id: dict[int, tuple[x509.Certificate, tuple[bytes, bytes]]] = {}
        self._issuer_by_der: dict[bytes, tuple[bytes, bytes]] = {}
        self._routes: dict[int, tuple[x509.Certificate, x509.Certificate, _Route]] = {}
        self._dp_by_id: dict[int, tuple[Any, list[tuple[bytes, x509.GeneralName]]]] = {}
        self._dp_by_raw: dict[bytes, list[tuple[bytes, x509.GeneralName]]] = {}
        self._dp_cache: dict[Any, list[tuple[bytes, x509.GeneralName]]] = {}
        self.load_errors: tuple[tuple[str, str], ...] = ()
        if self._dir is not None:
            self._dir.mkdir(parents=True, exist_ok=True)
            self.refresh()

    @classmethod
    def open(cls, directory: str | os.PathLike[str], **kwargs: Any) -> CrlIndex:
        """Load (or create) the index persisted in ``directory``."""
        return cls(directory, **kwargs)

    # ------------------------------------------------------------------ properties

    @property
    def directory(self) -> Path | None:
        return self._dir

    @property
    def trusted_roots(self) -> tuple[x509.Certificate, ...]:
        return self._roots

    def partitions(self) -> list[PartitionInfo]:
        """Every partition currently loaded, sorted by issuer key and DP."""
        parts = self._snapshot.partitions.values()
        return sorted(
            (p.info for p in parts),
            key=lambda i: (i.issuer_key_id, i.distribution_points),
        )

    def __len__(self) -> int:
        return len(self._snapshot.partitions)

    def __iter__(self) -> Iterator[CrlPartition]:
        return iter(list(self._snapshot.partitions.values()))

    def partition(self, partition_id: str) -> CrlPartition | None:
        return self._snapshot.partitions.get(partition_id)

    def status(self, at: dt.datetime | None = None) -> list[PartitionStatus]:
        """Each partition with its stale flag at ``at`` (default: now)."""
        when = at or self._clock.now()
        return [
            PartitionStatus(
                info=info,
                at=when,
                stale=info.is_stale(when, self.grace),
                seconds_to_next_update=(info.next_update - when).total_seconds(),
            )
            for info in self.partitions()
        ]

    # ------------------------------------------------------------------ ingest

    def ingest(
        self, data: bytes, *, source: str | None = None, allow_stale: bool = False
    ) -> list[IngestReport]:
        """Ingest DER or PEM (one or more CRLs). Stops at the first CRL that fails."""
        return [
            self.ingest_der(der, source=source, allow_stale=allow_stale)
            for der in decode_crls(data, source=source)
        ]

    def ingest_der(
        self, der: bytes, *, source: str | None = None, allow_stale: bool = False
    ) -> IngestReport:
        """Verify one DER CRL and make it the partition for its issuer key and DP.

        Checks, in order: DER structure; issuer = a trusted root chosen by AKI key id and
        signature; signature over the exact TBS bytes; thisUpdate not in the future;
        nextUpdate + grace not passed (unless ``allow_stale``); CRL number not lower than
        the stored one (equal with different content is refused too). Then the entry index is
        built, written atomically and swapped in.
        """
        started = time.perf_counter()
        parsed = parse_crl(bytes(der), source=source)
        t_parsed = time.perf_counter()
        root = self._select_issuer(parsed)
        t_verified = time.perf_counter()
        now = self._clock.now()
        if parsed.this_update > now + self.clock_skew:
            raise CrlNotYetValidError(
                f"CRL thisUpdate {parsed.this_update.isoformat()} is in the future", source=source
            )
        assert parsed.next_update is not None
        if parsed.next_update < parsed.this_update:
            raise CrlFormatError("CRL nextUpdate precedes thisUpdate", source=source)
        if not allow_stale and now > parsed.next_update + self.grace:
            raise CrlStaleError(
                f"CRL expired: nextUpdate {parsed.next_update.isoformat()} has passed "
                f"(grace {self.grace})",
                source=source,
            )
        issuer_id = spki_sha256(root)
        dp_pairs = [(dp_key(gn), dp_display(gn)) for gn in parsed.distribution_points]
        dp_keys = tuple(k for k, _ in dp_pairs if k is not None)
        if parsed.distribution_points and not dp_keys:
            raise CrlUnsupportedError(
                "IssuingDistributionPoint names neither a directory name nor a URI",
                source=source,
            )
        pid = _partition_id(issuer_id, dp_keys)
        crl_sha = hashlib.sha256(parsed.der).hexdigest()

        current = self._current_info(pid)
        if current is not None:
            self._check_monotonic(current, parsed, crl_sha, source)
            if current.crl_number == parsed.crl_number:
                return IngestReport(
                    "unchanged", current, current.crl_number, time.perf_counter() - started
                )

        table = walk_entries(
            parsed.der,
            parsed.revoked[0],
            parsed.revoked[1],
            expected_count=parsed.entry_count,
            source=source,
        )
        directory = build_directory(table.keys, table.idx_bits)
        t_indexed = time.perf_counter()
        info = PartitionInfo(
            partition_id=pid,
            issuer_id=issuer_id,
            issuer_key_id=key_identifier(root),
            issuer_subject=root.subject.rfc4514_string(),
            issuer_serial=root.serial_number,
            issuer_not_after=root.not_valid_after_utc,
            distribution_points=tuple(d for k, d in dp_pairs if k is not None),
            dp_keys=dp_keys,
            scope=parsed.scope,
            crl_number=parsed.crl_number,
            this_update=parsed.this_update,
            next_update=parsed.next_update,
            entries=table.count,
            crl_sha256=crl_sha,
            source=source,
            ingested_at=now,
        )
        with self._lock, self._dir_lock():
            # Re-check under the locks: another thread or process may have won the race.
            current = self._current_info(pid)
            if current is not None:
                self._check_monotonic(current, parsed, crl_sha, source)
                if current.crl_number == parsed.crl_number:
                    return IngestReport(
                        "unchanged", current, current.crl_number, time.perf_counter() - started
                    )
            if self._dir is not None:
                path = self._dir / f"{pid}{FILE_SUFFIX}"
                info = replace(info, path=path)
                _write_partition(path, info, table, directory, parsed.der)
                partition = _load_partition(path, verify=False)
                stat = _stat_sig(path)
            else:
                partition = CrlPartition(info, table, directory, parsed.der)
                stat = (0, 0, 0)
            snap = self._snapshot
            parts = dict(snap.partitions)
            parts[pid] = partition
            stats = dict(snap.stats)
            stats[pid] = stat
            self._snapshot = _Snapshot.build(parts, stats)
        action = "added" if current is None else "replaced"
        done = time.perf_counter()
        elapsed = done - started
        timings = {
            "parse": t_parsed - started,
            "verify": t_verified - t_parsed,
            "index": t_indexed - t_verified,
            "store": done - t_indexed,
        }
        logger.info(
            "CRL %s %s: number %d, %d entries, next update %s (%.3f s)",
            info.label,
            action,
            info.crl_number,
            info.entries,
            info.next_update.isoformat(),
            elapsed,
        )
        return IngestReport(
            action,
            partition.info,
            None if current is None else current.crl_number,
            elapsed,
            timings,
        )

    def _select_issuer(self, parsed: ParsedCrl) -> x509.Certificate:
        """The trusted root that signed ``parsed``: same name, same key id, valid signature."""
        if not self._roots:
            raise CrlIssuerUnknownError(
                "no trusted roots configured: cannot verify any CRL", source=parsed.source
            )
        issuer = parsed.issuer
        named = [r for r in self._roots if r.subject == issuer]
        if parsed.authority_key_id is not None:
            named = [r for r in named if key_identifier(r) == parsed.authority_key_id]
        if not named:
            keyid = parsed.authority_key_id.hex() if parsed.authority_key_id else "absent"
            raise CrlIssuerUnknownError(
                f"no trusted root named {issuer.rfc4514_string()} with key id {keyid}",
                source=parsed.source,
            )
        try:
            hash_alg = parsed.crl.signature_hash_algorithm
            params = parsed.crl.signature_algorithm_parameters
        except (UnsupportedAlgorithm, ValueError) as exc:
            raise CrlUnsupportedError(
                f"unsupported CRL signature algorithm: {exc}", source=parsed.source
            ) from None
        for root in named:
            if not _is_crl_signer(root):
                continue
            try:
                if signature_ok(
                    root.public_key(), parsed.signature, parsed.tbs_bytes, hash_alg, params
                ):
                    return root
            except UnsupportedSignatureError as exc:
                raise CrlUnsupportedError(str(exc), source=parsed.source) from None
            except (ValueError, TypeError) as exc:  # key/algorithm mismatch
                logger.debug("CRL signature check with %r failed: %s", root.subject, exc)
        raise CrlSignatureError(
            f"CRL signature does not verify with any trusted root named "
            f"{issuer.rfc4514_string()} (tried {len(named)})",
            source=parsed.source,
        )

    @staticmethod
    def _check_monotonic(
        current: PartitionInfo, parsed: ParsedCrl, crl_sha: str, source: str | None
    ) -> None:
        if parsed.crl_number < current.crl_number:
            raise CrlNumberRegressionError(
                f"CRL number {parsed.crl_number} is older than the stored "
                f"{current.crl_number} for {current.label}",
                stored=current.crl_number,
                offered=parsed.crl_number,
                source=source,
            )
        if parsed.crl_number == current.crl_number and crl_sha != current.crl_sha256:
            raise CrlNumberConflictError(
                f"CRL number {parsed.crl_number} already stored for {current.label} "
                "with different content",
                source=source,
            )

    def _current_info(self, pid: str) -> PartitionInfo | None:
        """The stored partition's info, read from disk when persisted (another process may
        have replaced it) else from memory."""
        if self._dir is not None:
            path = self._dir / f"{pid}{FILE_SUFFIX}"
            if not path.exists():
                return None
            try:
                return PartitionInfo.from_dict(_read_header(path), path)
            except (CrlIndexCorruptError, ValueError, KeyError, TypeError) as exc:
                # Unreadable: monotonicity cannot be checked against it; let a verified CRL
                # replace the damaged file rather than block updates forever.
                logger.warning("CRL index: replacing unreadable %s: %s", path, exc)
                return None
        part = self._snapshot.partitions.get(pid)
        return None if part is None else part.info

    @contextlib.contextmanager
    def _dir_lock(self) -> Iterator[None]:
        if self._dir is None or fcntl is None:
            yield
            return
        with open(self._dir / ".lock", "a+b") as fh:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh.fileno(), fcntl.LOCK_UN)

    # ------------------------------------------------------------------ maintenance

    def refresh(self) -> RefreshReport:
        """Reload partition files that changed on disk (written by another process), drop
        deleted ones. Damaged files are skipped, logged and listed in ``load_errors``."""
        if self._dir is None:
            return RefreshReport()
        with self._lock:
            snap = self._snapshot
            parts = dict(snap.partitions)
            stats = dict(snap.stats)
            seen: set[str] = set()
            loaded: list[str] = []
            errors: list[tuple[str, str]] = []
            for path in sorted(self._dir.glob(f"*{FILE_SUFFIX}")):
                if path.name.startswith("."):
                    continue
                pid = path.name[: -len(FILE_SUFFIX)]
                try:
                    sig = _stat_sig(path)
                except OSError:
                    continue
                seen.add(pid)
                if stats.get(pid) == sig and pid in parts:
                    continue
                try:
                    part = _load_partition(path, verify=self._verify)
                    if part.info.partition_id != pid:
                        raise CrlIndexCorruptError(
                            f"{path.name}: file name does not match its partition id",
                            source=str(path),
                        )
                except CrlError as exc:
                    logger.error("CRL index: skipping %s: %s", path, exc)
                    errors.append((str(path), str(exc)))
                    parts.pop(pid, None)
                    stats.pop(pid, None)
                    continue
                parts[pid] = part
                stats[pid] = sig
                loaded.append(pid)
            removed = [pid for pid in parts if pid not in seen]
            for pid in removed:
                parts.pop(pid, None)
                stats.pop(pid, None)
            self._snapshot = _Snapshot.build(parts, stats)
            self.load_errors = tuple(errors)
        return RefreshReport(tuple(loaded), tuple(removed), tuple(errors))

    def remove(self, partition_id: str) -> bool:
        """Delete a partition (file and memory). True if it existed."""
        with self._lock, self._dir_lock():
            snap = self._snapshot
            existed = partition_id in snap.partitions
            if self._dir is not None:
                path = self._dir / f"{partition_id}{FILE_SUFFIX}"
                if path.exists():
                    path.unlink()
                    _fsync_dir(self._dir)
                    existed = True
            parts = {k: v for k, v in snap.partitions.items() if k != partition_id}
            stats = {k: v for k, v in snap.stats.items() if k != partition_id}
            self._snapshot = _Snapshot.build(parts, stats)
        return existed

    # ------------------------------------------------------------------ lookups

    def issuer_id(self, issuer: x509.Certificate) -> bytes:
        """SHA-256 of the issuer's SubjectPublicKeyInfo (cached per issuer certificate)."""
        return self._issuer_ids_of(issuer)[0]

    def _issuer_ids_of(self, issuer: x509.Certificate) -> tuple[bytes, bytes]:
        """(SPKI SHA-256, key identifier) of an issuer. Cached by object identity (hashing a
        certificate hashes its DER: microseconds), then by DER for new objects."""
        entry = self._issuer_by_id.get(id(issuer))
        if entry is not None and entry[0] is issuer:
            return entry[1]
        der = issuer.public_bytes(Encoding.DER)
        ids = self._issuer_by_der.get(der)
        if ids is None:
            ids = (spki_sha256(issuer), key_identifier(issuer))
            if len(self._issuer_by_der) >= _ISSUER_CACHE_SIZE:
                self._issuer_by_der.clear()
            self._issuer_by_der[der] = ids
        if len(self._issuer_by_id) >= _ISSUER_CACHE_SIZE:
            self._issuer_by_id.clear()
        self._issuer_by_id[id(issuer)] = (issuer, ids)
        return ids

    def _certificate_dp_keys(self, cert: x509.Certificate) -> list[tuple[bytes, x509.GeneralName]]:
        """DP keys of ``cert``, cached per cRLDistributionPoints value: by identity, then by
        equality (one value per municipality and hierarchy: encoding the DirName is costly)."""
        try:
            ext = cert.extensions.get_extension_for_oid(ExtensionOID.CRL_DISTRIBUTION_POINTS)
        except x509.ExtensionNotFound:
            return []
        value = ext.value
        assert isinstance(value, x509.CRLDistributionPoints)
        entry = self._dp_by_id.get(id(value))
        if entry is not None and entry[0] is value:
            return entry[1]
        relative = any(p.relative_name is not None for p in value)
        cache_key: Any = (value, cert.issuer) if relative else value
        cached = self._dp_cache.get(cache_key)
        if cached is None:
            cached = distribution_point_keys(value, cert.issuer)
            if len(self._dp_cache) >= _DP_CACHE_SIZE:
                self._dp_cache.clear()
            self._dp_cache[cache_key] = cached
        if not relative:
            if len(self._dp_by_id) >= _DP_CACHE_SIZE:
                self._dp_by_id.clear()
            self._dp_by_id[id(value)] = (value, cached)
        return cached

    def _route(self, cert: x509.Certificate, issuer: x509.Certificate) -> _Route:
        """Where to look for ``cert``: (issuer id, issuer key id, DP keys, is CA) or why not."""
        entry = self._routes.get(id(cert))
        if entry is not None and entry[0] is cert and entry[1] is issuer:
            return entry[2]
        aki, dps, is_ca = self._revocation_fields(cert)
        route = self._make_route(issuer, aki, dps, is_ca)
        if len(self._routes) >= _ROUTE_CACHE_SIZE:
            self._routes.clear()
        self._routes[id(cert)] = (cert, issuer, route)
        return route

    def _make_route(
        self,
        issuer: x509.Certificate,
        aki: bytes | None,
        dps: Sequence[tuple[bytes, x509.GeneralName]],
        is_ca: bool,
    ) -> _Route:
        iid, issuer_kid = self._issuer_ids_of(issuer)
        if aki is not None and aki != issuer_kid:
            return (
                f"issuer mismatch: the certificate's authority key id "
                f"{aki.hex()[:16]} is not the given issuer's {issuer_kid.hex()[:16]}"
            )
        return (iid, issuer_kid, tuple(dps), is_ca)

    def _revocation_fields(
        self, cert: x509.Certificate
    ) -> tuple[bytes | None, list[tuple[bytes, x509.GeneralName]], bool]:
        """(AKI key id, DP keys, is CA). Read from the raw DER (cheap) and cached per distinct
        raw cRLDistributionPoints value; cryptography's decoded extensions are the fallback."""
        try:
            aki, raw_dp, is_ca = certificate_revocation_fields(cert.public_bytes(Encoding.DER))
        except DerError:
            try:
                ext = cert.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier)
                aki = ext.value.key_identifier
            except x509.ExtensionNotFound:
                aki = None
            return aki, self._certificate_dp_keys(cert), _is_ca(cert)
        return aki, self._dp_keys_of_raw(raw_dp, cert), is_ca

    def _dp_keys_of_raw(
        self, raw_dp: bytes | None, cert: x509.Certificate
    ) -> list[tuple[bytes, x509.GeneralName]]:
        """DP keys of ``cert`` whose raw cRLDistributionPoints value is ``raw_dp``: cached per
        distinct raw value (one per municipality and hierarchy); decoded by cryptography the
        first time a value is seen."""
        if raw_dp is None:
            return []
        cached = self._dp_by_raw.get(raw_dp)
        if cached is not None:
            return cached
        keys = self._certificate_dp_keys(cert)
        value = cert.extensions.get_extension_for_oid(ExtensionOID.CRL_DISTRIBUTION_POINTS).value
        assert isinstance(value, x509.CRLDistributionPoints)
        if not any(p.relative_name is not None for p in value):  # else depends on the issuer
            if len(self._dp_by_raw) >= _DP_CACHE_SIZE:
                self._dp_by_raw.clear()
            self._dp_by_raw[raw_dp] = keys
        return keys

    def find_partition(
        self, cert: x509.Certificate, issuer: x509.Certificate
    ) -> tuple[CrlPartition | None, str]:
        """The partition covering ``cert`` and a description of what was looked for."""
        part, label, _ = self._find(self._route(cert, issuer))
        return part, label

    def _find(self, route: _Route) -> tuple[CrlPartition | None, str, bool]:
        if isinstance(route, str):
            return None, route, False
        iid, issuer_kid, dps, is_ca = route
        by_key = self._snapshot.by_key
        for key, _ in dps:
            part = by_key.get((iid, key))
            if part is not None:
                return part, part.label, is_ca
        part = by_key.get((iid, b""))
        if part is not None:
            return part, part.label, is_ca
        wanted = ", ".join(dp_display(gn) for _, gn in dps) if dps else "no CRL distribution point"
        return None, f"{wanted} [issuer key {issuer_kid.hex()[:16]}]", is_ca

    def check(
        self,
        cert: x509.Certificate,
        issuer: x509.Certificate,
        at: dt.datetime,
        *,
        source_name: str = "crl",
    ) -> RevocationAnswer:
        """The index's answer for ``cert`` at ``at`` (see :class:`CrlSource`)."""
        part, label, is_ca = self._find(self._route(cert, issuer))
        return self._answer(part, label, is_ca, cert.serial_number, at, source_name=source_name)

    def check_fields(
        self,
        cert: x509.Certificate,
        issuer: x509.Certificate,
        at: dt.datetime,
        fields: RevocationFields,
        *,
        source_name: str = "crl",
    ) -> RevocationAnswer:
        """:meth:`check` with the certificate's revocation fields already read by the caller
        (the verifier reads them from the DER it validated): no second read of ``cert``.

        ``fields`` must describe ``cert``; ``cert`` itself is only read the first time a
        cRLDistributionPoints value is seen (to decode it).
        """
        raw_dp = fields.crl_distribution_points
        dps = self._dp_by_raw.get(raw_dp) if raw_dp is not None else _NO_DPS
        if dps is None:
            dps = self._dp_keys_of_raw(raw_dp, cert)
        known = self._issuer_by_id.get(id(issuer))
        if known is not None and known[0] is issuer:
            iid, issuer_kid = known[1]
        else:
            iid, issuer_kid = self._issuer_ids_of(issuer)
        aki = fields.authority_key_id
        if aki is None or aki == issuer_kid:  # the usual case, inlined: _find without a route
            by_key = self._snapshot.by_key
            for key, _ in dps:
                part = by_key.get((iid, key))
                if part is not None:
                    serial = fields.serial
                    info = part.info
                    if (  # a user certificate not listed in a fresh partition: inlined
                        not fields.is_ca
                        and info.scope in ("all", "user")
                        and serial >= 0
                        and at <= info.next_update + self.grace
                        and part.find_offset(serial) < 0
                    ):
                        return part.good_answer(source_name)
                    return self._answer(
                        part, part.label, fields.is_ca, serial, at, source_name=source_name
                    )
        route = self._make_route(issuer, aki, dps, fields.is_ca)
        part, label, is_ca = self._find(route)
        return self._answer(part, label, is_ca, fields.serial, at, source_name=source_name)

    def _answer(
        self,
        part: CrlPartition | None,
        label: str,
        is_ca: bool,
        serial: int,
        at: dt.datetime,
        *,
        source_name: str,
    ) -> RevocationAnswer:
        if part is None:
            return RevocationAnswer(
                RevocationStatus.UNKNOWN,
                source_name,
                detail=label
                if label.startswith("issuer mismatch")
                else f"partition missing: {label}",
            )
        info = part.info
        if info.scope not in ("all", "ca" if is_ca else "user"):
            return RevocationAnswer(
                RevocationStatus.UNKNOWN,
                source_name,
                detail=f"partition missing: {label} covers only {info.scope} certificates",
            )
        if info.is_stale(at, self.grace):
            return RevocationAnswer(
                RevocationStatus.UNKNOWN,
                source_name,
                detail=f"stale: {label} nextUpdate {info.next_update.isoformat()} passed "
                f"(grace {self.grace})",
                this_update=info.this_update,
                next_update=info.next_update,
            )
        entry = part.lookup(serial)
        if entry is None:
            return part.good_answer(source_name)
        where = f"{label}, CRL number {info.crl_number}"
        if entry.reason == "removeFromCRL":
            return RevocationAnswer(
                RevocationStatus.GOOD,
                source_name,
                detail=f"{where}: listed as removeFromCRL",
                this_update=info.this_update,
                next_update=info.next_update,
            )
        if entry.revoked_at > at:
            return RevocationAnswer(
                RevocationStatus.GOOD,
                source_name,
                detail=f"{where}: revoked later, at {entry.revoked_at.isoformat()}",
                this_update=info.this_update,
                next_update=info.next_update,
            )
        return RevocationAnswer(
            RevocationStatus.REVOKED,
            source_name,
            reason=entry.reason or "unspecified",
            revoked_at=entry.revoked_at,
            detail=where,
            this_update=info.this_update,
            next_update=info.next_update,
        )


def _is_crl_signer(cert: x509.Certificate) -> bool:
    try:
        ku = cert.extensions.get_extension_for_class(x509.KeyUsage).value
        if not ku.crl_sign:
            return False
    except x509.ExtensionNotFound:
        pass
    try:
        bc = cert.extensions.get_extension_for_class(x509.BasicConstraints).value
        return bc.ca
    except x509.ExtensionNotFound:
        return False


def _is_ca(cert: x509.Certificate) -> bool:
    try:
        return cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    except x509.ExtensionNotFound:
        return False
