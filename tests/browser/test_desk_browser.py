"""The case desk in a real browser: a report taken at the intake page runs the whole loop through
the dispatcher, the department desk and the inspector (at a phone's width), and its detail shows
the six steps done and the description as literal text."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import expect

from bench.appserver import start_server, stop_server
from layers import analysis
from tests.maps.tinystore import build_tiny_store

pytestmark = pytest.mark.browser

NOW = "2026-04-10T10:00:00"  # a working Friday after the tiny store's own cases
EVIL = "<script>alert(1)</script><b>x</b>"
GRID = "320506002002002"
SPOT = (560_450.0, 3_458_450.0)  # inside GRID, off the tiny store's hot spot
PHONE_VIEW = {"width": 390, "height": 844}


@pytest.fixture(scope="module")
def desk_server(tmp_path_factory: pytest.TempPathFactory, chromium_path: str) -> Iterator[tuple[str, Path]]:
    """The app on its own tiny store (this test writes cases), with the clock pinned."""
    store = build_tiny_store(tmp_path_factory.mktemp("desk") / "tiny.sqlite")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("ONEGRID_NOW", NOW)
        proc, url = start_server(store)
    try:
        yield url, store
    finally:
        stop_server(proc)


def _idle(page) -> None:  # type: ignore[no-untyped-def]
    """Wait until the app's run is over: a widget used while a run is drawing can lose its input."""
    page.wait_for_timeout(300)
    page.wait_for_function(
        "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=30_000
    )


def _fill(page, label: str, value: str) -> None:  # type: ignore[no-untyped-def]
    box = page.get_by_label(label, exact=True)
    box.fill(value)
    box.press("Tab")  # text areas and number boxes commit when they lose focus
    _idle(page)


def _choose(page, key: str, text: str) -> None:  # type: ignore[no-untyped-def]
    """Pick an option of the select box or multiselect with this widget key by typing its name."""
    page.locator(f".st-key-{key} input").first.click()
    page.keyboard.type(text)
    page.get_by_role("option").filter(has_text=text).first.click()


def _status(store: Path, case_id: str) -> str:
    with sqlite3.connect(f"file:{store}?mode=ro", uri=True) as conn:
        return str(conn.execute("SELECT status FROM cases WHERE id = ?", (case_id,)).fetchone()[0])


def _open_case(page, case_id: str) -> None:  # type: ignore[no-untyped-def]
    box = page.get_by_label("打开案件（输入编号或在表中点选）")
    box.fill(case_id)
    box.press("Enter")
    page.get_by_text("案件详情").wait_for(timeout=30_000)


def _act(page, action: str, *, pick: bool = False, note_label: str | None = None, note: str = "") -> None:  # type: ignore[no-untyped-def]
    """Take one of the case's actions (its radio option when not the first) and wait until done."""
    if pick:
        page.get_by_role("radiogroup").get_by_text(action, exact=True).click()
    if note_label:
        page.get_by_label(note_label, exact=True).fill(note)
    page.get_by_role("button", name=f"确认：{action}").click()
    page.get_by_text(f"{action}完成").wait_for(timeout=30_000)


def test_a_report_runs_the_whole_loop_in_the_browser(
    desk_server: tuple[str, Path], browser: object, page_and_traffic: tuple
) -> None:
    url, store = desk_server
    page, traffic = page_and_traffic
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    lon, lat = analysis.to_lonlat([SPOT[0]], [SPOT[1]])

    # 受理: the report, its grid and body shown before it is saved.
    page.goto(f"{url}/?role=operator")
    page.get_by_role("heading", name="受理").wait_for(timeout=60_000)
    _choose(page, "intake-event-0", "暴露垃圾")
    _fill(page, "问题描述", EVIL)
    _fill(page, "上报人电话", "13912345678")
    _fill(page, "经度", f"{float(lon[0]):.6f}")
    _fill(page, "纬度", f"{float(lat[0]):.6f}")
    preview = page.locator(".st-key-desk-preview")
    preview.get_by_text(GRID).first.wait_for(timeout=30_000)
    assert "城管 (D01)" in preview.inner_text()
    assert "区联动中心" in preview.inner_text()
    page.get_by_role("button", name="保存").click()
    done = page.get_by_text("已受理：新案件")
    done.wait_for(timeout=30_000)
    case_id = re.search(r"新案件 (\S+)", done.inner_text()).group(1)  # type: ignore[union-attr]
    assert _status(store, case_id) == "reported"
    assert "13912345678" not in page.content()  # the phone is masked once saved

    # 指挥调度: register, then dispatch to the routed body.
    page.goto(f"{url}/?role=dispatcher")
    _open_case(page, case_id)
    _act(page, "核实立案", note_label="核实意见", note="现场属实")
    _act(page, "派遣")
    assert _status(store, case_id) == "dispatched"

    # 部门处置: the body handles it with feedback.
    page.goto(f"{url}/?role=department")
    _open_case(page, case_id)
    _act(page, "处置反馈", pick=True, note_label="反馈内容", note="已清运 <i>完毕</i>")
    assert _status(store, case_id) == "handled"

    # 巡查, at a phone's width: the task in the inspector's grid, checked and closed.
    phone = browser.new_context(viewport=PHONE_VIEW)  # type: ignore[attr-defined]
    try:
        mobile = phone.new_page()
        mobile.goto(f"{url}/?role=inspector")
        mobile.get_by_role("heading", name="巡查").wait_for(timeout=60_000)
        _fill(mobile, "经度", f"{float(lon[0]):.6f}")
        _fill(mobile, "纬度", f"{float(lat[0]):.6f}")
        _choose(mobile, "desk-grids", GRID)
        mobile.keyboard.press("Escape")
        _idle(mobile)
        mobile.get_by_text("待核查 1 件").wait_for(timeout=30_000)
        _open_case(mobile, case_id)
        _act(mobile, "核查通过，结案", pick=True, note_label="核查意见", note="复核通过")
        width = mobile.evaluate("() => document.documentElement.scrollWidth")
        assert width <= PHONE_VIEW["width"], width  # nothing wider than the phone
    finally:
        phone.close()
    assert _status(store, case_id) == "closed"

    # 回访评价 by the dispatcher, then the detail: six steps done, the description as text.
    page.goto(f"{url}/?role=dispatcher")
    _open_case(page, case_id)
    _act(page, "回访评价", note_label="回访记录", note="群众满意")
    assert _status(store, case_id) == "evaluated"
    for step in ("采集上报", "核实立案", "指挥派遣", "处理反馈", "核查结案", "考核评价"):
        page.get_by_text(step, exact=True).first.wait_for(timeout=10_000)
    # The store is written before the page's rerun has drawn the last step: wait for it.
    expect(page.get_by_text(re.compile(r"^已完成 · "))).to_have_count(6, timeout=30_000)
    shown = page.locator("[data-testid='stText']").filter(has_text="alert(1)")
    assert shown.first.inner_text() == EVIL  # literal, not markup
    assert shown.first.locator("script, b").count() == 0
    assert dialogs == []
    assert traffic.outside() == [], traffic.outside()


def test_a_map_click_places_the_report(desk_server: tuple[str, Path], page_and_traffic: tuple) -> None:
    url, _ = desk_server
    page, traffic = page_and_traffic
    page.goto(f"{url}/?role=operator")
    handle = page.wait_for_selector('iframe[title="streamlit_folium.st_folium"]', timeout=60_000)
    handle.content_frame().wait_for_selector(".leaflet-overlay-pane canvas", timeout=30_000)
    _choose(page, "intake-event-0", "暴露垃圾")
    _fill(page, "问题描述", "垃圾满溢")
    handle = page.wait_for_selector('iframe[title="streamlit_folium.st_folium"]', timeout=30_000)
    page.wait_for_timeout(500)
    bb = handle.bounding_box()
    assert bb is not None
    page.mouse.click(bb["x"] + bb["width"] / 2, bb["y"] + bb["height"] / 2)  # the district's middle
    preview = page.locator(".st-key-desk-preview")
    preview.get_by_text(re.compile(r"^320506\d{9} ")).first.wait_for(timeout=30_000)
    lon = float(page.get_by_label("经度", exact=True).input_value())
    lat = float(page.get_by_label("纬度", exact=True).input_value())
    assert 120.5 < lon < 120.7 and 31.1 < lat < 31.3
    assert f"{lon:.6f}, {lat:.6f}" in preview.inner_text()  # the clicked place is the one previewed
    assert traffic.outside() == [], traffic.outside()
