"""网格通 / Grid head: the open and recent cases of one's grid, and its staff roster (masked).

Cases come from :mod:`layers.cases`; the roster from :mod:`layers.analysis` through the frame's cache.
"""

from __future__ import annotations

import streamlit as st

from layers import cases, workflow
from pages._common import context, guarded
from pages._desk import (
    K_GRID,
    actor_name,
    cached_grid_cases,
    cached_roster,
    case_opener,
    case_panel,
    clock,
    grid_names,
    queue_table,
    show_done,
)
from pages._i18n import t

K_CASE = "gridhead.case"

with guarded():
    ctx = context()
    names = grid_names(ctx)
    codes = list(names)
    if st.session_state.get(K_GRID) not in names:
        st.session_state[K_GRID] = codes[0]
    st.sidebar.selectbox(t("gridhead.grid"), codes, format_func=names.__getitem__, key=K_GRID)
    grid = str(st.session_state[K_GRID])
    viewer = cases.Viewer(role=ctx.role, actor=actor_name(ctx.role, grid))
    st.title(t("page.gridhead"), anchor=False)
    st.text(names[grid])  # grid names are data: shown as text
    show_done()
    days = st.select_slider(t("gridhead.days"), options=(7, 30, 90), value=30, key="gridhead.days")
    frame = cached_grid_cases(ctx.store_key, ctx.rev("cases"), clock(), grid, int(days))
    open_n = int(frame["status"].isin(workflow.OPEN_STATES).sum())
    c1, c2, c3 = st.columns(3)
    c1.metric(t("gridhead.open"), f"{open_n:,}")
    c2.metric(t("gridhead.recent", days=days), f"{len(frame):,}")
    c3.metric(t("desk.col.overdue"), f"{int(frame['overdue'].sum()) if len(frame) else 0:,}")
    tab_cases, tab_staff = st.tabs([t("gridhead.cases"), t("gridhead.staff")])
    with tab_cases:
        queue_table(frame, key="gridhead.table", open_key=K_CASE, height=320)
    with tab_staff:
        staff, total = cached_roster(ctx.store_key, ctx.rev("staff"), grid, ctx.masked)
        st.caption(t("gridhead.staff_n", n=total))
        st.dataframe(
            staff.rename(columns={c: t(f"col.{c}") for c in staff.columns}), hide_index=True, width="stretch"
        )
    case_id = case_opener(open_key=K_CASE)
    if case_id:
        case_panel(ctx, case_id, viewer=viewer)
