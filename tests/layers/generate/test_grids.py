"""Grids of the real district: counts, codes, nesting, coverage, islands, determinism."""

from __future__ import annotations

import functools
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from layers.generate.grids import make_grids, read_towns
from layers.generate.land import BoundaryFileError, load_boundary_file, load_land
from layers.generate.land import district_land as _district_land
from spatial.topology import expected_order, thickness

DATA = Path(__file__).resolve().parents[3] / "data"
SEED = 20260101


@functools.cache
def district_land() -> shapely.Geometry:
    """The real land, computed once per test session (the component tests share it)."""
    return _district_land()


@functools.cache
def district_grids(seed: int = SEED) -> gpd.GeoDataFrame:
    """Grids of the real land, generated once per seed and session; tests must not modify them."""
    return make_grids(district_land(), towns=read_towns(DATA / "wuzhong_towns_2023.csv"), seed=seed)


@pytest.fixture(scope="module")
def land() -> shapely.Geometry:
    return district_land()


@pytest.fixture(scope="module")
def towns() -> pd.DataFrame:
    return read_towns(DATA / "wuzhong_towns_2023.csv")


@pytest.fixture(scope="module")
def grids() -> gpd.GeoDataFrame:
    return district_grids(SEED)


# -- land ---------------------------------------------------------------------------------------


def test_land_area_and_parts(land: shapely.Geometry) -> None:
    # The polygon cut at 31°21′N, less Taihu and Yangcheng Lake: about 827 km² (the data README).
    assert land.area / 1e6 == pytest.approx(826.7, abs=1.0)
    areas = np.sort(shapely.area(shapely.get_parts(land)))[::-1] / 1e6
    assert len(areas) == 4
    assert areas[0] == pytest.approx(759.7, abs=1.0)
    assert areas[1] == pytest.approx(65.4, abs=0.5)
    lon_lat = gpd.GeoSeries([land], crs="EPSG:4549").to_crs("EPSG:4326").iloc[0]
    assert lon_lat.bounds[3] == pytest.approx(31.0 + 21.0 / 60.0, abs=1e-6)  # cut on the parallel


def test_land_without_the_cut_and_the_second_lake() -> None:
    whole = load_land(DATA / "wuzhong_district_320506.geojson", DATA / "taihu_lake.geojson")
    assert whole.area / 1e6 == pytest.approx(923.2, abs=1.0)
    # The polygon's one interior ring (52.6 km² of the Park) is never land.
    ring = shapely.Point(120.74, 31.27)
    ring_xy = gpd.GeoSeries([ring], crs="EPSG:4326").to_crs("EPSG:4549").iloc[0]
    assert not whole.contains(ring_xy)
    with pytest.raises(ValueError, match="not a latitude"):
        load_land(DATA / "wuzhong_district_320506.geojson", DATA / "taihu_lake.geojson", north_limit=95.0)
    with pytest.raises(BoundaryFileError, match="no land is left"):
        load_land(DATA / "wuzhong_district_320506.geojson", DATA / "taihu_lake.geojson", north_limit=30.0)


def test_boundary_missing_file(tmp_path: Path) -> None:
    with pytest.raises(BoundaryFileError, match="no such file"):
        load_boundary_file(tmp_path / "nope.geojson")


def test_boundary_malformed_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.geojson"
    bad.write_text('{"type": "FeatureCollection", "features": [', encoding="utf-8")
    with pytest.raises(BoundaryFileError, match="not a readable GeoJSON"):
        load_boundary_file(bad)


def _write_geojson(path: Path, geom: shapely.Geometry, *, crs: str | None = None) -> Path:
    frame = gpd.GeoDataFrame({"name": ["a"]}, geometry=[geom], crs=crs)
    frame.to_file(path, driver="GeoJSON")
    return path


def test_boundary_without_polygon(tmp_path: Path) -> None:
    path = _write_geojson(tmp_path / "pt.geojson", shapely.Point(120.6, 31.2), crs="EPSG:4326")
    with pytest.raises(BoundaryFileError, match="no Polygon"):
        load_boundary_file(path)


def test_boundary_projected_coordinates_without_crs_member(tmp_path: Path) -> None:
    path = tmp_path / "metres.geojson"
    path.write_text(
        '{"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {}, '
        '"geometry": {"type": "Polygon", "coordinates": '
        "[[[500000, 3450000], [501000, 3450000], [501000, 3451000], [500000, 3450000]]]}}]}",
        encoding="utf-8",
    )
    with pytest.raises(BoundaryFileError, match="declare the CRS"):
        load_boundary_file(path)


@pytest.mark.filterwarnings("ignore:'crs' was not provided")
def test_boundary_gpkg_without_crs(tmp_path: Path) -> None:
    path = tmp_path / "nocrs.gpkg"
    gpd.GeoDataFrame({"name": ["a"]}, geometry=[shapely.box(0, 0, 1, 1)]).to_file(path, driver="GPKG")
    with pytest.raises(BoundaryFileError, match="declare the CRS"):
        load_boundary_file(path)


def test_boundary_invalid_geometry_is_repaired_and_noted(tmp_path: Path) -> None:
    bowtie = shapely.Polygon([(120.60, 31.20), (120.61, 31.21), (120.61, 31.20), (120.60, 31.21)])
    path = _write_geojson(tmp_path / "bowtie.geojson", bowtie, crs="EPSG:4326")
    b = load_boundary_file(path)
    assert b.geometry.is_valid and b.geometry.area > 0
    assert b.crs == "EPSG:4549"
    assert any("make_valid" in n for n in b.notes)


# -- grids --------------------------------------------------------------------------------------


def test_frame_shape(grids: gpd.GeoDataFrame) -> None:
    assert list(grids.columns) == ["code", "level", "parent_code", "name", "geometry"]
    assert grids.crs.to_epsg() == 4549
    assert grids.groupby("level").size().to_dict() == {1: 14, 2: 205, 3: 887}


def test_codes(grids: gpd.GeoDataFrame) -> None:
    codes = grids["code"]
    assert codes.is_unique
    assert codes.str.fullmatch(r"320506\d{9}").all()
    lvl = grids["level"].to_numpy()
    keep = {1: 9, 2: 12, 3: 15}
    for level, n in keep.items():
        sub = grids[lvl == level]
        assert sub["code"].str[n - 3 : n].ne("000").all()
        assert sub["code"].str[n:].str.fullmatch("0*").all()
    assert grids.loc[lvl == 1, "parent_code"].isna().all()
    child = grids[lvl > 1]
    prefix_len = np.where(child["level"] == 2, 9, 12)
    parents = [c[:k] + "0" * (15 - k) for c, k in zip(child["code"], prefix_len, strict=True)]
    assert list(child["parent_code"]) == parents
    assert set(child["parent_code"]) <= set(grids["code"])
    # The 7 streets and 7 towns with their 2023 statistical codes; the 政企合一 units (400–405)
    # are not level-1 grids.
    towns = set(grids.loc[lvl == 1, "code"].str[6:9])
    assert towns == {
        "001",
        "003",
        "004",
        "005",
        "006",
        "009",
        "010",
        "100",
        "103",
        "104",
        "107",
        "108",
        "109",
        "110",
    }


def test_names(grids: gpd.GeoDataFrame) -> None:
    l1 = grids[grids["level"] == 1].set_index("code")["name"]
    assert l1["320506109000000"] == "金庭镇" and l1["320506108000000"] == "光福镇"
    assert l1["320506010000000"] == "太湖街道" and l1["320506103000000"] == "木渎镇"
    assert (l1.str.endswith("街道").sum(), l1.str.endswith("镇").sum()) == (7, 7)
    l2 = grids[grids["level"] == 2]
    assert l2["name"].is_unique
    assert l2["name"].str.fullmatch(r".{2}(社区|村)").all()
    # Streets are made of communities; towns mostly of villages, with communities at the seat.
    in_street = l2["parent_code"].map(l1).str.endswith("街道")
    assert l2.loc[in_street, "name"].str.endswith("社区").all()
    assert l2.loc[~in_street, "name"].str.endswith("村").mean() > 0.5
    l3 = grids[grids["level"] == 3]
    names2 = grids.set_index("code")["name"]
    expected = [f"{names2[p]}第{int(c[-3:])}网格" for p, c in zip(l3["parent_code"], l3["code"], strict=True)]
    assert list(l3["name"]) == expected


def test_nesting(grids: gpd.GeoDataFrame) -> None:
    geom = grids.set_index("code").geometry
    child = grids[grids["level"] > 1]
    parents = geom.loc[child["parent_code"]].values
    spill = shapely.area(shapely.difference(child.geometry.values, parents))
    assert spill.max() < 1.0


@pytest.mark.parametrize("level", [1, 2, 3])
def test_level_tiles_land(grids: gpd.GeoDataFrame, land: shapely.Geometry, level: int) -> None:
    geoms = grids.loc[grids["level"] == level].geometry.values
    assert shapely.is_valid(geoms).all()
    assert not shapely.is_empty(geoms).any()
    union = shapely.union_all(geoms)
    assert abs(shapely.area(geoms).sum() - union.area) < 1.0  # no overlap
    assert shapely.symmetric_difference(union, land).area < 1.0  # no gap, nothing off land


def test_children_tile_parents(grids: gpd.GeoDataFrame) -> None:
    geom = grids.set_index("code").geometry
    child = grids[grids["level"] > 1]
    for parent, kids in child.groupby("parent_code"):
        union = shapely.union_all(kids.geometry.values)
        assert shapely.symmetric_difference(union, geom[parent]).area < 1.0, parent


def test_no_slivers(grids: gpd.GeoDataFrame) -> None:
    geoms = grids.geometry.values
    assert thickness(geoms).min() > 10.0
    parts = shapely.get_parts(geoms)
    assert shapely.area(parts).min() > 1e4


def test_multipart_only_where_land_is(grids: gpd.GeoDataFrame, land: shapely.Geometry) -> None:
    multi = grids[shapely.get_num_geometries(grids.geometry.values) > 1]
    land_parts = shapely.get_parts(land)
    for g in multi.geometry.values:
        # Every part of a multi-part grid sits on a different part of the land.
        hits = [
            int(np.argmax(shapely.area(shapely.intersection(land_parts, p)))) for p in shapely.get_parts(g)
        ]
        assert len(set(hits)) == len(hits)


def test_xishan_goes_to_jinting(grids: gpd.GeoDataFrame, land: shapely.Geometry) -> None:
    parts = shapely.get_parts(land)
    xishan = parts[np.argsort(shapely.area(parts))[-2]]
    jinting = grids.set_index("code").geometry["320506109000000"]
    assert shapely.difference(xishan, jinting).area < 1.0


def test_denser_grids_in_town(grids: gpd.GeoDataFrame) -> None:
    l3 = grids[grids["level"] == 3]
    mean_km2 = (l3.geometry.area / 1e6).groupby(l3["code"].str[6:9]).mean()
    for urban in ("001", "009", "003"):  # 长桥, 城南, 越溪
        for rural in ("110", "107", "109"):  # 临湖, 东山, 金庭
            assert mean_km2[urban] < mean_km2[rural] / 2


def test_children_numbered_by_shared_rule(grids: gpd.GeoDataFrame) -> None:
    child = grids[grids["level"] > 1]
    for _, kids in child.groupby("parent_code"):
        kids = kids.sort_values("code")
        assert (expected_order(kids.geometry.values) == np.arange(len(kids))).all()


def test_read_towns_leaves_out_units_that_are_not_level_1(towns: pd.DataFrame, tmp_path: Path) -> None:
    assert len(towns) == 14 and not towns["code"].str.slice(6, 7).eq("4").any()
    odd = tmp_path / "towns.csv"
    odd.write_text("name,pop\n长桥街道,1\n", encoding="utf-8")
    with pytest.raises(ValueError, match="code, name"):
        read_towns(odd)


def test_deterministic(grids: gpd.GeoDataFrame, land: shapely.Geometry, towns: pd.DataFrame) -> None:
    again = make_grids(land, towns=towns, seed=SEED)
    assert list(again["code"]) == list(grids["code"])
    assert list(again["name"]) == list(grids["name"])
    assert (shapely.to_wkb(again.geometry.values) == shapely.to_wkb(grids.geometry.values)).all()


def test_other_seed_other_layout(
    grids: gpd.GeoDataFrame, land: shapely.Geometry, towns: pd.DataFrame
) -> None:
    other = make_grids(land, towns=towns, seed=SEED + 1)
    assert other.groupby("level").size().to_dict() == {1: 14, 2: 205, 3: 887}
    a = grids.loc[grids["level"] == 3].geometry.values
    b = other.loc[other["level"] == 3].geometry.values
    assert not (shapely.to_wkb(a) == shapely.to_wkb(b)).all()
