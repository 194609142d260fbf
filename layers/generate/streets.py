"""A plausible street pattern for a generated district, as straight segments.

Each community (level-2 grid) gets a rotated lattice of streets whose spacing follows the urban
density (about 150–250 m in town, 600–1500 m in the country), with jittered junctions; in the
country most cross streets are dropped, which leaves the ribbon villages strung along a road or a
canal that the Jiangnan countryside is made of. Dense areas get lanes between the streets. A few
arterial roads link the town centres. Everything is clipped to the land, so every point of every
segment is on land. Streets exist to place components along; they are not a road network
(no topology, no guarantee of connectivity).
"""

from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import shapely
from scipy.spatial import Delaunay
from shapely.geometry.base import BaseGeometry

from layers.generate.grids import urban_density

#: Kinds of street segment, from the widest.
KINDS = ("arterial", "street", "lane")

# Street spacing (m) at the densest core and in open country; in between it follows density.
_URBAN_SPACING = 160.0
_RURAL_SPACING = 1200.0
# Arterials are drawn between town centres closer than this (m).
_ARTERIAL_REACH = 16000.0
# Clipped pieces shorter than this (m) are dropped: no component would sit on them.
_MIN_PIECE = 5.0


@dataclass(frozen=True)
class Streets:
    """Street segments in EPSG:4549: parallel arrays, one entry per straight segment.

    ``kind`` holds one of :data:`KINDS` per segment.
    """

    x0: np.ndarray
    y0: np.ndarray
    x1: np.ndarray
    y1: np.ndarray
    kind: np.ndarray

    def __len__(self) -> int:
        return int(self.x0.size)

    @property
    def length(self) -> np.ndarray:
        """Length of each segment in metres."""
        return np.hypot(self.x1 - self.x0, self.y1 - self.y0)

    def lines(self) -> np.ndarray:
        """The segments as shapely LineStrings (for maps and checks, not for bulk work)."""
        coords = np.stack([np.column_stack([self.x0, self.y0]), np.column_stack([self.x1, self.y1])], axis=1)
        return shapely.linestrings(coords)


def spacing_for(density: np.ndarray | float) -> np.ndarray:
    """Typical street spacing (m) at a relative urban density in ``(0, 1]``."""
    d = np.clip(np.asarray(density, dtype=float), 1e-3, 1.0)
    # Spacing falls as density rises: a power law through the two anchors.
    k = np.log(_RURAL_SPACING / _URBAN_SPACING) / np.log(1.0 / 0.04)
    return np.clip(_URBAN_SPACING * d**-k, _URBAN_SPACING, _RURAL_SPACING * 1.25)


def _clip(
    x0: np.ndarray, y0: np.ndarray, x1: np.ndarray, y1: np.ndarray, region: BaseGeometry
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Segments clipped to ``region``: coordinates of the pieces and the input index of each."""
    if x0.size == 0:
        empty = np.zeros(0)
        return empty, empty, empty, empty, np.zeros(0, dtype=np.intp)
    coords = np.stack([np.column_stack([x0, y0]), np.column_stack([x1, y1])], axis=1)
    shapely.prepare(region)
    lines = shapely.linestrings(coords)
    # Most segments lie wholly inside; only the others need the costlier intersection.
    simple = shapely.contains(region, lines)
    out = [(x0[simple], y0[simple], x1[simple], y1[simple], np.flatnonzero(simple))]
    hard = np.flatnonzero(~simple)
    if hard.size:
        clipped = shapely.intersection(lines[hard], region)
        parts, which = shapely.get_parts(clipped, return_index=True)
        if (shapely.get_type_id(parts) == 7).any():  # collections nest one level deeper
            parts, sub = shapely.get_parts(parts, return_index=True)
            which = which[sub]
        is_line = (shapely.get_type_id(parts) == 1) & ~shapely.is_empty(parts)
        parts, which = parts[is_line], which[is_line]
        # A straight segment clipped by a polygon gives straight pieces: two points each.
        start = shapely.get_coordinates(shapely.get_point(parts, 0))
        end = shapely.get_coordinates(shapely.get_point(parts, -1))
        # Cut points are computed on the outline and may round to just outside it: pull each
        # end a centimetre inwards so the whole piece is on land.
        vec = end - start
        norm = np.maximum(np.hypot(vec[:, 0], vec[:, 1]), 1e-9)[:, None]
        start, end = start + vec / norm * 0.01, end - vec / norm * 0.01
        out.append((start[:, 0], start[:, 1], end[:, 0], end[:, 1], hard[which]))
    cx0, cy0, cx1, cy1, idx = (np.concatenate(a) for a in zip(*out, strict=True))
    keep = np.hypot(cx1 - cx0, cy1 - cy0) >= _MIN_PIECE
    return cx0[keep], cy0[keep], cx1[keep], cy1[keep], idx[keep]


def _lattice(
    region: BaseGeometry, *, spacing: float, angle: float, density: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """A jittered, rotated lattice of streets (and lanes in town) over ``region``, unclipped."""
    cx, cy = shapely.get_coordinates(region.centroid)[0]
    # Work in a frame rotated by ``angle`` about the centroid, then rotate back.
    ca, sa = np.cos(angle), np.sin(angle)
    ring = shapely.get_coordinates(region.envelope) - (cx, cy)
    u = ring[:, 0] * ca + ring[:, 1] * sa
    v = -ring[:, 0] * sa + ring[:, 1] * ca
    nu = int(np.ceil((u.max() - u.min()) / spacing)) + 2
    nv = int(np.ceil((v.max() - v.min()) / spacing)) + 2
    gu, gv = np.meshgrid(
        u.min() - spacing / 2 + spacing * np.arange(nu),
        v.min() - spacing / 2 + spacing * np.arange(nv),
    )
    # Junctions wander a little; each street line is also offset as a whole.
    gu = gu + rng.normal(0, 0.07 * spacing, gu.shape) + rng.normal(0, 0.1 * spacing, (1, nu))
    gv = gv + rng.normal(0, 0.07 * spacing, gv.shape) + rng.normal(0, 0.1 * spacing, (nv, 1))

    # Streets along u (rows) and along v (columns). In the country the cross streets mostly go.
    keep_main = 0.92 if density > 0.2 else 0.8
    keep_cross = 0.9 if density > 0.2 else 0.3 + density
    ru = np.s_[:, :-1], np.s_[:, 1:]
    rv = np.s_[:-1, :], np.s_[1:, :]
    segs = []
    for (a, b), keep in ((ru, keep_main), (rv, keep_cross)):
        u0, v0, u1, v1 = gu[a].ravel(), gv[a].ravel(), gu[b].ravel(), gv[b].ravel()
        m = rng.random(u0.size) < keep
        segs.append((u0[m], v0[m], u1[m], v1[m], np.full(m.sum(), 1)))
    # Lanes: halfway between rows, in blocks of town and some villages.
    lane_p = 0.55 if density > 0.2 else 0.12
    mu = (gu[:-1, :] + gu[1:, :]) / 2
    mv = (gv[:-1, :] + gv[1:, :]) / 2
    u0, v0, u1, v1 = mu[:, :-1].ravel(), mv[:, :-1].ravel(), mu[:, 1:].ravel(), mv[:, 1:].ravel()
    m = rng.random(u0.size) < lane_p
    segs.append((u0[m], v0[m], u1[m], v1[m], np.full(m.sum(), 2)))

    su0, sv0, su1, sv1, kind = (np.concatenate(a) for a in zip(*segs, strict=True))
    x0 = cx + su0 * ca - sv0 * sa
    y0 = cy + su0 * sa + sv0 * ca
    x1 = cx + su1 * ca - sv1 * sa
    y1 = cy + su1 * sa + sv1 * ca
    return x0, y0, x1, y1, kind


def _arterials(
    centres: np.ndarray, land: BaseGeometry, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Gently winding roads along the Delaunay edges between nearby town centres, ~200 m pieces."""
    if len(centres) < 2:
        empty = np.zeros(0)
        return empty, empty, empty, empty
    if len(centres) == 2:
        edges = np.array([[0, 1]])
    else:
        tri = Delaunay(centres)
        e = np.concatenate([tri.simplices[:, [0, 1]], tri.simplices[:, [1, 2]], tri.simplices[:, [2, 0]]])
        edges = np.unique(np.sort(e, axis=1), axis=0)
    a, b = centres[edges[:, 0]], centres[edges[:, 1]]
    length = np.hypot(*(b - a).T)
    near = length <= _ARTERIAL_REACH
    a, b, length = a[near], b[near], length[near]
    xs0, ys0, xs1, ys1 = [], [], [], []
    for p, q, L in zip(a, b, length, strict=True):  # a couple of dozen roads
        n = max(int(L / 200.0), 1)
        t = np.linspace(0.0, 1.0, n + 1)
        normal = np.array([-(q - p)[1], (q - p)[0]]) / L
        bend = rng.uniform(-0.06, 0.06) * L * np.sin(np.pi * t)
        pts = p + np.outer(t, q - p) + np.outer(bend, normal)
        xs0.append(pts[:-1, 0])
        ys0.append(pts[:-1, 1])
        xs1.append(pts[1:, 0])
        ys1.append(pts[1:, 1])
    x0, y0, x1, y1 = (np.concatenate(v) for v in (xs0, ys0, xs1, ys1))
    cx0, cy0, cx1, cy1, _ = _clip(x0, y0, x1, y1, land)
    return cx0, cy0, cx1, cy1


def make_streets(grids: gpd.GeoDataFrame, land: BaseGeometry, *, seed: int) -> Streets:
    """Street segments over the land of a generated district.

    Parameters
    ----------
    grids
        The grids of :func:`layers.generate.grids.make_grids` (levels 1 and 2 are used).
    land
        The district's land in EPSG:4549; every segment lies on it.
    seed
        Seed of the pattern; the same seed and grids give the same streets.

    Returns
    -------
    Streets
        Segments with their kind (:data:`KINDS`).
    """
    rng = np.random.default_rng([seed, 0x57EE7])
    l1 = grids[grids["level"] == 1]
    l2 = grids[grids["level"] == 2]
    # Each town has a main street orientation (old canal towns follow their canals); each
    # community deviates a little from it.
    town_angle = {c: rng.uniform(-0.35, 0.35) for c in l1["code"]}
    parts: list[tuple[np.ndarray, ...]] = []
    geoms2 = l2.geometry.to_numpy()
    rp = shapely.get_coordinates(shapely.point_on_surface(geoms2))
    dens2 = urban_density(rp[:, 0], rp[:, 1])
    for geom, parent, dens in zip(geoms2, l2["parent_code"], dens2, strict=True):
        spacing = float(spacing_for(dens)) * rng.uniform(0.85, 1.15)
        angle = town_angle[parent] + rng.normal(0, 0.12)
        x0, y0, x1, y1, kind = _lattice(geom, spacing=spacing, angle=angle, density=float(dens), rng=rng)
        cx0, cy0, cx1, cy1, idx = _clip(x0, y0, x1, y1, geom)
        parts.append((cx0, cy0, cx1, cy1, kind[idx]))

    centres = shapely.get_coordinates(shapely.point_on_surface(l1.geometry.to_numpy()))
    ax0, ay0, ax1, ay1 = _arterials(centres, land, rng)
    parts.append((ax0, ay0, ax1, ay1, np.zeros(ax0.size, dtype=int)))

    x0, y0, x1, y1, kind = (np.concatenate(v) for v in zip(*parts, strict=True))
    names = np.asarray(KINDS)[kind.astype(np.intp)]
    return Streets(x0=x0, y0=y0, x1=x1, y1=y1, kind=names)
