"""JpkiCard against a scripted transport: the exact APDUs on the wire.

Every test scripts the commands the SDK must send and the card's answers, so a wrong byte, an
extra SELECT, or a PIN sent where a rule says nothing may be sent fails the test.
"""

from __future__ import annotations

import hashlib

import pytest
from cardkit import (
    OK,
    QUERY,
    SELECT_ISD,
    SELECT_JPKI,
    SELECT_TEXT,
    ScriptedTransport,
    basic_info_file,
    cv_certificate,
    integrity_file,
    my_number_file,
    read_binary,
    select_ef,
    sign_digest_info,
    token_info_file,
    verify,
)
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from apdu import CardRemovedError as ApduCardRemoved
from apdu import TransportError
from jpki_sdk.card import (
    CardRemovedError,
    CertificateCache,
    CertificateNotPresentError,
    CertKind,
    HashAlg,
    IntegrityCheckError,
    JpkiCard,
    KeyKind,
    LastAttemptRefusedError,
    NotJpkiCardError,
    PinAttemptUncertainError,
    PinBlockedError,
    PinChangeUncertainError,
    PinFormatError,
    PinIncorrectError,
    PinKind,
    PinRequiredError,
    Sex,
    SignatureCheckError,
    TokenType,
    digest_info,
)
from jpki_sdk.errors import CardCommunicationError, PinError


def chunks(data: bytes, first: int, size: int) -> list[bytes]:
    out = [data[:first]]
    pos = first
    while pos < len(data):
        out.append(data[pos : pos + size])
        pos += size
    return out


def script_cert_read_short(t: ScriptedTransport, der: bytes, filler: int = 200) -> None:
    """READ BINARY of a certificate over short APDUs: the card returns 256 bytes per read."""
    physical = der + b"\xff" * filler
    t.add(read_binary(0, 256), physical[:256].hex() + OK)
    pos = 256
    while pos < len(der):
        want = min(256, len(der) - pos)
        t.add(read_binary(pos, want), physical[pos : pos + want].hex() + OK)
        pos += want


# ----------------------------------------------------------------------------- PIN status


def test_pin_status_is_a_case_1_verify_and_uses_no_try() -> None:
    t = ScriptedTransport()
    t.add(SELECT_JPKI, OK).add(select_ef(0x18), OK).add(QUERY, "63C3")
    with JpkiCard(t) as card:
        status = card.pin_status(PinKind.AUTH)
    assert status.remaining == 3 and not status.blocked and not status.last_attempt
    assert status.max_tries == 3
    assert t.sent_hex()[2] == "00200080"  # no Le: with Le=00 a real card answers 6700
    assert t.verifies_sent() == 0


def test_selection_is_tracked_no_reselect() -> None:
    t = ScriptedTransport()
    t.add(SELECT_JPKI, OK).add(select_ef(0x1B), OK).add(QUERY, "63C5").add(QUERY, "63C5")
    t.add(select_ef(0x18), OK).add(QUERY, "63C3")
    with JpkiCard(t) as card:
        assert card.pin_status(PinKind.SIGN).remaining == 5
        assert card.pin_status(PinKind.SIGN).remaining == 5
        assert card.pin_status(PinKind.AUTH).remaining == 3
    assert t.done()


def test_text_pin_status_selects_the_text_ap() -> None:
    t = ScriptedTransport()
    t.add(SELECT_TEXT, OK).add(select_ef(0x11), OK).add(QUERY, "63C2")
    with JpkiCard(t) as card:
        assert card.pin_status(PinKind.TEXT).remaining == 2
    assert t.done()


@pytest.mark.parametrize("sw", ["6984", "6983", "63C0"])
def test_blocked_counter_reads_zero(sw: str) -> None:
    t = ScriptedTransport().add(SELECT_JPKI, OK).add(select_ef(0x18), OK).add(QUERY, sw)
    with JpkiCard(t) as card:
        assert card.pin_status(PinKind.AUTH).blocked


# ----------------------------------------------------------------------------- PIN rules


@pytest.mark.parametrize(
    ("kind", "pin"),
    [
        (PinKind.AUTH, "123"),
        (PinKind.AUTH, "12345"),
        (PinKind.AUTH, "12a4"),
        (PinKind.AUTH, ""),
        (PinKind.AUTH, "１２３４"),
        (PinKind.TEXT, "abcd"),
        (PinKind.SIGN, "ABC12"),
        (PinKind.SIGN, "A" * 17),
        (PinKind.SIGN, "PASS WORD1"),
        (PinKind.SIGN, "パスワード123"),
        (PinKind.SIGN, b"TEST\x00PASS"),
    ],
)
def test_wrong_format_sends_nothing(kind: PinKind, pin: str | bytes) -> None:
    t = ScriptedTransport()
    with JpkiCard(t) as card, pytest.raises(PinFormatError) as info:
        card.verify_pin(kind, pin)
    assert t.sent == []
    assert info.value.kind is kind
    if isinstance(pin, str) and pin:
        assert pin not in str(info.value)


def test_sign_password_is_uppercased_before_sending() -> None:
    t = ScriptedTransport()
    t.add(SELECT_JPKI, OK).add(select_ef(0x1B), OK).add(QUERY, "63C5")
    t.add(verify(b"TESTPASS1"), OK).add(SELECT_ISD, OK)
    with JpkiCard(t) as card:
        card.verify_pin(PinKind.SIGN, "testPass1")
        assert PinKind.SIGN in card.verified_pins
    assert t.done()


def test_blocked_pin_is_refused_without_sending_verify() -> None:
    t = ScriptedTransport().add(SELECT_JPKI, OK).add(select_ef(0x18), OK).add(QUERY, "63C0")
    with JpkiCard(t) as card, pytest.raises(PinBlockedError) as info:
        card.verify_pin(PinKind.AUTH, "1234")
    assert t.verifies_sent() == 0
    assert info.value.sw is None and info.value.remaining == 0
    assert "1234" not in str(info.value)


def test_last_try_is_protected_unless_allowed() -> None:
    t = ScriptedTransport().add(SELECT_JPKI, OK).add(select_ef(0x18), OK).add(QUERY, "63C1")
    with JpkiCard(t) as card, pytest.raises(LastAttemptRefusedError) as info:
        card.verify_pin(PinKind.AUTH, "1234")
    assert t.verifies_sent() == 0
    assert info.value.remaining == 1

    t = ScriptedTransport().add(SELECT_JPKI, OK).add(select_ef(0x18), OK).add(QUERY, "63C1")
    t.add(verify(b"1234"), OK).add(SELECT_ISD, OK)
    with JpkiCard(t) as card:
        card.verify_pin(PinKind.AUTH, "1234", allow_last_attempt=True)
    assert t.verifies_sent() == 1 and t.done()


def test_wrong_pin_reports_remaining_and_is_never_retried() -> None:
    t = ScriptedTransport().add(SELECT_JPKI, OK).add(select_ef(0x18), OK).add(QUERY, "63C3")
    t.add(verify(b"9999"), "63C2")
    with JpkiCard(t) as card:
        with pytest.raises(PinIncorrectError) as info:
            card.verify_pin(PinKind.AUTH, "9999")
        assert PinKind.AUTH not in card.verified_pins
    assert info.value.remaining == 2 and info.value.sw == 0x63C2
    assert "9999" not in str(info.value) and "9999" not in repr(info.value)
    assert t.verifies_sent() == 1 and t.done()


def test_the_exhausting_attempt_says_blocked_now() -> None:
    t = ScriptedTransport().add(SELECT_JPKI, OK).add(select_ef(0x1B), OK).add(QUERY, "63C1")
    t.add(verify(b"WRONG1"), "63C0")
    with JpkiCard(t) as card, pytest.raises(PinBlockedError) as info:
        card.verify_pin(PinKind.SIGN, "WRONG1", allow_last_attempt=True)
    assert info.value.just_blocked


def test_verify_on_blocked_key_answers_6984() -> None:
    # The counter query says 1 left (stale), the card refuses with 6984: blocked.
    t = ScriptedTransport().add(SELECT_JPKI, OK).add(select_ef(0x18), OK).add(QUERY, "63C2")
    t.add(verify(b"1234"), "6984")
    with JpkiCard(t) as card, pytest.raises(PinBlockedError) as info:
        card.verify_pin(PinKind.AUTH, "1234")
    assert info.value.sw == 0x6984 and not info.value.just_blocked


def test_broken_link_during_verify_rereads_counter_and_does_not_retry() -> None:
    t = ScriptedTransport().add(SELECT_JPKI, OK).add(select_ef(0x18), OK).add(QUERY, "63C3")
    t.add(verify(b"1234"), TransportError("link dropped"))
    t.add(SELECT_JPKI, OK).add(select_ef(0x18), OK).add(QUERY, "63C2")
    with JpkiCard(t) as card, pytest.raises(PinAttemptUncertainError) as info:
        card.verify_pin(PinKind.AUTH, "1234")
    assert info.value.remaining == 2
    assert "may have been counted" in str(info.value)
    assert "1234" not in str(info.value)
    assert t.verifies_sent() == 1 and t.done()
    assert isinstance(info.value, PinError) and isinstance(info.value, CardCommunicationError)


def test_card_removed_during_verify_gives_unknown_counter() -> None:
    t = ScriptedTransport().add(SELECT_JPKI, OK).add(select_ef(0x18), OK).add(QUERY, "63C3")
    t.add(verify(b"1234"), ApduCardRemoved("card removed"))
    t.add(SELECT_JPKI, ApduCardRemoved("card removed"))
    with JpkiCard(t) as card, pytest.raises(PinAttemptUncertainError) as info:
        card.verify_pin(PinKind.AUTH, "1234")
    assert info.value.remaining is None
    assert t.verifies_sent() == 1


def test_bytearray_pin_is_wiped_after_use() -> None:
    from jpki_sdk.card.pins import normalize_pin

    secret = bytearray(b"1234")
    buf = normalize_pin(PinKind.AUTH, secret, wipe_input=True)
    assert secret == bytearray(4)
    held = buf.view()
    assert "1234" not in repr(buf)
    buf.wipe()
    assert held == bytearray(4)


def test_change_pin_verifies_then_changes() -> None:
    t = ScriptedTransport().add(SELECT_JPKI, OK).add(select_ef(0x18), OK).add(QUERY, "63C3")
    t.add(verify(b"1234"), OK).add("0024018004" + b"5678".hex(), OK).add(SELECT_ISD, OK)
    with JpkiCard(t) as card:
        card.change_pin(PinKind.AUTH, "1234", "5678")
    assert t.done()


def test_change_pin_checks_both_formats_first() -> None:
    t = ScriptedTransport()
    with JpkiCard(t) as card:
        with pytest.raises(PinFormatError):
            card.change_pin(PinKind.AUTH, "1234", "56789")
        with pytest.raises(PinFormatError):
            card.change_pin(PinKind.SIGN, "TESTPASS1", "ONLYLETTERS")
        with pytest.raises(PinFormatError):
            card.change_pin(PinKind.SIGN, "TEST", "NEWPASS2")
    assert t.sent == []


def test_change_pin_link_loss_is_reported_uncertain() -> None:
    t = ScriptedTransport().add(SELECT_JPKI, OK).add(select_ef(0x18), OK).add(QUERY, "63C3")
    t.add(verify(b"1234"), OK).add("0024018004" + b"5678".hex(), TransportError("gone"))
    with JpkiCard(t) as card, pytest.raises(PinChangeUncertainError):
        card.change_pin(PinKind.AUTH, "1234", "5678")


# -------------------------------------------------------------------------- certificates


def test_read_certificate_by_der_length_short_apdus(auth_cert_der: bytes) -> None:
    t = ScriptedTransport().add(SELECT_JPKI, OK).add(select_ef(0x0A), OK)
    script_cert_read_short(t, auth_cert_der)
    with JpkiCard(t) as card:
        cert = card.read_certificate(CertKind.AUTH)
        assert cert.public_bytes(serialization.Encoding.DER) == auth_cert_der
        # Cached for the session: no APDU the second time.
        assert card.read_certificate(CertKind.AUTH) is cert
    assert t.done()
    reads = [c for c in t.sent if c[1] == 0xB0]
    assert len(reads) == -(-len(auth_cert_der) // 256)


def test_certificate_over_3kb(big_cert_der: bytes) -> None:
    t = ScriptedTransport().add(SELECT_JPKI, OK).add(select_ef(0x0B), OK)
    script_cert_read_short(t, big_cert_der)
    with JpkiCard(t) as card:
        cert = card.read_certificate(CertKind.AUTH_CA)
    assert cert.public_bytes(serialization.Encoding.DER) == big_cert_der
    assert t.done()


def test_extended_read_takes_one_apdu(auth_cert_der: bytes) -> None:
    t = ScriptedTransport(extended=True, max_command=65535, max_response=65536)
    t.add(SELECT_JPKI, OK).add(select_ef(0x0A), OK)
    physical = auth_cert_der + b"\xff" * 300
    t.add(read_binary(0, 2048, extended=True), physical[:2048].hex() + OK)
    with JpkiCard(t) as card:
        card.read_certificate(CertKind.AUTH)
    assert t.done()


def test_extended_read_of_a_big_certificate_reads_exactly_the_rest(big_cert_der: bytes) -> None:
    t = ScriptedTransport(extended=True, max_command=65535, max_response=65536)
    t.add(SELECT_JPKI, OK).add(select_ef(0x0A), OK)
    rest = len(big_cert_der) - 2048
    t.add(read_binary(0, 2048, extended=True), big_cert_der[:2048].hex() + OK)
    t.add(read_binary(2048, rest, extended=True), big_cert_der[2048:].hex() + OK)
    with JpkiCard(t) as card:
        cert = card.read_certificate(CertKind.AUTH)
    assert cert.public_bytes(serialization.Encoding.DER) == big_cert_der
    assert t.done()


@pytest.mark.parametrize("refusal", ["6700", "6C00"])
def test_extended_read_refused_falls_back_to_short_chunks(
    auth_cert_der: bytes, refusal: str
) -> None:
    t = ScriptedTransport(extended=True, max_command=65535, max_response=65536)
    t.add(SELECT_JPKI, OK).add(select_ef(0x0A), OK)
    t.add(read_binary(0, 2048, extended=True), refusal)
    if refusal == "6C00":  # the exchange layer re-sends with Le=256 (short)
        t.add(read_binary(0, 256, extended=True), "6700")
    script_cert_read_short(t, auth_cert_der)
    with JpkiCard(t) as card:
        card.read_certificate(CertKind.AUTH)
        assert card._extended_reads is False
    assert t.done()


def test_reader_limit_caps_the_chunk(auth_cert_der: bytes) -> None:
    # Extended-capable link whose reader returns at most 1024 bytes per APDU.
    t = ScriptedTransport(extended=True, max_command=65535, max_response=1024)
    t.add(SELECT_JPKI, OK).add(select_ef(0x0A), OK)
    t.add(read_binary(0, 1024, extended=True), auth_cert_der[:1024].hex() + OK)
    rest = len(auth_cert_der) - 1024
    t.add(read_binary(1024, rest, extended=True), auth_cert_der[1024:].hex() + OK)
    with JpkiCard(t) as card:
        card.read_certificate(CertKind.AUTH)
    assert t.done()


def test_sign_certificate_needs_the_password_nothing_sent() -> None:
    t = ScriptedTransport()
    with JpkiCard(t) as card, pytest.raises(PinRequiredError) as info:
        card.read_certificate(CertKind.SIGN)
    assert info.value.kind is PinKind.SIGN and t.sent == []


def test_sign_certificate_with_password(auth_cert_der: bytes) -> None:
    t = ScriptedTransport().add(SELECT_JPKI, OK).add(select_ef(0x1B), OK).add(QUERY, "63C5")
    t.add(verify(b"TESTPASS1"), OK).add(select_ef(0x01), OK)
    script_cert_read_short(t, auth_cert_der)
    t.add(SELECT_ISD, OK)
    cache = CertificateCache()
    with JpkiCard(t, cache=cache, slot="r1") as card:
        card.read_certificate(CertKind.SIGN, sign_password="TESTPASS1")
    # The signature certificate (personal data) is never kept beyond the session.
    assert cache.get("r1", CertKind.SIGN) is None
    assert t.sent_hex()[-1] == SELECT_ISD  # PIN verified: security state cleared on close


def test_card_answering_6982_to_a_read_asks_for_the_pin() -> None:
    # Smartphone JPKI guards the auth certificate with the auth PIN.
    t = ScriptedTransport().add(SELECT_JPKI, OK).add(select_ef(0x0A), OK)
    t.add(read_binary(0, 256), "6982")
    with JpkiCard(t) as card, pytest.raises(PinRequiredError) as info:
        card.read_certificate(CertKind.AUTH)
    assert info.value.kind is PinKind.AUTH and info.value.sw == 0x6982


@pytest.mark.parametrize("content", ["ff" * 256, "00" * 256])
def test_empty_certificate_file_means_not_present(content: str) -> None:
    t = ScriptedTransport().add(SELECT_JPKI, OK).add(select_ef(0x0A), OK)
    t.add(read_binary(0, 256), content + OK)
    with JpkiCard(t) as card, pytest.raises(CertificateNotPresentError):
        card.read_certificate(CertKind.AUTH)


def test_missing_certificate_file_means_not_present() -> None:
    t = ScriptedTransport().add(SELECT_JPKI, OK).add(select_ef(0x0A), "6A82")
    with JpkiCard(t) as card, pytest.raises(CertificateNotPresentError):
        card.read_certificate(CertKind.AUTH)


def test_not_a_jpki_card() -> None:
    t = ScriptedTransport().add(SELECT_JPKI, "6A82")
    with JpkiCard(t) as card, pytest.raises(NotJpkiCardError):
        card.read_certificate(CertKind.AUTH)


def test_card_removed_mid_read_is_clear_and_session_state_dropped(auth_cert_der: bytes) -> None:
    t = ScriptedTransport().add(SELECT_JPKI, OK).add(select_ef(0x0A), OK)
    t.add(read_binary(0, 256), auth_cert_der[:256].hex() + OK)
    t.add(read_binary(256, 256), ApduCardRemoved("removed"))
    cache = CertificateCache()
    with JpkiCard(t, cache=cache, slot="r") as card:
        with pytest.raises(CardRemovedError):
            card.read_certificate(CertKind.AUTH)
        assert card._current_df is None
    assert cache.slots() == []


# ------------------------------------------------------------------------------- signing


def script_login(
    t: ScriptedTransport, key: rsa.RSAPrivateKey, message: bytes, cert_der: bytes | None
) -> bytes:
    di = digest_info(HashAlg.SHA256, hashlib.sha256(message).digest())
    sig = sign_digest_info(key, di)
    t.add(SELECT_JPKI, OK).add(select_ef(0x18), OK).add(QUERY, "63C3").add(verify(b"1234"), OK)
    if cert_der is not None:
        t.add(select_ef(0x0A), OK)
        script_cert_read_short(t, cert_der)
    t.add(select_ef(0x17), OK).add(f"802A0080{len(di):02X}{di.hex()}00", sig.hex() + OK)
    t.add(SELECT_ISD, OK)
    return sig


def test_cold_login_signature_is_14_apdus_short(
    card_key: rsa.RSAPrivateKey, auth_cert_der: bytes
) -> None:
    assert len(auth_cert_der) <= 7 * 256
    t = ScriptedTransport()
    expected = script_login(t, card_key, b"challenge", auth_cert_der)
    with JpkiCard(t) as card:
        sig = card.sign(b"challenge", key=KeyKind.AUTH, pin="1234")
        assert card.exchange.apdu_count <= 14
    assert sig == expected and t.done()


def test_warm_login_uses_the_cache_6_apdus(
    card_key: rsa.RSAPrivateKey, auth_cert_der: bytes
) -> None:
    cache = CertificateCache()
    t = ScriptedTransport()
    script_login(t, card_key, b"one", auth_cert_der)
    with JpkiCard(t, cache=cache, slot="reader-1") as card:
        card.sign(b"one", key=KeyKind.AUTH, pin="1234")
    t2 = ScriptedTransport()
    script_login(t2, card_key, b"two", None)
    with JpkiCard(t2, cache=cache, slot="reader-1") as card:
        card.sign(b"two", key=KeyKind.AUTH, pin="1234")
        assert card.exchange.apdu_count == 6
    assert t2.done()


def test_stale_cache_entry_is_detected_by_the_signature_check(
    card_key: rsa.RSAPrivateKey, other_key: rsa.RSAPrivateKey, auth_cert_der: bytes
) -> None:
    from cardkit import make_certificate

    other_der = make_certificate(other_key, cn="OTHER").public_bytes(serialization.Encoding.DER)
    cache = CertificateCache()
    cache.put("reader-1", CertKind.AUTH, x509.load_der_x509_certificate(other_der))
    t = ScriptedTransport()
    script_login(t, card_key, b"m", None)
    t.script.pop()  # the close-time SELECT ISD comes after the re-read
    t.add(select_ef(0x0A), OK)
    script_cert_read_short(t, auth_cert_der)
    t.add(SELECT_ISD, OK)
    with JpkiCard(t, cache=cache, slot="reader-1") as card:
        card.sign(b"m", key=KeyKind.AUTH, pin="1234")
    assert t.done()
    got = cache.get("reader-1", CertKind.AUTH)
    assert got is not None and got.public_bytes(serialization.Encoding.DER) == auth_cert_der


def test_faulty_signature_is_caught(card_key: rsa.RSAPrivateKey, auth_cert_der: bytes) -> None:
    t = ScriptedTransport()
    sig = script_login(t, card_key, b"m", auth_cert_der)
    bad = bytes([sig[0] ^ 1]) + sig[1:]
    last = t.script[-2]
    last.answer = bad.hex() + OK
    with JpkiCard(t) as card, pytest.raises(SignatureCheckError):
        card.sign(b"m", key=KeyKind.AUTH, pin="1234")


@pytest.mark.parametrize("alg", list(HashAlg))
def test_prehashed_digest_with_each_hash(
    alg: HashAlg, card_key: rsa.RSAPrivateKey, auth_cert_der: bytes
) -> None:
    digest = hashlib.new(alg.value, b"doc").digest()
    di = digest_info(alg, digest)
    sig = sign_digest_info(card_key, di)
    t = ScriptedTransport()
    t.add(SELECT_JPKI, OK).add(select_ef(0x18), OK).add(QUERY, "63C3").add(verify(b"1234"), OK)
    t.add(select_ef(0x0A), OK)
    script_cert_read_short(t, auth_cert_der)
    t.add(select_ef(0x17), OK).add(f"802A0080{len(di):02X}{di.hex()}00", sig.hex() + OK)
    t.add(SELECT_ISD, OK)
    with JpkiCard(t) as card:
        assert card.sign(digest=digest, key=KeyKind.AUTH, hash=alg, pin="1234") == sig


def test_sign_without_pin_when_not_verified_sends_nothing() -> None:
    t = ScriptedTransport()
    with JpkiCard(t) as card, pytest.raises(PinRequiredError):
        card.sign(b"x", key=KeyKind.AUTH)
    assert t.sent == []


def test_sign_argument_errors() -> None:
    t = ScriptedTransport()
    with JpkiCard(t) as card:
        with pytest.raises(ValueError, match="exactly one"):
            card.sign(key=KeyKind.AUTH, pin="1234")
        with pytest.raises(ValueError, match="exactly one"):
            card.sign(b"x", digest=b"y" * 32, key=KeyKind.AUTH, pin="1234")
        with pytest.raises(ValueError, match="32 bytes"):
            card.sign(digest=b"short", key=KeyKind.AUTH, pin="1234")
        with pytest.raises(TypeError):
            card.sign(b"x", key="auth", pin="1234")  # type: ignore[arg-type]
    assert t.sent == []


def test_card_removed_mid_signature(card_key: rsa.RSAPrivateKey, auth_cert_der: bytes) -> None:
    t = ScriptedTransport()
    script_login(t, card_key, b"m", auth_cert_der)
    t.script.pop()
    t.script[-1].answer = ApduCardRemoved("removed")
    with JpkiCard(t) as card:
        with pytest.raises(CardRemovedError):
            card.sign(b"m", key=KeyKind.AUTH, pin="1234")
        assert card.verified_pins == frozenset()


def test_close_clears_security_state_and_closes_transport() -> None:
    t = ScriptedTransport().add(SELECT_JPKI, OK).add(select_ef(0x18), OK).add(QUERY, "63C3")
    t.add(verify(b"1234"), OK).add(SELECT_ISD, OK)
    card = JpkiCard(t)
    card.verify_pin(PinKind.AUTH, "1234")
    card.close()
    card.close()
    assert t.closed and t.done()
    with pytest.raises(ValueError, match="closed"):
        card.pin_status(PinKind.AUTH)


# ------------------------------------------------------------------------------ text AP


@pytest.fixture(scope="module")
def text_files(card_key: rsa.RSAPrivateKey) -> dict[str, bytes]:
    mn = my_number_file("537686677188")
    bi = basic_info_file("試験　花子", "東京都千代田区霞が関２－１－２", "19900315", "2")
    return {
        "mn": mn,
        "bi": bi,
        "integrity": integrity_file(card_key, mn, bi),
        "cv": cv_certificate(card_key),
    }


def script_text_read(t: ScriptedTransport, files: dict[str, bytes], which: str) -> None:
    t.add(SELECT_TEXT, OK).add(select_ef(0x11), OK).add(QUERY, "63C3").add(verify(b"1234"), OK)
    if which == "mn":
        t.add(select_ef(0x01), OK).add(read_binary(0, 256), files["mn"].hex() + OK)
    else:
        t.add(select_ef(0x02), OK).add(read_binary(0, 256), files["bi"].hex() + OK)
    t.add(select_ef(0x03), OK)
    integ = files["integrity"]
    t.add(read_binary(0, 256), integ[:256].hex() + OK)
    t.add(read_binary(256, len(integ) - 256), integ[256:].hex() + OK)
    t.add(select_ef(0x04), OK)
    cv = files["cv"]
    pos = 0
    first = True
    while pos < len(cv):
        want = 256 if first else min(256, len(cv) - pos)
        t.add(read_binary(pos, want), cv[pos : pos + 256].hex() + OK)
        pos += min(256, len(cv) - pos)
        first = False
    t.add(SELECT_ISD, OK)


def test_read_my_number_checks_the_integrity_record(text_files: dict[str, bytes]) -> None:
    t = ScriptedTransport()
    script_text_read(t, text_files, "mn")
    with JpkiCard(t) as card:
        number = card.read_my_number("1234")
    assert number.value == "537686677188"
    assert "5376" not in repr(number) and number.masked().endswith("7188")
    assert t.done()


def test_read_basic_info(text_files: dict[str, bytes]) -> None:
    t = ScriptedTransport()
    script_text_read(t, text_files, "bi")
    with JpkiCard(t) as card:
        info = card.read_basic_info("1234")
    assert info.name == "試験　花子" and info.sex is Sex.FEMALE
    assert info.birth_date.isoformat() == "1990-03-15"
    assert info.integrity is not None and info.integrity.basic_info_digest_ok
    assert not info.integrity.proves_jlis_origin
    assert "花子" not in repr(info) and "霞" not in repr(info) and "1990" not in repr(info)


def test_tampered_basic_info_fails_the_integrity_check(text_files: dict[str, bytes]) -> None:
    files = dict(text_files)
    files["bi"] = basic_info_file("試験　太郎", "東京都千代田区霞が関２－１－２", "19900315", "2")
    t = ScriptedTransport()
    script_text_read(t, files, "bi")
    with JpkiCard(t) as card, pytest.raises(IntegrityCheckError):
        card.read_basic_info("1234")


def test_second_text_read_reuses_the_verified_pin(text_files: dict[str, bytes]) -> None:
    t = ScriptedTransport()
    script_text_read(t, text_files, "bi")
    t.script.pop()
    t.add(select_ef(0x01), OK).add(read_binary(0, 256), text_files["mn"].hex() + OK)
    t.add(SELECT_ISD, OK)
    with JpkiCard(t) as card:
        card.read_basic_info("1234")
        card.read_my_number()  # no PIN: verified in this session, integrity record cached
    assert t.done() and t.verifies_sent() == 1


def test_text_read_without_pin_sends_nothing() -> None:
    t = ScriptedTransport()
    with JpkiCard(t) as card, pytest.raises(PinRequiredError):
        card.read_basic_info()
    assert t.sent == []


# ----------------------------------------------------------------------------- token info


@pytest.mark.parametrize(
    ("label", "expected"),
    [
        ("JPKIAPICCTOKEN2", TokenType.MY_NUMBER_CARD),
        ("JPKIAPICCTOKEN", TokenType.JUKI_CARD),
        ("JPKIAPGPSETOKEN", TokenType.ANDROID),
        ("JPKIAPIOSTOKEN", TokenType.IPHONE),
    ],
)
def test_token_info_tells_tokens_apart(label: str, expected: TokenType) -> None:
    t = ScriptedTransport().add(SELECT_JPKI, OK).add(select_ef(0x06), OK)
    t.add(read_binary(0, 256), token_info_file(label).hex() + OK)
    with JpkiCard(t) as card:
        info = card.token_info()
        assert card.token_info() is info  # cached
    assert info.token_type is expected and info.label == label
    assert info.max_pin_len == 16 and info.min_pin_len == 6
