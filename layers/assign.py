"""Assign a file of points (reports, assets) to their grids and route them to the responsible body.

Chunked, so files of any size stream through; every input row comes out, in order, with
``grid_l3, grid_l2, grid_l1`` — and ``dept_code, dept_name, route_reason_code, route_reason`` when an
event column is given — or with a ``reject_reason`` saying why it could not be placed. Nothing is
dropped: records the reader could not split (malformed rows, unterminated quotes, ...) come out
in their place too, with their raw text and the reason. The tool's own columns never replace the
user's: an input that already has one of them is refused.

The driver (:func:`assign_file`) reads the file, checks its columns once and writes the output;
each chunk is located and routed by :func:`assign_chunk` from an :class:`AssignJob`, plain data
that pickles, so the same function runs in this process or on the workers of a Dask cluster
(:mod:`layers.assign_dask`).
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Generator, Iterator
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from layers.district import District, LevelLocator
from layers.errors import InputFileError
from layers.routing import ComponentTable
from layers.tabular import (
    Chunk,
    ChunkWriter,
    LazyChunk,
    UserFile,
    count_rows,
    file_format,
    iter_lazy_chunks,
    open_user_file,
    resolve_columns,
)
from spatial.crs import check_coordinates, to_display, to_work

OUTPUT_COLUMNS = ["grid_l3", "grid_l2", "grid_l1"]
ROUTE_COLUMNS = ["dept_code", "dept_name", "route_reason_code", "route_reason", "route_component"]
#: Every column the tool adds to the user's; an input holding one of them is refused.
TOOL_COLUMNS = ("row", *OUTPUT_COLUMNS, *ROUTE_COLUMNS, "reject_reason", "raw")
#: Longest component code looked up (codes are 16 digits); a longer one rejects its row.
MAX_CODE_CHARS = 64


@dataclass
class AssignReport:
    rows: int = 0
    placed: int = 0
    rejected: int = 0
    reasons: dict[str, int] = field(default_factory=dict)
    routed: dict[str, int] = field(default_factory=dict)

    def add_reasons(self, reasons: pd.Series) -> None:
        # Counted first, then split: a chunk has few distinct reasons (the split of every
        # rejected row took half of a chunk's time when most points fell outside).
        counts = reasons[reasons != ""].value_counts()
        kinds = counts.index.to_series().str.split(":", n=1).str[0].to_numpy()
        for k, v in counts.groupby(kinds).sum().items():
            self.reasons[str(k)] = self.reasons.get(str(k), 0) + int(v)

    def add(self, other: AssignReport) -> None:
        """Count ``other`` (a chunk's report) in too."""
        self.rows += other.rows
        self.placed += other.placed
        self.rejected += other.rejected
        for mine, theirs in ((self.reasons, other.reasons), (self.routed, other.routed)):
            for k, v in theirs.items():
                mine[k] = mine.get(k, 0) + v


@dataclass(frozen=True)
class AssignJob:
    """What every chunk of a file is assigned with: plain data, without the store, that pickles
    (a cluster ships it to each worker once)."""

    levels: LevelLocator
    crs: str
    #: Expected area in lon/lat, with a margin (see :func:`_district_lonlat_bounds`).
    bounds: tuple[float, float, float, float]
    #: The file's column of each role, checked once for the whole file.
    columns: dict[str, str | None]
    router: Router | None


@dataclass
class AssignedChunk:
    """A chunk's output rows (input columns and ours), their lon/lat where placed, and its counts."""

    frame: pd.DataFrame
    lon: np.ndarray
    lat: np.ndarray
    report: AssignReport


#: Assigns the chunks of a file, yielding their results in input order: :func:`run_here` in this
#: process, or on a cluster (:func:`layers.assign_dask.cluster_runner`).
ChunkRunner = Callable[[AssignJob, Iterator[Chunk | LazyChunk]], Generator[AssignedChunk, None, None]]


def run_here(job: AssignJob, chunks: Iterator[Chunk | LazyChunk]) -> Generator[AssignedChunk, None, None]:
    """Assign each chunk in this process, one at a time, as it is read."""
    for chunk in chunks:
        yield assign_chunk(job, chunk)


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
    runner: ChunkRunner = run_here,
) -> AssignReport:
    """Assign every row of ``src`` and write ``dst``.

    ``src`` is any file :mod:`layers.tabular` reads (CSV, XLSX, GeoJSON, JSON lines, JSON array,
    Parquet); ``dst`` is written by extension: .csv, .geojson, .parquet. Output rows are the input
    records, in input order, each placed or with its ``reject_reason``. ``runner`` assigns the
    chunks (here by default); reading, checking the columns and writing stay in this process.
    """
    src_p, dst_p = Path(src), Path(dst)
    file_format(dst_p)
    if src_p.exists() and src_p.resolve() == dst_p.resolve():
        raise InputFileError("--out must differ from --in: the input is never overwritten")
    source = open_user_file(src_p)
    total = count_rows(source)
    router = Router(district, radius=radius) if event_col is not None else None
    bounds = _district_lonlat_bounds(district)
    report = AssignReport()
    writer = ChunkWriter(dst_p)
    try:
        # Chunks of a Parquet file come undecoded: each is made text where it is assigned.
        chunks = iter_lazy_chunks(source, chunk_rows=chunk_rows)
        first = next(chunks).decode()  # there is always one, if only with the header's columns
        columns = _columns(
            source,
            first,
            x_col=x_col,
            y_col=y_col,
            event_col=event_col,
            component_col=component_col,
        )
        job = AssignJob(levels=district.levels, crs=crs, bounds=bounds, columns=columns, router=router)
        with closing(runner(job, itertools.chain([first], chunks))) as parts:
            for part in parts:
                writer.write(part.frame, lon=part.lon, lat=part.lat)
                report.add(part.report)
                if progress is not None:
                    progress(report.rows, total)
        writer.commit()
    except BaseException:
        writer.abort()
        raise
    return report


def _columns(
    source: UserFile,
    chunk: Chunk,
    *,
    x_col: str | None,
    y_col: str | None,
    event_col: str | None,
    component_col: str | None,
) -> dict[str, str | None]:
    """The columns of each role, checked once for the whole file; refuses clashes with ours."""
    cols = [str(c) for c in chunk.frame.columns]
    clash = [c for c in cols if c in TOOL_COLUMNS]
    if clash:
        raise InputFileError(
            f"{source.name}: the file already has column(s) {clash}, which assign writes itself "
            f"({', '.join(TOOL_COLUMNS)}); rename them in the file so nothing of yours is overwritten"
        )
    roles: dict[str, str | None] = {}
    required: list[str] = []
    if chunk.geometry_xy is None or x_col is not None or y_col is not None:
        roles.update(x=x_col, y=y_col)
        required = ["x", "y"]
    if event_col is not None:
        roles["event"] = event_col
    if component_col is not None:
        roles["component"] = component_col
    return resolve_columns(
        cols,
        filename=source.name,
        roles=roles,
        required=required,
        hint="Name them with --x-col / --y-col (or --event-col, --component-col).",
    )


def _district_lonlat_bounds(district: District) -> tuple[float, float, float, float]:
    minx, miny, maxx, maxy = district.locator.bounds
    lon, lat = to_display(np.array([minx, maxx, minx, maxx]), np.array([miny, miny, maxy, maxy]))
    # A margin, so a point just beyond the bounding box is reported as outside the district
    # (by the locator) rather than as outside the expected area.
    m = 0.1
    return float(lon.min()) - m, float(lat.min()) - m, float(lon.max()) + m, float(lat.max()) + m


def assign_chunk(job: AssignJob, chunk: Chunk | LazyChunk) -> AssignedChunk:
    """Check, locate and route the records of one chunk: a pure function of its arguments."""
    chunk = chunk.decode()
    crs, columns, router = job.crs, job.columns, job.router
    report = AssignReport()
    frame = chunk.frame
    n = len(frame)
    # Records the reader could not split keep its reason; nothing else is asked of them.
    unread = chunk.rejected
    reason = pd.Series(chunk.reject_reason(), dtype=object)
    xc, yc = columns.get("x"), columns.get("y")
    if xc is None or yc is None:
        assert chunk.geometry_xy is not None
        xs = np.asarray(chunk.geometry_xy[0], dtype=float)
        ys = np.asarray(chunk.geometry_xy[1], dtype=float)
        reason[~unread & (np.isnan(xs) | np.isnan(ys))] = (
            "no point geometry: the feature is empty or not a Point"
        )
    else:
        raw_x, raw_y = frame[xc].astype(str).str.strip(), frame[yc].astype(str).str.strip()
        xs = pd.to_numeric(raw_x, errors="coerce").to_numpy(dtype=float)
        ys = pd.to_numeric(raw_y, errors="coerce").to_numpy(dtype=float)
        bad_x = ~unread & np.isnan(xs) & ~raw_x.str.lower().isin(["", "nan"]).to_numpy()
        bad_y = ~unread & np.isnan(ys) & ~raw_y.str.lower().isin(["", "nan"]).to_numpy()
        reason[bad_x] = "not a number: " + xc + "=" + raw_x[bad_x].str.slice(0, 40)
        reason[bad_y & (reason == "")] = "not a number: " + yc + "=" + raw_y[bad_y].str.slice(0, 40)
    comp_col = columns.get("component")
    components = frame[comp_col].astype(str).str.strip() if comp_col else None
    if components is not None:
        # Codes are looked up by hashing, never widened to the longest input; an over-long one
        # is no code at all, and says so.
        length = components.str.len().to_numpy()
        too_long = (reason == "").to_numpy() & (length > MAX_CODE_CHARS)
        reason[too_long] = (
            f"component code too long: at most {MAX_CODE_CHARS} characters, got "
            + pd.Series(length[too_long], dtype=object).astype(str).to_numpy()
        )
    todo = (reason == "").to_numpy().copy()
    check = check_coordinates(xs, ys, crs=crs, bounds_lonlat=job.bounds)
    failed = todo & ~check.valid
    reason[failed] = pd.Series(check.reason, dtype=object)[failed]
    todo &= check.valid
    wx = np.full(n, np.nan)
    wy = np.full(n, np.nan)
    if todo.any():
        wx[todo], wy[todo] = to_work(xs[todo], ys[todo], crs=crs)
    located = job.levels.locate_all(wx, wy)
    outside = todo & located["grid_l3"].isna().to_numpy()
    reason[outside] = "outside the district: no grid covers this point"
    placed = todo & ~outside

    out = frame.copy()
    out.insert(0, "row", chunk.row_numbers)
    for c in OUTPUT_COLUMNS:
        out[c] = located[c].where(placed, None).to_numpy()
    event_col = columns.get("event")
    if router is not None and event_col is not None:
        events = frame[event_col].astype(str).str.strip()
        routed = router.route(wx, wy, out["grid_l3"].to_numpy(), events, components, placed)
        for c in ROUTE_COLUMNS:
            out[c] = routed[c].to_numpy()
        unknown = placed & (routed["route_reason_code"] == "unknown_event_type").to_numpy()
        reason[unknown] = "unknown event type: " + frame[event_col].astype(str)[unknown].str.slice(0, 40)
        for k, v in routed.loc[placed & ~unknown, "route_reason_code"].value_counts().items():
            report.routed[str(k)] = report.routed.get(str(k), 0) + int(v)
        placed = placed & ~unknown
    out["reject_reason"] = reason.to_numpy()
    # Always present, so every chunk has the same columns: the raw text of an unreadable record.
    out["raw"] = chunk.raw
    lon = np.full(n, np.nan)
    lat = np.full(n, np.nan)
    if placed.any():
        lon[placed], lat[placed] = to_display(wx[placed], wy[placed])
    report.rows += n
    report.placed += int(placed.sum())
    report.rejected += int((out["reject_reason"] != "").sum())
    report.add_reasons(out["reject_reason"].astype(str))
    return AssignedChunk(frame=out, lon=lon, lat=lat, report=report)


class Router:
    """Routing tables read once from the store and prepared, for all chunks: plain data that
    pickles (a cluster ships it to each worker once, with the :class:`AssignJob`)."""

    def __init__(self, district: District, *, radius: float) -> None:
        from layers.routing import prepare_components

        store = district.store
        self.radius = radius
        self.event_types = store.read_arrow("SELECT * FROM event_types").to_pandas()
        self.departments = store.read_arrow("SELECT * FROM departments").to_pandas()
        components = store.read_arrow(
            "SELECT code, class_code, x, y, maintainer_code, owner_code FROM components"
        ).to_pandas()
        self.names = dict(zip(self.departments["code"], self.departments["name"], strict=True))
        self.table: ComponentTable = prepare_components(components)

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
            components=self.table,
            departments=self.departments,
            radius=self.radius,
        )
        result.loc[idx, "dept_code"] = routed["dept_code"].to_numpy()
        result.loc[idx, "dept_name"] = routed["dept_code"].map(self.names).to_numpy()
        result.loc[idx, "route_reason_code"] = routed["reason_code"].to_numpy()
        result.loc[idx, "route_reason"] = routed["reason"].to_numpy()
        result.loc[idx, "route_component"] = routed["component_code"].to_numpy()
        return result
