"""Chunked reading and writing of point tables: CSV, GeoJSON, Parquet / GeoParquet.

Every value is read as text so nothing a user sent is altered or lost; malformed CSV rows
(wrong number of fields, broken quoting) are not dropped but yielded with the reason, so the
caller can keep them in its output with a reject reason.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from layers.errors import InputFileError

POINT_FORMATS = {
    ".csv": "csv",
    ".geojson": "geojson",
    ".json": "geojson",
    ".parquet": "parquet",
    ".geoparquet": "parquet",
}


def file_format(path: str | os.PathLike[str]) -> str:
    suffix = Path(path).suffix.lower()
    if suffix not in POINT_FORMATS:
        raise InputFileError(
            f"{Path(path).name}: unknown file type {suffix or '(none)'}; use .csv, .geojson or .parquet"
        )
    return POINT_FORMATS[suffix]


@dataclass
class Chunk:
    """A block of rows as text columns, with the row numbers they had in the file (1 = first data row)."""

    frame: pd.DataFrame
    row_numbers: pd.Series
    #: (row number, raw text, reason) of rows the parser could not split into the header's fields
    malformed: list[tuple[int, str, str]] = field(default_factory=list)
    #: x/y taken from point geometries (GeoJSON, GeoParquet); None for plain tables
    geometry_xy: tuple[pd.Series, pd.Series] | None = None


def count_rows(path: Path) -> int | None:
    """Rows in the file where that is cheap to know (for a progress bar), else None."""
    fmt = file_format(path)
    if fmt == "parquet":
        return int(pq.ParquetFile(path).metadata.num_rows)
    if fmt == "csv":
        with path.open("rb") as fh:
            return max(sum(buf.count(b"\n") for buf in iter(lambda: fh.read(1 << 20), b"")) - 1, 0)
    return None


def iter_chunks(path: str | os.PathLike[str], *, chunk_rows: int = 200_000) -> Iterator[Chunk]:
    p = Path(path)
    if not p.is_file():
        raise InputFileError(f"no input file at {p}")
    fmt = file_format(p)
    if fmt == "csv":
        yield from _csv_chunks(p, chunk_rows=chunk_rows)
    elif fmt == "parquet":
        yield from _parquet_chunks(p, chunk_rows=chunk_rows)
    else:
        yield from _geojson_chunks(p, chunk_rows=chunk_rows)


def _csv_chunks(path: Path, *, chunk_rows: int) -> Iterator[Chunk]:
    try:
        with path.open("r", encoding="utf-8-sig", newline="") as fh:
            header_line = fh.readline()
    except UnicodeDecodeError as exc:
        raise InputFileError(f"{path.name}: not UTF-8 text ({exc.reason}); save the CSV as UTF-8") from exc
    if not header_line.strip():
        raise InputFileError(f"{path.name}: empty file, or no header row")
    header = next(
        iter(
            pacsv.read_csv(
                pa.py_buffer(header_line.encode()),
                read_options=pacsv.ReadOptions(autogenerate_column_names=True),
            ).to_pylist()
        )
    )
    names = [str(v).strip() for v in header.values()]
    if len(set(names)) != len(names):
        dupes = sorted({n for n in names if names.count(n) > 1})
        raise InputFileError(f"{path.name}: the header repeats column names {dupes}")
    malformed: list[tuple[int, str, str]] = []

    def on_invalid(row: pacsv.InvalidRow) -> str:
        # number is the 1-based line in the file (header = line 1); keep the row, with its reason
        line = row.number if row.number is not None else -1
        malformed.append(
            (
                line - 1 if line > 0 else line,
                row.text,
                f"malformed CSV row: {row.actual_columns} fields where the header has {row.expected_columns}",
            )
        )
        return "skip"

    reader = pacsv.open_csv(
        path,
        read_options=pacsv.ReadOptions(
            column_names=names, skip_rows=1, block_size=1 << 22, use_threads=False, encoding="utf8"
        ),
        parse_options=pacsv.ParseOptions(invalid_row_handler=on_invalid, newlines_in_values=False),
        convert_options=pacsv.ConvertOptions(
            column_types={n: pa.string() for n in names},
            strings_can_be_null=False,
            quoted_strings_can_be_null=False,
        ),
    )
    next_row = 1
    bad_seen: list[int] = []
    pending: list[pa.RecordBatch] = []
    pending_rows = 0

    def flush() -> Chunk:
        nonlocal next_row, pending, pending_rows
        table = (
            pa.Table.from_batches(pending)
            if pending
            else pa.table({n: pa.array([], pa.string()) for n in names})
        )
        frame = table.to_pandas()
        bad = list(malformed)
        malformed.clear()
        bad_seen.extend(b[0] for b in bad)
        # Good rows are numbered on from the last chunk, skipping the lines the parser rejected
        # (it may have parsed ahead, so every rejected line seen so far counts).
        skipped = np.array([n for n in bad_seen if n >= next_row], dtype=np.int64)
        numbers = np.arange(next_row, next_row + len(frame) + len(skipped), dtype=np.int64)
        numbers = np.setdiff1d(numbers, skipped, assume_unique=True)[: len(frame)]
        good = pd.Series(numbers, dtype="int64")
        if len(numbers):
            next_row = int(numbers[-1]) + 1
        pending, pending_rows = [], 0
        return Chunk(frame=frame, row_numbers=good, malformed=bad)

    try:
        for batch in reader:
            pending.append(batch)
            pending_rows += batch.num_rows
            if pending_rows >= chunk_rows:
                yield flush()
    except pa.ArrowInvalid as exc:
        raise InputFileError(f"{path.name}: cannot be read as CSV ({exc})") from exc
    if pending or malformed:
        yield flush()


def _parquet_chunks(path: Path, *, chunk_rows: int) -> Iterator[Chunk]:
    try:
        pf = pq.ParquetFile(path)
    except (pa.ArrowInvalid, OSError) as exc:
        raise InputFileError(f"{path.name}: not a readable Parquet file ({exc})") from exc
    geo = (pf.schema_arrow.metadata or {}).get(b"geo")
    geom_col = None
    if geo is not None:
        import json

        geom_col = json.loads(geo).get("primary_column")
    start = 1
    for batch in pf.iter_batches(batch_size=chunk_rows):
        xy = None
        if geom_col is not None and geom_col in batch.schema.names:
            xy = _point_xy(batch.column(geom_col))
            batch = batch.drop_columns([geom_col])
        frame = batch.to_pandas()
        frame = frame.astype(str).where(frame.notna(), "")
        yield Chunk(
            frame=frame,
            row_numbers=pd.Series(range(start, start + len(frame)), dtype="int64"),
            geometry_xy=xy,
        )
        start += len(frame)


def _point_xy(wkb: pa.Array) -> tuple[pd.Series, pd.Series]:
    """x, y of WKB geometries; NaN where a geometry is missing or not a point.

    When every value is a 2D little-endian point (21 bytes), x and y are read straight from the
    Arrow buffer (~50× faster than parsing each geometry); anything else goes through shapely.
    """
    n = len(wkb)
    if n and wkb.null_count == 0 and isinstance(wkb, pa.BinaryArray):
        offsets = np.frombuffer(wkb.buffers()[1], dtype=np.int32)[wkb.offset : wkb.offset + n + 1]
        if (np.diff(offsets) == 21).all():
            raw = np.frombuffer(wkb.buffers()[2], dtype=np.uint8)[offsets[0] : offsets[-1]].reshape(n, 21)
            if (raw[:, 0] == 1).all() and (raw[:, 1:5].copy().view("<u4").ravel() == 1).all():
                xy = raw[:, 5:].copy().view("<f8")
                return pd.Series(xy[:, 0]), pd.Series(xy[:, 1])
    import shapely

    geoms = shapely.from_wkb(wkb.to_numpy(zero_copy_only=False))
    is_point = shapely.get_type_id(geoms) == 0
    return (pd.Series(shapely.get_x(geoms)).where(is_point), pd.Series(shapely.get_y(geoms)).where(is_point))


def _geojson_chunks(path: Path, *, chunk_rows: int) -> Iterator[Chunk]:
    import pyogrio
    import shapely

    try:
        info = pyogrio.read_info(path)
    except Exception as exc:  # pyogrio raises several DataSourceError kinds for unreadable files
        raise InputFileError(f"{path.name}: not a readable GeoJSON file ({exc})") from exc
    total = int(info["features"])
    for start in range(0, max(total, 1), chunk_rows):
        gdf = pyogrio.read_dataframe(path, skip_features=start, max_features=chunk_rows)
        geoms = gdf.geometry.to_numpy()
        types = shapely.get_type_id(geoms)
        frame = pd.DataFrame(gdf.drop(columns=gdf.geometry.name))
        frame = frame.astype(str).where(frame.notna(), "")
        # Non-point geometries give NaN coordinates, rejected downstream with the reason.
        is_point = types == 0
        x = pd.Series(shapely.get_x(geoms)).where(is_point)
        y = pd.Series(shapely.get_y(geoms)).where(is_point)
        yield Chunk(
            frame=frame,
            row_numbers=pd.Series(range(start + 1, start + 1 + len(frame)), dtype="int64"),
            geometry_xy=(x, y),
        )


class ChunkWriter:
    """Writes chunks to a temporary file beside ``path``; :meth:`commit` renames it into place."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.fmt = file_format(self.path)
        if not self.path.parent.exists():
            raise InputFileError(f"the folder {self.path.parent} does not exist")
        fd, name = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".tmp", dir=self.path.parent)
        os.close(fd)
        self.tmp = Path(name)
        self._pq: pq.ParquetWriter | None = None
        self._csv: pacsv.CSVWriter | None = None
        self._csv_names: list[str] = []
        self._fh: IO[bytes] | None = None
        self._frames: list[pd.DataFrame] = []
        self._first = True

    def write(
        self, frame: pd.DataFrame, *, lon: pd.Series | None = None, lat: pd.Series | None = None
    ) -> None:
        if self.fmt == "csv":
            # Arrow's C++ writer (pandas' to_csv took 9 of 14 s for 680k rows), every value as
            # text as it was read; the BOM lets spreadsheet programs see UTF-8.
            table = pa.Table.from_pandas(frame, preserve_index=False)
            table = pa.table(
                [pc.fill_null(pc.cast(col, pa.string()), "") for col in table.columns],
                names=table.column_names,
            )
            if self._csv is None:
                self._fh = self.tmp.open("wb")
                self._fh.write("\ufeff".encode())
                self._csv = pacsv.CSVWriter(self._fh, table.schema)
            elif table.column_names != self._csv_names:
                raise ValueError(f"chunk columns {table.column_names} differ from {self._csv_names}")
            self._csv.write_table(table)
            self._csv_names = table.column_names
        elif self.fmt == "parquet":
            table = pa.Table.from_pandas(frame, preserve_index=False)
            if self._pq is None:
                self._pq = pq.ParquetWriter(self.tmp, table.schema)
            self._pq.write_table(table.cast(self._pq.schema))
        else:
            self._frames.append(frame.assign(_lon=lon, _lat=lat))
        self._first = False

    def _close(self) -> None:
        if self._pq is not None:
            self._pq.close()
        if self._csv is not None:
            self._csv.close()
        if self._fh is not None:
            self._fh.close()

    def commit(self) -> None:
        self._close()
        if self.fmt == "geojson":
            import geopandas as gpd

            frame = pd.concat(self._frames, ignore_index=True) if self._frames else pd.DataFrame()
            lon, lat = frame.pop("_lon"), frame.pop("_lat")
            gdf = gpd.GeoDataFrame(frame, geometry=gpd.points_from_xy(lon, lat), crs="EPSG:4326")
            self.tmp.unlink(missing_ok=True)
            gdf.to_file(self.tmp, driver="GeoJSON", engine="pyogrio")
        elif self._first:
            self.tmp.write_text("", encoding="utf-8")
        os.replace(self.tmp, self.path)

    def abort(self) -> None:
        self._close()
        self.tmp.unlink(missing_ok=True)
