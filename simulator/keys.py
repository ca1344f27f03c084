"""Deterministic RSA test keys.

A simulated card must be reproducible from a seed (``jpki sim init --seed N``), so its keys
cannot come from the operating system's random source. This module derives RSA keys from a
seed with a small deterministic random bit generator (HMAC-SHA-256 in counter mode), a
small-prime sieve and Miller-Rabin. The keys are ordinary RSA keys (e = 65537, n of exactly
``bits`` bits); they are for tests only: anyone who knows the seed knows the private key.

Keys are cached per process, so a test suite that asks for the same seed twice pays once.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import logging
import math
import threading

from cryptography.hazmat.primitives.asymmetric import rsa

__all__ = ["DeterministicRandom", "clear_key_cache", "rsa_key_from_seed"]

logger = logging.getLogger(__name__)

PUBLIC_EXPONENT = 65537

#: Miller-Rabin rounds with random bases. FIPS 186-5 B.3 asks for 5 rounds (1024-bit primes,
#: error <= 2^-100 for random candidates); we do a few more: cheap next to the search.
_MR_ROUNDS = 8

_SMALL_PRIMES_LIMIT = 1 << 16
_WINDOW = 4096  # odd candidates per sieved window (~11 primes expected at 1024 bits)


def _small_primes(limit: int) -> list[int]:
    sieve = bytearray([1]) * (limit + 1)
    sieve[0:2] = b"\x00\x00"
    for i in range(2, math.isqrt(limit) + 1):
        if sieve[i]:
            sieve[i * i :: i] = bytearray(len(range(i * i, limit + 1, i)))
    return [i for i in range(3, limit + 1) if sieve[i]]


_SMALL_PRIMES = _small_primes(_SMALL_PRIMES_LIMIT)
#: (p, inverse of 2 mod p) for the window sieve.
_SIEVE_PRIMES = tuple((p, (p + 1) // 2) for p in _SMALL_PRIMES)


class DeterministicRandom:
    """HMAC-SHA-256 counter-mode byte stream from a seed (not for real secrets).

    ``DeterministicRandom(seed, label).read(n)`` always returns the same bytes for the same
    seed, label and read sequence. Distinct labels give independent streams.
    """

    def __init__(self, seed: bytes, label: bytes = b"") -> None:
        if not isinstance(seed, (bytes, bytearray)):
            raise TypeError("seed must be bytes")
        self._key = hashlib.sha256(b"jpki-sim-drbg\x00" + bytes(seed)).digest()
        self._label = bytes(label)
        self._counter = 0
        self._buffer = b""

    def read(self, n: int) -> bytes:
        if n < 0:
            raise ValueError("n must be >= 0")
        out = bytearray(self._buffer[:n])
        self._buffer = self._buffer[n:]
        while len(out) < n:
            block = hmac.new(
                self._key,
                self._label + b"\x00" + self._counter.to_bytes(8, "big"),
                hashlib.sha256,
            ).digest()
            self._counter += 1
            take = n - len(out)
            out += block[:take]
            self._buffer = block[take:]
        return bytes(out)

    def randbits(self, k: int) -> int:
        """A non-negative integer of at most ``k`` bits."""
        if k <= 0:
            raise ValueError("k must be > 0")
        nbytes = (k + 7) // 8
        value = int.from_bytes(self.read(nbytes), "big")
        return value >> (nbytes * 8 - k)

    def randbelow(self, n: int) -> int:
        """Uniform integer in [0, n) by rejection sampling."""
        if n <= 0:
            raise ValueError("n must be > 0")
        k = n.bit_length()
        while True:
            r = self.randbits(k)
            if r < n:
                return r

    def randrange(self, start: int, stop: int) -> int:
        """Uniform integer in [start, stop)."""
        if stop <= start:
            raise ValueError("empty range")
        return start + self.randbelow(stop - start)


def _is_probable_prime(n: int, rng: DeterministicRandom, rounds: int = _MR_ROUNDS) -> bool:
    if n < 2:
        return False
    if n % 2 == 0:
        return n == 2
    d = n - 1
    s = 0
    while d % 2 == 0:
        d //= 2
        s += 1
    for _ in range(rounds):
        a = rng.randrange(2, n - 1)
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


def _generate_prime(bits: int, rng: DeterministicRandom) -> int:
    """A random prime of exactly ``bits`` bits with its two top bits set (so p*q has 2*bits).

    Incremental search: a random odd start, then the odd numbers after it, sieved by every
    prime below 2^16 (one ``start mod p`` per small prime marks the window at once), so only
    ~1 in 10 candidates reaches a modular exponentiation.
    """
    top = (1 << (bits - 1)) | (1 << (bits - 2))
    while True:
        start = rng.randbits(bits) | top | 1
        sieve = bytearray(b"\x01") * _WINDOW
        for prime, half in _SIEVE_PRIMES:
            # start + 2k == 0 (mod prime)  <=>  k == -start / 2 (mod prime)
            k = (prime - start % prime) * half % prime
            if k < _WINDOW:
                sieve[k::prime] = bytes(len(range(k, _WINDOW, prime)))
        for k in itertools.compress(range(_WINDOW), sieve):
            candidate = start + 2 * k
            if candidate.bit_length() != bits:
                break
            if (candidate - 1) % PUBLIC_EXPONENT == 0:  # gcd(e, p-1) must be 1 (e is prime)
                continue
            # Cheap base-2 Fermat filter first, then the full Miller-Rabin.
            if pow(2, candidate - 1, candidate) != 1:
                continue
            if _is_probable_prime(candidate, rng):
                return candidate


def _key_from_rng(bits: int, rng: DeterministicRandom) -> rsa.RSAPrivateKey:
    half = bits // 2
    e = PUBLIC_EXPONENT
    while True:
        p = _generate_prime(bits - half, rng)
        q = _generate_prime(half, rng)
        if p == q:
            continue
        if p < q:
            p, q = q, p
        # FIPS 186-5 A.1.3: |p - q| > 2^(nlen/2 - 100).
        if p - q <= 1 << (bits // 2 - 100):
            continue
        n = p * q
        if n.bit_length() != bits:
            continue
        lam = (p - 1) * (q - 1) // math.gcd(p - 1, q - 1)
        if math.gcd(e, lam) != 1:
            continue
        d = pow(e, -1, lam)
        if d <= 1 << (bits // 2):
            continue
        numbers = rsa.RSAPrivateNumbers(
            p=p,
            q=q,
            d=d,
            dmp1=rsa.rsa_crt_dmp1(d, p),
            dmq1=rsa.rsa_crt_dmq1(d, q),
            iqmp=rsa.rsa_crt_iqmp(p, q),
            public_numbers=rsa.RSAPublicNumbers(e, n),
        )
        return numbers.private_key(unsafe_skip_rsa_key_validation=True)


_cache: dict[tuple[bytes, int], rsa.RSAPrivateKey] = {}
_cache_lock = threading.Lock()


def rsa_key_from_seed(seed: bytes, bits: int = 2048) -> rsa.RSAPrivateKey:
    """The RSA private key (e = 65537, n of exactly ``bits`` bits) determined by ``seed``.

    Same seed and size -> same key, in any process. Results are cached for the process.
    For tests only: the seed is the private key.
    """
    if not isinstance(seed, (bytes, bytearray)):
        raise TypeError("seed must be bytes")
    if not isinstance(bits, int) or isinstance(bits, bool):
        raise TypeError("bits must be an int")
    if bits < 1024 or bits % 256 != 0:
        raise ValueError("bits must be a multiple of 256 and at least 1024")
    key_id = (bytes(seed), bits)
    with _cache_lock:
        cached = _cache.get(key_id)
    if cached is not None:
        return cached
    rng = DeterministicRandom(bytes(seed), b"rsa-keygen/" + str(bits).encode())
    key = _key_from_rng(bits, rng)
    with _cache_lock:
        # Another thread may have raced us; both computed the same key, keep the first.
        key = _cache.setdefault(key_id, key)
    logger.debug("derived a %d-bit test RSA key from a seed", bits)
    return key


def clear_key_cache() -> None:
    """Forget cached keys (tests of the derivation itself use this)."""
    with _cache_lock:
        _cache.clear()
