"""Card sources for ``jpki cert``: ``export`` and ``show-card`` (the ``cert`` group is in
cli/cert.py; attach these with :func:`attach`).

- ``jpki cert export auth|sign|auth-ca|sign-ca [--format pem|der|text] [-o FILE]`` reads a
  certificate from the card (the signature certificate prompts for the signature password,
  or takes ``JPKI_SIGN_PASSWORD``). ``text`` is ``jpki cert show``'s description.
- ``jpki cert show-card KIND`` shows a certificate read from the card as ``jpki cert show``
  shows a file (identity attributes masked unless ``--reveal``).
- :func:`read_card_certificate` is the same source for other commands.

Exit codes are those of cli/card.py.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from cli.card import (
    _with_last_attempt,
    card_options,
    card_session,
    handles_card_errors,
    read_secret,
)
from jpki_sdk.card import CertKind, PinKind
from jpki_sdk.errors import ConfigurationError

__all__ = ["CERT_COMMANDS", "attach", "export", "read_card_certificate", "show_card"]

_KINDS = click.Choice([k.value for k in CertKind], case_sensitive=False)


def read_card_certificate(
    ctx: click.Context,
    kind: CertKind,
    *,
    reader: str | None,
    simulator: Path | None,
    allow_last_attempt: bool = False,
) -> x509.Certificate:
    """Read ``kind`` from the card the options name (prompting for the sign password)."""
    password = read_secret(PinKind.SIGN) if kind is CertKind.SIGN else None
    with card_session(ctx, reader, simulator) as card:
        cert: x509.Certificate = _with_last_attempt(
            ctx,
            PinKind.SIGN,
            allow_last_attempt,
            lambda allow: card.read_certificate(
                kind, sign_password=password, allow_last_attempt=allow
            ),
        )
        return cert


def _description(cert: x509.Certificate, reveal: bool) -> tuple[dict[str, Any], list[str]]:
    from cli.cert import describe_certificate, render_description
    from jpki_sdk.verify import TrustStore

    description = describe_certificate(cert, trust=TrustStore.default(), reveal=reveal)
    return description, render_description(description)


@click.command("export")
@click.argument("kind", type=_KINDS)
@click.option(
    "--format", "fmt", type=click.Choice(["pem", "der", "text"]), default="pem", show_default=True
)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write to this file (default: standard output).",
)
@click.option("--reveal", is_flag=True, help="text format: show identity attributes unmasked.")
@click.option("--allow-last-attempt", is_flag=True, help="Send the password with one try left.")
@card_options
@click.pass_context
@handles_card_errors
def export(
    ctx: click.Context,
    *,
    kind: str,
    fmt: str,
    output: Path | None,
    reveal: bool,
    allow_last_attempt: bool,
    reader: str | None,
    simulator: Path | None,
) -> None:
    """Export a certificate from the card: auth, sign (asks the password), auth-ca, sign-ca."""
    cert_kind = CertKind.from_name(kind)
    cert = read_card_certificate(
        ctx, cert_kind, reader=reader, simulator=simulator, allow_last_attempt=allow_last_attempt
    )
    if fmt == "text":
        description, lines = _description(cert, reveal)
        raw = (
            json.dumps(description, ensure_ascii=False, indent=2)
            if getattr(ctx.find_root().obj, "json_output", False)
            else "\n".join(lines)
        ).encode() + b"\n"
    elif fmt == "der":
        raw = cert.public_bytes(serialization.Encoding.DER)
    else:
        raw = cert.public_bytes(serialization.Encoding.PEM)
    if output is None:
        if fmt == "der" and sys.stdout.isatty():
            raise click.UsageError("DER is binary: use -o FILE (or --format pem)")
        sys.stdout.flush()
        sys.stdout.buffer.write(raw)
        sys.stdout.buffer.flush()
        return
    try:
        output.write_bytes(raw)
    except OSError as exc:
        raise ConfigurationError(f"cannot write {output}: {exc.strerror}") from None
    click.echo(f"{cert_kind.label} written to {output} ({fmt})", err=True)


@click.command("show-card")
@click.argument("kind", type=_KINDS)
@click.option("--reveal", is_flag=True, help="Show identity attributes unmasked.")
@click.option("--allow-last-attempt", is_flag=True, help="Send the password with one try left.")
@card_options
@click.pass_context
@handles_card_errors
def show_card(
    ctx: click.Context,
    *,
    kind: str,
    reveal: bool,
    allow_last_attempt: bool,
    reader: str | None,
    simulator: Path | None,
) -> None:
    """Show a certificate read from the card, as `jpki cert show` shows a file."""
    cert = read_card_certificate(
        ctx,
        CertKind.from_name(kind),
        reader=reader,
        simulator=simulator,
        allow_last_attempt=allow_last_attempt,
    )
    description, lines = _description(cert, reveal)
    if getattr(ctx.find_root().obj, "json_output", False):
        click.echo(json.dumps(description, ensure_ascii=False, indent=2))
    else:
        click.echo("\n".join(lines))


CERT_COMMANDS = [export, show_card]


def attach(group: click.Group) -> None:
    """Add the card commands to the ``cert`` group."""
    for command in CERT_COMMANDS:
        group.add_command(command)
