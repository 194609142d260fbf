"""Fixtures of the page tests: the tiny district, and the app pointed at it with no basemap."""

from __future__ import annotations

from pathlib import Path

import pytest

import settings
from tests.maps.tinystore import build_tiny_store


@pytest.fixture(scope="session")
def tiny_store_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_store(tmp_path_factory.mktemp("pages") / "tiny.sqlite")


@pytest.fixture(scope="session")
def tiny_store_url(tiny_store_path: Path, request: pytest.FixtureRequest) -> str:
    """The tiny district copied into a PostgreSQL database (``migrate``)."""
    from layers.migrate import migrate

    cluster = request.getfixturevalue("pg_cluster")
    url = str(cluster.create_db("tiny_pages"))
    migrate(tiny_store_path, url)
    return url


@pytest.fixture(params=["sqlite", "postgresql"])
def app_env(
    tiny_store_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> Path | str:
    """The app pointed at the tiny district, on each store (the pages only read through the layers)."""
    target: Path | str = tiny_store_path
    if request.param == "postgresql":
        target = request.getfixturevalue("tiny_store_url")
    monkeypatch.setenv("ONEGRID_STORE", str(target))
    monkeypatch.setattr(settings, "TILES", "none")
    return target
