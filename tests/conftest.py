"""Root conftest: the private PC/SC stack fixture and the opt-in hardware switch.

- ``pcsc_stack`` (session): pcscd + vpcd in private namespaces (tests/pcscstack.py). Tests that
  use it are marked ``pcsc``. Without root or the Debian packages they are skipped with the
  reason; set ``JPKI_REQUIRE_PCSC=1`` (CI) to make that a failure instead.
- ``--reader NAME``: run ``hardware`` tests against a physical reader through the system's
  pcscd (``*`` = the first reader with a card); ``hardware_reader`` gives the name. Without
  it hardware tests are skipped, and the whole session talks only to the private pcscd socket
  (PCSCLITE_CSOCK_NAME is set before anything loads PC/SC), so a developer's real readers and
  cards are never touched. With it, the private stack is not started (libpcsclite knows one
  socket per process).

- Hypothesis: ``HYPOTHESIS_PROFILE=ci`` (set by .ci/run) derandomizes every property test, so
  a CI run is reproducible and does not fail on an input nobody has seen before; local runs
  keep exploring new random inputs (that is how they find bugs; pin each find with @example).

Area-specific fixtures belong in the areas' own conftest.py files.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings
from pcscstack import (
    PcscStack,
    StackUnavailable,
    claim_private_socket,
    claimed_workdir,
    release_private_socket,
)

# pytest's default "prepend" import mode put tests/ on sys.path to import this file. Left
# there, tests/apdu/ and tests/simulator/ (folders without __init__.py) would shadow the real
# apdu and simulator packages as namespace packages (the editable install's finder comes after
# the path finder). pcscstack is imported above, so tests/ is no longer needed on the path.
_TESTS_DIR = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if not p or Path(p).resolve() != _TESTS_DIR]

settings.register_profile("ci", derandomize=True, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))

_SESSION = {"stack_used": False}


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--reader",
        action="store",
        default=None,
        metavar="NAME",
        help="run hardware tests with this physical reader via the system pcscd "
        "('*' = first reader with a card); hardware tests are skipped without it",
    )


def pytest_configure(config: pytest.Config) -> None:
    if config.getoption("--reader") is None:
        try:
            claim_private_socket()
        except StackUnavailable as exc:  # pragma: no cover - path too long for AF_UNIX
            config._jpki_pcsc_unavailable = str(exc)  # type: ignore[attr-defined]


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    # keep the stack's logs when something failed in a session that used it
    session.config._jpki_pcsc_keep = (  # type: ignore[attr-defined]
        _SESSION["stack_used"]
        and exitstatus not in (pytest.ExitCode.OK, pytest.ExitCode.NO_TESTS_COLLECTED)
    )


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    workdir = claimed_workdir()
    if workdir is not None and getattr(terminalreporter.config, "_jpki_pcsc_keep", False):
        terminalreporter.write_line(f"PC/SC test stack logs kept in {workdir / 'logs'}")


def pytest_unconfigure(config: pytest.Config) -> None:
    release_private_socket(keep=getattr(config, "_jpki_pcsc_keep", False))


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    reader = config.getoption("--reader")
    skip_hw = pytest.mark.skip(reason="hardware test: run with --reader NAME (or '*')")
    for item in items:
        if "pcsc_stack" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.pcsc)
        if reader is None and item.get_closest_marker("hardware") is not None:
            item.add_marker(skip_hw)


def _unavailable(reason: str) -> None:
    if os.environ.get("JPKI_REQUIRE_PCSC") == "1":
        pytest.fail(f"PC/SC test stack required (JPKI_REQUIRE_PCSC=1) but unavailable: {reason}")
    pytest.skip(f"PC/SC test stack unavailable: {reason}")


@pytest.fixture(scope="session")
def pcsc_stack(request: pytest.FixtureRequest) -> Iterator[PcscStack]:
    """A running pcscd with two vpcd readers, private to this test session."""
    if request.config.getoption("--reader") is not None:
        pytest.skip("--reader given: this session uses the system pcscd, not the private stack")
    reason = getattr(request.config, "_jpki_pcsc_unavailable", None)
    if reason:
        _unavailable(reason)
    _SESSION["stack_used"] = True
    stack = PcscStack()
    try:
        stack.start()
    except StackUnavailable as exc:
        _unavailable(str(exc))
    try:
        yield stack
    finally:
        stack.close()


@pytest.fixture(scope="session")
def hardware_reader(request: pytest.FixtureRequest) -> str | None:
    """The --reader value: a reader name, or None for "first reader with a card" ('*')."""
    reader = request.config.getoption("--reader")
    if reader is None:
        pytest.skip("hardware test: run with --reader NAME (or '*')")
    return None if reader == "*" else str(reader)
