"""Batch uploads of surveyed positions: preview a file, keep the preview in the store, confirm it.

:func:`preview_batch` reads a CSV/XLSX file through the one reader of user files
(:mod:`layers.tabular`: size-checked before it is parsed, UTF-8 or GB18030, aliases of column
names, malformed records kept with their reason), validates every row at once with pandas/numpy
and keeps the result in the store: an ``import_batches`` row in state ``previewed`` and one
``import_preview_rows`` row per data row (distance moved, old and new grid, or every reason it was
rejected). A session keeps only the batch id; :func:`load_preview` reads it back.

:func:`confirm_batch` applies the accepted rows in one transaction, refusing the whole batch if any
of them changed since the preview, keeps every rejected row with its reasons in
``import_rejects`` and marks the batch ``applied``. The same file (by SHA-256 of its bytes) applied
before is told at preview and refused at confirmation unless asked for again.

A code given twice: the last row of it that is otherwise good wins; the earlier good rows are
rejected and say which row won. A row placing a component where it already is (closer than a
millimetre) is not a move and makes no new version.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import numpy as np
import pandas as pd

import settings
from layers.codes import is_component_code
from layers.errors import ChangeRefusedError, InputFileError, StaleBatchError, StaleEditError
from layers.store import Conn, Store, read_frame
from layers.survey._base import (
    check_actor,
    coded,
    coordinate_problems,
    district_locator,
    normalise_crs,
)
from layers.survey._base import (
    now as _clock,
)
from layers.survey.edits import SAME_PLACE_M
from layers.tabular import READER_REASONS, open_user_file, read_table, resolve_columns
from spatial import crs as spatial_crs
from spatial.locate import GridLocator

#: Kind recorded in ``import_batches`` for surveyed positions.
BATCH_KIND = "component_positions"

#: Reasons a batch row can be rejected, by code: (Chinese, English); the reader's own first.
REASONS: dict[str, tuple[str, str]] = {
    **READER_REASONS,
    "missing_code": ("缺少部件编码", "missing component code"),
    "malformed_code": ("部件编码格式错误（应为16位数字）", "malformed component code (16 digits expected)"),
    "duplicate_code": (
        "文件中部件编码重复，以后面的行为准",
        "component code given again later in the file, which wins",
    ),
    "unknown_code": ("未知的部件编码", "unknown component code"),
    "missing_coordinate": ("缺少坐标", "missing coordinate"),
    "not_a_number": ("坐标不是数字", "coordinate is not a number"),
    "nan": ("坐标为 NaN 或无穷大", "coordinate is NaN or infinite"),
    "swapped": ("经纬度疑似颠倒", "latitude and longitude look swapped"),
    "wrong_crs": (
        "坐标看似经纬度而非平面坐标，请选择经纬度坐标系",
        "looks like lon/lat degrees, not metres: choose a lon/lat coordinate system",
    ),
    "out_of_range": ("坐标超出有效范围", "coordinate out of range"),
    "outside_district": ("位置不在本区任何网格内", "position outside every grid of the district"),
    "unchanged": (
        "位置未变（不足 1 毫米），无需移动",
        "already at this position (under 1 mm): nothing to move",
    ),
}

_MB = 1024 * 1024
#: A preview left unconfirmed this many days is discarded when the next one is made.
PREVIEW_KEPT_DAYS = 2
_NAN_WORDS = {
    "nan", "-nan", "+nan", "na", "n/a", "null", "none", "inf", "-inf", "+inf", "infinity", "-infinity",
    "+infinity",
}  # fmt: skip
_PREVIEW_COLS = (
    "row_number", "code", "x_in", "y_in", "note", "x", "y", "old_x", "old_y", "old_grid", "new_grid",
    "distance_m", "version", "accepted", "reason_codes", "reason", "raw",
)  # fmt: skip
#: Their types in the staging table (a server store wants them; SQLite takes them as affinities).
_PREVIEW_TYPES = (
    "INTEGER", "TEXT", "TEXT", "TEXT", "TEXT", "REAL", "REAL", "REAL", "REAL", "TEXT", "TEXT",
    "REAL", "INTEGER", "INTEGER", "TEXT", "TEXT", "TEXT",
)  # fmt: skip


@dataclass(frozen=True, eq=False)
class BatchPreview:
    """A checked batch of surveyed positions, kept in the store as batch ``batch_id``, not yet applied.

    ``rows`` has one row per data row of the file, in file order, with columns
    ``row_number`` (line in the file, the header being line 1), ``code``, ``x_in``, ``y_in``,
    ``note`` (as received, text), ``x``, ``y`` (EPSG:4549), ``old_x``, ``old_y``, ``old_grid``,
    ``new_grid``, ``distance_m``, ``version`` (of the component when previewed), ``accepted``,
    ``reason_code`` (the first problem), ``reason_codes`` (every problem, ``";"``-separated),
    ``reason`` (every problem in words, ``"; "``-separated) and ``raw`` (a rejected row as
    received, JSON).
    """

    batch_id: int
    filename: str
    crs: str
    file_format: str
    size_bytes: int
    sha256: str
    columns: dict[str, str | None]
    rows: pd.DataFrame
    store_path: str
    grids_revision: int
    created_at: str
    #: Earlier batches that applied this same file: ``(batch id, when, who)``.
    applied_before: tuple[tuple[int, str, str], ...] = ()

    @property
    def accepted(self) -> pd.DataFrame:
        return self.rows[self.rows["accepted"]]

    @property
    def rejected(self) -> pd.DataFrame:
        return self.rows[~self.rows["accepted"]]

    @property
    def n_rows(self) -> int:
        return len(self.rows)

    @property
    def n_accepted(self) -> int:
        return int(self.rows["accepted"].sum())

    @property
    def n_rejected(self) -> int:
        return self.n_rows - self.n_accepted

    def reason_counts(self) -> pd.Series:
        """Rejected rows per first reason code."""
        return self.rejected["reason_code"].value_counts()


@dataclass(frozen=True)
class BatchResult:
    batch_id: int
    accepted: int
    rejected: int
    at: str
    history_ids: list[int] = field(default_factory=list)


def reason_label(code: str, *, lang: str = "zh") -> str:
    """The display label of a reject reason code."""
    zh, en = REASONS.get(code, (code, code))
    return en if lang == "en" else zh


def reason_labels(codes: str, *, lang: str = "zh") -> str:
    """Every reason of a row (``";"``-separated codes), in words of ``lang``."""
    sep = "; " if lang == "en" else "；"
    return sep.join(reason_label(c, lang=lang) for c in str(codes).split(";") if c)


def _resolve_columns(
    columns: list[str],
    *,
    filename: str,
    code_column: str | None,
    x_column: str | None,
    y_column: str | None,
    note_column: str | None,
) -> dict[str, str | None]:
    chosen = resolve_columns(
        columns,
        filename=filename,
        roles={"code": code_column, "x": x_column, "y": y_column, "note": note_column},
        required=("code", "x", "y"),
        hint="Name the columns code, x, y (or lon, lat), or choose them.",
    )
    picked = [chosen[k] for k in ("code", "x", "y")]
    if len(set(picked)) < 3:
        raise coded(
            InputFileError(f"{filename}: code, x and y must be three different columns, got {picked}"),
            "file_same_columns",
            file=filename,
            columns=", ".join(str(p) for p in picked),
        )
    return chosen


class _Reasons:
    """Per-row problem collector: every reason code, and every reason as text."""

    def __init__(self, n: int) -> None:
        self.codes = np.full(n, "", dtype=object)
        self.text = np.full(n, "", dtype=object)

    def add(self, mask: np.ndarray, code: str, detail: np.ndarray | str = "") -> None:
        mask = np.asarray(mask, dtype=bool)
        if not mask.any():
            return
        label = REASONS[code][1]
        if isinstance(detail, str):
            msg: np.ndarray | str = f"{label}: {detail}" if detail else label
        else:
            d = np.asarray(detail, dtype=object)
            msg = np.where(d == "", label, (label + ": ") + d.astype(str).astype(object))
        self.codes = np.where(mask, np.where(self.codes == "", code, self.codes + ";" + code), self.codes)
        self.text = np.where(mask, np.where(self.text == "", msg, self.text + "; " + msg), self.text)

    @property
    def ok(self) -> np.ndarray:
        return self.codes == ""


def _fetch_components(conn: Conn, codes: np.ndarray) -> pd.DataFrame:
    """Current x, y, grid and version of the given codes in one query (codes passed as one JSON array)."""
    return read_frame(
        "SELECT c.code, c.x, c.y, c.grid_code, c.version FROM components c "
        "JOIN (SELECT DISTINCT value AS code FROM json_each(?)) w ON w.code = c.code",
        conn,
        params=[json.dumps([str(c) for c in np.asarray(codes).tolist()])],
    )


def _check_rows(
    store: Store,
    frame: pd.DataFrame,
    chosen: dict[str, str | None],
    *,
    row_number: np.ndarray,
    unread: np.ndarray,
    reader_code: np.ndarray,
    reader_detail: np.ndarray,
    canonical: str,
    locator: GridLocator | None,
) -> pd.DataFrame:
    """Every check of every row, at once: the preview's rows (without ``raw``)."""
    n = len(frame)
    code = frame[chosen["code"]].str.strip()  # type: ignore[index]
    x_in = frame[chosen["x"]].str.strip()  # type: ignore[index]
    y_in = frame[chosen["y"]].str.strip()  # type: ignore[index]
    note = frame[chosen["note"]] if chosen["note"] else pd.Series([""] * n, dtype=object)
    r = _Reasons(n)
    # Records the reader could not split keep its reason (malformed row, unterminated quote, ...).
    for rc in np.unique(reader_code[unread]):
        r.add(unread & (reader_code == rc), str(rc), reader_detail)
    live = ~unread

    code_arr = code.to_numpy(dtype=object)
    r.add(live & (code_arr == ""), "missing_code")
    well_formed_arr = is_component_code(code)
    r.add(live & (code_arr != "") & ~well_formed_arr, "malformed_code", np.where(live, code_arr, ""))
    counted = well_formed_arr & live

    existing = _fetch_components(store.conn, np.unique(code_arr[counted])).set_index("code")
    known = pd.Series(code_arr).isin(existing.index).to_numpy(dtype=bool)
    r.add(counted & ~known, "unknown_code", np.where(counted, code_arr, ""))

    xs = pd.to_numeric(x_in.where(x_in != "", None), errors="coerce")
    ys = pd.to_numeric(y_in.where(y_in != "", None), errors="coerce")
    x_num = xs.to_numpy(dtype=float, na_value=np.nan)
    y_num = ys.to_numpy(dtype=float, na_value=np.nan)
    x_empty = (x_in == "").to_numpy(dtype=bool)
    y_empty = (y_in == "").to_numpy(dtype=bool)
    r.add(
        live & (x_empty | y_empty),
        "missing_coordinate",
        np.where(x_empty & y_empty, "x and y", np.where(x_empty, "x", "y")).astype(object),
    )
    x_nanword = x_in.str.lower().isin(_NAN_WORDS).to_numpy(dtype=bool)
    y_nanword = y_in.str.lower().isin(_NAN_WORDS).to_numpy(dtype=bool)
    x_text = ~x_empty & ~x_nanword & np.isnan(x_num)
    y_text = ~y_empty & ~y_nanword & np.isnan(y_num)
    r.add(
        live & (x_text | y_text),
        "not_a_number",
        np.where(x_text, x_in.to_numpy(dtype=object), y_in.to_numpy(dtype=object)),
    )
    numeric = live & ~x_empty & ~y_empty & ~x_text & ~y_text
    problem = np.full(n, "", dtype=object)
    words = np.full(n, "", dtype=object)
    if numeric.any():
        problem[numeric], words[numeric] = coordinate_problems(x_num[numeric], y_num[numeric], crs=canonical)
    shown = words + " (" + x_in.to_numpy(dtype=object) + ", " + y_in.to_numpy(dtype=object) + ")"
    for rc in ("nan", "swapped", "wrong_crs", "out_of_range"):
        r.add(problem == rc, rc, shown)
    placeable = numeric & (problem == "")

    wx = np.full(n, np.nan)
    wy = np.full(n, np.nan)
    new_grid = np.full(n, None, dtype=object)
    if placeable.any():
        px, py = spatial_crs.to_work(x_num[placeable], y_num[placeable], crs=canonical)
        wx[placeable] = np.asarray(px, dtype=float)
        wy[placeable] = np.asarray(py, dtype=float)
        loc = locator or district_locator(store)
        new_grid[placeable] = loc.locate(wx[placeable], wy[placeable])
    r.add(placeable & pd.isna(new_grid), "outside_district")

    old = existing.reindex(code_arr)
    old_x = old["x"].to_numpy(dtype=float, na_value=np.nan)
    old_y = old["y"].to_numpy(dtype=float, na_value=np.nan)
    distance = np.hypot(wx - old_x, wy - old_y)
    r.add(r.ok & (distance < SAME_PLACE_M), "unchanged")

    # A code given twice: of its rows that are good otherwise, the last one wins (a later line of a
    # survey corrects an earlier one); the earlier ones say which row won. Bad rows take no part.
    good = r.ok.copy()
    if good.any():
        codes_good = code_arr[good]
        # For each good row, the position (among the good rows) of its code's last good row.
        winner_pos = pd.Series(np.arange(codes_good.size)).groupby(codes_good).transform("max").to_numpy()
        beaten = np.zeros(n, dtype=bool)
        good_idx = np.flatnonzero(good)
        lost = winner_pos != np.arange(good_idx.size)
        beaten[good_idx[lost]] = True
        detail = np.full(n, "", dtype=object)
        detail[good_idx[lost]] = (
            "row "
            + pd.Series(row_number[good_idx[winner_pos[lost]]]).astype(str).to_numpy(dtype=object)
            + " wins"
        )
        r.add(beaten, "duplicate_code", detail)

    codes = r.codes
    rows = pd.DataFrame(
        {
            "row_number": row_number,
            "code": code_arr,
            "x_in": x_in.to_numpy(dtype=object),
            "y_in": y_in.to_numpy(dtype=object),
            "note": note.to_numpy(dtype=object),
            "x": wx,
            "y": wy,
            "old_x": old_x,
            "old_y": old_y,
            "old_grid": old["grid_code"].to_numpy(dtype=object),
            "new_grid": new_grid,
            "distance_m": distance,
            "version": old["version"].to_numpy(dtype=float, na_value=np.nan),
            "accepted": r.ok,
            "reason_codes": codes,
            "reason": r.text,
        }
    )
    rows["version"] = rows["version"].astype("Int64")
    return rows


def _with_first_reason(rows: pd.DataFrame) -> pd.DataFrame:
    rows["reason_code"] = rows["reason_codes"].astype(str).str.split(";", n=1).str[0]
    return rows


def preview_batch(
    store: Store,
    data: bytes | bytearray | memoryview | IO[bytes] | str | os.PathLike[str],
    *,
    filename: str,
    crs: str,
    actor: str = "",
    max_bytes: int | None = None,
    code_column: str | None = None,
    x_column: str | None = None,
    y_column: str | None = None,
    note_column: str | None = None,
    locator: GridLocator | None = None,
) -> BatchPreview:
    """Check a CSV/XLSX of surveyed positions and keep the preview in the store; nothing is moved.

    The file must have a code column and x/y (or lon/lat) columns; other names can be given.
    A file larger than ``max_bytes`` (default ``settings.MAX_UPLOAD_MB``) is refused before it is
    read. Every row is checked: the line's shape, the code (present, 16 digits, known in the
    store), the coordinates (present, numbers, finite, not swapped, in range), the position
    (inside a grid of the district, not where the component already is) and, for a code given
    twice, which row wins. Every reason of a row is reported. Free text (a note) is kept as text.

    Raises
    ------
    InputFileError
        The file is too large, not CSV/XLSX, unreadable, or lacks the columns (the message lists
        the columns it has).
    CRSError
        ``crs`` is not one of :data:`SURVEY_CRS`.
    """
    canonical = normalise_crs(crs)
    limit = int(max_bytes) if max_bytes is not None else settings.MAX_UPLOAD_MB * _MB
    uf = open_user_file(data, filename=str(filename or "upload"), max_bytes=limit, formats=("csv", "xlsx"))
    digest = hashlib.sha256(uf.read_bytes()).hexdigest()
    table = read_table(uf, max_bytes=limit, formats=("csv", "xlsx"))
    chosen = _resolve_columns(
        [str(c) for c in table.frame.columns],
        filename=table.name,
        code_column=code_column,
        x_column=x_column,
        y_column=y_column,
        note_column=note_column,
    )
    frame = table.frame.astype(object).where(table.frame.notna(), "").astype(str)
    unread = table.rejected
    # Rows of empty fields carry nothing; they are not rows (and keeping them would only add noise).
    blank = ~unread & (frame.apply(lambda s: s.str.strip()) == "").all(axis=1).to_numpy()
    frame = frame.loc[~blank].reset_index(drop=True)
    # The header is line 1 of the file: row numbers count from 2.
    row_number = table.row_numbers[~blank] + 1
    unread = unread[~blank]
    rows = _check_rows(
        store,
        frame,
        chosen,
        row_number=row_number,
        unread=unread,
        reader_code=table.reject_code[~blank],
        reader_detail=table.reject_detail[~blank],
        canonical=canonical,
        locator=locator,
    )

    # The row as received, as JSON (built by pandas in C); malformed lines keep all their fields.
    raw = np.full(len(rows), None, dtype=object)
    rejected_idx = np.flatnonzero(~rows["accepted"].to_numpy(dtype=bool))
    if rejected_idx.size:
        lines = frame.iloc[rejected_idx].to_json(orient="records", force_ascii=False, lines=True).split("\n")
        raw[rejected_idx] = [ln for ln in lines if ln]
        raw_text = table.raw[~blank]
        for pos in np.flatnonzero(unread):  # as read from the file, since it has no fields
            raw[pos] = json.dumps({"raw": raw_text[pos]}, ensure_ascii=False)
    rows["raw"] = raw

    at = _clock()
    detail = {
        "format": table.fmt,
        "size": table.size,
        "columns": chosen,
        "grids_revision": store.revision("grids"),
    }
    batch_id = _keep_preview(
        store, rows, filename=table.name, crs=canonical, sha256=digest, detail=detail, at=at, actor=actor
    )
    return load_preview(store, batch_id)


def _days_before(at: str, days: int) -> str:
    return (dt.datetime.fromisoformat(at) - dt.timedelta(days=days)).isoformat()


def _keep_preview(
    store: Store,
    rows: pd.DataFrame,
    *,
    filename: str,
    crs: str,
    sha256: str,
    detail: dict[str, Any],
    at: str,
    actor: str,
) -> int:
    """Write the preview: rows staged in a TEMP table first, so the store is locked only to copy them."""
    staged = f"preview_{secrets.token_hex(6)}"
    conn = store.conn
    # Column lists zipped into tuples (no per-row pandas objects); SQLite stores a NaN as NULL.
    columns: list[list[object]] = []
    for name in _PREVIEW_COLS:
        col = rows[name]
        if name == "accepted":
            columns.append(col.astype(int).tolist())
        elif name == "version":
            columns.append(col.astype(object).where(col.notna(), None).tolist())
        else:
            columns.append(col.tolist())
    conn.execute("BEGIN")  # only TEMP is written: no lock on the store
    try:
        conn.execute(
            f"CREATE TEMP TABLE {staged} "
            f"({', '.join(f'{c} {t}' for c, t in zip(_PREVIEW_COLS, _PREVIEW_TYPES, strict=True))})"
        )
        conn.executemany(
            f"INSERT INTO temp.{staged} VALUES ({','.join('?' * len(_PREVIEW_COLS))})",
            zip(*columns, strict=True),
        )
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
    try:
        n_ok = int(rows["accepted"].sum())
        with store.transaction() as tx:
            cur = tx.execute(
                "INSERT INTO import_batches(kind, source, at, actor, rows, accepted, rejected, state, sha256, "
                "crs, detail) VALUES (?,?,?,?,?,?,?,'previewed',?,?,?)",
                (BATCH_KIND, filename, at, actor or "", len(rows), n_ok, len(rows) - n_ok, sha256, crs,
                 json.dumps(detail, ensure_ascii=False)),
            )  # fmt: skip
            batch_id = int(cur.lastrowid or 0)
            # Previews nobody confirmed or discarded (a closed browser tab) do not pile up.
            stale = tx.execute(
                "SELECT id FROM import_batches WHERE kind = ? AND state = 'previewed' AND at < ?",
                (BATCH_KIND, _days_before(at, PREVIEW_KEPT_DAYS)),
            ).fetchall()
            for (old,) in stale:
                tx.execute("UPDATE import_batches SET state = 'discarded' WHERE id = ?", (old,))
                tx.execute("DELETE FROM import_preview_rows WHERE batch_id = ?", (old,))
            tx.execute(
                f"INSERT INTO import_preview_rows(batch_id, {', '.join(_PREVIEW_COLS).replace('reason_codes', 'reason_code')}) "
                f"SELECT ?, {', '.join(_PREVIEW_COLS)} FROM temp.{staged}",
                (batch_id,),
            )
    finally:
        conn.execute(f"DROP TABLE IF EXISTS temp.{staged}")
    return batch_id


def _batch_row(store: Store, batch_id: int) -> tuple[Any, ...]:
    row = store.conn.execute(
        "SELECT id, source, at, state, sha256, crs, detail FROM import_batches WHERE id = ? AND kind = ?",
        (int(batch_id), BATCH_KIND),
    ).fetchone()
    if row is None:
        raise coded(
            ChangeRefusedError(f"there is no batch {batch_id} of surveyed positions"), "no_batch", id=batch_id
        )
    return tuple(row)


def load_preview(store: Store, batch_id: int) -> BatchPreview:
    """The preview kept as batch ``batch_id``, read back from the store.

    Raises :class:`ChangeRefusedError` if there is no such batch, or it is no longer a preview
    (applied or discarded).
    """
    bid, source, at, state, sha256, crs, detail_json = _batch_row(store, batch_id)
    if state != "previewed":
        raise coded(
            ChangeRefusedError(f"batch {bid} ({source}) was {state}; it is no longer a preview"),
            f"batch_{state}",
            id=bid,
            file=source,
        )
    # Through sqlite3, not Arrow: Arrow's reader types a column by its first rows, and a preview's
    # columns are NULL in some rows (no grid for an unknown code, no raw text for an accepted row).
    rows = read_frame(
        f"SELECT {', '.join(_PREVIEW_COLS).replace('reason_codes', 'reason_code AS reason_codes')} "
        "FROM import_preview_rows WHERE batch_id = ? ORDER BY row_number",
        store.conn,
        params=[int(bid)],
    )
    rows["accepted"] = rows["accepted"].astype(bool)
    rows["version"] = rows["version"].astype("Int64")
    for col in ("x", "y", "old_x", "old_y", "distance_m"):
        rows[col] = rows[col].astype(float)
    for col in ("code", "x_in", "y_in", "note", "reason_codes", "reason"):
        rows[col] = rows[col].fillna("").astype(object)
    detail = json.loads(detail_json or "{}")
    earlier = store.conn.execute(
        "SELECT id, at, actor FROM import_batches WHERE kind = ? AND sha256 = ? AND state = 'applied' "
        "AND id <> ? ORDER BY id",
        (BATCH_KIND, sha256, bid),
    ).fetchall()
    return BatchPreview(
        batch_id=int(bid),
        filename=str(source),
        crs=str(crs),
        file_format=str(detail.get("format", "")),
        size_bytes=int(detail.get("size", 0)),
        sha256=str(sha256),
        columns=dict(detail.get("columns", {})),
        rows=_with_first_reason(rows),
        store_path=str(Path(store.path).resolve()),
        grids_revision=int(detail.get("grids_revision", -1)),
        created_at=str(at),
        applied_before=tuple((int(i), str(a), str(w)) for i, a, w in earlier),
    )


def discard_batch(store: Store, batch_id: int) -> None:
    """Drop a preview that will not be applied (its rows go; the batch stays, marked discarded)."""
    with store.transaction() as conn:
        conn.execute(
            "UPDATE import_batches SET state = 'discarded' WHERE id = ? AND kind = ? AND state = 'previewed'",
            (int(batch_id), BATCH_KIND),
        )
        conn.execute("DELETE FROM import_preview_rows WHERE batch_id = ?", (int(batch_id),))


def _stage_batch(conn: Conn, accepted: pd.DataFrame) -> str:
    """Copy the accepted rows, with their history JSON, into a TEMP table of this connection.

    Done before the write lock is taken: a TEMP table lives in the connection's own temporary
    database, so filling it (and building the JSON) holds no lock on the store, and the locked
    part of :func:`confirm_batch` is a few set-wise statements run by SQLite in C.
    """
    name = f"batch_{secrets.token_hex(6)}"
    dumps = json.dumps
    ox, oy = accepted["old_x"].tolist(), accepted["old_y"].tolist()
    og = accepted["old_grid"].tolist()
    nx, ny = accepted["x"].to_numpy(dtype=float).tolist(), accepted["y"].to_numpy(dtype=float).tolist()
    ng = accepted["new_grid"].astype(str).tolist()
    before = [
        dumps({"x": a, "y": b, "grid_code": g}, ensure_ascii=False)
        for a, b, g in zip(ox, oy, og, strict=True)
    ]
    after = [
        dumps({"x": a, "y": b, "grid_code": g}, ensure_ascii=False)
        for a, b, g in zip(nx, ny, ng, strict=True)
    ]
    rows = zip(
        range(1, len(accepted) + 1),
        accepted["code"].astype(str).tolist(),
        accepted["version"].astype("int64").tolist(),
        nx,
        ny,
        ng,
        before,
        after,
        accepted["note"].astype(str).str.strip().tolist(),
        strict=True,
    )
    conn.execute("BEGIN")  # deferred, and only TEMP is written: no lock on the store
    try:
        conn.execute(
            f"CREATE TEMP TABLE {name} (seq INTEGER NOT NULL, code TEXT NOT NULL, version INTEGER NOT NULL, "
            "x REAL NOT NULL, "
            "y REAL NOT NULL, grid TEXT NOT NULL, before TEXT NOT NULL, after TEXT NOT NULL, note TEXT NOT NULL)"
        )
        conn.executemany(f"INSERT INTO temp.{name} VALUES (?,?,?,?,?,?,?,?,?)", rows)
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
    return name


def _stale_batch_check(conn: Conn, preview: BatchPreview, staged: str) -> None:
    changed = conn.execute(
        f"SELECT b.code, c.version FROM temp.{staged} b LEFT JOIN main.components c ON c.code = b.code "
        "WHERE c.version IS NOT b.version ORDER BY b.seq"
    ).fetchall()
    if changed:
        codes = [str(c) for c, _ in changed]
        cur: dict[str, object] = {str(c): (None if v is None else int(v)) for c, v in changed}
        shown = ", ".join(
            f"{c} (now {'gone' if v is None else f'version {v}'})" for c, v in list(cur.items())[:10]
        )
        more = f" and {len(codes) - 10} more" if len(codes) > 10 else ""
        raise coded(
            StaleBatchError(
                f"{len(codes)} component(s) changed since the preview of {preview.filename}: {shown}{more}. "
                "Nothing of the batch was applied; preview the file again.",
                codes=codes,
                current=cur,
            ),
            "stale_batch",
            n=len(codes),
            file=preview.filename,
            codes=", ".join(codes[:10]),
        )


def _apply_moves(conn: Conn, preview: BatchPreview, staged: str, *, n: int, at: str) -> None:
    """Move the staged components that are still at the previewed version; refuse all if any is not.

    The version test is part of the UPDATE, so the usual case needs no separate check; only when
    fewer rows were moved than staged is the stale list read, and the caller's transaction rolls
    back with :class:`StaleBatchError`.
    """
    cur = conn.execute(
        f"UPDATE main.components SET x = b.x, y = b.y, grid_code = b.grid, changed_on = ?, "
        f"version = b.version + 1 FROM temp.{staged} b "
        "WHERE main.components.code = b.code AND main.components.version = b.version",
        (at[:10],),
    )
    if cur.rowcount != n:
        # Read the versions as they were before this UPDATE: undo it first (savepoint of the caller).
        conn.execute("ROLLBACK TO batch_moves")
        _stale_batch_check(conn, preview, staged)
        raise StaleEditError(  # pragma: no cover - a row moved but none stale cannot happen under the lock
            "components changed while the batch was being written; nothing was applied"
        )


def _append_batch_history(conn: Conn, staged: str, *, batch_id: int, actor: str, at: str) -> list[int]:
    reason = f"batch {batch_id}"
    # The store numbers the rows in the order given, so history ids follow the file.
    ids = conn.execute(
        "INSERT INTO component_history"
        "(component_code, version, changed_at, actor, action, before, after, reason) "
        "SELECT b.code, b.version + 1, ?, ?, 'move', b.before, b.after, "
        f"CASE WHEN b.note = '' THEN ? ELSE ? || ': ' || b.note END FROM temp.{staged} b ORDER BY b.seq "
        "RETURNING id",
        (at, actor, reason, reason),
    ).fetchall()
    return sorted(int(r[0]) for r in ids)


def _record_rejects(conn: Conn, preview: BatchPreview, *, batch_id: int) -> None:
    """Every rejected row of the preview, as received, with its reasons (first code, then words)."""
    conn.execute(
        "INSERT INTO import_rejects(batch_id, row_number, raw, reason) "
        "SELECT batch_id, row_number, COALESCE(raw, '{}'), "
        "  CASE WHEN instr(reason_code, ';') > 0 THEN substr(reason_code, 1, instr(reason_code, ';') - 1) "
        "       ELSE reason_code END || ': ' || reason "
        "FROM import_preview_rows WHERE batch_id = ? AND NOT accepted ORDER BY row_number",
        (batch_id,),
    )


def confirm_batch(
    store: Store,
    preview: BatchPreview | int,
    *,
    actor: str,
    again: bool = False,
    now: str | None = None,
) -> BatchResult:
    """Apply the accepted rows of a kept preview (or its batch id) in ONE transaction; keep its rejects.

    Marks the ``import_batches`` row ``applied``, keeps every rejected row (as received, with its
    reasons) in ``import_rejects`` and writes one ``move`` history row per moved component (reason
    ``batch <id>``). The rows and their history are staged in a TEMP table before the write lock
    is taken, so the store is locked only for a few set-wise statements (bench/RESULTS.md).

    Raises
    ------
    StaleBatchError
        An accepted component changed (or vanished) since the preview; ``.codes`` names them.
        Nothing is applied.
    StaleEditError
        The grids were redrawn since the preview, or the preview is of another store.
    ChangeRefusedError
        The batch was applied or discarded already; or the same file was applied before as
        another batch and ``again`` was not given.
    StoreBusyError
        Another write held the store longer than the busy timeout; nothing was applied.
    """
    who = check_actor(actor)
    if isinstance(preview, BatchPreview):
        if str(Path(store.path).resolve()) != preview.store_path:
            raise StaleEditError(
                f"this preview was made on another store ({preview.store_path}); preview again"
            )
        batch_id = preview.batch_id
    else:
        batch_id = int(preview)
    kept = load_preview(store, batch_id)
    if kept.applied_before and not again:
        first = kept.applied_before[0]
        raise coded(
            ChangeRefusedError(
                f"{kept.filename} was applied before, as batch {first[0]} on {first[1]} by {first[2]}; "
                "confirm again only if it is meant to be applied twice"
            ),
            "file_applied",
            file=kept.filename,
            id=first[0],
            at=first[1],
            actor=first[2],
        )
    at = now or _clock()
    accepted = kept.accepted
    n = len(accepted)
    staged = _stage_batch(store.conn, accepted) if n else ""
    try:
        with store.transaction() as conn:
            if store.revision("grids") != kept.grids_revision:
                raise coded(
                    StaleEditError(
                        "the grids changed since the preview, so new grids may differ; preview again"
                    ),
                    "grids_changed",
                )
            done = conn.execute(
                "UPDATE import_batches SET state = 'applied', at = ?, actor = ? WHERE id = ? AND state = 'previewed'",
                (at, who, batch_id),
            )
            if done.rowcount != 1:  # confirmed by another session meanwhile
                raise coded(
                    ChangeRefusedError(f"batch {batch_id} was applied meanwhile; nothing was done"),
                    "batch_applied",
                    id=batch_id,
                    file=kept.filename,
                )
            ids: list[int] = []
            if n:
                conn.execute("SAVEPOINT batch_moves")
                _apply_moves(conn, kept, staged, n=n, at=at)
                conn.execute("RELEASE batch_moves")
                ids = _append_batch_history(conn, staged, batch_id=batch_id, actor=who, at=at)
            if kept.n_rejected:
                _record_rejects(conn, kept, batch_id=batch_id)
            if n:
                store.bump_revision(conn, "components")
    finally:
        if staged:
            store.conn.execute(f"DROP TABLE IF EXISTS temp.{staged}")
    # The applied preview's rows go in a second, short write: not under the batch's lock. Left
    # behind by a crash here, they belong to an applied batch and are never read again.
    with store.transaction() as conn:
        conn.execute("DELETE FROM import_preview_rows WHERE batch_id = ?", (batch_id,))
    return BatchResult(
        batch_id=batch_id, accepted=kept.n_accepted, rejected=kept.n_rejected, at=at, history_ids=ids
    )
