"""Rhythm: reports by weekday (Monday first) and hour, per channel and class, within a scope."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from pathlib import Path

import pytest

from layers import rhythm
from layers.errors import AssessmentError
from layers.indicators import Period
from layers.store import open_store
from tests.helpers import connect

PERIOD = Period.of_months("2026-11")


def test_counts_by_weekday_and_hour_match_the_reports(small_store_path: Path) -> None:
    conn = connect(small_store_path)
    times = [dt.datetime.fromisoformat(r[0]) for r in conn.execute("SELECT reported_at FROM cases")]
    town = conn.execute("SELECT town_code FROM cases GROUP BY town_code ORDER BY count(*) DESC").fetchone()[0]
    in_town = conn.execute("SELECT count(*) FROM cases WHERE town_code = ?", (town,)).fetchone()[0]
    conn.close()
    want = Counter((t.weekday(), t.hour) for t in times)  # Python's weekday: Monday = 0
    with open_store(small_store_path, readonly=True) as store:
        got = rhythm.rhythm(store, PERIOD)
        by_channel = rhythm.rhythm(store, PERIOD, by="channel")
        scoped = rhythm.rhythm(store, PERIOD, town=town)
        with pytest.raises(AssessmentError, match="unknown rhythm grouping"):
            rhythm.rhythm(store, PERIOD, by="weather")
    assert {(r.weekday, r.hour): r.cases for r in got.itertuples()} == dict(want)
    assert by_channel["cases"].sum() == len(times) and by_channel["key"].nunique() > 1
    assert scoped["cases"].sum() == in_town
    matrix = rhythm.hour_weekday_matrix(got)
    assert matrix.shape == (7, 24) and int(matrix.to_numpy().sum()) == len(times)
