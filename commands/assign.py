"""``assign``: put every row of a point file in its grids and route it to the responsible body."""

from __future__ import annotations

import argparse
import json
import time

from commands._common import add_store, store_arg

NAME = "assign"
HELP = (
    "assign points of a CSV/XLSX/GeoJSON/JSON/Parquet file to their grids (and route them); "
    "rejects kept with reasons"
)

CRS_CHOICES = ("EPSG:4326", "EPSG:4490", "EPSG:4549", "GCJ02", "BD09")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_store(parser)
    parser.add_argument(
        "--in",
        dest="src",
        required=True,
        metavar="FILE",
        help=".csv (UTF-8 or GB18030), .xlsx, .geojson, .json (array of objects), .jsonl or .parquet",
    )
    parser.add_argument("--out", dest="dst", required=True, metavar="FILE", help=".csv, .geojson or .parquet")
    parser.add_argument(
        "--x-col", default=None, help="column of x / longitude (default: found by name: x, lon, long, 经度…)"
    )
    parser.add_argument(
        "--y-col", default=None, help="column of y / latitude (default: found by name: y, lat, 纬度…)"
    )
    parser.add_argument(
        "--crs",
        default="EPSG:4326",
        type=str.upper,
        choices=CRS_CHOICES,
        help="CRS of the input coordinates (GCJ02 and BD09 are converted first)",
    )
    parser.add_argument("--event-col", default=None, help="column of event type codes: route each row")
    parser.add_argument("--component-col", default=None, help="column of component codes named by the report")
    parser.add_argument(
        "--radius",
        type=float,
        default=30.0,
        help="metres within which the nearest component of the event's class is taken",
    )
    parser.add_argument(
        "--dask",
        nargs="?",
        const="local",
        default=None,
        metavar="SCHEDULER",
        help=(
            "assign the chunks on a Dask cluster: alone, a local one (2 worker processes); "
            "with an address like tcp://HOST:8786, the running scheduler there (every machine of it needs "
            "the project and its requirements; the files are read and written here)"
        ),
    )
    parser.add_argument("--chunk-rows", type=int, default=200_000, help=argparse.SUPPRESS)
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    from contextlib import ExitStack

    from tqdm import tqdm

    from layers.assign import ChunkRunner, assign_file, run_here
    from layers.district import open_district

    t = time.perf_counter()
    # Routing reads the components it needs itself; locating needs only the grids.
    district = open_district(store_arg(args), components=False)
    bar = None if args.quiet else tqdm(desc="assigning", unit=" rows", unit_scale=True)

    def progress(done: int, total: int | None) -> None:
        if bar is not None:
            bar.total = total
            bar.n = done
            bar.refresh()

    try:
        with ExitStack() as stack:
            runner: ChunkRunner = run_here
            if args.dask is not None:
                # The same chunks through the same function, on the cluster's workers.
                from layers.assign_dask import cluster_runner, dask_client

                address = None if args.dask == "local" else args.dask
                runner = cluster_runner(stack.enter_context(dask_client(address)))
            report = assign_file(
                district,
                src=args.src,
                dst=args.dst,
                crs=args.crs,
                x_col=args.x_col,
                y_col=args.y_col,
                event_col=args.event_col,
                component_col=args.component_col,
                radius=args.radius,
                chunk_rows=args.chunk_rows,
                progress=progress,
                runner=runner,
            )
    finally:
        if bar is not None:
            bar.close()
    out = {
        "rows": report.rows,
        "placed": report.placed,
        "rejected": report.rejected,
        "reject_reasons": report.reasons,
        "routed_by": report.routed,
        "seconds": round(time.perf_counter() - t, 2),
        "out": args.dst,
        "dask": args.dask,
    }
    if args.json:
        print(json.dumps(out, ensure_ascii=False, indent=2))
    else:
        print(
            f"{report.rows:,} rows: {report.placed:,} placed, {report.rejected:,} rejected "
            f"(kept in {args.dst} with reject_reason)"
        )
        for k, v in sorted(report.reasons.items(), key=lambda kv: -kv[1]):
            print(f"  {v:>8,}  {k}")
        if report.routed:
            print("routed by: " + ", ".join(f"{k} {v:,}" for k, v in report.routed.items()))
    return 0
