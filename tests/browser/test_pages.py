"""Each page draws its map in a real browser with every asset from the app, and filters redraw the heat."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.appserver import HEAT_COUNT, MAP_FRAME, start_server, stop_server
from tests.maps.tinystore import EVIL_NAME

pytestmark = pytest.mark.browser

#: Circle markers on the map: component count circles and component points.
POINT_COUNT = """() => {
    let n = 0;
    window.map.eachLayer(l => { if (l instanceof L.CircleMarker) n++; });
    return n;
}"""


GRID_COUNT = """() => {
    let n = 0;
    window.map.eachLayer(l => { if (l.feature) n++; });
    return n;
}"""


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
    assert frame.evaluate(HEAT_COUNT) == -1  # off at first: the coverage colours show
    page.locator('[data-testid="stCheckbox"]').filter(has_text="显示热力").locator("label").click()
    before = -1
    deadline = page.evaluate("() => Date.now()") + 20_000
    while before <= 0:
        assert page.evaluate("() => Date.now()") < deadline, "the heat was not drawn when switched on"
        page.wait_for_timeout(200)
        try:
            before = _frame(page).evaluate(HEAT_COUNT)
        except Exception:  # the frame is being replaced
            before = -1
    frame = _frame(page)
    frame.evaluate("() => { window.__sameMap = true; }")
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
    # The map was restyled in place, not reloaded: its frame still holds what was set on it.
    assert _frame(page).evaluate("() => window.__sameMap === true")


def test_grid_tooltips_are_text_not_html(server: str, page_and_traffic: tuple) -> None:
    """A grid named ``<b>横泾</b><script>…`` shows those characters; nothing of it is markup."""
    page, _ = page_and_traffic
    page.goto(f"{server}/?role=analyst")
    frame = _frame(page)
    # The overview draws the sidebar's level: the towns, whose names carry the markup, are level 1.
    page.locator('[data-testid="stSidebar"]').get_by_text("一级 镇/街道", exact=True).click()
    deadline = page.evaluate("() => Date.now()") + 20_000
    while True:
        try:
            if _frame(page).evaluate(GRID_COUNT) == 2:
                break
        except Exception:  # the frame is being replaced
            pass
        assert page.evaluate("() => Date.now()") < deadline, "the towns were not drawn"
        page.wait_for_timeout(200)
    frame = _frame(page)
    shown = frame.evaluate(
        """() => {
            const out = [];
            window.map.eachLayer(l => {
                if (l.feature && l.getTooltip()) {
                    l.openTooltip(l.getBounds().getCenter());
                    const el = l.getTooltip().getElement();
                    out.push({text: el.textContent, tags: el.querySelectorAll("script, b").length});
                    l.closeTooltip();
                }
            });
            return out;
        }"""
    )
    assert len(shown) == 2, shown  # the tiny district's two towns
    evil = [s for s in shown if EVIL_NAME in s["text"]]
    assert evil and all(s["tags"] == 0 for s in shown), shown


def test_a_click_on_the_map_opens_the_grid_panel(server: str, page_and_traffic: tuple) -> None:
    page, traffic = page_and_traffic
    page.goto(f"{server}/explorer?role=analyst")
    frame = _frame(page)
    # The centre of the fitted map: inside one of the tiny district's grids.
    lat, lng = frame.evaluate("() => { const c = window.map.getCenter(); return [c.lat, c.lng]; }")
    point = frame.evaluate(
        "([lat, lng]) => { const p = window.map.latLngToContainerPoint([lat, lng]); return [p.x, p.y]; }",
        [lat, lng],
    )
    page.locator(MAP_FRAME).click(position={"x": point[0], "y": point[1]})
    page.get_by_text("320506", exact=False).first.wait_for(timeout=20_000)
    panel = page.locator('[data-testid="stText"]').all_inner_texts()
    assert any("320506" in t for t in panel), panel
    assert traffic.failed == [] and traffic.outside() == []


def test_a_deep_link_as_the_servers_first_session_gets_the_app_frame(
    browser_store: Path, page_and_traffic: tuple
) -> None:
    """/explorer opened first on a fresh server runs through app.py: role, language and filters."""
    proc, url = start_server(browser_store)
    try:
        page, _ = page_and_traffic
        page.goto(f"{url}/explorer?role=analyst")
        _frame(page)
        sidebar = page.locator('[data-testid="stSidebar"]')
        sidebar.get_by_text("语言 / Language").wait_for(timeout=20_000)
        text = sidebar.inner_text()
        assert "网格层级" in text and "地图研判" in text
        assert "i18n" not in text and "common" not in text  # helper modules are not pages
    finally:
        stop_server(proc)


@pytest.mark.parametrize(
    ("role", "path", "heading"), [("dispatcher", "dispatcher", "指挥调度"), ("operator", "", "受理")]
)
def test_a_roles_own_page_opens_by_its_address_and_the_root_lands_on_it(
    server: str, page_and_traffic: tuple, role: str, path: str, heading: str
) -> None:
    """A bookmarked /dispatcher is the dispatch desk, not "page not found"; / lands on the role's desk."""
    page, _ = page_and_traffic
    page.goto(f"{server}/{path}?role={role}")
    page.get_by_role("heading", name=heading).first.wait_for(timeout=60_000)
    page.wait_for_timeout(1000)
    assert page.get_by_text("Page not found").count() == 0
    assert page.get_by_text("找不到页面").count() == 0


def test_components_become_points_of_the_view_when_zoomed_in(server: str, page_and_traffic: tuple) -> None:
    """Components on, then the map zoomed to street level: the view goes back, its points come in."""
    page, traffic = page_and_traffic
    page.goto(f"{server}/explorer?role=analyst")
    frame = _frame(page)
    page.locator('[data-testid="stCheckbox"]').filter(has_text="显示部件").locator("label").click()
    page.get_by_text("放大到", exact=False).first.wait_for(timeout=20_000)  # "zoom in to see points"
    frame = _frame(page)
    circles = frame.evaluate(POINT_COUNT)
    assert circles > 0  # one count circle per grid
    frame.evaluate("() => window.map.setView(window.map.getCenter(), 16, {animate: false})")
    page.get_by_text("视野内部件", exact=False).first.wait_for(timeout=20_000)  # "n in view, m shown"

    def points() -> int:
        try:
            return int(_frame(page).evaluate(POINT_COUNT))
        except Exception:
            return -1

    deadline = page.evaluate("() => Date.now()") + 20_000
    while points() <= circles:
        assert page.evaluate("() => Date.now()") < deadline, "no component points after zooming in"
        page.wait_for_timeout(200)
    # The dots' colours are explained: a legend of the component states beside the grids' one.
    legends = _frame(page).locator(".og-legend").all_inner_texts()
    assert any("部件状态" in text and "破损" in text for text in legends), legends
    assert traffic.failed == [] and traffic.outside() == []


def test_layers_the_page_replaces_stay_visible(server: str, page_and_traffic: tuple) -> None:
    """A new grid level and the heat switched off and on again: both are drawn (a layer the page
    removes is not mistaken for one the user unticked in the layer control)."""
    page, traffic = page_and_traffic
    page.goto(f"{server}/explorer?role=analyst")
    frame = _frame(page)
    level2 = frame.evaluate(GRID_COUNT)
    assert level2 > 0

    def wait_for(js: str, ok, what: str) -> None:  # type: ignore[no-untyped-def]
        deadline = page.evaluate("() => Date.now()") + 20_000
        while True:
            try:
                if ok(_frame(page).evaluate(js)):
                    return
            except Exception:  # the frame is being replaced
                pass
            assert page.evaluate("() => Date.now()") < deadline, what
            page.wait_for_timeout(200)

    page.get_by_text("三级 管理片区", exact=True).click()
    wait_for(GRID_COUNT, lambda n: n > level2, "the level-3 grids were not drawn")
    heat = page.locator('[data-testid="stCheckbox"]').filter(has_text="显示热力").locator("label")
    heat.click()  # the explorer opens without heat
    wait_for(HEAT_COUNT, lambda n: n > 0, "the heat was not drawn")
    heat.click()
    wait_for(HEAT_COUNT, lambda n: n == -1, "the heat was not removed")
    heat.click()
    wait_for(HEAT_COUNT, lambda n: n > 0, "the heat did not come back")
    assert _frame(page).evaluate(GRID_COUNT) > level2
    assert traffic.failed == [] and traffic.outside() == []


def test_the_survey_page_shows_no_filters_it_does_not_read(server: str, page_and_traffic: tuple) -> None:
    """Dates, grid level and town do nothing on the survey page: the sidebar does not offer them
    there, and the overview still has them (with the level chosen before) when the user returns."""
    page, _ = page_and_traffic
    page.goto(f"{server}/?role=surveyor")
    sidebar = page.locator('[data-testid="stSidebar"]')
    sidebar.get_by_text("网格层级").wait_for(timeout=30_000)
    level3 = sidebar.locator('[data-testid="stRadio"]').filter(has_text="网格层级").locator("input").nth(2)
    sidebar.get_by_text("三级 管理片区", exact=True).click()
    page.wait_for_function("() => !document.querySelector('[data-testid=\"stStatusWidget\"]')")
    assert level3.is_checked()
    page.wait_for_timeout(1000)  # the rerun that takes the new level in
    page.locator('[data-testid="stSidebarNav"] a').filter(has_text="部件普查").click()
    page.wait_for_url("**/surveyor**")
    page.get_by_role("heading", name="部件普查").first.wait_for(timeout=30_000)
    # Streamlit leaves the last page's elements up until the new page's run has drawn over them.
    sidebar.get_by_text("网格层级").wait_for(state="detached", timeout=30_000)
    sidebar.get_by_text("上报日期").wait_for(state="detached", timeout=30_000)
    page.locator('[data-testid="stSidebarNav"] a').filter(has_text="总览").click()
    sidebar.get_by_text("网格层级").wait_for(timeout=30_000)
    assert level3.is_checked(), "the level chosen before was forgotten"
