"""An opened district: the store with its grids, components and grid locator ready to use.

This is the read-only object the app shares between sessions (``st.cache_resource``) and the
commands use for bulk work. It is rebuilt when the store's revisions of its layers change.
"""

from __future__ import annotations

import dataclasses
import os
import time
from dataclasses import dataclass, field
from functools import cached_property

import geopandas as gpd
import numpy as np
import pandas as pd

from layers.codes import community_of, town_of
from layers.components import load_components
from layers.grids import load_grids
from layers.store import Store, open_store
from spatial.locate import GridLocator

#: Component columns kept in memory (the rest is read from the store on demand).
MEMORY_COLUMNS = ["code", "class_code", "x", "y", "grid_code", "state", "version"]


@dataclass
class District:
    store: Store
    grids: gpd.GeoDataFrame  # all three levels of the current generation, EPSG:4549
    locator: GridLocator  # over the level-3 grids
    revisions: dict[str, int]
    seconds: dict[str, float] = field(default_factory=dict)

    @cached_property
    def components(self) -> pd.DataFrame:
        """The components' :data:`MEMORY_COLUMNS` (read on first use unless preloaded)."""
        t = time.perf_counter()
        frame = load_components(self.store, columns=MEMORY_COLUMNS)
        self.seconds["components"] = time.perf_counter() - t
        return frame

    def writable(self) -> District:
        """The same grids and locator over a writable store of the same file (the caller closes
        ``.store``): a write does not rebuild what a shared read-only district already holds."""
        out = dataclasses.replace(self, store=open_store(self.store.target, readonly=False), seconds={})
        # Read-only frames already loaded go along (a report's save read 680,000 components again);
        # the component index does not, since edits change it and the shared one must not change.
        for name in ("components", "levels"):
            if name in self.__dict__:
                out.__dict__[name] = self.__dict__[name]
        return out

    def level(self, level: int) -> gpd.GeoDataFrame:
        return self.grids[self.grids["level"] == level]

    @cached_property
    def component_index(self):  # type: ignore[no-untyped-def]
        """A mutable spatial index over the components (built on first use)."""
        from spatial.component_index import ComponentIndex

        c = self.components
        return ComponentIndex(
            c["code"].to_numpy(),
            c["class_code"].to_numpy(),
            c["x"].to_numpy(dtype=float),
            c["y"].to_numpy(dtype=float),
        )

    @cached_property
    def levels(self) -> LevelLocator:
        """The locator with each grid's level-2 and level-1 codes (what bulk work ships to workers)."""
        return LevelLocator.of(self.locator)

    def locate_all(self, x: np.ndarray, y: np.ndarray) -> pd.DataFrame:
        """Level-3, level-2 and level-1 codes of points (None where no grid covers a point)."""
        return self.levels.locate_all(x, y)


@dataclass(frozen=True)
class LevelLocator:
    """The level-3 locator and the level-3, -2 and -1 codes of each of its grids.

    Plain data without the store, so it pickles: a cluster locates with the very object the
    district does. Each code array has an extra last entry, None, for index -1 (no grid).
    """

    locator: GridLocator
    l3: np.ndarray
    l2: np.ndarray
    l1: np.ndarray

    @classmethod
    def of(cls, locator: GridLocator) -> LevelLocator:
        none = np.array([None], dtype=object)
        return cls(
            locator=locator,
            l3=np.concatenate([locator.codes.astype(object), none]),
            l2=np.concatenate([community_of(locator.codes), none]),
            l1=np.concatenate([town_of(locator.codes), none]),
        )

    def locate_all(self, x: np.ndarray, y: np.ndarray) -> pd.DataFrame:
        """Level-3, level-2 and level-1 codes of points (None where no grid covers a point)."""
        idx = self.locator.locate_index(x, y)
        return pd.DataFrame({"grid_l3": self.l3[idx], "grid_l2": self.l2[idx], "grid_l1": self.l1[idx]})


def level3_locator(grids: gpd.GeoDataFrame) -> GridLocator:
    """The locator over the level-3 grids of ``grids`` (any levels; EPSG:4549): the one way a
    store's grids become a locator, for the district and for the survey."""
    l3 = grids[grids["level"] == 3]
    return GridLocator(l3.geometry.to_numpy(), l3["code"].to_numpy())


def open_district(
    path: str | os.PathLike[str], *, readonly: bool = True, components: bool = True
) -> District:
    """Open a store and load what bulk work needs: grids, locator and (unless not wanted) components."""
    seconds: dict[str, float] = {}
    t = time.perf_counter()
    store = open_store(path, readonly=readonly)
    grids = load_grids(store)
    seconds["grids"] = time.perf_counter() - t
    t = time.perf_counter()
    locator = level3_locator(grids)
    seconds["locator"] = time.perf_counter() - t
    revisions = {layer: store.revision(layer) for layer in ("grids", "components", "cases")}
    district = District(store=store, grids=grids, locator=locator, revisions=revisions, seconds=seconds)
    if components:
        district.components  # noqa: B018 - preloaded, so the district is ready for bulk work
    return district
