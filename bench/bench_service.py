"""Verified logins per second through the HTTP service, beside the in-process rate.

Starts ``jpki_sdk.server`` in its own process on a free loopback port (SQLite challenge store,
the simulator's test roots trusted, revocation from a CRL index fed with the simulator's
CRLs: the production shape), then drives it for a bounded time with concurrent clients. Each
client loops: POST /v1/challenges, sign M with a test card's key (what the card would return),
POST /v1/verify. In the same run, and not at the same time, the same verification is measured
in-process (AuthVerifier + the same trust store, CRL index and an in-memory challenge store),
and the raw RSA-2048 PKCS#1 v1.5 verify rate for scale.

Prints one JSON object: verified logins/s, p50/p99 latency of the verify call and of a whole
login, error count (must be 0: the exit status is 1 otherwise), the in-process rates and the
ratios measured in this run.

    .venv/bin/python bench/bench_service.py [--duration 10] [--concurrency 8] [--cards 4]
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
from cryptography.hazmat.primitives import hashes, serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import padding  # noqa: E402

from jpki_sdk.auth import AuthPurpose, AuthVerifier, MemoryChallengeStore, Token  # noqa: E402
from jpki_sdk.auth.message import auth_message  # noqa: E402
from jpki_sdk.auth.types import SignatureAlgorithm  # noqa: E402
from jpki_sdk.server import generate_api_key, hash_api_key  # noqa: E402
from jpki_sdk.verify import CertificateVerifier, RevocationPolicy, TrustStore  # noqa: E402
from jpki_sdk.verify.revocation import CrlIndex, CrlSource, ingest_sources  # noqa: E402
from simulator.identity import Identity  # noqa: E402
from simulator.pki import IssuedCard, TestPki  # noqa: E402

ORIGIN = "https://bench.example"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


def summary_ms(values: list[float]) -> dict[str, float]:
    return {
        "p50": round(percentile(values, 0.50) * 1000, 2),
        "p99": round(percentile(values, 0.99) * 1000, 2),
        "mean": round(statistics.fmean(values) * 1000, 2) if values else float("nan"),
    }


def sign_token(card: IssuedCard, nonce: bytes) -> Token:
    message = auth_message(ORIGIN, nonce)
    signature = card.auth_key.sign(message, padding.PKCS1v15(), hashes.SHA256())
    der = card.auth_cert.public_bytes(serialization.Encoding.DER)
    return Token(AuthPurpose.LOGIN, SignatureAlgorithm.RS256, der, signature, nonce)


def setup(workdir: Path, cards: int) -> tuple[TestPki, list[IssuedCard], list[str]]:
    pki = TestPki.ephemeral(seed=7)
    issued = [
        pki.issue(Identity.generate(1000 + i), sign=False, seed=f"bench-{i}") for i in range(cards)
    ]
    pki.export(workdir / "pki")
    crl_dirs = sorted(str(p) for p in (workdir / "pki").glob("crls/*/gen-*") if p.is_dir())
    return pki, issued, crl_dirs


def write_config(workdir: Path, port: int, key_hash: str, crl_dirs: list[str], store: str) -> Path:
    sources = ", ".join(f'"{d}"' for d in crl_dirs)
    path = workdir / "service.toml"
    path.write_text(
        f"""
[server]
host = "127.0.0.1"
port = {port}
log_level = "warning"

[trust]
test_roots = ["{workdir / "pki" / "roots"}"]

[revocation]
mode = "require"
crl_index = "{workdir / "crl-index"}"
crl_sources = [{sources}]

[challenges]
store = "{store}"
sqlite_path = "{workdir / "challenges.sqlite3"}"

[[api_keys]]
name = "bench"
sha256 = "{key_hash}"
origins = ["{ORIGIN}"]
""",
        encoding="utf-8",
    )
    return path


def start_service(config: Path, port: int, log: Path) -> subprocess.Popen[bytes]:
    code = "import sys; from jpki_sdk.server import load_config, run; run(load_config(sys.argv[1]))"
    with open(log, "wb") as stderr:
        proc = subprocess.Popen(
            [sys.executable, "-c", code, str(config)],
            stdout=subprocess.DEVNULL,
            stderr=stderr,
            env=dict(os.environ),
        )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("the service exited: " + log.read_text())
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("the service did not start")


def drive(
    url: str, api_key: str, cards: list[IssuedCard], duration: float, concurrency: int
) -> dict[str, Any]:
    verify_latency: list[float] = []
    login_latency: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    stop_at = time.monotonic() + duration
    start = threading.Barrier(concurrency + 1)

    def client(index: int) -> None:
        card = cards[index % len(cards)]
        mine_verify: list[float] = []
        mine_login: list[float] = []
        mine_errors: list[str] = []
        headers = {"Authorization": f"Bearer {api_key}"}
        with httpx.Client(base_url=url, headers=headers, timeout=30) as http:
            start.wait()
            while time.monotonic() < stop_at:
                t0 = time.perf_counter()
                try:
                    issued = http.post("/v1/challenges", json={})
                    if issued.status_code != 201:
                        mine_errors.append(f"challenge {issued.status_code}")
                        continue
                    token = sign_token(card, base64.b64decode(issued.json()["nonce"]))
                    t1 = time.perf_counter()
                    verified = http.post("/v1/verify", json={"token": token.to_dict()})
                    t2 = time.perf_counter()
                except httpx.HTTPError as exc:
                    mine_errors.append(type(exc).__name__)
                    continue
                if verified.status_code != 200:
                    mine_errors.append(f"verify {verified.status_code} {verified.text[:80]}")
                    continue
                mine_verify.append(t2 - t1)
                mine_login.append(t2 - t0)
        with lock:
            verify_latency.extend(mine_verify)
            login_latency.extend(mine_login)
            errors.extend(mine_errors)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(concurrency)]
    for t in threads:
        t.start()
    start.wait()
    began = time.monotonic()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - began
    return {
        "elapsed_s": round(elapsed, 2),
        "verified_logins": len(login_latency),
        "verified_logins_per_s": round(len(login_latency) / elapsed, 1),
        "verify_latency_ms": summary_ms(verify_latency),
        "login_latency_ms": summary_ms(login_latency),
        "errors": len(errors),
        "error_samples": sorted(set(errors))[:5],
    }


def in_process(
    workdir: Path, pki: TestPki, cards: list[IssuedCard], duration: float
) -> dict[str, Any]:
    trust = TrustStore.default().with_test_roots(workdir / "pki" / "roots")
    index = CrlIndex(workdir / "crl-index-inproc", trusted_roots=[a.certificate for a in trust])
    crl_dirs = sorted(str(p) for p in (workdir / "pki").glob("crls/*/gen-*") if p.is_dir())
    ingest_sources(index, crl_dirs)
    verifier = AuthVerifier(
        origin=ORIGIN,
        certificates=CertificateVerifier(
            trust, revocation=RevocationPolicy.require(CrlSource(index))
        ),
        challenges=MemoryChallengeStore(),
    )
    # Verifications (challenge issue + sign outside the timer + verify), then raw RSA verify.
    timings: list[float] = []
    stop_at = time.monotonic() + duration
    i = 0
    while time.monotonic() < stop_at:
        card = cards[i % len(cards)]
        i += 1
        challenge = verifier.issue_challenge(AuthPurpose.LOGIN)
        token = sign_token(card, challenge.nonce)
        t0 = time.perf_counter()
        verifier.verify_login(token)
        timings.append(time.perf_counter() - t0)
    public = cards[0].auth_cert.public_key()
    message = b"m" * 64
    signature = cards[0].auth_key.sign(message, padding.PKCS1v15(), hashes.SHA256())
    rsa_count = 0
    t0 = time.perf_counter()
    rsa_stop = t0 + min(duration, 3.0)
    while time.perf_counter() < rsa_stop:
        public.verify(signature, message, padding.PKCS1v15(), hashes.SHA256())  # type: ignore[union-attr]
        rsa_count += 1
    rsa_elapsed = time.perf_counter() - t0
    total = sum(timings)
    return {
        "verifications": len(timings),
        "verifications_per_s": round(len(timings) / total, 1),
        "verify_latency_ms": summary_ms(timings),
        "rsa2048_verify_per_s": round(rsa_count / rsa_elapsed, 1),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=float, default=10.0, help="seconds of load")
    parser.add_argument("--concurrency", type=int, default=8, help="concurrent clients")
    parser.add_argument("--cards", type=int, default=4, help="distinct test cards")
    parser.add_argument(
        "--store", choices=["sqlite", "memory"], default="sqlite", help="challenge store"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="jpki-bench-service-") as tmp:
        workdir = Path(tmp)
        pki, cards, crl_dirs = setup(workdir, args.cards)
        api_key = generate_api_key()
        port = free_port()
        config = write_config(workdir, port, hash_api_key(api_key), crl_dirs, args.store)
        log = workdir / "service.log"
        proc = start_service(config, port, log)
        try:
            service = drive(
                f"http://127.0.0.1:{port}", api_key, cards, args.duration, args.concurrency
            )
        finally:
            proc.terminate()
            proc.wait(timeout=30)
        local = in_process(workdir, pki, cards, min(args.duration, 5.0))
    result = {
        "benchmark": "service",
        "setup": {
            "duration_s": args.duration,
            "concurrency": args.concurrency,
            "cards": args.cards,
            "challenge_store": args.store,
            "revocation": "require (CRL index)",
            "service_processes": 1,
            "cpus": os.cpu_count(),
        },
        "service": service,
        "in_process": local,
        "ratios": {
            "service_logins_per_s_over_in_process_verifications_per_s": round(
                service["verified_logins_per_s"] / local["verifications_per_s"], 3
            ),
            "in_process_verifications_per_s_over_rsa2048_verify_per_s": round(
                local["verifications_per_s"] / local["rsa2048_verify_per_s"], 3
            ),
        },
    }
    print(json.dumps(result, indent=2))
    return 0 if service["errors"] == 0 and service["verified_logins"] > 0 else 1


if __name__ == "__main__":
    sys.exit(main())
