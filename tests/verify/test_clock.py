"""Clock protocol, SystemClock and FixedClock."""

from __future__ import annotations

import datetime as dt

import pytest

from jpki_sdk.verify import Clock, FixedClock, SystemClock

UTC = dt.timezone.utc


def test_system_clock_is_aware_utc() -> None:
    now = SystemClock().now()
    assert now.tzinfo is not None and now.utcoffset() == dt.timedelta(0)
    assert isinstance(SystemClock(), Clock)
    assert "SystemClock" in repr(SystemClock())


def test_fixed_clock_set_and_advance() -> None:
    jst = dt.timezone(dt.timedelta(hours=9))
    clock = FixedClock(dt.datetime(2025, 6, 1, 9, 0, tzinfo=jst))
    assert clock.now() == dt.datetime(2025, 6, 1, 0, 0, tzinfo=UTC)
    assert clock.now().tzinfo == UTC
    clock.advance(dt.timedelta(hours=1))
    assert clock.now() == dt.datetime(2025, 6, 1, 1, 0, tzinfo=UTC)
    clock.set(dt.datetime(2030, 1, 1, tzinfo=UTC))
    assert clock.now().year == 2030
    assert isinstance(clock, Clock)
    assert "2030" in repr(clock)


def test_fixed_clock_rejects_naive_and_wrong_types() -> None:
    with pytest.raises(ValueError):
        FixedClock(dt.datetime(2025, 1, 1))
    with pytest.raises(TypeError):
        FixedClock("2025-01-01")  # type: ignore[arg-type]
    clock = FixedClock(dt.datetime(2025, 1, 1, tzinfo=UTC))
    with pytest.raises(ValueError):
        clock.set(dt.datetime(2025, 1, 1))
    with pytest.raises(TypeError):
        clock.advance(5)  # type: ignore[arg-type]
