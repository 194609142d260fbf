"""Who answers a report: grid / component / event type → responsible body.

Routing is done in two steps, as FixMyStreet does it. Geometry answers "which grid" (the level-3
codes are computed before and passed in); plain table look-ups answer "which body", in this order:

1. a component — the one the report names, else the nearest component of the class the event type
   concerns within ``radius`` — goes to its maintainer (养护单位), else its owner (权属单位);
2. else the event type's managing body (管理部门) from the responsibility list;
3. else the town-level body of the grid (属地兜底): the department whose ``town_code`` is the
   level-1 grid containing it.

Every answer carries a reason code and a Chinese reason text, so a dispatcher (and an auditor)
can see why a case went where it went. A report with an unknown event type gets no body and the
reason ``unknown_event_type``: the caller keeps it as a rejected row rather than dropping it.

If the body a case was sent to cannot handle it, :func:`redispatch` names the next one: the event
type's enforcement body (执法部门), else the town.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from layers.codes import is_grid_code, town_of
from spatial.component_index import ComponentIndex
from spatial.errors import CodeError

__all__ = [
    "COMPONENT_MAINTAINER",
    "COMPONENT_OWNER",
    "EVENT_MANAGER",
    "NO_ALTERNATIVE",
    "NO_BODY",
    "REDISPATCH_ENFORCER",
    "REDISPATCH_TOWN",
    "TOWN_FALLBACK",
    "UNKNOWN_EVENT_TYPE",
    "ComponentTable",
    "prepare_components",
    "redispatch",
    "route",
    "town_of_grid",
]

#: Reason codes of :func:`route`.
COMPONENT_MAINTAINER = "component_maintainer"
COMPONENT_OWNER = "component_owner"
EVENT_MANAGER = "event_manager"
TOWN_FALLBACK = "town_fallback"
UNKNOWN_EVENT_TYPE = "unknown_event_type"
NO_BODY = "no_body"
#: Reason codes of :func:`redispatch`.
REDISPATCH_ENFORCER = "redispatch_enforcer"
REDISPATCH_TOWN = "redispatch_town"
NO_ALTERNATIVE = "no_alternative"

_EVENT_COLS = ("code", "manage_code", "component_class")
_COMPONENT_COLS = ("code", "class_code", "x", "y", "maintainer_code", "owner_code")
_DEPT_COLS = ("code", "town_code")


def _require(frame: pd.DataFrame, cols: Sequence[str], what: str) -> None:
    missing = [c for c in cols if c not in frame.columns]
    if missing:
        raise CodeError(f"{what} lacks columns {missing}")


def _obj(values: object, n: int | None = None) -> np.ndarray:
    """Object array with every missing marker (None, NaN, pd.NA) turned into None."""
    s = pd.Series(values, dtype=object) if not isinstance(values, pd.Series) else values
    arr = s.astype(object).to_numpy(dtype=object, copy=True)
    arr[pd.isna(arr)] = None
    if n is not None and arr.shape[0] != n:
        raise ValueError(f"expected {n} values, got {arr.shape[0]}")
    return arr


def _has(values: np.ndarray) -> np.ndarray:
    return np.asarray(pd.notna(values), dtype=bool)


def _text_keys(keys: np.ndarray) -> np.ndarray:
    """Keys as an object array of str: never a fixed-width array as wide as the longest key
    (one 100,000-character code would make every element 400 kB)."""
    return pd.Series(keys, dtype=object).astype(str).to_numpy(dtype=object)


def _lookup(keys: np.ndarray, index_codes: pd.Index) -> np.ndarray:
    """Positions of ``keys`` in ``index_codes`` (-1 for missing or unknown keys), by hashing."""
    pos = np.full(keys.shape[0], -1, dtype=np.int64)
    present = _has(keys)
    if present.any():
        pos[present] = index_codes.get_indexer(pd.Index(_text_keys(keys[present]), dtype=object))
    return pos


def town_of_grid(grid_codes: np.ndarray | Sequence[str | None], *, departments: pd.DataFrame) -> np.ndarray:
    """The department code of the town-level body of each grid (``None`` where there is none).

    A grid belongs to the level-1 grid whose code is its first 9 digits padded with zeros.
    """
    _require(departments, _DEPT_COLS, "departments")
    grids = _obj(grid_codes)
    towns = departments.loc[departments["town_code"].notna(), ["code", "town_code"]]
    town_index = pd.Index(towns["town_code"].astype(str))
    if town_index.has_duplicates:
        dup = sorted(set(town_index[town_index.duplicated()]))
        raise CodeError(f"several departments answer for the same town: {dup}")
    level1 = np.full(grids.shape[0], None, dtype=object)
    ok = _has(grids)
    if ok.any():
        g = pd.Series(grids[ok].astype(str))
        level1[ok] = np.where(is_grid_code(g), town_of(g), np.array(None, dtype=object))
    level1[pd.isna(level1)] = None
    pos = _lookup(level1, town_index)
    out = np.full(grids.shape[0], None, dtype=object)
    out[pos >= 0] = towns["code"].to_numpy(dtype=object)[pos[pos >= 0]]
    return out


@dataclass(frozen=True)
class ComponentTable:
    """The components as routing needs them, prepared once: look-up by code, bodies, and the
    per-class nearest-neighbour index. Plain data; build with :func:`prepare_components`."""

    codes: np.ndarray
    sorted_codes: np.ndarray  # fixed-width text, sorted, for binary search
    sorted_pos: np.ndarray  # position in `codes` of each sorted code
    maintainer_idx: np.ndarray  # index into bodies, -1 for none
    owner_idx: np.ndarray
    bodies: np.ndarray
    #: The one component index (nearest of class); its rows are positions in ``index_rows``.
    index: ComponentIndex
    index_rows: np.ndarray  # position in `codes` of each row of the index (components with a position)

    def positions(self, keys: np.ndarray) -> np.ndarray:
        """Positions of component codes (-1 for missing or unknown ones).

        A key longer than the longest code cannot be one and is unknown without being compared;
        the others are searched at the table's own width, so no array grows with the input.
        """
        pos = np.full(keys.shape[0], -1, dtype=np.int64)
        present = np.flatnonzero(_has(keys))
        if present.size == 0 or self.sorted_codes.size == 0:
            return pos
        text = pd.Series(_text_keys(keys[present]), dtype=object)
        width = max(self.sorted_codes.dtype.itemsize // 4, 1)
        fits = (text.str.len() <= width).to_numpy()
        present = present[fits]
        if present.size == 0:
            return pos
        k = text[fits].to_numpy().astype(self.sorted_codes.dtype)
        at = np.minimum(np.searchsorted(self.sorted_codes, k), self.sorted_codes.size - 1)
        hit = self.sorted_codes[at] == k
        pos[present[hit]] = self.sorted_pos[at[hit]]
        return pos

    def maintainer(self, pos: np.ndarray) -> np.ndarray:
        return _pick(self.bodies, self.maintainer_idx[pos])

    def owner(self, pos: np.ndarray) -> np.ndarray:
        return _pick(self.bodies, self.owner_idx[pos])


def _pick(values: np.ndarray, idx: np.ndarray) -> np.ndarray:
    out = np.full(idx.shape[0], None, dtype=object)
    out[idx >= 0] = values[idx[idx >= 0]]
    return out


def prepare_components(components: pd.DataFrame) -> ComponentTable:
    """Prepare ``components`` (``code, class_code, x, y, maintainer_code, owner_code``) for
    :func:`route`; worth it when routing many batches against the same components."""
    _require(components, _COMPONENT_COLS, "components")
    n = len(components)
    codes = _obj(components["code"])
    # Few distinct bodies: keep them as small integer codes, not 680,000 Python strings each.
    both = pd.concat([components["maintainer_code"], components["owner_code"]], ignore_index=True)
    body_idx, bodies = pd.factorize(both.astype(object))
    # Text classes, "" for none: the index reads a fixed-width array without per-item checks.
    classes = components["class_code"].astype(object).fillna("").astype(str).to_numpy(dtype=str)
    text = codes.astype(str)
    order = np.argsort(text, kind="stable")
    x = components["x"].to_numpy(np.float64)
    y = components["y"].to_numpy(np.float64)
    placed = np.isfinite(x) & np.isfinite(y)  # a component without a position is never the nearest
    return ComponentTable(
        codes=codes,
        sorted_codes=text[order],
        sorted_pos=order.astype(np.int64),
        maintainer_idx=np.asarray(body_idx[:n], dtype=np.int64),
        owner_idx=np.asarray(body_idx[n:], dtype=np.int64),
        bodies=np.asarray(bodies, dtype=object),
        index=ComponentIndex(text[placed], classes[placed], x[placed], y[placed]),
        index_rows=np.flatnonzero(placed),
    )


def _names(codes: np.ndarray, short: dict[str, str]) -> np.ndarray:
    s = pd.Series(codes, dtype=object)
    return s.map(short).fillna(s).to_numpy(dtype=object)


def _text_frame(**columns: np.ndarray) -> pd.DataFrame:
    """A frame of text columns (pandas' default string dtype), built through Arrow in one go."""
    table = pa.table({k: pa.array(v, type=pa.string(), from_pandas=True) for k, v in columns.items()})
    return table.to_pandas(types_mapper={pa.string(): pd.StringDtype("pyarrow", na_value=np.nan)}.get)


def _join_text(*parts: np.ndarray | str) -> np.ndarray:
    """Element-wise concatenation of text arrays and constants (missing parts count as "")."""
    arrays = [
        pa.array(p, type=pa.string(), from_pandas=True) if isinstance(p, np.ndarray) else p for p in parts
    ]
    if not any(isinstance(a, pa.Array) for a in arrays):
        return np.asarray([], dtype=object)
    joined = pc.binary_join_element_wise(*arrays, "", null_handling="replace", null_replacement="")
    return np.asarray(joined.to_numpy(zero_copy_only=False), dtype=object)


def route(
    *,
    x: np.ndarray,
    y: np.ndarray,
    grid_codes: np.ndarray | Sequence[str | None],
    event_type_codes: np.ndarray | Sequence[str | None],
    component_codes: np.ndarray | Sequence[str | None] | None = None,
    event_types: pd.DataFrame,
    components: pd.DataFrame | ComponentTable,
    departments: pd.DataFrame,
    radius: float = 30.0,
) -> pd.DataFrame:
    """Route reports to the bodies responsible for them.

    Parameters
    ----------
    x, y
        Report positions in the working CRS (EPSG:4549, metres).
    grid_codes
        Level-3 grid of each report (from the locator); ``None`` outside every grid.
    event_type_codes
        Event type of each report.
    component_codes
        Component the report names, or ``None``; a code not in ``components`` counts as none.
    event_types
        Responsibility list (``code``, ``manage_code``, ``component_class``; ``sub_name`` is used
        in reason texts when present).
    components
        ``code, class_code, x, y, maintainer_code, owner_code``, or the same prepared once with
        :func:`prepare_components` (much faster when routing many batches).
    departments
        ``code, town_code`` (``short_name`` is used in reason texts when present).
    radius
        Largest distance (metres) at which the nearest component of the event's class is taken
        to be the one reported.

    Returns
    -------
    DataFrame
        One row per report, in input order: ``dept_code`` (``None`` if no body),
        ``reason_code``, ``reason``, ``component_code`` (the component it was routed by, if any).
    """
    _require(event_types, _EVENT_COLS, "event_types")
    _require(departments, _DEPT_COLS, "departments")
    table = components if isinstance(components, ComponentTable) else prepare_components(components)
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    n = x.shape[0]
    if y.shape[0] != n:
        raise ValueError("x and y must have the same length")
    grids = _obj(grid_codes, n)
    et_codes = _obj(event_type_codes, n)
    named = _obj(component_codes, n) if component_codes is not None else np.full(n, None, dtype=object)

    et_pos = _lookup(et_codes, pd.Index(event_types["code"].astype(str)))
    known = et_pos >= 0
    et_class = np.full(n, None, dtype=object)
    et_manage = np.full(n, None, dtype=object)
    et_sub = np.full(n, None, dtype=object)
    if known.any():
        et_class[known] = _obj(event_types["component_class"])[et_pos[known]]
        et_manage[known] = _obj(event_types["manage_code"])[et_pos[known]]
        if "sub_name" in event_types.columns:
            et_sub[known] = _obj(event_types["sub_name"])[et_pos[known]]

    # 1. The component: the one named, else the nearest of the event's class within the radius.
    comp_codes = table.codes
    comp_pos = table.positions(named)
    comp_pos[~known] = -1
    was_named = comp_pos >= 0
    dist = np.full(n, np.nan)
    search = known & ~was_named & _has(et_class)
    if search.any() and comp_codes.size:
        found, d = table.index.nearest_of_class(x[search], y[search], et_class[search], radius=radius)
        comp_pos[search] = np.where(found >= 0, table.index_rows[np.maximum(found, 0)], -1)
        dist[search] = d
    has_comp = comp_pos >= 0
    maint = np.full(n, None, dtype=object)
    owner = np.full(n, None, dtype=object)
    maint[has_comp] = table.maintainer(comp_pos[has_comp])
    owner[has_comp] = table.owner(comp_pos[has_comp])

    by_maint = has_comp & _has(maint)
    by_owner = has_comp & ~by_maint & _has(owner)
    by_manage = known & ~by_maint & ~by_owner & _has(et_manage)
    rest = known & ~by_maint & ~by_owner & ~by_manage
    town = np.full(n, None, dtype=object)
    if rest.any():
        town[rest] = town_of_grid(grids[rest], departments=departments)
    by_town = rest & _has(town)
    no_body = rest & ~by_town

    dept = np.full(n, None, dtype=object)
    dept[by_maint] = maint[by_maint]
    dept[by_owner] = owner[by_owner]
    dept[by_manage] = et_manage[by_manage]
    dept[by_town] = town[by_town]

    reason_code = np.full(n, UNKNOWN_EVENT_TYPE, dtype=object)
    reason_code[by_maint] = COMPONENT_MAINTAINER
    reason_code[by_owner] = COMPONENT_OWNER
    reason_code[by_manage] = EVENT_MANAGER
    reason_code[by_town] = TOWN_FALLBACK
    reason_code[no_body] = NO_BODY

    routed_comp = np.full(n, None, dtype=object)
    routed_comp[by_maint | by_owner] = comp_codes[comp_pos[by_maint | by_owner]]

    # Reason texts, built per branch so each row says why in words.
    short = dict(zip(departments["code"], departments.get("short_name", departments["code"]), strict=True))
    reason = np.full(n, "", dtype=object)
    for mask, role in ((by_maint, "养护单位"), (by_owner, "权属单位")):
        if not mask.any():
            continue
        how_named = np.where(was_named[mask], "（上报指明部件）", "")
        near = ~was_named[mask]
        dist_txt = np.full(mask.sum(), "", dtype=object)
        if near.any():
            sub = et_sub[mask][near]
            dist_txt[near] = _join_text(
                "（",
                np.round(dist[mask][near]).astype(int).astype(str).astype(object),
                " 米内最近的",
                np.where(_has(sub), sub, et_class[mask][near]).astype(object),
                "）",
            )
        reason[mask] = _join_text("部件 ", routed_comp[mask], f" {role}", how_named.astype(object), dist_txt)
    if by_manage.any():
        reason[by_manage] = _join_text("事件类型 ", et_codes[by_manage], " 管理部门")
    if by_town.any():
        reason[by_town] = _join_text("属地兜底：", _names(town[by_town], short))
    if no_body.any():
        reason[no_body] = _join_text("无责任主体：网格 ", grids[no_body], " 不属于任何镇（街道）")
    unknown = ~known
    if unknown.any():
        reason[unknown] = _join_text("unknown event type: ", et_codes[unknown])

    return _text_frame(dept_code=dept, reason_code=reason_code, reason=reason, component_code=routed_comp)


def redispatch(
    *,
    event_type_codes: np.ndarray | Sequence[str | None],
    grid_codes: np.ndarray | Sequence[str | None],
    current_dept_codes: np.ndarray | Sequence[str | None],
    event_types: pd.DataFrame,
    departments: pd.DataFrame,
) -> pd.DataFrame:
    """The next body for cases the current body cannot handle (退回改派).

    The event type's enforcement body (执法部门) if it names one other than the current body;
    else the town of the grid if that is not the current body; else the case stays
    (``no_alternative``).

    Returns
    -------
    DataFrame
        ``dept_code, reason_code, reason`` per case, in input order.
    """
    _require(event_types, ("code", "enforce_code"), "event_types")
    current = _obj(current_dept_codes)
    n = current.shape[0]
    et_codes = _obj(event_type_codes, n)
    grids = _obj(grid_codes, n)
    pos = _lookup(et_codes, pd.Index(event_types["code"].astype(str)))
    enforce = np.full(n, None, dtype=object)
    enforce[pos >= 0] = _obj(event_types["enforce_code"])[pos[pos >= 0]]
    town = town_of_grid(grids, departments=departments)

    to_enf = _has(enforce) & (enforce != current)
    to_town = ~to_enf & _has(town) & (town != current)
    dept = current.copy()
    dept[to_enf] = enforce[to_enf]
    dept[to_town] = town[to_town]
    code = np.full(n, NO_ALTERNATIVE, dtype=object)
    code[to_enf] = REDISPATCH_ENFORCER
    code[to_town] = REDISPATCH_TOWN
    short = dict(zip(departments["code"], departments.get("short_name", departments["code"]), strict=True))
    reason = np.full(n, "无可转派单位，原单位继续办理", dtype=object)
    if to_enf.any():
        reason[to_enf] = _join_text("转派执法部门：", _names(enforce[to_enf], short))
    if to_town.any():
        reason[to_town] = _join_text("转派属地：", _names(town[to_town], short))
    return _text_frame(dept_code=dept, reason_code=code, reason=reason)
