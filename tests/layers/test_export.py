"""Exports of the store's layers (layers/export.py): columns, CRS, masking, atomic writes, refusals."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest

from layers import export
from layers.errors import InputFileError
from layers.store import open_store
from spatial.errors import CRSError


@pytest.fixture()
def store(small_store_path: Path):
    s = open_store(small_store_path, readonly=True)
    yield s
    s.close()


def test_components_keep_the_store_coordinates_in_the_working_crs(store) -> None:
    frame = export.layer_frame(store, "components", crs="EPSG:4549")
    raw = store.read_arrow("SELECT code, x, y FROM components").to_pandas().set_index("code")
    assert isinstance(frame, gpd.GeoDataFrame) and frame.crs.to_epsg() == 4549
    assert frame["code"].is_unique and len(frame) == len(raw)
    xy = raw.loc[frame["code"]]
    assert np.array_equal(frame.geometry.x.to_numpy(), xy["x"].to_numpy())
    assert np.array_equal(frame.geometry.y.to_numpy(), xy["y"].to_numpy())
    assert list(frame.columns) == [  # the interface: the stored columns, the class named, a point
        "code", "grid_code", "class_code", "class_name", "major_code", "major_name", "supervisor_code",
        "owner_code", "maintainer_code", "state", "surveyed_on", "changed_on", "source", "version", "geometry",
    ]  # fmt: skip
    assert frame["class_name"].notna().all()


def test_display_crs_is_lon_lat_in_the_district(store) -> None:
    frame = export.layer_frame(store, "components")
    assert frame.crs.to_epsg() == 4326
    assert frame.geometry.x.between(119.9, 121.0).all() and frame.geometry.y.between(30.8, 31.5).all()


def test_grids_carry_their_generation(store) -> None:
    grids = export.layer_frame(store, "grids", crs="EPSG:4490")
    assert grids.crs.to_epsg() == 4490
    assert (grids["generation"] == store.current_generation()).all()
    assert grids["valid_from"].notna().all()
    assert grids["level"].value_counts().to_dict() == {1: 14, 2: 205, 3: 887}


def test_land_is_one_polygon_with_its_area(store) -> None:
    land = export.layer_frame(store, "land", crs="EPSG:4549")
    assert len(land) == 1
    assert land["area_km2"].iat[0] == pytest.approx(land.geometry.area.iat[0] / 1e6, abs=1e-3)


def test_staff_is_masked_unless_revealed(store) -> None:
    masked = export.layer_frame(store, "staff")
    plain = export.layer_frame(store, "staff", reveal_personal=True)
    assert list(masked["id"]) == list(plain["id"])
    assert (masked["id_number"] != plain["id_number"]).all()
    assert masked["id_number"].str.contains(r"\*").all() and masked["phone"].str.contains(r"\*").all()
    assert not plain["id_number"].str.contains(r"\*").any()
    assert (masked["grid_code"] == plain["grid_code"]).all()  # only personal columns change


@pytest.mark.parametrize("fmt", export.FORMATS)
def test_every_format_writes_every_row(store, tmp_path: Path, fmt: str) -> None:
    out = tmp_path / f"departments.{fmt}"
    n = export.export_layer(store, layer="departments", fmt=fmt, out=out)
    if fmt == "csv":
        back = pd.read_csv(out, dtype=str, encoding="utf-8-sig")
    elif fmt == "xlsx":
        back = pd.read_excel(out, dtype=str)
    elif fmt == "parquet":
        back = pd.read_parquet(out)
    else:
        back = pyogrio.read_dataframe(out)
    assert n == len(back) == store.conn.execute("SELECT count(*) FROM departments").fetchone()[0]
    assert sorted(back["code"]) == sorted(r[0] for r in store.conn.execute("SELECT code FROM departments"))
    assert [p.name for p in tmp_path.iterdir()] == [out.name], "no temporary file is left"


def test_points_flatten_to_lon_lat_in_csv(store, tmp_path: Path) -> None:
    out = tmp_path / "c.csv"
    export.export_layer(store, layer="components", fmt="csv", out=out)
    back = pd.read_csv(out, dtype={"code": str}, encoding="utf-8-sig")
    assert {"lon", "lat"} <= set(back.columns) and "wkt" not in back.columns
    out = tmp_path / "c4549.csv"
    export.export_layer(store, layer="components", fmt="csv", out=out, crs="EPSG:4549")
    assert {"x", "y"} <= set(pd.read_csv(out, nrows=1, encoding="utf-8-sig").columns)


def test_a_failed_export_leaves_the_old_file(store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "staff.xlsx"
    out.write_bytes(b"the previous export")
    monkeypatch.setattr(export, "XLSX_MAX_ROWS", 10)
    with pytest.raises(InputFileError, match="do not fit in one XLSX sheet"):
        export.export_layer(store, layer="staff", fmt="xlsx", out=out)
    assert out.read_bytes() == b"the previous export"
    assert [p.name for p in tmp_path.iterdir()] == [out.name]


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        ({"layer": "roads", "fmt": "csv"}, InputFileError, "unknown layer 'roads'"),
        ({"layer": "grids", "fmt": "shp"}, InputFileError, "unknown format 'shp'"),
        ({"layer": "grids", "fmt": "csv", "crs": "EPSG:3857"}, CRSError, "cannot export in 'EPSG:3857'"),
        ({"layer": "land", "fmt": "xlsx"}, InputFileError, "XLSX cannot hold land polygons"),
    ],
)
def test_refusals(store, tmp_path: Path, kwargs: dict, error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        export.export_layer(store, out=tmp_path / "x.out", **kwargs)
    assert not list(tmp_path.iterdir())


def test_a_folder_or_a_missing_folder_is_refused(store, tmp_path: Path) -> None:
    with pytest.raises(InputFileError, match="is a folder"):
        export.export_layer(store, layer="grids", fmt="csv", out=tmp_path)
    with pytest.raises(InputFileError, match="does not exist"):
        export.export_layer(store, layer="grids", fmt="csv", out=tmp_path / "no" / "g.csv")
