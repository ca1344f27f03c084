"""Browser tests: Debian's headless Chromium, driven by Playwright, against the demo on loopback.

Chromium is ``/usr/bin/chromium`` (the Makefile installs it); Playwright's own browser download
is never used. Without that executable the tests are skipped with the reason. Screenshots go
to ``artifacts/screenshots/`` (ignored by git).
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from demokit import restore

from jpki_sdk.demo import DemoOptions, DemoStack

CHROMIUM = Path(os.environ.get("JPKI_CHROMIUM", "/usr/bin/chromium"))
SCREENSHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def chromium_context() -> Iterator[Any]:
    """One headless Chromium (temporary profile) for the session."""
    if not CHROMIUM.is_file() or not os.access(CHROMIUM, os.X_OK):
        pytest.skip(f"Chromium not found at {CHROMIUM} (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:  # pragma: no cover - playwright is a dev dependency
        pytest.skip("playwright (Python) is not installed")
    profile = tempfile.mkdtemp(prefix="jpki-chromium-")
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            profile,
            executable_path=str(CHROMIUM),
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1100, "height": 900},
            locale="en-US",
        )
        try:
            yield context
        finally:
            context.close()
    shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture(scope="session")
def demo() -> Iterator[DemoStack]:
    """The whole demo (service, OCSP, agent in kiosk mode, site) on free loopback ports.

    No back-off after a wrong PIN and no cap on operations per minute here, so tests do not
    wait on each other; both limits are tested in tests/agent.
    """
    options = DemoOptions(site_port=0, agent_port=0, failure_delay=0.0, max_operations=100_000)
    stack = DemoStack(options)
    stack.start()
    try:
        yield stack
    finally:
        stack.stop()


@pytest.fixture
def page(chromium_context: Any, demo: DemoStack) -> Iterator[Any]:
    restore(demo)
    chromium_context.clear_cookies()
    tab = chromium_context.new_page()
    tab.set_default_timeout(30_000)
    errors: list[str] = []
    tab.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        yield tab
    finally:
        tab.close()
        restore(demo)
    assert not errors, f"JavaScript errors on the page: {errors}"


@pytest.fixture
def shot() -> Any:
    """``shot(page, name)``: a full-page screenshot in artifacts/screenshots/NAME.png."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def take(tab: Any, name: str) -> Path:
        path = SCREENSHOTS / f"{name}.png"
        tab.screenshot(path=str(path), full_page=True)
        return path

    return take
