"""Property tests: any bytes given to the CRL parsers and the index give typed errors only."""

from __future__ import annotations

import contextlib
import sys
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).parent))

from revocation_helpers import NOW, CrlSpec, build_crl_der, entry_der, make_root, pem

from jpki_sdk.verify.revocation import CrlError, CrlIndex, CrlIndexCorruptError
from jpki_sdk.verify.revocation._der import DerError, read_tlv
from jpki_sdk.verify.revocation.crl_index import _load_partition
from jpki_sdk.verify.revocation.crl_parse import parse_entry, walk_entries


class Clock:
    def now(self):  # type: ignore[no-untyped-def]
        return NOW


ROOTS = [make_root(2), make_root(3)]
GOOD = build_crl_der(
    [entry_der(0x1001, NOW, 1), entry_der(0x1002, NOW), entry_der(0xFFFFFFFF, NOW, 4)],
    CrlSpec(),
)
FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FUZZ
@given(st.binary(max_size=600))
def test_arbitrary_bytes_to_ingest(data: bytes) -> None:
    index = CrlIndex(trusted_roots=ROOTS, clock=Clock())
    try:
        index.ingest(data)
    except CrlError as exc:
        assert exc.code
    else:  # pragma: no cover - random bytes are never a validly signed CRL
        raise AssertionError("random bytes were accepted as a CRL")


@FUZZ
@given(st.binary(max_size=400))
def test_arbitrary_pem_bodies(data: bytes) -> None:
    index = CrlIndex(trusted_roots=ROOTS, clock=Clock())
    try:
        index.ingest(pem(data))
    except CrlError:
        return
    raise AssertionError("random bytes were accepted as a CRL")  # pragma: no cover


@FUZZ
@given(st.data())
def test_mutated_crls(data: st.DataObject) -> None:
    """Flip, cut or insert bytes in a valid signed CRL: refused with a typed error, or (only
    if the signed content is intact) accepted with the same entries."""
    der = bytearray(GOOD)
    action = data.draw(st.sampled_from(["flip", "cut", "insert"]))
    pos = data.draw(st.integers(0, len(der) - 1))
    if action == "flip":
        der[pos] ^= data.draw(st.integers(1, 255))
    elif action == "cut":
        del der[pos : pos + data.draw(st.integers(1, 8))]
    else:
        der[pos:pos] = data.draw(st.binary(min_size=1, max_size=4))
    index = CrlIndex(trusted_roots=ROOTS, clock=Clock())
    try:
        [report] = index.ingest(bytes(der))
    except CrlError:
        return
    [part] = list(index)
    assert report.partition.entries == 3
    assert all(s in part for s in (0x1001, 0x1002, 0xFFFFFFFF))


@FUZZ
@given(st.binary(max_size=300))
def test_walker_on_raw_bytes(data: bytes) -> None:
    """The entry walker alone (without cryptography's validation in front) stays typed."""
    try:
        table = walk_entries(data, 0, len(data))
    except CrlError:
        return
    for offset in table.offsets:
        with contextlib.suppress(DerError):
            parse_entry(data, offset)


@FUZZ
@given(st.binary(max_size=64), st.integers(0, 70))
def test_der_reader(data: bytes, pos: int) -> None:
    try:
        tag, start, stop = read_tlv(data, pos, len(data))
    except DerError:
        return
    assert pos < start <= stop <= len(data)
    assert tag == data[pos]


@FUZZ
@given(st.binary(max_size=300))
def test_partition_file_loader(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "x.crlx"
        path.write_bytes(b"JPKICRX\x01" + data)
        try:
            _load_partition(path)
        except CrlIndexCorruptError:
            return
        raise AssertionError("garbage loaded as a partition")  # pragma: no cover


@FUZZ
@given(st.binary(max_size=300))
def test_raw_certificate_field_reader(data: bytes) -> None:
    from jpki_sdk.verify.revocation.crl_parse import certificate_revocation_fields

    try:
        certificate_revocation_fields(data)
    except DerError:
        return
