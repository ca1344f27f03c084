"""APDUs, bytes and wall time per card operation (jpki_sdk.card on the simulator).

Every APDU is a round trip (tens of ms on a contactless reader), so the figures that matter
per tap are counts, measured with the exchange layer's counters on the simulator:

- ``apdu_counts``: cold login (session open, PIN status, VERIFY, auth certificate read, SIGN),
  warm login (the certificate cached from an earlier session), certificate reads, the
  基本4情報 read (with and without the integrity record), and the APDU spent on close after a
  PIN (clearing the security state); for a short-APDU link (contactless profile) and an
  extended-length link (contact profile). ``targets`` checks the issue's limits.
- ``opensc``: APDUs OpenSC's ``pkcs11-tool --login --sign`` puts on the wire for one
  signature on the same simulated card through pcscd (counted in OpenSC's debug log), or the
  issue's figure (70) when that cannot be measured here.
- ``wall_time``: per operation through pcscd + vpcd (short and extended), and in-process in
  the same run, interleaved; median and spread, and the ratio of the medians.

Needs root + pcscd + vsmartcard-vpcd for the PC/SC parts (skipped with the reason otherwise).

    .venv/bin/python bench/bench_card.py [--rounds N] [--no-pcsc] [--no-opensc]
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the real packages first (tests/ has folders of the same names)
sys.path.append(str(ROOT / "tests"))
sys.path.append(str(ROOT / "tests" / "card"))

from pcscstack import (  # noqa: E402
    PcscStack,
    StackUnavailable,
    claim_private_socket,
    release_private_socket,
)

AUTH_PIN = "1234"
TEXT_PIN = "1234"
SIGN_PASSWORD = "TESTPASS1"  # noqa: S105 (the simulator's documented test password)
HANDLER = ROOT / "tests" / "card" / "sim_vpcd_handler.py"
OPENSC_MODULE_CANDIDATES = (
    "/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so",
    "/usr/lib/aarch64-linux-gnu/opensc-pkcs11.so",
    "/usr/lib/opensc-pkcs11.so",
)
ISSUE_OPENSC_APDUS = 70
TARGETS = {"warm_login": 6, "cold_login_short": 14, "cold_login_extended": 8}


def _counts(card: Any) -> dict[str, int]:
    ex = card.exchange
    return {
        "apdus": ex.apdu_count,
        "bytes_sent": ex.bytes_sent,
        "bytes_received": ex.bytes_received,
    }


# --------------------------------------------------------------------------- the operations


def _operations() -> dict[str, Callable[[Callable[..., Any], Any], dict[str, int]]]:
    """name -> op(open_session, cache) returning the APDU counters of the operation."""
    from jpki_sdk.card import CertKind, KeyKind, PinKind

    def cold_login(open_session: Callable[..., Any], cache: Any) -> dict[str, int]:
        with open_session(cache=None) as card:
            card.sign(b"challenge", key=KeyKind.AUTH, pin=AUTH_PIN)
            return _counts(card)

    def warm_login(open_session: Callable[..., Any], cache: Any) -> dict[str, int]:
        with open_session(cache=cache) as card:
            card.sign(b"challenge", key=KeyKind.AUTH, pin=AUTH_PIN)
            return _counts(card)

    def auth_cert_read(open_session: Callable[..., Any], cache: Any) -> dict[str, int]:
        with open_session(cache=None) as card:
            card.read_certificate(CertKind.AUTH)
            return _counts(card)

    def sign_cert_read(open_session: Callable[..., Any], cache: Any) -> dict[str, int]:
        with open_session(cache=None) as card:
            card.read_certificate(CertKind.SIGN, sign_password=SIGN_PASSWORD)
            return _counts(card)

    def basic_info_read(open_session: Callable[..., Any], cache: Any) -> dict[str, int]:
        with open_session(cache=None) as card:
            card.read_basic_info(TEXT_PIN)
            return _counts(card)

    def basic_info_read_no_integrity(
        open_session: Callable[..., Any], cache: Any
    ) -> dict[str, int]:
        with open_session(cache=None) as card:
            card.read_basic_info(TEXT_PIN, check_integrity=False)
            return _counts(card)

    def close_after_pin(open_session: Callable[..., Any], cache: Any) -> dict[str, int]:
        card = open_session(cache=None)
        card.verify_pin(PinKind.AUTH, AUTH_PIN)
        before = _counts(card)
        card.close()
        after = _counts(card)
        return {k: after[k] - before[k] for k in after}

    return {
        "cold_login": cold_login,
        "warm_login": warm_login,
        "auth_cert_read": auth_cert_read,
        "sign_cert_read": sign_cert_read,
        "basic_info_read": basic_info_read,
        "basic_info_read_no_integrity": basic_info_read_no_integrity,
        "close_after_pin": close_after_pin,
    }


_COPIES = itertools.count()


class _ResettingTransport:
    """An in-process simulated card whose close() resets it, as PC/SC's default disconnect
    does, instead of releasing its state file: the card stays loaded between sessions (like
    the card process behind vpcd) and still persists every counter change to its file."""

    def __init__(self, sim: Any) -> None:
        self.sim = sim
        self.path = sim.path

    extended_length = property(lambda self: self.sim.extended_length)
    max_command_data = property(lambda self: self.sim.max_command_data)
    max_response_data = property(lambda self: self.sim.max_response_data)

    def transmit(self, command: bytes) -> bytes:
        data: bytes = self.sim.transmit(command)
        return data

    def close(self) -> None:
        self.sim.reset()

    def __enter__(self) -> _ResettingTransport:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _inprocess_opener(state_path: Path) -> Callable[..., Any]:
    from jpki_sdk.card import open_card
    from simulator.card import SimulatedCard

    # Its own copy of the file: a simulated card holds a lock on the file it runs on.
    copy = state_path.with_name(f"{state_path.stem}-inprocess-{next(_COPIES)}.json")
    copy.write_bytes(state_path.read_bytes())
    transport = _ResettingTransport(SimulatedCard.open(copy))

    def open_session(cache: Any = None) -> Any:
        return open_card(simulator=transport, cache=cache)

    return open_session


def _states(workdir: Path) -> dict[str, Path]:
    from simrig import StateCache, with_profile

    from simulator.profile import preset

    base = StateCache().state()
    paths = {}
    for link, profile in (("short", preset("contactless")), ("extended", preset("contact"))):
        path = workdir / f"{link}.json"
        with_profile(base, profile).save(path)
        paths[link] = path
    return paths


def apdu_counts(paths: dict[str, Path]) -> dict[str, Any]:
    from jpki_sdk.card import CertificateCache

    out: dict[str, Any] = {}
    for link, path in paths.items():
        opener = _inprocess_opener(path)
        cache = CertificateCache()
        _operations()["cold_login"](opener, cache)  # fill nothing: cold uses no cache
        with opener(cache=cache) as card:  # a first session on this card fills the cache
            from jpki_sdk.card import CertKind

            card.read_certificate(CertKind.AUTH)
        out[link] = {name: op(opener, cache) for name, op in _operations().items()}
    return out


def targets(counts: dict[str, Any]) -> dict[str, Any]:
    warm = max(counts[link]["warm_login"]["apdus"] for link in counts)
    cold_short = counts["short"]["cold_login"]["apdus"]
    cold_ext = counts["extended"]["cold_login"]["apdus"]
    return {
        "warm_login_max_6": {"apdus": warm, "met": warm <= TARGETS["warm_login"]},
        "cold_login_short_max_14": {
            "apdus": cold_short,
            "met": cold_short <= TARGETS["cold_login_short"],
        },
        "cold_login_extended_max_8": {
            "apdus": cold_ext,
            "met": cold_ext <= TARGETS["cold_login_extended"],
        },
    }


# ------------------------------------------------------------------------------ wall time


def _summary(samples: list[float]) -> dict[str, Any]:
    ms = sorted(s * 1000 for s in samples)
    quartiles = statistics.quantiles(ms, n=4) if len(ms) >= 2 else [ms[0]] * 3
    return {
        "n": len(ms),
        "median_ms": round(statistics.median(ms), 3),
        "iqr_ms": round(quartiles[2] - quartiles[0], 3),
        "min_ms": round(ms[0], 3),
        "max_ms": round(ms[-1], 3),
    }


def _start_card(stack: PcscStack, index: int, path: Path) -> Any:
    env = {"PYTHONPATH": os.pathsep.join([str(ROOT / "tests" / "card"), str(ROOT)])}
    argv = [
        sys.executable,
        str(HANDLER),
        "--handler",
        "sim_vpcd_handler:factory",
        "--port",
        str(stack.port(index)),
        "--",
        str(path),
    ]
    proc = stack.start_card(argv, name=f"bench-card{index}", env=env)
    stack.wait_for_card(index)
    return proc


def wall_time(paths: dict[str, Path], rounds: int, workdir: Path) -> dict[str, Any]:
    from apdu.pcsc import PcscTransport
    from jpki_sdk.card import Application, CertificateCache, JpkiCard, open_card

    names = ["cold_login", "warm_login", "auth_cert_read", "basic_info_read"]
    ops = _operations()
    with PcscStack(debug=False) as stack:
        # Separate copies: the PC/SC cards hold their files open.
        pcsc_paths = {}
        for i, link in enumerate(("short", "extended")):
            copy = workdir / f"pcsc-{link}.json"
            copy.write_bytes(paths[link].read_bytes())
            pcsc_paths[link] = copy
            _start_card(stack, i, copy)
        readers = {"short": stack.reader_name(0), "extended": stack.reader_name(1)}

        def pcsc_opener(link: str) -> Callable[..., Any]:
            def open_session(cache: Any = None) -> Any:
                if link == "short":
                    return open_card(reader=readers[link], cache=cache)
                transport = PcscTransport.connect(
                    readers[link],
                    extended_length=True,
                    max_command_data=65535,
                    max_response_data=65536,
                )
                card = JpkiCard(transport, slot=f"pcsc:{readers[link]}", cache=cache)
                card.select(Application.JPKI)
                return card

            return open_session

        openers = {}
        for link in ("short", "extended"):
            openers[("pcscd", link)] = pcsc_opener(link)
            openers[("inprocess", link)] = _inprocess_opener(paths[link])
        caches = {key: CertificateCache() for key in openers}
        for key, opener in openers.items():  # warm-up, and fill the caches for warm_login
            ops["warm_login"](opener, caches[key])
        samples: dict[tuple[str, str, str], list[float]] = {}
        for _ in range(rounds):
            for name in names:
                for key, opener in openers.items():
                    started = time.perf_counter()
                    ops[name](opener, caches[key])
                    samples.setdefault((key[0], key[1], name), []).append(
                        time.perf_counter() - started
                    )
    out: dict[str, Any] = {
        "note": "each session opens (SELECT JPKI-AP) and closes (card reset); operations with "
        "a VERIFY include the simulator writing its PIN counter to its state file twice "
        "(atomic, fsync) on both sides, which dominates their time; the in-process card is "
        "loaded once and reset between sessions, as the card process behind vpcd is",
        "pcscd": {},
        "inprocess": {},
        "ratio_pcscd_to_inprocess": {},
    }
    for (where, link, name), values in sorted(samples.items()):
        out[where].setdefault(link, {})[name] = _summary(values)
    for link in ("short", "extended"):
        out["ratio_pcscd_to_inprocess"][link] = {
            name: round(
                out["pcscd"][link][name]["median_ms"] / out["inprocess"][link][name]["median_ms"],
                2,
            )
            for name in names
        }
    return out


# --------------------------------------------------------------------------------- OpenSC


def opensc_signature_apdus(path: Path, workdir: Path) -> dict[str, Any]:
    """APDUs of ``pkcs11-tool --login --sign`` (one signature), from OpenSC's debug log."""
    module = next((m for m in OPENSC_MODULE_CANDIDATES if Path(m).exists()), None)
    if module is None or not shutil_which("pkcs11-tool"):
        return {"apdus": ISSUE_OPENSC_APDUS, "source": "issue text (pkcs11-tool not installed)"}
    message = workdir / "message"
    message.write_bytes(b"challenge")
    copy = workdir / "opensc-card.json"
    copy.write_bytes(path.read_bytes())
    with PcscStack(debug=False) as stack:
        _start_card(stack, 0, copy)
        env = dict(stack.env)
        env["OPENSC_DEBUG"] = "9"
        result = subprocess.run(
            [
                "pkcs11-tool",
                "--module",
                module,
                "--login",
                "--pin",
                AUTH_PIN,
                "--sign",
                "--mechanism",
                "SHA256-RSA-PKCS",
                "--id",
                "01",
                "--input-file",
                str(message),
                "--output-file",
                str(workdir / "opensc.sig"),
            ],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    if result.returncode != 0:
        return {
            "apdus": ISSUE_OPENSC_APDUS,
            "source": f"issue text (pkcs11-tool failed with exit {result.returncode})",
        }
    count = result.stderr.count("Outgoing APDU")
    return {
        "apdus": count,
        "source": "measured: OpenSC pkcs11-tool --login --sign through pcscd on the same "
        "simulated card, 'Outgoing APDU' lines of OPENSC_DEBUG=9",
        "issue_figure": ISSUE_OPENSC_APDUS,
    }


def shutil_which(name: str) -> str | None:
    import shutil

    return shutil.which(name)


# ----------------------------------------------------------------------------------- main


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15, help="timed rounds per operation")
    parser.add_argument("--no-pcsc", action="store_true", help="skip the pcscd wall times")
    parser.add_argument("--no-opensc", action="store_true", help="skip the OpenSC count")
    args = parser.parse_args()
    result: dict[str, Any] = {"benchmark": "card"}
    pcsc_reason = None
    if args.no_pcsc:
        pcsc_reason = "--no-pcsc"
    else:
        try:
            claim_private_socket()  # before anything in this process talks PC/SC
        except StackUnavailable as exc:
            pcsc_reason = str(exc)
    try:
        with tempfile.TemporaryDirectory(prefix="jpki-bench-card-") as tmp:
            workdir = Path(tmp)
            paths = _states(workdir)
            counts = apdu_counts(paths)
            result["apdu_counts"] = counts
            result["targets"] = targets(counts)
            if args.no_opensc or pcsc_reason:
                opensc = {"apdus": ISSUE_OPENSC_APDUS, "source": "issue text (not measured)"}
            else:
                try:
                    opensc = opensc_signature_apdus(paths["short"], workdir)
                except StackUnavailable as exc:
                    opensc = {"apdus": ISSUE_OPENSC_APDUS, "source": f"issue text ({exc})"}
            result["opensc"] = opensc
            result["ratio_opensc_to_sdk_cold_login_short"] = round(
                opensc["apdus"] / counts["short"]["cold_login"]["apdus"], 2
            )
            result["ratio_opensc_to_sdk_warm_login"] = round(
                opensc["apdus"] / counts["short"]["warm_login"]["apdus"], 2
            )
            if pcsc_reason:
                result["wall_time"] = {"skipped": pcsc_reason}
            else:
                try:
                    result["wall_time"] = wall_time(paths, args.rounds, workdir)
                except StackUnavailable as exc:
                    result["wall_time"] = {"skipped": str(exc)}
    finally:
        if not args.no_pcsc:
            release_private_socket()
    print(json.dumps(result, indent=2))
    return 0 if all(t["met"] for t in result["targets"].values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
