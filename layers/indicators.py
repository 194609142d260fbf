"""Assessment indicators (考核指标): one documented table, computed from the case records.

:data:`INDICATORS` is the single definition the code, the pages and the XLSX report read: name,
Chinese name, formula, numerator and denominator, which cases count and the period rule. Every
indicator is a set of cases (a boolean mask over the cases, :func:`case_sets`) or a ratio of two
such sets, so "the cases behind a number" is always the mask that made it.

Periods are half-open ``[start, end)`` in local time (the store keeps local ISO times). A case
belongs to a unit by the case's own columns: a town by ``town_code`` (the level-1 grid of the
place), a community by its level-3 grid's level-2 code, a department by ``dept_code`` (the body
the case is with) and a centre by ``centre_code`` (who dispatches it).

A rate whose denominator is empty is undefined (``None``/NaN, shown as "—"), never 0 % or 100 %;
shown rates are cut down, never rounded up (:func:`rate_text`), so 100 % means nothing is open or
late. Everything is vectorised: the cases are read once into numpy arrays (:class:`CaseArrays`)
and each indicator is a ``bincount`` over a mask.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from layers.codes import ancestor_sql
from layers.errors import AssessmentError
from layers.store import Store
from layers.workcalendar import now_dt, working_calendar

__all__ = [
    "BY",
    "INDICATORS",
    "CaseArrays",
    "Indicator",
    "Period",
    "case_sets",
    "indicator_table",
    "load_case_arrays",
    "rate_text",
    "unit_names",
]

#: Registration is timely when the case is registered within this many hours of its report.
REGISTER_WITHIN_H = 1
#: "Never": the value of a missing time, later than every period (comparisons stay vectorised).
NEVER = np.iinfo(np.int64).max

By = Literal["town", "department", "community", "centre"]
BY: tuple[str, ...] = ("town", "department", "community", "centre")
Kind = Literal["count", "rate", "hours"]


@dataclass(frozen=True)
class Indicator:
    """One indicator as the report defines it."""

    key: str
    zh: str
    en: str
    kind: Kind
    formula: str
    numerator: str  # a key of :func:`case_sets` (for a count, the set counted)
    denominator: str | None  # for rates: the set divided by
    counts: str  # which cases count
    period: str  # which time puts a case in the period
    higher_is_better: bool = True


INDICATORS: tuple[Indicator, ...] = (
    Indicator(
        "registered",
        "立案数",
        "registered",
        "count",
        "立案数",
        "registered",
        None,
        "cases registered (accepted as a case after verification)",
        "registered_at in the period",
    ),
    Indicator(
        "due",
        "应结案数",
        "due to close",
        "count",
        "期内到期且期初未结的案件 + 期内结案的案件",
        "due",
        None,
        "cases whose deadline falls in the period and that were not closed before it, plus the cases "
        "closed in the period",
        "deadline_at in the period (not closed before it), or closed_at in it",
    ),
    Indicator(
        "closed",
        "结案数",
        "closed",
        "count",
        "结案数",
        "closed",
        None,
        "cases closed (checked and closed by the centre)",
        "closed_at in the period",
    ),
    Indicator(
        "closed_on_time",
        "按期结案数",
        "closed on time",
        "count",
        "结案时间 ≤ 处置时限的结案数",
        "closed_on_time",
        None,
        "cases closed in the period no later than their deadline",
        "closed_at in the period",
    ),
    Indicator(
        "closure_rate",
        "结案率",
        "closure rate",
        "rate",
        "结案数 / 应结案数",
        "closed",
        "due",
        "closed / due to close",
        "as its numerator and denominator",
    ),
    Indicator(
        "on_time_rate",
        "按期结案率",
        "on-time closure rate",
        "rate",
        "按期结案数 / 应结案数",
        "closed_on_time",
        "due",
        "closed on time / due to close",
        "as its numerator and denominator",
    ),
    Indicator(
        "rework_rate",
        "返工率",
        "rework rate",
        "rate",
        "返工数 / 处置数",
        "reworked",
        "handled",
        "handled cases that were sent back for rework at least once / cases handled",
        "handled_at (the accepted handling) in the period",
        higher_is_better=False,
    ),
    Indicator(
        "sendback_rate",
        "退回率",
        "send-back rate",
        "rate",
        "被退回派遣数 / 派遣数",
        "sent_back",
        "dispatched",
        "dispatched cases a body sent back at least once / cases dispatched",
        "dispatched_at (the first dispatch) in the period",
        higher_is_better=False,
    ),
    Indicator(
        "satisfaction_rate",
        "满意率",
        "satisfaction rate",
        "rate",
        "(满意 + 基本满意) / 回访数",
        "satisfied",
        "called_back",
        "call-backs answered satisfied or basically satisfied / call-backs answered (an unreachable "
        "reporter is not counted)",
        "evaluated_at in the period",
    ),
    Indicator(
        "registration_timeliness",
        "立案及时率",
        "registration timeliness",
        "rate",
        f"{REGISTER_WITHIN_H} 小时内立案数 / 立案数",
        "registered_in_time",
        "registered",
        f"cases registered within {REGISTER_WITHIN_H} hour of the report / cases registered",
        "registered_at in the period",
    ),
    Indicator(
        "dispatch_accuracy",
        "派遣准确率",
        "dispatch accuracy",
        "rate",
        "未被退回派遣数 / 派遣数",
        "not_sent_back",
        "dispatched",
        "dispatched cases never sent back / cases dispatched",
        "dispatched_at (the first dispatch) in the period",
    ),
    Indicator(
        "handling_hours_mean",
        "平均处置用时（工作小时）",
        "mean handling time (working hours)",
        "hours",
        "Σ(处置时间 − 派遣时间) / 处置数",
        "handled",
        None,
        "cases handled: working time from the last dispatch (due_from) to handled_at",
        "handled_at in the period",
        higher_is_better=False,
    ),
    Indicator(
        "handling_hours_median",
        "处置用时中位数（工作小时）",
        "median handling time (working hours)",
        "hours",
        "处置用时的中位数",
        "handled",
        None,
        "cases handled: working time from the last dispatch (due_from) to handled_at",
        "handled_at in the period",
        higher_is_better=False,
    ),
    Indicator(
        "overdue",
        "超期数",
        "overdue",
        "count",
        "应结案中未按期结案且时限已过的案件数",
        "overdue",
        None,
        "cases due to close in the period that were closed after their deadline, or are still open "
        "past it (as of the end of the period or the store's latest report, whichever is earlier)",
        "as due to close",
        higher_is_better=False,
    ),
)
BY_KEY = {i.key: i for i in INDICATORS}
RATES = tuple(i.key for i in INDICATORS if i.kind == "rate")


def indicator_table() -> pd.DataFrame:
    """The definitions as a table (the pages and the report show it)."""
    return pd.DataFrame(
        [
            {
                "key": i.key,
                "name_zh": i.zh,
                "name_en": i.en,
                "kind": i.kind,
                "formula": i.formula,
                "numerator": i.numerator,
                "denominator": i.denominator or "",
                "counts": i.counts,
                "period": i.period,
                "higher_is_better": i.higher_is_better,
            }
            for i in INDICATORS
        ]
    )


# -- periods ----------------------------------------------------------------------------------


def _month_start(text: str) -> dt.date:
    try:
        year, month = (int(p) for p in text.split("-"))
        return dt.date(year, month, 1)
    except ValueError as exc:
        raise AssessmentError(f"{text!r} is not a month like 2026-10 (YYYY-MM)") from exc


def _add_months(day: dt.date, n: int) -> dt.date:
    k = day.year * 12 + day.month - 1 + n
    return dt.date(k // 12, k % 12 + 1, 1)


@dataclass(frozen=True)
class Period:
    """A half-open range of days ``[start, end)``; ``months`` > 0 when it is whole months."""

    start: dt.date
    end: dt.date
    months: int = 0

    def __post_init__(self) -> None:
        if self.end <= self.start:
            raise AssessmentError(f"the period ends ({self.end}) before it starts ({self.start})")

    @classmethod
    def of_months(cls, first: str, last: str | None = None) -> Period:
        """The months ``first``..``last`` (``YYYY-MM``, inclusive); one month without ``last``."""
        start = _month_start(first)
        stop = _month_start(last) if last else start
        if stop < start:
            raise AssessmentError(f"--to {last} is before the first month {first}")
        n = (stop.year - start.year) * 12 + stop.month - start.month + 1
        return cls(start, _add_months(start, n), n)

    @property
    def label(self) -> str:
        if self.months == 1:
            return f"{self.start:%Y-%m}"
        if self.months:
            return f"{self.start:%Y-%m}..{_add_months(self.start, self.months - 1):%Y-%m}"
        return f"{self.start}..{self.end - dt.timedelta(days=1)}"

    def shifted(self, *, months: int = 0, years: int = 0) -> Period:
        """The same span moved back by whole months (for whole-month periods) or years."""
        back = months + 12 * years
        if self.months:
            s = _add_months(self.start, -back)
            return Period(s, _add_months(s, self.months), self.months)
        if years and not months:
            return Period(_same_day(self.start, -years), _same_day(self.end, -years))
        days = (self.end - self.start).days
        return Period(
            self.start - dt.timedelta(days=days * months), self.end - dt.timedelta(days=days * months)
        )

    def previous(self) -> Period:
        """The period just before (the month before, or as many days before)."""
        return self.shifted(months=self.months or 1) if self.months else self.shifted(months=1)

    def last_year(self) -> Period:
        return self.shifted(years=1)

    def bounds(self) -> tuple[int, int]:
        """Start and end as epoch seconds (local time, like every time of the store)."""
        return _secs(self.start), _secs(self.end)


def _same_day(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


def _secs(day: dt.date) -> int:
    return int((day - dt.date(1970, 1, 1)).days) * 86400


# -- the cases ---------------------------------------------------------------------------------

_TIMES = ("reported_at", "registered_at", "dispatched_at", "due_from", "deadline_at", "handled_at",
          "closed_at", "evaluated_at")  # fmt: skip
_CODES = ("town", "department", "community", "centre", "grid", "channel", "event_type")
_COLUMNS = (
    "town_code",
    "dept_code",
    "community",
    "centre_code",
    "grid_code",
    "channel_code",
    "event_type_code",
)
#: Groupings for the pages beyond the assessed units (drill-down to grids, channel mix, event types).
GROUPS = (*BY, "grid", "channel", "event_type", "all")


@dataclass(frozen=True)
class CaseArrays:
    """The columns the indicators read, one numpy array per column (times as epoch seconds,
    missing = :data:`NEVER`); unit codes as integer indices into ``labels``."""

    ids: pa.ChunkedArray  # the case ids, kept in Arrow (886k Python strings would cost a second)
    times: dict[str, np.ndarray]
    rework: np.ndarray
    sendback: np.ndarray
    satisfaction: np.ndarray  # int8: 1, 0, or -1 for no answered call-back
    unit: dict[str, np.ndarray]  # by -> int32 index into labels[by] (-1: none, e.g. no body yet)
    labels: dict[str, np.ndarray]  # by -> object array of codes
    as_of: int  # epoch seconds: the store's latest report

    def __len__(self) -> int:
        return len(self.ids)


def _epoch(col: pa.ChunkedArray) -> np.ndarray:
    ts = pc.cast(col, pa.timestamp("s"))  # ISO text, parsed in C
    return ts.cast(pa.int64()).fill_null(NEVER).to_numpy()


def _encode(col: pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray]:
    enc = pc.dictionary_encode(col).combine_chunks()
    idx = enc.indices.fill_null(-1).to_numpy().astype(np.int32)
    labels = np.asarray(enc.dictionary.to_pylist(), dtype=object)
    order = np.argsort(labels.astype(str), kind="stable")  # codes in order, so outputs sort by code
    rank = np.empty_like(order)
    rank[order] = np.arange(order.size)
    return np.where(idx >= 0, rank[np.maximum(idx, 0)], -1).astype(np.int32), labels[order]


def load_case_arrays(
    store: Store, *, since: dt.date | None = None, until: dt.date | None = None
) -> CaseArrays:
    """Read the cases into :class:`CaseArrays` (one query, straight into Arrow).

    With ``since``/``until`` only cases that can matter to a period inside ``[since, until)`` are
    read: reported before ``until`` and not finished (evaluated, or closed without call-back, or
    rejected) before ``since``. Rejected cases carry no indicator and are left out.
    """
    where = ["status <> 'rejected'"]
    params: list[object] = []
    if until is not None:
        where.append("reported_at < ?")
        params.append(until.isoformat())
    if since is not None:
        s = since.isoformat()
        where.append(
            "(evaluated_at IS NULL OR evaluated_at >= ? OR closed_at >= ? OR deadline_at >= ? "
            "OR handled_at >= ? OR registered_at >= ? OR dispatched_at >= ?)"
        )
        params += [s] * 6
    sql = (
        f"SELECT id, town_code, dept_code, {ancestor_sql('grid_code', level=2)} AS community, centre_code, "
        f"grid_code, channel_code, event_type_code, {', '.join(_TIMES)}, rework_count, sendback_count, satisfaction "
        f"FROM cases WHERE {' AND '.join(where)}"
    )
    tab = store.read_arrow(sql, params)
    units, labels = {}, {}
    for by, col in zip(_CODES, _COLUMNS, strict=True):
        units[by], labels[by] = _encode(tab[col])
    last = store.conn.execute("SELECT MAX(reported_at) FROM cases").fetchone()[0]
    as_of = int(np.datetime64(last, "s").astype(np.int64)) if last else NEVER
    return CaseArrays(
        ids=tab["id"],
        times={name: _epoch(tab[name]) for name in _TIMES},
        rework=tab["rework_count"].to_numpy(),
        sendback=tab["sendback_count"].to_numpy(),
        satisfaction=tab["satisfaction"].fill_null(-1).to_numpy().astype(np.int8),
        unit=units,
        labels=labels,
        as_of=as_of,
    )


def case_sets(cases: CaseArrays, period: Period) -> dict[str, np.ndarray]:
    """Every set an indicator counts, as a boolean mask over ``cases``: the one place the
    definitions of :data:`INDICATORS` become arithmetic."""
    s, e = period.bounds()
    t = cases.times

    def within(name: str) -> np.ndarray:
        return (t[name] >= s) & (t[name] < e)

    registered = within("registered_at")
    closed = within("closed_at")
    deadline_in = within("deadline_at") & (t["closed_at"] >= s)  # not closed before the period
    due = deadline_in | closed
    closed_on_time = closed & (t["closed_at"] <= t["deadline_at"])
    passed = min(e, cases.as_of)  # a deadline after the latest report has not passed yet
    overdue = due & ~closed_on_time & (t["deadline_at"] < np.minimum(t["closed_at"], passed))
    handled = within("handled_at")
    dispatched = within("dispatched_at")
    called_back = within("evaluated_at") & (cases.satisfaction >= 0)
    return {
        "reported": within("reported_at"),
        "registered": registered,
        "registered_in_time": registered
        & (t["registered_at"] - t["reported_at"] <= REGISTER_WITHIN_H * 3600),
        "due": due,
        "closed": closed,
        "closed_on_time": closed_on_time,
        "overdue": overdue,
        "handled": handled,
        "reworked": handled & (cases.rework > 0),
        "dispatched": dispatched,
        "sent_back": dispatched & (cases.sendback > 0),
        "not_sent_back": dispatched & (cases.sendback == 0),
        "called_back": called_back,
        "satisfied": called_back & (cases.satisfaction == 1),
        "unsatisfied": called_back & (cases.satisfaction == 0),
    }


def handling_seconds(cases: CaseArrays, mask: np.ndarray) -> np.ndarray:
    """Working seconds from the last dispatch to the handling of the cases in ``mask``."""
    cal = working_calendar()
    start = cases.times["due_from"][mask]
    start = np.where(start == NEVER, cases.times["dispatched_at"][mask], start)
    end = cases.times["handled_at"][mask]
    return cal.to_work(end.astype("datetime64[s]")) - cal.to_work(start.astype("datetime64[s]"))


def compute(cases: CaseArrays, period: Period, *, by: str, within: np.ndarray | None = None) -> pd.DataFrame:
    """Every indicator per unit of ``by`` (index: the unit's code), with the numerators and
    denominators of the rates as ``<set>`` columns. A unit appears when any set holds a case.

    ``by`` is one of :data:`GROUPS` ("all": one row for every case); ``within`` (a mask over the
    cases, e.g. :func:`scope_mask`) keeps a part of the cases only.
    """
    if by not in GROUPS:
        raise AssessmentError(f"unknown grouping {by!r}; choose one of {', '.join(BY)}")
    sets = case_sets(cases, period)
    if by == "all":
        unit = np.zeros(len(cases), dtype=np.int32)
        labels = np.array(["all"], dtype=object)
    else:
        unit, labels = cases.unit[by], cases.labels[by]
    n = len(labels)
    ok = unit >= 0 if within is None else (unit >= 0) & within
    counts = {name: np.bincount(unit[m & ok], minlength=n) for name, m in sets.items()}
    out = pd.DataFrame(counts, index=pd.Index(labels, name="code"))
    for ind in INDICATORS:
        if ind.kind == "count":
            out[ind.key] = counts[ind.numerator]
        elif ind.kind == "rate":
            assert ind.denominator is not None
            den = counts[ind.denominator]
            with np.errstate(invalid="ignore", divide="ignore"):
                out[ind.key] = np.where(den > 0, counts[ind.numerator] / np.maximum(den, 1), np.nan)
    hm = sets["handled"] & ok
    secs = handling_seconds(cases, hm)
    grouped = pd.Series(secs, dtype="int64").groupby(unit[hm])
    total = grouped.sum().reindex(range(n)).to_numpy(dtype=float)
    cnt = grouped.size().reindex(range(n)).to_numpy(dtype=float)
    out["handling_hours_mean"] = total / cnt / 3600.0  # integer sums: exact before the division
    out["handling_hours_median"] = grouped.median().reindex(range(n)).to_numpy(dtype=float) / 3600.0
    active = np.column_stack([counts[k] for k in sets]).sum(axis=1) > 0
    return out[active]


def scope_mask(cases: CaseArrays, *, town: str | None = None, department: str | None = None,
               community: str | None = None) -> np.ndarray | None:  # fmt: skip
    """The cases of a leader's scope (one town, one department) and of a drill-down (one
    community); ``None`` for the whole district."""
    mask: np.ndarray | None = None
    for by, code in (("town", town), ("department", department), ("community", community)):
        if code is None:
            continue
        where = np.flatnonzero(cases.labels[by] == code)
        m = cases.unit[by] == (where[0] if where.size else -2)
        mask = m if mask is None else mask & m
    return mask


def behind(
    cases: CaseArrays,
    period: Period,
    *,
    by: str,
    code: str | None,
    key: str,
    within: np.ndarray | None = None,
) -> np.ndarray:
    """The ids of the cases behind an indicator (its numerator's set; for a rate with ``key``
    given as ``<rate>:den``, its denominator's), for one unit or all (``code`` None), within a
    scope (``within``, as :func:`compute` takes it)."""
    name, _, part = key.partition(":")
    ind = BY_KEY.get(name)
    sets = case_sets(cases, period)
    if ind is not None:
        set_name = ind.denominator if part == "den" and ind.denominator else ind.numerator
    elif name in sets:
        set_name = name
    else:
        raise AssessmentError(f"unknown indicator {name!r}; known: {', '.join(BY_KEY)}")
    mask = sets[set_name]
    if code is not None:
        where = np.flatnonzero(cases.labels[by] == code)
        mask = mask & (cases.unit[by] == (where[0] if where.size else -2))
    if within is not None:
        mask = mask & within
    return np.asarray(cases.ids.filter(pa.array(mask)).to_pylist(), dtype=object)


def unit_names(store: Store, *, by: str) -> dict[str, str]:
    """Code → name of the units of ``by`` (towns and communities of the current generation)."""
    if by == "department":
        return dict(store.conn.execute("SELECT code, name FROM departments").fetchall())
    gen = store.current_generation()
    level = 2 if by == "community" else 1
    names = dict(store.conn.execute("SELECT code, name FROM grids WHERE generation = ? AND level = ?",
                                    (gen, level)).fetchall())  # fmt: skip
    if by == "centre":
        names = {code: f"{name}分中心" for code, name in names.items()}
        names["district"] = "区联动指挥中心"
    return names


def check_period(store: Store, period: Period, *, now: dt.datetime | None = None) -> None:
    """Refuse a period that starts in the future or holds no case at all."""
    clock = now or now_dt()
    if period.start > clock.date():
        raise AssessmentError(
            f"the period {period.label} is in the future (today is {clock.date()}); choose a month up to "
            f"{clock:%Y-%m}"
        )
    s, e = period.start.isoformat(), period.end.isoformat()
    hit = store.conn.execute(
        "SELECT 1 FROM cases WHERE reported_at >= ? AND reported_at < ? LIMIT 1", (s, e)
    ).fetchone()
    if hit is None:
        first, last = store.conn.execute("SELECT MIN(reported_at), MAX(reported_at) FROM cases").fetchone()
        span = (
            f"the store holds cases from {first[:10]} to {last[:10]}" if first else "the store holds no case"
        )
        raise AssessmentError(f"no case was reported in {period.label}; {span}")


def rate_text(value: float | None, *, decimals: int = 1) -> str:
    """A rate as a percentage cut down (never rounded up) to ``decimals`` places; "—" if undefined."""
    if value is None or not np.isfinite(value):
        return "—"
    scale = 10.0**decimals
    # The tiny addition keeps 0.997 (held as 0.99699…) at 99.7; 99.97 % still shows as 99.9 %.
    return f"{np.floor(float(value) * 100.0 * scale + 1e-6) / scale:.{decimals}f}%"
