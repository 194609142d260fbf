"""Case and component aggregates: exact answers on hand-made frames and the tiny district."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from layers import analysis
from layers.store import open_store
from tests.maps.tinystore import END, build_tiny_store


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_store(
        tmp_path_factory.mktemp("analysis") / "tiny.sqlite", n_components=500, cases_per_day=10
    )


def test_bin_points_exact() -> None:
    x = np.array([0.0, 10.0, 249.9, 250.0, -1.0, np.nan])
    y = np.array([0.0, 0.0, 249.9, 0.0, 0.0, 0.0])
    cells = analysis.bin_points(x, y, cell=250.0)
    got = {(r.cx, r.cy): r.count for r in cells.itertuples()}
    assert got == {(125.0, 125.0): 3, (375.0, 125.0): 1, (-125.0, 125.0): 1}
    with pytest.raises(ValueError, match="cell size must be positive"):
        analysis.bin_points(x, y, cell=0)


def test_heat_raw_for_a_day_binned_beyond() -> None:
    x = np.full(5000, 557_100.0)
    y = np.full(5000, 3_458_100.0)
    raw = analysis.heat(x[:10], y[:10], days=30)
    assert not raw.binned and len(raw.lon) == 10  # few cases: raw even over a month
    day = analysis.heat(x, y, days=1)
    assert not day.binned and len(day.lon) == 5000
    month = analysis.heat(x, y, days=30)
    assert month.binned and len(month.lon) == 1 and month.weight.tolist() == [5000.0]
    assert 120.5 < month.lon[0] < 120.7 and 31.1 < month.lat[0] < 31.3


def test_grid_case_stats_definitions() -> None:
    cases = pd.DataFrame(
        {
            "grid_code": ["320506001001001", "320506001001002", "320506001002001", "320506002001001"],
            "status": ["dispatched", "closed", "reported", "rejected"],
            "deadline_at": ["2026-03-01T00:00:00", "2026-03-05T00:00:00", None, "2026-01-01T00:00:00"],
        }
    )
    s3 = analysis.grid_case_stats(cases, level=3, as_of="2026-03-02T00:00:00")
    assert s3.loc["320506001001001", ["open", "overdue", "due", "closed"]].tolist() == [1, 1, 1, 0]
    assert s3.loc["320506001001002", "closure_rate"] == 1.0  # closed counts as due even before its deadline
    assert np.isnan(s3.loc["320506001002001", "closure_rate"])  # nothing due yet
    assert s3.loc["320506002001001", ["open", "due"]].tolist() == [0, 0]  # rejected is neither
    s1 = analysis.grid_case_stats(cases, level=1, as_of="2026-03-02T00:00:00")
    assert s1.index.tolist() == ["320506001000000", "320506002000000"]
    assert s1.loc["320506001000000", "cases"] == 3 and s1.loc["320506001000000", "closure_rate"] == 0.5


def test_codes_and_months() -> None:
    codes = np.array(["320506001002003"])
    assert analysis.codes_at_level(codes, 2).tolist() == ["320506001002000"]
    assert analysis.codes_at_level(codes, 1).tolist() == ["320506001000000"]
    with pytest.raises(ValueError, match="grid level"):
        analysis.codes_at_level(codes, 4)
    assert analysis.months(dt.date(2025, 11, 20), dt.date(2026, 2, 1)) == [
        "2025-11",
        "2025-12",
        "2026-01",
        "2026-02",
    ]
    within = (dt.date(2025, 11, 20), dt.date(2026, 2, 1))
    assert analysis.month_window("2025-11", within=within) == (dt.date(2025, 11, 20), dt.date(2025, 11, 30))
    assert analysis.month_window("2025-12", within=within) == (dt.date(2025, 12, 1), dt.date(2025, 12, 31))
    with pytest.raises(ValueError, match="outside"):
        analysis.month_window("2026-05", within=within)


def test_case_filter_validation() -> None:
    with pytest.raises(ValueError, match=r"ends .* before it starts"):
        analysis.CaseFilter(start=dt.date(2026, 2, 2), end=dt.date(2026, 2, 1))
    with pytest.raises(ValueError, match="unknown case statuses"):
        analysis.CaseFilter(start=dt.date(2026, 2, 1), end=dt.date(2026, 2, 1), statuses=("lost",))
    assert analysis.CaseFilter(start=dt.date(2026, 2, 1), end=dt.date(2026, 2, 1)).days == 1


def test_grid_at_uses_the_tie_rule() -> None:
    boxes = gpd.GeoDataFrame(
        {"code": ["b", "a"]},
        geometry=[shapely.box(0, 0, 1000, 1000), shapely.box(1000, 0, 2000, 1000)],
        crs="EPSG:4549",
    )
    boxes = boxes.set_geometry(boxes.geometry.translate(557_000, 3_458_000))
    lon, lat = analysis.to_lonlat(np.array([558_000.0]), np.array([3_458_500.0]))  # on the shared edge
    assert analysis.grid_at(boxes, lon=float(lon[0]), lat=float(lat[0])) == "a"
    lon, lat = analysis.to_lonlat(np.array([557_500.0]), np.array([3_458_500.0]))
    assert analysis.grid_at(boxes, lon=float(lon[0]), lat=float(lat[0])) == "b"
    assert analysis.grid_at(boxes, lon=0.0, lat=0.0) is None
    assert analysis.grid_at(boxes, lon=float("nan"), lat=1.0) is None


def test_store_queries(tiny: Path) -> None:
    with open_store(tiny, readonly=True) as store:
        span = analysis.case_span(store)
        assert span == (END - dt.timedelta(days=60), END)
        flt = analysis.CaseFilter(start=END, end=END)
        day = analysis.load_cases(store, flt)
        want = store.conn.execute(
            "SELECT COUNT(*) FROM cases WHERE substr(reported_at, 1, 10) = ?", (END.isoformat(),)
        ).fetchone()[0]
        assert len(day) == want > 0
        town = analysis.load_cases(store, analysis.CaseFilter(start=span[0], end=END, town="320506002000000"))
        assert set(town["grid_code"].str[:9]) == {"320506002"}
        hot = analysis.CaseFilter(
            start=span[0], end=END, event_majors=("02",), channels=("C02",), statuses=("closed",)
        )
        assert (
            analysis.load_cases(store, hot, columns=("event_type_code", "status"))["event_type_code"]
            == "E0201"
        ).all()
        comps = analysis.component_counts(store, level=1)
        assert comps.sum() == 500 and comps.index.tolist() == ["320506001000000", "320506002000000"]
        top = analysis.top_event_types(
            store, analysis.CaseFilter(start=span[0], end=END), code="320506001000000", level=1
        )
        assert top["name"].tolist()[0] == "暴露垃圾" and top["count"].is_monotonic_decreasing
        majors, chans = analysis.event_majors(store), analysis.channels(store)
        assert majors["code"].tolist() == ["01", "02"] and chans["code"].tolist() == ["C01", "C02"]
        index = analysis.component_index(store)
        frame, total = analysis.components_in_view(
            store, index, west=120.0, south=31.0, east=121.0, north=32.0, limit=50
        )
        assert total == 500 and len(frame) == 50 and {"lon", "lat", "class_name"} <= set(frame.columns)


def test_staff_is_masked_unless_told(tiny: Path) -> None:
    with open_store(tiny, readonly=True) as store:
        masked = analysis.staff_of_grid(store, "320506001001001", level=3)
        clear = analysis.staff_of_grid(store, "320506001001001", level=3, masked=False)
        assert len(masked) == 2 and analysis.staff_count(store, "320506001000000", level=1) == 8
    assert "张三丰" in clear["name"].tolist() and "张三丰" not in masked["name"].tolist()
    assert not masked["phone"].str.contains("12345678").any()
    assert not masked["id_number"].str.contains("19900101").any()


def _statements(store: object, run: object) -> list[str]:
    """The SQL a call runs, with its parameters bound (SQLite's trace callback)."""
    seen: list[str] = []
    conn = store.conn  # type: ignore[attr-defined]
    conn.set_trace_callback(seen.append)
    try:
        run()  # type: ignore[operator]
    finally:
        conn.set_trace_callback(None)
    return [s for s in seen if s.lstrip().upper().startswith("SELECT")]


def _plan(store: object, sql: str) -> str:
    rows = store.conn.execute(f"EXPLAIN QUERY PLAN {sql}").fetchall()  # type: ignore[attr-defined]
    return " | ".join(str(r[-1]) for r in rows)


@pytest.mark.parametrize(
    "level, code", [(1, "320506001000000"), (2, "320506002001000"), (3, "320506001001001")]
)
def test_grid_queries_search_the_grid_index(tiny: Path, level: int, code: str) -> None:
    """Staff and a grid's event types are found through the index on ``grid_code``: no ``LIKE``
    (case-insensitive in SQLite, so it cannot use the index) and no scan of the table."""
    with open_store(tiny, readonly=True) as store:
        flt = analysis.CaseFilter(start=END - dt.timedelta(days=60), end=END)
        staff_calls = (
            lambda: analysis.staff_of_grid(store, code, level=level),
            lambda: analysis.staff_count(store, code, level=level),
        )
        for run in staff_calls:
            (sql,) = _statements(store, run)
            assert " LIKE " not in sql.upper(), sql
            assert "USING INDEX staff_grid" in _plan(
                store, sql
            ) or "USING COVERING INDEX staff_grid" in _plan(store, sql), _plan(store, sql)
        (sql,) = _statements(store, lambda: analysis.top_event_types(store, flt, code=code, level=level))
        assert " LIKE " not in sql.upper() and "SCAN c" not in _plan(store, sql), (sql, _plan(store, sql))
        # The same staff as a plain prefix test over the whole table.
        every = store.conn.execute("SELECT grid_code FROM staff").fetchall()
        prefix = {1: code[:9], 2: code[:12], 3: code}[level]
        assert (
            analysis.staff_count(store, code, level=level) == sum(g.startswith(prefix) for (g,) in every) > 0
        )


def test_month_parts_say_which_days_are_in() -> None:
    parts = analysis.month_parts(dt.date(2026, 10, 31), dt.date(2026, 11, 29))
    assert [(p.month, p.first, p.last, p.whole) for p in parts] == [
        ("2026-10", dt.date(2026, 10, 31), dt.date(2026, 10, 31), False),
        ("2026-11", dt.date(2026, 11, 1), dt.date(2026, 11, 29), False),
    ]
    whole = analysis.month_parts(dt.date(2024, 2, 1), dt.date(2024, 3, 31))
    assert [p.whole for p in whole] == [True, True] and whole[0].last == dt.date(2024, 2, 29)


def test_components_in_view_count_exactly_and_keep_to_the_town(tiny: Path) -> None:
    """The total is the components inside the lon/lat box (not the larger projected box the index
    answers for), and a town keeps only its own; the sample is spread and within both."""
    box = {"west": 120.605, "south": 31.245, "east": 120.63, "north": 31.257}  # across both towns
    with open_store(tiny, readonly=True) as store:
        every = store.read_arrow("SELECT code, grid_code, x, y FROM components").to_pandas()
        lon, lat = analysis.to_lonlat(every["x"].to_numpy(), every["y"].to_numpy())
        inside = (lon >= box["west"]) & (lon <= box["east"]) & (lat >= box["south"]) & (lat <= box["north"])
        index = analysis.component_index(store)
        frame, total = analysis.components_in_view(store, index, limit=10_000, **box)
        assert 0 < total == int(inside.sum()) == len(frame) < len(every)
        assert set(frame["code"]) == set(every.loc[inside, "code"])
        town = "320506002000000"
        want = inside & every["grid_code"].str.startswith("320506002").to_numpy()
        frame, total = analysis.components_in_view(store, index, limit=10, town=town, **box)
        assert total == int(want.sum()) > 10 and len(frame) == 10
        assert frame["grid_code"].str.startswith("320506002").all()
        assert set(frame["code"]) <= set(every.loc[want, "code"])
