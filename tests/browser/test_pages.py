"""Each page draws its map in a real browser with every asset from the app, and filters redraw the heat."""

from __future__ import annotations

import pytest

from bench.appserver import HEAT_COUNT, MAP_FRAME

pytestmark = pytest.mark.browser


def _frame(page):  # type: ignore[no-untyped-def]
    handle = page.wait_for_selector(MAP_FRAME, timeout=30_000)
    frame = handle.content_frame()
    frame.wait_for_selector(".leaflet-overlay-pane canvas", timeout=30_000)
    return frame


@pytest.mark.parametrize("path", ["home", "explorer"])
def test_page_draws_its_map_offline(server: str, page_and_traffic: tuple, path: str) -> None:
    page, traffic = page_and_traffic
    page.goto(f"{server}/{path}?role=analyst")
    frame = _frame(page)
    assert frame.evaluate("() => typeof L !== 'undefined' && !!window.map")
    page.wait_for_timeout(500)
    assert traffic.failed == [], traffic.failed
    assert traffic.outside() == [], traffic.outside()
    assert any("/app/static/vendor/leaflet@1.9.4/dist/leaflet.js" in u for u in traffic.requests)


def test_surveyor_role_sees_the_survey_page(server: str, page_and_traffic: tuple) -> None:
    page, traffic = page_and_traffic
    page.goto(f"{server}/?role=surveyor")
    page.wait_for_selector('[data-testid="stSidebarNav"]', timeout=30_000)
    links = page.locator('[data-testid="stSidebarNav"] a').all_inner_texts()
    assert not any("地图研判" in t for t in links), links
    assert traffic.outside() == []


def test_a_filter_changes_the_heat(server: str, page_and_traffic: tuple) -> None:
    page, traffic = page_and_traffic
    page.goto(f"{server}/explorer?role=analyst")
    frame = _frame(page)
    page.wait_for_function("() => true")
    before = frame.evaluate(HEAT_COUNT)
    assert before > 0
    status = page.locator('[data-testid="stMultiSelect"]').filter(has_text="案件状态")
    status.locator("input").click()
    page.get_by_role("option", name="已结案").click()
    page.keyboard.press("Escape")

    def changed() -> bool:
        try:
            return _frame(page).evaluate(HEAT_COUNT) not in (before, -1)
        except Exception:  # the frame is replaced while the map redraws
            return False

    deadline = page.evaluate("() => Date.now()") + 20_000
    while not changed():
        assert page.evaluate("() => Date.now()") < deadline, "the heat did not change after the filter"
        page.wait_for_timeout(200)
    assert traffic.failed == [] and traffic.outside() == []
