"""Case and component aggregates for the maps: filters, counts per grid and per cell, rates.

Pure data (pandas/numpy, SQL through the store); the views decide how to draw them. Filtering
and grouping that would touch every case is pushed into SQLite or done vectorised here, never
in a Python loop over rows.

Definitions used by every view:

- a case is *open* while its status is one of :data:`OPEN_STATUSES`;
- it is *overdue* when open and its deadline is before ``as_of`` (the time of the latest report
  in the store, so a store generated last month still reads as it did then);
- it is *due to close* when it is closed, or its deadline is before ``as_of``; the closure rate
  of a grid is closed / due to close (结案数/应结案数), undefined (NaN) where nothing is due.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from layers.codes import community_of, grid_prefix, town_of
from layers.live_index import LiveComponentIndex, build_component_index
from layers.pgstore import WORK_SRID
from layers.staff import mask_personal
from layers.store import Store
from spatial.component_index import ComponentIndex
from spatial.crs import WORK_CRS, transformer
from spatial.locate import covering_winner

OPEN_STATUSES = ("reported", "registered", "dispatched", "handled")
CLOSED_STATUSES = ("closed", "evaluated")
STATUSES = (*OPEN_STATUSES, *CLOSED_STATUSES, "rejected")

#: Size of a heat cell beyond a day's worth of cases (metres, EPSG:4549).
HEAT_CELL_M = 250.0
#: Up to this many cases the heat map gets the raw points (about one day in the district).
RAW_HEAT_LIMIT = 3000

_CASE_COLUMNS = ("x", "y", "grid_code", "status", "deadline_at", "event_type_code")


@dataclass(frozen=True)
class CaseFilter:
    """Which cases a view shows. ``end`` is inclusive; empty tuples mean "all"."""

    start: dt.date
    end: dt.date
    event_majors: tuple[str, ...] = ()
    channels: tuple[str, ...] = ()
    statuses: tuple[str, ...] = ()
    town: str | None = None

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise ValueError(f"the date range ends ({self.end}) before it starts ({self.start})")
        unknown = sorted(set(self.statuses) - set(STATUSES))
        if unknown:
            raise ValueError(f"unknown case statuses {unknown}; known: {list(STATUSES)}")

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1


def case_filter_sql(flt: CaseFilter) -> tuple[str, list[object]]:
    """An SQL condition over ``cases`` and its parameters (the date range uses the index)."""
    where = ["reported_at >= ?", "reported_at < ?"]
    params: list[object] = [flt.start.isoformat(), (flt.end + dt.timedelta(days=1)).isoformat()]
    if flt.event_majors:
        where.append(
            "event_type_code IN (SELECT code FROM event_types WHERE major_code IN "
            f"({','.join('?' * len(flt.event_majors))}))"
        )
        params.extend(flt.event_majors)
    if flt.channels:
        where.append(f"channel_code IN ({','.join('?' * len(flt.channels))})")
        params.extend(flt.channels)
    if flt.statuses:
        where.append(f"status IN ({','.join('?' * len(flt.statuses))})")
        params.extend(flt.statuses)
    if flt.town:
        where.append("town_code = ?")
        params.append(flt.town)
    return " AND ".join(where), params


def load_cases(store: Store, flt: CaseFilter, *, columns: tuple[str, ...] = _CASE_COLUMNS) -> pd.DataFrame:
    """The cases of a filter, only the given columns, through Arrow."""
    where, params = case_filter_sql(flt)
    sql = f"SELECT {', '.join(columns)} FROM cases WHERE {where}"
    return store.read_arrow(sql, params).to_pandas()


def case_span(store: Store) -> tuple[dt.date, dt.date] | None:
    """First and last report dates in the store (``None`` when it holds no case)."""
    first, last = store.conn.execute("SELECT MIN(reported_at), MAX(reported_at) FROM cases").fetchone()
    if first is None:
        return None
    return dt.date.fromisoformat(first[:10]), dt.date.fromisoformat(last[:10])


def data_now(store: Store) -> str:
    """``as_of`` for overdue and due-to-close: the latest report time in the store (ISO text)."""
    row = store.conn.execute("SELECT MAX(reported_at) FROM cases").fetchone()
    return row[0] or dt.datetime.now().isoformat(timespec="seconds")


def months(start: dt.date, end: dt.date) -> list[str]:
    """``YYYY-MM`` of every month that overlaps ``start``..``end``."""
    out = []
    y, m = start.year, start.month
    while (y, m) <= (end.year, end.month):
        out.append(f"{y:04d}-{m:02d}")
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return out


@dataclass(frozen=True)
class MonthPart:
    """A month (``YYYY-MM``) and the days of it that lie in a date range."""

    month: str
    first: dt.date
    last: dt.date

    @property
    def whole(self) -> bool:
        """Whether the range holds every day of the month."""
        return self.first.day == 1 and (self.last + dt.timedelta(days=1)).day == 1


def month_parts(start: dt.date, end: dt.date) -> list[MonthPart]:
    """Every month that overlaps ``start``..``end``, with the days of it inside: a 30-day window
    ending on Nov 29 holds Oct 31 alone of October, and a month slider must say so."""
    return [MonthPart(m, *month_window(m, within=(start, end))) for m in months(start, end)]


def month_window(month: str, *, within: tuple[dt.date, dt.date]) -> tuple[dt.date, dt.date]:
    """The days of ``month`` (``YYYY-MM``) that lie in ``within``."""
    first = dt.date.fromisoformat(f"{month}-01")
    nxt = dt.date(first.year + (first.month == 12), first.month % 12 + 1, 1)
    start, end = max(first, within[0]), min(nxt - dt.timedelta(days=1), within[1])
    if end < start:
        raise ValueError(f"month {month} lies outside {within[0]}..{within[1]}")
    return start, end


# -- grid levels ---------------------------------------------------------------------------


def codes_at_level(codes: np.ndarray | pd.Series, level: int) -> np.ndarray:
    """Level-3 grid codes rolled up to the grid of ``level`` that holds them."""
    if level == 3:
        return np.asarray(codes, dtype=object)
    if level == 2:
        return community_of(codes)
    if level == 1:
        return town_of(codes)
    raise ValueError(f"grid level must be 1, 2 or 3, not {level}")


def grid_at(grids: gpd.GeoDataFrame, *, lon: float, lat: float) -> str | None:
    """The grid of ``grids`` covering a WGS84 point, by the one tie rule (lowest code wins)."""
    if not (np.isfinite(lon) and np.isfinite(lat)):
        return None
    x, y = transformer("EPSG:4326", WORK_CRS).transform(lon, lat)
    hits = shapely.covers(grids.geometry.to_numpy(), shapely.Point(x, y))
    return covering_winner(grids["code"].to_numpy()[hits].tolist())


def to_lonlat(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Working-CRS metres to WGS84 lon/lat."""
    # No range check: these are the store's own coordinates (spatial.crs.to_display checks input).
    lon, lat = transformer(WORK_CRS, "EPSG:4326").transform(
        np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    )
    return np.asarray(lon), np.asarray(lat)


def bbox_to_work(west: float, south: float, east: float, north: float) -> tuple[float, float, float, float]:
    """A lon/lat box as the working-CRS box that contains it (its corners projected)."""
    xs, ys = transformer("EPSG:4326", WORK_CRS).transform(
        [west, east, west, east], [south, south, north, north]
    )
    return float(min(xs)), float(min(ys)), float(max(xs)), float(max(ys))


# -- heat ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Heat:
    """Heat input in lon/lat: one row per point or per occupied cell, with its weight."""

    lon: np.ndarray
    lat: np.ndarray
    weight: np.ndarray
    binned: bool
    cell_m: float
    n_cases: int


def bin_points(x: np.ndarray, y: np.ndarray, *, cell: float = HEAT_CELL_M) -> pd.DataFrame:
    """Counts per square cell aligned on multiples of ``cell``; columns ``cx, cy, count`` (centres)."""
    if cell <= 0:
        raise ValueError(f"cell size must be positive, not {cell}")
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    ok = np.isfinite(x) & np.isfinite(y)
    ix = np.floor(x[ok] / cell).astype(np.int64)
    iy = np.floor(y[ok] / cell).astype(np.int64)
    if not len(ix):
        return pd.DataFrame({"cx": [], "cy": [], "count": np.array([], dtype=np.int64)})
    # One integer key per cell: np.unique on a flat int64 array is far faster than on rows.
    x0, y0 = ix.min(), iy.min()
    height = int(iy.max() - y0) + 1
    flat, counts = np.unique((ix - x0) * height + (iy - y0), return_counts=True)
    keys = np.stack([flat // height + x0, flat % height + y0], axis=1)
    return pd.DataFrame(
        {"cx": (keys[:, 0] + 0.5) * cell, "cy": (keys[:, 1] + 0.5) * cell, "count": counts.astype(np.int64)}
    )


def heat(
    x: np.ndarray, y: np.ndarray, *, days: int, cell: float = HEAT_CELL_M, raw_limit: int = RAW_HEAT_LIMIT
) -> Heat:
    """Raw points for a day (or up to ``raw_limit``), cell counts beyond, so the payload stays small."""
    n = len(x)
    if days <= 1 or n <= raw_limit:
        lon, lat = to_lonlat(x, y)
        return Heat(lon=lon, lat=lat, weight=np.ones(n), binned=False, cell_m=0.0, n_cases=n)
    cells = bin_points(x, y, cell=cell)
    lon, lat = to_lonlat(cells["cx"].to_numpy(), cells["cy"].to_numpy())
    return Heat(
        lon=lon, lat=lat, weight=cells["count"].to_numpy(dtype=float), binned=True, cell_m=cell, n_cases=n
    )


# -- per-grid statistics --------------------------------------------------------------------


def grid_case_stats(cases: pd.DataFrame, *, level: int, as_of: str) -> pd.DataFrame:
    """Per grid of ``level``: ``cases, open, overdue, closed, due, closure_rate``.

    ``cases`` needs ``grid_code`` (level 3), ``status`` and ``deadline_at``.
    """
    codes = codes_at_level(cases["grid_code"].to_numpy(dtype=object), level)
    status = cases["status"].to_numpy(dtype=object)
    deadline = cases["deadline_at"].astype(object).to_numpy()
    is_open = np.isin(status, OPEN_STATUSES)
    is_closed = np.isin(status, CLOSED_STATUSES)
    has_deadline = pd.notna(deadline)
    past = np.zeros(len(cases), dtype=bool)
    past[has_deadline] = deadline[has_deadline].astype(str) < as_of
    frame = pd.DataFrame(
        {
            "code": codes,
            "cases": 1,
            "open": is_open.astype(np.int64),
            "overdue": (is_open & past).astype(np.int64),
            "closed": is_closed.astype(np.int64),
            "due": (is_closed | (past & ~np.isin(status, ("rejected",)))).astype(np.int64),
        }
    )
    out = frame.groupby("code", sort=True).sum()
    out["closure_rate"] = np.where(
        out["due"] > 0, out["closed"] / out["due"].where(out["due"] > 0, 1), np.nan
    )
    return out


def component_counts(store: Store, *, level: int) -> pd.Series:
    """Components per grid of ``level`` (a GROUP BY in SQLite, then rolled up)."""
    rows = store.conn.execute(
        "SELECT grid_code, COUNT(*) FROM components WHERE grid_code IS NOT NULL GROUP BY grid_code"
    ).fetchall()
    if not rows:
        return pd.Series(dtype=np.int64, name="components")
    frame = pd.DataFrame(rows, columns=["grid_code", "n"])
    frame["code"] = codes_at_level(frame["grid_code"].to_numpy(dtype=object), level)
    return frame.groupby("code")["n"].sum().astype(np.int64).rename("components")


#: Metrics of the coverage map: column → whether higher is worse (for colour direction).
METRICS = {
    "cases_per_km2": True,
    "components_per_km2": False,
    "open": True,
    "overdue": True,
    "closure_rate": False,
}


def coverage(grids: pd.DataFrame, *, case_stats: pd.DataFrame, components: pd.Series) -> pd.DataFrame:
    """One row per grid (``code, name, area_km2``) with every metric of :data:`METRICS`."""
    out = pd.DataFrame(
        {
            "code": grids["code"].to_numpy(),
            "name": grids["name"].to_numpy(),
            "area_km2": grids["area_m2"].to_numpy(dtype=float) / 1e6,
        }
    )
    stats = case_stats.reindex(out["code"])
    for col in ("cases", "open", "overdue", "closed", "due"):
        out[col] = stats[col].fillna(0).to_numpy(dtype=np.int64) if col in stats else 0
    out["closure_rate"] = stats["closure_rate"].to_numpy(dtype=float) if "closure_rate" in stats else np.nan
    out["components"] = components.reindex(out["code"]).fillna(0).to_numpy(dtype=np.int64)
    area = out["area_km2"].where(out["area_km2"] > 0)
    out["cases_per_km2"] = out["cases"] / area
    out["components_per_km2"] = out["components"] / area
    return out


def grid_condition(column: str, code: str, *, level: int) -> tuple[str, list[object]]:
    """An SQL condition for "``column`` (a level-3 code) lies in grid ``code`` of ``level``".

    A range over the code prefix, not ``LIKE 'prefix%'``: SQLite's ``LIKE`` is case-insensitive,
    so it cannot use the index on the column and scans the table; a range is an index search.
    """
    prefix = grid_prefix(code, level=level)
    if not prefix:
        raise ValueError("a grid code is needed")
    upper = prefix[:-1] + chr(ord(prefix[-1]) + 1)  # the first text after every "prefix…"
    return f"{column} >= ? AND {column} < ?", [prefix, upper]


def top_event_types(store: Store, flt: CaseFilter, *, code: str, level: int, n: int = 5) -> pd.DataFrame:
    """The ``n`` most frequent event types of the filter inside grid ``code``: ``event_type, name, count``."""
    where, params = case_filter_sql(flt)
    in_grid, grid_params = grid_condition("c.grid_code", code, level=level)
    rows = store.conn.execute(
        f"SELECT c.event_type_code, COALESCE(e.name, c.event_type_code), COUNT(*) AS n FROM cases c "
        f"LEFT JOIN event_types e ON e.code = c.event_type_code WHERE {where} AND {in_grid} "
        "GROUP BY c.event_type_code, e.name ORDER BY n DESC, c.event_type_code LIMIT ?",
        [*params, *grid_params, n],
    ).fetchall()
    return pd.DataFrame(rows, columns=["event_type", "name", "count"])


def grid_points(grids: gpd.GeoDataFrame) -> pd.DataFrame:
    """A point inside each grid (for labels and count circles): ``code, name, lon, lat``."""
    pts = shapely.point_on_surface(grids.geometry.to_numpy())
    lon, lat = to_lonlat(shapely.get_x(pts), shapely.get_y(pts))
    return pd.DataFrame(
        {"code": grids["code"].to_numpy(), "name": grids["name"].to_numpy(), "lon": lon, "lat": lat}
    )


# -- catalog lists for the filters ---------------------------------------------------------


def event_majors(store: Store) -> pd.DataFrame:
    """Major event classes (``code, name``) for the filter."""
    rows = store.conn.execute(
        "SELECT major_code, MIN(major_name) FROM event_types GROUP BY major_code ORDER BY major_code"
    ).fetchall()
    return pd.DataFrame(rows, columns=["code", "name"])


def channels(store: Store) -> pd.DataFrame:
    """Report channels (``code, name, name_en``)."""
    rows = store.conn.execute("SELECT code, name, name_en FROM channels ORDER BY code").fetchall()
    return pd.DataFrame(rows, columns=["code", "name", "name_en"])


# -- components in the viewport -------------------------------------------------------------


def component_index(store: Store) -> ComponentIndex:
    """The engine's component index over every component (:func:`layers.live_index.build_component_index`)."""
    return build_component_index(store)


def components_by_code(store: Store, codes: np.ndarray) -> pd.DataFrame:
    """Columns ``code, class_code, class_name, state, grid_code, x, y`` of the given components."""
    if not len(codes):
        return pd.DataFrame(columns=["code", "class_code", "class_name", "state", "grid_code", "x", "y"])
    marks = ",".join("?" * len(codes))
    return store.read_arrow(
        "SELECT c.code, c.class_code, k.name AS class_name, c.state, c.grid_code, c.x, c.y "
        f"FROM components c LEFT JOIN component_classes k ON k.code = c.class_code WHERE c.code IN ({marks})",
        [str(c) for c in codes],
    ).to_pandas()


def components_in_view(
    store: Store,
    index: ComponentIndex | LiveComponentIndex | None,
    *,
    west: float,
    south: float,
    east: float,
    north: float,
    limit: int = 2000,
    town: str | None = None,
) -> tuple[pd.DataFrame, int]:
    """Components in a lon/lat box (and ``town``, a level-1 code, if given): at most ``limit`` of
    them with ``lon, lat``, evenly sampled, and how many there are in all.

    The total counts exactly the components in the box (and town): the index answers for the
    working-CRS box around it, which is larger, and those outside are dropped before counting.
    With no ``index`` (a server store), PostGIS answers for that box from its GiST index on
    ``components.pt``, in code order, so an app process holds no index of its own.
    """
    box = bbox_to_work(west, south, east, north)
    if index is None:
        if store.backend != "postgresql":
            raise ValueError("components_in_view needs a component index on a SQLite store")
        rows = store.read_arrow(
            "SELECT code, x, y FROM components WHERE pt && ST_MakeEnvelope(?, ?, ?, ?, ?) ORDER BY code",
            [*box, WORK_SRID],
        )
        found_codes = rows.column("code").to_numpy(zero_copy_only=False).astype(object)
        fx = rows.column("x").to_numpy(zero_copy_only=False)
        fy = rows.column("y").to_numpy(zero_copy_only=False)
    else:
        found = index.in_bbox(*box)
        found_codes, fx, fy = found.codes, found.x, found.y
    lon, lat = to_lonlat(fx, fy)
    codes = found_codes[(lon >= west) & (lon <= east) & (lat >= south) & (lat <= north)]
    if town and len(codes):
        in_town, params = grid_condition("grid_code", town, level=1)
        # One JSON parameter instead of one per code: a street-level view may hold tens of thousands.
        rows = store.conn.execute(
            f"SELECT code FROM components WHERE code IN (SELECT value FROM json_each(?)) AND {in_town}",
            [json.dumps(codes.astype(str).tolist()), *params],
        ).fetchall()
        codes = codes[np.isin(codes.astype(str), np.array([r[0] for r in rows], dtype=str))]
    total = len(codes)
    if total > limit:
        # An even stride through the index's cell order (or the codes, which say nothing of the
        # place) spreads the sample over the whole view.
        codes = codes[(np.arange(limit) * total) // max(limit, 1)] if limit > 0 else codes[:0]
    frame = components_by_code(store, codes)
    lon, lat = to_lonlat(frame["x"].to_numpy(dtype=float), frame["y"].to_numpy(dtype=float))
    return frame.assign(lon=lon, lat=lat).reset_index(drop=True), total


# -- staff -----------------------------------------------------------------------------------


def staff_of_grid(
    store: Store, code: str, *, level: int, masked: bool = True, limit: int = 50
) -> pd.DataFrame:
    """Grid staff (一长三员) of a grid and the level-3 grids under it, the first ``limit`` by grid
    and post (:func:`staff_count` says how many there are); personal data masked unless told."""
    in_grid, params = grid_condition("grid_code", code, level=level)
    rows = store.conn.execute(
        "SELECT grid_code, role, specialty, name, gender, phone, id_number FROM staff "
        f"WHERE {in_grid} ORDER BY grid_code, role, id LIMIT ?",
        (*params, limit),
    ).fetchall()
    frame = pd.DataFrame(
        rows, columns=["grid_code", "role", "specialty", "name", "gender", "phone", "id_number"]
    )
    return mask_personal(frame) if masked else frame


def staff_count(store: Store, code: str, *, level: int) -> int:
    """How many staff work in a grid and the level-3 grids under it."""
    in_grid, params = grid_condition("grid_code", code, level=level)
    return int(store.conn.execute(f"SELECT COUNT(*) FROM staff WHERE {in_grid}", params).fetchone()[0])
