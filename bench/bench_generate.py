"""Benchmark: full-scale generation (time, peak memory) and opening the store.

Targets (issue: foundation): 365 days generated in ≤ 3 min with peak memory ≤ 4 GB; opening the
store with grids, components and the locator ready in ≤ 2 s.

    python -m bench.bench_generate [--store PATH] [--days 365] [--json]

Generation runs in a child process, so its peak resident memory (``ru_maxrss`` of the children)
is the generator's own. Opening is timed in a fresh child too (imports excluded and reported apart).
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

ROOT = Path(__file__).resolve().parents[1]

_OPEN_SCRIPT = """
import json, sys, time
t0 = time.perf_counter()
from layers.district import open_district
t1 = time.perf_counter()
d = open_district(sys.argv[1])
t2 = time.perf_counter()
print(json.dumps({"imports_s": t1 - t0, "open_s": t2 - t1, "parts_s": d.seconds,
                  "components": len(d.components), "grids": len(d.grids)}))
"""


def machine() -> str:
    return f"{platform.machine()}, {os.cpu_count()} cores, {platform.python_implementation()} {platform.python_version()}"


def bench_generate(store: Path, *, days: int, seed: int, end: str) -> dict[str, object]:
    t = time.perf_counter()
    proc = subprocess.run(
        [
            sys.executable,
            str(ROOT / "cli.py"),
            "generate",
            "--store",
            str(store),
            "--days",
            str(days),
            "--seed",
            str(seed),
            "--end",
            end,
            "--force",
            "--quiet",
            "--json",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    wall = time.perf_counter() - t
    if proc.returncode != 0:
        raise RuntimeError(f"generate failed: {proc.stderr.strip()}")
    peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    report = json.loads(proc.stdout)
    return {
        "wall_s": round(wall, 1),
        "peak_rss_gb": round(peak_kib / 1024**2, 2),
        "stages_s": report["seconds"],
        "counts": report["counts"],
        "store_mb": round(store.stat().st_size / 1024**2, 1),
    }


def bench_open(store: Path, *, repeat: int = 3) -> dict[str, object]:
    runs = []
    for _ in range(repeat):
        proc = subprocess.run(
            [sys.executable, "-c", _OPEN_SCRIPT, str(store)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        )
        runs.append(json.loads(proc.stdout.strip().splitlines()[-1]))
    best = min(runs, key=lambda r: r["open_s"])
    return {
        "open_s": round(best["open_s"], 3),
        "imports_s": round(best["imports_s"], 2),
        "parts_s": {k: round(v, 3) for k, v in best["parts_s"].items()},
        "components": best["components"],
        "grids": best["grids"],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", default=None, help="where to generate (default: a temporary file)")
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--seed", type=int, default=20260101)
    parser.add_argument("--end", default="2026-11-26")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        store = Path(args.store) if args.store else Path(tmp) / "bench.sqlite"
        gen = bench_generate(store, days=args.days, seed=args.seed, end=args.end)
        opened = bench_open(store)
    result = {
        "machine": machine(),
        "generate": gen,
        "open": opened,
        "targets": {"generate_s": 180, "peak_rss_gb": 4.0, "open_s": 2.0},
    }
    if args.json:
        print(json.dumps(result, ensure_ascii=False, indent=2))
    else:
        print(f"machine: {result['machine']}")
        print(
            f"generate {args.days} days: {gen['wall_s']} s (target ≤ 180), peak RSS {gen['peak_rss_gb']} GB "
            f"(target ≤ 4), store {gen['store_mb']} MB"
        )
        print(f"  stages: {gen['stages_s']}")
        print(
            f"open store, grids + components + locator: {opened['open_s']} s (target ≤ 2; "
            f"imports {opened['imports_s']} s apart) {opened['parts_s']}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
