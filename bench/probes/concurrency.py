"""Probes of writers racing each other: moves during an adoption, long batch writes, a held lock.

Every writer is a real child process (the CLI, or a script over the layers); the probe only
starts them, lets them race, and then checks the store.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import shapely

from bench.probes._store import child, cli, kill, probe_store, wait_for

BUSY = "the store is busy with another write; try again in a moment"


def _wrong_grids(store: Path) -> int:
    """Components whose grid is not what the current generation's locator gives for them."""
    from layers.grids import load_grids
    from layers.store import open_store
    from spatial.locate import GridLocator

    with open_store(store, readonly=True) as st:
        l3 = load_grids(st, level=3)
        comps = st.read_arrow("SELECT x, y, grid_code FROM components").to_pandas()
    loc = GridLocator(l3.geometry.to_numpy(), l3["code"].to_numpy())
    got = loc.locate(comps["x"].to_numpy(), comps["y"].to_numpy())
    return int((got != comps["grid_code"].to_numpy(dtype=object)).sum())


_MOVER = """
    import json, time
    from pathlib import Path
    from layers import survey
    from spatial.errors import OneGridError
    from layers.store import open_store
    plan = json.loads(Path({plan!r}).read_text())
    moves = errors = 0
    with open_store({store!r}) as st:
        while not Path({stop!r}).exists() and moves < len(plan["codes"]):
            code = plan["codes"][moves]
            x, y = plan["points"][moves % len(plan["points"])]
            try:
                version = survey.get_component(st, code)["version"]
                survey.move_component(st, code, x=x, y=y, crs="EPSG:4549", expected_version=version, actor="测绘员")
            except OneGridError:
                errors += 1  # stale or busy: told properly, and tried again with the next move
            moves += 1
            if moves == 20:
                Path({started!r}).touch()
    print(moves, errors)
"""


def probe_moves_while_adopt_grids_commits(tmp: Path) -> None:
    """Four runs, as in the report: moves run all through ``adopt-grids``; afterwards every grid is right."""
    from bench.workloads import reshape_candidate
    from layers.grids import load_grids
    from layers.store import open_store

    wrong = []
    for run in range(4):
        folder = tmp / f"run{run}"
        folder.mkdir()
        store = probe_store(folder)
        with open_store(store, readonly=True) as st:
            grids = load_grids(st)
            cand, pairs = reshape_candidate(grids, n=20, seed=run)
            traded = sorted({c for pair in pairs for c in pair})
            marks = ", ".join("?" * len(traded))
            # Components away from the traded land, each moved once: the adoption leaves their
            # version alone, so a move that waited for the adoption's lock is not refused as stale.
            codes = [
                r[0]
                for r in st.conn.execute(
                    f"SELECT code FROM components WHERE grid_code NOT IN ({marks}) ORDER BY code LIMIT 20000",
                    traded,
                )
            ]
        old = dict(zip(grids["code"], grids.geometry, strict=True))
        new = dict(zip(cand["code"], cand.geometry, strict=True))
        # Points on the land each pair trades: in one grid before the adoption, in another after.
        pieces = [shapely.point_on_surface(shapely.difference(new[b], old[b])) for _, b in pairs]
        plan = folder / "plan.json"
        plan.write_text(
            json.dumps({"codes": codes, "points": [[p.x, p.y] for p in pieces]}), encoding="utf-8"
        )
        candidate = folder / "candidate.gpkg"
        cand[["code", "name", "geometry"]].to_file(candidate)
        stop, started = folder / "stop", folder / "started"
        mover = child(_MOVER.format(plan=str(plan), store=str(store), stop=str(stop), started=str(started)))
        try:
            wait_for(started, mover)
            adopted = cli(
                "adopt-grids", "--store", str(store), "--in", str(candidate),
                "--valid-from", "2026-12-01", "--actor", "规划员",
            )  # fmt: skip
            time.sleep(0.5)
            stop.touch()
            _, err = mover.communicate(timeout=120)
        finally:
            kill(mover)
        if adopted.returncode != 0:
            wrong.append(f"run {run}: adopt-grids exit {adopted.returncode}: {adopted.stderr.strip()[-200:]}")
            continue
        if mover.returncode != 0:
            wrong.append(f"run {run}: the mover failed: {err.strip()[-200:]}")
            continue
        bad = _wrong_grids(store)
        if bad:
            wrong.append(f"run {run}: {bad} component(s) stored with a grid of the old generation")
    assert not wrong, "; ".join(wrong)


_BATCH = """
    import time
    from pathlib import Path
    from layers import survey
    from layers.errors import StoreBusyError
    from layers.store import open_store
    with open_store({store!r}) as st:
        preview = survey.preview_batch(st, Path({csv!r}), filename="外业.csv", crs="EPSG:4549", max_bytes=10**9)
        Path({ready!r}).touch()
        while not Path({go!r}).exists():
            time.sleep(0.005)
        try:
            result = survey.confirm_batch(st, preview, actor="测绘员")
            print("applied", result.accepted)
        except StoreBusyError as exc:
            print("busy", exc)
"""

_ONE_MOVE = """
    import time
    from pathlib import Path
    from layers import survey
    from layers.errors import StoreBusyError
    from layers.store import open_store
    with open_store({store!r}) as st:
        code, x, y, version = st.conn.execute(
            "SELECT code, x, y, version FROM components ORDER BY code DESC LIMIT 1").fetchone()
        Path({ready!r}).touch()
        while not Path({go!r}).exists():
            time.sleep(0.005)
        time.sleep(1.0)  # the batches are being written by now
        try:
            survey.move_component(st, code, x=x + 0.5, y=y, crs="EPSG:4549", expected_version=version, actor="测绘员")
            print("applied 1")
        except StoreBusyError as exc:
            print("busy", exc)
"""


def probe_two_300k_batches_and_a_move_at_once(tmp: Path) -> None:
    """Two 300,000-row batch confirms and a single move, started together on a 620,000-component store."""
    store = tmp / "big.sqlite"
    r = cli(
        "generate", "--store", str(store), "--seed", "7", "--days", "1", "--end", "2026-11-20",
        "--components", "620000", "--per-day", "20", "--quiet",
    )  # fmt: skip
    assert r.returncode == 0, r.stderr[-300:]
    from layers.store import open_store

    with open_store(store, readonly=True) as st:
        comps = st.read_arrow("SELECT code, x, y, version FROM components ORDER BY code").to_pandas()
    order = np.random.default_rng(1).permutation(len(comps) - 1)  # the last one is the single move's
    go = tmp / "go"
    procs = []
    for k in range(2):
        rows = comps.iloc[order[k * 300_000 : (k + 1) * 300_000]]
        csv = tmp / f"batch{k}.csv"
        rows.assign(x=rows["x"] + 0.25, y=rows["y"] - 0.25)[["code", "x", "y"]].to_csv(csv, index=False)
        procs.append(
            child(_BATCH.format(store=str(store), csv=str(csv), ready=str(tmp / f"r{k}"), go=str(go)))
        )
    procs.append(child(_ONE_MOVE.format(store=str(store), ready=str(tmp / "r2"), go=str(go))))
    try:
        for k, p in enumerate(procs):
            wait_for(tmp / f"r{k}", p)
        go.touch()
        outs = [p.communicate(timeout=600) for p in procs]
    finally:
        for p in procs:
            kill(p)
    wrong = []
    applied = 0
    for name, p, (out, err) in zip(("batch 1", "batch 2", "move"), procs, outs, strict=True):
        said = out.strip()
        if p.returncode != 0 or not (said.startswith("applied") or said.startswith(f"busy {BUSY}")):
            last = err.strip().splitlines()[-1:] or [said]
            wrong.append(f"{name}: exit {p.returncode}, {last[0][:200]}")
        elif said.startswith("applied"):
            applied += int(said.split()[1])
    assert not wrong, "; ".join(wrong)
    with open_store(store, readonly=True) as st:
        after = st.read_arrow("SELECT version FROM components ORDER BY code").to_pandas()
    changed = int((after["version"].to_numpy() != comps["version"].to_numpy()).sum())
    assert changed == applied, f"{changed:,} components changed, {applied:,} reported applied"


def probe_a_write_blocked_past_the_timeout_is_told_busy(tmp: Path) -> None:
    """A surveyor's change while another process holds the write lock longer than the busy timeout."""
    from layers import survey
    from layers.store import open_store

    store = probe_store(tmp)
    holding = tmp / "holding"
    holder = child(
        f"""
        import time
        from pathlib import Path
        from layers.store import open_store
        st = open_store({str(store)!r})
        st.conn.execute("BEGIN IMMEDIATE")
        Path({str(holding)!r}).touch()
        time.sleep(300)
        """
    )
    try:
        wait_for(holding, holder)
        with open_store(store) as st:
            code, version = st.conn.execute("SELECT code, version FROM components LIMIT 1").fetchone()
            try:
                survey.set_state(st, code, state="丢失", expected_version=version, actor="巡查员")
            except Exception as exc:  # what a user would see is the point here
                from spatial.errors import OneGridError

                assert isinstance(exc, OneGridError) and str(exc).startswith(BUSY), (
                    f"told {type(exc).__name__}: {exc}"
                )
            else:
                raise AssertionError("the change went through while another process held the write lock")
    finally:
        kill(holder)
    with open_store(store, readonly=True) as st:
        assert survey.get_component(st, code)["version"] == version
