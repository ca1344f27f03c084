"""Deterministic RSA test keys from a seed."""

from __future__ import annotations

import math

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from hypothesis import given
from hypothesis import strategies as st

from simulator import keys
from simulator.keys import DeterministicRandom, rsa_key_from_seed


def _miller_rabin(
    n: int, bases: tuple[int, ...] = (2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31)
) -> bool:
    d, s = n - 1, 0
    while d % 2 == 0:
        d //= 2
        s += 1
    for a in bases:
        x = pow(a, d, n)
        if x in (1, n - 1):
            continue
        for _ in range(s - 1):
            x = pow(x, 2, n)
            if x == n - 1:
                break
        else:
            return False
    return True


def test_same_seed_same_key_even_after_the_cache_is_cleared() -> None:
    first = rsa_key_from_seed(b"test-seed-a").private_numbers()
    keys.clear_key_cache()
    again = rsa_key_from_seed(b"test-seed-a").private_numbers()
    assert first == again


def test_cache_returns_the_same_object() -> None:
    assert rsa_key_from_seed(b"test-seed-a") is rsa_key_from_seed(b"test-seed-a")


def test_key_shape() -> None:
    key = rsa_key_from_seed(b"test-seed-a")
    numbers = key.private_numbers()
    pub = numbers.public_numbers
    assert key.key_size == 2048
    assert pub.n.bit_length() == 2048
    assert pub.e == 65537
    p, q = numbers.p, numbers.q
    assert p != q and p * q == pub.n
    assert p.bit_length() == q.bit_length() == 1024
    assert _miller_rabin(p) and _miller_rabin(q)
    assert math.gcd(65537, p - 1) == 1 and math.gcd(65537, q - 1) == 1
    assert (numbers.d * 65537) % math.lcm(p - 1, q - 1) == 1
    signature = key.sign(b"data", padding.PKCS1v15(), hashes.SHA256())
    key.public_key().verify(signature, b"data", padding.PKCS1v15(), hashes.SHA256())


def test_different_seeds_give_different_keys() -> None:
    a = rsa_key_from_seed(b"test-seed-a").public_key().public_numbers()
    b = rsa_key_from_seed(b"test-seed-b").public_key().public_numbers()
    assert a.n != b.n


def test_argument_errors() -> None:
    with pytest.raises(TypeError):
        rsa_key_from_seed("text")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="multiple of 256"):
        rsa_key_from_seed(b"x", bits=1000)
    with pytest.raises(ValueError):
        rsa_key_from_seed(b"x", bits=512)
    with pytest.raises(TypeError):
        rsa_key_from_seed(b"x", bits=2048.0)  # type: ignore[arg-type]


@given(st.binary(max_size=40), st.lists(st.integers(min_value=0, max_value=70), max_size=6))
def test_drbg_stream_is_independent_of_read_sizes(seed: bytes, sizes: list[int]) -> None:
    total = sum(sizes)
    whole = DeterministicRandom(seed, b"label").read(total)
    stream = DeterministicRandom(seed, b"label")
    assert b"".join(stream.read(n) for n in sizes) == whole
    assert DeterministicRandom(seed, b"other").read(32) != DeterministicRandom(seed, b"label").read(
        32
    )


@given(st.binary(max_size=16), st.integers(min_value=1, max_value=2**70))
def test_drbg_randbelow_stays_in_range(seed: bytes, bound: int) -> None:
    rng = DeterministicRandom(seed)
    for _ in range(5):
        assert 0 <= rng.randbelow(bound) < bound
    assert 0 <= rng.randbits(13) < 2**13


def test_drbg_argument_errors() -> None:
    rng = DeterministicRandom(b"s")
    with pytest.raises(ValueError):
        rng.read(-1)
    with pytest.raises(ValueError):
        rng.randbelow(0)
    with pytest.raises(ValueError):
        rng.randrange(5, 5)
    with pytest.raises(ValueError):
        rng.randbits(0)
    with pytest.raises(TypeError):
        DeterministicRandom("s")  # type: ignore[arg-type]
