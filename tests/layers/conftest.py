"""Fixtures of the layer tests: the small district on both stores, and the case desk's writable
district with its clock pinned.

Every test that takes ``small_store_path`` or ``small_store_copy`` runs twice: on the SQLite file
and on a PostgreSQL/PostGIS database of the session's throwaway cluster (``pg_cluster``). The
database is generated from the same seed by the same generator (``generate --store URL``), so both
hold the same district.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from layers.district import District, open_district

#: The two stores every layer test runs on: the embedded SQLite file and the PostgreSQL/PostGIS server.
BACKENDS = ("sqlite", "postgresql")


@pytest.fixture(scope="session", params=BACKENDS)
def store_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="session")
def _small_pg_template(request: pytest.FixtureRequest, store_backend: str) -> str | None:
    """The small district generated into PostgreSQL once, as a template database nobody opens."""
    if store_backend != "postgresql":
        return None
    from layers.generate.build import generate_store
    from tests.conftest import END, SMALL

    cluster = request.getfixturevalue("pg_cluster")
    url = cluster.create_db("small_template")
    generate_store(url, end=END, **SMALL)
    return "small_template"


@pytest.fixture(scope="session")
def small_store_path(small_store_file: Path, store_backend: str, _small_pg_template: str | None,
                     request: pytest.FixtureRequest) -> Path | str:  # fmt: skip
    """The small district on each store: the SQLite file, or a PostgreSQL database copied from the template."""
    if _small_pg_template is None:
        return small_store_file
    cluster = request.getfixturevalue("pg_cluster")
    return str(cluster.create_db(f"small_shared_{len(cluster._dbs)}", template=_small_pg_template))


_copies = iter(range(1_000_000))


@pytest.fixture()
def small_store_copy(small_store_file: Path, tmp_path: Path, store_backend: str, _small_pg_template: str | None,
                     request: pytest.FixtureRequest) -> Iterator[Path | str]:  # fmt: skip
    """A private, writable copy of the small district on each store."""
    if _small_pg_template is None:
        import shutil

        dst = tmp_path / "store.sqlite"
        shutil.copyfile(small_store_file, dst)
        yield dst
        return
    cluster = request.getfixturevalue("pg_cluster")
    name = f"small_copy_{next(_copies)}"
    yield cluster.create_db(name, template=_small_pg_template)
    cluster.drop_db(name)


#: The morning after the generated days (tests/conftest.py: END = 2026-11-20).
DESK_NOW = "2026-11-21T09:00:00"


@pytest.fixture()
def desk_district(small_store_copy: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[District]:
    """A private, writable copy of the small district, the clock at :data:`DESK_NOW`."""
    monkeypatch.setenv("ONEGRID_NOW", DESK_NOW)
    d = open_district(small_store_copy, readonly=False)
    yield d
    d.store.close()
