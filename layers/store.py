"""The embedded store: one SQLite file (WAL, foreign keys on), opened only through this module.

A OneGrid store is recognised by SQLite's ``application_id`` header field; its schema version is
``user_version``. A store from an older schema is upgraded in one transaction; a newer one, or a
file that is not a OneGrid store, is refused and left untouched.

Writes go through :meth:`Store.transaction` (``BEGIN IMMEDIATE`` … ``COMMIT``): a crash or kill
mid-write leaves the store as it was before that write. Whole new stores are written to a
temporary file beside the target and renamed over it only when complete (:func:`build_store`).

SQLite errors reach a user only as :class:`~layers.errors.StoreError`: "database is locked" after
the busy timeout becomes :class:`~layers.errors.StoreBusyError`, and a damaged file ("database disk
image is malformed", a file cut short) becomes :class:`~layers.errors.StoreUnreadableError` ("… is
not a readable OneGrid store"), both in :func:`user_error`, the one place they are translated.
"""

from __future__ import annotations

import contextlib
import fcntl
import glob
import os
import secrets
import signal
import sqlite3
import struct
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import pandas as pd
import pyarrow as pa

from layers import pgstore
from layers.errors import StoreBusyError, StoreError, StoreExistsError, StoreUnreadableError

#: A connection of either store, as the layers use it (``execute``/``executemany`` with ``?``).
Conn = sqlite3.Connection | pgstore.PgConnection

#: "ONGR" — marks a SQLite file as a OneGrid store (PRAGMA application_id).
APPLICATION_ID = 0x4F4E4752
#: Current schema version (PRAGMA user_version). 2: the case desk (intake, send-backs, cards,
#: duplicate reports, duplicate rules, actor roles in the case history). 3: the survey's undo stack
#: (``component_history.undoes``) and batch previews kept in the store (``import_batches.state``,
#: ``import_preview_rows``).
SCHEMA_VERSION = 3

_SQLITE_MAGIC = b"SQLite format 3\x00"

SCHEMA = """
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

-- Boundary generations (as MapIt has them): history keeps the grid it was assigned under.
CREATE TABLE generations (
    id         INTEGER PRIMARY KEY,
    valid_from TEXT NOT NULL,          -- ISO date, inclusive
    valid_to   TEXT,                   -- ISO date, exclusive; NULL while current or scheduled
    note       TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL
);

-- The district's land (boundary minus water) that the grids must cover exactly.
CREATE TABLE land (
    id      INTEGER PRIMARY KEY CHECK (id = 1),
    area_m2 REAL NOT NULL,
    source  TEXT NOT NULL,
    geom    BLOB NOT NULL              -- WKB, EPSG:4549
);

CREATE TABLE grids (
    code        TEXT NOT NULL,          -- 15 digits: county(6) town(3) community(3) grid(3)
    generation  INTEGER NOT NULL REFERENCES generations(id),
    level       INTEGER NOT NULL CHECK (level IN (1, 2, 3)),
    parent_code TEXT,                   -- NULL for level 1
    name        TEXT NOT NULL,
    area_m2     REAL NOT NULL,
    minx REAL NOT NULL, miny REAL NOT NULL, maxx REAL NOT NULL, maxy REAL NOT NULL,
    geom        BLOB NOT NULL,          -- WKB, EPSG:4549
    PRIMARY KEY (code, generation)
);
CREATE INDEX grids_level ON grids(generation, level);

CREATE TABLE departments (
    code       TEXT PRIMARY KEY,
    name       TEXT NOT NULL UNIQUE,
    short_name TEXT NOT NULL,
    kind       TEXT NOT NULL,           -- bureau / utility / town / zone / contractor / company
    town_code  TEXT,                    -- the level-1 grid a town-level body answers for
    phone      TEXT NOT NULL DEFAULT ''
);

CREATE TABLE component_classes (
    code            TEXT PRIMARY KEY,   -- major(2) + sub(2), CJ/T 214 / GB/T 30428.2
    major_code      TEXT NOT NULL,
    major_name      TEXT NOT NULL,
    name            TEXT NOT NULL,
    supervisor_code TEXT REFERENCES departments(code)
);

CREATE TABLE components (
    code            TEXT PRIMARY KEY,   -- 16 digits: county(6) major(2) sub(2) serial(6)
    class_code      TEXT NOT NULL REFERENCES component_classes(code),
    x               REAL NOT NULL,      -- EPSG:4549
    y               REAL NOT NULL,
    grid_code       TEXT,               -- level-3 grid of the current generation
    supervisor_code TEXT REFERENCES departments(code),  -- 主管部门
    owner_code      TEXT REFERENCES departments(code),  -- 权属单位
    maintainer_code TEXT REFERENCES departments(code),  -- 养护单位
    state           TEXT NOT NULL,      -- 完好 / 破损 / 丢失 / 占用
    surveyed_on     TEXT NOT NULL,
    changed_on      TEXT NOT NULL,
    source          TEXT NOT NULL,      -- 实测 / 地形图 / 调绘 / 其它
    version         INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX components_grid ON components(grid_code);
CREATE INDEX components_class ON components(class_code);

-- Every change to a component appends here (who, when, before, after).
CREATE TABLE component_history (
    id             INTEGER PRIMARY KEY,
    component_code TEXT NOT NULL,
    version        INTEGER NOT NULL,
    changed_at     TEXT NOT NULL,
    actor          TEXT NOT NULL,
    action         TEXT NOT NULL,       -- create / move / state / edit / undo / reassign / delete
    before         TEXT,                -- JSON
    after          TEXT,                -- JSON
    reason         TEXT NOT NULL DEFAULT '',
    undoes         INTEGER              -- for an undo: the id of the change it reverts
);
CREATE INDEX component_history_code ON component_history(component_code, id);

CREATE TABLE channels (
    code    TEXT PRIMARY KEY,
    name    TEXT NOT NULL,
    name_en TEXT NOT NULL,
    share   REAL NOT NULL
);

-- The event responsibility list (事件责任清单).
CREATE TABLE event_types (
    code             TEXT PRIMARY KEY,
    major_code       TEXT NOT NULL,
    major_name       TEXT NOT NULL,
    sub_code         TEXT NOT NULL,
    sub_name         TEXT NOT NULL,
    name             TEXT NOT NULL,
    manage_code      TEXT REFERENCES departments(code),   -- 管理
    handle_code      TEXT REFERENCES departments(code),   -- 处置
    enforce_code     TEXT REFERENCES departments(code),   -- 执法
    legal_basis      TEXT NOT NULL,
    dispatch_flow    TEXT NOT NULL,
    time_limit       REAL NOT NULL,
    time_unit        TEXT NOT NULL CHECK (time_unit IN ('hours', 'workdays')),
    closure_criteria TEXT NOT NULL,
    urgency          TEXT NOT NULL,     -- 一般 / 紧急 / 特急
    component_class  TEXT REFERENCES component_classes(code)
);

-- Grid staff, 一长三员; personal data is masked in views unless the role may see it.
CREATE TABLE staff (
    id         INTEGER PRIMARY KEY,
    grid_code  TEXT NOT NULL,
    role       TEXT NOT NULL,           -- 网格长 / 网格指导员 / 网格协管员 / 网格参与员
    specialty  TEXT NOT NULL DEFAULT '',
    name       TEXT NOT NULL,
    gender     TEXT NOT NULL,
    id_number  TEXT NOT NULL,
    phone      TEXT NOT NULL,
    photo      BLOB
);
CREATE INDEX staff_grid ON staff(grid_code);

CREATE TABLE cases (
    id               TEXT PRIMARY KEY,
    channel_code     TEXT NOT NULL REFERENCES channels(code),
    event_type_code  TEXT NOT NULL REFERENCES event_types(code),
    description      TEXT NOT NULL,     -- as the reporter gave it; always shown escaped
    x                REAL NOT NULL,     -- EPSG:4549
    y                REAL NOT NULL,
    grid_code        TEXT NOT NULL,     -- level-3 grid it was assigned under
    grid_generation  INTEGER NOT NULL REFERENCES generations(id),
    town_code        TEXT NOT NULL,     -- level-1 grid
    component_code   TEXT,
    dept_code        TEXT REFERENCES departments(code),   -- the body it is with (routed, re-dispatched)
    route_reason     TEXT NOT NULL DEFAULT '',
    status           TEXT NOT NULL,     -- a state of layers.workflow.STATES
    urgency          TEXT NOT NULL,
    reported_at      TEXT NOT NULL,
    registered_at    TEXT,
    dispatched_at    TEXT,
    deadline_at      TEXT,
    handled_at       TEXT,
    closed_at        TEXT,
    evaluated_at     TEXT,
    rework_count     INTEGER NOT NULL DEFAULT 0,
    satisfaction     INTEGER,           -- call-back: 1 satisfied or basically, 0 not, NULL none
    version          INTEGER NOT NULL DEFAULT 1,
    external_id      TEXT,              -- the channel's own id of the report (idempotent intake)
    centre_code      TEXT NOT NULL DEFAULT 'district',   -- who dispatches: 'district' or a town's code
    due_from         TEXT,              -- when the current deadline started (the last dispatch)
    sendback_count   INTEGER NOT NULL DEFAULT 0,
    duplicate_count  INTEGER NOT NULL DEFAULT 0,
    card             TEXT NOT NULL DEFAULT '',         -- '' / yellow (80 % of the time) / red (overdue)
    callback         TEXT,              -- satisfied / basically_satisfied / unsatisfied / unreachable
    reporter_phone   TEXT NOT NULL DEFAULT '',         -- personal data: masked in every view
    address          TEXT NOT NULL DEFAULT '',
    media_url        TEXT NOT NULL DEFAULT ''
);
CREATE INDEX cases_reported ON cases(reported_at);
CREATE INDEX cases_grid ON cases(grid_code);
CREATE INDEX cases_status ON cases(status);
CREATE INDEX cases_dept ON cases(dept_code);
CREATE UNIQUE INDEX cases_external ON cases(channel_code, external_id) WHERE external_id IS NOT NULL;
CREATE INDEX cases_open ON cases(status, deadline_at)
    WHERE status IN ('reported', 'registered', 'dispatched', 'handled', 'supervisor');

-- Every step and change of a case appends here.
CREATE TABLE case_history (
    id        INTEGER PRIMARY KEY,
    case_id   TEXT NOT NULL,
    step      TEXT NOT NULL,            -- an action of layers.workflow, or duplicate / yellow_card / red_card
    at        TEXT NOT NULL,
    actor     TEXT NOT NULL,
    dept_code TEXT,
    note      TEXT NOT NULL DEFAULT '',
    role      TEXT NOT NULL DEFAULT ''
);
CREATE INDEX case_history_case ON case_history(case_id);

-- Further reports of an open case (same event type, near in place and time): counted on the case.
CREATE TABLE duplicate_reports (
    id             INTEGER PRIMARY KEY,
    case_id        TEXT NOT NULL REFERENCES cases(id),
    channel_code   TEXT NOT NULL REFERENCES channels(code),
    external_id    TEXT NOT NULL,
    reported_at    TEXT NOT NULL,
    x              REAL NOT NULL,
    y              REAL NOT NULL,
    description    TEXT NOT NULL,
    reporter_phone TEXT NOT NULL DEFAULT '',
    linked_at      TEXT NOT NULL,
    actor          TEXT NOT NULL,
    UNIQUE (channel_code, external_id)
);
CREATE INDEX duplicate_reports_case ON duplicate_reports(case_id);

-- When a new report is a duplicate of an open case: per event major class, a radius and a window.
CREATE TABLE duplicate_rules (
    major_code   TEXT PRIMARY KEY,      -- an event major class, or '*' for every other class
    radius_m     REAL NOT NULL CHECK (radius_m > 0),
    window_hours REAL NOT NULL CHECK (window_hours > 0)
);
-- Defaults a centre tunes: a broken component stays broken for days, a street-order problem moves on
-- within hours, an emergency is reported by many people around a wider place at once.
INSERT INTO duplicate_rules (major_code, radius_m, window_hours) VALUES
    ('*', 100, 72), ('01', 50, 24), ('02', 50, 168), ('03', 150, 72), ('04', 50, 4), ('05', 300, 6),
    ('11', 30, 168), ('12', 30, 168), ('13', 30, 72), ('14', 30, 168), ('15', 50, 168), ('16', 30, 168),
    ('22', 300, 48), ('28', 50, 720), ('29', 200, 48);

-- Imports: every batch, and every row it could not take, with the reason.
CREATE TABLE import_batches (
    id         INTEGER PRIMARY KEY,
    kind       TEXT NOT NULL,
    source     TEXT NOT NULL,
    at         TEXT NOT NULL,
    actor      TEXT NOT NULL,
    rows       INTEGER NOT NULL,
    accepted   INTEGER NOT NULL,
    rejected   INTEGER NOT NULL,
    state      TEXT NOT NULL DEFAULT 'applied',  -- previewed / applied / discarded
    sha256     TEXT NOT NULL DEFAULT '',         -- of the file's bytes: the same file twice is told
    crs        TEXT NOT NULL DEFAULT '',
    detail     TEXT NOT NULL DEFAULT '{}'        -- JSON: format, size, columns, grids revision
);
CREATE INDEX import_batches_file ON import_batches(kind, sha256);
CREATE TABLE import_rejects (
    id         INTEGER PRIMARY KEY,
    batch_id   INTEGER NOT NULL REFERENCES import_batches(id),
    row_number INTEGER NOT NULL,
    raw        TEXT NOT NULL,           -- the row as received (JSON)
    reason     TEXT NOT NULL
);
-- A batch checked but not yet applied: one row per data row of the file, as previewed.
CREATE TABLE import_preview_rows (
    batch_id    INTEGER NOT NULL REFERENCES import_batches(id),
    row_number  INTEGER NOT NULL,
    code        TEXT NOT NULL,
    x_in        TEXT NOT NULL,
    y_in        TEXT NOT NULL,
    note        TEXT NOT NULL,
    x           REAL,
    y           REAL,
    old_x       REAL,
    old_y       REAL,
    old_grid    TEXT,
    new_grid    TEXT,
    distance_m  REAL,
    version     INTEGER,
    accepted    INTEGER NOT NULL,
    reason_code TEXT NOT NULL,   -- every reason, ';'-separated, first the main one
    reason      TEXT NOT NULL,
    raw         TEXT,            -- the rejected row as received (JSON)
    PRIMARY KEY (batch_id, row_number)
);
"""


def table_columns(table: str) -> list[str]:
    """The columns of one of :data:`SCHEMA`'s tables, in order (``SELECT *`` would also bring a
    server store's generated geometry columns)."""
    return _TABLE_COLUMNS[table]


def _parse_columns(sql: str) -> dict[str, list[str]]:
    import re

    out: dict[str, list[str]] = {}
    for m in re.finditer(r"CREATE TABLE (\w+) \((.*?)\n\);", sql, re.S):
        body = re.sub(r"--[^\n]*", "", m.group(2))
        parts, depth, start = [], 0, 0
        for i, ch in enumerate(body):  # split at the commas between columns, not inside CHECK (...)
            depth += (ch == "(") - (ch == ")")
            if ch == "," and depth == 0:
                parts.append(body[start:i])
                start = i + 1
        parts.append(body[start:])
        cols = []
        for part in parts:
            word = part.strip().split(" ", 1)[0]
            if word and word.isidentifier() and word.upper() not in ("PRIMARY", "UNIQUE", "CHECK", "FOREIGN"):
                cols.append(word)
        out[m.group(1)] = cols
    return out


_TABLE_COLUMNS = _parse_columns(SCHEMA)


def read_frame(sql: str, conn: Conn, params: tuple[object, ...] | list[object] | None = None) -> pd.DataFrame:
    """A query's rows as a DataFrame, the same way on both stores (as ``pd.read_sql_query`` builds it)."""
    if isinstance(conn, sqlite3.Connection):
        return pd.read_sql_query(sql, conn, params=params)
    cur = conn.execute(sql, list(params or ()))
    names = [d[0] for d in cur.description or ()]
    return pd.DataFrame.from_records(cur.fetchall(), columns=names, coerce_float=True)


def _statements(sql: str) -> list[str]:
    """The statements of a script, one by one: ``executescript`` would commit the open upgrade
    transaction first, so a failed upgrade could leave a half-upgraded store."""
    out: list[str] = []
    buf = ""
    for line in sql.splitlines(keepends=True):
        buf += line
        if sqlite3.complete_statement(buf):
            out.append(buf.strip())
            buf = ""
    return out


def _v1_to_v2(conn: sqlite3.Connection) -> None:
    """The case desk: new case columns (constant defaults, so SQLite does not rewrite the table),
    the duplicate tables, and the centre and deadline start of the cases already there."""
    for column in (
        "external_id TEXT",
        "centre_code TEXT NOT NULL DEFAULT 'district'",
        "due_from TEXT",
        "sendback_count INTEGER NOT NULL DEFAULT 0",
        "duplicate_count INTEGER NOT NULL DEFAULT 0",
        "card TEXT NOT NULL DEFAULT ''",
        "callback TEXT",
        "reporter_phone TEXT NOT NULL DEFAULT ''",
        "address TEXT NOT NULL DEFAULT ''",
        "media_url TEXT NOT NULL DEFAULT ''",
    ):
        conn.execute(f"ALTER TABLE cases ADD COLUMN {column}")
    conn.execute("ALTER TABLE case_history ADD COLUMN role TEXT NOT NULL DEFAULT ''")
    for first, last in (
        ("CREATE UNIQUE INDEX cases_external", "-- Every step and change of a case"),
        ("-- Further reports of an open case", "-- Imports: every batch"),
    ):
        for statement in _statements(SCHEMA[SCHEMA.index(first) : SCHEMA.index(last)]):
            conn.execute(statement)
    conn.execute("UPDATE cases SET due_from = dispatched_at WHERE dispatched_at IS NOT NULL")
    conn.execute(
        "UPDATE cases SET centre_code = town_code WHERE dept_code IN "
        "(SELECT code FROM departments WHERE town_code IS NOT NULL)"
    )


def _v2_to_v3(conn: sqlite3.Connection) -> None:
    """The survey's undo stack and batch previews kept in the store."""
    conn.execute("ALTER TABLE component_history ADD COLUMN undoes INTEGER")
    # Undos written before the column named their change only in the default reason "undo <id>".
    conn.execute(
        "UPDATE component_history SET undoes = CAST(substr(reason, 6) AS INTEGER) "
        "WHERE action = 'undo' AND reason GLOB 'undo [0-9]*' AND reason NOT GLOB 'undo [0-9]*[^0-9]*'"
    )
    for column in (
        "state TEXT NOT NULL DEFAULT 'applied'",
        "sha256 TEXT NOT NULL DEFAULT ''",
        "crs TEXT NOT NULL DEFAULT ''",
        "detail TEXT NOT NULL DEFAULT '{}'",
    ):
        conn.execute(f"ALTER TABLE import_batches ADD COLUMN {column}")
    conn.execute("CREATE INDEX import_batches_file ON import_batches(kind, sha256)")
    first = "-- A batch checked but not yet applied"
    for statement in _statements(SCHEMA[SCHEMA.index(first) :]):
        conn.execute(statement)


#: Upgrades from version N to N+1, each run inside the upgrade transaction.
MIGRATIONS: dict[int, Callable[[sqlite3.Connection], None]] = {1: _v1_to_v2, 2: _v2_to_v3}


@dataclass(frozen=True)
class StoreInfo:
    path: Path
    schema_version: int
    meta: dict[str, str]


#: The words of :class:`StoreBusyError`, wherever a write finds the store locked.
BUSY_MESSAGE = "the store is busy with another write; try again in a moment"
#: How long a writer waits for another write to finish before it gives up with BUSY_MESSAGE.
BUSY_TIMEOUT_S = 10.0

# Words of SQLite (and ADBC) errors meaning another connection holds the lock, or the file itself
# is damaged; anything else (a wrong query) is a bug and is left to show as one.
_BUSY_WORDS = ("database is locked", "database is busy", "database table is locked")
_DAMAGE_WORDS = ("malformed", "not a database", "disk i/o error", "corrupt", "file is encrypted")


def _unreadable(path: Path, why: str) -> StoreUnreadableError:
    return StoreUnreadableError(
        f"{path} is not a readable OneGrid store ({why}); it was left untouched. Restore it from a "
        f"backup, or replace it with `python cli.py generate --store {path} --force`"
    )


def user_error(path: Path, exc: BaseException, *, opening: bool = False) -> StoreError | None:
    """The error a user can act on for a SQLite or ADBC error on the store at ``path``, if any.

    The one place where "database is locked" becomes :class:`StoreBusyError` and "database disk
    image is malformed" and its kin :class:`StoreUnreadableError`. While a store is being opened
    (``opening``) every SQLite error but a lock means the file cannot be read as a store.
    """
    text = str(exc).lower()
    if any(w in text for w in _BUSY_WORDS):
        return StoreBusyError(f"{BUSY_MESSAGE} ({path})")
    if opening or any(w in text for w in _DAMAGE_WORDS):
        return _unreadable(path, str(exc))
    return None


@contextlib.contextmanager
def translated(path: Path, *, opening: bool = False) -> Iterator[None]:
    """Raise the SQLite errors of the store at ``path`` that a user can act on as :func:`user_error`'s."""
    try:
        yield
    except sqlite3.Error as exc:
        mapped = user_error(path, exc, opening=opening)
        if mapped is None:
            raise
        raise mapped from exc


def _connect(
    path: Path, *, readonly: bool = False, busy_timeout_s: float = BUSY_TIMEOUT_S
) -> sqlite3.Connection:
    if readonly:
        conn = sqlite3.connect(
            f"file:{path}?mode=ro", uri=True, isolation_level=None, check_same_thread=False
        )
    else:
        conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute(f"PRAGMA busy_timeout = {round(busy_timeout_s * 1000)}")
    return conn


def _looks_like_sqlite(path: Path) -> bool:
    with path.open("rb") as fh:
        return fh.read(16) == _SQLITE_MAGIC


def _damage(path: Path) -> str | None:
    """Why the file cannot be a whole SQLite database, judged from its header and size alone.

    The first 100 bytes hold the page size (offset 16) and the page count (offset 28, trusted when
    the "version valid for" at 92 equals the change counter at 24): a file shorter than the header,
    or than the pages it records, was cut. While a non-empty WAL lies beside it the count may run
    ahead of the file (a checkpoint stopped after writing page 1), so the size is not judged then.
    """
    size = path.stat().st_size
    with path.open("rb") as fh:
        head = fh.read(100)
    if len(head) < 100 or not head.startswith(_SQLITE_MAGIC):
        return f"only {size:,} bytes, shorter than a SQLite header"
    page_size = struct.unpack(">H", head[16:18])[0]
    page_size = 65536 if page_size == 1 else page_size
    if page_size < 512 or page_size & (page_size - 1):
        return "its header is damaged"
    (change,) = struct.unpack(">I", head[24:28])
    (pages,) = struct.unpack(">I", head[28:32])
    (valid_for,) = struct.unpack(">I", head[92:96])
    wal = Path(f"{path}-wal")
    wal_pending = wal.exists() and wal.stat().st_size > 0
    if pages and valid_for == change and not wal_pending and size < pages * page_size:
        return f"cut short: {size:,} bytes of the {pages * page_size:,} its header records"
    return None


def _fault_point(name: str) -> None:
    """Kill this process here with SIGKILL when ``ONEGRID_FAULT`` names this point.

    The kill tests run a real child process through a build and stop it dead at the worst
    moments (``build-written``, ``build-settled``, ``build-replaced``); unset, this does nothing.
    """
    if os.environ.get("ONEGRID_FAULT") == name:
        os.kill(os.getpid(), signal.SIGKILL)


class Store:
    """An open OneGrid store. Use :func:`open_store` or :func:`build_store` to get one."""

    def __init__(self, path: Path, conn: sqlite3.Connection) -> None:
        self.path = path
        self.conn = conn
        self._adbc: object | None = None
        # While a new store is being built, the file being written (renamed to path at the end).
        self._building: Path | None = None

    # -- bulk reads ------------------------------------------------------------------------
    def read_arrow(self, sql: str, params: tuple[object, ...] | list[object] = ()) -> pa.Table:
        """Run a query straight into Arrow (ADBC, in C): 680k rows in ~0.5 s, no row loop.

        The ADBC connection is autocommit, so each query sees the latest committed data.
        """
        import adbc_driver_sqlite.dbapi as adbc

        if self.conn.in_transaction and self._adbc is None and self._building is None:
            return self._read_arrow_here(sql, params)
        try:
            self._open_adbc()
            cur = self._adbc.cursor()  # type: ignore[union-attr]
            try:
                cur.execute(sql, list(params) if params else None)
                return cur.fetch_arrow_table()
            finally:
                cur.close()
        except adbc.Error as exc:
            mapped = user_error(self.path, exc)
            if mapped is None:
                raise
            raise mapped from exc

    def _open_adbc(self) -> None:
        """Open the ADBC reading connection and read through it once, if not done yet.

        ADBC carries its own copy of SQLite. Two copies of SQLite in one process do not see each
        other's POSIX locks (sqlite.org/howtocorrupt.html, 2.2.1): when the second one opens the
        WAL index of a database the first is writing, it believes itself alone, rebuilds the
        index, and takes and releases the write lock, which releases the first one's too; another
        process can then write in the middle of that transaction. So the reader is opened, and
        its WAL index read, before any write transaction begins (:meth:`transaction` calls this).
        """
        if self._adbc is not None:
            return
        import adbc_driver_sqlite.dbapi as adbc

        src = self.path if self._building is None else self._building
        self._adbc = adbc.connect(f"file:{src}?mode=ro", autocommit=True)
        if self._building is None:
            cur = self._adbc.cursor()  # type: ignore[attr-defined]
            try:
                cur.execute("SELECT count(*) FROM sqlite_master")  # a read: the WAL index is read now
                cur.fetch_arrow_table()
            finally:
                cur.close()

    def _read_arrow_here(self, sql: str, params: tuple[object, ...] | list[object]) -> pa.Table:
        """Run a query on the writing connection itself, into Arrow.

        For a write transaction begun before the ADBC reader was opened (see :meth:`_open_adbc`),
        which must not be opened then.
        """
        with translated(self.path):
            cur = self.conn.execute(sql, tuple(params))
            names = [d[0] for d in cur.description]
            rows = cur.fetchall()
        columns = list(zip(*rows, strict=True)) if rows else [() for _ in names]
        return pa.table({name: pa.array(col) for name, col in zip(names, columns, strict=True)})

    def ingest(self, table: str, data: pa.Table | pd.DataFrame) -> int:
        """Append a whole frame to a table through Arrow (ADBC bulk ingest, in C).

        For bulk loading a new store (:func:`build_store`); it commits on its own, so edits that
        must share a transaction with other writes use :meth:`transaction` instead.
        """
        import adbc_driver_sqlite.dbapi as adbc

        tbl = data if isinstance(data, pa.Table) else pa.Table.from_pandas(data, preserve_index=False)
        with adbc.connect(str(self.path if self._building is None else self._building)) as conn:
            cur = conn.cursor()
            cur.adbc_ingest(table, tbl, mode="append")
            cur.close()
            conn.commit()
        return tbl.num_rows

    # -- transactions --------------------------------------------------------------------
    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction: all of it is committed, or none of it.

        A writer waits up to the busy timeout for another write to finish; then, and for any
        lock met inside, it gets :class:`StoreBusyError` with nothing written. SQLite errors
        meaning a damaged file come out as :class:`StoreUnreadableError` (see :func:`user_error`).
        """
        if self._building is None:
            import adbc_driver_sqlite.dbapi as adbc

            try:
                self._open_adbc()
            except adbc.Error as exc:
                mapped = user_error(self.path, exc)
                if mapped is None:
                    raise
                raise mapped from exc
        with translated(self.path):
            self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield self.conn
        except BaseException as exc:
            # SQLite rolls back by itself on some errors (a full disk); ROLLBACK would then fail.
            if self.conn.in_transaction:
                self.conn.execute("ROLLBACK")
            mapped = user_error(self.path, exc) if isinstance(exc, sqlite3.Error) else None
            if mapped is None:
                raise
            raise mapped from exc
        else:
            try:
                self.conn.execute("COMMIT")
            except sqlite3.Error as exc:
                if self.conn.in_transaction:
                    self.conn.execute("ROLLBACK")
                mapped = user_error(self.path, exc)
                if mapped is None:
                    raise
                raise mapped from exc

    # -- meta ----------------------------------------------------------------------------
    def meta(self) -> dict[str, str]:
        with translated(self.path):
            return dict(self.conn.execute("SELECT key, value FROM meta").fetchall())

    def set_meta(self, conn: Conn, **values: object) -> None:
        conn.executemany(
            "INSERT INTO meta(key, value) VALUES (?, ?) "
            "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            [(k, str(v)) for k, v in values.items()],
        )

    def bump_revision(self, conn: Conn, layer: str) -> None:
        """Mark a layer as changed, so caches of it (in the app, on disk) are refreshed."""
        conn.execute(
            "INSERT INTO meta(key, value) VALUES (?, '1') "
            "ON CONFLICT(key) DO UPDATE SET value = CAST(CAST(meta.value AS INTEGER) + 1 AS TEXT)",
            (f"rev.{layer}",),
        )

    def revision(self, layer: str) -> int:
        with translated(self.path):
            row = self.conn.execute("SELECT value FROM meta WHERE key = ?", (f"rev.{layer}",)).fetchone()
        return int(row[0]) if row else 0

    def current_generation(self) -> int:
        with translated(self.path):
            row = self.conn.execute(
                # The oldest open generation: a later open one is scheduled, not yet in effect.
                "SELECT id FROM generations WHERE valid_to IS NULL ORDER BY id LIMIT 1"
            ).fetchone()
        if row is None:
            raise StoreError(f"{self.path}: the store has no current grid generation")
        return int(row[0])

    def info(self) -> StoreInfo:
        with translated(self.path):
            version = self.conn.execute("PRAGMA user_version").fetchone()[0]
        return StoreInfo(path=self.path, schema_version=int(version), meta=self.meta())

    def foreign_key_problems(self, limit: int = 5) -> list[tuple[object, ...]]:
        """Rows breaking a foreign key (a bulk load does not check them as it goes)."""
        with translated(self.path):
            return list(self.conn.execute("PRAGMA foreign_key_check").fetchmany(limit))

    @property
    def backend(self) -> str:
        return "sqlite"

    @property
    def target(self) -> Path | str:
        """What :func:`open_store` takes to open this store again (``path`` is for messages)."""
        return self.path

    def close(self) -> None:
        if self._adbc is not None:
            self._adbc.close()  # type: ignore[attr-defined]
            self._adbc = None
        self.conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class PgStore(Store):
    """An open OneGrid store in PostgreSQL/PostGIS (see :mod:`layers.pgstore`).

    ``path``, which messages name, is the database URL with its password hidden; ``target`` is
    the URL itself, what :func:`open_store` takes.
    """

    def __init__(self, url: str, conn: pgstore.PgConnection, *, schema: str = pgstore.STORE_SCHEMA) -> None:
        super().__init__(pgstore.shown(url), conn)  # type: ignore[arg-type]
        self.url = url
        self.schema = schema

    def read_arrow(self, sql: str, params: tuple[object, ...] | list[object] = ()) -> pa.Table:
        """Run a query into Arrow through ADBC (binary COPY, in C); inside a write transaction, on
        the writing connection itself, which alone sees the transaction's rows."""
        assert isinstance(self.conn, pgstore.PgConnection)
        if self.conn.in_transaction:
            cur = self.conn.execute(sql, list(params))
            names = [d[0] for d in cur.description or ()]
            rows = cur.fetchall()
            columns = list(zip(*rows, strict=True)) if rows else [() for _ in names]
            return pgstore.normalised(pa.table({n: pa.array(c) for n, c in zip(names, columns, strict=True)}))
        text, order = pgstore.translate(sql)
        values = list(params)
        if order is not None:
            values = [values[i] for i in order]
        # Parameters are written into the text by psycopg (as it does for every statement here):
        # the server then infers no parameter types, exactly as for the psycopg path.
        literal = self.conn.raw.cursor().mogrify(text, values) if values else text.replace("%%", "%")
        import adbc_driver_postgresql.dbapi as adbc

        try:
            if self._adbc is None:
                self._adbc = pgstore.adbc_connect(self.url, self.schema)
            cur = self._adbc.cursor()  # type: ignore[attr-defined]
            try:
                cur.execute(literal)
                return pgstore.normalised(cur.fetch_arrow_table())
            finally:
                cur.close()
        except adbc.Error as exc:
            if "connection" in str(exc).lower() or "server closed" in str(exc).lower():
                self._adbc = None
                raise StoreError(
                    f"the PostgreSQL store at {pgstore.shown(self.url)} cannot be reached ({exc}); "
                    "run again when the server is back"
                ) from exc
            raise

    def ingest(self, table: str, data: pa.Table | pd.DataFrame) -> int:
        """Append a whole frame to a table through ADBC's binary COPY; ids loaded with the rows
        move the table's numbering past them."""
        assert isinstance(self.conn, pgstore.PgConnection)
        tbl = data if isinstance(data, pa.Table) else pa.Table.from_pandas(data, preserve_index=False)
        if tbl.num_rows == 0:
            return 0
        conn = pgstore.adbc_connect(self.url, self.schema)
        try:
            cur = conn.cursor()
            cur.adbc_ingest(table, tbl, mode="append", db_schema_name=self.schema)
            cur.close()
        finally:
            conn.close()
        if table in pgstore.id_tables(SCHEMA):
            pgstore.reset_identities(self.conn, [table])
        return tbl.num_rows

    @contextlib.contextmanager
    def transaction(self) -> Iterator[pgstore.PgConnection]:  # type: ignore[override]
        """One PostgreSQL transaction: all of it is committed, or none of it.

        The layers' revision bumps (:meth:`bump_revision`) are written last, just before COMMIT:
        every writer of a layer updates its one ``meta`` row, whose lock is then held only while
        the transaction commits, not for all of its work.
        """
        assert isinstance(self.conn, pgstore.PgConnection)
        conn = self.conn
        conn.execute("BEGIN")
        conn.pending_revisions = set()
        try:
            yield conn
            for layer in sorted(conn.pending_revisions):  # one order: two writers never deadlock
                super().bump_revision(conn, layer)
        except BaseException:
            conn.pending_revisions = None
            if not conn.raw.closed:
                with contextlib.suppress(Exception):
                    conn.raw.execute("ROLLBACK")
            raise
        else:
            conn.pending_revisions = None
            try:
                conn.execute("COMMIT")
            except BaseException:
                if not conn.raw.closed and conn.in_transaction:
                    with contextlib.suppress(Exception):
                        conn.raw.execute("ROLLBACK")
                raise

    def bump_revision(self, conn: Conn, layer: str) -> None:
        if isinstance(conn, pgstore.PgConnection) and conn.pending_revisions is not None:
            conn.pending_revisions.add(layer)
        else:
            super().bump_revision(conn, layer)

    def info(self) -> StoreInfo:
        assert isinstance(self.conn, pgstore.PgConnection)
        return StoreInfo(
            path=self.path, schema_version=pgstore.store_version(self.conn, self.url), meta=self.meta()
        )

    def foreign_key_problems(self, limit: int = 5) -> list[tuple[object, ...]]:
        # PostgreSQL checks them itself when the store's build adds them (build_store).
        return []

    @property
    def backend(self) -> str:
        return "postgresql"

    @property
    def target(self) -> Path | str:
        return self.url


def _check_header(path: Path, conn: sqlite3.Connection) -> int:
    app_id = conn.execute("PRAGMA application_id").fetchone()[0]
    version = int(conn.execute("PRAGMA user_version").fetchone()[0])
    if app_id != APPLICATION_ID:
        raise StoreError(
            f"{path} is a SQLite file but not a OneGrid store (application_id {app_id:#x}); "
            "it was left untouched. Give another --store path."
        )
    if version > SCHEMA_VERSION:
        raise StoreError(
            f"{path} has schema version {version}, newer than this OneGrid understands "
            f"({SCHEMA_VERSION}); upgrade OneGrid. The file was left untouched."
        )
    if version < 1:
        raise StoreError(
            f"{path} is an incomplete OneGrid store (schema version {version}); "
            "generate it again with --force"
        )
    return version


def _upgrade(path: Path, conn: sqlite3.Connection, version: int) -> None:
    missing = [v for v in range(version, SCHEMA_VERSION) if v not in MIGRATIONS]
    if missing:
        raise StoreError(
            f"{path} has schema version {version}; no upgrade path from it to {SCHEMA_VERSION}. "
            "The file was left untouched; generate a new store."
        )
    conn.execute("BEGIN IMMEDIATE")
    try:
        for v in range(version, SCHEMA_VERSION):
            MIGRATIONS[v](conn)
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def open_store(
    path: str | os.PathLike[str], *, readonly: bool = False, busy_timeout_s: float = BUSY_TIMEOUT_S
) -> Store:
    """Open an existing store; refuse a missing, foreign or damaged file, or a newer schema.

    Parameters
    ----------
    readonly
        Open without write access (no WAL switch). A store of an older schema is upgraded first,
        in one write transaction, then opened read-only.
    busy_timeout_s
        How long a write waits for another one before :class:`StoreBusyError`.

    Raises
    ------
    StoreError
        No file, a folder, a file that is not a OneGrid store, a schema this OneGrid cannot use.
    StoreUnreadableError
        The file is a damaged store: cut short, or SQLite cannot read its schema or meta table.
    StoreBusyError
        An upgrade or the switch to WAL waited longer than ``busy_timeout_s`` for another write.
    """
    if pgstore.is_url(path):
        return _open_pg(str(path), readonly=readonly, busy_timeout_s=busy_timeout_s)
    p = Path(path)
    if not p.exists():
        raise StoreError(f"no store at {p}; create one with `python cli.py generate --store {p}`")
    if p.is_dir():
        raise StoreError(f"{p} is a folder, not a store file")
    if not _looks_like_sqlite(p):
        if _kind_of(p) == "damaged":  # cut inside SQLite's 16-byte magic
            raise _unreadable(p, f"only {p.stat().st_size} bytes, shorter than a SQLite header")
        raise StoreError(f"{p} is not a SQLite file, so not a OneGrid store; it was left untouched")
    why = _damage(p)
    if why is not None:
        raise _unreadable(p, why)
    conn: sqlite3.Connection | None = None
    try:
        with translated(p, opening=True):
            conn = _connect(p, readonly=readonly, busy_timeout_s=busy_timeout_s)
            version = _check_header(p, conn)
            if version < SCHEMA_VERSION:
                if readonly:
                    # A reader (the app, an export) upgrades an older store once, in the upgrade's
                    # own transaction, then reads: refusing would leave every older store unusable
                    # until someone ran a writing command on it.
                    conn.close()
                    conn = None
                    open_store(p, readonly=False, busy_timeout_s=busy_timeout_s).close()
                    return open_store(p, readonly=True, busy_timeout_s=busy_timeout_s)
                _upgrade(p, conn, version)
            if not readonly:
                conn.execute("PRAGMA journal_mode = WAL")
            # The first reads, here: a store damaged inside is refused with its name now rather
            # than by whatever query a command happens to run first.
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
            conn.execute("SELECT count(*) FROM meta").fetchone()
            due = _scheduled_generation_due(conn)
    except BaseException:
        if conn is not None:
            conn.close()
        raise
    store = Store(p, conn)
    if due:
        return _due_generation_in_effect(
            store,
            readonly=readonly,
            reopen=lambda ro: open_store(p, readonly=ro, busy_timeout_s=busy_timeout_s),
        )
    return store


_S = TypeVar("_S", bound="Store")


def _due_generation_in_effect(store: _S, *, readonly: bool, reopen: Callable[[bool], _S]) -> _S:
    """The store, with the grid generation scheduled for a day that has now come put in effect.

    Done as the store is opened, before anything reads it: every command and page opens it, so
    lookups never see the new grids with components still in the old ones. A reader has it done by
    a writer (``reopen(False)``), once, as with a schema upgrade, then opens again (``reopen(True)``).
    """
    if readonly:
        store.close()
        reopen(False).close()
        return reopen(True)
    from layers.planner import take_effect  # the planner builds on the store

    try:
        take_effect(store)
    except BaseException:
        store.close()
        raise
    return store


def _open_pg(url: str, *, readonly: bool, busy_timeout_s: float) -> PgStore:
    conn = pgstore.PgConnection(
        url, readonly=readonly, lock_timeout_s=busy_timeout_s, id_tables=pgstore.id_tables(SCHEMA)
    )
    try:
        pgstore.store_version(conn, url)
        due = _scheduled_generation_due(conn)
    except BaseException:
        conn.close()
        raise
    store = PgStore(url, conn)
    if due:
        return _due_generation_in_effect(
            store,
            readonly=readonly,
            reopen=lambda ro: _open_pg(url, readonly=ro, busy_timeout_s=busy_timeout_s),
        )
    return store


def _scheduled_generation_due(conn: Conn) -> bool:
    """Whether a scheduled grid generation (see :func:`layers.planner.adopt_grids`) is due today.

    The current generation is the oldest one still open (``valid_to IS NULL``); a later open one
    is scheduled and waits for its ``valid_from``.
    """
    from layers.workcalendar import now_dt

    row = conn.execute(
        "SELECT min(valid_from) FROM generations WHERE valid_to IS NULL"
        " AND id > (SELECT min(id) FROM generations WHERE valid_to IS NULL)"
    ).fetchone()
    return row is not None and row[0] is not None and str(row[0])[:10] <= now_dt().date().isoformat()


def _kind_of(path: Path) -> str:
    """What an existing file is: ``empty``, ``onegrid``, ``damaged``, ``foreign`` or ``not-sqlite``.

    Judged from the raw header, which SQLite itself will not read from a damaged file:
    ``onegrid`` when it carries OneGrid's application id (so a store cut short is still
    recognised); ``damaged`` when it starts with SQLite's magic (or is cut inside it) but the
    header is incomplete or not one SQLite could read; ``foreign`` when the header is whole and
    names another application (or none) — whether the rest of the file is damaged or not.
    """
    size = path.stat().st_size
    if size == 0:
        return "empty"
    with path.open("rb") as fh:
        head = fh.read(100)
    if not head.startswith(_SQLITE_MAGIC):
        return "damaged" if _SQLITE_MAGIC.startswith(head) else "not-sqlite"
    if len(head) < 100:
        return "damaged"
    page_size = struct.unpack(">H", head[16:18])[0]
    if page_size != 1 and (page_size < 512 or page_size & (page_size - 1)):
        return "damaged"
    return "onegrid" if struct.unpack(">I", head[68:72])[0] == APPLICATION_ID else "foreign"


def check_target(path: str | os.PathLike[str], *, force: bool) -> Path:
    if pgstore.is_url(path):
        return pgstore.check_target(str(path), force=force)  # type: ignore[return-value]
    return _check_file_target(path, force=force)


def _check_file_target(path: str | os.PathLike[str], *, force: bool) -> Path:
    """The path a new store may be written to; refuse to overwrite a file unless ``force``.

    Even with ``force`` only a file that can be nothing but a OneGrid store, or the wreck of one,
    is replaced: an empty file, a file whose header carries OneGrid's application id (healthy or
    damaged), or a file that starts like SQLite (or is cut inside SQLite's 16-byte magic) but whose
    header SQLite cannot read. A SQLite file whose header names another application (healthy or
    not), and a file that is not SQLite at all (a text file, an image), are never replaced.
    """
    p = Path(path)
    if p.is_dir():
        raise StoreExistsError(f"{p} is a folder; give a file path for the store")
    if p.exists():
        if not force:
            raise StoreExistsError(
                f"{p} exists; nothing was overwritten. Use --force to replace it, or another --store"
            )
        kind = _kind_of(p)
        if kind == "not-sqlite":
            raise StoreExistsError(f"{p} is not a OneGrid store; refusing to replace it even with --force")
        if kind == "foreign":
            raise StoreExistsError(
                f"{p} is a SQLite file of another application; refusing to replace it even with --force"
            )
    return p


_SIDECARS = ("-journal", "-wal", "-shm")


def _remove_orphans(target: Path) -> list[Path]:
    """Remove temporary stores left beside ``target`` by builds that were killed, with their journals.

    A build holds an ``flock`` on its temporary file for as long as it runs (:func:`_claim_temporary`),
    so a temporary file this process can lock is one whose writer is gone; a running build's is
    left alone. Returns the files removed.
    """
    removed: list[Path] = []
    for tmp in sorted(target.parent.glob(f".{glob.escape(target.name)}.*.tmp")):
        try:
            fd = os.open(tmp, os.O_RDONLY)
        except FileNotFoundError:  # renamed or removed by its build meanwhile
            continue
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue
            for suffix in _SIDECARS:
                Path(f"{tmp}{suffix}").unlink(missing_ok=True)
            tmp.unlink(missing_ok=True)
            removed.append(tmp)
        finally:
            os.close(fd)
    # Journals whose temporary store is gone (a kill while SQLite was deleting it).
    for side in target.parent.glob(f".{glob.escape(target.name)}.*.tmp-*"):
        if not Path(str(side).rsplit("-", 1)[0]).exists():
            side.unlink(missing_ok=True)
    # Empty files of a kill between creating a temporary file and locking it; a live build holds
    # its own for microseconds, so only old ones are taken.
    for new in target.parent.glob(f".{glob.escape(target.name)}.*.new"):
        with contextlib.suppress(FileNotFoundError):
            if new.stat().st_size == 0 and time.time() - new.stat().st_mtime > 3600:
                new.unlink()
                removed.append(new)
    return removed


def _claim_temporary(target: Path) -> tuple[int, Path]:
    """An empty temporary file ``.<name>.<random>.tmp`` beside ``target``, flock-ed by this process.

    The lock lives as long as the returned descriptor. The file is created under another suffix and
    renamed to ``.tmp`` only once locked, so :func:`_remove_orphans` in another process never sees
    it unlocked. (``flock`` locks do not mix with the POSIX locks SQLite itself takes.)
    """
    name = str(target.parent / f".{target.name}.{secrets.token_hex(8)}.new")
    # os.open rather than mkstemp: the store gets the mode the umask gives, not 0600.
    fd = os.open(name, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        tmp = Path(name[: -len(".new")] + ".tmp")
        os.rename(name, tmp)
    except BaseException:
        os.close(fd)
        Path(name).unlink(missing_ok=True)
        raise
    return fd, tmp


def _settle_old(target: Path) -> sqlite3.Connection | None:
    """Make the store at ``target`` whole in its main file and keep every other writer out.

    SQLite itself folds the WAL into the main file and removes the ``-wal`` and ``-shm`` when the
    journal mode is switched from WAL to DELETE, which it does only when no other connection has
    the store open; an EXCLUSIVE lock then keeps anyone from reading it back into WAL mode until
    the caller has renamed the new store over it and closes the returned connection. So the old
    store is whole at every instant, and no old WAL is left to be replayed onto the new file.

    A damaged store has no readable WAL to keep: its sidecar files are removed. Returns the
    connection holding the lock, or ``None`` when there was no readable store.

    Raises
    ------
    StoreBusyError
        Another program has the store open; nothing was changed.
    """
    readable = target.exists() and _kind_of(target) == "onegrid" and _damage(target) is None
    if readable:
        conn = sqlite3.connect(target, isolation_level=None, timeout=BUSY_TIMEOUT_S)
        try:
            mode = conn.execute("PRAGMA journal_mode = DELETE").fetchone()[0]
            if str(mode).lower() != "delete":  # pragma: no cover - SQLite reports a lock instead
                raise sqlite3.OperationalError("database is locked")
            conn.execute("BEGIN EXCLUSIVE")
            return conn
        except sqlite3.Error as exc:
            conn.close()
            if user_error(target, exc) is None or any(w in str(exc).lower() for w in _BUSY_WORDS):
                raise StoreBusyError(
                    f"{target} is open in another program (the app?), so it cannot be replaced now; "
                    "it was left as it was. Close that program and run again."
                ) from exc
            # Damaged inside (the header looked whole): nothing readable to keep.
    for suffix in _SIDECARS:
        Path(f"{target}{suffix}").unlink(missing_ok=True)
    return None


@contextlib.contextmanager
def build_store(path: str | os.PathLike[str], *, force: bool = False) -> Iterator[Store]:
    """Create a new store atomically: at every instant ``path`` holds the old store, whole, or the new one.

    The new store is written to a temporary file ``.<name>.<random>.tmp`` beside ``path`` and
    renamed over it only when the ``with`` block finishes without error.

    - On an error the temporary file is removed and the old file is untouched.
    - A killed build leaves its temporary file behind, unlocked; the next build beside the same
      target removes it and its journal (:func:`_remove_orphans`). Builds still running hold a lock
      on theirs and are left alone.
    - Before the rename, the old store's WAL is folded into its main file by SQLite and the store
      kept locked (:func:`_settle_old`): an edit committed to the old store is never lost to a kill
      at any moment, and no old ``-wal`` is ever replayed onto the new file.

    Raises
    ------
    StoreExistsError
        See :func:`check_target`.
    StoreBusyError
        The old store is open in another program; nothing was replaced.
    """
    if pgstore.is_url(path):
        with _build_pg(str(path), force=force) as store:
            yield store
        return
    target = _check_file_target(path, force=force)
    target.parent.mkdir(parents=True, exist_ok=True)
    _remove_orphans(target)
    fd, tmp = _claim_temporary(target)
    try:
        conn = _connect(tmp)
        # A fresh store is written by one process; these settings make bulk loading fast and the
        # atomic rename below is what makes the whole build all-or-nothing.
        conn.execute("PRAGMA journal_mode = OFF")
        conn.execute("PRAGMA synchronous = OFF")
        conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
        conn.executescript(SCHEMA)
        new = Store(target, conn)
        new._building = tmp
        try:
            yield new
            _fault_point("build-midway")
            new._building = None
            conn.execute("PRAGMA synchronous = FULL")
            conn.execute("ANALYZE")
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            new.close()  # the last connection: SQLite removes the temporary file's -wal and -shm
            _fault_point("build-written")
            old = _settle_old(target)
            try:
                _fault_point("build-settled")
                os.replace(tmp, target)
            finally:
                if old is not None:
                    old.close()  # its transaction wrote nothing; closing drops the lock
            _fault_point("build-replaced")
        except BaseException:
            new.close()
            for suffix in ("", *_SIDECARS):
                Path(f"{tmp}{suffix}").unlink(missing_ok=True)
            raise
    finally:
        os.close(fd)


@contextlib.contextmanager
def _build_pg(url: str, *, force: bool) -> Iterator[PgStore]:
    """:func:`build_store` on PostgreSQL: built in a schema of its own, swapped in by one transaction."""
    with pgstore.building(url, force=force, schema_sql=SCHEMA) as (conn, schema):
        store = PgStore(url, conn, schema=schema)
        store._building = Path(schema)
        try:
            yield store
            _fault_point("build-midway")
            for statement in pgstore.foreign_keys(SCHEMA):
                try:
                    conn.execute(statement)
                except sqlite3.IntegrityError as exc:
                    raise StoreError(
                        f"the new store breaks a foreign key ({exc}); nothing was replaced"
                    ) from exc
            pgstore.reset_identities(conn, sorted(pgstore.id_tables(SCHEMA)))
            conn.execute(
                "INSERT INTO store_header(application_id, schema_version, built) VALUES (?, ?, ?)",
                (APPLICATION_ID, SCHEMA_VERSION, time.time_ns()),
            )
        finally:
            if store._adbc is not None:
                store._adbc.close()  # type: ignore[attr-defined]
                store._adbc = None
