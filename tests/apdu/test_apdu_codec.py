"""CommandApdu / ResponseApdu: known-answer vectors, range checks, decode errors, properties."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from apdu import (
    ApduCase,
    ApduError,
    ApduFormatError,
    CommandApdu,
    ResponseApdu,
    StatusWord,
)


def h(text: str) -> bytes:
    return bytes.fromhex(text.replace(" ", ""))


AA = "AA"
DIGEST_INFO_SHA256 = "3031300D060960864801650304020105000420" + "5A" * 32

# (description, CommandApdu, expected encoding, expected case)
VECTORS: list[tuple[str, CommandApdu, str, ApduCase]] = [
    # --- case 1
    ("case 1", CommandApdu(0x00, 0xA4, 0x00, 0x00), "00A40000", ApduCase.CASE_1),
    ("retry query", CommandApdu(0x00, 0x20, 0x00, 0x80), "00200080", ApduCase.CASE_1),
    # --- case 2 short: Le 1, 255, 256 (00)
    ("2s Le=1", CommandApdu(0x00, 0xB0, 0x00, 0x00, le=1), "00B0000001", ApduCase.CASE_2),
    ("2s Le=7", CommandApdu(0x00, 0xB0, 0x00, 0x00, le=7), "00B0000007", ApduCase.CASE_2),
    ("2s Le=255", CommandApdu(0x00, 0xB0, 0x00, 0x00, le=255), "00B00000FF", ApduCase.CASE_2),
    ("2s Le=256", CommandApdu(0x00, 0xB0, 0x00, 0x00, le=256), "00B0000000", ApduCase.CASE_2),
    # --- case 2 extended: forced and implied; Le 1, 255, 256, 257, 65535, 65536 (0000)
    (
        "2e Le=1 forced",
        CommandApdu(0x00, 0xB0, 0x00, 0x00, le=1, extended=True),
        "00B00000 000001",
        ApduCase.CASE_2,
    ),
    (
        "2e Le=255 forced",
        CommandApdu(0x00, 0xB0, 0x00, 0x00, le=255, extended=True),
        "00B00000 0000FF",
        ApduCase.CASE_2,
    ),
    (
        "2e Le=256 forced",
        CommandApdu(0x00, 0xB0, 0x00, 0x00, le=256, extended=True),
        "00B00000 000100",
        ApduCase.CASE_2,
    ),
    ("2e Le=257", CommandApdu(0x00, 0xB0, 0x00, 0x00, le=257), "00B00000 000101", ApduCase.CASE_2),
    (
        "2e Le=65535",
        CommandApdu(0x00, 0xB0, 0x00, 0x00, le=65535),
        "00B00000 00FFFF",
        ApduCase.CASE_2,
    ),
    (
        "2e Le=65536 (AOKI SFI read)",
        CommandApdu(0x00, 0xB0, 0x8A, 0x00, le=65536),
        "00B08A00 000000",
        ApduCase.CASE_2,
    ),
    # --- case 3 short: Lc 1, 10, 255
    ("3s Lc=1", CommandApdu(0x00, 0xD6, 0x00, 0x00, h(AA)), "00D60000 01 AA", ApduCase.CASE_3),
    (
        "SELECT JPKI-AP",
        CommandApdu(0x00, 0xA4, 0x04, 0x0C, h("D392F000260100000001")),
        "00A4040C 0A D392F000260100000001",
        ApduCase.CASE_3,
    ),
    (
        "SELECT EF 000A",
        CommandApdu(0x00, 0xA4, 0x02, 0x0C, h("000A")),
        "00A4020C 02 000A",
        ApduCase.CASE_3,
    ),
    (
        "VERIFY 1234",
        CommandApdu(0x00, 0x20, 0x00, 0x80, b"1234"),
        "00200080 04 31323334",
        ApduCase.CASE_3,
    ),
    (
        "3s Lc=255",
        CommandApdu(0x00, 0xD6, 0x00, 0x00, h(AA * 255)),
        "00D60000 FF" + AA * 255,
        ApduCase.CASE_3,
    ),
    # --- case 3 extended: Lc 1 forced, 255 forced, 256, 65535
    (
        "3e Lc=1 forced",
        CommandApdu(0x00, 0xD6, 0x00, 0x00, h(AA), extended=True),
        "00D60000 000001 AA",
        ApduCase.CASE_3,
    ),
    (
        "3e Lc=255 forced",
        CommandApdu(0x00, 0xD6, 0x00, 0x00, h(AA * 255), extended=True),
        "00D60000 0000FF" + AA * 255,
        ApduCase.CASE_3,
    ),
    (
        "3e Lc=256",
        CommandApdu(0x00, 0xD6, 0x00, 0x00, h(AA * 256)),
        "00D60000 000100" + AA * 256,
        ApduCase.CASE_3,
    ),
    (
        "3e Lc=65535",
        CommandApdu(0x00, 0xD6, 0x00, 0x00, h(AA * 65535)),
        "00D60000 00FFFF" + AA * 65535,
        ApduCase.CASE_3,
    ),
    # --- case 4 short: Lc/Le 1, 255, 256
    (
        "4s Lc=1 Le=1",
        CommandApdu(0x80, 0x2A, 0x00, 0x80, h(AA), le=1),
        "802A0080 01 AA 01",
        ApduCase.CASE_4,
    ),
    (
        "COMPUTE SIGNATURE SHA-256 DigestInfo",
        CommandApdu(0x80, 0x2A, 0x00, 0x80, h(DIGEST_INFO_SHA256), le=256),
        "802A0080 33" + DIGEST_INFO_SHA256 + "00",
        ApduCase.CASE_4,
    ),
    (
        "4s Lc=255 Le=255",
        CommandApdu(0x00, 0x88, 0x00, 0x00, h(AA * 255), le=255),
        "00880000 FF" + AA * 255 + "FF",
        ApduCase.CASE_4,
    ),
    (
        "4s Lc=255 Le=256",
        CommandApdu(0x00, 0x88, 0x00, 0x00, h(AA * 255), le=256),
        "00880000 FF" + AA * 255 + "00",
        ApduCase.CASE_4,
    ),
    # --- case 4 extended: forced, implied by Lc, implied by Le, both maximal
    (
        "4e Lc=1 Le=1 forced",
        CommandApdu(0x80, 0x2A, 0x00, 0x80, h(AA), le=1, extended=True),
        "802A0080 000001 AA 0001",
        ApduCase.CASE_4,
    ),
    (
        "4e Lc=1 Le=256 forced",
        CommandApdu(0x80, 0x2A, 0x00, 0x80, h(AA), le=256, extended=True),
        "802A0080 000001 AA 0100",
        ApduCase.CASE_4,
    ),
    (
        "4e Lc=1 Le=257",
        CommandApdu(0x80, 0x2A, 0x00, 0x80, h(AA), le=257),
        "802A0080 000001 AA 0101",
        ApduCase.CASE_4,
    ),
    (
        "4e Lc=1 Le=65536",
        CommandApdu(0x80, 0x2A, 0x00, 0x80, h(AA), le=65536),
        "802A0080 000001 AA 0000",
        ApduCase.CASE_4,
    ),
    (
        "4e Lc=256 Le=1",
        CommandApdu(0x80, 0xA2, 0x00, 0x00, h(AA * 256), le=1),
        "80A20000 000100" + AA * 256 + "0001",
        ApduCase.CASE_4,
    ),
    (
        "4e Lc=256 Le=256",
        CommandApdu(0x80, 0xA2, 0x00, 0x00, h(AA * 256), le=256),
        "80A20000 000100" + AA * 256 + "0100",
        ApduCase.CASE_4,
    ),
    (
        "4e Lc=65535 Le=65535",
        CommandApdu(0x00, 0x88, 0x00, 0x00, h(AA * 65535), le=65535),
        "00880000 00FFFF" + AA * 65535 + "FFFF",
        ApduCase.CASE_4,
    ),
    (
        "4e Lc=65535 Le=65536",
        CommandApdu(0x00, 0x88, 0x00, 0x00, h(AA * 65535), le=65536),
        "00880000 00FFFF" + AA * 65535 + "0000",
        ApduCase.CASE_4,
    ),
]


@pytest.mark.parametrize(
    ("cmd", "encoded", "case"),
    [pytest.param(c, e, k, id=d) for d, c, e, k in VECTORS],
)
def test_known_answer_encode_decode(cmd: CommandApdu, encoded: str, case: ApduCase) -> None:
    raw = h(encoded)
    assert cmd.encode() == raw
    assert cmd.case is case
    decoded = CommandApdu.decode(raw)
    assert decoded == cmd
    assert decoded.case is case
    assert decoded.encode() == raw


def test_extended_flag_tells_the_encoding() -> None:
    assert not CommandApdu(0, 0xB0, 0, 0, le=256).extended
    assert CommandApdu(0, 0xB0, 0, 0, le=257).extended
    assert not CommandApdu(0, 0xD6, 0, 0, bytes(255)).extended
    assert CommandApdu(0, 0xD6, 0, 0, bytes(256)).extended
    # A case-1 command has no length field and so no extended form.
    forced_case_1 = CommandApdu(0, 0xA4, 0, 0, extended=True)
    assert not forced_case_1.extended
    assert forced_case_1.encode() == h("00A40000")
    # The implied and the forced forms of a long command are the same value.
    assert CommandApdu(0, 0xB0, 0, 0, le=300) == CommandApdu(0, 0xB0, 0, 0, le=300, extended=True)


def test_properties_and_value_semantics() -> None:
    cmd = CommandApdu(0x00, 0xA4, 0x04, 0x0C, bytearray(b"\xd3\x92"))  # type: ignore[arg-type]
    assert type(cmd.data) is bytes
    assert cmd.lc == 2
    assert cmd.header == h("00A4040C")
    assert cmd.name == "SELECT"
    assert not cmd.is_secret
    assert CommandApdu(0x00, 0x20, 0x00, 0x80, b"1234").is_secret
    assert CommandApdu(0x80, 0x2A, 0x00, 0x80, b"x").name == "COMPUTE DIGITAL SIGNATURE"
    assert hash(cmd) == hash(CommandApdu(0x00, 0xA4, 0x04, 0x0C, b"\xd3\x92"))
    with pytest.raises(AttributeError):
        cmd.le = 5  # type: ignore[misc]


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"le": 0}, "Le must be None"),
        ({"le": -1}, "Le must be None"),
        ({"le": 65537}, "Le must be None"),
        ({"data": bytes(65536)}, "at most 65535"),
        ({"cla": 256}, "CLA must be 0..255"),
        ({"cla": -1}, "CLA must be 0..255"),
        ({"ins": 0x100}, "INS must be 0..255"),
        ({"p1": 300}, "P1 must be 0..255"),
        ({"p2": -5}, "P2 must be 0..255"),
    ],
)
def test_out_of_range_values_raise_format_error(kwargs: dict[str, object], fragment: str) -> None:
    args: dict[str, object] = {"cla": 0, "ins": 0xB0, "p1": 0, "p2": 0}
    args.update(kwargs)
    with pytest.raises(ApduFormatError, match=fragment) as info:
        CommandApdu(**args)  # type: ignore[arg-type]
    assert isinstance(info.value, ValueError)
    assert isinstance(info.value, ApduError)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"cla": "00"},
        {"ins": 1.0},
        {"p1": True},
        {"data": "1234"},
        {"data": [1, 2]},
        {"le": "00"},
        {"le": True},
        {"extended": 1},
    ],
)
def test_wrong_types_raise_type_error(kwargs: dict[str, object]) -> None:
    args: dict[str, object] = {"cla": 0, "ins": 0xB0, "p1": 0, "p2": 0}
    args.update(kwargs)
    with pytest.raises(TypeError):
        CommandApdu(**args)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        ("", "at least 4 header bytes, got 0"),
        ("00A404", "at least 4 header bytes, got 3"),
        ("00A40000 00 AA", "extended length"),  # a 6-byte APDU with 00 at offset 4
        ("00A40000 02 AA", "expected 7 bytes"),  # short Lc larger than the data
        ("00A40000 01 AA BB CC", "Lc=1"),  # trailing bytes after data and Le
        ("00A40000 000000 AA", "Lc=0"),  # extended Lc of 0
        ("00A40000 000002 AA", "expected 9 bytes"),  # extended Lc larger than the data
        ("00A40000 000001 AA 00", "two-byte Le"),  # one-byte Le after an extended Lc
        ("00A40000 000001 AA 000000", "Lc=1"),  # three trailing bytes
    ],
)
def test_decode_rejects_malformed(raw: str, fragment: str) -> None:
    with pytest.raises(ApduFormatError, match=fragment) as info:
        CommandApdu.decode(h(raw))
    # The message names lengths, never the bytes themselves.
    assert "AA" not in str(info.value)


def test_decode_rejects_non_bytes() -> None:
    with pytest.raises(TypeError):
        CommandApdu.decode("00A40000")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        ResponseApdu.decode([0x90, 0x00])  # type: ignore[arg-type]


def test_decode_accepts_bytearray_and_memoryview() -> None:
    assert CommandApdu.decode(bytearray(h("00B0000000"))).le == 256
    assert CommandApdu.decode(memoryview(h("00B0000000"))).le == 256
    assert ResponseApdu.decode(bytearray(h("9000"))).ok


def test_repr_never_shows_data() -> None:
    cmd = CommandApdu(0x00, 0x20, 0x00, 0x80, b"9876")
    text = repr(cmd) + str(cmd)
    assert "9876" not in text
    assert "39383736" not in text.replace(" ", "").upper()
    assert "<4 bytes>" in text
    resp = ResponseApdu(b"secret personal data", 0x9000)
    assert "secret" not in repr(resp)
    assert repr(resp) == "ResponseApdu(data=<20 bytes>, sw=0x9000)"


# --- ResponseApdu


@pytest.mark.parametrize(
    ("raw", "data", "sw"),
    [
        ("9000", "", 0x9000),
        ("6A82", "", 0x6A82),
        ("0102 9000", "0102", 0x9000),
        ("FF 63C2", "FF", 0x63C2),
        ("0000", "", 0x0000),
    ],
)
def test_response_decode_encode(raw: str, data: str, sw: int) -> None:
    resp = ResponseApdu.decode(h(raw))
    assert resp.data == h(data)
    assert resp.sw == sw
    assert resp.sw1 == sw >> 8
    assert resp.sw2 == sw & 0xFF
    assert resp.encode() == h(raw)


@pytest.mark.parametrize("raw", ["", "90"])
def test_response_decode_too_short(raw: str) -> None:
    with pytest.raises(ApduFormatError, match="at least 2 bytes"):
        ResponseApdu.decode(h(raw))


def test_response_helpers() -> None:
    assert ResponseApdu(b"", 0x9000).ok
    assert ResponseApdu(b"", 0x9000).status is StatusWord.SUCCESS
    assert not ResponseApdu(b"", 0x9001).ok
    assert not ResponseApdu(b"", 0x6100).ok
    assert ResponseApdu(b"", 0x6A82).status is StatusWord.FILE_NOT_FOUND
    assert ResponseApdu(b"", 0x63C2).status is None
    for x in range(16):
        assert ResponseApdu(b"", 0x63C0 | x).retries_remaining == x
    for sw in (0x9000, 0x6300, 0x63B2, 0x6983, 0x6984, 0x6CC2):
        assert ResponseApdu(b"", sw).retries_remaining is None
    assert ResponseApdu(b"", 0x6A82).describe() == "file or application not found"


@pytest.mark.parametrize("sw", [-1, 0x10000])
def test_response_sw_range(sw: int) -> None:
    with pytest.raises(ApduFormatError, match="status word"):
        ResponseApdu(b"", sw)


def test_response_type_checks() -> None:
    with pytest.raises(TypeError):
        ResponseApdu("", 0x9000)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        ResponseApdu(b"", "9000")  # type: ignore[arg-type]
    assert type(ResponseApdu(bytearray(b"a"), 0x9000).data) is bytes  # type: ignore[arg-type]


# --- properties

bytes_ = st.integers(min_value=0, max_value=255)
# Data lengths concentrated on the short/extended boundaries, plus anything up to 600 bytes.
data_lengths = st.one_of(
    st.sampled_from([0, 1, 254, 255, 256, 257, 65535]),
    st.integers(min_value=0, max_value=600),
)
les = st.one_of(
    st.none(),
    st.sampled_from([1, 255, 256, 257, 65535, 65536]),
    st.integers(min_value=1, max_value=65536),
)


@st.composite
def commands(draw: st.DrawFn) -> CommandApdu:
    n = draw(data_lengths)
    data = draw(st.binary(min_size=n, max_size=n)) if n <= 600 else bytes([0x5A]) * n
    return CommandApdu(
        draw(bytes_),
        draw(bytes_),
        draw(bytes_),
        draw(bytes_),
        data,
        le=draw(les),
        extended=draw(st.booleans()),
    )


def _expected_length(cmd: CommandApdu) -> int:
    n = 4
    if cmd.extended:
        if cmd.data:
            n += 3 + len(cmd.data) + (2 if cmd.le is not None else 0)
        elif cmd.le is not None:
            n += 3
        return n
    if cmd.data:
        n += 1 + len(cmd.data)
    if cmd.le is not None:
        n += 1
    return n


@given(commands())
def test_property_round_trip(cmd: CommandApdu) -> None:
    raw = cmd.encode()
    assert len(raw) == _expected_length(cmd)
    decoded = CommandApdu.decode(raw)
    assert decoded == cmd
    assert decoded.encode() == raw
    assert decoded.case == cmd.case


@given(st.binary(max_size=700))
def test_property_any_bytes_decode_or_format_error(raw: bytes) -> None:
    try:
        cmd = CommandApdu.decode(raw)
    except ApduFormatError:
        return
    # Whatever decodes re-encodes to exactly the same bytes.
    assert cmd.encode() == raw


@st.composite
def near_valid(draw: st.DrawFn) -> bytes:
    """Header + a plausible length field + data + optional trailer, often off by a little."""
    header = draw(st.binary(min_size=4, max_size=4))
    extended = draw(st.booleans())
    lc = draw(st.integers(min_value=0, max_value=300))
    length_field = (b"\x00" + lc.to_bytes(2, "big")) if extended else bytes([lc & 0xFF])
    data = draw(st.binary(min_size=max(0, lc - 2), max_size=lc + 2))
    trailer = draw(st.binary(max_size=3))
    return header + length_field + data + trailer


@given(near_valid())
def test_property_near_valid_bytes_decode_or_format_error(raw: bytes) -> None:
    try:
        cmd = CommandApdu.decode(raw)
    except ApduFormatError:
        return
    assert cmd.encode() == raw


@given(st.binary(max_size=300))
def test_property_response_any_bytes(raw: bytes) -> None:
    try:
        resp = ResponseApdu.decode(raw)
    except ApduFormatError:
        assert len(raw) < 2
        return
    assert resp.encode() == raw
    assert resp.data == raw[:-2]


@given(st.binary(max_size=300), st.integers(min_value=0, max_value=0xFFFF))
def test_property_response_round_trip(data: bytes, sw: int) -> None:
    resp = ResponseApdu(data, sw)
    assert ResponseApdu.decode(resp.encode()) == resp
