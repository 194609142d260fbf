"""The surveyor moves a component by clicking the map in a real browser; the move reaches the store."""

from __future__ import annotations

import json
import re
import sqlite3
from pathlib import Path

import pytest
from pyproj import Transformer

from tests.maps.tinystore import X0, Y0

pytestmark = pytest.mark.browser

MAP_FRAME = 'iframe[title="streamlit_folium.st_folium"]'


def _component_near_a_grid_centre(store: Path) -> tuple[str, float, float, int]:
    # Near the middle of a 1 km grid, a click ~100 m away stays inside the district.
    cx, cy = X0 + 1500.0, Y0 + 1500.0
    with sqlite3.connect(f"file:{store}?mode=ro", uri=True) as conn:
        row = conn.execute(
            "SELECT code, x, y, version FROM components "
            "ORDER BY (x - ?) * (x - ?) + (y - ?) * (y - ?) LIMIT 1",
            (cx, cx, cy, cy),
        ).fetchone()
    return str(row[0]), float(row[1]), float(row[2]), int(row[3])


def test_a_map_click_move_persists(server: str, browser_store: Path, page_and_traffic: tuple) -> None:
    page, traffic = page_and_traffic
    code, x0, y0, version = _component_near_a_grid_centre(browser_store)

    page.goto(f"{server}/surveyor?role=surveyor")
    box = page.get_by_label("部件编码（或前缀）")
    box.fill(code)
    box.press("Enter")
    handle = page.wait_for_selector(MAP_FRAME, timeout=30_000)
    frame = handle.content_frame()
    frame.wait_for_selector(".leaflet-overlay-pane canvas", timeout=30_000)
    page.wait_for_timeout(500)

    handle.scroll_into_view_if_needed()
    bb = handle.bounding_box()
    assert bb is not None
    page.mouse.click(bb["x"] + bb["width"] / 2 + 60, bb["y"] + bb["height"] / 2 - 30)
    shown = page.get_by_text("地图点击位置")
    shown.wait_for(timeout=30_000)
    lon, lat = (float(v) for v in re.findall(r"[-+]?\d+\.\d+", shown.inner_text())[:2])
    page.get_by_role("button", name="移动到点击位置").click()
    # Beyond the threshold (or into another grid) the page asks first.
    confirm = page.get_by_role("button", name="确认移动", exact=True)
    done = page.get_by_text("已移动")
    done.or_(confirm).first.wait_for(timeout=30_000)
    if confirm.count():
        confirm.click()
    done.wait_for(timeout=30_000)

    with sqlite3.connect(f"file:{browser_store}?mode=ro", uri=True) as conn:
        x, y, v, grid = conn.execute(
            "SELECT x, y, version, grid_code FROM components WHERE code = ?", (code,)
        ).fetchone()
        hist = conn.execute(
            "SELECT action, actor, before, after FROM component_history WHERE component_code = ? ORDER BY id",
            (code,),
        ).fetchall()
    assert v == version + 1
    moved = ((x - x0) ** 2 + (y - y0) ** 2) ** 0.5
    assert 20 < moved < 400, moved
    # Exactly where the surveyor clicked (the page shows the click to 6 decimals, ~0.1 m).
    ex, ey = Transformer.from_crs("EPSG:4326", "EPSG:4549", always_xy=True).transform(lon, lat)
    assert abs(x - ex) < 0.5 and abs(y - ey) < 0.5, (x, y, ex, ey)
    assert hist[-1][0] == "move"
    assert json.loads(hist[-1][2])["x"] == x0
    assert json.loads(hist[-1][3])["grid_code"] == grid
    assert traffic.outside() == [], traffic.outside()
