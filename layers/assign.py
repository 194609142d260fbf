"""Assign a file of points (reports, assets) to their grids and route them to the responsible body.

Chunked, so files of any size stream through; every input row comes out, in order, with
``grid_l3, grid_l2, grid_l1`` — and ``dept_code, dept_name, route_reason_code, route_reason`` when an
event column is given — or with a ``reject_reason`` saying why it could not be placed. Nothing is
dropped: malformed CSV rows come out too, with their raw text and the reason.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from layers.district import District
from layers.errors import InputFileError
from layers.tabular import Chunk, ChunkWriter, count_rows, file_format, iter_chunks
from spatial.crs import check_coordinates, to_display, to_work

OUTPUT_COLUMNS = ["grid_l3", "grid_l2", "grid_l1"]
ROUTE_COLUMNS = ["dept_code", "dept_name", "route_reason_code", "route_reason", "route_component"]

_X_NAMES = ("x", "lon", "lng", "longitude", "经度", "XCOORD", "Longitude")
_Y_NAMES = ("y", "lat", "latitude", "纬度", "YCOORD", "Latitude")


@dataclass
class AssignReport:
    rows: int = 0
    placed: int = 0
    rejected: int = 0
    reasons: dict[str, int] = field(default_factory=dict)
    routed: dict[str, int] = field(default_factory=dict)

    def add_reasons(self, reasons: pd.Series) -> None:
        kinds = reasons[reasons != ""].str.split(":", n=1).str[0]
        for k, v in kinds.value_counts().items():
            self.reasons[str(k)] = self.reasons.get(str(k), 0) + int(v)


def _pick(columns: list[str], wanted: str | None, candidates: tuple[str, ...], what: str) -> str:
    if wanted is not None:
        if wanted not in columns:
            raise InputFileError(f"no column {wanted!r} for {what}; the file has {columns}")
        return wanted
    lower = {c.lower(): c for c in columns}
    for name in candidates:
        if name.lower() in lower:
            return lower[name.lower()]
    raise InputFileError(f"no {what} column found; name it with --{what}-col (the file has {columns})")


def assign_file(
    district: District,
    *,
    src: str | os.PathLike[str],
    dst: str | os.PathLike[str],
    crs: str = "EPSG:4326",
    x_col: str | None = None,
    y_col: str | None = None,
    event_col: str | None = None,
    component_col: str | None = None,
    radius: float = 30.0,
    chunk_rows: int = 200_000,
    progress: Callable[[int, int | None], None] | None = None,
) -> AssignReport:
    """Assign every row of ``src`` and write ``dst`` (format by extension: .csv, .geojson, .parquet)."""
    src_p, dst_p = Path(src), Path(dst)
    file_format(src_p)
    file_format(dst_p)
    if src_p.resolve() == dst_p.resolve():
        raise InputFileError("--out must differ from --in: the input is never overwritten")
    total = count_rows(src_p) if src_p.exists() else None
    router = _Router(district, radius=radius) if event_col is not None else None
    bounds = _district_lonlat_bounds(district)
    report = AssignReport()
    writer = ChunkWriter(dst_p)
    try:
        for chunk in iter_chunks(src_p, chunk_rows=chunk_rows):
            out, lon, lat = _assign_chunk(
                district,
                chunk,
                crs=crs,
                x_col=x_col,
                y_col=y_col,
                event_col=event_col,
                component_col=component_col,
                router=router,
                bounds=bounds,
                report=report,
            )
            writer.write(out, lon=lon, lat=lat)
            if progress is not None:
                progress(report.rows, total)
        writer.commit()
    except BaseException:
        writer.abort()
        raise
    return report


def _district_lonlat_bounds(district: District) -> tuple[float, float, float, float]:
    minx, miny, maxx, maxy = district.locator.bounds
    lon, lat = to_display(np.array([minx, maxx, minx, maxx]), np.array([miny, miny, maxy, maxy]))
    # A margin, so a point just beyond the bounding box is reported as outside the district
    # (by the locator) rather than as outside the expected area.
    m = 0.1
    return float(lon.min()) - m, float(lat.min()) - m, float(lon.max()) + m, float(lat.max()) + m


def _assign_chunk(
    district: District,
    chunk: Chunk,
    *,
    crs: str,
    x_col: str | None,
    y_col: str | None,
    event_col: str | None,
    component_col: str | None,
    router: _Router | None,
    bounds: tuple[float, float, float, float],
    report: AssignReport,
) -> tuple[pd.DataFrame, pd.Series, pd.Series]:
    frame = chunk.frame
    cols = list(frame.columns)
    n = len(frame)
    reason = pd.Series([""] * n, dtype=object)
    if chunk.geometry_xy is not None and x_col is None and y_col is None:
        xs = pd.to_numeric(chunk.geometry_xy[0], errors="coerce").to_numpy(dtype=float)
        ys = pd.to_numeric(chunk.geometry_xy[1], errors="coerce").to_numpy(dtype=float)
        reason[np.isnan(xs) | np.isnan(ys)] = "no point geometry: the feature is empty or not a Point"
    else:
        xc = _pick(cols, x_col, _X_NAMES, "x")
        yc = _pick(cols, y_col, _Y_NAMES, "y")
        raw_x, raw_y = frame[xc].astype(str).str.strip(), frame[yc].astype(str).str.strip()
        xs = pd.to_numeric(raw_x, errors="coerce").to_numpy(dtype=float)
        ys = pd.to_numeric(raw_y, errors="coerce").to_numpy(dtype=float)
        bad_x = np.isnan(xs) & ~raw_x.str.lower().isin(["", "nan"]).to_numpy()
        bad_y = np.isnan(ys) & ~raw_y.str.lower().isin(["", "nan"]).to_numpy()
        reason[bad_x] = "not a number: " + xc + "=" + raw_x[bad_x].str.slice(0, 40)
        reason[bad_y & (reason == "")] = "not a number: " + yc + "=" + raw_y[bad_y].str.slice(0, 40)
    todo = (reason == "").to_numpy().copy()
    check = check_coordinates(xs, ys, crs=crs, bounds_lonlat=bounds)
    failed = todo & ~check.valid
    reason[failed] = pd.Series(check.reason, dtype=object)[failed]
    todo &= check.valid
    wx = np.full(n, np.nan)
    wy = np.full(n, np.nan)
    if todo.any():
        wx[todo], wy[todo] = to_work(xs[todo], ys[todo], crs=crs)
    located = district.locate_all(wx, wy)
    outside = todo & located["grid_l3"].isna().to_numpy()
    reason[outside] = "outside the district: no grid covers this point"
    placed = todo & ~outside

    out = frame.copy()
    out.insert(0, "row", chunk.row_numbers.to_numpy())
    for c in OUTPUT_COLUMNS:
        out[c] = located[c].where(placed, None).to_numpy()
    if router is not None and event_col is not None:
        if event_col not in cols:
            raise InputFileError(f"no column {event_col!r} for the event type; the file has {cols}")
        routed = router.route(
            wx,
            wy,
            out["grid_l3"].to_numpy(),
            frame[event_col].astype(str).str.strip(),
            frame[component_col].astype(str).str.strip() if component_col else None,
            placed,
        )
        for c in ROUTE_COLUMNS:
            out[c] = routed[c].to_numpy()
        unknown = placed & (routed["route_reason_code"] == "unknown_event_type").to_numpy()
        reason[unknown] = "unknown event type: " + frame[event_col].astype(str)[unknown].str.slice(0, 40)
        for k, v in routed.loc[placed & ~unknown, "route_reason_code"].value_counts().items():
            report.routed[str(k)] = report.routed.get(str(k), 0) + int(v)
        placed = placed & ~unknown
    out["reject_reason"] = reason.to_numpy()
    # Always present, so every chunk has the same columns: the raw text of a malformed CSV row.
    out["raw"] = ""
    lon = np.full(n, np.nan)
    lat = np.full(n, np.nan)
    if placed.any():
        lon[placed], lat[placed] = to_display(wx[placed], wy[placed])

    if chunk.malformed:
        bad = pd.DataFrame(
            {
                "row": [m[0] for m in chunk.malformed],
                "raw": [m[1] for m in chunk.malformed],
                "reject_reason": [m[2] for m in chunk.malformed],
            }
        )
        out = pd.concat([out, bad], ignore_index=True).sort_values("row", kind="stable", ignore_index=True)
        order = out.index.to_numpy()
        lon = np.concatenate([lon, np.full(len(bad), np.nan)])[order]
        lat = np.concatenate([lat, np.full(len(bad), np.nan)])[order]
    report.rows += len(out)
    report.placed += int(placed.sum())
    report.rejected += int((out["reject_reason"].fillna("") != "").sum())
    report.add_reasons(out["reject_reason"].fillna("").astype(str))
    return out, pd.Series(lon), pd.Series(lat)


class _Router:
    """Routing tables read once from the store, for all chunks."""

    def __init__(self, district: District, *, radius: float) -> None:
        store = district.store
        self.radius = radius
        self.event_types = store.read_arrow("SELECT * FROM event_types").to_pandas()
        self.departments = store.read_arrow("SELECT * FROM departments").to_pandas()
        self.components = store.read_arrow(
            "SELECT code, class_code, x, y, maintainer_code, owner_code FROM components"
        ).to_pandas()
        self.names = dict(zip(self.departments["code"], self.departments["name"], strict=True))

    def route(
        self,
        x: np.ndarray,
        y: np.ndarray,
        grid_codes: np.ndarray,
        events: pd.Series,
        components: pd.Series | None,
        placed: np.ndarray,
    ) -> pd.DataFrame:
        from layers.routing import route

        n = len(x)
        result = pd.DataFrame({c: pd.Series([None] * n, dtype=object) for c in ROUTE_COLUMNS})
        if not placed.any():
            return result
        idx = np.flatnonzero(placed)
        routed = route(
            x=x[idx],
            y=y[idx],
            grid_codes=grid_codes[idx],
            event_type_codes=events.to_numpy()[idx],
            component_codes=None if components is None else components.replace("", None).to_numpy()[idx],
            event_types=self.event_types,
            components=self.components,
            departments=self.departments,
            radius=self.radius,
        )
        result.loc[idx, "dept_code"] = routed["dept_code"].to_numpy()
        result.loc[idx, "dept_name"] = routed["dept_code"].map(self.names).to_numpy()
        result.loc[idx, "route_reason_code"] = routed["reason_code"].to_numpy()
        result.loc[idx, "route_reason"] = routed["reason"].to_numpy()
        result.loc[idx, "route_component"] = routed["component_code"].to_numpy()
        return result
