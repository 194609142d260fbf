"""受理 / Intake (seat operator): take a report — event type, channel, description, the reporter's
phone, the place (a map click or typed WGS84 / GCJ-02 coordinates) — see its grid, routed body and
any duplicate candidate before saving; then save it as a new case, or (when it repeats an open
case) as a duplicate report linked to the candidate the operator picks.

Locating, routing and duplicate finding live in :mod:`layers.intake`.
"""

from __future__ import annotations

import streamlit as st

from layers import cases, intake
from maps.base import finish
from maps.casemap import Outline, Spot, desk_map, point_bounds
from maps.geometry import lonlat_bounds
from pages._caches import cached_display_grids, district, open_store_ro
from pages._common import (
    Context,
    assets_check,
    basemap_picker,
    context,
    current_basemap,
    guarded,
    show_map,
    static_base,
)
from pages._desk import (
    K_DONE,
    actor_name,
    attempt,
    cached_channels,
    cached_event_types,
    candidates_view,
    save_report,
    show_done,
    show_preview,
)
from pages._i18n import t

# Only ids and small values live in the session: the form's generation (a new one empties the
# form after a save), the last map click handled and the case just saved.
K_NONCE = "intake.nonce"
K_RAW_CLICK = "intake.raw_click"
K_SAVED = "intake.saved"
K_PENDING = "intake.pending"
CRS_CHOICES = ("EPSG:4326", "GCJ02")


def _key(name: str) -> str:
    return f"intake.{name}.{st.session_state.get(K_NONCE, 0)}"


def _place_map(ctx: Context, preview: intake.Preview | None) -> None:
    """Towns, the chosen point and its grid; a click that is new fills the coordinates (WGS84)."""
    basemap = basemap_picker()
    towns = cached_display_grids(ctx.store_key, ctx.rev("grids"), 1)
    outlines = [Outline(towns, name=t("layer.grids"), code_label=t("col.code"), name_label=t("col.name"))]
    spots = []
    bounds = lonlat_bounds(towns)
    if preview is not None:
        grids = cached_display_grids(ctx.store_key, ctx.rev("grids"), 3)
        outlines.append(
            Outline(
                grids[grids["code"] == preview.grid_l3],
                name=t("desk.col.grid_l3"),
                code_label=t("col.code"),
                name_label=t("col.name"),
                color="#d62728",
                weight=2.5,
            )
        )
        spots.append(Spot(lon=preview.lon, lat=preview.lat, rows=((t("desk.col.grid_l3"), preview.grid_l3),)))
        bounds = point_bounds(preview.lon, preview.lat, pad=0.01)
    m = desk_map(bounds=bounds, basemap=basemap, outlines=outlines, spots=spots)
    finish(m, base=static_base())
    result = show_map(m, key=_key("map"), returned_objects=("last_clicked",), height=380)
    last = result.get("last_clicked")
    try:
        lon, lat = float(last["lng"]), float(last["lat"])  # type: ignore[index]
    except (TypeError, KeyError, ValueError):
        return
    # The widget repeats its last click on every rerun; only a click not seen before is new.
    if (lon, lat) == st.session_state.get(K_RAW_CLICK):
        return
    st.session_state[K_RAW_CLICK] = (lon, lat)
    w_lon, w_lat = current_basemap().from_map([lon], [lat])  # where the user saw it → WGS84
    # The coordinate boxes are drawn already in this run: they take the click on the next one.
    st.session_state[K_PENDING] = (round(float(w_lon[0]), 6), round(float(w_lat[0]), 6))
    st.rerun()


def _take_pending_click() -> None:
    pending = st.session_state.pop(K_PENDING, None)
    if pending:
        st.session_state[_key("crs")] = "EPSG:4326"
        st.session_state[_key("x")], st.session_state[_key("y")] = pending


def _saved_case(ctx: Context) -> None:
    """The case just saved, as everyone now sees it (the phone masked)."""
    case_id = st.session_state.get(K_SAVED)
    if not case_id:
        return
    with open_store_ro(ctx.store_path) as store:
        case = attempt(lambda: cases.get_case(store, case_id))
    if case is None:
        return
    with st.expander(t("intake.saved", id=case_id), expanded=True, icon=":material/task:"):
        st.dataframe(
            {
                t("desk.field"): [
                    t("desk.col.id"),
                    t("desk.col.status"),
                    t("desk.col.event_name"),
                    t("desk.col.dept_name"),
                    t("desk.col.reporter_phone"),
                ],
                t("desk.value"): [
                    str(case["id"]),
                    t(f"wf.state.{case['status']}"),
                    str(case.get("event_name") or ""),
                    str(case.get("dept_name") or ""),
                    str(case.get("reporter_phone") or ""),
                ],
            },
            hide_index=True,
        )
        st.text(str(case.get("description") or ""))


def _preview_and_save(ctx: Context, draft: intake.ReportDraft, preview: intake.Preview) -> None:
    """The grid, body and duplicate candidates of the report; saving it."""
    st.subheader(t("intake.preview"), anchor=False)
    p1, p2 = st.columns([2, 3])
    with p1:
        show_preview(preview)
    link_to = None
    with p2:
        if len(preview.candidates):
            st.warning(t("intake.duplicates", n=len(preview.candidates)), icon=":material/content_copy:")
            st.dataframe(candidates_view(preview.candidates), hide_index=True, width="stretch")
            # The duplicate rules link a report that repeats an open case; the operator picks which.
            link_to = st.radio(
                t("intake.link"),
                preview.candidates["case_id"].astype(str).tolist(),
                format_func=lambda c: t("intake.link_to", id=c),
                key=_key("link"),
            )
        else:
            st.caption(t("intake.no_duplicates"))
    if not st.button(t("intake.save"), type="primary", icon=":material/save:", key=_key("save")):
        return
    saved = attempt(lambda: save_report(ctx, draft, link_to=link_to, actor=actor_name("operator")))
    if saved is not None:
        outcome, case_id = saved
        st.session_state[K_SAVED] = case_id
        st.session_state[K_DONE] = t(f"intake.done.{outcome}", id=case_id)
        st.session_state[K_NONCE] = st.session_state.get(K_NONCE, 0) + 1  # an empty form
        st.session_state.pop(K_RAW_CLICK, None)
        st.rerun()


with guarded():
    ctx = context()
    st.title(t("page.intake"), anchor=False)
    assets_check()
    show_done()
    _saved_case(ctx)
    _take_pending_click()
    types = cached_event_types(ctx.store_key, ctx.rev("catalog"))
    channels = cached_channels(ctx.store_key, ctx.rev("catalog"))
    type_names = dict(zip(types["code"], types["name"] + " · " + types["major_name"], strict=True))
    chan_col = "name_en" if ctx.lang == "en" else "name"
    chan_names = dict(zip(channels["code"], channels[chan_col], strict=True))
    crs_names = {c: t(f"intake.crs.{c}") for c in CRS_CHOICES}

    left, right = st.columns([3, 2])
    with right:
        event = st.selectbox(
            t("intake.event"),
            list(type_names),
            index=None,
            format_func=type_names.__getitem__,
            placeholder=t("intake.event_hint"),
            key=_key("event"),
        )
        channel = st.selectbox(
            t("intake.channel"), list(chan_names), format_func=chan_names.__getitem__, key=_key("channel")
        )
        description = st.text_area(t("intake.description"), key=_key("description"), height=100)
        c1, c2 = st.columns(2)
        phone = c1.text_input(t("intake.phone"), key=_key("phone"), max_chars=20)
        address = c2.text_input(t("intake.address"), key=_key("address"))
        st.caption(t("intake.place_hint"))
        crs = st.radio(
            t("intake.crs"), CRS_CHOICES, format_func=crs_names.__getitem__, horizontal=True, key=_key("crs")
        )
        c1, c2 = st.columns(2)
        x = c1.number_input(t("intake.lon"), value=None, format="%.6f", key=_key("x"))
        y = c2.number_input(t("intake.lat"), value=None, format="%.6f", key=_key("y"))

    preview: intake.Preview | None = None
    draft: intake.ReportDraft | None = None
    if event and description.strip() and x is not None and y is not None:
        draft = intake.ReportDraft(
            event=event,
            channel=channel,
            description=description,
            x=float(x),
            y=float(y),
            crs=crs,
            phone=phone.strip(),
            address=address,
        )
        ready = draft
        with right:
            preview = attempt(lambda: intake.preview_report(district(ctx), ready))
    with left:
        _place_map(ctx, preview)

    if draft is None:
        st.info(t("intake.need"), icon=":material/edit_location_alt:")
    elif preview is not None:
        _preview_and_save(ctx, draft, preview)
