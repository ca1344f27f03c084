"""COMPUTE DIGITAL SIGNATURE (80 2A) and INTERNAL AUTHENTICATE (spec §3.4, §3.5, §8)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable

import pytest
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa, utils
from simhelpers import (
    SHA256_PREFIX,
    digest_info,
    read_object,
    select_df,
    select_ef,
    sign,
    sw,
    tx,
    verify,
)

from apdu import CommandApdu
from simulator.card import SimulatedCard, _rsa_private
from simulator.provision import DEFAULT_AUTH_PIN, DEFAULT_SIGN_PASSWORD
from simulator.textap import parse_tlvs

CardFactory = Callable[..., SimulatedCard]


def _public(card: SimulatedCard, fid: int) -> rsa.RSAPublicKey:
    key = x509.load_der_x509_certificate(read_object(card, fid)).public_key()
    assert isinstance(key, rsa.RSAPublicKey)
    return key


def _recover(key: rsa.RSAPublicKey, signature: bytes) -> bytes:
    """The padded block inside a signature (raw public operation)."""
    n = key.public_numbers()
    return pow(int.from_bytes(signature, "big"), n.e, n.n).to_bytes(256, "big")


def _type1(payload: bytes) -> bytes:
    return b"\x00\x01" + b"\xff" * (256 - 3 - len(payload)) + b"\x00" + payload


@pytest.fixture
def card(simulated_card: SimulatedCard) -> SimulatedCard:
    select_df(simulated_card, "jpki")
    select_ef(simulated_card, 0x0018)
    assert verify(simulated_card, DEFAULT_AUTH_PIN) == 0x9000
    select_ef(simulated_card, 0x001B)
    assert verify(simulated_card, DEFAULT_SIGN_PASSWORD) == 0x9000
    return simulated_card


@pytest.mark.parametrize(("cert_fid", "key_p2"), [(0x000A, 0x97), (0x0001, 0x9A)])
def test_digest_info_signature_verifies_with_the_certificate(
    card: SimulatedCard, cert_fid: int, key_p2: int
) -> None:
    key = _public(card, cert_fid)
    r = sign(card, digest_info(b"hello"), p2=key_p2)
    assert r.sw == 0x9000 and len(r.data) == 256
    key.verify(r.data, b"hello", padding.PKCS1v15(), hashes.SHA256())


def test_the_usual_form_with_the_key_selected(card: SimulatedCard) -> None:
    select_ef(card, 0x0017)
    di = digest_info(b"login")
    raw = bytes.fromhex("802A0080") + bytes([len(di)]) + di + b"\x00"
    r = tx(card, raw)
    assert r.sw == 0x9000
    # Byte-identical to naming the key by SFI (PKCS#1 v1.5 is deterministic).
    assert sign(card, di, p2=0x97).data == r.data


@pytest.mark.parametrize("size", [1, 20, 35, 51, 83, 245])
def test_p1_00_pads_whatever_it_is_given(card: SimulatedCard, size: int) -> None:
    payload = bytes(range(1, size + 1)) if size < 256 else b"\x01" * size
    r = sign(card, payload, p2=0x97)
    assert r.sw == 0x9000
    assert _recover(_public(card, 0x000A), r.data) == _type1(payload)


@pytest.mark.parametrize(
    "alg",
    [hashes.SHA1(), hashes.SHA224(), hashes.SHA256(), hashes.SHA384(), hashes.SHA512()],  # noqa: S303
)
def test_p1_00_with_any_hashs_digest_info(card: SimulatedCard, alg: hashes.HashAlgorithm) -> None:
    """Any DigestInfo works (the card does not parse it); the fast path matches the raw one."""
    from simulator.card import _DIGEST_INFO_PREFIXES

    prefix = dict((type(a), p) for p, a in _DIGEST_INFO_PREFIXES)[type(alg)]
    h = hashes.Hash(alg)
    h.update(b"document")
    payload = prefix + h.finalize()
    r = sign(card, payload, p2=0x97)
    key = _public(card, 0x000A)
    key.verify(r.data, b"document", padding.PKCS1v15(), alg)
    private = card.state.keys["auth"].private_numbers()
    assert _rsa_private(private, _type1(payload), 256) == r.data


def test_p1_00_size_limits(card: SimulatedCard) -> None:
    assert sign(card, b"\x01" * 246, p2=0x97).sw == 0x6985
    assert sw(card, "802A00970000") == 0x6700  # case 2: no data
    assert sw(card, "802A0097") == 0x6700


def test_p1_01_signs_the_bare_sha256(card: SimulatedCard) -> None:
    r = sign(card, b"message", p1=0x01, p2=0x97)
    assert r.sw == 0x9000
    assert _recover(_public(card, 0x000A), r.data) == _type1(hashlib.sha256(b"message").digest())


def test_p1_02_wraps_a_given_hash(card: SimulatedCard) -> None:
    digest = hashlib.sha256(b"message").digest()
    r = sign(card, digest, p1=0x02, p2=0x9A)
    _public(card, 0x0001).verify(
        r.data, digest, padding.PKCS1v15(), utils.Prehashed(hashes.SHA256())
    )
    assert sign(card, digest[:31], p1=0x02, p2=0x9A).sw == 0x6985
    assert sign(card, digest + b"\x00", p1=0x02, p2=0x9A).sw == 0x6985


def test_p1_03_hashes_and_wraps(card: SimulatedCard) -> None:
    r = sign(card, b"m" * 255, p1=0x03, p2=0x97)
    _public(card, 0x000A).verify(r.data, b"m" * 255, padding.PKCS1v15(), hashes.SHA256())


def test_p1_04_and_05_are_pss(card: SimulatedCard) -> None:
    pss = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32)
    key = _public(card, 0x000A)
    digest = hashlib.sha256(b"pss").digest()
    first = sign(card, digest, p1=0x04, p2=0x97)
    second = sign(card, digest, p1=0x04, p2=0x97)
    key.verify(first.data, digest, pss, utils.Prehashed(hashes.SHA256()))
    assert first.data != second.data  # random salt
    assert sign(card, digest[:16], p1=0x04, p2=0x97).sw == 0x6985
    r = sign(card, b"pss", p1=0x05, p2=0x97)
    key.verify(r.data, b"pss", pss, hashes.SHA256())
    with pytest.raises(InvalidSignature):
        key.verify(r.data, b"other", pss, hashes.SHA256())


@pytest.mark.parametrize("p1", [0x06, 0x07, 0x10, 0x80, 0xFF])
def test_other_schemes_answer_6a86(card: SimulatedCard, p1: int) -> None:
    assert sign(card, digest_info(b"x"), p1=p1, p2=0x97).sw == 0x6A86


def test_signing_needs_the_keys_pin(simulated_card: SimulatedCard) -> None:
    select_df(simulated_card, "jpki")
    assert sign(simulated_card, digest_info(b"x"), p2=0x97).sw == 0x6982
    assert sign(simulated_card, digest_info(b"x"), p2=0x9A).sw == 0x6982
    select_ef(simulated_card, 0x001B)
    assert verify(simulated_card, DEFAULT_SIGN_PASSWORD) == 0x9000
    assert sign(simulated_card, digest_info(b"x"), p2=0x97).sw == 0x6982
    assert sign(simulated_card, digest_info(b"x"), p2=0x9A).sw == 0x9000


def test_key_reference_errors(card: SimulatedCard) -> None:
    di = digest_info(b"x")
    select_df(card, "jpki")  # clears the current EF, keeps nothing else selected
    assert sign(card, di, p2=0x80).sw == 0x6986  # no current EF
    select_ef(card, 0x000A)
    assert sign(card, di, p2=0x80).sw == 0x6981  # a certificate is not a key
    assert sign(card, di, p2=0x98).sw == 0x6981  # nor is a PIN
    assert sign(card, di, p2=0x93).sw == 0x6A82  # no such file
    assert sign(card, di, p2=0x00).sw == 0x6A86  # the JPKI AP has no default key
    assert sign(card, di, p2=0x9F).sw == 0x6A86
    assert sign(card, di, p2=0x01).sw == 0x6A86


def test_short_le_is_refused(card: SimulatedCard) -> None:
    di = digest_info(b"x")
    assert tx(card, CommandApdu(0x80, 0x2A, 0x00, 0x97, di, le=128)).sw == 0x6700
    assert tx(card, CommandApdu(0x80, 0x2A, 0x00, 0x97, di)).sw == 0x9000  # case 3


def test_text_ap_card_key_signs_with_p2_00(simulated_card: SimulatedCard) -> None:
    select_df(simulated_card, "text")
    r = sign(simulated_card, digest_info(b"challenge"), p2=0x00)
    assert r.sw == 0x9000
    # Its public half is in EF 0007 (behind the PIN or a 照合番号).
    select_ef(simulated_card, 0x0011)
    assert verify(simulated_card, "1234") == 0x9000
    record = read_object(simulated_card, 0x0007)
    ((_, body, _),) = parse_tlvs(record)
    inner = dict((tag, value) for tag, value, _ in parse_tlvs(body))
    parts = dict((tag, value) for tag, value, _ in parse_tlvs(inner[0xDF51]))
    key = rsa.RSAPublicNumbers(
        int.from_bytes(parts[0x90], "big"), int.from_bytes(parts[0x91], "big")
    ).public_key()
    key.verify(r.data, b"challenge", padding.PKCS1v15(), hashes.SHA256())
    # The same key through its EF 0013.
    assert sign(simulated_card, digest_info(b"challenge"), p2=0x93).data == r.data
    assert SHA256_PREFIX  # (used by digest_info)


def test_internal_authenticate(simulated_card: SimulatedCard) -> None:
    select_df(simulated_card, "common")
    r = tx(simulated_card, CommandApdu(0x00, 0x88, 0x00, 0x99, b"nonce", le=256))
    assert r.sw == 0x9000 and len(r.data) == 256
    key = simulated_card.state.keys["common-0019"].public_key()
    key.verify(r.data, b"nonce", padding.PKCS1v15(), hashes.SHA256())
    assert sw(simulated_card, "0088009900") == 0x6700
    # 80 2A does not use this key.
    assert sign(simulated_card, digest_info(b"x"), p2=0x99).sw == 0x6985
    # JPKI keys refuse INTERNAL AUTHENTICATE: 6982 behind their PIN.
    select_df(simulated_card, "jpki")
    assert sw(simulated_card, CommandApdu(0x00, 0x88, 0x00, 0x97, b"nonce", le=256)) == 0x6982
    # The text AP's card key is for 80 2A only: 6985.
    select_df(simulated_card, "text")
    assert sw(simulated_card, CommandApdu(0x00, 0x88, 0x00, 0x93, b"nonce", le=256)) == 0x6985
