"""The server store itself: the SQL it speaks, copying stores between the two kinds, and a
PostgreSQL server killed in the middle of a batch intake."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

import cli
from layers.district import open_district
from layers.errors import StoreExistsError
from layers.intake import intake_file
from layers.migrate import TABLES, migrate, table_checksum
from layers.pgstore import translate
from layers.store import open_store
from tests.helpers import child, connect, kill, street_reports_csv, wait_for

ROOT = Path(__file__).resolve().parents[2]
NOW = "2026-11-21T09:00:00"


def test_translate_keeps_literals_and_orders_numbered_parameters() -> None:
    sql, order = translate("SELECT a FROM temp.t b JOIN main.c WHERE c.v IS NOT b.v AND d IS ?2 AND e = ?1")
    assert sql == (
        "SELECT a FROM pg_temp.t b JOIN c WHERE c.v IS DISTINCT FROM b.v AND d IS NOT DISTINCT FROM %s AND e = %s"
    )
    assert order == (1, 0)
    sql, order = translate(
        "SELECT 'is ? 50%' || x, y % 7 FROM t WHERE z IS NOT NULL AND w = ? AND CAST(q AS REAL)"
    )
    assert (
        sql
        == "SELECT 'is ? 50%%' || x, y %% 7 FROM t WHERE z IS NOT NULL AND w = %s AND CAST(q AS DOUBLE PRECISION)"
    )
    assert order is None


def test_migrate_both_ways_keeps_every_row(
    small_store_file: Path, pg_cluster: object, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = pg_cluster.create_db("migrated")  # type: ignore[attr-defined]
    assert cli.main(["migrate", "--from", str(small_store_file), "--to", url, "--json", "--quiet"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert [t["table"] for t in report["tables"]] == list(TABLES)
    back = tmp_path / "back.sqlite"
    there = migrate(url, back)
    assert [(t.table, t.rows, t.checksum) for t in there.tables] == [
        (t["table"], t["rows"], t["sha256"]) for t in report["tables"]
    ]
    with open_store(small_store_file, readonly=True) as a, open_store(back, readonly=True) as b:
        assert a.meta() == b.meta()
        assert table_checksum(a, "cases") == table_checksum(b, "cases")
    # An existing store is replaced only with --force, and is left whole when refused.
    with pytest.raises(StoreExistsError):
        migrate(back, url)
    with open_store(url, readonly=True) as s:
        assert (
            s.conn.execute("SELECT count(*) FROM cases").fetchone()[0]
            == report["tables"][TABLES.index("cases")]["rows"]
        )


def _kill_server_inside(cluster: Any, script: str, argv: list[str], marker: Path, **env: str) -> None:
    """Run ``script`` in a child until it touches ``marker`` (inside its write transaction), then
    kill the server dead, and the child with it; start the server again."""
    proc = child(f"import sys\nsys.argv[1:] = {[*argv, str(marker)]!r}\n" + script, env=env)
    try:
        wait_for(marker, proc, timeout=120)
        cluster.kill()
    finally:
        kill(proc)
    cluster.start()


_HOLDER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from layers.district import open_district
    from layers.intake import intake_file

    def progress(stage, done, total):
        if stage == "write":  # the batch's cases are being written; nothing is committed yet
            Path(sys.argv[3]).touch()
            time.sleep(60)

    d = open_district(sys.argv[1], readonly=False)
    intake_file(d, sys.argv[2], actor="受理员", progress=progress)
    """
)


def test_killing_the_server_mid_intake_leaves_the_store_as_before_and_the_rerun_completes(
    small_store_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.pgcluster import throwaway_cluster

    monkeypatch.setenv("ONEGRID_NOW", NOW)
    n = 3000
    f = street_reports_csv(tmp_path / "big.csv", n)
    with throwaway_cluster(durable=True) as cluster:
        url = cluster.create_db("killed")
        migrate(small_store_file, url)
        with open_store(url, readonly=True) as s:
            before = {t: table_checksum(s, t) for t in ("cases", "case_history", "import_batches", "meta")}
        _kill_server_inside(cluster, _HOLDER, [url, str(f)], tmp_path / "writing", ONEGRID_NOW=NOW)
        with open_store(url, readonly=True) as s:
            assert {t: table_checksum(s, t) for t in before} == before
        d = open_district(url, readonly=False)
        try:
            result = intake_file(d, f, actor="受理员")
            taken = result.created + result.duplicates
            assert taken + result.rejected == n and taken > 1000
            conn = d.store.conn
            assert conn.execute("SELECT count(*) FROM cases WHERE external_id LIKE 'K%'").fetchone()[0] == (
                result.created
            )
            rerun = intake_file(d, f, actor="受理员")
            assert (rerun.existing, rerun.created) == (taken, 0)
        finally:
            d.store.close()


def test_the_server_viewport_counts_what_the_in_process_index_counts(
    small_store_file: Path, pg_cluster: object
) -> None:
    from layers import analysis

    url = pg_cluster.create_db("viewport")  # type: ignore[attr-defined]
    migrate(small_store_file, url)
    box = {"west": 120.58, "south": 31.24, "east": 120.64, "north": 31.29}
    with open_store(url, readonly=True) as s:
        index = analysis.component_index(s)
        for town in (None, "320506001000000"):
            by_index, n_index = analysis.components_in_view(s, index, limit=500, town=town, **box)
            by_server, n_server = analysis.components_in_view(s, None, limit=500, town=town, **box)
            assert n_server == n_index > 500
            assert len(by_server) == len(by_index) == 500
            every, _ = analysis.components_in_view(s, None, limit=n_server, town=town, **box)
            assert set(by_server["code"]) <= set(every["code"]) and set(by_index["code"]) <= set(
                every["code"]
            )
            assert every["lon"].between(box["west"], box["east"]).all()
    with open_store(small_store_file, readonly=True) as s, pytest.raises(ValueError):
        analysis.components_in_view(s, None, **box)


_ADOPTER = textwrap.dedent(
    """
    import datetime as dt, pickle, sys, time
    from pathlib import Path
    from layers import planner
    from layers.store import open_store

    reassign = planner._reassign_components

    def paused(*args, **kwargs):  # inside the adoption's transaction: new grids written, not committed
        Path(sys.argv[3]).touch()
        time.sleep(60)
        return reassign(*args, **kwargs)

    planner._reassign_components = paused
    with open_store(sys.argv[1]) as st:
        planner.adopt_grids(st, pickle.loads(Path(sys.argv[2]).read_bytes()), valid_from=dt.date(2026, 11, 1), actor="规划员")
    """
)


def test_killing_the_server_mid_adoption_leaves_the_grids_as_before_and_the_rerun_adopts(
    small_store_file: Path, tmp_path: Path
) -> None:
    import pickle

    from bench.workloads import reshape_candidate
    from layers.grids import load_grids
    from layers.planner import adopt_grids
    from tests.pgcluster import throwaway_cluster

    with throwaway_cluster(durable=True) as cluster:
        url = cluster.create_db("adopting")
        migrate(small_store_file, url)
        with open_store(url, readonly=True) as s:
            cand, _ = reshape_candidate(load_grids(s), n=20, seed=5)
            before = {
                t: table_checksum(s, t) for t in ("generations", "grids", "components", "cases", "meta")
            }
        cand_file = tmp_path / "candidate.pickle"
        cand_file.write_bytes(pickle.dumps(cand))
        _kill_server_inside(cluster, _ADOPTER, [url, str(cand_file)], tmp_path / "inside")
        with open_store(url) as s:
            assert {t: table_checksum(s, t) for t in before} == before
            assert s.current_generation() == 1
            adopt_grids(s, cand, valid_from=dt.date(2026, 11, 1), actor="规划员")
            assert s.current_generation() == 2


def test_a_killed_build_leaves_the_old_store_and_the_next_build_sweeps_it(
    small_store_file: Path, pg_cluster: object, tmp_path: Path
) -> None:
    url = pg_cluster.create_db("rebuilt")  # type: ignore[attr-defined]
    migrate(small_store_file, url)
    with open_store(url, readonly=True) as s:
        before = table_checksum(s, "cases")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "ONEGRID_FAULT": "build-midway"}
    proc = subprocess.run(
        [
            sys.executable,
            "cli.py",
            "migrate",
            "--from",
            str(small_store_file),
            "--to",
            url,
            "--force",
            "--quiet",
        ],
        env=env,
        cwd=ROOT,
        capture_output=True,
    )
    assert proc.returncode == -9
    with open_store(url, readonly=True) as s:
        assert table_checksum(s, "cases") == before
        left = s.conn.execute(
            "SELECT count(*) FROM pg_namespace WHERE nspname LIKE 'onegrid_build_%'"
        ).fetchone()
        assert left == (1,)  # the killed build's schema, not yet swept
    migrate(small_store_file, url, force=True)
    with open_store(url, readonly=True) as s:
        assert table_checksum(s, "cases") == before
        left = s.conn.execute(
            "SELECT count(*) FROM pg_namespace WHERE nspname LIKE 'onegrid_build_%'"
        ).fetchone()
        assert left == (0,)


def test_messages_never_show_the_password_of_a_store_url(small_store_file: Path, pg_cluster: object) -> None:
    from layers.errors import StoreError

    url = pg_cluster.create_db("secretive")  # type: ignore[attr-defined]
    migrate(small_store_file, url)
    with_password = url.replace(
        "onegrid@", "onegrid:s3cret@"
    )  # the test cluster trusts, so any password opens
    with open_store(with_password, readonly=True) as s:
        assert "s3cret" not in str(s.path) and "***" in str(s.path)
        assert s.target == with_password
    for wrong in (
        with_password.rsplit("/", 1)[0] + "/no_such_db",
        with_password.replace("secretive", "postgres"),
    ):
        with pytest.raises(StoreError) as err:
            open_store(wrong)
        assert "s3cret" not in str(err.value)


def test_a_foreign_onegrid_schema_is_never_replaced(small_store_file: Path, pg_cluster: object) -> None:
    from layers.errors import StoreError

    url = pg_cluster.create_db("foreign")  # type: ignore[attr-defined]
    conn = connect(url)
    conn.execute("CREATE SCHEMA onegrid")
    conn.execute("CREATE TABLE onegrid.theirs (a INTEGER)")
    for force in (False, True):
        with pytest.raises(StoreExistsError, match="not a OneGrid store"):
            migrate(small_store_file, url, force=force)
    with pytest.raises(StoreError, match="not a OneGrid store"):
        open_store(url)
    assert conn.execute("SELECT count(*) FROM onegrid.theirs").fetchone() == (0,)
    conn.close()
