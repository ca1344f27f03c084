"""`jpki sim revoke` and `jpki sim ca ...`: the simulator's test PKI from the command line.

Thin: everything is done by simulator.pki / simulator.ocsp. The test CA lives in a directory
(``--ca DIR``, else ``$JPKI_SIM_CA``, else a per-user data directory); its roots are TEST roots
and are never trusted unless a verifier opts in by name.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from pathlib import Path
from typing import Any

import click
from cryptography import x509

from simulator.ocsp import OcspResponder
from simulator.pki import (
    DEFAULT_OCSP_URL,
    HIERARCHIES,
    CrlKey,
    PkiStoreError,
    TestPki,
    default_ca_directory,
)

__all__ = ["ca", "revoke"]

logger = logging.getLogger(__name__)

REASONS = [r.value for r in x509.ReasonFlags if r is not x509.ReasonFlags.remove_from_crl]


def _json_wanted(ctx: click.Context) -> bool:
    return bool(getattr(ctx.find_root().obj, "json_output", False))


def _emit(ctx: click.Context, data: dict[str, Any], text: str) -> None:
    if _json_wanted(ctx):
        click.echo(json.dumps(data, ensure_ascii=False, indent=2))
    else:
        click.echo(text)


def _ca_dir(value: str | None) -> Path:
    return Path(value).expanduser() if value else default_ca_directory()


ca_option = click.option(
    "--ca",
    "ca_dir",
    envvar="JPKI_SIM_CA",
    type=click.Path(file_okay=False),
    default=None,
    help="Test CA directory (default: $JPKI_SIM_CA or a per-user data directory).",
)


def _load(ca_dir: str | None) -> TestPki:
    path = _ca_dir(ca_dir)
    try:
        return TestPki.load(path)
    except PkiStoreError as exc:
        if not (path / "manifest.json").exists():
            raise click.ClickException(
                f"no test CA at {path}: create one with `jpki sim ca init` (or `jpki sim init`)"
            ) from None
        raise click.ClickException(str(exc)) from None


def _when(value: str | None) -> dt.datetime | None:
    if value is None:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise click.BadParameter(f"not an ISO 8601 time: {value!r}") from None
    if parsed.tzinfo is None:
        raise click.BadParameter("give a time zone (e.g. 2026-01-01T09:00:00+09:00 or ...Z)")
    return parsed


def _certificates_in(path: Path) -> list[x509.Certificate]:
    """Certificates in a PEM/DER certificate file, or on a simulated card's state file."""
    raw = path.read_bytes()
    if b"-----BEGIN CERTIFICATE-----" in raw:
        try:
            return list(x509.load_pem_x509_certificates(raw))
        except ValueError:
            raise click.ClickException(f"{path}: unreadable PEM certificate") from None
    try:
        return [x509.load_der_x509_certificate(raw)]
    except ValueError:
        pass
    return _certificates_on_card(path)


def _certificates_on_card(path: Path) -> list[x509.Certificate]:
    try:
        from simulator.state import CardState, StateFileError
    except ImportError:  # pragma: no cover - the card simulator ships with this package
        raise click.ClickException(f"{path}: not a certificate") from None
    try:
        state = CardState.load(path)
    except StateFileError as exc:
        raise click.ClickException(
            f"{path}: neither a certificate nor a card state ({exc})"
        ) from None
    found: list[x509.Certificate] = []
    for app in state.applications:
        for ef in app.files.values():
            content = getattr(ef, "content", None)
            if isinstance(content, bytes):
                cert = _leading_certificate(content)
                if cert is not None:
                    found.append(cert)
    if not found:
        raise click.ClickException(f"{path}: no certificates on this card")
    return found


def _leading_certificate(content: bytes) -> x509.Certificate | None:
    """The DER certificate at the start of an EF's contents (filler after it), if any."""
    if len(content) < 4 or content[0] != 0x30 or content[1] != 0x82:
        return None
    length = 4 + int.from_bytes(content[2:4], "big")
    try:
        return x509.load_der_x509_certificate(content[:length])
    except ValueError:
        return None


@click.command("revoke")
@ca_option
@click.option(
    "--reason",
    type=click.Choice(REASONS, case_sensitive=False),
    default="unspecified",
    show_default=True,
    help="CRLReason.",
)
@click.option("--at", "at", default=None, help="Revocation time, ISO 8601 (default: now).")
@click.option(
    "--which",
    type=click.Choice(["auth", "sign", "both"]),
    default="both",
    show_default=True,
    help="Which of a card's certificates to revoke.",
)
@click.argument("targets", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@click.pass_context
def revoke(
    ctx: click.Context,
    *,
    ca_dir: str | None,
    reason: str,
    at: str | None,
    which: str,
    targets: tuple[str, ...],
) -> None:
    """Revoke certificates: give certificate files (PEM/DER) or card state files.

    The revocation shows in the CRLs (`jpki sim ca crl`) and in OCSP answers.
    """
    when = _when(at)
    pki = _load(ca_dir)
    results: list[dict[str, Any]] = []
    lines: list[str] = []
    with pki:
        for target in targets:
            path = Path(target)
            matched = 0
            for cert in _certificates_in(path):
                issuer = pki.find_issuer(cert)
                if issuer is None or cert.subject == cert.issuer:
                    continue  # a root, or not from this test CA
                hierarchy, generation = issuer
                if which not in ("both", hierarchy):
                    continue
                matched += 1
                serial = f"{cert.serial_number:08X}"
                before = pki.lookup(hierarchy, cert.serial_number)
                try:
                    record = pki.revoke(cert, reason=reason, at=when)
                except ValueError as exc:
                    raise click.ClickException(f"{path}: {exc}") from None
                already = before is not None and before.revocation is not None
                results.append(
                    {
                        "file": str(path),
                        "hierarchy": hierarchy,
                        "generation": generation,
                        "serial": serial,
                        "reason": record.reason.value,
                        "revoked_at": record.revoked_at.isoformat(),
                        "already_revoked": already,
                    }
                )
                state = "already revoked" if already else "revoked"
                lines.append(
                    f"{state}: {hierarchy} certificate {serial} (generation {generation},"
                    f" {record.reason.value}, {record.revoked_at.isoformat()})"
                )
            if matched == 0:
                raise click.ClickException(
                    f"{path}: no {'' if which == 'both' else which + ' '}certificate issued by"
                    f" the test CA at {pki.directory}"
                )
    _emit(ctx, {"revoked": results}, "\n".join(lines))


@click.group("ca")
def ca() -> None:
    """The simulator's test CA (a simulated J-LIS): roots, CRLs, OCSP. TEST ONLY."""


@ca.command("init")
@ca_option
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the root keys.")
@click.option(
    "--ocsp-url",
    default=DEFAULT_OCSP_URL,
    show_default=True,
    help="OCSP URL written into new auth certificates.",
)
@click.pass_context
def ca_init(ctx: click.Context, ca_dir: str | None, seed: int, ocsp_url: str) -> None:
    """Create a test CA directory (fails if one exists)."""
    path = _ca_dir(ca_dir)
    try:
        pki = TestPki.create(path, seed=seed, ocsp_url=ocsp_url)
    except FileExistsError as exc:
        raise click.ClickException(str(exc)) from None
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None
    with pki:
        _emit(
            ctx,
            {"directory": str(path), "seed": seed, "ocsp_url": pki.ocsp_url},
            f"created test CA in {path} (seed {seed}); TEST ONLY, never trust its roots",
        )


@ca.command("show")
@ca_option
@click.pass_context
def ca_show(ctx: click.Context, ca_dir: str | None) -> None:
    """Roots, generations, issued and revoked counts."""
    pki = _load(ca_dir)
    now = dt.datetime.now(dt.timezone.utc)
    with pki:
        roots = []
        lines = [f"test CA {pki.directory} (seed {pki.seed}), OCSP URL {pki.ocsp_url}"]
        for h in HIERARCHIES:
            for g, root in enumerate(pki.roots(h), start=1):
                ski = root.extensions.get_extension_for_class(x509.SubjectKeyIdentifier)
                expired = root.not_valid_after_utc < now
                roots.append(
                    {
                        "hierarchy": h,
                        "generation": g,
                        "serial": f"{root.serial_number:08X}",
                        "ski": ski.value.digest.hex().upper(),
                        "not_before": root.not_valid_before_utc.isoformat(),
                        "not_after": root.not_valid_after_utc.isoformat(),
                        "expired": expired,
                    }
                )
                lines.append(
                    f"  {h} root {g:02d}: serial {root.serial_number:08X},"
                    f" {root.not_valid_before_utc:%Y-%m-%d} .. {root.not_valid_after_utc:%Y-%m-%d}"
                    + (" (expired)" if expired else "")
                )
        issued = pki.issued()
        revoked = [r for r in issued if r.revocation is not None]
        lines.append(f"  issued certificates: {len(issued)}, revoked: {len(revoked)}")
        _emit(
            ctx,
            {
                "directory": str(pki.directory),
                "seed": pki.seed,
                "ocsp_url": pki.ocsp_url,
                "roots": roots,
                "issued": len(issued),
                "revoked": len(revoked),
            },
            "\n".join(lines),
        )


@ca.command("export")
@ca_option
@click.option("--now", "now", default=None, help="thisUpdate of the CRLs, ISO 8601.")
@click.option("--next-update-hours", type=click.IntRange(min=1), default=24, show_default=True)
@click.argument("directory", type=click.Path(file_okay=False))
@click.pass_context
def ca_export(
    ctx: click.Context,
    *,
    ca_dir: str | None,
    now: str | None,
    next_update_hours: int,
    directory: str,
) -> None:
    """Write the test roots (PEM) and fresh CRLs (DER) to DIRECTORY."""
    when = _when(now)
    pki = _load(ca_dir)
    with pki:
        written = pki.export(directory, now=when, next_update=dt.timedelta(hours=next_update_hours))
    _emit(
        ctx,
        {k: [str(p) for p in v] for k, v in written.items()},
        f"wrote {len(written['roots'])} test roots and {len(written['crls'])} CRLs to"
        f" {directory} (see index.json)",
    )


@ca.command("crl")
@ca_option
@click.option("--now", "now", default=None, help="thisUpdate, ISO 8601 (default: now).")
@click.option("--next-update-hours", type=click.IntRange(min=1), default=24, show_default=True)
@click.option(
    "--bulk",
    type=click.IntRange(min=0),
    default=None,
    help="Write one CRL with this many synthetic revoked serials (benchmarks) to OUTPUT.",
)
@click.option("--hierarchy", type=click.Choice(list(HIERARCHIES)), default="auth")
@click.option("--generation", type=int, default=None, help="Root generation (default: current).")
@click.option("--municipality", default="14104", show_default=True, help="5-digit DP code.")
@click.argument("output", type=click.Path())
@click.pass_context
def ca_crl(
    ctx: click.Context,
    *,
    ca_dir: str | None,
    now: str | None,
    next_update_hours: int,
    bulk: int | None,
    hierarchy: str,
    generation: int | None,
    municipality: str,
    output: str,
) -> None:
    """Write CRLs: every partition into the directory OUTPUT, or with --bulk one file OUTPUT."""
    when = _when(now)
    next_update = dt.timedelta(hours=next_update_hours)
    pki = _load(ca_dir)
    with pki:
        if bulk is not None:
            gen = generation if generation is not None else pki.current_generation(hierarchy, when)
            key = CrlKey(hierarchy, gen, municipality)
            try:
                size = pki.write_large_crl(output, key, bulk, now=when, next_update=next_update)
            except ValueError as exc:
                raise click.ClickException(str(exc)) from None
            _emit(
                ctx,
                {"file": output, "entries": bulk, "bytes": size},
                f"wrote {output}: {hierarchy} generation {gen} DP {municipality},"
                f" {bulk} synthetic entries, {size} bytes",
            )
            return
        out = Path(output)
        crls = pki.crls(when, next_update=next_update)
        files = []
        for key, der in crls.items():
            path = out / key.hierarchy / f"gen-{key.generation:02d}" / key.filename
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(der)
            files.append(str(path))
    _emit(ctx, {"files": files}, f"wrote {len(files)} CRLs under {out}")


@ca.command("ocsp")
@ca_option
@click.option("--host", default="127.0.0.1", show_default=True, help="Loopback address.")
@click.option("--port", type=click.IntRange(0, 65535), default=None, help="Default: the CA's URL.")
@click.option(
    "--mode",
    type=click.Choice(["ca", "delegated"]),
    default="ca",
    show_default=True,
    help="Sign with the root, or with a delegated responder certificate.",
)
def ca_ocsp(ca_dir: str | None, host: str, port: int | None, mode: str) -> None:
    """Run the test OCSP responder until Ctrl-C."""
    pki = _load(ca_dir)
    if port is None:
        from urllib.parse import urlsplit

        port = urlsplit(pki.ocsp_url).port or 80
    try:
        responder = OcspResponder(pki, host=host, port=port, mode=mode)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None
    try:
        responder.start()
    except OSError as exc:
        raise click.ClickException(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    click.echo(f"test OCSP responder ({mode}) at {responder.url}; Ctrl-C to stop", err=True)
    try:
        responder.wait()
    except KeyboardInterrupt:
        pass
    finally:
        responder.stop()
        pki.close()
