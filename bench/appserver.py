"""The app server and the browser, as the browser tests and the app benchmark run them.

``python serve.py`` on a free port of 127.0.0.1 with no basemap, and Debian's chromium (never a
downloaded browser) with the flags that keep it from calling out of the machine.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import IO

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
MAP_FRAME = 'iframe[title="maps.livemap.live_map"]'
#: Points in the map's heat layer, or -1 when there is none (evaluated in the map's frame).
HEAT_COUNT = """() => {
    let n = -1;
    if (!window.map) return n;
    window.map.eachLayer(l => { if (l._heat !== undefined && l._latlngs) n = l._latlngs.length; });
    return n;
}"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_healthy(url: str, *, proc: subprocess.Popen, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the app server exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.05)
    raise RuntimeError(f"the app server did not become healthy within {timeout:.0f} s")


def start_server(
    store: Path, *, port: int | None = None, stderr: int | IO[bytes] | None = subprocess.DEVNULL
) -> tuple[subprocess.Popen, str]:
    """Start the app on ``store`` and wait until it answers; returns the process and its URL."""
    port = port or free_port()
    env = {**os.environ, "ONEGRID_STORE": str(store), "ONEGRID_TILES": "none"}
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
        stderr=stderr,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, proc=proc)
    except BaseException:
        stop_server(proc)
        raise
    return proc, url


def stop_server(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
