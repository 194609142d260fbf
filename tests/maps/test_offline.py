"""Maps refer to no remote script or style: folium's CDN links are rewritten to local copies."""

from __future__ import annotations

import folium
import pytest
from folium import plugins

from maps.base import render_html
from maps.offline import OfflineAssetError, local_url, localize, remote_urls


def test_default_map_and_plugins_load_only_local_assets() -> None:
    m = folium.Map(tiles=None)
    plugins.HeatMap([[31.2, 120.6, 1.0]]).add_to(m)
    plugins.MarkerCluster().add_to(m)
    plugins.Draw().add_to(m)
    plugins.Fullscreen().add_to(m)
    folium.Marker([31.2, 120.6], icon=folium.Icon(icon="info-sign")).add_to(m)
    html = render_html(localize(m))
    assert remote_urls(html) == []
    assert "/app/static/vendor/leaflet@1.9.4/dist/leaflet.js" in html
    assert "/app/static/vendor/folium@0.20.0/templates/leaflet_heat.min.js" in html


def test_localize_leaves_folium_classes_untouched() -> None:
    before = list(folium.Map.default_js)
    localize(folium.Map(tiles=None), base="/x/app/static/vendor")
    assert folium.Map.default_js == before
    assert folium.Map().default_js[0][1].startswith("https://")


def test_base_url_prefix_is_honoured() -> None:
    m = localize(folium.Map(tiles=None), base="/onegrid/app/static/vendor")
    assert all(url.startswith("/onegrid/app/static/vendor/") for _, url in m.default_js)


def test_unknown_remote_asset_fails_loudly() -> None:
    with pytest.raises(OfflineAssetError, match="no local copy"):
        local_url("https://cdn.example.org/some-plugin.js")
    m = folium.Map(tiles=None)
    m.default_js = [*m.default_js, ("mystery", "https://cdn.example.org/mystery.js")]  # not the class list
    with pytest.raises(OfflineAssetError, match=r"mystery\.js"):
        localize(m)


def test_dropped_assets_disappear() -> None:
    m = localize(folium.Map(tiles=None))
    assert not any("glyphicons" in url for _, url in m.default_css)
    assert local_url("/app/static/vendor/x.js") == "/app/static/vendor/x.js"


def test_remote_urls_allows_only_the_tile_template() -> None:
    html = (
        'L.tileLayer("https:\\/\\/tiles.example.cn\\/{z}\\/{x}\\/{y}.png"); <script src="https://cdn.x/y.js">'
    )
    assert remote_urls(html, allowed=("https://tiles.example.cn/{z}/{x}/{y}.png",)) == ["https://cdn.x/y.js"]
