"""``bench``: the benchmarks on a real store, each against its obvious peer in the same run."""

from __future__ import annotations

import argparse
import json
import time

from commands._common import add_store, store_arg

NAME = "bench"
HELP = (
    "benchmarks: locate (vs geopandas.sjoin and STRtree), components (vs rtree), topology, "
    "generate, adopt, export (staff, vs masking one value at a time), app (in Chromium), assess, "
    "pg (SQLite vs PostgreSQL/PostGIS, both generated afresh), dask (assign of 20 M points alone vs on "
    "a 2-worker local cluster); all of them"
)

WHICH = ("locate", "components", "topology", "generate", "adopt", "export", "app", "assess", "pg", "dask")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_store(parser)
    parser.add_argument("which", choices=(*WHICH, "all"), help="which benchmark (all: each in turn)")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.add_argument("--repeat", type=int, default=3, help="runs per timing (the best is kept)")


def _print(result: dict[str, object], *, as_json: bool) -> None:
    if as_json:
        print(json.dumps(result, ensure_ascii=False, indent=2, default=str))
        return
    for k, v in result.items():
        print(f"{k:42s} {v:.4g}" if isinstance(v, float) else f"{k:42s} {v}")


def run(args: argparse.Namespace) -> int:
    if args.which == "all":
        # Each in turn, all of them even when one misses its target; the worst status is returned.
        codes = []
        for which in WHICH:
            print(f"== bench {which}", flush=True)
            codes.append(run(argparse.Namespace(**{**vars(args), "which": which})))
        return max(codes)
    from bench.bench_generate import machine

    store = store_arg(args)
    if args.which == "generate":
        from bench import bench_generate

        return bench_generate.main(["--json"] if args.json else [])
    if args.which == "pg":
        from bench import bench_pg

        return bench_pg.main(["--repeat", str(args.repeat), *(["--json"] if args.json else [])])
    if args.which == "dask":
        from bench import bench_dask

        return bench_dask.main(["--store", str(store), *(["--json"] if args.json else [])])
    if args.which == "adopt":
        from bench import bench_adopt

        return bench_adopt.main(["--store", str(store)])
    if args.which == "export":
        from bench import bench_export

        return bench_export.main(
            ["--store", str(store), "--repeat", str(args.repeat), *(["--json"] if args.json else [])]
        )
    if args.which == "app":
        from bench import bench_app

        return bench_app.main(["--store", str(store)])
    if args.which == "assess":
        from bench import bench_assess

        return bench_assess.main(
            ["--store", str(store), "--repeat", str(args.repeat), *(["--json"] if args.json else [])]
        )

    from layers.district import open_district

    district = open_district(store)
    comps = district.components
    x = comps["x"].to_numpy(dtype=float)
    y = comps["y"].to_numpy(dtype=float)
    result: dict[str, object] = {"machine": machine(), "store": str(store)}
    if args.which == "locate":
        from bench.bench_locate import run_locate_benchmark

        l3 = district.level(3)
        result |= run_locate_benchmark(
            l3.geometry.to_numpy(), l3["code"].to_numpy(), x, y, repeat=args.repeat
        )
        # The stored grid codes were written by the generator's own locate: they must agree too.
        stored = comps["grid_code"].to_numpy(dtype=object)
        result["disagreements_vs_stored_grid_code"] = int((district.locator.locate(x, y) != stored).sum())
        ok = result["disagreements_vs_oracle"] == 0 and result["disagreements_vs_stored_grid_code"] == 0
    elif args.which == "components":
        from bench.bench_component_index import run_component_index_benchmark

        result |= run_component_index_benchmark(
            comps["code"].to_numpy(), comps["class_code"].to_numpy(), x, y
        )
        ok = True
    else:
        from layers.grids import load_land
        from spatial.topology import check_grids

        grids = district.grids
        land = load_land(district.store)
        times = []
        report = None
        for _ in range(args.repeat):
            t = time.perf_counter()
            report = check_grids(grids.geometry.to_numpy(), grids["code"].to_numpy(), land=land)
            times.append(time.perf_counter() - t)
        assert report is not None
        result |= {"grids": len(grids), "check_s": min(times), "problems": report.counts(), "ok": report.ok}
        ok = True
    _print(result, as_json=args.json)
    return 0 if ok else 1
