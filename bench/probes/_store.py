"""What the probes share: a small generated district per process, the CLI and child processes.

:func:`probe_store` gives each probe a private copy of the small district of the tests (all grids,
40,000 components, three days of cases), generated once per process or taken from the file named
by ``ONEGRID_PROBE_STORE``. :func:`cli` runs ``python cli.py ...`` as a real child process;
:func:`child` starts a Python child running a script; :func:`wait_for` and :func:`kill` drive it.
"""

from __future__ import annotations

import atexit
import datetime as dt
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from tests.helpers import child, kill, wait_for

ROOT = Path(__file__).resolve().parents[2]
__all__ = ["child", "cli", "kill", "no_traceback", "probe_store", "wait_for"]

#: The small district of the tests.
SMALL = {"end": dt.date(2026, 11, 20), "seed": 7, "days": 3, "n_components": 40_000, "per_day": 400.0}
#: Options of ``generate`` for a tiny district, when a probe only needs some store to be written.
TINY = [
    "--seed",
    "7",
    "--days",
    "1",
    "--end",
    "2026-11-20",
    "--components",
    "2000",
    "--per-day",
    "20",
    "--quiet",
]

_made: Path | None = None


def _source() -> Path:
    global _made
    given = os.environ.get("ONEGRID_PROBE_STORE")
    if given:
        return Path(given)
    if _made is None or not _made.exists():
        from layers.generate.build import generate_store

        folder = Path(tempfile.mkdtemp(prefix="onegrid-probe-store-"))
        atexit.register(shutil.rmtree, folder, True)
        path = folder / "small.sqlite"
        generate_store(path, **SMALL)  # type: ignore[arg-type]
        _made = path
    return _made


def probe_store(tmp: Path) -> Path:
    """A private copy of the small district in ``tmp``, free to be written, damaged or killed over."""
    dst = tmp / "store.sqlite"
    shutil.copyfile(_source(), dst)
    return dst


def cli(
    *args: str, env: dict[str, str] | None = None, timeout: float = 600
) -> subprocess.CompletedProcess[str]:
    """``python cli.py ARGS`` in a child process, from the project root; output captured as text."""
    return subprocess.run(
        [sys.executable, "cli.py", *args],
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def no_traceback(result: subprocess.CompletedProcess[str], what: str) -> None:
    assert "Traceback" not in result.stderr, f"{what}: a traceback: {result.stderr.strip()[-600:]}"
