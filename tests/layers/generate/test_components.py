"""Streets and components of the real district: counts, codes, placement, grids, dates."""

from __future__ import annotations

import datetime as dt
import time

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from layers.generate.components import COLUMNS, COMPONENT_CLASSES, SOURCES, STATES, make_components
from layers.generate.streets import KINDS, Streets, make_streets
from tests.layers.generate.test_grids import SEED, district_grids, district_land

END = dt.date(2026, 1, 31)
N = 50_000


@pytest.fixture(scope="module")
def land() -> shapely.Geometry:
    return district_land()


@pytest.fixture(scope="module")
def grids() -> gpd.GeoDataFrame:
    return district_grids(SEED)


@pytest.fixture(scope="module")
def streets(grids: gpd.GeoDataFrame, land: shapely.Geometry) -> Streets:
    return make_streets(grids, land, seed=SEED)


@pytest.fixture(scope="module")
def components(grids: gpd.GeoDataFrame, land: shapely.Geometry, streets: Streets) -> pd.DataFrame:
    return make_components(grids, land, streets, n=N, seed=SEED, end=END)


# -- classes ------------------------------------------------------------------------------------


def test_class_table() -> None:
    t = COMPONENT_CLASSES
    assert list(t.columns) == ["code", "major_code", "major_name", "name", "share"]
    assert t["code"].is_unique and t["name"].is_unique
    assert t["code"].str.fullmatch(r"0[1-6]\d\d").all()
    assert (t["code"].str[:2] == t["major_code"]).all()
    assert set(t["major_code"]) == {"01", "02", "03", "04", "05", "06"}
    assert t["share"].sum() == pytest.approx(1.0)
    by_name = t.set_index("name")["code"]
    assert by_name["上水井盖"] == "0101" and by_name["污水井盖"] == "0102" and by_name["雨水井盖"] == "0103"
    top = set(t.nlargest(6, "share")["name"])
    assert {"行道树", "路灯"} <= top


# -- streets ------------------------------------------------------------------------------------


def test_streets_on_land(streets: Streets, land: shapely.Geometry) -> None:
    assert len(streets) > 5_000
    assert set(np.unique(streets.kind)) <= set(KINDS)
    assert (streets.length > 0).all()
    for x, y in ((streets.x0, streets.y0), (streets.x1, streets.y1)):
        assert shapely.intersects_xy(land, x, y).all()
    mid_x = (streets.x0 + streets.x1) / 2
    mid_y = (streets.y0 + streets.y1) / 2
    assert shapely.intersects_xy(land, mid_x, mid_y).all()


def test_streets_denser_in_town(streets: Streets, grids: gpd.GeoDataFrame) -> None:
    towns = grids[grids["level"] == 1].set_index("code").geometry
    mid_x = (streets.x0 + streets.x1) / 2
    mid_y = (streets.y0 + streets.y1) / 2

    def km_per_km2(code: str) -> float:
        inside = shapely.contains_xy(towns[code], mid_x, mid_y)
        return streets.length[inside].sum() / towns[code].area * 1e3

    assert km_per_km2("320506001000000") > 3 * km_per_km2("320506107000000")  # 长桥 vs 东山


def test_streets_deterministic(streets: Streets, grids: gpd.GeoDataFrame, land: shapely.Geometry) -> None:
    again = make_streets(grids, land, seed=SEED)
    assert np.array_equal(again.x0, streets.x0) and np.array_equal(again.kind, streets.kind)


# -- components ---------------------------------------------------------------------------------


def test_frame(components: pd.DataFrame) -> None:
    assert list(components.columns) == COLUMNS
    assert len(components) == N
    assert (components["version"] == 1).all()
    assert components[["supervisor_code", "owner_code", "maintainer_code"]].isna().all().all()


def test_codes(components: pd.DataFrame) -> None:
    code = components["code"]
    assert code.is_unique
    assert code.str.fullmatch(r"320506\d{10}").all()
    assert (code.str[6:10] == components["class_code"]).all()
    # Serials run 1..count within each class.
    serial = code.str[10:].astype(int)
    for _, s in serial.groupby(components["class_code"]):
        assert sorted(s) == list(range(1, len(s) + 1))


def test_class_counts_follow_densities_not_fixed_numbers(components: pd.DataFrame) -> None:
    got = components["class_code"].value_counts().reindex(COMPONENT_CLASSES["code"], fill_value=0)
    expected = COMPONENT_CLASSES.set_index("code")["share"] * N
    assert got.sum() == N and (got > 0).all()
    # Near each class's share (a ±15 % spread of densities plus Poisson noise), never pinned to it.
    big = expected > 200
    ratio = got[big] / expected[big]
    assert ratio.between(0.5, 1.7).all() and 0.05 < ratio.std() < 0.3
    assert got.nunique() > 0.9 * len(got)


def test_all_on_land_and_in_their_grid(components: pd.DataFrame, land: shapely.Geometry, grids) -> None:
    x = components["x"].to_numpy()
    y = components["y"].to_numpy()
    assert shapely.intersects_xy(land, x, y).all()
    l3 = grids[grids["level"] == 3]
    assert components["grid_code"].notna().all()
    assert set(components["grid_code"]) <= set(l3["code"])
    # An independent oracle on a sample: every covering grid, lowest code wins.
    rng = np.random.default_rng(7)
    pick = rng.choice(len(components), 3_000, replace=False)
    pts = shapely.points(x[pick], y[pick])
    codes = l3["code"].to_numpy()
    covers = shapely.covers(l3.geometry.to_numpy()[None, :], pts[:, None])
    assert covers.any(axis=1).all()
    lowest = np.array([min(codes[row]) for row in covers])
    assert (lowest == components["grid_code"].to_numpy()[pick]).all()


def test_denser_in_town(components: pd.DataFrame, grids: gpd.GeoDataFrame) -> None:
    town = components["grid_code"].str[6:9]
    area = grids[grids["level"] == 1].set_index(grids.loc[grids["level"] == 1, "code"].str[6:9]).geometry.area
    per_km2 = town.value_counts() / (area / 1e6)
    assert per_km2["001"] > 4 * per_km2["107"]  # 长桥 vs 东山


def test_state_source_and_dates(components: pd.DataFrame) -> None:
    assert set(components["state"]) <= set(STATES)
    assert set(components["source"]) <= set(SOURCES)
    # The census finds a little damage; what cases report is added afterwards (layers.generate.upkeep).
    assert components["state"].eq("完好").mean() == pytest.approx(0.975, abs=0.01)
    assert components["source"].eq("实测").mean() > 0.5
    for col in ("surveyed_on", "changed_on"):
        assert components[col].str.fullmatch(r"\d{4}-\d{2}-\d{2}").all()
    s, c = components["surveyed_on"], components["changed_on"]
    assert (s <= c).all() and (c <= END.isoformat()).all()
    assert s.str[:4].nunique() >= 4  # surveys span several years
    assert (s < c).mean() > 0.1


def test_bodies_get_town_codes(grids: gpd.GeoDataFrame, land: shapely.Geometry, streets: Streets) -> None:
    seen: dict[str, np.ndarray] = {}

    def bodies(class_codes: np.ndarray, town_codes: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        seen["class"], seen["town"] = class_codes, town_codes
        sup = np.array(["S" + c for c in class_codes], dtype=object)
        return sup, np.asarray(town_codes, dtype=object), np.full(len(class_codes), None, dtype=object)

    comp = make_components(grids, land, streets, n=2_000, seed=1, end=END, bodies=bodies)
    assert (comp["supervisor_code"] == "S" + comp["class_code"]).all()
    assert (comp["owner_code"] == comp["grid_code"].str[:9] + "000000").all()
    assert comp["maintainer_code"].isna().all()
    assert set(seen["town"]) <= set(grids.loc[grids["level"] == 1, "code"])


def test_deterministic(components: pd.DataFrame, grids, land: shapely.Geometry, streets: Streets) -> None:
    again = make_components(grids, land, streets, n=N, seed=SEED, end=END)
    pd.testing.assert_frame_equal(again, components)
    other = make_components(grids, land, streets, n=N, seed=SEED + 1, end=END)
    assert not np.array_equal(other["x"].to_numpy(), components["x"].to_numpy())


def test_refuses_bad_arguments(grids, land: shapely.Geometry, streets: Streets) -> None:
    with pytest.raises(ValueError, match="must be positive"):
        make_components(grids, land, streets, n=0, seed=1, end=END)
    with pytest.raises(ValueError, match="not 6 digits"):
        make_components(grids, land, streets, n=10, seed=1, end=END, county="3205")


@pytest.mark.slow
def test_full_scale(grids: gpd.GeoDataFrame, land: shapely.Geometry, streets: Streets) -> None:
    t0 = time.perf_counter()
    comp = make_components(grids, land, streets, n=680_000, seed=SEED, end=END)
    elapsed = time.perf_counter() - t0
    assert len(comp) == 680_000
    assert comp["code"].is_unique
    assert comp["grid_code"].notna().all()
    assert elapsed < 60


def test_a_locator_passed_in_places_as_the_one_built_here(
    grids: gpd.GeoDataFrame, land: shapely.Geometry, streets: Streets, components: pd.DataFrame
) -> None:
    """The generator hands its level-3 locator on instead of building a second one."""
    from spatial.locate import GridLocator

    l3 = grids[grids["level"] == 3].reset_index(drop=True)
    locator = GridLocator(l3.geometry.to_numpy(), l3["code"].to_numpy())
    again = make_components(grids, land, streets, n=N, seed=SEED, end=END, locator=locator)
    pd.testing.assert_frame_equal(again, components)
