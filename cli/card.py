"""Card commands: ``jpki readers|status|pin|sign|verify|info`` (thin over :mod:`jpki_sdk.card`).

Where the card is: ``--reader NAME`` (PC/SC reader, or a unique prefix of its name) or
``--simulator STATEFILE`` (a simulated card's state file), also from the environment as
``JPKI_READER`` / ``JPKI_SIMULATOR``; neither means the first reader holding a JPKI card.
:func:`card_options` adds both options to any command.

PINs are never taken from the command line: they are prompted with hidden input, or read from
the environment for automation (``JPKI_PIN`` for the 4-digit PINs, ``JPKI_TEXT_PIN`` to give
the text PIN separately, ``JPKI_SIGN_PASSWORD`` for the signature password; ``JPKI_NEW_PIN``
/ ``JPKI_NEW_SIGN_PASSWORD`` for ``pin change``). With one try left the PIN is only sent after
an explicit confirmation (or ``--allow-last-attempt``).

Exit codes (:data:`EXIT_CODES`):

== ==================================================================================
0  success
1  verification failed (a signature or integrity check did not pass)
2  usage error
3  configuration or input problem (unreadable file, no PC/SC support, bad state file)
4  no reader, no card, not a JPKI card, card removed, reader in use
5  wrong PIN (tries left in the message and the JSON)
6  PIN blocked
7  PIN not sent: wrong format, one try left and not confirmed, or PIN needed
8  the card refused the operation or answered something unusable
9  the link broke during a PIN operation: the try may have been counted
== ==================================================================================
"""

from __future__ import annotations

import functools
import json
import logging
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import click
from cryptography import x509

from jpki_sdk.card import (
    CardDataError,
    CardError,
    CardRemovedError,
    HashAlg,
    JpkiCard,
    KeyKind,
    LastAttemptRefusedError,
    NoCardError,
    PinAttemptUncertainError,
    PinBlockedError,
    PinChangeUncertainError,
    PinFormatError,
    PinIncorrectError,
    PinKind,
    PinRequiredError,
    ReaderError,
    list_readers,
    open_card,
)
from jpki_sdk.errors import (
    CardCommunicationError,
    ConfigurationError,
    JpkiError,
    PinError,
    VerificationError,
)

__all__ = [
    "CARD_COMMANDS",
    "EXIT_CODES",
    "card_options",
    "card_session",
    "exit_code_for",
    "handles_card_errors",
    "info",
    "pin",
    "pin_change",
    "pin_status",
    "read_secret",
    "readers",
    "sign",
    "status",
    "verify",
]

logger = logging.getLogger(__name__)

EXIT_OK = 0
EXIT_VERIFICATION_FAILED = 1
EXIT_CONFIG = 3
EXIT_NO_CARD = 4
EXIT_WRONG_PIN = 5
EXIT_PIN_BLOCKED = 6
EXIT_PIN_NOT_SENT = 7
EXIT_CARD_ERROR = 8
EXIT_PIN_UNCERTAIN = 9

EXIT_CODES = {
    EXIT_OK: "success",
    EXIT_VERIFICATION_FAILED: "verification failed",
    2: "usage error",
    EXIT_CONFIG: "configuration or input problem",
    EXIT_NO_CARD: "no reader / no card / not a JPKI card / card removed / reader in use",
    EXIT_WRONG_PIN: "wrong PIN",
    EXIT_PIN_BLOCKED: "PIN blocked",
    EXIT_PIN_NOT_SENT: "PIN not sent (format, last try not confirmed, PIN needed)",
    EXIT_CARD_ERROR: "card refused the operation or answered something unusable",
    EXIT_PIN_UNCERTAIN: "link broke during a PIN operation (try may have been counted)",
}

_PIN_ENV = {
    PinKind.AUTH: "JPKI_PIN",
    PinKind.TEXT: "JPKI_TEXT_PIN",
    PinKind.SIGN: "JPKI_SIGN_PASSWORD",
}
_NEW_PIN_ENV = {
    PinKind.AUTH: "JPKI_NEW_PIN",
    PinKind.TEXT: "JPKI_NEW_PIN",
    PinKind.SIGN: "JPKI_NEW_SIGN_PASSWORD",
}
_MAX_SIGN_INPUT = 64 << 20

F = TypeVar("F", bound=Callable[..., Any])


# ------------------------------------------------------------------------------ plumbing


def exit_code_for(error: BaseException) -> int:
    """The documented exit code for an SDK error."""
    if isinstance(error, (PinAttemptUncertainError, PinChangeUncertainError)):
        return EXIT_PIN_UNCERTAIN
    if isinstance(error, PinIncorrectError):
        return EXIT_WRONG_PIN
    if isinstance(error, PinBlockedError):
        return EXIT_PIN_BLOCKED
    if isinstance(error, (PinFormatError, LastAttemptRefusedError, PinRequiredError)):
        return EXIT_PIN_NOT_SENT
    if isinstance(error, PinError):
        return EXIT_PIN_NOT_SENT
    if isinstance(error, (ReaderError, NoCardError, CardRemovedError)):
        return EXIT_NO_CARD
    if isinstance(error, VerificationError):
        return EXIT_VERIFICATION_FAILED
    if isinstance(error, ConfigurationError):
        return EXIT_CONFIG
    if isinstance(error, (CardError, CardDataError, CardCommunicationError, JpkiError)):
        return EXIT_CARD_ERROR
    return 1


def _settings(ctx: click.Context) -> Any:
    return ctx.find_root().obj


def _json_wanted(ctx: click.Context) -> bool:
    return bool(getattr(_settings(ctx), "json_output", False))


def _emit(ctx: click.Context, data: dict[str, Any], lines: list[str]) -> None:
    if _json_wanted(ctx):
        click.echo(json.dumps(data, ensure_ascii=False, indent=2))
    else:
        for line in lines:
            click.echo(line)


def _fail(ctx: click.Context, error: BaseException, code: int) -> None:
    message = str(error)
    if _json_wanted(ctx):
        payload: dict[str, Any] = {
            "error": {"type": type(error).__name__, "message": message, "exit_code": code}
        }
        remaining = getattr(error, "remaining", None)
        if remaining is not None:
            payload["error"]["remaining"] = remaining
        sw = getattr(error, "sw", None)
        if isinstance(sw, int):
            payload["error"]["sw"] = f"{sw:04X}"
        kind = getattr(error, "kind", None)
        if kind is not None and hasattr(kind, "value"):
            payload["error"]["pin" if isinstance(kind, PinKind) else "kind"] = kind.value
        click.echo(json.dumps(payload, ensure_ascii=False))
    else:
        click.echo(f"error: {message}", err=True)
    ctx.exit(code)


def handles_card_errors(func: F) -> F:
    """Turn SDK errors into a one-line message and the documented exit code."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        ctx = click.get_current_context()
        try:
            return func(*args, **kwargs)
        except JpkiError as error:
            _fail(ctx, error, exit_code_for(error))
        return None

    return wrapper  # type: ignore[return-value]


def card_options(func: F) -> F:
    """``--reader NAME`` / ``--simulator STATEFILE`` (env ``JPKI_READER`` / ``JPKI_SIMULATOR``).

    Reusable by any command that opens a card; the two land in ``reader`` and ``simulator``.
    """
    func = click.option(
        "--simulator",
        "simulator",
        envvar="JPKI_SIMULATOR",
        type=click.Path(dir_okay=False, path_type=Path),
        help="Use the simulated card in this state file (env JPKI_SIMULATOR).",
    )(func)
    func = click.option(
        "--reader",
        "reader",
        envvar="JPKI_READER",
        metavar="NAME",
        help="PC/SC reader name or unique prefix (env JPKI_READER); "
        "default: the first reader holding a JPKI card.",
    )(func)
    return func


def _configure_trace(ctx: click.Context) -> None:
    if getattr(_settings(ctx), "trace", False):
        from apdu.trace import TRAFFIC, TRAFFIC_LOGGER_NAME

        traffic = logging.getLogger(TRAFFIC_LOGGER_NAME)
        traffic.setLevel(TRAFFIC)
        if not logging.getLogger().handlers and not traffic.handlers:
            handler = logging.StreamHandler(sys.stderr)
            handler.setFormatter(logging.Formatter("%(message)s"))
            traffic.addHandler(handler)


class _Progress:
    """Progress for slow operations on stderr (only on a terminal; never in --json)."""

    def __init__(self, ctx: click.Context) -> None:
        self.enabled = sys.stderr.isatty() and not _json_wanted(ctx)
        self._last = ""

    def __call__(self, step: str, done: int, total: int | None) -> None:
        if not self.enabled:
            return
        if step == "signing":
            text = "the card is computing the signature (keep it on the reader)..."
        elif total:
            text = f"{step}: {done}/{total} bytes"
        else:
            text = f"{step}: {done} bytes"
        if text != self._last:
            click.echo("\r" + text.ljust(70), err=True, nl=False)
            self._last = text

    def done(self) -> None:
        if self.enabled and self._last:
            click.echo("\r" + " " * 70 + "\r", err=True, nl=False)


def _one_source(ctx: click.Context, reader: str, simulator: Path) -> tuple[str | None, Path | None]:
    """Both given: the one on the command line wins over the environment."""
    source = click.core.ParameterSource
    from_line = {
        name: ctx.get_parameter_source(name) in (source.COMMANDLINE, source.PROMPT)
        for name in ("reader", "simulator")
    }
    if from_line["reader"] and not from_line["simulator"]:
        return reader, None
    if from_line["simulator"] and not from_line["reader"]:
        return None, simulator
    raise click.UsageError("give --reader or --simulator, not both")


@contextmanager
def card_session(
    ctx: click.Context, reader: str | None, simulator: Path | None
) -> Iterator[JpkiCard]:
    """Open the card the options name; close it (clearing its security state) afterwards."""
    _configure_trace(ctx)
    progress = _Progress(ctx)
    if reader and simulator:
        reader, simulator = _one_source(ctx, reader, simulator)
    card = open_card(reader=reader, simulator=simulator, progress=progress)
    try:
        yield card
    finally:
        progress.done()
        card.close()


def read_secret(kind: PinKind, *, new: bool = False) -> str:
    """A PIN from the environment, else prompted with hidden input (never an argument)."""
    env = (_NEW_PIN_ENV if new else _PIN_ENV)[kind]
    value = os.environ.get(env)
    if value is None and kind is PinKind.TEXT and not new:
        value = os.environ.get("JPKI_PIN")
    if value is not None:
        return value
    what = kind.label
    if new:
        result: str = click.prompt(
            f"New {what}", hide_input=True, confirmation_prompt=f"Repeat the new {what}"
        )
        return result
    prompted: str = click.prompt(what[0].upper() + what[1:], hide_input=True)
    return prompted


def _with_last_attempt(
    ctx: click.Context, kind: PinKind, allow: bool, action: Callable[[bool], Any]
) -> Any:
    """Run ``action(allow_last_attempt)``; at one try left, ask before allowing it."""
    try:
        return action(allow)
    except LastAttemptRefusedError:
        interactive = sys.stdin.isatty() and not _json_wanted(ctx)
        if allow or not interactive:
            raise
        click.echo(
            f"Only one try is left for the {kind.label}. A wrong entry blocks it, and only "
            "the municipal office can unblock it.",
            err=True,
        )
        if not click.confirm("Try anyway?", default=False, err=True):
            raise
        return action(True)


def _pin_json(status: Any) -> dict[str, Any]:
    return {
        "remaining": status.remaining,
        "max": status.max_tries,
        "blocked": status.blocked,
        "last_attempt": status.last_attempt,
    }


def _pin_line(status: Any) -> str:
    if status.blocked:
        state = "BLOCKED (reset at the municipal office)"
    elif status.remaining is None:
        state = "tries left unknown"
    else:
        state = f"{status.remaining}/{status.max_tries} tries left"
        if status.last_attempt:
            state += " (last try: a wrong entry blocks it)"
    return f"{status.kind.label}: {state}"


# ------------------------------------------------------------------------------- commands


@click.command("readers")
@click.pass_context
@handles_card_errors
def readers(ctx: click.Context) -> None:
    """List PC/SC readers, whether a card is present, and what kind of card it is."""
    found = list_readers(probe=True)
    data = {
        "readers": [
            {
                "name": r.name,
                "card_present": r.card_present,
                "card": r.presence.value,
                "token": r.token_type.value if r.token_type else None,
                "atr": r.atr.hex().upper() if r.atr else None,
            }
            for r in found
        ]
    }
    lines = []
    for r in found:
        if not r.card_present:
            what = "no card"
        elif r.token_type is not None:
            what = r.token_type.description
        else:
            what = {"other": "a card without JPKI", "in-use": "card in use by another program"}.get(
                r.presence.value, "card (not identified)"
            )
        lines.append(f"{r.name}: {what}")
    if not found:
        lines.append("no PC/SC reader found")
    _emit(ctx, data, lines)
    if not found:
        ctx.exit(EXIT_NO_CARD)


@click.command("status")
@card_options
@click.pass_context
@handles_card_errors
def status(ctx: click.Context, *, reader: str | None, simulator: Path | None) -> None:
    """Card type, tries left for each PIN (no try used), which certificates exist."""
    with card_session(ctx, reader, simulator) as card:
        state = card.status()
        slot = card.slot
    token = state.token
    certs = state.certificates
    data: dict[str, Any] = {
        "card": slot,
        "token": {
            "label": token.label,
            "type": token.token_type.name.lower(),
            "description": token.token_type.description,
        },
        "pins": {kind.value: _pin_json(s) for kind, s in state.pins.items()},
        "certificates": None if certs is None else {"auth": certs.auth, "sign": certs.sign},
    }
    lines = [f"card:   {slot}", f"token:  {token.token_type.description} ({token.label})"]
    lines += ["  " + _pin_line(s) for s in state.pins.values()]
    if certs is not None:
        lines.append(
            "certificates: auth "
            + ("present" if certs.auth else "absent")
            + ", sign "
            + ("present" if certs.sign else "absent (none issued)")
        )
    _emit(ctx, data, lines)


@click.group("pin")
def pin() -> None:
    """PIN counters and PIN change."""


_PIN_CHOICE = click.Choice(["auth", "sign", "text", "all"], case_sensitive=False)


@pin.command("status")
@click.argument("which", type=_PIN_CHOICE, default="all")
@card_options
@click.pass_context
@handles_card_errors
def pin_status(
    ctx: click.Context, *, which: str, reader: str | None, simulator: Path | None
) -> None:
    """Tries left (auth, sign, text or all), read without using a try."""
    kinds = list(PinKind) if which == "all" else [PinKind(which.lower())]
    with card_session(ctx, reader, simulator) as card:
        statuses = []
        for kind in kinds:
            try:
                statuses.append(card.pin_status(kind))
            except JpkiError as exc:
                if which != "all":
                    raise
                logger.debug("no %s PIN: %s", kind.value, exc)
    _emit(
        ctx,
        {"pins": {s.kind.value: _pin_json(s) for s in statuses}},
        [_pin_line(s) for s in statuses],
    )


@pin.command("change")
@click.argument("which", type=click.Choice(["auth", "sign", "text"], case_sensitive=False))
@click.option("--allow-last-attempt", is_flag=True, help="Send the PIN even with one try left.")
@card_options
@click.pass_context
@handles_card_errors
def pin_change(
    ctx: click.Context,
    *,
    which: str,
    allow_last_attempt: bool,
    reader: str | None,
    simulator: Path | None,
) -> None:
    """Change a PIN (prompts for the current and the new one)."""
    kind = PinKind(which.lower())
    current = read_secret(kind)
    new = read_secret(kind, new=True)
    with card_session(ctx, reader, simulator) as card:
        _with_last_attempt(
            ctx,
            kind,
            allow_last_attempt,
            lambda allow: card.change_pin(kind, current, new, allow_last_attempt=allow),
        )
    _emit(ctx, {"changed": kind.value}, [f"{kind.label} changed"])


@click.command("sign")
@click.argument("file", type=click.File("rb"))
@click.option(
    "--key",
    "key_name",
    type=click.Choice(["auth", "sign"]),
    default="auth",
    show_default=True,
    help="Which card key signs.",
)
@click.option(
    "--hash",
    "hash_name",
    type=click.Choice([h.value for h in HashAlg]),
    default="sha256",
    show_default=True,
)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="Where to write the signature (raw PKCS#1 v1.5 bytes).",
)
@click.option(
    "--cert-out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write the signing certificate (PEM), for `jpki verify`.",
)
@click.option("--allow-last-attempt", is_flag=True, help="Send the PIN even with one try left.")
@card_options
@click.pass_context
@handles_card_errors
def sign(
    ctx: click.Context,
    *,
    file: Any,
    key_name: str,
    hash_name: str,
    output: Path,
    cert_out: Path | None,
    allow_last_attempt: bool,
    reader: str | None,
    simulator: Path | None,
) -> None:
    """Sign FILE ('-' for stdin) with the card; the signature is checked before it is written."""
    data = file.read(_MAX_SIGN_INPUT + 1)
    if len(data) > _MAX_SIGN_INPUT:
        raise click.UsageError("FILE is larger than 64 MiB: hash it and sign the digest instead")
    key = KeyKind(key_name)
    alg = HashAlg(hash_name)
    secret = read_secret(key.pin_kind)
    with card_session(ctx, reader, simulator) as card:
        signature = _with_last_attempt(
            ctx,
            key.pin_kind,
            allow_last_attempt,
            lambda allow: card.sign(data, key=key, hash=alg, pin=secret, allow_last_attempt=allow),
        )
        cert = card.read_certificate(key.cert_kind)
    try:
        output.write_bytes(signature)
        if cert_out is not None:
            from cryptography.hazmat.primitives import serialization

            cert_out.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    except OSError as exc:
        raise ConfigurationError(f"cannot write {exc.filename}: {exc.strerror}") from None
    _emit(
        ctx,
        {
            "signature": str(output),
            "bytes": len(signature),
            "key": key.value,
            "hash": alg.value,
            "checked_against_certificate": True,
            "certificate_serial": format(cert.serial_number, "X"),
        },
        [
            f"signature written to {output} ({len(signature)} bytes, {alg.value}, {key.value} "
            "key); it verifies against the card's certificate"
        ],
    )


@click.command("verify")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument("signature", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--cert",
    "cert_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    required=True,
    help="The signer's certificate (PEM or DER).",
)
@click.option(
    "--hash",
    "hash_name",
    type=click.Choice([h.value for h in HashAlg]),
    default="sha256",
    show_default=True,
)
@click.pass_context
@handles_card_errors
def verify(
    ctx: click.Context, file: Path, signature: Path, cert_path: Path, hash_name: str
) -> None:
    """Check that SIGNATURE is CERT's signature over FILE (no card needed).

    This checks the signature only; `jpki cert verify` checks the certificate itself.
    """
    from jpki_sdk.verify import verify_signature

    try:
        data = file.read_bytes()
        sig = signature.read_bytes()
        cert_bytes = cert_path.read_bytes()
    except OSError as exc:
        raise ConfigurationError(f"cannot read {exc.filename}: {exc.strerror}") from None
    certificate = _load_cert(cert_bytes, cert_path)
    verify_signature(certificate, data, sig, hash_name, allow_sha1=hash_name == "sha1")
    _emit(
        ctx,
        {
            "valid": True,
            "hash": hash_name,
            "certificate_serial": format(certificate.serial_number, "X"),
        },
        [
            f"valid: {signature} is a {hash_name} signature over {file} by certificate "
            f"{format(certificate.serial_number, 'X')}"
        ],
    )


def _load_cert(raw: bytes, path: Path) -> x509.Certificate:
    try:
        if raw.lstrip().startswith(b"-----BEGIN"):
            return x509.load_pem_x509_certificate(raw)
        return x509.load_der_x509_certificate(raw)
    except ValueError:
        raise ConfigurationError(f"{path}: not a PEM or DER certificate") from None


@click.command("info")
@click.option("--reveal", is_flag=True, help="Show the 基本4情報 and 個人番号 unmasked.")
@click.option("--no-my-number", is_flag=True, help="Do not read the 個人番号.")
@click.option("--allow-last-attempt", is_flag=True, help="Send the PIN even with one try left.")
@card_options
@click.pass_context
@handles_card_errors
def info(
    ctx: click.Context,
    *,
    reveal: bool,
    no_my_number: bool,
    allow_last_attempt: bool,
    reader: str | None,
    simulator: Path | None,
) -> None:
    """基本4情報 and 個人番号 from the 券面事項入力補助AP (text PIN), masked unless --reveal.

    For form prefill only: this data is not signed by J-LIS and is not verified identity.
    """
    secret = read_secret(PinKind.TEXT)
    with card_session(ctx, reader, simulator) as card:
        basic = _with_last_attempt(
            ctx,
            PinKind.TEXT,
            allow_last_attempt,
            lambda allow: card.read_basic_info(secret, allow_last_attempt=allow),
        )
        number = None if no_my_number else card.read_my_number()
    if reveal:
        shown = {
            "name": basic.name,
            "address": basic.address,
            "birth_date": basic.birth_date.isoformat(),
            "sex": basic.sex.value,
        }
        my_number = number.value if number is not None else None
    else:
        shown = basic.masked()
        my_number = number.masked() if number is not None else None
    integrity = basic.integrity
    data = {
        "basic_info": shown,
        "my_number": my_number,
        "masked": not reveal,
        "integrity": None
        if integrity is None
        else {
            "digests_match": True,
            "signature_consistent_with_card_key": integrity.signature_consistent_with_card_key,
            "proves_jlis_origin": integrity.proves_jlis_origin,
            "card_key": integrity.card_key_id,
        },
        "verified_identity": False,
    }
    sex_label = basic.sex.label if reveal else shown["sex"]
    lines = [
        f"氏名 (name):         {shown['name']}",
        f"住所 (address):      {shown['address']}",
        f"生年月日 (birth):    {shown['birth_date']}",
        f"性別 (sex):          {sex_label}",
    ]
    if my_number is not None:
        lines.append(f"個人番号:            {my_number}")
    if not reveal:
        lines.append("(masked: --reveal shows the values)")
    if integrity is not None:
        lines.append("integrity: " + integrity.describe())
    lines.append("for form prefill only: not verified identity (use the signature certificate)")
    _emit(ctx, data, lines)


CARD_COMMANDS = [readers, status, pin, sign, verify, info]
"""The commands to attach to the ``jpki`` group (``for c in CARD_COMMANDS: cli.add_command(c)``)."""
