"""A surveyor's move, batch upload and undo, each in the component's history and in the export."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest

from layers import survey
from layers.components import load_components
from layers.export import export_layer
from layers.store import open_store


def _export(store_path: Path, out: Path) -> pd.DataFrame:
    with open_store(store_path, readonly=True) as store:
        export_layer(store, layer="components", fmt="parquet", out=out, crs="EPSG:4549")
    frame = gpd.read_parquet(out)
    return frame.assign(x=frame.geometry.x, y=frame.geometry.y).set_index("code")


def test_move_batch_and_undo_reach_history_and_export(small_store_copy: Path, tmp_path: Path) -> None:
    with open_store(small_store_copy) as store:
        comps = load_components(store).sort_values("code").reset_index(drop=True)
        # Three components, each moved 3 m east within its own grid.
        a, b, c = (comps.iloc[i] for i in (100, 2000, 30000))
        survey.move_component(
            store,
            a.code,
            x=a.x + 3.0,
            y=a.y,
            crs="EPSG:4549",
            expected_version=int(a.version),
            actor="surveyor-1",
            reason="resurveyed",
            confirmed=True,
        )
        csv = pd.DataFrame({"code": [b.code], "x": [b.x + 3.0], "y": [b.y]}).to_csv(index=False).encode()
        preview = survey.preview_batch(store, csv, filename="batch.csv", crs="EPSG:4549")
        assert preview.n_accepted == 1
        result = survey.confirm_batch(store, preview, actor="surveyor-2")
        assert result.accepted == 1 and result.rejected == 0
        moved = survey.move_component(
            store,
            c.code,
            x=c.x + 3.0,
            y=c.y,
            crs="EPSG:4549",
            expected_version=int(c.version),
            actor="surveyor-1",
            confirmed=True,
        )
        survey.undo(store, c.code, expected_version=moved.version, actor="surveyor-3", last=True)
        hist = {code: survey.history(store, code) for code in (a.code, b.code, c.code)}

    assert hist[a.code]["action"].tolist()[-1] == "move"
    assert hist[b.code]["action"].tolist()[-1] == "move"
    assert f"batch {result.batch_id}" in hist[b.code]["reason"].tolist()[-1]
    assert hist[c.code]["action"].tolist()[-2:] == ["move", "undo"]

    out = _export(small_store_copy, tmp_path / "components.parquet")
    assert len(out) == len(comps)
    assert out.loc[a.code, "x"] == pytest.approx(a.x + 3.0)
    assert out.loc[b.code, "x"] == pytest.approx(b.x + 3.0)
    assert out.loc[c.code, "x"] == pytest.approx(c.x), "the undo restored the position"
    assert out.loc[a.code, "version"] == a.version + 1
    assert out.loc[b.code, "version"] == b.version + 1
    assert out.loc[c.code, "version"] == c.version + 2
