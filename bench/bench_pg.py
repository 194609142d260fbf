"""Benchmark: the embedded SQLite store against the PostgreSQL/PostGIS server store, in one run.

    python -m bench.bench_pg [--seconds 20] [--workers 8] [--points 100000] [--repeat 3] [--json]
    python cli.py bench pg

Both stores are generated here from the same seed, as the full default district (365 days to
2026-11-20): a SQLite file in a temporary folder and a database on a throwaway PostgreSQL cluster
(``tests/pgcluster.py``, durable: ``fsync`` and synchronous commit on, as a real server runs). On
each store, in turn:

1. generation, in a child process (``cli.py generate``): wall time and that child's peak RSS;
2. opening the district (store, grids, locator, 680,000 components) in a fresh process, then once
   more in the same process;
3. a day's intake: two files of 2,500 reports, drawn as ``bench_intake`` draws them, taken in by
   ``layers.intake.intake_file`` on a writable copy (a file copy; ``CREATE DATABASE … TEMPLATE``).
   The first file of the run pays the process's first-call costs, so the second is the comparison;
4. a month's assessment of towns and departments (what ``bench_assess`` times), best of ``--repeat``;
5. the explorer's viewport: the components in a 2 km × 1.5 km box around the densest part of the
   district and in the whole district's box. SQLite through the app's in-process component index
   (``layers.live_index.LiveComponentIndex``, what ``pages/_caches.py`` shares between sessions);
   PostGIS by a query on the GiST-indexed ``components.pt`` (and ``cases.pt``) through
   ``Store.read_arrow``. The peer on SQLite without an index: the same box as ``x``/``y`` ranges;
6. ``--workers`` processes taking open cases through the desk's actions (``layers.cases.act``) for
   ``--seconds``, half of their picks among 16 cases all of them fight over: transitions per
   second, stale refusals, and a check that no update was lost (:func:`check_versions`);
7. point → level-3 grid for ``--points`` random points on the land: the in-process ``GridLocator``
   against PostGIS (the points loaded into a temporary table and joined to ``grids.shape``).

Nothing outside the temporary folder and the throwaway cluster is written.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import multiprocessing as mp
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.bench_generate import machine

ROOT = Path(__file__).resolve().parents[1]
END = "2026-11-20"
SEED = 20260101
DAYS = 365
#: The desk's clock for intake and transitions: the morning after the generated days.
NOW = "2026-11-21T09:00:00"
MONTH = "2026-10"
VIEW_W, VIEW_H = 2000.0, 1500.0
#: Cases every transition worker fights over, and the share of picks among them.
HOT_CASES, HOT_SHARE = 16, 0.5
POOL_CASES = 400

_OPEN_SCRIPT = """
import json, sys, time
t0 = time.perf_counter()
from layers.district import open_district
t1 = time.perf_counter()
d = open_district(sys.argv[1])
t2 = time.perf_counter()
d2 = open_district(sys.argv[1])
t3 = time.perf_counter()
print(json.dumps({"imports_s": t1 - t0, "open_s": t2 - t1, "parts_s": d.seconds, "again_s": t3 - t2,
                  "components": len(d.components), "grids": len(d.grids)}))
"""


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 2)


def _timed(fn: Callable[[], Any], n: int) -> tuple[float, Any]:
    """Median seconds of ``n`` calls, and the last call's answer."""
    times, out = [], None
    for _ in range(n):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), out


def _best(fn: Callable[[], Any], n: int) -> tuple[float, Any]:
    times, out = [], None
    for _ in range(n):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return min(times), out


# -- 1. generation ---------------------------------------------------------------------------------


def bench_generate(target: str, *, work: Path, days: int = DAYS) -> dict[str, object]:
    """``cli.py generate`` into ``target`` in a child process: wall time, stages, peak RSS."""
    tag = "pg" if target.startswith("postgresql://") else "sqlite"
    out, err = work / f"generate-{tag}.out", work / f"generate-{tag}.err"
    cmd = [sys.executable, str(ROOT / "cli.py"), "generate", "--store", target, "--days", str(days),
           "--seed", str(SEED), "--end", END, "--quiet", "--json"]  # fmt: skip
    t = time.perf_counter()
    with out.open("w") as fo, err.open("w") as fe:
        proc = subprocess.Popen(cmd, cwd=ROOT, stdout=fo, stderr=fe)
        _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise RuntimeError(f"generate into {tag} failed: {err.read_text().strip()[-2000:]}")
    report = json.loads(out.read_text())
    return {
        "wall_s": round(wall, 1),
        "peak_rss_gb": round(usage.ru_maxrss / 1024**2, 2),
        "stages_s": report["seconds"],
        "counts": report["counts"],
    }


def store_size_mb(target: str) -> float:
    if not target.startswith("postgresql://"):
        return round(Path(target).stat().st_size / 1024**2, 1)
    import psycopg

    with psycopg.connect(target) as conn:
        row = conn.execute("SELECT pg_database_size(current_database())").fetchone()
    return round(int(row[0]) / 1024**2, 1) if row else float("nan")


# -- 2. opening the district ---------------------------------------------------------------------


def bench_open(target: str) -> dict[str, object]:
    """``open_district`` in a fresh process (imports apart), then again in the same process."""
    proc = subprocess.run(
        [sys.executable, "-c", _OPEN_SCRIPT, target], cwd=ROOT, capture_output=True, text=True, check=False
    )
    if proc.returncode != 0:
        raise RuntimeError(f"open_district failed: {proc.stderr.strip()[-2000:]}")
    r = json.loads(proc.stdout.strip().splitlines()[-1])
    return {
        "cold_s": round(r["open_s"], 3),
        "again_s": round(r["again_s"], 3),
        "imports_s": round(r["imports_s"], 2),
        "parts_s": {k: round(v, 3) for k, v in r["parts_s"].items()},
        "components": r["components"],
        "grids": r["grids"],
    }


# -- 3. intake -------------------------------------------------------------------------------------


def bench_intake(target: str, files: list[Path]) -> dict[str, object]:
    """Open the writable district on ``target`` and take in each file; seconds and summaries."""
    from layers.district import open_district
    from layers.intake import intake_file

    t = time.perf_counter()
    district = open_district(target, readonly=False)
    out: dict[str, object] = {"open_writable_s": round(time.perf_counter() - t, 3)}
    try:
        for k, f in enumerate(files):
            t = time.perf_counter()
            result = intake_file(district, f, actor="bench")
            out[f"file{k}_s"] = round(time.perf_counter() - t, 3)
            summary = result.summary()
            out[f"file{k}"] = {key: summary[key] for key in ("rows", "created", "duplicates", "rejected")}
    finally:
        district.store.close()
    return out


# -- 4. assessment ---------------------------------------------------------------------------------


def bench_assess(target: str, *, repeat: int) -> dict[str, object]:
    """A month's assessment of all towns and departments (with last month's), as bench_assess."""
    from layers import assessment
    from layers import indicators as ind
    from layers.store import open_store

    schemes = assessment.load_schemes()
    period = ind.Period.of_months(MONTH)
    with open_store(target, readonly=True) as store:
        read: list[float] = []

        def one_month() -> Any:
            t = time.perf_counter()
            cases = ind.load_case_arrays(store, since=period.previous().start, until=period.end)
            read.append(time.perf_counter() - t)
            a = assessment.assess(store, period, by="town", schemes=schemes, cases=cases, check=False)
            b = assessment.assess(store, period, by="department", schemes=schemes, cases=cases, check=False)
            return a.rows[["code", "score"]], b.rows[["code", "score"]]

        best, (towns, depts) = _best(one_month, repeat)
    scores = {**dict(zip(towns["code"], towns["score"], strict=True)),
              **dict(zip(depts["code"], depts["score"], strict=True))}  # fmt: skip
    return {"month_s": round(best, 3), "read_s": round(min(read), 3), "units": len(scores), "scores": scores}


# -- 5. the explorer's viewport --------------------------------------------------------------------


def densest_box(x: np.ndarray, y: np.ndarray, *, cell: float = 500.0) -> tuple[float, float, float, float]:
    """A VIEW_W × VIEW_H box centred on the 500 m cell holding the most components."""
    xe = np.arange(x.min(), x.max() + cell, cell)
    ye = np.arange(y.min(), y.max() + cell, cell)
    counts, _, _ = np.histogram2d(x, y, bins=[xe, ye])
    i, j = np.unravel_index(int(counts.argmax()), counts.shape)
    cx, cy = (xe[i] + xe[i + 1]) / 2, (ye[j] + ye[j + 1]) / 2
    return (cx - VIEW_W / 2, cy - VIEW_H / 2, cx + VIEW_W / 2, cy + VIEW_H / 2)


def _srid() -> int:
    from spatial.crs import WORK_CRS

    return int(WORK_CRS.split(":")[1])


def bench_viewport(sqlite_path: str, url: str, *, runs: int = 20) -> dict[str, object]:
    """Components (and cases) in two boxes: the in-process index on SQLite, PostGIS on the server."""
    from layers.live_index import LiveComponentIndex
    from layers.store import open_store

    srid = _srid()
    out: dict[str, object] = {}
    lite = open_store(sqlite_path, readonly=True)
    pg = open_store(url, readonly=True)
    try:
        t = time.perf_counter()
        index = LiveComponentIndex(lite)
        out["index_build_sqlite_s"] = round(time.perf_counter() - t, 3)
        t = time.perf_counter()
        LiveComponentIndex(pg)
        out["index_build_pg_s"] = round(time.perf_counter() - t, 3)
        xy = lite.read_arrow("SELECT x, y FROM components")
        whole = lite.conn.execute(
            "SELECT min(minx), min(miny), max(maxx), max(maxy) FROM grids WHERE generation = ?",
            (lite.current_generation(),),
        ).fetchone()
        boxes = {
            "view": densest_box(xy.column("x").to_numpy(), xy.column("y").to_numpy()),
            "district": tuple(float(v) for v in whole),
        }
        bbox = f"ST_MakeEnvelope(?, ?, ?, ?, {srid})"
        for name, box in boxes.items():
            # The whole district returns every row: fewer runs, as each takes a large part of a second.
            n, n_cases = (runs, 5) if name == "view" else (3, 1)
            row: dict[str, object] = {"box": [round(v, 1) for v in box]}
            index.in_bbox(*box)  # one call before timing: the first pays for lazy set-up
            t_idx, found = _timed(partial(index.in_bbox, *box), n)
            row["index_ms"], row["index_n"] = _ms(t_idx), len(found)
            ranges = "x BETWEEN ?1 AND ?3 AND y BETWEEN ?2 AND ?4"
            t_scan, scan = _timed(
                partial(lite.read_arrow, f"SELECT code, x, y FROM components WHERE {ranges}", box), 3
            )
            row["sqlite_scan_ms"], row["sqlite_scan_n"] = _ms(t_scan), scan.num_rows
            for key, sql in (
                ("pg_bbox", f"SELECT code, x, y FROM components WHERE pt && {bbox}"),
                ("pg_exact", f"SELECT code, x, y FROM components WHERE ST_Covers({bbox}, pt)"),
            ):
                pg.read_arrow(sql, box)
                t_pg, got = _timed(partial(pg.read_arrow, sql, box), n)
                row[f"{key}_ms"], row[f"{key}_n"] = _ms(t_pg), got.num_rows
                if key == "pg_bbox":
                    gx, gy = got.column("x").to_numpy(), got.column("y").to_numpy()
                    outside = np.maximum.reduce(
                        [box[0] - gx, gx - box[2], box[1] - gy, gy - box[3], np.zeros_like(gx)]
                    )
                    row["pg_bbox_outside_n"] = int((outside > 0).sum())
                    row["pg_bbox_outside_max_m"] = round(float(outside.max(initial=0.0)), 3)
                else:
                    codes = set(got.column("code").to_pylist())
                    row["same_codes_index_vs_pg_exact"] = codes == set(found.codes.tolist())
                    row["same_codes_scan_vs_pg_exact"] = codes == set(scan.column("code").to_pylist())
            # Cases: no index on SQLite (ranges over x, y), the GiST index of cases.pt on PostGIS.
            t_cs, cs = _timed(
                partial(lite.read_arrow, f"SELECT id, x, y FROM cases WHERE {ranges}", box), n_cases
            )
            row["cases_sqlite_scan_ms"], row["cases_n"] = _ms(t_cs), cs.num_rows
            for key, sql in (
                ("cases_pg_bbox", f"SELECT id, x, y FROM cases WHERE pt && {bbox}"),
                ("cases_pg_exact", f"SELECT id, x, y FROM cases WHERE ST_Covers({bbox}, pt)"),
            ):
                t_pg, got = _timed(partial(pg.read_arrow, sql, box), n_cases)
                row[f"{key}_ms"], row[f"{key}_n"] = _ms(t_pg), got.num_rows
                if key == "cases_pg_exact":
                    row["same_cases_scan_vs_pg_exact"] = set(got.column("id").to_pylist()) == set(
                        cs.column("id").to_pylist()
                    )
            out[name] = row
    finally:
        lite.close()
        pg.close()
    return out


# -- 6. concurrent transitions --------------------------------------------------------------------


def _next_step(
    row: tuple[Any, ...], *, hot: bool, rng: np.random.Generator, actor: str
) -> tuple[str, Any, dict[str, Any]] | None:
    """The desk action to take on a case as read (status, version, centre, body), with its viewer.

    The loop is kept going: a handled case is mostly sent back to rework and a dispatched one
    sometimes sent back to another body (the third send-back goes to the supervisor, who decides);
    only cases outside the hot set are sometimes closed and evaluated, leaving the pool.
    """
    from layers.cases import Viewer

    status, _, centre, body = row
    if status == "reported":
        return "register", Viewer(role="inspector", actor=actor), {}
    if status == "registered":
        return "dispatch", Viewer(role="dispatcher", actor=actor, centre=centre), {}
    if status == "dispatched":
        viewer = Viewer(role="department", actor=actor, dept_code=body)
        if rng.random() < 0.1:
            return "send_back", viewer, {"note": "非本单位职责"}
        return "handle", viewer, {"note": "已处置"}
    if status == "handled":
        if not hot and rng.random() < 0.1:
            return "close", Viewer(role="inspector", actor=actor), {}
        return "rework", Viewer(role="inspector", actor=actor), {}
    if status == "supervisor":
        return "decide", Viewer(role="supervisor", actor=actor), {"to_dept": body}
    if status == "closed":
        return "evaluate", Viewer(role="operator", actor=actor), {"callback": "satisfied"}
    return None


def _transition_worker(
    target: str, pool: list[str], hot: list[str], seed: int, seconds: float, ready: Any, go: Any, results: Any
) -> None:
    """One desk process: take cases through their next action until the time is up; report counts."""
    os.environ["ONEGRID_NOW"] = NOW
    from layers import cases
    from layers.errors import StaleEditError, StoreBusyError
    from layers.store import open_store
    from spatial.errors import OneGridError

    actor = f"bench-{seed}"
    counts: Counter[str] = Counter()
    errors: list[str] = []
    latencies: list[float] = []
    rng = np.random.default_rng(seed)
    store = open_store(target, readonly=False)
    try:
        ready.put(os.getpid())
        go.wait()
        start = time.perf_counter()
        end = start + seconds
        while time.perf_counter() < end:
            is_hot = rng.random() < HOT_SHARE
            case_id = hot[rng.integers(len(hot))] if is_hot else pool[rng.integers(len(pool))]
            row = store.conn.execute(
                "SELECT status, version, centre_code, dept_code FROM cases WHERE id = ?", (case_id,)
            ).fetchone()
            step = _next_step(tuple(row), hot=is_hot, rng=rng, actor=actor)
            if step is None:
                counts["finished"] += 1
                continue
            action, viewer, extra = step
            t = time.perf_counter()
            try:
                cases.act(store, case_id, action=action, version=int(row[1]), viewer=viewer, **extra)
            except StaleEditError:
                counts["stale"] += 1
            except StoreBusyError:
                counts["busy"] += 1
            except OneGridError as exc:
                counts["refused"] += 1
                if len(errors) < 5:
                    errors.append(f"{type(exc).__name__}: {exc}")
            except Exception as exc:  # a store error no layer maps: reported, not hidden
                counts["error"] += 1
                if len(errors) < 5:
                    errors.append(f"{type(exc).__name__}: {str(exc).strip()[:300]}")
                if counts["error"] > 50:
                    break
            else:
                counts["ok"] += 1
                counts[f"ok.{action}"] += 1
                latencies.append(time.perf_counter() - t)
        elapsed = time.perf_counter() - start
    finally:
        store.close()
    results.put({"counts": dict(counts), "errors": errors, "latencies": latencies, "elapsed": elapsed})


def _bumping_steps() -> list[str]:
    """History steps that bump a case's version: every action but ``report`` (the case's creation,
    at version 1). Duplicates and cards (``workflow.EVENTS``) change no version."""
    from layers import workflow

    return sorted(set(workflow.ACTIONS) - {"report"})


def _versions(store: Any, ids: list[str], *, after_id: int) -> Any:
    marks = ", ".join(f"'{s}'" for s in _bumping_steps())
    return store.read_arrow(
        "SELECT c.id, c.version, "
        f"(SELECT count(*) FROM case_history h WHERE h.case_id = c.id AND h.step IN ({marks})) AS bumps, "
        f"(SELECT count(*) FROM case_history h WHERE h.case_id = c.id AND h.step IN ({marks}) AND h.id > ?) "
        "AS new_bumps FROM cases c WHERE c.id IN (SELECT value FROM json_each(?)) ORDER BY c.id",
        [after_id, json.dumps(ids)],
    ).to_pandas()


def check_versions(before: Any, after: Any, *, successes: int) -> dict[str, int]:
    """No lost update: each successful ``act`` bumps the case's version by exactly one and appends
    exactly one history row whose step is an action other than ``report``, in one transaction.

    So, for every case touched: ``version == 1 + bumping history rows`` (the generator and intake
    keep this too); over the run, the rise of its version equals its new bumping rows; and all the
    new bumping rows together are the workers' count of successful transitions. Returns the number
    of cases breaking each (all must be 0).
    """
    merged = after.merge(before[["id", "version"]], on="id", suffixes=("", "_before"))
    return {
        "cases_checked": len(merged),
        "version_vs_history_mismatches": int((merged["version"] != 1 + merged["bumps"]).sum()),
        "rise_vs_new_rows_mismatches": int(
            (merged["version"] - merged["version_before"] != merged["new_bumps"]).sum()
        ),
        "new_rows_minus_successes": int(merged["new_bumps"].sum()) - successes,
    }


class _WaitSampler(threading.Thread):
    """What the server's backends of one database are doing, every 20 ms, while workers run.

    A backend is ``active`` (running a statement, or waiting inside it: on a row lock, on the
    WAL's flush at commit) or ``idle in transaction`` (waiting for its client's next statement).
    Lock waits are also counted by the statement that waits.
    """

    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        self.url = url
        self.samples = 0
        self.states: Counter[str] = Counter()
        self.lock_waits: Counter[str] = Counter()
        self._stop_event = threading.Event()

    def run(self) -> None:
        import psycopg

        with psycopg.connect(self.url, autocommit=True) as conn:
            while not self._stop_event.is_set():
                rows = conn.execute(
                    "SELECT state, coalesce(wait_event_type || ':' || wait_event, 'running'), "
                    "left(regexp_replace(query, '\\s+', ' ', 'g'), 48) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid() "
                    "AND state IN ('active', 'idle in transaction')"
                ).fetchall()
                self.samples += 1
                for state, wait, query in rows:
                    self.states[f"{state} ({wait})" if state == "active" else str(state)] += 1
                    if wait.startswith("Lock:"):
                        self.lock_waits[query] += 1
                time.sleep(0.02)

    def stop(self) -> dict[str, object]:
        self._stop_event.set()
        self.join(timeout=10)
        n = max(self.samples, 1)
        return {
            "samples": self.samples,
            "busy_backends_mean": round(sum(self.states.values()) / n, 2),
            "per_sample": {k: round(v / n, 2) for k, v in self.states.most_common(6)},
            "lock_waits_by_statement": {k: round(v / n, 2) for k, v in self.lock_waits.most_common(3)},
        }


def bench_transitions(target: str, *, workers: int, seconds: float, seed: int = 1) -> dict[str, object]:
    """``workers`` processes acting on overlapping open cases for ``seconds``; then the checks."""
    from layers import workflow
    from layers.store import open_store

    with open_store(target, readonly=True) as store:
        states = ", ".join(f"'{s}'" for s in workflow.OPEN_STATES)
        open_ids = store.read_arrow(f"SELECT id FROM cases WHERE status IN ({states}) ORDER BY id")
        ids = np.array(open_ids.column("id").to_pylist(), dtype=object)
        rng = np.random.default_rng(seed)
        chosen = [str(i) for i in rng.choice(ids, size=min(POOL_CASES, len(ids)), replace=False)]
        hot, pool = chosen[:HOT_CASES], chosen[HOT_CASES:]
        last_id = int(store.conn.execute("SELECT COALESCE(MAX(id), 0) FROM case_history").fetchone()[0])
        before = _versions(store, chosen, after_id=last_id)

    ctx = mp.get_context("spawn")
    ready, results, go = ctx.Queue(), ctx.Queue(), ctx.Event()
    procs = [
        ctx.Process(
            target=_transition_worker, args=(target, pool, hot, seed * 100 + k, seconds, ready, go, results)
        )
        for k in range(workers)
    ]
    for p in procs:
        p.start()
    sampler = _WaitSampler(target) if target.startswith("postgresql://") else None
    waits: dict[str, object] = {}
    try:
        for _ in procs:
            ready.get(timeout=180)
        if sampler is not None:
            sampler.start()
        go.set()
        reports = [results.get(timeout=seconds + 180) for _ in procs]
    finally:
        if sampler is not None and sampler.is_alive():
            waits = sampler.stop()
        for p in procs:
            p.join(timeout=30)
            if p.is_alive():
                p.kill()
    counts: Counter[str] = Counter()
    latencies: list[float] = []
    errors: list[str] = []
    for r in reports:
        counts.update(r["counts"])
        latencies += r["latencies"]
        errors += r["errors"]
    elapsed = max(r["elapsed"] for r in reports)

    with open_store(target, readonly=True) as store:
        after = _versions(store, chosen, after_id=last_id)
    checks = check_versions(before, after, successes=counts["ok"])
    lat = np.array(latencies) if latencies else np.zeros(1)
    return {
        "workers": workers,
        "seconds": round(elapsed, 1),
        "transitions": counts["ok"],
        "per_s": round(counts["ok"] / elapsed, 1),
        "stale": counts["stale"],
        "busy": counts["busy"],
        "refused": counts["refused"],
        "errors": counts["error"],
        "finished_picks": counts["finished"],
        "by_action": {k[3:]: v for k, v in sorted(counts.items()) if k.startswith("ok.")},
        "latency_ms": {"median": _ms(float(np.median(lat))), "p95": _ms(float(np.percentile(lat, 95)))},
        "error_samples": errors[:5],
        **checks,
        **({"server_backends": waits} if waits else {}),
    }


# -- 7. point → grid -------------------------------------------------------------------------------


def _points_on_land(
    store: Any, bounds: tuple[float, ...], n: int, *, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    import shapely

    from layers.grids import load_land

    land = load_land(store)
    shapely.prepare(land)
    rng = np.random.default_rng(seed)
    xs, ys, have = [], [], 0
    while have < n:
        x = rng.uniform(bounds[0], bounds[2], n)
        y = rng.uniform(bounds[1], bounds[3], n)
        keep = shapely.contains_xy(land, x, y)
        xs.append(x[keep])
        ys.append(y[keep])
        have += int(keep.sum())
    return np.concatenate(xs)[:n], np.concatenate(ys)[:n]


@contextlib.contextmanager
def _adbc(url: str) -> Iterator[Any]:
    from layers import pgstore

    conn = pgstore.adbc_connect(url, pgstore.STORE_SCHEMA)
    try:
        yield conn
    finally:
        conn.close()


def _run(conn: Any, sql: str) -> Any:
    cur = conn.cursor()
    try:
        cur.execute(sql)
        return cur.fetch_arrow_table() if sql.lstrip().upper().startswith("SELECT") else None
    finally:
        cur.close()


def bench_locate(url: str, *, points: int, seed: int = 7) -> dict[str, object]:
    """The district's GridLocator against PostGIS for random points on the land."""
    import pyarrow as pa

    from layers.district import open_district

    srid = _srid()
    district = open_district(url, components=False)
    store = district.store
    out: dict[str, object] = {"points": points}
    try:
        x, y = _points_on_land(store, district.locator.bounds, points, seed=seed)
        gen = store.current_generation()
        district.locator.locate(x[:1000], y[:1000])  # compiled kernel loaded before timing
        t_loc, located = _timed(lambda: district.locator.locate(x, y), 5)
        out["locator_ms"] = _ms(t_loc)
        out["located"] = int((located != None).sum())  # noqa: E711 - elementwise on an object array

        one = np.random.default_rng(seed + 1).integers(0, points, 200)
        t_one, _ = _timed(lambda: [district.locator.locate_one(x[i], y[i]) for i in one], 5)
        out["locator_one_us"] = round(t_one / len(one) * 1e6, 2)
        sql_one = (
            f"SELECT code FROM grids WHERE level = 3 AND generation = {gen} "
            f"AND ST_Covers(shape, ST_SetSRID(ST_MakePoint(?, ?), {srid})) ORDER BY code LIMIT 1"
        )
        times = []
        for i in one:
            t = time.perf_counter()
            store.conn.execute(sql_one, (float(x[i]), float(y[i]))).fetchone()
            times.append(time.perf_counter() - t)
        out["pg_one_ms"] = _ms(statistics.median(times))

        grids = f"grids g ON g.level = 3 AND g.generation = {gen}"
        point = f"ST_SetSRID(ST_MakePoint(p.x, p.y), {srid})"
        forms = {
            # The planner loops over the points, probing the grids' GiST index for each.
            "pg_per_point": (False, f"SELECT p.i, min(g.code) AS code FROM pgbench_pts p JOIN {grids} "
                                    f"AND ST_Contains(g.shape, {point}) GROUP BY p.i"),
            # Points indexed too: the planner loops over the 887 grids, each polygon prepared once.
            "pg_indexed": (True, f"SELECT p.i, min(g.code) AS code FROM pgbench_pts p JOIN {grids} "
                                 "AND ST_Contains(g.shape, p.pt) GROUP BY p.i"),
            # The same with covers (MapIt's and the locator's rule: a point on an edge still
            # matches, the lowest code wins).
            "pg_indexed_covers": (True, f"SELECT p.i, min(g.code) AS code FROM pgbench_pts p JOIN {grids} "
                                        "AND ST_Covers(g.shape, p.pt) GROUP BY p.i"),
        }  # fmt: skip
        table = pa.table({"i": np.arange(points, dtype=np.int64), "x": x, "y": y})
        for key, (indexed, sql) in forms.items():
            with _adbc(url) as conn:
                t0 = time.perf_counter()
                cur = conn.cursor()
                try:
                    cur.adbc_ingest("pgbench_pts", table, mode="create", temporary=True)
                finally:
                    cur.close()
                if indexed:
                    _run(conn, f"ALTER TABLE pgbench_pts ADD COLUMN pt geometry(Point, {srid}) "
                               f"GENERATED ALWAYS AS (ST_SetSRID(ST_MakePoint(x, y), {srid})) STORED")  # fmt: skip
                    _run(conn, "CREATE INDEX ON pgbench_pts USING gist (pt)")
                    _run(conn, "ANALYZE pgbench_pts")
                t1 = time.perf_counter()
                got = _run(conn, sql)
                t2 = time.perf_counter()
            answer = np.full(points, None, dtype=object)
            answer[got.column("i").to_numpy()] = np.array(got.column("code").to_pylist(), dtype=object)
            out[key] = {
                "load_ms": _ms(t1 - t0),
                "query_ms": _ms(t2 - t1),
                "total_ms": _ms(t2 - t0),
                "disagreements": int((answer != located).sum()),
            }
    finally:
        store.close()
    return out


# -- the run ---------------------------------------------------------------------------------------


def _report_files(sqlite_path: str, work: Path, n: int) -> list[Path]:
    from bench.bench_intake import _reports

    files = []
    for k in range(2):
        f = work / f"day{k}.csv"
        _reports(Path(sqlite_path), n, seed=k, prefix=f"B{k}-").to_csv(f, index=False)
        files.append(f)
    return files


def run(*, workers: int = 8, seconds: float = 20.0, points: int = 100_000, repeat: int = 3,
        reports: int = 2500, days: int = DAYS, say: Callable[[str], None] = print) -> dict[str, Any]:  # fmt: skip
    """The whole comparison in a temporary folder and on a throwaway cluster; the results."""
    from tests.pgcluster import bin_dir, throwaway_cluster

    bin_dir()  # refuse now, with the install hint, when PostgreSQL is missing
    result: dict[str, Any] = {
        "machine": machine(),
        "postgresql": _pg_version(),
        "load_average_start": [round(v, 2) for v in os.getloadavg()],
    }
    work = Path(tempfile.mkdtemp(prefix="onegrid-pgbench-"))
    try:
        with throwaway_cluster(durable=True) as cluster:
            lite = str(work / "full.sqlite")
            url = cluster.create_db("onegrid_pgbench_full")
            targets = {"sqlite": lite, "pg": url}
            for name, target in targets.items():
                say(f"generating the district into {name} …")
                result[f"generate_{name}"] = bench_generate(target, work=work, days=days)
                result[f"generate_{name}"]["size_mb"] = store_size_mb(target)
            for name, target in targets.items():
                say(f"opening the district on {name} …")
                result[f"open_{name}"] = bench_open(target)
            for name, target in targets.items():
                say(f"a month's assessment on {name} …")
                result[f"assess_{name}"] = bench_assess(target, repeat=repeat)
            a, b = result["assess_sqlite"].pop("scores"), result["assess_pg"].pop("scores")
            result["assess_same_scores"] = a == b
            say("viewport queries …")
            result["viewport"] = bench_viewport(lite, url)
            say("point → grid …")
            result["locate"] = bench_locate(url, points=points)

            # Writes go to copies: a file copy, and a database made from the first as its template.
            os.environ["ONEGRID_NOW"] = NOW
            files = _report_files(lite, work, reports)
            t = time.perf_counter()
            lite_copy = str(work / "copy.sqlite")
            shutil.copyfile(lite, lite_copy)
            result["copy_sqlite_s"] = round(time.perf_counter() - t, 2)
            t = time.perf_counter()
            url_copy = cluster.create_db("onegrid_pgbench_copy", template="onegrid_pgbench_full")
            result["copy_pg_s"] = round(time.perf_counter() - t, 2)
            copies = {"sqlite": lite_copy, "pg": url_copy}
            for name, target in copies.items():
                say(f"intake of {reports:,} reports on {name} …")
                result[f"intake_{name}"] = bench_intake(target, files)
            for name, target in copies.items():
                say(f"1, then {workers} processes taking cases through the desk on {name} …")
                result[f"transitions1_{name}"] = bench_transitions(
                    target, workers=1, seconds=min(seconds, 5.0), seed=2
                )
                result[f"transitions_{name}"] = bench_transitions(target, workers=workers, seconds=seconds)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    result["load_average_end"] = [round(v, 2) for v in os.getloadavg()]
    return result


def _pg_version() -> str:
    from tests.pgcluster import bin_dir

    try:
        proc = subprocess.run([str(bin_dir() / "postgres"), "--version"], capture_output=True, text=True)
    except (OSError, RuntimeError):
        return "not installed"
    return proc.stdout.strip()


# -- output ----------------------------------------------------------------------------------------


def _ratio(a: float, b: float) -> str:
    """Which of two times is smaller, and by how much."""
    if a <= 0 or b <= 0:
        return "—"
    return f"{b / a:.1f}× faster" if a < b else f"{a / b:.1f}× slower"


def rows(r: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    """(job, SQLite, PostGIS, note) lines of the table."""
    gs, gp = r["generate_sqlite"], r["generate_pg"]
    os_, op = r["open_sqlite"], r["open_pg"]
    as_, ap = r["assess_sqlite"], r["assess_pg"]
    is_, ip = r["intake_sqlite"], r["intake_pg"]
    ts, tp = r["transitions_sqlite"], r["transitions_pg"]
    v, vd, loc = r["viewport"]["view"], r["viewport"]["district"], r["locate"]
    out = [
        ("generate, full district", f"{gs['wall_s']} s", f"{gp['wall_s']} s",
         f"cases stage {gs['stages_s'].get('cases')} / {gp['stages_s'].get('cases')} s; "
         f"peak RSS {gs['peak_rss_gb']} / {gp['peak_rss_gb']} GB"),
        ("store size", f"{gs['size_mb']:,.0f} MB", f"{gp['size_mb']:,.0f} MB", "file / pg_database_size"),
        ("open_district, fresh process", f"{os_['cold_s']} s", f"{op['cold_s']} s",
         f"components {os_['parts_s'].get('components')} / {op['parts_s'].get('components')} s"),
        ("open_district, again", f"{os_['again_s']} s", f"{op['again_s']} s", ""),
        ("writable copy of the store", f"{r['copy_sqlite_s']} s", f"{r['copy_pg_s']} s",
         "file copy / CREATE DATABASE … TEMPLATE"),
        ("intake 2,500 reports, first file", f"{is_['file0_s']} s", f"{ip['file0_s']} s",
         "SQLite's pays the process's first calls"),
        ("intake 2,500 reports, second file", f"{is_['file1_s']} s", f"{ip['file1_s']} s",
         f"created {is_['file1']['created']} / {ip['file1']['created']}, "
         f"duplicates {is_['file1']['duplicates']} / {ip['file1']['duplicates']}"),
        ("a month's assessment (towns + departments)", f"{as_['month_s']} s", f"{ap['month_s']} s",
         f"reading the cases {as_['read_s']} / {ap['read_s']} s; same scores: {r['assess_same_scores']}"),
        ("viewport 2×1.5 km, components", f"{v['index_ms']} ms (index)", f"{v['pg_bbox_ms']} ms (&&)",
         f"{v['index_n']:,} points; exact ST_Covers {v['pg_exact_ms']} ms, same codes: "
         f"{v['same_codes_index_vs_pg_exact']}; && gave {v['pg_bbox_outside_n']} more "
         f"(≤ {v['pg_bbox_outside_max_m']} m outside)"),
        ("viewport, no index on SQLite", f"{v['sqlite_scan_ms']} ms (x/y ranges)", "", ""),
        ("viewport 2×1.5 km, cases", f"{v['cases_sqlite_scan_ms']} ms (x/y ranges)",
         f"{v['cases_pg_bbox_ms']} ms (&&)",
         f"{v['cases_n']:,} cases; exact {v['cases_pg_exact_ms']} ms, same ids: {v['same_cases_scan_vs_pg_exact']}"),
        ("whole district box, components", f"{vd['index_ms']} ms (index)", f"{vd['pg_bbox_ms']} ms (&&)",
         f"{vd['index_n']:,} points; x/y ranges on SQLite {vd['sqlite_scan_ms']} ms; same codes: "
         f"{vd['same_codes_index_vs_pg_exact']}"),
        ("whole district box, cases", f"{vd['cases_sqlite_scan_ms']} ms (x/y ranges)",
         f"{vd['cases_pg_bbox_ms']} ms (&&)", f"{vd['cases_n']:,} cases"),
        ("component index build (app start)", f"{r['viewport']['index_build_sqlite_s']} s",
         f"{r['viewport']['index_build_pg_s']} s", "read 680k components + build, in process"),
        (f"{ts['workers']} processes' transitions", f"{ts['per_s']}/s", f"{tp['per_s']}/s",
         f"{ts['transitions']:,} / {tp['transitions']:,} in {ts['seconds']} / {tp['seconds']} s; "
         f"median {ts['latency_ms']['median']} / {tp['latency_ms']['median']} ms, "
         f"p95 {ts['latency_ms']['p95']} / {tp['latency_ms']['p95']} ms"),
        ("1 process's transitions", f"{r['transitions1_sqlite']['per_s']}/s",
         f"{r['transitions1_pg']['per_s']}/s",
         f"median {r['transitions1_sqlite']['latency_ms']['median']} / "
         f"{r['transitions1_pg']['latency_ms']['median']} ms"),
        ("  stale refusals / busy / errors", f"{ts['stale']} / {ts['busy']} / {ts['errors']}",
         f"{tp['stale']} / {tp['busy']} / {tp['errors']}", ""),
        ("  lost updates (version ≠ 1 + history)",
         f"{ts['version_vs_history_mismatches']} of {ts['cases_checked']}",
         f"{tp['version_vs_history_mismatches']} of {tp['cases_checked']}",
         f"rise ≠ new rows: {ts['rise_vs_new_rows_mismatches']} / {tp['rise_vs_new_rows_mismatches']}; "
         f"new rows − successes: {ts['new_rows_minus_successes']} / {tp['new_rows_minus_successes']}"),
        (f"point → grid, {loc['points']:,} points", f"{loc['locator_ms']} ms (GridLocator)",
         f"{loc['pg_indexed']['total_ms']} ms", f"PostGIS: load + index {loc['pg_indexed']['load_ms']} ms, "
         f"join {loc['pg_indexed']['query_ms']} ms; {loc['pg_indexed']['disagreements']} disagreements"),
        ("  PostGIS per point (GiST on grids only)", "", f"{loc['pg_per_point']['total_ms']} ms",
         f"{loc['pg_per_point']['disagreements']} disagreements"),
        ("  PostGIS indexed, ST_Covers", "", f"{loc['pg_indexed_covers']['total_ms']} ms",
         f"{loc['pg_indexed_covers']['disagreements']} disagreements"),
        ("point → grid, one point", f"{loc['locator_one_us']} µs (locate_one)", f"{loc['pg_one_ms']} ms",
         "median; PostGIS: one query through the store's connection"),
    ]  # fmt: skip
    return out


def verdicts(r: dict[str, Any]) -> list[str]:
    """Which of the in-process engine and PostGIS is faster, job by job."""
    v, vd, loc = r["viewport"]["view"], r["viewport"]["district"], r["locate"]
    best_pg = min(loc[k]["total_ms"] for k in ("pg_per_point", "pg_indexed", "pg_indexed_covers"))
    build = r["viewport"]["index_build_sqlite_s"] * 1000
    gain = v["pg_bbox_ms"] - v["index_ms"]
    even = (
        f"; the index's build ({build:.0f} ms) pays for itself after {build / gain:.0f} views"
        if gain > 0
        else ""
    )
    return [
        f"point → grid, {loc['points']:,} points: the GridLocator ({loc['locator_ms']} ms) is "
        f"{_ratio(loc['locator_ms'], best_pg)} than PostGIS at its best ({best_pg} ms)",
        f"point → grid, one point: the GridLocator ({loc['locator_one_us']} µs) is "
        f"{_ratio(loc['locator_one_us'] / 1000, loc['pg_one_ms'])} than a PostGIS query ({loc['pg_one_ms']} ms)",
        f"viewport, {v['index_n']:,} components: the in-process index ({v['index_ms']} ms) is "
        f"{_ratio(v['index_ms'], v['pg_bbox_ms'])} than PostGIS ({v['pg_bbox_ms']} ms){even}",
        f"whole district, {vd['index_n']:,} components: the index ({vd['index_ms']} ms) is "
        f"{_ratio(vd['index_ms'], vd['pg_bbox_ms'])} than PostGIS ({vd['pg_bbox_ms']} ms)",
        f"viewport, {v['cases_n']:,} cases (no in-process index): PostGIS ({v['cases_pg_bbox_ms']} ms) is "
        f"{_ratio(v['cases_pg_bbox_ms'], v['cases_sqlite_scan_ms'])} than SQLite's scan "
        f"({v['cases_sqlite_scan_ms']} ms)",
    ]


def print_table(r: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"SQLite vs PostGIS — {r['machine']}; {r['postgresql']}")
    for col in ("job", "SQLite", "PostGIS", "note"):
        table.add_column(col, overflow="fold")
    for cells in rows(r):
        table.add_row(*cells)
    console = Console(width=max(140, shutil.get_terminal_size().columns))
    console.print(table)
    console.print(f"load average {r['load_average_start']} at the start, {r['load_average_end']} at the end")
    for t in ("transitions1_sqlite", "transitions1_pg", "transitions_sqlite", "transitions_pg"):
        if r[t]["error_samples"]:
            console.print(f"{t} errors: {r[t]['error_samples']}")
    waits = r["transitions_pg"].get("server_backends")
    if waits:
        console.print(
            f"PostgreSQL backends during the {r['transitions_pg']['workers']} processes' run: {waits}"
        )
    console.print("Faster, job by job:")
    for line in verdicts(r):
        console.print(f"  - {line}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_pg", description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=8, help="processes taking cases at once (default 8)")
    parser.add_argument("--seconds", type=float, default=20.0, help="how long they run (default 20)")
    parser.add_argument("--points", type=int, default=100_000, help="random points located (default 100,000)")
    parser.add_argument("--reports", type=int, default=2500, help="reports per intake file (default 2,500)")
    parser.add_argument("--repeat", type=int, default=3, help="runs of the assessment (the best is kept)")
    parser.add_argument("--days", type=int, default=DAYS, help=argparse.SUPPRESS)  # a quick trial run
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    args = parser.parse_args(argv)
    say = (lambda _: None) if args.json else (lambda text: print(text, flush=True))
    try:
        result = run(workers=args.workers, seconds=args.seconds, points=args.points, repeat=args.repeat,
                     reports=args.reports, days=args.days, say=say)  # fmt: skip
    except RuntimeError as exc:
        if "PostgreSQL is not installed" not in str(exc):
            raise
        print(f"bench pg: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(result, ensure_ascii=False, indent=2, default=str))
    else:
        print_table(result)
    runs = ("transitions1_sqlite", "transitions1_pg", "transitions_sqlite", "transitions_pg")
    lost = sum(
        result[t][k] for t in runs for k in ("version_vs_history_mismatches", "rise_vs_new_rows_mismatches")
    ) + sum(abs(result[t]["new_rows_minus_successes"]) for t in runs)
    return 0 if lost == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
