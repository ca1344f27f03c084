"""`jpki login`: the full login round trip from the command line, with a card.

::

    jpki login --service http://127.0.0.1:8750 --origin https://rp.example [--identity]

Gets a challenge from the service, asks for the PIN (hidden; or ``JPKI_PIN``, and for
``--identity`` the signature password ``JPKI_SIGN_PASSWORD``), has the card sign, sends the
token to the service and prints the result. The card is ``--reader NAME``, ``--simulator
STATEFILE`` or the first reader holding a JPKI card. The service's API key comes from
``JPKI_API_KEY`` (preferred: command lines are visible to other users) or ``--api-key``.
Identity attributes are masked in the output unless ``--reveal``.

Exit codes: those of the card commands (``jpki card``: 1 verification refused, 4 no card,
5 wrong PIN, 6 blocked, 7 PIN not sent, ...) and 10: the service could not be reached or
refused the request itself (wrong URL, API key or origin).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from cli.card import card_options, card_session, exit_code_for, read_secret
from jpki_sdk.auth.client import sign_challenge
from jpki_sdk.auth.types import AuthPurpose, SignatureAlgorithm
from jpki_sdk.card import PinKind
from jpki_sdk.errors import JpkiError
from jpki_sdk.server.client import RemoteVerificationError, ServiceClient, ServiceError

__all__ = ["login"]

EXIT_SERVICE = 10
_MASK = "***"


def _json_wanted(ctx: click.Context) -> bool:
    return bool(getattr(ctx.find_root().obj, "json_output", False))


def _masked(result: dict[str, Any], reveal: bool) -> dict[str, Any]:
    if reveal or "attributes" not in result:
        return result
    shown = dict(result)
    shown["attributes"] = {
        k: v if isinstance(v, bool) else _MASK for k, v in result["attributes"].items()
    }
    return shown


def _lines(result: dict[str, Any]) -> list[str]:
    lines = [f"{result['purpose']} verified for {result['origin']}"]
    if result.get("test_root"):
        lines.append("WARNING: verified against a TEST root: this is not a real My Number card")
    subject = result.get("subject")
    if isinstance(subject, dict):
        lines.append(f"  subject key:  {subject['key']}")
        lines.append(f"  serial:       {subject['serial']}")
        lines.append(f"  CN:           {subject['cn']}")
        lines.append(
            f"  issuer:       {subject['issuer']} (generation {subject['issuer_generation']})"
        )
    else:
        cert = result["certificate"]
        lines.append(f"  serial:       {cert['serial']}")
        lines.append(f"  issuer:       {cert['issuer']} (generation {cert['issuer_generation']})")
    rev = result["revocation"]
    lines.append(
        f"  revocation:   {rev['status']} (mode {rev['mode']}, source {rev['source'] or 'none'})"
    )
    for name, value in result.get("attributes", {}).items():
        lines.append(f"  {name}: {value}")
    return lines


def _fail(ctx: click.Context, error: BaseException, code: int) -> None:
    if _json_wanted(ctx):
        payload: dict[str, Any] = {
            "error": {"type": type(error).__name__, "message": str(error), "exit_code": code}
        }
        for attr in ("code", "step", "status", "remaining"):
            value = getattr(error, attr, None)
            if value is not None:
                payload["error"][attr] = value
        click.echo(json.dumps(payload, ensure_ascii=False))
    else:
        click.echo(f"error: {error}", err=True)
    ctx.exit(code)


@click.command()
@click.option(
    "--service",
    "service_url",
    required=True,
    envvar="JPKI_SERVICE_URL",
    help="Base URL of the jpki service (env JPKI_SERVICE_URL).",
)
@click.option(
    "--origin",
    required=True,
    envvar="JPKI_ORIGIN",
    help="The relying party's origin the card signs for (env JPKI_ORIGIN).",
)
@click.option(
    "--identity",
    is_flag=True,
    help="Identity verification with the signature certificate and password.",
)
@click.option(
    "--attributes",
    default="name,address,birth_date,sex",
    show_default=True,
    help="With --identity: comma-separated attributes to request "
    "(name, address, birth_date, sex, *_substitutes, age_over_N).",
)
@click.option(
    "--api-key",
    envvar="JPKI_API_KEY",
    required=True,
    help="The service API key (prefer the JPKI_API_KEY environment variable).",
)
@click.option("--session-id", default=None, help="Bind the challenge to this session id.")
@click.option(
    "--algorithm",
    type=click.Choice([a.value for a in SignatureAlgorithm]),
    default="RS256",
    show_default=True,
)
@click.option(
    "--allow-last-attempt", is_flag=True, help="Send the PIN even when only one try is left."
)
@click.option("--reveal", is_flag=True, help="Show identity attributes unmasked.")
@card_options
@click.pass_context
def login(
    ctx: click.Context,
    *,
    service_url: str,
    origin: str,
    identity: bool,
    attributes: str,
    api_key: str,
    session_id: str | None,
    algorithm: str,
    allow_last_attempt: bool,
    reveal: bool,
    reader: str | None,
    simulator: Path | None,
) -> None:
    """Log in (or verify identity) at a jpki service with a card."""
    purpose = AuthPurpose.IDENTITY if identity else AuthPurpose.LOGIN
    wanted = [a.strip() for a in attributes.split(",") if a.strip()] if identity else []
    try:
        with ServiceClient(service_url, api_key) as service:
            challenge = service.create_challenge(purpose, origin=origin, session_id=session_id)
            pin = read_secret(PinKind.SIGN if identity else PinKind.AUTH)
            with card_session(ctx, reader, simulator) as card:
                token = sign_challenge(
                    card,
                    challenge.nonce,
                    challenge.origin,
                    purpose,
                    pin,
                    algorithm=algorithm,
                    allow_last_attempt=allow_last_attempt,
                )
            result = service.verify(
                token,
                origin=challenge.origin,
                session_id=session_id,
                purpose=purpose,
                attributes=wanted,
            )
    except RemoteVerificationError as error:
        _fail(ctx, error, exit_code_for(error))
        return
    except ServiceError as error:
        _fail(ctx, error, EXIT_SERVICE)
        return
    except JpkiError as error:
        _fail(ctx, error, exit_code_for(error))
        return
    except ValueError as error:  # e.g. an origin that is not one
        _fail(ctx, error, 3)
        return
    shown = _masked(result, reveal)
    if _json_wanted(ctx):
        click.echo(json.dumps(shown, ensure_ascii=False, indent=2))
    else:
        for line in _lines(shown):
            click.echo(line)
