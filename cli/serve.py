"""`jpki serve --config FILE`: the HTTP authentication service (needs the ``server`` extra).

- ``jpki serve --config service.toml``: serve until interrupted (``--workers N`` for N
  processes; the challenge store must then be sqlite or redis).
- ``jpki serve --config service.toml --check``: check the configuration, open the trust store,
  revocation sources and challenge store, print a summary, exit.
- ``jpki serve --new-api-key [--name NAME --origin URL ...]``: print a new API key (give it
  to the relying party) and the ``[[api_keys]]`` entry with its hash for the configuration.

The configuration format is documented in :mod:`jpki_sdk.server.config` and
docs/relying-party-guide.md. Exit codes: 0 ok, 3 configuration problem.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from jpki_sdk.errors import ConfigurationError

__all__ = ["serve"]

EXIT_CONFIG = 3


def _json_wanted(ctx: click.Context) -> bool:
    return bool(getattr(ctx.find_root().obj, "json_output", False))


def _config_error(ctx: click.Context, error: Exception) -> None:
    if _json_wanted(ctx):
        click.echo(json.dumps({"error": {"type": "ConfigurationError", "message": str(error)}}))
    else:
        click.echo(f"configuration error: {error}", err=True)
    ctx.exit(EXIT_CONFIG)


def _new_key(ctx: click.Context, name: str, origins: tuple[str, ...]) -> None:
    from jpki_sdk.server.apikeys import ApiKey, generate_api_key, hash_api_key

    key = generate_api_key()
    digest = hash_api_key(key)
    entry = ApiKey.from_hex(name, digest, origins or ("https://rp.example",))
    if _json_wanted(ctx):
        click.echo(
            json.dumps(
                {"api_key": key, "name": entry.name, "sha256": digest, "origins": entry.origins}
            )
        )
        return
    origin_list = ", ".join(f'"{o}"' for o in entry.origins)
    click.echo(f"API key (give it to the relying party; it is not stored anywhere): {key}")
    click.echo("")
    click.echo("Add to the service configuration:")
    click.echo("")
    click.echo("[[api_keys]]")
    click.echo(f'name = "{entry.name}"')
    click.echo(f'sha256 = "{digest}"')
    click.echo(f"origins = [{origin_list}]")


@click.command()
@click.option(
    "--config",
    "config_path",
    envvar="JPKI_SERVER_CONFIG_FILE",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Service configuration (TOML); JPKI_SERVER_* environment variables override it.",
)
@click.option(
    "--workers",
    type=click.IntRange(1, 64),
    default=1,
    show_default=True,
    help="Worker processes (sqlite or redis challenge store required above 1).",
)
@click.option("--check", is_flag=True, help="Check the configuration and exit.")
@click.option("--new-api-key", is_flag=True, help="Print a new API key and its entry, exit.")
@click.option("--name", default="relying-party", show_default=True, help="With --new-api-key.")
@click.option("--origin", "origins", multiple=True, help="With --new-api-key (repeatable).")
@click.pass_context
def serve(
    ctx: click.Context,
    *,
    config_path: Path | None,
    workers: int,
    check: bool,
    new_api_key: bool,
    name: str,
    origins: tuple[str, ...],
) -> None:
    """Run the HTTP authentication service for relying parties."""
    try:
        if new_api_key:
            _new_key(ctx, name, origins)
            return
        try:
            from jpki_sdk.server import Service, load_config, run
        except ImportError as exc:
            raise ConfigurationError(
                f"the service needs the 'server' extra (pip install 'jpki-sdk[server]'): {exc}"
            ) from None
        config = load_config(config_path)
        if check:
            service = Service.from_config(config)
            summary: dict[str, Any] = {"ok": True, **config.describe()}
            summary["health"] = service.health()
            service.close()
            if _json_wanted(ctx):
                click.echo(json.dumps(summary, ensure_ascii=False))
            else:
                click.echo("configuration OK")
                for key, value in summary.items():
                    if key != "ok":
                        click.echo(f"  {key}: {value}")
            return
        run(config, workers=workers)
    except ConfigurationError as error:
        _config_error(ctx, error)
