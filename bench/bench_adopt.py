"""Benchmark: adopting a redrawn grid generation on a full district.

Target (issue #5): a candidate that reshapes ~20 level-3 grids is checked and adopted, with all
680,000 components re-located, in ≤ 10 s; no component lost or duplicated, history kept.

    python -m bench.bench_adopt [--store PATH] [--n 20] [--seed 1]
    python -m bench.bench_adopt --synthetic [--components 680000]
    python -m bench.bench_adopt --scheduled [--store PATH]

``--scheduled`` adopts the candidate for tomorrow (the generation is stored, nothing reassigned),
then pins the clock (``ONEGRID_NOW``) to that day and times the opening of the store that puts it
into effect; the same checks follow.

The store (``--store``, else the default store) is never written: it is copied to a temporary
file first. ``--synthetic`` builds a stand-in district instead: the generator's grids of the real district
(14/205/887), 680,000 components spread uniformly over its land, 20,000 open and 80,000 closed
cases.

After the adoption the bench verifies: the component count and codes are unchanged, every
component's grid equals the new locator's answer, one history row per reassigned component,
closed cases untouched, open cases all on the new generation or reassigned.

Recorded results: see ``RESULTS`` at the bottom.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import os
import platform
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import settings
from bench.workloads import reshape_candidate
from layers.grids import load_grids
from layers.planner import adopt_grids, compare_grids
from layers.store import open_store
from spatial.locate import GridLocator


def copy_store(src: Path, dst: Path) -> None:
    """A consistent copy through SQLite's backup API (the WAL is folded in)."""
    s = sqlite3.connect(f"file:{src}?mode=ro", uri=True)
    d = sqlite3.connect(dst)
    try:
        s.backup(d)
    finally:
        d.close()
        s.close()


def synthetic_store(path: Path, *, n_components: int, seed: int) -> None:
    """A stand-in district of full size, for when no generated store is at hand."""
    import shapely

    from layers.generate.grids import make_grids, read_towns
    from layers.generate.land import district_land
    from layers.grids import write_grids
    from layers.store import build_store

    land = district_land()
    grids = make_grids(
        land,
        towns=read_towns(settings.TOWNS_FILE),
        seed=settings.DEFAULT_SEED,
        district_code=settings.DISTRICT_CODE,
    )
    l3 = grids[grids["level"] == 3]
    locator = GridLocator(l3.geometry.to_numpy(), l3["code"].to_numpy())
    rng = np.random.default_rng(seed)
    xmin, ymin, xmax, ymax = land.bounds
    shapely.prepare(land)

    def points(n: int) -> np.ndarray:
        pts = np.empty((0, 2))
        while len(pts) < n:
            c = rng.uniform([xmin, ymin], [xmax, ymax], size=(2 * n, 2))
            pts = np.vstack([pts, c[shapely.contains_xy(land, c[:, 0], c[:, 1])]])
        return pts[:n]

    xy = points(n_components)
    comps = pd.DataFrame(
        {
            "code": [f"32050601{i:08d}" for i in range(n_components)],
            "class_code": "0101",
            "x": xy[:, 0],
            "y": xy[:, 1],
            "grid_code": locator.locate(xy[:, 0], xy[:, 1]),
            "supervisor_code": "D1",
            "owner_code": "D1",
            "maintainer_code": "D1",
            "state": "完好",
            "surveyed_on": "2024-01-01",
            "changed_on": "2024-01-01",
            "source": "实测",
            "version": 1,
        }
    )
    n_cases = 100_000
    cxy = points(n_cases)
    cgrid = locator.locate(cxy[:, 0], cxy[:, 1]).astype(str)
    status = np.where(np.arange(n_cases) < 20_000, "dispatched", "closed")
    cases = pd.DataFrame(
        {
            "id": [f"C{i:07d}" for i in range(n_cases)],
            "channel_code": "12345",
            "event_type_code": "E1",
            "description": "垃圾",
            "x": cxy[:, 0],
            "y": cxy[:, 1],
            "grid_code": cgrid,
            "grid_generation": 1,
            "town_code": pd.Series(cgrid).str.slice(0, 9) + "000000",
            "dept_code": "D1",
            "route_reason": "",
            "status": status,
            "urgency": "一般",
            "reported_at": "2026-11-01T09:00:00",
            "rework_count": 0,
            "version": 1,
        }
    )
    with build_store(path) as store:
        with store.transaction() as conn:
            conn.execute(
                "INSERT INTO generations(id, valid_from, valid_to, note, created_at)"
                " VALUES (1, '2024-01-01', NULL, 'synthetic', '2024-01-01T00:00:00')"
            )
            write_grids(conn, grids, generation=1)
            conn.execute(
                "INSERT INTO departments(code, name, short_name, kind)"
                " VALUES ('D1', '城管局', '城管', 'bureau')"
            )
            conn.execute("INSERT INTO component_classes VALUES ('0101', '01', '公用设施', '上水井盖', 'D1')")
            conn.execute("INSERT INTO channels VALUES ('12345', '12345热线', 'hotline', 1.0)")
            conn.execute(
                "INSERT INTO event_types VALUES ('E1', '01', '市容环境', '0101', '暴露垃圾',"
                " '暴露垃圾', 'D1', 'D1', 'D1', '条例', '派遣', 2, 'workdays',"
                " '清理干净', '一般', NULL)"
            )
        store.ingest("components", comps)
        store.ingest("cases", cases)


def _closed_fingerprint(conn: sqlite3.Connection) -> tuple[int, int]:
    # Cheap but sensitive: count and a sum of hashes of the fields an adoption could touch.
    row = conn.execute(
        "SELECT count(*), total(length(grid_code || town_code) * grid_generation * version)"
        " FROM cases WHERE status IN ('closed', 'evaluated', 'rejected')"
    ).fetchone()
    return int(row[0]), int(row[1])


def run(
    store_path: Path, *, n: int, seed: int, valid_from: dt.date | None, scheduled: bool = False
) -> dict[str, object]:
    out: dict[str, object] = {}
    with open_store(store_path) as store:
        grids = load_grids(store)
        t0 = time.perf_counter()
        candidate, pairs = reshape_candidate(grids, n=n, seed=seed)
        out["reshape_s"] = time.perf_counter() - t0
        out["pairs"] = len(pairs)
        conn = store.conn
        n_before = conn.execute("SELECT count(*) FROM components").fetchone()[0]
        hist_before = conn.execute("SELECT count(*) FROM component_history").fetchone()[0]
        case_hist_before = conn.execute("SELECT count(*) FROM case_history").fetchone()[0]
        closed_before = _closed_fingerprint(conn)
        gen_from = conn.execute("SELECT max(valid_from) FROM generations").fetchone()[0]
        start = valid_from or dt.date.fromisoformat(gen_from[:10]) + dt.timedelta(days=1)
        if scheduled:
            from layers.workcalendar import now_dt

            start = now_dt().date() + dt.timedelta(days=1)

        t0 = time.perf_counter()
        cmp = compare_grids(store, candidate)
        out["compare_s"] = time.perf_counter() - t0
        out["compare_parts_s"] = cmp.seconds

        t0 = time.perf_counter()
        res = adopt_grids(store, candidate, valid_from=start, actor="bench")
        out["adopt_s"] = time.perf_counter() - t0
        out["adopt_parts_s"] = res.seconds
        if scheduled:
            assert res.scheduled and res.components_reassigned == 0
            # The day comes: the first opening of the store puts the generation into effect.
            os.environ["ONEGRID_NOW"] = f"{start.isoformat()}T00:00:01"
            t0 = time.perf_counter()
            open_store(store_path, readonly=True).close()
            out["take_effect_s"] = time.perf_counter() - t0
            assert store.current_generation() == res.generation
            moved = conn.execute("SELECT count(*) FROM component_history").fetchone()[0] - hist_before
            cases_moved = conn.execute("SELECT count(*) FROM case_history").fetchone()[0] - case_hist_before
            res = dataclasses.replace(res, components_reassigned=moved, cases_reassigned=cases_moved)
        out["reshaped_grids"] = len(res.comparison.reshaped)
        out["components"] = res.comparison.components_total
        out["components_reassigned"] = res.components_reassigned
        out["open_cases"] = res.comparison.open_cases_total
        out["cases_reassigned"] = res.cases_reassigned

        # -- verification
        t0 = time.perf_counter()
        comps = store.read_arrow("SELECT code, x, y, grid_code FROM components").to_pandas()
        l3 = load_grids(store, level=3)
        loc = GridLocator(l3.geometry.to_numpy(), l3["code"].to_numpy())
        located = loc.locate(comps["x"].to_numpy(), comps["y"].to_numpy())
        stored = comps["grid_code"].astype(object).where(comps["grid_code"].notna(), None).to_numpy()
        checks = {
            "count_kept": len(comps) == n_before,
            "codes_unique": bool(comps["code"].is_unique),
            "grid_equals_locator": bool((located == stored).all()),
            "history_rows": conn.execute("SELECT count(*) FROM component_history").fetchone()[0] - hist_before
            == res.components_reassigned,
            "case_history_rows": conn.execute("SELECT count(*) FROM case_history").fetchone()[0]
            - case_hist_before
            == res.cases_reassigned,
            "closed_cases_untouched": _closed_fingerprint(conn) == closed_before,
            "matches_comparison": res.components_reassigned == len(cmp.component_moves),
        }
        out["verify_s"] = time.perf_counter() - t0
        out["checks"] = checks
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", default=None, help="the store to copy (default: the default store)")
    parser.add_argument("--synthetic", action="store_true", help="build a stand-in full district instead")
    parser.add_argument("--components", type=int, default=680_000)
    parser.add_argument("--n", type=int, default=20, help="pairs of level-3 grids to reshape")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--valid-from", type=dt.date.fromisoformat, default=None)
    parser.add_argument(
        "--scheduled", action="store_true", help="adopt for tomorrow, then time the opening that applies it"
    )
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="bench-adopt-") as tmp:
        work = Path(tmp) / "store.sqlite"
        t0 = time.perf_counter()
        if args.synthetic:
            synthetic_store(work, n_components=args.components, seed=args.seed)
            source = "synthetic district"
        else:
            src = settings.store_path(args.store)
            if not src.exists():
                print(f"no store at {src}: generate one, give --store, or use --synthetic", file=sys.stderr)
                return 2
            copy_store(src, work)
            source = str(src)
        prep = time.perf_counter() - t0
        print(
            f"store: {source} (prepared in {prep:.1f} s); {platform.machine()}, {os.cpu_count()} cores, "
            f"Python {platform.python_version()}"
        )
        r = run(work, n=args.n, seed=args.seed, valid_from=args.valid_from, scheduled=args.scheduled)
    parts = ", ".join(f"{k} {v:.2f}" for k, v in r["adopt_parts_s"].items())  # type: ignore[attr-defined]
    cparts = ", ".join(f"{k} {v:.2f}" for k, v in r["compare_parts_s"].items())  # type: ignore[attr-defined]
    print(
        f"candidate: {r['pairs']} pairs traded land, {r['reshaped_grids']} grids reshaped "
        f"(built in {r['reshape_s']:.1f} s)"
    )
    print(f"compare_grids: {r['compare_s']:.2f} s ({cparts})")
    print(f"adopt_grids:   {r['adopt_s']:.2f} s ({parts})")
    if "take_effect_s" in r:
        print(f"open_store on the day (puts it into effect): {r['take_effect_s']:.2f} s")
    print(
        f"  {r['components']:,} components located, {r['components_reassigned']:,} reassigned; "
        f"{r['open_cases']:,} open cases, {r['cases_reassigned']:,} reassigned"
    )
    checks = r["checks"]
    print("checks: " + ", ".join(f"{k} {'ok' if v else 'FAILED'}" for k, v in checks.items()))  # type: ignore[attr-defined]
    ok = all(checks.values()) and float(r["adopt_s"]) <= 10.0  # type: ignore[attr-defined, arg-type]
    print("target ≤ 10 s: " + ("met" if float(r["adopt_s"]) <= 10.0 else "MISSED"))  # type: ignore[arg-type]
    return 0 if ok else 1


RESULTS = """
2026-11, x86_64, 2 cores (shared with other work, so timings vary run to run), Python 3.11.7.
Store: `python cli.py generate --end 2026-11-20` (seed 20260101, 365 days; the land stored with the
grids): 887 level-3 grids, 680,000 components, 912,684 cases (3,144 open), 5.6 M case-history rows.

    python -m bench.bench_adopt --store STORE --seed 1|2|3

    seed  pairs  reshaped  compare_grids  adopt_grids  components moved  open cases moved
       1     20        40         1.65 s       1.54 s               555                 2
       2     20        40         1.12 s       1.89 s             1,104                 8
       3     20        40         1.38 s       1.70 s               794                 6

adopt_grids, seed 1: topology check against the stored land 0.31 s, locator + diff 0.39 s, grids
written 0.03 s, read and locate 680k components and the open cases 0.64 s, reassignment and
history 0.06 s. All checks ok (count kept, codes unique, every grid_code equals the new locator's
answer, one history row per reassigned component and case, closed cases untouched).
Target ≤ 10 s: met. On the same machine under load from other work: 3.1-4.4 s.

`--synthetic` (same grids, 680k uniform components, 20k open / 80k closed cases): adopt 1.84 s.
"""

if __name__ == "__main__":
    sys.exit(main())
