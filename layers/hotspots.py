"""Hot spots per level-3 grid and month, and their emerging classes (研判: where problems concentrate).

The value of a grid in a month is its case density (cases reported per km²): cases spread at
random over the land then give no pattern, whatever the size of the grids. Neighbours are the
grids that share a boundary or a corner (libpysal ``Queen`` contiguity on the current
generation). Gi*, the false discovery rate and the emerging classes are computed by
:mod:`spatial.hotspots`. PySAL's own ``esda.G_Local`` is the reference (``engine="esda"``) rather
than the default path: it compiles numba kernels on its first call in every process (30–90 s on a
2-core machine), longer than a page may take; the z-scores agree to 1e-14 and both flag the same
planted cluster (tests/spatial/test_hotspots.py, tests/layers/test_hotspots.py).
"""

from __future__ import annotations

import datetime as dt
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from layers.errors import AssessmentError
from layers.grids import load_grids
from layers.store import Store
from spatial.hotspots import CLASSES, GiStar, benjamini_hochberg, emerging_classes, gi_star, mann_kendall

__all__ = ["ALPHA", "CLASSES", "HotSpots", "grid_neighbours", "hot_spots", "monthly_counts"]

#: The false discovery rate of the hot and cold spots of a month.
ALPHA = 0.05
PERMUTATIONS = 999


@dataclass(frozen=True)
class Neighbours:
    codes: np.ndarray  # level-3 grid codes, in order
    area_km2: np.ndarray
    indptr: np.ndarray
    indices: np.ndarray


def grid_neighbours(store: Store) -> Neighbours:
    """Queen contiguity of the level-3 grids of the current generation (libpysal)."""
    from libpysal.weights import Queen

    grids = load_grids(store, level=3).sort_values("code").reset_index(drop=True)
    with warnings.catch_warnings():  # islands (grids on lake islands) are expected and handled
        warnings.simplefilter("ignore")
        w = Queen.from_dataframe(grids, use_index=False, silence_warnings=True)
    csr = w.sparse.tocsr()
    csr.sort_indices()
    return Neighbours(
        codes=grids["code"].to_numpy(dtype=object),
        area_km2=grids["area_m2"].to_numpy(dtype=float) / 1e6,
        indptr=csr.indptr.astype(np.int64),
        indices=csr.indices.astype(np.int64),
    )


def monthly_counts(
    store: Store, months: list[str], codes: np.ndarray, *, where: str = "", params: tuple = ()
) -> np.ndarray:
    """Cases reported per grid (rows, in ``codes`` order) and month (columns), one SQL group-by."""
    start = f"{months[0]}-01"
    last = dt.date.fromisoformat(f"{months[-1]}-01")
    end = (last.replace(day=28) + dt.timedelta(days=4)).replace(day=1).isoformat()
    extra = f" AND {where}" if where else ""
    tab = store.read_arrow(
        "SELECT grid_code, substr(reported_at, 1, 7) AS month, count(*) AS n FROM cases "
        f"WHERE reported_at >= ? AND reported_at < ?{extra} GROUP BY grid_code, month",
        [start, end, *params],
    ).to_pandas()
    row = pd.Index(codes).get_indexer(tab["grid_code"])
    col = pd.Index(months).get_indexer(tab["month"])
    ok = (row >= 0) & (col >= 0)
    out = np.zeros((len(codes), len(months)), dtype=np.int64)
    np.add.at(out, (row[ok], col[ok]), tab["n"].to_numpy()[ok])
    return out


@dataclass(frozen=True)
class HotSpots:
    """Per grid and month: counts, density, Gi* and significance; per grid: the emerging class."""

    months: list[str]
    cells: pd.DataFrame  # code, month, cases, density, z, z_sim, p_sim, p, hot, cold, spot
    classes: pd.DataFrame  # code, class, trend_s, trend_z, trend_p, hot_months, cold_months
    alpha: float


def hot_spots(
    store: Store,
    months: list[str],
    *,
    permutations: int = PERMUTATIONS,
    alpha: float = ALPHA,
    seed: int = 0,
    neighbours: Neighbours | None = None,
    counts: np.ndarray | None = None,
    engine: str = "numpy",
) -> HotSpots:
    """Gi* hot and cold spots of every month of ``months`` (``YYYY-MM``), with the false
    discovery rate ``alpha`` per month, and the emerging class of each grid over them.

    ``engine="esda"`` computes Gi* with PySAL's ``esda.G_Local`` instead (the reference; its
    first call in a process compiles for a minute or more)."""
    if not months:
        raise AssessmentError("no month to look for hot spots in")
    if engine not in ("numpy", "esda"):
        raise AssessmentError(f"unknown Gi* engine {engine!r}; choose numpy or esda")
    nb = neighbours or grid_neighbours(store)
    c = counts if counts is not None else monthly_counts(store, months, nb.codes)
    if counts is None and c.sum() == 0:
        raise AssessmentError(f"no case was reported in {months[0]}..{months[-1]}")
    density = c / nb.area_km2[:, None]
    n, t = density.shape
    z = np.zeros((n, t))
    cols: dict[str, list[np.ndarray]] = {k: [] for k in ("z", "z_sim", "p_sim", "p", "hot", "cold")}
    gi = _esda_gi_star(nb) if engine == "esda" else gi_star
    for m in range(t):  # a dozen months; each is one vectorised Gi* over all grids
        g = gi(density[:, m], nb.indptr, nb.indices, permutations=permutations, seed=seed + m)
        sig = benjamini_hochberg(g.p_z_sim, alpha=alpha)
        z[:, m] = g.z
        for key, value in (("z", g.z), ("z_sim", g.z_sim), ("p_sim", g.p_sim), ("p", g.p_z_sim),
                           ("hot", sig & (g.z_sim > 0)), ("cold", sig & (g.z_sim < 0))):  # fmt: skip
            cols[key].append(value)
    stack = {k: np.column_stack(v) for k, v in cols.items()}
    spot = np.where(stack["hot"], "hot", np.where(stack["cold"], "cold", "none"))
    cells = pd.DataFrame(
        {
            "code": np.repeat(nb.codes, t),
            "month": np.tile(np.asarray(months, dtype=object), n),
            "cases": c.ravel(),
            "density": density.ravel(),
            **{k: v.ravel() for k, v in stack.items()},
            "spot": spot.ravel(),
        }
    )
    s, tz, tp = mann_kendall(z)
    cls = emerging_classes(stack["hot"], stack["cold"], tz, tp, alpha=alpha)
    classes = pd.DataFrame(
        {
            "code": nb.codes,
            "class": cls,
            "trend_s": s,
            "trend_z": tz,
            "trend_p": tp,
            "hot_months": stack["hot"].sum(axis=1),
            "cold_months": stack["cold"].sum(axis=1),
        }
    )
    return HotSpots(months=list(months), cells=cells, classes=classes, alpha=alpha)


def _esda_gi_star(nb: Neighbours):  # type: ignore[no-untyped-def]
    """Gi* through ``esda.G_Local(star=True)`` on the same contiguity, in :class:`GiStar` form."""
    import esda
    from libpysal.weights import WSP
    from scipy.sparse import csr_matrix

    n = len(nb.codes)
    sparse = csr_matrix((np.ones(nb.indices.size), nb.indices, nb.indptr), shape=(n, n))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        w = WSP(sparse).to_W(silence_warnings=True)

    def run(
        values: np.ndarray, indptr: np.ndarray, indices: np.ndarray, *, permutations: int, seed: int
    ) -> GiStar:
        with warnings.catch_warnings():  # islands: no neighbours, no permutation distribution
            warnings.simplefilter("ignore")
            g = esda.G_Local(values, w, transform="B", permutations=permutations, star=True, seed=seed)
        z_sim = np.nan_to_num(np.asarray(g.z_sim, dtype=float))
        # esda's p_z_sim is one-sided; the FDR runs on two-sided p-values as with the numpy engine.
        p_two = np.minimum(1.0, 2.0 * np.nan_to_num(np.asarray(g.p_z_sim, dtype=float), nan=0.5))
        return GiStar(z=np.asarray(g.Zs, dtype=float), z_sim=z_sim, p_sim=np.asarray(g.p_sim, dtype=float),
                      p_z_sim=p_two)  # fmt: skip

    return run


def class_descriptions() -> dict[str, str]:
    return dict(CLASSES)
