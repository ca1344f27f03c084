"""`jpki demo`: the main job on the embedded default card."""

from __future__ import annotations

import click


@click.command()
@click.option("--headless", is_flag=True, help="Run without waiting for a person (CI).")
def demo(headless: bool) -> None:
    """Show what the SDK finds: readers, cards, and the JPKI application."""
    click.echo("jpki demo: nothing wired yet")
