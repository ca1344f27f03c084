"""APDU round trips through pcscd + vpcd, with and without TCP_QUICKACK on the card side.

Debian's vpcd writes each APDU to the card in two writes (length, then body). A card-side
socket that leaves delayed ACKs on makes the second write wait for the first one's ACK: about
40 ms per APDU. simulator.vpcd re-arms TCP_QUICKACK after every read. This script measures both
in the same run (two readers of one private pcscd, interleaved blocks) and prints JSON:
per-APDU median and spread for each, and the ratio of the medians.

Needs root and the Debian packages pcscd + vsmartcard-vpcd (like the pcsc tests); without them
it prints {"skipped": reason} and exits 0.

    .venv/bin/python bench/bench_pcsc_roundtrip.py [--quick N] [--slow N] [--rounds R]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the real packages first (tests/ has folders of the same names)
sys.path.append(str(ROOT / "tests"))

from pcscstack import (  # noqa: E402
    PcscStack,
    StackUnavailable,
    claim_private_socket,
    release_private_socket,
)

SCRIPTED_CARD = ROOT / "tests" / "pcsc" / "scripted_card.py"
COMMAND = bytes.fromhex("00EE000010") + bytes(range(16))  # echo: 21 bytes out, 23 back


def _summary(samples_ns: list[int]) -> dict[str, Any]:
    ms = sorted(s / 1e6 for s in samples_ns)
    q = statistics.quantiles(ms, n=20)  # 5 % steps
    quartiles = statistics.quantiles(ms, n=4)
    return {
        "n": len(ms),
        "median_ms": round(statistics.median(ms), 4),
        "p5_ms": round(q[0], 4),
        "p95_ms": round(q[-1], 4),
        "iqr_ms": round(quartiles[2] - quartiles[0], 4),
        "min_ms": round(ms[0], 4),
        "max_ms": round(ms[-1], 4),
    }


def _time_block(transport: Any, count: int, sink: list[int]) -> None:
    for _ in range(count):
        start = time.perf_counter_ns()
        answer = transport.transmit(COMMAND)
        sink.append(time.perf_counter_ns() - start)
        if answer != COMMAND + b"\x90\x00":
            raise RuntimeError(f"unexpected answer {answer.hex()}")


def run(quick: int, slow: int, rounds: int) -> dict[str, Any]:
    from apdu.pcsc import PcscTransport

    with PcscStack(debug=False) as stack:
        for index, extra in ((0, []), (1, ["--no-quickack"])):
            stack.start_card(
                [sys.executable, str(SCRIPTED_CARD), "--port", str(stack.port(index)), *extra],
                name=f"bench{index}",
            )
        for index in (0, 1):
            stack.wait_for_card(index)
        with (
            PcscTransport.connect(stack.reader_name(0)) as with_quickack,
            PcscTransport.connect(stack.reader_name(1)) as without_quickack,
        ):
            warm: list[int] = []
            _time_block(with_quickack, 20, warm)
            _time_block(without_quickack, 3, warm)
            fast: list[int] = []
            slow_samples: list[int] = []
            for _ in range(rounds):  # interleaved, so drift on a noisy machine hits both
                _time_block(with_quickack, quick // rounds, fast)
                _time_block(without_quickack, slow // rounds, slow_samples)
    fast_summary = _summary(fast)
    slow_summary = _summary(slow_samples)
    return {
        "benchmark": "pcsc_roundtrip",
        "what": "one 21-byte echo APDU through pyscard -> pcscd -> vpcd -> simulator.vpcd",
        "quickack": fast_summary,
        "no_quickack": slow_summary,
        "ratio_median_no_quickack_over_quickack": round(
            slow_summary["median_ms"] / fast_summary["median_ms"], 1
        ),
        "apdus_per_second_quickack": round(1000 / fast_summary["median_ms"]),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", type=int, default=400, help="APDUs with QUICKACK")
    parser.add_argument("--slow", type=int, default=60, help="APDUs without (about 40 ms each)")
    parser.add_argument("--rounds", type=int, default=4)
    ns = parser.parse_args()
    if ns.rounds < 1 or ns.quick < 4 * ns.rounds or ns.slow < 4 * ns.rounds:
        parser.error("need rounds >= 1 and at least 4 APDUs per round on each side")
    try:
        claim_private_socket()  # before anything in this process talks PC/SC
        result = run(ns.quick, ns.slow, ns.rounds)
    except StackUnavailable as exc:
        result = {"benchmark": "pcsc_roundtrip", "skipped": str(exc)}
    finally:
        release_private_socket()
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
