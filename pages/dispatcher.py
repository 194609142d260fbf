"""指挥调度 / Dispatch (a centre's dispatcher or supervisor): the centre's queues by status, body,
town and overdue; the case detail with its actions; batch dispatch of registered cases.

The queue is drawn first (its table is what the dispatcher waits for); counts and the detail follow.
Queues, counts and transitions live in :mod:`layers.cases`.
"""

from __future__ import annotations

import streamlit as st

from layers import cases, workflow
from pages._caches import cached_grids
from pages._common import context, guarded
from pages._desk import (
    actor_name,
    cached_counts,
    cached_departments,
    cached_queue,
    case_opener,
    case_panel,
    centre_picker,
    clock,
    dispatch_batch,
    labels,
    queue_table,
    show_done,
)
from pages._i18n import t

K_CASE = "dispatch.case"
K_STATUS = "dispatch.status"

with guarded():
    ctx = context()
    centre, centre_name = centre_picker(ctx)
    viewer = cases.Viewer(role=ctx.role, actor=actor_name(ctx.role, centre_name), centre=centre)
    st.title(t("page.dispatcher"), anchor=False)
    show_done()
    now = clock()

    state_names = labels("wf.state", workflow.STATES)
    depts = cached_departments(ctx.store_key, ctx.rev("catalog"))
    dept_names = dict(zip(depts["code"], depts["name"], strict=True))
    towns = cached_grids(ctx.store_key, ctx.rev("grids"), 1)
    town_names = dict(zip(towns["code"], towns["name"], strict=True))
    if K_STATUS not in st.session_state:
        st.session_state[K_STATUS] = list(workflow.OPEN_STATES)
    c1, c2, c3, c4 = st.columns([3, 2, 2, 1], vertical_alignment="bottom")
    statuses = c1.multiselect(
        t("desk.col.status"), workflow.STATES, format_func=state_names.__getitem__, key=K_STATUS
    )
    dept = c2.selectbox(
        t("desk.col.dept_name"),
        ["", *dept_names],
        format_func=lambda c: dept_names.get(c, t("filter.all")),
        key="dispatch.dept",
    )
    town = c3.selectbox(
        t("desk.col.town_name"),
        ["", *town_names],
        format_func=lambda c: town_names.get(c, t("filter.all")),
        key="dispatch.town",
    )
    overdue = c4.toggle(t("desk.overdue_only"), key="dispatch.overdue")

    queue = cached_queue(
        ctx.store_key,
        ctx.rev("cases"),
        now,
        centre=centre,
        statuses=tuple(statuses) or None,
        dept_code=dept or None,
        town_code=town or None,
        overdue_only=overdue,
    )
    counts_box = st.container()
    st.caption(t("desk.queue_caption", n=len(queue), now=now))
    queue_table(queue, key="dispatch.table", open_key=K_CASE, height=320)

    with counts_box:
        counts = cached_counts(ctx.store_key, ctx.rev("cases"), now, centre)
        by_status = counts.set_index("status") if len(counts) else counts
        shown = [s for s in workflow.OPEN_STATES if s in by_status.index]
        cols = st.columns(max(len(shown), 1))
        for col, s in zip(cols, shown, strict=False):
            n, late = int(by_status.at[s, "n"]), int(by_status.at[s, "overdue"])
            col.metric(
                state_names[s],
                f"{n:,}",
                delta=t("desk.n_overdue", n=late) if late else None,
                delta_color="inverse",
            )

    dispatch_batch(ctx, queue, viewer=viewer)
    st.divider()
    case_id = case_opener(open_key=K_CASE)
    if case_id:
        case_panel(ctx, case_id, viewer=viewer)
