"""Probes of the store under faults: damaged files, killed builds, kills while a store is replaced.

Every command runs as a real child process (``python cli.py ...``); kills are real SIGKILLs, sent
by the probe or at a named point of the build (``ONEGRID_FAULT``).
"""

from __future__ import annotations

import signal
import sqlite3
import time
from pathlib import Path

from bench.probes._store import TINY, child, cli, kill, no_traceback, probe_store, wait_for

UNREADABLE = "is not a readable OneGrid store"


def _commands(store: Path, tmp: Path) -> dict[str, list[str]]:
    """The commands that read a store, with what each needs besides it."""
    candidate = tmp / "candidate.gpkg"
    if not candidate.exists():
        made = cli(
            "export", "--store", str(store), "--layer", "grids", "--format", "gpkg", "--out", str(candidate)
        )
        assert made.returncode == 0, made.stderr
    points = tmp / "points.csv"
    points.write_text("lon,lat\n120.60,31.20\n", encoding="utf-8")
    s = ["--store", str(store)]
    return {
        "summary": ["summary", *s],
        "export": ["export", *s, "--layer", "components", "--format", "csv", "--out", str(tmp / "out.csv")],
        "assign": ["assign", *s, "--in", str(points), "--out", str(tmp / "assigned.csv"), "--quiet"],
        "compare-grids": ["compare-grids", *s, "--in", str(candidate)],
        "adopt-grids": ["adopt-grids", *s, "--in", str(candidate), "--valid-from", "2027-01-01"],
    }


def _truncated(tmp: Path, size: int | None) -> None:
    store = probe_store(tmp)
    commands = _commands(store, tmp)
    with store.open("r+b") as fh:
        fh.truncate(store.stat().st_size // 2 if size is None else size)
    before = store.read_bytes()
    wrong = []
    for name, argv in commands.items():
        r = cli(*argv)
        if r.returncode != 2 or UNREADABLE not in r.stderr or "Traceback" in r.stderr:
            wrong.append(
                f"{name}: exit {r.returncode}, {r.stderr.strip().splitlines()[-1:] or ['(no message)']}"
            )
    assert not wrong, "; ".join(wrong)
    assert store.read_bytes() == before, "a command changed the damaged file"
    r = cli("generate", "--store", str(store), "--force", *TINY)
    assert r.returncode == 0, f"generate --force did not replace it: {r.stderr.strip()[-300:]}"
    r = cli("summary", "--store", str(store))
    assert r.returncode == 0 and "2,000" in r.stdout, r.stdout + r.stderr


def probe_store_cut_to_100_bytes(tmp: Path) -> None:
    _truncated(tmp, 100)


def probe_store_cut_to_4_kib(tmp: Path) -> None:
    _truncated(tmp, 4096)


def probe_store_cut_to_half(tmp: Path) -> None:
    _truncated(tmp, None)


def probe_foreign_and_text_files_are_never_replaced(tmp: Path) -> None:
    other = tmp / "other.sqlite"
    conn = sqlite3.connect(other)
    conn.execute("CREATE TABLE notes(a)")
    conn.execute("INSERT INTO notes VALUES ('keep me')")
    conn.commit()
    conn.close()
    text = tmp / "text.sqlite"
    text.write_text("keep me", encoding="utf-8")
    for path in (other, text):
        before = path.read_bytes()
        r = cli("generate", "--store", str(path), "--force", *TINY)
        assert r.returncode == 2, f"{path.name}: exit {r.returncode}"
        no_traceback(r, path.name)
        assert path.read_bytes() == before, f"{path.name} was changed"


def _leftovers(store: Path) -> list[str]:
    return sorted(p.name for p in store.parent.glob(f".{store.name}.*"))


def probe_killed_generate_is_swept_by_the_next(tmp: Path) -> None:
    store = probe_store(tmp)
    before = store.read_bytes()
    proc = child(
        f"""
        from cli import main
        main(["generate", "--store", {str(store)!r}, "--force", "--components", "300000", "--days", "20",
              "--end", "2026-11-20", "--quiet"])
        """
    )
    try:
        end = time.monotonic() + 300
        while True:  # kill it once its temporary store holds some megabytes
            tmps = [p for p in store.parent.glob(f".{store.name}.*.tmp") if p.stat().st_size > 20_000_000]
            if tmps or proc.poll() is not None or time.monotonic() > end:
                break
            time.sleep(0.05)
    finally:
        kill(proc)
    assert tmps, "the build ended before it could be killed midway"
    assert store.read_bytes() == before, "the killed build changed the store"
    r = cli("generate", "--store", str(store), "--force", *TINY)
    assert r.returncode == 0, r.stderr[-300:]
    assert _leftovers(store) == [], f"left behind: {_leftovers(store)}"


def _edit_left_in_wal(store: Path) -> str:
    """A surveyor's committed change that lives only in the store's -wal (its writer was killed)."""
    proc = child(
        f"""
        import os, signal
        from layers import survey
        from layers.store import open_store
        st = open_store({str(store)!r})
        st.conn.execute("PRAGMA wal_autocheckpoint = 0")
        code, version = st.conn.execute(
            "SELECT code, version FROM components WHERE state = '完好' ORDER BY code LIMIT 1").fetchone()
        survey.set_state(st, code, state="破损", expected_version=version, actor="巡查员")
        print(code, flush=True)
        os.kill(os.getpid(), signal.SIGKILL)
        """
    )
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == -signal.SIGKILL and out.strip(), err[-500:]
    assert Path(f"{store}-wal").stat().st_size > 0
    return out.strip()


def probe_kill_at_every_step_of_a_replace_keeps_a_whole_store(tmp: Path) -> None:
    wrong = []
    for point in ("build-written", "build-settled", "build-replaced"):
        folder = tmp / point
        folder.mkdir()
        store = probe_store(folder)
        code = _edit_left_in_wal(store)
        r = cli("generate", "--store", str(store), "--force", *TINY, env={"ONEGRID_FAULT": point})
        if r.returncode != -signal.SIGKILL:
            wrong.append(f"{point}: generate was not killed there (exit {r.returncode})")
        conn = sqlite3.connect(store)
        try:
            ok = conn.execute("PRAGMA integrity_check").fetchone()[0]
            n = conn.execute("SELECT COUNT(*) FROM components").fetchone()[0]
            state = conn.execute("SELECT state FROM components WHERE code = ?", (code,)).fetchone()
        except sqlite3.DatabaseError as exc:
            wrong.append(f"{point}: the store cannot be read: {exc}")
            continue
        finally:
            conn.close()
        if ok != "ok":
            wrong.append(f"{point}: integrity check {ok}")
        elif point == "build-replaced" and n != 2000:
            wrong.append(f"{point}: not the new store ({n:,} components)")
        elif point != "build-replaced" and (n != 40_000 or state != ("破损",)):
            wrong.append(f"{point}: not the old store with its committed edit ({n:,} components, {state})")
    assert not wrong, "; ".join(wrong)


def probe_replacing_a_store_in_use_is_refused_cleanly(tmp: Path) -> None:
    store = probe_store(tmp)
    ready = tmp / "open"
    user = child(
        f"""
        import time
        from pathlib import Path
        from layers.store import open_store
        st = open_store({str(store)!r})
        st.meta()
        Path({str(ready)!r}).touch()
        time.sleep(300)
        """
    )
    try:
        wait_for(ready, user)
        r = cli("generate", "--store", str(store), "--force", *TINY)
    finally:
        kill(user)
    no_traceback(r, "generate")
    assert r.returncode == 2 and "open in another program" in r.stderr, (
        f"exit {r.returncode}: {r.stderr[-300:]}"
    )
    assert _leftovers(store) == [], f"left behind: {_leftovers(store)}"
    r = cli("summary", "--store", str(store))
    assert r.returncode == 0 and "40,000" in r.stdout, r.stderr[-300:]
