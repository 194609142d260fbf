"""The ranking page and the leaders' cockpit in a real browser, on a small generated district:
the bottom three, the cases behind a number, the drill-down district → town → community → grid,
and the leader's scope changing every figure."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.appserver import start_server, stop_server
from layers import indicators as ind
from layers.store import open_store

pytestmark = pytest.mark.browser

NOW = "2026-11-25T12:00:00"
MONTH = "2026-11"


@pytest.fixture(scope="module")
def small_server(small_store_path: Path, chromium_path: str) -> Iterator[tuple[str, Path]]:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("ONEGRID_NOW", NOW)
        proc, url = start_server(small_store_path)
    try:
        yield url, small_store_path
    finally:
        stop_server(proc)


def _choose(page, key: str, text: str) -> None:  # type: ignore[no-untyped-def]
    """Pick an option of the select box with this widget key by typing its name."""
    page.wait_for_function(
        "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=30_000
    )
    page.locator(f".st-key-{key} input").first.click()
    page.keyboard.type(text)
    page.get_by_role("option").filter(has_text=text).first.wait_for(timeout=30_000)
    # Enter takes the option the typing focused; a click could land while a rerun moves the list.
    page.keyboard.press("Enter")


def _expected(store_path: Path) -> tuple[dict[str, dict[str, int]], dict[str, str]]:
    with open_store(store_path, readonly=True) as store:
        cases = ind.load_case_arrays(store)
        names = ind.unit_names(store, by="town")
    towns = ind.compute(cases, ind.Period.of_months(MONTH), by="town")
    return {
        c: {"registered": int(r["registered"]), "overdue": int(r["overdue"])} for c, r in towns.iterrows()
    }, names


def test_ranking_page_drills_down_to_the_cases(
    small_server: tuple[str, Path], page_and_traffic: tuple
) -> None:
    url, store = small_server
    page, traffic = page_and_traffic
    towns, names = _expected(store)
    page.goto(f"{url}/assessment?role=analyst", wait_until="domcontentloaded")
    page.get_by_role("heading", name="考核排名").wait_for(timeout=90_000)
    page.get_by_text("末三位：").wait_for(timeout=60_000)
    page.locator('[data-testid="stDataFrame"]').first.wait_for(timeout=60_000)  # the ranking
    page.locator(".st-key-a_download").get_by_text("下载考核报告 (XLSX)").wait_for(timeout=60_000)
    # The cases behind a town's overdue count.
    code = max(towns, key=lambda c: towns[c]["overdue"])
    _choose(page, "a_unit", names[code])
    _choose(page, "a_ind", "超期数")
    page.get_by_text(f"{towns[code]['overdue']} 件案件", exact=True).wait_for(timeout=60_000)
    assert page.locator('[data-testid="stDataFrame"]').count() >= 2  # the ranking and the cases
    assert traffic.outside() == [], traffic.outside()


def test_cockpit_drills_down_and_follows_the_scope(
    small_server: tuple[str, Path], page_and_traffic: tuple
) -> None:
    url, store = small_server
    page, traffic = page_and_traffic
    towns, names = _expected(store)
    page.goto(f"{url}/?role=leader", wait_until="domcontentloaded")  # a leader lands on the cockpit
    page.get_by_role("heading", name="领导驾驶舱").wait_for(timeout=90_000)
    total = sum(t["registered"] for t in towns.values())
    metric = page.locator('[data-testid="stMetricValue"]').first
    metric.filter(has_text=f"{total:,}").wait_for(timeout=60_000)
    tables = page.locator('[data-testid="stDataFrame"]')
    page.locator(".st-key-c_town").wait_for(timeout=60_000)
    before = tables.count()
    code = max(towns, key=lambda c: towns[c]["registered"])
    _choose(page, "c_town", names[code])
    page.locator(".st-key-c_community").wait_for(timeout=60_000)
    page.wait_for_function(f"document.querySelectorAll('[data-testid=\"stDataFrame\"]').length > {before}")
    with_communities = tables.count()
    with open_store(store, readonly=True) as st:
        cases = ind.load_case_arrays(st)
        community_names = ind.unit_names(st, by="community")
    within = ind.scope_mask(cases, town=code)
    communities = ind.compute(cases, ind.Period.of_months(MONTH), by="community", within=within)
    _choose(page, "c_community", community_names[communities["registered"].idxmax()])
    page.wait_for_function(
        f"document.querySelectorAll('[data-testid=\"stDataFrame\"]').length > {with_communities}",
        timeout=60_000,
    )
    # The leader's scope: one town; every figure follows.
    _choose(page, "leader_scope_w", f"镇（街道）：{names[code]}")
    metric.filter(has_text=f"{towns[code]['registered']:,}").wait_for(timeout=60_000)
    assert traffic.outside() == [], traffic.outside()
