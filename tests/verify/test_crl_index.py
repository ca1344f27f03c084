"""CRL index: verification at ingest, partition mapping, lookups, persistence, updates."""

from __future__ import annotations

import datetime as dt
import os
import sys
import threading
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization

sys.path.insert(0, str(Path(__file__).parent))

from revocation_helpers import (
    DP_KIYOSE,
    DP_NAKA,
    NOW,
    CrlSpec,
    build_crl_der,
    bulk_entries,
    der_int,
    der_time,
    entry_der,
    make_ee,
    make_root,
    pem,
    reason_ext,
    root_key,
    root_name,
    tlv,
)

from jpki_sdk.errors import VerificationError
from jpki_sdk.verify.revocation import (
    CertificateRevokedError,
    CrlFormatError,
    CrlIndex,
    CrlIndexCorruptError,
    CrlIssuerUnknownError,
    CrlNotYetValidError,
    CrlNumberConflictError,
    CrlNumberRegressionError,
    CrlSignatureError,
    CrlSource,
    CrlStaleError,
    CrlUnsupportedError,
    RevocationMode,
    RevocationPolicy,
    RevocationStatus,
    RevocationUnavailableError,
)

UTC = dt.timezone.utc
REVOKED_AT = NOW - dt.timedelta(days=10)


class Clock:
    def __init__(self, now: dt.datetime = NOW) -> None:
        self.value = now

    def now(self) -> dt.datetime:
        return self.value


@pytest.fixture(scope="module")
def roots() -> list[x509.Certificate]:
    return [make_root(1), make_root(2), make_root(3)]


def new_index(
    roots: list[x509.Certificate], directory: Path | None = None, **kw: object
) -> CrlIndex:
    return CrlIndex(directory, trusted_roots=roots, clock=Clock(), **kw)  # type: ignore[arg-type]


def basic_crl(number: int = 1, generation: int = 2, dp: x509.Name | None = DP_KIYOSE) -> bytes:
    entries = [
        entry_der(0x1001, REVOKED_AT, 1),
        entry_der(0x1002, REVOKED_AT),
        entry_der(0x1003, NOW + dt.timedelta(days=30), 4),  # revoked after NOW
    ]
    return build_crl_der(entries, CrlSpec(generation=generation, dp=dp, number=number))


# ----------------------------------------------------------------------------- lookups


def test_ingest_and_answers(roots: list[x509.Certificate]) -> None:
    index = new_index(roots)
    [report] = index.ingest(basic_crl())
    assert report.action == "added"
    info = report.partition
    assert info.entries == 3 and info.crl_number == 1
    assert info.distribution_points == (DP_KIYOSE.rfc4514_string(),)
    assert (
        info.issuer_key_id
        == x509.SubjectKeyIdentifier.from_public_key(root_key(2).public_key()).digest
    )
    src = CrlSource(index)
    issuer = make_root(2)
    revoked = src.check(make_ee(0x1001), issuer, NOW)
    assert revoked.status is RevocationStatus.REVOKED
    assert revoked.reason == "keyCompromise"
    assert revoked.revoked_at == REVOKED_AT
    assert revoked.next_update == info.next_update and revoked.source == "crl"
    no_reason = src.check(make_ee(0x1002), issuer, NOW)
    assert no_reason.status is RevocationStatus.REVOKED and no_reason.reason == "unspecified"
    good = src.check(make_ee(0x1004), issuer, NOW)
    assert good.status is RevocationStatus.GOOD
    assert "CRL number 1" in good.detail
    later = src.check(make_ee(0x1003), issuer, NOW)
    assert later.status is RevocationStatus.GOOD and "revoked later" in later.detail
    assert src.check(make_ee(0x1003), issuer, NOW + dt.timedelta(days=31)).status is (
        RevocationStatus.UNKNOWN  # and stale by then
    )


def test_policy_over_crl_source(roots: list[x509.Certificate]) -> None:
    index = new_index(roots)
    index.ingest(basic_crl())
    policy = RevocationPolicy.require(CrlSource(index))
    with pytest.raises(CertificateRevokedError) as info:
        policy.evaluate(make_ee(0x1001), make_root(2), NOW)
    assert info.value.reason == "keyCompromise" and info.value.source == "crl"
    result = policy.evaluate(make_ee(0x2000), make_root(2), NOW)
    assert result.status is RevocationStatus.GOOD and result.source == "crl"
    assert result.mode is RevocationMode.REQUIRE


def test_partition_missing_is_unknown_not_good(roots: list[x509.Certificate]) -> None:
    index = new_index(roots)
    index.ingest(basic_crl())
    src = CrlSource(index)
    other_dp = src.check(make_ee(0x1001, dp=DP_NAKA), make_root(2), NOW)
    assert other_dp.status is RevocationStatus.UNKNOWN
    assert other_dp.detail.startswith("partition missing")
    assert "Yokohama-shi-Naka-ku" in other_dp.detail
    no_dp = src.check(make_ee(0x1001, dp=None), make_root(2), NOW)
    assert no_dp.status is RevocationStatus.UNKNOWN and "no CRL distribution point" in no_dp.detail
    with pytest.raises(RevocationUnavailableError):
        RevocationPolicy.require(src).evaluate(make_ee(5, dp=DP_NAKA), make_root(2), NOW)


def test_generation_chosen_by_key_not_name(roots: list[x509.Certificate]) -> None:
    """Three roots share one DN: the gen-3 CRL must not answer for a gen-2 certificate."""
    index = new_index(roots)
    index.ingest(basic_crl(generation=3))
    src = CrlSource(index)
    gen2 = src.check(make_ee(0x1001, generation=2), make_root(2), NOW)
    assert gen2.status is RevocationStatus.UNKNOWN and "partition missing" in gen2.detail
    gen3 = src.check(make_ee(0x1001, generation=3), make_root(3), NOW)
    assert gen3.status is RevocationStatus.REVOKED
    index.ingest(basic_crl(generation=2))
    assert len(index) == 2
    assert src.check(make_ee(0x1004, generation=2), make_root(2), NOW).status is (
        RevocationStatus.GOOD
    )


def test_wrong_issuer_given_is_not_answered(roots: list[x509.Certificate]) -> None:
    index = new_index(roots)
    index.ingest(basic_crl(generation=2))
    index.ingest(basic_crl(generation=3))
    answer = CrlSource(index).check(make_ee(0x1001, generation=2), make_root(3), NOW)
    assert answer.status is RevocationStatus.UNKNOWN
    assert answer.detail.startswith("issuer mismatch")


def test_no_aki_chooses_by_signature(roots: list[x509.Certificate]) -> None:
    index = new_index(roots)
    der = build_crl_der([entry_der(7, REVOKED_AT)], CrlSpec(generation=3), aki=False)
    [report] = index.ingest(der)
    assert (
        report.partition.issuer_key_id
        == x509.SubjectKeyIdentifier.from_public_key(root_key(3).public_key()).digest
    )


def test_complete_crl_without_idp_covers_all_dps(roots: list[x509.Certificate]) -> None:
    index = new_index(roots)
    index.ingest(build_crl_der([entry_der(9, REVOKED_AT)], CrlSpec(dp=None)))
    src = CrlSource(index)
    for dp in (DP_KIYOSE, DP_NAKA, None):
        assert src.check(make_ee(9, dp=dp), make_root(2), NOW).status is RevocationStatus.REVOKED
    assert index.partitions()[0].label.startswith("complete CRL")


def test_scope_only_ca_certs_does_not_answer_for_users(roots: list[x509.Certificate]) -> None:
    index = new_index(roots)
    idp = x509.IssuingDistributionPoint(
        full_name=None,
        relative_name=None,
        only_contains_user_certs=False,
        only_contains_ca_certs=True,
        only_some_reasons=None,
        indirect_crl=False,
        only_contains_attribute_certs=False,
    )
    der = build_crl_der([entry_der(9, REVOKED_AT)], CrlSpec(dp=None), extensions=[(idp, True)])
    index.ingest(der)
    answer = CrlSource(index).check(make_ee(9, dp=None), make_root(2), NOW)
    assert answer.status is RevocationStatus.UNKNOWN and "covers only ca" in answer.detail


def test_uri_distribution_point(roots: list[x509.Certificate]) -> None:
    index = new_index(roots)
    uri = "http://crl.example.test/kiyose.crl"
    idp = x509.IssuingDistributionPoint(
        full_name=[x509.UniformResourceIdentifier(uri)],
        relative_name=None,
        only_contains_user_certs=True,
        only_contains_ca_certs=False,
        only_some_reasons=None,
        indirect_crl=False,
        only_contains_attribute_certs=False,
    )
    index.ingest(
        build_crl_der([entry_der(11, REVOKED_AT)], CrlSpec(dp=None), extensions=[(idp, True)])
    )
    cert = make_ee(11, dp=None, dp_uri=uri)
    assert CrlSource(index).check(cert, make_root(2), NOW).status is RevocationStatus.REVOKED


# ----------------------------------------------------------------------------- refusals


def test_unknown_issuer(roots: list[x509.Certificate]) -> None:
    index = new_index([make_root(1)])
    with pytest.raises(CrlIssuerUnknownError) as info:
        index.ingest(basic_crl())
    assert info.value.code == "crl_issuer_unknown"
    with pytest.raises(CrlIssuerUnknownError):
        CrlIndex(trusted_roots=[]).ingest(basic_crl())


def test_bad_signature(roots: list[x509.Certificate]) -> None:
    index = new_index(roots)
    with pytest.raises(CrlSignatureError) as info:
        index.ingest(build_crl_der([entry_der(1, REVOKED_AT)], tamper_signature=True))
    assert info.value.code == "crl_signature_invalid"
    # AKI says generation 2, signature made with generation 3's key.
    with pytest.raises(CrlSignatureError):
        index.ingest(build_crl_der([entry_der(1, REVOKED_AT)], CrlSpec(), sign_key=root_key(3)))
    assert len(index) == 0


def test_stale_and_future_crls(roots: list[x509.Certificate]) -> None:
    index = new_index(roots)
    old = CrlSpec(this_update=NOW - dt.timedelta(days=3), next_update=NOW - dt.timedelta(days=1))
    stale = build_crl_der([entry_der(1, REVOKED_AT)], old)
    with pytest.raises(CrlStaleError) as info:
        index.ingest(stale)
    assert info.value.code == "crl_stale"
    future = CrlSpec(this_update=NOW + dt.timedelta(hours=1))
    with pytest.raises(CrlNotYetValidError):
        index.ingest(build_crl_der([entry_der(1, REVOKED_AT)], future))
    # Within the skew it is accepted.
    index.ingest(build_crl_der([], CrlSpec(this_update=NOW + dt.timedelta(minutes=2))))
    # An expired CRL can be stored explicitly, but it answers UNKNOWN ("stale").
    graced = new_index(roots, grace=dt.timedelta(days=2))
    graced.ingest(stale)
    assert CrlSource(graced).check(make_ee(1), make_root(2), NOW).status is (
        RevocationStatus.REVOKED
    )
    strict = new_index(roots)
    strict.ingest(stale, allow_stale=True)
    answer = CrlSource(strict).check(make_ee(2), make_root(2), NOW)
    assert answer.status is RevocationStatus.UNKNOWN and answer.detail.startswith("stale")
    [status] = strict.status(NOW)
    assert status.stale and status.seconds_to_next_update < 0
    assert not graced.status(NOW)[0].stale


def test_crl_number_monotonic(roots: list[x509.Certificate], tmp_path: Path) -> None:
    index = new_index(roots, tmp_path)
    assert index.ingest(basic_crl(number=5))[0].action == "added"
    assert index.ingest(basic_crl(number=5))[0].action == "unchanged"
    with pytest.raises(CrlNumberRegressionError) as info:
        index.ingest(basic_crl(number=4))
    assert (info.value.stored, info.value.offered) == (5, 4)
    different = build_crl_der([entry_der(1, REVOKED_AT)], CrlSpec(number=5))
    with pytest.raises(CrlNumberConflictError):
        index.ingest(different)
    report = index.ingest(build_crl_der([entry_der(0x1005, REVOKED_AT)], CrlSpec(number=6)))[0]
    assert report.action == "replaced" and report.previous_number == 5
    src = CrlSource(index)
    assert src.check(make_ee(0x1001), make_root(2), NOW).status is RevocationStatus.GOOD
    assert src.check(make_ee(0x1005), make_root(2), NOW).status is RevocationStatus.REVOKED
    # Another process (another index over the same directory) also sees number 6 as current.
    other = new_index(roots, tmp_path)
    with pytest.raises(CrlNumberRegressionError):
        other.ingest(basic_crl(number=5))


@pytest.mark.parametrize(
    ("entry", "error"),
    [
        (tlv(0x30, tlv(0x02, b"\xff") + der_time(REVOKED_AT)), CrlFormatError),
        (tlv(0x30, tlv(0x02, b"\x00\x05") + der_time(REVOKED_AT)), CrlFormatError),
        (tlv(0x30, der_int(5) + tlv(0x17, b"250230000000Z")), CrlFormatError),
        (tlv(0x30, der_int(5) + der_time(REVOKED_AT) + b"\x05\x00"), CrlFormatError),
        (
            # unknown critical entry extension
            tlv(
                0x30,
                der_int(5)
                + der_time(REVOKED_AT)
                + tlv(
                    0x30,
                    tlv(0x30, tlv(0x06, b"\x2a\x03") + b"\x01\x01\xff" + tlv(0x04, b"\x05\x00")),
                ),
            ),
            CrlUnsupportedError,
        ),
        (
            # certificateIssuer: indirect CRL
            tlv(
                0x30,
                der_int(5)
                + der_time(REVOKED_AT)
                + tlv(
                    0x30,
                    tlv(
                        0x30, tlv(0x06, b"\x55\x1d\x1d") + b"\x01\x01\xff" + tlv(0x04, b"\x30\x00")
                    ),
                ),
            ),
            CrlUnsupportedError,
        ),
        (
            # reasonCode 7 does not exist
            tlv(0x30, der_int(5) + der_time(REVOKED_AT) + reason_ext(7)),
            (CrlFormatError, CrlUnsupportedError),
        ),
    ],
)
def test_malformed_entries_are_refused(
    roots: list[x509.Certificate], entry: bytes, error: type[Exception]
) -> None:
    index = new_index(roots)
    with pytest.raises(error) as info:
        index.ingest(build_crl_der([entry_der(1, REVOKED_AT), entry]))
    assert isinstance(info.value, VerificationError)
    assert len(index) == 0


def test_unsupported_crl_kinds(roots: list[x509.Certificate]) -> None:
    index = new_index(roots)
    delta = build_crl_der([], extensions=[(x509.DeltaCRLIndicator(1), True)])
    with pytest.raises(CrlUnsupportedError, match="delta"):
        index.ingest(delta)
    unknown_critical = x509.UnrecognizedExtension(x509.ObjectIdentifier("1.2.3.4"), b"\x05\x00")
    with pytest.raises(CrlUnsupportedError, match="critical"):
        index.ingest(build_crl_der([], extensions=[(unknown_critical, True)]))
    indirect = x509.IssuingDistributionPoint(
        full_name=[x509.DirectoryName(DP_KIYOSE)],
        relative_name=None,
        only_contains_user_certs=False,
        only_contains_ca_certs=False,
        only_some_reasons=None,
        indirect_crl=True,
        only_contains_attribute_certs=False,
    )
    with pytest.raises(CrlUnsupportedError, match="indirect"):
        index.ingest(build_crl_der([], CrlSpec(dp=None), extensions=[(indirect, True)]))


def test_crl_without_number_or_next_update(roots: list[x509.Certificate]) -> None:
    index = new_index(roots)
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(root_name())
        .last_update(NOW - dt.timedelta(hours=1))
        .next_update(NOW + dt.timedelta(days=1))
    )
    der = builder.sign(root_key(2), hashes.SHA256()).public_bytes(serialization.Encoding.DER)
    with pytest.raises(CrlFormatError, match="CRL number"):
        index.ingest(der)
    no_next = build_crl_der([], CrlSpec(next_update=None))
    with pytest.raises(CrlFormatError):
        index.ingest(no_next)


def test_garbage_and_pem_input(roots: list[x509.Certificate]) -> None:
    index = new_index(roots)
    for junk in (
        b"",
        b"hello",
        b"\x30\x03\x02\x01\x01",
        b"-----BEGIN X509 CRL-----\n!!\n-----END X509 CRL-----",
    ):
        with pytest.raises(CrlFormatError):
            index.ingest(junk)
    two = pem(basic_crl(generation=2)) + b"\n" + pem(basic_crl(generation=3))
    reports = index.ingest(two)
    assert [r.action for r in reports] == ["added", "added"]
    with pytest.raises(CrlFormatError):
        index.ingest(basic_crl(number=9) + b"\x00")


# ----------------------------------------------------------------------------- scale and shapes


@pytest.mark.parametrize(
    ("serial_bits", "kind"), [(16, "f64"), (32, "f64"), (48, "u64"), (64, "wide"), (150, "wide")]
)
def test_many_entries_every_serial_found(
    roots: list[x509.Certificate], serial_bits: int, kind: str, tmp_path: Path
) -> None:
    count = 3000
    body, serials = bulk_entries(count, seed=serial_bits, serial_bits=serial_bits)
    index = new_index(roots)
    [report] = index.ingest(build_crl_der(body))
    assert report.partition.entries == count
    [part] = list(index)
    assert part.key_kind == kind
    listed = set(serials)
    for s in serials:
        assert part.find_offset(s) >= 0
        assert s in part
    import random

    rng = random.Random(5)
    for _ in range(3000):
        s = rng.getrandbits(serial_bits)
        assert (s in part) == (s in listed)
    for s in (0, -1, (1 << serial_bits) + 1, min(serials) - 1, max(serials) + 1):
        assert (s in part) == (s in listed)
    entry = part.lookup(serials[0])
    assert entry is not None and entry.serial == serials[0] and entry.reason == "unspecified"
    entry = part.lookup(serials[1])
    assert entry is not None and entry.reason is None
    # The same answers after a round trip through the file format.
    index2 = new_index(roots, tmp_path)
    index2.ingest(build_crl_der(body))
    [loaded] = list(CrlIndex(tmp_path))
    assert loaded.key_kind == kind
    assert all(s in loaded for s in serials[::7])
    for _ in range(500):
        s = rng.getrandbits(serial_bits)
        assert (s in loaded) == (s in listed)


def test_slow_path_entries(roots: list[x509.Certificate]) -> None:
    """Long-form entry lengths, invalidityDate, non-critical unknown extensions, 2050+ dates."""
    unknown_noncrit = tlv(0x30, tlv(0x06, b"\x2a\x03\x04") + tlv(0x04, tlv(0x04, b"x" * 120)))
    invalidity = tlv(0x30, tlv(0x06, b"\x55\x1d\x18") + tlv(0x04, tlv(0x18, b"20250101000000Z")))
    reason = tlv(0x30, tlv(0x06, b"\x55\x1d\x15") + tlv(0x04, tlv(0x0A, b"\x03")))
    big = tlv(
        0x30, der_int(77) + der_time(REVOKED_AT) + tlv(0x30, reason + unknown_noncrit + invalidity)
    )
    assert big[1] & 0x80  # long-form length: slow path
    late = entry_der(78, dt.datetime(2051, 1, 1, tzinfo=UTC))
    index = new_index(roots)
    index.ingest(build_crl_der([entry_der(1, REVOKED_AT), big, late]))
    [part] = list(index)
    entry = part.lookup(77)
    assert entry is not None
    assert entry.reason == "affiliationChanged"
    assert entry.invalidity_date == dt.datetime(2025, 1, 1, tzinfo=UTC)
    late_entry = part.lookup(78)
    assert late_entry is not None and late_entry.revoked_at.year == 2051


# ----------------------------------------------------------------------------- persistence


def test_persist_and_reload(roots: list[x509.Certificate], tmp_path: Path) -> None:
    body, serials = bulk_entries(2000, seed=3)
    index = new_index(roots, tmp_path)
    index.ingest(build_crl_der(body))
    index.ingest(basic_crl(generation=3))
    files = sorted(tmp_path.glob("*.crlx"))
    assert len(files) == 2
    assert not list(tmp_path.glob(".tmp-*"))
    reloaded = CrlIndex.open(tmp_path)  # no roots needed to look up
    assert len(reloaded) == 2
    assert reloaded.load_errors == ()
    src = CrlSource(reloaded)
    assert src.check(make_ee(serials[10]), make_root(2), NOW).status is RevocationStatus.REVOKED
    assert src.check(make_ee(0x1001, generation=3), make_root(3), NOW).reason == "keyCompromise"
    assert {p.partition_id for p in reloaded.partitions()} == {
        p.partition_id for p in index.partitions()
    }
    info = reloaded.partitions()[0]
    assert info.path is not None and info.path.parent == tmp_path


def test_corrupt_files_are_reported_and_skipped(
    roots: list[x509.Certificate], tmp_path: Path
) -> None:
    index = new_index(roots, tmp_path)
    index.ingest(basic_crl())
    [path] = tmp_path.glob("*.crlx")
    data = bytearray(path.read_bytes())
    data[-10] ^= 0xFF
    path.write_bytes(bytes(data))
    reloaded = CrlIndex(tmp_path)
    assert len(reloaded) == 0
    assert len(reloaded.load_errors) == 1 and "checksum" in reloaded.load_errors[0][1]
    answer = CrlSource(reloaded).check(make_ee(0x1001), make_root(2), NOW)
    assert answer.status is RevocationStatus.UNKNOWN and "partition missing" in answer.detail
    for junk in (b"", b"JPKICRX\x01", b"not a partition file at all" * 3):
        path.write_bytes(junk)
        assert len(CrlIndex(tmp_path)) == 0
    # A damaged file does not block a verified CRL from replacing it.
    assert new_index(roots, tmp_path).ingest(basic_crl())[0].action == "added"
    assert len(CrlIndex(tmp_path)) == 1


def test_damaged_entry_data_is_a_typed_error(roots: list[x509.Certificate], tmp_path: Path) -> None:
    index = new_index(roots, tmp_path, verify_checksums=False)
    index.ingest(basic_crl())
    [path] = tmp_path.glob("*.crlx")
    data = bytearray(path.read_bytes())
    crl = basic_crl()
    pos = bytes(data).rfind(crl[:40])
    # Damage the first entry's serial inside the stored CRL; the checksum is not verified.
    entry_pos = bytes(data).find(bytes.fromhex("02021001"), pos)
    data[entry_pos + 3] = 0x09
    path.write_bytes(bytes(data))
    damaged = CrlIndex(tmp_path, verify_checksums=False)
    with pytest.raises(CrlIndexCorruptError):
        [part] = list(damaged)
        part.lookup(0x1001)
    answer = RevocationPolicy.soft_fail(CrlSource(damaged)).evaluate(
        make_ee(0x1001), make_root(2), NOW
    )
    assert answer.status is RevocationStatus.UNKNOWN
    assert "crl_index_corrupt" in answer.attempts[0].detail


def test_refresh_sees_other_process_updates(roots: list[x509.Certificate], tmp_path: Path) -> None:
    reader = CrlIndex(tmp_path)
    writer = new_index(roots, tmp_path)
    writer.ingest(basic_crl(number=1))
    src = CrlSource(reader)
    assert src.check(make_ee(0x1001), make_root(2), NOW).status is RevocationStatus.UNKNOWN
    report = reader.refresh()
    assert len(report.loaded) == 1
    assert src.check(make_ee(0x1001), make_root(2), NOW).status is RevocationStatus.REVOKED
    writer.ingest(build_crl_der([entry_der(0x2002, REVOKED_AT)], CrlSpec(number=2)))
    assert reader.refresh().loaded
    assert reader.refresh().loaded == ()
    assert src.check(make_ee(0x1001), make_root(2), NOW).status is RevocationStatus.GOOD
    [info] = writer.partitions()
    assert writer.remove(info.partition_id)
    assert reader.refresh().removed == (info.partition_id,)
    assert not writer.remove(info.partition_id)


def test_auto_refresh_interval(roots: list[x509.Certificate], tmp_path: Path) -> None:
    reader = CrlIndex(tmp_path)
    src = CrlSource(reader, refresh_interval=0.001)
    new_index(roots, tmp_path).ingest(basic_crl())
    import time

    time.sleep(0.01)
    assert src.check(make_ee(0x1001), make_root(2), NOW).status is RevocationStatus.REVOKED
    with pytest.raises(ValueError):
        CrlSource(reader, refresh_interval=0)


def test_failed_write_keeps_old_partition(
    roots: list[x509.Certificate], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    index = new_index(roots, tmp_path)
    index.ingest(basic_crl(number=1))
    [path] = tmp_path.glob("*.crlx")
    before = path.read_bytes()

    def boom(src: str, dst: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError):
        index.ingest(build_crl_der([entry_der(0x3003, REVOKED_AT)], CrlSpec(number=2)))
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert not list(tmp_path.glob(".tmp-*"))
    assert index.partitions()[0].crl_number == 1
    assert CrlIndex(tmp_path).partitions()[0].crl_number == 1


def test_readers_never_see_a_half_built_partition(roots: list[x509.Certificate]) -> None:
    """Lookups running while partitions are replaced always get a complete old or new answer."""
    index = new_index(roots)
    body_a, serials_a = bulk_entries(1500, seed=11)
    index.ingest(build_crl_der(body_a, CrlSpec(number=1)))
    crls = [build_crl_der(body_a, CrlSpec(number=n)) for n in range(2, 8)]
    issuer = make_root(2)
    certs = [make_ee(s) for s in serials_a[:20]]
    src = CrlSource(index)
    bad: list[str] = []
    stop = threading.Event()

    def reader() -> None:
        while not stop.is_set():
            for cert in certs:
                answer = src.check(cert, issuer, NOW)
                if answer.status is not RevocationStatus.REVOKED:
                    bad.append(answer.detail)

    threads = [threading.Thread(target=reader) for _ in range(3)]
    for t in threads:
        t.start()
    try:
        for der in crls:
            index.ingest(der)
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert bad == []
    assert index.partitions()[0].crl_number == 7


def test_constructor_arguments() -> None:
    with pytest.raises(ValueError):
        CrlIndex(grace=dt.timedelta(seconds=-1))
    with pytest.raises(TypeError):
        CrlIndex(trusted_roots=[b"not a cert"])  # type: ignore[list-item]
    with pytest.raises(TypeError):
        CrlSource(object())  # type: ignore[arg-type]


def test_cached_routes_and_answers_follow_updates(roots: list[x509.Certificate]) -> None:
    """The same certificate object asked again: caches must not outlive a partition update or
    be reused for another issuer."""
    index = new_index(roots)
    index.ingest(build_crl_der([entry_der(0x1001, REVOKED_AT)], CrlSpec(number=1)))
    policy = RevocationPolicy.require(CrlSource(index))
    cert = make_ee(0x4242)
    gen2, gen3 = make_root(2), make_root(3)
    first = policy.evaluate(cert, gen2, NOW)
    assert first.status is RevocationStatus.GOOD
    assert policy.evaluate(cert, gen2, NOW) is first  # shared immutable result
    answer = CrlSource(index).check(cert, gen3, NOW)
    assert answer.detail.startswith("issuer mismatch")
    index.ingest(build_crl_der([entry_der(0x4242, REVOKED_AT, 1)], CrlSpec(number=2)))
    with pytest.raises(CertificateRevokedError):
        policy.evaluate(cert, gen2, NOW)
    index.ingest(build_crl_der([], CrlSpec(number=3)))
    third = policy.evaluate(cert, gen2, NOW)
    assert third.status is RevocationStatus.GOOD and "CRL number 3" in third.detail
    # Staleness is still judged on every call.
    later = NOW + dt.timedelta(days=2)
    with pytest.raises(RevocationUnavailableError):
        policy.evaluate(cert, gen2, later)


def _samples() -> list[x509.Certificate]:
    repo = Path(__file__).parents[2]
    pems = sorted((repo / "tests/verify/data").rglob("*.pem")) + sorted(
        (repo / "jpki_sdk/verify/roots").glob("*.pem")
    )
    return [x509.load_pem_x509_certificate(p.read_bytes()) for p in pems]


def test_raw_revocation_fields_match_cryptography() -> None:
    from jpki_sdk.verify.revocation.crl_parse import certificate_revocation_fields

    certs = [make_ee(7), make_ee(8, dp=None), make_ee(9, dp_uri="http://x/y.crl"), make_root(2)]
    certs += _samples()
    for cert in certs:
        der = cert.public_bytes(serialization.Encoding.DER)
        aki, raw_dp, is_ca = certificate_revocation_fields(der)
        try:
            expected_aki = cert.extensions.get_extension_for_class(
                x509.AuthorityKeyIdentifier
            ).value.key_identifier
        except x509.ExtensionNotFound:
            expected_aki = None
        assert aki == expected_aki
        try:
            dp = cert.extensions.get_extension_for_class(x509.CRLDistributionPoints)
            assert raw_dp == dp.value.public_bytes()
        except x509.ExtensionNotFound:
            assert raw_dp is None
        try:
            expected_ca = cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
        except x509.ExtensionNotFound:
            expected_ca = False
        assert is_ca == expected_ca


def test_real_jlis_certificate_maps_to_its_municipality_partition() -> None:
    """The real auth certificate's DirName DP (Yokohama-shi Naka-ku) and AKI route it to a
    partition of authca02 with that DP; another DP or generation does not answer for it."""
    certs = _samples()
    real = next(c for c in certs if c.serial_number == 0x06BFC341)
    roots = [c for c in certs if c.subject == c.issuer]
    authca02 = next(r for r in roots if r.serial_number == 0x0133C349)
    index = CrlIndex()
    part, label = index.find_partition(real, authca02)
    assert part is None and "Yokohama-shi-Naka-ku CRLDP" in label
    other = next(r for r in roots if r.serial_number == 0x06D18006)  # authca03, same DN
    part, label = index.find_partition(real, other)
    assert part is None and label.startswith("issuer mismatch")
