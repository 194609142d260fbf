"""The dispatcher's queue page in a real browser on the full district: ``python -m bench.bench_desk``.

Starts the app server (``python serve.py``, no basemap) and drives Debian's chromium through
Playwright as a dispatcher of the district centre:

- page switch: in an open app, from clicking 指挥调度 in the sidebar to the queue's table drawn
  (target ≤ 1 s) — the first switch of a session (queue read from the store) and a later one;
- filter: from choosing one body in the queue's filter to the new table drawn (target ≤ 1 s),
  and back to all bodies (a queue already cached: the page and the browser alone);
- first load: from going to the app as a dispatcher (who lands on the queue) in a new tab to the table drawn (Streamlit's
  front end loads its own scripts first; reported, no target);
- the layer's reads alone (``cases.queue`` and ``cases.queue_counts`` for the centre, median of 5).
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import settings
from bench.appserver import CHROMIUM_ARGS, start_server, stop_server

TARGETS = {"switch_first_s": 1.0, "switch_later_s": 1.0, "filter_s": 1.0, "filter_cached_s": 1.0}
#: The queue's table once its grid is drawn (Streamlit gives keyed elements an ``st-key-…`` class).
QUEUE_TABLE = ".st-key-dispatch-table [data-testid='stDataFrame'] canvas"
SIDE_LINK = "[data-testid='stSidebarNav'] a"


def _layer_reads(store: Path) -> dict[str, float]:
    from layers import cases
    from layers.store import open_store

    out: dict[str, list[float]] = {"queue_read_s": [], "counts_read_s": []}
    with open_store(store, readonly=True) as s:
        for _ in range(5):
            t0 = time.perf_counter()
            cases.queue(s, centre="district")
            out["queue_read_s"].append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            cases.queue_counts(s, centre="district")
            out["counts_read_s"].append(time.perf_counter() - t0)
    return {k: statistics.median(v) for k, v in out.items()}


def _wait_table(page, *, timeout_ms: float = 60_000) -> None:  # type: ignore[no-untyped-def]
    page.wait_for_selector(QUEUE_TABLE, state="visible", timeout=timeout_ms)


def _wait_gone(page) -> None:  # type: ignore[no-untyped-def]
    page.wait_for_selector(".st-key-dispatch-table", state="detached", timeout=60_000)


def _pick_body(page, nth: int) -> float:  # type: ignore[no-untyped-def]
    """Choose the ``nth`` option of the queue's body filter; seconds until the new table is drawn
    (the caption above the table counts its cases and changes with it)."""
    caption = page.get_by_text("最新在前").first.inner_text()
    page.locator(".st-key-dispatch-dept input").first.click()
    option = page.get_by_role("option").nth(nth)
    t0 = time.perf_counter()
    option.click()
    page.wait_for_function(
        "(old) => { const el = [...document.querySelectorAll('[data-testid=stCaptionContainer]')]"
        ".find(e => e.innerText.includes('最新在前')); return el && el.innerText !== old; }",
        arg=caption,
        timeout=60_000,
    )
    _wait_table(page)
    return time.perf_counter() - t0


def run(*, store: Path, port: int | None = None) -> dict[str, float]:
    from playwright.sync_api import sync_playwright

    chromium = shutil.which("chromium")
    if chromium is None:
        raise SystemExit("Debian's chromium is needed (make browser)")
    if not store.exists():
        raise SystemExit(f"no store at {store}; generate it first (python cli.py generate)")
    results = _layer_reads(store)
    proc, url = start_server(store, port=port)
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            t0 = time.perf_counter()
            page.goto(f"{url}/?role=dispatcher")  # a dispatcher lands on the queue
            _wait_table(page, timeout_ms=120_000)
            results["first_load_s"] = time.perf_counter() - t0

            # In the open app: away to the supervision page and back to the queue, twice.
            for name in ("switch_first_s", "switch_later_s"):
                page.locator(SIDE_LINK).filter(has_text="督办").click()
                page.wait_for_url("**/supervision**")
                _wait_gone(page)
                page.get_by_text("即将到期").first.wait_for(timeout=60_000)
                t0 = time.perf_counter()
                page.locator(SIDE_LINK).filter(has_text="指挥调度").click()
                _wait_table(page)
                results[name] = time.perf_counter() - t0

            # A filter: one body's cases, then all bodies again (that queue is cached already).
            results["filter_s"] = _pick_body(page, 1)
            results["filter_cached_s"] = _pick_body(page, 0)
            browser.close()
    finally:
        stop_server(proc)
    return results


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_desk", description=__doc__.splitlines()[0])
    parser.add_argument("--store", help="store to open (default: ONEGRID_STORE or the default store)")
    parser.add_argument("--port", type=int, default=None)
    args = parser.parse_args(argv)
    results = run(store=settings.store_path(args.store), port=args.port)
    ok = True
    for name, value in results.items():
        target = TARGETS.get(name)
        passed = target is None or value <= target
        ok &= passed
        goal = f"target ≤ {target:g}   {'ok' if passed else 'OVER'}" if target else ""
        print(f"{name:16s} {value:8.3f}   {goal}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
