"""Benchmark: the monthly assessment, the year of months, Gi* hot spots and the forecast backtest.

Targets (issue 11): a month's assessment of all towns and departments over the year-long store in
≤ 3 s (aim ≤ 0.5 s); the twelve months of the year ≤ 15 s; Gi* with 999 permutations for 887
grids and 12 months ≤ 10 s. The forecast backtest's errors are printed for the results file.

    python -m bench.bench_assess [--store PATH] [--month 2026-10] [--repeat 3] [--json]

The store is only read.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import settings
from bench.bench_generate import machine
from layers import assessment, hotspots
from layers import indicators as ind
from layers.forecast import backtest_and_forecast
from layers.store import open_store

ROOT = Path(__file__).resolve().parents[1]


def _best(fn, repeat: int) -> tuple[float, object]:  # type: ignore[no-untyped-def]
    times, out = [], None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return round(min(times), 3), out


def _months_before(month: str, n: int) -> list[str]:
    y, m = int(month[:4]), int(month[5:7])
    out = []
    for _ in range(n):
        out.append(f"{y:04d}-{m:02d}")
        y, m = (y - 1, 12) if m == 1 else (y, m - 1)
    return out[::-1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", default=None)
    parser.add_argument("--month", default="2026-10", help="the month assessed (the last of the twelve)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    path = settings.store_path(args.store)
    months = _months_before(args.month, 12)
    result: dict[str, object] = {"machine": machine(), "store": str(path), "month": args.month}
    schemes = assessment.load_schemes()
    with open_store(path, readonly=True) as store:
        period = ind.Period.of_months(args.month)

        def one_month() -> int:
            cases = ind.load_case_arrays(store, since=period.previous().start, until=period.end)
            a = assessment.assess(store, period, by="town", schemes=schemes, cases=cases, check=False)
            b = assessment.assess(store, period, by="department", schemes=schemes, cases=cases, check=False)
            return len(a.rows) + len(b.rows)

        result["month_towns_and_departments_s"], units = _best(one_month, args.repeat)
        result["month_units"] = units

        def one_month_compute_only() -> int:
            return len(ind.compute(cases, period, by="town")) + len(
                ind.compute(cases, period, by="department")
            )

        cases = ind.load_case_arrays(store)
        result["month_compute_only_s"], _ = _best(one_month_compute_only, args.repeat)

        def year() -> int:
            data = ind.load_case_arrays(store)
            n = 0
            for m in months:
                p = ind.Period.of_months(m)
                for by in ("town", "department"):
                    n += len(
                        assessment.assess(store, p, by=by, schemes=schemes, cases=data, check=False).rows
                    )
            return n

        result["twelve_months_s"], result["twelve_months_rows"] = _best(year, 1)

        nb = hotspots.grid_neighbours(store)
        counts = hotspots.monthly_counts(store, months, nb.codes)

        def gi() -> int:
            r = hotspots.hot_spots(store, months, permutations=999, neighbours=nb, counts=counts)
            return int((r.cells["spot"] == "hot").sum())

        result["gi_star_999_887x12_s"], result["gi_star_hot_cells"] = _best(gi, args.repeat)
        t = time.perf_counter()
        hotspots.hot_spots(store, months, permutations=999)
        result["gi_star_with_reads_and_weights_s"] = round(time.perf_counter() - t, 3)

        t = time.perf_counter()
        fc = backtest_and_forecast(store)
        result["forecast_backtest_s"] = round(time.perf_counter() - t, 3)
        s = fc.summary
        result["forecast_history"] = f"{fc.months[0]}..{fc.months[-1]}"
        result["forecast_baseline_kind"] = sorted(set(s["baseline"]))
        result["forecast_mean_mae_baseline"] = round(float(s["mae_baseline"].mean()), 1)
        result["forecast_mean_mae_ets"] = round(float(s["mae_ets"].mean()), 1)
        district = s[s["series"] == "district"].iloc[0]
        result["forecast_district_wape_baseline"] = round(float(district["wape_baseline"]), 4)
        result["forecast_district_wape_ets"] = round(float(district["wape_ets"]), 4)
        result["forecast_ets_wins"] = int((s["winner"] == "ets").sum())
        result["forecast_series"] = len(s)

    t = time.perf_counter()
    proc = subprocess.run(
        [
            sys.executable,
            str(ROOT / "cli.py"),
            "assess",
            "--store",
            str(path),
            "--month",
            args.month,
            "--json",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    result["cli_assess_json_s"] = round(time.perf_counter() - t, 3)
    result["cli_ok"] = proc.returncode == 0
    if args.json:
        print(json.dumps(result, ensure_ascii=False, indent=2, default=str))
    else:
        for k, v in result.items():
            print(f"{k:40s} {v}")
    ok = (
        float(result["month_towns_and_departments_s"]) <= 3.0  # type: ignore[arg-type]
        and float(result["twelve_months_s"]) <= 15.0  # type: ignore[arg-type]
        and float(result["gi_star_999_887x12_s"]) <= 10.0  # type: ignore[arg-type]
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
