"""The monthly 100-point assessment (月度考核): scores, ranking, the bottom three, the report.

A scheme (:class:`Scheme`, read from ``data/assessment_schemes.toml`` or a file the centre gives)
weights the rate indicators of :mod:`layers.indicators` to 100 points and deducts points per
case of a set (overdue, unsatisfied call-back, ...), up to a cap. Towns (and communities),
departments and centres are scored by separate schemes, as the external and internal assessments
are separate. Units are ranked by their score rounded to two decimals, ties share the better rank
and are stated; the bottom three (and any unit tied with the third-last) are flagged. Two months
(``Period.of_months(a, b)``) make the bimonthly bulletin (双月通报).
"""

from __future__ import annotations

import datetime as dt
import json
import math
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import pandas as pd

from layers import indicators as ind
from layers.errors import SchemeError, UnknownUnitError
from layers.indicators import INDICATORS, CaseArrays, Period
from layers.store import Store

__all__ = [
    "DEFAULT_SCHEMES",
    "Assessment",
    "Scheme",
    "assess",
    "load_schemes",
    "rank",
    "score",
]

DEFAULT_SCHEMES = Path(__file__).resolve().parents[1] / "data" / "assessment_schemes.toml"
#: Sets a deduction may count (a per-case deduction needs a set of cases).
DEDUCTION_SETS = ("overdue", "unsatisfied", "reworked", "sent_back")
#: How many units at the bottom must explain themselves.
BOTTOM = 3


@dataclass(frozen=True)
class Deduction:
    points: float  # per case
    cap: float  # at most, per unit and period


@dataclass(frozen=True)
class Scheme:
    """One scoring scheme: weights of rate indicators (summing to 100) and per-case deductions."""

    name: str
    title_zh: str
    title_en: str
    applies_to: tuple[str, ...]
    weights: dict[str, float]
    deductions: dict[str, Deduction] = field(default_factory=dict)


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return float(value)


def load_schemes(path: Path | str | None = None) -> dict[str, Scheme]:
    """Read and validate the schemes; every problem of the file is listed in one error."""
    path = Path(path) if path else DEFAULT_SCHEMES
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise SchemeError(f"no scoring scheme file at {path}") from exc
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise SchemeError(f"{path.name} is not a readable TOML file: {exc}") from exc
    problems: list[str] = []
    schemes: dict[str, Scheme] = {}
    rates = {i.key: i for i in INDICATORS if i.kind == "rate"}
    covered: dict[str, str] = {}
    for name, body in raw.items():
        if not isinstance(body, dict):
            problems.append(f"[{name}] is not a table")
            continue
        weights_raw = body.get("weights", {})
        weights: dict[str, float] = {}
        for key, value in weights_raw.items():
            if key not in ind.BY_KEY:
                problems.append(
                    f"[{name}.weights] {key!r} is not an indicator (known rates: {', '.join(rates)})"
                )
            elif key not in rates:
                problems.append(
                    f"[{name}.weights] {key!r} is a {ind.BY_KEY[key].kind}, not a rate; only rates carry "
                    "weight (counts go under deductions)"
                )
            elif (w := _number(value)) is None or w < 0:
                problems.append(f"[{name}.weights] {key} = {value!r} is not a number of points ≥ 0")
            else:
                weights[key] = w
        total = sum(weights.values())
        if weights and abs(total - 100.0) > 1e-9:
            problems.append(f"[{name}.weights] sum to {total:g}, not 100")
        if not weights_raw:
            problems.append(f"[{name}] has no weights")
        deductions: dict[str, Deduction] = {}
        for key, value in body.get("deductions", {}).items():
            pts = _number(value.get("points")) if isinstance(value, dict) else None
            cap = _number(value.get("cap", 100)) if isinstance(value, dict) else None
            if key not in DEDUCTION_SETS:
                problems.append(
                    f"[{name}.deductions] {key!r} is not a set of cases ({', '.join(DEDUCTION_SETS)})"
                )
            elif pts is None or cap is None or pts < 0 or cap < 0:
                problems.append(f"[{name}.deductions] {key} needs points and cap as numbers ≥ 0")
            else:
                deductions[key] = Deduction(pts, cap)
        applies = tuple(body.get("applies_to", [name]))
        for by in applies:
            if by not in ind.BY:
                problems.append(f"[{name}] applies_to {by!r}: not one of {', '.join(ind.BY)}")
            elif by in covered:
                problems.append(f"[{name}] and [{covered[by]}] both apply to {by}")
            else:
                covered[by] = name
        schemes[name] = Scheme(
            name=name,
            title_zh=str(body.get("title_zh", name)),
            title_en=str(body.get("title_en", name)),
            applies_to=applies,
            weights=weights,
            deductions=deductions,
        )
    missing = [by for by in ind.BY if by not in covered]
    if missing:
        problems.append(f"no scheme applies to {', '.join(missing)}")
    if problems:
        raise SchemeError(f"{path.name}: " + "; ".join(problems))
    return schemes


def scheme_for(schemes: dict[str, Scheme], by: str) -> Scheme:
    return next(s for s in schemes.values() if by in s.applies_to)


def score(values: pd.DataFrame, scheme: Scheme) -> tuple[np.ndarray, pd.DataFrame]:
    """Scores (0–100, NaN where no weighted rate is defined) and the points deducted per set."""
    earned = np.zeros(len(values))
    weight = np.zeros(len(values))
    for key, w in scheme.weights.items():
        r = values[key].to_numpy(dtype=float)
        good = r if ind.BY_KEY[key].higher_is_better else 1.0 - r
        ok = np.isfinite(good)
        earned += np.where(ok, w * np.nan_to_num(good), 0.0)
        weight += np.where(ok, w, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        base = np.where(weight > 0, 100.0 * earned / np.maximum(weight, 1e-12), np.nan)
    deducted = pd.DataFrame(index=values.index)
    for key, d in scheme.deductions.items():
        deducted[key] = np.minimum(d.points * values[key].to_numpy(dtype=float), d.cap)
    total = deducted.sum(axis=1).to_numpy() if len(deducted.columns) else np.zeros(len(values))
    return np.round(np.maximum(base - total, 0.0), 2), deducted


def rank(scores: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Ranks (1 best; ties share the better rank, NaN unranked), whether tied, whether bottom."""
    s = pd.Series(scores)
    ranks = s.rank(method="min", ascending=False).to_numpy()
    tied = s.duplicated(keep=False).to_numpy() & s.notna().to_numpy()
    ranked = s.dropna()
    bottom = np.zeros(len(s), dtype=bool)
    if len(ranked):
        third = np.sort(ranked.to_numpy())[min(BOTTOM, len(ranked)) - 1]
        bottom = (s <= third).to_numpy()
    return ranks, tied, bottom


@dataclass(frozen=True)
class Assessment:
    """One period's assessment of one kind of unit."""

    period: Period
    by: str
    scheme: Scheme
    rows: pd.DataFrame  # code, name, score, rank, tied, bottom, indicators, sets, deductions, comparisons
    as_of: str

    @property
    def bottom(self) -> list[str]:
        return self.rows.loc[self.rows["bottom"], "code"].tolist()

    def to_json(self) -> dict[str, Any]:
        """``{"period", "by", "rows": [{code, name, score, rank, <indicators>...}], "bottom"}``."""
        keys = [i.key for i in INDICATORS]
        rows = []
        for rec in self.rows.to_dict(orient="records"):
            row: dict[str, Any] = {
                "code": rec["code"],
                "name": rec["name"],
                "score": _clean(rec["score"]),
                "rank": None if pd.isna(rec["rank"]) else int(rec["rank"]),
                "tied": bool(rec["tied"]),
                "bottom": bool(rec["bottom"]),
            }
            for k in keys:
                row[k] = _clean(rec[k], count=ind.BY_KEY[k].kind == "count")
            row["deductions"] = {k: _clean(rec[f"deduct_{k}"]) for k in self.scheme.deductions}
            row["score_previous"] = _clean(rec["score_previous"])
            row["score_last_year"] = _clean(rec["score_last_year"])
            for when in ("previous", "last_year"):  # every indicator month on month and year on year
                row[when] = {k: _clean(rec[f"{k}_{when}"], count=ind.BY_KEY[k].kind == "count") for k in keys}
            rows.append(row)
        return {
            "period": self.period.label,
            "start": self.period.start.isoformat(),
            "end": self.period.end.isoformat(),
            "as_of": self.as_of,
            "by": self.by,
            "scheme": self.scheme.name,
            "rows": rows,
            "bottom": self.bottom,
        }

    def table(self) -> pd.DataFrame:
        """The ranking as a plain table (rates as fractions, "—" where undefined is the viewer's job)."""
        keys = [i.key for i in INDICATORS]
        cols = ["rank", "code", "name", "score", "tied", "bottom", *keys, "score_previous", "score_last_year"]
        return self.rows[cols]


def _clean(value: object, *, count: bool = False) -> float | int | None:
    if value is None or (isinstance(value, float) and not math.isfinite(value)) or pd.isna(value):  # type: ignore[arg-type]
        return None
    number = float(value)  # type: ignore[arg-type]
    return int(number) if count else number


def _scored(
    cases: CaseArrays, period: Period, *, by: str, scheme: Scheme, names: dict[str, str]
) -> pd.DataFrame:
    values = ind.compute(cases, period, by=by)
    scores, deducted = score(values, scheme)
    ranks, tied, bottom = rank(scores)
    out = values.reset_index()
    out.insert(1, "name", out["code"].map(names).fillna(out["code"]))
    out.insert(2, "score", scores)
    out.insert(3, "rank", ranks)
    out.insert(4, "tied", tied)
    out.insert(5, "bottom", bottom)
    for key in scheme.deductions:
        out[f"deduct_{key}"] = deducted[key].to_numpy()
    return out


def _first_report(store: Store) -> dt.date | None:
    first = store.conn.execute("SELECT MIN(reported_at) FROM cases").fetchone()[0]
    return dt.date.fromisoformat(first[:10]) if first else None


def assess(
    store: Store,
    period: Period,
    *,
    by: str = "town",
    schemes: dict[str, Scheme] | None = None,
    code: str | None = None,
    cases: CaseArrays | None = None,
    compare: bool = True,
    check: bool = True,
) -> Assessment:
    """Score and rank every unit of ``by`` over ``period``; with ``code``, keep that unit only.

    ``cases`` (all cases, :func:`layers.indicators.load_case_arrays` without bounds) saves the
    reads when many periods are assessed; otherwise the cases that can matter are read. With
    ``compare`` the scores of the previous period and of the same period a year before are
    added (``NaN`` where the store holds no case then).
    """
    if by not in ind.BY:
        raise ind.AssessmentError(f"unknown grouping {by!r}; choose one of {', '.join(ind.BY)}")
    if check:
        ind.check_period(store, period)
    schemes = schemes or load_schemes()
    scheme = scheme_for(schemes, by)
    names = ind.unit_names(store, by=by)
    if code is not None and code not in names and not (by == "department" and code in names.values()):
        kind = {"town": "town", "community": "community", "department": "department", "centre": "centre"}[by]
        raise UnknownUnitError(f"no {kind} has the code {code!r}; see the codes with --by {by} --json")
    prev = period.previous()
    data = ind.load_case_arrays(store, since=prev.start, until=period.end) if cases is None else cases
    rows = _scored(data, period, by=by, scheme=scheme, names=names)
    compared = ["score", *(i.key for i in INDICATORS)]
    for when in ("previous", "last_year"):  # month on month, year on year (NaN: no data then)
        for key in compared:
            rows[f"{key}_{when}"] = np.nan
    if compare:
        first = _first_report(store)
        last = period.last_year()
        for when, other in (("previous", prev), ("last_year", last)):
            if first is None or other.end <= first:  # the store holds no case then
                continue
            if cases is None and when == "last_year":
                other_data = ind.load_case_arrays(store, since=other.start, until=other.end)
            else:
                other_data = data
            then = _scored(other_data, other, by=by, scheme=scheme, names=names).set_index("code")
            for key in compared:
                rows[f"{key}_{when}"] = rows["code"].map(then[key])
    if code is not None:
        if by == "department" and code not in names:
            code = next(c for c, n in names.items() if n == code)
        rows = rows[rows["code"] == code].reset_index(drop=True)
    rows = rows.sort_values(["rank", "code"], na_position="last", kind="stable").reset_index(drop=True)
    as_of = dt.datetime.fromtimestamp(0, dt.UTC).replace(tzinfo=None) + dt.timedelta(seconds=int(data.as_of))
    return Assessment(
        period=period, by=by, scheme=scheme, rows=rows, as_of=as_of.isoformat(timespec="seconds")
    )


# -- the cases behind the deductions, and the report ------------------------------------------------


def deduction_cases(store: Store, result: Assessment, *, cases: CaseArrays | None = None) -> pd.DataFrame:
    """Every case behind a deduction of ``result``: the deduction, the unit and the case's record."""
    period = result.period
    data = cases if cases is not None else ind.load_case_arrays(store, since=period.start, until=period.end)
    sets = ind.case_sets(data, period)
    unit = data.unit[result.by]
    labels = data.labels[result.by]
    keep = set(result.rows["code"])
    frames = []
    for key in result.scheme.deductions:
        m = sets[key] & (unit >= 0)
        idx = np.flatnonzero(m)
        codes = labels[unit[idx]]
        sel = np.isin(codes, list(keep))
        ids = np.asarray(data.ids.take(idx[sel]).to_pylist(), dtype=object)
        frames.append(pd.DataFrame({"deduction": key, "unit": codes[sel], "case_id": ids}))
    found = (
        pd.concat(frames, ignore_index=True)
        if frames
        else pd.DataFrame(columns=["deduction", "unit", "case_id"])
    )
    if found.empty:
        return found
    detail = case_details(store, found["case_id"].unique().tolist())
    return found.merge(detail, left_on="case_id", right_on="id", how="left").drop(columns="id")


def case_details(store: Store, ids: list[str]) -> pd.DataFrame:
    """The records of the cases ``ids`` (for the drill-downs and the report), in one query per
    30,000 ids (SQLite's limit on parameters is 32,766)."""
    cols = (
        "c.id, c.town_code, c.grid_code, c.dept_code, c.centre_code, c.channel_code, c.event_type_code, "
        "e.name AS event_type, c.status, c.reported_at, c.registered_at, c.dispatched_at, c.deadline_at, "
        "c.handled_at, c.closed_at, c.evaluated_at, c.rework_count, c.sendback_count, c.callback"
    )
    parts = []
    for i in range(0, max(len(ids), 1), 30_000):
        chunk = ids[i : i + 30_000]
        if not chunk:
            break
        sql = (
            f"SELECT {cols} FROM cases c LEFT JOIN event_types e ON e.code = c.event_type_code "
            f"WHERE c.id IN ({','.join('?' * len(chunk))})"
        )
        parts.append(store.read_arrow(sql, list[object](chunk)).to_pandas())
    if not parts:
        return pd.DataFrame(columns=[c.split(" AS ")[-1].split(".")[-1] for c in cols.split(", ")])
    return pd.concat(parts, ignore_index=True).sort_values("id", kind="stable").reset_index(drop=True)


def write_csv(result: Assessment, path: Path) -> None:
    """The ranking as CSV (UTF-8 with BOM, so spreadsheet programs read the Chinese names); an
    undefined rate is written as "—"."""
    table = result.table().copy()
    for key in (*ind.RATES, "handling_hours_mean", "handling_hours_median", "score", "score_previous",
                "score_last_year"):  # fmt: skip
        table[key] = table[key].astype(object).where(table[key].notna(), "—")
    table["rank"] = table["rank"].astype(object).where(table["rank"].notna(), "—")
    table.to_csv(path, index=False, encoding="utf-8-sig")


def write_xlsx(
    store: Store, result: Assessment, path: Path | BinaryIO, *, cases: CaseArrays | None = None
) -> None:
    """The report a leader forwards: the ranking, one sheet per indicator with its definition and
    the numerator and denominator of each unit, the weights, and the cases behind each deduction."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    bold = Font(bold=True)
    wb = Workbook()
    ws = wb.active
    ws.title = "排名 Ranking"
    ws.append([f"{result.scheme.title_zh} {result.period.label}", result.scheme.title_en])
    ws.append(["统计区间 period", result.period.start.isoformat(), result.period.end.isoformat(), "数据截至 as of",
               result.as_of])  # fmt: skip
    ws.append(["末三位 bottom three", ", ".join(result.bottom)])
    ws.append([])
    head = ["排名 rank", "代码 code", "名称 name", "得分 score", "并列 tied", "末三位 bottom",
            *(f"扣分 {k}" for k in result.scheme.deductions), "上期得分 previous", "去年同期 last year"]  # fmt: skip
    ws.append(head)
    for cell in ws[ws.max_row]:
        cell.font = bold
    for rec in result.rows.to_dict(orient="records"):
        ws.append([
            _clean(rec["rank"], count=True), rec["code"], rec["name"], _clean(rec["score"]),
            "是" if rec["tied"] else "", "是" if rec["bottom"] else "",
            *(_clean(rec[f"deduct_{k}"]) for k in result.scheme.deductions),
            _clean(rec["score_previous"]), _clean(rec["score_last_year"]),
        ])  # fmt: skip
    for i in INDICATORS:
        sheet = wb.create_sheet(i.zh[:31])
        sheet.append([i.zh, i.en])
        sheet.append(["公式 formula", i.formula])
        sheet.append(["分子 numerator", i.numerator])
        sheet.append(["分母 denominator", i.denominator or "—"])
        sheet.append(["计入案件 cases counted", i.counts])
        sheet.append(["期间规则 period rule", i.period])
        sheet.append(["越高越好 higher is better", "是" if i.higher_is_better else "否"])
        sheet.append([])
        sheet.append(["代码 code", "名称 name", "分子 numerator", "分母 denominator", "值 value",
                      "上期 previous", "去年同期 last year"])  # fmt: skip
        for cell in sheet[sheet.max_row]:
            cell.font = bold
        for rec in result.rows.to_dict(orient="records"):
            value = _clean(rec[i.key], count=i.kind == "count")
            before = _clean(rec[f"{i.key}_previous"], count=i.kind == "count")
            year = _clean(rec[f"{i.key}_last_year"], count=i.kind == "count")
            sheet.append([
                rec["code"], rec["name"], int(rec[i.numerator]),
                int(rec[i.denominator]) if i.denominator else None,
                *("—" if v is None else v for v in (value, before, year)),
            ])  # fmt: skip
            if i.kind == "rate":
                for col in (5, 6, 7):
                    sheet.cell(row=sheet.max_row, column=col).number_format = "0.0%"
    wsw = wb.create_sheet("权重 Weights")
    wsw.append(["方案 scheme", result.scheme.name, result.scheme.title_zh, result.scheme.title_en])
    wsw.append(["指标 indicator", "名称 name", "分值 points"])
    for key, w in result.scheme.weights.items():
        wsw.append([key, ind.BY_KEY[key].zh, w])
    wsw.append([])
    wsw.append(["扣分项 deduction", "每件扣分 points per case", "上限 cap"])
    for key, d in result.scheme.deductions.items():
        wsw.append([key, d.points, d.cap])
    wsd = wb.create_sheet("扣分案件 Deduction cases")
    detail = deduction_cases(store, result, cases=cases)
    wsd.append(list(detail.columns))
    for row in detail.itertuples(index=False):  # the cases of one report: thousands of rows at most
        wsd.append([None if (isinstance(v, float) and math.isnan(v)) else v for v in row])
    wb.save(path)


def report_json(result: Assessment) -> str:
    return json.dumps(result.to_json(), ensure_ascii=False, indent=2)
