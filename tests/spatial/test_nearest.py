"""Nearest reference point of the same class within a radius (spatial/nearest.py)."""

from __future__ import annotations

import numpy as np
import pytest
import shapely

from spatial.nearest import build_class_index, nearest_of_class

# Reference points on a line: two lamps ("A") and a manhole cover ("B") between them.
PX = np.array([0.0, 10.0, 5.0, 20.0])
PY = np.zeros(4)
PCLASS = np.array(["A", "A", "B", None], dtype=object)


def test_only_points_of_the_query_class_count():
    idx, dist = nearest_of_class(
        PX, PY, PCLASS, np.array([4.0]), np.array([0.0]), np.array(["A"]), radius=100
    )
    assert idx.tolist() == [0] and dist.tolist() == [4.0]  # the "B" at 1 m is of another class
    idx, dist = nearest_of_class(
        PX, PY, PCLASS, np.array([4.0]), np.array([0.0]), np.array(["B"]), radius=100
    )
    assert idx.tolist() == [2] and dist.tolist() == [1.0]


def test_radius_is_inclusive_and_misses_are_minus_one_and_nan():
    q = np.array([3.0, 3.0, 3.0])
    idx, dist = nearest_of_class(PX, PY, PCLASS, q, np.zeros(3), np.array(["A", "A", "C"]), radius=3.0)
    assert idx.tolist() == [0, 0, -1]
    idx, dist = nearest_of_class(PX, PY, PCLASS, q[:1], np.zeros(1), np.array(["A"]), radius=2.999)
    assert idx.tolist() == [-1] and np.isnan(dist).all()
    idx, _ = nearest_of_class(PX, PY, PCLASS, np.array([0.0]), np.zeros(1), np.array(["A"]), radius=0.0)
    assert idx.tolist() == [0]  # a radius of 0 still finds a point exactly there


def test_a_tie_goes_to_the_lowest_reference_index():
    idx, dist = nearest_of_class(PX, PY, PCLASS, np.array([5.0]), np.array([0.0]), np.array(["A"]), radius=10)
    assert idx.tolist() == [0] and dist.tolist() == [5.0]
    # Same answer whatever order the references come in: reverse them and the lowest index wins again.
    rx, rclass = PX[::-1].copy(), PCLASS[::-1].copy()
    idx, _ = nearest_of_class(rx, PY, rclass, np.array([5.0]), np.array([0.0]), np.array(["A"]), radius=10)
    assert idx.tolist() == [2]


def test_missing_classes_and_coordinates_never_match():
    qclass = np.array([None, np.nan, "A"], dtype=object)
    qx = np.array([0.0, 0.0, np.nan])
    idx, dist = nearest_of_class(PX, PY, PCLASS, qx, np.zeros(3), qclass, radius=100)
    assert idx.tolist() == [-1, -1, -1] and np.isnan(dist).all()


def test_agrees_with_a_brute_force_oracle():
    rng = np.random.default_rng(3)
    px, py = rng.uniform(0, 100, 300), rng.uniform(0, 100, 300)
    pclass = rng.choice(np.array(["0101", "0102", "0201"], dtype=object), 300)
    qx, qy = rng.uniform(0, 100, 200), rng.uniform(0, 100, 200)
    qclass = rng.choice(np.array(["0101", "0102", "0201", "0999"], dtype=object), 200)
    idx, dist = build_class_index(px, py, pclass).nearest(qx, qy, qclass, radius=8.0)
    d = shapely.distance(shapely.points(qx, qy)[:, None], shapely.points(px, py)[None, :])
    d[qclass[:, None] != pclass[None, :]] = np.inf
    best = np.where(d.min(axis=1) <= 8.0, d.argmin(axis=1), -1)
    assert idx.tolist() == best.tolist()
    assert np.allclose(dist[idx >= 0], d.min(axis=1)[idx >= 0])


def test_bad_input_is_refused():
    index = build_class_index(PX, PY, PCLASS)
    with pytest.raises(ValueError, match="radius must be a finite number"):
        index.nearest(np.zeros(1), np.zeros(1), np.array(["A"]), radius=-1)
    with pytest.raises(ValueError, match="one entry per query point"):
        index.nearest(np.zeros(2), np.zeros(2), np.array(["A"]), radius=1)
    with pytest.raises(ValueError, match="same length"):
        build_class_index(np.zeros(2), np.zeros(3), np.array(["A", "A"]))
    with pytest.raises(ValueError, match="one entry per reference point"):
        build_class_index(np.zeros(2), np.zeros(2), np.array(["A"]))
