"""Working time: the clock, the Chinese public-holiday calendar and deadlines.

One home for the calendar of the whole product (live cases, the generated history, supervision):

- **Working days** are Monday–Friday, minus the public holidays, plus the adjusted working
  weekends (调休) that the State Council publishes each year. Both come from the maintained
  ``chinesecalendar`` package (the published schedules from 2004 on; 2025 and 2026 are checked in
  the tests against the State Council's notices). For a year the package does not cover yet, only
  the holidays fixed by date in the national regulation (元旦 1 January, 劳动节 1 May, 国庆 1–3 October)
  are taken, and :func:`covered` says so, so nothing is guessed about the lunar holidays.
- **Working time** runs 8:30–17:30 on working days. A limit in working days is counted in working
  time: one working day is nine working hours from the moment of dispatch.
- **Hours on the clock** for urgent event types: the calendar does not stop them.
- **The clock** is local time in Asia/Shanghai (the store keeps local ISO times without a zone);
  ``ONEGRID_NOW`` pins it (tests, demonstrations on a generated store).

Everything is vectorised over numpy ``datetime64[s]`` arrays.
"""

from __future__ import annotations

import datetime as dt
import functools
import os
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import numpy as np

__all__ = [
    "TIMEZONE",
    "WorkingCalendar",
    "add_working_days",
    "covered",
    "deadlines",
    "elapsed_share",
    "now",
    "now_dt",
    "working_calendar",
]

TIMEZONE = ZoneInfo("Asia/Shanghai")
DAY_START = np.timedelta64(8 * 3600 + 30 * 60, "s")  # the working day: 8:30–17:30
WORK_SECONDS = 9 * 3600
_EPOCH = np.datetime64("2000-01-03", "D")  # a Monday before any date the tables hold
_FIRST = np.datetime64("2000-01-01", "D")
_LAST = np.datetime64("2045-12-31", "D")


def now_dt() -> dt.datetime:
    """The clock: local time (naive, Asia/Shanghai), to the second; ``ONEGRID_NOW`` pins it."""
    pinned = os.environ.get("ONEGRID_NOW", "").strip()
    if pinned:
        try:
            return dt.datetime.fromisoformat(pinned).replace(microsecond=0, tzinfo=None)
        except ValueError as exc:
            raise ValueError(f"ONEGRID_NOW={pinned!r} is not an ISO date-time (YYYY-MM-DDTHH:MM:SS)") from exc
    return dt.datetime.now(TIMEZONE).replace(microsecond=0, tzinfo=None)


def now() -> str:
    """:func:`now_dt` as the store writes times: ``YYYY-MM-DDTHH:MM:SS``."""
    return now_dt().isoformat(timespec="seconds")


@functools.cache
def _published() -> tuple[np.ndarray, np.ndarray, int, int]:
    """Holidays and adjusted working days of the published schedules, and the years they cover."""
    from chinese_calendar import constants

    holidays = np.array(sorted(constants.holidays), dtype="datetime64[D]")
    workdays = np.array(sorted(constants.workdays), dtype="datetime64[D]")
    years = sorted({d.year for d in constants.holidays})
    return holidays, workdays, years[0], years[-1]


def covered(day: dt.date) -> bool:
    """Whether the published holiday schedule covers ``day``'s year."""
    _h, _w, first, last = _published()
    return first <= day.year <= last


@dataclass(frozen=True)
class WorkingCalendar:
    """Working days and working time as look-up tables over 2000–2045.

    ``before[i]`` counts the working days from the epoch up to (not including) day ``first + i``;
    working time is measured in seconds from the epoch, so differences of it are working seconds.
    """

    first: np.datetime64
    is_work: np.ndarray  # per day from `first`: a working day?
    before: np.ndarray  # per day from `first`: working days between the epoch and that day
    workdays: np.ndarray  # the working days, datetime64[D], in order

    def is_working_day(self, days: np.ndarray) -> np.ndarray:
        return self.is_work[self._offset(np.asarray(days, dtype="datetime64[D]"))]

    def _offset(self, day: np.ndarray) -> np.ndarray:
        off = (day - self.first).astype(np.int64)
        if off.size and (off.min() < 0 or off.max() >= self.is_work.size):
            raise ValueError(f"dates outside the working calendar ({_FIRST}…{_LAST})")
        return off

    def to_work(self, t: np.ndarray) -> np.ndarray:
        """Working seconds elapsed since the epoch at each moment (int64)."""
        t = np.asarray(t, dtype="datetime64[s]")
        day = t.astype("datetime64[D]")
        o = self._offset(day)
        tod = (t - day.astype("datetime64[s]") - DAY_START).astype(np.int64)
        return self.before[o] * WORK_SECONDS + np.clip(tod, 0, WORK_SECONDS) * self.is_work[o]

    def from_work(self, w: np.ndarray) -> np.ndarray:
        """The moment (datetime64[s]) at which ``w`` working seconds have elapsed.

        A moment that falls exactly at the end of a working day is that day's 17:30, not the next
        day's 8:30: a deadline of one working day from 8:30 is 17:30 the same day.
        """
        w = np.asarray(w, dtype=np.int64)
        k, off = np.divmod(w, WORK_SECONDS)
        at_end = (off == 0) & (w > 0)
        k = np.where(at_end, k - 1, k)
        off = np.where(at_end, WORK_SECONDS, off)
        idx = k - self.before[0]
        if idx.size and (idx.min() < 0 or idx.max() >= self.workdays.size):
            raise ValueError(f"working time outside the working calendar ({_FIRST}…{_LAST})")
        return self.workdays[idx].astype("datetime64[s]") + DAY_START + off.astype("timedelta64[s]")


@functools.cache
def working_calendar() -> WorkingCalendar:
    """The calendar (built once per process; ~16,800 days, a few milliseconds)."""
    holidays, adjusted, first_year, last_year = _published()
    days = np.arange(_FIRST, _LAST + 1)
    weekday = (days - _EPOCH).astype(np.int64) % 7
    years = days.astype("datetime64[Y]").astype(np.int64) + 1970
    is_work = weekday < 5
    is_work &= ~np.isin(days, holidays)
    is_work |= np.isin(days, adjusted)
    # Years the published schedule does not cover: the holidays fixed by date only.
    month_day = np.char.add(
        np.char.zfill((days.astype("datetime64[M]").astype(np.int64) % 12 + 1).astype(str), 2),
        np.char.zfill(((days - days.astype("datetime64[M]")).astype(np.int64) + 1).astype(str), 2),
    )
    fixed = np.isin(month_day, ["0101", "0501", "1001", "1002", "1003"])
    outside = (years < first_year) | (years > last_year)
    is_work &= ~(outside & fixed)
    before = np.concatenate([[0], np.cumsum(is_work)[:-1]])
    before -= before[(_EPOCH - _FIRST).astype(np.int64)]  # counted from the epoch
    return WorkingCalendar(
        first=_FIRST, is_work=is_work, before=before.astype(np.int64), workdays=days[is_work]
    )


def _as_seconds(t: np.ndarray | str | dt.datetime) -> np.ndarray:
    return np.atleast_1d(np.asarray(t, dtype="datetime64[s]"))


def add_working_days(start: np.ndarray, workdays: np.ndarray) -> np.ndarray:
    """The moments ``workdays`` working days (in working time) after ``start``."""
    cal = working_calendar()
    step = np.round(np.asarray(workdays, dtype=np.float64) * WORK_SECONDS).astype(np.int64)
    return cal.from_work(cal.to_work(_as_seconds(start)) + step)


def deadlines(start: np.ndarray, limit: np.ndarray, *, hours: np.ndarray) -> np.ndarray:
    """Deadlines from dispatch: ``limit`` hours on the clock where ``hours``, else working days."""
    start = _as_seconds(start)
    limit = np.broadcast_to(np.asarray(limit, dtype=np.float64), start.shape)
    hours = np.broadcast_to(np.asarray(hours, dtype=bool), start.shape)
    by_clock = start + np.round(limit * 3600).astype(np.int64).astype("timedelta64[s]")
    by_work = add_working_days(start, np.where(hours, 0.0, limit))
    return np.where(hours, by_clock, by_work)


def elapsed_share(
    start: np.ndarray, deadline: np.ndarray, at: np.ndarray, *, hours: np.ndarray
) -> np.ndarray:
    """The share of the allowed time used at ``at`` (clock or working time, as the limit runs).

    Over 1 once the deadline has passed; NaN where start or deadline is missing.
    """
    start, deadline, at = _as_seconds(start), _as_seconds(deadline), _as_seconds(at)
    start, deadline, at = np.broadcast_arrays(start, deadline, at)
    hours = np.broadcast_to(np.asarray(hours, dtype=bool), start.shape)
    out = np.full(start.shape, np.nan)
    ok = ~np.isnat(start) & ~np.isnat(deadline) & ~np.isnat(at)
    if not ok.any():
        return out
    s, d, a = start[ok], deadline[ok], at[ok]
    clock = (a - s).astype(np.float64) / np.maximum((d - s).astype(np.float64), 1.0)
    cal = working_calendar()
    ws = cal.to_work(s)
    work = (cal.to_work(a) - ws).astype(np.float64) / np.maximum(
        (cal.to_work(d) - ws).astype(np.float64), 1.0
    )
    # Past the deadline on the clock is late whatever the working time says (a weekend after it).
    work = np.where(a > d, np.maximum(work, 1.0 + 1e-9), work)
    out[ok] = np.where(hours[ok], clock, work)
    return out
