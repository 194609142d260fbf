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
        rw.store.conn.execute("CREATE TABLE scratch(a)")  # the copy writes
        l3 = shared.level(3)
        x, y = (
            l3.geometry.representative_point().x.to_numpy(),
            l3.geometry.representative_point().y.to_numpy(),
        )
        assert np.array_equal(rw.locate_all(x, y)["grid_l3"].to_numpy(), l3["code"].to_numpy(dtype=object))
    finally:
        rw.store.close()
        shared.store.close()
