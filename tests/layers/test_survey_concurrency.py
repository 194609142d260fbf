"""Surveyor writes racing other writers: an adoption of new grids, a long write, a second batch.

The other writer is a real child process. Where the race needs a precise interleaving the child
stops at a named point inside its transaction (it writes a marker file and sleeps there) while
the parent makes its move.
"""

from __future__ import annotations

import datetime as dt
import pickle
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import shapely

from bench.workloads import reshape_candidate
from layers import survey
from layers.errors import StoreBusyError
from layers.grids import load_grids
from layers.pgstore import is_url
from layers.planner import adopt_grids
from layers.store import BUSY_MESSAGE, open_store
from spatial.locate import GridLocator
from tests.helpers import child, kill, wait_for

ROOT = Path(__file__).resolve().parents[2]


def _grids_right(store_path: Path) -> int:
    """How many components carry a grid other than the current generation's locator gives."""
    with open_store(store_path, readonly=True) as st:
        l3 = load_grids(st, level=3)
        loc = GridLocator(l3.geometry.to_numpy(), l3["code"].to_numpy())
        comps = st.read_arrow("SELECT code, x, y, grid_code FROM components").to_pandas()
    got = loc.locate(comps["x"].to_numpy(), comps["y"].to_numpy())
    return int((got != comps["grid_code"].to_numpy(dtype=object)).sum())


def test_a_move_waiting_on_an_adoption_is_located_in_the_new_grids(
    small_store_copy: Path, tmp_path: Path
) -> None:
    with open_store(small_store_copy) as st:
        grids = load_grids(st)
        cand, pairs = reshape_candidate(grids, n=1, seed=3)
        src, dst = pairs[0]
        old_dst = grids.loc[grids["code"] == dst].geometry.iloc[0]
        new_dst = cand.loc[cand["code"] == dst].geometry.iloc[0]
        # A point in the piece of land the candidate hands from `src` to `dst`.
        spot = shapely.point_on_surface(shapely.difference(new_dst, old_dst))
        x, y = float(spot.x), float(spot.y)
        assert survey.district_locator(st).locate_one(x, y) == src
        code = st.conn.execute("SELECT code FROM components WHERE grid_code != ? LIMIT 1", (src,)).fetchone()[
            0
        ]
        version = survey.get_component(st, code)["version"]
    cand_file = tmp_path / "candidate.pickle"
    cand_file.write_bytes(pickle.dumps(cand))
    inside = tmp_path / "inside-adoption"
    adopter = child(f"""
        import datetime as dt, pickle, time
        from pathlib import Path
        from layers import planner
        from layers.store import open_store

        reassign = planner._reassign_components

        def paused(*args, **kwargs):
            # The named point: inside the adoption's transaction, new grids written, not committed.
            Path({str(inside)!r}).touch()
            time.sleep(2.0)
            return reassign(*args, **kwargs)

        planner._reassign_components = paused
        with open_store({str(small_store_copy)!r}) as st:
            cand = pickle.loads(Path({str(cand_file)!r}).read_bytes())
            planner.adopt_grids(st, cand, valid_from=dt.date(2026, 11, 1), actor="规划员")
    """)
    try:
        wait_for(inside, adopter)
        with open_store(small_store_copy) as st:
            change = survey.move_component(
                st, code, x=x, y=y, crs="EPSG:4549", expected_version=version, actor="测绘员", confirmed=True
            )
        assert adopter.wait(timeout=120) == 0, adopter.stderr.read()  # type: ignore[union-attr]
    finally:
        kill(adopter)
    assert change.after["grid_code"] == dst, "located in the grids adopted while the move waited"
    with open_store(small_store_copy, readonly=True) as st:
        assert survey.get_component(st, code)["grid_code"] == dst
    assert _grids_right(small_store_copy) == 0


def test_writes_blocked_past_the_timeout_are_told_busy(small_store_copy: Path, tmp_path: Path) -> None:
    with open_store(small_store_copy, readonly=False) as st:
        row = st.conn.execute("SELECT code, x, y, version FROM components LIMIT 2").fetchall()
        csv = f"code,x,y\n{row[1][0]},{row[1][1] + 1},{row[1][2] + 1}\n".encode()
        # The preview is kept in the store: made before the lock is taken, confirmed while it is held.
        batch_id = survey.preview_batch(st, csv, filename="b.csv", crs="EPSG:4549").batch_id
    holding = tmp_path / "holding"
    # SQLite: the one writer lock. PostgreSQL: the tables a move and a batch write, locked against writers.
    take = (
        ["BEGIN", "LOCK TABLE components, import_batches IN EXCLUSIVE MODE"]
        if is_url(small_store_copy)
        else ["BEGIN IMMEDIATE"]
    )
    holder = child(f"""
        import time
        from pathlib import Path
        from layers.store import open_store
        st = open_store({str(small_store_copy)!r})
        for statement in {take!r}:
            st.conn.execute(statement)
        Path({str(holding)!r}).touch()
        time.sleep(120)
    """)
    try:
        wait_for(holding, holder)
        with open_store(small_store_copy, busy_timeout_s=0.3) as st:
            code, x, y, version = row[0]
            with pytest.raises(StoreBusyError, match=BUSY_MESSAGE):
                survey.move_component(
                    st,
                    code,
                    x=x + 1,
                    y=y + 1,
                    crs="EPSG:4549",
                    expected_version=version,
                    actor="测绘员",
                    confirmed=True,
                )
            with pytest.raises(StoreBusyError, match=BUSY_MESSAGE):
                survey.preview_batch(st, csv, filename="b.csv", crs="EPSG:4549")
            with pytest.raises(StoreBusyError, match=BUSY_MESSAGE):
                survey.confirm_batch(st, batch_id, actor="测绘员")
            kill(holder)
            assert survey.get_component(st, code)["version"] == version, "nothing was written"
            survey.confirm_batch(st, batch_id, actor="测绘员")  # the lock is free again
            assert survey.get_component(st, row[1][0])["version"] == row[1][3] + 1
    finally:
        kill(holder)


def test_two_batches_confirmed_at_once_both_apply(small_store_copy: Path, tmp_path: Path) -> None:
    with open_store(small_store_copy, readonly=True) as st:
        comps = st.read_arrow("SELECT code, x, y, version FROM components ORDER BY code").to_pandas()
    picks = np.random.default_rng(5).permutation(len(comps))[:20_000]
    files = []
    for k, part in enumerate(np.array_split(picks, 2)):
        rows = comps.iloc[part]
        path = tmp_path / f"batch{k}.csv"
        pd.DataFrame({"code": rows["code"], "x": rows["x"] + 0.25, "y": rows["y"] - 0.25}).to_csv(
            path, index=False
        )
        files.append(path)
    go = tmp_path / "go"
    script = """
        import time
        from pathlib import Path
        from layers import survey
        from layers.store import open_store
        with open_store({store!r}) as st:
            preview = survey.preview_batch(st, Path({csv!r}), filename="b.csv", crs="EPSG:4549")
            Path({ready!r}).touch()
            while not Path({go!r}).exists():
                time.sleep(0.005)
            result = survey.confirm_batch(st, preview, actor="测绘员")
            print(preview.n_accepted, result.accepted)
    """
    procs = [
        child(
            script.format(
                store=str(small_store_copy), csv=str(f), ready=str(tmp_path / f"ready{k}"), go=str(go)
            )
        )
        for k, f in enumerate(files)
    ]
    try:
        for k, p in enumerate(procs):
            wait_for(tmp_path / f"ready{k}", p)
        go.touch()
        outs = [p.communicate(timeout=120) for p in procs]
    finally:
        for p in procs:
            kill(p)
    assert [p.returncode for p in procs] == [0, 0], [err for _, err in outs]
    counts = [tuple(int(v) for v in out.split()) for out, _ in outs]
    assert all(previewed == applied > 9_900 for previewed, applied in counts), counts
    with open_store(small_store_copy, readonly=True) as st:
        after = st.read_arrow("SELECT code, version FROM components ORDER BY code").to_pandas()
        moves = st.conn.execute(
            "SELECT COUNT(*) FROM component_history WHERE reason LIKE 'batch %'"
        ).fetchone()[0]
    bumped = after["version"].to_numpy() == comps["version"].to_numpy() + 1
    assert bumped.sum() == moves == sum(applied for _, applied in counts)
    assert set(np.flatnonzero(bumped)) <= set(picks.tolist())
    assert _grids_right(small_store_copy) == 0


def test_undo_after_an_adoption_restores_into_the_current_grids(small_store_copy: Path) -> None:
    with open_store(small_store_copy) as st:
        grids = load_grids(st)
        cand, pairs = reshape_candidate(grids, n=1, seed=3)
        src, dst = pairs[0]
        old_dst = grids.loc[grids["code"] == dst].geometry.iloc[0]
        spot = shapely.point_on_surface(
            shapely.difference(cand.loc[cand["code"] == dst].geometry.iloc[0], old_dst)
        )
        code = st.conn.execute("SELECT code FROM components WHERE grid_code != ? LIMIT 1", (src,)).fetchone()[
            0
        ]
        rec = survey.get_component(st, code)
        # Put the component on the piece of land, move it away, adopt, then undo the move away.
        first = survey.move_component(
            st,
            code,
            x=spot.x,
            y=spot.y,
            crs="EPSG:4549",
            expected_version=rec["version"],
            actor="测绘员",
            confirmed=True,
        )
        assert first.after["grid_code"] == src
        away = survey.move_component(
            st,
            code,
            x=rec["x"],
            y=rec["y"],
            crs="EPSG:4549",
            expected_version=first.version,
            actor="测绘员",
            confirmed=True,
        )
        adopt_grids(st, cand, valid_from=dt.date(2026, 11, 1), actor="规划员")
        back = survey.undo(
            st, code, expected_version=away.version, actor="测绘员", history_id=away.history_id
        )
        assert back.after["grid_code"] == dst
