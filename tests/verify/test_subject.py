"""Subject of the user-authentication certificate: CN, municipality code, CRL DP cross-check."""

from __future__ import annotations

import pytest
from chains import ChainFactory, der

from jpki_sdk.verify import (
    CertificateFacts,
    CrlDistributionPoint,
    Purpose,
    Subject,
    SubjectError,
    TrustStore,
)
from jpki_sdk.verify.subject import (
    PREFECTURES_ROMAJI,
    municipality_code_from_cn,
    read_crl_distribution_point,
    serial_hex,
)


@pytest.fixture(scope="module")
def trust(chains: ChainFactory) -> TrustStore:
    return TrustStore.default().with_test_roots(chains.roots())


def _subject(chains: ChainFactory, trust: TrustStore, **changes: object) -> Subject:
    cert = chains.ee(Purpose.AUTH, **changes)
    facts = CertificateFacts.from_der(der(cert))
    return Subject.from_certificate(cert, trust.select_issuer(cert), facts)


def test_subject_fields(chains: ChainFactory, trust: TrustStore) -> None:
    subject = _subject(chains, trust, serial=0x0012_3456)
    assert subject.cn == "412594E75JACJM14104003A"
    assert subject.serial == 0x123456 and subject.serial_hex == "123456"
    assert subject.municipality_code == "14104"
    assert subject.crl_prefecture == "Kanagawa-ken"
    assert subject.crl_municipality == "Yokohama-shi-Naka-ku"
    assert subject.municipality_code_consistent is True
    assert subject.root_generation == 3 and subject.is_test_root
    assert subject.key == "test:test-auth-03:123456:412594E75JACJM14104003A"
    as_dict = subject.to_dict()
    assert as_dict["municipality_code"] == "14104" and as_dict["root_generation"] == 3


def test_prefecture_mismatch_is_reported(chains: ChainFactory, trust: TrustStore) -> None:
    subject = _subject(chains, trust, prefecture="Tokyo-to", municipality="Kiyose-shi")
    assert subject.municipality_code == "14104"  # from the CN
    assert subject.crl_prefecture == "Tokyo-to"
    assert subject.municipality_code_consistent is False


UNUSUAL_CNS = [
    "SHORT",
    "412594E75JACJM1410A003A",
    "412594E75JACJM99104003A",
    "412594E75JACJM141040033A",
]


@pytest.mark.parametrize("cn", UNUSUAL_CNS)
def test_unusual_cn_has_no_municipality_code(
    cn: str, chains: ChainFactory, trust: TrustStore
) -> None:
    subject = _subject(chains, trust, cn=cn)
    assert subject.cn == cn
    assert subject.municipality_code is None
    assert subject.municipality_code_consistent is None


def test_missing_cn_is_a_subject_error(chains: ChainFactory, trust: TrustStore) -> None:
    with pytest.raises(SubjectError):
        _subject(chains, trust, cn=None)


def test_helpers() -> None:
    assert serial_hex(0x6BFC341) == "06BFC341"
    assert serial_hex(0) == "00"
    assert municipality_code_from_cn("997794E9AGCIEG13221003A") == "13221"
    assert len(PREFECTURES_ROMAJI) == 47
    assert read_crl_distribution_point(b"") is None
    assert read_crl_distribution_point(b"\x30\x00") is None
    assert read_crl_distribution_point(b"\x04\x01\x00") is None


def test_real_distribution_point(real_sample: object) -> None:
    from cryptography import x509

    cert = x509.load_pem_x509_certificate(real_sample("jpki-auth-ee-2023-mynawallet.pem"))  # type: ignore[operator]
    facts = CertificateFacts.from_der(der(cert))
    ext = facts.extension("2.5.29.31")
    assert ext is not None
    assert read_crl_distribution_point(ext.value) == CrlDistributionPoint(
        prefecture="Kanagawa-ken",
        municipality="Yokohama-shi-Naka-ku",
        organizational_units=(
            "JPKI for user authentication",
            "CRL Distribution Points",
            "Kanagawa-ken",
        ),
        common_name="Yokohama-shi-Naka-ku CRLDP",
    )
