"""Forecasts: the baseline's definition, the model choice by backtest, and the refusals."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from layers import forecast
from layers.errors import AssessmentError
from layers.store import open_store


def test_seasonal_naive_and_its_fallback() -> None:
    year = np.arange(1.0, 13.0)
    pred, kind = forecast._seasonal_naive(np.concatenate([year, year[:3]]), 3)
    assert kind == "seasonal_naive" and pred.tolist() == [4.0, 5.0, 6.0]
    pred, kind = forecast._seasonal_naive(np.array([3.0, 4.0, 5.0]), 3)
    assert kind == "naive" and pred.tolist() == [5.0, 5.0, 5.0]


def test_exponential_smoothing_follows_a_trend() -> None:
    pred = forecast._ets(np.arange(10.0, 22.0), 3)
    assert np.all(np.diff(pred) > 0) and pred[0] > 20


def test_a_store_without_a_whole_month_is_refused(small_store_path: Path) -> None:
    with (
        open_store(small_store_path, readonly=True) as store,
        pytest.raises(AssessmentError, match="no whole month"),
    ):
        forecast.backtest_and_forecast(store)


@pytest.mark.slow
def test_backtest_is_reproducible_and_uses_the_winner(full_store_path: Path) -> None:
    with open_store(full_store_path, readonly=True) as store:
        _, frame = forecast.monthly_series(store)
        cross = next(c for c in frame.columns if not forecast.is_marginal(c))  # one class in one town
        major = cross.split("|")[1]
        # The class in every town adds up to the class; the towns add up to the district.
        in_towns = [c for c in frame.columns if c.endswith(f"|{major}")]
        assert (frame[in_towns].sum(axis=1) == frame[major]).all()
        towns = [c for c in frame.columns if c.startswith("town:") and forecast.is_marginal(c)]
        assert (frame[towns].sum(axis=1) == frame["district"]).all()
        a = forecast.backtest_and_forecast(store, series=["district", "major:01", cross])
        b = forecast.backtest_and_forecast(store, series=["district", "major:01", cross])
        with pytest.raises(AssessmentError, match="no series town:999"):
            forecast.backtest_and_forecast(store, series=["town:999"])
    assert a.summary.equals(b.summary) and a.forecast.equals(b.forecast)
    assert set(a.forecast["horizon"]) == {1, 2, 3}
    for row in a.summary.to_dict(orient="records"):
        better = "ets" if row["mae_ets"] < row["mae_baseline"] else "baseline"
        assert row["winner"] == better
        used = a.forecast[a.forecast["series"] == row["series"]]
        assert (used["model"] == better).all()
        assert (used["low"] <= used["value"]).all() and (used["value"] <= used["high"]).all()
