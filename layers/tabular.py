"""The one reader of user files, and the chunked writer of point tables.

Every table a user hands in — the ``assign`` input, the surveyor's batch upload, a case intake —
is read here, one way:

- from a path or from bytes (an upload) with its file name, size-checked before it is read
  (:data:`settings.MAX_UPLOAD_MB` for uploads; an XLSX, being a zip, is also checked for how much
  it unpacks to);
- CSV in UTF-8 (with or without BOM) or GB18030, XLSX (first sheet), GeoJSON, JSON lines
  (``.jsonl``/``.ndjson``), a ``.json`` file holding a JSON array of objects (Open311 GeoReport v2
  requests) or a FeatureCollection (told apart by content), and Parquet / GeoParquet;
- every value as text, so nothing a user sent is altered;
- in chunks of rows, each record exactly once and in file order, with its row number; a record
  that cannot be read (wrong number of fields, an unterminated quote, a field too long, bytes not
  in the file's encoding, a JSON line that is not an object) comes out in its place with its raw
  text and a reason code from :data:`READER_REASONS`.

Column roles (x, y, code, event, ...) are found through :data:`COLUMN_ALIASES` by
:func:`resolve_columns`, the one place names in Chinese and English are recognised.
"""

from __future__ import annotations

import codecs
import datetime as dt
import io
import json
import math
import os
import tempfile
import zipfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

import settings
from layers import _csvsplit
from layers.errors import InputFileError, coded

__all__ = [
    "COLUMN_ALIASES",
    "INPUT_FORMATS",
    "MAX_FIELD_BYTES",
    "MAX_RECORD_BYTES",
    "OUTPUT_FORMATS",
    "READER_REASONS",
    "Chunk",
    "ChunkWriter",
    "LazyChunk",
    "Table",
    "UserFile",
    "check_upload_size",
    "count_rows",
    "file_format",
    "iter_chunks",
    "iter_lazy_chunks",
    "open_user_file",
    "read_table",
    "reader_reason",
    "resolve_columns",
]

_MB = 1024 * 1024

#: A field longer than this (bytes of UTF-8) rejects its row; far above any code or note.
MAX_FIELD_BYTES = 1 * _MB
#: A record still open after this many bytes is cut at its first line end (an unterminated quote).
MAX_RECORD_BYTES = 16 * _MB
#: An XLSX may unpack to at most this many times the upload limit, and to at most
#: :data:`XLSX_MAX_RATIO` times its own size (real workbooks compress 5-10x; zip bombs 1000x).
XLSX_INFLATE_FACTOR = 10
XLSX_MAX_RATIO = 100
#: Raw text kept of a record rejected for its length.
RAW_KEEP_CHARS = 65_536
# Bytes read per block; a block's records become one or more chunks.
_BLOCK = 8 * _MB

#: Reasons the reader rejects a record, by code: (Chinese, English). Callers add their own.
READER_REASONS: dict[str, tuple[str, str]] = {
    "malformed_row": ("行格式错误（字段数不符）", "malformed row (wrong number of fields)"),
    "unterminated_quote": ("引号未闭合", "unterminated quote"),
    "field_too_long": ("字段过长", "field too long"),
    "record_too_long": ("行过长", "row too long"),
    "bad_encoding": ("含有无法识别的字符编码", "text not in the file's encoding"),
    "bad_json": ("不是有效的 JSON", "not valid JSON"),
    "not_an_object": ("不是 JSON 对象", "not a JSON object"),
}


def reader_reason(code: str, detail: str = "", *, lang: str = "en") -> str:
    """``label: detail`` of a reader reject code, in English (default) or Chinese."""
    zh, en = READER_REASONS.get(code, (code, code))
    label = zh if lang == "zh" else en
    return f"{label}: {detail}" if detail else label


#: Column roles and the names (compared case-insensitively, trimmed) that fill them, Chinese and
#: English, Open311 GeoReport v2 included. An explicit column name always wins over these.
COLUMN_ALIASES: dict[str, tuple[str, ...]] = {
    "x": ("x", "lon", "lng", "long", "longitude", "经度", "东坐标", "x坐标", "xcoord"),
    "y": ("y", "lat", "latitude", "纬度", "北坐标", "y坐标", "ycoord"),
    "code": ("code", "component_code", "部件编码", "编码", "部件代码"),
    "component": ("component", "component_code", "部件编码", "部件代码", "部件"),
    "note": ("note", "remark", "comment", "备注", "说明"),
    "event": ("event", "event_type", "event_code", "service_code", "事件类型", "事件类型编码", "事件编码"),
    "channel": ("channel", "source", "渠道", "来源", "上报渠道"),
    "external_id": ("external_id", "service_request_id", "request_id", "id", "工单号", "编号"),
    "description": ("description", "desc", "content", "details", "描述", "问题描述", "内容"),
    "time": ("time", "requested_datetime", "datetime", "reported_at", "时间", "上报时间", "发生时间"),
    "address": ("address", "address_string", "地址", "位置", "详细地址"),
    "phone": ("phone", "telephone", "mobile", "电话", "联系电话", "手机"),
    "media_url": ("media_url", "photo", "image", "photo_url", "图片", "照片"),
    "crs": ("crs", "坐标系"),
}
# How a missing role is named in a message.
_ROLE_LABELS = {"x": "x or lon", "y": "y or lat"}


def resolve_columns(
    columns: Sequence[str],
    *,
    filename: str,
    roles: Mapping[str, str | None],
    required: Sequence[str] = (),
    hint: str = "",
) -> dict[str, str | None]:
    """The file's column for each role: the name given, else the first alias found, else None.

    Parameters
    ----------
    columns
        The file's column names.
    roles
        Role -> column name asked for by the user (``None`` to find it by :data:`COLUMN_ALIASES`).
    required
        Roles that must be found.
    hint
        Appended to the message when a column is missing (how to name it).

    Raises
    ------
    InputFileError
        A column asked for is not in the file, or a required role has no column; the message
        lists the columns the file has.
    """
    cols = [str(c) for c in columns]
    norm: dict[str, str] = {}
    for c in cols:
        norm.setdefault(c.strip().lower(), c)
    chosen: dict[str, str | None] = {}
    missing: list[str] = []
    for role, asked in roles.items():
        if asked:
            if asked in cols:
                chosen[role] = asked
            elif asked.strip().lower() in norm:
                chosen[role] = norm[asked.strip().lower()]
            else:
                chosen[role] = None
                missing.append(asked)
            continue
        found = next((norm[a] for a in COLUMN_ALIASES.get(role, (role,)) if a in norm), None)
        chosen[role] = found
        if found is None and role in required:
            missing.append(_ROLE_LABELS.get(role, role))
    if missing:
        shown = ", ".join(repr(c) for c in cols) if cols else "no columns at all"
        raise coded(
            InputFileError(
                f"{filename}: missing column(s) {', '.join(repr(m) for m in missing)}; the file has {shown}."
                + (f" {hint}" if hint else "")
            ),
            "file_columns",
            file=filename,
            missing=", ".join(missing),
            has=", ".join(cols),
        )
    return chosen


# ------------------------------------------------------------------------------------ the file
#: Formats read, by name.
INPUT_FORMATS = ("csv", "xlsx", "geojson", "json", "jsonl", "parquet")
_SUFFIXES = {
    "csv": ".csv",
    "xlsx": ".xlsx",
    "geojson": ".geojson",
    "json": ".json",
    "jsonl": ".jsonl",
    "parquet": ".parquet",
}
#: Formats written, by file suffix.
OUTPUT_FORMATS = {
    ".csv": "csv",
    ".geojson": "geojson",
    ".json": "geojson",
    ".parquet": "parquet",
    ".geoparquet": "parquet",
}

Source = bytes | bytearray | memoryview | IO[bytes] | str | os.PathLike[str]


@dataclass(frozen=True)
class UserFile:
    """A user's file, size-checked, with its format: on disk (``path``) or in memory (``data``)."""

    name: str
    fmt: str
    size: int
    path: Path | None = None
    data: bytes | None = None

    def open(self) -> IO[bytes]:
        if self.path is not None:
            return self.path.open("rb")
        return io.BytesIO(self.data or b"")

    def read_bytes(self) -> bytes:
        with self.open() as fh:
            return fh.read()

    def source(self) -> Path | IO[bytes]:
        """What a library that opens files itself is given."""
        return self.path if self.path is not None else io.BytesIO(self.data or b"")


def _size_of(data: Source) -> int:
    if isinstance(data, (bytes, bytearray, memoryview)):
        return len(data)
    if isinstance(data, (str, os.PathLike)):
        return os.path.getsize(data)
    size = getattr(data, "size", None)  # Streamlit's UploadedFile knows it without reading
    if isinstance(size, int):
        return size
    pos = data.tell()
    data.seek(0, io.SEEK_END)
    end = data.tell()
    data.seek(pos)
    return end - pos


def _read_all(data: IO[bytes] | bytes | bytearray | memoryview, limit: int) -> bytes:
    if isinstance(data, (bytes, bytearray, memoryview)):
        return bytes(data)
    getvalue = getattr(data, "getvalue", None)
    if callable(getvalue):
        return bytes(getvalue())
    return data.read(limit + 1)


def _too_large(name: str, size: int, limit: int) -> InputFileError:
    return coded(
        InputFileError(
            f"{name} is {size / _MB:.1f} MB ({size} bytes); the limit is {limit / _MB:.1f} MB "
            f"({limit} bytes). Split the file and upload the parts."
        ),
        "file_too_large",
        file=name,
        mb=size / _MB,
        limit_mb=limit / _MB,
    )


def check_upload_size(name: str, size: int, *, max_bytes: int | None = None) -> None:
    """Refuse an upload of ``size`` bytes above ``max_bytes`` (default ``settings.MAX_UPLOAD_MB``).

    The one size rule of uploads: :func:`open_user_file` applies it to tables, the planner's
    upload of grid files (several files of one shapefile count together) calls it directly.
    """
    limit = int(max_bytes) if max_bytes is not None else settings.MAX_UPLOAD_MB * _MB
    if size > limit:
        raise _too_large(name, size, limit)


def open_user_file(
    source: Source | UserFile,
    *,
    filename: str | None = None,
    max_bytes: int | None = None,
    formats: Sequence[str] | None = None,
) -> UserFile:
    """Check a user's file before anything of it is parsed: exists, size, format.

    A path is read where it lies, without a size limit unless ``max_bytes`` is given; bytes or a
    stream (an upload) are limited to ``max_bytes``, by default ``settings.MAX_UPLOAD_MB``.

    Raises
    ------
    InputFileError
        No such file, empty, too large, old ``.xls``, an unknown type, or a format not in
        ``formats``.
    """
    if isinstance(source, UserFile):
        return source
    path: Path | None = None
    data: bytes | None = None
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if not path.is_file():
            raise InputFileError(f"no input file at {path}")
        name = filename or path.name
        size = path.stat().st_size
        limit = max_bytes
    else:
        name = str(filename or getattr(source, "name", None) or "upload")
        size = _size_of(source)
        limit = int(max_bytes) if max_bytes is not None else settings.MAX_UPLOAD_MB * _MB
    if limit is not None:
        check_upload_size(name, size, max_bytes=limit)
    if size == 0:
        raise coded(InputFileError(f"{name} is empty"), "file_empty", file=name)
    if path is None:
        data = _read_all(source, limit or size)  # type: ignore[arg-type]
        if limit is not None and len(data) > limit:  # a stream that reported less than it held
            raise InputFileError(f"{name} is larger than the limit of {limit / _MB:.1f} MB")
        head = data[:4096]
    else:
        with path.open("rb") as fh:
            head = fh.read(4096)
    fmt = _detect_format(name, head)
    if formats is not None and fmt not in formats:
        wanted = " or ".join(_SUFFIXES[f] for f in formats)
        raise coded(
            InputFileError(f"{name}: upload a {wanted} file (got {Path(name).suffix or 'no extension'})"),
            "file_format",
            file=name,
            wanted=wanted,
        )
    return UserFile(name=name, fmt=fmt, size=size, path=path, data=data)


def _detect_format(name: str, head: bytes) -> str:
    suffix = Path(name).suffix.lower()
    if suffix == ".xls" or head[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1":
        raise InputFileError(f"{name}: old Excel .xls files are not read; save it as .xlsx or .csv")
    if suffix in (".xlsx", ".xlsm"):
        return "xlsx"
    if suffix in (".parquet", ".geoparquet"):
        return "parquet"
    if suffix in (".jsonl", ".ndjson"):
        return "jsonl"
    if suffix == ".geojson":
        return "geojson"
    if suffix == ".json":
        text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
        if text[:1] == b"[":
            return "json"
        if b'"FeatureCollection"' in head or b'"features"' in head:
            return "geojson"
        return "jsonl"
    if head[:4] == b"PK\x03\x04" and suffix not in (".csv", ".txt", ".tsv"):
        return "xlsx"
    if suffix in (".csv", ".txt", ""):
        return "csv"
    raise InputFileError(
        f"{name}: unknown file type {suffix}; use .csv, .xlsx, .geojson, .json, .jsonl or .parquet"
    )


def file_format(path: str | os.PathLike[str]) -> str:
    """The format written to ``path``, by its suffix: csv, geojson or parquet."""
    suffix = Path(path).suffix.lower()
    if suffix not in OUTPUT_FORMATS:
        raise InputFileError(
            f"{Path(path).name}: unknown file type {suffix or '(none)'}; write .csv, .geojson or .parquet"
        )
    return OUTPUT_FORMATS[suffix]


# ------------------------------------------------------------------------------------ chunks
@dataclass
class Chunk:
    """Records of a file, in file order, every value as text.

    A rejected record is a row like the others, with ``""`` in every column, its raw text in
    ``raw`` and its reason in ``reject_code`` / ``reject_detail``.
    """

    frame: pd.DataFrame
    #: Number of each record in the file: 1 = the first record after the header (blank lines
    #: count, so for a file without quoted line ends it is the line number minus one).
    row_numbers: np.ndarray
    reject_code: np.ndarray
    reject_detail: np.ndarray
    raw: np.ndarray
    #: x/y taken from point geometries (GeoJSON, GeoParquet); None for plain tables
    geometry_xy: tuple[np.ndarray, np.ndarray] | None = None

    def __len__(self) -> int:
        return len(self.frame)

    def decode(self) -> Chunk:
        """The chunk itself (a :class:`LazyChunk` becomes one here)."""
        return self

    @property
    def rejected(self) -> np.ndarray:
        return self.reject_code != ""

    def reject_reason(self) -> np.ndarray:
        """``label: detail`` per rejected record, ``""`` for the others."""
        code = pd.Series(self.reject_code, dtype=object)
        label = code.map({k: en for k, (_zh, en) in READER_REASONS.items()}).fillna(code)
        detail = pd.Series(self.reject_detail, dtype=object).fillna("").astype(str)
        text = label.where(detail == "", label + ": " + detail)
        return np.where(code != "", text, "").astype(object)


def _chunk(
    frame: pd.DataFrame,
    numbers: np.ndarray,
    *,
    code: np.ndarray | None = None,
    detail: np.ndarray | None = None,
    raw: np.ndarray | None = None,
    xy: tuple[np.ndarray, np.ndarray] | None = None,
) -> Chunk:
    n = len(frame)
    empty = np.full(n, "", dtype=object)
    return Chunk(
        frame=frame.reset_index(drop=True),
        row_numbers=np.asarray(numbers, dtype=np.int64),
        reject_code=empty if code is None else code,
        reject_detail=empty.copy() if detail is None else detail,
        raw=empty.copy() if raw is None else raw,
        geometry_xy=xy,
    )


@dataclass
class LazyChunk:
    """Records of a Parquet file as read, not yet turned into text: :meth:`decode` makes the
    :class:`Chunk`, the same one :func:`iter_chunks` gives.

    Turning numbers into text is most of the cost of reading a Parquet file; a lazy chunk is
    decoded where it is used, so a cluster's workers do it and not the process reading the file.
    """

    batch: pa.RecordBatch
    #: Number of the first record (1 = the first of the file).
    start: int
    xy: tuple[np.ndarray, np.ndarray] | None
    name: str

    def __len__(self) -> int:
        return self.batch.num_rows

    def decode(self) -> Chunk:
        try:
            frame = _text_frame(self.batch.to_pandas())
        except (pa.ArrowException, ValueError) as exc:
            raise InputFileError(f"{self.name}: not a readable Parquet file ({exc})") from exc
        return _chunk(frame, np.arange(self.start, self.start + len(frame)), xy=self.xy)


def count_rows(source: str | os.PathLike[str] | UserFile) -> int | None:
    """Records in the file where that is cheap to know (for a progress bar), else None."""
    try:
        uf = open_user_file(source)
        if uf.fmt == "parquet":
            return int(pq.ParquetFile(uf.source()).metadata.num_rows)
        if uf.fmt in ("csv", "jsonl"):
            with uf.open() as fh:
                lines = sum(buf.count(b"\n") for buf in iter(lambda: fh.read(1 << 20), b""))
            return max(lines - (uf.fmt == "csv"), 0)
    except (OSError, ValueError, pa.ArrowException):
        return None  # the reader itself says what is wrong with the file
    return None


def iter_chunks(
    source: Source | UserFile,
    *,
    filename: str | None = None,
    max_bytes: int | None = None,
    chunk_rows: int = 200_000,
) -> Iterator[Chunk]:
    """Chunks of at most ``chunk_rows`` records of the file, in order; always at least one.

    Every chunk has the same columns; a file with a header and no records gives one empty chunk
    with them.
    """
    for chunk in iter_lazy_chunks(source, filename=filename, max_bytes=max_bytes, chunk_rows=chunk_rows):
        yield chunk.decode()


def iter_lazy_chunks(
    source: Source | UserFile,
    *,
    filename: str | None = None,
    max_bytes: int | None = None,
    chunk_rows: int = 200_000,
) -> Iterator[Chunk | LazyChunk]:
    """The chunks of :func:`iter_chunks`, Parquet ones not yet decoded (``.decode()`` each)."""
    uf = open_user_file(source, filename=filename, max_bytes=max_bytes)
    chunk_rows = max(int(chunk_rows), 1)
    if uf.fmt == "csv":
        yield from _csv_chunks(uf, chunk_rows=chunk_rows)
    elif uf.fmt == "parquet":
        yield from _parquet_chunks(uf, chunk_rows=chunk_rows)
    elif uf.fmt == "geojson":
        yield from _geojson_chunks(uf, chunk_rows=chunk_rows)
    else:
        whole = _read_xlsx(uf, max_bytes=max_bytes) if uf.fmt == "xlsx" else _read_json(uf)
        for start in range(0, max(len(whole), 1), chunk_rows):
            stop = start + chunk_rows
            yield _chunk(
                whole.frame.iloc[start:stop],
                whole.row_numbers[start:stop],
                code=whole.reject_code[start:stop],
                detail=whole.reject_detail[start:stop],
                raw=whole.raw[start:stop],
            )


@dataclass
class Table(Chunk):
    """A whole file read at once (uploads): a :class:`Chunk` with the file's name, format, size."""

    name: str = ""
    fmt: str = ""
    size: int = 0


def read_table(
    source: Source | UserFile,
    *,
    filename: str | None = None,
    max_bytes: int | None = None,
    formats: Sequence[str] | None = None,
) -> Table:
    """The whole file as one :class:`Table` (for uploads, which are size-limited)."""
    uf = open_user_file(source, filename=filename, max_bytes=max_bytes, formats=formats)
    chunks = list(iter_chunks(uf, max_bytes=max_bytes, chunk_rows=1 << 20))
    frame = pd.concat([c.frame for c in chunks], ignore_index=True) if len(chunks) > 1 else chunks[0].frame
    xy = None
    if all(c.geometry_xy is not None for c in chunks):
        xy = (
            np.concatenate([c.geometry_xy[0] for c in chunks]),  # type: ignore[index]
            np.concatenate([c.geometry_xy[1] for c in chunks]),  # type: ignore[index]
        )
    return Table(
        frame=frame,
        row_numbers=np.concatenate([c.row_numbers for c in chunks]),
        reject_code=np.concatenate([c.reject_code for c in chunks]),
        reject_detail=np.concatenate([c.reject_detail for c in chunks]),
        raw=np.concatenate([c.raw for c in chunks]),
        geometry_xy=xy,
        name=uf.name,
        fmt=uf.fmt,
        size=uf.size,
    )


# ------------------------------------------------------------------------------------ CSV
def _guess_encoding(sample: bytes) -> str:
    """UTF-8 or GB18030, judged by whole lines holding non-ASCII text."""
    for enc in ("utf-8", "gb18030"):  # Excel in China saves CSV as GBK, a subset of GB18030
        try:
            sample.decode(enc)
            return enc
        except UnicodeDecodeError:
            continue
    # Neither fits every line: the one that leaves fewer lines unreadable (UTF-8 on a tie).
    bad_lines = {
        enc: sum(1 for line in sample.decode(enc, "replace").split("\n") if "\ufffd" in line)
        for enc in ("utf-8", "gb18030")
    }
    return min(bad_lines, key=bad_lines.__getitem__)


def _to_utf8(raw: bytes, enc: str) -> tuple[bytes, bool]:
    """UTF-8 bytes of complete lines, and whether some bytes were not text (replaced by U+FFFD)."""
    try:
        text = raw.decode(enc)
    except UnicodeDecodeError:
        return raw.decode(enc, "replace").encode("utf-8"), True
    return (raw if enc == "utf-8" else text.encode("utf-8")), False


class _CsvState:
    """What carries over from one block to the next."""

    def __init__(self, uf: UserFile) -> None:
        self.uf = uf
        self.names: list[str] | None = None
        self.next_row = 1  # number of the next record after the header


def _csv_chunks(uf: UserFile, *, chunk_rows: int) -> Iterator[Chunk]:
    state = _CsvState(uf)
    yielded = False
    with uf.open() as fh:
        block = first_block = fh.read(_BLOCK)
        if block.startswith(codecs.BOM_UTF8):
            block = block[len(codecs.BOM_UTF8) :]
        if block.startswith((b"\xff\xfe", b"\xfe\xff")):
            raise InputFileError(f"{uf.name}: the text is UTF-16; save it as UTF-8 CSV")
        # Decided by the first lines that are not plain ASCII, however far into the file.
        enc: str | None = "utf-8" if block is not first_block else None
        pending = b""  # UTF-8 bytes of a record not complete yet
        tail = b""  # bytes read after the last line end, not decoded yet
        eof = False
        while not eof:
            ahead = fh.read(_BLOCK)  # one block ahead, so the last block is known to be the last
            eof = not ahead
            data = tail + block
            block = ahead
            # Decode whole lines only: a line end is never part of a UTF-8 or GB18030 character.
            cut = len(data) if eof else data.rfind(b"\n") + 1
            if enc is None and not data[:cut].isascii():
                enc = _guess_encoding(data[:cut])
            text, replaced = _to_utf8(data[:cut], enc or "utf-8")
            tail = data[cut:]
            chunks, pending = _csv_block(
                state, pending + text, final=eof, replaced=replaced, chunk_rows=chunk_rows
            )
            for chunk in chunks:
                yield chunk
                yielded = True
            if not eof and len(pending) + len(tail) > MAX_RECORD_BYTES:
                chunk, pending, tail, skip = _overlong_record(state, pending, tail, enc or "utf-8")
                yield chunk
                yielded = True
                if skip:  # the over-long line runs on: drop the rest of it
                    while True:
                        at = block.find(b"\n")
                        if at >= 0:
                            block = block[at + 1 :]
                            break
                        block = fh.read(_BLOCK)
                        if not block:
                            break
    if state.names is None:
        raise coded(
            InputFileError(f"{uf.name}: empty file, or no header row"), "file_no_header", file=uf.name
        )
    if not yielded:
        yield _empty_chunk(state.names)


def _empty_chunk(names: list[str]) -> Chunk:
    return _chunk(pd.DataFrame({n: pd.Series([], dtype=object) for n in names}), np.zeros(0, np.int64))


def _overlong_record(
    state: _CsvState, pending: bytes, tail: bytes, enc: str
) -> tuple[Chunk, bytes, bytes, bool]:
    """Cut a record that outgrew :data:`MAX_RECORD_BYTES`: (its reject, pending, tail, skip).

    With a line end inside (necessarily inside quotes, or the record would have ended) the quote
    is taken as unterminated and the record ends at that line end. Without one, the line itself
    is too long: it is rejected and the rest of it skipped (``skip``).
    """
    if state.names is None:
        raise InputFileError(
            f"{state.uf.name}: the header row is longer than {MAX_RECORD_BYTES:,} bytes "
            "(or has an unterminated quote)"
        )
    at = pending.find(b"\n")
    if at >= 0:
        head = pending[:at].rstrip(b"\r")
        chunk = _reject_chunk(state, "unterminated_quote", "a quoted field runs on without closing", head)
        return chunk, pending[at + 1 :], tail, False
    head = (pending + tail.decode(enc, "replace").encode("utf-8"))[: 4 * RAW_KEEP_CHARS]
    detail = f"more than {MAX_RECORD_BYTES:,} bytes without a line end"
    return _reject_chunk(state, "record_too_long", detail, head), b"", b"", True


def _reject_chunk(state: _CsvState, code: str, detail: str, raw: bytes) -> Chunk:
    names = state.names or []
    number = state.next_row
    state.next_row += 1
    return _chunk(
        pd.DataFrame({n: [""] for n in names}),
        np.array([number]),
        code=np.array([code], dtype=object),
        detail=np.array([detail], dtype=object),
        raw=np.array([raw.decode("utf-8", "replace")[:RAW_KEEP_CHARS]], dtype=object),
    )


def _header(state: _CsvState, buf: bytes, *, final: bool) -> int | None:
    """Read the header from ``buf``; the offset after it, or None when it is not complete yet."""
    arr = np.frombuffer(buf, np.uint8)
    rs, _re, st, f0, nf, fs, out, consumed = _csvsplit.split_records(arr, delim=ord(","), final=final)
    first = np.flatnonzero(st != _csvsplit.BLANK)
    if first.size == 0:
        if final:
            raise coded(
                InputFileError(f"{state.uf.name}: empty file, or no header row"),
                "file_no_header",
                file=state.uf.name,
            )
        return None
    r = int(first[0])
    if st[r] == _csvsplit.UNTERMINATED:
        raise InputFileError(f"{state.uf.name}: the header row has an unterminated quote")
    raw = out.tobytes()
    names = [raw[fs[k] : fs[k + 1]].decode("utf-8").strip() for k in range(f0[r], f0[r] + nf[r])]
    if not any(names):
        raise InputFileError(f"{state.uf.name}: the first line has no column names; a header row comes first")
    names = [n or f"column_{i + 1}" for i, n in enumerate(names)]
    if len(set(names)) != len(names):
        dupes = sorted({n for n in names if names.count(n) > 1})
        raise InputFileError(f"{state.uf.name}: the header repeats column names {dupes}")
    state.names = names
    return int(rs[r + 1]) if r + 1 < len(rs) else int(consumed)


_DETAILS = {
    "unterminated_quote": "a quote opened in this row is never closed; the row ends at its line end",
    "bad_encoding": "bytes that are not UTF-8 or GB18030 text (shown as \ufffd)",
}


def _rejects(
    buf: bytes,
    rs: np.ndarray,
    re_: np.ndarray,
    keep: np.ndarray,
    kcode: np.ndarray,
    *,
    nf: np.ndarray,
    longest: np.ndarray,
    ncol: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Detail and raw text of the rejected records among ``keep`` ("" for the others), by Arrow.

    Record texts lie in ``buf`` between their start and end, separated by their line ends: one
    string array over the alternating (text, line end) spans gives them all without a copy.
    """
    n = len(keep)
    detail = np.full(n, "", dtype=object)
    raw = np.full(n, "", dtype=object)
    bad = np.flatnonzero(kcode != "")
    if bad.size == 0:
        return detail, raw
    recs = keep[bad]
    codes = kcode[bad]
    spans = np.empty(2 * len(rs), np.int64)
    spans[0::2], spans[1::2] = rs, re_
    texts = pa.StringArray.from_buffers(
        len(spans) - 1, pa.py_buffer(spans.astype(np.int32)), pa.py_buffer(buf)
    ).take(pa.array(2 * recs))
    # Only a record rejected for its length keeps a part of its text.
    cut = pa.array(codes == "field_too_long")
    texts = pc.if_else(cut, pc.utf8_slice_codeunits(texts, 0, RAW_KEEP_CHARS), texts)
    raw[bad] = texts.to_numpy(zero_copy_only=False)
    d = np.full(len(bad), "", dtype=object)
    m = codes == "malformed_row"
    d[m] = (pd.Series(nf[recs[m]]).astype(str) + f" fields, the header has {ncol}").to_numpy(dtype=object)
    f = np.flatnonzero(codes == "field_too_long")  # each holds a field of over a MiB: few
    d[f] = [f"a field of {int(longest[r]):,} bytes, at most {MAX_FIELD_BYTES:,}" for r in recs[f]]
    for c, text in _DETAILS.items():
        d[codes == c] = text
    detail[bad] = d
    return detail, raw


def _csv_block(
    state: _CsvState, buf: bytes, *, final: bool, replaced: bool, chunk_rows: int
) -> tuple[list[Chunk], bytes]:
    """Chunks of the complete records in ``buf``, and the bytes left for the next block."""
    if state.names is None:
        start = _header(state, buf, final=final)
        if start is None:
            return [], buf
        buf = buf[start:]
    names = state.names
    assert names is not None
    ncol = len(names)
    arr = np.frombuffer(buf, np.uint8)
    rs, re_, st, f0, nf, fs, out, consumed = _csvsplit.split_records(arr, delim=ord(","), final=final)
    rest = buf[consumed:]
    numbers = state.next_row + np.arange(len(rs), dtype=np.int64)
    state.next_row += len(rs)
    # One extra empty field at the end: a rejected record takes all its values from it.
    offsets = np.append(fs, fs[-1]).astype(np.int32)
    fields = pa.StringArray.from_buffers(len(offsets) - 1, pa.py_buffer(offsets), pa.py_buffer(out))
    empty_at = len(offsets) - 2
    blank = st == _csvsplit.BLANK
    lone = np.flatnonzero((st == _csvsplit.OK) & (nf == 1)) if ncol > 1 else np.zeros(0, np.int64)
    if lone.size:
        # A line of nothing but spaces carries nothing either: blank, not a malformed row.
        spaces = pc.equal(pc.utf8_trim_whitespace(fields.take(pa.array(f0[lone]))), "")
        blank[lone[spaces.to_numpy(zero_copy_only=False)]] = True
    keep = np.flatnonzero(~blank)
    code = np.full(len(rs), "", dtype=object)
    code[st == _csvsplit.UNTERMINATED] = "unterminated_quote"
    ok = code == ""
    code[ok & (nf != ncol)] = "malformed_row"
    flen = np.diff(fs)
    longest = np.zeros(len(rs), np.int64)
    if flen.size and int(flen.max()) > MAX_FIELD_BYTES:
        has = np.flatnonzero(ok & (nf > 0))
        if has.size:
            longest[has] = np.maximum.reduceat(flen, f0[has])
        code[(code == "") & (longest > MAX_FIELD_BYTES)] = "field_too_long"
    if replaced and arr.size > 2:
        # Records holding U+FFFD (EF BF BD) had bytes that are not text in the file's encoding.
        ef = np.flatnonzero(arr[:-2] == 0xEF)
        ef = ef[(arr[ef + 1] == 0xBF) & (arr[ef + 2] == 0xBD)]
        if ef.size:
            which = np.searchsorted(rs, ef, side="right") - 1
            inside = (which >= 0) & (ef < re_[np.maximum(which, 0)])
            bad = np.zeros(len(rs), bool)
            bad[which[inside]] = True
            code[bad] = "bad_encoding"
    kcode = code[keep]
    good = kcode == ""
    base = np.where(good, f0[keep], empty_at)
    step = good.astype(np.int64)
    detail, raw = _rejects(buf, rs, re_, keep, kcode, nf=nf, longest=longest, ncol=ncol)
    chunks = []
    for start in range(0, len(keep), chunk_rows):
        sl = slice(start, start + chunk_rows)
        cols = {
            n: fields.take(pa.array(base[sl] + step[sl] * k, type=pa.int64())) for k, n in enumerate(names)
        }
        chunks.append(
            _chunk(
                pa.table(cols).to_pandas(), numbers[keep[sl]], code=kcode[sl], detail=detail[sl], raw=raw[sl]
            )
        )
    return chunks, rest


# ------------------------------------------------------------------------------------ XLSX
def _cell_text(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, str):
        return v
    if isinstance(v, bool):
        return "TRUE" if v else "FALSE"
    if isinstance(v, float):
        if math.isfinite(v) and v.is_integer() and abs(v) < 1e16:
            return str(int(v))
        return repr(v)
    if isinstance(v, (dt.datetime, dt.date, dt.time)):
        return v.isoformat()
    return str(v)


def _read_xlsx(uf: UserFile, *, max_bytes: int | None) -> Table:
    try:
        with zipfile.ZipFile(uf.source()) as zf:
            inflated = sum(i.file_size for i in zf.infolist())
    except (zipfile.BadZipFile, OSError) as exc:
        raise coded(
            InputFileError(f"{uf.name}: not a readable XLSX workbook ({exc})"), "file_xlsx", file=uf.name
        ) from exc
    limit = XLSX_MAX_RATIO * uf.size
    if max_bytes is not None or uf.path is None:
        cap = max_bytes if max_bytes is not None else settings.MAX_UPLOAD_MB * _MB
        limit = min(limit, XLSX_INFLATE_FACTOR * cap)
    if inflated > limit:
        raise InputFileError(
            f"{uf.name}: the workbook unpacks to {inflated / _MB:.1f} MB, more than "
            f"{limit / _MB:.0f} MB; split it or upload CSV"
        )
    import openpyxl

    try:
        wb = openpyxl.load_workbook(uf.source(), read_only=True, data_only=True)
        try:
            ws = wb.worksheets[0]
            rows = [tuple(_cell_text(v) for v in r) for r in ws.iter_rows(values_only=True)]
        finally:
            wb.close()
    except Exception as exc:  # openpyxl raises many kinds for a broken workbook; all mean the same
        raise coded(
            InputFileError(f"{uf.name}: not a readable XLSX workbook ({exc})"), "file_xlsx", file=uf.name
        ) from exc
    while rows and not any(v.strip() for v in rows[-1]):
        rows.pop()
    if not rows:
        raise InputFileError(f"{uf.name}: empty workbook, or no header row")
    header = list(rows[0])
    while header and not header[-1].strip():
        header.pop()
    names = [h.strip() or f"column_{i + 1}" for i, h in enumerate(header)]
    if len(set(names)) != len(names):
        dupes = sorted({n for n in names if names.count(n) > 1})
        raise InputFileError(f"{uf.name}: the header repeats column names {dupes}")
    width = len(names)
    body = rows[1:]
    keep = [i for i, r in enumerate(body) if any(v.strip() for v in r)]
    code = np.full(len(keep), "", dtype=object)
    detail = np.full(len(keep), "", dtype=object)
    raw = np.full(len(keep), "", dtype=object)
    values: list[tuple[str, ...]] = []
    for j, i in enumerate(keep):
        r = body[i]
        if any(v.strip() for v in r[width:]):
            used = max(k for k, v in enumerate(r) if v.strip()) + 1
            code[j] = "malformed_row"
            detail[j] = f"{used} fields, the header has {width}"
            raw[j] = json.dumps(list(r[:used]), ensure_ascii=False)
            values.append(("",) * width)
        else:
            values.append(tuple(r[:width]) + ("",) * max(width - len(r), 0))
    frame = pd.DataFrame(values, columns=names, dtype=object) if values else _empty_chunk(names).frame
    return Table(
        frame=frame,
        row_numbers=np.asarray(keep, dtype=np.int64) + 1,
        reject_code=code,
        reject_detail=detail,
        raw=raw,
        name=uf.name,
        fmt=uf.fmt,
        size=uf.size,
    )


# ------------------------------------------------------------------------------------ JSON
def _json_text(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, str):
        return v
    return json.dumps(v, ensure_ascii=False)


def _decode_text(uf: UserFile) -> str:
    raw = uf.read_bytes()
    for enc in ("utf-8-sig", "gb18030"):
        try:
            return raw.decode(enc)
        except UnicodeDecodeError:
            continue
    raise coded(
        InputFileError(f"{uf.name}: the text is neither UTF-8 nor GB18030; save it as UTF-8"),
        "file_encoding",
        file=uf.name,
    )


def _read_json(uf: UserFile) -> Table:
    """JSON lines (one object per line), or a JSON array of objects (Open311 requests)."""
    text = _decode_text(uf)
    items: list[Any]
    raws: list[str]
    if uf.fmt == "json":
        try:
            doc = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InputFileError(f"{uf.name}: not valid JSON ({exc})") from exc
        if not isinstance(doc, list):
            raise InputFileError(f"{uf.name}: expected a JSON array of objects or a FeatureCollection")
        items = doc
        numbers = np.arange(1, len(items) + 1, dtype=np.int64)
        raws = [""] * len(items)
        errors = [""] * len(items)
    else:
        lines = text.split("\n")
        if lines and lines[-1].strip() == "":
            lines.pop()
        nonblank = [i for i, ln in enumerate(lines) if ln.strip()]
        raws = [lines[i].rstrip("\r") for i in nonblank]
        numbers = np.asarray(nonblank, dtype=np.int64) + 1
        try:  # one parse for the whole file; line by line only when some line is not JSON
            items = json.loads("[" + ",".join(raws) + "]")
            if len(items) != len(raws):
                raise ValueError("a line held more than one value")
            errors = [""] * len(raws)
        except ValueError:
            items, errors = [], []
            for ln in raws:
                try:
                    items.append(json.loads(ln))
                    errors.append("")
                except json.JSONDecodeError as exc:
                    items.append(None)
                    errors.append(f"{exc.msg} at character {exc.pos + 1}")
    names: dict[str, None] = {}
    for it in items:
        if isinstance(it, dict):
            names.update(dict.fromkeys(str(k) for k in it))
    cols = list(names)
    n = len(items)
    code = np.full(n, "", dtype=object)
    detail = np.full(n, "", dtype=object)
    raw = np.full(n, "", dtype=object)
    records: list[dict[str, str]] = []
    for i, it in enumerate(items):
        if errors[i]:
            code[i], detail[i], raw[i] = "bad_json", errors[i], raws[i]
            records.append({})
        elif not isinstance(it, dict):
            code[i], detail[i] = "not_an_object", f"a JSON {type(it).__name__}"
            raw[i] = raws[i] or json.dumps(it, ensure_ascii=False)
            records.append({})
        else:
            records.append({str(k): _json_text(v) for k, v in it.items()})
    frame = pd.DataFrame.from_records(records, columns=cols) if records else pd.DataFrame(columns=cols)
    frame = frame.astype(object).where(frame.notna(), "")
    return Table(
        frame=frame,
        row_numbers=numbers,
        reject_code=code,
        reject_detail=detail,
        raw=raw,
        name=uf.name,
        fmt=uf.fmt,
        size=uf.size,
    )


# ------------------------------------------------------------------------------------ Parquet
def _text_frame(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.astype(str).where(frame.notna(), "")


def _parquet_chunks(uf: UserFile, *, chunk_rows: int) -> Iterator[Chunk | LazyChunk]:
    try:
        pf = pq.ParquetFile(uf.source())
        geo = (pf.schema_arrow.metadata or {}).get(b"geo")
        geom_col = json.loads(geo).get("primary_column") if geo is not None else None
        start = 1
        yielded = False
        for batch in pf.iter_batches(batch_size=chunk_rows):
            xy = None
            if geom_col is not None and geom_col in batch.schema.names:
                xy = _point_xy(batch.column(geom_col))
                batch = batch.drop_columns([geom_col])
            yield LazyChunk(batch=batch, start=start, xy=xy, name=uf.name)
            yielded = True
            start += batch.num_rows
        if not yielded:
            names = [n for n in pf.schema_arrow.names if n != geom_col]
            empty = np.zeros(0)
            yield _chunk(_empty_chunk(names).frame, np.zeros(0), xy=(empty, empty) if geom_col else None)
    except (pa.ArrowException, OSError, ValueError) as exc:
        if isinstance(exc, InputFileError):
            raise
        raise InputFileError(f"{uf.name}: not a readable Parquet file ({exc})") from exc


def _point_xy(wkb: pa.Array) -> tuple[np.ndarray, np.ndarray]:
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
                return xy[:, 0].copy(), xy[:, 1].copy()
    import shapely

    geoms = shapely.from_wkb(wkb.to_numpy(zero_copy_only=False))
    is_point = shapely.get_type_id(geoms) == 0
    return (
        np.where(is_point, shapely.get_x(geoms), np.nan),
        np.where(is_point, shapely.get_y(geoms), np.nan),
    )


# ------------------------------------------------------------------------------------ GeoJSON
def _geojson_chunks(uf: UserFile, *, chunk_rows: int) -> Iterator[Chunk]:
    import pyogrio
    import shapely

    try:
        info = pyogrio.read_info(uf.source())
        total = int(info["features"])
        names = [str(f) for f in info["fields"]]
        for start in range(0, max(total, 1), chunk_rows):
            # pyogrio sizes its arrays by max_features: ask for no more than there are.
            want = max(min(chunk_rows, total - start), 1)
            gdf = pyogrio.read_dataframe(uf.source(), skip_features=start, max_features=want)
            geoms = gdf.geometry.to_numpy() if gdf.geometry is not None else np.zeros(len(gdf), object)
            frame = _text_frame(pd.DataFrame(gdf.drop(columns=gdf.geometry.name)))
            if frame.empty and not len(frame.columns):
                frame = _empty_chunk(names).frame
            # Non-point geometries give NaN coordinates, rejected downstream with the reason.
            is_point = shapely.get_type_id(geoms) == 0
            x = np.where(is_point, shapely.get_x(geoms), np.nan)
            y = np.where(is_point, shapely.get_y(geoms), np.nan)
            yield _chunk(frame, np.arange(start + 1, start + 1 + len(frame)), xy=(x, y))
    except InputFileError:
        raise
    except Exception as exc:  # pyogrio raises several DataSourceError kinds for unreadable files
        raise InputFileError(f"{uf.name}: not a readable GeoJSON file ({exc})") from exc


# ------------------------------------------------------------------------------------ writing
def _needs_escape(s: pa.Array) -> bool:
    """Whether any value holds a quote, a backslash or a control character (one pass in numpy)."""
    data = s.buffers()[2]
    if data is None or len(s) == 0:
        return False
    offsets = np.frombuffer(s.buffers()[1], dtype=np.int32)[s.offset : s.offset + len(s) + 1]
    b = np.frombuffer(data, dtype=np.uint8)[int(offsets[0]) : int(offsets[-1])]
    return bool(((b < 0x20) | (b == 0x22) | (b == 0x5C)).any())


def _json_escaped(col: pa.Array) -> pa.Array:
    """Each value's text escaped for a JSON string (without the quotes); nulls stay null."""
    s = pc.cast(col, pa.string())
    if isinstance(s, pa.ChunkedArray):
        s = s.combine_chunks()
    if _needs_escape(s):
        s = pc.replace_substring(s, "\\", "\\\\")
        s = pc.replace_substring(s, '"', '\\"')
        for code in range(0x20):
            ch = chr(code)
            esc = {"\n": "\\n", "\r": "\\r", "\t": "\\t", "\b": "\\b", "\f": "\\f"}.get(ch, f"\\u{code:04x}")
            s = pc.replace_substring(s, ch, esc)
    return s


def _json_strings(col: pa.Array) -> pa.Array:
    """Each value as a JSON string literal (``null`` for missing), built by Arrow kernels."""
    quoted = pc.binary_join_element_wise('"', _json_escaped(col), '"', "")
    return pc.fill_null(quoted, "null")


def _json_numbers(col: pa.Array) -> pa.Array:
    as_float = pc.cast(col, pa.float64())
    finite = pc.is_finite(as_float)
    text = pc.cast(col, pa.string())
    return pc.fill_null(pc.if_else(finite, text, pa.scalar(None, pa.string())), "null")


class ChunkWriter:
    """Writes chunks to a temporary file beside ``path``; :meth:`commit` renames it into place.

    CSV and Parquet go through Arrow's writers; GeoJSON is streamed as an RFC 7946
    FeatureCollection, each chunk's features built as text by Arrow kernels and written at once.
    """

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
        self._features = 0

    def write(self, frame: pd.DataFrame, *, lon: Any = None, lat: Any = None) -> None:
        table = pa.Table.from_pandas(frame, preserve_index=False)
        if self.fmt == "csv":
            # Arrow's C++ writer (pandas' to_csv took 9 of 14 s for 680k rows), every value as
            # text as it was read; the BOM lets spreadsheet programs see UTF-8.
            table = pa.table(
                [pc.fill_null(pc.cast(col, pa.string()), "") for col in table.columns],
                names=table.column_names,
            )
            if self._csv is None:
                self._fh = self.tmp.open("wb")
                self._fh.write("\ufeff".encode())
                self._csv = pacsv.CSVWriter(self._fh, table.schema)
                self._csv_names = table.column_names
            elif table.column_names != self._csv_names:
                raise ValueError(f"chunk columns {table.column_names} differ from {self._csv_names}")
            self._csv.write_table(table)
        elif self.fmt == "parquet":
            if self._pq is None:
                self._pq = pq.ParquetWriter(self.tmp, table.schema)
            self._pq.write_table(table.cast(self._pq.schema))
        else:
            self._write_features(table, lon, lat)

    def _write_features(self, table: pa.Table, lon: Any, lat: Any) -> None:
        if self._fh is None:
            self._fh = self.tmp.open("wb")
            self._fh.write(b'{"type":"FeatureCollection","features":[')
        n = table.num_rows
        if n == 0:
            return
        parts: list[Any] = [',\n{"type":"Feature","properties":{']

        def add(part: Any) -> None:
            # Neighbouring constants are merged, so the final join has as few parts as can be.
            if isinstance(part, str) and isinstance(parts[-1], str):
                parts[-1] += part
            else:
                parts.append(part)

        for k, name in enumerate(table.column_names):
            col = table.column(name).combine_chunks()
            add(("," if k else "") + json.dumps(str(name), ensure_ascii=False) + ":")
            if pa.types.is_integer(col.type) or pa.types.is_floating(col.type):
                add(_json_numbers(col))
            elif col.null_count == 0:
                add('"')  # no null to write bare: the quotes go into the constants around it
                add(_json_escaped(col))
                add('"')
            else:
                add(_json_strings(col))
        x = pa.array(np.asarray(lon if lon is not None else np.full(n, np.nan), dtype=float))
        y = pa.array(np.asarray(lat if lat is not None else np.full(n, np.nan), dtype=float))
        has = pc.and_(pc.is_finite(x), pc.is_finite(y))
        point = pc.binary_join_element_wise(
            '{"type":"Point","coordinates":[', pc.cast(x, pa.string()), ",", pc.cast(y, pa.string()), "]}", ""
        )
        add('},"geometry":')
        add(pc.if_else(has, point, pa.scalar("null", pa.string())))
        add("}")
        features = pc.binary_join_element_wise(*parts, "")
        if isinstance(features, pa.ChunkedArray):
            features = features.combine_chunks()
        # The features' text lies end to end in the array's data buffer: write it in one go.
        offsets = np.frombuffer(features.buffers()[1], dtype=np.int32)[
            features.offset : features.offset + n + 1
        ]
        data = memoryview(features.buffers()[2])[int(offsets[0]) : int(offsets[-1])]
        if self._features == 0:
            data = data[1:]  # the first feature has no comma before it
        self._fh.write(data)
        self._fh.flush()  # the chunk is on disk; nothing of it stays in memory
        self._features += n

    def _close(self) -> None:
        if self._pq is not None:
            self._pq.close()
            self._pq = None
        if self._csv is not None:
            self._csv.close()
            self._csv = None
        if self._fh is not None:
            self._fh.close()
            self._fh = None

    def commit(self) -> None:
        if self.fmt == "geojson":
            if self._fh is None:
                self._fh = self.tmp.open("wb")
                self._fh.write(b'{"type":"FeatureCollection","features":[')
            self._fh.write(b"\n]}\n")
        self._close()
        os.replace(self.tmp, self.path)

    def abort(self) -> None:
        self._close()
        self.tmp.unlink(missing_ok=True)
