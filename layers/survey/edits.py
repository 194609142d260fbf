"""The surveyor's edits of one component: find it, move it, change its state, undo a change.

Every change runs in one store transaction that reads the component, checks the version the
surveyor saw (``expected_version``), writes the new values with ``version + 1``, appends one
``component_history`` row (who, when, action, before/after JSON, reason) and bumps the
``components`` revision so caches refresh. Any refusal raises before the transaction commits, so a
refused change leaves the store exactly as it was.

Positions enter with their CRS (WGS84 lon/lat, GCJ-02 lon/lat, CGCS2000 lon/lat or CGCS2000
EPSG:4549 x/y), are converted with :mod:`spatial.crs`, checked (NaN, range, swapped axes) and
located in the current level-3 grids; a point no grid covers is outside the district and refused.
A move farther than ``settings.SURVEY_CONFIRM_M`` or into another grid is refused until it is
confirmed (:func:`plan_move` says beforehand); a move to where the component already is changes
nothing.

Undo is a stack, as in an editor: :func:`undoable` lists the changes that can still be undone,
newest first, and :func:`undo` reverts the newest of them by a NEW change (action ``undo``, which
names the change it reverts in ``undoes``). Undoing again steps further back.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

import settings
from layers.codes import GRID_CODE_LEN, ancestor_sql, grid_prefix, level_of_code
from layers.components import STATES
from layers.errors import ChangeRefusedError, MoveNeedsConfirmationError, StaleEditError
from layers.store import Conn, Store, read_frame, table_columns
from layers.survey._base import (
    CODE_LEN,
    PROJECTED,
    check_actor,
    check_code,
    coded,
    coordinate_problems,
    digits,
    district_locator,
    grids_key,
    normalise_crs,
)
from layers.survey._base import (
    now as _clock,
)
from spatial import crs as spatial_crs
from spatial.errors import CodeError, CoordinateError, CRSError, OutsideDistrictError
from spatial.locate import GridLocator

_DEFAULT_LIMIT = 200
_MAX_LIMIT = 5000
#: Closer than this (metres) a move is no move: the position as surveyed is the one stored.
SAME_PLACE_M = 0.001
#: Actions an undo can revert; a ``reassign`` (a boundary change) is passed over, since an undone
#: position is located in the grids current then; anything else (create, edit, delete) ends the stack.
_UNDOABLE_ACTIONS = {"move", "state"}
_TRANSPARENT_ACTIONS = {"reassign"}
_UNDOABLE_FIELDS = {"x", "y", "grid_code", "state"}


# --------------------------------------------------------------------------------------- records
@dataclass(frozen=True)
class ComponentChange:
    """One change as written: the history row and the values before and after it."""

    code: str
    history_id: int
    action: str
    version: int
    changed_at: str
    actor: str
    reason: str
    before: dict[str, Any]
    after: dict[str, Any]
    #: Metres moved, for changes of position; ``None`` otherwise.
    distance_m: float | None = None


@dataclass(frozen=True)
class FoundComponents:
    """Components matching a search, at most ``limit`` of them, ordered by code."""

    frame: pd.DataFrame
    limit: int
    #: More components matched than ``limit``; narrow the search to see them.
    truncated: bool


@dataclass(frozen=True)
class MovePlan:
    """A checked move, not yet made: where to, how far, from which grid into which."""

    code: str
    x: float
    y: float
    old_grid: str | None
    new_grid: str
    distance_m: float
    #: Why it must be confirmed: ``"far"`` (beyond ``threshold_m``) and/or ``"other_grid"``.
    confirm: tuple[str, ...]
    threshold_m: float

    @property
    def needs_confirmation(self) -> bool:
        return bool(self.confirm)

    @property
    def no_op(self) -> bool:
        return self.distance_m < SAME_PLACE_M


# --------------------------------------------------------------------------------------- helpers
def _describe_point(x: float, y: float, *, crs: str) -> str:
    return f"({x:.3f}, {y:.3f}) m" if crs in PROJECTED else f"(lon {x:.6f}, lat {y:.6f})"


def _to_work_located(x: float, y: float, *, crs: str, locator: GridLocator) -> tuple[float, float, str]:
    """Working-CRS position and level-3 grid of one typed point, or the error telling what is wrong."""
    canonical = normalise_crs(crs)
    try:
        xa = np.array([float(x)], dtype=float)
        ya = np.array([float(y)], dtype=float)
    except (TypeError, ValueError) as exc:
        raise coded(
            CoordinateError(f"coordinates ({x!r}, {y!r}) are not numbers"), "not_numbers", x=x, y=y
        ) from exc
    codes, why = coordinate_problems(xa, ya, crs=canonical)
    where = _describe_point(xa[0], ya[0], crs=canonical) if codes[0] != "nan" else f"({x}, {y})"
    if codes[0] == "wrong_crs":
        raise coded(
            CRSError(
                f"coordinates {where} look like lon/lat degrees, not {canonical} metres; "
                "choose a lon/lat coordinate system"
            ),
            "wrong_crs",
            where=where,
            crs=canonical,
        )
    if codes[0]:
        raise coded(
            CoordinateError(f"coordinates {where} cannot be used as {canonical}: {why[0]}"),
            f"coord_{codes[0]}",
            where=where,
            crs=canonical,
        )
    wx, wy = spatial_crs.to_work(xa, ya, crs=canonical)
    wx0, wy0 = float(np.asarray(wx)[0]), float(np.asarray(wy)[0])
    if not (np.isfinite(wx0) and np.isfinite(wy0)):
        raise coded(
            CoordinateError(f"coordinates {where} cannot be converted from {canonical}"),
            "coord_out_of_range",
            where=where,
            crs=canonical,
        )
    grid = locator.locate_one(wx0, wy0)
    if grid is None:
        raise coded(
            OutsideDistrictError(f"position {where} in {canonical} is outside every grid of the district"),
            "outside",
            where=where,
            crs=canonical,
        )
    return wx0, wy0, grid


_ROW_SQL = (
    "SELECT code, class_code, x, y, grid_code, state, changed_on, version FROM components WHERE code = ?"
)
_ROW_COLS = ("code", "class_code", "x", "y", "grid_code", "state", "changed_on", "version")


def _current(conn: Conn, code: str) -> dict[str, Any]:
    row = conn.execute(_ROW_SQL, (code,)).fetchone()
    if row is None:
        raise coded(CodeError(f"no component with code {code}"), "unknown_code", code=code)
    return dict(zip(_ROW_COLS, row, strict=True))


def _check_version(current: dict[str, Any], expected_version: int) -> None:
    if int(expected_version) != int(current["version"]):
        raise coded(
            StaleEditError(
                f"component {current['code']} was changed by someone else: you edited version "
                f"{expected_version}, it is now version {current['version']}. Reload it and try again.",
                current=current,
            ),
            "stale",
            code=current["code"],
            seen=int(expected_version),
            version=int(current["version"]),
        )


def _append_history(
    conn: Conn,
    *,
    code: str,
    version: int,
    at: str,
    actor: str,
    action: str,
    before: Mapping[str, Any] | None,
    after: Mapping[str, Any] | None,
    reason: str,
    undoes: int | None = None,
) -> int:
    cur = conn.execute(
        "INSERT INTO component_history"
        "(component_code, version, changed_at, actor, action, before, after, reason, undoes)"
        " VALUES (?,?,?,?,?,?,?,?,?)",
        (
            code,
            version,
            at,
            actor,
            action,
            None if before is None else json.dumps(dict(before), ensure_ascii=False),
            None if after is None else json.dumps(dict(after), ensure_ascii=False),
            reason,
            undoes,
        ),
    )
    return int(cur.lastrowid or 0)


def _apply(
    store: Store,
    conn: Conn,
    current: dict[str, Any],
    *,
    values: dict[str, Any],
    action: str,
    actor: str,
    reason: str,
    at: str,
    undoes: int | None = None,
) -> ComponentChange:
    """Write ``values`` over the component, append history, bump the revision (in ``conn``)."""
    before = {k: current[k] for k in values}
    version = int(current["version"]) + 1
    sets = ", ".join(f"{k} = ?" for k in values)
    cur = conn.execute(
        f"UPDATE components SET {sets}, changed_on = ?, version = ? WHERE code = ? AND version = ?",
        (*values.values(), at[:10], version, current["code"], current["version"]),
    )
    if cur.rowcount != 1:  # pragma: no cover - the row was read inside this same transaction
        raise StaleEditError(
            f"component {current['code']} changed while it was being written", current=current
        )
    hid = _append_history(
        conn,
        code=current["code"],
        version=version,
        at=at,
        actor=actor,
        action=action,
        before=before,
        after=values,
        reason=reason,
        undoes=undoes,
    )
    store.bump_revision(conn, "components")
    dist = None
    if "x" in values and "y" in values:
        dist = float(
            np.hypot(float(values["x"]) - float(current["x"]), float(values["y"]) - float(current["y"]))
        )
    return ComponentChange(
        code=current["code"],
        history_id=hid,
        action=action,
        version=version,
        changed_at=at,
        actor=actor,
        reason=reason,
        before=before,
        after=dict(values),
        distance_m=dist,
    )


# --------------------------------------------------------------------------------------- finding
_DETAIL_SQL = """
SELECT {columns}, k.name AS class_name, k.major_code, k.major_name, g.name AS grid_name,
       sd.name AS supervisor_name, od.name AS owner_name, md.name AS maintainer_name
FROM components c
LEFT JOIN component_classes k ON k.code = c.class_code
LEFT JOIN grids g ON g.code = c.grid_code AND g.generation = ?
LEFT JOIN departments sd ON sd.code = c.supervisor_code
LEFT JOIN departments od ON od.code = c.owner_code
LEFT JOIN departments md ON md.code = c.maintainer_code
WHERE c.code = ?
"""


def get_component(store: Store, code: str) -> dict[str, Any]:
    """The current record of one component with the names a surveyor reads.

    Every column of ``components`` plus ``class_name``, ``major_code``, ``major_name``,
    ``grid_name`` and the names of the three responsible bodies (``supervisor_name``,
    ``owner_name``, ``maintainer_name``). :class:`CodeError` if there is no such component.
    """
    c = check_code(code)
    sql = _DETAIL_SQL.format(columns=", ".join(f"c.{n}" for n in table_columns("components")))
    cur = store.conn.execute(sql, (store.current_generation(), c))
    row = cur.fetchone()
    if row is None:
        raise coded(CodeError(f"no component with code {c}"), "unknown_code", code=c)
    return dict(zip([d[0] for d in cur.description], row, strict=True))


def _class_codes_named(store: Store, text: str) -> list[str]:
    """Classes whose name (or major class name) contains ``text``: a table of some 100 rows."""
    rows = store.conn.execute(
        "SELECT code FROM component_classes WHERE instr(name, ?) > 0 OR instr(major_name, ?) > 0 "
        "ORDER BY code",
        (text, text),
    ).fetchall()
    return [r[0] for r in rows]


def _grid_codes_named(store: Store, text: str) -> list[str]:
    """Level-3 grids of the current generation whose name, or whose parent's name, contains ``text``."""
    rows = store.conn.execute(
        "SELECT g.code FROM grids g WHERE g.generation = ?1 AND g.level = 3 AND (instr(g.name, ?2) > 0 "
        f" OR {ancestor_sql('g.code', level=2)} IN (SELECT code FROM grids WHERE generation = ?1 AND level = 2"
        "   AND instr(name, ?2) > 0)"
        f" OR {ancestor_sql('g.code', level=1)} IN (SELECT code FROM grids WHERE generation = ?1 AND level = 1"
        "   AND instr(name, ?2) > 0)) ORDER BY g.code",
        (store.current_generation(), text),
    ).fetchall()
    return [r[0] for r in rows]


def find_components(
    store: Store,
    *,
    code: str | None = None,
    prefix: str | None = None,
    grid_code: str | None = None,
    class_code: str | None = None,
    grid: str | None = None,
    klass: str | None = None,
    limit: int = _DEFAULT_LIMIT,
) -> FoundComponents:
    """Components by exact code, code prefix, grid and/or class (conditions combine with AND).

    ``grid_code`` may be a level-3 grid, or a level-2/level-1 grid (its zero-padded code), which
    finds the components of every level-3 grid under it. ``class_code`` is a 4-digit class or a
    2-digit major class. ``grid`` and ``klass`` take either a code or words of a name (``"井盖"``
    finds every kind of manhole cover, ``"木渎"`` every grid of that town). At most ``limit`` rows
    (capped at 5000) are returned, ordered by code, with the class and grid names.
    """
    grid = str(grid).strip() if grid is not None else None
    klass = str(klass).strip() if klass is not None else None
    if grid and grid.isascii() and grid.isdigit():
        grid_code, grid = grid, None
    if klass and klass.isascii() and klass.isdigit():
        class_code, klass = klass, None
    if not any(v not in (None, "") for v in (code, prefix, grid_code, class_code, grid, klass)):
        raise coded(
            CodeError("give a component code, a code prefix, a grid or a class to search by"), "no_search"
        )
    n = max(1, min(int(limit), _MAX_LIMIT))
    where: list[str] = []
    params: list[object] = []

    def prefix_range(column: str, p: str) -> None:
        # A range on the indexed column instead of LIKE, which SQLite cannot index case-insensitively.
        where.append(f"{column} >= ? AND {column} < ?")
        params.extend([p, p[:-1] + chr(ord(p[-1]) + 1)])

    def one_of(column: str, values: list[str]) -> None:
        where.append(f"{column} IN (SELECT value FROM json_each(?))")
        params.append(json.dumps(values))

    if code not in (None, ""):
        where.append("c.code = ?")
        params.append(check_code(str(code)))
    if prefix not in (None, ""):
        prefix_range("c.code", digits(str(prefix), what="code prefix", max_len=CODE_LEN))
    if grid_code not in (None, ""):
        g = digits(str(grid_code), what="grid code", max_len=GRID_CODE_LEN)
        if len(g) == GRID_CODE_LEN and level_of_code(g) < 3:
            prefix_range("c.grid_code", grid_prefix(g, level=level_of_code(g)))
        elif len(g) == GRID_CODE_LEN:
            where.append("c.grid_code = ?")
            params.append(g)
        else:
            prefix_range("c.grid_code", g)
    if grid not in (None, ""):
        one_of("c.grid_code", _grid_codes_named(store, str(grid).strip()))
    if class_code not in (None, ""):
        k = digits(str(class_code), what="class code", max_len=4)
        if len(k) == 4:
            where.append("c.class_code = ?")
            params.append(k)
        else:
            prefix_range("c.class_code", k)
    if klass not in (None, ""):
        one_of("c.class_code", _class_codes_named(store, str(klass).strip()))
    sql = (
        "SELECT c.code, c.class_code, k.name AS class_name, c.grid_code, g.name AS grid_name, c.state, "
        "c.x, c.y, c.changed_on, c.version FROM components c "
        "LEFT JOIN component_classes k ON k.code = c.class_code "
        "LEFT JOIN grids g ON g.code = c.grid_code AND g.generation = ? "
        f"WHERE {' AND '.join(where)} ORDER BY c.code LIMIT ?"
    )
    frame = read_frame(sql, store.conn, params=[store.current_generation(), *params, n + 1])
    truncated = len(frame) > n
    return FoundComponents(frame=frame.iloc[:n].reset_index(drop=True), limit=n, truncated=truncated)


def history(store: Store, code: str) -> pd.DataFrame:
    """The change history of one component, oldest first.

    Columns ``id, version, changed_at, actor, action, before, after, reason, undoes`` (before/after
    as JSON text) and, read from them, ``state_before``, ``state_after``, ``grid_before``,
    ``grid_after`` and ``moved_m`` (metres, for changes of position), so nobody has to read JSON.
    Empty for a component never changed.
    """
    c = check_code(code)
    frame = read_frame(
        "SELECT id, version, changed_at, actor, action, before, after, reason, undoes, "
        "json_extract(before, '$.state') AS state_before, json_extract(after, '$.state') AS state_after, "
        "json_extract(before, '$.grid_code') AS grid_before, "
        "json_extract(after, '$.grid_code') AS grid_after, "
        "CAST(json_extract(after, '$.x') AS REAL) - CAST(json_extract(before, '$.x') AS REAL) AS dx, "
        "CAST(json_extract(after, '$.y') AS REAL) - CAST(json_extract(before, '$.y') AS REAL) AS dy "
        "FROM component_history WHERE component_code = ? ORDER BY id",
        store.conn,
        params=[c],
    )
    frame["undoes"] = frame["undoes"].astype("Int64")
    dx = pd.to_numeric(frame.pop("dx"), errors="coerce").astype(float)
    dy = pd.to_numeric(frame.pop("dy"), errors="coerce").astype(float)
    frame["moved_m"] = np.hypot(dx, dy)
    return frame


def grid_shape(store: Store, grid_code: str | None) -> gpd.GeoDataFrame:
    """One grid of the current generation (code, level, name, geometry in EPSG:4549); empty if unknown."""
    rows = []
    if grid_code:
        rows = store.conn.execute(
            "SELECT code, level, name, geom FROM grids WHERE code = ? AND generation = ?",
            (str(grid_code), store.current_generation()),
        ).fetchall()
    frame = pd.DataFrame(rows, columns=["code", "level", "name", "geom"])
    geoms = shapely.from_wkb(frame.pop("geom").to_numpy()) if len(frame) else np.array([], dtype=object)
    return gpd.GeoDataFrame(frame, geometry=geoms, crs=settings.WORK_CRS)


# --------------------------------------------------------------------------------------- changes
def _plan(
    current: dict[str, Any], x: float, y: float, *, crs: str, locator: GridLocator, threshold_m: float
) -> MovePlan:
    wx, wy, grid = _to_work_located(x, y, crs=crs, locator=locator)
    dist = float(np.hypot(wx - float(current["x"]), wy - float(current["y"])))
    why: list[str] = []
    if dist > threshold_m:
        why.append("far")
    if current["grid_code"] is not None and grid != current["grid_code"]:
        why.append("other_grid")
    return MovePlan(
        code=str(current["code"]),
        x=wx,
        y=wy,
        old_grid=current["grid_code"],
        new_grid=grid,
        distance_m=dist,
        confirm=tuple(why),
        threshold_m=float(threshold_m),
    )


def plan_move(
    store: Store,
    code: str,
    *,
    x: float,
    y: float,
    crs: str,
    threshold_m: float | None = None,
    locator: GridLocator | None = None,
) -> MovePlan:
    """Check a move without making it: distance, grids, and whether it must be confirmed.

    Raises what :func:`move_component` raises for a position it cannot use.
    """
    c = check_code(code)
    limit = settings.SURVEY_CONFIRM_M if threshold_m is None else float(threshold_m)
    return _plan(
        _current(store.conn, c),
        x,
        y,
        crs=normalise_crs(crs),
        locator=locator or district_locator(store),
        threshold_m=limit,
    )


def move_component(
    store: Store,
    code: str,
    *,
    x: float,
    y: float,
    crs: str,
    expected_version: int,
    actor: str,
    reason: str = "",
    confirmed: bool = False,
    threshold_m: float | None = None,
    locator: GridLocator | None = None,
    now: str | None = None,
) -> ComponentChange:
    """Move a component to a surveyed position given in ``crs``; the grid is recomputed.

    A move farther than ``threshold_m`` (default ``settings.SURVEY_CONFIRM_M``) or into another
    grid is made only when ``confirmed``; otherwise :class:`MoveNeedsConfirmationError` carries the
    :class:`MovePlan` to ask about.

    Raises
    ------
    CodeError
        The code is malformed or no component has it.
    CRSError
        ``crs`` is not one of :data:`SURVEY_CRS`.
    CoordinateError
        The coordinates are NaN/infinite, out of range or look swapped.
    OutsideDistrictError
        No level-3 grid of the current generation covers the position.
    MoveNeedsConfirmationError
        The move is far or changes grid and was not confirmed; nothing was changed.
    ChangeRefusedError
        The component is already at that position (closer than a millimetre): no new version.
    StaleEditError
        The component's version is not ``expected_version``; ``.current`` is its record now.
    StoreBusyError
        Another write held the store longer than the busy timeout; nothing was changed.

    The position is located before the write lock is taken, so the lock is held briefly; if the
    grids were redrawn meanwhile (an adoption committed while this move waited for the lock), it
    is located again, under the lock, in the grids now current, as :func:`confirm_batch` refuses
    a preview made against other grids.
    """
    c = check_code(code)
    who = check_actor(actor)
    canonical = normalise_crs(crs)
    limit = settings.SURVEY_CONFIRM_M if threshold_m is None else float(threshold_m)
    seen = grids_key(store)
    loc = locator or district_locator(store)
    _to_work_located(x, y, crs=canonical, locator=loc)  # refuse a bad position before the lock
    at = now or _clock()
    with store.transaction() as conn:
        if grids_key(store) != seen:
            loc = district_locator(store)
        current = _current(conn, c)
        _check_version(current, expected_version)
        plan = _plan(current, x, y, crs=canonical, locator=loc, threshold_m=limit)
        if plan.no_op:
            raise coded(
                ChangeRefusedError(f"component {c} is already at that position; nothing to change"),
                "same_place",
                code=c,
            )
        if plan.needs_confirmation and not confirmed:
            raise coded(
                MoveNeedsConfirmationError(
                    f"moving component {c} {plan.distance_m:.1f} m from grid {plan.old_grid} to grid "
                    f"{plan.new_grid} must be confirmed",
                    plan=plan,
                ),
                "confirm_move",
                code=c,
                distance=plan.distance_m,
                old_grid=plan.old_grid,
                new_grid=plan.new_grid,
            )
        return _apply(
            store,
            conn,
            current,
            values={"x": plan.x, "y": plan.y, "grid_code": plan.new_grid},
            action="move",
            actor=who,
            reason=str(reason or ""),
            at=at,
        )


def set_state(
    store: Store,
    code: str,
    *,
    state: str,
    expected_version: int,
    actor: str,
    reason: str = "",
    now: str | None = None,
) -> ComponentChange:
    """Set a component's state (完好 / 破损 / 丢失 / 占用)."""
    c = check_code(code)
    who = check_actor(actor)
    if state not in STATES:
        raise coded(
            ChangeRefusedError(f"unknown state {state!r}; a component is one of {', '.join(STATES)}"),
            "unknown_state",
            state=state,
        )
    at = now or _clock()
    with store.transaction() as conn:
        current = _current(conn, c)
        _check_version(current, expected_version)
        if current["state"] == state:
            raise coded(
                ChangeRefusedError(f"component {c} is already {state}; nothing to change"),
                "same_state",
                code=c,
                state=state,
            )
        return _apply(
            store,
            conn,
            current,
            values={"state": state},
            action="state",
            actor=who,
            reason=str(reason or ""),
            at=at,
        )


def _undo_stack(conn: Conn, code: str) -> list[tuple[int, str, str | None]]:
    """The changes that can still be undone, oldest first: ``(id, action, before JSON)``.

    Replays the component's history (a few rows): an undoable change is pushed, an undo pops the
    change it reverts, a boundary reassignment is passed over, any other change ends what can be
    undone before it.
    """
    rows = conn.execute(
        "SELECT id, action, before, undoes FROM component_history WHERE component_code = ? ORDER BY id",
        (code,),
    ).fetchall()
    stack: list[tuple[int, str, str | None]] = []
    for hid, action, before, undoes in rows:
        if action in _UNDOABLE_ACTIONS:
            stack.append((int(hid), str(action), before))
        elif action == "undo" and undoes is not None and stack and stack[-1][0] == int(undoes):
            stack.pop()
        elif action not in _TRANSPARENT_ACTIONS:
            stack.clear()
    return stack


def undoable(store: Store, code: str) -> list[int]:
    """History ids of the changes that can be undone, newest first: :func:`undo` takes the first."""
    return [hid for hid, _a, _b in reversed(_undo_stack(store.conn, check_code(code)))]


def undo(
    store: Store,
    code: str,
    *,
    expected_version: int,
    actor: str,
    history_id: int | None = None,
    last: bool = False,
    reason: str = "",
    locator: GridLocator | None = None,
    now: str | None = None,
) -> ComponentChange:
    """Undo the newest change not yet undone, by a NEW change (action ``undo``) restoring its before-values.

    Name the change by ``history_id`` (it must be the first of :func:`undoable`), or pass
    ``last=True``. Undoing again steps further back. Refused with :class:`ChangeRefusedError` for a
    change that is not next in line (a later change must be undone first, or it was undone
    already), and with :class:`StaleEditError` if the component is not at ``expected_version``.
    """
    c = check_code(code)
    who = check_actor(actor)
    if (history_id is None) == (not last):
        raise ChangeRefusedError("name the change to undo by history_id, or ask for the last one (last=True)")
    at = now or _clock()
    seen = grids_key(store)
    with store.transaction() as conn:
        if locator is not None and grids_key(store) != seen:
            locator = None  # made for grids redrawn since the call: use the current ones
        current = _current(conn, c)
        _check_version(current, expected_version)
        stack = _undo_stack(conn, c)
        if not stack:
            raise coded(ChangeRefusedError(f"component {c} has no change to undo"), "nothing_to_undo", code=c)
        hid, haction, hbefore = stack[-1]
        if not last and int(history_id) != hid:  # type: ignore[arg-type]
            raise coded(
                ChangeRefusedError(
                    f"change {history_id} of component {c} cannot be undone now: the next change to "
                    f"undo is {hid}"
                ),
                "not_next_undo",
                code=c,
                asked=int(history_id),  # type: ignore[arg-type]
                next=hid,
            )
        before = json.loads(hbefore) if hbefore else None
        if not before or not set(before) <= _UNDOABLE_FIELDS:
            raise coded(
                ChangeRefusedError(f"change {hid} ({haction}) of component {c} cannot be undone"),
                "cannot_undo",
                code=c,
                id=hid,
            )
        values = dict(before)
        if "x" in values and "y" in values:
            # Grids may have been redrawn since: the restored position gets the grid that covers it now.
            grid = (locator or district_locator(store)).locate_one(float(values["x"]), float(values["y"]))
            if grid is None:
                raise coded(
                    OutsideDistrictError(
                        f"the position before change {hid} is outside every current grid; it cannot be restored"
                    ),
                    "undo_outside",
                    id=hid,
                )
            values["grid_code"] = grid
        return _apply(
            store,
            conn,
            current,
            values=values,
            action="undo",
            actor=who,
            reason=str(reason or f"undo {hid}"),
            at=at,
            undoes=hid,
        )
