"""`jpki demo`: the whole story on a simulated card, on this machine.

Starts the verification service (test PKI roots trusted explicitly, CRLs, OCSP responder,
SQLite challenge store), the card agent on simulated cards, and a demo relying-party site, all
on 127.0.0.1; prints the URL and what to do, and serves until Ctrl-C.

``--headless`` (or no terminal on stdin, as in CI and ``make demo``) instead plays both journeys
and the failure cases over real HTTP and prints the results; the exit code is non-zero if any
scenario fails. Thin: the work is in :mod:`jpki_sdk.demo`.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from jpki_sdk.agent import DEFAULT_PORT
from jpki_sdk.demo import DEFAULT_SITE_PORT, DemoOptions, DemoStack, ScenarioResult, run_headless
from jpki_sdk.errors import JpkiError
from simulator.provision import DEFAULT_AUTH_PIN, DEFAULT_SIGN_PASSWORD

__all__ = ["demo"]

EXIT_SCENARIO_FAILED = 1
EXIT_START_FAILED = 3


def _json_wanted(ctx: click.Context) -> bool:
    return bool(getattr(ctx.find_root().obj, "json_output", False))


def _instructions(stack: DemoStack) -> str:
    return f"""
  Demo relying party:  {stack.site_url}/        <- open this in a browser
  Card agent:          {stack.agent_url}  (kiosk mode for the demo site: the page's PIN field)
  Verification service {stack.service_url}  (config: {stack.workdir / "service.toml"})
  Demo controls:       {stack.site_url}/controls  (insert / pull / revoked card, reset PINs)

  Simulated card A is in the reader. Its PINs (test values):
    auth PIN (log in):                 {DEFAULT_AUTH_PIN}
    signature password (identity):     {DEFAULT_SIGN_PASSWORD}

  1. "Log in with My Number card": enter the auth PIN; you land on a page showing the
     pseudonymous subject the site learned (no name, no address).
  2. "Fill in this form from your card": enter the signature password; the form is filled from
     the verified certificate, and the "20 or over" check is answered without the birth date.
  Try a wrong PIN, the revoked card B, pulling the card, or the 17-year-old card C from the
  demo controls. A real deployment asks for the PIN in the agent, not in the page.

  Press Ctrl-C to stop (the temporary files are removed).
"""


@click.command("demo")
@click.option(
    "--headless",
    is_flag=True,
    help="Play both journeys and the failure cases over HTTP, print the results, exit.",
)
@click.option(
    "--port",
    "site_port",
    type=int,
    default=None,
    help=f"Demo site port (default {DEFAULT_SITE_PORT}; headless: any free port).",
)
@click.option(
    "--agent-port",
    type=int,
    default=None,
    help=f"Card agent port (default {DEFAULT_PORT}; headless: any free port).",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Test PKI seed.")
@click.option(
    "--workdir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Keep the demo's files in this new or empty directory (default: a temporary "
    "directory, removed at exit).",
)
@click.option("--reveal", is_flag=True, help="Headless: show the test identity unmasked.")
@click.pass_context
def demo(
    ctx: click.Context,
    *,
    headless: bool,
    site_port: int | None,
    agent_port: int | None,
    seed: int,
    workdir: Path | None,
    reveal: bool,
) -> None:
    """Log in and verify identity in a browser, on a simulated My Number card."""
    if not headless and not sys.stdin.isatty():
        click.echo("stdin is not a terminal: running the headless demo (--headless).", err=True)
        headless = True
    json_output = _json_wanted(ctx)

    def progress(text: str) -> None:
        click.echo(f"jpki demo: {text}", err=True)

    options = DemoOptions(
        site_port=site_port if site_port is not None else (0 if headless else DEFAULT_SITE_PORT),
        agent_port=agent_port if agent_port is not None else (0 if headless else DEFAULT_PORT),
        seed=seed,
        workdir=workdir,
        progress=progress,
    )
    stack = DemoStack(options)
    try:
        stack.start()
    except (JpkiError, OSError) as exc:
        stack.stop()
        hint = " (--port / --agent-port choose other ports)" if "in use" in str(exc) else ""
        click.echo(f"jpki demo: could not start: {exc}{hint}", err=True)
        ctx.exit(EXIT_START_FAILED)
    try:
        if headless:
            _headless(ctx, stack, reveal=reveal, json_output=json_output)
            return
        click.echo(_instructions(stack))
        try:
            stack.wait()
        except KeyboardInterrupt:
            click.echo("\nstopping...", err=True)
    finally:
        stack.stop()


def _headless(ctx: click.Context, stack: DemoStack, *, reveal: bool, json_output: bool) -> None:
    def show(result: ScenarioResult) -> None:
        if json_output:
            return
        click.echo(f"[{'PASS' if result.ok else 'FAIL'}] {result.name}")
        for line in result.lines:
            click.echo(f"       {line}")

    if not json_output:
        click.echo(f"headless demo against {stack.site_url} (agent {stack.agent_url})")
    report = run_headless(stack, reveal=reveal, on_result=show)
    if json_output:
        click.echo(json.dumps(report.to_dict(), ensure_ascii=False, indent=2))
    else:
        passed = sum(r.ok for r in report.results)
        click.echo(f"{passed}/{len(report.results)} scenarios passed")
    if not report.ok:
        ctx.exit(EXIT_SCENARIO_FAILED)
