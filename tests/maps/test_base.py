from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import shapely
import shapely.geometry

from maps.base import (
    NO_BASEMAP,
    OSM,
    TilesError,
    base_map,
    basemap_choices,
    basemap_from_setting,
    frame_to_datum,
    geojson_to_datum,
    geometries_to_datum,
    render_html,
)
from maps.offline import remote_urls


@pytest.mark.parametrize("value", ["", "none", "NONE", "off"])
def test_no_basemap(value: str) -> None:
    assert basemap_from_setting(value) == NO_BASEMAP


def test_osm_and_custom() -> None:
    assert basemap_from_setting("osm") == OSM
    b = basemap_from_setting("http://10.1.2.3/tiles/{z}/{x}/{y}.png")
    assert b.kind == "custom" and b.allowed_urls == ("http://10.1.2.3/tiles/{z}/{x}/{y}.png",)
    assert [c.kind for c in basemap_choices("http://10.1.2.3/{z}/{x}/{y}")] == ["custom", "osm", "none"]
    assert [c.kind for c in basemap_choices("none")] == ["none", "osm"]


@pytest.mark.parametrize(
    "value", ["ftp://x/{z}/{x}/{y}", "https://tiles/{z}/{x}.png", "javascript:alert(1)//{z}{x}{y}"]
)
def test_bad_tiles_are_refused(value: str) -> None:
    with pytest.raises(TilesError, match="tile template"):
        basemap_from_setting(value)


@pytest.mark.parametrize("setting", ["osm", "none", "https://tiles.example.cn/{z}/{x}/{y}.png"])
def test_only_the_tile_template_is_remote(setting: str) -> None:
    b = basemap_from_setting(setting)
    from maps.base import finish

    html = render_html(finish(base_map(bounds=(120.4, 31.0, 120.9, 31.4), basemap=b)))
    assert remote_urls(html, allowed=b.allowed_urls) == []
    if b.url:
        assert b.url.split("{")[0].replace("/", "\\/") in html or b.url.split("{")[0] in html


GCJ_TILES = "http://10.1.2.3/amap/{z}/{x}/{y}.png"


@pytest.mark.parametrize(("value", "datum"), [("wgs84", "wgs84"), ("CGCS2000", "wgs84"), ("gcj-02", "gcj02")])
def test_tile_datum_setting(value: str, datum: str) -> None:
    assert basemap_from_setting(GCJ_TILES, datum=value).datum == datum
    # OpenStreetMap is WGS84 whatever the intranet service is; no basemap draws data where it is.
    assert basemap_from_setting("osm", datum=value).datum == "wgs84"
    assert [b.datum for b in basemap_choices(GCJ_TILES, datum=value)] == [datum, "wgs84", "wgs84"]


def test_unknown_tile_datum_is_refused() -> None:
    with pytest.raises(TilesError, match="ONEGRID_TILES_DATUM='bd09'"):
        basemap_from_setting(GCJ_TILES, datum="bd09")


def test_gcj02_tiles_shift_what_is_drawn_and_what_is_clicked() -> None:
    """In Suzhou GCJ-02 is a few hundred metres off WGS84; a click comes back to the same spot."""
    from pyproj import Geod

    b = basemap_from_setting(GCJ_TILES, datum="gcj02")
    lon, lat = np.array([120.6, 120.45]), np.array([31.25, 31.1])
    m_lon, m_lat = b.to_map(lon, lat)
    _, _, dist = Geod(ellps="WGS84").inv(lon, lat, m_lon, m_lat)
    assert ((dist > 300) & (dist < 700)).all(), dist
    back_lon, back_lat = b.from_map(m_lon, m_lat)
    np.testing.assert_allclose(back_lon, lon, atol=1e-8)
    np.testing.assert_allclose(back_lat, lat, atol=1e-8)
    plain = basemap_from_setting(GCJ_TILES)
    np.testing.assert_array_equal(plain.to_map(lon, lat)[0], lon)


def test_shared_vertices_stay_shared_after_the_shift() -> None:
    a = shapely.Polygon([(120.5, 31.2), (120.6, 31.2), (120.6, 31.3), (120.5, 31.3)])
    b = shapely.Polygon([(120.6, 31.2), (120.7, 31.2), (120.7, 31.3), (120.6, 31.3)])
    moved = geometries_to_datum(np.array([a, b]), datum="gcj02", decimals=5)
    assert shapely.area(shapely.intersection(moved[0], moved[1])) == 0
    assert shapely.touches(moved[0], moved[1])
    frame = gpd.GeoDataFrame({"code": ["a", "b"]}, geometry=[a, b], crs="EPSG:4326")
    assert frame_to_datum(frame, datum="wgs84") is frame
    assert not frame_to_datum(frame, datum="gcj02").geometry.geom_equals(frame.geometry).any()
    fc = {
        "type": "FeatureCollection",
        "features": [{"type": "Feature", "properties": {}, "geometry": a.__geo_interface__}],
    }
    moved_fc = geojson_to_datum(fc, datum="gcj02")
    assert shapely.geometry.shape(moved_fc["features"][0]["geometry"]).equals_exact(
        geometries_to_datum(np.array([a]), datum="gcj02")[0], 1e-12
    )


def test_the_map_is_fitted_where_the_tiles_show_the_district() -> None:
    bounds = (120.4, 31.0, 120.9, 31.4)
    plain = render_html(base_map(bounds=bounds, basemap=basemap_from_setting(GCJ_TILES)))
    shifted = render_html(base_map(bounds=bounds, basemap=basemap_from_setting(GCJ_TILES, datum="gcj02")))
    assert "[31.0, 120.4]" in plain and "[31.0, 120.4]" not in shifted


def test_a_basemap_that_cannot_load_says_so_once() -> None:
    from maps.base import NO_BASEMAP, OSM, add_tile_notice, base_map, finish, render_html

    m = base_map(bounds=(120.4, 31.0, 120.7, 31.3), basemap=OSM)
    add_tile_notice(m, 'Basemap </script><b>"down"</b>')
    add_tile_notice(m, "drawn again")
    html = render_html(finish(m))
    assert html.count('.on("tileerror"') == 1
    assert (
        '"Basemap \\u003c/script\\u003e\\u003cb\\u003e\\"down\\"\\u003c/b\\u003e"' in html
    )  # text, not HTML
    assert "drawn again" not in html
    bare = render_html(
        finish(add_tile_notice(base_map(bounds=(120.4, 31.0, 120.7, 31.3), basemap=NO_BASEMAP), "x"))
    )
    assert "tileerror" not in bare  # no tiles, nothing to fail


def test_the_live_map_carries_the_notice_text() -> None:
    from pathlib import Path

    from maps.base import OSM

    front = Path(__file__).resolve().parents[2] / "maps" / "livemap" / "frontend"
    assert 'id="map-notice"' in (front / "index.html").read_text(encoding="utf-8")
    js = (front / "livemap.js").read_text(encoding="utf-8")
    assert 'on("tileerror"' in js and "box.textContent = basemap.failed" in js
    assert OSM.url  # the switch's OSM entry has tiles that can fail
