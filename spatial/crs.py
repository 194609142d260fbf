"""Coordinate reference systems: the working CRS, the display CRS and China's offset datums.

Geometry is held in the working CRS, EPSG:4549 (CGCS2000 / 3-degree Gauss-Kruger CM 120E, metres);
display and exchange use WGS84 lon/lat, EPSG:4326. Every coordinate that enters names its CRS:

========================  ===========================================================================
``"EPSG:4326"``           WGS84 lon/lat (aliases ``wgs84``, ``wgs-84``, ``4326``, ``crs84``)
``"EPSG:4490"``           CGCS2000 lon/lat (``cgcs2000``); differs from WGS84 by well under a metre here,
                          and pyproj treats the two as the same datum
``"EPSG:4549"``           the working CRS, metres (``cgcs2000-gk-cm120``)
``"GCJ02"``               the obfuscated lon/lat of Amap, Tencent and WeChat (``gcj-02``, ``gcj``,
                          ``amap``); converted to WGS84 first
``"BD09"``                Baidu's lon/lat (``bd-09``, ``bd09ll``, ``baidu``); BD-09 → GCJ-02 → WGS84
========================  ===========================================================================

GCJ-02 is defined by a published forward formula (WGS84 → GCJ-02, Krasovsky ellipsoid constants);
its inverse has no closed form and is solved here by fixed-point iteration to well under a millimetre.
BD-09 ↔ GCJ-02 is the usual closed form, refined the same way. Transformers are built once per pair
and always use x = longitude/easting, y = latitude/northing.

:func:`check_coordinates` validates bulk input row by row and returns every problem with its reason;
:func:`to_work` and :func:`to_display` refuse input that fails it with a :class:`CoordinateError`
naming the first bad rows. A probable lat/lon swap is reported, never silently repaired.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import numpy as np
from pyproj import Transformer

from spatial.errors import CoordinateError, CRSError

__all__ = [
    "ACCEPTED_CRS",
    "CHINA_LONLAT",
    "DISPLAY_CRS",
    "WORK_CRS",
    "CoordinateCheck",
    "bd09_to_gcj02",
    "check_coordinates",
    "convert",
    "gcj02_to_bd09",
    "gcj02_to_wgs84",
    "normalize_crs",
    "to_display",
    "to_work",
    "transformer",
    "wgs84_to_gcj02",
]

WORK_CRS = "EPSG:4549"
DISPLAY_CRS = "EPSG:4326"
GCJ02 = "GCJ02"
BD09 = "BD09"
ACCEPTED_CRS: tuple[str, ...] = ("EPSG:4326", "EPSG:4490", "EPSG:4549", GCJ02, BD09)
GEOGRAPHIC = frozenset({"EPSG:4326", "EPSG:4490", GCJ02, BD09})

# The area where the project expects coordinates and where GCJ-02 is defined: (lon0, lat0, lon1, lat1).
CHINA_LONLAT: tuple[float, float, float, float] = (73.0, 3.0, 135.0, 54.0)

_ALIASES = {
    "epsg:4326": "EPSG:4326",
    "4326": "EPSG:4326",
    "wgs84": "EPSG:4326",
    "wgs-84": "EPSG:4326",
    "wgs 84": "EPSG:4326",
    "crs84": "EPSG:4326",
    "ogc:crs84": "EPSG:4326",
    "lonlat": "EPSG:4326",
    "epsg:4490": "EPSG:4490",
    "4490": "EPSG:4490",
    "cgcs2000": "EPSG:4490",
    "epsg:4549": "EPSG:4549",
    "4549": "EPSG:4549",
    "cgcs2000-gk-cm120": "EPSG:4549",
    "gcj02": GCJ02,
    "gcj-02": GCJ02,
    "gcj": GCJ02,
    "amap": GCJ02,
    "mars": GCJ02,
    "bd09": BD09,
    "bd-09": BD09,
    "bd09ll": BD09,
    "baidu": BD09,
}

# Krasovsky 1940 semi-major axis and eccentricity squared, as in the GCJ-02 formula.
_GCJ_A = 6378245.0
_GCJ_EE = 0.00669342162296594323
_BD_XPI = np.pi * 3000.0 / 180.0


def normalize_crs(crs: str) -> str:
    """Canonical name of an accepted CRS (case-insensitive aliases), or :class:`CRSError`."""
    if not isinstance(crs, str):
        raise CRSError(
            f"the CRS must be named by a string, got {crs!r}; accepted: {', '.join(ACCEPTED_CRS)}."
        )
    key = crs.strip().lower().replace("_", "-")
    key = key.replace("urn:ogc:def:crs:", "").replace("epsg::", "epsg:")
    found = _ALIASES.get(key) or _ALIASES.get(key.replace("-", ""))
    if found is None:
        raise CRSError(
            f"unknown CRS {crs!r}; accepted: {', '.join(ACCEPTED_CRS)} "
            "(also 'wgs84', 'cgcs2000', 'gcj-02', 'bd-09')."
        )
    return found


@functools.cache
def transformer(src: str, dst: str) -> Transformer:
    """The cached pyproj transformer between two EPSG CRSs, x = lon/easting, y = lat/northing."""
    return Transformer.from_crs(src, dst, always_xy=True)


# ------------------------------------------------------------------ GCJ-02 and BD-09


def _gcj_delta(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    x = lon - 105.0
    y = lat - 35.0
    sq = np.sqrt(np.abs(x))
    s6x = np.sin(6.0 * x * np.pi)
    s2x = np.sin(2.0 * x * np.pi)
    dlat = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * sq
    dlat += (20.0 * s6x + 20.0 * s2x) * 2.0 / 3.0
    dlat += (20.0 * np.sin(y * np.pi) + 40.0 * np.sin(y / 3.0 * np.pi)) * 2.0 / 3.0
    dlat += (160.0 * np.sin(y / 12.0 * np.pi) + 320.0 * np.sin(y * np.pi / 30.0)) * 2.0 / 3.0
    dlon = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * sq
    dlon += (20.0 * s6x + 20.0 * s2x) * 2.0 / 3.0
    dlon += (20.0 * np.sin(x * np.pi) + 40.0 * np.sin(x / 3.0 * np.pi)) * 2.0 / 3.0
    dlon += (150.0 * np.sin(x / 12.0 * np.pi) + 300.0 * np.sin(x / 30.0 * np.pi)) * 2.0 / 3.0
    rad = lat / 180.0 * np.pi
    magic = 1.0 - _GCJ_EE * np.sin(rad) ** 2
    sqrt_magic = np.sqrt(magic)
    dlat = (dlat * 180.0) / ((_GCJ_A * (1.0 - _GCJ_EE)) / (magic * sqrt_magic) * np.pi)
    dlon = (dlon * 180.0) / (_GCJ_A / sqrt_magic * np.cos(rad) * np.pi)
    return dlon, dlat


def _in_china(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    lon0, lat0, lon1, lat1 = CHINA_LONLAT
    return (lon >= lon0) & (lon <= lon1) & (lat >= lat0) & (lat <= lat1)


def _as_float(x: Any, y: Any) -> tuple[np.ndarray, np.ndarray]:
    xa, ya = np.broadcast_arrays(np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64))
    return xa.copy(), ya.copy()


def wgs84_to_gcj02(lon: Any, lat: Any) -> tuple[np.ndarray, np.ndarray]:
    """GCJ-02 lon/lat of WGS84 lon/lat; points outside China are returned unchanged (as GCJ-02 does)."""
    lon, lat = _as_float(lon, lat)
    dlon, dlat = _gcj_delta(lon, lat)
    inside = _in_china(lon, lat)
    return np.where(inside, lon + dlon, lon), np.where(inside, lat + dlat, lat)


def gcj02_to_wgs84(
    lon: Any, lat: Any, *, tol_deg: float = 1e-10, max_iter: int = 30
) -> tuple[np.ndarray, np.ndarray]:
    """WGS84 lon/lat of GCJ-02 lon/lat, by iterating ``w ← w − (gcj(w) − g)`` to ``tol_deg``.

    The offset varies by ~1e-5 of its own size per metre, so each step gains about five digits;
    three or four steps reach ``1e-10`` degrees (about 0.01 mm).
    """
    g_lon, g_lat = _as_float(lon, lat)
    w_lon, w_lat = g_lon.copy(), g_lat.copy()
    for _ in range(max_iter):
        f_lon, f_lat = wgs84_to_gcj02(w_lon, w_lat)
        e_lon, e_lat = f_lon - g_lon, f_lat - g_lat
        w_lon -= e_lon
        w_lat -= e_lat
        err = np.fmax(np.abs(e_lon), np.abs(e_lat))
        if not np.any(err > tol_deg):  # NaN rows compare False and do not hold the loop
            break
    return w_lon, w_lat


def _gcj_to_bd_raw(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    z = np.sqrt(lon * lon + lat * lat) + 0.00002 * np.sin(lat * _BD_XPI)
    theta = np.arctan2(lat, lon) + 0.000003 * np.cos(lon * _BD_XPI)
    return z * np.cos(theta) + 0.0065, z * np.sin(theta) + 0.006


def gcj02_to_bd09(lon: Any, lat: Any) -> tuple[np.ndarray, np.ndarray]:
    """BD-09 lon/lat of GCJ-02 lon/lat (Baidu's published closed form)."""
    return _gcj_to_bd_raw(*_as_float(lon, lat))


def bd09_to_gcj02(
    lon: Any, lat: Any, *, tol_deg: float = 1e-10, max_iter: int = 10
) -> tuple[np.ndarray, np.ndarray]:
    """GCJ-02 lon/lat of BD-09 lon/lat: the usual closed-form inverse, then refined against the
    forward formula (the closed form alone is off by up to a few decimetres)."""
    b_lon, b_lat = _as_float(lon, lat)
    x, y = b_lon - 0.0065, b_lat - 0.006
    z = np.sqrt(x * x + y * y) - 0.00002 * np.sin(y * _BD_XPI)
    theta = np.arctan2(y, x) - 0.000003 * np.cos(x * _BD_XPI)
    g_lon, g_lat = z * np.cos(theta), z * np.sin(theta)
    for _ in range(max_iter):
        f_lon, f_lat = _gcj_to_bd_raw(g_lon, g_lat)
        e_lon, e_lat = f_lon - b_lon, f_lat - b_lat
        g_lon -= e_lon
        g_lat -= e_lat
        if not np.any(np.fmax(np.abs(e_lon), np.abs(e_lat)) > tol_deg):
            break
    return g_lon, g_lat


# ------------------------------------------------------------------ validation


@dataclass(frozen=True)
class CoordinateCheck:
    """Row-by-row verdict on a batch of coordinates.

    Attributes
    ----------
    crs
        Canonical name of the CRS the coordinates were checked as.
    valid
        Boolean array, one entry per row.
    reason
        Object array: ``None`` for a valid row, else why it was refused.
    """

    crs: str
    valid: np.ndarray
    reason: np.ndarray

    @property
    def ok(self) -> bool:
        return bool(self.valid.all())

    @property
    def invalid_rows(self) -> np.ndarray:
        """Positions (0-based) of the refused rows."""
        return np.flatnonzero(~self.valid)

    def counts(self) -> dict[str, int]:
        """How many rows were refused for each reason."""
        bad = self.reason[~self.valid].astype(str)  # boolean indexing flattens any shape
        keys, n = np.unique(bad, return_counts=True)
        return {str(k): int(v) for k, v in zip(keys, n, strict=True)}

    def message(self, x: Any = None, y: Any = None, *, limit: int = 5) -> str:
        """One line naming the first ``limit`` refused rows (with their values if given) and the count."""
        rows = self.invalid_rows
        if rows.size == 0:
            return f"all {self.valid.size} coordinates are usable ({self.crs})"
        shape = self.valid.shape
        xa = None if x is None else np.broadcast_to(np.asarray(x, dtype=np.float64), shape).ravel()
        ya = None if y is None else np.broadcast_to(np.asarray(y, dtype=np.float64), shape).ravel()
        reason = self.reason.ravel()
        parts = []
        for r in rows[:limit].tolist():
            val = f" ({float(xa[r])!r}, {float(ya[r])!r})" if xa is not None and ya is not None else ""
            parts.append(f"row {r}{val}: {reason[r]}")
        more = f"; and {rows.size - limit} more" if rows.size > limit else ""
        return (
            f"{rows.size} of {self.valid.size} coordinates cannot be used as {self.crs}: "
            + "; ".join(parts)
            + more
        )


def _bounds_of(crs: str, bounds_lonlat: tuple[float, float, float, float] | None) -> tuple[float, ...]:
    return tuple(float(v) for v in (bounds_lonlat or CHINA_LONLAT))


def check_coordinates(
    x: Any, y: Any, *, crs: str, bounds_lonlat: tuple[float, float, float, float] | None = None
) -> CoordinateCheck:
    """Check every row of a batch of coordinates; report all problems, guess nothing.

    Parameters
    ----------
    x, y
        Longitude/easting and latitude/northing, array-like of equal length (scalars broadcast).
    crs
        The CRS the coordinates claim to be in (any name :func:`normalize_crs` accepts).
    bounds_lonlat
        ``(lon0, lat0, lon1, lat1)`` of the area the data should fall in, e.g. the district's bounds
        with a margin; defaults to China (lon 73–135, lat 3–54). Rows outside it are refused, and a
        row that fits only with x and y exchanged is reported as probably swapped.

    Returns
    -------
    CoordinateCheck
        ``valid`` mask and a ``reason`` per refused row, one of: "missing (NaN)", "not finite",
        "zero placeholder (0, 0)", "longitude out of range (|lon| > 180)", "latitude out of range
        (|lat| > 90)", "probably swapped lat/lon (fits the expected area when exchanged)", "outside
        China (GCJ-02 undefined)", "outside the expected area", "looks like degrees, not metres",
        "easting carries a zone prefix", "probably swapped easting/northing", "outside the plausible
        range of EPSG:4549".
    """
    name = normalize_crs(crs)
    xa, ya = _as_float(x, y)
    xf, yf = xa.ravel(), ya.ravel()
    n = xf.shape[0]
    reason = np.full(n, None, dtype=object)

    def flag(mask: np.ndarray, why: str) -> None:
        reason[mask & (reason == None)] = why  # noqa: E711 - elementwise test on an object array

    flag(np.isnan(xf) | np.isnan(yf), "missing (NaN)")
    flag(~np.isfinite(xf) | ~np.isfinite(yf), "not finite")
    flag((xf == 0) & (yf == 0), "zero placeholder (0, 0)")
    lon0, lat0, lon1, lat1 = _bounds_of(name, bounds_lonlat)
    with np.errstate(invalid="ignore"):
        if name in GEOGRAPHIC:
            fits = (xf >= lon0) & (xf <= lon1) & (yf >= lat0) & (yf <= lat1)
            fits_swapped = (yf >= lon0) & (yf <= lon1) & (xf >= lat0) & (xf <= lat1)
            flag(~fits & fits_swapped, "probably swapped lat/lon (fits the expected area when exchanged)")
            flag(np.abs(xf) > 180, "longitude out of range (|lon| > 180)")
            flag(np.abs(yf) > 90, "latitude out of range (|lat| > 90)")
            if name in (GCJ02, BD09):
                flag(~_in_china(xf, yf), "outside China (GCJ-02 undefined)")
            flag(~fits, "outside the expected area")
        else:
            # EPSG:4549 has false easting 500 km and no zone prefix; China spans ~330–6000 km north.
            flag((np.abs(xf) <= 180) & (np.abs(yf) <= 90), "looks like degrees, not metres (wrong CRS?)")
            flag((xf >= 1e7) & (xf < 1e8), "easting carries a zone prefix (a zoned CRS such as EPSG:4528?)")
            ex0, ey0, ex1, ey1 = _projected_box(lon0, lat0, lon1, lat1)
            fits = (xf >= ex0) & (xf <= ex1) & (yf >= ey0) & (yf <= ey1)
            fits_swapped = (yf >= ex0) & (yf <= ex1) & (xf >= ey0) & (xf <= ey1)
            flag(~fits & fits_swapped, "probably swapped easting/northing")
            if bounds_lonlat is None:
                flag(~fits, f"outside the plausible range of {WORK_CRS}")
            else:
                flag(~fits, "outside the expected area")
    valid = reason == None  # noqa: E711
    return CoordinateCheck(crs=name, valid=valid.reshape(xa.shape), reason=reason.reshape(xa.shape))


def _projected_box(lon0: float, lat0: float, lon1: float, lat1: float) -> tuple[float, float, float, float]:
    # The lon/lat box's outline sampled densely: Gauss-Kruger bends meridians and parallels.
    t = np.linspace(0.0, 1.0, 64)
    lon = np.concatenate(
        [lon0 + (lon1 - lon0) * t, np.full(64, lon1), lon1 - (lon1 - lon0) * t, np.full(64, lon0)]
    )
    lat = np.concatenate(
        [np.full(64, lat0), lat0 + (lat1 - lat0) * t, np.full(64, lat1), lat1 - (lat1 - lat0) * t]
    )
    ex, ey = transformer(DISPLAY_CRS, WORK_CRS).transform(lon, lat)
    ex, ey = np.asarray(ex), np.asarray(ey)
    ok = np.isfinite(ex) & np.isfinite(ey)
    margin = 1000.0
    return (
        float(ex[ok].min()) - margin,
        float(ey[ok].min()) - margin,
        float(ex[ok].max()) + margin,
        float(ey[ok].max()) + margin,
    )


# ------------------------------------------------------------------ conversion


def _to_wgs84(x: np.ndarray, y: np.ndarray, name: str) -> tuple[np.ndarray, np.ndarray]:
    if name == GCJ02:
        return gcj02_to_wgs84(x, y)
    if name == BD09:
        return gcj02_to_wgs84(*bd09_to_gcj02(x, y))
    if name == "EPSG:4326":
        return x, y
    lon, lat = transformer(name, DISPLAY_CRS).transform(x, y)
    return np.asarray(lon, dtype=np.float64), np.asarray(lat, dtype=np.float64)


def _from_wgs84(lon: np.ndarray, lat: np.ndarray, name: str) -> tuple[np.ndarray, np.ndarray]:
    if name == GCJ02:
        return wgs84_to_gcj02(lon, lat)
    if name == BD09:
        return gcj02_to_bd09(*wgs84_to_gcj02(lon, lat))
    if name == "EPSG:4326":
        return lon, lat
    x, y = transformer(DISPLAY_CRS, name).transform(lon, lat)
    return np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)


def convert(
    x: Any,
    y: Any,
    *,
    src: str,
    dst: str,
    check: bool = True,
    bounds_lonlat: tuple[float, float, float, float] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Convert coordinates between any two accepted CRSs (through WGS84 when a side is GCJ-02/BD-09).

    With ``check`` (the default) the input is validated first and any refused row raises
    :class:`CoordinateError` naming the first rows and the count.
    """
    s, d = normalize_crs(src), normalize_crs(dst)
    xa, ya = _as_float(x, y)
    if check:
        report = check_coordinates(xa, ya, crs=s, bounds_lonlat=bounds_lonlat)
        if not report.ok:
            raise CoordinateError(
                report.message(xa, ya) + ". Fix or drop these rows (check_coordinates lists every one)."
            )
    if s == d:
        return xa, ya
    if s not in (GCJ02, BD09) and d not in (GCJ02, BD09):
        ox, oy = transformer(s, d).transform(xa, ya)
        return np.asarray(ox, dtype=np.float64), np.asarray(oy, dtype=np.float64)
    return _from_wgs84(*_to_wgs84(xa, ya, s), d)


def to_work(
    x: Any, y: Any, *, crs: str, bounds_lonlat: tuple[float, float, float, float] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Project coordinates into the working CRS (EPSG:4549); GCJ-02 and BD-09 are converted first.

    Raises :class:`CoordinateError` if any row fails :func:`check_coordinates`, and
    :class:`CRSError` for an unknown CRS.
    """
    return convert(x, y, src=crs, dst=WORK_CRS, bounds_lonlat=bounds_lonlat)


def to_display(
    x: Any, y: Any, *, crs: str = WORK_CRS, bounds_lonlat: tuple[float, float, float, float] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """WGS84 lon/lat (EPSG:4326) for display and exchange, from any accepted CRS (default: working)."""
    return convert(x, y, src=crs, dst=DISPLAY_CRS, bounds_lonlat=bounds_lonlat)
