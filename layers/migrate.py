"""Copying a whole store between its two kinds: a SQLite file and a PostgreSQL/PostGIS database.

Every table of :data:`layers.store.SCHEMA` is read into Arrow and loaded in bulk (ADBC; ``COPY`` on
PostgreSQL) into a new store, which is built the way every new store is (:func:`build_store`): it
replaces the target only when whole. Before that, each table is counted and checksummed on both
sides; any difference refuses the copy and leaves the target as it was.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.compute as pc

from layers.errors import StoreError
from layers.store import SCHEMA, Store, build_store, open_store, table_columns

#: The tables in the order SCHEMA creates them (parents before the rows that refer to them).
TABLES: tuple[str, ...] = tuple(
    line.split()[2] for line in SCHEMA.splitlines() if line.startswith("CREATE TABLE ")
)


@dataclass
class TableCopy:
    table: str
    rows: int
    checksum: str


@dataclass
class MigrationReport:
    source: str
    target: str
    tables: list[TableCopy] = field(default_factory=list)
    seconds: float = 0.0


def _canonical(tbl: pa.Table) -> pa.Table:
    """Columns in one form whatever store they came from: numbers as float64 (exact for the ids and
    counts a store holds), text as text, bytes as bytes."""
    cols = []
    for col in tbl.columns:
        typ = col.type
        if len(col) and col.null_count == len(col):  # SQLite gives no type to a column of NULLs
            cols.append(pa.nulls(len(col), pa.float64()))
        elif pa.types.is_integer(typ) or pa.types.is_floating(typ) or pa.types.is_null(typ):
            cols.append(pc.cast(col, pa.float64()))
        elif pa.types.is_large_string(typ):
            cols.append(pc.cast(col, pa.string()))
        elif pa.types.is_large_binary(typ):
            cols.append(pc.cast(col, pa.binary()))
        else:
            cols.append(col)
    return pa.table(cols, names=tbl.column_names)


def table_checksum(store: Store, table: str) -> tuple[int, str]:
    """Rows and a SHA-256 of a table's content in key order, the same on either kind of store."""
    cols = table_columns(table)
    tbl = _canonical(store.read_arrow(f"SELECT {', '.join(cols)} FROM {table} ORDER BY 1, 2"))
    h = hashlib.sha256()
    for name, col in zip(tbl.column_names, tbl.columns, strict=True):
        h.update(name.encode())
        arr = col.combine_chunks() if col.num_chunks else pa.array([], col.type)
        if pa.types.is_floating(arr.type):
            h.update(arr.is_null().to_numpy(zero_copy_only=False).tobytes())
            h.update(arr.fill_null(0.0).to_numpy(zero_copy_only=False).tobytes())
        else:
            for v in arr.to_pylist():  # text and bytes: length-prefixed, NULL told apart from ''
                b = b"" if v is None else (v if isinstance(v, bytes) else str(v).encode())
                h.update(b"\x00" if v is None else len(b).to_bytes(8, "little") + b)
    return tbl.num_rows, h.hexdigest()


def migrate(
    source: str | os.PathLike[str],
    target: str | os.PathLike[str],
    *,
    force: bool = False,
    progress: Callable[[str, int, int], None] | None = None,
) -> MigrationReport:
    """Copy the store at ``source`` into a new store at ``target`` (either may be a file or a URL).

    Raises
    ------
    StoreError
        A table differs after the copy (rows or checksum): nothing was replaced.
    StoreExistsError
        ``target`` holds a store and ``force`` is not set.
    """
    t0 = time.perf_counter()
    report = MigrationReport(source=str(source), target=str(target))
    with open_store(source, readonly=True) as src, build_store(target, force=force) as dst:
        with dst.transaction() as conn:
            conn.execute("DELETE FROM duplicate_rules")  # the new store's defaults: the source's replace them
        for i, table in enumerate(TABLES):
            if progress is not None:
                progress(table, i, len(TABLES))
            data = src.read_arrow(f"SELECT {', '.join(table_columns(table))} FROM {table} ORDER BY 1, 2")
            dst.ingest(table, data)
        for i, table in enumerate(TABLES):
            if progress is not None:
                progress(f"check {table}", i, len(TABLES))
            want = table_checksum(src, table)
            got = table_checksum(dst, table)
            if want != got:
                raise StoreError(
                    f"table {table} differs after the copy ({want[0]:,} rows in {source}, {got[0]:,} in the "
                    f"copy; checksums {want[1][:12]} and {got[1][:12]}); {target} was left as it was"
                )
            report.tables.append(TableCopy(table=table, rows=want[0], checksum=want[1]))
    report.seconds = time.perf_counter() - t0
    return report
