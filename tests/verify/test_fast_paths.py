"""The first-seen fast paths decide exactly as the slow ones.

- revocation: ``RevocationPolicy.evaluate(..., fields=...)`` / ``CrlSource.check_fields`` (the
  verifier passes what it read from the DER) answer as ``check`` does from the certificate;
- path validation: cryptography's verifier is reused per (root, purpose, second), and the
  verifier's own exact validity check still rejects a time a fraction of a second after
  notAfter;
- profile: an extension set that passed for one (purpose, test root) is not waved through for
  another, and the per-certificate checks (key, signature algorithm) are never skipped;
- DER facts: the memoized extension parse agrees with cryptography for many certificates that
  differ in shared and in per-certificate extensions.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from hypothesis import example, given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).parent))

from chains import NOW, ChainFactory, der
from conftest import SetRevocationSource
from revocation_helpers import (
    DP_KIYOSE,
    DP_NAKA,
    CrlSpec,
    build_crl_der,
    entry_der,
    make_ee,
    make_root,
)

from jpki_sdk.verify import (
    CertificateExpiredError,
    CertificateFacts,
    CertificateParseError,
    CertificateVerifier,
    ExtensionMalformedError,
    FixedClock,
    KeyUsageError,
    PathValidationError,
    Purpose,
    RevocationPolicy,
    RevocationStatus,
    TestPolicyNotAllowedError,
    TrustStore,
    WeakKeyError,
)
from jpki_sdk.verify.path import PathValidator
from jpki_sdk.verify.profiles import POLICY_SIGN_TEST, check_profile
from jpki_sdk.verify.revocation import CertificateRevokedError, CrlIndex, CrlSource
from jpki_sdk.verify.revocation.crl_parse import certificate_revocation_fields
from jpki_sdk.verify.revocation.policy import RevocationFields

REVOKED_AT = NOW - dt.timedelta(days=10)


def _fields(cert: x509.Certificate) -> RevocationFields:
    data = cert.public_bytes(serialization.Encoding.DER)
    aki, raw_dp, is_ca = certificate_revocation_fields(data)
    return RevocationFields(cert.serial_number, aki, raw_dp, is_ca)


# ----------------------------------------------------------------------------- revocation


def test_check_fields_answers_as_check() -> None:
    roots = [make_root(1), make_root(2), make_root(3)]
    index = CrlIndex(trusted_roots=roots, clock=FixedClock(NOW))
    index.ingest(
        build_crl_der(
            [
                entry_der(0x1001, REVOKED_AT, 1),
                entry_der(0x1002, NOW + dt.timedelta(days=3)),  # revoked after NOW
                entry_der(0x1003, REVOKED_AT, 8),  # removeFromCRL
            ],
            CrlSpec(generation=2, dp=DP_KIYOSE, number=1),
        )
    )
    for generation, dp, users, cas in ((3, DP_NAKA, False, True), (1, DP_KIYOSE, True, False)):
        scoped = x509.IssuingDistributionPoint(
            full_name=[x509.DirectoryName(dp)],
            relative_name=None,
            only_contains_user_certs=users,
            only_contains_ca_certs=cas,
            only_some_reasons=None,
            indirect_crl=False,
            only_contains_attribute_certs=False,
        )
        index.ingest(
            build_crl_der(
                [entry_der(0x1001, REVOKED_AT, 1)],
                CrlSpec(generation=generation, dp=None, number=1),
                extensions=[(scoped, True)],
            )
        )
    source = CrlSource(index)
    cases = [
        (make_ee(0x1005, generation=3, dp=DP_NAKA), make_root(3)),  # CA-only partition
        (make_ee(0x1006, generation=1), make_root(1)),  # user-only partition: good
        (make_ee(0x1001, generation=1), make_root(1)),  # user-only partition: revoked
        (make_ee(0x1001), make_root(2)),  # revoked
        (make_ee(0x1002), make_root(2)),  # revoked later
        (make_ee(0x1003), make_root(2)),  # removeFromCRL
        (make_ee(0x1004), make_root(2)),  # good
        (make_ee(0x1001, dp=DP_NAKA), make_root(2)),  # no partition for this DP
        (make_ee(0x1001, dp=None), make_root(2)),  # no DP at all
        (make_ee(0x1001, dp_uri="http://crl.test/a.crl", dp=None), make_root(2)),
        (make_ee(0x1001), make_root(3)),  # issuer mismatch (AKI is generation 2's)
        (make_ee(0x1001, generation=3), make_root(3)),  # generation 3: no partition
    ]
    seen = set()
    for at in (NOW, NOW + dt.timedelta(days=5), NOW + dt.timedelta(days=40)):  # last: stale
        for cert, issuer in cases:
            slow = source.check(cert, issuer, at)
            fast = source.check_fields(cert, issuer, at, _fields(cert))
            assert fast == slow, (cert.serial_number, at)
            seen.add((slow.status, slow.detail))
    statuses = {status for status, _ in seen}
    assert statuses == {RevocationStatus.GOOD, RevocationStatus.REVOKED, RevocationStatus.UNKNOWN}
    assert any(d.startswith("issuer mismatch") for _, d in seen)
    assert any(d.startswith("stale") for _, d in seen)
    assert any("covers only ca" in d for _, d in seen)


def test_policy_gives_fields_only_to_sources_that_take_them() -> None:
    roots = [make_root(2)]
    index = CrlIndex(trusted_roots=roots, clock=FixedClock(NOW))
    index.ingest(build_crl_der([entry_der(0x1001, REVOKED_AT, 1)], CrlSpec(number=1)))
    plain = SetRevocationSource()  # no check_fields: asked with check()
    cert = make_ee(0x2002)
    # The CRL source has no partition for DP_NAKA, so the plain source answers next.
    naka = make_ee(0x2002, dp=DP_NAKA)
    policy = RevocationPolicy.require(CrlSource(index), plain)
    result = policy.evaluate(naka, make_root(2), NOW, fields=_fields(naka))
    assert result.source == "test-set" and plain.calls == 1
    assert result.attempts[0].detail.startswith("partition missing")
    good = policy.evaluate(cert, make_root(2), NOW, fields=_fields(cert))
    assert good.source == "crl" and plain.calls == 1
    revoked = make_ee(0x1001)
    with pytest.raises(CertificateRevokedError):
        policy.evaluate(revoked, make_root(2), NOW, fields=_fields(revoked))


def test_verifier_revocation_through_the_crl_index(chains: ChainFactory) -> None:
    root = chains.root(Purpose.AUTH, 3)
    trust = TrustStore.default().with_test_roots(chains.roots())
    good = chains.ee(Purpose.AUTH, serial=0x7001)
    revoked = chains.ee(Purpose.AUTH, serial=0x7002)
    index = CrlIndex(trusted_roots=[a.certificate for a in trust], clock=FixedClock(NOW))
    crl = chains.crl(
        Purpose.AUTH,
        3,
        [0x7002],
        this_update=NOW - dt.timedelta(hours=1),
        next_update=NOW + dt.timedelta(days=1),
        revoked_at=REVOKED_AT,
    )
    index.ingest(crl.public_bytes(serialization.Encoding.DER))
    verifier = CertificateVerifier(
        trust, revocation=RevocationPolicy.require(CrlSource(index)), clock=FixedClock(NOW)
    )
    result = verifier.verify(der(good), Purpose.AUTH)
    assert result.revocation.status is RevocationStatus.GOOD
    assert result.revocation.source == "crl"
    assert result.revocation.answer == CrlSource(index).check(good, root.cert, NOW)
    for _ in range(2):  # first seen, then from the cache
        with pytest.raises(CertificateRevokedError):
            verifier.verify(der(revoked), Purpose.AUTH)


# ----------------------------------------------------------------------------- path validation


def test_built_verifier_is_reused_within_a_second_only(chains: ChainFactory) -> None:
    trust = TrustStore.default().with_test_roots(chains.roots())
    cert = chains.ee(Purpose.AUTH)
    anchor = trust.select_issuer(cert)
    paths = PathValidator()
    at = dt.datetime(2025, 6, 1, 3, 0, 0, 100_000, tzinfo=dt.timezone.utc)
    same = paths.verifier(anchor, Purpose.AUTH, at)
    assert paths.verifier(anchor, Purpose.AUTH, at.replace(microsecond=999_999)) is same
    assert paths.verifier(anchor, Purpose.AUTH, at + dt.timedelta(seconds=1)) is not same
    assert paths.verifier(anchor, Purpose.SIGN, at) is not same
    jst = dt.timezone(dt.timedelta(hours=9))
    assert paths.verifier(anchor, Purpose.AUTH, at.astimezone(jst)) is same  # same instant
    # cryptography keeps whole seconds: the reused verifier decides as a fresh one would.
    not_after = cert.not_valid_after_utc
    assert paths.validate(cert, anchor, Purpose.AUTH, not_after + dt.timedelta(microseconds=5))
    assert paths.validate(
        cert, anchor, Purpose.AUTH, not_after + dt.timedelta(microseconds=999_999)
    )
    with pytest.raises(PathValidationError, match="not valid at validation time"):
        paths.validate(cert, anchor, Purpose.AUTH, not_after + dt.timedelta(seconds=1))


def test_a_fraction_of_a_second_after_not_after_is_expired(
    chains: ChainFactory, make_verifier: Callable[..., CertificateVerifier]
) -> None:
    cert = chains.ee(Purpose.AUTH, serial=0x7101)
    not_after = cert.not_valid_after_utc
    verifier = make_verifier(at=not_after)
    assert verifier.verify(der(cert), Purpose.AUTH).validated_at == not_after
    late = not_after + dt.timedelta(microseconds=1)
    with pytest.raises(CertificateExpiredError):
        make_verifier(at=late).verify(der(cert), Purpose.AUTH)  # first seen
    with pytest.raises(CertificateExpiredError):
        verifier.verify(der(cert), Purpose.AUTH, at=late)  # from the cache


# ----------------------------------------------------------------------------- profile


def test_profile_memo_is_per_purpose_and_test_root(chains: ChainFactory) -> None:
    cert = chains.ee(Purpose.SIGN, policies=[POLICY_SIGN_TEST], serial=0x7201)
    facts = CertificateFacts.from_der(der(cert))
    check_profile(cert, facts, Purpose.SIGN, test_root=True)
    check_profile(cert, facts, Purpose.SIGN, test_root=True)  # memoized pass
    with pytest.raises(TestPolicyNotAllowedError):
        check_profile(cert, facts, Purpose.SIGN, test_root=False)
    again = CertificateFacts.from_der(der(chains.ee(Purpose.SIGN, policies=[POLICY_SIGN_TEST])))
    with pytest.raises(TestPolicyNotAllowedError):
        check_profile(cert, again, Purpose.SIGN, test_root=False)


def test_profile_memo_never_skips_the_per_certificate_checks(chains: ChainFactory) -> None:
    from chains import rsa_key

    good = chains.ee(Purpose.AUTH, serial=0x7301)
    check_profile(good, CertificateFacts.from_der(der(good)), Purpose.AUTH, test_root=True)
    # Same extension set (only the SKI differs), weak key: still refused.
    weak = chains.ee(Purpose.AUTH, serial=0x7302, key=rsa_key(77, 1024))
    weak_facts = CertificateFacts.from_der(der(weak))
    assert weak_facts._decoded is CertificateFacts.from_der(der(good))._decoded
    with pytest.raises(WeakKeyError):
        check_profile(weak, weak_facts, Purpose.AUTH, test_root=True)
    # A shared extension that differs (keyUsage not critical) is a different set.
    soft = chains.ee(Purpose.AUTH, serial=0x7303, ku_critical=False)
    with pytest.raises(KeyUsageError):
        check_profile(soft, CertificateFacts.from_der(der(soft)), Purpose.AUTH, test_root=True)


def test_memoized_facts_match_a_fresh_parse(chains: ChainFactory) -> None:
    from jpki_sdk.verify import profiles

    certs = [
        chains.ee(Purpose.AUTH, serial=0x7400 + i, cn=f"TEST{i:05d}ABCDEFG14104003A"[:23])
        for i in range(5)
    ]
    certs += [chains.ee(Purpose.SIGN, serial=0x7500 + i) for i in range(3)]
    for cert in certs:
        data = der(cert)
        first = CertificateFacts.from_der(data)
        profiles._EXTENSION_MEMO.clear()
        profiles._DECODED_MEMO.clear()
        fresh = CertificateFacts.from_der(data)
        assert first == fresh
        assert dataclasses.astuple(_view(first)) == dataclasses.astuple(_view(fresh))
        assert [e.oid for e in first.extensions] == [e.oid.dotted_string for e in cert.extensions]
        for ext, theirs in zip(first.extensions, cert.extensions, strict=True):
            assert ext.critical == theirs.critical
            assert ext.value == theirs.value.public_bytes()


@dataclasses.dataclass(frozen=True)
class _View:
    ku: object
    eku: object
    policies: object
    aki: object
    ca: object
    critical: object


def _view(facts: CertificateFacts) -> _View:
    return _View(
        facts.key_usage,
        facts.ext_key_usage,
        facts.policies,
        facts.authority_key_id,
        facts.is_ca,
        facts.critical_oids,
    )


def _with_extensions(
    chains: ChainFactory, extra: list[tuple[x509.ExtensionType, bool]], *, ski: bool = True
) -> x509.Certificate:
    """An AUTH certificate from the factory, with ``extra`` extensions added at the end and,
    unless ``ski`` is False, no subjectKeyIdentifier."""
    from chains import build_ee

    spec = chains.spec(Purpose.AUTH, serial=0x7600 + len(extra))
    spec.extra = extra
    cert = build_ee(spec)
    if ski:
        return cert
    builder = (
        x509.CertificateBuilder()
        .subject_name(cert.subject)
        .issuer_name(cert.issuer)
        .public_key(cert.public_key())  # type: ignore[arg-type]
        .serial_number(cert.serial_number)
        .not_valid_before(cert.not_valid_before_utc)
        .not_valid_after(cert.not_valid_after_utc)
    )
    for ext in cert.extensions:
        if not isinstance(ext.value, x509.SubjectKeyIdentifier):
            builder = builder.add_extension(ext.value, critical=ext.critical)
    return builder.sign(chains.root(Purpose.AUTH).key, spec.hash)  # type: ignore[arg-type]


def test_ski_lookalike_at_the_end_of_another_extension(chains: ChainFactory) -> None:
    """The block memo is only used when the trailing 31 bytes really are a separate SKI
    extension: here they are the end of an unknown extension's value."""
    fake_ski = bytes.fromhex("301d0603551d0e04160414") + bytes(range(20))
    odd = x509.UnrecognizedExtension(x509.ObjectIdentifier("1.3.6.1.4.1.99999.1"), fake_ski)
    for _ in range(2):  # second pass: nothing was memoized for this prefix
        cert = _with_extensions(chains, [(odd, False)], ski=False)
        facts = CertificateFacts.from_der(der(cert))
        assert [e.oid for e in facts.extensions] == [e.oid.dotted_string for e in cert.extensions]
        assert facts.extensions[-1].value == fake_ski
        assert facts.subject_key_id is None


def test_block_memo_hit_keeps_each_certificates_ski(chains: ChainFactory) -> None:
    from chains import rsa_key

    certs = [chains.ee(Purpose.AUTH, serial=0x7700 + i, key=rsa_key(80 + i)) for i in range(3)]
    kids = {
        cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
        for cert in certs
    }
    assert len(kids) == 3
    decoded = set()
    for cert in certs:
        facts = CertificateFacts.from_der(der(cert))
        assert facts.subject_key_id == (
            cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
        )
        decoded.add(id(facts._decoded))
    assert len(decoded) == 1  # one shared decoding for the three


# ----------------------------------------------------------------------------- subject CN


@pytest.mark.parametrize(
    "attributes",
    [
        [("2.5.4.6", "JP"), ("2.5.4.3", "412594E75JACJM14104003A")],
        [("2.5.4.3", "first"), ("2.5.4.3", "second")],
        [("2.5.4.6", "JP")],
        [("2.5.4.3", "試験\u3000花子")],
        [("2.5.4.11", "u" * 150), ("2.5.4.3", "cn")],  # long form: read by cryptography
        [("2.5.4.10", "JPKI TEST"), ("2.5.4.11", "unit"), ("2.5.4.3", "cn")],
    ],
)
def test_common_name_fast_path_matches_cryptography(
    chains: ChainFactory, attributes: list[tuple[str, str]]
) -> None:
    from jpki_sdk.verify import SubjectError
    from jpki_sdk.verify.subject import common_name

    name = x509.Name(
        [x509.NameAttribute(x509.ObjectIdentifier(oid), value) for oid, value in attributes]
    )
    cert = _build_with_subject(chains, name)
    cns = [a.value for a in cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)]
    subject_der = CertificateFacts.from_der(der(cert)).subject_der
    if len(cns) == 1:
        assert common_name(cert, subject_der) == cns[0]
    else:
        with pytest.raises(SubjectError):
            common_name(cert, subject_der)


def test_common_name_multi_valued_and_bmp(chains: ChainFactory) -> None:
    from jpki_sdk.verify.subject import common_name

    multi = x509.Name(
        [
            x509.RelativeDistinguishedName(
                [
                    x509.NameAttribute(x509.NameOID.COUNTRY_NAME, "JP"),
                    x509.NameAttribute(x509.NameOID.COMMON_NAME, "multi"),
                ]
            )
        ]
    )
    bmp = x509.Name(
        [x509.NameAttribute(x509.NameOID.COMMON_NAME, "bmp", x509.name._ASN1Type.BMPString)]
    )
    for name, expected in ((multi, "multi"), (bmp, "bmp")):
        cert = _build_with_subject(chains, name)
        assert common_name(cert, cert.subject.public_bytes()) == expected


def _build_with_subject(chains: ChainFactory, name: x509.Name) -> x509.Certificate:
    base = chains.ee(Purpose.AUTH)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(base.issuer)
        .public_key(base.public_key())  # type: ignore[arg-type]
        .serial_number(0x7800)
        .not_valid_before(base.not_valid_before_utc)
        .not_valid_after(base.not_valid_after_utc)
    )
    return builder.sign(chains.root(Purpose.AUTH).key, hashes.SHA256())


# ----------------------------------------------------------------------------- issuer


def test_remembered_issuer_choice_keeps_every_issuer_error(
    chains: ChainFactory, make_verifier: Callable[..., CertificateVerifier]
) -> None:
    """One verifier, the issuer choice remembered after a good certificate: the variants that
    must fail still fail with the same errors as on a fresh verifier."""
    from cryptography.x509.oid import NameOID

    from jpki_sdk.verify import CertificateSignatureError, UntrustedIssuerError

    verifier = make_verifier()
    assert verifier.verify(chains.ee(Purpose.AUTH, 3), Purpose.AUTH).anchor.generation == 3
    assert verifier.verify(chains.ee(Purpose.AUTH, 2), Purpose.AUTH).anchor.generation == 2
    other = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Someone else")])
    with pytest.raises(UntrustedIssuerError):
        verifier.verify(chains.ee(Purpose.AUTH, 3, issuer_name=other), Purpose.AUTH)
    with pytest.raises(CertificateSignatureError):  # AKI of generation 3, signed by 2
        verifier.verify(
            chains.ee(Purpose.AUTH, 3, signer=chains.root(Purpose.AUTH, 2).key, serial=0x7901),
            Purpose.AUTH,
        )
    with pytest.raises(CertificateSignatureError):
        verifier.verify(chains.ee(Purpose.AUTH, 3, tamper=True, serial=0x7902), Purpose.AUTH)
    no_aki = verifier.verify(chains.ee(Purpose.AUTH, 2, no_aki=True), Purpose.AUTH)
    assert no_aki.anchor.generation == 2


@pytest.mark.filterwarnings("ignore:Attribute's length must be")  # the empty CN case
@pytest.mark.parametrize("cn", ["412594E75JACJM14104003A", "x", "試験", ""])
def test_auth_subject_shape_fast_path(chains: ChainFactory, cn: str) -> None:
    """Subjects of exactly the C=JP, CN=... shape are read at fixed offsets; the result (and
    the refusal of an empty CN) is the same as the general reader's and cryptography's."""
    from jpki_sdk.verify import SubjectError
    from jpki_sdk.verify.subject import _jpki_auth_cn, common_name

    country = x509.NameAttribute(x509.NameOID.COUNTRY_NAME, "JP")
    common = x509.NameAttribute(x509.NameOID.COMMON_NAME, cn, _validate=False)
    for attrs, shaped in (([country, common], True), ([common, country], False)):
        cert = _build_with_subject(chains, x509.Name(attrs))
        subject_der = cert.subject.public_bytes()
        assert _jpki_auth_cn(subject_der) == (cn if shaped and cn else None)
        if cn:
            assert common_name(cert, subject_der) == cn
        else:
            with pytest.raises(SubjectError):
                common_name(cert, subject_der)


# ----------------------------------------------------------------------------- differential


@settings(max_examples=300, deadline=None)
@given(
    which=st.integers(0, 2),
    edits=st.lists(st.tuples(st.integers(0, 4000), st.integers(0, 255)), max_size=3),
)
@example(which=0, edits=[(12, 5)])  # version v6: cryptography raises InvalidVersion
def test_facts_agree_with_cryptography_on_mutated_certificates(
    which: int, edits: list[tuple[int, int]]
) -> None:
    """Mutated certificates that cryptography still parses: the memoized fast reader sees the
    same names and extensions (or refuses with a typed error); nothing else."""
    seeds = _seeds()
    buf = bytearray(seeds[which])
    for position, value in edits:
        buf[position % len(buf)] = value
    data = bytes(buf)
    try:
        cert = x509.load_der_x509_certificate(data)
        theirs = [
            (e.oid.dotted_string, e.critical, e.value.public_bytes()) for e in cert.extensions
        ]
        issuer, subject = cert.issuer.public_bytes(), cert.subject.public_bytes()
    except (ValueError, x509.InvalidVersion):  # InvalidVersion is not a ValueError
        return  # not a certificate for cryptography either
    try:
        facts = CertificateFacts.from_der(data)
    except (CertificateParseError, ExtensionMalformedError):
        return  # stricter than cryptography: refused with a typed error
    assert [(e.oid, e.critical, e.value) for e in facts.extensions] == theirs
    assert (facts.issuer_der, facts.subject_der) == (issuer, subject)


@functools.cache
def _seeds() -> tuple[bytes, ...]:
    factory = ChainFactory()
    return (
        der(factory.ee(Purpose.AUTH)),
        der(factory.ee(Purpose.SIGN)),
        x509.load_pem_x509_certificate(
            (Path(__file__).parent / "data" / "jpki-auth-ee-2023-mynawallet.pem").read_bytes()
        ).public_bytes(serialization.Encoding.DER),
    )
