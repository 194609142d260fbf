"""The component layer (部件): 680,000 surveyed objects with codes, positions and responsible bodies.

Positions are stored in EPSG:4549 metres. Every change appends to ``component_history``.
"""

from __future__ import annotations

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
