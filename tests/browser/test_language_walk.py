"""Every page of every role, in both languages, in a real browser: no label, header or message
is left in the other language. The official Chinese names of things are excepted, and listed.

Also: switching the language keeps what the user chose (select boxes, the grid level), and the
address keeps the role and language over a reload.
"""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import numpy as np
import pytest

from bench.appserver import MAP_FRAME
from layers.staff import mask_name
from pages._common import ROLES, pages_of
from tests.maps.tinystore import EVIL_NAME

pytestmark = pytest.mark.browser

#: What a page shows, as a reader sees it: the sidebar and the page (icons, drawn from an icon
#: font by name, left out), the header and visible cells of every table (drawn on a canvas, read
#: from the grid's accessible copy) and the value each select box shows.
PAGE_TEXT = """() => {
  for (const el of document.querySelectorAll('span, i')) {
    if (getComputedStyle(el).fontFamily.includes('Material')) el.setAttribute('data-og-icon', '');
  }
  const parts = [];
  for (const root of document.querySelectorAll('[data-testid="stSidebar"], [data-testid="stMain"]')) {
    const copy = root.cloneNode(true);
    copy.querySelectorAll('[data-og-icon], [data-testid="stDataFrame"]').forEach(e => e.remove());
    document.body.appendChild(copy);
    parts.push(copy.innerText);
    copy.remove();
  }
  for (const c of document.querySelectorAll('[data-testid="stDataFrame"] th, [data-testid="stDataFrame"] [role=gridcell]')) {
    parts.push(c.textContent);
  }
  for (const i of document.querySelectorAll('[data-baseweb="select"] input')) parts.push(i.value);
  return parts.join('\\n');
}"""

#: Official Chinese names shown as they are in English (besides the store's own names of grids,
#: bodies, staff and event types, and what reporters wrote): the language switch names Chinese in
#: Chinese, and a search field cites a component class by its official name.
OFFICIAL_IN_ENGLISH = ("语言", "中文", "井盖")
#: Latin words that are the same in Chinese: names of the other language, the product, standards,
#: formats and units.
SAME_IN_CHINESE = frozenset(
    {
        "Language", "English", "OneGrid", "OpenStreetMap", "WGS84", "WGS", "GPS", "GCJ-02", "GCJ",
        "CGCS2000", "EPSG", "XLSX", "CSV", "GeoJSON", "GeoPackage", "GPKG", "QGIS", "Getis-Ord", "Gi",
        "FDR", "Mann-Kendall", "km", "ID", "true", "false",
    }
)  # fmt: skip
CJK = re.compile(r"[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]+")
LATIN = re.compile(r"[A-Za-z][A-Za-z0-9\-]*[A-Za-z0-9]")


def _official_names(store: Path) -> list[str]:
    conn = sqlite3.connect(f"file:{store}?mode=ro", uri=True)
    try:
        names = {EVIL_NAME}
        for sql in (
            "SELECT name FROM grids",
            "SELECT name FROM departments",
            "SELECT short_name FROM departments",
            "SELECT name FROM staff",
            "SELECT name FROM event_types",
            "SELECT description FROM cases",
            "SELECT address FROM cases WHERE address IS NOT NULL",
        ):
            try:
                names |= {str(r[0]) for r in conn.execute(sql) if r[0]}
            except sqlite3.OperationalError:  # a column this store does not have
                continue
        staff = [str(r[0]) for r in conn.execute("SELECT name FROM staff") if r[0]]
    finally:
        conn.close()
    names |= set(mask_name(np.array(staff, dtype=object)).tolist())  # shown masked (张*丰)
    # Only names in Chinese are excepted (a one-letter description must not cut English words).
    names = {n for n in names if CJK.search(n)}
    return sorted(names | set(OFFICIAL_IN_ENGLISH), key=len, reverse=True)


def _settle(page) -> None:  # type: ignore[no-untyped-def]
    """Wait until the page has run: its main area is there and the app is no longer running."""
    page.wait_for_selector('[data-testid="stMain"]', timeout=30_000)
    page.wait_for_timeout(800)
    page.wait_for_function(
        "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=60_000
    )


def _leftovers(text: str, *, lang: str, official: list[str]) -> list[str]:
    for name in official:  # longest first, so a name inside another goes with it
        text = text.replace(name, " ")
    if lang == "en":
        return CJK.findall(text)
    # Codes and case numbers (K000015), times (T17) and the like carry digits: not words.
    return [w for w in LATIN.findall(text) if w not in SAME_IN_CHINESE and not any(c.isdigit() for c in w)]


WALK = [(role, name) for role in ROLES for name in pages_of(role)]


def test_every_page_of_every_role_speaks_one_language(
    server: str, browser_store: Path, page_and_traffic: tuple
) -> None:
    page, _ = page_and_traffic
    official = _official_names(browser_store)
    found: dict[str, list[str]] = {}
    for role, name in WALK:
        for lang in ("zh", "en"):
            page.goto(f"{server}/{name}?role={role}&lang={lang}")
            _settle(page)
            left = _leftovers(page.evaluate(PAGE_TEXT), lang=lang, official=official)
            if left:
                found[f"{role}/{name}/{lang}"] = sorted(set(left))
    assert len(WALK) >= 20
    assert found == {}, "\n".join(f"{k}: {' · '.join(v)}" for k, v in found.items())


def test_switching_language_keeps_the_choices_and_the_address_keeps_role_and_language(
    server: str, page_and_traffic: tuple
) -> None:
    page, _ = page_and_traffic
    page.goto(f"{server}/explorer?role=dispatcher&lang=zh")
    _settle(page)
    page.locator(".st-key-f_level").get_by_text("三级 管理片区").click()
    _settle(page)
    status = page.locator(".st-key-x_status")
    status.locator("input").click()
    page.get_by_role("option", name="已结案").click()
    page.keyboard.press("Escape")
    _settle(page)
    page.locator(".st-key-lang").get_by_text("English").click()
    _settle(page)
    level = page.locator(".st-key-f_level input[type=radio]")
    assert [level.nth(i).is_checked() for i in range(3)] == [False, False, True]
    assert page.locator(".st-key-f_level").get_by_text("3 · management areas").is_visible()
    assert "Closed" in status.inner_text() and "已结案" not in status.inner_text()
    assert "role=dispatcher" in page.url and "lang=en" in page.url
    page.reload()
    _settle(page)
    assert page.get_by_role("heading", name="Map explorer").is_visible()
    role_box = page.locator(".st-key-role")
    shown = role_box.evaluate(
        "e => e.textContent + ' ' + [...e.querySelectorAll('input')].map(i => i.value).join(' ')"
    )
    assert "Dispatcher" in shown, shown


def test_a_page_of_another_role_says_whose_it_is(server: str, page_and_traffic: tuple) -> None:
    page, _ = page_and_traffic
    page.goto(f"{server}/planner?role=analyst&lang=en")
    _settle(page)
    warning = page.locator('[data-testid="stAlert"]').first.inner_text()
    assert "Grid planning" in warning and "Planner" in warning and "Analyst" in warning
    assert page.url.split("?")[0].endswith("/planner")  # not sent elsewhere
    page.get_by_role("link", name="Overview").first.click()
    _settle(page)
    assert page.url.split("?")[0].endswith("/home")


@pytest.mark.parametrize("lang", ["en"])
def test_every_role_sees_exactly_its_pages(server: str, page_and_traffic: tuple, lang: str) -> None:
    from pages._i18n import STRINGS

    page, _ = page_and_traffic
    for role in ROLES:
        page.goto(f"{server}/?role={role}&lang={lang}")
        _settle(page)
        if len(pages_of(role)) == 1:  # a one-page role gets no navigation: its desk is all it sees
            assert page.locator('[data-testid="stSidebarNav"]').count() == 0, role
            continue
        page.wait_for_selector('[data-testid="stSidebarNav"]', timeout=30_000)
        links = page.locator('[data-testid="stSidebarNav"] a').all_inner_texts()
        # A link's text is its icon's name and its title; the title is what a reader sees.
        titles = [line for text in links for line in text.splitlines() if line.strip()][1::2]
        assert titles == [STRINGS[f"page.{n}"][1] for n in pages_of(role)], (role, links)


#: What a desk's case box is called, per language.
OPEN_CASE = {"zh": "打开案件（输入编号或在表中点选）", "en": "Open a case (type its number or pick a row)"}


@pytest.mark.parametrize("role, name", [("dispatcher", "dispatcher"), ("department", "department"), ("supervisor", "supervision")])  # fmt: skip
def test_a_case_detail_speaks_one_language(
    server: str, browser_store: Path, page_and_traffic: tuple, role: str, name: str
) -> None:
    """Beyond a page's first view: a case opened on a desk (its facts, steps, history, actions)."""
    from pages._i18n import STRINGS

    page, _ = page_and_traffic
    official = _official_names(browser_store)
    conn = sqlite3.connect(f"file:{browser_store}?mode=ro", uri=True)
    try:
        (case_id,) = conn.execute(
            "SELECT id FROM cases WHERE status = 'dispatched' ORDER BY id LIMIT 1"
        ).fetchone()
    finally:
        conn.close()
    for lang in ("zh", "en"):
        page.goto(f"{server}/{name}?role={role}&lang={lang}")
        _settle(page)
        box = page.get_by_label(OPEN_CASE[lang])
        box.fill(case_id)
        box.press("Enter")
        _settle(page)
        title = STRINGS["desk.case_title"][0 if lang == "zh" else 1]
        page.get_by_role("heading", name=title, exact=True).wait_for(timeout=30_000)
        assert _leftovers(page.evaluate(PAGE_TEXT), lang=lang, official=official) == [], lang


def test_the_explorer_grid_panel_speaks_one_language(
    server: str, browser_store: Path, page_and_traffic: tuple
) -> None:
    """A grid clicked on the explorer's map: its figures, top event types and staff (posts in the
    session's language, names official and masked)."""
    page, _ = page_and_traffic
    official = _official_names(browser_store)
    for lang in ("zh", "en"):
        page.goto(f"{server}/explorer?role=analyst&lang={lang}")
        _settle(page)
        handle = page.wait_for_selector(MAP_FRAME, timeout=30_000)
        handle.content_frame().wait_for_selector(".leaflet-overlay-pane canvas", timeout=30_000)
        box = handle.bounding_box()
        page.mouse.click(box["x"] + box["width"] * 0.45, box["y"] + box["height"] * 0.5)
        page.wait_for_timeout(1500)
        _settle(page)
        text = page.evaluate(PAGE_TEXT)
        assert "320506" in text.split("\n", 1)[1], "no grid was opened"
        assert _leftovers(text, lang=lang, official=official) == [], lang
