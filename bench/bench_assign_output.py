"""Benchmark: ``assign`` of a large CSV written as CSV, GeoJSON and GeoParquet.

Target (issue 9, item 8): GeoJSON output of 2 million rows in at most twice the CSV time and at
most 1 GB peak memory (it took 44 s and 2.4 GB against CSV's 13 s and 710 MB when the features
were collected in memory and written at the end).

    python -m bench.bench_assign_output [--store PATH] [--rows 2000000] [--formats csv,geojson,parquet]

The input is made from the store's components (WGS84 lon/lat, an id and a Chinese note), repeated
to ``--rows``. Each output is written by a child process running the ``assign`` job exactly as the
CLI does (open the district, read, check, locate, write); its wall time and peak RSS are measured
there. Every output is then checked: one row or feature per input record, in order, all placed.

Recorded results: bench/RESULTS.md, "assign: reading and writing user files".
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import settings


def make_input(store: Path, dst: Path, *, rows: int) -> None:
    """``rows`` records of id, lon, lat, note from the store's components, written as CSV."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    from layers.store import open_store
    from spatial.crs import to_display

    s = open_store(store, readonly=True)
    try:
        comps = s.read_arrow("SELECT x, y FROM components ORDER BY code").to_pandas()
    finally:
        s.close()
    lon, lat = to_display(comps["x"].to_numpy(), comps["y"].to_numpy())
    j = np.arange(rows) % len(comps)
    table = pa.table(
        {
            "id": pa.array(np.arange(rows).astype(str)),
            "lon": pa.array(np.round(lon[j], 8)),
            "lat": pa.array(np.round(lat[j], 8)),
            "note": pa.array(np.where(j % 3 == 0, "井盖破损", "路灯不亮, 已报修").astype(object)),
        }
    )
    pacsv.write_csv(table, dst)


def child(store: Path, src: Path, out: Path) -> None:
    """The assign job as ``python cli.py assign`` runs it; prints seconds and peak RSS as JSON."""
    t = time.perf_counter()
    from layers.assign import assign_file
    from layers.district import open_district

    district = open_district(store, components=False)
    report = assign_file(district, src=src, dst=out)
    seconds = time.perf_counter() - t
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(json.dumps({"seconds": seconds, "peak": peak, "rows": report.rows, "placed": report.placed}))


def run_child(store: Path, src: Path, out: Path) -> dict[str, float]:
    wall = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "bench.bench_assign_output", "--child", str(store), str(src), str(out)],
        cwd=Path(__file__).resolve().parents[1],
        capture_output=True,
        text=True,
        check=True,
    )
    res = json.loads(proc.stdout.strip().splitlines()[-1])
    res["wall"] = time.perf_counter() - wall
    return res


def check_output(path: Path, rows: int) -> None:
    """One row (feature) per record, numbered 1..rows in order, every one placed."""
    if path.suffix == ".csv":
        res = pd.read_csv(path, usecols=["row", "grid_l3"], dtype={"row": np.int64, "grid_l3": str})
    elif path.suffix == ".parquet":
        res = pd.read_parquet(path, columns=["row", "grid_l3"])
    else:
        with path.open("rb") as fh:
            head = fh.read(64)
            assert head.startswith(b'{"type":"FeatureCollection","features":['), head
            fh.seek(-8, os.SEEK_END)
            assert fh.read().endswith(b"\n]}\n")
        numbers, grids = [], []
        with path.open("r", encoding="utf-8") as fh:
            next(fh)
            for line in fh:  # one feature per line; parsed one by one so the check stays small
                if line.startswith("]"):
                    break
                feat = json.loads(line.rstrip().rstrip(","))
                numbers.append(feat["properties"]["row"])
                grids.append(feat["properties"]["grid_l3"])
        res = pd.DataFrame({"row": numbers, "grid_l3": grids})
    assert len(res) == rows, (path.name, len(res), rows)
    assert np.array_equal(res["row"].to_numpy(), np.arange(1, rows + 1)), f"{path.name}: rows out of order"
    assert res["grid_l3"].notna().all(), f"{path.name}: unplaced rows"


def main(argv: list[str] | None = None) -> int:
    if argv is None:
        argv = sys.argv[1:]
    if argv and argv[0] == "--child":
        child(Path(argv[1]), Path(argv[2]), Path(argv[3]))
        return 0
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--store", type=Path, default=settings.store_path())
    ap.add_argument("--rows", type=int, default=2_000_000)
    ap.add_argument("--formats", default="csv,geojson,parquet")
    ap.add_argument("--no-check", action="store_true", help="skip reading the outputs back")
    args = ap.parse_args(argv)
    print(f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    with tempfile.TemporaryDirectory(prefix="bench-assign-") as tmp:
        src = Path(tmp) / "in.csv"
        t = time.perf_counter()
        make_input(args.store, src, rows=args.rows)
        print(
            f"input: {args.rows:,} rows, {src.stat().st_size / 2**20:.0f} MiB ({time.perf_counter() - t:.1f} s)"
        )
        results = {}
        for fmt in args.formats.split(","):
            out = Path(tmp) / f"out.{fmt}"
            res = run_child(args.store, src, out)
            res["size"] = out.stat().st_size
            results[fmt] = res
            print(
                f"{fmt:8s} {res['seconds']:6.1f} s in the job ({res['wall']:.1f} s wall), "
                f"peak RSS {res['peak'] / 2**20:5.0f} MiB, output {res['size'] / 2**20:.0f} MiB, "
                f"{int(res['placed']):,} of {int(res['rows']):,} placed"
            )
            if not args.no_check:
                check_output(out, args.rows)
            out.unlink()
        if "csv" in results and "geojson" in results:
            ratio = results["geojson"]["seconds"] / results["csv"]["seconds"]
            peak = results["geojson"]["peak"]
            ok = ratio <= 2.0 and peak <= 1e9
            print(
                f"GeoJSON / CSV time: {ratio:.2f}x (target <= 2x); GeoJSON peak {peak / 1e9:.2f} GB (<= 1 GB)"
            )
            return 0 if ok else 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
