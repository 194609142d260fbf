"""What the surveyor's edits and batches share: CRSs, code and actor checks, the locator, errors."""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import pandas as pd

import settings
from layers.codes import COMPONENT_CODE_LEN, check_component_code
from layers.district import level3_locator
from layers.errors import ChangeRefusedError, coded
from layers.grids import load_grids
from layers.pgstore import hold
from layers.store import Store
from spatial import crs as spatial_crs
from spatial.errors import CodeError, OutsideDistrictError
from spatial.locate import GridLocator

#: CRSs a surveyor may give positions in, with their labels (Chinese, English).
SURVEY_CRS: dict[str, tuple[str, str]] = {
    "EPSG:4326": ("WGS84 经纬度 (GPS)", "WGS84 lon/lat (GPS)"),
    "GCJ02": ("GCJ-02 经纬度 (高德/微信)", "GCJ-02 lon/lat (Amap/WeChat)"),
    "EPSG:4490": ("CGCS2000 经纬度", "CGCS2000 lon/lat"),
    "EPSG:4549": ("CGCS2000 平面坐标 x/y (米)", "CGCS2000 x/y (metres, EPSG:4549)"),
}
PROJECTED = {"EPSG:4549"}
CODE_LEN = COMPONENT_CODE_LEN


def now() -> str:
    return dt.datetime.now().replace(microsecond=0).isoformat()


def normalise_crs(crs: str) -> str:
    """The canonical name of a CRS (``spatial.crs`` aliases accepted); :class:`CRSError` otherwise."""
    return spatial_crs.normalize_crs(crs)


def check_actor(actor: str) -> str:
    if not isinstance(actor, str) or not actor.strip():
        raise coded(ChangeRefusedError("every change needs the name of who makes it (actor)"), "no_actor")
    return actor.strip()


def check_code(code: str) -> str:
    try:
        return check_component_code(code)
    except CodeError as exc:
        raise coded(exc, "bad_code", code=str(code)) from None


def digits(value: str, *, what: str, max_len: int) -> str:
    v = str(value).strip()
    if not v or len(v) > max_len or not v.isascii() or not v.isdigit():
        raise coded(CodeError(f"{what} {value!r} must be 1 to {max_len} digits"), "bad_digits", value=v)
    return v


def district_locator(store: Store) -> GridLocator:
    """A locator over the current level-3 grids of ``store``.

    Built on each call (0.2 s for the district's 887 grids): a caller that locates again and
    again passes the one it holds instead (the app: its shared :class:`layers.district.District`'s,
    built once per store revision; a command: the one of its open district).
    """
    grids = load_grids(store, level=3, generation=store.current_generation())
    if grids.empty:
        raise OutsideDistrictError(f"{store.path}: the current generation has no level-3 grids")
    return level3_locator(grids)


def grids_key(store: Store) -> tuple[int, int]:
    """The current grid generation and grids revision: what a located grid is valid for.

    Read inside a write transaction, it also holds the grids as they are until that transaction
    ends (a server store: an adoption waits, or is waited for; SQLite's writer lock does this).
    """
    if store.conn.in_transaction:
        hold(store.conn, "grids", shared=True)
    return store.current_generation(), store.revision("grids")


def coordinate_problems(x: np.ndarray, y: np.ndarray, *, crs: str) -> tuple[np.ndarray, np.ndarray]:
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


def to_lonlat(x: Any, y: Any) -> tuple[np.ndarray, np.ndarray]:
    """WGS84 lon/lat (the display CRS) of working-CRS positions."""
    lon, lat = spatial_crs.to_display(
        np.asarray(x, dtype=float), np.asarray(y, dtype=float), crs=settings.WORK_CRS
    )
    return np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)


def position_in(x: float, y: float, *, crs: str) -> tuple[float, float]:
    """A working-CRS position written in ``crs`` (one of :data:`SURVEY_CRS`): what a form shows."""
    ox, oy = spatial_crs.convert([float(x)], [float(y)], src=settings.WORK_CRS, dst=normalise_crs(crs))
    return float(np.asarray(ox)[0]), float(np.asarray(oy)[0])
