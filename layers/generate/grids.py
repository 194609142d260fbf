"""Synthetic three-level grids of a district: towns, communities and management grids.

The land is cut top-down. Level 1 follows the 14 real town-level units (7 streets, 7 towns;
2023 statistical codes) around approximate real centres; each level below tiles its parent exactly, because every child is a
Voronoi cell intersected with the parent. Seeds are drawn from an urban density surface and
relaxed (weighted Lloyd on a sample of the land), so grids are small where the district is dense
and large where it is rural. Pieces of a cell cut off from the rest by the parent's outline are
handed to the sibling they share most border with, so a grid has several parts only where the
land itself has (islands).

Everything is in the working CRS, EPSG:4549 (metres).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely
from scipy.spatial import cKDTree
from shapely.geometry.base import BaseGeometry

from layers.codes import town_code
from spatial.crs import WORK_CRS
from spatial.topology import CodeScheme, expected_order

#: Level counts of the default district (Wuzhong): 14 towns/streets, 205 communities, 887 grids.
LEVEL_COUNTS = (14, 205, 887)

#: Approximate real centres (lon, lat) of Wuzhong's 14 town-level units (2023 division codes),
#: keyed by town segment: the seat of each street office or town government.
TOWN_CENTRES: dict[str, tuple[float, float]] = {
    "001": (120.605, 31.285),  # 长桥街道
    "003": (120.565, 31.235),  # 越溪街道
    "004": (120.700, 31.215),  # 郭巷街道
    "005": (120.600, 31.105),  # 横泾街道
    "006": (120.430, 31.240),  # 香山街道
    "009": (120.660, 31.255),  # 城南街道
    "010": (120.630, 31.175),  # 太湖街道 (太湖新城)
    "100": (120.860, 31.260),  # 甪直镇
    "103": (120.510, 31.270),  # 木渎镇
    "104": (120.470, 31.215),  # 胥口镇
    "107": (120.400, 31.080),  # 东山镇
    "108": (120.355, 31.290),  # 光福镇
    "109": (120.280, 31.130),  # 金庭镇 (Xishan island)
    "110": (120.465, 31.125),  # 临湖镇
}

#: Urban centres of the density surface: (lon, lat, peak, radius in metres). Wuzhong's city is
#: its north-east (长桥, 城南, 越溪, 郭巷 and the 太湖新城), Mudu and the town seats; the land
#: north of the Industrial Park's enclave and the Taihu shore are countryside, lakes and hills.
URBAN_CENTRES: tuple[tuple[float, float, float, float], ...] = (
    (120.615, 31.272, 1.00, 4500.0),  # 长桥: the district's centre, against Suzhou's old city
    (120.640, 31.245, 0.85, 3800.0),  # 城南 (吴中经济技术开发区)
    (120.580, 31.230, 0.55, 3200.0),  # 越溪
    (120.690, 31.225, 0.55, 3500.0),  # 郭巷
    (120.625, 31.178, 0.45, 3200.0),  # 太湖新城
    (120.515, 31.268, 0.70, 3800.0),  # 木渎
    (120.860, 31.262, 0.40, 2600.0),  # 甪直
    (120.470, 31.215, 0.30, 2200.0),  # 胥口
    (120.430, 31.240, 0.25, 2200.0),  # 香山
    (120.600, 31.105, 0.25, 2200.0),  # 横泾
    (120.355, 31.290, 0.22, 2000.0),  # 光福
    (120.465, 31.125, 0.22, 2000.0),  # 临湖
    (120.400, 31.080, 0.22, 2200.0),  # 东山
    (120.280, 31.130, 0.18, 2000.0),  # 金庭
)
#: Density of open countryside, relative to the densest urban core (1).
RURAL_DENSITY = 0.04

# Level 1 is the real administrative map: it stays the same whatever the seed, so that only the
# invented levels (communities, grids) change between generated districts.
_LEVEL1_SEED = 320506

_SCHEME = CodeScheme()
_SAMPLES_PER_KM2 = 160
_LLOYD_ITERATIONS = 3
# Tolerance (m) of the smoothing of town borders drawn on a 400 m lattice.
_SMOOTHING = 500.0


@cache
def _to_work() -> pyproj.Transformer:
    return pyproj.Transformer.from_crs("EPSG:4326", WORK_CRS, always_xy=True)


@cache
def _urban_centres_xy() -> np.ndarray:
    lon, lat, peak, radius = np.array(URBAN_CENTRES).T
    x, y = _to_work().transform(lon, lat)
    return np.column_stack([x, y, peak, radius])


def urban_density(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Relative urban density in ``[RURAL_DENSITY, 1]`` at working-CRS points.

    A sum of Gaussian bumps around the urban centres, capped at 1: what makes grids smaller,
    streets closer and components more numerous in town.
    """
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    c = _urban_centres_xy()
    d2 = (x[..., None] - c[:, 0]) ** 2 + (y[..., None] - c[:, 1]) ** 2
    bumps = (c[:, 2] * np.exp(-d2 / c[:, 3] ** 2)).sum(axis=-1)
    return np.clip(RURAL_DENSITY + bumps, RURAL_DENSITY, 1.0)


def read_towns(path: str | os.PathLike[str]) -> pd.DataFrame:
    """The town-level units of a statistical code list as ``code, name``.

    Reads the 2023 list (``code, name, kind``) or the older crawl's columns (``id, ext_name``).
    Units that are not level-1 grids are left out: the district row itself and the 政企合一
    units (codes 400–499: forest farm, scenic areas, development zone…), which are administered
    inside the towns' land.
    """
    raw = pd.read_csv(Path(path), dtype=str, encoding="utf-8-sig")
    return _normalise_towns(raw)


def _normalise_towns(towns: pd.DataFrame) -> pd.DataFrame:
    if {"code", "name"} <= set(towns.columns):
        out = towns[["code", "name"]].astype(str)
    elif {"id", "ext_name"} <= set(towns.columns):
        out = towns[["id", "ext_name"]].astype(str).set_axis(["code", "name"], axis=1)
    else:
        raise ValueError("towns need columns code, name (or id, ext_name of the statistical list)")
    # Only 9-digit codes are town-level units; segments 400-499 are 政企合一 units, not towns.
    out = out[out["code"].str.fullmatch(r"\d{9}")]
    out = out[~out["code"].str.slice(6, 7).eq("4")]
    return out.reset_index(drop=True)


def is_street(name: str) -> bool:
    """Whether a town-level unit is an urban street (街道) rather than a town (镇)."""
    return str(name).endswith("街道")


@dataclass(frozen=True)
class _Town:
    segment: str
    name: str
    x: float
    y: float


def _level1_units(towns: pd.DataFrame, district_code: str) -> list[_Town]:
    towns = _normalise_towns(towns)
    units: list[_Town] = []
    known = TOWN_CENTRES
    for code, name in zip(towns["code"], towns["name"], strict=True):
        if not code.startswith(district_code):
            raise ValueError(f"town {code} {name} is not in district {district_code}")
        seg = code[6:9]
        if seg not in known:
            raise ValueError(f"no approximate centre known for town {code} {name}")
        x, y = _to_work().transform(*known[seg])
        units.append(_Town(seg, name, float(x), float(y)))
    return units


# -- sampling and seeds ------------------------------------------------------------------------


def _sample(region: BaseGeometry, rng: np.random.Generator, *, n: int) -> np.ndarray:
    """About ``n`` uniform random points inside ``region`` (rejection from its bounding box)."""
    minx, miny, maxx, maxy = region.bounds
    fill = max(region.area / max((maxx - minx) * (maxy - miny), 1e-9), 0.01)
    shapely.prepare(region)
    out: list[np.ndarray] = []
    got = 0
    while got < n:
        m = int((n - got) / fill * 1.2) + 16
        x = rng.uniform(minx, maxx, m)
        y = rng.uniform(miny, maxy, m)
        keep = shapely.contains_xy(region, x, y)
        pts = np.column_stack([x[keep], y[keep]])
        out.append(pts)
        got += len(pts)
    return np.concatenate(out)[:n]


def _seeds(samples: np.ndarray, weight: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """``k`` seeds among ``samples``: drawn by weight, relaxed by weighted Lloyd, snapped back.

    Snapping each relaxed seed to its cluster's sample nearest the centroid keeps every seed inside
    the region, so every Voronoi cell meets the region and no child comes out empty.
    """
    p = weight / weight.sum()
    idx = rng.choice(len(samples), size=k, replace=False, p=p)
    seeds = samples[idx].copy()
    for _ in range(_LLOYD_ITERATIONS):
        _, lab = cKDTree(seeds).query(samples)
        w = np.bincount(lab, weights=weight, minlength=k)
        sx = np.bincount(lab, weights=weight * samples[:, 0], minlength=k)
        sy = np.bincount(lab, weights=weight * samples[:, 1], minlength=k)
        has = w > 0
        seeds[has] = np.column_stack([sx[has] / w[has], sy[has] / w[has]])
    dist, lab = cKDTree(seeds).query(samples)
    # The member nearest each centroid, found for all clusters at once.
    order = np.lexsort((dist, lab))
    first = np.ones(order.size, dtype=bool)
    first[1:] = lab[order][1:] != lab[order][:-1]
    snapped = seeds.copy()
    snapped[lab[order][first]] = samples[order][first]
    # A cluster left without members (rare) takes the free sample nearest its centroid.
    taken = np.zeros(len(samples), dtype=bool)
    taken[order[first]] = True
    for i in np.setdiff1d(np.arange(k), lab):
        free = np.flatnonzero(~taken)
        j = free[np.argmin(((samples[free] - seeds[i]) ** 2).sum(axis=1))]
        snapped[i] = samples[j]
        taken[j] = True
    return snapped


def _allocate(weights: np.ndarray, total: int, *, minimum: int) -> np.ndarray:
    """Split ``total`` into integers proportional to ``weights``, each at least ``minimum``."""
    n = len(weights)
    if total < minimum * n:
        raise ValueError(f"cannot give {n} parents at least {minimum} children out of {total}")
    share = weights / weights.sum() * (total - minimum * n)
    base = np.floor(share).astype(int)
    rest = total - minimum * n - base.sum()
    base[np.argsort(-(share - base), kind="stable")[:rest]] += 1
    return base + minimum


# -- cutting a parent into children ------------------------------------------------------------


def _shared(a: BaseGeometry, others: np.ndarray) -> np.ndarray:
    """Length of border ``a`` shares with each of ``others`` (via a thin buffer, robust to noding)."""
    if len(others) == 0:
        return np.zeros(0)
    band = shapely.buffer(a, 0.5)
    return shapely.area(shapely.intersection(others, band)) / 0.5


def _absorb_orphans(
    mains: list[BaseGeometry], orphans: list[BaseGeometry], *, owner: list[int]
) -> list[BaseGeometry]:
    """Merge cut-off pieces into the child they share most border with.

    A piece touching no child (it lies on another part of the land) goes to the nearest child:
    the only way a grid becomes multi-part.
    """
    groups: list[list[BaseGeometry]] = [[m] for m in mains]
    current = np.array(mains, dtype=object)
    pending = list(zip(orphans, owner, strict=True))
    while pending:
        still: list[tuple[BaseGeometry, int]] = []
        for piece, _ in pending:
            shared = _shared(piece, current)
            if shared.size and shared.max() > 1.0:
                j = int(np.argmax(shared))
                groups[j].append(piece)
                current[j] = shapely.union_all(groups[j])
            else:
                still.append((piece, _))
        if len(still) == len(pending):
            for piece, _ in still:
                j = int(np.argmin(shapely.distance(current, piece)))
                groups[j].append(piece)
                current[j] = shapely.union_all(groups[j])
            break
        pending = still
    return list(current)


def _cut(region: BaseGeometry, seeds: np.ndarray) -> list[BaseGeometry]:
    """Voronoi cells of ``seeds`` intersected with ``region``; cut-off pieces absorbed."""
    if len(seeds) == 1:
        return [region]
    pts = shapely.multipoints(seeds)
    frame = shapely.box(*region.bounds).buffer(1000.0)
    cells = shapely.get_parts(shapely.voronoi_polygons(pts, extend_to=frame, ordered=True))
    pieces = shapely.intersection(cells, region)
    mains: list[BaseGeometry] = []
    orphans: list[BaseGeometry] = []
    owner: list[int] = []
    seed_pts = shapely.points(seeds)
    for i, geom in enumerate(pieces):
        parts = shapely.get_parts(geom)
        parts = parts[shapely.get_type_id(parts) == 3]
        home = shapely.intersects(parts, seed_pts[i])
        h = int(np.flatnonzero(home)[0]) if home.any() else int(np.argmax(shapely.area(parts)))
        mains.append(parts[h])
        for j, part in enumerate(parts):
            if j != h:
                orphans.append(part)
                owner.append(i)
    return _absorb_orphans(mains, orphans, owner=owner)


# -- level 1 -----------------------------------------------------------------------------------


def _smooth_noise(x: np.ndarray, y: np.ndarray, rng: np.random.Generator, *, waves: int) -> np.ndarray:
    """A smooth random field in about [-1, 1] with wavelengths of 6–14 km (wiggly town borders)."""
    out = np.zeros_like(x)
    for _ in range(waves):
        wl = rng.uniform(6000.0, 14000.0)
        ang = rng.uniform(0, np.pi)
        out += np.cos(2 * np.pi * (x * np.cos(ang) + y * np.sin(ang)) / wl + rng.uniform(0, 2 * np.pi))
    return out / np.sqrt(waves)


def _nudge(part: BaseGeometry, x: float, y: float, *, margin: float) -> tuple[float, float]:
    """Move a centre that is off the land (or on its very edge) a little way inside it."""
    inner = part.buffer(-margin)
    if inner.is_empty:
        inner = part
    p = shapely.Point(x, y)
    if inner.contains(p):
        return x, y
    q = shapely.ops.nearest_points(inner, p)[0]
    # Step past the boundary of the inner polygon so the point is strictly inside.
    rp = inner.representative_point()
    return float(q.x + 0.01 * (rp.x - q.x)), float(q.y + 0.01 * (rp.y - q.y))


def _split_part(part: BaseGeometry, towns: list[_Town], rng: np.random.Generator) -> dict[str, BaseGeometry]:
    """Share one land part among the towns whose centre lies on it, with wiggly borders.

    The part is covered with a jittered lattice of ~400 m cells; each cell goes to the town
    nearest by a distance warped with a smooth random field, and the cells are dissolved.
    """
    if len(towns) == 1:
        return {towns[0].segment: part}
    step = 400.0
    minx, miny, maxx, maxy = part.bounds
    gx, gy = np.meshgrid(np.arange(minx, maxx + step, step), np.arange(miny, maxy + step, step))
    px = gx.ravel() + rng.uniform(-0.35, 0.35, gx.size) * step
    py = gy.ravel() + rng.uniform(-0.35, 0.35, gy.size) * step
    cx = np.array([t.x for t in towns])
    cy = np.array([t.y for t in towns])
    dist = np.hypot(px[:, None] - cx, py[:, None] - cy)
    warp = np.column_stack([_smooth_noise(px, py, rng, waves=4) for _ in towns])
    owner = np.argmin(dist * (1.0 + 0.18 * warp), axis=1)
    # Each centre keeps the lattice cell it sits in, so no town can be squeezed out.
    _, nearest = cKDTree(np.column_stack([px, py])).query(np.column_stack([cx, cy]))
    owner[nearest] = np.arange(len(towns))
    frame = shapely.box(minx, miny, maxx, maxy).buffer(2 * step)
    cells = shapely.get_parts(
        shapely.voronoi_polygons(
            shapely.multipoints(np.column_stack([px, py])), extend_to=frame, ordered=True
        )
    )
    cells = shapely.intersection(cells, part)
    mains: list[BaseGeometry] = []
    orphans: list[BaseGeometry] = []
    owners: list[int] = []
    for i, t in enumerate(towns):
        merged = shapely.union_all(cells[owner == i])
        parts = shapely.get_parts(merged)
        parts = parts[shapely.get_type_id(parts) == 3]
        home = shapely.intersects(parts, shapely.Point(t.x, t.y))
        h = int(np.flatnonzero(home)[0]) if home.any() else int(np.argmax(shapely.area(parts)))
        mains.append(parts[h])
        for j, p in enumerate(parts):
            if j != h:
                orphans.append(p)
                owners.append(i)
    shapes = _absorb_orphans(mains, orphans, owner=owners)
    return {t.segment: g for t, g in zip(towns, shapes, strict=True)}


def _level1(land: BaseGeometry, units: list[_Town]) -> dict[str, BaseGeometry]:
    rng = np.random.default_rng(_LEVEL1_SEED)
    parts = shapely.get_parts(land)
    parts = parts[np.argsort(-shapely.area(parts), kind="stable")]
    on_part: dict[int, list[_Town]] = {}
    for t in units:
        d = shapely.distance(parts, shapely.Point(t.x, t.y))
        k = int(np.argmin(d))
        x, y = _nudge(parts[k], t.x, t.y, margin=min(800.0, np.sqrt(parts[k].area) / 10))
        on_part.setdefault(k, []).append(_Town(t.segment, t.name, x, y))
    shapes: dict[str, list[BaseGeometry]] = {t.segment: [] for t in units}
    for k, members in on_part.items():
        for seg, geom in _split_part(parts[k], members, rng).items():
            shapes[seg].append(geom)
    # Parts with no town centre (islets) go with the nearest town.
    for k in range(len(parts)):
        if k in on_part:
            continue
        segs = list(shapes)
        current = np.array([shapely.union_all(shapes[s]) for s in segs], dtype=object)
        shapes[segs[int(np.argmin(shapely.distance(current, parts[k])))]].append(parts[k])
    segs = list(shapes)
    merged = np.array([shapely.union_all(shapes[s]) for s in segs], dtype=object)
    # The lattice leaves staircase borders; smoothing only the shared edges keeps the coverage
    # exact (no gap, no overlap) and the coastline untouched.
    smooth = shapely.coverage_simplify(merged, _SMOOTHING, simplify_boundary=False)
    return dict(zip(segs, smooth, strict=True))


# -- names --------------------------------------------------------------------------------------

_FIRST = list(
    "金银玉龙凤清明新华兴长东西南北永安和平福宝石湖溪塘桥山林春竹梅兰荷茶枫柳香渔嘉宁盛泰旺光善仁秀锦云月星花"
)
_SECOND_URBAN = list("苑园城坊湾景庭府馨都汇居")
_SECOND_RURAL = list("浜泾桥塘溪山岭墩庄湖港浦圩荡里坞埠渚田堰泊")


def _community_names(urban: np.ndarray, rng: np.random.Generator) -> list[str]:
    """Unique plausible names: '<two characters>社区' in town, '<two characters>村' in the country."""
    names: list[str] = []
    used: set[str] = set()
    for is_urban in urban:
        second = _SECOND_URBAN + _SECOND_RURAL[:6] if is_urban else _SECOND_RURAL
        suffix = "社区" if is_urban else "村"
        while True:
            a = _FIRST[rng.integers(len(_FIRST))]
            b = second[rng.integers(len(second))]
            stem = a + b
            if a != b and stem not in used:
                used.add(stem)
                names.append(stem + suffix)
                break
    return names


# -- public -------------------------------------------------------------------------------------


def make_grids(
    land: BaseGeometry,
    *,
    towns: pd.DataFrame,
    seed: int,
    district_code: str = "320506",
    counts: tuple[int, int] = LEVEL_COUNTS[1:],
) -> gpd.GeoDataFrame:
    """Cut the land into three nested grid levels.

    Parameters
    ----------
    land
        The district's land in EPSG:4549 (:func:`layers.generate.land.load_land`).
    towns
        Town-level units: columns ``code, name`` (9-digit codes) or the statistical list's
        ``id, ext_name``; each becomes one level-1 grid (政企合一 units, codes 400–499, are not
        level-1 grids and are left out).
    seed
        Seed of levels 2 and 3; level 1 is the same for every seed.
    district_code
        6-digit county code that prefixes every grid code.
    counts
        Number of level-2 and level-3 grids.

    Returns
    -------
    geopandas.GeoDataFrame
        Columns ``code, level, parent_code, name, geometry`` in EPSG:4549, sorted by level and
        code. Children tile their parent; each level tiles the land.
    """
    if len(district_code) != 6 or not district_code.isdigit():
        raise ValueError(f"district code {district_code!r} is not 6 digits")
    n2_total, n3_total = counts
    units = _level1_units(towns, district_code)
    rng = np.random.default_rng(seed)

    level1 = _level1(land, units)
    rows: list[tuple[str, int, str | None, str, BaseGeometry]] = []
    code1: dict[str, str] = {}
    for t in units:
        code = town_code(district_code + t.segment)
        code1[t.segment] = code
        rows.append((code, 1, None, t.name, level1[t.segment]))

    # One sample of the land drives every allocation and every seed: cheap and consistent.
    area_km2 = land.area / 1e6
    samples = _sample(land, rng, n=int(area_km2 * _SAMPLES_PER_KM2))
    dens = urban_density(samples[:, 0], samples[:, 1])

    segs = [t.segment for t in units]
    member = np.full(len(samples), -1)
    for i, s in enumerate(segs):
        member[shapely.contains_xy(level1[s], samples[:, 0], samples[:, 1])] = i
    mass = np.array([dens[member == i].sum() for i in range(len(segs))])
    area = np.array([level1[s].area for s in segs])
    # Count by population-like mass, tempered by area so that rural towns still get enough villages.
    n2 = _allocate((mass / mass.sum()) ** 0.6 * (area / area.sum()) ** 0.4, n2_total, minimum=6)

    level2: list[tuple[str, BaseGeometry]] = []  # (parent code, geometry)
    for i, s in enumerate(segs):
        region = level1[s]
        pick = member == i
        pts, w = _region_samples(region, samples[pick], dens[pick], n2[i], rng)
        for g in _cut(region, _seeds(pts, w, n2[i], rng)):
            level2.append((code1[s], g))
    geoms2 = np.array([g for _, g in level2], dtype=object)
    rp = shapely.get_coordinates(shapely.point_on_surface(geoms2))
    # Streets are made of communities (社区); towns of villages (村) but for the town seat.
    street = np.array([is_street(t.name) for t in units])
    town_of2 = np.array([segs.index(p[6:9]) for p, _ in level2])
    urban = street[town_of2] | (urban_density(rp[:, 0], rp[:, 1]) > 0.45)
    names2 = _community_names(urban, rng)

    # Number level 2 within each town by the shared rule, then cut each into level-3 grids.
    parent2 = np.array([p for p, _ in level2])
    code2 = np.empty(len(level2), dtype=object)
    for p in np.unique(parent2):
        idx = np.flatnonzero(parent2 == p)
        order = expected_order(geoms2[idx])
        for number, j in enumerate(idx[order], start=1):
            code2[j] = _SCHEME.child(p, number)
    for j in range(len(level2)):
        rows.append((code2[j], 2, parent2[j], names2[j], geoms2[j]))

    member2 = np.full(len(samples), -1)
    for j in range(len(level2)):  # each community only tests its own town's sample
        within = np.flatnonzero(member == segs.index(parent2[j][6:9]))
        shapely.prepare(geoms2[j])
        hit = shapely.contains_xy(geoms2[j], samples[within, 0], samples[within, 1])
        member2[within[hit]] = j
    mass2 = np.bincount(member2[member2 >= 0], weights=dens[member2 >= 0], minlength=len(geoms2))
    area2 = shapely.area(geoms2)
    n3 = _allocate((mass2 / mass2.sum()) ** 0.85 * (area2 / area2.sum()) ** 0.15 + 1e-12, n3_total, minimum=2)
    for j in range(len(level2)):
        pick = member2 == j
        pts, w = _region_samples(geoms2[j], samples[pick], dens[pick], n3[j], rng)
        kids = np.array(_cut(geoms2[j], _seeds(pts, w, n3[j], rng)), dtype=object)
        order = expected_order(kids)
        for number, k in enumerate(order, start=1):
            rows.append((_SCHEME.child(code2[j], number), 3, code2[j], f"{names2[j]}第{number}网格", kids[k]))

    frame = gpd.GeoDataFrame(
        rows, columns=["code", "level", "parent_code", "name", "geometry"], geometry="geometry", crs=WORK_CRS
    )
    frame["level"] = frame["level"].astype("int64")
    return frame.sort_values(["level", "code"], kind="stable").reset_index(drop=True)


def _region_samples(
    region: BaseGeometry, pts: np.ndarray, w: np.ndarray, k: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """The land sample inside ``region``, topped up where it is too thin to place ``k`` seeds."""
    need = max(40 * k, 200)
    if len(pts) < need:
        extra = _sample(region, rng, n=need - len(pts))
        pts = np.concatenate([pts, extra]) if len(pts) else extra
        w = urban_density(pts[:, 0], pts[:, 1])
    return pts, w
