"""The real app server (``python serve.py``, i.e. ``streamlit run app.py``) on 127.0.0.1 and Debian's chromium driven by Playwright.

No browser is downloaded: the tests use the system ``chromium`` and are skipped without it.
The server runs on the tiny district with no basemap, so every request must stay on 127.0.0.1.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.maps.tinystore import build_tiny_store

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_healthy(url: str, *, proc: subprocess.Popen, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"streamlit exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"streamlit did not become healthy within {timeout:.0f} s")


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
    port = free_port()
    env = {**os.environ, "ONEGRID_STORE": str(browser_store), "ONEGRID_TILES": "none"}
    proc = subprocess.Popen(
        [
            sys.executable,
            "serve.py",
            "--server.address",
            "127.0.0.1",
            "--server.port",
            str(port),
            "--server.headless",
            "true",
            "--browser.gatherUsageStats",
            "false",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, proc=proc)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


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
