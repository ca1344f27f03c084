"""`jpki sim ...`: simulated My Number cards from the command line.

- ``jpki sim init STATEFILE``: a new test card (deterministic from ``--seed``), certificates
  issued by the test CA (``--ca DIR``, created on first use).
- ``jpki sim show STATEFILE``: what is on it; personal data masked unless ``--reveal``; PINs
  are never shown (the card keeps only their digests).
- ``jpki sim serve STATEFILE --vpcd HOST:PORT``: be the card in vpcd's PC/SC reader.
- ``jpki sim revoke`` / ``jpki sim ca ...``: the test PKI (cli/sim_ca.py).

Thin: the work is done by the simulator package.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
import os
from pathlib import Path
from typing import Any

import click
from cryptography import x509

from simulator.card import SimulatedCard
from simulator.faults import Faults, FaultSpecError
from simulator.files import BinaryFile, PinFile
from simulator.identity import Identity
from simulator.profile import PRESETS, CardProfile, Latency, PinLengthPolicy, ProfileError, preset
from simulator.provision import (
    DEFAULT_AUTH_PIN,
    DEFAULT_JUKI_PIN,
    DEFAULT_SIGN_PASSWORD,
    DEFAULT_TEXT_PIN,
    new_card,
    verification_code_b,
)
from simulator.serve import parse_host_port, serve_vpcd
from simulator.state import CardState, StateFileError

__all__ = ["sim"]

logger = logging.getLogger(__name__)

MASK = "<masked>"


def _json_wanted(ctx: click.Context) -> bool:
    return bool(getattr(ctx.find_root().obj, "json_output", False))


def _emit(ctx: click.Context, data: dict[str, Any], lines: list[str]) -> None:
    if _json_wanted(ctx):
        click.echo(json.dumps(data, ensure_ascii=False, indent=2))
    else:
        click.echo("\n".join(lines))


@click.group("sim")
def sim() -> None:
    """Simulated My Number cards (test cards only: test keys, test CA, fake people)."""


# -- init --------------------------------------------------------------------------------------


def _load_or_create_pki(ca_dir: str | None) -> Any:
    from simulator.pki import PkiStoreError, TestPki, default_ca_directory

    path = Path(ca_dir).expanduser() if ca_dir else default_ca_directory()
    if (path / "manifest.json").exists():
        try:
            return TestPki.load(path)
        except PkiStoreError as exc:
            raise click.ClickException(str(exc)) from None
    click.echo(f"creating a test CA in {path} (TEST roots, never trusted by default)", err=True)
    try:
        return TestPki.create(path, seed=0)
    except (PkiStoreError, OSError) as exc:
        raise click.ClickException(f"cannot create a test CA in {path}: {exc}") from None


def _identity(
    *,
    seed: int,
    family_name: str | None,
    given_name: str | None,
    address: str | None,
    birth_date: dt.date | None,
    sex: str | None,
    my_number: str | None,
    municipality: str | None,
) -> Identity:
    try:
        person = Identity.generate(
            seed, municipality_code=municipality, sex=sex, birth_date=birth_date
        )
        changes: dict[str, Any] = {}
        if family_name is not None:
            changes["family_name"] = family_name
        if given_name is not None:
            changes["given_name"] = given_name
        if address is not None:
            changes["address"] = address
        if my_number is not None:
            changes["my_number"] = my_number
        if changes:
            if "family_name" in changes or "given_name" in changes:
                changes["name_substitutes"] = ""
            if "address" in changes:
                changes["address_substitutes"] = ""
            person = dataclasses.replace(person, **changes)
    except (ValueError, TypeError) as exc:
        raise click.BadParameter(str(exc)) from None
    return person


def _profile(
    *,
    name: str,
    atr: str | None,
    reselect_clears_state: bool | None,
    read_past_end: str | None,
    wrong_length_pin: str | None,
    blocked_sw: str | None,
    long_basic_info_length: bool,
) -> CardProfile:
    try:
        profile = preset(name)
        changes: dict[str, Any] = {}
        if atr is not None:
            changes["atr"] = bytes.fromhex(atr)
        if reselect_clears_state is not None:
            changes["reselect_clears_state"] = reselect_clears_state
        if read_past_end is not None:
            changes["read_past_end_sw"] = int(read_past_end, 16)
        if wrong_length_pin is not None:
            changes["wrong_length_pin"] = PinLengthPolicy(wrong_length_pin)
        if blocked_sw is not None:
            changes["blocked_sw"] = int(blocked_sw, 16)
        if long_basic_info_length:
            changes["long_basic_info_length"] = True
        return profile.replace(**changes) if changes else profile
    except (ProfileError, ValueError) as exc:
        raise click.BadParameter(str(exc)) from None


def _date(ctx: click.Context, param: click.Parameter, value: str | None) -> dt.date | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter("use YYYY-MM-DD") from None


def _time(ctx: click.Context, param: click.Parameter, value: str | None) -> dt.datetime | None:
    if value is None:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise click.BadParameter("use ISO 8601, e.g. 2026-04-01T09:00:00+09:00") from None
    if parsed.tzinfo is None:
        raise click.BadParameter("give a time zone (+09:00 or Z)")
    return parsed


@sim.command("init")
@click.argument("statefile", type=click.Path(dir_okay=False))
@click.option("--seed", type=int, default=0, show_default=True, help="Identity and card seed.")
@click.option(
    "--auth-pin",
    envvar="JPKI_SIM_AUTH_PIN",
    default=DEFAULT_AUTH_PIN,
    show_default=True,
    help="利用者証明用 PIN (4 digits). Env: JPKI_SIM_AUTH_PIN.",
)
@click.option(
    "--sign-pin",
    envvar="JPKI_SIM_SIGN_PIN",
    default=DEFAULT_SIGN_PASSWORD,
    show_default=True,
    help="署名用パスワード (6-16 A-Z 0-9). Env: JPKI_SIM_SIGN_PIN.",
)
@click.option(
    "--text-pin",
    envvar="JPKI_SIM_TEXT_PIN",
    default=DEFAULT_TEXT_PIN,
    show_default=True,
    help="券面事項入力補助 PIN (4 digits). Env: JPKI_SIM_TEXT_PIN.",
)
@click.option(
    "--juki-pin",
    envvar="JPKI_SIM_JUKI_PIN",
    default=DEFAULT_JUKI_PIN,
    show_default=True,
    help="住基 PIN (4 digits). Env: JPKI_SIM_JUKI_PIN.",
)
@click.option("--no-sign-cert", is_flag=True, help="No signature certificate (holder under 15).")
@click.option(
    "--profile",
    "profile_name",
    type=click.Choice(sorted(PRESETS)),
    default="contact",
    show_default=True,
    help="Card profile preset (ATR, interface, token label).",
)
@click.option("--atr", default=None, help="Override the profile's ATR (hex).")
@click.option(
    "--reselect-clears-state/--reselect-keeps-state",
    default=None,
    help="Whether re-selecting the current AP clears VERIFY state (default: keeps).",
)
@click.option(
    "--read-past-end",
    type=click.Choice(["6B00", "6282"]),
    default=None,
    help="READ BINARY answer at/after the end of an EF (default 6B00).",
)
@click.option(
    "--wrong-length-pin",
    type=click.Choice([p.value for p in PinLengthPolicy]),
    default=None,
    help="VERIFY with an impossible PIN length: counts (default) or reject.",
)
@click.option(
    "--blocked-sw",
    type=click.Choice(["6984", "6983"]),
    default=None,
    help="VERIFY answer on a blocked key (default 6984, as observed; with 6983 OpenSC reports "
    "CKR_PIN_LOCKED).",
)
@click.option(
    "--long-basic-info-length",
    is_flag=True,
    help="Write text-AP EF 0002's outer length as 82 LLLL.",
)
@click.option("--family-name", default=None, help="氏 (default: generated from the seed).")
@click.option("--given-name", default=None, help="名.")
@click.option("--address", default=None, help="住所 (full-width digits and －).")
@click.option("--birth-date", default=None, callback=_date, help="生年月日, YYYY-MM-DD.")
@click.option(
    "--sex",
    type=click.Choice(["1", "2", "9"]),
    default=None,
    help="1 male, 2 female, 9 not applicable.",
)
@click.option("--my-number", default=None, help="個人番号 (12 digits, valid check digit).")
@click.option("--municipality", default=None, help="Municipality code (5 digits, built-in table).")
@click.option("--issued-at", default=None, callback=_time, help="Issuance time (default: now).")
@click.option(
    "--ca",
    "ca_dir",
    envvar="JPKI_SIM_CA",
    type=click.Path(file_okay=False),
    default=None,
    help="Test CA directory (default: $JPKI_SIM_CA or per-user).",
)
@click.option("--force", is_flag=True, help="Overwrite an existing state file.")
@click.pass_context
def init(ctx: click.Context, /, statefile: str, **opts: Any) -> None:
    """Create a new simulated card in STATEFILE.

    PINs on the command line are acceptable here only because this is a TEST card; prefer the
    environment variables in shared shells.
    """
    path = Path(statefile)
    if path.exists() and not opts["force"]:
        raise click.ClickException(f"{path} exists (use --force to replace it)")
    person = _identity(
        seed=opts["seed"],
        family_name=opts["family_name"],
        given_name=opts["given_name"],
        address=opts["address"],
        birth_date=opts["birth_date"],
        sex=opts["sex"],
        my_number=opts["my_number"],
        municipality=opts["municipality"],
    )
    profile = _profile(
        name=opts["profile_name"],
        atr=opts["atr"],
        reselect_clears_state=opts["reselect_clears_state"],
        read_past_end=opts["read_past_end"],
        wrong_length_pin=opts["wrong_length_pin"],
        blocked_sw=opts["blocked_sw"],
        long_basic_info_length=opts["long_basic_info_length"],
    )
    pki = _load_or_create_pki(opts["ca_dir"])
    try:
        state = new_card(
            pki,
            person,
            auth_pin=opts["auth_pin"],
            sign_password=opts["sign_pin"],
            text_pin=opts["text_pin"],
            juki_pin=opts["juki_pin"],
            sign=not opts["no_sign_cert"],
            profile=profile,
            now=opts["issued_at"],
            seed=opts["seed"],
        )
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        close = getattr(pki, "close", None)
        if close is not None:
            close()
    try:
        state.save(path)
    except StateFileError as exc:
        raise click.ClickException(str(exc)) from None
    summary = _summary(state, reveal=False)
    _emit(
        ctx,
        {"statefile": str(path), **summary},
        [f"created {path}", *_summary_lines(summary)],
    )


# -- show --------------------------------------------------------------------------------------


def _cert_info(der: bytes, *, reveal: bool) -> dict[str, Any]:
    cert = x509.load_der_x509_certificate(der)
    personal = any(a.oid == x509.NameOID.LOCALITY_NAME for a in cert.subject)
    return {
        "subject": cert.subject.rfc4514_string() if reveal or not personal else MASK,
        "issuer": cert.issuer.rfc4514_string(),
        "serial": f"{cert.serial_number:X}",
        "not_before": cert.not_valid_before_utc.isoformat(),
        "not_after": cert.not_valid_after_utc.isoformat(),
        "bytes": len(der),
    }


_CERT_EFS = {0x000A: "auth", 0x000B: "auth CA", 0x0001: "sign", 0x0002: "sign CA"}


def _summary(state: CardState, *, reveal: bool) -> dict[str, Any]:
    profile = state.profile
    out: dict[str, Any] = {
        "profile": profile.name,
        "atr": profile.atr.hex(" ").upper(),
        "interface": profile.interface.value,
        "token_label": profile.token_label,
        "sign_certificate": bool(state.info.get("sign_certificate")),
        "card_expiry": state.info.get("card_expiry"),
        "municipality_code": state.info.get("municipality_code"),
    }
    identity = state.identity or {}
    if reveal:
        out["identity"] = {
            key: identity.get(key)
            for key in ("family_name", "given_name", "address", "birth_date", "sex", "my_number")
        }
        code = state.info.get("security_code")
        expiry = state.info.get("card_expiry")
        out["security_code"] = code
        if isinstance(code, str) and isinstance(expiry, str) and identity.get("birth_date"):
            out["verification_code_b"] = verification_code_b(
                dt.date.fromisoformat(identity["birth_date"]),
                dt.date.fromisoformat(expiry).year,
                code,
            )
    else:
        out["identity"] = {key: MASK for key in ("name", "address", "birth_date", "sex",
                                                  "my_number")}  # fmt: skip
    certs: dict[str, Any] = {}
    jpki = state.application("jpki")
    for fid, label in _CERT_EFS.items():
        ef = jpki.get(fid)
        if isinstance(ef, BinaryFile):
            try:
                certs[label] = _cert_info(ef.object, reveal=reveal)
            except ValueError:
                certs[label] = {"error": "not a certificate"}
    out["certificates"] = certs
    out["pins"] = [
        {
            "application": app.name,
            "key": f"{pin.fid:04X}",
            "label": pin.label,
            "tries_left": pin.remaining,
            "max_tries": pin.max_tries,
            "blocked": pin.blocked,
        }
        for app, pin in state.iter_pins()
        if isinstance(pin, PinFile)
    ]
    out["profile_options"] = {
        "reselect_clears_state": profile.reselect_clears_state,
        "read_past_end_sw": f"{profile.read_past_end_sw:04X}",
        "wrong_length_pin": profile.wrong_length_pin.value,
        "blocked_sw": f"{profile.blocked_sw:04X}",
        "extended_length": profile.extended_length,
        "max_command_data": profile.max_command_data,
        "max_response_data": profile.max_response_data,
    }
    return out


def _summary_lines(summary: dict[str, Any]) -> list[str]:
    lines = [
        f"profile:      {summary['profile']} ({summary['interface']}), token "
        f"{summary['token_label']}",
        f"ATR:          {summary['atr']}",
        f"card expiry:  {summary['card_expiry']}   municipality {summary['municipality_code']}",
        "holder:       " + ", ".join(f"{k}={v}" for k, v in summary["identity"].items()),
    ]
    if "verification_code_b" in summary:
        lines.append(f"security code {summary['security_code']}, "
                     f"照合番号B {summary['verification_code_b']}")  # fmt: skip
    if not summary["sign_certificate"]:
        lines.append("no signature certificate (EF 0001, 001A, 001B absent)")
    for label, info in summary["certificates"].items():
        if "error" in info:
            lines.append(f"cert {label:8}: {info['error']}")
            continue
        lines.append(
            f"cert {label:8}: serial {info['serial']}, until {info['not_after']}, "
            f"subject {info['subject']}"
        )
    for pin in summary["pins"]:
        state = "BLOCKED" if pin["blocked"] else f"{pin['tries_left']}/{pin['max_tries']} tries"
        lines.append(f"PIN {pin['application']:6} {pin['key']} {pin['label']}: {state}")
    return lines


@sim.command("show")
@click.argument("statefile", type=click.Path(dir_okay=False))
@click.option("--reveal", is_flag=True, help="Show personal data (never PINs).")
@click.pass_context
def show(ctx: click.Context, statefile: str, reveal: bool) -> None:
    """Show what is on the simulated card in STATEFILE."""
    try:
        state = CardState.load(statefile)
    except StateFileError as exc:
        raise click.ClickException(str(exc)) from None
    summary = _summary(state, reveal=reveal)
    _emit(ctx, {"statefile": statefile, **summary}, _summary_lines(summary))


# -- serve -------------------------------------------------------------------------------------


@sim.command("serve")
@click.argument("statefile", type=click.Path(dir_okay=False))
@click.option(
    "--vpcd",
    "vpcd_address",
    default="127.0.0.1:35963",
    show_default=True,
    help="vpcd's HOST:PORT (the card connects to it).",
)
@click.option(
    "--fault",
    "fault_specs",
    multiple=True,
    help="remove@N, remove-before@N, reinsert=S, delay=S, max-apdu=N, sw@N=XXXX.",
)
@click.option(
    "--latency",
    type=click.Choice(["profile", "off", "realistic"]),
    default="profile",
    show_default=True,
    help="Latency model (profile = as stored; off by default).",
)
@click.pass_context
def serve(
    ctx: click.Context,
    statefile: str,
    vpcd_address: str,
    fault_specs: tuple[str, ...],
    latency: str,
) -> None:
    """Be the card in STATEFILE inside vpcd's PC/SC reader until interrupted.

    Every PIN counter change is written to STATEFILE before the card answers.
    """
    try:
        host, port = parse_host_port(vpcd_address)
        faults = Faults.parse(fault_specs)
    except (ValueError, FaultSpecError) as exc:
        raise click.BadParameter(str(exc)) from None
    try:
        card = SimulatedCard.open(statefile, faults=faults)
    except StateFileError as exc:
        raise click.ClickException(str(exc)) from None
    if latency == "off":
        card.latency = Latency()
    elif latency == "realistic":
        card.latency = Latency.realistic(card.profile.interface)
    for line in faults.describe():
        click.echo(f"fault: {line}", err=True)
    click.echo(f"serving {os.fspath(statefile)} to vpcd at {host}:{port} (Ctrl-C to stop)",
               err=True)  # fmt: skip
    serve_vpcd(card, host, port)


def _register_pki_commands() -> None:
    try:
        from cli import sim_ca
    except ImportError:  # pragma: no cover - shipped together
        return
    sim.add_command(sim_ca.revoke)
    sim.add_command(sim_ca.ca)


_register_pki_commands()
