"""部门处置 / Department desk (a body's handler): the cases dispatched to one body, most urgent
first; handle one with feedback, or send it back with a reason.

Which actions a case allows the body is decided by :mod:`layers.cases` (state, role and scope).
"""

from __future__ import annotations

import streamlit as st

from layers import cases
from pages._common import context, guarded
from pages._desk import (
    actor_name,
    cached_queue,
    case_opener,
    case_panel,
    clock,
    dept_picker,
    queue_table,
    show_done,
)
from pages._i18n import t

K_CASE = "department.case"

with guarded():
    ctx = context()
    dept, dept_name = dept_picker(ctx)
    viewer = cases.Viewer(role=ctx.role, actor=actor_name(ctx.role, dept_name), dept_code=dept)
    st.title(t("page.department"), anchor=False)
    show_done()
    now = clock()
    # All of them: a body's open work is bounded, and its count must be the real one.
    todo = cached_queue(
        ctx.store_key, ctx.rev("cases"), now, statuses=("dispatched",), dept_code=dept, limit=None
    )
    # Most urgent first: overdue, then by deadline (the queue comes newest first).
    todo = todo.sort_values(["overdue", "deadline_at"], ascending=[False, True], kind="stable")
    c1, c2 = st.columns(2)
    c1.metric(t("desk.todo"), f"{len(todo):,}")
    c2.metric(t("desk.col.overdue"), f"{int(todo['overdue'].sum()) if len(todo) else 0:,}")
    queue_table(todo, key="department.table", open_key=K_CASE, height=320)
    with st.expander(t("desk.fed_back"), icon=":material/history:"):
        done = cached_queue(
            ctx.store_key, ctx.rev("cases"), now, statuses=("handled",), dept_code=dept, limit=100
        )
        queue_table(done, key="department.done_table", open_key=K_CASE, height=240)
    st.divider()
    case_id = case_opener(open_key=K_CASE)
    if case_id:
        case_panel(ctx, case_id, viewer=viewer)
