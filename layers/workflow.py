"""The six-step closed loop of a case as one explicit state machine.

采集上报 collect/report → 核实立案 verify/register → 指挥派遣 dispatch → 处理反馈 handle/feed back →
核查结案 check/close → 考核评价 assess/evaluate.

A case is in one of :data:`STATES`; an action moves it along :data:`TRANSITIONS`, and every action
is written to ``case_history`` under its own name as the ``step``. The live desk
(:mod:`layers.cases`) and the generated history (:mod:`layers.generate.cases`) both go through this
table: the live desk checks each action with :func:`next_state`; the generator writes its history
as actions and takes each case's status from :func:`replay`, so the two can never disagree.

- ``reject``: not registered (invalid, duplicate, outside the district, not the centre's business).
- ``send_back``: the body returns the case as not its own; it is re-dispatched along the
  responsibility list (managing body → enforcement body → the town, 属地兜底). The third send-back is
  recorded as ``escalate`` instead, and the case waits for the centre's supervisor, who ``decide``\\ s
  the body.
- ``rework``: the check failed (返工); the case goes back to the same body, counted.
- ``close``: the check passed. ``evaluate``: the call-back and the on-time verdict.

Also written to the history, without changing the state: ``duplicate`` (a further report linked
to the case), ``yellow_card`` (80 % of the time used) and ``red_card`` (overdue).
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "ACTIONS",
    "ACTION_NAMES",
    "CALLBACKS",
    "CALLBACK_NAMES",
    "EVENTS",
    "OPEN_STATES",
    "REJECT_NAMES",
    "REJECT_REASONS",
    "ROLES",
    "SIX_STEPS",
    "STATES",
    "STATE_NAMES",
    "STEP_NAMES",
    "STEP_OF",
    "TRANSITIONS",
    "allowed",
    "next_state",
    "replay",
    "run",
    "state_names",
]

STATES = ("reported", "registered", "rejected", "dispatched", "handled", "closed", "evaluated", "supervisor")
#: States in which a case is still open (counted in queues and supervision).
OPEN_STATES = ("reported", "registered", "dispatched", "handled", "supervisor")
ACTIONS = (
    "report", "register", "reject", "dispatch", "send_back", "escalate", "decide", "handle", "rework",
    "close", "evaluate",
)  # fmt: skip
#: History entries that are not transitions (``reassign``: a new grid after a boundary change).
EVENTS = ("duplicate", "yellow_card", "red_card", "reassign")
ROLES = ("operator", "dispatcher", "department", "inspector", "gridhead", "supervisor")

#: (state, action) → next state. ``report`` starts a case from nothing (state ``None``).
TRANSITIONS: dict[tuple[str | None, str], str] = {
    (None, "report"): "reported",
    ("reported", "register"): "registered",
    ("reported", "reject"): "rejected",
    ("registered", "dispatch"): "dispatched",
    ("dispatched", "send_back"): "dispatched",
    ("dispatched", "escalate"): "supervisor",
    ("supervisor", "decide"): "dispatched",
    ("dispatched", "handle"): "handled",
    ("handled", "rework"): "dispatched",
    ("handled", "close"): "closed",
    ("closed", "evaluate"): "evaluated",
}

#: Who may take each action. ``escalate`` is never taken by hand: a third send-back becomes one.
PERMISSIONS: dict[str, frozenset[str]] = {
    "report": frozenset({"operator", "inspector", "gridhead", "dispatcher"}),
    "register": frozenset({"operator", "inspector", "dispatcher", "supervisor"}),
    "reject": frozenset({"operator", "inspector", "dispatcher", "supervisor"}),
    "dispatch": frozenset({"dispatcher", "supervisor"}),
    "send_back": frozenset({"department"}),
    "escalate": frozenset(),
    "decide": frozenset({"supervisor"}),
    "handle": frozenset({"department"}),
    "rework": frozenset({"inspector", "dispatcher", "supervisor"}),
    "close": frozenset({"inspector", "dispatcher", "supervisor"}),
    "evaluate": frozenset({"operator", "dispatcher", "supervisor"}),
}

#: The six steps of the loop, and the step each action belongs to (for the timeline).
SIX_STEPS = ("collect", "register", "dispatch", "handle", "check", "evaluate")
STEP_OF = {
    "report": "collect", "register": "register", "reject": "register", "dispatch": "dispatch",
    "send_back": "dispatch", "escalate": "dispatch", "decide": "dispatch", "handle": "handle",
    "rework": "check", "close": "check", "evaluate": "evaluate",
}  # fmt: skip

#: Why a report is not registered.
REJECT_REASONS = ("invalid", "duplicate", "outside", "not_our_business")
#: The call-back's answer.
CALLBACKS = ("satisfied", "basically_satisfied", "unsatisfied", "unreachable")
#: Send-backs after which the case goes to the supervisor instead of the next body.
ESCALATE_AT = 3

# (中文, English) for every code above: the pages show these.
STATE_NAMES: dict[str, tuple[str, str]] = {
    "reported": ("待核实", "Reported"),
    "registered": ("已立案", "Registered"),
    "rejected": ("不予立案", "Not registered"),
    "dispatched": ("处置中", "Dispatched"),
    "handled": ("待核查", "Handled"),
    "closed": ("已结案", "Closed"),
    "evaluated": ("已评价", "Evaluated"),
    "supervisor": ("待督办裁定", "With the supervisor"),
}
ACTION_NAMES: dict[str, tuple[str, str]] = {
    "report": ("上报", "Report"),
    "register": ("核实立案", "Verify and register"),
    "reject": ("不予立案", "Do not register"),
    "dispatch": ("派遣", "Dispatch"),
    "send_back": ("退回", "Send back"),
    "escalate": ("提交督办裁定", "Escalate to the supervisor"),
    "decide": ("裁定派遣", "Decide and dispatch"),
    "handle": ("处置反馈", "Handle and feed back"),
    "rework": ("核查不通过（返工）", "Check failed (rework)"),
    "close": ("核查通过，结案", "Check passed, close"),
    "evaluate": ("回访评价", "Call back and evaluate"),
    "duplicate": ("重复上报", "Duplicate report"),
    "yellow_card": ("黄牌预警", "Yellow card"),
    "red_card": ("红牌超期", "Red card"),
    "reassign": ("网格调整改划", "Reassigned after a boundary change"),
}
STEP_NAMES: dict[str, tuple[str, str]] = {
    "collect": ("采集上报", "Collect and report"),
    "register": ("核实立案", "Verify and register"),
    "dispatch": ("指挥派遣", "Dispatch"),
    "handle": ("处理反馈", "Handle and feed back"),
    "check": ("核查结案", "Check and close"),
    "evaluate": ("考核评价", "Assess and evaluate"),
}
REJECT_NAMES: dict[str, tuple[str, str]] = {
    "invalid": ("信息无效", "Invalid"),
    "duplicate": ("重复上报", "Duplicate"),
    "outside": ("不在辖区内", "Outside the district"),
    "not_our_business": ("不属于受理范围", "Not the centre's business"),
}
CALLBACK_NAMES: dict[str, tuple[str, str]] = {
    "satisfied": ("满意", "Satisfied"),
    "basically_satisfied": ("基本满意", "Basically satisfied"),
    "unsatisfied": ("不满意", "Unsatisfied"),
    "unreachable": ("未联系上", "Unreachable"),
}


def next_state(state: str | None, action: str) -> str | None:
    """The state after ``action`` in ``state``; ``None`` when the machine does not allow it."""
    return TRANSITIONS.get((state, action))


def allowed(state: str | None, *, role: str | None = None) -> tuple[str, ...]:
    """The actions the machine allows in ``state`` (for ``role``, when given), in loop order."""
    return tuple(a for a in ACTIONS if (state, a) in TRANSITIONS and (role is None or role in PERMISSIONS[a]))


STATE_ID = {s: i for i, s in enumerate(STATES)}
ACTION_ID = {a: i for i, a in enumerate(ACTIONS)}
NO_CASE = len(STATES)  # the state id before ``report``
_ILLEGAL = -1
# Transition table as an array: row = state id (last row: no case yet), column = action id.
_TABLE = np.full((len(STATES) + 1, len(ACTIONS)), _ILLEGAL, dtype=np.int64)
for (_s, _a), _n in TRANSITIONS.items():
    _TABLE[NO_CASE if _s is None else STATE_ID[_s], ACTION_ID[_a]] = STATE_ID[_n]
_STATE_NAMES_ARR = np.array([*STATES, None], dtype=object)


def run(actions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Run cases through the machine: ``actions`` is (cases, slots) of action ids, -1 for none.

    Returns each case's final state id (:data:`STATE_ID`; :data:`NO_CASE` before any action)
    and whether one of its actions was not allowed where it stood (the state then stays the one
    before it). One pass per slot, vectorised over cases.
    """
    actions = np.asarray(actions, dtype=np.int64)
    n = actions.shape[0]
    state = np.full(n, NO_CASE, dtype=np.int64)
    illegal = np.zeros(n, dtype=bool)
    for k in range(actions.shape[1] if actions.ndim == 2 else 0):
        a = actions[:, k]
        act = (a >= 0) & ~illegal
        nxt = _TABLE[state[act], a[act]]
        rows = np.flatnonzero(act)
        bad = nxt == _ILLEGAL
        illegal[rows[bad]] = True
        state[rows[~bad]] = nxt[~bad]
    return state, illegal


def state_names(state_ids: np.ndarray) -> np.ndarray:
    """State names of :func:`run`'s ids (``None`` for no case)."""
    return _STATE_NAMES_ARR[np.asarray(state_ids, dtype=np.int64)]


def replay(case_ids: np.ndarray, steps: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Run a history table through the machine.

    Parameters
    ----------
    case_ids, steps
        The history in order (grouped by case, time order within a case). Steps that are not
        actions (:data:`EVENTS`) are skipped.

    Returns
    -------
    cases, states, illegal
        The distinct case ids in order of first appearance, the state each ends in, and whether
        any of its actions was not allowed where it stood.
    """
    case_ids = np.asarray(case_ids, dtype=object)
    steps = np.asarray(steps, dtype=object)
    uniq, inverse = np.unique(steps.astype(str), return_inverse=True)
    action = np.array([ACTION_ID.get(s, -1) for s in uniq], dtype=np.int64)[inverse.ravel()]
    if case_ids.size == 0:
        return case_ids, np.zeros(0, dtype=object), np.zeros(0, dtype=bool)
    first = np.r_[True, case_ids[1:] != case_ids[:-1]]
    group = np.cumsum(first) - 1
    pos = np.arange(case_ids.size) - np.flatnonzero(first)[group]
    matrix = np.full((int(group[-1]) + 1, int(pos.max()) + 1), -1, dtype=np.int64)
    matrix[group, pos] = action
    state, illegal = run(matrix)
    return case_ids[first], state_names(state), illegal
