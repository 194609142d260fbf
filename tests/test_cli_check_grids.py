"""The check-grids command end to end: real files in every format, exit codes 0 / 1 / 2."""

from __future__ import annotations

import json
import re
import warnings
from pathlib import Path

import pytest
import shapely

import cli
from tests.layers.test_grid_files import FORMATS, X0, Y0, U, grid_frame, write


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = cli.main(["check-grids", *args])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("crs", ["EPSG:4326", "EPSG:4549"])
@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_clean_file_exits_zero(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], fmt: str, crs: str
) -> None:
    path = write(grid_frame(crs=crs), tmp_path, fmt)
    code, out, err = run(capsys, "--in", str(path))
    assert (code, err) == (0, "")
    assert f"42 grids (levels 1, 2, 3) from {crs}, checked in EPSG:4549" in out
    assert "no problems" in out


def test_declared_fields_and_land(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    df = grid_frame().rename(columns={"code": "gc", "parent": "pc", "level": "lv", "name": "nm"})
    path = write(df, tmp_path, "gpkg")
    land = tmp_path / "land.geojson"
    df[df["lv"] == 1][["geometry"]].to_crs("EPSG:4326").to_file(land)
    code, out, _ = run(
        capsys,
        "--in",
        str(path),
        "--code-field",
        "gc",
        "--parent-field",
        "pc",
        "--level-field",
        "lv",
        "--name-field",
        "nm",
        "--land",
        str(land),
    )
    assert code == 0, out
    assert "against the land" in out


def defective(tmp_path: Path, fmt: str = "gpkg") -> tuple[Path, str, str]:
    """The clean file with one area's north-east corner pushed into its eastern neighbour."""
    df = grid_frame()
    a = df.index[df["geometry"].covers(shapely.Point(X0 + 0.5 * U, Y0 + 0.5 * U)) & (df["level"] == 3)][0]
    b = df.index[df["geometry"].covers(shapely.Point(X0 + 1.5 * U, Y0 + 0.5 * U)) & (df["level"] == 3)][0]
    df.loc[a, "geometry"] = shapely.Polygon(
        [(X0, Y0), (X0 + U, Y0), (X0 + 1.2 * U, Y0 + 0.9 * U), (X0, Y0 + U)]
    )
    return write(df, tmp_path, fmt), str(df.loc[a, "code"]), str(df.loc[b, "code"])


def test_problems_exit_one_with_a_readable_summary(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path, a, b = defective(tmp_path)
    code, out, _ = run(capsys, "--in", str(path), "--name-field", "name")
    assert code == 1
    assert "2 problems: gap 1, overlap 1" in out
    line = next(ln for ln in out.splitlines() if ln.strip().startswith("overlap"))
    assert f"{min(a, b)} area" in line and f"{max(a, b)} area" in line
    assert "91,666.67 m2" in line
    code, out, _ = run(capsys, "--in", str(path), "--limit", "1")
    assert "… 1 more; --json lists them all" in out


def test_json_is_the_whole_report_as_geojson(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path, a, b = defective(tmp_path, "parquet")
    code, out, _ = run(capsys, "--in", str(path), "--json")
    assert code == 1
    doc = json.loads(out)
    assert doc["type"] == "FeatureCollection"
    assert doc["ok"] is False and doc["counts"] == {"gap": 1, "overlap": 1}
    assert doc["grids"] == 42 and doc["levels"] == [1, 2, 3] and doc["xy_crs"] == "EPSG:4549"
    overlap = next(f for f in doc["features"] if f["properties"]["kind"] == "overlap")
    assert overlap["properties"]["codes"] == ",".join(sorted((a, b)))
    lon, lat = shapely.geometry.shape(overlap["geometry"]).centroid.coords[0]
    assert 120 < lon < 121.5 and 30.5 < lat < 32


def test_flat_mode_for_plain_labels(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    df = grid_frame()
    df = df[df["level"] == 3].copy()
    df["label"] = [f"area {k}" for k in range(len(df))]
    path = write(df, tmp_path, "geojson")
    code, out, _ = run(capsys, "--in", str(path), "--code-field", "label")
    assert code == 1 and "--flat checks the geometry" in out
    code, out, _ = run(capsys, "--in", str(path), "--code-field", "label", "--flat")
    assert code == 0, out


def test_tolerances_from_the_command_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path, _, _ = defective(tmp_path)
    code, out, _ = run(capsys, "--in", str(path), "--gap-area", "50000", "--overlap-area", "100000")
    assert code == 0, out


def _no_prj(tmp_path: Path) -> Path:
    path = write(grid_frame(), tmp_path, "shp")
    path.with_suffix(".prj").unlink()
    return path


def _mixed(tmp_path: Path) -> Path:
    df = grid_frame()
    df.loc[5, "geometry"] = shapely.Point(X0, Y0)
    return write(df, tmp_path, "gpkg")


def _empty(tmp_path: Path) -> Path:
    path = tmp_path / "empty.geojson"
    path.write_text('{"type": "FeatureCollection", "features": []}', encoding="utf-8")
    return path


def _unreadable(tmp_path: Path) -> Path:
    path = tmp_path / "broken.gpkg"
    path.write_bytes(b"\x00garbage" * 10)
    return path


@pytest.mark.parametrize(
    ("make", "extra", "message"),
    [
        (_unreadable, [], "broken.gpkg: cannot be read as GeoPackage"),
        (_no_prj, [], r"grids.shp: no CRS \(a Shapefile needs its .prj"),
        (
            lambda p: write(grid_frame(), p, "gpkg"),
            ["--code-field", "gridcode"],
            "no code field 'gridcode'; the fields are: code, parent, level, name",
        ),
        (_mixed, [], r"polygons mixed with other geometry types \(41 Polygon, 1 Point\)"),
        (_empty, [], "empty.geojson: no features"),
    ],
    ids=["unreadable", "no-crs", "no-code-field", "mixed-types", "empty"],
)
def test_bad_input_exits_two_with_one_error_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], make, extra: list[str], message: str
) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        path = make(tmp_path)
    code, out, err = run(capsys, "--in", str(path), *extra)
    assert code == 2
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ")
    assert re.search(message, lines[0]), lines[0]


def test_bad_land_exits_two(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(grid_frame(), tmp_path, "gpkg")
    code, _, err = run(capsys, "--in", str(path), "--land", str(tmp_path / "nowhere.geojson"))
    assert code == 2 and "nowhere.geojson: no such file" in err


def test_the_stores_own_export_has_no_gap_against_its_land(
    small_store_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    grids = tmp_path / "grids.gpkg"
    land = tmp_path / "land.geojson"
    assert (
        cli.main(
            [
                "export",
                "--store",
                str(small_store_path),
                "--layer",
                "grids",
                "--format",
                "gpkg",
                "--out",
                str(grids),
            ]
        )
        == 0
    )
    assert (
        cli.main(
            [
                "export",
                "--store",
                str(small_store_path),
                "--layer",
                "land",
                "--format",
                "geojson",
                "--out",
                str(land),
            ]
        )
        == 0
    )
    capsys.readouterr()
    # Without land, the hole in the district polygon (the Park's 52.6 km² enclave) looks like a gap.
    code, out, _ = run(capsys, "--in", str(grids))
    assert code == 1 and "gap 1" in out and "52,5" in out
    # The store's own land (or its export) knows the hole is not land: nothing to report.
    code, out, _ = run(capsys, "--in", str(grids), "--store", str(small_store_path))
    assert (code, out.splitlines()[-1]) == (0, "no problems") and "against the land" in out
    code, out, _ = run(capsys, "--in", str(grids), "--land", str(land))
    assert (code, out.splitlines()[-1]) == (0, "no problems")
    with pytest.raises(SystemExit):
        cli.main(["check-grids", "--in", str(grids), "--land", str(land), "--store", str(small_store_path)])
    assert "not allowed with argument" in capsys.readouterr().err
    code, _out, err = run(capsys, "--in", str(grids), "--store", str(tmp_path / "none.sqlite"))
    assert code == 2 and err.startswith("error: ")


def test_land_export(small_store_path: Path, tmp_path: Path) -> None:
    import geopandas as gpd

    from layers.errors import InputFileError
    from layers.export import export_layer
    from layers.store import open_store

    with open_store(small_store_path, readonly=True) as store:
        assert export_layer(store, layer="land", fmt="gpkg", out=tmp_path / "land.gpkg", crs="EPSG:4549") == 1
        with pytest.raises(InputFileError, match="XLSX cannot hold land polygons"):
            export_layer(store, layer="land", fmt="xlsx", out=tmp_path / "land.xlsx")
    land = gpd.read_file(tmp_path / "land.gpkg")
    assert land.crs.to_epsg() == 4549 and land["area_km2"].iat[0] == pytest.approx(826.7, abs=1.0)
    assert land.geometry.area.iat[0] / 1e6 == pytest.approx(land["area_km2"].iat[0], abs=0.01)
    assert "yangcheng_lake" in land["source"].iat[0] and "31.3500°N" in land["source"].iat[0]
    hole = gpd.GeoSeries([shapely.Point(120.74, 31.27)], crs=4326).to_crs(4549).iat[0]
    assert not land.geometry.iat[0].contains(hole)  # the Park's enclave is not land
