"""Planning a new grid generation: compare a candidate with the current grids, then adopt it.

A candidate is a whole set of grids (all three levels) in the working CRS. :func:`compare_grids`
says what it would change — grids added, removed and reshaped, and the components and open cases
whose level-3 grid would differ. :func:`adopt_grids` checks its topology, refuses it if any problem
is found, and otherwise makes it the current generation in one transaction: boundaries have
generations (DESIGN.md §2), history keeps the grid a closed case was handled under, and every
reassignment of a component or an open case is logged with its reason.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sqlite3
import time
from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from layers.codes import town_of
from layers.grids import load_grids, write_grids
from layers.pgstore import hold
from layers.store import Conn, Store, read_frame
from layers.workcalendar import now_dt
from settings import WORK_CRS
from spatial.errors import CRSError, GeometryError, OneGridError
from spatial.locate import GridLocator
from spatial.topology import Tolerances, TopologyReport, check_grids, coordinate_problems

__all__ = [
    "CLOSED_STATUSES",
    "AdoptionError",
    "AdoptionResult",
    "CandidateError",
    "CandidateRejectedError",
    "GridComparison",
    "adopt_grids",
    "cancel_scheduled",
    "check_candidate",
    "compare_grids",
    "district_land",
    "generations",
    "read_candidate",
    "scheduled_generation",
    "take_effect",
]

#: Cases in these states are finished: they keep the grid they were handled under.
CLOSED_STATUSES = ("closed", "evaluated", "rejected")
CANDIDATE_COLUMNS = ("code", "level", "parent_code", "name")
#: Below this symmetric-difference area (m²) a grid counts as unchanged: digitising noise.
DEFAULT_RESHAPE_TOLERANCE_M2 = 1.0


class CandidateError(OneGridError):
    """The candidate grid set is malformed: missing columns, no CRS, no level-3 grids."""


class CandidateRejectedError(OneGridError):
    """The candidate has topology problems; nothing was written. ``report`` lists them all."""

    def __init__(self, message: str, *, report: TopologyReport) -> None:
        super().__init__(message)
        self.report = report


class AdoptionError(OneGridError):
    """The adoption cannot proceed (date not after the current generation, nothing to change, a
    generation already scheduled, store changed meanwhile).

    ``code`` names the reason and ``params`` its values, so a page can say it in its language;
    the message is the English text the command line prints.
    """

    def __init__(self, message: str, *, code: str, params: dict[str, object] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.params = dict(params or {})


# --------------------------------------------------------------------------------------------
# Comparison
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class GridComparison:
    """What adopting a candidate would change, against generation ``generation`` of the store.

    Attributes
    ----------
    added, removed
        Grids only in the candidate / only in the store: ``code, level, parent_code, name, area_m2``.
    reshaped
        Grids in both whose geometry differs by more than ``tolerance_m2``: ``code, level,
        area_before_m2, area_after_m2, area_change_m2, area_change_pct, symdiff_m2``.
    relabelled
        Grids in both whose name, level or parent changed: ``code, field, before, after``.
    per_level
        One row per level: ``level, current, candidate, added, removed, reshaped, unchanged``.
    component_moves, case_moves
        Components (``code, from_grid, to_grid``) and open cases (``id, status, from_grid,
        to_grid``) whose level-3 grid would change; ``to_grid`` is ``None`` outside every grid.
    component_pairs, case_pairs
        Counts per ``from_grid → to_grid``, largest first.
    components_total, open_cases_total
        How many were located.
    """

    generation: int
    tolerance_m2: float
    added: pd.DataFrame
    removed: pd.DataFrame
    reshaped: pd.DataFrame
    relabelled: pd.DataFrame
    per_level: pd.DataFrame
    component_moves: pd.DataFrame
    case_moves: pd.DataFrame
    components_total: int
    open_cases_total: int
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def component_pairs(self) -> pd.DataFrame:
        return _pairs(self.component_moves)

    @property
    def case_pairs(self) -> pd.DataFrame:
        return _pairs(self.case_moves)

    @property
    def same_grids(self) -> bool:
        """True when no grid is added, removed, renamed or reshaped beyond the tolerance: what
        :func:`adopt_grids` refuses as nothing to adopt."""
        return _same_grids(self.added, self.removed, self.reshaped, self.relabelled)

    @property
    def unchanged(self) -> bool:
        """True when the candidate is the current generation up to the tolerance."""
        return (
            self.added.empty
            and self.removed.empty
            and self.reshaped.empty
            and self.relabelled.empty
            and self.component_moves.empty
            and self.case_moves.empty
        )

    def to_dict(self, *, with_lists: bool = True) -> dict[str, object]:
        """Plain JSON-able data; ``with_lists=False`` leaves out the per-component/case lists."""
        out: dict[str, object] = {
            "generation": self.generation,
            "tolerance_m2": self.tolerance_m2,
            "per_level": _records(self.per_level),
            "added": _records(self.added),
            "removed": _records(self.removed),
            "reshaped": _records(self.reshaped),
            "relabelled": _records(self.relabelled),
            "components": {
                "total": self.components_total,
                "moved": len(self.component_moves),
                "pairs": _records(self.component_pairs),
            },
            "open_cases": {
                "total": self.open_cases_total,
                "moved": len(self.case_moves),
                "pairs": _records(self.case_pairs),
            },
        }
        if with_lists:
            out["components"]["moves"] = _records(self.component_moves)  # type: ignore[index]
            out["open_cases"]["moves"] = _records(self.case_moves)  # type: ignore[index]
        return out

    def to_json(self, *, with_lists: bool = True) -> str:
        return json.dumps(self.to_dict(with_lists=with_lists), ensure_ascii=False, indent=2)


def _same_grids(*diffs: pd.DataFrame) -> bool:
    return all(d.empty for d in diffs)


def _records(frame: pd.DataFrame) -> list[dict[str, object]]:
    # Through JSON so numpy scalars and NaN become plain numbers and null.
    return json.loads(frame.to_json(orient="records", force_ascii=False))


def _pairs(moves: pd.DataFrame) -> pd.DataFrame:
    if moves.empty:
        return pd.DataFrame(
            {
                "from_grid": pd.Series(dtype=object),
                "to_grid": pd.Series(dtype=object),
                "count": pd.Series(dtype=np.int64),
            }
        )
    keyed = moves[["from_grid", "to_grid"]].astype(object).fillna("")
    counts = keyed.value_counts().rename("count").reset_index()
    counts = counts.replace({"from_grid": {"": None}, "to_grid": {"": None}})
    return counts.sort_values(
        ["count", "from_grid", "to_grid"], ascending=[False, True, True], ignore_index=True
    )


def normalise_candidate(candidate: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """The candidate with the columns the planner needs, plain types, in the working CRS.

    Raises
    ------
    CandidateError
        Columns are missing, the frame is empty or has no level-3 grids.
    CRSError
        The frame declares no CRS.
    """
    if not isinstance(candidate, gpd.GeoDataFrame):
        raise CandidateError("the candidate must be a GeoDataFrame of grids")
    missing = [c for c in CANDIDATE_COLUMNS if c not in candidate.columns]
    if missing:
        raise CandidateError(
            f"the candidate grids lack the columns {missing}; "
            f"each grid needs {list(CANDIDATE_COLUMNS)} and a geometry"
        )
    if candidate.empty:
        raise CandidateError("the candidate holds no grids")
    if candidate.crs is None:
        raise CRSError("the candidate grids declare no CRS; give them one (EPSG:4549 or EPSG:4326)")
    if candidate.crs.to_string() != WORK_CRS:
        candidate = candidate.to_crs(WORK_CRS)
    levels = pd.to_numeric(candidate["level"], errors="coerce")
    if levels.isna().any():
        bad = candidate.loc[levels.isna(), "code"].astype(str).head(5).tolist()
        raise CandidateError(f"the candidate has grids without a numeric level, e.g. {bad}")
    parent = candidate["parent_code"].astype(object)
    parent = parent.where(parent.notna() & (parent.astype(str).str.strip() != ""), None)
    out = gpd.GeoDataFrame(
        {
            "code": candidate["code"].astype(str).str.strip().to_numpy(dtype=object),
            "level": levels.astype(np.int64).to_numpy(),
            "parent_code": parent.map(lambda v: None if v is None else str(v).strip()).to_numpy(dtype=object),
            "name": candidate["name"].fillna("").astype(str).to_numpy(dtype=object),
        },
        geometry=candidate.geometry.to_numpy(),
        crs=WORK_CRS,
    )
    if not (out["level"] == 3).any():
        raise CandidateError("the candidate has no level-3 grids, so nothing could be located in it")
    # A corrupt vertex (1e300) would overflow every area and the locator's cells: refuse it here,
    # by grid code, before any comparison is computed.
    far, _ = coordinate_problems(out.geometry.to_numpy(), out["code"].to_numpy(dtype=object), crs=WORK_CRS)
    if far:
        shown = "; ".join(p.message for p in far[:5])
        more = f"; and {len(far) - 5} more" if len(far) > 5 else ""
        raise CandidateError(
            f"{len(far)} candidate grid(s) have coordinates out of range: {shown}{more}. "
            "Repair them (check-grids lists every problem) and compare again"
        )
    return out


def read_candidate(
    path: str | os.PathLike[str],
    *,
    code_field: str = "code",
    parent_field: str | None = None,
    level_field: str | None = None,
    name_field: str | None = None,
    layer: str | None = None,
) -> gpd.GeoDataFrame:
    """A candidate grid file (GeoJSON, GeoPackage, Shapefile, GeoParquet) as a planner frame.

    Levels and parents come from the code unless their fields are named; names from
    ``name_field``, else from a ``name`` field when the file has one, else empty.

    Raises
    ------
    layers.grid_files.GridFileError
        The file cannot be read (format, features, fields, CRS); see :func:`read_grid_file`.
    """
    from layers.grid_files import read_grid_file

    # A name field is usual but optional: a named one must exist, the default one may be absent.
    gf = read_grid_file(
        path,
        code_field=code_field,
        parent_field=parent_field,
        level_field=level_field,
        name_field=name_field or "name",
        name_optional=name_field is None,
        layer=layer,
    )
    names = gf.names if gf.names is not None else np.full(len(gf), "", dtype=object)
    return gpd.GeoDataFrame(
        {"code": gf.codes, "level": gf.levels, "parent_code": gf.parents, "name": names},
        geometry=gpd.GeoSeries(gf.geoms, crs=WORK_CRS),
        crs=WORK_CRS,
    )


def compare_grids(
    store: Store, candidate: gpd.GeoDataFrame, *, tolerance_m2: float = DEFAULT_RESHAPE_TOLERANCE_M2
) -> GridComparison:
    """Compare a candidate grid set with the store's current generation.

    Every component and every open case is located in the candidate's level-3 grids (vectorised,
    :class:`spatial.locate.GridLocator`) and compared with the grid it carries now.

    Parameters
    ----------
    candidate
        Grids of all levels: ``code, level, parent_code, name, geometry``; any declared CRS.
    tolerance_m2
        A grid whose old and new shapes differ by at most this symmetric-difference area is
        unchanged.
    """
    cand = normalise_candidate(candidate)
    times: dict[str, float] = {}
    t0 = time.perf_counter()
    generation = store.current_generation()
    current = load_grids(store, generation=generation)
    cand = _keep_names(cand, current)
    added, removed, reshaped, relabelled, per_level = _diff_grids(current, cand, tolerance_m2=tolerance_m2)
    times["grids"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    locator = _locator(cand)
    times["locator"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    comps, comp_moves, cases, case_moves = _located(store, locator)
    times["locate"] = time.perf_counter() - t0
    return _comparison(
        generation,
        float(tolerance_m2),
        (added, removed, reshaped, relabelled, per_level),
        comps=comps,
        comp_moves=comp_moves,
        cases=cases,
        case_moves=case_moves,
        seconds=times,
    )


def _comparison(
    generation: int,
    tolerance_m2: float,
    diff: tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame],
    *,
    comps: pd.DataFrame,
    comp_moves: pd.DataFrame,
    cases: pd.DataFrame,
    case_moves: pd.DataFrame,
    seconds: dict[str, float],
) -> GridComparison:
    """The comparison compare_grids reports and adopt_grids records, from the same parts."""
    added, removed, reshaped, relabelled, per_level = diff
    return GridComparison(
        generation=generation,
        tolerance_m2=tolerance_m2,
        added=added,
        removed=removed,
        reshaped=reshaped,
        relabelled=relabelled,
        per_level=per_level,
        component_moves=comp_moves[["code", "from_grid", "to_grid"]].reset_index(drop=True),
        case_moves=case_moves[["id", "status", "from_grid", "to_grid"]].reset_index(drop=True),
        components_total=len(comps),
        open_cases_total=len(cases),
        seconds=seconds,
    )


def _keep_names(cand: gpd.GeoDataFrame, current: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """A grid the candidate leaves unnamed keeps its current name: a file without a name field
    must not wipe the names of the district."""
    blank = cand["name"].astype(str).str.strip() == ""
    if not blank.any():
        return cand
    names = dict(zip(current["code"], current["name"], strict=True))
    out = cand.copy()
    out.loc[blank, "name"] = out.loc[blank, "code"].map(names).fillna("")
    return out


def _diff_grids(
    current: gpd.GeoDataFrame, cand: gpd.GeoDataFrame, *, tolerance_m2: float
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    cur = pd.DataFrame(
        {
            "code": current["code"].to_numpy(dtype=object),
            "level": current["level"].to_numpy(dtype=np.int64),
            "parent_code": current["parent_code"]
            .astype(object)
            .where(current["parent_code"].notna(), None)
            .to_numpy(dtype=object),
            "name": current["name"].to_numpy(dtype=object),
            "geom": current.geometry.to_numpy(),
        }
    )
    new = pd.DataFrame(
        {
            "code": cand["code"].to_numpy(dtype=object),
            "level": cand["level"].to_numpy(dtype=np.int64),
            "parent_code": cand["parent_code"].to_numpy(dtype=object),
            "name": cand["name"].to_numpy(dtype=object),
            "geom": cand.geometry.to_numpy(),
        }
    )
    # Duplicated codes are a topology problem of the candidate; the comparison takes the first.
    new = new.drop_duplicates("code", keep="first")
    both = cur.merge(new, on="code", how="outer", suffixes=("_cur", "_new"), indicator=True)

    def listing(rows: pd.DataFrame, side: str) -> pd.DataFrame:
        geoms = rows[f"geom_{side}"].to_numpy()
        return pd.DataFrame(
            {
                "code": rows["code"].to_numpy(dtype=object),
                "level": rows[f"level_{side}"].to_numpy(dtype=np.int64),
                "parent_code": rows[f"parent_code_{side}"].to_numpy(dtype=object),
                "name": rows[f"name_{side}"].to_numpy(dtype=object),
                "area_m2": shapely.area(geoms).astype(float) if len(rows) else np.zeros(0),
            }
        ).sort_values(["level", "code"], ignore_index=True)

    added = listing(both[both["_merge"] == "right_only"], "new")
    removed = listing(both[both["_merge"] == "left_only"], "cur")

    common = both[both["_merge"] == "both"].reset_index(drop=True)
    ga = common["geom_cur"].to_numpy()
    gb = common["geom_new"].to_numpy()
    # Byte-equal geometries need no overlay: that is almost every grid of a small redraw.
    same = shapely.to_wkb(ga) == shapely.to_wkb(gb) if len(common) else np.zeros(0, dtype=bool)
    symdiff = np.zeros(len(common))
    todo = np.flatnonzero(~same)
    if todo.size:
        symdiff[todo] = shapely.area(
            shapely.symmetric_difference(shapely.make_valid(ga[todo]), shapely.make_valid(gb[todo]))
        )
    area_a = shapely.area(ga) if len(common) else np.zeros(0)
    area_b = shapely.area(gb) if len(common) else np.zeros(0)
    changed = symdiff > tolerance_m2
    with np.errstate(divide="ignore", invalid="ignore"):
        pct = np.where(area_a > 0, 100.0 * (area_b - area_a) / area_a, np.nan)
    reshaped = pd.DataFrame(
        {
            "code": common["code"].to_numpy(dtype=object),
            "level": common["level_new"].to_numpy(dtype=np.int64),
            "area_before_m2": area_a,
            "area_after_m2": area_b,
            "area_change_m2": area_b - area_a,
            "area_change_pct": pct,
            "symdiff_m2": symdiff,
        }
    )[changed].sort_values(["level", "code"], ignore_index=True)

    relabel = []
    for fld in ("name", "level", "parent_code"):
        a = common[f"{fld}_cur"].astype(object)
        b = common[f"{fld}_new"].astype(object)
        diff = ~((a == b) | (a.isna() & b.isna()))
        if diff.any():
            relabel.append(
                pd.DataFrame(
                    {
                        "code": common.loc[diff, "code"].to_numpy(dtype=object),
                        "field": fld,
                        "before": a[diff].to_numpy(dtype=object),
                        "after": b[diff].to_numpy(dtype=object),
                    }
                )
            )
    relabelled = (
        pd.concat(relabel, ignore_index=True)
        if relabel
        else pd.DataFrame({"code": [], "field": [], "before": [], "after": []}, dtype=object)
    )

    levels = sorted(set(cur["level"].tolist()) | set(new["level"].tolist()))
    n_common = common.groupby("level_new").size() if len(common) else pd.Series(dtype=np.int64)
    per_level = pd.DataFrame(
        {
            "level": levels,
            "current": [int((cur["level"] == lv).sum()) for lv in levels],
            "candidate": [int((new["level"] == lv).sum()) for lv in levels],
            "added": [int((added["level"] == lv).sum()) for lv in levels],
            "removed": [int((removed["level"] == lv).sum()) for lv in levels],
            "reshaped": [int((reshaped["level"] == lv).sum()) for lv in levels],
        }
    )
    per_level["unchanged"] = [int(n_common.get(lv, 0)) for lv in levels] - per_level["reshaped"]
    return added, removed, reshaped, relabelled, per_level


def _locator(cand: gpd.GeoDataFrame) -> GridLocator:
    l3 = cand[cand["level"] == 3]
    geoms = l3.geometry.to_numpy()
    # A broken polygon would be refused by the topology check before adoption; for a comparison
    # it is located as GEOS repairs it, so the impact of a draft can still be seen.
    bad = ~shapely.is_valid(geoms)
    if bad.any():
        geoms = geoms.copy()
        # make_valid may return a collection (a polygon plus a stray line): keep the polygons.
        for i in np.flatnonzero(bad):
            parts = shapely.get_parts(shapely.make_valid(geoms[i]))
            polys = [
                q for p in parts for q in shapely.get_parts(p) if q.geom_type in ("Polygon", "MultiPolygon")
            ]
            geoms[i] = shapely.multipolygons(polys) if polys else None
    try:
        return GridLocator(geoms, l3["code"].to_numpy(dtype=object))
    except GeometryError as exc:
        raise CandidateError(f"the candidate's level-3 grids cannot be used to locate points: {exc}") from exc


def _read_components(store: Store) -> pd.DataFrame:
    return store.read_arrow("SELECT code, x, y, grid_code FROM components").to_pandas()


def _read_open_cases(store: Store) -> pd.DataFrame:
    # "NOT IN closed" would scan all ~900k cases; the few statuses there are come from the status
    # index at once, and "IN open statuses" then seeks only the open ones (0.6 s → 0.01 s).
    statuses = [r[0] for r in store.conn.execute("SELECT DISTINCT status FROM cases").fetchall()]
    open_ = [st for st in statuses if st not in CLOSED_STATUSES]
    if not open_:
        open_ = [""]  # a status no case has: the empty result keeps its columns
    marks = ", ".join("?" * len(open_))
    return store.read_arrow(
        f"SELECT id, status, x, y, grid_code, grid_generation, version FROM cases WHERE status IN ({marks})",
        open_,
    ).to_pandas()


def _moves(frame: pd.DataFrame, locator: GridLocator) -> pd.DataFrame:
    """Rows whose located grid differs from the stored one, with ``from_grid`` and ``to_grid``."""
    if frame.empty:
        return frame.assign(from_grid=pd.Series(dtype=object), to_grid=pd.Series(dtype=object))
    to = locator.locate(frame["x"].to_numpy(dtype=float), frame["y"].to_numpy(dtype=float))
    old = frame["grid_code"].astype(object).where(frame["grid_code"].notna(), None).to_numpy(dtype=object)
    # Object comparison: None == None is True, None == "x" False — what a NULL grid needs.
    moved = old != to
    out = frame.loc[moved].copy()
    out["from_grid"] = old[moved]
    out["to_grid"] = to[moved]
    return out


def _located(
    store: Store, locator: GridLocator
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Components and open cases, and those of each the candidate's grids would move."""
    comps = _read_components(store)
    cases = _read_open_cases(store)
    return comps, _moves(comps, locator), cases, _moves(cases, locator)


# --------------------------------------------------------------------------------------------
# Topology check and adoption
# --------------------------------------------------------------------------------------------


def district_land(store: Store) -> shapely.Geometry:
    """The land the grids must cover: the stored land, else the union of the current level-1 grids."""
    try:
        row = store.conn.execute("SELECT geom FROM land WHERE id = 1").fetchone()
    except sqlite3.OperationalError:  # a store written before the land was kept
        row = None
    if row is not None:
        return shapely.from_wkb(row[0])
    l1 = load_grids(store, level=1)
    if l1.empty:
        raise AdoptionError(
            f"{store.path}: the current generation has no level-1 grids to take the land from",
            code="no_land",
        )
    return shapely.coverage_union_all(l1.geometry.to_numpy())


def check_candidate(
    store: Store,
    candidate: gpd.GeoDataFrame,
    *,
    tolerances: Tolerances | None = None,
    land: shapely.Geometry | None = None,
) -> TopologyReport:
    """Topology of a candidate against the district's land (by default the current level-1 union)."""
    cand = normalise_candidate(candidate)
    land = district_land(store) if land is None else land
    return check_grids(
        cand.geometry.to_numpy(),
        cand["code"].to_numpy(dtype=object),
        levels=cand["level"].to_numpy(),
        parents=cand["parent_code"].to_numpy(dtype=object),
        land=land,
        tolerances=tolerances or Tolerances(),
    )


def rejection_message(report: TopologyReport, *, first: int = 5) -> str:
    """One paragraph: the problem counts by kind and the first few problems with their codes."""
    counts = ", ".join(f"{k} {v}" for k, v in report.counts().items())
    lines = [
        f"the candidate grids have {len(report.problems)} topology problem(s) ({counts}); "
        "nothing was written. First:"
    ]
    for p in report.problems[:first]:
        lines.append(f"  [{p.kind}] {','.join(p.codes)}: {p.message}")
    if len(report.problems) > first:
        lines.append(f"  … and {len(report.problems) - first} more")
    return "\n".join(lines)


@dataclass(frozen=True, kw_only=True)
class AdoptionResult:
    """What :func:`adopt_grids` (or :func:`take_effect`) wrote.

    ``scheduled`` is true for a generation whose ``valid_from`` is still to come: its grids are
    stored, nothing is reassigned yet, and the counts are zero until it takes effect.
    """

    generation: int
    previous_generation: int
    valid_from: dt.date
    actor: str
    grids_written: int
    components_reassigned: int
    cases_reassigned: int
    cases_moved_to_generation: int
    comparison: GridComparison
    scheduled: bool = False
    seconds: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, object]:
        return {
            "generation": self.generation,
            "previous_generation": self.previous_generation,
            "valid_from": self.valid_from.isoformat(),
            "scheduled": self.scheduled,
            "actor": self.actor,
            "grids_written": self.grids_written,
            "components_reassigned": self.components_reassigned,
            "cases_reassigned": self.cases_reassigned,
            "cases_moved_to_generation": self.cases_moved_to_generation,
            "seconds": {k: round(v, 3) for k, v in self.seconds.items()},
            "comparison": self.comparison.to_dict(with_lists=False),
        }


def _today() -> dt.date:
    # The one clock of the store (ONEGRID_NOW pins it in tests).
    return now_dt().date()


def adopt_grids(
    store: Store,
    candidate: gpd.GeoDataFrame,
    *,
    valid_from: dt.date,
    actor: str,
    tolerances: Tolerances | None = None,
    land: shapely.Geometry | None = None,
    note: str = "",
) -> AdoptionResult:
    """Make a candidate grid set the current generation from ``valid_from``, or refuse it.

    A ``valid_from`` of today or earlier takes effect at once, in one transaction: a new
    ``generations`` row (the previous one's ``valid_to`` set to ``valid_from``), all candidate
    grids under it, components and open cases whose level-3 grid changes reassigned with a history
    row each (reason "grid generation N adopted"), and the revisions of grids, components and
    cases bumped. Open cases whose grid stays follow the new generation. Closed cases keep the
    grid and generation they were handled under.

    A ``valid_from`` still to come *schedules* the generation: its row and grids are written, but
    the current generation stays current (its ``valid_to`` stays open) and nothing is reassigned:
    every lookup, intake and page keeps using the current grids. It takes effect the first time
    the store is opened on or after that day (:func:`layers.store.open_store` calls
    :func:`take_effect`), which then reassigns components and open cases as they stand that day.
    One generation at a time can be scheduled; :func:`cancel_scheduled` withdraws it.

    Raises
    ------
    CandidateRejectedError
        The topology check found problems (the message lists counts and the first few).
    AdoptionError
        ``valid_from`` is not after the current generation's start, the candidate does not
        differ from the current generation (code ``identical``), a generation is already
        scheduled, or the current generation changed while the candidate was being checked.
    CandidateError, CRSError
        The candidate frame is malformed.
    """
    if not actor or not str(actor).strip():
        raise AdoptionError("an adoption needs the name of who adopts it (actor)", code="no_actor")
    times: dict[str, float] = {}
    t_all = time.perf_counter()
    cand = normalise_candidate(candidate)
    generation = store.current_generation()
    prev_from = _generation_start(store, generation)
    if valid_from <= prev_from:
        raise AdoptionError(
            f"valid-from {valid_from.isoformat()} must be after the start of the current "
            f"generation {generation} ({prev_from.isoformat()})",
            code="not_after",
            params={
                "valid_from": valid_from.isoformat(),
                "generation": generation,
                "start": prev_from.isoformat(),
            },
        )
    pending = scheduled_generation(store)
    if pending is not None:
        raise _already_scheduled(*pending)

    t0 = time.perf_counter()
    report = check_candidate(store, cand, tolerances=tolerances, land=land)
    times["check"] = time.perf_counter() - t0
    if not report.ok:
        raise CandidateRejectedError(rejection_message(report), report=report)

    t0 = time.perf_counter()
    current = load_grids(store, generation=generation)
    cand = _keep_names(cand, current)
    added, removed, reshaped, relabelled, per_level = _diff_grids(
        current, cand, tolerance_m2=DEFAULT_RESHAPE_TOLERANCE_M2
    )
    if _same_grids(added, removed, reshaped, relabelled):
        # A new generation with the same grids would only add an empty row to the history.
        raise AdoptionError(
            f"the candidate is the current generation {generation} (no grid added, removed, "
            f"reshaped by more than {DEFAULT_RESHAPE_TOLERANCE_M2:g} m² or renamed); nothing to adopt",
            code="identical",
            params={"generation": generation, "tolerance_m2": DEFAULT_RESHAPE_TOLERANCE_M2},
        )
    scheduled = valid_from > _today()
    locator = None if scheduled else _locator(cand)
    times["prepare"] = time.perf_counter() - t0

    now = now_dt().isoformat(timespec="seconds")
    with store.transaction() as conn:
        hold(conn, "grids")
        # The heavy checks ran outside the write lock; make sure nobody adopted meanwhile.
        if _current_generation(conn) != generation or _scheduled_row(conn) is not None:
            raise AdoptionError(
                "another grid generation was adopted while this one was being checked; "
                "compare again against the new current generation",
                code="concurrent",
            )
        t0 = time.perf_counter()
        new_gen = _insert_generation(
            conn,
            valid_from=valid_from,
            now=now,
            note=note
            or f"adopted by {actor}: {len(reshaped)} reshaped, {len(added)} added, {len(removed)} removed",
        )
        n_grids = write_grids(conn, cand, generation=new_gen)
        store.set_meta(conn, **{f"generation.{new_gen}.actor": str(actor)})
        times["write_grids"] = time.perf_counter() - t0
        if scheduled:
            # Stored, not in effect: the current generation keeps its open end.
            store.bump_revision(conn, "grids")
            comps = comp_moves = cases = case_moves = _NO_MOVES
            n_comp = n_case = n_follow = 0
        else:
            assert locator is not None
            comps, comp_moves, cases, case_moves, n_comp, n_case, n_follow = _switch(
                store,
                conn,
                previous=generation,
                new_gen=new_gen,
                valid_from=valid_from,
                locator=locator,
                actor=str(actor),
                reason=f"grid generation {new_gen} adopted",
                now=now,
                times=times,
            )
    times["total"] = time.perf_counter() - t_all

    comparison = _comparison(
        generation,
        DEFAULT_RESHAPE_TOLERANCE_M2,
        (added, removed, reshaped, relabelled, per_level),
        comps=comps,
        comp_moves=comp_moves,
        cases=cases,
        case_moves=case_moves,
        seconds={},
    )
    return AdoptionResult(
        generation=new_gen,
        previous_generation=generation,
        valid_from=valid_from,
        actor=str(actor),
        grids_written=n_grids,
        components_reassigned=n_comp,
        cases_reassigned=n_case,
        cases_moved_to_generation=n_follow,
        comparison=comparison,
        scheduled=scheduled,
        seconds=times,
    )


#: Placeholder moves of a scheduled adoption: nothing is located or moved until it takes effect.
_NO_MOVES = pd.DataFrame(
    {
        "id": pd.Series(dtype=object),
        "code": pd.Series(dtype=object),
        "status": pd.Series(dtype=object),
        "from_grid": pd.Series(dtype=object),
        "to_grid": pd.Series(dtype=object),
    }
)


def _switch(
    store: Store,
    conn: Conn,
    *,
    previous: int,
    new_gen: int,
    valid_from: dt.date,
    locator: GridLocator,
    actor: str,
    reason: str,
    now: str,
    times: dict[str, float],
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame, int, int, int]:
    """Make ``new_gen`` (already written) the current generation, inside the caller's transaction.

    Closes ``previous`` at ``valid_from``, reassigns the components and open cases whose level-3
    grid changes (a history row each) and moves the other open cases to the new generation.
    """
    conn.execute("UPDATE generations SET valid_to = ? WHERE id = ?", (valid_from.isoformat(), previous))
    # Read under the write lock: no component or case can change between locate and update.
    t0 = time.perf_counter()
    comps, comp_moves, cases, case_moves = _located(store, locator)
    times["locate"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    n_comp = _reassign_components(conn, comp_moves, actor=actor, reason=reason, now=now)
    stays = ~cases["id"].isin(case_moves["id"]).to_numpy()
    n_case, n_follow = _reassign_cases(
        conn,
        case_moves,
        followers=cases["id"].to_numpy()[stays],
        new_generation=new_gen,
        actor=actor,
        reason=reason,
        now=now,
    )
    for layer in ("grids", "components", "cases"):
        store.bump_revision(conn, layer)
    times["write_moves"] = time.perf_counter() - t0
    return comps, comp_moves, cases, case_moves, n_comp, n_case, n_follow


def _already_scheduled(generation: int, valid_from: dt.date) -> AdoptionError:
    return AdoptionError(
        f"generation {generation} is already scheduled from {valid_from.isoformat()}; "
        "cancel it before adopting another",
        code="scheduled_exists",
        params={"generation": generation, "valid_from": valid_from.isoformat()},
    )


def _scheduled_row(conn: Conn) -> tuple[int, dt.date] | None:
    row = conn.execute(
        "SELECT id, valid_from FROM generations WHERE valid_to IS NULL"
        " AND id > (SELECT min(id) FROM generations WHERE valid_to IS NULL) ORDER BY id LIMIT 1"
    ).fetchone()
    return None if row is None else (int(row[0]), dt.date.fromisoformat(str(row[1])[:10]))


def scheduled_generation(store: Store) -> tuple[int, dt.date] | None:
    """The generation adopted for a day still to come, as ``(id, valid_from)``; ``None`` if none."""
    return _scheduled_row(store.conn)


def take_effect(store: Store, *, today: dt.date | None = None) -> AdoptionResult | None:
    """Put a scheduled generation into effect if its day has come; ``None`` when none is due.

    :func:`layers.store.open_store` calls this whenever a store is opened, so a generation takes
    effect when the first command or page opens the store on or after its ``valid_from``.
    Components and open cases are located in its grids as they stand then; the history rows name
    the adopter and the day it took effect.
    """
    today = _today() if today is None else today
    pending = scheduled_generation(store)
    if pending is None or pending[1] > today:
        return None
    t_all = time.perf_counter()
    times: dict[str, float] = {}
    now = now_dt().isoformat(timespec="seconds")
    with store.transaction() as conn:
        hold(conn, "grids")
        # Another process may have put it into effect while this one waited for the lock.
        pending = _scheduled_row(conn)
        if pending is None or pending[1] > today:
            return None
        new_gen, valid_from = pending
        previous = _current_generation(conn)
        assert previous is not None
        actor = store.meta().get(f"generation.{new_gen}.actor", "planner")
        grids = load_grids(store, generation=new_gen)
        current = load_grids(store, generation=previous)
        diff = _diff_grids(current, grids, tolerance_m2=DEFAULT_RESHAPE_TOLERANCE_M2)
        comps, comp_moves, cases, case_moves, n_comp, n_case, n_follow = _switch(
            store,
            conn,
            previous=previous,
            new_gen=new_gen,
            valid_from=valid_from,
            locator=_locator(grids),
            actor=actor,
            reason=f"grid generation {new_gen} adopted (scheduled from {valid_from.isoformat()})",
            now=now,
            times=times,
        )
    times["total"] = time.perf_counter() - t_all
    return AdoptionResult(
        generation=new_gen,
        previous_generation=previous,
        valid_from=valid_from,
        actor=actor,
        grids_written=len(grids),
        components_reassigned=n_comp,
        cases_reassigned=n_case,
        cases_moved_to_generation=n_follow,
        comparison=_comparison(
            previous,
            DEFAULT_RESHAPE_TOLERANCE_M2,
            diff,
            comps=comps,
            comp_moves=comp_moves,
            cases=cases,
            case_moves=case_moves,
            seconds={},
        ),
        seconds=times,
    )


def cancel_scheduled(store: Store) -> int:
    """Withdraw the scheduled generation (its grids and row); returns its id.

    Raises
    ------
    AdoptionError
        No generation is scheduled (code ``none_scheduled``).
    """
    with store.transaction() as conn:
        pending = _scheduled_row(conn)
        if pending is None:
            raise AdoptionError("no grid generation is scheduled; nothing to cancel", code="none_scheduled")
        gen = pending[0]
        conn.execute("DELETE FROM grids WHERE generation = ?", (gen,))
        conn.execute("DELETE FROM generations WHERE id = ?", (gen,))
        conn.execute("DELETE FROM meta WHERE key = ?", (f"generation.{gen}.actor",))
        store.bump_revision(conn, "grids")
    return gen


def generations(store: Store) -> pd.DataFrame:
    """Every grid generation, newest first: ``id, valid_from, valid_to, status, grids, note, created_at``.

    ``status`` is ``current``, ``past`` or ``scheduled`` (adopted for a day still to come).
    """
    frame = read_frame(
        "SELECT g.id, g.valid_from, g.valid_to, g.note, g.created_at,"
        " (SELECT count(*) FROM grids WHERE generation = g.id) AS grids"
        " FROM generations g ORDER BY g.id DESC",
        store.conn,
    )
    current = store.current_generation()
    ids = frame["id"].to_numpy()
    frame["status"] = np.where(ids == current, "current", np.where(ids < current, "past", "scheduled"))
    return frame[["id", "valid_from", "valid_to", "status", "grids", "note", "created_at"]]


def _generation_start(store: Store, generation: int) -> dt.date:
    row = store.conn.execute("SELECT valid_from FROM generations WHERE id = ?", (generation,)).fetchone()
    return dt.date.fromisoformat(str(row[0])[:10])


def _current_generation(conn: Conn) -> int | None:
    # As Store.current_generation: the oldest open one; a later open one is scheduled.
    row = conn.execute("SELECT id FROM generations WHERE valid_to IS NULL ORDER BY id LIMIT 1").fetchone()
    return None if row is None else int(row[0])


def _insert_generation(conn: Conn, *, valid_from: dt.date, now: str, note: str) -> int:
    """The next generation, numbered after the last one: planners read the number (a server
    store's own numbering may skip some after a crash). The caller holds the grids."""
    cur = conn.execute(
        "INSERT INTO generations(id, valid_from, valid_to, note, created_at) "
        "VALUES ((SELECT coalesce(max(id), 0) + 1 FROM generations), ?, NULL, ?, ?)",
        (valid_from.isoformat(), note, now),
    )
    return int(cur.lastrowid or 0)


def _reassign_components(conn: Conn, moves: pd.DataFrame, *, actor: str, reason: str, now: str) -> int:
    """Update only the moved components, through a temporary table joined in SQL."""
    if moves.empty:
        return 0
    conn.execute("DROP TABLE IF EXISTS temp.planner_moves")
    conn.execute("CREATE TEMP TABLE planner_moves (code TEXT PRIMARY KEY, to_grid TEXT)")
    try:
        conn.executemany(
            "INSERT INTO temp.planner_moves(code, to_grid) VALUES (?, ?)",
            zip(moves["code"].astype(str).tolist(), moves["to_grid"].tolist(), strict=True),
        )
        # The temporary table has no statistics, so SQLite would scan all 680k components and
        # probe it; CROSS JOIN and IN (...) make it walk the few moves and seek by primary key.
        # History first, while the row still holds the grid it had: before/after as JSON.
        conn.execute(
            "INSERT INTO component_history"
            "(component_code, version, changed_at, actor, action, before, after, reason)"
            " SELECT c.code, c.version + 1, ?, ?, 'reassign',"
            "        json_object('grid_code', c.grid_code), json_object('grid_code', m.to_grid), ?"
            " FROM temp.planner_moves m CROSS JOIN components c WHERE c.code = m.code",
            (now, actor, reason),
        )
        cur = conn.execute(
            "UPDATE components SET version = version + 1,"
            " grid_code = (SELECT m.to_grid FROM temp.planner_moves m WHERE m.code = components.code)"
            " WHERE code IN (SELECT code FROM temp.planner_moves)"
        )
        return int(cur.rowcount)
    finally:
        conn.execute("DROP TABLE IF EXISTS temp.planner_moves")


def _reassign_cases(
    conn: Conn,
    moves: pd.DataFrame,
    *,
    followers: np.ndarray,
    new_generation: int,
    actor: str,
    reason: str,
    now: str,
) -> tuple[int, int]:
    """Reassign moved open cases (logged); ``followers`` (ids) only move to the new generation.

    Returns (cases reassigned, cases that only changed generation). A case located outside every
    candidate grid keeps its grid and generation: a case must have a grid, and the store does not
    invent one.
    """
    moves = moves[moves["to_grid"].notna()]
    to = moves["to_grid"].astype(str).to_numpy(dtype=object)
    conn.execute("DROP TABLE IF EXISTS temp.planner_case_moves")
    conn.execute(
        "CREATE TEMP TABLE planner_case_moves"
        " (id TEXT PRIMARY KEY, to_grid TEXT, town TEXT, moved INTEGER NOT NULL)"
    )
    try:
        conn.executemany(
            "INSERT INTO temp.planner_case_moves(id, to_grid, town, moved) VALUES (?, ?, ?, 1)",
            zip(moves["id"].astype(str).tolist(), to.tolist(), town_of(to).tolist(), strict=True),
        )
        conn.executemany(
            "INSERT INTO temp.planner_case_moves(id, moved) VALUES (?, 0)",
            ((str(i),) for i in followers.tolist()),
        )
        conn.execute(
            "INSERT INTO case_history(case_id, step, at, actor, dept_code, note)"
            " SELECT c.id, 'reassign', ?, ?, c.dept_code,"
            "        ? || ': grid ' || c.grid_code || ' → ' || m.to_grid"
            " FROM temp.planner_case_moves m CROSS JOIN cases c WHERE c.id = m.id AND m.moved = 1",
            (now, actor, reason),
        )
        cur = conn.execute(
            "UPDATE cases SET grid_generation = ?, version = version + 1,"
            " grid_code = (SELECT m.to_grid FROM temp.planner_case_moves m WHERE m.id = cases.id),"
            " town_code = (SELECT m.town FROM temp.planner_case_moves m WHERE m.id = cases.id)"
            " WHERE id IN (SELECT id FROM temp.planner_case_moves WHERE moved = 1)",
            (new_generation,),
        )
        n_moved = int(cur.rowcount)
        # The open cases that stay stand in the same grid of the new generation; the generations
        # row records the adoption, so this follow-up is not a change worth a history row.
        cur = conn.execute(
            "UPDATE cases SET grid_generation = ?"
            " WHERE id IN (SELECT id FROM temp.planner_case_moves WHERE moved = 0)",
            (new_generation,),
        )
        return n_moved, int(cur.rowcount)
    finally:
        conn.execute("DROP TABLE IF EXISTS temp.planner_case_moves")
