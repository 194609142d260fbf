"""Helpers of the tests that are not product code: writing hand-made rows into a store."""

from __future__ import annotations

import sqlite3

import numpy as np
import pandas as pd

from layers import pgstore
from layers.components import COMPONENT_COLUMNS
from layers.store import SCHEMA, Conn

__all__ = ["connect", "write_components"]


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
