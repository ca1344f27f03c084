"""Simulated card operations per second: in-process, and through pcscd + vpcd.

Operations (each a complete APDU sequence, as a client sends it):

- ``read_cert``: SELECT JPKI-AP, SELECT EF 000A, READ BINARY of the 4-byte header, then the
  certificate in 256-byte chunks (what OpenSC does);
- ``verify_sign``: SELECT key 0018, VERIFY, COMPUTE DIGITAL SIGNATURE (80 2A 00 97, a SHA-256
  DigestInfo);
- ``sign``: COMPUTE DIGITAL SIGNATURE alone (PIN already verified).

In the same run, and interleaved with the card blocks, it measures cryptography's raw
RSA-2048 PKCS#1 v1.5 signing of a pre-hashed SHA-256 digest with the same key, and prints the
ratios (the in-process sign rate should be within 2x of it). Each figure: median and spread of
``--rounds`` blocks. ``--pcsc`` adds the same operations through a private pcscd + vpcd (needs
root and the Debian packages; otherwise reported as skipped).

    .venv/bin/python bench/bench_simulator.py [--rounds 7] [--seconds 0.5] [--pcsc]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the real packages first (tests/ has folders of the same names)

from cryptography.hazmat.primitives import hashes  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import padding, utils  # noqa: E402

from simulator.card import SimulatedCard  # noqa: E402
from simulator.identity import Identity  # noqa: E402
from simulator.pki import TestPki  # noqa: E402
from simulator.provision import DEFAULT_AUTH_PIN, new_card  # noqa: E402

SELECT_JPKI = bytes.fromhex("00A4040C0AD392F000260100000001")
SELECT_AUTH_CERT = bytes.fromhex("00A4020C02000A")
SELECT_AUTH_PIN = bytes.fromhex("00A4020C020018")
VERIFY = bytes.fromhex("00200080") + bytes([len(DEFAULT_AUTH_PIN)]) + DEFAULT_AUTH_PIN.encode()
DIGEST = hashlib.sha256(b"bench").digest()
DIGEST_INFO = bytes.fromhex("3031300D060960864801650304020105000420") + DIGEST
SIGN = bytes.fromhex("802A0097") + bytes([len(DIGEST_INFO)]) + DIGEST_INFO + b"\x00"

Transmit = Callable[[bytes], bytes]


def _ok(answer: bytes) -> bytes:
    if answer[-2:] != b"\x90\x00":
        raise RuntimeError(f"card answered {answer[-2:].hex()}")
    return answer[:-2]


def read_cert(tx: Transmit) -> None:
    _ok(tx(SELECT_JPKI))
    _ok(tx(SELECT_AUTH_CERT))
    head = _ok(tx(bytes.fromhex("00B0000004")))
    total = 4 + int.from_bytes(head[2:4], "big")
    got = 4
    while got < total:
        n = min(256, total - got)
        got += len(_ok(tx(bytes([0x00, 0xB0, got >> 8, got & 0xFF, n & 0xFF]))))


def verify_sign(tx: Transmit) -> None:
    _ok(tx(SELECT_AUTH_PIN))
    _ok(tx(VERIFY))
    if len(_ok(tx(SIGN))) != 256:
        raise RuntimeError("short signature")


def sign_only(tx: Transmit) -> None:
    if len(_ok(tx(SIGN))) != 256:
        raise RuntimeError("short signature")


def _rate(op: Callable[[], None], seconds: float) -> float:
    count = 0
    start = time.perf_counter()
    deadline = start + seconds
    while True:
        op()
        count += 1
        now = time.perf_counter()
        if now >= deadline:
            return count / (now - start)


def _summary(rates: list[float]) -> dict[str, Any]:
    ordered = sorted(rates)
    return {
        "median_ops_per_s": round(statistics.median(ordered), 1),
        "min_ops_per_s": round(ordered[0], 1),
        "max_ops_per_s": round(ordered[-1], 1),
        "rounds": len(ordered),
    }


def _measure(
    ops: dict[str, Callable[[], None]], rounds: int, seconds: float
) -> tuple[dict[str, Any], dict[str, list[float]]]:
    rates: dict[str, list[float]] = {name: [] for name in ops}
    for op in ops.values():  # warm-up
        _rate(op, min(seconds, 0.2))
    for _ in range(rounds):
        for name, op in ops.items():  # interleaved: noise hits every figure alike
            rates[name].append(_rate(op, seconds))
    return {name: _summary(values) for name, values in rates.items()}, rates


def in_process(card: SimulatedCard, rounds: int, seconds: float) -> dict[str, Any]:
    key = card.state.keys["auth"]
    tx = card.transmit
    _ok(tx(SELECT_JPKI))
    _ok(tx(SELECT_AUTH_PIN))
    _ok(tx(VERIFY))

    def raw_sign() -> None:
        key.sign(DIGEST, padding.PKCS1v15(), utils.Prehashed(hashes.SHA256()))

    def reselect_then(op: Callable[[Transmit], None]) -> Callable[[], None]:
        return lambda: op(tx)

    summary, rates = _measure(
        {
            "read_cert": reselect_then(read_cert),
            "verify_sign": reselect_then(verify_sign),
            "sign": reselect_then(sign_only),
            "cryptography_raw_rsa2048_sign": raw_sign,
        },
        rounds,
        seconds,
    )
    raw = rates["cryptography_raw_rsa2048_sign"]
    for name in ("sign", "verify_sign"):
        per_round = [a / b for a, b in zip(rates[name], raw, strict=True)]
        summary[f"ratio_{name}_to_raw_sign"] = {
            "median": round(statistics.median(per_round), 3),
            "min": round(min(per_round), 3),
            "max": round(max(per_round), 3),
        }
    summary["within_2x_of_raw_sign"] = summary["ratio_sign_to_raw_sign"]["median"] >= 0.5
    return summary


def through_pcscd(state_file: Path, rounds: int, seconds: float) -> dict[str, Any]:
    sys.path.append(str(ROOT / "tests"))
    try:
        from pcscstack import PcscStack, StackUnavailable, claim_private_socket
    except ImportError as exc:
        return {"skipped": f"tests/pcscstack.py not importable: {exc}"}
    try:
        claim_private_socket()
        stack = PcscStack(debug=False)
        stack.start()
    except StackUnavailable as exc:
        return {"skipped": str(exc)}
    from apdu.pcsc import PcscTransport

    try:
        stack.start_card(
            [sys.executable, "-m", "simulator", "serve", str(state_file), "--vpcd",
             f"127.0.0.1:{stack.port(0)}"],
            name="bench-sim",
            env={"PYTHONPATH": str(ROOT)},
            cwd=ROOT,
        )  # fmt: skip
        stack.wait_for_card(0)
        with PcscTransport.connect(stack.reader_name(0)) as transport:
            tx = transport.transmit
            _ok(tx(SELECT_JPKI))
            _ok(tx(SELECT_AUTH_PIN))
            _ok(tx(VERIFY))
            summary, _ = _measure(
                {
                    "read_cert": lambda: read_cert(tx),
                    "verify_sign": lambda: verify_sign(tx),
                    "sign": lambda: sign_only(tx),
                },
                rounds,
                seconds,
            )
        return summary
    finally:
        stack.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--seconds", type=float, default=0.5, help="length of one block")
    parser.add_argument("--pcsc", action="store_true", help="also through pcscd + vpcd")
    args = parser.parse_args()
    pki = TestPki.ephemeral(seed=0)
    state = new_card(pki, Identity.generate(1))
    result: dict[str, Any] = {
        "benchmark": "simulator",
        "python": sys.version.split()[0],
        "in_process": in_process(SimulatedCard(state.copy()), args.rounds, args.seconds),
    }
    if args.pcsc:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "card.json"
            state.save(path)
            # A state file: every VERIFY writes the counter (twice, anti-tearing) with fsync.
            result["through_pcscd"] = through_pcscd(path, max(3, args.rounds // 2), args.seconds)
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
