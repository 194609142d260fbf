"""Shared fixtures."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# The reference data shared by the team sits beside the project checkout.
SHARED_DATA = ROOT.parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip("the shared reference data folder (../shared/data) is not present")
    return SHARED_DATA


@pytest.fixture(scope="session")
def realworld(shared_data: Path) -> Path:
    return shared_data / "realworld"


# -- generated districts ------------------------------------------------------------------------
# One small district (all grids, fewer components and cases) shared by the whole session, and
# the full-scale one for the tests marked slow. Tests that write copy the file first.

SMALL = {"seed": 7, "days": 3, "n_components": 40_000, "per_day": 400.0}
END = __import__("datetime").date(2026, 11, 20)


@pytest.fixture(scope="session")
def small_store_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from layers.generate.build import generate_store

    path = tmp_path_factory.mktemp("small") / "small.sqlite"
    generate_store(path, end=END, **SMALL)
    return path


@pytest.fixture(scope="session")
def small_store_path(small_store_file: Path) -> Path:
    """The small district's SQLite file (the layer tests run on the server store too: tests/layers)."""
    return small_store_file


@pytest.fixture()
def small_store_copy(small_store_file: Path, tmp_path: Path) -> Path:
    """A private copy of the small district, free to be written to."""
    import shutil

    dst = tmp_path / "store.sqlite"
    shutil.copyfile(small_store_file, dst)
    return dst


@pytest.fixture(scope="session")
def full_store_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from layers.generate.build import generate_store

    path = tmp_path_factory.mktemp("full") / "full.sqlite"
    generate_store(path, end=END, seed=20260101, days=365)
    return path


# -- the server store ---------------------------------------------------------------------------
# A throwaway PostgreSQL/PostGIS cluster for the session (tests/pgcluster.py), started only when a
# test asks for the server store.


@pytest.fixture(scope="session")
def pg_cluster():  # type: ignore[no-untyped-def]
    from tests.pgcluster import throwaway_cluster

    with throwaway_cluster() as cluster:
        yield cluster
