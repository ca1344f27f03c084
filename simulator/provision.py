"""Making a new simulated card: the issuing municipality's terminal, in software.

:func:`new_card` has the test PKI issue the JPKI key pairs and certificates for an identity
and lays out every application the way the card spec describes (§1, §2.1, §4): JPKI-AP (the
four certificates, token info, EF 0008, keys and PINs), the text AP (個人番号, 基本4情報,
integrity record, CV certificate, basic info, signed card key; PIN, 照合番号A/B and the issued-
blocked key ``0012``), the 券面AP (age record, basic info, CV certificate; birth-date key and
照合番号A/B), the 住基AP and 共通AP PIN keys, the 共通AP card-info record, and the GP ISD.

A card without a signature certificate (holders under 15) has no EF 0001, no sign key 001A
and no sign password 001B (all answer ``6A82``), and EF 0008 reads ``00 8F 00``. The sign CA
certificate (EF 0002) stays: it is public and belongs to the application, not to the holder.

Everything is deterministic from the identity, the PKI and ``seed``, except the salts of the
stored PIN digests.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import logging
from typing import Any, Protocol

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from simulator import textap
from simulator.files import (
    AID_COMMON,
    AID_ISD,
    AID_JPKI,
    AID_JUKI,
    AID_KENMEN,
    AID_TEXT,
    FREE,
    NEVER,
    Access,
    Application,
    BinaryFile,
    Charset,
    ElementaryFile,
    InternalFile,
    KeyFile,
    KeyUse,
    PinFile,
    PinSecret,
    RecordFile,
)
from simulator.identity import Identity, birthday_in_year
from simulator.keys import DeterministicRandom, rsa_key_from_seed
from simulator.profile import CardProfile
from simulator.state import CardState

__all__ = [
    "DEFAULT_AUTH_PIN",
    "DEFAULT_JUKI_PIN",
    "DEFAULT_SIGN_PASSWORD",
    "DEFAULT_TEXT_PIN",
    "PIN_KEYS",
    "IssuedCertificates",
    "build_card",
    "card_expiry",
    "era_yymmdd",
    "new_card",
    "token_info",
    "verification_code_b",
]

logger = logging.getLogger(__name__)

DEFAULT_AUTH_PIN = "1234"
DEFAULT_SIGN_PASSWORD = "TESTPASS1"  # noqa: S105 (the documented default of a test card)
DEFAULT_TEXT_PIN = "1234"
DEFAULT_JUKI_PIN = "1234"

JST = _dt.timezone(_dt.timedelta(hours=9), "JST")

#: Friendly names of the card's PIN keys: name -> (application, key FID).
PIN_KEYS: dict[str, tuple[str, int]] = {
    "auth": ("jpki", 0x0018),
    "sign": ("jpki", 0x001B),
    "text": ("text", 0x0011),
    "text-blocked": ("text", 0x0012),
    "text-a": ("text", 0x0014),
    "text-b": ("text", 0x0015),
    "kenmen-birth": ("kenmen", 0x0011),
    "kenmen-b": ("kenmen", 0x0012),
    "kenmen-a": ("kenmen", 0x0013),
    "juki": ("juki", 0x001C),
    "common": ("common", 0x001C),
}

#: Physical sizes chosen for EFs the spec gives no size for (unconfirmed; see docs).
TEXT_BASIC_INFO_EF_SIZE = 1024
TEXT_AP_INFO_EF_SIZE = 256  # MYNA-GO reads 256 bytes of it
KENMEN_AP_INFO_EF_SIZE = 512
JPKI_0009_SIZE = 256

# (first day, era digits for 和暦 conversions): 明治, 大正, 昭和, 平成, 令和.
_ERAS: tuple[tuple[_dt.date, int], ...] = (
    (_dt.date(2019, 5, 1), 2019),
    (_dt.date(1989, 1, 8), 1989),
    (_dt.date(1926, 12, 25), 1926),
    (_dt.date(1912, 7, 30), 1912),
    (_dt.date(1868, 1, 25), 1868),
)


class IssuedCertificates(Protocol):
    """What :func:`build_card` needs from an issuance (``simulator.pki.IssuedCard`` fits)."""

    @property
    def auth_key(self) -> rsa.RSAPrivateKey: ...

    @property
    def auth_cert(self) -> x509.Certificate: ...

    @property
    def auth_ca_cert(self) -> x509.Certificate: ...

    @property
    def sign_key(self) -> rsa.RSAPrivateKey | None: ...

    @property
    def sign_cert(self) -> x509.Certificate | None: ...

    @property
    def sign_ca_cert(self) -> x509.Certificate: ...


class _Pki(Protocol):
    def issue(
        self,
        identity: Identity,
        *,
        sign: bool = ...,
        now: _dt.datetime | None = ...,
        generation: int | None = ...,
        seed: int | str | None = ...,
    ) -> Any: ...


def era_yymmdd(date: _dt.date) -> str:
    """The date as 和暦 ``YYMMDD`` (era year, month, day): 1980-02-17 -> ``550217``."""
    for start, first_year in _ERAS:
        if date >= start:
            year = date.year - first_year + 1
            if year > 99:
                raise ValueError("the era year does not fit in two digits")
            return f"{year:02d}{date:%m%d}"
    raise ValueError("dates before the Meiji era have no era year")


def verification_code_b(birth_date: _dt.date, expiry_year: int, security_code: str) -> str:
    """照合番号B: 和暦 birth ``YYMMDD`` + the card's expiry year + the 4-digit security code."""
    if len(security_code) != 4 or not security_code.isdigit():
        raise ValueError("the security code is 4 digits")
    return f"{era_yymmdd(birth_date)}{expiry_year:04d}{security_code}"


def _nth_birthday_after(birth_date: _dt.date, day: _dt.date, n: int) -> _dt.date:
    first = birthday_in_year(birth_date, day.year)
    if first <= day:
        first = birthday_in_year(birth_date, day.year + 1)
    return birthday_in_year(birth_date, first.year + n - 1)


def _age_on(birth_date: _dt.date, day: _dt.date) -> int:
    years = day.year - birth_date.year
    if (day.month, day.day) < (birth_date.month, birth_date.day):
        years -= 1
    return years


def card_expiry(birth_date: _dt.date, issued: _dt.date) -> _dt.date:
    """The card's expiry: the 10th birthday after issuance (5th for holders under 18)."""
    return _nth_birthday_after(birth_date, issued, 10 if _age_on(birth_date, issued) >= 18 else 5)


def token_info(label: str, serial: str) -> bytes:
    """EF 0006: a 160-byte PKCS#11 ``CK_TOKEN_INFO`` with 32-bit big-endian ulongs.

    Label space-padded to 32; model ``E16R01NJ``, flags ``040D``, PIN lengths 16/6 and the
    ASCII version slots ``"03"``/``"01"`` follow the card observed by MC (spec §2.1); the
    manufacturer ID and serial number are synthetic.
    """
    if len(serial) != 16 or not serial.isdigit():
        raise ValueError("the token serial is 16 digits")

    def text(value: str, size: int) -> bytes:
        raw = value.encode("ascii")
        if len(raw) > size:
            raise ValueError(f"{value!r} does not fit {size} bytes")
        return raw.ljust(size, b" ")

    def ulong(value: int) -> bytes:
        return value.to_bytes(4, "big")

    out = (
        text(label, 32)
        + text("0" * 31 + "1", 32)
        + text("E16R01NJ", 16)
        + text(serial, 16)
        + ulong(0x040D)  # RNG | LOGIN_REQUIRED | USER_PIN_INITIALIZED | TOKEN_INITIALIZED
        + ulong(1)
        + ulong(0)
        + ulong(1)
        + ulong(0)
        + ulong(16)
        + ulong(6)
        + ulong(0xFFFFFFFF) * 4
        + b"03"
        + b"01"
        + b" " * 16
    )
    assert len(out) == 160
    return out


def _der(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.DER)


def _pin(
    fid: int,
    label: str,
    value: str | None,
    *,
    tries: int,
    min_length: int,
    max_length: int,
    charset: Charset = Charset.DIGITS,
    change_ins: int | None = 0x24,
    remaining: int | None = None,
) -> PinFile:
    secret = None
    if value is not None:
        raw = value.encode("ascii")
        if not (min_length <= len(raw) <= max_length and charset.accepts(raw)):
            raise ValueError(
                f"{label} must be {min_length}..{max_length} characters ({charset.value})"
            )
        secret = PinSecret.create(raw)
    return PinFile(
        fid,
        label,
        max_tries=tries,
        remaining=tries if remaining is None else remaining,
        min_length=min_length,
        max_length=max_length,
        charset=charset,
        secret=secret,
        change_ins=change_ins,
    )


def _check_pins(auth_pin: str, sign_password: str, text_pin: str, juki_pin: str) -> None:
    for label, value in (
        ("auth PIN", auth_pin),
        ("text-AP PIN", text_pin),
        ("住基 PIN", juki_pin),
    ):
        if not isinstance(value, str) or len(value) != 4 or not value.isascii():
            raise ValueError(f"the {label} must be 4 ASCII digits")
        if not value.isdigit():
            raise ValueError(f"the {label} must be 4 ASCII digits")
    if (
        not isinstance(sign_password, str)
        or not 6 <= len(sign_password) <= 16
        or not sign_password.isascii()
        or not all(c.isdigit() or "A" <= c <= "Z" for c in sign_password)
    ):
        raise ValueError("the sign password must be 6..16 characters A-Z and 0-9")


def _files(*files: ElementaryFile) -> dict[int, ElementaryFile]:
    return {ef.fid: ef for ef in files}


def new_card(
    pki: _Pki,
    identity: Identity,
    *,
    auth_pin: str = DEFAULT_AUTH_PIN,
    sign_password: str = DEFAULT_SIGN_PASSWORD,
    text_pin: str = DEFAULT_TEXT_PIN,
    juki_pin: str = DEFAULT_JUKI_PIN,
    sign: bool = True,
    profile: CardProfile | None = None,
    now: _dt.datetime | None = None,
    generation: int | None = None,
    seed: int = 0,
) -> CardState:
    """A new card for ``identity``, its certificates issued by ``pki`` (a ``TestPki``).

    ``sign=False`` makes a card without a signature certificate (holders under 15).
    ``now`` is the issuance time (default: now); ``generation`` the PKI root generation;
    ``seed`` varies the card-level values (card key, security code, serial numbers) for the
    same identity, and the certificates' key pairs: the same identity and seed give the same
    auth and sign keys from the same PKI, also on a later call (``jpki sim init --seed N``
    twice). The certificates are then the very same ones when ``now`` is the same too;
    otherwise they differ (issuance time) and the CA gives them new serials, since it never
    uses one serial for two different certificates. PIN formats are checked as a municipal
    terminal would (4 digits; the sign password 6..16 of A-Z 0-9).
    """
    _check_pins(auth_pin, sign_password, text_pin, juki_pin)
    at = now if now is not None else _dt.datetime.now(_dt.timezone.utc)
    if at.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    # The identity is part of the PKI seed: seed 0 (the default) for two people must not
    # give them the same keys.
    key_seed = f"card/{identity.my_number}/{seed}"
    issued = pki.issue(identity, sign=sign, now=at, generation=generation, seed=key_seed)
    return build_card(
        identity,
        issued,
        auth_pin=auth_pin,
        sign_password=sign_password,
        text_pin=text_pin,
        juki_pin=juki_pin,
        profile=profile,
        issued_at=at,
        seed=seed,
    )


def build_card(
    identity: Identity,
    issued: IssuedCertificates,
    *,
    auth_pin: str = DEFAULT_AUTH_PIN,
    sign_password: str = DEFAULT_SIGN_PASSWORD,
    text_pin: str = DEFAULT_TEXT_PIN,
    juki_pin: str = DEFAULT_JUKI_PIN,
    profile: CardProfile | None = None,
    issued_at: _dt.datetime | None = None,
    seed: int = 0,
) -> CardState:
    """Lay out a card from already-issued keys and certificates (see :func:`new_card`)."""
    _check_pins(auth_pin, sign_password, text_pin, juki_pin)
    profile = profile or CardProfile()
    at = issued_at if issued_at is not None else _dt.datetime.now(_dt.timezone.utc)
    issue_day = at.astimezone(JST).date()
    sign = issued.sign_cert is not None
    if sign and issued.sign_key is None:
        raise ValueError("a signature certificate needs its private key")

    card_seed = hashlib.sha256(f"jpki-sim/card/{identity.my_number}/{seed}".encode()).digest()
    rng = DeterministicRandom(card_seed, b"card-values")
    security_code = f"{rng.randbelow(10000):04d}"
    card_serial = "".join(str(rng.randbelow(10)) for _ in range(15))
    token_serial = "".join(str(rng.randbelow(10)) for _ in range(16))
    card_key = rsa_key_from_seed(card_seed + b"/card-key")
    common_key = rsa_key_from_seed(card_seed + b"/common-0019")
    expiry = card_expiry(identity.birth_date, issue_day)
    birth = identity.birth_date.strftime("%Y%m%d")
    code_a = identity.my_number
    code_b = verification_code_b(identity.birth_date, expiry.year, security_code)

    keys: dict[str, rsa.RSAPrivateKey] = {
        "auth": issued.auth_key,
        "card": card_key,
        "common-0019": common_key,
    }
    # --- JPKI-AP ---------------------------------------------------------------------------
    cert_size = profile.cert_ef_size
    auth_read = Access((0x0018,)) if profile.auth_cert_needs_pin else FREE
    jpki_files: list[ElementaryFile] = [
        BinaryFile.with_filler(
            0x0002, _der(issued.sign_ca_cert), cert_size, label="署名用CA証明書"
        ),
        BinaryFile(0x0006, token_info(profile.token_label, token_serial), label="token info"),
        BinaryFile(
            0x0008, bytes([0x8F if sign else 0x00, 0x8F, 0x00]), label="certificate availability"
        ),
        BinaryFile(0x0009, b"\xff" * JPKI_0009_SIZE, read=NEVER, label="unknown, protected"),
        BinaryFile.with_filler(
            0x000A,
            _der(issued.auth_cert),
            cert_size,
            read=auth_read,
            label="利用者証明用電子証明書",
        ),
        BinaryFile.with_filler(
            0x000B, _der(issued.auth_ca_cert), cert_size, label="利用者証明用CA証明書"
        ),
        KeyFile(0x0017, "利用者証明用秘密鍵", "auth", Access((0x0018,))),
        _pin(0x0018, "利用者証明用 暗証番号", auth_pin, tries=3, min_length=4, max_length=4),
    ]
    if sign:
        assert issued.sign_cert is not None and issued.sign_key is not None
        keys["sign"] = issued.sign_key
        jpki_files += [
            BinaryFile.with_filler(
                0x0001,
                _der(issued.sign_cert),
                cert_size,
                read=Access((0x001B,)),
                label="署名用電子証明書",
            ),
            KeyFile(0x001A, "署名用秘密鍵", "sign", Access((0x001B,))),
            _pin(
                0x001B,
                "署名用パスワード",
                sign_password,
                tries=5,
                min_length=6,
                max_length=16,
                charset=Charset.UPPER_ALNUM,
            ),
        ]
    jpki = Application("jpki", "公的個人認証AP", AID_JPKI, _files(*jpki_files))

    # --- text AP (券面事項入力補助AP) ------------------------------------------------------
    text_id, text_issuer = textap.issuer_key("text", identity.municipality_code)
    my_number_obj = textap.my_number_file(identity.my_number)
    my_number_ef = BinaryFile.with_filler(
        0x0001, my_number_obj, 17, read=Access((0x0011, 0x0014)), label="個人番号"
    )
    basic_obj = textap.basic_info_file(
        identity.name,
        identity.address,
        birth,
        identity.sex,
        long_form=profile.long_basic_info_length,
    )
    code_tries = profile.verification_code_tries
    any_text_key = Access((0x0011, 0x0014, 0x0015))
    text_files = _files(
        my_number_ef,
        BinaryFile.with_filler(
            0x0002,
            basic_obj,
            TEXT_BASIC_INFO_EF_SIZE,
            read=Access((0x0011, 0x0015)),
            label="基本4情報",
        ),
        BinaryFile(
            0x0003,
            textap.integrity_record(my_number_ef.content, basic_obj, text_issuer),
            read=any_text_key,
            label="integrity record",
        ),
        BinaryFile(
            0x0004,
            textap.cv_certificate(
                textap.key_id(textap.CV_CA_KEY_ID["text"]),
                text_id,
                text_issuer.public_key(),
                textap.cv_ca_key("text"),
            ),
            label="CV certificate",
        ),
        BinaryFile.with_filler(
            0x0005,
            textap.ap_basic_info_text(rng.read(32)),
            TEXT_AP_INFO_EF_SIZE,
            label="AP basic info",
        ),
        BinaryFile(
            0x0007,
            textap.signed_public_key(card_key.public_key(), text_issuer),
            read=any_text_key,
            label="card key (signed)",
        ),
        _pin(0x0011, "券面事項入力補助用 暗証番号", text_pin, tries=3, min_length=4, max_length=4),
        _pin(
            0x0012,
            "blocked key",
            None,
            tries=3,
            remaining=0,
            min_length=1,
            max_length=16,
            change_ins=None,
        ),
        KeyFile(0x0013, "card key", "card", FREE),
        _pin(
            0x0014,
            "照合番号A",
            code_a,
            tries=code_tries,
            min_length=12,
            max_length=12,
            change_ins=None,
        ),
        _pin(
            0x0015,
            "照合番号B",
            code_b,
            tries=code_tries,
            min_length=14,
            max_length=14,
            change_ins=None,
        ),
    )
    text = Application("text", "券面事項入力補助AP", AID_TEXT, text_files, default_key="card")

    # --- 券面AP (券面事項確認AP) ------------------------------------------------------------
    kenmen_id, kenmen_issuer = textap.issuer_key("kenmen", identity.municipality_code)
    kenmen_files = _files(
        BinaryFile(
            0x0001,
            textap.AgeRecord(birth, card_key.public_key()).build(kenmen_issuer),
            read=Access((0x0011,)),
            label="age record",
        ),
        BinaryFile.with_filler(
            0x0003,
            textap.ap_basic_info_kenmen(identity.municipality_code, rng.read(256)),
            KENMEN_AP_INFO_EF_SIZE,
            label="AP basic info",
        ),
        BinaryFile(
            0x0004,
            textap.cv_certificate(
                textap.key_id(textap.CV_CA_KEY_ID["kenmen"]),
                kenmen_id,
                kenmen_issuer.public_key(),
                textap.cv_ca_key("kenmen"),
            ),
            label="CV certificate",
        ),
        _pin(
            0x0011,
            "生年月日",
            era_yymmdd(identity.birth_date),
            tries=code_tries,
            min_length=6,
            max_length=6,
            change_ins=None,
        ),
        _pin(
            0x0012,
            "照合番号B",
            code_b,
            tries=code_tries,
            min_length=14,
            max_length=14,
            change_ins=None,
        ),
        _pin(
            0x0013,
            "照合番号A",
            code_a,
            tries=code_tries,
            min_length=12,
            max_length=12,
            change_ins=None,
        ),
    )
    kenmen = Application("kenmen", "券面事項確認AP", AID_KENMEN, kenmen_files, default_key="card")

    # --- 住基AP, 共通AP, GP ISD ---------------------------------------------------------------
    juki = Application(
        "juki",
        "住基AP",
        AID_JUKI,
        _files(
            _pin(
                0x001C,
                "住民基本台帳用 暗証番号",
                juki_pin,
                tries=3,
                min_length=4,
                max_length=4,
                change_ins=0x32,
            )
        ),
    )
    card_info = (
        b"\x01\x1c"
        + card_serial.encode("ascii")
        + identity.municipality_code.encode("ascii")
        + expiry.strftime("%Y%m%d").encode("ascii")
    )
    common = Application(
        "common",
        "共通カードAP",
        AID_COMMON,
        _files(
            RecordFile(0x0001, (card_info,), label="card info"),
            KeyFile(
                0x0019,
                "internal authentication key",
                "common-0019",
                FREE,
                frozenset({KeyUse.INTERNAL_AUTH}),
            ),
            _pin(
                0x001C,
                "住民基本台帳用 暗証番号",
                juki_pin,
                tries=3,
                min_length=4,
                max_length=4,
                change_ins=0x32,
            ),
        ),
    )
    isd = Application(
        "isd",
        "GlobalPlatform ISD (power-on state)",
        AID_ISD,
        _files(InternalFile(0x001E, "internal EF")),
        isd=True,
    )
    info: dict[str, Any] = {
        "seed": seed,
        "issued": at.astimezone(_dt.timezone.utc).isoformat(),
        "card_expiry": expiry.isoformat(),
        "municipality_code": identity.municipality_code,
        "card_serial": card_serial,
        "security_code": security_code,
        "sign_certificate": sign,
    }
    state = CardState(
        profile=profile,
        applications=[isd, jpki, text, kenmen, juki, common],
        keys=keys,
        identity=identity.to_dict(),
        info=info,
    )
    logger.info(
        "provisioned a simulated card (%s, municipality %s, sign certificate: %s)",
        profile.name,
        identity.municipality_code,
        "yes" if sign else "no",
    )
    return state
