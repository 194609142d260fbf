"""Generate a whole district store: grids, catalog, components, staff and case history.

Deterministic for a seed and an end date. The store is written to a temporary file and renamed
into place only when complete (:func:`layers.store.build_store`), so an interrupted run leaves
whatever was at the target before.
"""

from __future__ import annotations

import datetime as dt
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

import settings
from layers.codes import town_of
from layers.grids import write_grids, write_land
from layers.store import build_store, check_target

#: progress(stage, fraction of the whole run done, 0..1)
Progress = Callable[[str, float], None]

FULL_COMPONENTS = 680_000

# Share of the whole run's time each stage takes (measured at full scale), for one progress bar.
_STAGES = {
    "land": 0.01,
    "grids": 0.04,
    "streets": 0.03,
    "catalog": 0.01,
    "components": 0.12,
    "staff": 0.01,
    "write": 0.08,
    "cases": 0.60,
    "upkeep": 0.06,
    "finish": 0.04,
}


@dataclass
class GenerationReport:
    path: Path
    seed: int
    days: int
    end: dt.date
    counts: dict[str, int] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)


class _Stages:
    def __init__(self, progress: Progress | None) -> None:
        self.progress = progress
        self.done = 0.0
        self.seconds: dict[str, float] = {}
        self._t = time.perf_counter()
        self._current: str | None = None

    def start(self, stage: str) -> None:
        self.finish()
        self._current = stage
        self._t = time.perf_counter()
        self.report(0.0)

    def report(self, within: float) -> None:
        if self.progress is not None and self._current is not None:
            frac = self.done + _STAGES[self._current] * min(max(within, 0.0), 1.0)
            self.progress(self._current, min(frac, 1.0))

    def finish(self) -> None:
        if self._current is not None:
            self.seconds[self._current] = time.perf_counter() - self._t
            self.done += _STAGES[self._current]
            self._current = None


def generate_store(
    path: str | os.PathLike[str],
    *,
    seed: int = settings.DEFAULT_SEED,
    days: int = settings.DEFAULT_DAYS,
    end: dt.date | None = None,
    force: bool = False,
    n_components: int = FULL_COMPONENTS,
    per_day: float = 2500.0,
    boundary: str | os.PathLike[str] = settings.BOUNDARY_FILE,
    lake: str | os.PathLike[str] = settings.LAKE_FILE,
    waters: Sequence[str | os.PathLike[str]] | None = None,
    north_limit: float | None = None,
    progress: Progress | None = None,
) -> GenerationReport:
    """Generate the district into a new store at ``path``.

    ``waters`` (more water taken out of the land) and ``north_limit`` (latitude the boundary is
    cut at) default to the settings' values for the default boundary and to none for any other:
    Wuzhong's corrections do not apply to another district's polygon.

    Raises
    ------
    StoreExistsError
        ``path`` exists and ``force`` is not set (nothing is touched).
    InputFileError
        A boundary file is missing, malformed or has no trustworthy CRS.
    """
    from layers.generate import catalog, staff, upkeep
    from layers.generate.cases import iter_cases
    from layers.generate.components import COMPONENT_CLASSES, make_components
    from layers.generate.grids import make_grids, read_towns
    from layers.generate.land import load_land
    from layers.generate.streets import make_streets
    from spatial.locate import GridLocator

    if days < 0:
        raise ValueError(f"--days must be 0 or more, not {days}")
    if n_components <= 0:
        raise ValueError(f"the number of components must be positive, not {n_components}")
    end = end or dt.date.today()
    target = check_target(path, force=force)  # refuse early, before minutes of work
    stages = _Stages(progress)
    report = GenerationReport(path=target, seed=seed, days=days, end=end)

    stages.start("land")
    if Path(boundary).resolve() == Path(settings.BOUNDARY_FILE).resolve():
        waters = settings.WATER_FILES if waters is None else waters
        north_limit = settings.NORTH_LIMIT if north_limit is None else north_limit
    waters = tuple(waters or ())
    land = load_land(boundary, lake, waters=waters, north_limit=north_limit)
    towns = read_towns(settings.TOWNS_FILE)

    stages.start("grids")
    grids = make_grids(land, towns=towns, seed=seed, district_code=settings.DISTRICT_CODE)
    l1 = grids[grids["level"] == 1]
    l3 = grids[grids["level"] == 3].reset_index(drop=True)
    locator = GridLocator(l3.geometry.to_numpy(), l3["code"].to_numpy())

    stages.start("streets")
    streets = make_streets(grids, land, seed=seed)

    stages.start("catalog")
    departments = catalog.departments(town_codes=dict(zip(l1["code"], l1["name"], strict=True)))
    classes = COMPONENT_CLASSES.copy()
    classes["supervisor_code"] = catalog.class_supervisors(classes).reindex(classes.index).to_numpy()
    event_types = catalog.event_types(departments=departments, component_classes=classes)
    channels = catalog.channels()

    stages.start("components")

    def bodies(class_codes: np.ndarray, town_codes: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return catalog.component_bodies(class_codes, town_codes, seed=seed)

    components = make_components(
        grids,
        land,
        streets,
        n=n_components,
        seed=seed,
        end=end,
        county=settings.DISTRICT_CODE,
        bodies=bodies,
        locator=locator,
    )

    stages.start("staff")
    roster = staff.make_staff(l3["code"].tolist(), seed=seed)

    stages.start("write")
    with build_store(target, force=force) as store:
        valid_from = dt.date(end.year - 3, 1, 1).isoformat()
        with store.transaction() as conn:
            conn.execute(
                "INSERT INTO generations(id, valid_from, valid_to, note, created_at) VALUES (1, ?, NULL, ?, ?)",
                (valid_from, "generated district", _now()),
            )
            cut = f" south of {north_limit:.4f}°N" if north_limit is not None else ""
            water = " and ".join(Path(p).name for p in (lake, *waters))
            write_land(conn, land, source=f"{Path(boundary).name}{cut} minus {water}")
            write_grids(conn, grids, generation=1)
            store.set_meta(
                conn,
                district_code=settings.DISTRICT_CODE,
                district_name=settings.DISTRICT_NAME,
                seed=seed,
                days=days,
                end=end.isoformat(),
                generated_at=_now(),
                land_area_m2=f"{land.area:.1f}",
                n_components=n_components,
            )
        store.ingest("departments", departments)
        store.ingest(
            "component_classes", classes[["code", "major_code", "major_name", "name", "supervisor_code"]]
        )
        store.ingest("channels", channels)
        store.ingest("event_types", event_types)
        store.ingest("staff", roster.drop(columns=["photo"], errors="ignore"))
        stages.report(1.0)

        stages.start("cases")
        n_cases = n_hist = 0
        case_chunks = iter_cases(
            grids_l3=l3.assign(town_code=town_of(l3["code"])),
            components=components,
            event_types=event_types,
            channels=channels,
            departments=departments,
            locate=locator.locate,
            days=days,
            end=end,
            seed=seed,
            per_day=per_day,
        )
        events: list[pd.DataFrame] = []
        for cases, history in case_chunks:
            n_cases += store.ingest("cases", cases)
            n_hist += store.ingest("case_history", history)
            events.append(cases.loc[cases["component_code"].notna(), upkeep.EVENT_COLUMNS])
            stages.report(n_cases / max(per_day * days, 1.0))

        stages.start("upkeep")
        # The components as the year of cases and surveys left them (written after the cases,
        # which is why they are ingested last).
        components, comp_history = upkeep.upkeep(
            components,
            pd.concat(events, ignore_index=True) if events else pd.DataFrame(columns=upkeep.EVENT_COLUMNS),
            event_types=event_types,
            end=end,
            seed=seed,
            locate=locator.locate,
        )
        store.ingest("components", components)
        n_comp_hist = store.ingest("component_history", comp_history)

        stages.start("finish")
        problems = store.foreign_key_problems()
        if problems:
            raise RuntimeError(f"generated store breaks foreign keys, e.g. {problems}")
        with store.transaction() as conn:
            for layer in ("grids", "components", "cases", "catalog", "staff"):
                store.bump_revision(conn, layer)
    stages.finish()
    report.counts = {
        "grids_l1": int((grids["level"] == 1).sum()),
        "grids_l2": int((grids["level"] == 2).sum()),
        "grids_l3": int((grids["level"] == 3).sum()),
        "components": len(components),
        "event_types": len(event_types),
        "departments": len(departments),
        "channels": len(channels),
        "staff": len(roster),
        "cases": n_cases,
        "case_history": n_hist,
        "component_history": n_comp_hist,
    }
    report.seconds = stages.seconds
    if progress is not None:
        progress("done", 1.0)
    return report


def _now() -> str:
    return dt.datetime.now().replace(microsecond=0).isoformat()
