"""The shared caches of the pages (pages/_caches.py): one District, and so one level-3 locator,
per store revision."""

from __future__ import annotations

import shutil
from pathlib import Path

from layers.store import open_store
from pages import _caches


def test_one_district_per_store_revision(tiny_store_path: Path, tmp_path: Path) -> None:
    path = tmp_path / "store.sqlite"
    shutil.copyfile(tiny_store_path, path)
    first = _caches.district_at(path)
    assert _caches.district_at(path) is first  # every page and session gets the same one
    assert first.locator.locate_one(557_500.0, 3_459_500.0) == "320506001001001"
    store = open_store(path)
    try:
        with store.conn:
            store.bump_revision(store.conn, "grids")  # what a change of the grids does
    finally:
        store.close()
    again = _caches.district_at(path)
    assert again is not first and again.locator is not first.locator


def test_the_survey_keeps_no_locator_of_its_own() -> None:
    """The app passes the shared district's locator; the survey builds one only when not given."""
    import layers.survey._base as base

    assert not [name for name in vars(base) if "cache" in name.lower() and not name.startswith("__")]
