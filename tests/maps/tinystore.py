"""A tiny hand-made district store for the map, page and browser tests.

Two towns of two communities of two 1 km × 1 km grids each (8 level-3 grids in a 4 × 2 block south
of Suzhou), a few thousand components and cases over two months, written with the store's own
functions. Names carry HTML on purpose: every view must escape them.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from layers.grids import write_grids
from layers.store import build_store
from tests.helpers import write_components

X0, Y0 = 557_000.0, 3_458_000.0  # about 120.60E 31.24N, EPSG:4549
END = dt.date(2026, 3, 31)
DAYS = 61
EVIL_NAME = "<b>横泾</b><script>alert(1)</script>"


def _grids() -> gpd.GeoDataFrame:
    rows = []
    for t in range(2):
        town = f"320506{t + 1:03d}000000"
        tbox = shapely.box(X0 + t * 2000, Y0, X0 + (t + 1) * 2000, Y0 + 2000)
        rows.append((town, 1, None, EVIL_NAME if t == 0 else "木渎镇", tbox))
        for c in range(2):
            comm = f"320506{t + 1:03d}{c + 1:03d}000"
            cbox = shapely.box(X0 + t * 2000, Y0 + (1 - c) * 1000, X0 + (t + 1) * 2000, Y0 + (2 - c) * 1000)
            rows.append((comm, 2, town, f"社区{t + 1}-{c + 1}", cbox))
            for g in range(2):
                code = f"320506{t + 1:03d}{c + 1:03d}{g + 1:03d}"
                gx = X0 + t * 2000 + g * 1000
                gbox = shapely.box(gx, Y0 + (1 - c) * 1000, gx + 1000, Y0 + (2 - c) * 1000)
                rows.append((code, 3, comm, f"片区{t + 1}{c + 1}{g + 1} & <i>x</i>", gbox))
    frame = pd.DataFrame(rows, columns=["code", "level", "parent_code", "name", "geometry"])
    return gpd.GeoDataFrame(frame, geometry="geometry", crs="EPSG:4549")


def build_tiny_store(path: Path, *, n_components: int = 4000, cases_per_day: int = 60, seed: int = 7) -> Path:
    """Write the tiny district to ``path`` (replacing it) and return the path."""
    rng = np.random.default_rng(seed)
    grids = _grids()
    l3 = grids[grids["level"] == 3].reset_index(drop=True)
    with build_store(path, force=True) as store, store.transaction() as conn:
        conn.execute(
            "INSERT INTO generations(id, valid_from, created_at) VALUES (1, '2020-01-01', '2026-01-01')"
        )
        store.set_meta(conn, district_code="320506", district_name="吴中区", seed=seed, end=END.isoformat())
        write_grids(conn, grids, generation=1)
        conn.executemany(
            "INSERT INTO departments(code, name, short_name, kind) VALUES (?,?,?,?)",
            [("D01", "城管局", "城管", "bureau"), ("D02", "水务局", "水务", "bureau")],
        )
        conn.executemany(
            "INSERT INTO component_classes(code, major_code, major_name, name, supervisor_code) "
            "VALUES (?,?,?,?,?)",
            [("0101", "01", "公用设施", "上水井盖", "D02"), ("0201", "02", "道路交通", "路灯<1>", "D01")],
        )
        conn.executemany(
            "INSERT INTO channels(code, name, name_en, share) VALUES (?,?,?,?)",
            [("C01", "12345热线", "12345 hotline", 0.6), ("C02", "随手拍", "Snap and report", 0.4)],
        )
        conn.executemany(
            "INSERT INTO event_types(code, major_code, major_name, sub_code, sub_name, name, manage_code, "
            "handle_code, enforce_code, legal_basis, dispatch_flow, time_limit, time_unit, closure_criteria, "
            "urgency) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            [
                (
                    "E0101",
                    "01",
                    "市容环境",
                    "0101",
                    "暴露垃圾",
                    "暴露垃圾",
                    "D01",
                    "D01",
                    "D01",
                    "-",
                    "-",
                    2,
                    "workdays",
                    "-",
                    "一般",
                ),
                (
                    "E0201",
                    "02",
                    "街面秩序",
                    "0201",
                    "占道经营",
                    "占道经营 <script>",
                    "D01",
                    "D01",
                    "D01",
                    "-",
                    "-",
                    4,
                    "hours",
                    "-",
                    "紧急",
                ),
            ],
        )
        # components
        gi = rng.integers(0, len(l3), n_components)
        b = shapely.bounds(l3.geometry.to_numpy())[gi]
        cx = b[:, 0] + rng.random(n_components) * 1000
        cy = b[:, 1] + rng.random(n_components) * 1000
        comps = pd.DataFrame(
            {
                "code": [f"320506{'01' if i % 2 else '02'}01{i:06d}" for i in range(n_components)],
                "class_code": np.where(np.arange(n_components) % 2 == 1, "0101", "0201"),
                "x": cx,
                "y": cy,
                "grid_code": l3["code"].to_numpy()[gi],
                "supervisor_code": "D01",
                "owner_code": "D01",
                "maintainer_code": "D02",
                "state": np.array(["完好", "破损", "丢失", "占用"])[rng.integers(0, 4, n_components)],
                "surveyed_on": "2024-01-01",
                "changed_on": "2024-01-01",
                "source": "实测",
                "version": 1,
            }
        )
        write_components(conn, comps)
        # staff: two per level-3 grid
        conn.executemany(
            "INSERT INTO staff(grid_code, role, specialty, name, gender, id_number, phone) "
            "VALUES (?,?,?,?,?,?,?)",
            [
                (c, role, "", name, "男", "320506199001011234", "13912345678")
                for c in l3["code"]
                for role, name in (("网格长", "张三丰"), ("网格员", "李<四>"))
            ],
        )
        # cases: hot spot in the first grid, spread over two months
        n = DAYS * cases_per_day
        day = rng.integers(0, DAYS, n)
        start = END - dt.timedelta(days=DAYS - 1)
        hot = rng.random(n) < 0.5
        gi = np.where(hot, 0, rng.integers(0, len(l3), n))
        b = shapely.bounds(l3.geometry.to_numpy())[gi]
        x = np.where(hot, b[:, 0] + 400 + rng.random(n) * 200, b[:, 0] + rng.random(n) * 1000)
        y = np.where(hot, b[:, 1] + 400 + rng.random(n) * 200, b[:, 1] + rng.random(n) * 1000)
        status = np.array(["reported", "dispatched", "closed", "evaluated"])[rng.integers(0, 4, n)]
        rows = []
        for i in range(n):
            d = start + dt.timedelta(days=int(day[i]))
            rep = f"{d.isoformat()}T{8 + i % 10:02d}:00:00"
            dl = (d + dt.timedelta(days=2)).isoformat() + "T18:00:00"
            code = l3["code"].iat[int(gi[i])]
            rows.append(
                (
                    f"K{i:06d}",
                    "C01" if i % 3 else "C02",
                    "E0101" if i % 4 else "E0201",
                    "d",
                    float(x[i]),
                    float(y[i]),
                    code,
                    1,
                    code[:9] + "000000",
                    "D01",
                    str(status[i]),
                    "一般",
                    rep,
                    dl,
                )
            )
        conn.executemany(
            "INSERT INTO cases(id, channel_code, event_type_code, description, x, y, grid_code, "
            "grid_generation, town_code, dept_code, status, urgency, reported_at, deadline_at) "
            "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            rows,
        )
        for layer in ("grids", "components", "cases", "staff"):
            store.bump_revision(conn, layer)
    return path
