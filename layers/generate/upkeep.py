"""A year of component upkeep: states changed by the cases about them, and the survey's updates.

A component reported broken, missing or occupied is recorded so when the case is registered and
intact again when the case is closed; a case still open at the end leaves it in that state. The
inspectors keep the data current through the year: they correct positions (a few metres, within
the same grid) and record damage nobody reported. Every change is a ``component_history`` row
(who, when, action, before/after JSON, reason) with the component's version counting them, as the
live survey layer (:mod:`layers.survey`) writes them.

Everything is vectorised: the changes are one table sorted by component and time.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import numpy as np
import pandas as pd

from layers.components import STATES

__all__ = ["EVENT_COLUMNS", "HISTORY_COLUMNS", "KIND_STATE", "upkeep"]

#: What a case about a component does to its recorded state, by problem kind (the end of the
#: event type's name); kinds not listed (overflowing, dirty, needs pruning…) leave it as it is.
KIND_STATE = {
    "丢失": "丢失", "缺失": "丢失", "被毁": "丢失",
    "被占用": "占用", "违规停靠": "占用",
    "破损": "破损", "倾斜": "破损", "移位": "破损", "松动异响": "破损", "护栏破损": "破损",
    "保护设施破损": "破损", "残缺": "破损", "倒伏": "破损", "墙体开裂": "破损", "漏水": "破损",
}  # fmt: skip
#: Columns of the case events :func:`upkeep` reads.
EVENT_COLUMNS = ["id", "component_code", "event_type_code", "status", "registered_at", "closed_at"]
HISTORY_COLUMNS = ["component_code", "version", "changed_at", "actor", "action", "before", "after", "reason"]
#: Share of components whose position the survey corrects in a year.
MOVED_SHARE = 0.02

Locate = Callable[[np.ndarray, np.ndarray], np.ndarray]


def type_states(event_types: pd.DataFrame) -> pd.Series:
    """The state each component event type puts its component in (only types that change it)."""
    comp = event_types[event_types["component_class"].notna()]
    kind = pd.Series(
        [n[len(s) :] if n.startswith(s) else n for n, s in zip(comp["name"], comp["sub_name"], strict=True)],
        index=comp["code"].to_numpy(),
    )
    return kind.map(KIND_STATE).dropna()


def upkeep(
    components: pd.DataFrame,
    events: pd.DataFrame,
    *,
    event_types: pd.DataFrame,
    end: dt.date,
    seed: int,
    locate: Locate,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Apply a year of upkeep to ``components``; return them and their ``component_history`` rows.

    Parameters
    ----------
    components
        The generated components (the store's columns); not modified.
    events
        Cases that name a component: :data:`EVENT_COLUMNS` (ISO local times, ``closed_at`` empty
        while open); rejected cases are ignored.
    event_types
        The responsibility list (``code, name, sub_name, component_class``).
    end
        Last day of the data: no change is later.
    seed
        Seed of the survey's part.
    locate
        ``locate(x, y)`` → level-3 code of each point (``None`` outside every grid): a corrected
        position must stay in the component's grid.
    """
    rng = np.random.default_rng([seed, 0x5E1F])
    comps = components.copy()
    codes = pd.Index(comps["code"].astype(str))
    year_start = np.datetime64(end - dt.timedelta(days=364), "D")
    end_day = np.datetime64(end, "D")

    # Case changes: the state on registration, intact again on closing.
    ev = events[events["component_code"].notna() & (events["status"] != "rejected")]
    to_state = ev["event_type_code"].map(type_states(event_types))
    ev = ev[to_state.notna()].assign(state=to_state[to_state.notna()])
    ev = ev[ev["registered_at"].notna()]
    pos = codes.get_indexer(ev["component_code"].astype(str))
    ev, pos = ev[pos >= 0], pos[pos >= 0]
    closed = ev["closed_at"].notna().to_numpy()
    case_rows = pd.DataFrame(
        {
            "pos": np.concatenate([pos, pos[closed]]),
            "at": np.concatenate([ev["registered_at"].astype(str), ev["closed_at"][closed].astype(str)]),
            "action": "state",
            "new": np.concatenate(
                [ev["state"].astype(str), np.full(int(closed.sum()), STATES[0], dtype=object)]
            ),
            "actor": np.concatenate(
                [
                    np.full(len(ev), "区联动中心受理员", dtype=object),
                    np.full(int(closed.sum()), "区联动中心核查员", dtype=object),
                ]
            ),
            "reason": np.concatenate(
                [
                    "案件" + ev["id"].astype(str) + "立案",
                    "案件" + ev["id"][closed].astype(str) + "结案，部件已修复",
                ]
            ),
        }
    )
    touched = np.zeros(len(comps), dtype=bool)
    touched[pos] = True
    # A component with cases starts the year intact; its history is the cases'.
    state0 = comps["state"].astype(object).to_numpy().copy()
    state0[touched] = STATES[0]

    # Damage nobody reported: the inspector records it on a day of the year.
    found = np.flatnonzero(~touched & (state0 != STATES[0]))
    days = (end_day - year_start).astype(np.int64) + 1
    survey_at = year_start + rng.integers(0, days, found.size).astype("timedelta64[D]")
    survey_rows = pd.DataFrame(
        {
            "pos": found,
            "at": _at(survey_at, rng),
            "action": "state",
            "new": state0[found],
            "actor": "部件普查员",
            "reason": "巡查发现，部件状态更新",
        }
    )
    state0[found] = STATES[0]

    # Position corrections of a few metres that keep the component in its grid.
    pick = rng.choice(len(comps), int(len(comps) * MOVED_SHARE), replace=False)
    x0 = comps["x"].to_numpy(float)[pick]
    y0 = comps["y"].to_numpy(float)[pick]
    x1 = np.round(x0 + rng.normal(0.0, 1.5, pick.size), 2)
    y1 = np.round(y0 + rng.normal(0.0, 1.5, pick.size), 2)
    grid = comps["grid_code"].astype(object).to_numpy()[pick]
    same = np.asarray(locate(x1, y1), dtype=object) == grid
    pick, x0, y0, x1, y1, grid = pick[same], x0[same], y0[same], x1[same], y1[same], grid[same]
    move_at = year_start + rng.integers(0, days, pick.size).astype("timedelta64[D]")
    move_rows = pd.DataFrame(
        {
            "pos": pick,
            "at": _at(move_at, rng),
            "action": "move",
            "new": None,
            "actor": "部件普查员",
            "reason": "年度部件普查：坐标修正",
        }
    )

    rows = pd.concat([case_rows, survey_rows, move_rows], ignore_index=True)
    rows = rows[rows["at"] <= f"{end.isoformat()}T23:59:59"]
    rows = rows.sort_values(["pos", "at", "action"], kind="stable").reset_index(drop=True)

    # State changes chain per component: before is the state after the previous change.
    is_state = (rows["action"] == "state").to_numpy()
    st = rows[is_state]
    prev = st.groupby("pos")["new"].shift(1)
    before = prev.where(prev.notna(), pd.Series(state0[st["pos"].to_numpy()], index=st.index))
    keep = before.to_numpy() != st["new"].to_numpy()  # a second report of the same damage changes nothing
    drop_idx = st.index[~keep]
    rows.loc[st.index, "before_state"] = before
    rows = rows.drop(index=drop_idx).reset_index(drop=True)
    is_state = (rows["action"] == "state").to_numpy()

    rows["version"] = rows.groupby("pos").cumcount().to_numpy() + 2
    before_json = np.empty(len(rows), dtype=object)
    after_json = np.empty(len(rows), dtype=object)
    before_json[is_state] = ('{"state": "' + rows.loc[is_state, "before_state"].astype(str) + '"}').to_numpy()
    after_json[is_state] = ('{"state": "' + rows.loc[is_state, "new"].astype(str) + '"}').to_numpy()
    mv = np.flatnonzero(~is_state)
    if mv.size:
        where = pd.Series(np.arange(pick.size), index=pick)
        k = where.reindex(rows["pos"].to_numpy()[mv]).to_numpy()
        g = pd.Series(grid[k]).astype(str)
        before_json[mv] = _xy_json(x0[k], y0[k], g)
        after_json[mv] = _xy_json(x1[k], y1[k], g)
        comps.loc[comps.index[pick], "x"] = x1
        comps.loc[comps.index[pick], "y"] = y1

    # The components as they are at the end: last state, last change date, version.
    last = rows.groupby("pos").tail(1)
    last_state = rows[is_state].groupby("pos").tail(1)
    state = state0
    state[last_state["pos"].to_numpy()] = last_state["new"].to_numpy()
    comps["state"] = state
    changed = comps["changed_on"].astype(str).to_numpy(dtype=object)
    lp = last["pos"].to_numpy()
    new_day = last["at"].str.slice(0, 10).to_numpy(dtype=object)
    changed[lp] = np.where(new_day > changed[lp], new_day, changed[lp])
    comps["changed_on"] = changed
    version = np.ones(len(comps), dtype=np.int64)
    version[lp] = last["version"].to_numpy(np.int64)
    comps["version"] = version

    history = pd.DataFrame(
        {
            "component_code": codes.to_numpy()[rows["pos"].to_numpy()],
            "version": rows["version"].to_numpy(np.int64),
            "changed_at": rows["at"].to_numpy(dtype=object),
            "actor": rows["actor"].to_numpy(dtype=object),
            "action": rows["action"].to_numpy(dtype=object),
            "before": before_json,
            "after": after_json,
            "reason": rows["reason"].to_numpy(dtype=object),
        },
        columns=HISTORY_COLUMNS,
    )
    # In time order, as the live layer appends them.
    history = history.sort_values("changed_at", kind="stable").reset_index(drop=True)
    return comps, history


def _at(days: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """ISO times in the inspectors' working hours (9:00–17:00) on the given days."""
    secs = rng.integers(9 * 3600, 17 * 3600, days.size).astype("timedelta64[s]")
    return np.datetime_as_string(days.astype("datetime64[s]") + secs, unit="s").astype(object)


def _xy_json(x: np.ndarray, y: np.ndarray, grid: pd.Series) -> np.ndarray:
    xs = pd.Series(x).map("{:.2f}".format)
    ys = pd.Series(y).map("{:.2f}".format)
    return ('{"x": ' + xs + ', "y": ' + ys + ', "grid_code": "' + grid.to_numpy() + '"}').to_numpy(
        dtype=object
    )
