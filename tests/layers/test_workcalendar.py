"""The working calendar against the State Council's published schedules, and deadlines across it."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from layers.workcalendar import (
    add_working_days,
    covered,
    deadlines,
    elapsed_share,
    now,
    working_calendar,
)


def _span(first: str, last: str) -> list[str]:
    d0, d1 = dt.date.fromisoformat(first), dt.date.fromisoformat(last)
    return [(d0 + dt.timedelta(days=i)).isoformat() for i in range((d1 - d0).days + 1)]


# 国务院办公厅关于2025年部分节假日安排的通知 (国办发明电〔2024〕12号)
HOLIDAYS_2025 = [
    "2025-01-01", *_span("2025-01-28", "2025-02-04"), *_span("2025-04-04", "2025-04-06"),
    *_span("2025-05-01", "2025-05-05"), *_span("2025-05-31", "2025-06-02"), *_span("2025-10-01", "2025-10-08"),
]  # fmt: skip
WORKDAYS_2025 = ["2025-01-26", "2025-02-08", "2025-04-27", "2025-09-28", "2025-10-11"]
# 国务院办公厅关于2026年部分节假日安排的通知 (国办发明电〔2025〕7号)
HOLIDAYS_2026 = [
    *_span("2026-01-01", "2026-01-03"), *_span("2026-02-15", "2026-02-23"), *_span("2026-04-04", "2026-04-06"),
    *_span("2026-05-01", "2026-05-05"), *_span("2026-06-19", "2026-06-21"), *_span("2026-09-25", "2026-09-27"),
    *_span("2026-10-01", "2026-10-07"),
]  # fmt: skip
WORKDAYS_2026 = ["2026-01-04", "2026-02-14", "2026-02-28", "2026-05-09", "2026-09-20", "2026-10-10"]


@pytest.mark.parametrize(
    ("year", "holidays", "workdays"),
    [(2025, HOLIDAYS_2025, WORKDAYS_2025), (2026, HOLIDAYS_2026, WORKDAYS_2026)],
)
def test_calendar_matches_the_published_schedule(year: int, holidays: list[str], workdays: list[str]) -> None:
    days = np.arange(np.datetime64(f"{year}-01-01"), np.datetime64(f"{year + 1}-01-01"))
    weekday = (days - np.datetime64("2000-01-03")).astype(np.int64) % 7
    expected = (weekday < 5) & ~np.isin(days, np.array(holidays, dtype="datetime64[D]"))
    expected |= np.isin(days, np.array(workdays, dtype="datetime64[D]"))
    got = working_calendar().is_working_day(days)
    wrong = days[got != expected]
    assert wrong.size == 0, f"days the calendar gets wrong: {wrong}"
    assert covered(dt.date(year, 6, 1))


def _t(*values: str) -> np.ndarray:
    return np.array(values, dtype="datetime64[s]")


def test_working_day_limits_skip_weekends_and_holidays_and_count_adjusted_saturdays() -> None:
    start = _t(
        "2026-11-27T10:00:00",  # a Friday
        "2026-09-30T10:00:00",  # the day before National Day (1–7 October)
        "2026-02-13T17:00:00",  # Friday before the Spring Festival; Saturday 14 February is a working day
        "2026-02-13T17:00:00",
        "2026-11-28T11:00:00",  # a Saturday: the clock starts on Monday morning
        "2026-11-30T08:30:00",
    )
    got = add_working_days(start, np.array([1.0, 1.0, 1.0, 2.0, 1.0, 0.5]))
    assert [str(t) for t in got] == [
        "2026-11-30T10:00:00",  # weekend skipped
        "2026-10-08T10:00:00",  # the holiday week skipped
        "2026-02-14T17:00:00",  # the adjusted working Saturday counts
        "2026-02-24T17:00:00",  # then the nine days of the Spring Festival are skipped
        "2026-11-30T17:30:00",  # a whole working day from Monday 8:30
        "2026-11-30T13:00:00",  # half a working day: four and a half hours
    ]


def test_hour_limits_run_on_the_clock_through_weekends_and_holidays() -> None:
    start = _t("2026-10-01T22:00:00", "2026-02-14T20:00:00", "2026-11-28T09:00:00")
    got = deadlines(start, np.array([4.0, 24.0, 2.0]), hours=np.array([True, True, True]))
    assert [str(t) for t in got] == ["2026-10-02T02:00:00", "2026-02-15T20:00:00", "2026-11-28T11:00:00"]
    mixed = deadlines(
        _t("2026-10-01T22:00:00", "2026-10-01T22:00:00"), np.array([4.0, 1.0]), hours=np.array([True, False])
    )
    assert [str(t) for t in mixed] == ["2026-10-02T02:00:00", "2026-10-08T17:30:00"]


def test_elapsed_share_in_working_time_and_on_the_clock() -> None:
    start = _t("2026-11-27T08:30:00", "2026-11-27T08:30:00", "2026-11-27T08:30:00", "2026-11-28T00:00:00")
    deadline = _t("2026-11-27T17:30:00", "2026-11-27T17:30:00", "2026-11-30T17:30:00", "2026-11-28T10:00:00")
    at = _t("2026-11-27T15:42:00", "2026-11-28T12:00:00", "2026-11-29T12:00:00", "2026-11-28T08:00:00")
    share = elapsed_share(start, deadline, at, hours=np.array([False, False, False, True]))
    assert share[0] == pytest.approx(0.8)
    assert share[1] > 1.0  # the Saturday after a Friday deadline is late, though no working time passed
    assert share[2] == pytest.approx(0.5)  # the weekend does not count
    assert share[3] == pytest.approx(0.8)


def test_years_beyond_the_published_schedule_keep_the_fixed_date_holidays_only() -> None:
    assert not covered(dt.date(2040, 1, 1))
    cal = working_calendar()
    days = np.array(["2040-01-02", "2040-05-01", "2040-10-02", "2040-10-04"], dtype="datetime64[D]")
    assert cal.is_working_day(days).tolist() == [True, False, False, True]


def test_the_clock_can_be_pinned(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ONEGRID_NOW", "2026-11-30T09:15:00")
    assert now() == "2026-11-30T09:15:00"
    monkeypatch.setenv("ONEGRID_NOW", "yesterday")
    with pytest.raises(ValueError, match="ONEGRID_NOW"):
        now()
