"""The embedded store: one SQLite file (WAL, foreign keys on), opened only through this module.

A OneGrid store is recognised by SQLite's ``application_id`` header field; its schema version is
``user_version``. A store from an older schema is upgraded in one transaction; a newer one, or a
file that is not a OneGrid store, is refused and left untouched.

Writes go through :meth:`Store.transaction` (``BEGIN IMMEDIATE`` … ``COMMIT``): a crash or kill
mid-write leaves the store as it was before that write. Whole new stores are written to a
temporary file beside the target and renamed over it only when complete (:func:`build_store`).
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pyarrow as pa

from layers.errors import StoreError, StoreExistsError

#: "ONGR" — marks a SQLite file as a OneGrid store (PRAGMA application_id).
APPLICATION_ID = 0x4F4E4752
#: Current schema version (PRAGMA user_version). 2: the case desk (intake, send-backs, cards,
#: duplicate reports, duplicate rules, actor roles in the case history).
SCHEMA_VERSION = 2

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
    valid_to   TEXT,                   -- ISO date, exclusive; NULL while current
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
    reason         TEXT NOT NULL DEFAULT ''
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
    rejected   INTEGER NOT NULL
);
CREATE TABLE import_rejects (
    id         INTEGER PRIMARY KEY,
    batch_id   INTEGER NOT NULL REFERENCES import_batches(id),
    row_number INTEGER NOT NULL,
    raw        TEXT NOT NULL,           -- the row as received (JSON)
    reason     TEXT NOT NULL
);
"""


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


#: Upgrades from version N to N+1, each run inside the upgrade transaction.
MIGRATIONS: dict[int, Callable[[sqlite3.Connection], None]] = {1: _v1_to_v2}


@dataclass(frozen=True)
class StoreInfo:
    path: Path
    schema_version: int
    meta: dict[str, str]


def _connect(path: Path, *, readonly: bool = False) -> sqlite3.Connection:
    if readonly:
        conn = sqlite3.connect(
            f"file:{path}?mode=ro", uri=True, isolation_level=None, check_same_thread=False
        )
    else:
        conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute("PRAGMA busy_timeout = 10000")
    return conn


def _looks_like_sqlite(path: Path) -> bool:
    with path.open("rb") as fh:
        return fh.read(16) == _SQLITE_MAGIC


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

        if self._adbc is None:
            src = self.path if self._building is None else self._building
            self._adbc = adbc.connect(f"file:{src}?mode=ro", autocommit=True)
        cur = self._adbc.cursor()  # type: ignore[attr-defined]
        try:
            cur.execute(sql, list(params) if params else None)
            return cur.fetch_arrow_table()
        finally:
            cur.close()

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
        """One write transaction: all of it is committed, or none of it."""
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield self.conn
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        else:
            self.conn.execute("COMMIT")

    # -- meta ----------------------------------------------------------------------------
    def meta(self) -> dict[str, str]:
        return dict(self.conn.execute("SELECT key, value FROM meta").fetchall())

    def set_meta(self, conn: sqlite3.Connection, **values: object) -> None:
        conn.executemany(
            "INSERT INTO meta(key, value) VALUES (?, ?) "
            "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            [(k, str(v)) for k, v in values.items()],
        )

    def bump_revision(self, conn: sqlite3.Connection, layer: str) -> None:
        """Mark a layer as changed, so caches of it (in the app, on disk) are refreshed."""
        conn.execute(
            "INSERT INTO meta(key, value) VALUES (?, '1') "
            "ON CONFLICT(key) DO UPDATE SET value = CAST(value AS INTEGER) + 1",
            (f"rev.{layer}",),
        )

    def revision(self, layer: str) -> int:
        row = self.conn.execute("SELECT value FROM meta WHERE key = ?", (f"rev.{layer}",)).fetchone()
        return int(row[0]) if row else 0

    def current_generation(self) -> int:
        row = self.conn.execute(
            "SELECT id FROM generations WHERE valid_to IS NULL ORDER BY id DESC LIMIT 1"
        ).fetchone()
        if row is None:
            raise StoreError(f"{self.path}: the store has no current grid generation")
        return int(row[0])

    def info(self) -> StoreInfo:
        version = self.conn.execute("PRAGMA user_version").fetchone()[0]
        return StoreInfo(path=self.path, schema_version=int(version), meta=self.meta())

    def close(self) -> None:
        if self._adbc is not None:
            self._adbc.close()  # type: ignore[attr-defined]
            self._adbc = None
        self.conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


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


def open_store(path: str | os.PathLike[str], *, readonly: bool = False) -> Store:
    """Open an existing store; refuse a missing file, a foreign file or a newer schema."""
    p = Path(path)
    if not p.exists():
        raise StoreError(f"no store at {p}; create one with `python cli.py generate --store {p}`")
    if p.is_dir():
        raise StoreError(f"{p} is a folder, not a store file")
    if not _looks_like_sqlite(p):
        raise StoreError(f"{p} is not a SQLite file, so not a OneGrid store; it was left untouched")
    conn = _connect(p, readonly=readonly)
    try:
        version = _check_header(p, conn)
        if version < SCHEMA_VERSION:
            if readonly:
                raise StoreError(f"{p} has an older schema ({version}); open it writable to upgrade")
            _upgrade(p, conn, version)
        if not readonly:
            conn.execute("PRAGMA journal_mode = WAL")
    except BaseException:
        conn.close()
        raise
    return Store(p, conn)


def check_target(path: str | os.PathLike[str], *, force: bool) -> Path:
    """Refuse to overwrite an existing file unless ``force``; never overwrite a foreign file."""
    p = Path(path)
    if p.is_dir():
        raise StoreExistsError(f"{p} is a folder; give a file path for the store")
    if p.exists():
        if not force:
            raise StoreExistsError(
                f"{p} exists; nothing was overwritten. Use --force to replace it, or another --store"
            )
        if p.stat().st_size > 0:
            if not _looks_like_sqlite(p):
                raise StoreExistsError(
                    f"{p} is not a OneGrid store; refusing to replace it even with --force"
                )
            conn = sqlite3.connect(f"file:{p}?mode=ro", uri=True)
            try:
                app_id = conn.execute("PRAGMA application_id").fetchone()[0]
            finally:
                conn.close()
            if app_id != APPLICATION_ID:
                raise StoreExistsError(
                    f"{p} is a SQLite file of another application; refusing to replace it even with --force"
                )
    return p


@contextlib.contextmanager
def build_store(path: str | os.PathLike[str], *, force: bool = False) -> Iterator[Store]:
    """Create a new store atomically.

    The new store is written to a temporary file beside ``path`` and renamed over it only when
    the ``with`` block finishes without error; on any error (or a kill) the old file, if any,
    is untouched and the temporary file is removed (or left as an orphan ``.tmp`` to be cleaned).
    """
    target = check_target(path, force=force)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    tmp.unlink()
    conn = _connect(tmp)
    # A fresh store is written by one process; these settings make bulk loading fast and the
    # atomic rename below is what makes the whole build all-or-nothing.
    conn.execute("PRAGMA journal_mode = OFF")
    conn.execute("PRAGMA synchronous = OFF")
    conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
    conn.executescript(SCHEMA)
    store = Store(target, conn)
    store._building = tmp
    try:
        yield store
        store._building = None
        conn.execute("PRAGMA synchronous = FULL")
        conn.execute("ANALYZE")
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        store.close()
        for suffix in ("-wal", "-shm"):
            Path(str(target) + suffix).unlink(missing_ok=True)
        os.replace(tmp, target)
    except BaseException:
        store.close()
        for suffix in ("", "-wal", "-shm", "-journal"):
            Path(str(tmp) + suffix).unlink(missing_ok=True)
        raise
