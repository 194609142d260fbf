"""Counts per layer and level, and the land area: what `cli.py summary` prints."""

from __future__ import annotations

from typing import Any

from layers.store import Store


def summary(store: Store) -> dict[str, Any]:
    conn = store.conn
    gen = store.current_generation()
    meta = store.meta()
    levels = dict(
        conn.execute(
            "SELECT level, COUNT(*) FROM grids WHERE generation = ? GROUP BY level", (gen,)
        ).fetchall()
    )
    row = conn.execute("SELECT area_m2 FROM land WHERE id = 1").fetchone()
    land_m2 = (
        row[0]
        if row
        else conn.execute(
            "SELECT COALESCE(SUM(area_m2), 0) FROM grids WHERE generation = ? AND level = 1", (gen,)
        ).fetchone()[0]
    )

    def count(table: str) -> int:
        return int(conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])

    statuses = dict(conn.execute("SELECT status, COUNT(*) FROM cases GROUP BY status").fetchall())
    first, last = conn.execute("SELECT MIN(reported_at), MAX(reported_at) FROM cases").fetchone()
    return {
        "store": str(store.path),
        "schema_version": store.info().schema_version,
        "district": {"code": meta.get("district_code"), "name": meta.get("district_name")},
        "seed": int(meta["seed"]) if "seed" in meta else None,
        "end": meta.get("end"),
        "generation": gen,
        "land_area_km2": round(land_m2 / 1e6, 3),
        "grids": {"level_1": levels.get(1, 0), "level_2": levels.get(2, 0), "level_3": levels.get(3, 0)},
        "components": count("components"),
        "component_classes": count("component_classes"),
        "departments": count("departments"),
        "event_types": count("event_types"),
        "channels": count("channels"),
        "staff": count("staff"),
        "cases": {
            "total": count("cases"),
            "by_status": statuses,
            "first_reported": first,
            "last_reported": last,
        },
        "case_history": count("case_history"),
        "component_history": count("component_history"),
    }
