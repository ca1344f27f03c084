"""Entry point of the `jpki` command. Command groups live in their own modules and are
registered below; this module holds only the group and its global options."""

from __future__ import annotations

import logging
import sys
from dataclasses import dataclass

import click

from jpki_sdk import __version__


@dataclass
class Settings:
    """Global options, shared with every sub-command through the click context."""

    json_output: bool = False
    trace: bool = False
    verbose: bool = False


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="jpki")
@click.option("--json", "json_output", is_flag=True, help="Machine-readable JSON output.")
@click.option("--trace", is_flag=True, help="Redacted APDU trace on stderr (PINs masked).")
@click.option("-v", "--verbose", is_flag=True, help="More log output on stderr.")
@click.pass_context
def cli(ctx: click.Context, json_output: bool, trace: bool, verbose: bool) -> None:
    """jpki: My Number card (JPKI) login and identity verification toolkit."""
    ctx.obj = Settings(json_output=json_output, trace=trace, verbose=verbose)
    level = logging.DEBUG if verbose else logging.WARNING
    logging.basicConfig(
        level=level, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s"
    )


def _register() -> None:
    """Attach the command groups. Each lives in its own module under cli/."""
    from cli import agent, card, card_cert, cert, crl, demo, login, serve, sim

    for command in card.CARD_COMMANDS:
        cli.add_command(command)
    card_cert.attach(cert.cert)
    cli.add_command(cert.cert)
    cli.add_command(crl.crl)
    cli.add_command(sim.sim)
    cli.add_command(serve.serve)
    cli.add_command(login.login)
    cli.add_command(agent.agent)
    cli.add_command(demo.demo)


_register()


def main() -> None:
    cli(prog_name="jpki")


if __name__ == "__main__":  # pragma: no cover
    main()
