"""The store: recognised by its header, upgraded or refused, written all-or-nothing."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pandas as pd
import pytest

from layers import store as store_mod
from layers.errors import StoreError, StoreExistsError
from layers.store import APPLICATION_ID, SCHEMA_VERSION, build_store, open_store


def _make(path: Path) -> None:
    with build_store(path) as st, st.transaction() as conn:
        st.set_meta(conn, district_code="320506")
        conn.execute("INSERT INTO generations(id, valid_from, created_at) VALUES (1, '2024-01-01', 'now')")


def test_new_store_has_header_schema_and_wal(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite"
    _make(path)
    raw = sqlite3.connect(path)
    assert raw.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID
    assert raw.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    raw.close()
    with open_store(path) as st:
        assert st.meta()["district_code"] == "320506"
        assert st.conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
        assert st.current_generation() == 1
    assert not list(tmp_path.glob(".*.tmp")), "no temporary file is left behind"


def test_missing_store_is_named(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match=r"no store at .*cli\.py generate"):
        open_store(tmp_path / "nope.sqlite")


def test_foreign_sqlite_file_is_refused_and_untouched(tmp_path: Path) -> None:
    path = tmp_path / "other.sqlite"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE t(a)")
    conn.execute("INSERT INTO t VALUES (1)")
    conn.commit()
    conn.close()
    before = path.read_bytes()
    with pytest.raises(StoreError, match="not a OneGrid store"):
        open_store(path)
    with pytest.raises(StoreExistsError, match="another application"), build_store(path, force=True):
        pass
    assert path.read_bytes() == before


def test_text_file_is_refused_and_untouched(tmp_path: Path) -> None:
    path = tmp_path / "notes.sqlite"
    path.write_text("not a database", encoding="utf-8")
    with pytest.raises(StoreError, match="not a SQLite file"):
        open_store(path)
    with pytest.raises(StoreExistsError, match="exists; nothing was overwritten"), build_store(path):
        pass
    with pytest.raises(StoreExistsError, match="not a OneGrid store"), build_store(path, force=True):
        pass
    assert path.read_text(encoding="utf-8") == "not a database"


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite"
    _make(path)
    raw = sqlite3.connect(path)
    raw.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    raw.commit()
    raw.close()
    with pytest.raises(StoreError, match="newer than this OneGrid"):
        open_store(path)


_V2_CASE_COLUMNS = (
    "external_id", "centre_code", "due_from", "sendback_count", "duplicate_count", "card", "callback",
    "reporter_phone", "address", "media_url",
)  # fmt: skip


def _as_schema_2(raw: sqlite3.Connection) -> None:
    """What schema 2 wrote: no undo stack column, no batch previews."""
    raw.execute("DROP TABLE import_preview_rows")
    raw.execute("DROP INDEX import_batches_file")
    for column in ("state", "sha256", "crs", "detail"):
        raw.execute(f"ALTER TABLE import_batches DROP COLUMN {column}")
    raw.execute("ALTER TABLE component_history DROP COLUMN undoes")
    raw.execute("PRAGMA user_version = 2")


def test_schema_2_store_gains_the_undo_stack_and_batch_previews(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite"
    _make(path)
    raw = sqlite3.connect(path)
    _as_schema_2(raw)
    raw.execute(
        "INSERT INTO component_history(component_code, version, changed_at, actor, action, reason) "
        "VALUES ('c', 2, 'now', 'a', 'move', ''), ('c', 3, 'now', 'a', 'undo', 'undo 1'),"
        " ('c', 4, 'now', 'a', 'undo', 'undo 1 because')"
    )
    raw.commit()
    raw.close()
    with open_store(path) as st:
        assert st.info().schema_version == SCHEMA_VERSION == 3
        undoes = st.conn.execute("SELECT undoes FROM component_history ORDER BY id").fetchall()
        assert undoes == [(None,), (1,), (None,)]
        assert st.conn.execute("SELECT count(*) FROM import_preview_rows").fetchone() == (0,)
        assert st.conn.execute("SELECT state FROM import_batches").fetchall() == []


def _as_schema_1(path: Path) -> None:
    """Turn a new store into what schema 1 wrote: no case-desk tables, columns or indexes."""
    raw = sqlite3.connect(path)
    _as_schema_2(raw)
    for index in ("cases_external", "cases_open"):
        raw.execute(f"DROP INDEX {index}")
    for table in ("duplicate_reports", "duplicate_rules"):
        raw.execute(f"DROP TABLE {table}")
    for column in _V2_CASE_COLUMNS:
        raw.execute(f"ALTER TABLE cases DROP COLUMN {column}")
    raw.execute("ALTER TABLE case_history DROP COLUMN role")
    raw.execute("PRAGMA user_version = 1")
    raw.commit()
    raw.close()


def test_schema_1_store_is_upgraded_in_one_transaction(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite"
    _make(path)
    _as_schema_1(path)
    with open_store(path) as st:
        assert st.info().schema_version == SCHEMA_VERSION == 3
        cols = [r[1] for r in st.conn.execute("PRAGMA table_info(cases)")]
        assert set(_V2_CASE_COLUMNS) <= set(cols)
        assert (
            st.conn.execute("SELECT radius_m FROM duplicate_rules WHERE major_code = '*'").fetchone()[0] > 0
        )


def test_failed_upgrade_leaves_the_store_as_it_was(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "s.sqlite"
    _make(path)
    _as_schema_1(path)

    def half_then_fail(conn: sqlite3.Connection) -> None:
        store_mod.MIGRATIONS_ORIGINAL[1](conn)  # type: ignore[attr-defined]
        raise RuntimeError("disk full")

    monkeypatch.setattr(store_mod, "MIGRATIONS_ORIGINAL", dict(store_mod.MIGRATIONS), raising=False)
    monkeypatch.setitem(store_mod.MIGRATIONS, 1, half_then_fail)
    with pytest.raises(RuntimeError, match="disk full"):
        open_store(path)
    raw = sqlite3.connect(path)
    assert raw.execute("PRAGMA user_version").fetchone()[0] == 1
    cols = [r[1] for r in raw.execute("PRAGMA table_info(cases)")]
    assert "external_id" not in cols
    assert raw.execute("SELECT count(*) FROM sqlite_master WHERE name = 'duplicate_rules'").fetchone()[0] == 0
    raw.close()


def test_missing_upgrade_path_refused_untouched(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "s.sqlite"
    _make(path)
    monkeypatch.setattr(store_mod, "SCHEMA_VERSION", SCHEMA_VERSION + 1)
    monkeypatch.setattr(store_mod, "MIGRATIONS", {})
    with pytest.raises(StoreError, match="no upgrade path"):
        open_store(path)
    raw = sqlite3.connect(path)
    assert raw.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    raw.close()


def test_failed_build_leaves_old_store(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite"
    _make(path)
    before = path.read_bytes()
    with pytest.raises(RuntimeError, match="boom"), build_store(path, force=True) as st:
        st.ingest("channels", pd.DataFrame({"code": ["C1"], "name": ["x"], "name_en": ["x"], "share": [1.0]}))
        raise RuntimeError("boom")
    assert path.read_bytes() == before
    assert not list(tmp_path.glob(".*.tmp*"))


def test_existing_store_needs_force(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite"
    _make(path)
    with pytest.raises(StoreExistsError, match="--force"):
        _make(path)
    with build_store(path, force=True) as st, st.transaction() as conn:
        conn.execute("INSERT INTO generations(id, valid_from, created_at) VALUES (7, '2025-01-01', 'now')")
    with open_store(path) as st:
        assert st.current_generation() == 7


def test_transaction_rolls_back_on_error(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite"
    _make(path)
    with open_store(path) as st:
        with pytest.raises(KeyError), st.transaction() as conn:
            conn.execute("INSERT INTO channels VALUES ('C1', '热线', 'hotline', 1.0)")
            raise KeyError("interrupted")
        assert st.conn.execute("SELECT COUNT(*) FROM channels").fetchone()[0] == 0


def test_revisions_and_arrow_reads_see_commits(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite"
    _make(path)
    with open_store(path) as st:
        assert st.revision("components") == 0
        assert st.read_arrow("SELECT COUNT(*) AS n FROM channels").to_pylist() == [{"n": 0}]
        with st.transaction() as conn:
            st.bump_revision(conn, "components")
            st.bump_revision(conn, "components")
            conn.execute("INSERT INTO channels VALUES ('C1', '热线', 'hotline', 1.0)")
        assert st.revision("components") == 2
        assert st.read_arrow("SELECT COUNT(*) AS n FROM channels").to_pylist() == [{"n": 1}]


def test_killed_writer_leaves_store_as_before(tmp_path: Path) -> None:
    """A process killed in the middle of a write transaction loses only that write."""
    import subprocess
    import sys
    import textwrap

    path = tmp_path / "s.sqlite"
    _make(path)
    script = textwrap.dedent(f"""
        import os, signal, sys
        sys.path.insert(0, {str(Path(__file__).resolve().parents[2])!r})
        from layers.store import open_store
        st = open_store({str(path)!r})
        with st.transaction() as conn:
            conn.executemany("INSERT INTO channels VALUES (?, 'x', 'x', 0.1)", [(f"C{{i}}",) for i in range(5000)])
            os.kill(os.getpid(), signal.SIGKILL)
    """)
    proc = subprocess.run([sys.executable, "-c", script], check=False)
    assert proc.returncode != 0
    with open_store(path) as st:
        assert st.conn.execute("SELECT COUNT(*) FROM channels").fetchone()[0] == 0
        assert st.conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_a_reader_upgrades_an_older_store_first(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite"
    _make(path)
    _as_schema_1(path)
    with open_store(path, readonly=True) as st:
        assert st.info().schema_version == SCHEMA_VERSION
        assert st.conn.execute("SELECT count(*) FROM duplicate_rules").fetchone()[0] > 0
        with pytest.raises(sqlite3.OperationalError, match="readonly"):
            st.conn.execute("DELETE FROM meta")
