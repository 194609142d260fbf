"""Synthetic city components (部件) laid along the generated streets.

Classes follow the component standard (CJ/T 214-2007, later GB/T 30428.2): six major classes, each
with sub-classes, code = major (2) + sub (2). The manhole covers of 01 公用设施 carry the
standard's own sub-class numbers (0101 上水井盖 … 0113 无主井盖); the other sub-class numbers
are plausible ones in the standard's style, not quotations of it. Shares are invented to look like a
Jiangnan district's census: lamps, manhole covers of each utility, street trees and bins dominate.

Each class has a placement rule: manholes in the carriageway, lamps and hydrants at a spacing
along the kerb, trees along the footway, bins and signals near junctions, parks and toilets set
back from the street. Segments are picked in proportion to their length and, for most classes, to
the urban density, so components crowd where the town is. A component whose position falls off
every grid (an offset into the lake) is drawn again; none is kept without a grid.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import geopandas as gpd
import numpy as np
import pandas as pd
from shapely.geometry.base import BaseGeometry

from layers.codes import town_of
from layers.components import COMPONENT_COLUMNS, SOURCES, STATES
from layers.generate.grids import urban_density
from layers.generate.streets import KINDS, Streets
from spatial.locate import GridLocator

BodiesFn = Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray, np.ndarray]]

# The store's component columns and value sets are the layer's; the generator only adds shares.
COLUMNS = COMPONENT_COLUMNS
# States found by the census; what cases report is added by :mod:`layers.generate.upkeep`.
STATE_SHARES = (0.975, 0.015, 0.002, 0.008)
SOURCE_SHARES = (0.72, 0.10, 0.15, 0.03)

MAJOR_NAMES = {
    "01": "公用设施",
    "02": "道路交通",
    "03": "市容环境",
    "04": "园林绿化",
    "05": "房屋土地",
    "06": "其他设施",
}

# (code, name, share in per mille before normalising, placement)
# Placement: (mode, offset min m, offset max m, spacing m, urban exponent, weight of arterial/street/lane)
#   road      in the carriageway, offset either side of the centre line up to "offset max"
#   kerb      at the kerb or footway, "offset min".."offset max" to one side
#   junction  within 25 m of a segment end, at the kerb
#   setback   back from the street (parks, toilets, parking)
# A spacing > 0 puts components at multiples of it along the segment (lamps every ~35 m).
_CLASS_TABLE: tuple[
    tuple[str, str, float, tuple[str, float, float, float, float, tuple[float, float, float]]], ...
] = (
    ("0101", "上水井盖", 60, ("road", 0.0, 3.5, 0, 1.0, (1.0, 1.0, 0.6))),
    ("0102", "污水井盖", 65, ("road", 0.0, 3.0, 0, 1.2, (1.0, 1.0, 0.6))),
    ("0103", "雨水井盖", 60, ("road", 0.0, 3.5, 0, 1.0, (1.0, 1.0, 0.5))),
    ("0104", "雨水箅子", 70, ("kerb", 3.0, 4.5, 0, 1.0, (1.2, 1.0, 0.5))),
    ("0105", "电力井盖", 30, ("kerb", 4.0, 7.0, 0, 1.0, (1.5, 1.0, 0.3))),
    ("0106", "路灯井盖", 15, ("kerb", 5.0, 7.0, 0, 1.2, (1.5, 1.0, 0.3))),
    ("0107", "通信井盖", 40, ("kerb", 4.0, 7.0, 0, 1.2, (1.5, 1.0, 0.3))),
    ("0108", "电视井盖", 8, ("kerb", 4.0, 7.0, 0, 1.3, (1.0, 1.0, 0.3))),
    ("0109", "网络井盖", 7, ("kerb", 4.0, 7.0, 0, 1.4, (1.0, 1.0, 0.3))),
    ("0110", "热力井盖", 0.5, ("kerb", 4.0, 7.0, 0, 2.0, (1.0, 1.0, 0.1))),
    ("0111", "燃气井盖", 20, ("kerb", 3.0, 6.0, 0, 1.3, (1.0, 1.0, 0.5))),
    ("0112", "公安井盖", 4, ("kerb", 4.0, 7.0, 0, 1.5, (1.5, 1.0, 0.1))),
    ("0113", "无主井盖", 3, ("road", 0.0, 4.0, 0, 0.5, (0.5, 1.0, 1.0))),
    ("0114", "消防栓", 15, ("kerb", 5.0, 6.5, 100.0, 1.2, (1.0, 1.0, 0.4))),
    ("0115", "电力设施", 12, ("kerb", 6.0, 12.0, 0, 0.8, (1.0, 1.0, 0.6))),
    ("0116", "电线杆", 20, ("kerb", 5.0, 8.0, 50.0, 0.0, (0.5, 1.0, 1.0))),
    ("0117", "路灯", 120, ("kerb", 6.0, 8.0, 35.0, 1.0, (1.5, 1.0, 0.4))),
    ("0118", "景观灯", 15, ("kerb", 8.0, 14.0, 0, 1.5, (1.0, 1.0, 0.6))),
    ("0119", "通信交接箱", 8, ("kerb", 7.0, 10.0, 0, 1.2, (1.0, 1.0, 0.3))),
    ("0120", "邮筒", 0.5, ("junction", 7.0, 9.0, 0, 1.5, (1.0, 1.0, 0.1))),
    ("0201", "停车场", 2, ("setback", 15.0, 60.0, 0, 1.5, (0.5, 1.0, 0.3))),
    ("0202", "公交站亭", 3, ("kerb", 6.0, 8.0, 0, 0.8, (3.0, 1.0, 0.0))),
    ("0203", "交通标志牌", 20, ("junction", 6.0, 9.0, 0, 1.0, (2.0, 1.0, 0.2))),
    ("0204", "交通信号灯", 6, ("junction", 5.0, 8.0, 0, 1.5, (3.0, 1.0, 0.0))),
    ("0205", "隔离护栏", 15, ("road", 0.0, 0.5, 0, 1.2, (3.0, 1.0, 0.0))),
    ("0206", "过街天桥", 0.2, ("road", 0.0, 0.5, 0, 2.0, (5.0, 1.0, 0.0))),
    ("0207", "路名牌", 8, ("junction", 6.0, 9.0, 0, 1.0, (1.0, 1.0, 0.5))),
    ("0208", "停车泊位", 5, ("kerb", 4.0, 6.0, 0, 1.5, (0.5, 1.0, 0.5))),
    ("0209", "减速带", 3, ("road", 0.0, 1.0, 0, 1.0, (0.0, 1.0, 1.0))),
    ("0210", "跨河桥", 3, ("road", 0.0, 1.0, 0, 0.3, (1.0, 1.0, 0.8))),
    ("0211", "公共自行车站", 1.5, ("kerb", 8.0, 12.0, 0, 1.5, (1.0, 1.0, 0.2))),
    ("0212", "交通岗亭", 0.2, ("junction", 8.0, 12.0, 0, 2.0, (3.0, 1.0, 0.0))),
    ("0213", "隔离墩", 10, ("kerb", 3.0, 5.0, 0, 1.3, (1.0, 1.0, 0.8))),
    ("0301", "公共厕所", 0.8, ("setback", 10.0, 40.0, 0, 1.0, (0.5, 1.0, 1.0))),
    ("0302", "垃圾间", 1.5, ("setback", 10.0, 40.0, 0, 0.8, (0.3, 1.0, 1.0))),
    ("0303", "广告牌匾", 20, ("kerb", 10.0, 16.0, 0, 1.8, (1.0, 1.0, 0.7))),
    ("0304", "报刊亭", 0.3, ("junction", 8.0, 12.0, 0, 2.0, (1.0, 1.0, 0.1))),
    ("0305", "垃圾箱", 50, ("junction", 6.0, 10.0, 0, 1.2, (1.0, 1.0, 0.8))),
    ("0306", "灯箱霓虹灯", 4, ("kerb", 10.0, 16.0, 0, 2.0, (1.0, 1.0, 0.5))),
    ("0307", "户外电子屏", 0.5, ("junction", 10.0, 20.0, 0, 2.0, (2.0, 1.0, 0.0))),
    ("0308", "垃圾转运站", 0.1, ("setback", 20.0, 60.0, 0, 0.0, (0.5, 1.0, 0.5))),
    ("0401", "古树名木", 0.5, ("setback", 10.0, 80.0, 0, 0.0, (0.2, 1.0, 1.0))),
    ("0402", "行道树", 240, ("kerb", 7.0, 9.5, 8.0, 0.8, (1.5, 1.0, 0.4))),
    ("0403", "护树设施", 20, ("kerb", 7.0, 9.5, 8.0, 1.5, (1.5, 1.0, 0.2))),
    ("0404", "花坛花箱", 12, ("junction", 8.0, 14.0, 0, 1.5, (1.0, 1.0, 0.4))),
    ("0405", "绿地", 15, ("setback", 15.0, 70.0, 0, 0.5, (1.0, 1.0, 0.5))),
    ("0406", "城市雕塑", 0.5, ("setback", 10.0, 40.0, 0, 1.5, (1.0, 1.0, 0.2))),
    ("0407", "街头座椅", 8, ("kerb", 8.0, 12.0, 0, 1.5, (1.0, 1.0, 0.5))),
    ("0408", "绿地护栏", 6, ("kerb", 9.0, 14.0, 0, 1.0, (1.0, 1.0, 0.5))),
    ("0409", "喷泉", 0.2, ("setback", 15.0, 50.0, 0, 2.0, (1.0, 1.0, 0.2))),
    ("0501", "宣传栏", 4, ("setback", 8.0, 25.0, 0, 0.5, (0.3, 1.0, 1.0))),
    ("0502", "人防工事", 0.5, ("setback", 15.0, 60.0, 0, 1.5, (0.5, 1.0, 0.5))),
    ("0503", "地下空间出入口", 0.3, ("kerb", 10.0, 20.0, 0, 2.0, (2.0, 1.0, 0.1))),
    ("0504", "危房", 0.3, ("setback", 10.0, 50.0, 0, 0.0, (0.2, 1.0, 1.0))),
    ("0601", "监控电子眼", 12, ("junction", 5.0, 9.0, 0, 1.3, (2.0, 1.0, 0.5))),
    ("0602", "健身设施", 6, ("setback", 10.0, 50.0, 0, 0.8, (0.3, 1.0, 1.0))),
    ("0603", "水域护栏", 5, ("setback", 12.0, 40.0, 0, 0.5, (0.5, 1.0, 1.0))),
    ("0604", "码头", 0.2, ("setback", 20.0, 80.0, 0, 0.0, (0.2, 1.0, 1.0))),
    ("0605", "测量控制点", 0.5, ("kerb", 3.0, 12.0, 0, 0.5, (1.0, 1.0, 0.5))),
    ("0606", "井盖(其他)", 3, ("road", 0.0, 4.0, 0, 1.0, (1.0, 1.0, 0.6))),
    ("0607", "工地", 0.5, ("setback", 20.0, 80.0, 0, 1.0, (1.0, 1.0, 0.2))),
)


def _classes() -> pd.DataFrame:
    code = [c for c, *_ in _CLASS_TABLE]
    share = np.array([s for _, _, s, _ in _CLASS_TABLE], dtype=float)
    return pd.DataFrame(
        {
            "code": code,
            "major_code": [c[:2] for c in code],
            "major_name": [MAJOR_NAMES[c[:2]] for c in code],
            "name": [n for _, n, _, _ in _CLASS_TABLE],
            "share": share / share.sum(),
        }
    )


#: The component classes: ``code`` (major(2) + sub(2)), ``major_code``, ``major_name``, ``name``,
#: ``share`` (expected fraction of all components; the shares sum to 1).
COMPONENT_CLASSES: pd.DataFrame = _classes()

_PLACEMENT = {c: p for c, _, _, p in _CLASS_TABLE}
_MODES = ("road", "kerb", "junction", "setback")
_REDRAW_ROUNDS = 12


def _class_counts(n: int, rng: np.random.Generator) -> np.ndarray:
    """Counts per class summing to ``n``, drawn rather than fixed.

    Each class's density varies from district to district (a survey finds what is there): its
    expected count is its share with a ±15 % log-normal spread, the count a Poisson draw around it,
    and the counts are scaled (largest remainder) to the exact total.
    """
    share = COMPONENT_CLASSES["share"].to_numpy()
    lam = share * n * np.exp(rng.normal(0.0, 0.15, share.size))
    drawn = rng.poisson(lam).astype(float) + 1.0  # every class is found at least once
    raw = drawn / drawn.sum() * n
    base = np.floor(raw).astype(np.int64)
    base[np.argsort(-(raw - base), kind="stable")[: n - base.sum()]] += 1
    return base


class _Placer:
    """Draws positions for components of one class along the street segments."""

    def __init__(self, streets: Streets) -> None:
        self.x0, self.y0 = streets.x0, streets.y0
        length = streets.length
        self.length = np.maximum(length, 1e-9)
        self.ux = (streets.x1 - streets.x0) / self.length
        self.uy = (streets.y1 - streets.y0) / self.length
        mx = (streets.x0 + streets.x1) / 2
        my = (streets.y0 + streets.y1) / 2
        self.density = urban_density(mx, my)
        self.kind = np.zeros(len(streets), dtype=np.intp)
        for i, name in enumerate(KINDS):
            self.kind[streets.kind == name] = i

    def weights(
        self, placement: tuple[str, float, float, float, float, tuple[float, float, float]]
    ) -> np.ndarray:
        _, _, _, _, urban, by_kind = placement
        w = self.length * np.asarray(by_kind)[self.kind] * self.density**urban
        return np.cumsum(w)

    def draw(
        self,
        cum: np.ndarray,
        placement: tuple[str, float, float, float, float, tuple[float, float, float]],
        k: int,
        rng: np.random.Generator,
        *,
        on_line: bool = False,
    ) -> tuple[np.ndarray, np.ndarray]:
        mode, omin, omax, spacing, _, _ = placement
        seg = np.searchsorted(cum, rng.uniform(0, cum[-1], k), side="right")
        seg = np.minimum(seg, cum.size - 1)
        length = self.length[seg]
        if mode == "junction":
            along = np.minimum(rng.uniform(2.0, 25.0, k), length)
            along = np.where(rng.random(k) < 0.5, along, length - along)
        elif spacing > 0:
            # Fixed spacing from a phase that belongs to the segment, as a survey would find them.
            phase = (seg * 0.618034) % 1.0 * spacing
            slots = np.floor(np.maximum(length - phase, 0) / spacing) + 1
            along = np.minimum(phase + np.floor(rng.random(k) * slots) * spacing, length)
            along = along + rng.normal(0, 0.4, k)
        else:
            along = rng.uniform(0, 1, k) * length
        along = np.clip(along, 0, length)
        if on_line:
            offset = np.zeros(k)
        elif mode == "road":
            offset = rng.uniform(-omax, omax, k)
        else:
            side = np.where(rng.random(k) < 0.5, -1.0, 1.0)
            offset = side * rng.uniform(omin, omax, k)
        x = self.x0[seg] + self.ux[seg] * along - self.uy[seg] * offset
        y = self.y0[seg] + self.uy[seg] * along + self.ux[seg] * offset
        return x, y


def _grid_locator(
    grids: gpd.GeoDataFrame, locator: GridLocator | None
) -> tuple[Callable[[np.ndarray, np.ndarray], np.ndarray], np.ndarray]:
    """(x, y) → position of the covering level-3 grid (-1 for none), with the codes.

    The engine's locator is used so that generation, checks and later assignment share the one
    "covers, lowest code wins" rule; the caller's, when it has built one over the same grids.
    """
    if locator is None:
        l3 = grids[grids["level"] == 3]
        locator = GridLocator(l3.geometry.to_numpy(), l3["code"].to_numpy(dtype=object))
    return locator.locate_index, locator.codes.astype(object)


def _dates(
    k: int, state: np.ndarray, *, end: dt.date, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Survey and change dates: most from the first census, the rest added since; changes later."""
    end64 = np.datetime64(end, "D")
    census_start = np.datetime64(dt.date(end.year - 6, 3, 1), "D")
    census_days = 300
    since_census = int((end64 - census_start).astype(int)) - census_days
    in_census = rng.random(k) < 0.62
    offset = np.where(
        in_census,
        rng.integers(0, census_days, k),
        census_days + rng.integers(0, max(since_census, 1), k),
    )
    surveyed = np.minimum(census_start + offset.astype("timedelta64[D]"), end64)
    span = (end64 - surveyed).astype(np.int64)
    # A damaged, missing or occupied component was seen so recently; others were edited at times.
    not_intact = state != STATES[0]
    recent = np.minimum(span, rng.integers(0, 180, k))
    later = (rng.random(k) * (span + 1)).astype(np.int64)
    changed_by = np.where(not_intact, span - recent, np.where(rng.random(k) < 0.3, later, 0))
    changed = surveyed + changed_by.astype("timedelta64[D]")
    # Formatting a few thousand distinct days once is far cheaper than 680,000 datetimes.
    days = np.arange(census_start, end64 + 1).astype(str).astype(object)
    return days[(surveyed - census_start).astype(np.int64)], days[(changed - census_start).astype(np.int64)]


def make_components(
    grids: gpd.GeoDataFrame,
    land: BaseGeometry,
    streets: Streets,
    *,
    n: int = 680_000,
    seed: int,
    end: dt.date,
    county: str = "320506",
    bodies: BodiesFn | None = None,
    locator: GridLocator | None = None,
) -> pd.DataFrame:
    """Generate ``n`` components along the streets, each in the level-3 grid that covers it.

    Parameters
    ----------
    grids
        Grids of :func:`layers.generate.grids.make_grids`; level 3 locates the components.
    land
        The district's land (EPSG:4549). Components are kept only where a level-3 grid covers
        them, and the level-3 grids tile the land, so every component lies on it.
    streets
        Streets of :func:`layers.generate.streets.make_streets`.
    n
        Exact number of components.
    seed
        Seed; the same seed, grids, streets and ``end`` give the same components.
    end
        Last day of the data: no survey or change is later.
    county
        6-digit county code that prefixes every component code.
    bodies
        ``bodies(class_codes, town_codes) -> (supervisor, owner, maintainer)`` department codes,
        where ``town_codes`` are the 15-digit level-1 grid codes; ``None`` leaves the three
        columns empty.
    locator
        A locator over the level-3 ``grids`` already built (the generator's); built here if not.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`COLUMNS`, sorted by code; codes are county (6) + class (4) + serial (6),
        serials numbered per class in spatial order (by grid, then north to south, west to east).
    """
    if n <= 0:
        raise ValueError(f"the number of components must be positive, not {n}")
    if len(county) != 6 or not county.isdigit():
        raise ValueError(f"county code {county!r} is not 6 digits")
    if len(streets) == 0:
        raise ValueError("there are no streets to place components along")
    rng = np.random.default_rng([seed, 0xB17])
    counts = _class_counts(n, rng)
    if counts.max() > 999_999:
        raise ValueError(f"{counts.max()} components of one class do not fit a 6-digit serial")
    placer = _Placer(streets)
    locate, codes3 = _grid_locator(grids, locator)

    class_codes = COMPONENT_CLASSES["code"].to_numpy()
    cls = np.repeat(np.arange(len(class_codes)), counts)
    x = np.empty(n)
    y = np.empty(n)
    start = np.concatenate([[0], np.cumsum(counts)])
    cums = []
    for i, c in enumerate(class_codes):  # a few dozen classes, each drawn in one vector
        cum = placer.weights(_PLACEMENT[c])
        cums.append(cum)
        x[start[i] : start[i + 1]], y[start[i] : start[i + 1]] = placer.draw(
            cum, _PLACEMENT[c], counts[i], rng
        )

    grid = locate(x, y)
    for round_ in range(_REDRAW_ROUNDS + 1):
        lost = np.flatnonzero(grid < 0)
        if lost.size == 0:
            break
        # Offsets into the lake or over the district edge: draw again; in the last round put
        # them on the centre line, which is on land by construction.
        last = round_ == _REDRAW_ROUNDS
        for i in np.unique(cls[lost]):
            members = lost[cls[lost] == i]
            c = class_codes[i]
            x[members], y[members] = placer.draw(cums[i], _PLACEMENT[c], members.size, rng, on_line=last)
        grid[lost] = locate(x[lost], y[lost])
    if (grid < 0).any():
        raise RuntimeError(f"{int((grid < 0).sum())} components could not be placed in any grid")

    # Serials per class in spatial order: grid, then 200 m bands north to south, west to east.
    band = np.floor(-y / 200.0)
    order = np.lexsort((x, band, grid, cls))
    cls, x, y, grid = cls[order], x[order], y[order], grid[order]
    serial = np.arange(n) - start[cls] + 1

    class_col = class_codes[cls]
    code = pd.Series(class_col, dtype=object).radd(county) + pd.Series(serial).astype(str).str.zfill(6)
    grid_code = codes3[grid]

    state = np.asarray(STATES, dtype=object)[rng.choice(len(STATES), n, p=STATE_SHARES)]
    source = np.asarray(SOURCES, dtype=object)[rng.choice(len(SOURCES), n, p=SOURCE_SHARES)]
    surveyed, changed = _dates(n, state, end=end, rng=rng)

    if bodies is not None:
        town = town_of(grid_code)
        supervisor, owner, maintainer = bodies(class_col, town)
    else:
        supervisor = owner = maintainer = np.full(n, None, dtype=object)

    frame = pd.DataFrame(
        {
            "code": code.to_numpy(dtype=object),
            "class_code": class_col,
            "x": x,
            "y": y,
            "grid_code": grid_code,
            "supervisor_code": np.asarray(supervisor, dtype=object),
            "owner_code": np.asarray(owner, dtype=object),
            "maintainer_code": np.asarray(maintainer, dtype=object),
            "state": state,
            "surveyed_on": surveyed,
            "changed_on": changed,
            "source": source,
            "version": np.ones(n, dtype=np.int64),
        },
        columns=COLUMNS,
    )
    return frame
