"""Fixtures of the layer tests: the case desk's writable district with its clock pinned."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from layers.district import District, open_district

#: The morning after the generated days (tests/conftest.py: END = 2026-11-20).
DESK_NOW = "2026-11-21T09:00:00"


@pytest.fixture()
def desk_district(small_store_copy: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[District]:
    """A private, writable copy of the small district, the clock at :data:`DESK_NOW`."""
    monkeypatch.setenv("ONEGRID_NOW", DESK_NOW)
    d = open_district(small_store_copy, readonly=False)
    yield d
    d.store.close()
