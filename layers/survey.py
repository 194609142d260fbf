"""The surveyor's workspace: find components, move them, change their state, undo, batch uploads.

Every change runs in one store transaction that reads the component, checks the version the
surveyor saw (``expected_version``), writes the new values with ``version + 1``, appends one
``component_history`` row (who, when, action, before/after JSON, reason) and bumps the
``components`` revision so caches refresh. Any refusal raises before the transaction commits, so a
refused change leaves the store exactly as it was.

Positions enter with their CRS (WGS84 lon/lat, GCJ-02 lon/lat, CGCS2000 lon/lat or CGCS2000
EPSG:4549 x/y), are converted with :mod:`spatial.crs`, checked (NaN, range, swapped axes) and
located in the current level-3 grids; a point no grid covers is outside the district and refused.

A batch upload is two steps. :func:`preview_batch` reads a CSV/XLSX file through the one reader of
user files (:mod:`layers.tabular`: size-checked before it is parsed, UTF-8 or GB18030, aliases of
column names, malformed records kept with their reason), validates every row at once with pandas/numpy and returns a :class:`BatchPreview`: per
row the distance moved, old and new grid, or the reasons it was rejected. :func:`confirm_batch`
applies the accepted rows in one transaction, refusing the whole batch if any of them changed since
the preview, and keeps every rejected row with its reason in ``import_rejects``.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import secrets
import sqlite3
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

import settings
from layers.components import STATES
from layers.errors import ChangeRefusedError, InputFileError, StaleBatchError, StaleEditError
from layers.grids import load_grids
from layers.store import Store
from layers.tabular import READER_REASONS, read_table, resolve_columns
from spatial import crs as spatial_crs
from spatial.errors import CodeError, CoordinateError, CRSError, OutsideDistrictError
from spatial.locate import GridLocator

__all__ = [
    "BATCH_KIND",
    "REASONS",
    "SURVEY_CRS",
    "BatchPreview",
    "BatchResult",
    "ComponentChange",
    "FoundComponents",
    "confirm_batch",
    "district_locator",
    "find_components",
    "get_component",
    "grid_shape",
    "history",
    "move_component",
    "normalise_crs",
    "preview_batch",
    "reason_label",
    "set_state",
    "to_lonlat",
    "undo",
]

#: CRSs a surveyor may give positions in, with their labels (Chinese, English).
SURVEY_CRS: dict[str, tuple[str, str]] = {
    "EPSG:4326": ("WGS84 经纬度 (GPS)", "WGS84 lon/lat (GPS)"),
    "GCJ02": ("GCJ-02 经纬度 (高德/微信)", "GCJ-02 lon/lat (Amap/WeChat)"),
    "EPSG:4490": ("CGCS2000 经纬度", "CGCS2000 lon/lat"),
    "EPSG:4549": ("CGCS2000 平面坐标 x/y (米)", "CGCS2000 x/y (metres, EPSG:4549)"),
}
_PROJECTED = {"EPSG:4549"}

#: Kind recorded in ``import_batches`` for surveyed positions.
BATCH_KIND = "component_positions"

#: Reasons a batch row can be rejected, by code: (Chinese, English); the reader's own first.
REASONS: dict[str, tuple[str, str]] = {
    **READER_REASONS,
    "missing_code": ("缺少部件编码", "missing component code"),
    "malformed_code": ("部件编码格式错误（应为16位数字）", "malformed component code (16 digits expected)"),
    "duplicate_code": ("文件中部件编码重复", "component code repeated in the file"),
    "unknown_code": ("未知的部件编码", "unknown component code"),
    "missing_coordinate": ("缺少坐标", "missing coordinate"),
    "not_a_number": ("坐标不是数字", "coordinate is not a number"),
    "nan": ("坐标为 NaN 或无穷大", "coordinate is NaN or infinite"),
    "swapped": ("经纬度疑似颠倒", "latitude and longitude look swapped"),
    "wrong_crs": (
        "坐标看似经纬度而非平面坐标，请选择经纬度坐标系",
        "looks like lon/lat degrees, not metres: choose a lon/lat coordinate system",
    ),
    "out_of_range": ("坐标超出有效范围", "coordinate out of range"),
    "outside_district": ("位置不在本区任何网格内", "position outside every grid of the district"),
}

_CODE_LEN = 16
_DEFAULT_LIMIT = 200
_MAX_LIMIT = 5000
_MB = 1024 * 1024
_NAN_WORDS = {
    "nan",
    "-nan",
    "+nan",
    "na",
    "n/a",
    "null",
    "none",
    "inf",
    "-inf",
    "+inf",
    "infinity",
    "-infinity",
    "+infinity",
}


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


@dataclass(frozen=True, eq=False)
class BatchPreview:
    """A checked batch of surveyed positions, not yet applied.

    ``rows`` has one row per data row of the file, in file order, with columns
    ``row_number`` (line in the file, the header being line 1), ``code``, ``x_in``, ``y_in``,
    ``note`` (as received, text), ``x``, ``y`` (EPSG:4549), ``old_x``, ``old_y``, ``old_grid``,
    ``new_grid``, ``distance_m``, ``version`` (of the component when previewed), ``accepted``,
    ``reason_code`` (first problem) and ``reason`` (every problem, ``"; "``-separated).
    """

    filename: str
    crs: str
    file_format: str
    size_bytes: int
    columns: dict[str, str | None]
    rows: pd.DataFrame
    #: Raw JSON of every rejected row, keyed by ``row_number``, as kept in ``import_rejects``.
    raw_rejects: dict[int, str]
    store_path: str
    grids_revision: int
    created_at: str

    @property
    def accepted(self) -> pd.DataFrame:
        return self.rows[self.rows["accepted"]]

    @property
    def rejected(self) -> pd.DataFrame:
        return self.rows[~self.rows["accepted"]]

    @property
    def n_rows(self) -> int:
        return len(self.rows)

    @property
    def n_accepted(self) -> int:
        return int(self.rows["accepted"].sum())

    @property
    def n_rejected(self) -> int:
        return self.n_rows - self.n_accepted

    def reason_counts(self) -> pd.Series:
        """Rejected rows per first reason code."""
        return self.rejected["reason_code"].value_counts()


@dataclass(frozen=True)
class BatchResult:
    batch_id: int
    accepted: int
    rejected: int
    at: str
    history_ids: list[int] = field(default_factory=list)


# --------------------------------------------------------------------------------------- helpers
def _now() -> str:
    return dt.datetime.now().replace(microsecond=0).isoformat()


def normalise_crs(crs: str) -> str:
    """The canonical name of a CRS (``spatial.crs`` aliases accepted); :class:`CRSError` otherwise."""
    return spatial_crs.normalize_crs(crs)


def _check_actor(actor: str) -> str:
    if not isinstance(actor, str) or not actor.strip():
        raise ChangeRefusedError("every change needs the name of who makes it (actor)")
    return actor.strip()


def _check_code(code: str) -> str:
    c = str(code).strip() if code is not None else ""
    if len(c) != _CODE_LEN or not c.isascii() or not c.isdigit():
        raise CodeError(f"component code {code!r} is not 16 digits (county 6 + class 4 + serial 6)")
    return c


def _digits(value: str, *, what: str, max_len: int) -> str:
    v = str(value).strip()
    if not v or len(v) > max_len or not v.isascii() or not v.isdigit():
        raise CodeError(f"{what} {value!r} must be 1 to {max_len} digits")
    return v


_locator_cache: dict[tuple[str, int, int], GridLocator] = {}
_locator_lock = threading.Lock()


def district_locator(store: Store) -> GridLocator:
    """A locator over the current level-3 grids, built once per store, generation and grid revision.

    The locator is plain read-only data, so one instance is shared by every caller.
    """
    key = (str(Path(store.path).resolve()), store.current_generation(), store.revision("grids"))
    with _locator_lock:
        loc = _locator_cache.get(key)
    if loc is None:
        grids = load_grids(store, level=3, generation=key[1])
        if grids.empty:
            raise OutsideDistrictError(f"{store.path}: the current generation has no level-3 grids")
        loc = GridLocator(grids.geometry.to_numpy(), grids["code"].to_numpy())
        with _locator_lock:
            for old in [k for k in _locator_cache if k[0] == key[0]]:
                del _locator_cache[old]
            _locator_cache[key] = loc
    return loc


def _grids_key(store: Store) -> tuple[int, int]:
    """The current grid generation and grids revision: what a located grid is valid for."""
    return store.current_generation(), store.revision("grids")


def _coordinate_problems(x: np.ndarray, y: np.ndarray, *, crs: str) -> tuple[np.ndarray, np.ndarray]:
    """Per point, a reason code ('' when usable) and the words of :func:`spatial.crs.check_coordinates`.

    The check is the engine's (NaN, range, swapped axes, degrees given as metres); this only sorts
    its verdicts into the reason codes a surveyor sees.
    """
    check = spatial_crs.check_coordinates(x, y, crs=crs)
    why = pd.Series(check.reason, dtype=object).fillna("").astype(str)
    code = np.full(len(why), "", dtype=object)
    bad = (why != "").to_numpy()
    code[bad] = "out_of_range"
    code[(why.str.startswith("looks like degrees")).to_numpy()] = "wrong_crs"
    code[(why.str.contains("swapped")).to_numpy()] = "swapped"
    code[(why.str.startswith("missing") | why.str.startswith("not finite")).to_numpy()] = "nan"
    return code, why.to_numpy(dtype=object)


def _describe_point(x: float, y: float, *, crs: str) -> str:
    return f"({x:.3f}, {y:.3f}) m" if crs in _PROJECTED else f"(lon {x:.6f}, lat {y:.6f})"


def _to_work_located(x: float, y: float, *, crs: str, locator: GridLocator) -> tuple[float, float, str]:
    """Working-CRS position and level-3 grid of one typed point, or the error telling what is wrong."""
    canonical = normalise_crs(crs)
    try:
        xa = np.array([float(x)], dtype=float)
        ya = np.array([float(y)], dtype=float)
    except (TypeError, ValueError) as exc:
        raise CoordinateError(f"coordinates ({x!r}, {y!r}) are not numbers") from exc
    codes, why = _coordinate_problems(xa, ya, crs=canonical)
    where = _describe_point(xa[0], ya[0], crs=canonical) if codes[0] != "nan" else f"({x}, {y})"
    if codes[0] == "wrong_crs":
        raise CRSError(
            f"coordinates {where} look like lon/lat degrees, not {canonical} metres; "
            "choose a lon/lat coordinate system"
        )
    if codes[0]:
        raise CoordinateError(f"coordinates {where} cannot be used as {canonical}: {why[0]}")
    wx, wy = spatial_crs.to_work(xa, ya, crs=canonical)
    wx0, wy0 = float(np.asarray(wx)[0]), float(np.asarray(wy)[0])
    if not (np.isfinite(wx0) and np.isfinite(wy0)):
        raise CoordinateError(f"coordinates {where} cannot be converted from {canonical}")
    grid = locator.locate_one(wx0, wy0)
    if grid is None:
        raise OutsideDistrictError(f"position {where} in {canonical} is outside every grid of the district")
    return wx0, wy0, grid


_ROW_SQL = (
    "SELECT code, class_code, x, y, grid_code, state, changed_on, version FROM components WHERE code = ?"
)
_ROW_COLS = ("code", "class_code", "x", "y", "grid_code", "state", "changed_on", "version")


def _current(conn: sqlite3.Connection, code: str) -> dict[str, Any]:
    row = conn.execute(_ROW_SQL, (code,)).fetchone()
    if row is None:
        raise CodeError(f"no component with code {code}")
    return dict(zip(_ROW_COLS, row, strict=True))


def _check_version(current: dict[str, Any], expected_version: int) -> None:
    if int(expected_version) != int(current["version"]):
        raise StaleEditError(
            f"component {current['code']} was changed by someone else: you edited version "
            f"{expected_version}, it is now version {current['version']}. Reload it and try again.",
            current=current,
        )


def _append_history(
    conn: sqlite3.Connection,
    *,
    code: str,
    version: int,
    at: str,
    actor: str,
    action: str,
    before: Mapping[str, Any] | None,
    after: Mapping[str, Any] | None,
    reason: str,
) -> int:
    cur = conn.execute(
        "INSERT INTO component_history"
        "(component_code, version, changed_at, actor, action, before, after, reason)"
        " VALUES (?,?,?,?,?,?,?,?)",
        (
            code,
            version,
            at,
            actor,
            action,
            None if before is None else json.dumps(dict(before), ensure_ascii=False),
            None if after is None else json.dumps(dict(after), ensure_ascii=False),
            reason,
        ),
    )
    return int(cur.lastrowid or 0)


def _apply(
    store: Store,
    conn: sqlite3.Connection,
    current: dict[str, Any],
    *,
    values: dict[str, Any],
    action: str,
    actor: str,
    reason: str,
    at: str,
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
def get_component(store: Store, code: str) -> dict[str, Any]:
    """The current record of one component (all columns); :class:`CodeError` if there is none."""
    c = _check_code(code)
    cur = store.conn.execute("SELECT * FROM components WHERE code = ?", (c,))
    row = cur.fetchone()
    if row is None:
        raise CodeError(f"no component with code {c}")
    return dict(zip([d[0] for d in cur.description], row, strict=True))


def find_components(
    store: Store,
    *,
    code: str | None = None,
    prefix: str | None = None,
    grid_code: str | None = None,
    class_code: str | None = None,
    limit: int = _DEFAULT_LIMIT,
) -> FoundComponents:
    """Components by exact code, code prefix, grid and/or class (conditions combine with AND).

    ``grid_code`` may be a level-3 grid, or a level-2/level-1 grid (its zero-padded code), which
    finds the components of every level-3 grid under it. ``class_code`` is a 4-digit class or a
    2-digit major class. At most ``limit`` rows (capped at 5000) are returned, ordered by code.
    """
    if not any(v not in (None, "") for v in (code, prefix, grid_code, class_code)):
        raise CodeError("give a component code, a code prefix, a grid code or a class code to search by")
    n = max(1, min(int(limit), _MAX_LIMIT))
    where: list[str] = []
    params: list[object] = []

    def prefix_range(column: str, p: str) -> None:
        # A range on the indexed column instead of LIKE, which SQLite cannot index case-insensitively.
        where.append(f"{column} >= ? AND {column} < ?")
        params.extend([p, p[:-1] + chr(ord(p[-1]) + 1)])

    if code not in (None, ""):
        where.append("code = ?")
        params.append(_check_code(str(code)))
    if prefix not in (None, ""):
        prefix_range("code", _digits(str(prefix), what="code prefix", max_len=_CODE_LEN))
    if grid_code not in (None, ""):
        g = _digits(str(grid_code), what="grid code", max_len=15)
        if len(g) == 15 and g.endswith("000000"):
            prefix_range("grid_code", g[:9])
        elif len(g) == 15 and g.endswith("000"):
            prefix_range("grid_code", g[:12])
        elif len(g) == 15:
            where.append("grid_code = ?")
            params.append(g)
        else:
            prefix_range("grid_code", g)
    if class_code not in (None, ""):
        k = _digits(str(class_code), what="class code", max_len=4)
        if len(k) == 4:
            where.append("class_code = ?")
            params.append(k)
        else:
            prefix_range("class_code", k)
    sql = (
        f"SELECT code, class_code, x, y, grid_code, state, changed_on, version FROM components "
        f"WHERE {' AND '.join(where)} ORDER BY code LIMIT ?"
    )
    frame = pd.read_sql_query(sql, store.conn, params=[*params, n + 1])
    truncated = len(frame) > n
    return FoundComponents(frame=frame.iloc[:n].reset_index(drop=True), limit=n, truncated=truncated)


def history(store: Store, code: str) -> pd.DataFrame:
    """The change history of one component, oldest first.

    Columns ``id, version, changed_at, actor, action, before, after, reason`` (before/after as
    JSON text). Empty for a component never changed.
    """
    c = _check_code(code)
    return pd.read_sql_query(
        "SELECT id, version, changed_at, actor, action, before, after, reason FROM component_history "
        "WHERE component_code = ? ORDER BY id",
        store.conn,
        params=[c],
    )


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


def to_lonlat(x: Any, y: Any) -> tuple[np.ndarray, np.ndarray]:
    """WGS84 lon/lat (the display CRS) of working-CRS positions."""
    lon, lat = spatial_crs.to_display(
        np.asarray(x, dtype=float), np.asarray(y, dtype=float), crs=settings.WORK_CRS
    )
    return np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)


# --------------------------------------------------------------------------------------- changes
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
    locator: GridLocator | None = None,
    now: str | None = None,
) -> ComponentChange:
    """Move a component to a surveyed position given in ``crs``; the grid is recomputed.

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
    StaleEditError
        The component's version is not ``expected_version``; ``.current`` is its record now.
    StoreBusyError
        Another write held the store longer than the busy timeout; nothing was changed.

    The position is located before the write lock is taken, so the lock is held briefly; if the
    grids were redrawn meanwhile (an adoption committed while this move waited for the lock), it
    is located again, under the lock, in the grids now current, as :func:`confirm_batch` refuses
    a preview made against other grids.
    """
    c = _check_code(code)
    who = _check_actor(actor)
    canonical = normalise_crs(crs)
    seen = _grids_key(store)
    loc = locator or district_locator(store)
    wx, wy, grid = _to_work_located(x, y, crs=canonical, locator=loc)
    at = now or _now()
    with store.transaction() as conn:
        if _grids_key(store) != seen:
            wx, wy, grid = _to_work_located(x, y, crs=canonical, locator=district_locator(store))
        current = _current(conn, c)
        _check_version(current, expected_version)
        return _apply(
            store,
            conn,
            current,
            values={"x": wx, "y": wy, "grid_code": grid},
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
    c = _check_code(code)
    who = _check_actor(actor)
    if state not in STATES:
        raise ChangeRefusedError(f"unknown state {state!r}; a component is one of {', '.join(STATES)}")
    at = now or _now()
    with store.transaction() as conn:
        current = _current(conn, c)
        _check_version(current, expected_version)
        if current["state"] == state:
            raise ChangeRefusedError(f"component {c} is already {state}; nothing to change")
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


_UNDOABLE_FIELDS = {"x", "y", "grid_code", "state"}


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
    """Undo one change of a component by a NEW change (action ``undo``) restoring its before-values.

    Name the change by ``history_id``, or pass ``last=True`` for the latest one. Refused with
    :class:`StaleEditError` if the component changed after that change (undo the later ones first)
    or is not at ``expected_version``.
    """
    c = _check_code(code)
    who = _check_actor(actor)
    if (history_id is None) == (not last):
        raise ChangeRefusedError("name the change to undo by history_id, or ask for the last one (last=True)")
    at = now or _now()
    seen = _grids_key(store)
    with store.transaction() as conn:
        if locator is not None and _grids_key(store) != seen:
            locator = None  # made for grids redrawn since the call: use the current ones

        current = _current(conn, c)
        _check_version(current, expected_version)
        if last:
            row = conn.execute(
                "SELECT id, version, action, before FROM component_history WHERE component_code = ? "
                "ORDER BY id DESC LIMIT 1",
                (c,),
            ).fetchone()
            if row is None:
                raise ChangeRefusedError(f"component {c} has no change to undo")
        else:
            row = conn.execute(
                "SELECT id, version, action, before FROM component_history "
                "WHERE component_code = ? AND id = ?",
                (c, int(history_id)),  # type: ignore[arg-type]
            ).fetchone()
            if row is None:
                raise ChangeRefusedError(f"component {c} has no change {history_id}")
        hid, hversion, haction, hbefore = row
        if int(hversion) != int(current["version"]):
            raise StaleEditError(
                f"component {c} changed after change {hid} (that change made version {hversion}, it is "
                f"now version {current['version']}); undo the later changes first",
                current=current,
            )
        before = json.loads(hbefore) if hbefore else None
        if not before or not set(before) <= _UNDOABLE_FIELDS:
            raise ChangeRefusedError(f"change {hid} ({haction}) of component {c} cannot be undone")
        values = dict(before)
        if "x" in values and "y" in values:
            # Grids may have been redrawn since: the restored position gets the grid that covers it now.
            grid = (locator or district_locator(store)).locate_one(float(values["x"]), float(values["y"]))
            if grid is None:
                raise OutsideDistrictError(
                    f"the position before change {hid} is outside every current grid; it cannot be restored"
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
        )


# --------------------------------------------------------------------------------------- batches
def _resolve_columns(
    columns: list[str],
    *,
    filename: str,
    code_column: str | None,
    x_column: str | None,
    y_column: str | None,
    note_column: str | None,
) -> dict[str, str | None]:
    chosen = resolve_columns(
        columns,
        filename=filename,
        roles={"code": code_column, "x": x_column, "y": y_column, "note": note_column},
        required=("code", "x", "y"),
        hint="Name the columns code, x, y (or lon, lat), or choose them.",
    )
    picked = [chosen[k] for k in ("code", "x", "y")]
    if len(set(picked)) < 3:
        raise InputFileError(f"{filename}: code, x and y must be three different columns, got {picked}")
    return chosen


class _Reasons:
    """Per-row problem collector: the first reason code, and every reason as text."""

    def __init__(self, n: int) -> None:
        self.code = np.full(n, "", dtype=object)
        self.text = np.full(n, "", dtype=object)

    def add(self, mask: np.ndarray, code: str, detail: np.ndarray | str = "") -> None:
        mask = np.asarray(mask, dtype=bool)
        if not mask.any():
            return
        label = REASONS[code][1]
        if isinstance(detail, str):
            msg: np.ndarray | str = f"{label}: {detail}" if detail else label
        else:
            d = np.asarray(detail, dtype=object)
            msg = np.where(d == "", label, (label + ": ") + d.astype(str).astype(object))
        self.code = np.where(mask & (self.code == ""), code, self.code)
        self.text = np.where(mask, np.where(self.text == "", msg, self.text + "; " + msg), self.text)

    @property
    def ok(self) -> np.ndarray:
        return self.code == ""


def _fetch_components(conn: sqlite3.Connection, codes: np.ndarray) -> pd.DataFrame:
    """Current x, y, grid and version of the given codes in one query (codes passed as one JSON array)."""
    return pd.read_sql_query(
        "SELECT c.code, c.x, c.y, c.grid_code, c.version FROM components c "
        "JOIN (SELECT DISTINCT value AS code FROM json_each(?)) w ON w.code = c.code",
        conn,
        params=[json.dumps([str(c) for c in np.asarray(codes).tolist()])],
    )


def preview_batch(
    store: Store,
    data: bytes | bytearray | memoryview | IO[bytes] | str | os.PathLike[str],
    *,
    filename: str,
    crs: str,
    max_bytes: int | None = None,
    code_column: str | None = None,
    x_column: str | None = None,
    y_column: str | None = None,
    note_column: str | None = None,
    locator: GridLocator | None = None,
) -> BatchPreview:
    """Check a CSV/XLSX of surveyed positions without changing anything.

    The file must have a code column and x/y (or lon/lat) columns; other names can be given.
    A file larger than ``max_bytes`` (default ``settings.MAX_UPLOAD_MB``) is refused before it is
    read. Every row is checked: the line's shape, the code (present, 16 digits, unique in the
    file, known in the store), the coordinates (present, numbers, finite, not swapped, in range)
    and the position (inside a grid of the district). Free text (a note column) is kept as text.

    Raises
    ------
    InputFileError
        The file is too large, not CSV/XLSX, unreadable, or lacks the columns (the message lists
        the columns it has).
    CRSError
        ``crs`` is not one of :data:`SURVEY_CRS`.
    """
    canonical = normalise_crs(crs)
    limit = int(max_bytes) if max_bytes is not None else settings.MAX_UPLOAD_MB * _MB
    table = read_table(data, filename=str(filename or "upload"), max_bytes=limit, formats=("csv", "xlsx"))
    name, file_format, size = table.name, table.fmt, table.size
    chosen = _resolve_columns(
        [str(c) for c in table.frame.columns],
        filename=name,
        code_column=code_column,
        x_column=x_column,
        y_column=y_column,
        note_column=note_column,
    )
    frame = table.frame.astype(object).where(table.frame.notna(), "").astype(str)
    unread = table.rejected
    # Rows of empty fields carry nothing; they are not rows (and keeping them would only add noise).
    blank = ~unread & (frame.apply(lambda s: s.str.strip()) == "").all(axis=1).to_numpy()
    frame = frame.loc[~blank].reset_index(drop=True)
    # The header is line 1 of the file: row numbers count from 2.
    row_number = table.row_numbers[~blank] + 1
    unread = unread[~blank]
    n = len(frame)

    code = frame[chosen["code"]].str.strip()  # type: ignore[index]
    x_in = frame[chosen["x"]].str.strip()  # type: ignore[index]
    y_in = frame[chosen["y"]].str.strip()  # type: ignore[index]
    note = frame[chosen["note"]] if chosen["note"] else pd.Series([""] * n, dtype=object)
    r = _Reasons(n)
    # Records the reader could not split keep its reason (malformed row, unterminated quote, ...).
    reader_code = table.reject_code[~blank]
    reader_detail = table.reject_detail[~blank]
    for rc in np.unique(reader_code[unread]):
        r.add(unread & (reader_code == rc), str(rc), reader_detail)
    live = ~unread

    code_arr = code.to_numpy(dtype=object)
    r.add(live & (code_arr == ""), "missing_code")
    well_formed = (code.str.len() == _CODE_LEN) & code.str.fullmatch(r"[0-9]+")
    well_formed_arr = well_formed.fillna(False).to_numpy(dtype=bool)
    r.add(live & (code_arr != "") & ~well_formed_arr, "malformed_code", np.where(live, code_arr, ""))
    counted = well_formed_arr & live
    dup = np.zeros(n, dtype=bool)
    if counted.any():
        dup[counted] = code[counted].duplicated(keep=False).to_numpy(dtype=bool)
    if dup.any():
        first_rows = (
            pd.Series(row_number[dup])
            .groupby(code_arr[dup])
            .agg(lambda s: ", ".join(map(str, s.tolist()[:5])))
        )
        detail = np.full(n, "", dtype=object)
        detail[dup] = "rows " + pd.Series(code_arr[dup]).map(first_rows).to_numpy(dtype=object)
        r.add(dup, "duplicate_code", detail)

    existing = _fetch_components(store.conn, np.unique(code_arr[counted]))
    existing = existing.set_index("code")
    known = pd.Series(code_arr).isin(existing.index).to_numpy(dtype=bool)
    r.add(counted & ~known, "unknown_code", np.where(counted, code_arr, ""))

    xs = pd.to_numeric(x_in.where(x_in != "", None), errors="coerce")
    ys = pd.to_numeric(y_in.where(y_in != "", None), errors="coerce")
    x_num = xs.to_numpy(dtype=float, na_value=np.nan)
    y_num = ys.to_numpy(dtype=float, na_value=np.nan)
    x_empty = (x_in == "").to_numpy(dtype=bool)
    y_empty = (y_in == "").to_numpy(dtype=bool)
    r.add(
        live & (x_empty | y_empty),
        "missing_coordinate",
        np.where(x_empty & y_empty, "x and y", np.where(x_empty, "x", "y")).astype(object),
    )
    x_nanword = x_in.str.lower().isin(_NAN_WORDS).to_numpy(dtype=bool)
    y_nanword = y_in.str.lower().isin(_NAN_WORDS).to_numpy(dtype=bool)
    x_text = ~x_empty & ~x_nanword & np.isnan(x_num)
    y_text = ~y_empty & ~y_nanword & np.isnan(y_num)
    r.add(
        live & (x_text | y_text),
        "not_a_number",
        np.where(x_text, x_in.to_numpy(dtype=object), y_in.to_numpy(dtype=object)),
    )
    numeric = live & ~x_empty & ~y_empty & ~x_text & ~y_text
    problem = np.full(n, "", dtype=object)
    words = np.full(n, "", dtype=object)
    if numeric.any():
        problem[numeric], words[numeric] = _coordinate_problems(x_num[numeric], y_num[numeric], crs=canonical)
    shown = words + " (" + x_in.to_numpy(dtype=object) + ", " + y_in.to_numpy(dtype=object) + ")"
    for rc in ("nan", "swapped", "wrong_crs", "out_of_range"):
        r.add(problem == rc, rc, shown)
    placeable = numeric & (problem == "")

    wx = np.full(n, np.nan)
    wy = np.full(n, np.nan)
    new_grid = np.full(n, None, dtype=object)
    if placeable.any():
        px, py = spatial_crs.to_work(x_num[placeable], y_num[placeable], crs=canonical)
        wx[placeable] = np.asarray(px, dtype=float)
        wy[placeable] = np.asarray(py, dtype=float)
        loc = locator or district_locator(store)
        new_grid[placeable] = loc.locate(wx[placeable], wy[placeable])
    r.add(placeable & pd.isna(new_grid), "outside_district")

    old = existing.reindex(code_arr)
    old_x = old["x"].to_numpy(dtype=float, na_value=np.nan)
    old_y = old["y"].to_numpy(dtype=float, na_value=np.nan)
    accepted = r.ok
    rows = pd.DataFrame(
        {
            "row_number": row_number,
            "code": code_arr,
            "x_in": x_in.to_numpy(dtype=object),
            "y_in": y_in.to_numpy(dtype=object),
            "note": note.to_numpy(dtype=object),
            "x": wx,
            "y": wy,
            "old_x": old_x,
            "old_y": old_y,
            "old_grid": old["grid_code"].to_numpy(dtype=object),
            "new_grid": new_grid,
            "distance_m": np.hypot(wx - old_x, wy - old_y),
            "version": old["version"].to_numpy(dtype=float, na_value=np.nan),
            "accepted": accepted,
            "reason_code": r.code,
            "reason": r.text,
        }
    )
    rows["version"] = rows["version"].astype("Int64")

    # The row as received, as JSON (built by pandas in C); malformed lines keep all their fields.
    rejected_idx = np.flatnonzero(~accepted)
    raw_json: dict[int, str] = {}
    if rejected_idx.size:
        original = frame.iloc[rejected_idx]
        lines = original.to_json(orient="records", force_ascii=False, lines=True).split("\n")
        lines = [ln for ln in lines if ln]
        raw_json = dict(zip(row_number[rejected_idx].tolist(), lines, strict=True))
        raw_text = table.raw[~blank]
        for pos in np.flatnonzero(unread):  # as read from the file, since it has no fields
            raw_json[int(row_number[pos])] = json.dumps({"raw": raw_text[pos]}, ensure_ascii=False)

    return BatchPreview(
        filename=name,
        crs=canonical,
        file_format=file_format,
        size_bytes=size,
        columns=chosen,
        rows=rows,
        raw_rejects=raw_json,
        store_path=str(Path(store.path).resolve()),
        grids_revision=store.revision("grids"),
        created_at=_now(),
    )


def _stage_batch(conn: sqlite3.Connection, accepted: pd.DataFrame) -> str:
    """Copy the accepted rows, with their history JSON, into a TEMP table of this connection.

    Done before the write lock is taken: a TEMP table lives in the connection's own temporary
    database, so filling it (and building the JSON) holds no lock on the store, and the locked
    part of :func:`confirm_batch` is a few set-wise statements run by SQLite in C.
    """
    name = f"batch_{secrets.token_hex(6)}"
    dumps = json.dumps
    ox, oy = accepted["old_x"].tolist(), accepted["old_y"].tolist()
    og = accepted["old_grid"].tolist()
    nx, ny = accepted["x"].to_numpy(dtype=float).tolist(), accepted["y"].to_numpy(dtype=float).tolist()
    ng = accepted["new_grid"].astype(str).tolist()
    before = [
        dumps({"x": a, "y": b, "grid_code": g}, ensure_ascii=False)
        for a, b, g in zip(ox, oy, og, strict=True)
    ]
    after = [
        dumps({"x": a, "y": b, "grid_code": g}, ensure_ascii=False)
        for a, b, g in zip(nx, ny, ng, strict=True)
    ]
    rows = zip(
        accepted["code"].astype(str).tolist(),
        accepted["version"].astype("int64").tolist(),
        nx,
        ny,
        ng,
        before,
        after,
        accepted["note"].astype(str).str.strip().tolist(),
        strict=True,
    )
    conn.execute("BEGIN")  # deferred, and only TEMP is written: no lock on the store
    try:
        conn.execute(
            f"CREATE TEMP TABLE {name} (code TEXT NOT NULL, version INTEGER NOT NULL, x REAL NOT NULL, "
            "y REAL NOT NULL, grid TEXT NOT NULL, before TEXT NOT NULL, after TEXT NOT NULL, note TEXT NOT NULL)"
        )
        conn.executemany(f"INSERT INTO temp.{name} VALUES (?,?,?,?,?,?,?,?)", rows)
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
    return name


def _stale_batch_check(conn: sqlite3.Connection, preview: BatchPreview, staged: str) -> None:
    changed = conn.execute(
        f"SELECT b.code, c.version FROM temp.{staged} b LEFT JOIN main.components c ON c.code = b.code "
        "WHERE c.version IS NOT b.version ORDER BY b.rowid"
    ).fetchall()
    if changed:
        codes = [str(c) for c, _ in changed]
        cur: dict[str, object] = {str(c): (None if v is None else int(v)) for c, v in changed}
        shown = ", ".join(
            f"{c} (now {'gone' if v is None else f'version {v}'})" for c, v in list(cur.items())[:10]
        )
        more = f" and {len(codes) - 10} more" if len(codes) > 10 else ""
        raise StaleBatchError(
            f"{len(codes)} component(s) changed since the preview of {preview.filename}: {shown}{more}. "
            "Nothing of the batch was applied; preview the file again.",
            codes=codes,
            current=cur,
        )


def _record_batch(conn: sqlite3.Connection, preview: BatchPreview, *, actor: str, at: str) -> int:
    cur = conn.execute(
        "INSERT INTO import_batches(kind, source, at, actor, rows, accepted, rejected) "
        "VALUES (?,?,?,?,?,?,?)",
        (BATCH_KIND, preview.filename, at, actor, preview.n_rows, preview.n_accepted, preview.n_rejected),
    )
    return int(cur.lastrowid or 0)


def _apply_moves(conn: sqlite3.Connection, preview: BatchPreview, staged: str, *, n: int, at: str) -> None:
    """Move the staged components that are still at the previewed version; refuse all if any is not.

    The version test is part of the UPDATE, so the usual case needs no separate check; only when
    fewer rows were moved than staged is the stale list read, and the caller's transaction rolls
    back with :class:`StaleBatchError`.
    """
    cur = conn.execute(
        f"UPDATE main.components SET x = b.x, y = b.y, grid_code = b.grid, changed_on = ?, "
        f"version = b.version + 1 FROM temp.{staged} b "
        "WHERE main.components.code = b.code AND main.components.version = b.version",
        (at[:10],),
    )
    if cur.rowcount != n:
        # Read the versions as they were before this UPDATE: undo it first (savepoint of the caller).
        conn.execute("ROLLBACK TO batch_moves")
        _stale_batch_check(conn, preview, staged)
        raise StaleEditError(  # pragma: no cover - a row moved but none stale cannot happen under the lock
            "components changed while the batch was being written; nothing was applied"
        )


def _append_batch_history(
    conn: sqlite3.Connection, staged: str, *, n: int, batch_id: int, actor: str, at: str
) -> list[int]:
    first = int(conn.execute("SELECT COALESCE(MAX(id), 0) FROM component_history").fetchone()[0])
    reason = f"batch {batch_id}"
    # The staged rows are numbered 1..n in file order, so history ids follow the file.
    conn.execute(
        "INSERT INTO component_history"
        "(id, component_code, version, changed_at, actor, action, before, after, reason) "
        f"SELECT ? + b.rowid, b.code, b.version + 1, ?, ?, 'move', b.before, b.after, "
        f"CASE WHEN b.note = '' THEN ? ELSE ? || ': ' || b.note END FROM temp.{staged} b ORDER BY b.rowid",
        (first, at, actor, reason, reason),
    )
    return list(range(first + 1, first + 1 + n))


def _record_rejects(conn: sqlite3.Connection, preview: BatchPreview, *, batch_id: int) -> None:
    rej = preview.rejected
    numbers = rej["row_number"].astype("int64").tolist()
    conn.executemany(
        "INSERT INTO import_rejects(batch_id, row_number, raw, reason) VALUES (?,?,?,?)",
        list(
            zip(
                [batch_id] * len(rej),
                numbers,
                [preview.raw_rejects[k] for k in numbers],
                (rej["reason_code"] + ": " + rej["reason"]).tolist(),
                strict=True,
            )
        ),
    )


def confirm_batch(store: Store, preview: BatchPreview, *, actor: str, now: str | None = None) -> BatchResult:
    """Apply the accepted rows of a preview in ONE transaction and keep its rejects.

    Records an ``import_batches`` row, every rejected row (as received, with its reason) in
    ``import_rejects``, and one ``move`` history row per moved component (reason ``batch <id>``).

    The rows and their history are staged in a TEMP table before the write lock is taken, so the
    store is locked only for a few set-wise statements (300,000 rows: about 3 s rather than
    9 s; bench/RESULTS.md), and other writers rarely wait long enough to be told
    the store is busy.

    Raises
    ------
    StaleBatchError
        An accepted component changed (or vanished) since the preview; ``.codes`` names them.
        Nothing is applied.
    StaleEditError
        The grids were redrawn since the preview, or the preview is of another store.
    StoreBusyError
        Another write held the store longer than the busy timeout; nothing was applied.
    """
    who = _check_actor(actor)
    if str(Path(store.path).resolve()) != preview.store_path:
        raise StaleEditError(f"this preview was made on another store ({preview.store_path}); preview again")
    at = now or _now()
    accepted = preview.accepted
    n = len(accepted)
    staged = _stage_batch(store.conn, accepted) if n else ""
    try:
        with store.transaction() as conn:
            if store.revision("grids") != preview.grids_revision:
                raise StaleEditError(
                    "the grids changed since the preview, so new grids may differ; preview again"
                )
            batch_id = _record_batch(conn, preview, actor=who, at=at)
            ids: list[int] = []
            if n:
                conn.execute("SAVEPOINT batch_moves")
                _apply_moves(conn, preview, staged, n=n, at=at)
                conn.execute("RELEASE batch_moves")
                ids = _append_batch_history(conn, staged, n=n, batch_id=batch_id, actor=who, at=at)
            if preview.n_rejected:
                _record_rejects(conn, preview, batch_id=batch_id)
            if n:
                store.bump_revision(conn, "components")
    finally:
        if staged:
            store.conn.execute(f"DROP TABLE IF EXISTS temp.{staged}")
    return BatchResult(
        batch_id=batch_id, accepted=preview.n_accepted, rejected=preview.n_rejected, at=at, history_ids=ids
    )


def reason_label(code: str, *, lang: str = "zh") -> str:
    """The display label of a reject reason code."""
    zh, en = REASONS.get(code, (code, code))
    return en if lang == "en" else zh
