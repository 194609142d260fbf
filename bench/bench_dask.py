"""Benchmark: ``assign`` of 20 million points in one process against ``assign --dask`` (2 workers).

    python -m bench.bench_dask [--store PATH] [--rows 20000000] [--workers 2] [--json]
    python cli.py bench dask [--store PATH]

The input is a plain Parquet file of ``id, lon, lat`` (WGS84): points uniform over the
district's bounding box (so most are placed and many fall outside the district, in the lake or
beyond the boundary), with a handful of bad rows (NaN, infinite, out of range, swapped). Each run
is a child process doing the job as ``python cli.py assign`` does (open the district, read,
check, locate, write Parquet), once alone and once with the chunks assigned on a
:class:`distributed.LocalCluster` of one-thread worker processes (the driver reads and writes).

Measured in each child: wall time of the job (opening the district and, for Dask, starting the
cluster included, and reported apart); peak RSS and CPU time (user + system) of the child from
``getrusage`` (RSS: the kernel's high-water mark), and of each Dask worker the same way, asked on
the worker at the end of the run (``client.run(resource.getrusage, ...)``). The CPU times show
what the cluster costs in work whatever else runs on the machine; the 1-minute load average
before and after each run shows how much else did. The outputs are then read back and compared column by
column: the same rows, in the same order, with the same grid codes and reject reasons.

Recorded results: bench/RESULTS.md, "assign on a Dask cluster".
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import settings

ROOT = Path(__file__).resolve().parents[1]
#: Rows generated and written per batch (and per row group of the input).
BATCH = 1_000_000


def make_input(store: str | Path, dst: Path, *, rows: int, seed: int = 0) -> dict[str, int]:
    """``rows`` points uniform over the district's bounding box as Parquet ``id, lon, lat``;
    a few rows are bad on purpose. Returns how many of each kind were written."""
    from layers.district import open_district
    from spatial.crs import to_display

    district = open_district(store, components=False)
    minx, miny, maxx, maxy = district.locator.bounds
    district.store.close()
    rng = np.random.default_rng(seed)
    bad = {"nan": 0, "inf": 0, "out_of_range": 0, "swapped": 0}
    with pq.ParquetWriter(
        dst, pa.schema([("id", pa.int64()), ("lon", pa.float64()), ("lat", pa.float64())])
    ) as w:
        for start in range(0, rows, BATCH):
            n = min(BATCH, rows - start)
            lon, lat = to_display(rng.uniform(minx, maxx, n), rng.uniform(miny, maxy, n))
            lon, lat = np.round(lon, 7), np.round(lat, 7)
            if n >= 8:  # a handful of bad rows in every batch
                lon[0] = np.nan
                lat[1] = np.inf
                lon[2], lat[3] = 999.0, -91.0
                lon[4], lat[4] = lat[4], lon[4]
                bad["nan"] += 1
                bad["inf"] += 1
                bad["out_of_range"] += 2
                bad["swapped"] += 1
            w.write_table(
                pa.table({"id": np.arange(start, start + n, dtype=np.int64), "lon": lon, "lat": lat})
            )
    return bad


def child(store: str, src: str, out: str, workers: int, chunk_rows: int) -> None:
    """One ``assign`` job as the CLI runs it, alone (``workers`` 0) or on a local cluster; prints
    its times and peak memory as JSON."""
    t = time.perf_counter()
    from layers.assign import assign_file
    from layers.district import open_district

    district = open_district(store, components=False)
    result: dict[str, Any] = {}
    if workers == 0:
        report = assign_file(district, src=src, dst=out, chunk_rows=chunk_rows)
    else:
        from layers.assign_dask import cluster_runner, dask_client, worker_pids

        t_cluster = time.perf_counter()
        with dask_client(None, n_workers=workers) as client:
            result["cluster_start_s"] = time.perf_counter() - t_cluster
            result["worker_pids"] = worker_pids(client)
            report = assign_file(
                district, src=src, dst=out, chunk_rows=chunk_rows, runner=cluster_runner(client)
            )
            usage = client.run(resource.getrusage, resource.RUSAGE_SELF)
            result["worker_peak_rss"] = {w: int(u.ru_maxrss) * 1024 for w, u in usage.items()}
            result["worker_cpu_s"] = {w: u.ru_utime + u.ru_stime for w, u in usage.items()}
    own = resource.getrusage(resource.RUSAGE_SELF)
    result |= {
        "seconds": time.perf_counter() - t,
        "peak_rss": own.ru_maxrss * 1024,
        "cpu_s": own.ru_utime + own.ru_stime,
        "rows": report.rows,
        "placed": report.placed,
        "rejected": report.rejected,
        "reasons": report.reasons,
    }
    print(json.dumps(result))


def run_child(store: str | Path, src: Path, out: Path, *, workers: int, chunk_rows: int) -> dict[str, Any]:
    load = os.getloadavg()[0]
    wall = time.perf_counter()
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.bench_dask",
            "--child",
            str(store),
            str(src),
            str(out),
            str(workers),
            str(chunk_rows),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"the assign child failed:\n{proc.stderr[-4000:]}")
    res: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    res["wall"] = time.perf_counter() - wall
    # Other work on the machine shows here (1-minute load average, before and after the run).
    res["load_average"] = (load, os.getloadavg()[0])
    return res


def compare_outputs(a: Path, b: Path) -> dict[str, Any]:
    """Both outputs column by column: the same names, rows and values, row for row."""
    fa, fb = pq.ParquetFile(a), pq.ParquetFile(b)
    names = fa.schema_arrow.names
    if names != fb.schema_arrow.names:
        raise AssertionError(f"columns differ: {names} vs {fb.schema_arrow.names}")
    rows = fa.metadata.num_rows
    if rows != fb.metadata.num_rows:
        raise AssertionError(f"rows differ: {rows:,} vs {fb.metadata.num_rows:,}")
    for name in names:  # one column at a time, so the check stays small
        ca = pq.read_table(a, columns=[name]).column(0)
        cb = pq.read_table(b, columns=[name]).column(0)
        if not ca.equals(cb):
            raise AssertionError(f"column {name} differs")
    grid = pq.read_table(a, columns=["grid_l3"]).column(0)
    return {"rows": rows, "columns": names, "placed": rows - grid.null_count}


def main(argv: list[str] | None = None) -> int:
    if argv is None:
        argv = sys.argv[1:]
    if argv and argv[0] == "--child":
        child(argv[1], argv[2], argv[3], int(argv[4]), int(argv[5]))
        return 0
    from bench.bench_generate import machine

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--store", default=str(settings.store_path()))
    ap.add_argument("--rows", type=int, default=20_000_000)
    ap.add_argument("--workers", type=int, default=2, help="workers of the local cluster")
    ap.add_argument("--chunk-rows", type=int, default=200_000)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    mib = 2**20
    result: dict[str, Any] = {"machine": machine(), "store": args.store, "rows": args.rows}
    with tempfile.TemporaryDirectory(prefix="bench-dask-") as tmp:
        src = Path(tmp) / "points.parquet"
        t = time.perf_counter()
        result["bad_rows"] = make_input(args.store, src, rows=args.rows)
        result["input_s"] = time.perf_counter() - t
        result["input_mib"] = src.stat().st_size / mib
        if not args.json:
            print(
                f"{result['machine']}; input {args.rows:,} points, {result['input_mib']:.0f} MiB "
                f"({result['input_s']:.1f} s)",
                flush=True,
            )
        outs = {}
        for name, workers in (("single", 0), ("dask", args.workers)):
            outs[name] = Path(tmp) / f"out-{name}.parquet"
            res = run_child(args.store, src, outs[name], workers=workers, chunk_rows=args.chunk_rows)
            result[name] = res
            if not args.json:
                line = (
                    f"{name:7s} {res['seconds']:6.1f} s ({res['rows'] / res['seconds'] / 1e6:.2f} M rows/s), "
                    f"peak RSS {res['peak_rss'] / mib:5.0f} MiB, CPU {res['cpu_s']:.0f} s"
                )
                if workers:
                    peaks = ", ".join(f"{v / mib:.0f}" for v in res["worker_peak_rss"].values())
                    cpus = ", ".join(f"{v:.0f}" for v in res["worker_cpu_s"].values())
                    line += (
                        f" (driver); workers {peaks} MiB, CPU {cpus} s; "
                        f"cluster start {res['cluster_start_s']:.1f} s"
                    )
                line += " (load average {:.1f} -> {:.1f})".format(*res["load_average"])
                print(line, flush=True)
        result["check"] = compare_outputs(outs["single"], outs["dask"])
        result["speedup"] = result["single"]["seconds"] / result["dask"]["seconds"]
    if args.json:
        print(json.dumps(result, indent=2, default=str))
    else:
        chk = result["check"]
        print(
            f"outputs identical: {chk['rows']:,} rows, {len(chk['columns'])} columns, "
            f"{chk['placed']:,} placed; speed-up {result['speedup']:.2f}x"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
