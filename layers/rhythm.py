"""Rhythm (时段规律): when cases are reported, by hour and weekday, per channel and event class.

One SQL group-by per view over the reported cases of a period (the report-time index bounds the
scan); the leader's scope (one town or one department) is a condition of the same query.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from layers.errors import AssessmentError
from layers.indicators import Period
from layers.store import Store

__all__ = ["WEEKDAYS", "rhythm"]

#: Monday first (SQLite's %w counts from Sunday = 0).
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
KEYS = {"channel": "c.channel_code", "major": "e.major_code"}


def rhythm(
    store: Store,
    period: Period,
    *,
    by: str | None = None,
    town: str | None = None,
    department: str | None = None,
) -> pd.DataFrame:
    """Cases reported per weekday (0 = Monday) and hour, and per ``by`` ("channel" or "major")
    when given: columns ``key`` (or ``all``), ``weekday``, ``hour``, ``cases``."""
    if by is not None and by not in KEYS:
        raise AssessmentError(f"unknown rhythm grouping {by!r}; choose channel or major")
    key = KEYS[by] if by else "'all'"
    where = ["c.reported_at >= ?", "c.reported_at < ?"]
    params: list[object] = [period.start.isoformat(), period.end.isoformat()]
    if town:
        where.append("c.town_code = ?")
        params.append(town)
    if department:
        where.append("c.dept_code = ?")
        params.append(department)
    tab = store.read_arrow(
        f"SELECT {key} AS key, (CAST(strftime('%w', c.reported_at) AS INTEGER) + 6) % 7 AS weekday, "
        "CAST(substr(c.reported_at, 12, 2) AS INTEGER) AS hour, count(*) AS cases "
        "FROM cases c JOIN event_types e ON e.code = c.event_type_code "
        f"WHERE {' AND '.join(where)} GROUP BY key, weekday, hour",
        params,
    ).to_pandas()
    return tab.astype({"weekday": np.int64, "hour": np.int64, "cases": np.int64})


def hour_weekday_matrix(frame: pd.DataFrame) -> pd.DataFrame:
    """Weekday (rows, Monday first) × hour (0–23) of the cases, zeros where none."""
    m = frame.pivot_table(index="weekday", columns="hour", values="cases", aggfunc="sum", fill_value=0)
    return m.reindex(index=range(7), columns=range(24), fill_value=0)
