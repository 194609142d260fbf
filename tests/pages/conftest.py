"""Fixtures of the page tests: the tiny district, and the app pointed at it with no basemap."""

from __future__ import annotations

from pathlib import Path

import pytest

import settings
from tests.maps.tinystore import build_tiny_store


@pytest.fixture(scope="session")
def tiny_store_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_store(tmp_path_factory.mktemp("pages") / "tiny.sqlite")


@pytest.fixture
def app_env(tiny_store_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("ONEGRID_STORE", str(tiny_store_path))
    monkeypatch.setattr(settings, "TILES", "none")
    return tiny_store_path
