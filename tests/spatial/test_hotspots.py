"""Gi*, the false discovery rate, Mann-Kendall and the emerging classes, against PySAL and by hand."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from spatial.hotspots import benjamini_hochberg, emerging_classes, gi_star, mann_kendall


def _lattice(side: int) -> tuple[np.ndarray, np.ndarray]:
    """Queen neighbours of a side×side lattice in CSR form."""
    rows, cols = [], []
    for r in range(side):
        for c in range(side):
            for dr in (-1, 0, 1):
                for dc in (-1, 0, 1):
                    if (dr or dc) and 0 <= r + dr < side and 0 <= c + dc < side:
                        rows.append(r * side + c)
                        cols.append((r + dr) * side + c + dc)
    order = np.lexsort((cols, rows))
    rows_a, cols_a = np.asarray(rows)[order], np.asarray(cols)[order]
    indptr = np.concatenate([[0], np.cumsum(np.bincount(rows_a, minlength=side * side))])
    return indptr, cols_a


def test_gi_star_z_is_pysals() -> None:
    esda = pytest.importorskip("esda")
    libpysal = pytest.importorskip("libpysal")
    y = np.random.default_rng(1).gamma(2.0, 10.0, 144)
    indptr, indices = _lattice(12)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        w = libpysal.weights.lat2W(12, 12, rook=False)
        ref = esda.G_Local(y, w, transform="B", permutations=0, star=True)
    got = gi_star(y, indptr, indices, permutations=99, seed=0)
    np.testing.assert_allclose(got.z, ref.Zs, rtol=0, atol=1e-12)


def test_permutation_p_finds_a_planted_peak_and_not_noise() -> None:
    indptr, indices = _lattice(20)
    rng = np.random.default_rng(2)
    y = rng.poisson(20, 400).astype(float)
    peak = [8 * 20 + 8, 8 * 20 + 9, 9 * 20 + 8, 9 * 20 + 9]
    y[peak] += 40
    g = gi_star(y, indptr, indices, permutations=999, seed=3)
    assert g.p_sim.min() >= 1 / 1000
    flagged = benjamini_hochberg(g.p_z_sim, alpha=0.05) & (g.z_sim > 0)
    assert set(peak) <= set(np.flatnonzero(flagged))
    noise = gi_star(rng.poisson(20, 400).astype(float), indptr, indices, permutations=999, seed=4)
    assert benjamini_hochberg(noise.p_z_sim, alpha=0.05).mean() <= 0.05


def test_benjamini_hochberg_matches_pysal() -> None:
    esda = pytest.importorskip("esda")
    p = np.random.default_rng(5).uniform(0, 1, 200) ** 3
    threshold = esda.fdr(p, 0.05)
    np.testing.assert_array_equal(benjamini_hochberg(p, alpha=0.05), p <= threshold)
    assert not benjamini_hochberg(np.array([0.2, 0.5]), alpha=0.05).any()
    assert benjamini_hochberg(np.array([0.01, 0.04, 0.5]), alpha=0.05).tolist() == [True, False, False]


def test_mann_kendall_by_hand() -> None:
    s, z, p = mann_kendall(
        np.array([[1.0, 2, 3, 4, 5], [5.0, 4, 3, 2, 1], [1.0, 1, 1, 1, 1], [1.0, 3, 2, 2, 5]])
    )
    assert s.tolist() == [10, -10, 0, 5]
    var = 5 * 4 * 15 / 18  # no ties
    assert z[0] == pytest.approx(9 / np.sqrt(var)) and z[1] == pytest.approx(-9 / np.sqrt(var))
    assert z[2] == 0 and p[2] == 1
    tied_var = (5 * 4 * 15 - 2 * 1 * 9) / 18  # one pair of ties
    assert z[3] == pytest.approx(4 / np.sqrt(tied_var))
    assert p[0] == pytest.approx(0.0275, abs=1e-3)


def test_emerging_classes_follow_the_definitions() -> None:
    T, F = True, False
    hot = np.array(
        [
            [F, F, F, F, F, F, F, F, F, T],  # new
            [F, F, F, F, F, F, F, T, T, T],  # consecutive
            [T, T, T, T, T, T, T, T, T, T],  # intensifying (rising)
            [T, T, T, T, T, T, T, T, T, T],  # persistent (flat)
            [T, T, T, T, T, T, T, T, T, T],  # diminishing (falling)
            [T, F, T, F, F, T, F, F, F, T],  # sporadic
            [F, F, F, F, F, F, T, F, F, T],  # oscillating (cold in step 2)
            [T, T, T, T, T, T, T, T, T, F],  # historical
            [F, F, F, F, F, F, F, F, F, F],  # none
        ]
    )
    cold = np.zeros_like(hot)
    cold[6, 2] = True
    trend_z = np.array([0, 0, 3.0, 0.5, -3.0, 0, 0, 0, 0])
    trend_p = np.array([1, 1, 0.001, 0.6, 0.001, 1, 1, 1, 1])
    got = emerging_classes(hot, cold, trend_z, trend_p, alpha=0.05).tolist()
    assert got == [
        "new", "consecutive", "intensifying", "persistent", "diminishing", "sporadic", "oscillating", "historical",
        "none",
    ]  # fmt: skip
