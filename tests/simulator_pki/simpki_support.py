"""Shared constants for the test PKI's tests (imported by the tests and conftest.py)."""

from __future__ import annotations

import datetime as dt

#: Issuance time used by most tests: 2026-11-27 14:00 JST (never the wall clock).
NOW = dt.datetime(2026, 11, 27, 5, 0, 0, tzinfo=dt.timezone.utc)
