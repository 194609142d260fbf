"""Fixtures of the map tests: the tiny district store, built once per session."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.maps.tinystore import build_tiny_store


@pytest.fixture(scope="session")
def tiny_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_store(tmp_path_factory.mktemp("store") / "tiny.sqlite")
