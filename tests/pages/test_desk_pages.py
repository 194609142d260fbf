"""The case-desk pages through Streamlit's AppTest, in the app frame, on the tiny district.

Cases are made through the layer (``layers.intake.submit_report``, ``layers.cases.act``) on a
copy of the tiny store; the clock is pinned (``ONEGRID_NOW``) to the store's last day.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

import settings
from layers import analysis, cases, intake
from layers.district import open_district
from layers.store import open_store
from spatial.crs import wgs84_to_gcj02

ROOT = Path(__file__).resolve().parents[2]
APP = str(ROOT / "app.py")
NOW = "2026-04-10T10:00:00"  # the tiny store's own cases are out of every duplicate window
GRID = "320506001001001"  # x 557000–558000, y 3459000–3460000 (EPSG:4549)
HERE = (557_500.0, 3_459_500.0)
QUIET = "320506002002002"  # x 560000–561000, y 3458000–3459000: off the tiny store's hot spot
EVIL = "<script>alert(1)</script><b>x</b>"
PHONE = "13912345678"
DISTRICT = cases.Viewer(role="dispatcher", actor="区联动中心调度员", centre="district")
BODY = cases.Viewer(role="department", actor="城管局处置员", dept_code="D01")


@pytest.fixture
def desk_store(tiny_store_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the tiny district the test may write to; the app points at it."""
    path = tmp_path / "desk.sqlite"
    shutil.copy(tiny_store_path, path)
    monkeypatch.setenv("ONEGRID_STORE", str(path))
    monkeypatch.setenv("ONEGRID_NOW", NOW)
    monkeypatch.setattr(settings, "TILES", "none")
    return path


def report(
    path: Path,
    *,
    description: str = "井盖破损",
    at: tuple[float, float] = HERE,
    event: str = "E0101",
    now: str = NOW,
) -> str:
    rw = open_district(path, readonly=False, components=False)
    try:
        draft = intake.ReportDraft(
            event=event,
            channel="C01",
            description=description,
            x=at[0],
            y=at[1],
            crs="EPSG:4549",
            phone=PHONE,
        )
        outcome, case_id = intake.submit_report(rw, draft, actor="测试受理员", now=now)
    finally:
        rw.store.close()
    assert outcome == "created"
    return case_id


def act(path: Path, case_id: str, action: str, viewer: cases.Viewer, *, now: str = NOW, **kw: Any) -> dict:
    with open_store(path) as store:
        version = int(cases.get_case(store, case_id)["version"])
        return cases.act(store, case_id, action=action, version=version, viewer=viewer, now=now, **kw)


def case(path: Path, case_id: str) -> dict:
    with open_store(path, readonly=True) as store:
        return cases.get_case(store, case_id)


def history(path: Path, case_id: str) -> pd.DataFrame:
    with open_store(path, readonly=True) as store:
        return cases.case_history(store, case_id)


def app(**state: object) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=90)
    for k, v in state.items():
        at.session_state[k] = v
    return at.run()


def page(role: str, name: str, **state: object) -> AppTest:
    at = app(role=role, **state)
    at.switch_page(str(ROOT / "pages" / f"{name}.py")).run()
    ok(at)
    return at


def ok(at: AppTest) -> None:
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]


def button(at: AppTest, label: str):  # type: ignore[no-untyped-def]
    found = [b for b in at.button if b.label == label]
    assert found, [b.label for b in at.button]
    return found[0]


def open_case(at: AppTest, key: str, case_id: str) -> AppTest:
    at.text_input(key=f"{key}.typed").set_value(case_id).run()
    ok(at)
    return at


def shown_text(at: AppTest) -> str:
    """Everything the page shows as text: tables, texts, messages, markdown, metrics."""
    parts = [df.value.to_string() for df in at.dataframe]
    for kind in ("text", "markdown", "caption", "success", "info", "warning", "error", "title", "subheader"):
        parts += [str(e.value) for e in at.get(kind)]
    parts += [f"{m.label} {m.value}" for m in at.metric]
    return "\n".join(parts)


def lonlat(x: float, y: float) -> tuple[float, float]:
    lon, lat = analysis.to_lonlat([x], [y])
    return float(lon[0]), float(lat[0])


# -- the frame ----------------------------------------------------------------------------------

LANDING = {
    "operator": "受理",
    "dispatcher": "指挥调度",
    "supervisor": "督办",
    "department": "部门处置",
    "inspector": "巡查",
    "gridhead": "网格通",
}


@pytest.mark.parametrize("role", sorted(LANDING))
def test_each_desk_role_lands_on_its_own_desk(desk_store: Path, role: str) -> None:
    at = app(role=role)
    ok(at)
    assert at.title[0].value == LANDING[role]


ENGLISH = {
    "operator": "Intake",
    "dispatcher": "Dispatch",
    "supervisor": "Supervision",
    "department": "Department desk",
    "inspector": "Inspector",
    "gridhead": "Grid head",
}


@pytest.mark.parametrize("role", sorted(ENGLISH))
def test_desk_pages_switch_to_english(desk_store: Path, role: str) -> None:
    report(desk_store, at=(560_500.0, 3_458_500.0))
    at = app(role=role, lang="en", **{"desk.grids": [QUIET], "desk.grid": QUIET})
    ok(at)
    assert at.title[0].value == ENGLISH[role]
    shown = shown_text(at) + " ".join(w.label for w in (*at.selectbox, *at.multiselect, *at.text_input))
    assert not re.search(r"\b(desk|wf|intake|inspector|gridhead)\.[a-z_]+", shown), shown  # no key shows


# -- intake -------------------------------------------------------------------------------------


def fill_intake(
    at: AppTest, *, lon: float, lat: float, crs: str = "EPSG:4326", description: str = EVIL
) -> AppTest:
    at.selectbox(key="intake.event.0").set_value("E0101")
    at.selectbox(key="intake.channel.0").set_value("C02")
    at.text_area(key="intake.description.0").set_value(description)
    at.text_input(key="intake.phone.0").set_value(PHONE)
    at.radio(key="intake.crs.0").set_value(crs)
    at.number_input(key="intake.x.0").set_value(lon)
    at.number_input(key="intake.y.0").set_value(lat)
    return at.run()


def test_intake_shows_grid_and_body_before_saving_then_masks_the_phone(desk_store: Path) -> None:
    at = app(role="operator")
    assert any("给出位置后" in i.value for i in at.info)
    fill_intake(at, lon=lonlat(*HERE)[0], lat=lonlat(*HERE)[1])
    ok(at)
    before = shown_text(at)
    assert GRID in before and "城管" in before  # the grid and the routed body, not saved yet
    with open_store(desk_store, readonly=True) as store:
        n0 = store.conn.execute("SELECT COUNT(*) FROM cases").fetchone()[0]
    button(at, "保存").click().run()
    ok(at)
    assert any("已受理" in s.value for s in at.success)
    case_id = at.session_state["intake.saved"]
    saved = case(desk_store, case_id)
    assert saved["status"] == "reported" and saved["grid_code"] == GRID
    assert saved["description"] == EVIL  # stored as given
    with open_store(desk_store, readonly=True) as store:
        assert store.conn.execute("SELECT COUNT(*) FROM cases").fetchone()[0] == n0 + 1
        raw = store.conn.execute("SELECT reporter_phone FROM cases WHERE id = ?", (case_id,)).fetchone()[0]
    assert raw == PHONE
    after = shown_text(at)
    assert PHONE not in after and saved["reporter_phone"] in after  # masked in the view
    assert EVIL in [t.value for t in at.text]  # the description as text
    assert at.selectbox(key="intake.event.1").value is None  # an empty form for the next call


def test_intake_takes_gcj02_coordinates(desk_store: Path) -> None:
    lon, lat = lonlat(*HERE)
    g_lon, g_lat = wgs84_to_gcj02([lon], [lat])
    at = fill_intake(app(role="operator"), lon=float(g_lon[0]), lat=float(g_lat[0]), crs="GCJ02")
    ok(at)
    where = "\n".join(t.value for t in at.text)
    assert GRID in where
    assert f"{lon:.6f}" in where  # shown back in WGS84, where the GCJ-02 point really is


def test_intake_outside_the_district_is_a_message(desk_store: Path) -> None:
    at = fill_intake(app(role="operator"), lon=121.9, lat=31.0)
    assert not at.exception
    assert at.error and "无法完成" in at.error[0].value
    assert not [b for b in at.button if b.label == "保存"]


def test_intake_links_a_duplicate_to_the_candidate(desk_store: Path) -> None:
    first = report(desk_store)
    at = fill_intake(
        app(role="operator"), lon=lonlat(*HERE)[0], lat=lonlat(*HERE)[1], description="又见井盖破损"
    )
    ok(at)
    assert any("可能重复" in w.value for w in at.warning)
    at.radio(key="intake.link.0").set_value(first).run()
    button(at, "保存").click().run()
    ok(at)
    assert any(first in s.value and "重复上报" in s.value for s in at.success)
    with open_store(desk_store, readonly=True) as store:
        dups = cases.case_duplicates(store, first)
    assert dups["description"].tolist() == ["又见井盖破损"]


# -- dispatch -----------------------------------------------------------------------------------


def test_dispatcher_sees_exactly_the_allowed_actions_and_moves_the_case(desk_store: Path) -> None:
    case_id = report(desk_store, description=EVIL)
    at = app(role="dispatcher")
    ok(at)
    assert at.dataframe and case_id in at.dataframe[0].value.to_string()
    open_case(at, "dispatch.case", case_id)
    assert at.radio(key=f"desk.action.{case_id}").options == ["核实立案", "不予立案"]
    assert EVIL in [t.value for t in at.text]  # user text as text
    assert not any("<script>" in m.value for m in at.markdown)
    at.text_area(key=f"desk.note.{case_id}.register").set_value("现场属实")
    button(at, "确认：核实立案").click().run()
    ok(at)
    assert case(desk_store, case_id)["status"] == "registered"
    assert at.radio(key=f"desk.action.{case_id}").options == ["派遣"]
    button(at, "确认：派遣").click().run()
    ok(at)
    assert any("派遣完成" in s.value for s in at.success)
    assert case(desk_store, case_id)["status"] == "dispatched"
    hist = history(desk_store, case_id)
    assert hist["step"].tolist() == ["report", "register", "dispatch"]
    assert hist["actor"].iloc[-1] == "区联动中心调度员" and hist["note"].iloc[1] == "现场属实"


def test_a_stale_view_is_refused_with_the_case_as_it_is(desk_store: Path) -> None:
    case_id = report(desk_store)
    act(desk_store, case_id, "register", DISTRICT)
    at = open_case(app(role="dispatcher"), "dispatch.case", case_id)
    act(desk_store, case_id, "dispatch", DISTRICT)  # someone else, meanwhile
    act(desk_store, case_id, "handle", BODY, note="已处理")
    at.run()
    assert any("已被他人更新" in w.value for w in at.warning)
    button(at, "确认：核查不通过（返工）").click().run()
    assert not at.exception
    assert at.error and "无法完成" in at.error[0].value
    assert any("版本" in i.value for i in at.info)
    assert case(desk_store, case_id)["status"] == "handled"
    assert history(desk_store, case_id)["step"].tolist() == ["report", "register", "dispatch", "handle"]
    button(at, "载入最新版本").click().run()
    assert not at.warning


def test_batch_dispatch_of_registered_cases(desk_store: Path) -> None:
    ids = [report(desk_store, at=(557_100.0 + 300 * i, 3_459_200.0 + 300 * i)) for i in range(3)]
    for case_id in ids:
        act(desk_store, case_id, "register", DISTRICT)
    at = app(role="dispatcher")
    at.multiselect(key="desk.batch_ids").set_value(ids[:2]).run()
    button(at, "派遣所选 2 件").click().run()
    ok(at)
    assert any("已派遣 2 件" in s.value for s in at.success)
    assert [case(desk_store, c)["status"] for c in ids] == ["dispatched", "dispatched", "registered"]


# -- department ---------------------------------------------------------------------------------


def test_department_handles_or_sends_back_with_a_reason(desk_store: Path) -> None:
    case_id = report(desk_store)
    act(desk_store, case_id, "register", DISTRICT)
    act(desk_store, case_id, "dispatch", DISTRICT)
    other = page("department", "department", **{"desk.dept": "D02"})
    open_case(other, "department.case", case_id)
    assert not other.radio and any("没有可办理的操作" in c.value for c in other.caption)

    at = app(role="department", **{"desk.dept": "D01"})
    ok(at)
    assert case_id in at.dataframe[0].value.to_string()
    open_case(at, "department.case", case_id)
    assert at.radio(key=f"desk.action.{case_id}").options == ["退回", "处置反馈"]
    at.radio(key=f"desk.action.{case_id}").set_value("send_back").run()
    button(at, "确认：退回").click().run()  # no reason given
    assert not at.exception and at.error
    assert case(desk_store, case_id)["status"] == "dispatched"
    at.radio(key=f"desk.action.{case_id}").set_value("handle").run()
    at.text_area(key=f"desk.note.{case_id}.handle").set_value("已更换井盖 <i>完毕</i>")
    button(at, "确认：处置反馈").click().run()
    ok(at)
    assert case(desk_store, case_id)["status"] == "handled"
    hist = history(desk_store, case_id)
    assert (hist["step"].iloc[-1], hist["note"].iloc[-1]) == ("handle", "已更换井盖 <i>完毕</i>")
    assert hist["actor"].iloc[-1] == "城管局处置员"


# -- supervision --------------------------------------------------------------------------------


def test_supervision_lists_overdue_cases_and_issues_cards(desk_store: Path) -> None:
    late = report(desk_store, now="2026-04-02T09:00:00")
    act(desk_store, late, "register", DISTRICT, now="2026-04-02T09:10:00")
    act(desk_store, late, "dispatch", DISTRICT, now="2026-04-02T09:20:00")  # two working days
    at = app(role="supervisor")
    ok(at)
    tables = [df.value for df in at.dataframe]
    assert any(late in f.to_string() for f in tables)
    button(at, "发出黄牌/红牌").click().run()
    ok(at)
    assert any("红牌" in s.value for s in at.success)
    assert case(desk_store, late)["card"] == "red"


# -- inspector and grid head --------------------------------------------------------------------


def test_inspector_checks_the_nearest_task_and_closes_it(desk_store: Path) -> None:
    near = report(desk_store, at=(560_520.0, 3_458_520.0))
    far = report(desk_store, at=(560_900.0, 3_458_900.0))
    for case_id in (near, far):
        act(desk_store, case_id, "register", DISTRICT)
        act(desk_store, case_id, "dispatch", DISTRICT)
        act(desk_store, case_id, "handle", BODY, note="已处理")
    fresh = report(desk_store, at=(560_300.0, 3_458_300.0))
    lon, lat = lonlat(560_500.0, 3_458_500.0)
    at = app(role="inspector", **{"desk.grids": [QUIET], "inspector.lon": lon, "inspector.lat": lat})
    ok(at)
    table = at.dataframe[0].value
    ids = table["案件编号"].tolist()
    assert ids.index(near) < ids.index(far) and fresh in ids
    assert table["距离(米)"].is_monotonic_increasing  # nearest first
    tasks = dict(zip(table["案件编号"], table["任务"], strict=True))
    assert (tasks[near], tasks[fresh]) == ("核查", "核实")
    open_case(at, "inspector.case", near)
    assert at.radio(key=f"desk.action.{near}").options == ["核查不通过（返工）", "核查通过，结案"]
    at.radio(key=f"desk.action.{near}").set_value("close").run()
    at.text_area(key=f"desk.note.{near}.close").set_value("复核通过")
    button(at, "确认：核查通过，结案").click().run()
    ok(at)
    assert case(desk_store, near)["status"] == "closed"
    assert history(desk_store, near)["actor"].iloc[-1] == "巡查员"


def test_inspector_reports_from_where_they_stand(desk_store: Path) -> None:
    lon, lat = lonlat(*HERE)
    at = app(role="inspector", **{"desk.grids": [GRID], "inspector.lon": lon, "inspector.lat": lat})
    at.selectbox(key="inspector.event.0").set_value("E0101")
    at.text_area(key="inspector.description.0").set_value("路面坑洼")
    at.run()
    ok(at)
    assert any(t.value.startswith(GRID) for t in at.text)  # its grid and body before saving
    button(at, "保存").click().run()
    ok(at)
    assert any("新案件" in s.value for s in at.success)
    with open_store(desk_store, readonly=True) as store:
        row = store.conn.execute(
            "SELECT grid_code, status FROM cases WHERE description = '路面坑洼'"
        ).fetchone()
    assert row == (GRID, "reported")


def test_grid_head_sees_the_grids_cases_and_a_masked_roster(desk_store: Path) -> None:
    case_id = report(desk_store)
    at = app(role="gridhead", **{"desk.grid": GRID})
    ok(at)
    assert case_id in at.dataframe[0].value.to_string()
    roster = at.dataframe[1].value.to_string()
    assert "网格长" in roster and "13912345678" not in roster and "张三丰" not in roster


# -- the case detail ----------------------------------------------------------------------------


def test_the_timeline_shows_each_step_done_after_the_whole_loop(desk_store: Path) -> None:
    case_id = report(desk_store)
    act(desk_store, case_id, "register", DISTRICT)
    act(desk_store, case_id, "dispatch", DISTRICT)
    act(desk_store, case_id, "handle", BODY, note="已处理")
    act(desk_store, case_id, "close", DISTRICT)
    act(desk_store, case_id, "evaluate", DISTRICT, callback="satisfied")
    at = open_case(app(role="dispatcher"), "dispatch.case", case_id)
    steps = [m.value for m in at.markdown if m.value.startswith(":material/")]
    assert steps == [
        f":material/check_circle: **{name}**"
        for name in ("采集上报", "核实立案", "指挥派遣", "处理反馈", "核查结案", "考核评价")
    ]
    assert sum(c.value.startswith("已完成") for c in at.caption) == 6
    assert not at.radio  # nothing left to do


def test_every_word_of_the_desk_pages_is_in_both_languages() -> None:
    import ast

    from layers import workflow
    from pages._i18n import STRINGS

    files = ["_desk", "intake", "dispatcher", "department", "supervision", "inspector", "gridhead"]
    keys = set()
    for name in files:
        tree = ast.parse((ROOT / "pages" / f"{name}.py").read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "t" and node.args:
                arg = node.args[0]
                if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                    keys.add(arg.value)
    # Keys built from codes: every code of the workflow and of the desk's own lists.
    for prefix, codes in (
        ("wf.state", workflow.STATES),
        ("wf.action", (*workflow.ACTIONS, *workflow.EVENTS)),
        ("wf.step", workflow.SIX_STEPS),
        ("wf.reject", workflow.REJECT_REASONS),
        ("wf.callback", workflow.CALLBACKS),
        (
            "desk.note",
            {a for s in workflow.STATES for r in workflow.ROLES for a in workflow.allowed(s, role=r)},
        ),
        ("desk.actor", workflow.ROLES),
        ("role", workflow.ROLES),
        ("desk.card", ("", "yellow", "red")),
        ("desk.task", ("verify", "check")),
        ("intake.done", ("created", "duplicate")),
    ):
        keys |= {f"{prefix}.{c}" for c in codes}
    missing = sorted(k for k in keys if k not in STRINGS)
    assert not missing, missing
    assert all(len(STRINGS[k]) == 2 for k in keys)


def test_a_case_sent_back_to_the_supervisor_is_decided_on_the_dispatch_page(desk_store: Path) -> None:
    case_id = report(desk_store, at=(560_500.0, 3_458_500.0))
    act(desk_store, case_id, "register", DISTRICT)
    act(desk_store, case_id, "dispatch", DISTRICT)
    act(desk_store, case_id, "send_back", BODY, note="不属本单位")  # no other body on the list
    assert case(desk_store, case_id)["status"] == "supervisor"
    at = page("supervisor", "dispatcher")
    open_case(at, "dispatch.case", case_id)
    assert at.radio(key=f"desk.action.{case_id}").options == ["裁定派遣"]
    button(at, "确认：裁定派遣").click().run()
    ok(at)
    assert case(desk_store, case_id)["status"] == "dispatched"


def test_the_queue_filters_by_state_body_town_and_overdue(desk_store: Path) -> None:
    fresh = report(desk_store, at=(560_500.0, 3_458_500.0))
    late = report(desk_store, at=(560_800.0, 3_458_800.0), now="2026-04-02T09:00:00")
    act(desk_store, late, "register", DISTRICT, now="2026-04-02T09:10:00")
    act(desk_store, late, "dispatch", DISTRICT, now="2026-04-02T09:20:00")
    at = app(role="dispatcher")

    def ids() -> list[str]:
        ok(at)
        return at.dataframe[0].value["案件编号"].tolist() if at.dataframe else []

    assert fresh in ids() and late in ids()
    at.toggle(key="dispatch.overdue").set_value(True).run()
    assert late in ids() and fresh not in ids()
    at.toggle(key="dispatch.overdue").set_value(False).run()
    at.multiselect(key="dispatch.status").set_value(["reported"]).run()
    assert fresh in ids() and late not in ids()
    at.multiselect(key="dispatch.status").set_value(["reported", "dispatched"]).run()
    at.selectbox(key="dispatch.town").set_value("320506001000000").run()  # the other town
    assert fresh not in ids() and late not in ids()
    at.selectbox(key="dispatch.town").set_value("320506002000000").run()
    at.selectbox(key="dispatch.dept").set_value("D02").run()  # not the routed body
    assert late not in ids() and fresh not in ids()
    at.selectbox(key="dispatch.dept").set_value("D01").run()
    assert late in ids() and fresh in ids()  # a report carries its routed body from intake


def test_a_report_is_not_registered_with_a_reason(desk_store: Path) -> None:
    case_id = report(desk_store)
    at = open_case(app(role="dispatcher"), "dispatch.case", case_id)
    at.radio(key=f"desk.action.{case_id}").set_value("reject").run()
    at.selectbox(key=f"desk.reason.{case_id}").set_value("outside").run()
    button(at, "确认：不予立案").click().run()
    ok(at)
    assert case(desk_store, case_id)["status"] == "rejected"
    assert at.caption and any("没有可办理的操作" in c.value for c in at.caption)
