"""Simulator tests: the fixtures come from the package's own pytest plugin
(simulator/pytest_plugin.py: test_pki, simulated_card, card_factory)."""

from __future__ import annotations

import sys
from pathlib import Path

# tests/ is on sys.path (the root conftest imports tests/pcscstack.py), so this directory would
# be found as a namespace package "simulator" (and tests/apdu as "apdu") unless the repository
# root is on sys.path too: a regular package wins over namespace portions.
_HERE = Path(__file__).resolve().parent
_REPO_ROOT = str(_HERE.parents[1])
if _REPO_ROOT not in sys.path:
    sys.path.append(_REPO_ROOT)
if str(_HERE) not in sys.path:
    sys.path.insert(0, str(_HERE))
