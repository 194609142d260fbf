"""The component layer (部件): 680,000 surveyed objects with codes, positions and responsible bodies.

Positions are stored in EPSG:4549 metres. Every change appends to ``component_history``.
"""

from __future__ import annotations

import sqlite3

import numpy as np
import pandas as pd

from layers.store import Store

COMPONENT_COLUMNS = [
    "code",
    "class_code",
    "x",
    "y",
    "grid_code",
    "supervisor_code",
    "owner_code",
    "maintainer_code",
    "state",
    "surveyed_on",
    "changed_on",
    "source",
    "version",
]
STATES = ("完好", "破损", "丢失", "占用")
SOURCES = ("实测", "地形图", "调绘", "其它")


def load_components(
    store: Store, *, columns: list[str] | None = None, where: str = "", params: tuple[object, ...] = ()
) -> pd.DataFrame:
    """Components as a frame, read through Arrow (no Python row loop).

    ``where`` is an SQL condition with ``?`` placeholders filled from ``params``.
    """
    cols = columns or COMPONENT_COLUMNS
    unknown = sorted(set(cols) - set(COMPONENT_COLUMNS))
    if unknown:
        raise ValueError(f"unknown component columns: {unknown}")
    sql = f"SELECT {', '.join(cols)} FROM components"
    if where:
        sql += f" WHERE {where}"
    return store.read_arrow(sql, params).to_pandas()


def write_components(conn: sqlite3.Connection, frame: pd.DataFrame) -> int:
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
