"""End of validity: 23:59:59 JST on the holder's 5th birthday after issuance (spec §5.2)."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st
from simpki_support import NOW

from simulator.identity import Identity, birthday_in_year
from simulator.pki import TestPki, certificate_not_after

UTC = dt.timezone.utc


def utc(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=UTC)


def test_real_sample_end_date() -> None:
    # shared/data/jpki-samples: issued 2023-05-19 16:37:09Z, holder born on 7 December,
    # valid until 2027-12-07 14:59:59Z.
    born = dt.date(1990, 12, 7)
    assert certificate_not_after(born, utc("2023-05-19T16:37:09")) == utc("2027-12-07T14:59:59")
    assert certificate_not_after(born, utc("2020-05-19T17:38:55")) == utc("2024-12-07T14:59:59")


def test_issued_on_the_birthday_counts_the_next_one() -> None:
    born = dt.date(1985, 12, 7)
    # 2026-12-07 01:00 JST is the birthday in Japan (still 6 December in UTC).
    assert certificate_not_after(born, utc("2026-12-06T16:00:00")) == utc("2031-12-07T14:59:59")
    # 2026-12-06 23:00 JST: the birthday is tomorrow and is the first one.
    assert certificate_not_after(born, utc("2026-12-06T14:00:00")) == utc("2030-12-07T14:59:59")
    # The last second of the birthday in Japan.
    assert certificate_not_after(born, utc("2026-12-07T14:59:59")) == utc("2031-12-07T14:59:59")
    # The first second after it.
    assert certificate_not_after(born, utc("2026-12-07T15:00:00")) == utc("2031-12-07T14:59:59")


@pytest.mark.parametrize(
    ("issued", "expected"),
    [
        ("2026-03-01T03:00:00", "2031-02-28T14:59:59"),  # common years: 28 February
        ("2027-02-01T03:00:00", "2031-02-28T14:59:59"),
        ("2023-01-10T03:00:00", "2027-02-28T14:59:59"),
        ("2024-01-10T03:00:00", "2028-02-29T14:59:59"),  # 2024 and 2028 are leap years
        ("2024-02-29T03:00:00", "2029-02-28T14:59:59"),  # issued on the birthday itself
        ("2024-02-28T03:00:00", "2028-02-29T14:59:59"),
        ("2027-02-28T03:00:00", "2032-02-29T14:59:59"),  # 28 Feb 2027 is the birthday there
    ],
)
def test_29_february_birthdays(issued: str, expected: str) -> None:
    assert certificate_not_after(dt.date(2000, 2, 29), utc(issued)) == utc(expected)


def test_naive_issue_time_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        certificate_not_after(dt.date(2000, 1, 1), dt.datetime(2026, 1, 1))


@given(
    st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date(2020, 12, 31)),
    st.datetimes(min_value=dt.datetime(2021, 1, 1), max_value=dt.datetime(2040, 12, 31)),
)
def test_end_is_the_fifth_birthday_after_the_issue_day(born: dt.date, naive: dt.datetime) -> None:
    issued = naive.replace(tzinfo=UTC)
    end = certificate_not_after(born, issued)
    assert end.tzinfo is not None and (end.hour, end.minute, end.second) == (14, 59, 59)
    issue_day = issued.astimezone(dt.timezone(dt.timedelta(hours=9))).date()
    end_day = end.date()
    birthdays = [
        birthday_in_year(born, year)
        for year in range(issue_day.year, end_day.year + 1)
        if issue_day < birthday_in_year(born, year) <= end_day
    ]
    assert len(birthdays) == 5
    assert birthdays[-1] == end_day
    assert (end_day.month, end_day.day) in ((born.month, born.day), (2, 28))
    assert dt.timedelta(days=4 * 365) < end - issued <= dt.timedelta(days=5 * 366 + 1)


def test_issued_certificates_follow_the_rule(pki: TestPki) -> None:
    person = Identity.generate(500, birth_date=dt.date(1992, 2, 29))
    card = pki.issue(person, now=NOW)
    # birthdays after 2026-11-27: 2027-02-28, 2028-02-29, 2029-02-28, 2030-02-28, 2031-02-28
    assert card.auth_cert.not_valid_after_utc == utc("2031-02-28T14:59:59")
    assert card.sign_cert is not None
    assert card.sign_cert.not_valid_after_utc == card.auth_cert.not_valid_after_utc
