"""Benchmark: how long a 300,000-row batch confirm holds the store's write lock, and what waits on it.

    python -m bench.bench_confirm [--store PATH] [--rows 300000] [--seed 1]

The store (``--store``, else the default store) is never written: it is copied to a temporary file
first. A batch moving ``rows`` random components by half a metre is previewed, then confirmed. The
bench reports the confirm's total time and its time under the write lock (``BEGIN IMMEDIATE`` to
``COMMIT``, timed around :meth:`layers.store.Store.transaction`); the moment the lock is taken, a
child process tries to move one other component (busy timeout 10 s) and reports how long it waited
and what it was told.

Recorded results: see bench/RESULTS.md ("Surveyor batches").
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]

_MOVER = """
    import sys, time
    sys.path.insert(0, {root!r})
    from pathlib import Path
    from layers import survey
    from layers.store import open_store
    with open_store({store!r}) as st:
        code, x, y, version = st.conn.execute(
            "SELECT code, x, y, version FROM components ORDER BY code DESC LIMIT 1").fetchone()
        survey.district_locator(st)
        Path({ready!r}).touch()
        while not Path({go!r}).exists():
            time.sleep(0.002)
        t0 = time.perf_counter()
        try:
            survey.move_component(st, code, x=x + 0.5, y=y, crs="EPSG:4549", expected_version=version, actor="bench")
            told = "moved"
        except Exception as exc:
            told = f"{{type(exc).__name__}}: {{exc}}"
        print(f"{{time.perf_counter() - t0:.2f}}\\t{{told}}")
"""


def run(store_path: Path, *, rows: int, seed: int) -> dict[str, object]:
    from layers import survey
    from layers.store import Store, open_store

    with tempfile.TemporaryDirectory(prefix="bench-confirm-") as tmp:
        work = Path(tmp) / "store.sqlite"
        shutil.copyfile(store_path, work)
        with open_store(work) as st:
            comps = st.read_arrow("SELECT code, x, y FROM components ORDER BY code").to_pandas()
            pick = comps.iloc[np.random.default_rng(seed).permutation(len(comps) - 1)[:rows]]
            csv = Path(tmp) / "batch.csv"
            pd.DataFrame({"code": pick["code"], "x": pick["x"] + 0.5, "y": pick["y"] + 0.5}).to_csv(
                csv, index=False
            )
            t0 = time.perf_counter()
            preview = survey.preview_batch(st, csv, filename="batch.csv", crs="EPSG:4549", max_bytes=10**9)
            t_preview = time.perf_counter() - t0

            ready, go = Path(tmp) / "ready", Path(tmp) / "go"
            script = _MOVER.format(root=str(ROOT), store=str(work), ready=str(ready), go=str(go))
            mover = subprocess.Popen(
                [sys.executable, "-c", textwrap.dedent(script)], stdout=subprocess.PIPE, text=True
            )
            while not ready.exists():
                time.sleep(0.01)
            held: list[float] = []
            plain = Store.transaction

            @contextlib.contextmanager
            def timed(self: Store) -> Iterator[object]:
                with plain(self) as conn:
                    t = time.perf_counter()
                    go.touch()  # the write lock is held from here: the mover tries now
                    try:
                        yield conn
                    finally:
                        held.append(time.perf_counter() - t)

            Store.transaction = timed  # type: ignore[assignment,method-assign]
            try:
                t0 = time.perf_counter()
                result = survey.confirm_batch(st, preview, actor="bench")
                t_confirm = time.perf_counter() - t0
            finally:
                Store.transaction = plain  # type: ignore[method-assign]
            out, _ = mover.communicate(timeout=120)
            waited, told = out.strip().split("\t", 1)
    return {
        "rows": rows,
        "accepted": result.accepted,
        "preview_s": round(t_preview, 2),
        "confirm_s": round(t_confirm, 2),
        "lock_held_s": round(held[0], 2) if held else None,
        "move_waited_s": float(waited),
        "move_told": told,
    }


def main(argv: list[str] | None = None) -> int:
    import settings

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--store", default=None, help="the store (default: the default store)")
    parser.add_argument("--rows", type=int, default=300_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    store = settings.store_path(args.store)
    print(f"store: {store}; {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    res = run(store, rows=args.rows, seed=args.seed)
    print(
        f"preview {res['preview_s']} s; confirm {res['confirm_s']} s, write lock held {res['lock_held_s']} s "
        f"({res['accepted']:,} of {res['rows']:,} rows applied)"
    )
    print(f"a move tried while the lock was held: waited {res['move_waited_s']} s, told: {res['move_told']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
