"""The case desk on a generated district: the loop, rework, send-backs, refusals, queues and cards."""

from __future__ import annotations

from pathlib import Path

import pytest

from layers import cases, workflow
from layers.cases import Viewer
from layers.district import District
from layers.errors import ActionNotPermittedError, IllegalTransitionError, StaleEditError
from layers.intake import ReportDraft, submit_report
from tests.helpers import connect
from tests.layers.conftest import DESK_NOW as NOW

OPERATOR = Viewer(role="operator", actor="区联动中心受理员")
INSPECTOR = Viewer(role="inspector", actor="网格巡查员")
SUPERVISOR = Viewer(role="supervisor", actor="区联动中心督办员")


@pytest.fixture()
def district(desk_district: District) -> District:
    return desk_district


def _report(
    district: District, *, event: str = "0202001", lon: float = 120.6124, lat: float = 31.2706
) -> str:
    """A street-order report (routed to the event's managing body) through the desk's own intake."""
    outcome, case_id = submit_report(
        district,
        ReportDraft(
            event=event,
            channel="C01",
            description="店外占道经营，影响通行",
            x=lon,
            y=lat,
            phone="13812345678",
        ),
        actor="区联动中心受理员",
        now="2026-11-21T08:00:00",
    )
    assert outcome == "created"
    return case_id


def _dispatcher(case: dict) -> Viewer:
    return Viewer(role="dispatcher", actor="调度员", centre=case["centre_code"])


def _department(case: dict) -> Viewer:
    return Viewer(role="department", actor="处置员", dept_code=case["dept_code"])


def _step(district: District, case_id: str, action: str, viewer: Viewer, **kw) -> dict:
    case = cases.get_case(district.store, case_id)
    return cases.act(district.store, case_id, action=action, version=case["version"], viewer=viewer, **kw)


def test_a_full_loop_with_every_step_on_the_record(district: District) -> None:
    store = district.store
    cid = _report(district)
    case = cases.get_case(store, cid, viewer=INSPECTOR)
    assert case["status"] == "reported" and case["allowed"] == ("register", "reject")
    assert case["reporter_phone"] == "138****5678"  # never read back in full
    _step(district, cid, "register", INSPECTOR, note="现场核实属实")
    case = cases.get_case(store, cid)
    case = _step(district, cid, "dispatch", _dispatcher(case))
    assert case["status"] == "dispatched" and case["dept_code"] == "D001"
    # Five working days from a Saturday dispatch: the clock starts on Monday, due Friday at 17:30.
    assert case["deadline_at"] == "2026-11-27T17:30:00"
    case = _step(district, cid, "handle", _department(case), note="已劝离，恢复通行")
    case = _step(district, cid, "close", INSPECTOR)
    case = _step(district, cid, "evaluate", OPERATOR, callback="basically_satisfied")
    assert (
        case["status"] == "evaluated"
        and case["satisfaction"] == 1
        and case["callback"] == "basically_satisfied"
    )
    history = cases.case_history(store, cid)
    assert history["step"].tolist() == ["report", "register", "dispatch", "handle", "close", "evaluate"]
    assert history["role"].tolist() == [
        "operator",
        "inspector",
        "dispatcher",
        "department",
        "inspector",
        "operator",
    ]
    assert "按期结案" in history["note"].iat[-1]
    timeline = cases.case_timeline(store, cid)
    assert timeline["step"].tolist() == list(workflow.SIX_STEPS) and timeline["done"].all()
    _ids, states, illegal = workflow.replay(
        history.assign(case_id=cid)["case_id"].to_numpy(), history["step"].to_numpy()
    )
    assert states.tolist() == ["evaluated"] and not illegal.any()


def test_failed_check_sends_it_back_to_the_same_body_counted(district: District) -> None:
    cid = _report(district)
    _step(district, cid, "register", INSPECTOR)
    case = _step(district, cid, "dispatch", _dispatcher(cases.get_case(district.store, cid)))
    body = case["dept_code"]
    case = _step(district, cid, "handle", _department(case), note="已处置")
    case = _step(district, cid, "rework", INSPECTOR, note="现场仍有摊位")
    assert (case["status"], case["dept_code"], case["rework_count"]) == ("dispatched", body, 1)
    timeline = cases.case_timeline(district.store, cid).set_index("step")
    assert not timeline.at["check", "done"] and timeline.at["check", "at"] is not None
    case = _step(district, cid, "handle", _department(case), note="再次处置")
    case = _step(district, cid, "close", INSPECTOR)
    assert case["status"] == "closed" and case["rework_count"] == 1


def test_send_backs_go_down_the_responsibility_list_then_to_the_supervisor(district: District) -> None:
    cid = _report(district)  # 未经审批设置户外广告: managed by D001 (城管), enforced by D002
    _step(district, cid, "register", INSPECTOR)
    case = _step(district, cid, "dispatch", _dispatcher(cases.get_case(district.store, cid)))
    assert case["dept_code"] == "D001" and case["centre_code"] == "district"
    case = _step(district, cid, "send_back", _department(case), note="不属于本单位职责")
    assert (case["dept_code"], case["sendback_count"], case["status"]) == ("D002", 1, "dispatched")
    case = _step(district, cid, "send_back", _department(case), note="应由属地处理")
    town_body = district.store.conn.execute(
        "SELECT code FROM departments WHERE town_code = ?", (case["town_code"],)
    ).fetchone()[0]
    assert case["dept_code"] == town_body
    assert case["centre_code"] == case["town_code"]  # the town's sub-centre now supervises it
    case = _step(district, cid, "send_back", _department(case), note="辖区外")
    assert case["status"] == "supervisor" and case["sendback_count"] == 3
    assert cases.get_case(district.store, cid, viewer=SUPERVISOR)["allowed"] == ("decide",)
    with pytest.raises(ValueError, match="choose the body"):
        _step(district, cid, "decide", SUPERVISOR)
    case = _step(district, cid, "decide", SUPERVISOR, to_dept="D007", note="由市场监管局牵头")
    assert (case["status"], case["dept_code"]) == ("dispatched", "D007")
    steps = cases.case_history(district.store, cid)["step"].tolist()
    assert steps[-4:] == ["send_back", "send_back", "escalate", "decide"]


def test_illegal_transition_is_refused_naming_state_and_allowed_actions(district: District) -> None:
    cid = _report(district)
    with pytest.raises(
        IllegalTransitionError,
        match=r"待核实 \(reported\); close is not allowed. It allows: register, reject",
    ) as info:
        _step(district, cid, "close", INSPECTOR)
    # Pages show it translated by its code (pages._common.error_text).
    assert info.value.code == "case_illegal"  # type: ignore[attr-defined]
    params = info.value.params  # type: ignore[attr-defined]
    assert (params["state_zh"], params["state_en"], params["allowed_zh"]) == (
        "待核实",
        "Reported",
        "核实立案、不予立案",
    )
    before = cases.get_case(district.store, cid)
    assert before["version"] == 1 and len(cases.case_history(district.store, cid)) == 1


def test_stale_action_is_refused_with_the_case_as_it_is(district: District) -> None:
    cid = _report(district)
    seen = cases.get_case(district.store, cid)
    cases.act(district.store, cid, action="register", version=seen["version"], viewer=INSPECTOR)
    with pytest.raises(StaleEditError, match="changed by someone else") as info:
        cases.act(
            district.store, cid, action="reject", version=seen["version"], viewer=OPERATOR, reason="invalid"
        )
    assert info.value.current["status"] == "registered"
    assert info.value.current["version"] == seen["version"] + 1


def test_roles_and_scopes(district: District) -> None:
    cid = _report(district)
    _step(district, cid, "register", INSPECTOR)
    case = cases.get_case(district.store, cid)
    other_town = Viewer(role="dispatcher", actor="分中心调度员", centre="320506103000000")
    assert cases.get_case(district.store, cid, viewer=other_town)["allowed"] == ()
    with pytest.raises(ActionNotPermittedError, match="dispatcher"):
        cases.act(district.store, cid, action="dispatch", version=case["version"], viewer=other_town)
    case = _step(district, cid, "dispatch", _dispatcher(case))
    wrong_body = Viewer(role="department", actor="别的单位", dept_code="D002")
    with pytest.raises(ActionNotPermittedError):
        cases.act(district.store, cid, action="handle", version=case["version"], viewer=wrong_body, note="x")
    with pytest.raises(ValueError, match="the note is required"):
        _step(district, cid, "handle", _department(case), note="  ")


def test_reject_needs_a_reason_and_free_text_is_stored_as_given(district: District) -> None:
    text = '<script>alert("x")</script> **bold** [link](http://example.invalid)'
    _outcome, cid = submit_report(
        district,
        ReportDraft(event="0202001", channel="C05", description=text, x=120.6124, y=31.2706),
        actor="受理员",
        now="2026-11-21T08:00:00",
    )
    assert cases.get_case(district.store, cid)["description"] == text
    with pytest.raises(ValueError, match="a reason is required"):
        _step(district, cid, "reject", OPERATOR)
    case = _step(district, cid, "reject", OPERATOR, reason="not_our_business")
    assert case["status"] == "rejected" and "不属于受理范围" in case["route_reason"]


def test_batch_dispatch_is_all_or_nothing(district: District) -> None:
    ids = [_report(district, lon=120.6124 + k * 0.01, lat=31.2706) for k in range(3)]
    for cid in ids:
        _step(district, cid, "register", INSPECTOR)
    items = [(cid, cases.get_case(district.store, cid)["version"]) for cid in ids]
    viewer = Viewer(role="dispatcher", actor="调度员", centre="district")
    stale = [*items[:2], (items[2][0], items[2][1] - 1)]
    with pytest.raises(StaleEditError):
        cases.dispatch_many(district.store, stale, viewer=viewer)
    assert {cases.get_case(district.store, c)["status"] for c in ids} == {"registered"}
    assert cases.dispatch_many(district.store, items, viewer=viewer) == ids
    assert {cases.get_case(district.store, c)["status"] for c in ids} == {"dispatched"}


def test_queues_deadlines_and_cards(district: District) -> None:
    store = district.store
    counts = cases.queue_counts(store).set_index("status")
    open_n = store.conn.execute(
        "SELECT count(*) FROM cases WHERE status IN ('reported','registered','dispatched','handled','supervisor')"
    ).fetchone()[0]
    assert counts["n"].sum() == open_n
    soon, late = cases.due_lists(store, within_hours=24)
    assert (late["deadline_at"] < NOW).all() and (late["hours_left"] < 0).all()
    assert ((soon["deadline_at"] >= NOW) & (soon["hours_left"] <= 24)).all()
    assert late["overdue"].all() and not soon["overdue"].any()
    issued = cases.issue_cards(store)
    assert issued["red"] == len(late)
    again = cases.issue_cards(store)
    assert again == {"yellow": 0, "red": 0}  # recorded once
    reds = store.conn.execute("SELECT count(*) FROM case_history WHERE step = 'red_card'").fetchone()[0]
    assert reds == len(late)
    per_town = cases.card_counts(store, by="town")
    assert per_town["red"].sum() == len(late) and per_town["open"].sum() == open_n
    # Centres: every open case is in exactly one centre's queue.
    total = sum(len(cases.queue(store, centre=c, limit=None)) for c in cases.centres(store)["code"])
    assert total == open_n


def test_two_level_command_in_the_generated_history(small_store_path: Path) -> None:
    conn = connect(small_store_path)
    town_cases, wrong = conn.execute(
        "SELECT sum(CASE WHEN c.centre_code != 'district' THEN 1 ELSE 0 END), "
        "sum(CASE WHEN d.town_code IS NOT NULL AND c.centre_code != d.town_code THEN 1 ELSE 0 END) "
        "FROM cases c JOIN departments d ON d.code = c.dept_code"
    ).fetchone()
    conn.close()
    assert town_cases > 0 and wrong == 0


def test_counts_and_lists_hold_a_case_with_the_supervisor(district: District) -> None:
    cid = _report(district)
    _step(district, cid, "register", INSPECTOR)
    case = _step(district, cid, "dispatch", _dispatcher(cases.get_case(district.store, cid)))
    for _ in range(3):
        case = _step(district, cid, "send_back", _department(case), note="不归我管")
    assert case["status"] == "supervisor" and case["deadline_at"] is None
    counts = cases.queue_counts(district.store).set_index("status")
    assert counts.at["supervisor", "n"] == 1 and counts.at["supervisor", "overdue"] == 0
    assert cid in set(cases.queue(district.store, statuses=["supervisor"])["id"])
    assert cases.card_counts(district.store, by="centre")["open"].sum() >= 1
