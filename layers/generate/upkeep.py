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
    codes = pd.Index(components["code"].astype(object))
    n = len(codes)
    year_start = np.datetime64(end - dt.timedelta(days=364), "D")
    cutoff = (np.datetime64(end, "D") + 1).astype("datetime64[s]")
    states = np.asarray(STATES, dtype=object)
    intact = 0

    # Case changes: the state on registration, intact again on closing. Rows are kept as numbers
    # (position, time, action, state, actor, reason) and turned into text once at the end.
    ev = events[
        events["component_code"].notna() & (events["status"] != "rejected") & events["registered_at"].notna()
    ]
    to_state = pd.Index(states).get_indexer(
        ev["event_type_code"].map(type_states(event_types)).astype(object)
    )
    ev_pos = codes.get_indexer(ev["component_code"].astype(object))
    ok = (to_state >= 0) & (ev_pos >= 0)
    ev_pos, to_state = ev_pos[ok], to_state[ok]
    case_id = ev["id"].to_numpy(dtype=object)[ok]
    reg = _seconds(ev["registered_at"].to_numpy(dtype=object)[ok])
    closed_txt = ev["closed_at"].to_numpy(dtype=object)[ok]
    closed = pd.notna(closed_txt)
    close_at = _seconds(closed_txt[closed])
    k = ev_pos.size
    touched = np.zeros(n, dtype=bool)
    touched[ev_pos] = True
    # A component with cases starts the year intact; its history is the cases'.
    state0 = pd.Index(states).get_indexer(components["state"].astype(object))
    state0[touched] = intact

    # Damage nobody reported: the inspector records it on a day of the year.
    found = np.flatnonzero(~touched & (state0 != intact))
    days = int((np.datetime64(end, "D") - year_start).astype(np.int64)) + 1
    found_at = _office_time(year_start + rng.integers(0, days, found.size).astype("timedelta64[D]"), rng)
    found_state = state0[found]
    state0[found] = intact

    # Position corrections of a few metres that keep the component in its grid.
    pick = rng.choice(n, int(n * MOVED_SHARE), replace=False)
    x0 = components["x"].to_numpy(float)[pick]
    y0 = components["y"].to_numpy(float)[pick]
    x1 = np.round(x0 + rng.normal(0.0, 1.5, pick.size), 2)
    y1 = np.round(y0 + rng.normal(0.0, 1.5, pick.size), 2)
    grid = components["grid_code"].to_numpy(dtype=object)[pick]
    same = np.asarray(locate(x1, y1), dtype=object) == grid
    pick, x0, y0, x1, y1, grid = pick[same], x0[same], y0[same], x1[same], y1[same], grid[same]
    move_at = _office_time(year_start + rng.integers(0, days, pick.size).astype("timedelta64[D]"), rng)

    # One table of every change: kind 0 case registered, 1 case closed, 2 survey state, 3 move;
    # ``ref`` indexes the case, the survey find or the move.
    kind = np.concatenate(
        [np.zeros(k), np.ones(int(closed.sum())), np.full(found.size, 2), np.full(pick.size, 3)]
    )
    kind = kind.astype(np.int8)
    pos = np.concatenate([ev_pos, ev_pos[closed], found, pick])
    at = np.concatenate([reg, close_at, found_at, move_at])
    new = np.concatenate([to_state, np.full(int(closed.sum()), intact), found_state, np.full(pick.size, -1)])
    ref = np.concatenate([np.arange(k), np.flatnonzero(closed), np.arange(found.size), np.arange(pick.size)])
    keep = at < cutoff
    pos, at, new, kind, ref = pos[keep], at[keep], new[keep], kind[keep], ref[keep]
    order = np.lexsort((kind, at, pos))
    pos, at, new, kind, ref = pos[order], at[order], new[order], kind[order], ref[order]

    # State changes chain per component: before is the state after the previous change; a second
    # report of damage already recorded (or a close of an intact one) changes nothing and is dropped.
    is_state = kind != 3
    sp = np.flatnonzero(is_state)
    first = np.r_[True, pos[sp][1:] != pos[sp][:-1]]
    before = np.full(pos.size, -1)
    before[sp] = np.where(first, state0[pos[sp]], np.r_[-1, new[sp][:-1]])
    keep = ~is_state | (before != new)
    pos, at, new, kind, ref, before = pos[keep], at[keep], new[keep], kind[keep], ref[keep], before[keep]
    is_state = kind != 3
    # Versions count the changes of each component from 2 (1 is the census).
    start = np.r_[True, pos[1:] != pos[:-1]]
    run_start = np.maximum.accumulate(np.where(start, np.arange(pos.size), 0))
    version = np.arange(pos.size) - run_start + 2

    # The components as they are at the end: last state, last change date, version.
    last = np.r_[pos[1:] != pos[:-1], True] if pos.size else np.zeros(0, dtype=bool)
    state = state0.copy()
    st_idx = np.flatnonzero(is_state)
    last_state = st_idx[np.r_[pos[st_idx][1:] != pos[st_idx][:-1], True]] if st_idx.size else st_idx
    state[pos[last_state]] = new[last_state]
    changed = components["changed_on"].to_numpy(dtype=object).copy()
    last_day = np.datetime_as_string(at[last].astype("datetime64[D]")).astype(object)
    lp = pos[last]
    changed[lp] = np.where(last_day > changed[lp], last_day, changed[lp])
    out_version = np.ones(n, dtype=np.int64)
    out_version[lp] = version[last]
    x = components["x"].to_numpy(float).copy()
    y = components["y"].to_numpy(float).copy()
    x[pick], y[pick] = x1, y1
    comps = components.assign(x=x, y=y, state=states[state], changed_on=changed, version=out_version)

    # The history rows as text, built column-wise.
    m = pos.size
    before_txt = np.empty(m, dtype=object)
    after_txt = np.empty(m, dtype=object)
    state_json = np.array([f'{{"state": "{s}"}}' for s in STATES], dtype=object)
    before_txt[is_state] = state_json[before[is_state]]
    after_txt[is_state] = state_json[new[is_state]]
    mv = np.flatnonzero(~is_state)
    if mv.size:
        r = ref[mv]
        before_txt[mv] = _xy_json(x0[r], y0[r], grid[r])
        after_txt[mv] = _xy_json(x1[r], y1[r], grid[r])
    actor = np.array(["区联动中心受理员", "区联动中心核查员", "部件普查员", "部件普查员"], dtype=object)[kind]
    reason = np.empty(m, dtype=object)
    for kd, text in ((0, "立案"), (1, "结案，部件已修复")):
        sel = kind == kd
        reason[sel] = "案件" + pd.Series(case_id[ref[sel]], dtype=object) + text
    reason[kind == 2] = "巡查发现，部件状态更新"
    reason[kind == 3] = "年度部件普查：坐标修正"
    history = pd.DataFrame(
        {
            "component_code": codes.to_numpy(dtype=object)[pos],
            "version": version.astype(np.int64),
            "changed_at": np.datetime_as_string(at, unit="s").astype(object),
            "actor": actor,
            "action": np.where(is_state, "state", "move").astype(object),
            "before": before_txt,
            "after": after_txt,
            "reason": reason,
        },
        columns=HISTORY_COLUMNS,
    )
    # In time order, as the live layer appends them.
    history = history.iloc[np.argsort(at, kind="stable")].reset_index(drop=True)
    return comps, history


def _seconds(text: np.ndarray) -> np.ndarray:
    """ISO local times as datetime64[s]."""
    return np.asarray(text.astype(str), dtype="datetime64[s]") if len(text) else np.zeros(0, "datetime64[s]")


def _office_time(days: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Moments in the inspectors' working hours (9:00–17:00) on the given days."""
    secs = rng.integers(9 * 3600, 17 * 3600, days.size).astype("timedelta64[s]")
    return days.astype("datetime64[s]") + secs


def _xy_json(x: np.ndarray, y: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """The survey layer's before/after of a move: ``{"x": …, "y": …, "grid_code": "…"}``."""
    xs = pd.Series(x, dtype=float).map("{:.2f}".format)
    ys = pd.Series(y, dtype=float).map("{:.2f}".format)
    g = pd.Series(grid, dtype=object).astype(str)
    return ('{"x": ' + xs + ', "y": ' + ys + ', "grid_code": "' + g + '"}').to_numpy(dtype=object)
