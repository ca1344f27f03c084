"""JpkiCard against the simulator, in-process and through pcscd + vpcd + pyscard.

Every test here runs twice (``transport_kind``): the card is the same state file either way,
and the PIN counters are read back from that file, so "no try used" and "nothing sent" are
checked on the card's side as well as from the recorded APDUs.
"""

from __future__ import annotations

import hashlib

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa, utils
from simrig import Rig

from jpki_sdk.card import (
    CardRemovedError,
    CertificateCache,
    CertificateNotPresentError,
    CertKind,
    HashAlg,
    KeyKind,
    LastAttemptRefusedError,
    PinAttemptUncertainError,
    PinBlockedError,
    PinFormatError,
    PinIncorrectError,
    PinKind,
    PinRequiredError,
    Sex,
    TokenType,
)
from simulator.profile import preset

AUTH_PIN = "1234"
SIGN_PASSWORD = "TESTPASS1"
TEXT_PIN = "1234"
JPKI_FIDS = {
    CertKind.AUTH: 0x0A,
    CertKind.SIGN: 0x01,
    CertKind.AUTH_CA: 0x0B,
    CertKind.SIGN_CA: 0x02,
}
PIN_KEYS = {
    PinKind.AUTH: ("jpki", 0x18),
    PinKind.SIGN: ("jpki", 0x1B),
    PinKind.TEXT: ("text", 0x11),
}


def der_on_card(rig: Rig, kind: CertKind) -> bytes:
    ef = rig.state().application("jpki").files[JPKI_FIDS[kind]]
    return ef.content[: ef.object_length]  # type: ignore[union-attr]


def remaining(rig: Rig, kind: PinKind) -> int:
    app, fid = PIN_KEYS[kind]
    return rig.state().pin(app, fid).remaining


def check(cert: x509.Certificate, digest: bytes, signature: bytes, alg: HashAlg) -> None:
    key = cert.public_key()
    assert isinstance(key, rsa.RSAPublicKey)
    key.verify(signature, digest, padding.PKCS1v15(), utils.Prehashed(alg.algorithm()))


# ---------------------------------------------------------------------------- certificates


@pytest.mark.parametrize("kind", [CertKind.AUTH, CertKind.AUTH_CA, CertKind.SIGN_CA])
def test_read_free_certificates(make_rig, kind: CertKind) -> None:
    rig = make_rig()
    with rig.session() as card:
        cert = card.read_certificate(kind)
    assert cert.public_bytes(serialization.Encoding.DER) == der_on_card(rig, kind)


def test_read_sign_certificate_needs_the_password(make_rig) -> None:
    rig = make_rig()
    with rig.session() as card:
        with pytest.raises(PinRequiredError):
            card.read_certificate(CertKind.SIGN)
        cert = card.read_certificate(CertKind.SIGN, sign_password="testpass1")
    assert cert.public_bytes(serialization.Encoding.DER) == der_on_card(rig, CertKind.SIGN)
    assert remaining(rig, PinKind.SIGN) == 5


def test_card_without_sign_certificate(make_rig) -> None:
    rig = make_rig(sign=False)
    with rig.session() as card:
        assert card.certificate_availability().sign is False
        assert card.certificate_availability().auth is True
        with pytest.raises(CertificateNotPresentError):
            card.read_certificate(CertKind.SIGN, sign_password=SIGN_PASSWORD)


# ---------------------------------------------------------------------------- PIN rules


@pytest.mark.parametrize("kind", list(PinKind))
def test_pin_status_uses_no_try(make_rig, kind: PinKind) -> None:
    rig = make_rig()
    before = remaining(rig, kind)
    with rig.session() as card:
        for _ in range(3):
            assert card.pin_status(kind).remaining == before
    assert remaining(rig, kind) == before
    assert rig.tracer.verifies_with_pin() == 0


def test_wrong_format_sends_nothing(make_rig) -> None:
    rig = make_rig()
    with rig.session() as card:
        sent = len(rig.tracer.commands)
        for kind, pin in [(PinKind.AUTH, "12345"), (PinKind.SIGN, "short"), (PinKind.TEXT, "x")]:
            with pytest.raises(PinFormatError):
                card.verify_pin(kind, pin)
        assert len(rig.tracer.commands) == sent
    assert [remaining(rig, k) for k in PinKind] == [3, 5, 3]


def test_correct_pin_then_wrong_pin(make_rig) -> None:
    rig = make_rig()
    with rig.session() as card:
        card.verify_pin(PinKind.AUTH, AUTH_PIN)
        with pytest.raises(PinIncorrectError) as info:
            card.verify_pin(PinKind.AUTH, "0000")
        assert info.value.remaining == 2
    assert remaining(rig, PinKind.AUTH) == 2
    with rig.session() as card:
        card.verify_pin(PinKind.AUTH, AUTH_PIN)  # a correct PIN resets the counter
    assert remaining(rig, PinKind.AUTH) == 3


def test_last_try_is_protected(make_rig) -> None:
    rig = make_rig(tries={("jpki", 0x18): 1})
    with rig.session() as card:
        with pytest.raises(LastAttemptRefusedError):
            card.verify_pin(PinKind.AUTH, "0000")
        with pytest.raises(LastAttemptRefusedError):
            card.sign(b"x", key=KeyKind.AUTH, pin="0000")
    assert rig.tracer.verifies_with_pin() == 0
    assert remaining(rig, PinKind.AUTH) == 1
    with rig.session() as card:
        card.verify_pin(PinKind.AUTH, AUTH_PIN, allow_last_attempt=True)
    assert remaining(rig, PinKind.AUTH) == 3


def test_exhausting_then_blocked_without_verify(make_rig) -> None:
    rig = make_rig(tries={("jpki", 0x1B): 1})
    with rig.session() as card:
        with pytest.raises(PinBlockedError) as info:
            card.verify_pin(PinKind.SIGN, "WRONG1", allow_last_attempt=True)
        assert info.value.just_blocked
    assert remaining(rig, PinKind.SIGN) == 0
    verifies = rig.tracer.verifies_with_pin()
    with rig.session() as card:
        assert card.pin_status(PinKind.SIGN).blocked
        with pytest.raises(PinBlockedError) as info:
            card.verify_pin(PinKind.SIGN, SIGN_PASSWORD, allow_last_attempt=True)
        assert info.value.sw is None  # refused by the SDK: no VERIFY sent
        with pytest.raises(PinBlockedError):
            card.read_certificate(CertKind.SIGN, sign_password=SIGN_PASSWORD)
    assert rig.tracer.verifies_with_pin() == verifies


def test_change_pin(make_rig) -> None:
    rig = make_rig()
    with rig.session() as card:
        card.change_pin(PinKind.AUTH, AUTH_PIN, "4321")
    with rig.session() as card:
        with pytest.raises(PinIncorrectError):
            card.verify_pin(PinKind.AUTH, AUTH_PIN)
        card.verify_pin(PinKind.AUTH, "4321")
    with rig.session() as card:
        card.change_pin(PinKind.SIGN, "testpass1", "newpass22")
        card.verify_pin(PinKind.SIGN, "NEWPASS22")
    assert remaining(rig, PinKind.AUTH) == 3 and remaining(rig, PinKind.SIGN) == 5


# ---------------------------------------------------------------------------------- signing


@pytest.mark.parametrize("key", list(KeyKind))
def test_sign_and_check(make_rig, key: KeyKind) -> None:
    rig = make_rig()
    pin = AUTH_PIN if key is KeyKind.AUTH else SIGN_PASSWORD
    with rig.session() as card:
        signature = card.sign(b"message", key=key, pin=pin)
        cert = card.read_certificate(key.cert_kind)
    cert.public_key().verify(signature, b"message", padding.PKCS1v15(), hashes.SHA256())  # type: ignore[union-attr,call-arg]


@pytest.mark.parametrize("alg", [HashAlg.SHA1, HashAlg.SHA384, HashAlg.SHA512])
def test_sign_prehashed_other_hashes(make_rig, alg: HashAlg) -> None:
    rig = make_rig()
    digest = hashlib.new(alg.value, b"document").digest()
    with rig.session() as card:
        card.verify_pin(PinKind.AUTH, AUTH_PIN)
        signature = card.sign(digest=digest, key=KeyKind.AUTH, hash=alg)
        check(card.read_certificate(CertKind.AUTH), digest, signature, alg)


def test_session_close_clears_the_verified_state(make_rig) -> None:
    rig = make_rig()
    with rig.session() as card:
        card.verify_pin(PinKind.AUTH, AUTH_PIN)
        card.sign(b"a", key=KeyKind.AUTH)
    with rig.session() as card, pytest.raises(PinRequiredError):
        card.sign(b"b", key=KeyKind.AUTH)


def test_logout_drops_the_card_state(make_rig) -> None:
    rig = make_rig()
    with rig.session() as card:
        card.verify_pin(PinKind.AUTH, AUTH_PIN)
        card.logout()
        # Bypass the SDK's own bookkeeping: ask the card itself to sign.
        from apdu import CommandApdu

        digest = hashlib.sha256(b"x").digest()
        raw = card.exchange.transmit(
            CommandApdu(0x00, 0xA4, 0x04, 0x0C, bytes.fromhex("D392F000260100000001"))
        )
        assert raw.ok
        card.exchange.transmit(CommandApdu(0x00, 0xA4, 0x02, 0x0C, b"\x00\x17"))
        answer = card.exchange.transmit(
            CommandApdu(0x80, 0x2A, 0x00, 0x80, HashAlg.SHA256.prefix + digest, le=256)
        )
        assert answer.sw == 0x6982


# ---------------------------------------------------------------------------------- text AP


def test_read_basic_info_and_my_number(make_rig) -> None:
    rig = make_rig()
    identity = rig.state().identity
    assert identity is not None
    with rig.session() as card:
        info = card.read_basic_info(TEXT_PIN)
        number = card.read_my_number()
    assert info.name == identity["family_name"] + "\u3000" + identity["given_name"]
    assert info.address == identity["address"]
    assert info.birth_date.isoformat() == identity["birth_date"]
    assert info.sex is Sex(identity["sex"])
    assert info.integrity is not None and info.integrity.basic_info_digest_ok
    assert number.value == identity["my_number"]
    assert identity["my_number"] not in repr(number)
    assert remaining(rig, PinKind.TEXT) == 3


def test_wrong_text_pin(make_rig) -> None:
    rig = make_rig()
    with rig.session() as card, pytest.raises(PinIncorrectError) as info:
        card.read_my_number("9999")
    assert info.value.kind is PinKind.TEXT and info.value.remaining == 2
    assert remaining(rig, PinKind.TEXT) == 2


# ------------------------------------------------------------------------------ token info


@pytest.mark.parametrize(
    ("form", "expected"),
    [
        ("plastic", TokenType.MY_NUMBER_CARD),
        ("android", TokenType.ANDROID),
    ],
)
def test_token_info(make_rig, form: str, expected: TokenType) -> None:
    rig = make_rig(form=form)
    with rig.session() as card:
        assert card.token_info().token_type is expected


def test_smartphone_auth_certificate_needs_the_pin(make_rig) -> None:
    rig = make_rig(form="android")
    with rig.session() as card:
        with pytest.raises(PinRequiredError) as info:
            card.read_certificate(CertKind.AUTH)
        assert info.value.kind is PinKind.AUTH
    with rig.session() as card:
        signature = card.sign(b"login", key=KeyKind.AUTH, pin=AUTH_PIN)
        assert len(signature) == 256


# ------------------------------------------------------------------------------ removal


def test_card_removed_mid_read_then_next_session_works(make_rig) -> None:
    # APDUs: 1 SELECT JPKI (open), 2 SELECT 000A, 3 READ, 4 READ <- the card leaves here
    rig = make_rig(profile=preset("contactless"), faults=["remove@4"])
    cache = CertificateCache()
    with rig.session(cache=cache) as card, pytest.raises(CardRemovedError):
        card.read_certificate(CertKind.AUTH)
    assert cache.slots() == []
    rig.wait_present()
    with rig.session(cache=cache) as card:
        assert card.read_certificate(CertKind.AUTH).public_bytes(
            serialization.Encoding.DER
        ) == der_on_card(rig, CertKind.AUTH)


def test_card_removed_mid_signature_then_next_session_works(make_rig) -> None:
    # Cold login on short APDUs: the 14th APDU is the signature.
    rig = make_rig(profile=preset("contactless"), faults=["remove@14"])
    with rig.session() as card:
        with pytest.raises(CardRemovedError):
            card.sign(b"m", key=KeyKind.AUTH, pin=AUTH_PIN)
        assert card.exchange.apdu_count == 14
    rig.wait_present()
    with rig.session() as card:
        assert len(card.sign(b"m", key=KeyKind.AUTH, pin=AUTH_PIN)) == 256
    assert remaining(rig, PinKind.AUTH) == 3


# -------------------------------------------------------------------- APDU counts and links


def test_readers_without_extended_length(make_rig) -> None:
    rig = make_rig(profile=preset("contactless"))
    with rig.session() as card:
        card.sign(b"m", key=KeyKind.AUTH, pin=AUTH_PIN)
        assert card.exchange.apdu_count <= 14
    assert all(c[4] <= 5 + 255 + 1 for c in rig.tracer.commands)


def test_login_apdu_counts_cold_and_warm(make_rig, transport_kind: str) -> None:
    rig = make_rig(extended=True if transport_kind == "pcsc" else None)
    cache = CertificateCache()
    with rig.session(cache=cache) as card:
        card.sign(b"cold", key=KeyKind.AUTH, pin=AUTH_PIN)
        assert card.exchange.apdu_count <= 8  # extended READ BINARY
    with rig.session(cache=cache) as card:
        card.sign(b"warm", key=KeyKind.AUTH, pin=AUTH_PIN)
        assert card.exchange.apdu_count <= 6


def test_link_broken_during_verify_says_the_try_may_have_counted(make_rig) -> None:
    # APDUs: 1 SELECT JPKI (open), 2 SELECT 0018, 3 counter query, 4 VERIFY <- card leaves
    # after executing it (a wrong PIN: the try was in fact counted).
    rig = make_rig(faults=["remove@4"])
    with rig.session() as card, pytest.raises(PinAttemptUncertainError) as info:
        card.verify_pin(PinKind.AUTH, "0000")
    assert "may have been counted" in str(info.value)
    assert rig.tracer.verifies_with_pin() == 1  # never retried
    rig.wait_present()
    with rig.session() as card:
        assert card.pin_status(PinKind.AUTH).remaining == 2
    assert remaining(rig, PinKind.AUTH) == 2


def test_card_refusing_extended_apdus_behind_an_extended_reader(state_cache, tmp_path) -> None:
    """In-process only (the link's claim is faked): a reader that says it carries extended
    APDUs, and a card that answers them 6700."""
    from jpki_sdk.card import JpkiCard
    from simulator.card import SimulatedCard

    state = state_cache.state()
    state.profile = preset("contactless")

    class ClaimsExtended:
        def __init__(self, sim: SimulatedCard) -> None:
            self.sim = sim
            self.extended_length = True
            self.max_command_data = 65535
            self.max_response_data = 65536

        def transmit(self, command: bytes) -> bytes:
            return self.sim.transmit(command)

        def close(self) -> None:
            self.sim.close()

        def __enter__(self) -> ClaimsExtended:
            return self

        def __exit__(self, *exc: object) -> None:
            self.close()

    sim = SimulatedCard(state)
    with JpkiCard(ClaimsExtended(sim)) as card:
        cert = card.read_certificate(CertKind.AUTH)
        assert card._extended_reads is False
        reads = card.exchange.apdu_count
    ef = state.application("jpki").files[0x0A]
    assert cert.public_bytes(serialization.Encoding.DER) == ef.content[: ef.object_length]
    assert reads == 2 + 1 + -(-ef.object_length // 256)  # SELECTs, the refused read, chunks
