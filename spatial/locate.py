"""Point → grid location with "covers" semantics and one tie rule.

A point belongs to every grid whose closed polygon covers it (interior or boundary). Where several
grids cover a point (a shared edge or vertex, or overlapping input), the grid with the LOWEST code in
string order wins: see :func:`covering_winner` and :func:`resolve_ties`, the single definition of the
rule used by the locator, its tests and every export.

How :class:`GridLocator` answers quickly and exactly
-----------------------------------------------------
The bounding box is cut into a two-level table. Coarse cells that no boundary edge touches store their
answer directly. Coarse cells that an edge touches hold an S×S sub-table of fine cells; fine cells
that no edge touches again store their answer. Only points that fall in a fine cell touched by an edge
(a few per cent of them) run a point-in-polygon crossing test, against the few candidate grids of that
cell and only the edges lying in a thin horizontal band around the point. The orientation sign in that
test is filtered with Shewchuk's error bound; the rare point that the bound cannot decide (a point on,
or within rounding error of, an edge or vertex) is handed to GEOS, which is the reference. The answers
are therefore identical to GEOS ``intersects``/``covers`` plus the tie rule, on every point.

Table values are computed by scanline rasterisation at cell-centre rows: per row, the crossings of
all edges with the row are sorted per polygon and paired into inside spans (even-odd, so holes and
multi-part grids need no special case). A cell that no edge touches is wholly inside or wholly outside
each polygon, so its centre decides it.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import shapely

from spatial import _compiled
from spatial.errors import CodeError, GeometryError

__all__ = ["TIE_RULE", "GridLocator", "covering_winner", "resolve_ties"]

TIE_RULE = (
    "A point on a shared edge or vertex, or in the overlap of several grids, belongs to the grid "
    "with the lowest code in string order."
)

# Shewchuk's ccwerrboundA is (3 + 16 eps) * eps with eps = 2**-53; a few times that costs nothing
# (it only sends a handful more points to GEOS) and leaves room for the rounding of the bound itself.
_ORIENT_ERR = 8.0 * 2.0**-53

_NONE = -1
# Below this many points the compiled kernel's call overhead is not worth it.
_COMPILED_MIN_POINTS = 64
_BIG = np.iinfo(np.int32).max


def covering_winner(codes: Iterable[str | None]) -> str | None:
    """The winner among the codes of all grids covering one point (``None`` if there are none).

    This is :data:`TIE_RULE`: the lowest code in string order.
    """
    present = [c for c in codes if c is not None]
    return min(present) if present else None


def resolve_ties(point_index: np.ndarray, grid_index: np.ndarray, n_points: int) -> np.ndarray:
    """Apply :data:`TIE_RULE` to (point, covering grid) pairs.

    Parameters
    ----------
    point_index, grid_index
        Parallel integer arrays, one entry per pair "grid covers point". Grid indices must be
        positions in a code array sorted ascending, so that the lowest index is the lowest code.
    n_points
        Number of points.

    Returns
    -------
    numpy.ndarray
        ``int64`` array of length ``n_points``: the winning grid index per point, ``-1`` where no
        grid covers it.
    """
    out = np.full(n_points, _BIG, dtype=np.int64)
    np.minimum.at(out, np.asarray(point_index, dtype=np.intp), np.asarray(grid_index, dtype=np.int64))
    out[out == _BIG] = _NONE
    return out


def _name_codes(codes: Sequence[str], *, limit: int = 10) -> str:
    shown = ", ".join(repr(str(c)) for c in codes[:limit])
    more = len(codes) - limit
    return shown + (f" and {more} more" if more > 0 else "")


def _check_codes(codes: Any) -> np.ndarray:
    arr = np.asarray(codes, dtype=object).ravel()
    bad = [i for i, c in enumerate(arr.tolist()) if not isinstance(c, str) or not c]
    if bad:
        raise CodeError(
            f"{len(bad)} grid code(s) are not non-empty strings (rows {bad[:10]}); "
            "give every grid its code as text."
        )
    out = arr.astype(str)
    uniq, counts = np.unique(out, return_counts=True)
    dup = uniq[counts > 1]
    if dup.size:
        raise CodeError(f"duplicate grid code(s) {_name_codes(dup.tolist())}: every grid needs its own code.")
    return out


#: No projected CRS in metres reaches this far (the Earth's circumference is 4e7 m).
_MAX_COORDINATE = 1e8


def _check_geoms(geoms: Any, codes: np.ndarray) -> np.ndarray:
    arr = np.asarray(geoms, dtype=object).ravel()
    if arr.shape[0] != codes.shape[0]:
        raise GeometryError(f"{arr.shape[0]} geometries but {codes.shape[0]} codes: give one code per grid.")
    problems: list[tuple[str, str]] = []
    names = codes.tolist()
    is_geom = np.array([isinstance(g, shapely.Geometry) for g in arr.tolist()], dtype=bool)
    for i in np.flatnonzero(~is_geom):
        problems.append((names[i], "is not a geometry"))
    geo = arr.copy()
    geo[~is_geom] = None
    type_id = shapely.get_type_id(geo)
    wrong = is_geom & ~np.isin(type_id, (3, 6))
    for i in np.flatnonzero(wrong):
        problems.append((names[i], f"is a {arr[i].geom_type}, not a Polygon or MultiPolygon"))
    ok = is_geom & ~wrong
    empty = ok & shapely.is_empty(geo)
    for i in np.flatnonzero(empty):
        problems.append((names[i], "is empty"))
    ok &= ~empty
    geo[~ok] = None
    coords, which = shapely.get_coordinates(geo, return_index=True)
    nonfinite = np.zeros(arr.shape[0], dtype=bool)
    nonfinite[which[~np.isfinite(coords).all(axis=1)]] = True
    for i in np.flatnonzero(nonfinite):
        problems.append((names[i], "has NaN or infinite coordinates"))
    # Finite but absurd (a corrupt 1e300): the cell arithmetic would overflow to NaN.
    far = np.zeros(arr.shape[0], dtype=bool)
    with np.errstate(invalid="ignore"):
        far[which[(np.abs(coords) > _MAX_COORDINATE).any(axis=1)]] = True
    far &= ~nonfinite
    for i in np.flatnonzero(far):
        problems.append(
            (names[i], f"has coordinates beyond ±{_MAX_COORDINATE:.0e}, outside any projected CRS")
        )
    ok &= ~(nonfinite | far)
    geo[~ok] = None
    valid = shapely.is_valid(geo)
    for i in np.flatnonzero(ok & ~valid):
        problems.append((names[i], f"is invalid ({shapely.is_valid_reason(arr[i])})"))
    if problems:
        lines = "; ".join(f"grid {c!r} {why}" for c, why in problems[:10])
        more = f"; and {len(problems) - 10} more" if len(problems) > 10 else ""
        raise GeometryError(
            f"{len(problems)} grid geometr{'y' if len(problems) == 1 else 'ies'} cannot be used: "
            f"{lines}{more}. Repair them (e.g. shapely.make_valid) before building the locator."
        )
    return arr


def _scan_spans(
    x0: np.ndarray,
    y0: np.ndarray,
    x1: np.ndarray,
    y1: np.ndarray,
    poly: np.ndarray,
    *,
    oy: float,
    h: float,
    nrows: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Inside spans ``[xs, xe)`` of every polygon along the rows ``y = oy + (r + 0.5) h``."""
    ymin = np.minimum(y0, y1)
    ymax = np.maximum(y0, y1)
    # Candidate rows with a margin, then the exact half-open straddle test on the same yc values.
    r_lo = np.ceil((ymin - oy) / h - 0.5 - 1e-6).astype(np.int64)
    r_hi = np.floor((ymax - oy) / h - 0.5 + 1e-6).astype(np.int64)
    np.clip(r_lo, 0, nrows, out=r_lo)
    np.clip(r_hi, -1, nrows - 1, out=r_hi)
    n = np.maximum(r_hi - r_lo + 1, 0)
    e = np.repeat(np.arange(x0.shape[0]), n)
    start = np.cumsum(n) - n
    r = r_lo[e] + (np.arange(e.shape[0]) - start[e])
    yc = oy + (r + 0.5) * h
    ey0, ey1 = y0[e], y1[e]
    keep = (ey0 > yc) != (ey1 > yc)
    e, r, yc, ey0, ey1 = e[keep], r[keep], yc[keep], ey0[keep], ey1[keep]
    ex0, ex1 = x0[e], x1[e]
    xc = ex0 + (yc - ey0) * (ex1 - ex0) / (ey1 - ey0)
    p = poly[e]
    order = _group_order(r * (int(poly.max()) + 1) + p, xc)
    r, p, xc = r[order], p[order], xc[order]
    # Per (row, polygon) the count is even, so after sorting crossings alternate in/out.
    grp_start = np.ones(r.shape[0], dtype=bool)
    grp_start[1:] = (r[1:] != r[:-1]) | (p[1:] != p[:-1])
    gid = np.cumsum(grp_start) - 1
    first = np.flatnonzero(grp_start)
    rank = np.arange(r.shape[0]) - first[gid]
    s = np.flatnonzero(rank % 2 == 0)
    return r[s], p[s], xc[s], xc[s + 1]


def _group_order(group: np.ndarray, value: np.ndarray) -> np.ndarray:
    """Permutation sorting by ``group`` (non-negative int), then by ``value``.

    Same result as ``np.lexsort((value, group))``; packing the group and the rank by value into one
    int64 lets numpy's vectorised ``sort`` do the work, several times faster than ``lexsort``.
    """
    n = group.shape[0]
    if n == 0 or int(group.max()) >= 2**31 or n >= 2**32:
        return np.lexsort((value, group))
    by_value = np.argsort(value)
    packed = (group[by_value].astype(np.int64) << 32) | np.arange(n, dtype=np.int64)
    packed.sort()
    return by_value[packed & 0xFFFFFFFF]


def _sorted_unique(a: np.ndarray) -> np.ndarray:
    # np.unique may take a hash path that is several times slower on millions of int64 keys.
    a = np.sort(a)
    keep = np.ones(a.shape[0], dtype=bool)
    keep[1:] = a[1:] != a[:-1]
    return a[keep]


def _expand_ranges(lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For ranges ``[lo, hi)``: (range id, value) for every value in every range."""
    n = np.maximum(hi - lo, 0)
    rid = np.repeat(np.arange(lo.shape[0]), n)
    start = np.cumsum(n) - n
    return rid, lo[rid] + (np.arange(rid.shape[0]) - start[rid])


class GridLocator:
    """Locate points in level-3 grids.

    Parameters
    ----------
    geoms
        Polygons or MultiPolygons in a projected CRS (metres), one per grid. Holes, islands in holes
        and multi-part grids are fine; invalid, empty, non-polygonal or NaN geometry is refused.
    codes
        The grids' codes (non-empty, unique strings).
    cell_size
        Coarse cell edge in CRS units; by default chosen from the extent (about 2**18 coarse cells).
    subdivisions
        Fine cells per coarse cell along each axis.
    band_height
        Height of the horizontal edge bands used by the exact test; by default half a fine cell.

    Attributes
    ----------
    codes : numpy.ndarray
        Codes, sorted ascending; ``locate_index`` answers are positions in it.
    geoms : numpy.ndarray
        Geometries in the same order.
    bounds : tuple of float
        ``(minx, miny, maxx, maxy)`` of all grids.
    """

    def __init__(
        self,
        geoms: Sequence[shapely.Geometry] | np.ndarray,
        codes: Sequence[str] | np.ndarray,
        *,
        cell_size: float | None = None,
        subdivisions: int = 8,
        band_height: float | None = None,
    ) -> None:
        codes_arr = _check_codes(codes)
        geoms_arr = _check_geoms(geoms, codes_arr)
        if geoms_arr.shape[0] == 0:
            raise GeometryError("no grids given: the locator needs at least one grid polygon.")
        if subdivisions < 1 or subdivisions & (subdivisions - 1):
            raise ValueError("subdivisions must be a power of two (1, 2, 4, 8, 16, ...)")
        order = np.argsort(codes_arr, kind="stable")
        self.codes: np.ndarray = codes_arr[order]
        self.geoms: np.ndarray = geoms_arr[order]
        self._build(cell_size=cell_size, subdivisions=int(subdivisions), band_height=band_height)

    # ------------------------------------------------------------------ build
    def _build(self, *, cell_size: float | None, subdivisions: int, band_height: float | None) -> None:
        parts, part_poly = shapely.get_parts(self.geoms, return_index=True)
        rings, ring_part = shapely.get_rings(parts, return_index=True)
        ring_poly = part_poly[ring_part]
        xy, coord_ring = shapely.get_coordinates(rings, return_index=True)
        X = np.ascontiguousarray(xy[:, 0])
        Y = np.ascontiguousarray(xy[:, 1])
        es = np.flatnonzero(coord_ring[:-1] == coord_ring[1:])
        x0, y0, x1, y1 = X[es], Y[es], X[es + 1], Y[es + 1]
        # Zero-length edges carry no crossing and no boundary GEOS would not also see at the vertex.
        nz = (x0 != x1) | (y0 != y1)
        es, x0, y0, x1, y1 = es[nz], x0[nz], y0[nz], x1[nz], y1[nz]
        epoly = ring_poly[coord_ring[es]].astype(np.int64)
        npoly = self.codes.shape[0]

        minx, miny, maxx, maxy = (float(v) for v in (X.min(), Y.min(), X.max(), Y.max()))
        self.bounds: tuple[float, float, float, float] = (minx, miny, maxx, maxy)
        span = max(maxx - minx, maxy - miny, 1e-9)
        scale = max(abs(minx), abs(maxx), abs(miny), abs(maxy), span)
        S = subdivisions
        if cell_size is None:
            cell_size = math.sqrt(max((maxx - minx) * (maxy - miny), span * span * 1e-4) / 2**18)
        c = float(cell_size)
        w = c / S
        pad = 64 * 2.0**-53 * scale
        # A margin of one empty coarse cell on every side: queries clamp their cell indices into
        # the table instead of masking points off it, and a clamped point lands in the margin.
        ox, oy = minx - c, miny - c
        ncx = math.floor((maxx - ox) / c) + 2
        ncy = math.floor((maxy - oy) / c) + 2
        nfx, nfy = ncx * S, ncy * S
        inv_w = 1.0 / w

        # --- fine cells touched by an edge: bounding boxes of pieces no longer than 0.9 w
        dx, dy = x1 - x0, y1 - y0
        npieces = np.maximum(np.ceil(np.hypot(dx, dy) / (0.9 * w)), 1).astype(np.int64)
        long_ = np.flatnonzero(npieces > 1)
        if long_.size:
            pe, k = _expand_ranges(np.zeros(long_.size, dtype=np.int64), npieces[long_])
            pe = long_[pe]
            n_pe = npieces[pe]
            t0 = k / n_pe
            t1 = (k + 1) / n_pe
            last = k + 1 == n_pe
            short = npieces == 1
            px0 = np.concatenate([x0[short], x0[pe] + t0 * dx[pe]])
            py0 = np.concatenate([y0[short], y0[pe] + t0 * dy[pe]])
            px1 = np.concatenate([x1[short], np.where(last, x1[pe], x0[pe] + t1 * dx[pe])])
            py1 = np.concatenate([y1[short], np.where(last, y1[pe], y0[pe] + t1 * dy[pe])])
            ppoly = np.concatenate([epoly[short], epoly[pe]])
        else:
            px0, py0, px1, py1, ppoly = x0, y0, x1, y1, epoly
        fx_lo = np.floor((np.minimum(px0, px1) - pad - ox) * inv_w).astype(np.int64)
        fx_hi = np.floor((np.maximum(px0, px1) + pad - ox) * inv_w).astype(np.int64)
        fy_lo = np.floor((np.minimum(py0, py1) - pad - oy) * inv_w).astype(np.int64)
        fy_hi = np.floor((np.maximum(py0, py1) + pad - oy) * inv_w).astype(np.int64)
        base_key = fy_lo * nfx + fx_lo
        keys = [base_key]
        polys = [ppoly]
        mx = fx_hi != fx_lo
        my = fy_hi != fy_lo
        keys += [base_key[mx] + 1, base_key[my] + nfx, base_key[mx & my] + nfx + 1]
        polys += [ppoly[mx], ppoly[my], ppoly[mx & my]]
        pair = np.concatenate(keys) * npoly + np.concatenate(polys)
        # Consecutive pieces of one ring mostly share a cell: drop those repeats before sorting.
        first = np.ones(pair.shape[0], dtype=bool)
        first[1:] = pair[1:] != pair[:-1]
        pair = _sorted_unique(pair[first])
        bcell = pair // npoly  # fine cell key, sorted
        bpoly = pair % npoly
        cell_first = np.ones(bcell.shape[0], dtype=bool)
        cell_first[1:] = bcell[1:] != bcell[:-1]
        fine_border = bcell[cell_first]  # sorted unique fine cell keys
        cand_start = np.append(np.flatnonzero(cell_first), bcell.shape[0]).astype(np.int64)
        cand_poly = bpoly.astype(np.int32)
        fb_x = fine_border % nfx
        fb_y = fine_border // nfx
        coarse_of_fb = (fb_y // S) * ncx + fb_x // S
        coarse_border = _sorted_unique(coarse_of_fb)
        nb = coarse_border.shape[0]

        # --- scanline at fine row centres; a coarse cell no edge touches takes the answer of the
        # fine cell centre at offset (S // 2, S // 2) inside it.
        r, p, xs, xe = _scan_spans(x0, y0, x1, y1, epoly, oy=oy, h=w, nrows=nfy)
        coarse = np.full(ncx * ncy, _BIG, dtype=np.int64)
        mid = S // 2
        on = r % S == mid
        lo = np.ceil(((xs[on] - ox) * inv_w - 0.5 - mid) / S).astype(np.int64)
        hi = np.ceil(((xe[on] - ox) * inv_w - 0.5 - mid) / S).astype(np.int64)
        sid, col = _expand_ranges(np.clip(lo, 0, ncx), np.clip(hi, 0, ncx))
        np.minimum.at(coarse, (r[on][sid] // S) * ncx + col, p[on][sid])
        coarse[coarse == _BIG] = _NONE
        coarse[coarse_border] = -2 - np.arange(nb)

        # --- fine sub-tables of the border coarse cells
        SS = S * S
        sub = np.full(nb * SS, _BIG, dtype=np.int64)
        lo = np.clip(np.ceil((xs - ox) * inv_w - 0.5).astype(np.int64), 0, nfx)
        hi = np.clip(np.ceil((xe - ox) * inv_w - 0.5).astype(np.int64), 0, nfx)
        nonempty = hi > lo
        r, p, lo, hi = r[nonempty], p[nonempty], lo[nonempty], hi[nonempty]
        crow = (r // S) * ncx
        k_lo = np.searchsorted(coarse_border, crow + lo // S, side="left")
        k_hi = np.searchsorted(coarse_border, crow + (hi - 1) // S, side="right")
        sid, k = _expand_ranges(k_lo, k_hi)
        cx = coarse_border[k] % ncx
        a = np.maximum(lo[sid], cx * S)
        b = np.minimum(hi[sid], cx * S + S)
        sid2, fcol = _expand_ranges(a, b)
        kk = k[sid2]
        rr = r[sid[sid2]]
        slot = kk * SS + (rr % S) * S + (fcol - cx[sid2] * S)
        spoly = p[sid[sid2]]
        # Border fine cells keep, as "base", only polygons none of whose edges touch the cell:
        # such a polygon covers the whole cell, so it decides the cell unless a lower code wins.
        fb_slot = np.searchsorted(coarse_border, coarse_of_fb) * SS + (fb_y % S) * S + (fb_x % S)
        slot_is_border = np.zeros(nb * SS, dtype=bool)
        slot_is_border[fb_slot] = True
        inb = slot_is_border[slot]
        np.minimum.at(sub, slot[~inb], spoly[~inb])
        base = np.full(fine_border.shape[0], _BIG, dtype=np.int64)
        if inb.any():
            bslot, bpoly_ = slot[inb], spoly[inb]
            slot_to_fb = np.full(nb * SS, -1, dtype=np.int64)
            slot_to_fb[fb_slot] = np.arange(fine_border.shape[0])
            m = slot_to_fb[bslot]
            contacts = np.searchsorted(fine_border, bcell) * npoly + bpoly
            probe = m * npoly + bpoly_
            at = np.minimum(np.searchsorted(contacts, probe), contacts.shape[0] - 1)
            touching = contacts[at] == probe
            np.minimum.at(base, m[~touching], bpoly_[~touching])
        sub[sub == _BIG] = _NONE
        sub[fb_slot] = -2 - np.arange(fine_border.shape[0])
        base[base == _BIG] = npoly

        # --- edges by horizontal band and polygon, for the exact crossing test
        hb = float(band_height) if band_height is not None else w / 2
        inv_hb = 1.0 / hb
        b_lo = np.floor((np.minimum(y0, y1) - oy) * inv_hb).astype(np.int64)
        b_hi = np.floor((np.maximum(y0, y1) - oy) * inv_hb).astype(np.int64)
        eid, band = _expand_ranges(b_lo, b_hi + 1)
        bkey = band * npoly + epoly[eid]
        if bkey.size and int(bkey.max()) < 2**31:
            packed = (bkey << 32) | es[eid]
            packed.sort()
            bkey = packed >> 32
            band_edge = packed & 0xFFFFFFFF
        else:
            order = np.argsort(bkey)
            bkey = bkey[order]
            band_edge = es[eid[order]].astype(np.int64)
        kfirst = np.ones(bkey.shape[0], dtype=bool)
        kfirst[1:] = bkey[1:] != bkey[:-1]

        self._xy = np.ascontiguousarray(xy)
        self._grid = (ox, oy, inv_w, S, ncx, ncy, nfx, nfy, inv_hb)
        self._shift = S.bit_length() - 1
        self._coarse = coarse.astype(np.int32)
        self._sub = sub.astype(np.int32)
        # The narrowest integer types that hold the values: the object pickles and caches smaller.
        small = np.int32 if max(bkey.shape[0], self._xy_len(es)) < 2**31 else np.int64
        self._cand_start = cand_start.astype(small)
        self._cand_poly = cand_poly
        self._base = base.astype(np.int32)
        keys = bkey[kfirst]
        self._band_keys = keys.astype(np.int32) if keys.size and keys[-1] < 2**31 else keys
        self._band_start = np.append(np.flatnonzero(kfirst), bkey.shape[0]).astype(small)
        self._band_edge = band_edge.astype(small)
        self._npoly = npoly
        # One extra slot holding None, so that index -1 (no grid) maps to None in one gather.
        self._codes_obj = np.empty(npoly + 1, dtype=object)
        self._codes_obj[:npoly] = self.codes.tolist()
        self.stats = {
            "edges": int(es.shape[0]),
            "coarse_cells": int(ncx * ncy),
            "coarse_border_cells": int(nb),
            "fine_border_cells": int(fine_border.shape[0]),
            "cell_size": c,
            "fine_cell_size": w,
            "band_height": hb,
            "band_edges": int(bkey.shape[0]),
        }

    @staticmethod
    def _xy_len(es: np.ndarray) -> int:
        return int(es[-1]) + 2 if es.size else 0

    # ------------------------------------------------------------------ queries
    def locate(self, x: Any, y: Any) -> np.ndarray:
        """Code of the grid covering each point (object array), ``None`` where no grid does."""
        return self._codes_obj[self.locate_index(x, y)]

    def locate_index(self, x: Any, y: Any) -> np.ndarray:
        """Position in :attr:`codes` of the grid covering each point, ``-1`` where none does."""
        xa, ya = np.broadcast_arrays(np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64))
        shape = xa.shape
        xf, yf = np.ascontiguousarray(xa.ravel()), np.ascontiguousarray(ya.ravel())
        if _compiled.locate_kernel is None or xf.shape[0] < _COMPILED_MIN_POINTS:
            return self._locate_numpy(xf, yf).reshape(shape)
        out = np.empty(xf.shape[0], dtype=np.int64)
        ox, oy, inv_w, S, ncx, _, nfx, nfy, inv_hb = self._grid
        undecided = _compiled.run_locate_kernel(
            xf,
            yf,
            out,
            ox,
            oy,
            inv_w,
            S,
            self._shift,
            ncx,
            nfx,
            nfy,
            self._coarse,
            self._sub,
            self._base,
            self._cand_start,
            self._cand_poly,
            inv_hb,
            self._npoly,
            self._band_keys,
            self._band_start,
            self._band_edge,
            self._xy,
            _ORIENT_ERR,
        )
        if undecided:
            u = np.flatnonzero(out == _compiled.UNDECIDED)
            out[u] = self._locate_numpy(xf[u], yf[u])
        return out.reshape(shape)

    def _locate_numpy(self, xf: np.ndarray, yf: np.ndarray) -> np.ndarray:
        """The array path in numpy (and GEOS for the undecidable): the reference for the kernel."""
        ox, oy, inv_w, S, ncx, _, nfx, nfy, _ = self._grid
        sh = self._shift
        # fmax/fmin ignore NaN, so NaN lands in the empty margin like any point off the table.
        fx = np.fmin(np.fmax(np.floor((xf - ox) * inv_w), 0.0), nfx - 1).astype(np.int32)
        fy = np.fmin(np.fmax(np.floor((yf - oy) * inv_w), 0.0), nfy - 1).astype(np.int32)
        cell = fy >> sh
        cell *= ncx
        cell += fx >> sh
        out = self._coarse[cell].astype(np.int64)
        deep = np.flatnonzero(out < -1)
        if deep.size:
            m = S - 1
            fxd, fyd = fx[deep], fy[deep]
            s = self._sub[(-2 - out[deep]) * (S * S) + ((fyd & m) << sh) + (fxd & m)]
            out[deep] = s
            edge = np.flatnonzero(s < -1)
            if edge.size:
                ei = deep[edge]
                out[ei] = self._exact(xf[ei], yf[ei], -2 - s[edge].astype(np.int64))
        return out

    def locate_one(self, x: float, y: float) -> str | None:
        """Scalar :meth:`locate`; the common case costs a few float operations and two lookups."""
        ox, oy, inv_w, S, ncx, _, nfx, nfy, _ = self._grid
        try:
            fx = math.floor((x - ox) * inv_w)
            fy = math.floor((y - oy) * inv_w)
        except (ValueError, OverflowError):  # NaN or infinite
            return None
        if fx < 0 or fy < 0 or fx >= nfx or fy >= nfy:
            return None  # off the table, hence outside every grid
        cx, cy = fx // S, fy // S
        v = int(self._coarse[cy * ncx + cx])
        if v >= -1:
            return self._codes_obj[v]
        s = int(self._sub[(-2 - v) * S * S + (fy - cy * S) * S + (fx - cx * S)])
        if s >= -1:
            return self._codes_obj[s]
        i = int(self._exact(np.array([float(x)]), np.array([float(y)]), np.array([-2 - s]))[0])
        return self._codes_obj[i]

    def _exact(self, px: np.ndarray, py: np.ndarray, cell: np.ndarray) -> np.ndarray:
        """Exact answer for points in fine cells touched by edges."""
        n = px.shape[0]
        npoly = self._npoly
        base = self._base[cell].astype(np.int64)
        pid, j = _expand_ranges(self._cand_start[cell], self._cand_start[cell + 1])
        gp = self._cand_poly[j].astype(np.int64)
        # Only candidates that could beat a polygon covering the whole cell need testing.
        keep = gp < base[pid]
        pid, gp = pid[keep], gp[keep]
        oy = self._grid[1]
        inv_hb = self._grid[8]
        band = np.floor((py[pid] - oy) * inv_hb).astype(np.int64)
        key = band * npoly + gp
        kt = self._band_keys.dtype
        # Search in the table's own dtype (no copy of the table); out-of-range keys cannot match.
        pos = np.searchsorted(self._band_keys, np.minimum(key, np.iinfo(kt).max).astype(kt))
        pos_c = np.minimum(pos, self._band_keys.shape[0] - 1)
        found = self._band_keys[pos_c] == key
        lo = np.where(found, self._band_start[pos_c], 0).astype(np.int64)
        hi = np.where(found, self._band_start[pos_c + 1], 0).astype(np.int64)
        # A polygon without an edge in the point's band does not cross the point's row: outside.
        q, k = _expand_ranges(lo, hi)
        e = self._band_edge[k]
        # Vertices viewed as complex numbers: one 1-D gather fetches x and y from one cache line.
        xyc = self._xy.view(np.complex128).ravel()
        p0, p1 = xyc[e], xyc[e + 1]
        ex0, ey0, ex1, ey1 = p0.real, p0.imag, p1.real, p1.imag
        qx, qy = px[pid[q]], py[pid[q]]
        left = (ex1 - ex0) * (qy - ey0)
        right = (ey1 - ey0) * (qx - ex0)
        det = left - right
        bound = _ORIENT_ERR * (np.abs(left) + np.abs(right))
        straddle = (ey0 > qy) != (ey1 > qy)
        up = ey1 > ey0
        cross = straddle & np.where(up, det > bound, det < -bound)
        # Undecidable: the sign of a straddling edge (the point may be on it, either side by
        # rounding), or a point on the line of an edge inside the edge's box (a horizontal edge
        # or a vertex the point may sit on). Outside the box a non-straddling edge cannot hold it.
        near = (np.abs(det) <= bound) & (
            straddle
            | (
                (qx >= np.minimum(ex0, ex1))
                & (qx <= np.maximum(ex0, ex1))
                & (qy >= np.minimum(ey0, ey1))
                & (qy <= np.maximum(ey0, ey1))
            )
        )
        npair = pid.shape[0]
        parity = np.bincount(q, weights=cross, minlength=npair).astype(np.int64) & 1
        undecided = np.bincount(q, weights=near, minlength=npair) > 0
        covered = parity.astype(bool)
        if undecided.any():
            u = np.flatnonzero(undecided)
            covered[u] = shapely.intersects_xy(self.geoms[gp[u]], px[pid[u]], py[pid[u]])
        win = resolve_ties(pid[covered], gp[covered], n)
        res = np.where(win >= 0, np.minimum(win, base), base)
        res[res == npoly] = _NONE
        return res

    # ------------------------------------------------------------------ misc
    def __len__(self) -> int:
        return int(self.codes.shape[0])

    def __repr__(self) -> str:
        return f"GridLocator({len(self)} grids, bounds={self.bounds})"
