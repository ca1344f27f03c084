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


#: The command modules and the optional extra each needs beyond the core install. A module
#: whose extra is missing still shows up, and says which extra to install when it is run.
_COMMAND_MODULES: tuple[tuple[str, str | None], ...] = (
    ("card", None),
    ("cert", None),
    ("crl", None),
    ("sim", None),
    ("serve", "server"),
    ("login", "server"),
    ("agent", "server"),
    ("demo", "server"),
)


def _missing_extra(name: str, extra: str, error: ModuleNotFoundError) -> click.Command:
    """A command that explains which extra to install (it cannot run without it)."""

    @click.command(
        name,
        context_settings={"ignore_unknown_options": True, "allow_extra_args": True},
        add_help_option=False,
        help=f"(needs: pip install 'jpki-sdk[{extra}]')",
    )
    def unavailable() -> None:
        raise click.UsageError(
            f"`jpki {name}` needs the optional dependencies of jpki-sdk[{extra}] "
            f"({error.name} is not installed): pip install 'jpki-sdk[{extra}]'"
        )

    return unavailable


def _register() -> None:
    """Attach the command groups. Each lives in its own module under cli/."""
    import importlib

    for module_name, extra in _COMMAND_MODULES:
        try:
            module = importlib.import_module(f"cli.{module_name}")
        except ModuleNotFoundError as error:
            if extra is None or (error.name or "").startswith(("cli", "jpki_sdk", "simulator")):
                raise
            cli.add_command(_missing_extra(module_name, extra, error))
            continue
        if module_name == "card":
            for command in module.CARD_COMMANDS:
                cli.add_command(command)
        elif module_name == "cert":
            from cli import card_cert

            card_cert.attach(module.cert)
            cli.add_command(module.cert)
        else:
            cli.add_command(getattr(module, module_name))


_register()


def main() -> None:
    cli(prog_name="jpki")


if __name__ == "__main__":  # pragma: no cover
    main()
