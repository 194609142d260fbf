"""Probes of grid files a planner hands in: a corrupt vertex out of the CRS's range.

``check-grids``, ``compare-grids`` and ``adopt-grids`` run as real child processes on the grids of
the small district with one vertex of one level-3 grid moved to 1e300; each must name that grid
and none may print a traceback or change the store.
"""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import shapely

from bench.probes._store import cli, probe_store


def _corrupt(tmp: Path, store: Path, *, fmt: str) -> tuple[Path, str]:
    """The store's grids as a file, with one level-3 grid given a vertex at 1e300; and its code."""
    exported = tmp / "grids.gpkg"
    r = cli("export", "--store", str(store), "--layer", "grids", "--format", "gpkg", "--out", str(exported),
            "--crs", "EPSG:4549")  # fmt: skip
    assert r.returncode == 0, r.stderr
    frame = gpd.read_file(exported)
    at = frame.index[frame["level"] == 3][100]
    code = str(frame.loc[at, "code"])
    if fmt == "gpkg":
        poly = shapely.get_parts(frame.loc[at, "geometry"])[0]
        ring = list(poly.exterior.coords)
        ring.insert(1, (1e300, ring[0][1]))
        frame.loc[at, "geometry"] = shapely.Polygon(ring)
        path = tmp / "candidate.gpkg"
        frame.to_file(path)
        return path, code
    doc = json.loads(frame.to_crs("EPSG:4326").to_json())
    geometry = doc["features"][int(at)]["geometry"]
    ring = geometry["coordinates"][0] if geometry["type"] == "Polygon" else geometry["coordinates"][0][0]
    ring.insert(1, [1e300, ring[0][1]])
    path = tmp / "candidate.geojson"
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path, code


def _check(tmp: Path, fmt: str) -> None:
    store = probe_store(tmp)
    path, code = _corrupt(tmp, store, fmt=fmt)
    before = store.stat().st_mtime_ns, store.stat().st_size
    wrong = []
    r = cli("check-grids", "--in", str(path))
    if r.returncode != 1 or code not in r.stdout or "Traceback" in r.stderr:
        wrong.append(
            f"check-grids: exit {r.returncode}, grid named: {code in r.stdout}, {r.stderr.strip()[-200:]}"
        )
    for argv in (
        ["compare-grids", "--store", str(store), "--in", str(path)],
        ["adopt-grids", "--store", str(store), "--in", str(path), "--valid-from", "2027-01-01"],
    ):
        r = cli(*argv)
        if r.returncode != 2 or code not in r.stderr or "Traceback" in r.stderr:
            wrong.append(f"{argv[0]}: exit {r.returncode}, {r.stderr.strip().splitlines()[-1:]}")
    assert not wrong, "; ".join(wrong)
    assert (store.stat().st_mtime_ns, store.stat().st_size) == before, "the store was changed"


def probe_vertex_at_1e300_in_a_geopackage(tmp: Path) -> None:
    _check(tmp, "gpkg")


def probe_vertex_at_1e300_in_lonlat_geojson(tmp: Path) -> None:
    _check(tmp, "geojson")
