"""巡查 / Inspector (made for a phone's width): in the inspector's own grids, the reports waiting to
be verified (核实) and the handled cases waiting to be checked (核查), nearest first from where the
inspector says they stand; verify or check one with a note; report a new problem from that spot.

Tasks, distances and transitions live in :mod:`layers.cases`; reports in :mod:`layers.intake`.
"""

from __future__ import annotations

import streamlit as st

from layers import cases, intake
from pages._caches import district
from pages._common import Context, context, guarded
from pages._desk import (
    K_DONE,
    K_GRIDS,
    actor_name,
    attempt,
    cached_channels,
    cached_event_types,
    cached_inspector_tasks,
    case_opener,
    case_panel,
    grid_names,
    queue_table,
    save_report,
    show_done,
    show_preview,
)
from pages._i18n import t

K_CASE = "inspector.case"
K_NONCE = "inspector.nonce"  # a new one empties the report form after a save


def _report(ctx: Context, *, lon: float | None, lat: float | None, actor: str) -> None:
    """A new problem at the inspector's position: its grid and body shown before it is saved."""
    nonce = st.session_state.get(K_NONCE, 0)
    if lon is None or lat is None:
        st.caption(t("inspector.need_position"))
        return
    types = cached_event_types(ctx.store_key, ctx.rev("catalog"))
    channels = cached_channels(ctx.store_key, ctx.rev("catalog"))
    type_names = dict(zip(types["code"], types["name"], strict=True))
    chan_names = dict(zip(channels["code"], channels["name_en" if ctx.lang == "en" else "name"], strict=True))
    codes = list(chan_names)
    # The grid staff's own channel first when the catalog has one (网格员 app).
    staff = [i for i, c in enumerate(codes) if "网格" in str(channels["name"].iat[i])]
    event = st.selectbox(
        t("intake.event"),
        list(type_names),
        index=None,
        format_func=type_names.__getitem__,
        placeholder=t("intake.event_hint"),
        key=f"inspector.event.{nonce}",
    )
    channel = st.selectbox(
        t("intake.channel"),
        codes,
        index=staff[0] if staff else 0,
        format_func=chan_names.__getitem__,
        key=f"inspector.channel.{nonce}",
    )
    description = st.text_area(t("intake.description"), key=f"inspector.description.{nonce}", height=80)
    if not event:
        return
    draft = intake.ReportDraft(
        event=event, channel=channel, description=description, x=lon, y=lat, crs="EPSG:4326"
    )
    preview = attempt(lambda: intake.preview_report(district(ctx), draft))
    if preview is None:
        return
    show_preview(preview)
    if len(preview.candidates):
        st.warning(t("intake.duplicates", n=len(preview.candidates)), icon=":material/content_copy:")
    if st.button(t("intake.save"), type="primary", icon=":material/save:", key=f"inspector.save.{nonce}"):
        saved = attempt(lambda: save_report(ctx, draft, link_to=None, actor=actor))
        if saved is not None:
            outcome, case_id = saved
            st.session_state[K_DONE] = t(f"intake.done.{outcome}", id=case_id)
            st.session_state[K_NONCE] = nonce + 1
            st.rerun()


with guarded():
    ctx = context()
    st.title(t("page.inspector"), anchor=False)
    show_done()
    names = grid_names(ctx)
    st.session_state[K_GRIDS] = [g for g in st.session_state.get(K_GRIDS, []) if g in names]
    with st.expander(
        t("inspector.where"), expanded=not st.session_state[K_GRIDS], icon=":material/my_location:"
    ):
        st.multiselect(t("inspector.grids"), list(names), format_func=names.__getitem__, key=K_GRIDS)
        c1, c2 = st.columns(2)
        lon = c1.number_input(t("intake.lon"), value=None, format="%.6f", key="inspector.lon")
        lat = c2.number_input(t("intake.lat"), value=None, format="%.6f", key="inspector.lat")
    grids = tuple(st.session_state[K_GRIDS])
    if not grids:
        st.info(t("inspector.pick_grids"), icon=":material/grid_view:")
        st.stop()
    viewer = cases.Viewer(role=ctx.role, actor=actor_name(ctx.role))
    tasks = cached_inspector_tasks(
        ctx.store_key,
        ctx.rev("cases"),
        grids,
        None if lon is None else float(lon),
        None if lat is None else float(lat),
    )
    n_verify = int((tasks["task"] == "verify").sum()) if len(tasks) else 0
    st.caption(t("inspector.counts", verify=n_verify, check=len(tasks) - n_verify))
    queue_table(
        tasks[
            [
                c
                for c in ("id", "task", "distance_m", "event_name", "status", "deadline_at", "description")
                if c in tasks
            ]
        ]
        if len(tasks)
        else tasks,
        key="inspector.table",
        open_key=K_CASE,
        height=300,
    )
    case_id = case_opener(open_key=K_CASE)
    if case_id:
        case_panel(ctx, case_id, viewer=viewer)
    with st.expander(t("inspector.report"), icon=":material/add_a_photo:"):
        _report(
            ctx,
            lon=None if lon is None else float(lon),
            lat=None if lat is None else float(lat),
            actor=actor_name(ctx.role),
        )
