"""The one component index of a store, kept current through the index's edit overlay.

The app shares one :class:`~spatial.component_index.ComponentIndex` between sessions. Rebuilding it
for every surveyor's move (680,000 points, about a second) would make each edit cost every viewer
a rebuild; instead the shared index follows the store's ``component_history``: each change of
position written since it last looked (a move, an undo, a batch row, by any session or command)
is applied with :meth:`ComponentIndex.move`, which puts it in the overlay in microseconds. Past
:data:`MAX_FOLLOW` changes at once it is cheaper to build the index again, and past
:data:`COMPACT_AT` pending edits the overlay is folded in (:meth:`ComponentIndex.compact`).

Edits and queries of the shared object hold one lock, so a session never reads a half-applied
change.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable

from layers.store import Store
from spatial.component_index import BBoxResult, ComponentIndex, NearestResult

__all__ = ["COMPACT_AT", "MAX_FOLLOW", "LiveComponentIndex", "build_component_index"]

#: More changes than this since the last look: build the index again instead of following them.
MAX_FOLLOW = 50_000
#: Pending overlay edits beyond which they are folded into the sorted arrays.
COMPACT_AT = 20_000


def build_component_index(store: Store) -> ComponentIndex:
    """The engine's component index over every component of the store."""
    t = store.read_arrow("SELECT code, class_code, x, y FROM components")
    return ComponentIndex(
        t.column("code").to_numpy(zero_copy_only=False),
        t.column("class_code").to_numpy(zero_copy_only=False),
        t.column("x").to_numpy(),
        t.column("y").to_numpy(),
    )


def _last_history_id(store: Store) -> int:
    return int(store.conn.execute("SELECT COALESCE(MAX(id), 0) FROM component_history").fetchone()[0])


class LiveComponentIndex:
    """A shared component index that follows the store's edits (see the module's docstring)."""

    def __init__(self, store: Store) -> None:
        self._lock = threading.Lock()
        self.rebuilds = 0
        self._build(store)

    def _build(self, store: Store) -> None:
        # The history mark first: a change written while the index is read is applied again on
        # the next refresh, which is harmless (a move to where the component already is).
        self._seen = _last_history_id(store)
        self._revision = store.revision("components")
        self._index = build_component_index(store)
        self.rebuilds += 1

    def refresh(self, store: Store) -> int:
        """Apply the changes of position written since the last look; returns how many."""
        with self._lock:
            if store.revision("components") == self._revision:
                return 0
            revision = store.revision("components")
            last = _last_history_id(store)
            if last - self._seen > MAX_FOLLOW:
                self._build(store)
                return 0
            rows = store.read_arrow(
                "SELECT component_code, CAST(json_extract(after, '$.x') AS REAL) AS x, "
                "CAST(json_extract(after, '$.y') AS REAL) AS y "
                "FROM component_history WHERE id > ? AND id <= ? AND json_extract(after, '$.x') IS NOT NULL "
                "ORDER BY id",
                (self._seen, last),
            )
            codes = rows.column("component_code").to_pylist()
            xs = rows.column("x").to_pylist()
            ys = rows.column("y").to_pylist()
            index = self._index
            # One call per change of position, of which there are few between two looks.
            for code, x, y in zip(codes, xs, ys, strict=True):
                if code in index:
                    index.move(code, float(x), float(y))
            if index.pending_edits > COMPACT_AT:
                index.compact()
            self._seen, self._revision = last, revision
            return len(codes)

    def in_bbox(
        self,
        minx: float,
        miny: float,
        maxx: float,
        maxy: float,
        *,
        limit: int | None = None,
        class_codes: str | Iterable[str] | None = None,
    ) -> BBoxResult:
        with self._lock:
            return self._index.in_bbox(minx, miny, maxx, maxy, limit=limit, class_codes=class_codes)

    def nearest(
        self, x: float, y: float, *, radius: float, class_code: str | Iterable[str] | None = None, k: int = 1
    ) -> NearestResult:
        with self._lock:
            return self._index.nearest(x, y, radius=radius, class_code=class_code, k=k)

    def position(self, code: str) -> tuple[float, float]:
        with self._lock:
            return self._index.position(code)

    @property
    def pending_edits(self) -> int:
        return self._index.pending_edits
