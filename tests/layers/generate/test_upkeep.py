"""Component upkeep: states follow the cases about them, the survey corrects positions, every change
is a history row whose versions chain."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pandas as pd
import pytest

from layers.generate import catalog
from layers.generate.components import COMPONENT_CLASSES
from layers.generate.upkeep import HISTORY_COLUMNS, MOVED_SHARE, type_states, upkeep

END = dt.date(2026, 11, 20)
N = 2_000


def locate(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Two grids split at x = 500 (the left one lower-coded); nothing outside 0..1000."""
    x = np.asarray(x, dtype=float)
    out = np.where(x <= 500, "320506001001001", "320506001001002").astype(object)
    out[(x < 0) | (x > 1000)] = None
    return out


@pytest.fixture(scope="module")
def event_types() -> pd.DataFrame:
    departments = catalog.departments(town_codes={"320506001000000": "长桥街道"})
    return catalog.event_types(departments=departments, component_classes=COMPONENT_CLASSES)


@pytest.fixture(scope="module")
def components() -> pd.DataFrame:
    rng = np.random.default_rng(3)
    x = rng.uniform(0, 1000, N)
    return pd.DataFrame(
        {
            "code": [f"3205060305{i:06d}" for i in range(N)],
            "class_code": "0305",
            "x": x,
            "y": rng.uniform(0, 1000, N),
            "grid_code": locate(x, x),
            "state": np.where(np.arange(N) % 50 == 0, "破损", "完好"),
            "surveyed_on": "2021-05-01",
            "changed_on": "2021-05-01",
            "version": 1,
        }
    )


def _code(event_types: pd.DataFrame, name: str) -> str:
    return str(event_types.set_index("name").loc[name, "code"])


@pytest.fixture(scope="module")
def result(components, event_types):
    lost, full, broken = (_code(event_types, n) for n in ("垃圾箱缺失", "垃圾箱满溢", "垃圾箱破损"))
    events = pd.DataFrame(
        {
            "id": ["K1", "K2", "K3", "K4", "K5", "K6"],
            "component_code": [components["code"][i] for i in (1, 2, 3, 3, 4, 5)],
            "event_type_code": [lost, lost, full, broken, broken, broken],
            "status": ["dispatched", "evaluated", "evaluated", "evaluated", "rejected", "evaluated"],
            "registered_at": ["2026-11-19T10:00:00", "2026-06-01T09:00:00", "2026-05-01T09:00:00",
                              "2026-07-01T09:00:00", "2026-07-01T09:00:00", "2026-03-01T09:00:00"],
            "closed_at": [None, "2026-06-02T15:00:00", "2026-05-01T12:00:00", "2026-07-03T10:00:00", None,
                          "2026-03-02T10:00:00"],
        }
    )  # fmt: skip
    # Component 5 is reported broken twice while still broken: the second report changes nothing.
    again = events.iloc[[5]].assign(
        id="K7", registered_at="2026-03-01T15:00:00", closed_at="2026-03-02T11:00:00"
    )
    events = pd.concat([events, again], ignore_index=True)
    return upkeep(components, events, event_types=event_types, end=END, seed=1, locate=locate)


def test_kinds_map_to_states(event_types):
    states = type_states(event_types)
    names = event_types.set_index("code")["name"]
    assert states[_code(event_types, "垃圾箱缺失")] == "丢失"
    assert states[_code(event_types, "上水井盖丢失")] == "丢失"
    assert states[_code(event_types, "消防栓被占用")] == "占用"
    assert _code(event_types, "垃圾箱满溢") not in states.index  # overflowing is not a state
    assert set(states) <= {"破损", "丢失", "占用"} and names[states.index].notna().all()


def test_states_follow_the_cases(components, result):
    comps, history = result
    state = comps.set_index("code")["state"]
    code = components["code"]
    assert state[code[1]] == "丢失"  # reported missing, still open at the end
    assert state[code[2]] == "完好"  # missing, replaced and closed
    assert state[code[3]] == "完好"  # overflowing changes nothing; broken then repaired
    assert state[code[4]] == "完好"  # a rejected report changes nothing
    h1 = history[history["component_code"] == code[1]]
    assert h1["action"].tolist() == ["state"] and json.loads(h1["after"].iat[0]) == {"state": "丢失"}
    assert json.loads(h1["before"].iat[0]) == {"state": "完好"} and "K1" in h1["reason"].iat[0]
    h3 = history[(history["component_code"] == code[3]) & (history["action"] == "state")]
    assert [json.loads(a)["state"] for a in h3["after"]] == ["破损", "完好"]
    h5 = history[(history["component_code"] == code[5]) & (history["action"] == "state")]
    assert [json.loads(a)["state"] for a in h5["after"]] == ["破损", "完好"]


def test_versions_chain_and_history_is_in_range(components, result):
    comps, history = result
    assert list(history.columns) == HISTORY_COLUMNS
    assert history["changed_at"].between("2025-11-21", f"{END.isoformat()}T23:59:59").all()
    assert history["changed_at"].is_monotonic_increasing
    per = history.sort_values(["component_code", "changed_at"]).groupby("component_code")["version"]
    assert per.apply(lambda v: v.tolist() == list(range(2, len(v) + 2))).all()
    version = comps.set_index("code")["version"]
    counts = history.groupby("component_code").size()
    assert (version[counts.index] == counts + 1).all()
    assert (version.drop(counts.index) == 1).all()
    # Each state change starts where the previous one ended.
    st = history[history["action"] == "state"].sort_values(["component_code", "version"])
    before = st["before"].map(lambda j: json.loads(j)["state"])
    after = st["after"].map(lambda j: json.loads(j)["state"])
    same = st["component_code"].eq(st["component_code"].shift())
    assert (before[same].to_numpy() == after.shift()[same].to_numpy()).all()
    assert (before != after).all()
    changed = comps.set_index("code")["changed_on"]
    last = history.groupby("component_code")["changed_at"].max().str.slice(0, 10)
    assert (changed[last.index] == last).all()


def test_survey_moves_stay_in_their_grid_and_records_unreported_damage(components, result):
    comps, history = result
    moves = history[history["action"] == "move"]
    assert MOVED_SHARE * N * 0.8 < len(moves) <= MOVED_SHARE * N
    after = pd.DataFrame([json.loads(a) for a in moves["after"]])
    before = pd.DataFrame([json.loads(b) for b in moves["before"]])
    assert np.hypot(after["x"] - before["x"], after["y"] - before["y"]).max() < 10
    assert (locate(after["x"].to_numpy(), after["y"].to_numpy()) == after["grid_code"].to_numpy()).all()
    moved = comps.set_index("code").loc[moves["component_code"]]
    assert np.allclose(moved["x"].to_numpy(), after["x"].to_numpy(), atol=0.01)
    # Census damage on components without cases is recorded by an inspector during the year.
    damaged = components.loc[components["state"] != "完好", "code"]
    found = history[history["reason"].str.contains("巡查发现")]
    assert set(found["component_code"]) == set(damaged) - set(components["code"][1:6])
    assert (comps.set_index("code").loc[found["component_code"], "state"] == "破损").all()
