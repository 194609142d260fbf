"""The app served from the server store (PostgreSQL/PostGIS) in a real browser: the pages read it
through the same layers as a file, and draw the same district."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.appserver import MAP_FRAME, start_server, stop_server
from layers.migrate import migrate

pytestmark = pytest.mark.browser

GRID_COUNT = """() => {
    let n = 0;
    window.map.eachLayer(l => { if (l.feature) n++; });
    return n;
}"""


@pytest.fixture(scope="module")
def pg_server(browser_store: Path, pg_cluster: object, chromium_path: str) -> Iterator[str]:
    url = pg_cluster.create_db("browser_tiny")  # type: ignore[attr-defined]
    migrate(browser_store, url)
    proc, base = start_server(url, stderr=subprocess.PIPE)  # type: ignore[arg-type]
    try:
        yield base
    finally:
        stop_server(proc)


@pytest.mark.parametrize("path", ["home", "explorer"])
def test_the_map_pages_draw_the_district_from_the_server_store(
    pg_server: str, server: str, page_and_traffic: tuple, path: str
) -> None:
    page, traffic = page_and_traffic
    counts = []
    for base in (server, pg_server):  # the file's app and the server store's: the same grids drawn
        page.goto(f"{base}/{path}?role=analyst")
        frame = page.wait_for_selector(MAP_FRAME, timeout=30_000).content_frame()
        frame.wait_for_selector(".leaflet-overlay-pane canvas", timeout=30_000)
        page.wait_for_timeout(500)
        counts.append(frame.evaluate(GRID_COUNT))
        assert page.locator('[data-testid="stException"]').count() == 0
    assert counts[0] == counts[1] > 0
    assert traffic.failed == [], traffic.failed


def test_the_dispatchers_queue_opens_on_the_server_store(pg_server: str, page_and_traffic: tuple) -> None:
    page, traffic = page_and_traffic
    page.goto(f"{pg_server}/dispatcher?role=dispatcher")
    page.wait_for_selector('[data-testid="stDataFrame"], [data-testid="stTable"]', timeout=60_000)
    assert page.locator('[data-testid="stException"]').count() == 0
    assert traffic.outside() == []
