"""The opened district (layers/district.py): one locator, shared by a writable copy."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from layers.district import open_district


def test_writable_shares_grids_and_locator(small_store_copy: Path) -> None:
    shared = open_district(small_store_copy, readonly=True, components=False)
    rw = shared.writable()
    try:
        assert rw.locator is shared.locator and rw.grids is shared.grids
        assert rw.store is not shared.store
        rw.store.conn.execute("CREATE TABLE scratch(a INTEGER)")  # the copy writes
        l3 = shared.level(3)
        x, y = (
            l3.geometry.representative_point().x.to_numpy(),
            l3.geometry.representative_point().y.to_numpy(),
        )
        assert np.array_equal(rw.locate_all(x, y)["grid_l3"].to_numpy(), l3["code"].to_numpy(dtype=object))
    finally:
        rw.store.close()
        shared.store.close()


def test_a_writable_district_reuses_the_loaded_components_but_not_the_index(small_store_path: Path) -> None:
    from layers.district import open_district

    shared = open_district(small_store_path)
    _ = shared.component_index
    rw = shared.writable()
    try:
        assert rw.components is shared.components
        assert rw.locator is shared.locator
        assert "component_index" not in rw.__dict__  # edits change an index: each writer builds its own
        assert rw.store is not shared.store and rw.store.path == shared.store.path
    finally:
        rw.store.close()
        shared.store.close()
