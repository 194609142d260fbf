"""Hot spots on a real store: a planted cluster is found; cases spread at random over the land
flag no more grids than the false discovery rate allows."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from layers import hotspots
from layers.errors import AssessmentError
from layers.store import open_store
from tests.helpers import connect

MONTHS = ["2026-05", "2026-06", "2026-07"]


def _insert(path: Path, grid_codes: np.ndarray, month: str, tag: str) -> None:
    """Reported cases (as the intake writes them before registration) in the given grids."""
    conn = connect(path)
    rows = [
        (f"T{tag}{i:07d}", "C01", "1501002", "test", 0.0, 0.0, code, 1, code[:9] + "000000", "reported", "一般",
         f"{month}-{1 + i % 28:02d}T10:00:00")
        for i, code in enumerate(grid_codes)
    ]  # fmt: skip
    conn.executemany(
        "INSERT INTO cases (id, channel_code, event_type_code, description, x, y, grid_code, grid_generation, "
        "town_code, status, urgency, reported_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
        rows,
    )
    conn.close()


def _random_over_land(path: Path, n: int, month: str, seed: int) -> None:
    """n cases at places drawn uniformly over the land: a grid is hit in proportion to its area."""
    conn = connect(path)
    codes, areas = zip(
        *conn.execute("SELECT code, area_m2 FROM grids WHERE level = 3 ORDER BY code"), strict=True
    )
    conn.close()
    area = np.asarray(areas)
    rng = np.random.default_rng(seed)
    _insert(path, np.asarray(codes)[rng.choice(len(codes), size=n, p=area / area.sum())], month, f"R{seed}")


def test_random_cases_flag_at_most_the_false_discovery_rate(small_store_copy: Path) -> None:
    for i, month in enumerate(MONTHS):
        _random_over_land(small_store_copy, 20_000, month, seed=i)
    with open_store(small_store_copy, readonly=True) as store:
        result = hotspots.hot_spots(store, MONTHS, permutations=499)
    flagged = result.cells.assign(flag=lambda d: d["spot"] != "none").groupby("month")["flag"].mean()
    assert (flagged <= hotspots.ALPHA).all(), flagged
    assert len(result.cells) == 887 * len(MONTHS)


def test_a_planted_cluster_is_found(small_store_copy: Path) -> None:
    for i, month in enumerate(MONTHS):
        _random_over_land(small_store_copy, 20_000, month, seed=10 + i)
    with open_store(small_store_copy, readonly=True) as store:
        nb = hotspots.grid_neighbours(store)
    # A grid and its neighbours get extra cases in the last month: a cluster that appears.
    centre = int(np.argmax(np.diff(nb.indptr)))
    cluster = np.concatenate([[centre], nb.indices[nb.indptr[centre] : nb.indptr[centre + 1]]])
    density = np.full(cluster.size, 400.0)  # cases per km² on top of the background
    extra = np.repeat(nb.codes[cluster], np.ceil(density * nb.area_km2[cluster]).astype(int))
    _insert(small_store_copy, extra, MONTHS[-1], "P")
    with open_store(small_store_copy, readonly=True) as store:
        result = hotspots.hot_spots(store, MONTHS, permutations=499, neighbours=nb)
    last = result.cells[result.cells["month"] == MONTHS[-1]].set_index("code")
    hot = set(last.index[last["spot"] == "hot"])
    assert set(nb.codes[cluster]) <= hot
    assert len(hot) <= 3 * cluster.size  # the cluster, and its ring at most
    classes = result.classes.set_index("code")["class"]
    assert (classes.loc[nb.codes[cluster]] == "new").all()


def test_no_cases_is_a_clear_error(small_store_path: Path) -> None:
    with (
        open_store(small_store_path, readonly=True) as store,
        pytest.raises(AssessmentError, match="no case"),
    ):
        hotspots.hot_spots(store, ["2026-01"])


@pytest.mark.slow
def test_pysal_engine_finds_the_same_cluster(small_store_copy: Path) -> None:
    """The reference: esda.G_Local on the same contiguity flags the same planted cluster (its
    first call compiles numba kernels for a minute or more, hence slow)."""
    months = MONTHS[-1:]
    _random_over_land(small_store_copy, 20_000, months[0], seed=20)
    with open_store(small_store_copy, readonly=True) as store:
        nb = hotspots.grid_neighbours(store)
    centre = int(np.argmax(np.diff(nb.indptr)))
    cluster = np.concatenate([[centre], nb.indices[nb.indptr[centre] : nb.indptr[centre + 1]]])
    extra = np.repeat(nb.codes[cluster], np.ceil(400.0 * nb.area_km2[cluster]).astype(int))
    _insert(small_store_copy, extra, months[0], "Q")
    with open_store(small_store_copy, readonly=True) as store:
        ours = hotspots.hot_spots(store, months, permutations=499, neighbours=nb)
        ref = hotspots.hot_spots(store, months, permutations=499, neighbours=nb, engine="esda")
    np.testing.assert_allclose(ours.cells["z"], ref.cells["z"], atol=1e-9)
    hot_ours = set(ours.cells.loc[ours.cells["spot"] == "hot", "code"])
    hot_ref = set(ref.cells.loc[ref.cells["spot"] == "hot", "code"])
    assert set(nb.codes[cluster]) <= hot_ours & hot_ref
    assert len(hot_ours ^ hot_ref) <= 2  # different random draws may move a borderline grid
