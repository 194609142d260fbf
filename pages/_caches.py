"""The caches every page shares: the store's key and revisions, and the layers read from it.

Keys are the store file (path, inode, mtime) and the revisions of the layers read, so a write
through the layers (which bumps a revision) or a regenerated store is a new entry. Read-only
shared objects (grids, shapes, indexes, the :class:`layers.district.District` with its level-3
locator) go in ``st.cache_resource``; aggregates in ``st.cache_data`` with a TTL. A value is
shared between sessions and must never be mutated by a caller.

- :func:`district` — the one District (grids and locator) per store revision; every page that
  locates a point takes its locator from here instead of building one;
- ``cached_*`` — the layers the overview, explorer and desks read;
- :func:`warm_caches` — what the server fills before it answers.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import pandas as pd
import streamlit as st

import settings
from layers import analysis
from layers.codes import grid_prefix
from layers.district import District, open_district
from layers.grids import load_grids
from layers.live_index import LiveComponentIndex
from layers.pgstore import build_stamp
from layers.store import Store, open_store
from maps.base import basemap_choices
from maps.geometry import display_grids
from maps.views import Shapes, shapes_of

if TYPE_CHECKING:
    from pages._common import Context

CACHE_TTL_S = 600
#: The grid level the sidebar starts on (villages/communities).
DEFAULT_LEVEL = 2
#: The layers a District is built from: a change to any of them is a new District.
DISTRICT_LAYERS = ("grids", "components", "catalog")


def store_path() -> Path:
    return settings.store_path()


@contextlib.contextmanager
def open_store_ro(path: Path | str | None = None) -> Iterator[Store]:
    """A read-only store for the length of the block (closed after)."""
    store = open_store(path or store_path(), readonly=True)
    try:
        yield store
    finally:
        store.close()


def store_key(path: Path | str) -> tuple[str, int, int]:
    """What the caches of a store are keyed on: a rebuilt store is another key."""
    if isinstance(path, str):  # a postgresql:// URL
        return path, build_stamp(path), 0
    stat = path.stat()
    return str(path.resolve()), stat.st_ino, stat.st_mtime_ns


REVISION_LAYERS = ("grids", "components", "cases", "staff", "catalog")


def revisions_and_span(path: Path) -> tuple[dict[str, int], tuple[dt.date, dt.date] | None]:
    with open_store_ro(path) as store:
        revs = {name: store.revision(name) for name in REVISION_LAYERS}
        span = _cached_span(store_key(path), revs["cases"])
    return revs, span


@st.cache_data(ttl=CACHE_TTL_S, show_spinner=False)
def _cached_span(key: tuple[str, int, int], rev: int) -> tuple[dt.date, dt.date] | None:
    with open_store_ro(key[0]) as store:
        return analysis.case_span(store)


def default_dates(span: tuple[dt.date, dt.date] | None) -> tuple[dt.date, dt.date]:
    """The last 30 days of data (or of today when there is none)."""
    end = span[1] if span else dt.date.today()
    start = max(end - dt.timedelta(days=29), span[0]) if span else end - dt.timedelta(days=29)
    return start, end


# -- cached layers ----------------------------------------------------------------------------


@st.cache_resource(show_spinner=False, max_entries=8)
def cached_grids(key: tuple[str, int, int], rev: tuple[int, ...], level: int) -> gpd.GeoDataFrame:
    """Grids of one level in the working CRS (read-only, shared)."""
    with open_store_ro(key[0]) as store:
        return load_grids(store, level=level)


@st.cache_resource(show_spinner=False, max_entries=8)
def cached_display_grids(key: tuple[str, int, int], rev: tuple[int, ...], level: int) -> gpd.GeoDataFrame:
    """Grids of one level simplified for display, in WGS84 (read-only, shared)."""
    return display_grids(cached_grids(key, rev, level))


@st.cache_resource(show_spinner=False, max_entries=16)
def cached_shapes(
    key: tuple[str, int, int], rev: tuple[int, ...], level: int, town: str | None, datum: str
) -> Shapes:
    """The display geometry of one level (in one town), drawn in a basemap datum, as the live map
    keeps it (read-only, shared)."""
    return shapes_of(grids_in_town(cached_display_grids(key, rev, level), town), datum=datum)


@st.cache_resource(show_spinner=False, max_entries=2)
def cached_component_index(file: tuple[str, int]) -> LiveComponentIndex:
    """The one component index of a store file (path, inode), shared between sessions: it follows
    the store's edits through its overlay (:meth:`LiveComponentIndex.refresh`) instead of being
    built again for every move; a regenerated store is a new file, so a new index."""
    with open_store_ro(file[0]) as store:
        return LiveComponentIndex(store)


@st.cache_data(ttl=CACHE_TTL_S, show_spinner=False, max_entries=32)
def cached_component_counts(key: tuple[str, int, int], rev: tuple[int, ...], level: int) -> pd.Series:
    with open_store_ro(key[0]) as store:
        return analysis.component_counts(store, level=level)


@st.cache_data(ttl=CACHE_TTL_S, show_spinner=False, max_entries=64)
def cached_case_aggregates(
    key: tuple[str, int, int], rev: tuple[int, ...], flt: analysis.CaseFilter, level: int, heat: bool
) -> tuple[pd.DataFrame, analysis.Heat | None, int]:
    """Per-grid case statistics and (if asked) the heat of a filter: small, so cheap to cache."""
    with open_store_ro(key[0]) as store:
        cases = analysis.load_cases(store, flt, columns=("x", "y", "grid_code", "status", "deadline_at"))
        stats = analysis.grid_case_stats(cases, level=level, as_of=analysis.data_now(store))
    h = analysis.heat(cases["x"].to_numpy(), cases["y"].to_numpy(), days=flt.days) if heat else None
    return stats, h, len(cases)


@st.cache_data(ttl=CACHE_TTL_S, show_spinner=False, max_entries=16)
def cached_filter_options(
    key: tuple[str, int, int], rev: tuple[int, ...]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Event classes and channels for the filters."""
    with open_store_ro(key[0]) as store:
        return analysis.event_majors(store), analysis.channels(store)


@st.cache_data(ttl=CACHE_TTL_S, show_spinner=False, max_entries=16)
def cached_grid_points(key: tuple[str, int, int], rev: tuple[int, ...], level: int) -> pd.DataFrame:
    return analysis.grid_points(cached_grids(key, rev, level))


@st.cache_data(ttl=CACHE_TTL_S, show_spinner=False, max_entries=64)
def cached_top_types(
    key: tuple[str, int, int], rev: tuple[int, ...], flt: analysis.CaseFilter, code: str, level: int
) -> pd.DataFrame:
    with open_store_ro(key[0]) as store:
        return analysis.top_event_types(store, flt, code=code, level=level)


#: How many staff a grid's panel lists (a town has hundreds; the panel says how many in all).
STAFF_LISTED = 50
#: How many components the map draws at most in a view (an even sample beyond).
POINTS_DRAWN = 2000


@st.cache_data(ttl=CACHE_TTL_S, show_spinner=False, max_entries=64)
def cached_staff(
    key: tuple[str, int, int], rev: tuple[int, ...], code: str, level: int, masked: bool, limit: int
) -> tuple[pd.DataFrame, int]:
    """The first ``limit`` staff of a grid, and how many it has in all."""
    with open_store_ro(key[0]) as store:
        return (
            analysis.staff_of_grid(store, code, level=level, masked=masked, limit=limit),
            analysis.staff_count(store, code, level=level),
        )


def components_in_view(ctx: Context, view: Any, *, limit: int) -> tuple[pd.DataFrame, int]:
    """Components of the current map view in the sidebar's town (at most ``limit``, an even
    sample), and how many there are, through the shared position index (on a server store,
    PostGIS's: every app process then reads the same, current positions without an index of its own)."""
    index = None if isinstance(ctx.store_path, str) else cached_component_index(ctx.store_key[:2])
    with open_store_ro(ctx.store_path) as store:
        if index is not None:
            index.refresh(store)
        return analysis.components_in_view(
            store,
            index,
            west=view.west,
            south=view.south,
            east=view.east,
            north=view.north,
            limit=limit,
            town=ctx.town,
        )


def grids_in_town(grids: gpd.GeoDataFrame, town: str | None) -> gpd.GeoDataFrame:
    return grids if not town else grids[grids["code"].str.startswith(grid_prefix(town, level=1))]


def warm_caches(path: Path | None = None) -> list[str]:
    """Fill the shared caches with what the first pages of a session read; returns what was loaded.

    The server calls this before it answers, so the first person to open the app does not wait
    for the store to be read: each level's grids and their display geometry, component counts,
    and the cases of the default dates as the overview and the explorer ask for them at the
    default level (2, heat off). The arguments are those the pages pass, so later calls hit
    these entries.
    """
    path = path or store_path()
    if not path.exists():
        return []  # the first session generates the district
    key = store_key(path)
    revs, span = revisions_and_span(path)
    start, end = default_dates(span)
    datum = basemap_choices(settings.TILES, datum=settings.TILES_DATUM)[0].datum
    done = []
    for level in (1, 2, 3):
        cached_shapes(key, (revs["grids"],), level, None, datum)
        cached_component_counts(key, (revs["components"],), level)
        done.append(f"grids {level}")
    cached_filter_options(key, (revs["catalog"], revs["cases"]))
    flt = analysis.CaseFilter(start=start, end=end)
    cached_case_aggregates(key, (revs["cases"],), flt, DEFAULT_LEVEL, False)  # overview and explorer
    done.append(f"cases {start}..{end}")
    return done


# -- the district -------------------------------------------------------------------------------


@st.cache_resource(show_spinner=False, max_entries=2)
def cached_district(key: tuple[str, int, int], rev: tuple[int, ...]) -> District:
    """The read-only district (grids of every level and the level-3 locator), built once per
    store file and revision of :data:`DISTRICT_LAYERS` and shared by every session and page."""
    return open_district(key[0], readonly=True, components=False)


def district(ctx: Context) -> District:
    """The session's :func:`cached_district`: pass its ``locator`` to what locates points."""
    return cached_district(ctx.store_key, ctx.rev(*DISTRICT_LAYERS))


def district_at(path: Path) -> District:
    """:func:`cached_district` of the store at ``path`` as it is now (for a page without a context)."""
    revs, _ = revisions_and_span(path)
    return cached_district(store_key(path), tuple(revs.get(name, 0) for name in DISTRICT_LAYERS))
