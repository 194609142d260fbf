"""The generated district through the command line: summary, exports checked independently,
determinism, and every kind of bad input refused with nothing overwritten."""

from __future__ import annotations

import hashlib
import json
import re
import sqlite3
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
import shapely

import cli
from tests.conftest import END, SMALL

SMALL_ARGS = [
    "--days",
    str(SMALL["days"]),
    "--components",
    str(SMALL["n_components"]),
    "--per-day",
    str(SMALL["per_day"]),
    "--end",
    END.isoformat(),
    "--quiet",
]


def _generate(path: Path, seed: int, *extra: str) -> int:
    return cli.main(["generate", "--store", str(path), "--seed", str(seed), *SMALL_ARGS, *extra])


def _export(store: Path, layer: str, fmt: str, out: Path, crs: str = "EPSG:4326") -> None:
    assert (
        cli.main(
            [
                "export",
                "--store",
                str(store),
                "--layer",
                layer,
                "--format",
                fmt,
                "--out",
                str(out),
                "--crs",
                crs,
            ]
        )
        == 0
    )


# -- summary and exports --------------------------------------------------------------------------


def test_summary_json(small_store_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["summary", "--store", str(small_store_path), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["grids"] == {"level_1": 14, "level_2": 205, "level_3": 887}
    assert info["components"] == SMALL["n_components"]
    assert info["event_types"] == 732
    assert info["channels"] == 12
    assert 820 < info["land_area_km2"] < 835  # cut at 31°21′N, less Taihu and Yangcheng Lake
    assert info["cases"]["total"] > 0 and info["case_history"] >= info["cases"]["total"]
    assert cli.main(["summary", "--store", str(small_store_path)]) == 0
    assert "14 / 205 / 887" in capsys.readouterr().out


@pytest.mark.parametrize("fmt", ["gpkg", "geojson", "parquet", "csv"])
def test_grid_exports_carry_the_interface_columns(small_store_path: Path, tmp_path: Path, fmt: str) -> None:
    out = tmp_path / f"grids.{fmt}"
    _export(small_store_path, "grids", fmt, out)
    if fmt == "csv":
        frame = pd.read_csv(out, dtype=str, encoding="utf-8-sig")
        assert "wkt" in frame.columns
    elif fmt == "parquet":
        frame = gpd.read_parquet(out)
        assert frame.crs.to_epsg() == 4326
    else:
        frame = pyogrio.read_dataframe(out)
        assert frame.crs.to_epsg() == 4326
    assert {"code", "level", "parent_code", "name"} <= set(frame.columns)
    assert len(frame) == 14 + 205 + 887


def test_table_exports(small_store_path: Path, tmp_path: Path) -> None:
    _export(small_store_path, "event_types", "xlsx", tmp_path / "et.xlsx")
    et = pd.read_excel(tmp_path / "et.xlsx", dtype=str)
    assert len(et) == 732 and et["code"].is_unique
    _export(small_store_path, "departments", "csv", tmp_path / "d.csv")
    assert "name" in pd.read_csv(tmp_path / "d.csv", encoding="utf-8-sig").columns
    _export(small_store_path, "staff", "parquet", tmp_path / "s.parquet")
    staff = pd.read_parquet(tmp_path / "s.parquet")
    assert staff["id_number"].str.contains(r"\*").all(), "personal data is masked by default"
    _export(small_store_path, "cases", "gpkg", tmp_path / "c.gpkg")
    assert len(pyogrio.read_dataframe(tmp_path / "c.gpkg")) > 0


@pytest.mark.parametrize(
    "fmt, out, extra, message",
    [
        ("xlsx", "g.xlsx", [], "XLSX cannot hold grid polygons"),
        ("csv", "g.csv", ["--crs", "EPSG:3857"], "cannot export in"),
        ("csv", "nope/g.csv", [], "does not exist"),
    ],
)
def test_export_errors(
    small_store_path: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    fmt: str,
    out: str,
    extra: list[str],
    message: str,
) -> None:
    argv = ["export", "--store", str(small_store_path), "--layer", "grids", "--format", fmt]
    assert cli.main([*argv, "--out", str(tmp_path / out), *extra]) == 2
    assert message in capsys.readouterr().err
    assert not list(tmp_path.iterdir())


# -- determinism ------------------------------------------------------------------------------------


#: Columns that record when a store was written, not what it holds.
_WALL_CLOCK = {("meta", "generated_at"), ("generations", "created_at")}


def _table_checksums(path: Path) -> dict[str, str]:
    """SHA-256 of every table's rows in key order (statistics and wall-clock stamps left out)."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        tables = [
            r[0]
            for r in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name"
            )
        ]
        sums = {}
        for table in tables:
            frame = pd.read_sql_query(f'SELECT * FROM "{table}" ORDER BY 1, 2', conn)
            if table == "meta":
                frame = frame[~frame["key"].isin([c for t, c in _WALL_CLOCK if t == "meta"])]
            frame = frame.drop(columns=[c for t, c in _WALL_CLOCK if t == table and c in frame.columns])
            sums[table] = hashlib.sha256(frame.to_csv(index=False).encode()).hexdigest()
        return sums
    finally:
        conn.close()


def test_same_seed_same_store(small_store_path: Path, tmp_path: Path) -> None:
    """The command regenerates the district table for table (that another seed gives another
    layout, and each generator's determinism, are pinned by the generator's own tests)."""
    again = tmp_path / "again.sqlite"
    assert _generate(again, SMALL["seed"]) == 0
    first, second = _table_checksums(small_store_path), _table_checksums(again)
    assert {"grids", "components", "cases", "case_history", "staff", "event_types"} <= set(first)
    assert first == second


# -- bad input ---------------------------------------------------------------------------------------


def test_existing_store_is_not_overwritten(
    small_store_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = small_store_path.stat().st_mtime_ns
    assert _generate(small_store_path, 1) == 2
    assert "--force" in capsys.readouterr().err
    assert small_store_path.stat().st_mtime_ns == before


def test_foreign_sqlite_is_never_replaced(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "other.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE x(a)")
    conn.commit()
    conn.close()
    before = path.read_bytes()
    assert _generate(path, 1, "--force") == 2
    assert "another application" in capsys.readouterr().err
    assert path.read_bytes() == before
    assert cli.main(["summary", "--store", str(path)]) == 2
    assert "not a OneGrid store" in capsys.readouterr().err


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--days", "-3"], "is not positive"),
        (["--days", "0"], "0 is not positive"),
        (["--components", "0"], "0 is not positive"),
        (["--seed", "-1"], "is negative"),
        (["--seed", "x"], "not a whole number"),
        (["--end", "2026-13-01"], "not a date"),
    ],
)
def test_invalid_options(
    tmp_path: Path, argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exc:
        cli.main(["generate", "--store", str(tmp_path / "s.sqlite"), *argv])
    assert exc.value.code == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "s.sqlite").exists()


def _boundary_cases(tmp: Path) -> dict[str, tuple[Path, str]]:
    malformed = tmp / "malformed.geojson"
    malformed.write_text('{"type": "FeatureCollection", "features": [', encoding="utf-8")
    projected = tmp / "projected.geojson"
    projected.write_text(
        json.dumps(
            {
                "type": "FeatureCollection",
                "features": [
                    {
                        "type": "Feature",
                        "properties": {},
                        "geometry": {
                            "type": "Polygon",
                            "coordinates": [
                                [[550000, 3450000], [560000, 3450000], [560000, 3460000], [550000, 3450000]]
                            ],
                        },
                    }
                ],
            }
        ),
        encoding="utf-8",
    )
    no_crs = tmp / "no_crs.shp"
    gpd.GeoDataFrame({"a": [1]}, geometry=[shapely.box(0, 0, 1, 1)]).to_file(no_crs)
    points = tmp / "points.geojson"
    gpd.GeoDataFrame({"a": [1]}, geometry=[shapely.Point(120.5, 31.2)], crs=4326).to_file(points)
    return {
        "missing": (tmp / "nope.geojson", "nope.geojson"),
        "malformed": (malformed, "malformed"),
        "projected": (projected, "CRS"),
        "no_crs": (no_crs, "CRS"),
        "points": (points, "polygon"),
    }


@pytest.mark.parametrize("case", ["missing", "malformed", "projected", "no_crs", "points"])
def test_bad_boundary_files(tmp_path: Path, case: str, capsys: pytest.CaptureFixture[str]) -> None:
    path, message = _boundary_cases(tmp_path)[case]
    store = tmp_path / "s.sqlite"
    assert _generate(store, 1, "--boundary", str(path)) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and re.search(message, err, re.IGNORECASE), err
    assert not store.exists()
    assert not list(tmp_path.glob(".s.sqlite*")), "no temporary store is left behind"


# -- the full-scale district -------------------------------------------------------------------------


@pytest.mark.slow
def test_full_district_passes_an_independent_check(full_store_path: Path, tmp_path: Path) -> None:
    """Exports of the full district, checked with shapely/pyogrio only (not the project's engine)."""
    _export(full_store_path, "grids", "gpkg", tmp_path / "g.gpkg", crs="EPSG:4549")
    _export(full_store_path, "components", "parquet", tmp_path / "c.parquet", crs="EPSG:4549")
    grids = pyogrio.read_dataframe(tmp_path / "g.gpkg")
    data = Path(__file__).resolve().parents[1] / "data"
    boundary = gpd.read_file(data / "wuzhong_district_320506.geojson")
    # The district's own extent ends at 31°21′N; north of it the public polygon holds the Park's land.
    south = gpd.GeoSeries([shapely.segmentize(shapely.box(119.0, 30.0, 121.5, 31.35), 0.01)], crs=4326)
    boundary = shapely.intersection(boundary.to_crs(4549).union_all(), south.to_crs(4549).iloc[0])
    lakes = [
        gpd.read_file(data / f).to_crs(4549).union_all()
        for f in ("taihu_lake.geojson", "yangcheng_lake.geojson")
    ]
    land = shapely.difference(boundary, shapely.union_all(lakes))
    assert 820e6 < land.area < 835e6

    assert grids["code"].is_unique
    assert grids["code"].str.fullmatch(r"320506\d{9}").all()
    counts = grids["level"].value_counts().to_dict()
    assert counts == {1: 14, 2: 205, 3: 887}
    geoms = grids.geometry.to_numpy()
    assert shapely.is_valid(geoms).all()
    for level in (1, 2, 3):
        g = geoms[(grids["level"] == level).to_numpy()]
        union = shapely.union_all(g)
        overlap = shapely.area(g).sum() - union.area
        assert overlap < 1.0, f"level {level}: {overlap} m² of overlap"
        assert shapely.symmetric_difference(union, land).area < 1.0, f"level {level}: union ≠ land"
    child = grids[grids["level"] > 1]
    parents = grids.set_index("code").geometry
    spill = shapely.area(
        shapely.difference(child.geometry.to_numpy(), parents.loc[child["parent_code"]].to_numpy())
    )
    assert spill.max() < 1.0
    assert (child["code"].str.slice(0, 9) == child["parent_code"].str.slice(0, 9)).all()

    comps = gpd.read_parquet(tmp_path / "c.parquet")
    assert len(comps) == 680_000 and comps["code"].is_unique
    assert comps["code"].str.fullmatch(r"320506\d{10}").all()
    assert (comps["code"].str.slice(6, 10) == comps["class_code"]).all()
    pts = comps.geometry.to_numpy()
    shapely.prepare(land)
    assert shapely.covers(land, pts).all(), "every component lies on land"
    l3 = grids[grids["level"] == 3].reset_index(drop=True)
    tree = shapely.STRtree(l3.geometry.to_numpy())
    pi, gi = tree.query(pts, predicate="intersects")
    # lowest code wins among the grids covering a point (the one tie rule)
    order = np.lexsort((l3["code"].to_numpy()[gi], pi))
    first = np.unique(pi[order], return_index=True)[1]
    expected = np.full(len(pts), None, dtype=object)
    expected[pi[order][first]] = l3["code"].to_numpy()[gi[order][first]]
    assert (expected == comps["grid_code"].to_numpy(dtype=object)).all()
