"""Indicators recomputed by plain arithmetic from the exported cases, and the period rules."""

from __future__ import annotations

import datetime as dt
import math
import statistics
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from chinese_calendar import is_workday

from layers import indicators as ind
from layers.errors import AssessmentError
from layers.store import open_store, table_columns
from tests.helpers import connect

MONTH = "2026-11"
START, END = dt.datetime(2026, 11, 1), dt.datetime(2026, 12, 1)


def _t(text: str | None) -> dt.datetime | None:
    return dt.datetime.fromisoformat(text) if text else None


def _work_seconds(a: dt.datetime, b: dt.datetime) -> int:
    """Working seconds between a and b (8:30–17:30 on working days), walking day by day."""
    total = 0
    day = a.date()
    while day <= b.date():
        if is_workday(day):
            lo = max(a, dt.datetime.combine(day, dt.time(8, 30)))
            hi = min(b, dt.datetime.combine(day, dt.time(17, 30)))
            total += max(0, int((hi - lo).total_seconds()))
        day += dt.timedelta(days=1)
    return total


def _plain(
    rows: list[dict[str, Any]], as_of: dt.datetime, start: dt.datetime = START, end: dt.datetime = END
) -> dict[str, float | int | None]:
    """Every indicator of a list of exported cases, each by its written definition."""

    def inside(x: dt.datetime | None) -> bool:
        return x is not None and start <= x < end

    registered = [r for r in rows if inside(_t(r["registered_at"]))]
    closed = [r for r in rows if inside(_t(r["closed_at"]))]
    due = [
        r
        for r in rows
        if inside(_t(r["closed_at"]))
        or (inside(_t(r["deadline_at"])) and (r["closed_at"] is None or _t(r["closed_at"]) >= start))
    ]
    on_time = [r for r in closed if r["closed_at"] <= r["deadline_at"]]
    passed = min(end, as_of)
    overdue = [
        r
        for r in due
        if r not in on_time
        and (
            (
                r["closed_at"] is not None
                and _t(r["deadline_at"]) < _t(r["closed_at"])
                and _t(r["deadline_at"]) < passed
            )
            or (r["closed_at"] is None and _t(r["deadline_at"]) < passed)
        )
    ]
    handled = [r for r in rows if inside(_t(r["handled_at"]))]
    dispatched = [r for r in rows if inside(_t(r["dispatched_at"]))]
    called = [r for r in rows if inside(_t(r["evaluated_at"])) and r["satisfaction"] is not None]
    in_time = [
        r for r in registered if (_t(r["registered_at"]) - _t(r["reported_at"])).total_seconds() <= 3600
    ]
    secs = [_work_seconds(_t(r["due_from"] or r["dispatched_at"]), _t(r["handled_at"])) for r in handled]

    def rate(a: int, b: int) -> float | None:
        return a / b if b else None

    return {
        "registered": len(registered),
        "due": len(due),
        "closed": len(closed),
        "closed_on_time": len(on_time),
        "closure_rate": rate(len(closed), len(due)),
        "on_time_rate": rate(len(on_time), len(due)),
        "rework_rate": rate(sum(1 for r in handled if r["rework_count"] > 0), len(handled)),
        "sendback_rate": rate(sum(1 for r in dispatched if r["sendback_count"] > 0), len(dispatched)),
        "satisfaction_rate": rate(sum(1 for r in called if r["satisfaction"] == 1), len(called)),
        "registration_timeliness": rate(len(in_time), len(registered)),
        "dispatch_accuracy": rate(sum(1 for r in dispatched if r["sendback_count"] == 0), len(dispatched)),
        "handling_hours_mean": sum(secs) / len(secs) / 3600.0 if secs else None,
        "handling_hours_median": statistics.median(secs) / 3600.0 if secs else None,
        "overdue": len(overdue),
    }


def _same(got: object, want: float | int | None) -> bool:
    if want is None:
        return got is None or (isinstance(got, float) and math.isnan(got))
    return got == want


def _check_plain(path: Path, month: str, by: str, column: str) -> None:
    start = dt.datetime.fromisoformat(f"{month}-01")
    end = dt.datetime.combine(ind.Period.of_months(month).end, dt.time())
    conn = connect(path)
    cols = table_columns("cases")
    rows = [
        dict(zip(cols, r, strict=True))
        for r in conn.execute(f"SELECT {', '.join(cols)} FROM cases WHERE status <> 'rejected'").fetchall()
    ]
    as_of = _t(conn.execute("SELECT MAX(reported_at) FROM cases").fetchone()[0])
    conn.close()
    assert as_of is not None
    groups: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        if r[column] is not None:
            groups.setdefault(r[column], []).append(r)
    with open_store(path, readonly=True) as store:
        cases = ind.load_case_arrays(store)
    got = ind.compute(cases, ind.Period.of_months(month), by=by)
    expected = {code: _plain(g, as_of, start, end) for code, g in groups.items()}
    expected = {c: v for c, v in expected.items() if any(v[k] for k in ("registered", "due", "closed"))}
    assert expected, "the small district has cases in the month"
    assert set(expected) <= set(got.index)
    for code, want in expected.items():
        for key, value in want.items():
            have = got.at[code, key]
            have = None if isinstance(have, float) and math.isnan(have) else have
            assert _same(have, value), (by, code, key, have, value)


@pytest.mark.parametrize("by, column", [("town", "town_code"), ("department", "dept_code")])
def test_every_indicator_matches_plain_arithmetic(small_store_path: Path, by: str, column: str) -> None:
    _check_plain(small_store_path, MONTH, by, column)


@pytest.mark.slow
@pytest.mark.parametrize("by, column", [("town", "town_code"), ("department", "dept_code")])
def test_every_indicator_matches_plain_arithmetic_on_a_year(
    full_store_path: Path, by: str, column: str
) -> None:
    """A whole month inside a year of cases: deadlines, send-backs, rework and call-backs across months."""
    _check_plain(full_store_path, "2026-10", by, column)


def test_empty_denominator_is_undefined_and_text_is_a_dash() -> None:
    assert ind.rate_text(None) == "—"
    assert ind.rate_text(float("nan")) == "—"
    assert ind.rate_text(0.9997) == "99.9%"  # cut down, never rounded up to 100 %
    assert ind.rate_text(1.0) == "100.0%"
    assert ind.rate_text(0.997) == "99.7%"


def test_periods() -> None:
    p = ind.Period.of_months("2026-09", "2026-10")
    assert (p.start, p.end, p.months, p.label) == (
        dt.date(2026, 9, 1),
        dt.date(2026, 11, 1),
        2,
        "2026-09..2026-10",
    )
    assert p.previous() == ind.Period.of_months("2026-07", "2026-08")
    assert ind.Period.of_months("2026-01").previous() == ind.Period.of_months("2025-12")
    assert ind.Period.of_months("2026-03").last_year() == ind.Period.of_months("2025-03")
    with pytest.raises(AssessmentError, match="not a month like"):
        ind.Period.of_months("2026-13")
    with pytest.raises(AssessmentError, match="before the first month"):
        ind.Period.of_months("2026-05", "2026-04")


def test_future_and_empty_periods_are_refused(small_store_path: Path) -> None:
    now = dt.datetime(2026, 11, 25, 12)
    with open_store(small_store_path, readonly=True) as store:
        with pytest.raises(AssessmentError, match="in the future"):
            ind.check_period(store, ind.Period.of_months("2027-01"), now=now)
        with pytest.raises(AssessmentError, match="no case was reported in 2026-06"):
            ind.check_period(store, ind.Period.of_months("2026-06"), now=now)
        ind.check_period(store, ind.Period.of_months(MONTH), now=now)


def test_cases_behind_a_rate_are_its_sets(small_store_path: Path) -> None:
    with open_store(small_store_path, readonly=True) as store:
        cases = ind.load_case_arrays(store)
    p = ind.Period.of_months(MONTH)
    table = ind.compute(cases, p, by="town")
    code = table.index[0]
    closed = ind.behind(cases, p, by="town", code=code, key="closure_rate")
    due = ind.behind(cases, p, by="town", code=code, key="closure_rate:den")
    assert len(closed) == table.at[code, "closed"] and len(due) == table.at[code, "due"]
    assert set(closed) <= set(due)
    assert np.all(ind.indicator_table()["key"].to_numpy() == [i.key for i in ind.INDICATORS])
    with pytest.raises(AssessmentError, match="unknown indicator"):
        ind.behind(cases, p, by="town", code=code, key="happiness")
