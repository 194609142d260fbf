"""Hot-spot maths: Getis-Ord Gi* with conditional permutation, the Benjamini–Hochberg false
discovery rate, the Mann-Kendall trend test and the emerging hot-spot classes.

Pure numpy (and ``math``): the layers give the values per area and the adjacency, as CSR arrays.

- **Gi*** (Getis & Ord 1992; Ord & Getis 1995) with binary weights that include the area itself:
  ``G*_i = Σ_j w_ij x_j / Σ_j x_j``, reported as the usual z-score. Inference is by conditional
  randomisation, as PySAL's ``esda.G_Local(star=True)`` does it: the area keeps its value, its
  ``k_i`` neighbours are drawn from the other areas, ``permutations`` times. The pseudo p-value
  of a permutation test cannot go below ``1 / (permutations + 1)`` (0.001 for 999), and the
  Benjamini–Hochberg procedure over 887 areas lets no p-value pass unless at least
  ``0.001·887/0.05 ≈ 18`` areas sit at that floor; so the statistic is standardised by the mean
  and spread of its own permutation distribution (esda's ``z_sim``) and the two-sided normal
  p-value of that (esda's ``p_z_sim``) goes into the correction. The pseudo p-value is kept too.
- **False discovery rate**: Benjamini & Hochberg (1995), over the areas of one time step.
- **Mann-Kendall**: S with the tie-corrected variance, continuity-corrected z, two-sided p.
- **Emerging hot-spot classes** follow ESRI's *Emerging Hot Spot Analysis* definitions (new,
  consecutive, intensifying, persistent, diminishing, sporadic, oscillating, historical), with
  the Mann-Kendall trend of each area's Gi* z-scores over the time steps.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = [
    "CLASSES",
    "GiStar",
    "benjamini_hochberg",
    "emerging_classes",
    "gi_star",
    "mann_kendall",
]


@dataclass(frozen=True)
class GiStar:
    """Gi* of every area: the analytical z, the permutation z and the p-values."""

    z: np.ndarray  # analytical z-score
    z_sim: np.ndarray  # (observed - mean of permutations) / sd of permutations
    p_sim: np.ndarray  # pseudo p-value, one-sided towards the observed side: (min(#≥, #≤) + 1) / (P + 1)
    p_z_sim: np.ndarray  # two-sided normal p-value of z_sim


def _normal_two_sided(z: np.ndarray) -> np.ndarray:
    erfc = np.vectorize(math.erfc, otypes=[float])
    return erfc(np.abs(z) / math.sqrt(2.0))


def gi_star(
    values: np.ndarray,
    indptr: np.ndarray,
    indices: np.ndarray,
    *,
    permutations: int = 999,
    seed: int = 0,
) -> GiStar:
    """Gi* of ``values`` over the neighbours in CSR form (``indices[indptr[i]:indptr[i+1]]`` are
    the neighbours of ``i``, itself excluded); binary weights, the area itself included."""
    x = np.asarray(values, dtype=float)
    n = x.size
    indptr = np.asarray(indptr, dtype=np.int64)
    indices = np.asarray(indices, dtype=np.int64)
    k = np.diff(indptr)
    rows = np.repeat(np.arange(n), k)
    local = np.bincount(rows, weights=x[indices], minlength=n) + x  # Σ_j w_ij x_j with w_ii = 1
    w = k + 1.0
    mean = x.mean()
    s = math.sqrt(max((x**2).mean() - mean**2, 0.0))
    with np.errstate(invalid="ignore", divide="ignore"):
        z = (local - mean * w) / (s * np.sqrt((n * w - w**2) / (n - 1)))
    z = np.where(np.isfinite(z), z, 0.0)

    # Conditional randomisation: one matrix of draws from the other n-1 areas, shared by all
    # areas (as esda does); area i takes its first k_i columns, indices at or above i moved up by one.
    rng = np.random.default_rng(seed)
    kmax = int(k.max()) if n else 0
    draws = np.empty((permutations, kmax), dtype=np.int64)
    for p in range(permutations):  # 999 short draws without replacement (~10 ms in all)
        draws[p] = rng.choice(n - 1, size=kmax, replace=False)
    sim = np.empty((n, permutations))
    for kk in np.unique(k):  # one vectorised block per neighbour count (a dozen counts at most)
        who = np.flatnonzero(k == kk)
        if kk == 0:
            sim[who] = x[who, None]
            continue
        d = draws[None, :, :kk]
        d = d + (d >= who[:, None, None])
        sim[who] = x[d].sum(axis=2) + x[who, None]
    larger = (sim >= local[:, None]).sum(axis=1)
    smaller = (sim <= local[:, None]).sum(axis=1)
    p_sim = (np.minimum(larger, smaller) + 1.0) / (permutations + 1.0)
    sd = sim.std(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        z_sim = np.where(sd > 0, (local - sim.mean(axis=1)) / sd, 0.0)
    return GiStar(z=z, z_sim=z_sim, p_sim=p_sim, p_z_sim=_normal_two_sided(z_sim))


def benjamini_hochberg(p: np.ndarray, *, alpha: float) -> np.ndarray:
    """Which of the p-values are discoveries at false discovery rate ``alpha`` (BH 1995)."""
    p = np.asarray(p, dtype=float)
    m = p.size
    if m == 0:
        return np.zeros(0, dtype=bool)
    order = np.argsort(p, kind="stable")
    passed = p[order] <= alpha * np.arange(1, m + 1) / m
    out = np.zeros(m, dtype=bool)
    if passed.any():
        last = np.flatnonzero(passed)[-1]
        out[order[: last + 1]] = True
    return out


def mann_kendall(series: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mann-Kendall trend of each row of ``series`` (areas × time steps): S, z and two-sided p."""
    y = np.asarray(series, dtype=float)
    t = y.shape[1]
    i, j = np.triu_indices(t, k=1)
    s = np.sign(y[:, j] - y[:, i]).sum(axis=1)
    # Tie correction: Σ g(g-1)(2g+5) over the groups of equal values of each row.
    ys = np.sort(y, axis=1)
    new = np.ones_like(ys, dtype=bool)
    new[:, 1:] = ys[:, 1:] != ys[:, :-1]
    run = np.cumsum(new, axis=1)
    ties = np.zeros(y.shape[0])
    for r in range(1, t + 1):  # group sizes per row, over at most t groups
        g = (run == r).sum(axis=1)
        ties += g * (g - 1) * (2 * g + 5)
    var = (t * (t - 1) * (2 * t + 5) - ties) / 18.0
    with np.errstate(invalid="ignore", divide="ignore"):
        z = np.where(var > 0, (s - np.sign(s)) / np.sqrt(np.maximum(var, 1e-300)), 0.0)
    return s, z, _normal_two_sided(z)


#: The emerging hot-spot classes, as ESRI's Emerging Hot Spot Analysis defines them.
CLASSES: dict[str, str] = {
    "new": "hot in the final step and never before",
    "consecutive": "one uninterrupted run of at least two hot steps ending in the final step, never hot "
    "before the run, hot in less than 90 % of the steps",
    "intensifying": "hot in at least 90 % of the steps including the final one, z-scores rising significantly",
    "persistent": "hot in at least 90 % of the steps including the final one, no significant trend",
    "diminishing": "hot in at least 90 % of the steps including the final one, z-scores falling significantly",
    "sporadic": "hot in the final step, on and off before, hot in less than 90 % of the steps, never cold",
    "oscillating": "hot in the final step, cold in some earlier step, hot in less than 90 % of the steps",
    "historical": "not hot in the final step, hot in at least 90 % of the steps",
    "none": "no pattern of hot spots",
}


def emerging_classes(
    hot: np.ndarray, cold: np.ndarray, trend_z: np.ndarray, trend_p: np.ndarray, *, alpha: float = 0.05
) -> np.ndarray:
    """The emerging class of each area from its hot and cold steps (areas × steps) and the
    Mann-Kendall trend of its z-scores; first matching class in the order of :data:`CLASSES`."""
    hot = np.asarray(hot, dtype=bool)
    cold = np.asarray(cold, dtype=bool)
    n, t = hot.shape
    share = hot.sum(axis=1) / t
    final = hot[:, -1]
    before = hot[:, :-1].any(axis=1)
    # The run of hot steps that ends in the final step, and whether any hot step precedes it.
    not_hot = ~hot
    last_gap = np.where(not_hot.any(axis=1), t - 1 - np.argmax(not_hot[:, ::-1], axis=1), -1)
    run = np.where(final, t - 1 - last_gap, 0)
    first_hot = np.where(hot.any(axis=1), np.argmax(hot, axis=1), t)
    hot_before_run = first_hot < last_gap
    rising = (trend_p <= alpha) & (trend_z > 0)
    falling = (trend_p <= alpha) & (trend_z < 0)
    mostly = share >= 0.9
    out = np.full(n, "none", dtype=object)
    rules = [
        ("new", final & ~before),
        ("consecutive", final & (run >= 2) & ~hot_before_run & ~mostly),
        ("intensifying", final & mostly & rising),
        ("persistent", final & mostly & ~rising & ~falling),
        ("diminishing", final & mostly & falling),
        ("sporadic", final & ~mostly & before & ~cold.any(axis=1)),
        ("oscillating", final & ~mostly & cold[:, :-1].any(axis=1)),
        ("historical", ~final & mostly),
    ]
    done = np.zeros(n, dtype=bool)
    for name, rule in rules:
        take = rule & ~done
        out[take] = name
        done |= take
    return out
