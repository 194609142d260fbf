"""The real app server (``python serve.py``, i.e. ``streamlit run app.py``) on 127.0.0.1 and Debian's chromium driven by Playwright.

No browser is downloaded: the tests use the system ``chromium`` and are skipped without it.
The server runs on the tiny district with no basemap, so every request must stay on 127.0.0.1.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from bench.appserver import CHROMIUM_ARGS, start_server, stop_server
from tests.maps.tinystore import build_tiny_store


@dataclass
class Traffic:
    """Every request the page made, and those that failed or left 127.0.0.1."""

    requests: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)

    def outside(self, host: str = "127.0.0.1") -> list[str]:
        local = (f"http://{host}:", "data:", "blob:", "about:")
        return [u for u in self.requests if not u.startswith(local)]

    def clear(self) -> None:
        self.requests.clear()
        self.failed.clear()


def _base_path_probe(url: str) -> bool:
    """Streamlit's frontend, opened on a page's URL (/explorer), first looks for its server under
    that path (/explorer/_stcore/health → 404) before falling back to the root: expected misses."""
    path = url.split("://", 1)[-1].split("/", 1)[-1]
    return "/_stcore/" in path and not path.startswith("_stcore/")


@pytest.fixture(scope="session")
def chromium_path() -> str:
    path = shutil.which("chromium")
    if path is None:
        pytest.skip("Debian's chromium is not installed (make browser)")
    return path


@pytest.fixture(scope="session")
def browser_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_store(tmp_path_factory.mktemp("browser") / "tiny.sqlite")


@pytest.fixture(scope="session")
def server(browser_store: Path, chromium_path: str) -> Iterator[str]:
    """``python serve.py`` (``streamlit run app.py``) on a free port of 127.0.0.1; its base URL once /_stcore/health answers."""
    proc, url = start_server(browser_store, stderr=subprocess.PIPE)
    try:
        yield url
    finally:
        stop_server(proc)


@pytest.fixture(scope="session")
def browser(chromium_path: str) -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def page_and_traffic(browser: object) -> Iterator[tuple[object, Traffic]]:
    traffic = Traffic()
    context = browser.new_context(viewport={"width": 1400, "height": 1000})  # type: ignore[attr-defined]
    page = context.new_page()
    page.on("request", lambda r: traffic.requests.append(r.url))
    page.on("requestfailed", lambda r: traffic.failed.append(f"{r.url} ({r.failure})"))
    page.on(
        "response",
        lambda r: (
            traffic.failed.append(f"{r.url} ({r.status})")
            if r.status >= 400 and not _base_path_probe(r.url)
            else None
        ),
    )
    try:
        yield page, traffic
    finally:
        context.close()
