"""Tests of layers.grid_files: every format and CRS in, the working CRS out; every refusal named."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import shapely
from shapely import box

from layers.grid_files import GridFileCRSError, GridFileError, read_grid_file, read_land_file
from spatial.errors import CRSError, OneGridError
from spatial.topology import CodeScheme, check_grids, sequence_numbers

X0, Y0, U = 550_000.0, 3_450_000.0, 1000.0  # in Wuzhong, EPSG:4549
SCHEME = CodeScheme()

FORMATS = {
    "geojson": ("grids.geojson", {}),
    "gpkg": ("grids.gpkg", {"driver": "GPKG"}),
    "shp": ("grids.shp", {}),
    "parquet": ("grids.parquet", None),
}


def grid_frame(*, crs: str = "EPSG:4549") -> gpd.GeoDataFrame:
    """A clean 3-level hierarchy (2 towns, 8 communities, 32 areas) with code/parent/level/name."""
    rows: list[dict[str, object]] = []
    for t, seg in enumerate((3, 101)):
        town = SCHEME.child(None, seg, root="320506")
        rows.append(
            {
                "code": town,
                "parent": None,
                "level": 1,
                "name": f"town {t}",
                "geometry": box(X0 + 4 * t * U, Y0, X0 + (4 * t + 4) * U, Y0 + 4 * U),
            }
        )
        comms = [
            box(
                X0 + (4 * t + 2 * cx) * U,
                Y0 + 2 * cy * U,
                X0 + (4 * t + 2 * cx + 2) * U,
                Y0 + (2 * cy + 2) * U,
            )
            for cy in range(2)
            for cx in range(2)
        ]
        for cg, n in zip(comms, sequence_numbers(comms), strict=True):
            comm = SCHEME.child(town, int(n))
            rows.append(
                {"code": comm, "parent": town, "level": 2, "name": f"community {comm[9:12]}", "geometry": cg}
            )
            x, y = cg.bounds[:2]
            areas = [
                box(x + ax * U, y + ay * U, x + (ax + 1) * U, y + (ay + 1) * U)
                for ay in range(2)
                for ax in range(2)
            ]
            for ag, m in zip(areas, sequence_numbers(areas), strict=True):
                code = SCHEME.child(comm, int(m))
                rows.append(
                    {"code": code, "parent": comm, "level": 3, "name": f"area {code[-3:]}", "geometry": ag}
                )
    df = gpd.GeoDataFrame(rows, geometry="geometry", crs="EPSG:4549")
    return df.to_crs(crs) if crs != "EPSG:4549" else df


def _parents(col: object) -> list[str | None]:
    return [p if isinstance(p, str) else None for p in col]  # type: ignore[attr-defined]


def write(df: gpd.GeoDataFrame, folder: Path, fmt: str) -> Path:
    name, kw = FORMATS[fmt]
    path = folder / name
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "crs was not provided" for the no-CRS cases
        if kw is None:
            df.to_parquet(path)
        else:
            df.to_file(path, **kw)
    return path


@pytest.mark.parametrize("crs", ["EPSG:4326", "EPSG:4549"])
@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_every_format_and_crs_reads_into_the_working_crs(tmp_path: Path, fmt: str, crs: str) -> None:
    src = grid_frame()
    path = write(grid_frame(crs=crs), tmp_path, fmt)
    grids = read_grid_file(path, name_field="name")
    assert grids.source_crs == crs
    assert len(grids) == 42
    assert grids.codes.tolist() == src["code"].tolist()
    assert grids.levels.tolist() == src["level"].tolist()
    assert grids.parents.tolist() == _parents(src["parent"])
    assert grids.names is not None and grids.names[0] == "town 0"
    assert grids.level_field is None and grids.parent_field is None
    # Back in EPSG:4549 to well under a millimetre.
    dist = shapely.hausdorff_distance(grids.geoms, np.asarray(src.geometry.values, dtype=object))
    assert float(dist.max()) < 1e-3
    assert check_grids(grids.geoms, grids.codes).ok


def test_declared_fields_are_used_and_shapefile_names_cut_to_ten(tmp_path: Path) -> None:
    df = grid_frame().rename(columns={"code": "grid_code", "parent": "parent_code", "level": "grid_level"})
    with pytest.warns(RuntimeWarning, match="laundered field name"):
        path = write(df, tmp_path, "shp")
    grids = read_grid_file(path, code_field="grid_code", parent_field="parent_code", level_field="grid_level")
    assert grids.parent_field == "parent_cod" and grids.level_field == "grid_level"
    assert grids.levels.tolist() == df["grid_level"].tolist()
    assert grids.parents.tolist() == _parents(df["parent_code"])


def test_twelve_digit_codes_with_level_and_parent_fields(tmp_path: Path) -> None:
    df = grid_frame()
    df = df[df["level"] < 3].copy()
    df["code"] = df["code"].str[:12]
    df["parent"] = df["parent"].str[:12]
    path = write(df, tmp_path, "gpkg")
    grids = read_grid_file(path, parent_field="parent", level_field="level")
    assert grids.codes[0] == "320506003000"
    report = check_grids(grids.geoms, grids.codes, levels=grids.levels, parents=grids.parents)
    assert report.ok, report.to_records()
    # Read from the code alone, the 12-digit scheme gives the same levels and parents.
    alone = read_grid_file(path)
    assert alone.levels.tolist() == grids.levels.tolist()
    assert alone.parents.tolist() == grids.parents.tolist()


def test_integer_codes_come_back_as_text(tmp_path: Path) -> None:
    df = grid_frame()
    df["code"] = df["code"].astype("int64")
    grids = read_grid_file(write(df, tmp_path, "gpkg"))
    assert grids.codes[0] == "320506003000000"


def test_geojson_with_projected_coordinates_and_no_crs_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "grids.geojson"
    fc = json.loads(grid_frame().to_json(drop_id=True))
    fc.pop("crs", None)
    path.write_text(json.dumps(fc), encoding="utf-8")
    with pytest.raises(
        GridFileCRSError, match="not lon/lat, but RFC 7946 makes GeoJSON lon/lat; the CRS must be declared"
    ):
        read_grid_file(path)


def test_geojson_declaring_its_projected_crs_is_read(tmp_path: Path) -> None:
    path = write(grid_frame(), tmp_path, "geojson")
    assert "4549" in json.loads(path.read_text(encoding="utf-8"))["crs"]["properties"]["name"]
    assert read_grid_file(path).source_crs == "EPSG:4549"


@pytest.mark.parametrize("fmt", ["shp", "gpkg", "parquet"])
def test_no_crs_is_refused(tmp_path: Path, fmt: str) -> None:
    path = write(grid_frame().set_crs(None, allow_override=True), tmp_path, fmt)
    if fmt == "shp":
        assert not path.with_suffix(".prj").exists()
    with pytest.raises(GridFileCRSError, match=r"no CRS|declares no CRS") as info:
        read_grid_file(path)
    assert isinstance(info.value, CRSError) and isinstance(info.value, OneGridError)


def test_shapefile_without_prj_is_refused(tmp_path: Path) -> None:
    path = write(grid_frame(), tmp_path, "shp")
    path.with_suffix(".prj").unlink()
    with pytest.raises(GridFileCRSError, match=r"no CRS \(a Shapefile needs its .prj"):
        read_grid_file(path)


def test_missing_code_field_lists_the_fields(tmp_path: Path) -> None:
    path = write(grid_frame(), tmp_path, "gpkg")
    with pytest.raises(
        GridFileError, match="no code field 'grid_code'; the fields are: code, parent, level, name"
    ):
        read_grid_file(path, code_field="grid_code")
    with pytest.raises(GridFileError, match="no level field 'lvl'"):
        read_grid_file(path, level_field="lvl")


def test_mixed_geometry_types_are_refused(tmp_path: Path) -> None:
    df = grid_frame()
    df.loc[3, "geometry"] = shapely.Point(X0, Y0)
    df.loc[4, "geometry"] = shapely.LineString([(X0, Y0), (X0 + 1, Y0 + 1)])
    path = write(df, tmp_path, "geojson")
    with pytest.raises(
        GridFileError, match=r"polygons mixed with other geometry types \(40 Polygon, 1 Point, 1 LineString\)"
    ):
        read_grid_file(path)


def test_points_only_are_refused(tmp_path: Path) -> None:
    df = grid_frame()
    df["geometry"] = df.geometry.centroid
    with pytest.raises(GridFileError, match="grids must be polygons, the file holds 42 Point"):
        read_grid_file(write(df, tmp_path, "gpkg"))


def test_empty_files_are_refused(tmp_path: Path) -> None:
    zero = tmp_path / "zero.geojson"
    zero.write_bytes(b"")
    with pytest.raises(GridFileError, match="the file is empty"):
        read_grid_file(zero)
    none = tmp_path / "none.geojson"
    none.write_text('{"type": "FeatureCollection", "features": []}', encoding="utf-8")
    with pytest.raises(GridFileError, match="no features"):
        read_grid_file(none)


def test_unreadable_files_are_refused(tmp_path: Path) -> None:
    with pytest.raises(GridFileError, match="no such file"):
        read_grid_file(tmp_path / "missing.gpkg")
    junk = tmp_path / "junk.gpkg"
    junk.write_text("not a geopackage", encoding="utf-8")
    with pytest.raises(GridFileError, match="cannot be read as GeoPackage"):
        read_grid_file(junk)
    pq = tmp_path / "junk.parquet"
    pq.write_text("not parquet", encoding="utf-8")
    with pytest.raises(GridFileError, match="cannot be read as GeoParquet"):
        read_grid_file(pq)
    csv = tmp_path / "grids.csv"
    csv.write_text("code,x,y\n1,2,3\n", encoding="utf-8")
    with pytest.raises(GridFileError, match=r"unknown file type \.csv"):
        read_grid_file(csv)
    with pytest.raises(GridFileError, match="not a file"):
        read_grid_file(tmp_path)


def test_several_layers_need_a_choice(tmp_path: Path) -> None:
    path = tmp_path / "two.gpkg"
    df = grid_frame()
    df.to_file(path, layer="grids", driver="GPKG")
    df.iloc[:2].to_file(path, layer="towns", driver="GPKG")
    with pytest.raises(GridFileError, match=r"2 layers \(grids, towns\); say which one"):
        read_grid_file(path)
    assert len(read_grid_file(path, layer="towns")) == 2


def test_bad_level_values_are_refused(tmp_path: Path) -> None:
    df = grid_frame()
    df["level"] = df["level"].astype(str)
    df.loc[0, "level"] = "town"
    with pytest.raises(GridFileError, match="level field 'level' holds 'town'"):
        read_grid_file(write(df, tmp_path, "gpkg"), level_field="level")


def test_land_file(tmp_path: Path) -> None:
    df = grid_frame()
    land = df[df["level"] == 1][["geometry"]].to_crs("EPSG:4326")
    path = tmp_path / "land.geojson"
    land.to_file(path)
    geom = read_land_file(path)
    assert geom.area == pytest.approx(32 * U * U, rel=1e-6)
    pts = df[["geometry"]].copy()
    pts["geometry"] = pts.geometry.centroid
    pts = pts.to_crs("EPSG:4326")
    bad = tmp_path / "points.geojson"
    pts.to_file(bad)
    with pytest.raises(GridFileError, match="land must be polygons"):
        read_land_file(bad)
