"""The verifier side never loads the card stack: importing jpki_sdk.auth (verifier, stores,
token) or jpki_sdk.server imports nothing from apdu, pyscard or jpki_sdk.card."""

from __future__ import annotations

import subprocess
import sys

import pytest


@pytest.mark.parametrize(
    "module",
    ["jpki_sdk.auth", "jpki_sdk.auth.verifier", "jpki_sdk.auth.stores", "jpki_sdk.server"],
)
def test_verifier_side_does_not_load_the_card_stack(module: str) -> None:
    code = (
        f"import sys, {module}\n"
        "bad = sorted(m for m in sys.modules if m == 'apdu' or m.startswith("
        "('apdu.', 'smartcard', 'jpki_sdk.card', 'jpki_sdk.auth.client')))\n"
        "print(','.join(bad))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert out.stdout.strip() == ""
