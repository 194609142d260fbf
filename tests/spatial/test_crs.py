"""CRS handling: aliases, GCJ-02/BD-09 offsets and inverses, projection to the working CRS, checks."""

from __future__ import annotations

import numpy as np
import pytest
from pyproj import Geod

from spatial.crs import (
    ACCEPTED_CRS,
    BD09,
    GCJ02,
    WORK_CRS,
    bd09_to_gcj02,
    check_coordinates,
    convert,
    gcj02_to_bd09,
    gcj02_to_wgs84,
    normalize_crs,
    to_display,
    to_work,
    transformer,
    wgs84_to_gcj02,
)
from spatial.errors import CoordinateError, CRSError, OneGridError

GEOD = Geod(ellps="WGS84")
WUZHONG = (120.2, 30.9, 120.95, 31.45)


def _grid(n: int = 40) -> tuple[np.ndarray, np.ndarray]:
    lon, lat = np.meshgrid(np.linspace(WUZHONG[0], WUZHONG[2], n), np.linspace(WUZHONG[1], WUZHONG[3], n))
    return lon.ravel(), lat.ravel()


def _metres(lon1, lat1, lon2, lat2) -> np.ndarray:
    return np.asarray(GEOD.inv(lon1, lat1, lon2, lat2)[2])


@pytest.mark.parametrize(
    ("name", "canonical"),
    [
        ("wgs84", "EPSG:4326"),
        ("EPSG:4326", "EPSG:4326"),
        ("epsg:4490", "EPSG:4490"),
        ("CGCS2000", "EPSG:4490"),
        ("4549", "EPSG:4549"),
        ("gcj-02", GCJ02),
        ("GCJ02", GCJ02),
        ("gcj_02", GCJ02),
        ("BD-09", BD09),
        ("bd09ll", BD09),
        ("urn:ogc:def:crs:EPSG::4326", "EPSG:4326"),
    ],
)
def test_aliases(name, canonical):
    assert normalize_crs(name) == canonical


def test_unknown_crs_lists_the_accepted_ones():
    with pytest.raises(
        CRSError, match=r"unknown CRS 'EPSG:3857'; accepted: EPSG:4326, EPSG:4490, EPSG:4549, GCJ02, BD09"
    ):
        to_work([1.0], [2.0], crs="EPSG:3857")
    with pytest.raises(CRSError, match=r"must be named by a string"):
        normalize_crs(4326)  # type: ignore[arg-type]
    assert issubclass(CRSError, OneGridError)


def test_transformers_are_built_once():
    assert transformer("EPSG:4326", WORK_CRS) is transformer("EPSG:4326", WORK_CRS)


# Reference pairs published with the eviltransform implementations of the GCJ-02 formula.
GCJ_CASES = [
    (121.5272106, 31.1774276, 121.531541859215, 31.17530398364597),  # Shanghai
    (113.912316, 22.543847, 113.9171764808363, 22.540796131694766),  # Shenzhen
    (116.377817, 39.911954, 116.38404722455657, 39.91334545536069),  # Beijing
]


@pytest.mark.parametrize(("lon", "lat", "glon", "glat"), GCJ_CASES)
def test_gcj02_known_values(lon, lat, glon, glat):
    gx, gy = wgs84_to_gcj02(lon, lat)
    assert gx == pytest.approx(glon, abs=1e-9) and gy == pytest.approx(glat, abs=1e-9)
    wx, wy = gcj02_to_wgs84(glon, glat)
    assert _metres(wx, wy, lon, lat) < 1e-3


def test_gcj02_offset_in_suzhou_is_hundreds_of_metres_east_and_south():
    lon, lat = 120.6, 31.3
    glon, glat = wgs84_to_gcj02(lon, lat)
    east = _metres(lon, lat, glon, lat)
    south = _metres(lon, lat, lon, glat)
    assert glon > lon and glat < lat
    assert 300 < east < 550 and 150 < south < 350
    # The same shift seen in the working CRS: a GCJ-02 point taken as WGS84 lands ~0.5 km off.
    x1, y1 = to_work(lon, lat, crs="wgs84")
    x2, y2 = to_work(glon, glat, crs="gcj02")
    assert float(np.hypot(x1 - x2, y1 - y2)) < 0.01
    x3, y3 = to_work(glon, glat, crs="wgs84")
    assert 400 < float(np.hypot(x3 - x1, y3 - y1)) < 600


def test_gcj02_round_trip_over_wuzhong_under_half_a_metre():
    lon, lat = _grid()
    back = gcj02_to_wgs84(*wgs84_to_gcj02(lon, lat))
    assert _metres(lon, lat, *back).max() < 0.5
    # In fact to well under a millimetre.
    assert _metres(lon, lat, *back).max() < 1e-3
    fwd = wgs84_to_gcj02(*gcj02_to_wgs84(lon, lat))
    assert _metres(lon, lat, *fwd).max() < 1e-3


def test_bd09_known_value_and_round_trip():
    bx, by = gcj02_to_bd09(116.404, 39.915)
    assert bx == pytest.approx(116.41036949371029, abs=1e-9)
    assert by == pytest.approx(39.92133699351022, abs=1e-9)
    lon, lat = _grid()
    back = bd09_to_gcj02(*gcj02_to_bd09(lon, lat))
    assert _metres(lon, lat, *back).max() < 1e-3
    wx, wy = convert(*convert(lon, lat, src="wgs84", dst="bd09"), src="bd09", dst="wgs84")
    assert _metres(lon, lat, wx, wy).max() < 1e-3


def test_outside_china_gcj02_is_the_identity():
    gx, gy = wgs84_to_gcj02(2.35, 48.85)
    assert (float(gx), float(gy)) == (2.35, 48.85)


def test_epsg4549_known_point_and_round_trip():
    # On the central meridian 120°E the easting is the false easting, 500 km exactly.
    x, y = to_work(120.0, 31.0, crs="EPSG:4326")
    assert float(x) == pytest.approx(500_000.0, abs=1e-6)
    # ... and the northing the meridian arc to 31°N on the CGCS2000 (GRS80) ellipsoid, scale 1.
    a, f = 6378137.0, 1 / 298.257222101
    e2 = f * (2 - f)
    phi = np.linspace(0.0, np.radians(31.0), 200_001)
    dm = a * (1 - e2) / (1 - e2 * np.sin(phi) ** 2) ** 1.5
    arc = float(np.sum((dm[1:] + dm[:-1]) / 2 * np.diff(phi)))
    assert float(y) == pytest.approx(arc, abs=0.01)
    lon, lat = _grid()
    x, y = to_work(lon, lat, crs="wgs84")
    assert (x > 400_000).all() and (x < 600_000).all()
    lon2, lat2 = to_display(x, y, crs="EPSG:4549")
    assert np.abs(lon2 - lon).max() < 1e-9 and np.abs(lat2 - lat).max() < 1e-9


def test_4490_and_4326_agree_to_well_under_a_metre_here():
    lon, lat = _grid(10)
    a = to_work(lon, lat, crs="EPSG:4326")
    b = to_work(lon, lat, crs="EPSG:4490")
    assert np.hypot(a[0] - b[0], a[1] - b[1]).max() < 1.0


@pytest.mark.parametrize("src", ACCEPTED_CRS)
def test_every_accepted_crs_round_trips_through_work(src):
    lon, lat = _grid(8)
    x0, y0 = convert(lon, lat, src="wgs84", dst=src)
    wx, wy = to_work(x0, y0, crs=src)
    x1, y1 = convert(wx, wy, src=WORK_CRS, dst=src)
    scale = 1.0 if src == WORK_CRS else 1e-8  # metres or degrees
    assert np.abs(x1 - x0).max() < scale and np.abs(y1 - y0).max() < scale


def test_check_names_each_problem():
    x = [120.6, 31.3, np.nan, np.inf, 0.0, 200.0, 120.6, 2.35]
    y = [31.3, 120.6, 31.3, 31.3, 0.0, 31.3, 95.0, 48.85]
    rep = check_coordinates(x, y, crs="EPSG:4326")
    assert rep.valid.tolist() == [True] + [False] * 7
    assert rep.reason.tolist() == [
        None,
        "probably swapped lat/lon (fits the expected area when exchanged)",
        "missing (NaN)",
        "not finite",
        "zero placeholder (0, 0)",
        "longitude out of range (|lon| > 180)",
        "latitude out of range (|lat| > 90)",
        "outside the expected area",
    ]
    assert rep.invalid_rows.tolist() == [1, 2, 3, 4, 5, 6, 7]
    assert rep.counts()["missing (NaN)"] == 1
    assert not rep.ok


def test_check_gcj02_outside_china_and_district_bounds():
    rep = check_coordinates([2.35, 120.6, 121.6], [48.85, 31.3, 31.3], crs="gcj-02")
    assert rep.reason[0] == "outside China (GCJ-02 undefined)"
    rep = check_coordinates([120.6, 121.6, 31.3], [31.3, 31.3, 120.6], crs="wgs84", bounds_lonlat=WUZHONG)
    assert rep.reason.tolist() == [
        None,
        "outside the expected area",
        "probably swapped lat/lon (fits the expected area when exchanged)",
    ]


def test_check_projected():
    x = [556_000.0, 3_464_000.0, 120.6, 40_556_000.0, 556_000.0, 9e6]
    y = [3_464_000.0, 556_000.0, 31.3, 3_464_000.0, np.nan, 3_464_000.0]
    rep = check_coordinates(x, y, crs="EPSG:4549")
    assert rep.reason.tolist() == [
        None,
        "probably swapped easting/northing",
        "looks like degrees, not metres (wrong CRS?)",
        "easting carries a zone prefix (a zoned CRS such as EPSG:4528?)",
        "missing (NaN)",
        "outside the plausible range of EPSG:4549",
    ]
    rep = check_coordinates(
        [556_000.0, 700_000.0], [3_464_000.0, 3_464_000.0], crs="EPSG:4549", bounds_lonlat=WUZHONG
    )
    assert rep.reason.tolist() == [None, "outside the expected area"]


def test_to_work_refuses_bad_rows_naming_the_first_and_the_count():
    lon = np.full(100, 120.6)
    lat = np.full(100, 31.3)
    lon[[3, 50]] = np.nan
    lon[7], lat[7] = 31.3, 120.6
    with pytest.raises(
        CoordinateError,
        match=r"^3 of 100 coordinates cannot be used as EPSG:4326: row 3 \(nan, 31.3\): "
        r"missing \(NaN\); row 7 \(31.3, 120.6\): probably swapped lat/lon",
    ):
        to_work(lon, lat, crs="EPSG:4326")
    with pytest.raises(CoordinateError, match=r"and 2 more"):
        to_work(np.full(7, np.nan), np.full(7, 31.3), crs="wgs84")
    with pytest.raises(CoordinateError, match=r"outside China \(GCJ-02 undefined\)"):
        to_display([2.35], [48.85], crs="gcj02")


def test_shapes_and_scalars():
    x, y = to_work(120.6, 31.3, crs="wgs84")
    assert np.ndim(x) == 0
    x, y = to_work(np.full((2, 3), 120.6), 31.3, crs="wgs84")
    assert x.shape == (2, 3) and y.shape == (2, 3)
    rep = check_coordinates(np.full((2, 2), 120.6), 31.3, crs="wgs84")
    assert rep.valid.shape == (2, 2) and rep.ok
    assert "all 4 coordinates are usable" in rep.message()
