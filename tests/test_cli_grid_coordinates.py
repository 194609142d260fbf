"""Grid files with a corrupt vertex (1e300, out of the CRS's range): a problem named by grid code.

``check-grids`` lists it among the problems (exit 1); ``compare-grids`` and ``adopt-grids`` refuse
the candidate with the code (exit 2) and leave the store as it was; the locator refuses it by name.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest
import shapely

from cli import main
from layers.planner import CandidateError, normalise_candidate
from spatial.errors import GeometryError
from spatial.locate import GridLocator
from spatial.topology import check_grids
from tests.layers.test_planner import G4, MOVED, grid_frame, make_store, snapshot


def _spiked(poly: shapely.Polygon, x: float) -> shapely.Polygon:
    """``poly`` with one more vertex at easting ``x`` on its first edge: still a valid polygon."""
    ring = list(poly.exterior.coords)
    ring.insert(1, (x, ring[0][1] + 100.0))
    return shapely.Polygon(ring)


def _candidate(tmp_path: Path, suffix: str) -> Path:
    frame = grid_frame(MOVED)
    at = frame.index[frame["code"] == G4][0]
    if suffix == ".gpkg":
        frame.loc[at, "geometry"] = _spiked(frame.loc[at, "geometry"], 1e300)
        path = tmp_path / "candidate.gpkg"
        frame.to_file(path)
        return path
    doc = json.loads(frame.to_crs("EPSG:4326").to_json())
    feature = next(f for f in doc["features"] if f["properties"]["code"] == G4)
    ring = feature["geometry"]["coordinates"][0]
    ring.insert(1, [1e300, ring[0][1]])
    path = tmp_path / "candidate.geojson"
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path


@pytest.mark.parametrize("suffix", [".gpkg", ".geojson"])
def test_check_grids_lists_the_grid(tmp_path: Path, suffix: str, capsys: pytest.CaptureFixture[str]) -> None:
    cand = _candidate(tmp_path, suffix)
    assert main(["check-grids", "--in", str(cand)]) == 1
    out = capsys.readouterr().out
    assert "bad_coordinates" in out
    assert f"grid {G4}: 1 vertex outside the range of EPSG:4549" in out


@pytest.mark.parametrize("suffix", [".gpkg", ".geojson"])
def test_compare_and_adopt_refuse_by_grid_code(
    tmp_path: Path, suffix: str, capsys: pytest.CaptureFixture[str]
) -> None:
    store = make_store(tmp_path / "tiny.sqlite")
    cand = _candidate(tmp_path, suffix)
    before = snapshot(store)
    for argv in (
        ["compare-grids", "--store", str(store), "--in", str(cand)],
        ["adopt-grids", "--store", str(store), "--in", str(cand), "--valid-from", "2026-12-01"],
    ):
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert err.startswith("error: 1 candidate grid(s) have coordinates out of range")
        assert f"grid {G4}" in err
    assert snapshot(store) == before


def test_the_planner_refuses_a_frame_with_a_corrupt_vertex() -> None:
    frame = grid_frame(MOVED)
    at = frame.index[frame["code"] == G4][0]
    frame.loc[at, "geometry"] = _spiked(frame.loc[at, "geometry"], 1e300)
    with pytest.raises(CandidateError, match=rf"grid {G4}: 1 vertex outside the range of EPSG:4549"):
        normalise_candidate(frame)


def test_check_grids_reports_nan_and_far_vertices_and_checks_the_rest() -> None:
    frame = grid_frame(MOVED)
    geoms = frame.geometry.to_numpy().copy()
    codes = frame["code"].to_numpy(dtype=object)
    i4 = int(np.flatnonzero(codes == G4)[0])
    geoms[i4] = _spiked(geoms[i4], 1e300)
    report = check_grids(geoms, codes)
    (bad,) = report.of_kind("bad_coordinates")
    assert bad.codes == (G4,) and bad.measure == 1.0
    assert report.ok is False
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # shapely warns on building it, as it should
        nan = shapely.Polygon([(550_000, 3_450_000), (550_100, 3_450_000), (np.nan, 3_450_100)])
    report = check_grids([nan], ["A"], hierarchical=False)
    assert [p.kind for p in report.problems] == ["bad_coordinates"]


def test_locator_names_the_grid_it_cannot_use() -> None:
    good = shapely.box(0, 0, 10, 10)
    with pytest.raises(GeometryError, match=r"grid 'far' has coordinates beyond"):
        GridLocator(np.array([good, _spiked(shapely.box(10, 0, 20, 10), 1e300)]), np.array(["near", "far"]))
