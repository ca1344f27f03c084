"""Hardware tests: a physical reader and card, only with ``--reader NAME`` (or ``'*'``)."""

from __future__ import annotations

import sys
from pathlib import Path

# tests/ is on sys.path (root conftest), where tests/apdu would shadow the real apdu package as
# a namespace package; the repository root on sys.path makes the regular package win.
_REPO_ROOT = str(Path(__file__).resolve().parents[2])
if _REPO_ROOT not in sys.path:
    sys.path.append(_REPO_ROOT)
