"""`jpki agent`: the local card agent that lets allowed web pages log in with the card.

    jpki agent --allow-origin https://shop.example                    # physical reader
    jpki agent --allow-origin http://127.0.0.1:8080 --simulator card.json
    jpki agent --allow-origin https://kiosk.city.example --kiosk https://kiosk.city.example

Listens on 127.0.0.1 only (default port 24727). The PIN is asked at this terminal, after the
requesting origin, the purpose and the tries left have been shown; ``--kiosk ORIGIN`` lets that
one (allowed) kiosk page send the PIN itself. Thin: the work is in :mod:`jpki_sdk.agent`.
"""

from __future__ import annotations

import logging
from pathlib import Path

import click

from jpki_sdk.agent import (
    DEFAULT_PORT,
    LOOPBACK_HOST,
    AgentConfig,
    CardAgent,
    CardSource,
    ReaderCardSource,
    SimulatorFileSource,
    TerminalPinPrompt,
    run_agent,
)
from jpki_sdk.errors import ConfigurationError

__all__ = ["agent"]

logger = logging.getLogger(__name__)


@click.command("agent")
@click.option(
    "--allow-origin",
    "origins",
    multiple=True,
    metavar="ORIGIN",
    help="A web origin allowed to ask for signatures (exact match; repeat for several).",
)
@click.option(
    "--host",
    default=LOOPBACK_HOST,
    show_default=True,
    help="Bind address. Only 127.0.0.1 is accepted: the card is never exposed to the network.",
)
@click.option("--port", type=int, default=DEFAULT_PORT, show_default=True, help="TCP port.")
@click.option("--reader", default=None, metavar="NAME", help="PC/SC reader name or prefix.")
@click.option(
    "--simulator",
    "state_file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    metavar="STATEFILE",
    help="Use a simulated card state file (jpki sim init) instead of a reader.",
)
@click.option(
    "--kiosk",
    "kiosk_origin",
    default=None,
    metavar="ORIGIN",
    help="Kiosk mode: this allowed origin's page sends the PIN itself (off by default).",
)
@click.option(
    "--kiosk-allow-last-attempt",
    is_flag=True,
    help="Kiosk mode: let the kiosk page use the last PIN try (its screen must ask first).",
)
@click.option(
    "--failure-delay",
    type=float,
    default=2.0,
    show_default=True,
    help="Seconds to wait after a wrong PIN (doubles per further failure, max 60).",
)
@click.option(
    "--prompt-timeout",
    type=float,
    default=120.0,
    show_default=True,
    help="Seconds to wait for the PIN at the terminal.",
)
def agent(
    *,
    origins: tuple[str, ...],
    host: str,
    port: int,
    reader: str | None,
    state_file: Path | None,
    kiosk_origin: str | None,
    kiosk_allow_last_attempt: bool,
    failure_delay: float,
    prompt_timeout: float,
) -> None:
    """Run the local card agent for web pages (listens on 127.0.0.1 only)."""
    if reader is not None and state_file is not None:
        raise click.UsageError("give --reader or --simulator, not both")
    try:
        config = AgentConfig(
            allowed_origins=origins,
            host=host,
            port=port,
            kiosk_origin=kiosk_origin,
            kiosk_allow_last_attempt=kiosk_allow_last_attempt,
            failure_delay=failure_delay,
            max_failure_delay=max(60.0, failure_delay),
            prompt_timeout=prompt_timeout,
        )
    except ConfigurationError as exc:
        raise click.ClickException(str(exc)) from None
    cards: CardSource
    if state_file is not None:
        if not state_file.is_file():
            raise click.ClickException(f"no simulator state file at {state_file}")
        cards = SimulatorFileSource(state_file)
    else:
        cards = ReaderCardSource(reader)
    terminal = TerminalPinPrompt.available()
    non_kiosk = [o for o in config.allowed_origins if not config.is_kiosk(o)]
    if non_kiosk and not terminal:
        click.echo(
            "warning: no terminal to ask for the PIN: requests from "
            + ", ".join(non_kiosk)
            + " will be refused (no_terminal)",
            err=True,
        )
    click.echo(f"jpki agent on http://{LOOPBACK_HOST}:{config.port}  (card: {cards.describe()})")
    for origin in config.allowed_origins:
        where = "PIN from the kiosk page" if config.is_kiosk(origin) else "PIN at this terminal"
        click.echo(f"  allowed: {origin}  ({where})")
    click.echo("Press Ctrl-C to stop.")
    try:
        run_agent(CardAgent(config, cards))
    except ConfigurationError as exc:
        hint = " (is another agent running? --port chooses another)" if "in use" in str(exc) else ""
        raise click.ClickException(f"{exc}{hint}") from None
