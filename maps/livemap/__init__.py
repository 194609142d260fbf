"""A Leaflet map that stays in the browser while the page reruns: data in, clicks and view out.

``st_folium`` sends a whole new folium document on every rerun and the browser rebuilds every layer
from it; for the explorer's 887 grids that is most of a filter change. This Streamlit component
loads Leaflet once (from the app's own ``static/vendor``) and builds the grid layer once per
geometry id; on each rerun it only restyles the grids and swaps the heat, legend and component
layers (the data built by :mod:`maps.views`). The geometry text still travels with every rerun
(~150 KB at level 3, a few ms here); the browser just does not parse or draw it again.

What it sends back has the shape ``st_folium`` returns, so :mod:`maps.events` reads both:
``{"last_object_clicked": {"lat", "lng"}, "bounds": {"_southWest", "_northEast"}, "zoom"}``, the
view only when the page asks for it (each value sent reruns the page).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import streamlit.components.v1 as components
from folium import Map
from folium.plugins import HeatMap

from maps.offline import DEFAULT_BASE, local_url

FRONTEND = Path(__file__).resolve().with_name("frontend")
#: How Streamlit names the component (its module and name): the title of the map's frame.
COMPONENT_NAME = "maps.livemap.live_map"


def assets(*, base: str = DEFAULT_BASE) -> dict[str, list[str]]:
    """Local addresses of Leaflet and leaflet.heat, the same files the folium maps use."""
    js = [url for name, url in Map.default_js if name == "leaflet"] + [url for _, url in HeatMap.default_js]
    css = [url for name, url in Map.default_css if name == "leaflet_css"]
    local_js = [u for u in (local_url(url, base=base) for url in js) if u]
    local_css = [u for u in (local_url(url, base=base) for url in css) if u]
    return {"js": local_js, "css": local_css}


def live_map(
    spec: dict[str, Any], *, key: str, on_change: Callable[[], None] | None = None
) -> dict[str, Any]:
    """Draw ``spec`` (from :func:`maps.views.coverage_spec`); return what the browser sent back."""
    # Declared on each call: Streamlit registers a component (so its server serves the frame)
    # only when declared inside a session's run, and a new server has a new registry.
    component = components.declare_component("live_map", path=str(FRONTEND))
    value = component(spec=spec, key=key, default=None, on_change=on_change)
    return value if isinstance(value, dict) else {}
