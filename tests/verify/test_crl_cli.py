"""`jpki crl ingest|status` through click's CliRunner (with the global --json option)."""

from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives import serialization

sys.path.insert(0, str(Path(__file__).parent))

from revocation_helpers import (
    NOW,
    CrlSpec,
    Reply,
    TinyHttpServer,
    build_crl_der,
    entry_der,
    make_root,
    pem,
)

from cli.crl import crl
from cli.main import Settings
from simulator.identity import Identity
from simulator.pki import TestPki

FRESH = CrlSpec(
    this_update=dt.datetime.now(dt.timezone.utc) - dt.timedelta(hours=1),
    next_update=dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=1),
)


@click.group()
@click.option("--json", "json_output", is_flag=True)
@click.pass_context
def root(ctx: click.Context, json_output: bool) -> None:
    ctx.obj = Settings(json_output=json_output)


root.add_command(crl)


@pytest.fixture
def roots_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "roots"
    directory.mkdir()
    for g in (2, 3):
        (directory / f"test-auth-{g}.pem").write_bytes(
            make_root(g).public_bytes(serialization.Encoding.PEM)
        )
    return directory


@pytest.fixture
def crl_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "crls"
    (directory / "gen-02").mkdir(parents=True)
    (directory / "gen-02" / "kiyose.crl").write_bytes(
        build_crl_der([entry_der(0x1001, NOW, 1)], FRESH)
    )
    gen3 = CrlSpec(generation=3, this_update=FRESH.this_update, next_update=FRESH.next_update)
    (directory / "gen-03.pem").write_bytes(pem(build_crl_der([], gen3)))
    (directory / "notes.txt").write_text("not a CRL")
    return directory


def run(*args: str) -> click.testing.Result:
    return CliRunner().invoke(root, list(args), catch_exceptions=False)


def test_ingest_and_status(tmp_path: Path, roots_dir: Path, crl_dir: Path) -> None:
    index = tmp_path / "index"
    result = run("crl", "ingest", str(crl_dir), "--index", str(index), "--roots", str(roots_dir))
    assert result.exit_code == 0, result.output
    assert result.output.count("added") == 2
    assert "Kiyose-shi CRLDP" in result.output and "1 entries" in result.output
    again = run("crl", "ingest", str(crl_dir), "--index", str(index), "--roots", str(roots_dir))
    assert again.exit_code == 0 and again.output.count("unchanged") == 2
    status = run("crl", "status", "--index", str(index))
    assert status.exit_code == 0, status.output
    assert "2 partition(s)" in status.output and "STALE" not in status.output
    data = json.loads(run("--json", "crl", "status", "--index", str(index)).output)
    assert data["ok"] is True and len(data["partitions"]) == 2
    assert {p["entries"] for p in data["partitions"]} == {0, 1}
    assert all(p["stale"] is False for p in data["partitions"])


def test_stale_partitions_fail_the_probe(tmp_path: Path, roots_dir: Path, crl_dir: Path) -> None:
    index = tmp_path / "index"
    run("crl", "ingest", str(crl_dir), "--index", str(index), "--roots", str(roots_dir))
    later = (dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=3)).isoformat()
    result = run("crl", "status", "--index", str(index), "--at", later)
    assert result.exit_code == 1
    assert result.output.count("STALE") == 2 and "2 stale partition(s)" in result.output
    graced = run("crl", "status", "--index", str(index), "--at", later, "--grace", str(4 * 86400))
    assert graced.exit_code == 0
    assert run("crl", "status", "--index", str(index), "--at", "yesterday").exit_code == 2


def test_ingest_without_test_roots_refuses(tmp_path: Path, crl_dir: Path) -> None:
    result = run("--json", "crl", "ingest", str(crl_dir), "--index", str(tmp_path / "i"))
    assert result.exit_code == 1
    data = json.loads(result.output)
    assert data["ok"] is False
    assert {o["error"]["code"] for o in data["outcomes"]} == {"crl_issuer_unknown"}


def test_ingest_reports_each_failure_and_keeps_going(
    tmp_path: Path, roots_dir: Path, crl_dir: Path
) -> None:
    bad = tmp_path / "bad.crl"
    bad.write_bytes(b"\x30\x03garbage")
    result = run(
        "crl",
        "ingest",
        str(bad),
        str(tmp_path / "missing.crl"),
        str(crl_dir),
        "--index",
        str(tmp_path / "i"),
        "--roots",
        str(roots_dir),
    )
    assert result.exit_code == 1
    assert "REFUSED" in result.output and "crl_invalid" in result.output
    assert "crl_fetch_failed" in result.output
    assert result.output.count("added") == 2


def test_ingest_from_url(tmp_path: Path, roots_dir: Path) -> None:
    der = build_crl_der([entry_der(7, NOW)], FRESH)
    with TinyHttpServer(lambda m, p, h, b: Reply(200, "application/pkix-crl", der)) as server:
        result = run(
            "crl",
            "ingest",
            server.url + "a.crl",
            "--index",
            str(tmp_path / "i"),
            "--roots",
            str(roots_dir),
        )
    assert result.exit_code == 0, result.output
    assert "added" in result.output and server.url in result.output


def test_damaged_partition_is_reported(tmp_path: Path, roots_dir: Path, crl_dir: Path) -> None:
    index = tmp_path / "index"
    run("crl", "ingest", str(crl_dir), "--index", str(index), "--roots", str(roots_dir))
    victim = sorted(index.glob("*.crlx"))[0]
    victim.write_bytes(victim.read_bytes()[:-3])
    result = run("crl", "status", "--index", str(index))
    assert result.exit_code == 1 and "DAMAGED" in result.output


def test_configuration_problems(tmp_path: Path) -> None:
    missing = run("crl", "status", "--index", str(tmp_path / "nothing-here"))
    assert missing.exit_code == 3 and "no CRL index" in missing.output
    not_roots = tmp_path / "roots"
    not_roots.mkdir()
    (not_roots / "x.pem").write_text("nothing")
    bad_roots = run(
        "crl", "ingest", "x.crl", "--index", str(tmp_path / "i"), "--roots", str(not_roots)
    )
    assert bad_roots.exit_code == 3


def test_default_index_from_environment(
    tmp_path: Path, roots_dir: Path, crl_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("JPKI_CRL_INDEX", str(tmp_path / "env-index"))
    assert run("crl", "ingest", str(crl_dir), "--roots", str(roots_dir)).exit_code == 0
    assert len(list((tmp_path / "env-index").glob("*.crlx"))) == 2


def test_simulator_export_through_the_cli(test_pki: TestPki, tmp_path: Path) -> None:
    test_pki.issue(Identity.generate(9300))
    export = tmp_path / "export"
    written = test_pki.export(export)
    result = run(
        "--json",
        "crl",
        "ingest",
        str(export / "crls"),
        "--index",
        str(tmp_path / "i"),
        "--roots",
        str(export / "roots"),
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert len(data["outcomes"]) == len(written["crls"])
    status = json.loads(run("--json", "crl", "status", "--index", str(tmp_path / "i")).output)
    assert status["ok"] and {p["scope"] for p in status["partitions"]} == {"ca", "user"}
