"""The store under faults: damaged files, killed builds, a kill while a store is replaced, a busy lock.

Kills are real: a child process is stopped dead with SIGKILL, by the parent or at a named point of
the build (``ONEGRID_FAULT``), and the parent then looks at what is left on disk.
"""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import time
from pathlib import Path

import pandas as pd
import pytest

from layers import store as store_mod
from layers.errors import StoreBusyError, StoreExistsError, StoreUnreadableError
from layers.store import BUSY_MESSAGE, build_store, check_target, open_store
from tests.helpers import child, kill, wait_for

ROOT = Path(__file__).resolve().parents[2]


def _make(path: Path, *, generation: int = 1) -> None:
    with build_store(path, force=path.exists()) as st, st.transaction() as conn:
        st.set_meta(conn, district_code="320506")
        conn.execute(
            "INSERT INTO generations(id, valid_from, created_at) VALUES (?, '2024-01-01', 'now')",
            (generation,),
        )


def _cut(path: Path, size: str) -> None:
    full = path.stat().st_size
    with path.open("r+b") as fh:
        fh.truncate({"100 B": 100, "4 KiB": 4096, "half": full // 2}[size])


# -- damaged stores ---------------------------------------------------------------------------


@pytest.mark.parametrize("size", ["100 B", "4 KiB", "half"])
def test_truncated_store_is_not_readable_and_force_replaces_it(tmp_path: Path, size: str) -> None:
    path = tmp_path / "s.sqlite"
    _make(path)
    with open_store(path) as st, st.transaction() as conn:  # a few pages, so "half" cuts real data
        conn.executemany(
            "INSERT INTO channels VALUES (?, 'x', 'x', 0.1)", [(f"C{i:05d}",) for i in range(20_000)]
        )
    _cut(path, size)
    before = path.read_bytes()
    for readonly in (False, True):
        with pytest.raises(StoreUnreadableError, match=r"is not a readable OneGrid store .*--force"):
            open_store(path, readonly=readonly)
    assert path.read_bytes() == before
    with pytest.raises(StoreExistsError, match="--force"):
        check_target(path, force=False)
    _make(path, generation=3)
    with open_store(path) as st:
        assert st.current_generation() == 3
        assert st.conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_store_cut_inside_the_sqlite_magic_is_replaceable(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite"
    path.write_bytes(b"SQLite for")
    with pytest.raises(StoreUnreadableError, match="not a readable OneGrid store"):
        open_store(path)
    assert check_target(path, force=True) == path


def test_damaged_file_of_unknown_origin_is_replaceable_but_foreign_and_text_files_never(
    tmp_path: Path,
) -> None:
    # SQLite's magic and then garbage: SQLite cannot read it, so nothing readable is lost.
    junk = tmp_path / "junk.sqlite"
    junk.write_bytes(b"SQLite format 3\x00" + b"\xff" * 200)
    assert check_target(junk, force=True) == junk
    # A healthy SQLite file of another application, even cut short to its first page, is refused.
    other = tmp_path / "other.sqlite"
    conn = sqlite3.connect(other)
    conn.execute("CREATE TABLE t(a)")
    conn.executemany("INSERT INTO t VALUES (?)", [(i,) for i in range(5000)])
    conn.commit()
    conn.close()
    with pytest.raises(StoreExistsError, match="another application"):
        check_target(other, force=True)
    with other.open("r+b") as fh:
        fh.truncate(4096)
    with pytest.raises(StoreExistsError, match="another application"):
        check_target(other, force=True)
    text = tmp_path / "notes.sqlite"
    text.write_text("meeting notes", encoding="utf-8")
    with pytest.raises(StoreExistsError, match="not a OneGrid store"):
        check_target(text, force=True)


# -- a busy store -------------------------------------------------------------------------------


def test_a_write_blocked_longer_than_the_timeout_is_told_busy(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite"
    _make(path)
    ready = tmp_path / "holding"
    holder = child(f"""
        import time
        from layers.store import open_store
        st = open_store({str(path)!r})
        st.conn.execute("BEGIN IMMEDIATE")
        open({str(ready)!r}, "w").close()
        time.sleep(120)
    """)
    try:
        wait_for(ready, holder)
        with open_store(path, busy_timeout_s=0.2) as st:
            with pytest.raises(StoreBusyError, match=BUSY_MESSAGE), st.transaction() as conn:
                conn.execute("INSERT INTO channels VALUES ('C1', 'x', 'x', 1.0)")
            assert not st.conn.in_transaction
            kill(holder)
            with st.transaction() as conn:
                conn.execute("INSERT INTO channels VALUES ('C1', 'x', 'x', 1.0)")
            assert st.conn.execute("SELECT COUNT(*) FROM channels").fetchone()[0] == 1
    finally:
        kill(holder)


# -- killed builds ------------------------------------------------------------------------------

_BUILD = """
    import os, time
    import pandas as pd
    from layers.store import build_store
    with build_store({path!r}, force=True) as st:
        st.ingest("channels", pd.DataFrame({{"code": [f"C{{i}}" for i in range(50_000)], "name": "x",
                                             "name_en": "x", "share": 0.1}}))
        open({marker!r}, "w").close()
        time.sleep(120)
"""


def _temporaries(folder: Path, name: str) -> list[Path]:
    return sorted(folder.glob(f".{name}.*"))


def test_killed_build_is_swept_by_the_next_and_a_running_one_is_not(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite"
    _make(path)
    before = path.read_bytes()
    killed = child(_BUILD.format(path=str(path), marker=str(tmp_path / "a")))
    try:
        wait_for(tmp_path / "a", killed)
    finally:
        kill(killed)
    orphans = _temporaries(tmp_path, path.name)
    assert orphans and all(p.name.endswith(".tmp") for p in orphans), orphans
    assert path.read_bytes() == before, "the killed build left the old store as it was"

    running = child(_BUILD.format(path=str(path), marker=str(tmp_path / "b")))
    try:
        wait_for(tmp_path / "b", running)
        live = set(_temporaries(tmp_path, path.name)) - set(orphans)
        assert len(live) == 1
        _make(path, generation=2)  # the next build sweeps the orphan, not the running build's file
        assert set(_temporaries(tmp_path, path.name)) == live
    finally:
        kill(running)
    with open_store(path) as st:
        assert st.current_generation() == 2
    _make(path, generation=4)
    assert _temporaries(tmp_path, path.name) == []


def _edit_left_in_wal(path: Path) -> None:
    """Commit an edit and die before any checkpoint: the edit lives only in the store's -wal."""
    proc = child(f"""
        import os, signal
        from layers.store import open_store
        st = open_store({str(path)!r})
        st.conn.execute("PRAGMA wal_autocheckpoint = 0")
        with st.transaction() as conn:
            conn.execute("INSERT INTO channels VALUES ('EDIT', '编辑', 'edit', 1.0)")
        os.kill(os.getpid(), signal.SIGKILL)
    """)
    assert proc.wait(timeout=60) == -signal.SIGKILL
    assert Path(f"{path}-wal").stat().st_size > 0


@pytest.mark.parametrize("point", ["build-written", "build-settled", "build-replaced"])
def test_a_kill_at_any_step_of_a_replace_leaves_a_whole_store(tmp_path: Path, point: str) -> None:
    path = tmp_path / "s.sqlite"
    _make(path)
    _edit_left_in_wal(path)
    alone = tmp_path / "main-file-alone.sqlite"
    shutil.copyfile(path, alone)
    raw = sqlite3.connect(alone)
    assert raw.execute("SELECT COUNT(*) FROM channels").fetchone()[0] == 0, "the edit is only in the WAL"
    raw.close()

    build = child(
        f"""
        from layers.store import build_store
        with build_store({str(path)!r}, force=True) as st, st.transaction() as conn:
            conn.execute("INSERT INTO generations(id, valid_from, created_at) VALUES (7, '2025-01-01', 'now')")
        """,
        env={"ONEGRID_FAULT": point},
    )
    assert build.wait(timeout=120) == -signal.SIGKILL, build.stderr.read()  # type: ignore[union-attr]
    with open_store(path) as st:
        assert st.conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        edits = st.conn.execute("SELECT COUNT(*) FROM channels WHERE code = 'EDIT'").fetchone()[0]
        if point == "build-replaced":
            assert (st.current_generation(), edits) == (7, 0), "the new store, whole"
        else:
            assert (st.current_generation(), edits) == (1, 1), "the old store, with its committed edit"


def test_replacing_a_store_another_program_has_open_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "s.sqlite"
    _make(path)
    ready = tmp_path / "open"
    reader = child(f"""
        import time
        from layers.store import open_store
        st = open_store({str(path)!r})
        st.meta()
        open({str(ready)!r}, "w").close()
        time.sleep(120)
    """)
    monkeypatch.setattr(store_mod, "BUSY_TIMEOUT_S", 0.2)
    try:
        wait_for(ready, reader)
        with (
            pytest.raises(StoreBusyError, match="open in another program"),
            build_store(path, force=True) as st,
        ):
            st.ingest(
                "channels", pd.DataFrame({"code": ["N"], "name": ["x"], "name_en": ["x"], "share": [1.0]})
            )
    finally:
        kill(reader)
    assert _temporaries(tmp_path, path.name) == []
    with open_store(path) as st:
        assert st.current_generation() == 1


def test_empty_leftovers_of_a_kill_before_locking_are_swept_when_old(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite"
    _make(path)
    old, fresh = tmp_path / f".{path.name}.0a0a.new", tmp_path / f".{path.name}.0b0b.new"
    old.touch()
    fresh.touch()
    hour_ago = time.time() - 3700
    os.utime(old, (hour_ago, hour_ago))
    _make(path, generation=2)
    assert not old.exists()
    assert fresh.exists(), "a file this recent may be a build about to lock it"
