"""The shared component index follows the store's edits through its overlay, without a rebuild."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from layers import live_index, survey
from layers.live_index import LiveComponentIndex, build_component_index
from layers.store import open_store


def _box(x: float, y: float, r: float = 30.0) -> tuple[float, float, float, float]:
    return x - r, y - r, x + r, y + r


def test_a_surveyors_move_reaches_the_shared_index_as_an_overlay_edit(small_store_copy: Path) -> None:
    with open_store(small_store_copy, readonly=False) as store:
        shared = LiveComponentIndex(store)
        code, x, y, version = store.conn.execute(
            "SELECT code, x, y, version FROM components LIMIT 1"
        ).fetchone()
        assert code in shared.in_bbox(*_box(x, y)).codes
        moved = survey.move_component(
            store, code, x=x + 12.0, y=y - 5.0, crs="EPSG:4549", expected_version=version, actor="测绘员"
        )
        assert shared.refresh(store) == 1
        assert shared.pending_edits == 1 and shared.rebuilds == 1  # an overlay edit, no rebuild
        assert shared.position(code) == (x + 12.0, y - 5.0)
        assert code not in shared.in_bbox(*_box(x, y, 3.0)).codes
        assert code in shared.in_bbox(*_box(x + 12.0, y - 5.0, 1.0)).codes
        # The undo, and a batch row, come through the history the same way.
        survey.undo(store, code, last=True, expected_version=moved.version, actor="测绘员")
        csv = f"code,x,y\n{code},{x + 3.0},{y}\n".encode()
        survey.confirm_batch(
            store, survey.preview_batch(store, csv, filename="b.csv", crs="EPSG:4549"), actor="测绘员"
        )
        assert shared.refresh(store) == 2
        assert shared.refresh(store) == 0  # nothing new
        assert shared.position(code) == (x + 3.0, y)
        # Every viewport answer equals that of an index built from the store now.
        fresh = build_component_index(store)
        rng = np.random.default_rng(2)
        for cx, cy in zip(
            rng.uniform(x - 2000, x + 2000, 20), rng.uniform(y - 2000, y + 2000, 20), strict=True
        ):
            box = _box(float(cx), float(cy), 400.0)
            assert sorted(shared.in_bbox(*box).codes.tolist()) == sorted(fresh.in_bbox(*box).codes.tolist())
        assert shared.rebuilds == 1


def test_past_the_follow_limit_the_index_is_built_again(
    small_store_copy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(live_index, "MAX_FOLLOW", 0)
    with open_store(small_store_copy, readonly=False) as store:
        shared = LiveComponentIndex(store)
        code, x, y, version = store.conn.execute(
            "SELECT code, x, y, version FROM components LIMIT 1"
        ).fetchone()
        survey.move_component(
            store, code, x=x + 1.0, y=y, crs="EPSG:4549", expected_version=version, actor="测绘员"
        )
        shared.refresh(store)
        assert shared.rebuilds == 2 and shared.pending_edits == 0
        assert shared.position(code) == (x + 1.0, y)
