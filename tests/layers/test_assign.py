"""Bulk assignment of point files: every row comes out, placed and routed or with its reason."""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest

import cli
from layers.assign import assign_file
from layers.district import District, open_district
from layers.errors import InputFileError
from spatial.crs import to_display, wgs84_to_gcj02


@pytest.fixture(scope="module")
def district(small_store_path: Path) -> District:
    return open_district(small_store_path)


@pytest.fixture(scope="module")
def sample(district: District) -> pd.DataFrame:
    """Real positions inside the district: 50 components, with their grids and an event type."""
    comps = district.components.sample(50, random_state=3).reset_index(drop=True)
    lon, lat = to_display(comps["x"].to_numpy(), comps["y"].to_numpy())
    et = district.store.read_arrow("SELECT code FROM event_types ORDER BY code LIMIT 1").to_pylist()[0][
        "code"
    ]
    return pd.DataFrame(
        {
            "id": [f"R{i}" for i in range(50)],
            "lon": lon,
            "lat": lat,
            "grid": comps["grid_code"],
            "event": et,
            "x": comps["x"],
            "y": comps["y"],
        }
    )


def _csv(path: Path, frame: pd.DataFrame, extra_lines: list[str] = ()) -> Path:
    text = frame.to_csv(index=False, float_format="%.9f")
    path.write_text(text + "".join(line + "\n" for line in extra_lines), encoding="utf-8")
    return path


def test_every_row_placed_exactly_or_rejected_with_reason(
    district: District, sample: pd.DataFrame, tmp_path: Path
) -> None:
    good = sample[["id", "lon", "lat", "event"]].copy()
    good["note"] = "<script>alert(1)</script>"
    bad = pd.DataFrame(
        {
            "id": ["swapped", "nan", "text", "outside", "zero", "unknown_event"],
            "lon": [str(sample.lat[0]), "", "abc", "121.47", "0", str(sample.lon[1])],
            "lat": [str(sample.lon[0]), "", "31.2", "31.23", "0", str(sample.lat[1])],
            "event": [sample.event[0]] * 5 + ["NO-SUCH-TYPE"],
            "note": [""] * 6,
        }
    )
    src = _csv(
        tmp_path / "in.csv", pd.concat([good, bad], ignore_index=True), extra_lines=["malformed,1,2,3,4,5,6"]
    )
    out = tmp_path / "out.csv"
    report = assign_file(district, src=src, dst=out, crs="EPSG:4326", event_col="event")
    res = pd.read_csv(out, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    assert len(res) == len(good) + len(bad) + 1 == report.rows
    assert res["row"].astype(int).tolist() == list(range(1, len(res) + 1))
    placed = res.iloc[: len(good)]
    assert (placed["reject_reason"] == "").all()
    assert placed["grid_l3"].tolist() == sample["grid"].tolist()
    assert (placed["grid_l2"] == placed["grid_l3"].str.slice(0, 12) + "000").all()
    assert (placed["grid_l1"] == placed["grid_l3"].str.slice(0, 9) + "000000").all()
    assert (placed["dept_code"] != "").all() and (placed["route_reason"] != "").all()
    assert (placed["note"] == "<script>alert(1)</script>").all(), "free text is kept as sent"
    reasons = dict(zip(res["id"], res["reject_reason"], strict=True))
    assert "swapped" in reasons["swapped"]
    assert "missing" in reasons["nan"]
    assert reasons["text"].startswith("not a number")
    assert "outside" in reasons["outside"]
    assert "zero" in reasons["zero"]
    assert reasons["unknown_event"].startswith("unknown event type")
    malformed = res[res["raw"] != ""]
    assert malformed["raw"].tolist() == ["malformed,1,2,3,4,5,6"]
    assert malformed["reject_reason"].iloc[0].startswith("malformed row")
    assert report.placed == len(good) and report.rejected == len(bad) + 1
    for rejected in res.iloc[len(good) :].itertuples():
        # A point with an unknown event type is still located; it only cannot be routed.
        assert (rejected.grid_l3 != "") == (rejected.id == "unknown_event")
        assert rejected.dept_code == ""


def test_gcj02_input_lands_in_the_same_grids(
    district: District, sample: pd.DataFrame, tmp_path: Path
) -> None:
    glon, glat = wgs84_to_gcj02(sample["lon"].to_numpy(), sample["lat"].to_numpy())
    assert np.hypot(glon - sample["lon"], glat - sample["lat"]).min() > 1e-3, "GCJ-02 is shifted"
    src = _csv(tmp_path / "gcj.csv", pd.DataFrame({"id": sample["id"], "lng": glon, "lat": glat}))
    out = tmp_path / "out.parquet"
    assign_file(district, src=src, dst=out, crs="GCJ02")
    res = pd.read_parquet(out)
    assert res["grid_l3"].tolist() == sample["grid"].tolist()


def test_geojson_and_projected_input(district: District, sample: pd.DataFrame, tmp_path: Path) -> None:
    gdf = gpd.GeoDataFrame(
        {"id": sample["id"]}, geometry=gpd.points_from_xy(sample["x"], sample["y"]), crs="EPSG:4549"
    )
    src = tmp_path / "pts.geojson"
    gdf.to_crs("EPSG:4326").to_file(src, driver="GeoJSON")
    out = tmp_path / "out.geojson"
    assign_file(district, src=src, dst=out)
    res = gpd.read_file(out)
    assert res["grid_l3"].tolist() == sample["grid"].tolist()
    src2 = _csv(tmp_path / "xy.csv", sample[["id", "x", "y"]])
    out2 = tmp_path / "xy_out.csv"
    assign_file(district, src=src2, dst=out2, crs="EPSG:4549")
    assert pd.read_csv(out2, dtype=str)["grid_l3"].tolist() == sample["grid"].tolist()


def test_bad_files_are_refused_clearly(district: District, tmp_path: Path) -> None:
    with pytest.raises(InputFileError, match="no input file"):
        assign_file(district, src=tmp_path / "none.csv", dst=tmp_path / "o.csv")
    (tmp_path / "a.dat").write_text("x", encoding="utf-8")
    with pytest.raises(InputFileError, match="unknown file type"):
        assign_file(district, src=tmp_path / "a.dat", dst=tmp_path / "o.csv")
    cols = _csv(tmp_path / "cols.csv", pd.DataFrame({"a": [1], "b": [2]}))
    with pytest.raises(
        InputFileError, match=r"missing column\(s\) 'x or lon', 'y or lat'; the file has 'a', 'b'"
    ):
        assign_file(district, src=cols, dst=tmp_path / "o.csv")
    with pytest.raises(InputFileError, match="must differ"):
        assign_file(district, src=cols, dst=cols)
    assert not (tmp_path / "o.csv").exists(), "a refused run leaves no output"


def test_cli_assign(
    small_store_path: Path, sample: pd.DataFrame, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = _csv(tmp_path / "in.csv", sample[["id", "lon", "lat", "event"]])
    out = tmp_path / "out.csv"
    rc = cli.main(
        [
            "assign",
            "--store",
            str(small_store_path),
            "--in",
            str(src),
            "--out",
            str(out),
            "--event-col",
            "event",
            "--quiet",
        ]
    )
    assert rc == 0
    assert "50 placed, 0 rejected" in capsys.readouterr().out
    rc = cli.main(
        [
            "assign",
            "--store",
            str(small_store_path),
            "--in",
            str(tmp_path / "missing.csv"),
            "--out",
            str(out),
            "--quiet",
        ]
    )
    assert rc == 2
    assert "no input file" in capsys.readouterr().err


def test_geoparquet_points_fast_path_and_other_geometries(
    district: District, sample: pd.DataFrame, tmp_path: Path
) -> None:
    import shapely

    pts = gpd.GeoDataFrame(
        {"id": sample["id"]}, geometry=gpd.points_from_xy(sample["lon"], sample["lat"]), crs="EPSG:4326"
    )
    src = tmp_path / "pts.parquet"
    pts.to_parquet(src)
    out = tmp_path / "out.parquet"
    assign_file(district, src=src, dst=out)
    assert pd.read_parquet(out)["grid_l3"].tolist() == sample["grid"].tolist()

    # A polygon among the points: read through shapely, kept, and rejected with the reason.
    mixed = pts.copy()
    mixed.loc[0, "geometry"] = shapely.box(120.5, 31.2, 120.6, 31.3)
    mixed.to_parquet(src)
    assign_file(district, src=src, dst=out)
    res = pd.read_parquet(out)
    assert res["reject_reason"][0].startswith("no point geometry")
    assert res["grid_l3"][1:].tolist() == sample["grid"][1:].tolist()


# ------------------------------------------------------------------- hostile files (issue 9)
def _lines(path: Path, header: str, lines: list[str], encoding: str = "utf-8") -> Path:
    path.write_bytes((header + "\n" + "".join(line + "\n" for line in lines)).encode(encoding))
    return path


def test_unterminated_quote_is_one_reject_and_later_records_are_placed(
    small_store_path: Path, sample: pd.DataFrame, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pts = [f"{sample.lon[i]:.9f},{sample.lat[i]:.9f}" for i in range(4)]
    src = _lines(
        tmp_path / "q.csv", "id,lon,lat", [f"a,{pts[0]}", f'b,"{pts[1]}', f"c,{pts[2]}", f"d,{pts[3]}"]
    )
    out = tmp_path / "o.csv"
    rc = cli.main(
        ["assign", "--store", str(small_store_path), "--in", str(src), "--out", str(out), "--quiet"]
    )
    assert rc == 0
    assert "4 rows: 3 placed, 1 rejected" in capsys.readouterr().out
    res = pd.read_csv(out, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    assert res["row"].tolist() == ["1", "2", "3", "4"]
    assert res["id"].tolist() == ["a", "", "c", "d"]
    assert res["raw"][1] == f'b,"{pts[1]}'
    assert res["reject_reason"][1].startswith("unterminated quote")
    assert res["grid_l3"].tolist() == [sample.grid[0], "", sample.grid[2], sample.grid[3]]


def test_output_order_is_input_order_with_ragged_rows(
    district: District, sample: pd.DataFrame, tmp_path: Path
) -> None:
    n = 3000
    lines = []
    for i in range(n):
        j = i % len(sample)
        line = f"{i},{sample.lon[j]:.9f},{sample.lat[j]:.9f}"
        lines.append(line + ",extra" if i % 97 == 5 else line)
    src = _lines(tmp_path / "r.csv", "id,lon,lat", lines)
    out = tmp_path / "o.parquet"
    report = assign_file(district, src=src, dst=out, chunk_rows=250)
    res = pd.read_parquet(out)
    assert res["row"].tolist() == list(range(1, n + 1))
    bad = res["raw"] != ""
    assert bad.tolist() == [i % 97 == 5 for i in range(n)]
    assert res.loc[~bad, "id"].astype(int).tolist() == [i for i in range(n) if i % 97 != 5]
    assert report.rows == n and report.rejected == int(bad.sum())


@pytest.mark.parametrize("clash", ["row", "raw", "reject_reason", "grid_l3"])
def test_input_columns_named_like_ours_are_refused(
    district: District, sample: pd.DataFrame, tmp_path: Path, clash: str
) -> None:
    src = _csv(tmp_path / "c.csv", sample[["id", "lon", "lat"]].assign(**{clash: "mine"}))
    with pytest.raises(InputFileError, match=rf"already has column\(s\) \['{clash}'\].*rename them"):
        assign_file(district, src=src, dst=tmp_path / "o.csv")
    assert not (tmp_path / "o.csv").exists()


def test_fake_parquet_is_an_error_message(
    small_store_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = tmp_path / "fake.parquet"
    src.write_text("id,lon,lat\n1,120.6,31.2\n", encoding="utf-8")
    rc = cli.main(
        [
            "assign",
            "--store",
            str(small_store_path),
            "--in",
            str(src),
            "--out",
            str(tmp_path / "o.csv"),
            "--quiet",
        ]
    )
    err = capsys.readouterr().err
    assert rc == 2
    assert err.startswith("error: fake.parquet: not a readable Parquet file")
    assert "Traceback" not in err


def test_over_long_component_code_is_rejected_per_row(
    district: District, sample: pd.DataFrame, tmp_path: Path
) -> None:
    import tracemalloc

    frame = sample[["id", "lon", "lat", "event"]].head(3).copy()
    frame["component"] = ["", "9" * 100_000, "3205060101000001"]
    src = _csv(tmp_path / "long.csv", frame)
    out = tmp_path / "o.csv"
    tracemalloc.start()
    try:
        assign_file(district, src=src, dst=out, event_col="event", component_col="component")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    # The components table is read whole; what must not happen is an array as wide as the code.
    assert peak < 400 * 1024 * 1024, f"peak {peak / 1e6:.0f} MB"
    res = pd.read_csv(out, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    assert res["reject_reason"][1] == "component code too long: at most 64 characters, got 100000"
    assert res["reject_reason"][0] == "" and res["reject_reason"][2] == ""
    assert res["dept_code"][0] != "" and res["dept_code"][1] == ""


@pytest.mark.parametrize("suffix", [".csv", ".parquet", ".geojson"])
def test_header_only_input_gives_a_header_only_output(
    district: District, tmp_path: Path, suffix: str
) -> None:
    src = tmp_path / "h.csv"
    src.write_text("id,lon,lat\n", encoding="utf-8")
    out = tmp_path / f"o{suffix}"
    report = assign_file(district, src=src, dst=out)
    assert report.rows == 0
    if suffix == ".csv":
        header = out.read_text(encoding="utf-8-sig").strip().replace('"', "").split(",")
        assert header == ["row", "id", "lon", "lat", "grid_l3", "grid_l2", "grid_l1", "reject_reason", "raw"]
    elif suffix == ".parquet":
        assert list(pd.read_parquet(out).columns)[:4] == ["row", "id", "lon", "lat"]
    else:
        assert json.loads(out.read_text()) == {"type": "FeatureCollection", "features": []}


def test_gb18030_xlsx_and_json_lines_inputs(district: District, sample: pd.DataFrame, tmp_path: Path) -> None:
    frame = pd.DataFrame({"编号": sample["id"], "经度": sample["lon"], "纬度": sample["lat"], "备注": "井盖"})
    gbk = tmp_path / "g.csv"
    gbk.write_bytes(frame.to_csv(index=False, float_format="%.9f").encode("gb18030"))
    assign_file(district, src=gbk, dst=tmp_path / "g.parquet")
    res = pd.read_parquet(tmp_path / "g.parquet")
    assert res["grid_l3"].tolist() == sample["grid"].tolist() and (res["备注"] == "井盖").all()
    xlsx = tmp_path / "x.xlsx"
    frame.to_excel(xlsx, index=False)
    assign_file(district, src=xlsx, dst=tmp_path / "x.parquet")
    assert pd.read_parquet(tmp_path / "x.parquet")["grid_l3"].tolist() == sample["grid"].tolist()
    jl = tmp_path / "r.jsonl"
    lines = [
        json.dumps({"service_request_id": str(i), "lat": float(la), "long": float(lo)})
        for i, lo, la in zip(sample["id"], sample["lon"], sample["lat"], strict=True)
    ]
    jl.write_text("\n".join([*lines[:3], "{broken", *lines[3:]]) + "\n", encoding="utf-8")
    assign_file(district, src=jl, dst=tmp_path / "j.parquet")
    res = pd.read_parquet(tmp_path / "j.parquet")
    assert res["row"].tolist() == list(range(1, len(sample) + 2))
    assert res["reject_reason"][3].startswith("not valid JSON") and res["raw"][3] == "{broken"
    assert res["grid_l3"].drop(index=3).tolist() == sample["grid"].tolist()


def test_geojson_output_is_rfc7946(district: District, sample: pd.DataFrame, tmp_path: Path) -> None:
    src = _csv(tmp_path / "in.csv", sample[["id", "lon", "lat"]], extra_lines=["bad,1,2,3"])
    out = tmp_path / "o.geojson"
    assign_file(district, src=src, dst=out, chunk_rows=7)
    doc = json.loads(out.read_text(encoding="utf-8"))
    assert doc["type"] == "FeatureCollection" and len(doc["features"]) == len(sample) + 1
    first = doc["features"][0]
    assert first["geometry"]["type"] == "Point"
    assert first["geometry"]["coordinates"] == pytest.approx([sample.lon[0], sample.lat[0]], abs=1e-7)
    assert first["properties"]["grid_l3"] == sample.grid[0]
    assert doc["features"][-1]["geometry"] is None
    assert doc["features"][-1]["properties"]["raw"] == "bad,1,2,3"
