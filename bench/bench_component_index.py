"""Benchmark of the component index: the numpy bucket grid (``ComponentIndex``) against rtree.

Both answer the same questions on the same points: build, nearest component of a class within a
radius, viewport boxes (with a result limit), and moves / inserts / deletes. Answers are compared.

    python -m bench.bench_component_index [--json] [--points N]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from spatial.component_index import ComponentIndex

CLASSES = [f"{major:02d}{sub:02d}" for major in range(1, 7) for sub in range(1, 5)]


def synthetic_components(
    n: int = 680_000,
    *,
    width: float = 60_000.0,
    height: float = 50_000.0,
    seed: int = 0,
    origin: tuple[float, float] = (490_000.0, 3_430_000.0),
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Codes, class codes and positions of ``n`` components over ``width`` × ``height`` metres
    (two thirds clustered along town centres, a third uniform)."""
    rng = np.random.default_rng(seed)
    nc = 2 * n // 3
    centres = rng.uniform((0, 0), (width, height), size=(150, 2))
    pick = rng.integers(0, 150, nc)
    pts = np.vstack(
        [
            centres[pick] + rng.normal(size=(nc, 2)) * rng.uniform(300, 3000, 150)[pick, None],
            rng.uniform((0, 0), (width, height), size=(n - nc, 2)),
        ]
    )
    pts = np.clip(pts, 0, (width, height)) + np.array(origin)
    cls = np.array(CLASSES)[rng.integers(0, len(CLASSES), n)]
    serial = rng.permutation(n)
    codes = np.char.add(np.char.add("320506", cls), np.char.zfill(serial.astype(str), 6))
    return codes, cls, pts[:, 0].copy(), pts[:, 1].copy()


def _timeit(fn: Any, repeat: int = 1) -> tuple[float, Any]:
    best, out = float("inf"), None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


class _RtreeIndex:
    """The same queries on rtree: one tree per class for class-filtered nearest, one for all."""

    def __init__(self, codes: np.ndarray, cls: np.ndarray, x: np.ndarray, y: np.ndarray) -> None:
        from rtree import index

        self.codes = codes.copy()
        self.cls = cls.copy()
        self.x, self.y = x.copy(), y.copy()
        self.row = {c: i for i, c in enumerate(codes.tolist())}
        xy = np.column_stack([x, y])
        ids = np.arange(x.shape[0], dtype=np.int64)
        self.all = index.Index((ids, xy, xy))
        self.by_class = {}
        for c in np.unique(cls).tolist():
            m = np.flatnonzero(cls == c)
            self.by_class[c] = index.Index((m.astype(np.int64), xy[m], xy[m]))

    def nearest(self, px: float, py: float, *, radius: float, class_code: str, k: int) -> list[str]:
        tree = self.by_class[class_code]
        ids = np.fromiter(
            tree.intersection((px - radius, py - radius, px + radius, py + radius)), dtype=np.int64
        )
        d = np.hypot(self.x[ids] - px, self.y[ids] - py)
        ok = d <= radius
        ids, d = ids[ok], d[ok]
        order = np.lexsort((self.codes[ids], d))[:k]
        return self.codes[ids[order]].tolist()

    def in_bbox(self, box: tuple[float, float, float, float]) -> int:
        return self.all.count(box)

    def move(self, code: str, nx: float, ny: float) -> None:
        i = self.row[code]
        self.all.delete(i, (self.x[i], self.y[i], self.x[i], self.y[i]))
        self.by_class[self.cls[i]].delete(i, (self.x[i], self.y[i], self.x[i], self.y[i]))
        self.x[i], self.y[i] = nx, ny
        self.all.insert(i, (nx, ny, nx, ny))
        self.by_class[self.cls[i]].insert(i, (nx, ny, nx, ny))


def run_component_index_benchmark(
    codes: np.ndarray,
    cls: np.ndarray,
    x: np.ndarray,
    y: np.ndarray,
    *,
    queries: int = 2000,
    radius: float = 200.0,
    with_rtree: bool = True,
    seed: int = 3,
) -> dict[str, Any]:
    """Build, query and update timings of :class:`ComponentIndex`, and of rtree when asked."""
    rng = np.random.default_rng(seed)
    n = x.shape[0]
    res: dict[str, Any] = {"points": int(n), "classes": len(np.unique(cls))}
    qi = rng.integers(0, n, queries)
    qx = x[qi] + rng.normal(0, 100, queries)
    qy = y[qi] + rng.normal(0, 100, queries)
    qc = cls[rng.integers(0, n, queries)]
    vx = rng.uniform(x.min(), x.max() - 2000, 200)
    vy = rng.uniform(y.min(), y.max() - 1500, 200)
    boxes = [(a, b, a + 2000.0, b + 1500.0) for a, b in zip(vx.tolist(), vy.tolist(), strict=True)]

    res["grid_build_s"], ix = _timeit(lambda: ComponentIndex(codes, cls, x, y))
    t0 = time.perf_counter()
    ours = [
        ix.nearest(a, b, radius=radius, class_code=c, k=5).codes.tolist()
        for a, b, c in zip(qx.tolist(), qy.tolist(), qc.tolist(), strict=True)
    ]
    res["grid_nearest_k5_us"] = (time.perf_counter() - t0) / queries * 1e6
    # Routing's bulk form: the nearest component of each report's class within 30 m, all at once.
    bq = rng.integers(0, n, 200_000)
    bx_, by_ = x[bq] + rng.normal(0, 30, bq.size), y[bq] + rng.normal(0, 30, bq.size)
    bc = cls[rng.integers(0, n, bq.size)].astype(object)
    res["grid_nearest_of_class_200k_30m_s"], (rows, _d) = _timeit(
        lambda: ix.nearest_of_class(bx_, by_, bc, radius=30.0)
    )
    res["nearest_of_class_found"] = int((rows >= 0).sum())
    t0 = time.perf_counter()
    counts = [ix.in_bbox(*bx, limit=5000).total for bx in boxes]
    res["grid_viewport_2x1.5km_us"] = (time.perf_counter() - t0) / len(boxes) * 1e6
    big = (x.min() + 10_000, y.min() + 10_000, x.min() + 30_000, y.min() + 25_000)
    res["grid_viewport_20x15km_limit5000_ms"], big_res = _timeit(lambda: ix.in_bbox(*big, limit=5000), 3)
    res["grid_viewport_20x15km_ms"] = res["grid_viewport_20x15km_limit5000_ms"] * 1e3
    del res["grid_viewport_20x15km_limit5000_ms"]
    res["viewport_20x15km_total"] = big_res.total

    mv = rng.integers(0, n, 20_000)
    mx, my = x[mv] + rng.normal(0, 50, mv.size), y[mv] + rng.normal(0, 50, mv.size)
    mcodes = codes[mv].tolist()
    times = np.empty(mv.size)
    for i, (c, a, b) in enumerate(zip(mcodes, mx.tolist(), my.tolist(), strict=True)):
        t0 = time.perf_counter()
        ix.move(c, a, b)
        times[i] = time.perf_counter() - t0
    res["grid_move_mean_us"] = float(times.mean() * 1e6)
    res["grid_move_p99_us"] = float(np.percentile(times, 99) * 1e6)
    res["grid_move_max_ms"] = float(times.max() * 1e3)
    ins = np.empty(1000)
    for i in range(1000):
        t0 = time.perf_counter()
        ix.insert(f"3205069999{i:06d}", "0101", float(mx[i]), float(my[i]))
        ins[i] = time.perf_counter() - t0
    res["grid_insert_mean_us"] = float(ins.mean() * 1e6)
    dels = np.empty(1000)
    for i in range(1000):
        t0 = time.perf_counter()
        ix.delete(f"3205069999{i:06d}")
        dels[i] = time.perf_counter() - t0
    res["grid_delete_mean_us"] = float(dels.mean() * 1e6)

    if with_rtree:
        res["rtree_build_s"], rt = _timeit(lambda: _RtreeIndex(codes, cls, x, y))
        t0 = time.perf_counter()
        theirs = [
            rt.nearest(a, b, radius=radius, class_code=c, k=5)
            for a, b, c in zip(qx.tolist(), qy.tolist(), qc.tolist(), strict=True)
        ]
        res["rtree_nearest_k5_us"] = (time.perf_counter() - t0) / queries * 1e6
        res["nearest_disagreements"] = int(sum(a != b for a, b in zip(ours, theirs, strict=True)))
        t0 = time.perf_counter()
        rcounts = [rt.in_bbox(bx) for bx in boxes]
        res["rtree_viewport_count_2x1.5km_us"] = (time.perf_counter() - t0) / len(boxes) * 1e6
        res["viewport_disagreements"] = int(sum(a != b for a, b in zip(counts, rcounts, strict=True)))
        rtimes = np.empty(2000)
        for i, (c, a, b) in enumerate(
            zip(mcodes[:2000], mx[:2000].tolist(), my[:2000].tolist(), strict=True)
        ):
            t0 = time.perf_counter()
            rt.move(c, a, b)
            rtimes[i] = time.perf_counter() - t0
        res["rtree_move_mean_us"] = float(rtimes.mean() * 1e6)
        res["build_speedup_vs_rtree"] = res["rtree_build_s"] / res["grid_build_s"]
        res["nearest_speedup_vs_rtree"] = res["rtree_nearest_k5_us"] / res["grid_nearest_k5_us"]
    return res


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--points", type=int, default=680_000)
    ap.add_argument("--no-rtree", action="store_true")
    args = ap.parse_args(argv)
    data = synthetic_components(args.points)
    res = run_component_index_benchmark(*data, with_rtree=not args.no_rtree)
    if args.json:
        print(json.dumps(res, indent=2))
    else:
        for k, v in res.items():
            print(f"{k:40s} {v:.4g}" if isinstance(v, float) else f"{k:40s} {v}")
    bad = res.get("nearest_disagreements", 0) + res.get("viewport_disagreements", 0)
    return 0 if bad == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
