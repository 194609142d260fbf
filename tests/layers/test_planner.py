"""Planner: compare a candidate grid set with the store, adopt it in one transaction.

The hand-made district: one town covering a 400 × 200 m strip, two communities side by side, two
level-3 grids in each (100 m wide). Coordinates are offset into the working CRS's range.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from bench.workloads import reshape_candidate
from layers.grids import load_grids, write_grids
from layers.planner import (
    AdoptionError,
    CandidateError,
    CandidateRejectedError,
    adopt_grids,
    check_candidate,
    compare_grids,
    read_candidate,
)
from layers.store import build_store, open_store
from spatial.errors import CRSError, OneGridError
from spatial.locate import GridLocator
from spatial.topology import check_grids

X0, Y0 = 550_000.0, 3_450_000.0
TOWN = "320506003000000"
C1, C2 = "320506003001000", "320506003002000"
G1, G2, G3, G4 = "320506003001001", "320506003001002", "320506003002001", "320506003002002"
G5 = "320506003002003"


@pytest.fixture(autouse=True)
def _clock(monkeypatch: pytest.MonkeyPatch) -> None:
    # Adoption depends on the day: a valid-from still to come is scheduled, not applied. The clock
    # is pinned after every valid-from these tests adopt immediately.
    monkeypatch.setenv("ONEGRID_NOW", "2027-06-01T09:00:00")


def box(x0: float, x1: float, y0: float = 0.0, y1: float = 200.0) -> shapely.Polygon:
    return shapely.box(X0 + x0, Y0 + y0, X0 + x1, Y0 + y1)


def grid_frame(level3: dict[str, shapely.Polygon]) -> gpd.GeoDataFrame:
    """Town, both communities and the given level-3 grids."""
    rows = [
        (TOWN, 1, None, "木渎镇", box(0, 400)),
        (C1, 2, TOWN, "一村", box(0, 200)),
        (C2, 2, TOWN, "二村", box(200, 400)),
    ]
    rows += [(code, 3, code[:12] + "000", f"片区{code[-3:]}", g) for code, g in level3.items()]
    return gpd.GeoDataFrame(
        {
            "code": [r[0] for r in rows],
            "level": [r[1] for r in rows],
            "parent_code": [r[2] for r in rows],
            "name": [r[3] for r in rows],
        },
        geometry=[r[4] for r in rows],
        crs="EPSG:4549",
    )


CURRENT = {G1: box(0, 100), G2: box(100, 200), G3: box(200, 300), G4: box(300, 400)}
#: The G1|G2 boundary moved 20 m east: a clean coverage.
MOVED = {G1: box(0, 120), G2: box(120, 200), G3: box(200, 300), G4: box(300, 400)}

# code: (x, y) relative to the strip's corner, and the grid stored for it now.
COMPONENTS = {
    "3205060101000001": (50, 50, G1),  # stays in G1
    "3205060101000002": (110, 50, G2),  # G2 → G1
    "3205060101000003": (120, 100, G2),  # on the new G1|G2 edge: the lower code, G1, wins
    "3205060101000004": (100, 100, G1),  # on the old edge (G1 by the tie rule), inside G1 now
    "3205060101000005": (250, 50, G3),
    "3205060101000006": (350, 50, G4),
}
# id: (x, y, grid, status)
CASES = {
    "C-open-moves": (110, 60, G2, "dispatched"),
    "C-open-stays": (50, 60, G1, "registered"),
    "C-closed": (115, 60, G2, "closed"),
    "C-evaluated": (112, 70, G2, "evaluated"),
}


def make_store(path: Path, level3: dict[str, shapely.Polygon] = CURRENT) -> Path:
    """A tiny store by hand: generation 1 from 2023-01-01, the grids, components and cases above."""
    with build_store(path) as store, store.transaction() as conn:
        conn.execute(
            "INSERT INTO generations(id, valid_from, valid_to, note, created_at)"
            " VALUES (1, '2023-01-01', NULL, 'test', '2023-01-01T00:00:00')"
        )
        write_grids(conn, grid_frame(level3), generation=1)
        conn.execute(
            "INSERT INTO departments(code, name, short_name, kind) VALUES ('D1', '城管局', '城管', 'bureau')"
        )
        conn.execute("INSERT INTO component_classes VALUES ('0101', '01', '公用设施', '上水井盖', 'D1')")
        conn.execute("INSERT INTO channels VALUES ('12345', '12345热线', 'hotline', 1.0)")
        conn.execute(
            "INSERT INTO event_types VALUES ('E1', '01', '市容环境', '0101', '暴露垃圾', '暴露垃圾',"
            " 'D1', 'D1', 'D1',"
            " '条例', '派遣', 2, 'workdays', '清理干净', '一般', NULL)"
        )
        conn.executemany(
            "INSERT INTO components"
            "(code, class_code, x, y, grid_code, state, surveyed_on, changed_on, source)"
            " VALUES (?, '0101', ?, ?, ?, '完好', '2023-01-01', '2023-01-01', '实测')",
            [(code, X0 + x, Y0 + y, g) for code, (x, y, g) in COMPONENTS.items()],
        )
        conn.executemany(
            "INSERT INTO cases(id, channel_code, event_type_code, description, x, y, grid_code,"
            " grid_generation,"
            " town_code, dept_code, status, urgency, reported_at)"
            " VALUES (?, '12345', 'E1', '垃圾', ?, ?, ?, 1, ?, 'D1', ?, '一般', '2026-11-01T09:00:00')",
            [(cid, X0 + x, Y0 + y, g, TOWN, s) for cid, (x, y, g, s) in CASES.items()],
        )
    return path


def snapshot(path: Path) -> dict[str, list[tuple[object, ...]]]:
    conn = sqlite3.connect(path)
    try:
        return {
            t: conn.execute(f"SELECT * FROM {t} ORDER BY 1, 2").fetchall()
            for t in (
                "generations",
                "grids",
                "components",
                "component_history",
                "cases",
                "case_history",
                "meta",
            )
        }
    finally:
        conn.close()


@pytest.fixture()
def store_path(tmp_path: Path) -> Path:
    return make_store(tmp_path / "tiny.sqlite")


# -- compare -----------------------------------------------------------------------------------


def test_compare_added_removed_reshaped_and_moves(store_path: Path) -> None:
    cand = grid_frame({G1: box(0, 120), G2: box(120, 200), G3: box(200, 300), G5: box(300, 400)})
    with open_store(store_path, readonly=True) as store:
        cmp = compare_grids(store, cand)
    assert cmp.generation == 1
    assert cmp.added["code"].tolist() == [G5]
    assert cmp.removed["code"].tolist() == [G4]
    assert cmp.added["area_m2"].tolist() == pytest.approx([20_000.0])
    r = cmp.reshaped.set_index("code")
    assert r.index.tolist() == [G1, G2]
    assert r.loc[G1, "area_change_m2"] == pytest.approx(4_000.0)
    assert r.loc[G1, "area_change_pct"] == pytest.approx(20.0)
    assert r.loc[G2, "area_change_pct"] == pytest.approx(-20.0)
    assert r.loc[G1, "symdiff_m2"] == pytest.approx(4_000.0)
    lv = cmp.per_level.set_index("level")
    assert lv.loc[3].to_dict() == {
        "current": 4,
        "candidate": 4,
        "added": 1,
        "removed": 1,
        "reshaped": 2,
        "unchanged": 1,
    }
    assert lv.loc[1, "unchanged"] == 1 and lv.loc[2, "unchanged"] == 2
    moves = cmp.component_moves.set_index("code")
    assert moves.to_dict("index") == {
        "3205060101000002": {"from_grid": G2, "to_grid": G1},
        "3205060101000003": {"from_grid": G2, "to_grid": G1},
        "3205060101000006": {"from_grid": G4, "to_grid": G5},
    }
    assert cmp.component_pairs.to_dict("records") == [
        {"from_grid": G2, "to_grid": G1, "count": 2},
        {"from_grid": G4, "to_grid": G5, "count": 1},
    ]
    # Closed and evaluated cases are history: they are not even considered.
    assert cmp.open_cases_total == 2
    assert cmp.case_moves.to_dict("records") == [
        {"id": "C-open-moves", "status": "dispatched", "from_grid": G2, "to_grid": G1}
    ]
    assert cmp.components_total == len(COMPONENTS)
    data = json.loads(cmp.to_json())
    assert data["components"]["moved"] == 3 and len(data["components"]["moves"]) == 3
    assert data["reshaped"][0]["code"] == G1


def test_compare_identical_is_unchanged_within_tolerance(store_path: Path) -> None:
    # Half a centimetre of jitter on one vertex (0.5 m²) is below the 1 m² tolerance.
    jitter = dict(CURRENT)
    jitter[G1] = shapely.Polygon([(X0, Y0), (X0 + 100.005, Y0), (X0 + 100, Y0 + 200), (X0, Y0 + 200)])
    with open_store(store_path, readonly=True) as store:
        assert compare_grids(store, grid_frame(CURRENT)).unchanged
        cmp = compare_grids(store, grid_frame(jitter))
    assert cmp.reshaped.empty and cmp.component_moves.empty


def test_compare_reprojects_and_relabels(store_path: Path) -> None:
    cand = grid_frame(CURRENT)
    cand.loc[cand["code"] == G3, "name"] = "新片区"
    with open_store(store_path, readonly=True) as store:
        cmp = compare_grids(store, cand.to_crs("EPSG:4326"))
    assert cmp.relabelled.to_dict("records") == [
        {"code": G3, "field": "name", "before": "片区001", "after": "新片区"}
    ]
    # The round trip through lon/lat moves vertices by far less than the tolerance.
    assert cmp.reshaped.empty


def test_compare_refuses_malformed_candidate(store_path: Path) -> None:
    with open_store(store_path, readonly=True) as store:
        with pytest.raises(CandidateError, match=r"lack the columns \['parent_code'\]"):
            compare_grids(store, grid_frame(CURRENT).drop(columns=["parent_code"]))
        with pytest.raises(CRSError, match="declare no CRS"):
            compare_grids(store, grid_frame(CURRENT).set_crs(None, allow_override=True))
        with pytest.raises(CandidateError, match="no level-3 grids"):
            compare_grids(store, grid_frame({}))


# -- adopt -------------------------------------------------------------------------------------


def test_adopt_refuses_candidate_with_problems_and_writes_nothing(store_path: Path) -> None:
    before = snapshot(store_path)
    gap = dict(MOVED)
    gap[G1] = box(0, 90)  # 90..120 is now covered by no grid
    with (
        open_store(store_path) as store,
        pytest.raises(CandidateRejectedError, match=r"(?s)topology problem.*\[gap\].*" + G1) as err,
    ):
        adopt_grids(store, grid_frame(gap), valid_from=dt.date(2026, 12, 1), actor="规划员")
    assert isinstance(err.value, OneGridError)
    assert err.value.report.counts().get("gap") == 1
    assert snapshot(store_path) == before


def test_adopt_refuses_date_not_after_current_generation(store_path: Path) -> None:
    before = snapshot(store_path)
    with open_store(store_path) as store:
        with pytest.raises(AdoptionError, match="must be after the start of the current generation 1"):
            adopt_grids(store, grid_frame(MOVED), valid_from=dt.date(2023, 1, 1), actor="规划员")
        with pytest.raises(AdoptionError, match="actor"):
            adopt_grids(store, grid_frame(MOVED), valid_from=dt.date(2026, 12, 1), actor=" ")
    assert snapshot(store_path) == before


def test_adopt_writes_generation_and_reassigns(store_path: Path) -> None:
    with open_store(store_path) as store:
        revs = {k: store.revision(k) for k in ("grids", "components", "cases")}
        result = adopt_grids(store, grid_frame(MOVED), valid_from=dt.date(2026, 12, 1), actor="张规划")
        assert result.generation == 2 and result.previous_generation == 1
        assert result.grids_written == 7
        assert result.components_reassigned == 2
        assert result.cases_reassigned == 1
        assert result.cases_moved_to_generation == 1
        assert store.current_generation() == 2
        assert {k: store.revision(k) for k in revs} == {k: v + 1 for k, v in revs.items()}
        new = load_grids(store, generation=2)
        assert new.set_index("code").loc[G1, "area_m2"] == pytest.approx(24_000.0)
        assert len(load_grids(store, generation=1)) == 7  # the old generation is kept

    conn = sqlite3.connect(store_path)
    gens = conn.execute("SELECT id, valid_from, valid_to FROM generations ORDER BY id").fetchall()
    assert gens == [(1, "2023-01-01", "2026-12-01"), (2, "2026-12-01", None)]
    comps = dict(conn.execute("SELECT code, grid_code || ':' || version FROM components").fetchall())
    assert comps == {
        "3205060101000001": f"{G1}:1",
        "3205060101000002": f"{G1}:2",
        "3205060101000003": f"{G1}:2",
        "3205060101000004": f"{G1}:1",
        "3205060101000005": f"{G3}:1",
        "3205060101000006": f"{G4}:1",
    }
    hist = conn.execute(
        "SELECT component_code, version, actor, action, before, after, reason"
        " FROM component_history ORDER BY component_code"
    ).fetchall()
    assert [(h[0], h[1], h[2], h[3], json.loads(h[4]), json.loads(h[5]), h[6]) for h in hist] == [
        (
            "3205060101000002",
            2,
            "张规划",
            "reassign",
            {"grid_code": G2},
            {"grid_code": G1},
            "grid generation 2 adopted",
        ),
        (
            "3205060101000003",
            2,
            "张规划",
            "reassign",
            {"grid_code": G2},
            {"grid_code": G1},
            "grid generation 2 adopted",
        ),
    ]
    cases = {
        r[0]: r[1:]
        for r in conn.execute(
            "SELECT id, grid_code, grid_generation, town_code, version FROM cases"
        ).fetchall()
    }
    assert cases == {
        "C-open-moves": (G1, 2, TOWN, 2),
        "C-open-stays": (G1, 2, TOWN, 1),
        "C-closed": (G2, 1, TOWN, 1),  # handled under generation 1: untouched
        "C-evaluated": (G2, 1, TOWN, 1),
    }
    ch = conn.execute("SELECT case_id, step, actor, note FROM case_history").fetchall()
    assert ch == [("C-open-moves", "reassign", "张规划", f"grid generation 2 adopted: grid {G2} → {G1}")]
    conn.close()


def test_adopted_store_agrees_with_locator(store_path: Path) -> None:
    with open_store(store_path) as store:
        adopt_grids(store, grid_frame(MOVED), valid_from=dt.date(2026, 12, 1), actor="a")
        l3 = load_grids(store, level=3)
        loc = GridLocator(l3.geometry.to_numpy(), l3["code"].to_numpy())
        comps = pd.read_sql("SELECT code, x, y, grid_code FROM components", store.conn)
    assert len(comps) == len(COMPONENTS) and comps["code"].is_unique
    assert (loc.locate(comps["x"].to_numpy(), comps["y"].to_numpy()) == comps["grid_code"].to_numpy()).all()


def test_second_adoption_needs_a_later_date(store_path: Path) -> None:
    with open_store(store_path) as store:
        adopt_grids(store, grid_frame(MOVED), valid_from=dt.date(2026, 12, 1), actor="a")
        with pytest.raises(AdoptionError, match="generation 2"):
            adopt_grids(store, grid_frame(CURRENT), valid_from=dt.date(2026, 12, 1), actor="a")
        back = adopt_grids(store, grid_frame(CURRENT), valid_from=dt.date(2027, 1, 1), actor="a")
    assert back.generation == 3 and back.components_reassigned == 2


@pytest.mark.parametrize("step", ["_reassign_components", "_reassign_cases", "write_grids"])
def test_failure_mid_adoption_leaves_store_unchanged(
    store_path: Path, monkeypatch: pytest.MonkeyPatch, step: str
) -> None:
    import layers.planner as planner

    before = snapshot(store_path)
    real = getattr(planner, step)

    def boom(*args: object, **kwargs: object) -> object:
        real(*args, **kwargs)  # the write happens, then the failure: the rollback must undo it
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(planner, step, boom)
    with open_store(store_path) as store, pytest.raises(RuntimeError, match="disk on fire"):
        adopt_grids(store, grid_frame(MOVED), valid_from=dt.date(2026, 12, 1), actor="a")
    assert snapshot(store_path) == before


def test_check_candidate_uses_district_land(store_path: Path) -> None:
    spill = dict(CURRENT)
    with open_store(store_path, readonly=True) as store:
        assert check_candidate(store, grid_frame(spill)).ok
        cand = grid_frame(spill)
        cand.loc[cand["code"] == TOWN, "geometry"] = box(0, 410)
        report = check_candidate(store, cand)
    assert "outside_land" in report.counts()


# -- reshape helper ----------------------------------------------------------------------------


def test_reshape_candidate_keeps_clean_coverage() -> None:
    # One town, one community, a 3 × 2 block of 300 m grids, numbered west→east, north→south.
    kids = {}
    k = 1
    for row in range(2):
        for col in range(3):
            y1 = 600 - 300 * row
            kids[f"320506003001{k:03d}"] = box(300 * col, 300 * col + 300, y1 - 300, y1)
            k += 1
    frame = gpd.GeoDataFrame(
        {
            "code": [TOWN, C1, *kids],
            "level": [1, 2] + [3] * 6,
            "parent_code": [None, TOWN] + [C1] * 6,
            "name": ["镇", "村"] + ["片"] * 6,
        },
        geometry=[box(0, 900, 0, 600), box(0, 900, 0, 600), *kids.values()],
        crs="EPSG:4549",
    )
    assert check_grids(frame.geometry.to_numpy(), frame["code"].to_numpy()).ok
    out, pairs = reshape_candidate(frame, n=2, seed=3)
    assert len(pairs) == 2
    assert len({c for p in pairs for c in p}) == 4
    assert out.crs == frame.crs and out["code"].tolist() == frame["code"].tolist()
    report = check_grids(out.geometry.to_numpy(), out["code"].to_numpy(), land=box(0, 900, 0, 600))
    assert report.ok, report.counts()
    changed = ~np.array([a.equals(b) for a, b in zip(frame.geometry, out.geometry, strict=True)])
    assert sorted(out.loc[changed, "code"]) == sorted(c for p in pairs for c in p)
    # Area moves from the first grid of each pair to the second; the total is kept.
    total = shapely.area(frame.geometry.to_numpy()).sum()
    assert shapely.area(out.geometry.to_numpy()).sum() == pytest.approx(total)


# -- the generated district ----------------------------------------------------------------------


def test_reshape_and_adopt_on_generated_district(small_store_copy: Path, tmp_path: Path) -> None:
    with open_store(small_store_copy) as store:
        grids = load_grids(store)
        cand, pairs = reshape_candidate(grids, n=20, seed=5)
        assert len(pairs) == 20
        assert check_candidate(store, cand).ok
        # Still clean after a trip through a lon/lat GeoJSON file, as a planner would exchange it.
        path = tmp_path / "candidate.geojson"
        cand.to_crs("EPSG:4326").to_file(path)
        assert check_candidate(store, read_candidate(path)).counts() == {}
        cmp = compare_grids(store, cand)
        assert sorted(cmp.reshaped["code"]) == sorted(c for p in pairs for c in p)
        assert cmp.added.empty and cmp.removed.empty
        n = store.conn.execute("SELECT count(*) FROM components").fetchone()[0]
        closed = store.conn.execute(
            "SELECT id, grid_code, grid_generation, version FROM cases"
            " WHERE status IN ('closed', 'evaluated', 'rejected') ORDER BY id"
        ).fetchall()
        res = adopt_grids(store, cand, valid_from=dt.date(2026, 12, 1), actor="规划员")
        assert res.components_reassigned == len(cmp.component_moves) > 0
        l3 = load_grids(store, level=3)
        loc = GridLocator(l3.geometry.to_numpy(), l3["code"].to_numpy())
        comps = store.read_arrow("SELECT code, x, y, grid_code FROM components").to_pandas()
        assert len(comps) == n and comps["code"].is_unique
        assert (
            loc.locate(comps["x"].to_numpy(), comps["y"].to_numpy())
            == comps["grid_code"].astype(object).to_numpy()
        ).all()
        assert (
            store.conn.execute(
                "SELECT id, grid_code, grid_generation, version FROM cases"
                " WHERE status IN ('closed', 'evaluated', 'rejected') ORDER BY id"
            ).fetchall()
            == closed
        )
        open_gens = store.conn.execute(
            "SELECT DISTINCT grid_generation FROM cases"
            " WHERE status NOT IN ('closed', 'evaluated', 'rejected')"
        ).fetchall()
        assert open_gens in ([(2,)], [])


def test_stored_land_is_preferred(store_path: Path) -> None:
    from layers.planner import district_land

    with open_store(store_path) as store:
        assert district_land(store).equals(box(0, 400))
        with store.transaction() as conn:
            conn.execute(
                "INSERT INTO land(id, area_m2, source, geom) VALUES (1, 0, 'test', ?)",
                (shapely.to_wkb(box(0, 410)),),
            )
        assert district_land(store).equals(box(0, 410))
        # The grids no longer cover the whole land: a gap the adoption must refuse.
        assert check_candidate(store, grid_frame(CURRENT)).counts() == {"gap": 1}


# -- issue 12, item 6: nothing-to-adopt and generations scheduled for a later day -------------


def test_adopting_the_current_grids_again_is_refused_as_a_no_op(store_path: Path) -> None:
    with open_store(store_path) as store:
        adopt_grids(store, grid_frame(MOVED), valid_from=dt.date(2026, 12, 1), actor="a")
    before = snapshot(store_path)
    with (
        open_store(store_path) as store,
        pytest.raises(AdoptionError, match=r"is the current generation 2 .*nothing to adopt") as info,
    ):
        adopt_grids(store, grid_frame(MOVED), valid_from=dt.date(2027, 1, 1), actor="a")
    assert info.value.code == "identical" and info.value.params["generation"] == 2
    assert snapshot(store_path) == before  # no empty generation


def _located_at(path: Path, x: float, y: float) -> str:
    from layers.district import open_district

    d = open_district(path, components=False)
    try:
        return str(d.locate_all(np.array([X0 + x]), np.array([Y0 + y]))["grid_l3"].iloc[0])
    finally:
        d.store.close()


def test_a_future_valid_from_is_scheduled_and_takes_effect_on_its_day(
    store_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from layers.planner import generations, scheduled_generation

    monkeypatch.setenv("ONEGRID_NOW", "2026-11-30T10:00:00")
    untouched = {
        t: rows for t, rows in snapshot(store_path).items() if t not in ("generations", "grids", "meta")
    }
    with open_store(store_path) as store:
        res = adopt_grids(store, grid_frame(MOVED), valid_from=dt.date(2026, 12, 15), actor="张规划")
        assert res.scheduled and res.generation == 2
        assert (res.components_reassigned, res.cases_reassigned) == (0, 0)
        # Before its day the current generation stays current, for every lookup.
        assert store.current_generation() == 1
        assert scheduled_generation(store) == (2, dt.date(2026, 12, 15))
        assert load_grids(store).set_index("code").loc[G1, "area_m2"] == pytest.approx(20_000.0)
        assert generations(store)[["id", "status", "valid_to"]].values.tolist() == [
            [2, "scheduled", None],
            [1, "current", None],
        ]
        assert compare_grids(store, grid_frame(MOVED)).generation == 1
        with pytest.raises(AdoptionError, match="generation 2 is already scheduled from 2026-12-15"):
            adopt_grids(store, grid_frame(CURRENT), valid_from=dt.date(2026, 12, 20), actor="a")
    # Components and cases are untouched, and a point in the traded strip is still in G2.
    after = snapshot(store_path)
    assert {t: after[t] for t in untouched} == untouched
    assert _located_at(store_path, 110, 50) == G2

    # The day before: opening the store changes nothing.
    monkeypatch.setenv("ONEGRID_NOW", "2026-12-14T23:59:59")
    with open_store(store_path, readonly=True) as store:
        assert store.current_generation() == 1
    assert snapshot(store_path) == after

    # On the day, the first opening (here a reader's) puts it into effect.
    monkeypatch.setenv("ONEGRID_NOW", "2026-12-15T08:00:00")
    with open_store(store_path, readonly=True) as store:
        assert store.current_generation() == 2
        assert scheduled_generation(store) is None
    assert _located_at(store_path, 110, 50) == G1
    conn = sqlite3.connect(store_path)
    assert conn.execute("SELECT id, valid_from, valid_to FROM generations ORDER BY id").fetchall() == [
        (1, "2023-01-01", "2026-12-15"),
        (2, "2026-12-15", None),
    ]
    comps = dict(conn.execute("SELECT code, grid_code FROM components").fetchall())
    assert comps["3205060101000002"] == G1 and comps["3205060101000003"] == G1
    hist = conn.execute("SELECT actor, changed_at, reason FROM component_history").fetchall()
    assert len(hist) == 2
    assert set(hist) == {
        ("张规划", "2026-12-15T08:00:00", "grid generation 2 adopted (scheduled from 2026-12-15)")
    }
    cases = dict(conn.execute("SELECT id, grid_code || ':' || grid_generation FROM cases").fetchall())
    assert cases["C-open-moves"] == f"{G1}:2" and cases["C-open-stays"] == f"{G1}:2"
    assert cases["C-closed"] == f"{G2}:1"  # a closed case keeps the grid it was handled under
    conn.close()


def test_a_scheduled_generation_can_be_cancelled(store_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from layers.planner import cancel_scheduled

    monkeypatch.setenv("ONEGRID_NOW", "2026-11-30T10:00:00")
    before = snapshot(store_path)
    with open_store(store_path) as store:
        adopt_grids(store, grid_frame(MOVED), valid_from=dt.date(2026, 12, 15), actor="a")
        assert cancel_scheduled(store) == 2
        with pytest.raises(AdoptionError, match="no grid generation is scheduled"):
            cancel_scheduled(store)
    assert {t: v for t, v in snapshot(store_path).items() if t != "meta"} == {
        t: v for t, v in before.items() if t != "meta"
    }


def test_read_candidate_without_a_name_field_and_a_named_field_that_is_missing(tmp_path: Path) -> None:
    from layers.grid_files import GridFileError

    path = tmp_path / "cand.geojson"
    grid_frame(MOVED).drop(columns=["name"]).to_crs("EPSG:4326").to_file(path, driver="GeoJSON")
    assert (read_candidate(path)["name"] == "").all()
    with pytest.raises(GridFileError, match="no name field 'mingcheng'"):
        read_candidate(path, name_field="mingcheng")


def test_grid_file_reader_reads_an_optional_name_field_without_it(tmp_path: Path) -> None:
    from layers.grid_files import read_grid_file

    path = tmp_path / "cand.geojson"
    grid_frame(MOVED).drop(columns=["name"]).to_crs("EPSG:4326").to_file(path, driver="GeoJSON")
    assert read_grid_file(path, name_field="name", name_optional=True).names is None
    assert list(read_grid_file(tmp_path / "cand.geojson", name_field="code", name_optional=True).names)
