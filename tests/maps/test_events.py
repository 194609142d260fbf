from __future__ import annotations

import pytest

from maps import events


def _bounds(w: float, s: float, e: float, n: float) -> dict:
    return {"_southWest": {"lat": s, "lng": w}, "_northEast": {"lat": n, "lng": e}}


def test_click_of() -> None:
    assert events.click_of({"last_object_clicked": {"lat": 31.2, "lng": 120.6}}) == (31.2, 120.6)
    assert events.click_of(None) is None
    assert events.click_of({"last_object_clicked": None}) is None
    assert events.click_of({"last_object_clicked": {"lat": "x", "lng": 1}}) is None
    assert events.click_of({"last_object_clicked": {"lat": 95, "lng": 1}}) is None
    assert events.click_of({"last_object_clicked": {"lat": float("nan"), "lng": 1}}) is None


def test_new_click_only_once() -> None:
    r = {"last_object_clicked": {"lat": 31.2, "lng": 120.6}}
    assert events.new_click(r, last=None) == (31.2, 120.6)
    assert events.new_click(r, last=(31.2, 120.6)) is None


def test_view_of() -> None:
    v = events.view_of({"bounds": _bounds(120.5, 31.1, 120.7, 31.3), "zoom": 15})
    assert v == events.View(west=120.5, south=31.1, east=120.7, north=31.3, zoom=15)
    assert v.center == pytest.approx((31.2, 120.6))
    assert events.wants_points(v) and not events.wants_points(None)
    assert not events.wants_points(events.View(0, 0, 1, 1, zoom=events.POINTS_ZOOM - 1))


@pytest.mark.parametrize(
    "result",
    [
        None,
        {},
        {"bounds": None, "zoom": 3},
        {"bounds": _bounds(1, 2, 3, 4)},
        {"bounds": _bounds(3, 2, 1, 4), "zoom": 5},  # west east of east
        {
            "bounds": {"_southWest": {"lat": None, "lng": None}, "_northEast": {"lat": None, "lng": None}},
            "zoom": 5,
        },
    ],
)
def test_view_of_rejects_incomplete(result: dict | None) -> None:
    assert events.view_of(result) is None


def test_clicks_and_views_on_gcj02_tiles_come_back_in_wgs84() -> None:
    from maps.base import basemap_from_setting

    b = basemap_from_setting("http://10.1.2.3/{z}/{x}/{y}.png", datum="gcj02")
    lon, lat = b.to_map([120.6], [31.25])
    assert events.click_in_wgs84((float(lat[0]), float(lon[0])), b) == pytest.approx((31.25, 120.6), abs=1e-8)
    view = events.View(west=120.5, south=31.1, east=120.7, north=31.3, zoom=16)
    back = events.view_in_wgs84(view, b)
    # Around Suzhou GCJ-02 lies ~430 m east and ~220 m south of WGS84: the WGS84 box is west and north.
    assert back.zoom == 16 and back.west < view.west and back.south > view.south
    assert 0.003 < view.west - back.west < 0.006 and 0.001 < back.north - view.north < 0.003
    plain = basemap_from_setting("none")
    assert events.view_in_wgs84(view, plain) == view
