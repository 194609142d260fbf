"""Case-count forecasts per town and per event major class for the next 1–3 months, and their backtest.

Series: the district, each town, each event major class, and each class in each town
(``town:<code>|major:<code>``, on request: 300-odd series of small fits).

Two models per series, and the one with the smaller backtest error is used:

- **seasonal naive** (the baseline): a month forecast as the same month a year before; where the
  store holds less than a year before the origin, the last month (plain naive), and the output
  says so (``baseline`` = ``naive``);
- **exponential smoothing** with a damped additive trend (statsmodels ``ExponentialSmoothing``),
  seasonal only when two full years are there to estimate it.

Counts are modelled per day (a month's count over its days) and multiplied back by the days of
the month forecast, so February's shortness is not taken for a fall. Only whole months count:
the store's first and last months are left out when the data begins or ends inside them.

The backtest runs from each origin of the last twelve whole months (at least
:data:`MIN_TRAIN` months of history before it) and forecasts 1–3 months ahead; the error is the
mean absolute error and the WAPE (Σ|error| / Σ actual) over all those forecasts. The bands of a
forecast are ±1.96 × the root mean square backtest error of its model at that horizon.
"""

from __future__ import annotations

import calendar
import datetime as dt
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from layers.errors import AssessmentError, coded
from layers.store import Store

__all__ = ["HORIZON", "Forecasts", "backtest_and_forecast", "monthly_series"]

HORIZON = 3
MIN_TRAIN = 6
BACKTEST_MONTHS = 12


def _month_days(months: list[str]) -> np.ndarray:
    return np.array([calendar.monthrange(int(m[:4]), int(m[5:7]))[1] for m in months], dtype=float)


def _next_months(last: str, n: int) -> list[str]:
    y, m = int(last[:4]), int(last[5:7])
    out = []
    for _ in range(n):
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
        out.append(f"{y:04d}-{m:02d}")
    return out


def monthly_series(store: Store) -> tuple[list[str], pd.DataFrame]:
    """Cases reported per whole month: one column per series (``district``, ``town:<code>``,
    ``major:<code>``), one row per month."""
    first, last = store.conn.execute("SELECT MIN(reported_at), MAX(reported_at) FROM cases").fetchone()
    if first is None:
        raise AssessmentError("the store holds no case to forecast from")
    d0, d1 = dt.date.fromisoformat(first[:10]), dt.date.fromisoformat(last[:10])
    start = d0 if d0.day == 1 else (d0.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    end_excl = (
        (d1.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
        if d1.day == calendar.monthrange(d1.year, d1.month)[1]
        else d1.replace(day=1)
    )
    if end_excl <= start:
        raise AssessmentError(f"the store holds no whole month of cases ({d0} to {d1})")
    tab = store.read_arrow(
        "SELECT substr(c.reported_at, 1, 7) AS month, c.town_code, e.major_code, count(*) AS n "
        "FROM cases c JOIN event_types e ON e.code = c.event_type_code "
        "WHERE c.reported_at >= ? AND c.reported_at < ? GROUP BY month, c.town_code, e.major_code",
        [start.isoformat(), end_excl.isoformat()],
    ).to_pandas()
    months = sorted(tab["month"].unique().tolist())
    town = tab.pivot_table(index="month", columns="town_code", values="n", aggfunc="sum", fill_value=0)
    major = tab.pivot_table(index="month", columns="major_code", values="n", aggfunc="sum", fill_value=0)
    cross = tab.assign(key="town:" + tab["town_code"] + "|major:" + tab["major_code"]).pivot_table(
        index="month", columns="key", values="n", aggfunc="sum", fill_value=0
    )
    frame = pd.concat(
        [
            tab.groupby("month")["n"].sum().rename("district").to_frame(),
            town.add_prefix("town:"),
            major.add_prefix("major:"),
            cross,
        ],
        axis=1,
    ).reindex(months, fill_value=0)
    return months, frame.astype(float)


def is_marginal(name: str) -> bool:
    """The district, a town or an event class (not one class in one town)."""
    return "|" not in name


def _ets(rate: np.ndarray, steps: int) -> np.ndarray:
    from statsmodels.tsa.holtwinters import ExponentialSmoothing

    seasonal = 12 if rate.size >= 24 else None
    with warnings.catch_warnings():  # short series: the optimiser's convergence notes are expected
        warnings.simplefilter("ignore")
        if np.ptp(rate) == 0:
            return np.full(steps, rate[-1])
        fit = ExponentialSmoothing(
            rate, trend="add", damped_trend=True, seasonal="add" if seasonal else None,
            seasonal_periods=seasonal, initialization_method="estimated",
        ).fit(use_brute=False)  # fmt: skip
        return np.maximum(np.asarray(fit.forecast(steps), dtype=float), 0.0)


def _seasonal_naive(rate: np.ndarray, steps: int) -> tuple[np.ndarray, str]:
    if rate.size >= 12:
        idx = rate.size - 12 + (np.arange(steps) % 12)
        return rate[idx], "seasonal_naive"
    return np.full(steps, rate[-1]), "naive"


MODELS = ("baseline", "ets")


@dataclass(frozen=True)
class Forecasts:
    months: list[str]  # the history's whole months
    history: pd.DataFrame  # month × series: counts
    errors: pd.DataFrame  # series, model, horizon, n, mae, wape, rmse
    summary: pd.DataFrame  # series, baseline kind, mae/wape of both, winner
    forecast: pd.DataFrame  # series, month, horizon, model, value, low, high


def backtest_and_forecast(store: Store, *, series: list[str] | None = None) -> Forecasts:
    """Backtest both models over the last year of whole months, then forecast 1–3 months with
    the winner of each series."""
    months, frame = monthly_series(store)
    if len(months) < MIN_TRAIN + 1:
        raise coded(
            AssessmentError(
                f"forecasts need at least {MIN_TRAIN + 1} whole months of cases; the store holds {len(months)}"
            ),
            "forecast_months",
            need=MIN_TRAIN + 1,
            have=len(months),
        )
    # By default the district, each town and each event class; one class in one town
    # ("town:<code>|major:<code>", 300-odd series) when asked for.
    cols = series or [c for c in frame.columns if is_marginal(c)]
    unknown = [c for c in cols if c not in frame.columns]
    if unknown:
        raise AssessmentError(
            f"no series {', '.join(unknown)}; known: district, town:<code>, major:<code>, town:<code>|major:<code>"
            " (with cases in the store)"
        )
    days = _month_days(months)
    origins = [o for o in range(max(MIN_TRAIN, len(months) - BACKTEST_MONTHS), len(months))]
    err_rows, fc_rows, summary_rows = [], [], []
    future = _next_months(months[-1], HORIZON)
    future_days = _month_days(future)
    for name in cols:  # a few dozen series, each a handful of small model fits
        y = frame[name].to_numpy()
        rate = y / days
        errs: dict[str, list[list[float]]] = {m: [[] for _ in range(HORIZON)] for m in MODELS}
        kind = "naive"
        for o in origins:
            steps = min(HORIZON, len(months) - o)
            base, kind = _seasonal_naive(rate[:o], steps)
            ets = _ets(rate[:o], steps)
            actual = y[o : o + steps]
            for model, pred in (("baseline", base), ("ets", ets)):
                for h in range(steps):
                    errs[model][h].append(float(pred[h] * days[o + h] - actual[h]))
        actual_sum = {
            h: float(sum(abs(y[o + h]) for o in origins if o + h < len(months))) for h in range(HORIZON)
        }
        total = {}
        for model in MODELS:
            all_e = np.concatenate([np.asarray(e) for e in errs[model]])
            denom = sum(actual_sum.values())
            total[model] = (
                float(np.abs(all_e).mean()),
                float(np.abs(all_e).sum() / denom) if denom else np.nan,
            )
            for h in range(HORIZON):
                e = np.asarray(errs[model][h])
                err_rows.append({
                    "series": name, "model": model, "horizon": h + 1, "n": e.size,
                    "mae": float(np.abs(e).mean()) if e.size else np.nan,
                    "wape": float(np.abs(e).sum() / actual_sum[h]) if actual_sum[h] else np.nan,
                    "rmse": float(np.sqrt((e**2).mean())) if e.size else np.nan,
                })  # fmt: skip
        winner = "ets" if total["ets"][0] < total["baseline"][0] else "baseline"
        summary_rows.append({
            "series": name, "baseline": kind, "mae_baseline": total["baseline"][0], "wape_baseline": total["baseline"][1],
            "mae_ets": total["ets"][0], "wape_ets": total["ets"][1], "winner": winner,
        })  # fmt: skip
        pred = _ets(rate, HORIZON) if winner == "ets" else _seasonal_naive(rate, HORIZON)[0]
        for h in range(HORIZON):
            e = np.asarray(errs[winner][h])
            band = 1.96 * float(np.sqrt((e**2).mean())) if e.size else np.nan
            value = float(pred[h] * future_days[h])
            fc_rows.append({
                "series": name, "month": future[h], "horizon": h + 1, "model": winner, "value": value,
                "low": max(value - band, 0.0), "high": value + band,
            })  # fmt: skip
    return Forecasts(
        months=months,
        history=frame[cols],
        errors=pd.DataFrame(err_rows),
        summary=pd.DataFrame(summary_rows),
        forecast=pd.DataFrame(fc_rows),
    )
