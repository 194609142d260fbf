"""Helpers of the tests (and the probes) that are not product code: hand-made rows and files for a
store, and real child processes stopped at a named point."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pandas as pd

from layers import pgstore
from layers.components import COMPONENT_COLUMNS
from layers.store import SCHEMA, Conn

ROOT = Path(__file__).resolve().parents[1]

__all__ = ["child", "connect", "kill", "street_reports_csv", "wait_for", "write_components"]

#: The header of a hand-made intake file (Chinese column names, as a hotline exports them).
REPORTS_HEADER = "工单号,渠道,事件类型,问题描述,经度,纬度,上报时间,联系电话\n"


def street_reports_csv(path: Path, n: int, *, seed: int = 3) -> Path:
    """``n`` street-order reports (``K00000``…) at random places around 长桥街道 and the lake shore
    west of it (some fall in the water and are rejected), in one CSV intake file."""
    rng = np.random.default_rng(seed)
    lon = 120.58 + rng.uniform(0, 0.06, n)
    lat = 31.25 + rng.uniform(0, 0.04, n)
    rows = [
        f"K{i:05d},C01,0202001,店外占道{i},{lon[i]:.6f},{lat[i]:.6f},2026-11-21T0{i % 8}:00:00,"
        for i in range(n)
    ]
    path.write_text(REPORTS_HEADER + "\n".join(rows) + "\n", encoding="utf-8")
    return path


def connect(target: object) -> Conn:
    """An autocommit connection to a store of either kind, for tests that read or write rows by hand."""
    if pgstore.is_url(target):
        return pgstore.PgConnection(str(target), id_tables=pgstore.id_tables(SCHEMA))
    return sqlite3.connect(target, isolation_level=None)  # type: ignore[arg-type]


def write_components(conn: Conn, frame: pd.DataFrame) -> int:
    """Bulk-insert new components (inside the caller's transaction)."""
    missing = [c for c in COMPONENT_COLUMNS if c not in frame.columns]
    if missing:
        raise ValueError(f"component frame lacks columns {missing}")
    data = frame[COMPONENT_COLUMNS]
    conn.executemany(
        f"INSERT INTO components({', '.join(COMPONENT_COLUMNS)}) VALUES ({', '.join('?' * len(COMPONENT_COLUMNS))})",
        _records(data),
    )
    return len(data)


def _records(frame: pd.DataFrame) -> list[tuple[object, ...]]:
    """Rows as plain Python tuples (numpy scalars and NaN become Python values and None)."""
    cols = []
    for name in frame.columns:
        s = frame[name]
        if pd.api.types.is_float_dtype(s):
            cols.append([None if v != v else v for v in s.to_numpy(dtype=float).tolist()])
        elif pd.api.types.is_integer_dtype(s):
            cols.append(s.to_numpy(dtype=np.int64).tolist())
        else:
            cols.append(
                [
                    None if v is None or (isinstance(v, float) and v != v) else str(v)
                    for v in s.astype(object).tolist()
                ]
            )
    return list(zip(*cols, strict=True))


# -- child processes (the kill and race tests, and the probes) --------------------------------------


def child(script: str, *, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    """A Python child process running ``script`` (dedented) with the project importable."""
    code = f"import sys\nsys.path.insert(0, {str(ROOT)!r})\n" + textwrap.dedent(script)
    return subprocess.Popen(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for(path: Path, proc: subprocess.Popen[str], *, timeout: float = 300.0) -> None:
    """Wait until ``path`` exists; fail if the child ends first or it takes too long."""
    end = time.monotonic() + timeout
    while not path.exists():
        if proc.poll() is not None:
            err = proc.stderr.read() if proc.stderr else ""
            raise AssertionError(f"the child ended ({proc.returncode}) before {path.name}: {err[-800:]}")
        if time.monotonic() > end:
            raise AssertionError(f"the child did not reach {path.name} in {timeout:.0f} s")
        time.sleep(0.02)


def kill(proc: subprocess.Popen[str]) -> None:
    """SIGKILL the child if it still runs, and reap it."""
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=60)
