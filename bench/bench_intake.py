"""Benchmark: a day's intake and single transitions on the full district.

    python -m bench.bench_intake [--store PATH] [--reports 2500] [--json]

Targets (the case-desk issue): a day's 2,500 reports taken in, located, de-duplicated and routed,
end to end in one process on the full store, in ≤ 2 s (aim ≤ 0.5 s); a single transition ≤ 20 ms.

The store is copied first (the bench writes). Reports are drawn around the components (as
reports fall where the city is), with random event types, channels and times in the last day.
"Cold" opens the district (grids, locator, components) and takes the file in; "warm" takes a
second file in with the district already open, as the app server or a resident intake process does.
The peer is the same work done by ``geopandas.sjoin`` for the location step alone.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

import settings
from bench.bench_generate import machine

NOW = "2026-11-21T09:00:00"


def _reports(store_path: Path, n: int, *, seed: int, prefix: str) -> pd.DataFrame:
    import sqlite3

    from spatial.crs import to_display

    conn = sqlite3.connect(store_path)
    comps = pd.read_sql_query("SELECT x, y FROM components", conn)
    events = pd.read_sql_query("SELECT code FROM event_types", conn)["code"].to_numpy()
    channels = pd.read_sql_query("SELECT code FROM channels", conn)["code"].to_numpy()
    conn.close()
    rng = np.random.default_rng(seed)
    pick = rng.integers(0, len(comps), n)
    x = comps["x"].to_numpy()[pick] + rng.normal(0, 15, n)
    y = comps["y"].to_numpy()[pick] + rng.normal(0, 15, n)
    lon, lat = to_display(x, y)
    t = np.datetime64("2026-11-20T09:00:00") + rng.integers(0, 24 * 3600, n).astype("timedelta64[s]")
    return pd.DataFrame(
        {
            "external_id": [f"{prefix}{i:06d}" for i in range(n)],
            "channel": rng.choice(channels, n),
            "event": rng.choice(events, n),
            "description": [f"巡查发现问题，编号{i}" for i in range(n)],
            "lon": np.round(lon, 7),
            "lat": np.round(lat, 7),
            "time": np.datetime_as_string(t, unit="s"),
        }
    )


def run(store: Path, *, reports: int = 2500) -> dict[str, object]:
    os.environ["ONEGRID_NOW"] = NOW
    from layers import cases
    from layers.district import open_district
    from layers.intake import intake_file

    work = Path(tempfile.mkdtemp(prefix="onegrid-bench-intake-"))
    try:
        copy = work / "store.sqlite"
        shutil.copyfile(store, copy)
        files = []
        for k in range(2):
            f = work / f"day{k}.csv"
            _reports(copy, reports, seed=k, prefix=f"B{k}-").to_csv(f, index=False)
            files.append(f)
        t0 = time.perf_counter()
        district = open_district(copy, readonly=False)
        t_open = time.perf_counter() - t0
        t1 = time.perf_counter()
        first = intake_file(district, files[0], actor="bench")
        t_cold = time.perf_counter() - t1
        t2 = time.perf_counter()
        second = intake_file(district, files[1], actor="bench")
        t_warm = time.perf_counter() - t2

        # Single transitions: register then dispatch, each its own transaction.
        created = second.rows.loc[second.rows["outcome"] == "created", "case_id"].head(60).tolist()
        viewer = cases.Viewer(role="inspector", actor="bench")
        timings: dict[str, list[float]] = {"register": [], "dispatch": []}
        for cid in created:
            case = cases.get_case(district.store, cid)
            t = time.perf_counter()
            case = cases.act(district.store, cid, action="register", version=case["version"], viewer=viewer)
            timings["register"].append(time.perf_counter() - t)
            disp = cases.Viewer(role="dispatcher", actor="bench", centre=case["centre_code"])
            t = time.perf_counter()
            cases.act(district.store, cid, action="dispatch", version=case["version"], viewer=disp)
            timings["dispatch"].append(time.perf_counter() - t)

        # The peer for the location step: geopandas.sjoin on the same points.
        import geopandas as gpd

        pts = pd.read_csv(files[1])
        l3 = district.level(3)[["code", "geometry"]]
        gdf = gpd.GeoDataFrame(pts, geometry=gpd.points_from_xy(pts["lon"], pts["lat"]), crs="EPSG:4326")
        t = time.perf_counter()
        gpd.sjoin(gdf.to_crs(l3.crs), l3, how="left", predicate="within")
        t_sjoin = time.perf_counter() - t
        district.store.close()
        return {
            "machine": machine(),
            "reports": reports,
            "open_district_s": round(t_open, 3),
            "intake_cold_s": round(t_open + t_cold, 3),
            "intake_first_file_s": round(t_cold, 3),
            "intake_warm_s": round(t_warm, 3),
            "first": first.summary(),
            "second": second.summary(),
            "transition_median_ms": {k: round(statistics.median(v) * 1000, 2) for k, v in timings.items()},
            "transition_max_ms": {k: round(max(v) * 1000, 2) for k, v in timings.items()},
            "peer_sjoin_locate_only_s": round(t_sjoin, 3),
            "targets": {"intake_s": 2.0, "aim_intake_s": 0.5, "transition_ms": 20},
        }
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", default=str(settings.store_path()))
    parser.add_argument("--reports", type=int, default=2500)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    out = run(Path(args.store), reports=args.reports)
    if args.json:
        print(json.dumps(out, ensure_ascii=False, indent=2))
    else:
        for k, v in out.items():
            print(f"{k}: {v}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
