"""Token format v1 codec: round trip, strictness, bounds; any input gives a Token or a
MalformedTokenError (hypothesis)."""

from __future__ import annotations

import base64
import contextlib
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jpki_sdk.auth.errors import (
    MalformedTokenError,
    TokenTooLargeError,
    UnsupportedAlgorithmError,
    UnsupportedTokenFormatError,
)
from jpki_sdk.auth.token import (
    MAX_CERTIFICATE_BYTES,
    MAX_SIGNATURE_BYTES,
    MAX_TOKEN_BYTES,
    TOKEN_FORMAT_V1,
    Token,
    parse_token,
)
from jpki_sdk.auth.types import AuthPurpose, SignatureAlgorithm

tokens = st.builds(
    Token,
    purpose=st.sampled_from(AuthPurpose),
    algorithm=st.sampled_from(SignatureAlgorithm),
    certificate=st.binary(min_size=1, max_size=2048),
    signature=st.binary(min_size=64, max_size=MAX_SIGNATURE_BYTES),
    nonce=st.binary(min_size=32, max_size=32),
)


def good() -> dict[str, str]:
    return Token(
        AuthPurpose.LOGIN, SignatureAlgorithm.RS256, b"\x30" * 1586, b"\x01" * 256, b"\x02" * 32
    ).to_dict()


@given(tokens)
def test_round_trip(token: Token) -> None:
    assert parse_token(token.to_json()) == token
    assert parse_token(token.to_json().encode()) == token
    assert parse_token(token.to_dict()) == token


def test_member_order_and_format() -> None:
    body = good()
    assert list(body) == ["format", "purpose", "algorithm", "certificate", "signature", "nonce"]
    assert body["format"] == TOKEN_FORMAT_V1 == "jpki-auth-token/v1"
    assert base64.b64decode(body["nonce"]) == b"\x02" * 32


def test_repr_shows_no_material() -> None:
    token = parse_token(good())
    assert "AgIC" not in repr(token)  # base64 of the nonce bytes
    assert "256 bytes" in repr(token)


@given(st.binary(max_size=2048))
def test_any_bytes_give_a_typed_error(data: bytes) -> None:
    with contextlib.suppress(MalformedTokenError):
        parse_token(data)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=50),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=6)
    ),
    max_leaves=20,
)


@given(st.dictionaries(st.sampled_from([*good(), "extra"]), json_values, max_size=8))
def test_any_json_object_gives_a_typed_error(obj: dict[str, object]) -> None:
    with contextlib.suppress(MalformedTokenError):
        parse_token(json.dumps(obj))


@settings(max_examples=200)
@given(st.sampled_from(list(good())), st.text(max_size=60))
def test_mutated_member_gives_token_or_typed_error(member: str, value: str) -> None:
    body = good()
    body[member] = value
    try:
        parsed = parse_token(body)
    except MalformedTokenError as exc:
        assert exc.field == member
        return
    assert parsed.to_dict()[member] == value


@pytest.mark.parametrize(
    ("text", "error", "field"),
    [
        ("", MalformedTokenError, None),
        ("[]", MalformedTokenError, None),
        ('"token"', MalformedTokenError, None),
        ("{", MalformedTokenError, None),
        ("[" * 5000 + "]" * 5000, MalformedTokenError, None),
        ("x" * (MAX_TOKEN_BYTES + 1), TokenTooLargeError, None),
    ],
)
def test_not_an_object(text: str, error: type[Exception], field: str | None) -> None:
    with pytest.raises(error) as info:
        parse_token(text)
    assert type(info.value) is error
    assert info.value.field == field  # type: ignore[attr-defined]


def test_oversized_bytes_and_non_utf8() -> None:
    with pytest.raises(TokenTooLargeError):
        parse_token(b" " * (MAX_TOKEN_BYTES + 1))
    with pytest.raises(MalformedTokenError, match="UTF-8"):
        parse_token(b'{"format": "\xff"}')
    with pytest.raises(TokenTooLargeError):
        parse_token("€" * (MAX_TOKEN_BYTES // 3 + 1))


def test_wrong_types() -> None:
    with pytest.raises(MalformedTokenError):
        parse_token(42)  # type: ignore[arg-type]
    with pytest.raises(MalformedTokenError):
        parse_token(["a"])  # type: ignore[arg-type]


def mutate(**changes: object) -> dict[str, object]:
    body: dict[str, object] = dict(good())
    for key, value in changes.items():
        if value is _DELETE:
            del body[key]
        else:
            body[key] = value
    return body


_DELETE = object()


@pytest.mark.parametrize(
    ("body", "error", "code", "field"),
    [
        (
            mutate(format="jpki-auth-token/v2"),
            UnsupportedTokenFormatError,
            "unsupported_token_format",
            "format",
        ),
        (mutate(purpose="logout"), MalformedTokenError, "malformed_token", "purpose"),
        (mutate(purpose="LOGIN"), MalformedTokenError, "malformed_token", "purpose"),
        (mutate(algorithm="none"), UnsupportedAlgorithmError, "unsupported_algorithm", "algorithm"),
        (
            mutate(algorithm="PS256"),
            UnsupportedAlgorithmError,
            "unsupported_algorithm",
            "algorithm",
        ),
        (mutate(algorithm="RS1"), UnsupportedAlgorithmError, "unsupported_algorithm", "algorithm"),
        (mutate(nonce=_DELETE), MalformedTokenError, "malformed_token", "nonce"),
        (mutate(nonce=5), MalformedTokenError, "malformed_token", "nonce"),
        (mutate(nonce=None), MalformedTokenError, "malformed_token", "nonce"),
        (
            mutate(nonce=base64.b64encode(b"x" * 31).decode()),
            MalformedTokenError,
            "malformed_token",
            "nonce",
        ),
        (
            mutate(nonce=base64.b64encode(b"x" * 33).decode()),
            MalformedTokenError,
            "malformed_token",
            "nonce",
        ),
        (
            mutate(nonce=base64.urlsafe_b64encode(b"\xfb" * 32).decode()),
            MalformedTokenError,
            "malformed_token",
            "nonce",
        ),
        (
            mutate(signature=base64.b64encode(b"s" * 63).decode()),
            MalformedTokenError,
            "malformed_token",
            "signature",
        ),
        (
            mutate(signature=base64.b64encode(b"s" * 513).decode()),
            TokenTooLargeError,
            "token_too_large",
            "signature",
        ),
        (
            mutate(signature=base64.b64encode(b"s" * 256).decode().rstrip("=") + " "),
            MalformedTokenError,
            "malformed_token",
            "signature",
        ),
        (mutate(certificate=""), MalformedTokenError, "malformed_token", "certificate"),
        (
            mutate(certificate=base64.b64encode(b"c" * (MAX_CERTIFICATE_BYTES + 1)).decode()),
            TokenTooLargeError,
            "token_too_large",
            "certificate",
        ),
        (mutate(certificate="MIIB\nAAAA"), MalformedTokenError, "malformed_token", "certificate"),
        (mutate(extra="x"), MalformedTokenError, "malformed_token", "extra"),
        (mutate(origin="https://rp.example"), MalformedTokenError, "malformed_token", "origin"),
    ],
)
def test_strictness(
    body: dict[str, object], error: type[MalformedTokenError], code: str, field: str
) -> None:
    with pytest.raises(error) as info:
        parse_token(json.dumps(body))
    assert type(info.value) is error
    assert info.value.code == code
    assert info.value.field == field


def test_non_canonical_base64_padding_bits() -> None:
    # "AB==" and "AA==" decode to the same byte; only the canonical form is accepted.
    body = good()
    canonical = body["certificate"]
    assert canonical.endswith("AA==") or canonical.endswith("A=") or "=" not in canonical
    body["nonce"] = base64.b64encode(b"\x00" * 32).decode()[:-2] + "B="
    with pytest.raises(MalformedTokenError, match="canonical"):
        parse_token(body)


def test_duplicate_member() -> None:
    text = json.dumps(good())[:-1] + ', "purpose": "identity"}'
    with pytest.raises(MalformedTokenError, match="twice") as info:
        parse_token(text)
    assert info.value.field == "purpose"


def test_token_constructor_checks() -> None:
    with pytest.raises(ValueError, match="nonce"):
        Token(AuthPurpose.LOGIN, SignatureAlgorithm.RS256, b"c", b"s" * 256, b"n" * 31)
    with pytest.raises(TypeError):
        Token("login", SignatureAlgorithm.RS256, b"c", b"s" * 256, b"n" * 32)  # type: ignore[arg-type]
