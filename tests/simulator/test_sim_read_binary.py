"""READ BINARY and the JPKI-AP files (spec §2.1, §3.2, §8 "JPKI EF contents", "READ BINARY")."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from simhelpers import read_all, read_object, select_df, select_ef, sw, tx, verify

from apdu import CommandApdu
from simulator.card import SimulatedCard
from simulator.pki import TestPki
from simulator.profile import CardProfile
from simulator.provision import DEFAULT_AUTH_PIN, DEFAULT_SIGN_PASSWORD

CardFactory = Callable[..., SimulatedCard]


def _der(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.DER)


@pytest.fixture
def jpki(simulated_card: SimulatedCard) -> SimulatedCard:
    assert select_df(simulated_card, "jpki") == 0x9000
    return simulated_card


def test_auth_certificate_and_ca_certificates_are_free(jpki: SimulatedCard) -> None:
    auth = x509.load_der_x509_certificate(read_object(jpki, 0x000A))
    auth_ca = x509.load_der_x509_certificate(read_object(jpki, 0x000B))
    sign_ca = x509.load_der_x509_certificate(read_object(jpki, 0x0002))
    # The CA EFs hold the simulator root that issued the card's certificates.
    assert auth.issuer == auth_ca.subject
    auth.verify_directly_issued_by(auth_ca)
    assert auth_ca.subject == auth_ca.issuer
    assert sign_ca.subject == sign_ca.issuer
    assert "TEST" in auth_ca.subject.rfc4514_string()


def test_ca_certificates_are_the_test_pki_roots(jpki: SimulatedCard, test_pki: TestPki) -> None:
    roots = {_der(c) for h in ("auth", "sign") for c in test_pki.roots(h)}
    assert read_object(jpki, 0x000B) in roots
    assert read_object(jpki, 0x0002) in roots


def test_sign_certificate_needs_the_sign_password(jpki: SimulatedCard) -> None:
    assert select_ef(jpki, 0x0001) == 0x9000
    assert sw(jpki, "00B0000004") == 0x6982
    # The auth PIN does not open it.
    select_ef(jpki, 0x0018)
    assert verify(jpki, DEFAULT_AUTH_PIN) == 0x9000
    select_ef(jpki, 0x0001)
    assert sw(jpki, "00B0000004") == 0x6982
    select_ef(jpki, 0x001B)
    assert verify(jpki, DEFAULT_SIGN_PASSWORD) == 0x9000
    sign = x509.load_der_x509_certificate(read_object(jpki, 0x0001))
    sign_ca = x509.load_der_x509_certificate(read_object(jpki, 0x0002))
    sign.verify_directly_issued_by(sign_ca)
    # Only for the current card session: a reset closes it again.
    jpki.reset()
    select_df(jpki, "jpki")
    select_ef(jpki, 0x0001)
    assert sw(jpki, "00B0000004") == 0x6982


def test_certificate_efs_carry_ff_filler_to_their_physical_size(jpki: SimulatedCard) -> None:
    cert = read_object(jpki, 0x000A)
    physical = read_ef(jpki, 0x000A)
    assert len(physical) == CardProfile().cert_ef_size
    assert physical.startswith(cert)
    assert set(physical[len(cert) :]) == {0xFF}


def read_ef(card: SimulatedCard, fid: int) -> bytes:
    select_ef(card, fid)
    return read_all(card)


def test_opensc_size_probe_reads_the_first_four_bytes(jpki: SimulatedCard) -> None:
    select_ef(jpki, 0x000A)
    head = tx(jpki, "00B0000004")
    assert head.sw == 0x9000 and head.data[:2] == b"\x30\x82"
    size = (head.data[2] << 8 | head.data[3]) + 4
    assert size == len(read_object(jpki, 0x000A))


def test_token_info_is_160_bytes_with_the_space_padded_label(jpki: SimulatedCard) -> None:
    select_ef(jpki, 0x0006)
    r = tx(jpki, "00B0000000")
    assert r.sw == 0x9000 and len(r.data) == 160
    assert r.data[:32] == b"JPKIAPICCTOKEN2".ljust(32, b" ")
    assert r.data[64:72] == b"E16R01NJ"
    assert int.from_bytes(r.data[96:100], "big") == 0x040D
    assert int.from_bytes(r.data[116:120], "big") == 16
    assert int.from_bytes(r.data[120:124], "big") == 6
    assert r.data[140:144] == b"0301"
    # No filler: the next read is past the end.
    assert sw(jpki, "00B000A000") == 0x6B00


@pytest.mark.parametrize(
    ("profile", "label"),
    [
        ("jukicard", b"JPKIAPICCTOKEN"),
        ("android", b"JPKIAPGPSETOKEN"),
        ("iphone", b"JPKIAPIOSTOKEN"),
    ],
)
def test_other_token_labels(card_factory: CardFactory, profile: str, label: bytes) -> None:
    card = card_factory(profile=profile)
    select_df(card, "jpki")
    select_ef(card, 0x0006)
    assert tx(card, "00B0000020").data == label.ljust(32, b" ")


def test_smartphone_token_needs_the_auth_pin_for_the_auth_certificate(
    card_factory: CardFactory,
) -> None:
    card = card_factory(profile="android")
    select_df(card, "jpki")
    select_ef(card, 0x000A)
    assert sw(card, "00B0000004") == 0x6982
    select_ef(card, 0x0018)
    assert verify(card, DEFAULT_AUTH_PIN) == 0x9000
    select_ef(card, 0x000A)
    assert sw(card, "00B0000004") == 0x9000


def test_ef_0008_says_which_certificates_exist(
    jpki: SimulatedCard, card_factory: CardFactory
) -> None:
    select_ef(jpki, 0x0008)
    r = tx(jpki, "00B0000000")
    assert (r.sw, r.data) == (0x9000, b"\x8f\x8f\x00")
    young = card_factory(sign=False)
    select_df(young, "jpki")
    select_ef(young, 0x0008)
    assert tx(young, "00B0000000").data == b"\x00\x8f\x00"


def test_card_without_signature_certificate(card_factory: CardFactory) -> None:
    card = card_factory(sign=False)
    select_df(card, "jpki")
    for fid in (0x0001, 0x001A, 0x001B):
        assert select_ef(card, fid) == 0x6A82
    assert sw(card, "802A009A333031300D060960864801650304020105000420" + "00" * 32 + "00") in (
        0x6A82,
    )
    # The auth side works as usual and the sign CA certificate is still there.
    assert select_ef(card, 0x0002) == 0x9000
    x509.load_der_x509_certificate(read_object(card, 0x0002))
    select_ef(card, 0x0018)
    assert sw(card, "00200080") == 0x63C3


def test_short_and_extended_le(jpki: SimulatedCard) -> None:
    select_ef(jpki, 0x000A)
    assert len(tx(jpki, "00B0000000").data) == 256  # Le=00 means 256
    assert len(tx(jpki, "00B0000010").data) == 16
    r = tx(jpki, CommandApdu(0x00, 0xB0, 0x00, 0x00, le=65536))  # 00 00 00
    assert r.sw == 0x9000 and len(r.data) == CardProfile().cert_ef_size
    r = tx(jpki, CommandApdu(0x00, 0xB0, 0x00, 0x00, le=5, extended=True))
    assert len(r.data) == 5


def test_asking_for_more_than_remains_returns_what_exists(jpki: SimulatedCard) -> None:
    select_ef(jpki, 0x0008)
    r = tx(jpki, "00B0000100")
    assert (r.sw, r.data) == (0x9000, b"\x8f\x00")  # offset 1, Le=256: the 2 bytes left
    select_ef(jpki, 0x000A)
    size = CardProfile().cert_ef_size
    r = tx(jpki, CommandApdu(0x00, 0xB0, (size - 10) >> 8, (size - 10) & 0xFF, le=256))
    assert (r.sw, len(r.data)) == (0x9000, 10)


def test_15_bit_offsets(jpki: SimulatedCard) -> None:
    select_ef(jpki, 0x000A)
    whole = read_all(jpki)
    r = tx(jpki, "00B0012340")
    assert r.data == whole[0x123 : 0x123 + 0x40]
    assert sw(jpki, "00B07FFF01") == 0x6B00


def test_reading_at_or_past_the_end(jpki: SimulatedCard, card_factory: CardFactory) -> None:
    select_ef(jpki, 0x0008)
    assert sw(jpki, "00B0000301") == 0x6B00  # offset == size
    assert sw(jpki, "00B0000401") == 0x6B00
    iso = card_factory(profile=CardProfile(read_past_end_sw=0x6282))
    select_df(iso, "jpki")
    select_ef(iso, 0x0008)
    r = tx(iso, "00B0000301")
    assert (r.sw, r.data) == (0x6282, b"")


def test_sfi_form_reads_and_selects_the_ef(jpki: SimulatedCard) -> None:
    r = tx(jpki, "00B08A0000")  # P1 = 80 | 0A
    assert r.sw == 0x9000 and r.data[:2] == b"\x30\x82"
    assert len(r.data) == 256
    # The EF is now current: an offset read continues in it.
    assert tx(jpki, "00B0010004").data == read_all(jpki)[0x100:0x104]
    r = tx(jpki, "00B08A1004")  # P2 is an 8-bit offset
    assert r.data == read_all(jpki)[0x10:0x14]
    assert sw(jpki, "00B0810004") == 0x6982  # EF 0001 needs the sign password


@pytest.mark.parametrize("p1", ["80", "9F", "A1", "C1", "E1"])
def test_bad_sfi_values(jpki: SimulatedCard, p1: str) -> None:
    assert sw(jpki, f"00B0{p1}0004") == 0x6A86


def test_sfi_of_a_missing_file(jpki: SimulatedCard) -> None:
    assert sw(jpki, "00B0830004") == 0x6A82


def test_read_binary_errors(jpki: SimulatedCard) -> None:
    assert sw(jpki, "00B0000004") == 0x6986  # no current EF after SELECT DF
    select_ef(jpki, 0x0018)
    assert sw(jpki, "00B0000004") == 0x6981  # a PIN key is not a transparent EF
    select_ef(jpki, 0x0017)
    assert sw(jpki, "00B0000004") == 0x6981
    select_ef(jpki, 0x000A)
    assert sw(jpki, "00B00000") == 0x6700  # no Le
    assert sw(jpki, "00B000000100") == 0x6700  # data field
    select_ef(jpki, 0x0009)
    assert sw(jpki, "00B0000004") == 0x6982  # unknown, protected


def test_contactless_profile_refuses_extended_apdus(card_factory: CardFactory) -> None:
    card = card_factory(profile="contactless")
    assert not card.extended_length
    assert (card.max_command_data, card.max_response_data) == (255, 256)
    select_df(card, "jpki")
    select_ef(card, 0x000A)
    assert sw(card, CommandApdu(0x00, 0xB0, 0, 0, le=65536)) == 0x6700
    assert sw(card, "00B0000000") == 0x9000


def test_read_binary_chunks_like_myna(jpki: SimulatedCard) -> None:
    """7-byte header read, then Le=00 chunks while more than 255 remain, then the rest."""
    select_ef(jpki, 0x000B)
    head = tx(jpki, "00B0000007").data
    total = 4 + int.from_bytes(head[2:4], "big")
    out = head
    while total - len(out) > 255:
        out += tx(jpki, CommandApdu(0x00, 0xB0, len(out) >> 8, len(out) & 0xFF, le=256)).data
    rest = total - len(out)
    if rest:
        out += tx(jpki, CommandApdu(0x00, 0xB0, len(out) >> 8, len(out) & 0xFF, le=rest)).data
    x509.load_der_x509_certificate(out)
