"""CRL index at national scale: one 1,000,000-entry CRL partition, measured in one run.

The CRL is generated for the run by the simulator's streaming bulk writer (a real JPKI-shaped
partition: DirName IssuingDistributionPoint, 4-byte serials in a scrambled order, a real
revoked card among them) and signed by a test root. Then, each in a fresh child process so
memory and imports do not leak between figures:

- ``ingest``: ``CrlIndex.ingest`` = parse + signature check over the exact TBS + freshness
  and CRL-number checks + the sorted index + an fsynced atomic write. Wall and CPU seconds,
  peak RSS of the process (ru_maxrss) and its growth over the pre-ingest baseline (imports +
  the CRL bytes already read), and the Python-heap peak (tracemalloc, separate run).
- ``reload``: ``CrlIndex(dir)`` in a new process: map the partition file, verify its SHA-256,
  rebuild the arrays.
- ``lookups``: membership of a serial in the 1M partition (90 % misses, 10 % hits), and the
  full ``CrlSource.check(cert, issuer, at)`` (distribution point lookup included).

Same-run peers on the same CRL:

- ``cryptography``: ``CertificateRevocationList.get_revoked_certificate_by_serial_number``
  (a linear scan; time-boxed to a few lookups);
- ``pyhanko-certvalidator``: the first validation of the revoked card's certificate against the
  same CRL, in a child process with a time limit (skipped with the reason when it is exceeded).

Targets (issue 5): ingest <= 2 s and <= 150 MiB; reload <= 0.2 s; >= 1,000,000 lookups/s.
Every figure is a median with its spread; ratios compare figures of this run only. Prints JSON.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

UTC = dt.timezone.utc
NOW = dt.datetime(2025, 6, 1, 3, 0, tzinfo=UTC)
TARGET_INGEST_S = 2.0
TARGET_INGEST_MIB = 150.0
TARGET_RELOAD_S = 0.2
TARGET_LOOKUPS = 1_000_000


def _stats(values: Sequence[float], digits: int = 4) -> dict[str, Any]:
    return {
        "median": round(statistics.median(values), digits),
        "min": round(min(values), digits),
        "max": round(max(values), digits),
        "runs": len(values),
    }


def _maxrss_mib() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return usage / 1024 if sys.platform != "darwin" else usage / (1024 * 1024)


class _Clock:
    def now(self) -> dt.datetime:
        return NOW + dt.timedelta(minutes=1)


def _roots(work: Path) -> list[Any]:
    from cryptography import x509

    return [x509.load_pem_x509_certificate(p.read_bytes()) for p in sorted(work.glob("root-*.pem"))]


# ----------------------------------------------------------------------------- children


def child_ingest(work: Path, index_dir: Path, trace: bool) -> dict[str, Any]:
    from jpki_sdk.verify.revocation import CrlIndex

    roots = _roots(work)
    data = (work / "big.crl").read_bytes()
    persisted = str(index_dir) != "-"
    index = CrlIndex(index_dir if persisted else None, trusted_roots=roots, clock=_Clock())
    baseline = _maxrss_mib()
    if trace:
        import tracemalloc

        tracemalloc.start()
    wall = time.perf_counter()
    cpu = time.process_time()
    [report] = index.ingest(data, source="bench")
    cpu = time.process_time() - cpu
    wall = time.perf_counter() - wall
    out: dict[str, Any] = {
        "wall_s": wall,
        "cpu_s": cpu,
        "entries": report.partition.entries,
        "timings": report.timings,
        "peak_rss_mib": _maxrss_mib(),
        "baseline_rss_mib": baseline,
    }
    if trace:
        import tracemalloc

        out["tracemalloc_peak_mib"] = tracemalloc.get_traced_memory()[1] / (1 << 20)
        tracemalloc.stop()
    return out


def child_reload(index_dir: Path, rounds: int) -> dict[str, Any]:
    from jpki_sdk.verify.revocation import CrlIndex

    before = _maxrss_mib()
    times = []
    index = None
    for _ in range(rounds):
        start = time.perf_counter()
        index = CrlIndex(index_dir)
        times.append(time.perf_counter() - start)
    assert index is not None and len(index) == 1
    return {
        "first_s": times[0],
        "times_s": times,
        "entries": index.partitions()[0].entries,
        "rss_growth_mib": _maxrss_mib() - before,
    }


def child_pyhanko(work: Path) -> dict[str, Any]:
    import asyncio

    from asn1crypto import x509 as asn1_x509
    from pyhanko_certvalidator import CertificateValidator, ValidationContext
    from pyhanko_certvalidator.errors import RevokedError

    roots = [asn1_x509.Certificate.load(p.read_bytes()) for p in sorted(work.glob("root-*.der"))]
    cert = asn1_x509.Certificate.load((work / "revoked.der").read_bytes())
    crl = (work / "big.crl").read_bytes()
    baseline = _maxrss_mib()
    start = time.perf_counter()
    context = ValidationContext(
        trust_roots=roots, moment=NOW, crls=[crl], revocation_mode="hard-fail"
    )
    validator = CertificateValidator(cert, validation_context=context)
    try:
        asyncio.run(validator.async_validate_usage({"digital_signature"}, {"client_auth"}))
        verdict = "valid"
    except RevokedError:
        verdict = "revoked"
    except Exception as exc:  # report whatever it says; the figure is the time it took
        verdict = f"{type(exc).__name__}: {str(exc)[:120]}"
    return {
        "first_validation_s": time.perf_counter() - start,
        "verdict": verdict,
        "peak_rss_mib": _maxrss_mib(),
        "baseline_rss_mib": baseline,
    }


def _run_child(args: list[str], timeout: float) -> dict[str, Any]:
    proc = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--child", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"child {args[0]} failed: {proc.stderr[-2000:]}")
    return dict(json.loads(proc.stdout.strip().splitlines()[-1]))


# ----------------------------------------------------------------------------- setup


def make_data(work: Path, entries: int) -> dict[str, Any]:
    """Test PKI, two cards (one revoked), the 1M-entry CRL of their partition."""
    from cryptography.hazmat.primitives import serialization

    from simulator.identity import Identity
    from simulator.pki import AUTH, CrlKey, TestPki

    pki = TestPki.ephemeral(seed=5)
    good = pki.issue(Identity.generate(11), now=NOW - dt.timedelta(days=30))
    bad = pki.issue(Identity.generate(11), now=NOW - dt.timedelta(days=29))
    pki.revoke(bad.auth_cert, reason="keyCompromise", at=NOW - dt.timedelta(days=1))
    record = pki.lookup(AUTH, bad.auth_cert.serial_number)
    assert record is not None
    key = CrlKey(AUTH, record.generation, record.municipality_code)
    start = time.perf_counter()
    size = pki.write_large_crl(work / "big.crl", key, entries, now=NOW)
    generated = time.perf_counter() - start
    for i, root in enumerate(pki.roots(AUTH)):
        (work / f"root-{i}.pem").write_bytes(root.public_bytes(serialization.Encoding.PEM))
        (work / f"root-{i}.der").write_bytes(root.public_bytes(serialization.Encoding.DER))
    for name, card in (("good", good), ("revoked", bad)):
        (work / f"{name}.der").write_bytes(card.auth_cert.public_bytes(serialization.Encoding.DER))
    (work / "issuer.der").write_bytes(bad.auth_ca_cert.public_bytes(serialization.Encoding.DER))
    return {"crl_bytes": size, "generate_s": round(generated, 3), "entries": entries + 1}


# ----------------------------------------------------------------------------- in-process


def bench_lookups(index_dir: Path, work: Path, seconds: float, rounds: int) -> dict[str, Any]:
    from cryptography import x509

    from jpki_sdk.verify.revocation import CrlIndex, CrlSource, RevocationStatus

    index = CrlIndex(index_dir)
    [part] = list(index)
    listed = [int(k) >> 0 for k in _sample_serials(part, 100_000)]
    rng = random.Random(7)
    queries = [
        rng.choice(listed) if i % 10 == 0 else rng.randrange(1, 1 << 32) for i in range(200_000)
    ]
    find = part.find_offset
    rates = []
    cpu_rates = []
    hits = 0
    for _ in range(rounds):
        done = 0
        start = time.perf_counter()
        cpu = time.process_time()
        while time.perf_counter() - start < seconds:
            hits = 0
            for q in queries:
                if find(q) >= 0:
                    hits += 1
            done += len(queries)
        rates.append(done / (time.perf_counter() - start))
        cpu_rates.append(done / max(time.process_time() - cpu, 1e-9))

    issuer = x509.load_der_x509_certificate((work / "issuer.der").read_bytes())
    good = x509.load_der_x509_certificate((work / "good.der").read_bytes())
    revoked = x509.load_der_x509_certificate((work / "revoked.der").read_bytes())
    src = CrlSource(index)
    at = NOW + dt.timedelta(minutes=1)
    assert src.check(good, issuer, at).status is RevocationStatus.GOOD
    assert src.check(revoked, issuer, at).status is RevocationStatus.REVOKED
    check_rates = []
    for _ in range(rounds):
        n = 0
        start = time.perf_counter()
        while time.perf_counter() - start < seconds / 2:
            for _ in range(200):
                src.check(good, issuer, at)
            n += 200
        check_rates.append(n / (time.perf_counter() - start))
    return {
        "membership_per_s": _stats(rates, 0),
        "membership_per_cpu_s": _stats(cpu_rates, 0),
        "hit_fraction": round(hits / len(queries), 3),
        "crl_source_check_per_s": _stats(check_rates, 0),
    }


def _sample_serials(part: Any, count: int) -> list[int]:
    """Serials listed in the partition (decoded from its CRL entries, via cryptography)."""
    from cryptography import x509

    crl = x509.load_der_x509_crl(part.der())
    out = []
    for i, entry in enumerate(crl):
        if i >= count:
            break
        out.append(entry.serial_number)
    return out


def bench_cryptography(work: Path, budget: float) -> dict[str, Any]:
    from cryptography import x509

    data = (work / "big.crl").read_bytes()
    start = time.perf_counter()
    crl = x509.load_der_x509_crl(data)
    load = time.perf_counter() - start
    rng = random.Random(3)
    done = 0
    start = time.perf_counter()
    while done < 20 and time.perf_counter() - start < budget:
        crl.get_revoked_certificate_by_serial_number(rng.randrange(1, 1 << 32))
        done += 1
    elapsed = time.perf_counter() - start
    return {
        "load_s": round(load, 4),
        "lookups": done,
        "lookups_per_s": round(done / elapsed, 3),
        "note": "get_revoked_certificate_by_serial_number, mostly misses (full scans)",
    }


# ----------------------------------------------------------------------------- main


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3, help="ingest/reload runs")
    parser.add_argument("--lookup-seconds", type=float, default=1.0)
    parser.add_argument("--pyhanko-timeout", type=float, default=60.0)
    parser.add_argument("--skip-pyhanko", action="store_true")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.child:
        kind, *rest = args.child
        if kind == "ingest":
            result = child_ingest(Path(rest[0]), Path(rest[1]), rest[2] == "trace")
        elif kind == "reload":
            result = child_reload(Path(rest[0]), int(rest[1]))
        elif kind == "pyhanko":
            result = child_pyhanko(Path(rest[0]))
        else:
            raise SystemExit(f"unknown child {kind}")
        print(json.dumps(result))
        return 0

    from cryptography import __version__ as cryptography_version

    with tempfile.TemporaryDirectory(prefix="bench-revocation-") as tmp:
        work = Path(tmp)
        data = make_data(work, args.entries)

        ingests = []
        in_memory = []
        for i in range(args.repeat):
            ingests.append(_run_child(["ingest", str(work), str(work / f"idx{i}"), "-"], 600))
            in_memory.append(_run_child(["ingest", str(work), "-", "-"], 600))
        traced = _run_child(["ingest", str(work), str(work / "idx-trace"), "trace"], 600)
        reload = _run_child(["reload", str(work / "idx0"), str(max(3, args.repeat))], 600)
        single = [_run_child(["reload", str(work / "idx0"), "1"], 600) for _ in range(args.repeat)]
        reloads = [r["first_s"] for r in single]
        lookups = bench_lookups(work / "idx0", work, args.lookup_seconds, 5)
        peer_crypto = bench_cryptography(work, budget=15.0)
        if args.skip_pyhanko:
            peer_pyhanko: dict[str, Any] = {"skipped": "--skip-pyhanko"}
        else:
            try:
                peer_pyhanko = _run_child(["pyhanko", str(work)], args.pyhanko_timeout)
            except subprocess.TimeoutExpired:
                peer_pyhanko = {
                    "skipped": f"first validation exceeded the {args.pyhanko_timeout:g} s limit"
                }
            except (RuntimeError, ImportError) as exc:
                peer_pyhanko = {"skipped": f"failed: {exc}"[:300]}
        file_size = sum(p.stat().st_size for p in (work / "idx0").glob("*.crlx"))

    ingest_wall = _stats([r["wall_s"] for r in ingests], 3)
    phases = {
        phase: _stats([r["timings"][phase] for r in ingests], 3)
        for phase in ("parse", "verify", "index", "store")
    }
    memory_wall = _stats([r["wall_s"] for r in in_memory], 3)
    memory_cpu = _stats([r["cpu_s"] for r in in_memory], 3)
    ingest_cpu = _stats([r["cpu_s"] for r in ingests], 3)
    peak = _stats([r["peak_rss_mib"] for r in ingests], 1)
    growth = _stats([r["peak_rss_mib"] - r["baseline_rss_mib"] for r in ingests], 1)
    reload_stats = _stats(reloads, 4)
    membership = lookups["membership_per_s"]["median"]
    ratios: dict[str, Any] = {
        "ingest_target_over_wall": round(TARGET_INGEST_S / ingest_wall["median"], 2),
        "ingest_target_over_cpu": round(TARGET_INGEST_S / ingest_cpu["median"], 2),
        "ingest_in_memory_target_over_wall": round(TARGET_INGEST_S / memory_wall["median"], 2),
        "memory_target_over_peak_rss": round(TARGET_INGEST_MIB / peak["median"], 2),
        "reload_target_over_reload": round(TARGET_RELOAD_S / reload_stats["median"], 2),
        "lookups_over_target": round(membership / TARGET_LOOKUPS, 2),
        "lookups_per_cpu_s_over_target": round(
            lookups["membership_per_cpu_s"]["median"] / TARGET_LOOKUPS, 2
        ),
        "lookups_over_cryptography": round(membership / peer_crypto["lookups_per_s"], 0),
        "note": ">= 1 means the target is met",
    }
    if "first_validation_s" in peer_pyhanko:
        ratios["pyhanko_first_validation_over_our_ingest"] = round(
            peer_pyhanko["first_validation_s"] / ingest_wall["median"], 1
        )
        ratios["pyhanko_peak_rss_over_ours"] = round(
            peer_pyhanko["peak_rss_mib"] / peak["median"], 1
        )
        # After a restart we answer from the persisted index: reload + one check.
        restart = reload_stats["median"] + 1 / lookups["crl_source_check_per_s"]["median"]
        ratios["pyhanko_first_validation_over_our_restart_and_check"] = round(
            peer_pyhanko["first_validation_s"] / restart, 1
        )
    out = {
        "bench": "revocation",
        "machine": {
            "python": platform.python_version(),
            "cryptography": cryptography_version,
            "cpus": os.cpu_count(),
            "loadavg_1m": round(os.getloadavg()[0], 2),
        },
        "crl": data,
        "index_file_bytes": file_size,
        "ingest": {
            "note": "persisted: parse + signature + index + fsynced atomic write + remap",
            "wall_s": ingest_wall,
            "cpu_s": ingest_cpu,
            "phases_wall_s": phases,
            "peak_rss_mib": peak,
            "rss_growth_mib": growth,
            "tracemalloc_peak_mib": round(traced["tracemalloc_peak_mib"], 1),
            "baseline_rss_mib": round(ingests[0]["baseline_rss_mib"], 1),
        },
        "ingest_in_memory": {
            "note": "signature + index only (CrlIndex without a directory)",
            "wall_s": memory_wall,
            "cpu_s": memory_cpu,
            "peak_rss_mib": _stats([r["peak_rss_mib"] for r in in_memory], 1),
        },
        "reload": {
            "new_process_s": reload_stats,
            "in_process_repeat_s": [round(t, 4) for t in reload["times_s"]],
            "rss_growth_mib": _stats([r["rss_growth_mib"] for r in single], 1),
            "note": "RSS includes the mapped partition file, read once by the checksum",
        },
        "lookups": lookups,
        "peers": {"cryptography": peer_crypto, "pyhanko_certvalidator": peer_pyhanko},
        "targets": {
            "ingest_s": TARGET_INGEST_S,
            "ingest_peak_mib": TARGET_INGEST_MIB,
            "reload_s": TARGET_RELOAD_S,
            "lookups_per_s": TARGET_LOOKUPS,
        },
        "ratios": ratios,
    }
    print(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
