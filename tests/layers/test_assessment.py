"""Scores, ranks, ties and the bottom three; the bounded read gives the same indicators as the full one."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from layers import assessment
from layers import indicators as ind
from layers.store import open_store


def test_ties_share_the_better_rank_and_the_bottom_takes_ties() -> None:
    ranks, tied, bottom = assessment.rank(np.array([90.0, 80.0, 70.0, 70.0, 70.0, 70.0, np.nan]))
    assert ranks[:6].tolist() == [1, 2, 3, 3, 3, 3] and np.isnan(ranks[6])
    assert tied.tolist() == [False, False, True, True, True, True, False]
    assert bottom.tolist() == [False, False, True, True, True, True, False]  # four tied at the third-last
    _, _, bottom = assessment.rank(np.array([95.0, 90.0, 85.0, 80.0, 60.0]))
    assert bottom.tolist() == [False, False, True, True, True]


def test_score_weights_rates_and_deducts_with_caps() -> None:
    scheme = assessment.Scheme(
        name="t", title_zh="t", title_en="t", applies_to=("town",),
        weights={"closure_rate": 60.0, "rework_rate": 40.0},
        deductions={"overdue": assessment.Deduction(points=1.0, cap=5.0)},
    )  # fmt: skip
    values = pd.DataFrame(
        {
            "closure_rate": [1.0, 0.5, np.nan, np.nan],
            "rework_rate": [0.0, 0.5, 0.25, np.nan],
            "overdue": [0, 2, 0, 9],
        }
    )
    scores, deducted = assessment.score(values, scheme)
    # 100; 60·0.5 + 40·0.5 − 2 = 48; rework only, its weight scaled to 100: 75; nothing defined: no score.
    assert scores[:3].tolist() == [100.0, 48.0, 75.0] and np.isnan(scores[3])
    assert deducted["overdue"].tolist() == [0.0, 2.0, 0.0, 5.0]


def test_the_bounded_read_gives_the_same_indicators(small_store_path: Path) -> None:
    period = ind.Period.of_months("2026-11")
    with open_store(small_store_path, readonly=True) as store:
        everything = ind.load_case_arrays(store)
        bounded = ind.load_case_arrays(store, since=period.start, until=period.end)
    assert len(bounded) <= len(everything)
    for by in ind.BY:
        pd.testing.assert_frame_equal(
            ind.compute(everything, period, by=by), ind.compute(bounded, period, by=by)
        )


@pytest.mark.parametrize("by", ["town", "department"])
def test_assessment_with_and_without_the_cases_read_once(small_store_path: Path, by: str) -> None:
    period = ind.Period.of_months("2026-11")
    with open_store(small_store_path, readonly=True) as store:
        a = assessment.assess(store, period, by=by, check=False)
        b = assessment.assess(store, period, by=by, cases=ind.load_case_arrays(store), check=False)
    pd.testing.assert_frame_equal(a.rows, b.rows)
