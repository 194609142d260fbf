"""The case desk: moving cases through the six-step loop, queues, deadlines and supervision.

Every action goes through :func:`act` (or :func:`dispatch_many` for a batch): one write
transaction that checks the case's version (a stale action is refused with the case as it is now),
asks the state machine (:mod:`layers.workflow`) whether the action is allowed in the case's state
and for the viewer's role and scope, applies it, and appends the step to ``case_history``.

Two-level command (两级指挥): a case whose body is a town-level body (the town answers for it,
属地) is dispatched and supervised by that town's sub-centre; every other case by the district
centre. :func:`centre_of` is the rule; ``cases.centre_code`` keeps its answer.

Deadlines run from the (last) dispatch on the working calendar (:mod:`layers.workcalendar`);
:func:`issue_cards` records a yellow card when a case has used 80 % of its time and a red card
when it is overdue, each once per deadline.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from layers import workflow
from layers.errors import (
    ActionNotPermittedError,
    CaseNotFoundError,
    IllegalTransitionError,
    StaleEditError,
    coded,
)
from layers.staff import mask_phone
from layers.store import Conn, Store, read_frame, table_columns
from layers.workcalendar import deadlines, elapsed_share
from layers.workcalendar import now as clock_now
from spatial.crs import to_display, to_work
from spatial.errors import CodeError, OneGridError

__all__ = [
    "DISTRICT_CENTRE",
    "ActionNotPermittedError",
    "CaseNotFoundError",
    "IllegalTransitionError",
    "Viewer",
    "act",
    "available_actions",
    "card_counts",
    "case_duplicates",
    "case_history",
    "case_timeline",
    "catalog_channels",
    "catalog_departments",
    "catalog_event_types",
    "centre_of",
    "centres",
    "dispatch_many",
    "due_lists",
    "get_case",
    "grid_cases",
    "inspector_tasks",
    "issue_cards",
    "queue",
    "queue_counts",
    "states_clause",
]

DISTRICT_CENTRE = "district"
#: The share of the allowed time after which a yellow card is shown.
YELLOW_AT = 0.8
_MAX_NOTE = 5000


@dataclass(frozen=True)
class Viewer:
    """Who is acting: a role of :data:`layers.workflow.ROLES`, a name for the history, and a scope.

    ``dept_code`` is the body a department handler works for; ``centre`` the centre a dispatcher
    works at (``'district'`` or a town's level-1 code; ``None`` means the district centre).
    """

    role: str
    actor: str
    dept_code: str | None = None
    centre: str | None = None


def _now(now: str | None) -> str:
    return now or clock_now()


# -- catalog and names ---------------------------------------------------------------------------


def catalog_event_types(store: Store) -> pd.DataFrame:
    return read_frame(
        "SELECT code, name, major_code, major_name, sub_name, time_limit, time_unit, urgency, "
        "manage_code, handle_code, enforce_code, component_class FROM event_types ORDER BY code",
        store.conn,
    )


def catalog_channels(store: Store) -> pd.DataFrame:
    return read_frame("SELECT code, name, name_en FROM channels ORDER BY code", store.conn)


def catalog_departments(store: Store) -> pd.DataFrame:
    return read_frame(
        "SELECT code, name, short_name, kind, town_code FROM departments ORDER BY code", store.conn
    )


def centres(store: Store) -> pd.DataFrame:
    """The district centre and one sub-centre per level-1 grid (town or street)."""
    gen = store.current_generation()
    towns = read_frame(
        "SELECT code, name FROM grids WHERE level = 1 AND generation = ? ORDER BY code",
        store.conn,
        params=(gen,),
    )
    towns["name"] = towns["name"] + "分中心"
    head = pd.DataFrame({"code": [DISTRICT_CENTRE], "name": ["区联动中心"]})
    return pd.concat([head, towns], ignore_index=True)


def centre_of(conn: Conn, dept_code: str | None, *, town_code: str) -> str:
    """The centre that dispatches a case with this body: the town's sub-centre for a town-level
    body (以块为主, 属地兜底), else the district centre."""
    if dept_code is None:
        return DISTRICT_CENTRE
    row = conn.execute("SELECT town_code FROM departments WHERE code = ?", (dept_code,)).fetchone()
    return str(row[0]) if row is not None and row[0] else DISTRICT_CENTRE


# -- reading cases -------------------------------------------------------------------------------

_QUEUE_SQL = """
SELECT c.id, c.status, c.event_type_code, e.name AS event_name, c.channel_code, c.town_code,
       t.name AS town_name, c.grid_code, c.dept_code, d.short_name AS dept_name, c.centre_code,
       c.reported_at, c.dispatched_at, c.due_from, c.deadline_at, c.card, c.duplicate_count,
       c.sendback_count, c.rework_count, c.version, c.description, c.x, c.y, e.time_unit
FROM cases c
JOIN event_types e ON e.code = c.event_type_code
LEFT JOIN departments d ON d.code = c.dept_code
LEFT JOIN grids t ON t.code = c.town_code AND t.generation = c.grid_generation
"""
_QUEUE_COLUMNS = [
    "id", "status", "event_type_code", "event_name", "channel_code", "town_code", "town_name", "grid_code",
    "dept_code", "dept_name", "centre_code", "reported_at", "deadline_at", "card", "overdue", "duplicate_count",
    "sendback_count", "rework_count", "version", "description", "lon", "lat",
]  # fmt: skip
#: States in which the deadline is running (the body has the case).
_RUNNING = ("dispatched", "supervisor")


def _in(column: str, values: Sequence[str]) -> tuple[str, list[object]]:
    return f"{column} IN ({', '.join('?' * len(values))})", list(values)


def states_clause(column: str, states: Sequence[str]) -> tuple[str, list[object]]:
    """``column IN ('a', 'b')`` with the states written in, not bound: SQLite then plans with the
    partial index of open cases and the state statistics (bound, it scanned a whole body's cases:
    0.3 s against 5 ms). Only known state names get here, so nothing user-given enters the SQL."""
    unknown = sorted(set(states) - set(workflow.STATES))
    if unknown:
        raise CodeError(f"unknown case states {unknown}; known: {', '.join(workflow.STATES)}")
    return f"{column} IN ({', '.join(repr(str(s)) for s in states)})", []


def _select(
    store: Store,
    *,
    where: list[str],
    params: list[object],
    now: str,
    order: str = "c.reported_at DESC",
    limit: int | None = 500,
) -> pd.DataFrame:
    sql = _QUEUE_SQL + (" WHERE " + " AND ".join(where) if where else "") + f" ORDER BY {order}"
    if limit is not None:
        sql += f" LIMIT {int(limit)}"
    frame = read_frame(sql, store.conn, params=params)
    return _finish(frame, now=now)


def _finish(frame: pd.DataFrame, *, now: str) -> pd.DataFrame:
    if len(frame):
        lon, lat = to_display(frame["x"].to_numpy(float), frame["y"].to_numpy(float))
    else:
        lon = lat = np.zeros(0)
    frame["lon"], frame["lat"] = lon, lat
    running = frame["status"].isin(_RUNNING)
    frame["overdue"] = running & frame["deadline_at"].notna() & (frame["deadline_at"].fillna("") < now)
    frame["card"] = frame["card"].fillna("")
    return frame


def queue(
    store: Store,
    *,
    centre: str | None = None,
    statuses: Sequence[str] | None = None,
    dept_code: str | None = None,
    town_code: str | None = None,
    overdue_only: bool = False,
    grid_codes: Sequence[str] | None = None,
    now: str | None = None,
    limit: int | None = 500,
) -> pd.DataFrame:
    """Cases for a desk, newest first: open ones by default (:data:`workflow.OPEN_STATES`).

    Filters combine: one centre, some states, one body, one town, some grids, overdue only.
    """
    now = _now(now)
    states = list(statuses) if statuses else list(workflow.OPEN_STATES)
    clause, params = states_clause("c.status", states)
    scoped, more = _scope(centre=centre, dept_code=dept_code, town_code=town_code)
    where = [clause, *scoped]
    params += more
    if grid_codes is not None:
        clause, more = _in("c.grid_code", list(grid_codes) or [""])
        where.append(clause)
        params += more
    if overdue_only:
        running, more = states_clause("c.status", _RUNNING)
        where += [running, "c.deadline_at < ?"]
        params += [*more, now]
    return _select(store, where=where, params=params, now=now, limit=limit)[_QUEUE_COLUMNS]


def queue_counts(store: Store, *, centre: str | None = None, now: str | None = None) -> pd.DataFrame:
    """Open cases per state (and how many of them are overdue), for one centre or all."""
    now = _now(now)
    clause, params = states_clause("status", workflow.OPEN_STATES)
    sql = (
        "SELECT status, count(*) AS n, "
        "total(status IN ('dispatched', 'supervisor') AND deadline_at < ?) AS overdue "
        f"FROM cases WHERE {clause}"
    )
    params = [now, *params]
    if centre:
        sql += " AND centre_code = ?"
        params.append(centre)
    frame = read_frame(sql + " GROUP BY status", store.conn, params=params)
    frame = frame.set_index("status").reindex(list(workflow.OPEN_STATES), fill_value=0).reset_index()
    return frame.astype({"n": int, "overdue": int})


def _case_row(conn: Conn, case_id: str) -> dict[str, Any]:
    cur = conn.execute(f"SELECT {', '.join(table_columns('cases'))} FROM cases WHERE id = ?", (case_id,))
    row = cur.fetchone()
    if row is None:
        raise coded(CaseNotFoundError(f"no case {case_id!r}"), "case_not_found", case=case_id)
    return dict(zip([d[0] for d in cur.description or ()], row, strict=True))


def get_case(store: Store, case_id: str, *, viewer: Viewer | None = None) -> dict[str, Any]:
    """A case with the names a desk shows and the actions ``viewer`` may take.

    The reporter's phone is masked: nobody reads it back from the desk.
    """
    return _describe(store.conn, _case_row(store.conn, case_id), viewer=viewer)


def _describe(conn: Conn, case: dict[str, Any], *, viewer: Viewer | None) -> dict[str, Any]:
    out = dict(case)
    out["reporter_phone"] = (
        mask_phone(str(case.get("reporter_phone") or "")) if case.get("reporter_phone") else ""
    )

    def one(sql: str, *args: object) -> Any:
        row = conn.execute(sql, args).fetchone()
        return row[0] if row else None

    out["event_name"] = one("SELECT name FROM event_types WHERE code = ?", case["event_type_code"])
    out["channel_name"] = one("SELECT name FROM channels WHERE code = ?", case["channel_code"])
    out["channel_name_en"] = one("SELECT name_en FROM channels WHERE code = ?", case["channel_code"])
    out["dept_name"] = one("SELECT short_name FROM departments WHERE code = ?", case["dept_code"])
    gen = case["grid_generation"]
    out["grid_name"] = one("SELECT name FROM grids WHERE code = ? AND generation = ?", case["grid_code"], gen)
    out["town_name"] = one("SELECT name FROM grids WHERE code = ? AND generation = ?", case["town_code"], gen)
    centre = case.get("centre_code") or DISTRICT_CENTRE
    town = one("SELECT name FROM grids WHERE code = ? AND level = 1 ORDER BY generation DESC", centre)
    out["centre_name"] = "区联动中心" if centre == DISTRICT_CENTRE else f"{town or centre}分中心"
    lon, lat = to_display(np.array([case["x"]]), np.array([case["y"]]))
    out["lon"], out["lat"] = float(lon[0]), float(lat[0])
    out["allowed"] = available_actions(case, viewer) if viewer is not None else ()
    return out


def available_actions(case: dict[str, Any], viewer: Viewer) -> tuple[str, ...]:
    """What ``viewer`` may do to ``case`` now: the machine's actions for the state and role, within
    the viewer's scope (a body acts on its own cases, a dispatcher on its centre's)."""
    actions = workflow.allowed(case["status"], role=viewer.role)
    return tuple(a for a in actions if _in_scope(case, viewer, a))


def _in_scope(case: dict[str, Any], viewer: Viewer, action: str) -> bool:
    if viewer.role == "department":
        return viewer.dept_code is not None and case.get("dept_code") == viewer.dept_code
    if viewer.role == "dispatcher":
        return (case.get("centre_code") or DISTRICT_CENTRE) == (viewer.centre or DISTRICT_CENTRE)
    return True


def case_history(store: Store, case_id: str) -> pd.DataFrame:
    """Every step of a case in order: ``at, step, actor, role, dept_code, dept_name, note``."""
    return read_frame(
        "SELECT h.at, h.step, h.actor, h.role, h.dept_code, d.short_name AS dept_name, h.note "
        "FROM case_history h LEFT JOIN departments d ON d.code = h.dept_code WHERE h.case_id = ? ORDER BY h.id",
        store.conn,
        params=(case_id,),
    )


def case_timeline(store: Store, case_id: str) -> pd.DataFrame:
    """The six steps of the loop: when each was reached (the last time) and whether it is done.

    The check step is done only when the case was closed: a failed check (rework) shows its time
    but not done.
    """
    _case_row(store.conn, case_id)
    hist = case_history(store, case_id)
    hist = hist[hist["step"].isin(workflow.ACTIONS)]
    last_at = hist.groupby(hist["step"].map(workflow.STEP_OF))["at"].max()
    steps = set(hist["step"])
    rows = []
    for s in workflow.SIX_STEPS:
        at = last_at.get(s)
        rows.append({"step": s, "at": at, "done": bool(steps & set(_STEP_DONE_BY[s]))})
    return pd.DataFrame(rows)


#: The actions that complete each of the six steps (a failed check does not).
_STEP_DONE_BY = {
    "collect": ("report",),
    "register": ("register", "reject"),
    "dispatch": ("dispatch", "decide"),
    "handle": ("handle",),
    "check": ("close",),
    "evaluate": ("evaluate",),
}


def case_duplicates(store: Store, case_id: str) -> pd.DataFrame:
    """Further reports linked to a case: ``channel_code, external_id, reported_at, description, lon, lat``."""
    frame = read_frame(
        "SELECT channel_code, external_id, reported_at, description, x, y, linked_at, actor "
        "FROM duplicate_reports WHERE case_id = ? ORDER BY id",
        store.conn,
        params=(case_id,),
    )
    lon, lat = (
        to_display(frame["x"].to_numpy(float), frame["y"].to_numpy(float))
        if len(frame)
        else (np.zeros(0), np.zeros(0))
    )
    return frame.drop(columns=["x", "y"]).assign(lon=lon, lat=lat)


# -- acting --------------------------------------------------------------------------------------


def _event_type(conn: Conn, code: str) -> dict[str, Any]:
    cur = conn.execute(
        "SELECT code, name, manage_code, enforce_code, time_limit, time_unit FROM event_types WHERE code = ?",
        (code,),
    )
    row = cur.fetchone()
    if row is None:
        raise CodeError(f"unknown event type {code!r}")
    return dict(zip([d[0] for d in cur.description or ()], row, strict=True))


def _department(conn: Conn, code: str) -> str:
    row = conn.execute("SELECT short_name FROM departments WHERE code = ?", (code,)).fetchone()
    if row is None:
        raise CodeError(f"unknown department {code!r}")
    return str(row[0])


def _town_body(conn: Conn, town_code: str) -> str | None:
    row = conn.execute("SELECT code FROM departments WHERE town_code = ?", (town_code,)).fetchone()
    return None if row is None else str(row[0])


def _deadline(event: dict[str, Any], start: str) -> str:
    d = deadlines(
        np.array([start], dtype="datetime64[s]"),
        np.array([float(event["time_limit"])]),
        hours=np.array([event["time_unit"] == "hours"]),
    )
    return str(d[0])


def _next_body(conn: Conn, case: dict[str, Any], event: dict[str, Any]) -> str | None:
    """The next body of the responsibility list for a case sent back: the managing body, then the
    enforcement body, then the town (属地兜底), skipping the bodies that already had it."""
    had = {
        r[0]
        for r in conn.execute(
            "SELECT dept_code FROM case_history WHERE case_id = ? AND step IN ('dispatch', 'send_back', 'decide') "
            "AND dept_code IS NOT NULL",
            (case["id"],),
        )
    }
    had.add(case["dept_code"])
    for body in (event["manage_code"], event["enforce_code"], _town_body(conn, case["town_code"])):
        if body and body not in had:
            return str(body)
    return None


def _words(name: str, labels: tuple[str, str]) -> dict[str, str]:
    """``{name}_zh`` and ``{name}_en``: a label in both languages, for a coded error's parameters."""
    return {f"{name}_zh": labels[0], f"{name}_en": labels[1]}


def _state_words(state: str) -> dict[str, str]:
    return _words("state", workflow.STATE_NAMES.get(state, (state, state)))


def _text(value: str | None, *, what: str, required: bool) -> str:
    text = (value or "").strip()
    if required and not text:
        raise coded(OneGridError(f"{what} is required"), "case_note_required")
    if len(text) > _MAX_NOTE:
        raise coded(
            OneGridError(f"{what} is {len(text):,} characters long; at most {_MAX_NOTE:,}"),
            "case_note_too_long",
            n=len(text),
            limit=_MAX_NOTE,
        )
    return text


def act(
    store: Store,
    case_id: str,
    *,
    action: str,
    version: int,
    viewer: Viewer,
    note: str = "",
    to_dept: str | None = None,
    reason: str | None = None,
    callback: str | None = None,
    now: str | None = None,
) -> dict[str, Any]:
    """Take one action on a case, in one transaction; returns the case as it is after it.

    Parameters
    ----------
    action
        An action of :data:`layers.workflow.ACTIONS` (not ``report``, which is intake's, nor
        ``escalate``, which a third send-back becomes).
    version
        The version the viewer saw; anything else is refused with :class:`StaleEditError`.
    note
        The feedback (``handle``, required), the reason (``send_back``, required), or a remark.
    to_dept
        The body for ``dispatch`` (default: the routed one) and ``decide`` (required).
    reason
        For ``reject``: one of :data:`layers.workflow.REJECT_REASONS`.
    callback
        For ``evaluate``: one of :data:`layers.workflow.CALLBACKS`.
    """
    now = _now(now)
    with store.transaction() as conn:
        _apply(conn, case_id, action=action, version=version, viewer=viewer, note=note, to_dept=to_dept,
               reason=reason, callback=callback, now=now)  # fmt: skip
        store.bump_revision(conn, "cases")
    return get_case(store, case_id, viewer=viewer)


def dispatch_many(
    store: Store, items: Sequence[tuple[str, int]], *, viewer: Viewer, now: str | None = None
) -> list[str]:
    """Dispatch registered cases to their routed bodies, all in one transaction (all or none)."""
    now = _now(now)
    done = []
    with store.transaction() as conn:
        for case_id, version in items:
            _apply(conn, case_id, action="dispatch", version=version, viewer=viewer, note="批量派遣",
                   to_dept=None, reason=None, callback=None, now=now)  # fmt: skip
            done.append(case_id)
        if done:
            store.bump_revision(conn, "cases")
    return done


def _apply(
    conn: Conn,
    case_id: str,
    *,
    action: str,
    version: int,
    viewer: Viewer,
    note: str,
    to_dept: str | None,
    reason: str | None,
    callback: str | None,
    now: str,
) -> None:
    if viewer.role not in workflow.ROLES:
        raise ActionNotPermittedError(f"unknown role {viewer.role!r}; roles: {', '.join(workflow.ROLES)}")
    actor = _text(viewer.actor, what="the actor's name", required=True)
    case = _case_row(conn, case_id)
    if int(case["version"]) != int(version):
        raise coded(
            StaleEditError(
                f"case {case_id} was changed by someone else (version {case['version']}, you saw {version}); "
                f"it is now {case['status']}. Reload it and decide again.",
                current=_describe(conn, case, viewer=viewer),
            ),
            "case_stale",
            case=case_id,
            version=case["version"],
            seen=version,
            **_state_words(case["status"]),
        )
    state = case["status"]
    if action not in workflow.ACTIONS or action in ("report", "escalate"):
        raise IllegalTransitionError(f"{action!r} is not an action a desk takes")
    if workflow.next_state(state, action) is None:
        allowed = workflow.allowed(state)
        raise coded(
            IllegalTransitionError(
                f"case {case_id} is {workflow.STATE_NAMES[state][0]} ({state}); {action} is not allowed. "
                f"It allows: {', '.join(allowed) if allowed else 'nothing (the loop is complete)'}"
            ),
            "case_illegal",
            case=case_id,
            **_state_words(state),
            **_words("action", workflow.ACTION_NAMES[action]),
            **_words(
                "allowed",
                (
                    "、".join(workflow.ACTION_NAMES[a][0] for a in allowed) or "无",
                    ", ".join(workflow.ACTION_NAMES[a][1] for a in allowed) or "nothing",
                ),
            ),
        )
    if action not in available_actions(case, viewer):
        raise coded(
            ActionNotPermittedError(
                f"a {viewer.role} ({viewer.dept_code or viewer.centre or 'no scope'}) may not {action} case "
                f"{case_id} (with {case['dept_code'] or 'no body'}, centre {case['centre_code']})"
            ),
            "case_not_permitted",
            case=case_id,
            **_words("action", workflow.ACTION_NAMES[action]),
        )
    note = _text(note, what="the note", required=action in ("handle", "send_back"))
    event = _event_type(conn, case["event_type_code"])
    sets: dict[str, object] = {}
    step, step_dept = action, case["dept_code"]
    new_state = workflow.next_state(state, action)

    if action == "register":
        sets["registered_at"] = now
        note = note or "核实立案"
    elif action == "reject":
        if reason not in workflow.REJECT_REASONS:
            raise coded(
                OneGridError(f"a reason is required to reject: one of {', '.join(workflow.REJECT_REASONS)}"),
                "case_reason_required",
            )
        sets["route_reason"] = f"不予立案：{workflow.REJECT_NAMES[reason][0]}"
        note = f"不予立案：{workflow.REJECT_NAMES[reason][0]}" + (f"；{note}" if note else "")
    elif action in ("dispatch", "decide"):
        body = to_dept or (case["dept_code"] if action == "dispatch" else None)
        if not body:
            raise coded(OneGridError("choose the body to send the case to"), "case_body_required")
        name = _department(conn, body)
        sets.update(_dispatch_sets(conn, case, event, body, now=now))
        if case["dispatched_at"] is None:
            sets["dispatched_at"] = now
        step_dept = body
        note = note or (f"派遣至{name}" if action == "dispatch" else f"督办裁定：派遣至{name}")
    elif action == "send_back":
        count = int(case["sendback_count"]) + 1
        sets["sendback_count"] = count
        nxt = _next_body(conn, case, event) if count < workflow.ESCALATE_AT else None
        if nxt is None:
            # The third send-back, or nobody left on the list: the supervisor decides.
            step, new_state = "escalate", "supervisor"
            sets.update({"card": "", "deadline_at": None})
            note = f"{note}；第{count}次退回，提交督办裁定"
        else:
            sets.update(_dispatch_sets(conn, case, event, nxt, now=now))
            note = f"{note}；改派至{_department(conn, nxt)}"
        step_dept = case["dept_code"]
    elif action == "handle":
        sets["handled_at"] = now
    elif action == "rework":
        sets["rework_count"] = int(case["rework_count"]) + 1
        note = note or "核查未通过，退回返工"
    elif action == "close":
        sets["closed_at"] = now
        note = note or "核查通过，结案"
    elif action == "evaluate":
        if callback not in workflow.CALLBACKS:
            raise coded(
                OneGridError(f"the call-back answer is required: one of {', '.join(workflow.CALLBACKS)}"),
                "case_callback_required",
            )
        on_time = case["deadline_at"] is None or (case["closed_at"] or now) <= case["deadline_at"]
        sets.update(
            evaluated_at=now,
            callback=callback,
            satisfaction={"satisfied": 1, "basically_satisfied": 1, "unsatisfied": 0}.get(callback),
        )
        verdict = "按期结案" if on_time else "超期结案"
        note = f"{verdict}；回访：{workflow.CALLBACK_NAMES[callback][0]}" + (f"；{note}" if note else "")

    sets["status"] = new_state
    sets["version"] = int(case["version"]) + 1
    assignments = ", ".join(f"{k} = ?" for k in sets)
    cur = conn.execute(
        f"UPDATE cases SET {assignments} WHERE id = ? AND version = ?",
        [*sets.values(), case_id, int(case["version"])],
    )
    if cur.rowcount != 1:  # cannot happen under the write lock; never write on a guess
        raise StaleEditError(f"case {case_id} changed while it was being written; reload it")
    conn.execute(
        "INSERT INTO case_history (case_id, step, at, actor, dept_code, note, role) VALUES (?, ?, ?, ?, ?, ?, ?)",
        (case_id, step, now, actor, step_dept, note, viewer.role),
    )


def _dispatch_sets(
    conn: Conn, case: dict[str, Any], event: dict[str, Any], body: str, *, now: str
) -> dict[str, object]:
    return {
        "dept_code": body,
        "due_from": now,
        "deadline_at": _deadline(event, now),
        "centre_code": centre_of(conn, body, town_code=case["town_code"]),
        "card": "",
    }


# -- deadlines and supervision -------------------------------------------------------------------


def _scope(
    *, centre: str | None, dept_code: str | None, town_code: str | None
) -> tuple[list[str], list[object]]:
    where: list[str] = []
    params: list[object] = []
    for column, value in (("c.centre_code", centre), ("c.dept_code", dept_code), ("c.town_code", town_code)):
        if value:
            where.append(f"{column} = ?")
            params.append(value)
    return where, params


def due_lists(
    store: Store,
    *,
    now: str | None = None,
    within_hours: float = 24,
    centre: str | None = None,
    dept_code: str | None = None,
    town_code: str | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Cases due within ``within_hours`` and cases overdue, soonest (most overdue) first.

    Both carry ``hours_left`` (clock hours to the deadline; negative when overdue).
    """
    if not within_hours > 0:
        raise OneGridError(f"within_hours must be positive, not {within_hours}")
    now = _now(now)
    horizon = (dt.datetime.fromisoformat(now) + dt.timedelta(hours=float(within_hours))).isoformat(
        timespec="seconds"
    )
    running, params = states_clause("c.status", _RUNNING)
    where, more = _scope(centre=centre, dept_code=dept_code, town_code=town_code)
    base = [running, "c.deadline_at IS NOT NULL", *where]
    soon = _select(store, where=[*base, "c.deadline_at >= ?", "c.deadline_at < ?"],
                   params=[*params, *more, now, horizon], now=now, order="c.deadline_at", limit=None)  # fmt: skip
    late = _select(store, where=[*base, "c.deadline_at < ?"], params=[*params, *more, now], now=now,
                   order="c.deadline_at", limit=None)  # fmt: skip
    t_now = np.datetime64(now, "s")
    for frame in (soon, late):
        left = (frame["deadline_at"].to_numpy(dtype="datetime64[s]") - t_now).astype(np.float64) / 3600.0
        frame["hours_left"] = np.round(left, 1)
    return soon[[*_QUEUE_COLUMNS, "hours_left"]], late[[*_QUEUE_COLUMNS, "hours_left"]]


def card_counts(store: Store, *, by: str, now: str | None = None, within_hours: float = 24) -> pd.DataFrame:
    """Open cases per body, town or centre: open, due soon, yellow and red cards, overdue."""
    column = {"dept": "dept_code", "town": "town_code", "centre": "centre_code"}.get(by)
    if column is None:
        raise OneGridError(f"by must be dept, town or centre, not {by!r}")
    now = _now(now)
    horizon = (dt.datetime.fromisoformat(now) + dt.timedelta(hours=float(within_hours))).isoformat(
        timespec="seconds"
    )
    clause, params = states_clause("status", workflow.OPEN_STATES)
    frame = read_frame(
        f"SELECT {column} AS code, count(*) AS open, "
        "total(status IN ('dispatched', 'supervisor') AND deadline_at >= ? AND deadline_at < ?) AS due_soon, "
        "total(card = 'yellow') AS yellow, total(card = 'red') AS red, "
        "total(status IN ('dispatched', 'supervisor') AND deadline_at < ?) AS overdue "
        f"FROM cases WHERE {clause} GROUP BY {column}",
        store.conn,
        params=[now, horizon, now, *params],
    )
    if by == "dept":
        names = catalog_departments(store).set_index("code")["short_name"]
    elif by == "town":
        names = centres(store).set_index("code")["name"].str.removesuffix("分中心")
    else:
        names = centres(store).set_index("code")["name"]
    frame["name"] = frame["code"].map(names).fillna(frame["code"].fillna("—"))
    frame = frame.fillna({"due_soon": 0, "yellow": 0, "red": 0, "overdue": 0})
    ints = {c: int for c in ("open", "due_soon", "yellow", "red", "overdue")}
    cols = ["code", "name", "open", "due_soon", "yellow", "red", "overdue"]
    return frame.astype(ints)[cols].sort_values(
        ["overdue", "red", "yellow"], ascending=False, ignore_index=True
    )


def issue_cards(store: Store, *, now: str | None = None) -> dict[str, int]:
    """Record yellow cards (80 % of the time used) and red cards (overdue), each once per deadline.

    One transaction; cards change no state and no version (a dispatcher's open form stays valid).
    """
    now = _now(now)
    with store.transaction() as conn:
        clause, params = states_clause("c.status", _RUNNING)
        frame = read_frame(
            "SELECT c.id, c.due_from, c.deadline_at, c.card, c.dept_code, e.time_unit FROM cases c "
            f"JOIN event_types e ON e.code = c.event_type_code WHERE {clause} AND c.deadline_at IS NOT NULL "
            "AND c.card != 'red'",
            conn,
            params=params,
        )
        if frame.empty:
            return {"yellow": 0, "red": 0}
        start = frame["due_from"].fillna(frame["deadline_at"]).to_numpy(dtype="datetime64[s]")
        share = elapsed_share(
            start,
            frame["deadline_at"].to_numpy(dtype="datetime64[s]"),
            np.array([now], dtype="datetime64[s]"),
            hours=(frame["time_unit"] == "hours").to_numpy(),
        )
        red = frame["deadline_at"].to_numpy(dtype=object) < now
        yellow = ~red & (share >= YELLOW_AT) & (frame["card"] == "").to_numpy()
        out = {}
        for card, mask, text in (
            ("yellow", yellow, f"黄牌预警：已用时限的{int(YELLOW_AT * 100)}%以上"),
            ("red", red, "红牌：已超过处置时限"),
        ):
            ids = frame["id"].to_numpy()[mask]
            depts = frame["dept_code"].to_numpy(dtype=object)[mask]
            conn.executemany("UPDATE cases SET card = ? WHERE id = ?", [(card, i) for i in ids])
            conn.executemany(
                "INSERT INTO case_history (case_id, step, at, actor, dept_code, note, role) "
                "VALUES (?, ?, ?, '督办系统', ?, ?, 'supervisor')",
                [(i, f"{card}_card", now, d, text) for i, d in zip(ids, depts, strict=True)],
            )
            out[card] = int(mask.sum())
        if out["yellow"] or out["red"]:
            store.bump_revision(conn, "cases")
    return out


# -- inspectors and grid heads -------------------------------------------------------------------


def inspector_tasks(
    store: Store,
    *,
    grid_codes: Sequence[str],
    lon: float | None = None,
    lat: float | None = None,
    crs: str = "EPSG:4326",
    limit: int = 200,
) -> pd.DataFrame:
    """Reports to verify (核实) and handled cases to check (核查) in some grids, nearest first from
    where the inspector stands (newest first without a position)."""
    now = clock_now()
    states, params = states_clause("c.status", ("reported", "handled"))
    grids, more = _in("c.grid_code", list(grid_codes) or [""])
    frame = _select(store, where=[states, grids], params=[*params, *more], now=now, limit=None)
    frame["task"] = np.where(frame["status"] == "reported", "verify", "check")
    if lon is not None and lat is not None and len(frame):
        x0, y0 = to_work(np.array([lon], float), np.array([lat], float), crs=crs)
        frame["distance_m"] = np.round(np.hypot(frame["x"] - x0[0], frame["y"] - y0[0]), 0)
        frame = frame.sort_values("distance_m", kind="stable")
    else:
        frame["distance_m"] = np.nan
    return frame.head(limit)[[*_QUEUE_COLUMNS, "task", "distance_m"]].reset_index(drop=True)


def grid_cases(store: Store, grid_code: str, *, days: int = 30, now: str | None = None) -> pd.DataFrame:
    """A grid's open cases and the ones reported in the last ``days`` days, newest first."""
    now = _now(now)
    since = (dt.datetime.fromisoformat(now) - dt.timedelta(days=days)).isoformat(timespec="seconds")
    clause, params = states_clause("c.status", workflow.OPEN_STATES)
    return _select(
        store,
        where=["c.grid_code = ?", f"({clause} OR c.reported_at >= ?)"],
        params=[grid_code, *params, since],
        now=now,
        limit=1000,
    )[_QUEUE_COLUMNS]
