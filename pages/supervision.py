"""督办 / Supervision: the cases due soon and those overdue, with their cards, and the counts per
body and per town; issuing the yellow and red cards the deadlines call for.

Deadlines and cards are computed by :mod:`layers.cases` in working time.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from layers import cases
from layers.store import open_store
from pages._common import context, guarded
from pages._desk import (
    K_DONE,
    actor_name,
    attempt,
    cached_card_counts,
    cached_due_lists,
    case_opener,
    case_panel,
    centre_picker,
    clock,
    queue_table,
    show_done,
)
from pages._i18n import t

K_CASE = "supervision.case"
COUNT_COLUMNS = ("name", "code", "open", "due_soon", "yellow", "red", "overdue")


def _counts_view(frame: pd.DataFrame) -> pd.DataFrame:
    cols = [c for c in COUNT_COLUMNS if c in frame.columns]
    return frame[cols].rename(columns={c: t(f"desk.ccol.{c}") for c in cols})


with guarded():
    ctx = context()
    centre, centre_name = centre_picker(ctx)
    viewer = cases.Viewer(role=ctx.role, actor=actor_name(ctx.role, centre_name), centre=centre)
    st.title(t("page.supervision"), anchor=False)
    show_done()
    now = clock()
    hours = st.select_slider(t("desk.within"), options=(4, 8, 24, 48, 72), value=24, key="supervision.hours")
    soon, late = cached_due_lists(ctx.store_key, ctx.rev("cases"), now, float(hours), centre)
    c1, c2 = st.columns(2)
    c1.metric(t("desk.due_soon"), f"{len(soon):,}")
    c2.metric(t("desk.col.overdue"), f"{len(late):,}")
    tab_late, tab_soon, tab_dept, tab_town = st.tabs(
        [t("desk.col.overdue"), t("desk.due_soon"), t("desk.by_dept"), t("desk.by_town")]
    )
    with tab_late:
        queue_table(late, key="supervision.late", open_key=K_CASE, height=320)
    with tab_soon:
        queue_table(soon, key="supervision.soon", open_key=K_CASE, height=320)
    with tab_dept:
        frame = cached_card_counts(ctx.store_key, ctx.rev("cases"), now, "dept")
        st.dataframe(_counts_view(frame), hide_index=True, width="stretch")
    with tab_town:
        frame = cached_card_counts(ctx.store_key, ctx.rev("cases"), now, "town")
        st.dataframe(_counts_view(frame), hide_index=True, width="stretch")

    if st.button(t("desk.issue_cards"), icon=":material/style:", key="supervision.issue"):

        def issue() -> dict[str, int]:
            with open_store(ctx.store_path) as store:
                return cases.issue_cards(store)

        issued = attempt(issue)
        if issued is not None:
            st.session_state[K_DONE] = t("desk.cards_issued", **issued)
            st.rerun()
    st.divider()
    case_id = case_opener(open_key=K_CASE)
    if case_id:
        case_panel(ctx, case_id, viewer=viewer)
