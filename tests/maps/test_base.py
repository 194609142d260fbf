from __future__ import annotations

import pytest

from maps.base import (
    NO_BASEMAP,
    OSM,
    TilesError,
    base_map,
    basemap_choices,
    basemap_from_setting,
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
