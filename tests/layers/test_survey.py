"""The surveyor's workspace on a tiny hand-built store: two level-3 grids side by side.

    A = 320506001001001  [cx-2000, cx] x [cy-1500, cy+1500]
    B = 320506001001002  [cx, cx+2000] x [cy-1500, cy+1500]

with (cx, cy) a whole-metre point of Wuzhong in EPSG:4549, so every expected grid is known exactly.
"""

from __future__ import annotations

import io
import json
import sqlite3
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from pyproj import Transformer

from layers import survey, tabular
from layers.errors import ChangeRefusedError, InputFileError, StaleBatchError, StaleEditError
from layers.grids import write_grids
from layers.store import Store, build_store, open_store
from spatial import crs as spatial_crs
from spatial.errors import CodeError, CoordinateError, CRSError, OneGridError, OutsideDistrictError
from tests.helpers import write_components

_TO_WORK = Transformer.from_crs("EPSG:4326", "EPSG:4549", always_xy=True)
_TO_LONLAT = Transformer.from_crs("EPSG:4549", "EPSG:4326", always_xy=True)
CX, CY = (round(v) for v in _TO_WORK.transform(120.60, 31.25))
GRID_A, GRID_B = "320506001001001", "320506001001002"
C1, C2, C3, C4 = "3205060101000001", "3205060101000002", "3205060102000003", "3205060201000004"
ACTOR = "测绘员 张三"
NOW = "2026-03-01T09:30:00"


def lonlat(x: float, y: float) -> tuple[float, float]:
    lon, lat = _TO_LONLAT.transform(x, y)
    return float(lon), float(lat)


def _grids() -> gpd.GeoDataFrame:
    a = shapely.box(CX - 2000, CY - 1500, CX, CY + 1500)
    b = shapely.box(CX, CY - 1500, CX + 2000, CY + 1500)
    both = shapely.box(CX - 2000, CY - 1500, CX + 2000, CY + 1500)
    return gpd.GeoDataFrame(
        {
            "code": ["320506001000000", "320506001001000", GRID_A, GRID_B],
            "level": [1, 2, 3, 3],
            "parent_code": [None, "320506001000000", "320506001001000", "320506001001000"],
            "name": ["镇", "社区", "片区一", "片区二"],
        },
        geometry=[both, both, a, b],
        crs="EPSG:4549",
    )


def _components(extra: int = 0) -> pd.DataFrame:
    base = pd.DataFrame(
        {
            "code": [C1, C2, C3, C4],
            "class_code": ["0101", "0101", "0102", "0201"],
            "x": [CX - 500.0, CX + 500.0, CX - 200.0, CX + 900.0],
            "y": [CY + 0.0, CY + 0.0, CY + 100.0, CY - 700.0],
            "grid_code": [GRID_A, GRID_B, GRID_A, GRID_B],
        }
    )
    if extra:
        rng = np.random.default_rng(7)
        xs = rng.uniform(CX - 1900, CX + 1900, extra)
        more = pd.DataFrame(
            {
                "code": [f"3205060103{i:06d}" for i in range(extra)],
                "class_code": "0103",
                "x": xs,
                "y": rng.uniform(CY - 1400, CY + 1400, extra),
                "grid_code": np.where(xs <= CX, GRID_A, GRID_B),
            }
        )
        base = pd.concat([base, more], ignore_index=True)
    return base.assign(
        supervisor_code=None,
        owner_code=None,
        maintainer_code=None,
        state="完好",
        surveyed_on="2025-01-01",
        changed_on="2025-01-01",
        source="实测",
        version=1,
    )


def make_store(path: Path, *, extra: int = 0) -> Path:
    with build_store(path) as store:
        conn = store.conn
        conn.execute(
            "INSERT INTO generations(id, valid_from, valid_to, note, created_at) "
            "VALUES (1, '2025-01-01', NULL, 'test', '2025-01-01T00:00:00')"
        )
        write_grids(conn, _grids(), generation=1)
        conn.executemany(
            "INSERT INTO component_classes(code, major_code, major_name, name, supervisor_code) "
            "VALUES (?,?,?,?,NULL)",
            [
                ("0101", "01", "公用设施", "上水井盖"),
                ("0102", "01", "公用设施", "污水井盖"),
                ("0103", "01", "公用设施", "雨水井盖"),
                ("0201", "02", "道路交通", "路灯"),
            ],
        )
        write_components(conn, _components(extra))
    return path


@pytest.fixture
def store(tmp_path: Path) -> Store:
    s = open_store(make_store(tmp_path / "tiny.sqlite"), readonly=False)
    yield s
    s.close()


def snapshot(store: Store) -> dict[str, list[tuple[object, ...]]]:
    conn = store.conn
    return {
        t: conn.execute(f"SELECT * FROM {t} ORDER BY 1").fetchall()
        for t in ("components", "component_history", "import_batches", "import_rejects", "meta")
    }


def record(store: Store, code: str) -> dict[str, object]:
    return survey.get_component(store, code)


# ------------------------------------------------------------------------------------------ find
def test_find_by_code_prefix_grid_class(store: Store) -> None:
    assert survey.find_components(store, code=C1).frame["code"].tolist() == [C1]
    assert survey.find_components(store, prefix="32050601").frame["code"].tolist() == [C1, C2, C3]
    assert survey.find_components(store, grid_code=GRID_A).frame["code"].tolist() == [C1, C3]
    assert survey.find_components(store, grid_code="320506001001000").frame["code"].tolist() == [
        C1,
        C2,
        C3,
        C4,
    ]
    assert survey.find_components(store, class_code="0101").frame["code"].tolist() == [C1, C2]
    assert survey.find_components(store, class_code="02").frame["code"].tolist() == [C4]
    both = survey.find_components(store, grid_code=GRID_B, class_code="0101")
    assert both.frame["code"].tolist() == [C2]


def test_find_is_bounded(store: Store) -> None:
    found = survey.find_components(store, prefix="3205", limit=2)
    assert found.frame["code"].tolist() == [C1, C2]
    assert found.truncated and found.limit == 2
    assert not survey.find_components(store, prefix="3205", limit=10).truncated


def test_find_refuses_bad_input(store: Store) -> None:
    with pytest.raises(CodeError, match="give a component code"):
        survey.find_components(store)
    with pytest.raises(CodeError, match="not 16 digits"):
        survey.find_components(store, code="12ab")
    with pytest.raises(CodeError, match="must be 1 to 16 digits"):
        survey.find_components(store, prefix="32' OR 1=1 --")
    with pytest.raises(CodeError, match="no component with code"):
        survey.get_component(store, "3205069999999999")


# ------------------------------------------------------------------------------------------ move
def test_move_persists_with_history_and_new_grid(store: Store) -> None:
    rev = store.revision("components")
    lon, lat = lonlat(CX + 700.0, CY + 300.0)
    change = survey.move_component(
        store,
        C1,
        x=lon,
        y=lat,
        crs="EPSG:4326",
        expected_version=1,
        actor=ACTOR,
        reason="实测复核",
        now=NOW,
        confirmed=True,
    )
    now = record(store, C1)
    assert now["version"] == 2 == change.version
    assert now["grid_code"] == GRID_B
    assert now["x"] == pytest.approx(CX + 700.0, abs=1e-6)
    assert now["y"] == pytest.approx(CY + 300.0, abs=1e-6)
    assert now["changed_on"] == "2026-03-01"
    assert change.distance_m == pytest.approx(np.hypot(1200.0, 300.0), abs=1e-6)
    assert store.revision("components") == rev + 1

    hist = survey.history(store, C1)
    assert len(hist) == 1
    h = hist.iloc[0]
    assert (h["action"], h["actor"], h["reason"], h["version"], h["changed_at"]) == (
        "move",
        ACTOR,
        "实测复核",
        2,
        NOW,
    )
    assert json.loads(h["before"]) == {"x": CX - 500.0, "y": CY + 0.0, "grid_code": GRID_A}
    after = json.loads(h["after"])
    assert after["grid_code"] == GRID_B
    assert (after["x"], after["y"]) == (now["x"], now["y"])
    assert change.history_id == int(h["id"])


def test_move_in_cgcs2000_xy_is_exact(store: Store) -> None:
    survey.move_component(
        store,
        C2,
        x=CX + 1234.5,
        y=CY - 10.25,
        crs="EPSG:4549",
        expected_version=1,
        actor=ACTOR,
        confirmed=True,
    )
    now = record(store, C2)
    assert (now["x"], now["y"], now["grid_code"]) == (CX + 1234.5, CY - 10.25, GRID_B)


def test_point_on_the_shared_edge_takes_the_lower_code(store: Store) -> None:
    survey.move_component(
        store, C2, x=float(CX), y=float(CY), crs="EPSG:4549", expected_version=1, actor=ACTOR, confirmed=True
    )
    assert record(store, C2)["grid_code"] == GRID_A


def test_gcj02_input_is_converted(store: Store) -> None:
    lon, lat = lonlat(CX + 300.0, CY + 100.0)  # used as GCJ-02 numbers, as Amap would hand them out
    survey.move_component(
        store, C2, x=lon, y=lat, crs="GCJ02", expected_version=1, actor=ACTOR, confirmed=True
    )
    ex, ey = spatial_crs.to_work(np.array([lon]), np.array([lat]), crs="GCJ02")
    now = record(store, C2)
    assert now["x"] == pytest.approx(float(np.asarray(ex)[0]), abs=1e-6)
    assert now["y"] == pytest.approx(float(np.asarray(ey)[0]), abs=1e-6)
    # The datum shift is hundreds of metres here; treating GCJ-02 as WGS84 would be visibly wrong.
    assert np.hypot(now["x"] - (CX + 300.0), now["y"] - (CY + 100.0)) > 100


def test_stale_move_refused_and_nothing_changed(store: Store) -> None:
    survey.move_component(
        store, C1, x=CX - 400.0, y=CY, crs="EPSG:4549", expected_version=1, actor="甲", confirmed=True
    )
    before = snapshot(store)
    with pytest.raises(StaleEditError, match="you edited version 1, it is now version 2") as exc:
        survey.move_component(
            store, C1, x=CX - 300.0, y=CY, crs="EPSG:4549", expected_version=1, actor="乙", confirmed=True
        )
    assert exc.value.current["version"] == 2
    assert exc.value.current["x"] == CX - 400.0
    assert snapshot(store) == before


@pytest.mark.parametrize(
    ("x", "y", "crs", "error", "match"),
    [
        (121.9, 31.25, "EPSG:4326", OutsideDistrictError, "outside every grid"),
        (CX + 5000.0, CY, "EPSG:4549", OutsideDistrictError, "outside every grid"),
        (120.60, 31.25, "EPSG:4549", CRSError, "look like lon/lat degrees"),
        (31.25, 120.60, "EPSG:4326", CoordinateError, "swapped lat/lon"),
        (31.25, 120.60, "GCJ02", CoordinateError, "swapped lat/lon"),
        (CY, CX, "EPSG:4549", CoordinateError, "swapped easting/northing"),
        (float("nan"), 31.25, "EPSG:4326", CoordinateError, "NaN"),
        (120.6, float("inf"), "EPSG:4326", CoordinateError, "not finite"),
        (200.0, 31.25, "EPSG:4326", CoordinateError, "out of range"),
        ("abc", 31.25, "EPSG:4326", CoordinateError, "not numbers"),
        (120.6, 31.25, "EPSG:3857", CRSError, "unknown CRS"),
    ],
)
def test_move_refusals_change_nothing(
    store: Store, x: object, y: object, crs: str, error: type[Exception], match: str
) -> None:
    before = snapshot(store)
    with pytest.raises(error, match=match):
        survey.move_component(store, C1, x=x, y=y, crs=crs, expected_version=1, actor=ACTOR, confirmed=True)  # type: ignore[arg-type]
    assert issubclass(error, OneGridError)
    assert snapshot(store) == before


def test_move_refuses_unknown_code_and_missing_actor(store: Store) -> None:
    with pytest.raises(CodeError, match="no component with code 3205060101999999"):
        survey.move_component(
            store,
            "3205060101999999",
            x=CX,
            y=CY,
            crs="EPSG:4549",
            expected_version=1,
            actor=ACTOR,
            confirmed=True,
        )
    with pytest.raises(ChangeRefusedError, match="who makes it"):
        survey.move_component(
            store, C1, x=CX, y=CY, crs="EPSG:4549", expected_version=1, actor="  ", confirmed=True
        )


# ----------------------------------------------------------------------------------------- state
def test_set_state(store: Store) -> None:
    change = survey.set_state(store, C3, state="破损", expected_version=1, actor=ACTOR, reason="井盖破裂")
    now = record(store, C3)
    assert (now["state"], now["version"]) == ("破损", 2)
    h = survey.history(store, C3).iloc[-1]
    assert (h["action"], json.loads(h["before"]), json.loads(h["after"])) == (
        "state",
        {"state": "完好"},
        {"state": "破损"},
    )
    assert change.distance_m is None


def test_set_state_refusals(store: Store) -> None:
    before = snapshot(store)
    with pytest.raises(ChangeRefusedError, match="unknown state '坏了'"):
        survey.set_state(store, C3, state="坏了", expected_version=1, actor=ACTOR)
    with pytest.raises(ChangeRefusedError, match="already 完好"):
        survey.set_state(store, C3, state="完好", expected_version=1, actor=ACTOR)
    with pytest.raises(StaleEditError, match="it is now version 1"):
        survey.set_state(store, C3, state="丢失", expected_version=3, actor=ACTOR)
    assert snapshot(store) == before


# ------------------------------------------------------------------------------------------ undo
def test_undo_restores_as_a_new_change(store: Store) -> None:
    survey.move_component(
        store, C1, x=CX + 800.0, y=CY + 50.0, crs="EPSG:4549", expected_version=1, actor="甲", confirmed=True
    )
    change = survey.undo(store, C1, last=True, expected_version=2, actor="乙")
    now = record(store, C1)
    assert (now["x"], now["y"], now["grid_code"], now["version"]) == (CX - 500.0, CY + 0.0, GRID_A, 3)
    hist = survey.history(store, C1)
    assert hist["action"].tolist() == ["move", "undo"]
    assert json.loads(hist.iloc[1]["before"]) == {"x": CX + 800.0, "y": CY + 50.0, "grid_code": GRID_B}
    assert json.loads(hist.iloc[1]["after"]) == {"x": CX - 500.0, "y": CY + 0.0, "grid_code": GRID_A}
    assert hist.iloc[1]["reason"] == f"undo {hist.iloc[0]['id']}"
    assert change.action == "undo" and change.version == 3
    # The move is undone: nothing is left to undo, and the undo itself is not offered as a change to undo.
    assert survey.undoable(store, C1) == []
    with pytest.raises(ChangeRefusedError, match="no change to undo"):
        survey.undo(store, C1, history_id=int(hist.iloc[1]["id"]), expected_version=3, actor="甲")


def test_undo_steps_back_through_the_history(store: Store) -> None:
    """Undo twice: the second undo reverts the change before the first one (it was refused)."""
    m1 = survey.move_component(store, C1, x=CX - 490.0, y=CY, crs="EPSG:4549", expected_version=1, actor="甲")
    s2 = survey.set_state(store, C1, state="破损", expected_version=2, actor="甲")
    m3 = survey.move_component(store, C1, x=CX - 480.0, y=CY, crs="EPSG:4549", expected_version=3, actor="甲")
    assert survey.undoable(store, C1) == [m3.history_id, s2.history_id, m1.history_id]
    with pytest.raises(ChangeRefusedError, match=f"the next change to undo is {m3.history_id}"):
        survey.undo(store, C1, history_id=m1.history_id, expected_version=4, actor="甲")
    u1 = survey.undo(store, C1, history_id=m3.history_id, expected_version=4, actor="甲")
    assert survey.undoable(store, C1) == [s2.history_id, m1.history_id]
    u2 = survey.undo(store, C1, history_id=s2.history_id, expected_version=u1.version, actor="甲")
    assert record(store, C1)["state"] == "完好"
    u3 = survey.undo(store, C1, last=True, expected_version=u2.version, actor="甲")
    now = record(store, C1)
    assert (now["x"], now["y"], now["grid_code"], now["state"]) == (CX - 500.0, CY, GRID_A, "完好")
    assert survey.undoable(store, C1) == []
    hist = survey.history(store, C1)
    assert hist["undoes"].tolist()[-3:] == [m3.history_id, s2.history_id, m1.history_id]
    assert u3.version == 7
    # A new change after undos starts the stack again.
    s4 = survey.set_state(store, C1, state="丢失", expected_version=7, actor="甲")
    assert survey.undoable(store, C1) == [s4.history_id]


def test_undo_of_a_state_change(store: Store) -> None:
    survey.set_state(store, C4, state="丢失", expected_version=1, actor=ACTOR)
    survey.undo(store, C4, last=True, expected_version=2, actor=ACTOR)
    assert record(store, C4)["state"] == "完好"


def test_undo_refused_when_changed_since(store: Store) -> None:
    first = survey.move_component(
        store, C1, x=CX - 100.0, y=CY, crs="EPSG:4549", expected_version=1, actor="甲", confirmed=True
    )
    survey.set_state(store, C1, state="破损", expected_version=2, actor="乙")
    before = snapshot(store)
    with pytest.raises(ChangeRefusedError, match=f"change {first.history_id} .* cannot be undone now"):
        survey.undo(store, C1, history_id=first.history_id, expected_version=3, actor="甲")
    with pytest.raises(StaleEditError, match="you edited version 2"):
        survey.undo(store, C1, last=True, expected_version=2, actor="甲")
    with pytest.raises(ChangeRefusedError, match=r"change 999 .* cannot be undone now"):
        survey.undo(store, C1, history_id=999, expected_version=3, actor="甲")
    with pytest.raises(ChangeRefusedError, match="history_id, or"):
        survey.undo(store, C1, expected_version=3, actor="甲")
    with pytest.raises(ChangeRefusedError, match="no change to undo"):
        survey.undo(store, C2, last=True, expected_version=1, actor="甲")
    assert snapshot(store) == before


# ----------------------------------------------------------------------------------------- batch
def _csv(rows: list[str], header: str = "code,x,y,note") -> bytes:
    return ("\n".join([header, *rows]) + "\n").encode("utf-8")


def _bad_batch() -> bytes:
    good1 = lonlat(CX + 600.0, CY + 200.0)
    good2 = lonlat(CX - 1500.0, CY - 1000.0)
    far = lonlat(CX + 9000.0, CY)
    lines = [
        f"{C1},{good1[0]:.9f},{good1[1]:.9f},复测",  # 2 accepted
        f"{C2},{good2[0]:.9f},{good2[1]:.9f},<b>bold</b>",  # 3 accepted, HTML kept
        f"3205060101999999,{good1[0]},{good1[1]},",  # 4 unknown code
        f"{C3},{good1[0]},{good1[1]},first",  # 5 duplicate
        f"{C3},{good2[0]},{good2[1]},second",  # 6 duplicate
        f"{C4},NaN,{good1[1]},",  # 7 NaN
        f"3205060103000001,{far[0]},{far[1]},",  # 8 outside (needs extra rows)
        f"3205060103000002,{good1[1]},{good1[0]},",  # 9 swapped
        f"3205060103000003,{good1[0]},{good1[1]},x,extra",  # 10 malformed (5 fields)
        f"<script>alert(1)</script>,{good1[0]},{good1[1]},",  # 11 malformed code
        f"3205060103000004,abc,{good1[1]},",  # 12 not a number
        f"3205060103000005,,{good1[1]},",  # 13 missing coordinate
        ",1,2,",  # 14 missing code
        "",  # 15 blank line: no row
        f"3205060103000006,{good2[0]:.9f},{good2[1]:.9f},<script>alert('x')</script>",  # 16 accepted
    ]
    return _csv(lines)


EXPECTED_REASONS = {
    2: "",
    3: "",
    4: "unknown_code",
    5: "duplicate_code",
    6: "",
    7: "nan",
    8: "outside_district",
    9: "swapped",
    10: "malformed_row",
    11: "malformed_code",
    12: "not_a_number",
    13: "missing_coordinate",
    14: "missing_code",
    16: "",
}


@pytest.fixture
def big_store(tmp_path: Path) -> Store:
    s = open_store(make_store(tmp_path / "big.sqlite", extra=20), readonly=False)
    yield s
    s.close()


def test_preview_gives_a_reason_for_every_bad_row(big_store: Store) -> None:
    before = snapshot(big_store)
    p = survey.preview_batch(big_store, _bad_batch(), filename="外业.csv", crs="EPSG:4326")
    after = snapshot(big_store)
    for table in ("components", "component_history", "import_rejects"):
        assert after[table] == before[table]  # a preview moves nothing
    assert big_store.conn.execute("SELECT id, state FROM import_batches").fetchall() == [
        (p.batch_id, "previewed")
    ]
    got = dict(zip(p.rows["row_number"].tolist(), p.rows["reason_code"].tolist(), strict=True))
    assert got == EXPECTED_REASONS
    assert (p.n_rows, p.n_accepted, p.n_rejected) == (14, 4, 10)
    rows = p.rows.set_index("row_number")
    assert rows.loc[2, "new_grid"] == GRID_B and rows.loc[2, "old_grid"] == GRID_A
    assert rows.loc[2, "distance_m"] == pytest.approx(np.hypot(1100.0, 200.0), abs=1e-3)
    assert rows.loc[3, "new_grid"] == GRID_A
    assert rows.loc[3, "note"] == "<b>bold</b>"
    assert rows.loc[16, "note"] == "<script>alert('x')</script>"
    assert "row 6 wins" in rows.loc[5, "reason"]
    assert "5 fields, the header has 4" in rows.loc[10, "reason"]
    assert "<script>alert(1)</script>" in rows.loc[11, "reason"]
    assert rows.loc[13, "reason"] == "missing coordinate: x"
    assert json.loads(rows.loc[10, "raw"])["raw"].startswith("3205060103000003,")
    assert json.loads(rows.loc[10, "raw"])["raw"].endswith(",x,extra")
    assert json.loads(rows.loc[11, "raw"])["code"] == "<script>alert(1)</script>"
    assert rows["raw"].notna().to_numpy().tolist() == (~rows["accepted"]).to_numpy().tolist()


def test_confirm_applies_exactly_the_accepted_rows_and_keeps_rejects(big_store: Store) -> None:
    p = survey.preview_batch(big_store, _bad_batch(), filename="外业.csv", crs="EPSG:4326")
    untouched = {c: record(big_store, c) for c in (C4, "3205060103000001", "3205060103000002")}
    result = survey.confirm_batch(big_store, p, actor=ACTOR, now=NOW)
    assert (result.accepted, result.rejected) == (4, 10)
    moved = {C1: (CX + 600.0, CY + 200.0), C2: (CX - 1500.0, CY - 1000.0), C3: (CX - 1500.0, CY - 1000.0)}
    for code, (ex, ey) in moved.items():
        now = record(big_store, code)
        assert now["version"] == 2
        assert (now["x"], now["y"]) == (pytest.approx(ex, abs=1e-3), pytest.approx(ey, abs=1e-3))
    assert record(big_store, C1)["grid_code"] == GRID_B
    assert record(big_store, "3205060103000006")["version"] == 2
    for code, rec in untouched.items():
        assert record(big_store, code) == rec

    conn = big_store.conn
    batch = conn.execute(
        "SELECT id, kind, source, at, actor, rows, accepted, rejected, state FROM import_batches"
    ).fetchall()
    assert batch == [(result.batch_id, "component_positions", "外业.csv", NOW, ACTOR, 14, 4, 10, "applied")]
    rejects = conn.execute(
        "SELECT batch_id, row_number, raw, reason FROM import_rejects ORDER BY row_number"
    ).fetchall()
    assert [r[1] for r in rejects] == [4, 5, 7, 8, 9, 10, 11, 12, 13, 14]
    assert all(r[0] == result.batch_id for r in rejects)
    by_row = {r[1]: r for r in rejects}
    assert by_row[4][3].startswith("unknown_code: unknown component code")
    assert by_row[8][3].startswith("outside_district:")
    assert json.loads(by_row[11][2])["code"] == "<script>alert(1)</script>"

    hist = pd.read_sql_query("SELECT * FROM component_history ORDER BY id", conn)
    assert hist["component_code"].tolist() == [C1, C2, C3, "3205060103000006"]
    assert set(hist["action"]) == {"move"}
    assert hist["reason"].tolist() == [
        f"batch {result.batch_id}: 复测",
        f"batch {result.batch_id}: <b>bold</b>",
        f"batch {result.batch_id}: second",
        f"batch {result.batch_id}: <script>alert('x')</script>",
    ]
    assert json.loads(hist.iloc[0]["before"]) == {"x": CX - 500.0, "y": CY + 0.0, "grid_code": GRID_A}
    assert result.history_ids == hist["id"].tolist()
    # A batch move is undoable like any other.
    survey.undo(big_store, C1, last=True, expected_version=2, actor=ACTOR)
    assert record(big_store, C1)["x"] == CX - 500.0


def test_confirm_refuses_whole_batch_when_a_component_changed(big_store: Store) -> None:
    p = survey.preview_batch(big_store, _bad_batch(), filename="a.csv", crs="EPSG:4326")
    survey.set_state(big_store, C2, state="破损", expected_version=1, actor="乙")
    before = snapshot(big_store)
    with pytest.raises(StaleBatchError, match=rf"{C2} \(now version 2\)") as exc:
        survey.confirm_batch(big_store, p, actor=ACTOR)
    assert exc.value.codes == [C2]
    assert snapshot(big_store) == before


def test_confirm_twice_is_refused(big_store: Store) -> None:
    p = survey.preview_batch(big_store, _bad_batch(), filename="a.csv", crs="EPSG:4326")
    survey.confirm_batch(big_store, p, actor=ACTOR)
    before = snapshot(big_store)
    with pytest.raises(ChangeRefusedError, match="was applied; it is no longer a preview"):
        survey.confirm_batch(big_store, p, actor=ACTOR)
    with pytest.raises(ChangeRefusedError, match="was applied; it is no longer a preview"):
        survey.confirm_batch(big_store, p.batch_id, actor=ACTOR)
    assert snapshot(big_store) == before


def test_confirm_with_only_rejects_still_keeps_them(store: Store) -> None:
    p = survey.preview_batch(
        store, _csv(["3205060101999999,120.6,31.25,"]), filename="x.csv", crs="EPSG:4326"
    )
    result = survey.confirm_batch(store, p, actor=ACTOR)
    assert (result.accepted, result.rejected) == (0, 1)
    assert store.conn.execute("SELECT row_number, reason FROM import_rejects").fetchall() == [
        (2, "unknown_code: unknown component code: 3205060101999999")
    ]


def test_kill_mid_confirm_leaves_the_store_unchanged(
    big_store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    p = survey.preview_batch(big_store, _bad_batch(), filename="a.csv", crs="EPSG:4326")
    before = snapshot(big_store)
    reached: list[int] = []

    def boom(conn: sqlite3.Connection, preview: survey.BatchPreview, *, batch_id: int) -> None:
        # By now the moves, history and batch row are written inside the transaction.
        reached.append(conn.execute("SELECT COUNT(*) FROM component_history").fetchone()[0])
        raise RuntimeError("killed")

    monkeypatch.setattr(survey.batch, "_record_rejects", boom)
    with pytest.raises(RuntimeError, match="killed"):
        survey.confirm_batch(big_store, p, actor=ACTOR)
    assert reached == [4]
    assert snapshot(big_store) == before
    # The same preview still applies once the failure is gone.
    monkeypatch.undo()
    survey.confirm_batch(big_store, p, actor=ACTOR)
    assert record(big_store, C1)["version"] == 2


def test_oversized_file_refused_before_parsing(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    def must_not_parse(*args: object, **kwargs: object) -> None:
        raise AssertionError("the file was parsed")

    monkeypatch.setattr(tabular, "_csv_chunks", must_not_parse)
    monkeypatch.setattr(tabular, "_read_all", must_not_parse)
    limit = 1000
    with pytest.raises(
        InputFileError, match=r"is 0\.0 MB \(10000 bytes\); the limit is 0\.0 MB \(1000 bytes\)"
    ):
        survey.preview_batch(store, b"x" * (10 * limit), filename="big.csv", crs="EPSG:4326", max_bytes=limit)
    stream = io.BytesIO(b"y" * (10 * limit))
    with pytest.raises(InputFileError, match="10000 bytes"):
        survey.preview_batch(store, stream, filename="big.csv", crs="EPSG:4326", max_bytes=limit)
    assert stream.tell() == 0


def test_default_limit_is_the_setting(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    import settings

    monkeypatch.setattr(settings, "MAX_UPLOAD_MB", 1)
    big = b"code,x,y\n" + b"3205060101000001,1,2\n" * (10 * 1024 * 1024 // 21 + 1)
    with pytest.raises(InputFileError, match=r"is 10\.0 MB .*the limit is 1\.0 MB"):
        survey.preview_batch(store, big, filename="big.csv", crs="EPSG:4326")


def test_wrong_columns_listed(store: Store) -> None:
    with pytest.raises(
        InputFileError, match=r"missing column\(s\) 'code', 'y or lat'; the file has 'id', 'x', 'z'"
    ):
        survey.preview_batch(store, b"id,x,z\n1,2,3\n", filename="w.csv", crs="EPSG:4326")
    with pytest.raises(InputFileError, match=r"missing column\(s\) '东'; the file has 'code', 'lon', 'lat'"):
        survey.preview_batch(store, b"code,lon,lat\n", filename="w.csv", crs="EPSG:4326", x_column="东")


def test_configurable_and_alias_columns(store: Store) -> None:
    lon, lat = lonlat(CX + 10.0, CY + 10.0)
    text = f"部件编码,经度,纬度\n{C1},{lon},{lat}\n".encode()
    p = survey.preview_batch(store, text, filename="c.csv", crs="WGS84")
    assert p.n_accepted == 1 and p.columns["x"] == "经度"
    text = f"id;e;n\n{C1};{CX + 10};{CY}\n".replace(";", ",").encode()
    p = survey.preview_batch(
        store, text, filename="c.csv", crs="EPSG:4549", code_column="id", x_column="e", y_column="n"
    )
    assert p.rows["new_grid"].tolist() == [GRID_B]


def test_gbk_csv_and_xlsx(store: Store) -> None:
    lon, lat = lonlat(CX + 10.0, CY + 10.0)
    p = survey.preview_batch(
        store,
        f"编码,经度,纬度,备注\n{C1},{lon},{lat},井盖\n".encode("gb18030"),
        filename="g.csv",
        crs="EPSG:4326",
    )
    assert p.n_accepted == 1 and p.rows["note"].tolist() == ["井盖"]
    buf = io.BytesIO()
    pd.DataFrame({"code": [C1, "bad"], "x": [CX + 10.0, CX], "y": [CY - 5.0, CY]}).to_excel(buf, index=False)
    p = survey.preview_batch(store, buf.getvalue(), filename="p.xlsx", crs="EPSG:4549")
    assert p.file_format == "xlsx"
    assert p.rows["reason_code"].tolist() == ["", "malformed_code"]
    assert p.rows["x"].iloc[0] == CX + 10.0


def test_unreadable_files_refused(store: Store) -> None:
    with pytest.raises(InputFileError, match="empty"):
        survey.preview_batch(store, b"", filename="e.csv", crs="EPSG:4326")
    with pytest.raises(InputFileError, match="not a readable XLSX"):
        survey.preview_batch(store, b"PK\x03\x04garbage", filename="e.xlsx", crs="EPSG:4326")
    with pytest.raises(InputFileError, match=r"\.xls files are not read"):
        survey.preview_batch(
            store, b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1rest", filename="e.xls", crs="EPSG:4326"
        )
    with pytest.raises(InputFileError, match=r"upload a \.csv or \.xlsx"):
        survey.preview_batch(store, b"{}", filename="e.json", crs="EPSG:4326")
    with pytest.raises(CRSError, match="unknown CRS"):
        survey.preview_batch(store, b"code,x,y\n", filename="e.csv", crs="EPSG:3857")


def test_projected_batch_flags_lonlat_and_swaps(store: Store) -> None:
    text = _csv([f"{C1},120.6,31.25", f"{C2},{CY},{CX}", f"{C3},{CX + 1.0},{CY + 1.0}"], header="code,x,y")
    p = survey.preview_batch(store, text, filename="p.csv", crs="EPSG:4549")
    assert p.rows["reason_code"].tolist() == ["wrong_crs", "swapped", ""]
    assert "choose a lon/lat coordinate system" in p.rows["reason"].iloc[0]


def test_preview_of_thousands_of_rows_is_fast(tmp_path: Path) -> None:
    import time

    s = open_store(make_store(tmp_path / "k.sqlite", extra=6000), readonly=False)
    try:
        rng = np.random.default_rng(3)
        codes = [f"3205060103{i:06d}" for i in range(6000)]
        x = rng.uniform(CX - 1900, CX + 1900, 6000)
        y = rng.uniform(CY - 1400, CY + 1400, 6000)
        lon, lat = _TO_LONLAT.transform(x, y)
        data = pd.DataFrame({"code": codes, "lon": lon, "lat": lat}).to_csv(index=False).encode()
        t = time.perf_counter()
        p = survey.preview_batch(s, data, filename="k.csv", crs="EPSG:4326")
        t_preview = time.perf_counter() - t
        assert p.n_accepted == 6000
        np.testing.assert_allclose(p.rows["x"], x, atol=1e-3)
        expect = np.where(x <= CX, GRID_A, GRID_B)
        assert (p.rows["new_grid"].to_numpy() == expect).all()
        t = time.perf_counter()
        survey.confirm_batch(s, p, actor=ACTOR)
        t_confirm = time.perf_counter() - t
        assert s.conn.execute("SELECT COUNT(*) FROM component_history").fetchone()[0] == 6000
        assert t_preview < 5 and t_confirm < 5, (t_preview, t_confirm)
    finally:
        s.close()


def test_a_note_longer_than_the_csv_field_limit_is_kept_in_its_row(store: Store) -> None:
    """Issue 9.15: a note over 131,072 characters in data row 3 neither vanishes nor renumbers."""
    a, b = lonlat(CX + 10.0, CY + 10.0), lonlat(CX - 10.0, CY - 10.0)
    note = "井盖破损" * 40_000  # 160,000 characters
    text = _csv(
        [
            f"{C1},{a[0]:.9f},{a[1]:.9f},first",
            f"{C2},{b[0]:.9f},{b[1]:.9f},{note}",
            f"{C3},{a[0]:.9f},{a[1]:.9f},third",
            f'{C4},{b[0]:.9f},{b[1]:.9f},"a quoted note\nover two lines"',
        ]
    )
    p = survey.preview_batch(store, text, filename="long.csv", crs="EPSG:4326")
    assert p.rows["row_number"].tolist() == [2, 3, 4, 5]
    assert p.rows["note"].tolist() == ["first", note, "third", "a quoted note\nover two lines"]
    assert p.n_accepted == 4


def test_every_row_is_previewed_or_rejected_with_a_reason(store: Store) -> None:
    a = lonlat(CX + 10.0, CY + 10.0)
    text = _csv([f'{C1},{a[0]:.9f},{a[1]:.9f},"never closed', f"{C2},{a[0]:.9f},{a[1]:.9f},ok"])
    p = survey.preview_batch(store, text, filename="q.csv", crs="EPSG:4326")
    assert p.rows["row_number"].tolist() == [2, 3]
    assert p.rows["reason_code"].tolist() == ["unterminated_quote", ""]
    assert (
        json.loads(p.rows.set_index("row_number").loc[2, "raw"])["raw"]
        == f'{C1},{a[0]:.9f},{a[1]:.9f},"never closed'
    )
