"""The case-history simulator on a small hand-made district: 7 square grids with a hole."""

from __future__ import annotations

import datetime as dt
import itertools
import re
import sqlite3

import numpy as np
import pandas as pd
import pytest
import shapely

from layers import routing, workflow
from layers.generate import catalog
from layers.generate.cases import (
    CASE_COLUMNS,
    HISTORY_COLUMNS,
    STATUSES,
    iter_cases,
)
from layers.store import SCHEMA
from spatial.errors import CodeError

TOWNS = {"320506003000000": "长桥街道", "320506108000000": "木渎镇"}
END = dt.date(2025, 3, 31)  # a Monday
ISO = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d")

# Two towns of 2×2 one-kilometre grids side by side; the last grid is missing (a hole, as the
# lake is), so some jittered points fall off every grid and must be drawn again.
_CODES, _GEOMS = [], []
for _t, _town in enumerate(("003", "108")):
    for _i in range(2):
        for _j in range(2):
            if (_t, _i, _j) == (1, 1, 1):
                continue
            _CODES.append(f"320506{_town}001{_i * 2 + _j + 1:03d}")
            _x0, _y0 = _t * 2000 + _i * 1000, _j * 1000
            _GEOMS.append(shapely.box(_x0, _y0, _x0 + 1000, _y0 + 1000))


def locate(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Covers semantics, lowest code wins on a shared edge (the house tie rule)."""
    out = np.full(np.shape(x), None, dtype=object)
    for code, geom in sorted(zip(_CODES, _GEOMS, strict=True), reverse=True):
        out[shapely.intersects_xy(geom, x, y)] = code
    return out


@pytest.fixture(scope="module")
def world() -> dict[str, pd.DataFrame]:
    from layers.generate.components import COMPONENT_CLASSES

    rng = np.random.default_rng(5)
    n = 4000
    classes = COMPONENT_CLASSES["code"].to_numpy()[rng.choice(len(COMPONENT_CLASSES), n)]
    # Components inside the grids only (rejection sampling on the small box).
    x = rng.uniform(0, 4000, 3 * n)
    y = rng.uniform(0, 2000, 3 * n)
    inside = pd.notna(locate(x, y))
    x, y = x[inside][:n], y[inside][:n]
    grid = locate(x, y)
    town = np.array([g[:9] + "000000" for g in grid], dtype=object)
    departments = catalog.departments(town_codes=TOWNS)
    _sup, owner, maint = catalog.component_bodies(classes, town, seed=1)
    components = pd.DataFrame(
        {
            "code": [f"320506{c}{i:06d}" for i, c in enumerate(classes)],
            "class_code": classes,
            "x": x,
            "y": y,
            "grid_code": grid,
            "maintainer_code": maint,
            "owner_code": owner,
        }
    )
    return {
        # 长桥's grids are a community's, 木渎's (segment 108, a Taihu-shore town) a village's.
        "grids_l3": pd.DataFrame(
            {
                "code": _CODES,
                "town_code": [c[:9] + "000000" for c in _CODES],
                "name": [
                    ("金苑社区" if c[6:9] == "003" else "枫浜村") + f"第{int(c[-3:])}网格" for c in _CODES
                ],
            }
        ),
        "components": components,
        "event_types": catalog.event_types(departments=departments, component_classes=COMPONENT_CLASSES),
        "channels": catalog.channels(),
        "departments": departments,
    }


def _run(world, **kw) -> tuple[pd.DataFrame, pd.DataFrame]:
    args = {"days": 42, "end": END, "seed": 7, "per_day": 300.0, "chunk_days": 15} | kw
    chunks = list(iter_cases(**world, locate=locate, **args))
    cases = pd.concat([c for c, _ in chunks], ignore_index=True)
    history = pd.concat([h for _, h in chunks], ignore_index=True)
    return cases, history


@pytest.fixture(scope="module")
def simulated(world) -> tuple[pd.DataFrame, pd.DataFrame]:
    return _run(world)


def _schema_columns(table: str) -> list[str]:
    conn = sqlite3.connect(":memory:")
    conn.executescript(SCHEMA)
    return [row[1] for row in conn.execute(f"PRAGMA table_info({table})")]


def test_columns_match_the_store_and_rows_insert(simulated):
    cases, history = simulated
    # The desk's own columns (external id, duplicates, card, reporter's phone…) take their defaults.
    assert list(cases.columns) == CASE_COLUMNS
    assert set(CASE_COLUMNS) <= set(_schema_columns("cases"))
    assert (
        list(history.columns) == HISTORY_COLUMNS == [c for c in _schema_columns("case_history") if c != "id"]
    )
    conn = sqlite3.connect(":memory:")
    conn.executescript(SCHEMA)  # NOT NULL and CHECK constraints apply; foreign keys are off here
    cases.to_sql("cases", conn, if_exists="append", index=False)
    history.to_sql("case_history", conn, if_exists="append", index=False)
    assert conn.execute("SELECT count(*) FROM cases").fetchone()[0] == len(cases)
    assert conn.execute("SELECT count(*) FROM case_history WHERE id IS NULL").fetchone()[0] == 0


def test_deterministic_and_seed_dependent(world, simulated):
    again = _run(world)
    pd.testing.assert_frame_equal(simulated[0], again[0])
    pd.testing.assert_frame_equal(simulated[1], again[1])
    other = _run(world, seed=8)
    assert not other[0]["x"].equals(simulated[0]["x"])


def test_volume_and_weekly_rhythm(simulated):
    cases, _ = simulated
    day = pd.to_datetime(cases["reported_at"].str.slice(0, 10))
    daily = cases.groupby(day).size()
    assert len(daily) == 42
    assert daily.index.max().date() == END
    assert daily.mean() == pytest.approx(300, rel=0.06)
    weekday = daily[daily.index.day_of_week < 5].mean()
    weekend = daily[daily.index.day_of_week >= 5].mean()
    assert weekend < 0.9 * weekday


def test_ids_codes_and_texts(world, simulated):
    cases, history = simulated
    assert cases["id"].is_unique and cases["id"].str.fullmatch(r"WZ\d{13}").all()
    assert (cases["id"].str.slice(2, 10) == cases["reported_at"].str.slice(0, 10).str.replace("-", "")).all()
    assert cases["channel_code"].isin(world["channels"]["code"]).all()
    assert cases["event_type_code"].isin(world["event_types"]["code"]).all()
    assert set(cases["dept_code"].dropna()) <= set(world["departments"]["code"])
    assert set(history["dept_code"].dropna()) <= set(world["departments"]["code"])
    assert set(cases["status"]) <= set(STATUSES)
    assert (cases["grid_generation"] == 1).all()
    assert (cases["town_code"] == cases["grid_code"].str.slice(0, 9) + "000000").all()
    # Every description names the place and the event type; what people tell is "reported by residents".
    names = cases["event_type_code"].map(world["event_types"].set_index("code")["name"])
    assert cases["description"].str.match("长桥街道|木渎镇").all()
    assert all(n in d for n, d in zip(names, cases["description"], strict=True))
    assert cases["description"].str.contains("发现|居民反映").all()
    assert cases["channel_code"].value_counts(normalize=True)["C01"] == pytest.approx(0.30, abs=0.06)
    for col in ("reported_at", "registered_at", "dispatched_at", "deadline_at", "handled_at", "closed_at"):
        assert cases[col].dropna().str.fullmatch(ISO).all(), col
    assert history["at"].str.fullmatch(ISO).all()
    assert set(history["step"]) <= set(workflow.ACTIONS)


def test_points_lie_in_the_grid_they_carry(simulated):
    cases, _ = simulated
    assert (locate(cases["x"].to_numpy(), cases["y"].to_numpy()) == cases["grid_code"].to_numpy()).all()


def test_named_components_are_of_the_event_class(world, simulated):
    cases, _ = simulated
    et = world["event_types"].set_index("code")["component_class"]
    comp_class = world["components"].set_index("code")["class_code"]
    by_comp = cases[cases["component_code"].notna()]
    assert len(by_comp) > 0.1 * len(cases)
    assert (by_comp["event_type_code"].map(et) == by_comp["component_code"].map(comp_class)).all()


def test_routing_is_the_responsibility_list(world, simulated):
    cases, _ = simulated
    direct = cases[(cases["status"] != "rejected") & ~cases["route_reason"].str.contains("退回改派")]
    again = routing.route(
        x=direct["x"].to_numpy(),
        y=direct["y"].to_numpy(),
        grid_codes=direct["grid_code"].to_numpy(dtype=object),
        event_type_codes=direct["event_type_code"].to_numpy(dtype=object),
        component_codes=direct["component_code"].astype(object).to_numpy(),
        event_types=world["event_types"],
        components=world["components"],
        departments=world["departments"],
    )
    assert (again["dept_code"].to_numpy() == direct["dept_code"].to_numpy()).all()
    assert set(again["reason_code"]) >= {
        routing.COMPONENT_MAINTAINER,
        routing.EVENT_MANAGER,
        routing.TOWN_FALLBACK,
    }
    moved = cases[cases["route_reason"].str.contains("退回改派")]
    assert 0 < len(moved) < 0.06 * len(cases)


def test_step_times_are_ordered_and_before_the_cut_off(simulated):
    cases, history = simulated
    cutoff = (END + dt.timedelta(days=1)).isoformat() + "T00:00:00"
    chain = ["reported_at", "registered_at", "dispatched_at", "handled_at", "closed_at", "evaluated_at"]
    for a, b in itertools.pairwise(chain):
        both = cases[a].notna() & cases[b].notna()
        assert (cases.loc[both, a] <= cases.loc[both, b]).all(), (a, b)
    assert (history["at"] < cutoff).all()
    for col in chain:
        assert (cases[col].dropna() < cutoff).all()
    # Within a case the history is in time order, and there is one row per change (version).
    h = history.assign(prev=history.groupby("case_id")["at"].shift())
    assert (h["prev"].isna() | (h["prev"] <= h["at"])).all()
    steps = history.groupby("case_id").size()
    assert (cases.set_index("id")["version"] == steps.reindex(cases["id"]).to_numpy()).all()
    reworks = history[history["step"] == "rework"].groupby("case_id").size()
    assert (cases.set_index("id")["rework_count"] == reworks.reindex(cases["id"]).fillna(0).to_numpy()).all()


def test_statuses_agree_with_timestamps(simulated):
    cases, _ = simulated
    s = cases["status"]
    has = {c: cases[c].notna() for c in ("registered_at", "dispatched_at", "closed_at", "evaluated_at")}
    assert (has["evaluated_at"] == (s == "evaluated")).all()
    assert (has["closed_at"] == s.isin(["closed", "evaluated"])).all()
    assert (~has["registered_at"] == s.isin(["reported", "rejected"])).all()
    assert (has["dispatched_at"] == s.isin(["dispatched", "handled", "closed", "evaluated"])).all()
    assert cases.loc[s.isin(["dispatched", "handled"]), "deadline_at"].notna().all()
    # Old cases are finished (six weeks is long enough even for a poor body with a 10-working-day
    # limit); the last day's are mostly still open.
    last_day = cases["reported_at"].str.startswith(END.isoformat())
    assert (s[~last_day & (cases["reported_at"] < "2025-02-15")].isin(["evaluated", "rejected"])).all()
    assert s[last_day].isin(["reported", "registered", "dispatched", "handled", "rejected"]).mean() > 0.5
    assert (s == "rejected").mean() == pytest.approx(0.03, abs=0.015)


def test_deadlines_rework_and_call_backs(simulated):
    cases, _ = simulated
    closed = cases[cases["closed_at"].notna()]
    late = (closed["closed_at"] > closed["deadline_at"]).mean()
    assert 0.03 < late < 0.11
    assert 0.02 < (cases["rework_count"] > 0).mean() < 0.1
    sat = cases["satisfaction"]
    assert sat[cases["status"] != "evaluated"].isna().all()
    called = sat.dropna()
    assert 0.3 < len(called) / (cases["status"] == "evaluated").sum() < 0.55
    assert called.mean() == pytest.approx(0.9, abs=0.05)


def test_argument_errors(world):
    assert list(iter_cases(**world, locate=locate, days=0, end=END, seed=1)) == []
    with pytest.raises(ValueError, match="chunk_days"):
        next(iter_cases(**world, locate=locate, days=3, end=END, seed=1, chunk_days=0))
    bad = dict(world, components=world["components"].drop(columns="owner_code"))
    with pytest.raises(CodeError, match="owner_code"):
        next(iter_cases(**bad, locate=locate, days=3, end=END, seed=1))


def test_every_generated_history_runs_through_the_state_machine_to_its_status(simulated):
    cases, history = simulated
    ids, states, illegal = workflow.replay(history["case_id"].to_numpy(), history["step"].to_numpy())
    assert not illegal.any()
    status = cases.set_index("id")["status"]
    assert (status.reindex(ids).to_numpy() == states).all()


def test_channels_follow_what_is_reported(world, simulated):
    cases, _ = simulated
    et = world["event_types"].set_index("code")
    name = cases["event_type_code"].map(et["name"])
    major = cases["event_type_code"].map(et["major_code"])
    told = name.str.contains("咨询|纠纷|线索|工资|救助|政策") & major.str.startswith(("2", "0"))
    # A camera or a city inspector never "detects" a dispute, unpaid wages or a consultation.
    assert told.sum() > 100
    assert not cases.loc[told, "channel_code"].isin(["C10", "C02"]).any()
    # 110 takes emergencies far more often than street matters; the service window the reverse.
    emergency = major == "05"
    street = major.isin(["01", "02", "04"])
    share = cases.groupby([emergency, street])["channel_code"].value_counts(normalize=True)
    assert share[(True, False, "C03")] > 3 * share[(False, True, "C03")]
    assert cases.loc[street, "channel_code"].eq("C08").mean() < 0.01
    # What people tell is described as reported by residents; what is seen, where it was found.
    assert cases.loc[told, "description"].str.contains("居民反映").all()
    assert cases.loc[street, "description"].str.contains("发现").all()


def test_desks_file_on_working_days_and_call_backs_are_made_in_working_time(simulated):
    from layers.workcalendar import working_calendar

    cases, _ = simulated
    cal = working_calendar()
    day = cases["reported_at"].str.slice(0, 10).to_numpy(dtype="datetime64[D]")
    off = ~cal.is_working_day(day)
    desk = cases["channel_code"].isin(["C08", "C09", "C11"]).to_numpy()
    assert desk.sum() > 100 and off.sum() > 1000
    assert (desk & off).sum() / desk.sum() < 0.05  # a weekend report goes to the hotline instead
    called = cases[cases["satisfaction"].notna()]
    at = called["evaluated_at"]
    assert at.str.slice(11, 19).between("08:30:00", "17:30:00").all()
    assert cal.is_working_day(at.str.slice(0, 10).to_numpy(dtype="datetime64[D]")).all()


def test_towns_lead_local_matters_and_bodies_perform_differently(world, simulated):
    cases, history = simulated
    depts = world["departments"].set_index("code")
    first = history[history["step"] == "dispatch"]
    to_town = first["dept_code"].map(depts["town_code"]).notna()
    assert 0.25 < to_town.mean() < 0.7  # 以块为主: a large part goes to the towns first
    # Where a town body is dispatched to, the town's sub-centre dispatches it.
    town_short = first["dept_code"].map(depts["short_name"])
    assert (first.loc[to_town, "actor"] == town_short[to_town] + "分中心派遣员").all()
    assert (first.loc[~to_town, "actor"] == "区联动中心派遣员").all()
    dispatched = cases[cases["dispatched_at"].notna()]
    at_town = dispatched["dept_code"].map(depts["town_code"])
    assert (dispatched.loc[at_town.notna(), "centre_code"] == at_town.dropna()).all()
    # Each body keeps its deadlines with its own reliability: a ranking separates them.
    closed = cases[cases["closed_at"].notna()]
    on_time = (
        (closed["closed_at"] <= closed["deadline_at"]).groupby(closed["dept_code"]).agg(["mean", "size"])
    )
    on_time = on_time[on_time["size"] >= 300]["mean"]
    assert len(on_time) >= 4 and on_time.max() - on_time.min() > 0.03


def test_matters_happen_where_their_kind_of_place_is(world, simulated):
    cases, _ = simulated
    name = cases["event_type_code"].map(world["event_types"].set_index("code")["name"])
    village = cases["grid_code"].str.slice(6, 9) == "108"
    rural = name.str.contains("耕地|宅基地|秸秆|鱼塘|渔船|农村")
    lake = name.str.contains("太湖")
    urban = name.str.contains("地铁|商业综合体|高层建筑|共享单车")
    assert rural.sum() > 30 and lake.sum() > 10 and urban.sum() > 10
    # A few metres of jitter may cross a border; nearly all stay in their kind of place.
    assert village[rural].mean() > 0.95 and village[lake].mean() > 0.95
    assert (~village[urban]).mean() > 0.95
    # Descriptions name the place as it is: no metro exit in a village, no village road in town.
    assert not cases.loc[village, "description"].str.contains("地铁站出口").any()
    assert not cases.loc[~village, "description"].str.contains("村道边").any()
    assert cases["description"].str.contains("金苑社区|枫浜村").all()
    # A type whose name says where (桥下涵洞暴露垃圾, 校园周边流动摊贩) gets no second place.
    named = name.str.contains("周边|两侧|桥下") & cases["description"].str.contains("发现")
    assert named.sum() > 20
    said = [
        re.search(f"(社区|村)(网格巡查|网格排查)?发现{re.escape(n)}", d) is not None
        for n, d in zip(name[named], cases.loc[named, "description"], strict=True)
    ]
    assert all(said)
