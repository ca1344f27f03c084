"""Property tests: arbitrary or mutated bytes into every parser give typed errors only."""

from __future__ import annotations

import contextlib
import datetime as dt
import re

import pytest
from chains import NOW, ChainFactory, der, utf8_other_name
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jpki_sdk.errors import VerificationError
from jpki_sdk.verify import (
    CertificateFacts,
    CertificateParseError,
    CertificateVerifier,
    ExtensionMalformedError,
    FixedClock,
    IdentityAttributeError,
    Purpose,
    RevocationPolicy,
    TrustStore,
    identity_from_san,
)
from jpki_sdk.verify.subject import read_crl_distribution_point

FUZZ = settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@pytest.fixture(scope="module")
def fuzz_verifier(chains: ChainFactory) -> CertificateVerifier:
    trust = TrustStore.default().with_test_roots(chains.roots())
    return CertificateVerifier(trust, revocation=RevocationPolicy.off(), clock=FixedClock(NOW))


@pytest.fixture(scope="module")
def seeds(chains: ChainFactory) -> list[bytes]:
    return [der(chains.ee(Purpose.AUTH)), der(chains.ee(Purpose.SIGN))]


def _mutate(data: bytes, edits: list[tuple[int, int]], cut: int | None) -> bytes:
    buf = bytearray(data)
    for position, value in edits:
        buf[position % len(buf)] = value
    return bytes(buf[:cut] if cut is not None else buf)


@FUZZ
@given(data=st.binary(max_size=3000), purpose=st.sampled_from(list(Purpose)))
def test_verify_arbitrary_bytes(
    fuzz_verifier: CertificateVerifier, data: bytes, purpose: Purpose
) -> None:
    try:
        fuzz_verifier.verify(data, purpose)
    except VerificationError as exc:
        assert isinstance(type(exc).code, str)  # type: ignore[attr-defined]


MUTATION = st.tuples(
    st.integers(0, 1),
    st.lists(st.tuples(st.integers(0, 4000), st.integers(0, 255)), min_size=1, max_size=4),
    st.none() | st.integers(0, 2000),
)


@FUZZ
@given(mutation=MUTATION, purpose=st.sampled_from(list(Purpose)))
def test_verify_mutated_certificates(
    fuzz_verifier: CertificateVerifier,
    seeds: list[bytes],
    mutation: tuple[int, list[tuple[int, int]], int | None],
    purpose: Purpose,
) -> None:
    which, edits, cut = mutation
    data = _mutate(seeds[which], edits, cut)
    try:
        result = fuzz_verifier.verify(data, purpose)
    except VerificationError:
        return
    # Whatever still validates must be exactly what was signed (a mutation outside the TBS or
    # a no-op edit), verified for the right purpose.
    assert result.purpose is purpose
    assert (
        result.certificate.tbs_certificate_bytes
        == x509.load_der_x509_certificate(seeds[which]).tbs_certificate_bytes
    )


@FUZZ
@given(data=st.binary(max_size=2000))
def test_facts_arbitrary_bytes(data: bytes) -> None:
    with contextlib.suppress(CertificateParseError, ExtensionMalformedError):
        CertificateFacts.from_der(data)


@FUZZ
@given(mutation=MUTATION)
def test_facts_mutated(
    seeds: list[bytes], mutation: tuple[int, list[tuple[int, int]], int | None]
) -> None:
    which, edits, cut = mutation
    with contextlib.suppress(CertificateParseError, ExtensionMalformedError):
        CertificateFacts.from_der(_mutate(seeds[which], edits, cut))


@FUZZ
@given(data=st.binary(max_size=1500))
def test_san_arbitrary_bytes(data: bytes) -> None:
    try:
        identity_from_san(data)
    except IdentityAttributeError as exc:
        assert exc.attribute


_KNOWN = [f"1.2.392.200149.8.5.5.{i}" for i in range(1, 8)]


_ATTRIBUTE_NAMES = (
    "name",
    "name_substitutes",
    "sex",
    "birth_date",
    "address",
    "address_substitutes",
)
_SAN_ERROR = re.compile(
    r"identity attribute (?P<attribute>\w+) is missing from the subjectAltName"
    r"|identity attribute (?P<bad>\w+) is malformed: (?:"
    r"value is \w+, not UTF8String|value is not valid DER text|value is not text"
    r"|not a DER GeneralNames|no entries|unreadable otherName|present more than once|empty"
    r"|longer than \d+ characters|contains control or unassigned characters"
    r"|must be one or more '0'/'1' flags|too long|not one of the defined codes"
    r"|must be 9 digits \(era digit \+ YYYYMMDD\)|unknown era digit"
    r"|not a valid Gregorian date|the era digit does not match the date)"
)


@FUZZ
@given(
    entries=st.lists(
        st.tuples(
            st.sampled_from([*_KNOWN, "1.2.3.4", "2.999"]),
            st.text(max_size=30),
        ),
        max_size=9,
    ),
    rfc822=st.none() | st.from_regex(r"[a-z]{1,5}@[a-z]{1,5}\.example", fullmatch=True),
)
def test_san_structured(entries: list[tuple[str, str]], rfc822: str | None) -> None:
    names: list[x509.GeneralName] = [utf8_other_name(oid, text) for oid, text in entries]
    if rfc822 is not None:
        names.append(x509.RFC822Name(rfc822))
    if not names:
        return
    data = x509.SubjectAlternativeName(names).public_bytes()
    try:
        identity = identity_from_san(data)
    except IdentityAttributeError as exc:
        # The value is never in the message. A plain "value not in message" check is wrong for
        # short values ("form" is in "malformed"): the message must instead be one of the fixed
        # templates, whose only variable parts are the attribute, a type name or a length.
        message = str(exc)
        assert _SAN_ERROR.fullmatch(message), message
        assert getattr(exc, "attribute", None) in (*_ATTRIBUTE_NAMES, "subjectAltName")
        return
    assert identity.birth_date.year >= 1
    assert "<masked>" in repr(identity)


@FUZZ
@given(data=st.binary(max_size=600))
def test_crl_distribution_point_arbitrary_bytes(data: bytes) -> None:
    result = read_crl_distribution_point(data)
    assert result is None or isinstance(result.organizational_units, tuple)


@FUZZ
@given(data=st.binary(max_size=1500))
def test_pem_wrapped_arbitrary_bytes(fuzz_verifier: CertificateVerifier, data: bytes) -> None:
    import base64

    pem = (
        b"-----BEGIN CERTIFICATE-----\n" + base64.encodebytes(data) + b"-----END CERTIFICATE-----\n"
    )
    with contextlib.suppress(VerificationError):
        fuzz_verifier.verify(pem, Purpose.AUTH)


def test_pem_round_trip_of_a_seed(fuzz_verifier: CertificateVerifier, seeds: list[bytes]) -> None:
    cert = x509.load_der_x509_certificate(seeds[0])
    pem = cert.public_bytes(serialization.Encoding.PEM)
    assert fuzz_verifier.verify(pem, Purpose.AUTH, at=NOW + dt.timedelta(days=1))
