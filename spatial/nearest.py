"""Nearest reference point of the same class, within a radius.

Used to name the component an event is about ("the manhole cover nearest to the report, of the
class the event type concerns"). One shapely ``STRtree`` per class, so a query never looks at
points of another class; the index is plain data (numpy arrays and shapely trees) and can be built
once and shared.

Ties (two reference points at exactly the same distance) go to the lowest reference index, so the
answer does not depend on how the tree happened to be packed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely

__all__ = ["ClassIndex", "build_class_index", "nearest_of_class"]


def _as_xy(x: np.ndarray, y: np.ndarray, what: str) -> tuple[np.ndarray, np.ndarray]:
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if x.shape != y.shape or x.ndim != 1:
        raise ValueError(
            f"{what}: x and y must be 1-d arrays of the same length (got {x.shape} and {y.shape})"
        )
    return x, y


@dataclass(frozen=True)
class ClassIndex:
    """Reference points grouped by class, one ``STRtree`` per class.

    Attributes
    ----------
    classes
        Sorted unique class labels.
    members
        For each class, the indices (ascending) of its points in the original arrays.
    trees
        For each class, an ``STRtree`` over its points in ``members`` order.
    """

    classes: np.ndarray
    members: tuple[np.ndarray, ...]
    trees: tuple[shapely.STRtree, ...]
    size: int

    def nearest(
        self,
        qx: np.ndarray,
        qy: np.ndarray,
        qclass: np.ndarray,
        *,
        radius: float,
    ) -> tuple[np.ndarray, np.ndarray]:
        """For each query point, the nearest reference point of its class within ``radius``.

        Returns
        -------
        index
            Index into the reference arrays, ``-1`` where no point of the class is within
            ``radius`` (or the query class is missing / unknown).
        distance
            Distance to it in CRS units, ``nan`` where ``index`` is ``-1``.
        """
        qx, qy = _as_xy(qx, qy, "query points")
        qclass = np.asarray(qclass, dtype=object)
        if qclass.shape != qx.shape:
            raise ValueError("query classes must have one entry per query point")
        if not np.isfinite(radius) or radius < 0:
            raise ValueError(f"radius must be a finite number >= 0, got {radius!r}")
        n = qx.shape[0]
        out_idx = np.full(n, -1, dtype=np.int64)
        out_dist = np.full(n, np.nan, dtype=np.float64)
        if n == 0 or self.classes.size == 0:
            return out_idx, out_dist
        # Missing classes (None/NaN) never match; everything else is compared as text.
        present = ~_missing(qclass)
        keys = np.where(present, qclass, "").astype(str)
        pos = np.searchsorted(self.classes, keys)
        pos_c = np.minimum(pos, self.classes.size - 1)
        known = present & (self.classes[pos_c] == keys)
        finite = np.isfinite(qx) & np.isfinite(qy)
        for k in np.unique(pos_c[known & finite]):
            sel = np.flatnonzero(known & finite & (pos_c == k))
            pts = shapely.points(qx[sel], qy[sel])
            # all_matches=True returns every equidistant candidate; reduce to the lowest index
            # ourselves, because with all_matches=False shapely keeps whichever the tree met first.
            # shapely refuses max_distance=0; search a hair wider and keep only what is within.
            pairs, dist = self.trees[k].query_nearest(
                pts, max_distance=max(radius, 1e-9), return_distance=True, all_matches=True
            )
            keep = dist <= radius
            pairs, dist = pairs[:, keep], dist[keep]
            if pairs.shape[1] == 0:
                continue
            q_local, t_local = pairs
            ref = self.members[k][t_local]
            order = np.lexsort((ref, q_local))
            q_local, ref, dist = q_local[order], ref[order], dist[order]
            first = np.ones(q_local.shape[0], dtype=bool)
            first[1:] = q_local[1:] != q_local[:-1]
            out_idx[sel[q_local[first]]] = ref[first]
            out_dist[sel[q_local[first]]] = dist[first]
        return out_idx, out_dist


def _missing(values: np.ndarray) -> np.ndarray:
    """Where there is no class: None or NaN in an object array, "" in a text array."""
    if values.size == 0:
        return np.zeros(0, dtype=bool)
    if values.dtype.kind in "US":
        return values == values.dtype.type()
    return np.asarray((values == None) | (values != values), dtype=bool)  # noqa: E711


def build_class_index(px: np.ndarray, py: np.ndarray, pclass: np.ndarray) -> ClassIndex:
    """Index reference points by class (one ``STRtree`` per class)."""
    px, py = _as_xy(px, py, "reference points")
    pclass = np.asarray(pclass)
    if pclass.dtype.kind not in "US":
        pclass = pclass.astype(object)
    if pclass.shape != px.shape:
        raise ValueError("reference classes must have one entry per reference point")
    ok = ~_missing(pclass) & np.isfinite(px) & np.isfinite(py)
    keys = np.where(ok, pclass, "").astype(str)
    idx = np.flatnonzero(ok)
    classes, inverse = np.unique(keys[idx], return_inverse=True)
    # A stable sort keeps each class's members in ascending original order, which the tie rule
    # relies on.
    order = np.argsort(inverse, kind="stable")
    bounds = np.searchsorted(inverse[order], np.arange(classes.size + 1))
    members = tuple(idx[order[bounds[i] : bounds[i + 1]]] for i in range(classes.size))
    trees = tuple(shapely.STRtree(shapely.points(px[m], py[m])) for m in members)
    return ClassIndex(classes=classes, members=members, trees=trees, size=px.shape[0])


def nearest_of_class(
    px: np.ndarray,
    py: np.ndarray,
    pclass: np.ndarray,
    qx: np.ndarray,
    qy: np.ndarray,
    qclass: np.ndarray,
    *,
    radius: float,
) -> tuple[np.ndarray, np.ndarray]:
    """For each query point, the nearest reference point of the same class within ``radius``.

    Parameters
    ----------
    px, py, pclass
        Reference points (e.g. components) and their classes.
    qx, qy, qclass
        Query points (e.g. reports) and the class each looks for; ``None`` looks for nothing.
    radius
        Largest distance, in the units of the coordinates (metres in EPSG:4549).

    Returns
    -------
    index, distance
        Index into the reference arrays (``-1`` if none within ``radius``) and its distance
        (``nan`` if none). Equidistant candidates resolve to the lowest index.
    """
    return build_class_index(px, py, pclass).nearest(qx, qy, qclass, radius=radius)
