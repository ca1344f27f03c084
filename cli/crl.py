"""`jpki crl ...`: keep the CRL index of a relying party up to date and watch it.

- ``jpki crl ingest SOURCE... [--index DIR] [--roots DIR]``: verify CRLs (files, directories
  searched recursively, or http(s) URLs) against the J-LIS roots (plus, with ``--roots``, the
  test roots in DIR: explicit opt-in) and store them as index partitions. Run it from cron;
  a running service picks the new partitions up (``CrlSource(refresh_interval=...)``).
- ``jpki crl status [--index DIR]``: every partition with its CRL number, entry count,
  thisUpdate/nextUpdate and a stale flag; damaged partition files are listed too.

The index directory defaults to ``$JPKI_CRL_INDEX`` or ``~/.local/share/jpki/crl-index``.
Exit codes: 0 all good; 1 a CRL was refused (ingest) or a partition is stale or damaged
(status: usable as a monitoring probe); 3 configuration problem (bad --roots, unusable index
directory).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from pathlib import Path
from typing import Any

import click

from jpki_sdk.errors import ConfigurationError
from jpki_sdk.verify import TrustStore
from jpki_sdk.verify.revocation import (
    CrlIndex,
    IngestOutcome,
    PartitionStatus,
    default_index_directory,
    ingest_sources,
)

__all__ = ["crl"]

logger = logging.getLogger(__name__)

EXIT_PROBLEM = 1
EXIT_CONFIG = 3


class _ConfigProblem(click.ClickException):
    exit_code = EXIT_CONFIG


def _json_wanted(ctx: click.Context) -> bool:
    return bool(getattr(ctx.find_root().obj, "json_output", False))


def _index_dir(index: Path | None) -> Path:
    return index if index is not None else default_index_directory()


def _open_index(directory: Path, **kwargs: Any) -> CrlIndex:
    try:
        return CrlIndex(directory, **kwargs)
    except OSError as exc:
        raise _ConfigProblem(
            f"cannot use index directory {directory}: {exc.strerror or exc}"
        ) from None


def _parse_at(text: str | None) -> dt.datetime | None:
    if text is None:
        return None
    try:
        value = dt.datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise click.BadParameter(f"{text!r} is not an ISO-8601 time", param_hint="--at") from None
    if value.tzinfo is None:
        raise click.BadParameter("give a timezone (e.g. 2025-06-01T00:00:00Z)", param_hint="--at")
    return value.astimezone(dt.timezone.utc)


def _when(value: dt.datetime) -> str:
    return value.astimezone(dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%SZ")


index_option = click.option(
    "--index",
    "index",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Index directory (default: $JPKI_CRL_INDEX or ~/.local/share/jpki/crl-index).",
)
grace_option = click.option(
    "--grace",
    type=click.FloatRange(min=0),
    default=0.0,
    show_default=True,
    help="Seconds a CRL stays usable after its nextUpdate.",
)


@click.group()
def crl() -> None:
    """CRL index: ingest verified CRLs, show partitions and stale ones."""


@crl.command()
@click.argument("sources", nargs=-1, required=True)
@index_option
@click.option(
    "--roots",
    "roots",
    type=click.Path(exists=True, path_type=Path),
    default=None,
    help="Also accept CRLs signed by the (test) roots in this file or directory. "
    "Never trusted by default.",
)
@grace_option
@click.option(
    "--allow-stale",
    is_flag=True,
    help="Store a CRL even if past nextUpdate (it still answers 'stale').",
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=0.1),
    default=60.0,
    show_default=True,
    help="Seconds per URL download.",
)
@click.option(
    "--max-bytes",
    type=click.IntRange(min=1),
    default=256 * 1024 * 1024,
    show_default=True,
    help="Largest CRL accepted (file or download).",
)
@click.pass_context
def ingest(
    ctx: click.Context,
    *,
    sources: tuple[str, ...],
    index: Path | None,
    roots: Path | None,
    grace: float,
    allow_stale: bool,
    timeout: float,
    max_bytes: int,
) -> None:
    """Verify and store the CRLs in SOURCES (files, directories, http(s) URLs)."""
    try:
        trust = TrustStore.default()
        if roots is not None:
            trust = trust.with_test_roots(roots)
    except ConfigurationError as exc:
        raise _ConfigProblem(str(exc)) from None
    directory = _index_dir(index)
    crl_index = _open_index(
        directory,
        trusted_roots=[a.certificate for a in trust],
        grace=dt.timedelta(seconds=grace),
    )
    outcomes = ingest_sources(
        crl_index, sources, allow_stale=allow_stale, max_bytes=max_bytes, timeout=timeout
    )
    failed = [o for o in outcomes if not o.ok]
    if _json_wanted(ctx):
        click.echo(
            json.dumps(
                {
                    "index": str(directory),
                    "ok": not failed,
                    "outcomes": [o.to_dict() for o in outcomes],
                },
                ensure_ascii=False,
                indent=2,
            )
        )
    else:
        click.echo("\n".join(_ingest_lines(directory, outcomes)))
    if failed:
        ctx.exit(EXIT_PROBLEM)


def _ingest_lines(directory: Path, outcomes: list[IngestOutcome]) -> list[str]:
    lines = [f"index: {directory}"]
    if not outcomes:
        lines.append("no CRL found in the given sources")
    for outcome in outcomes:
        if outcome.error is not None:
            lines.append(f"REFUSED  {outcome.source}: {outcome.error.code}: {outcome.error}")
            continue
        for report in outcome.reports:
            info = report.partition
            previous = f" (was #{report.previous_number})" if report.action == "replaced" else ""
            lines.append(
                f"{report.action:<9}{info.label}: CRL #{info.crl_number}{previous}, "
                f"{info.entries} entries, next update {_when(info.next_update)}, "
                f"{report.seconds:.2f} s  <- {outcome.source}"
            )
    return lines


@crl.command()
@index_option
@grace_option
@click.option("--at", "at_text", default=None, help="Judge staleness at this ISO-8601 time.")
@click.pass_context
def status(ctx: click.Context, index: Path | None, grace: float, at_text: str | None) -> None:
    """Show every partition; exit 1 if any is stale or damaged."""
    directory = _index_dir(index)
    if not directory.is_dir():
        raise _ConfigProblem(f"no CRL index at {directory} (run 'jpki crl ingest' first)")
    crl_index = _open_index(directory, grace=dt.timedelta(seconds=grace))
    at = _parse_at(at_text)
    statuses = crl_index.status(at)
    stale = [s for s in statuses if s.stale]
    damaged = list(crl_index.load_errors)
    if _json_wanted(ctx):
        click.echo(
            json.dumps(
                {
                    "index": str(directory),
                    "at": (at or dt.datetime.now(dt.timezone.utc)).isoformat(),
                    "grace_seconds": grace,
                    "partitions": [s.to_dict() for s in statuses],
                    "stale": len(stale),
                    "damaged": [{"file": f, "error": e} for f, e in damaged],
                    "ok": not stale and not damaged,
                },
                ensure_ascii=False,
                indent=2,
            )
        )
    else:
        click.echo("\n".join(_status_lines(directory, statuses, damaged)))
    if stale or damaged:
        ctx.exit(EXIT_PROBLEM)


def _status_lines(
    directory: Path, statuses: list[PartitionStatus], damaged: list[tuple[str, str]]
) -> list[str]:
    lines = [f"index: {directory}: {len(statuses)} partition(s)"]
    for st in statuses:
        info = st.info
        flag = "STALE" if st.stale else "ok"
        lines.append(
            f"{flag:<6}{info.label}: CRL #{info.crl_number}, {info.entries} entries, "
            f"this update {_when(info.this_update)}, next update {_when(info.next_update)}"
            + (f", scope {info.scope}" if info.scope != "all" else "")
        )
    for file, error in damaged:
        lines.append(f"DAMAGED {file}: {error}")
    stale = sum(1 for s in statuses if s.stale)
    if stale:
        lines.append(f"{stale} stale partition(s): certificates they cover get no answer")
    return lines
