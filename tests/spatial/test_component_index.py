"""ComponentIndex: answers equal a brute-force scan, before and after edits; errors; pickling."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spatial.component_index import ComponentIndex
from spatial.errors import CodeError, CoordinateError

CLASSES = ["0101", "0102", "0201", "0305"]


def _data(n: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    x = rng.uniform(500_000, 506_000, n)
    y = rng.uniform(3_460_000, 3_465_000, n)
    x[: n // 10] = np.round(x[: n // 10], -2)  # duplicates of position and points on cell lines
    y[: n // 10] = np.round(y[: n // 10], -2)
    codes = np.array([f"3205060101{i:06d}" for i in rng.permutation(n)])
    cls = np.array(CLASSES)[rng.integers(0, len(CLASSES), n)]
    return codes, cls, x, y


class Brute:
    """The reference: a dict of live components scanned in full."""

    def __init__(self, codes, cls, x, y):
        self.items = {
            c: (k, a, b)
            for c, k, a, b in zip(codes.tolist(), cls.tolist(), x.tolist(), y.tolist(), strict=True)
        }

    def nearest(self, px, py, radius, class_code, k):
        hits = []
        for c, (cl, a, b) in self.items.items():
            d = float(np.hypot(a - px, b - py))
            if d <= radius and (class_code is None or cl == class_code):
                hits.append((d, c))
        return [c for _, c in sorted(hits)[:k]]

    def in_bbox(self, box, classes=None):
        x0, y0, x1, y1 = box
        return sorted(
            c
            for c, (cl, a, b) in self.items.items()
            if x0 <= a <= x1 and y0 <= b <= y1 and (classes is None or cl in classes)
        )


def _check(ix, ref, rng, n_queries=30):
    for _ in range(n_queries):
        px, py = rng.uniform(499_800, 506_200), rng.uniform(3_459_800, 3_465_200)
        r = float(rng.choice([0.0, 30.0, 150.0, 700.0]))
        cl = [None, *CLASSES][rng.integers(0, 5)]
        k = int(rng.integers(1, 6))
        got = ix.nearest(px, py, radius=r, class_code=cl, k=k)
        want = ref.nearest(px, py, r, cl, k)
        assert got.codes.tolist() == want
        assert np.all(np.diff(got.distances) >= 0)
        assert np.all(got.distances <= r)
        box = (px - 300, py - 200, px + 300, py + 200)
        classes = None if cl is None else [cl, "0101"]
        assert sorted(ix.in_bbox(*box, class_codes=classes).codes.tolist()) == ref.in_bbox(box, classes)


def test_queries_match_brute_force():
    codes, cls, x, y = _data(3000)
    ix = ComponentIndex(codes, cls, x, y)
    _check(ix, Brute(codes, cls, x, y), np.random.default_rng(1))
    assert len(ix) == 3000


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 1000), cell=st.sampled_from([None, 17.0, 400.0]))
def test_queries_match_brute_force_after_random_edits(seed, cell):
    codes, cls, x, y = _data(2500, seed)
    ix = ComponentIndex(codes, cls, x, y, cell_size=cell)
    ref = Brute(codes, cls, x, y)
    rng = np.random.default_rng(seed)
    live = codes.tolist()
    for step in range(3000):  # more edits than components: the overlay outgrows the sorted arrays
        op = rng.integers(0, 10)
        if op < 6 and live:
            c = live[rng.integers(0, len(live))]
            a, b = rng.uniform(499_000, 507_000), rng.uniform(3_459_000, 3_466_000)
            ix.move(c, a, b)
            ref.items[c] = (ref.items[c][0], a, b)
        elif op < 8:
            c = f"3205069999{step:06d}"
            cl = CLASSES[rng.integers(0, 4)]
            a, b = rng.uniform(500_000, 506_000), rng.uniform(3_460_000, 3_465_000)
            ix.insert(c, cl, a, b)
            ref.items[c] = (cl, a, b)
            live.append(c)
        elif live:
            c = live.pop(rng.integers(0, len(live)))
            ix.delete(c)
            del ref.items[c]
    assert len(ix) == len(ref.items)
    assert ix.pending_edits > 0
    _check(ix, ref, rng, n_queries=20)
    ix.compact()
    assert ix.pending_edits == 0
    _check(ix, ref, rng, n_queries=10)


def test_every_update_is_constant_time_no_rebuild_on_the_edit_path():
    """Edits never trigger the sort of the whole index (the bench times them; here: no rebuild)."""
    codes, cls, x, y = _data(20_000, 1)
    ix = ComponentIndex(codes, cls, x, y)
    rebuilds = []
    original = ix._rebuild
    ix._rebuild = lambda: (rebuilds.append(1), original())[1]  # type: ignore[method-assign]
    rng = np.random.default_rng(2)
    for i, c in enumerate(codes[:15_000].tolist()):
        ix.move(c, float(x[i]) + rng.normal(0, 5), float(y[i]) + rng.normal(0, 5))
    assert rebuilds == [] and ix.pending_edits == 15_000
    q = ix.in_bbox(float(x.min()) - 100, float(y.min()) - 100, float(x.max()) + 100, float(y.max()) + 100)
    assert q.total == 20_000


def test_nearest_ties_by_code_and_result_fields():
    ix = ComponentIndex(["b", "a", "c"], ["0101", "0101", "0201"], [1.0, 1.0, 0.0], [0.0, 0.0, 1.0])
    r = ix.nearest(0.0, 0.0, radius=5.0, k=3)
    assert r.codes.tolist() == ["a", "b", "c"]
    assert r.distances.tolist() == [1.0, 1.0, 1.0]
    assert r.class_codes.tolist() == ["0101", "0101", "0201"]
    assert len(ix.nearest(0.0, 0.0, radius=5.0, class_code="9999")) == 0
    assert ix.nearest(0.0, 0.0, radius=0.5).codes.tolist() == []


def test_in_bbox_limit_spreads_over_the_box():
    codes, cls, x, y = _data(5000)
    ix = ComponentIndex(codes, cls, x, y)
    res = ix.in_bbox(500_000, 3_460_000, 506_000, 3_465_000, limit=100)
    assert len(res) == 100 and res.total == 5000 and res.truncated
    assert res.y.max() - res.y.min() > 4000  # not just the bottom rows
    assert len(ix.in_bbox(0, 0, 1, 1)) == 0
    assert len(ix.in_bbox(500_000, 3_460_000, 506_000, 3_465_000, limit=0)) == 0


def test_moves_inserts_deletes_and_errors():
    codes, cls, x, y = _data(100)
    ix = ComponentIndex(codes, cls, x, y)
    c0 = str(codes[0])
    ix.move(c0, 1.0, 2.0)
    assert ix.position(c0) == (1.0, 2.0)
    assert ix.nearest(1.0, 2.0, radius=1.0).codes.tolist() == [c0]
    with pytest.raises(CodeError, match=r"unknown component code '9'"):
        ix.move("9", 0.0, 0.0)
    with pytest.raises(CodeError, match=rf"component code '{c0}' is already in the index"):
        ix.insert(c0, "0101", 0.0, 0.0)
    ix.delete(c0)
    assert c0 not in ix
    with pytest.raises(CodeError, match=rf"unknown component code '{c0}'"):
        ix.delete(c0)
    ix.insert(c0, "0999", 5.0, 5.0)  # a deleted code may come back, with a new class
    assert ix.nearest(5.0, 5.0, radius=1.0, class_code="0999").codes.tolist() == [c0]
    # A code of another shape switches the index to string codes; everything still answers.
    ix.insert("lamp-7", "0101", 7.0, 7.0)
    assert ix.nearest(7.0, 7.0, radius=1.0).codes.tolist() == ["lamp-7"]
    assert ix.nearest(5.0, 5.0, radius=1.0).codes.tolist() == [c0]
    assert str(codes[1]) in ix
    with pytest.raises(CoordinateError, match=r"missing or infinite"):
        ix.move(str(codes[1]), float("nan"), 0.0)
    with pytest.raises(CoordinateError, match=r"missing or infinite"):
        ix.insert("new", "0101", 0.0, float("inf"))
    with pytest.raises(CodeError, match=r"non-empty string"):
        ix.insert("", "0101", 0.0, 0.0)
    with pytest.raises(CoordinateError, match=r"cannot search around"):
        ix.nearest(float("nan"), 0.0, radius=1.0)
    with pytest.raises(ValueError, match=r"radius must be"):
        ix.nearest(0.0, 0.0, radius=-1.0)


def test_construction_errors():
    with pytest.raises(CodeError, match=r"duplicate component code\(s\) '3205060101000001'"):
        ComponentIndex(["3205060101000001"] * 2, ["0101"] * 2, [0.0, 1.0], [0.0, 1.0])
    with pytest.raises(CodeError, match=r"duplicate component code\(s\) 'a'"):
        ComponentIndex(["a", "a", "b"], ["0101"] * 3, [0.0, 1.0, 2.0], [0.0, 1.0, 2.0])
    with pytest.raises(
        CoordinateError, match=r"1 component\(s\) have missing or infinite coordinates \('b'\)"
    ):
        ComponentIndex(["a", "b"], ["0101"] * 2, [0.0, np.nan], [0.0, 1.0])
    with pytest.raises(CodeError, match=r"give one of each per component"):
        ComponentIndex(["a", "b"], ["0101"], [0.0, 1.0], [0.0, 1.0])
    empty = ComponentIndex([], [], [], [])
    assert len(empty) == 0 and len(empty.nearest(0.0, 0.0, radius=10.0)) == 0
    empty.insert("x", "0101", 1.0, 1.0)
    assert empty.nearest(1.0, 1.0, radius=1.0).codes.tolist() == ["x"]


def test_pickle_round_trip_with_pending_edits():
    codes, cls, x, y = _data(2000)
    ix = ComponentIndex(codes, cls, x, y)
    ix.move(str(codes[3]), 503_000.0, 3_462_000.0)
    ix.insert("3205069999000001", "0101", 503_001.0, 3_462_000.0)
    clone = pickle.loads(pickle.dumps(ix))
    a = ix.nearest(503_000.0, 3_462_000.0, radius=50.0, k=3)
    b = clone.nearest(503_000.0, 3_462_000.0, radius=50.0, k=3)
    assert a.codes.tolist() == b.codes.tolist()
    assert a.codes.tolist()[:2] == [str(codes[3]), "3205069999000001"]
    clone.delete(str(codes[3]))
    assert str(codes[3]) in ix  # the copy is independent


# -- nearest of class, many queries at once (routing) ------------------------------------------


def _by_position(px, py, pc) -> ComponentIndex:
    """An index whose code order is the input order: ties by code are ties by position."""
    return ComponentIndex(np.array([f"{i:06d}" for i in range(px.size)]), pc, px, py)


def _brute_nearest(px, py, pc, qx, qy, qc, radius):
    idx = np.full(qx.size, -1)
    dist = np.full(qx.size, np.nan)
    for i in range(qx.size):
        same = np.flatnonzero(pc == qc[i])
        if same.size == 0 or not (np.isfinite(qx[i]) and np.isfinite(qy[i])):
            continue
        d = np.hypot(px[same] - qx[i], py[same] - qy[i])
        if d.min() <= radius:
            idx[i] = same[d == d.min()].min()
            dist[i] = d.min()
    return idx, dist


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n_ref=st.integers(1, 80),
    n_q=st.integers(0, 40),
    radius=st.floats(0, 40),
    lattice=st.booleans(),
    cell=st.sampled_from([None, 3.0, 50.0]),
)
def test_nearest_of_class_matches_brute_force(seed, n_ref, n_q, radius, lattice, cell):
    rng = np.random.default_rng(seed)
    # On an integer lattice many candidates are equidistant, which exercises the tie rule.
    draw = (lambda n: rng.integers(0, 20, n).astype(float)) if lattice else (lambda n: rng.uniform(0, 100, n))
    px, py, qx, qy = draw(n_ref), draw(n_ref), draw(n_q), draw(n_q)
    pc = rng.choice(np.array(["a", "b", "c"]), n_ref)
    qc = rng.choice(np.array(["a", "b", "z", None], dtype=object), n_q)
    index = ComponentIndex(np.array([f"{i:06d}" for i in range(n_ref)]), pc, px, py, cell_size=cell)
    got_i, got_d = index.nearest_of_class(qx, qy, qc, radius=radius, max_candidates=50)
    exp_i, exp_d = _brute_nearest(px, py, pc, qx, qy, qc, radius)
    np.testing.assert_array_equal(got_i, exp_i)
    np.testing.assert_allclose(got_d, exp_d, equal_nan=True)


def test_nearest_of_class_sees_edits_and_agrees_with_nearest():
    codes, cls, x, y = _data(3000, seed=4)
    index = ComponentIndex(codes, cls, x, y)
    index.move(codes[0], 503_000.0, 3_462_000.0)
    index.delete(codes[1])
    index.insert("3205060101999999", "0101", 503_001.0, 3_462_000.0)
    rng = np.random.default_rng(5)
    qx, qy = rng.uniform(500_000, 506_000, 300), rng.uniform(3_460_000, 3_465_000, 300)
    qx[0], qy[0] = 503_000.4, 3_462_000.0
    qc = np.array(CLASSES, dtype=object)[rng.integers(0, len(CLASSES), 300)]
    qc[0] = cls[0] if cls[0] == "0101" else "0101"
    rows, d = index.nearest_of_class(qx, qy, qc, radius=150.0)
    assert index.pending_edits == 0  # folded in first
    for i in range(300):
        one = index.nearest(qx[i], qy[i], radius=150.0, class_code=qc[i])
        if len(one) == 0:
            assert rows[i] == -1 and np.isnan(d[i])
        else:
            assert d[i] == one.distances[0]
    found = set(index._code_str(rows[rows >= 0]).tolist())
    assert codes[1] not in found


def test_nearest_of_class_cases_and_refusals():
    px, py = np.array([0.0, 10.0, 5.0, 1.0, -1.0]), np.zeros(5)
    pc = np.array(["A", "A", "B", "C", "C"])
    index = _by_position(px, py, pc)
    rows, d = index.nearest_of_class(
        np.array([4.0, 4.0, 0.0, 3.0]), np.zeros(4), np.array(["A", "B", "C", "Z"]), radius=100
    )
    assert rows.tolist() == [0, 2, 3, -1]  # only the query's class counts; C is a tie, lowest code wins
    assert d[:3].tolist() == [4.0, 1.0, 1.0] and np.isnan(d[3])
    rows, _ = index.nearest_of_class(np.array([3.0, 0.0]), np.zeros(2), np.array(["A", "A"]), radius=3.0)
    assert rows.tolist() == [0, 0]  # the radius is inclusive; 0 still finds a point exactly there
    rows, d = index.nearest_of_class(
        np.array([0.0, 0.0, np.nan]), np.zeros(3), np.array([None, np.nan, "A"], dtype=object), radius=100
    )
    assert rows.tolist() == [-1, -1, -1] and np.isnan(d).all()
    with pytest.raises(ValueError, match="radius must be a finite"):
        index.nearest_of_class(np.zeros(1), np.zeros(1), np.array(["A"]), radius=-1)
    with pytest.raises(ValueError, match="one class per query point"):
        index.nearest_of_class(np.zeros(2), np.zeros(2), np.array(["A"]), radius=1)
