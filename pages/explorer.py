"""Map explorer: grid coverage maps, case heat and components; click a grid for its panel."""

from __future__ import annotations

import dataclasses
import time

import numpy as np
import streamlit as st

from layers import analysis
from maps import events
from maps.choropleth import rate_text
from maps.livemap import live_map
from maps.views import coverage_spec
from pages._caches import (
    POINTS_DRAWN,
    STAFF_LISTED,
    cached_case_aggregates,
    cached_component_counts,
    cached_filter_options,
    cached_grid_points,
    cached_grids,
    cached_shapes,
    cached_staff,
    cached_top_types,
    components_in_view,
    grids_in_town,
)
from pages._common import (
    assets_check,
    basemap_picker,
    context,
    current_basemap,
    guarded,
    map_assets,
    map_labels,
)
from pages._i18n import official, official_labels, post_labels, t

MAP_KEY = "explorer_map"
PLAY_SECONDS = 1.5


def _remember_map_state() -> None:
    """Runs before the rerun a map interaction causes, so this run already draws for the new view.

    What the map reports is where it is on the basemap's tiles; it is kept in WGS84.
    """
    result = st.session_state.get(MAP_KEY) or {}
    basemap = current_basemap()
    view = events.view_of(result)
    if view is not None:
        st.session_state["x_view"] = events.view_in_wgs84(view, basemap)
    click = events.new_click(result, last=st.session_state.get("x_last_click"))
    if click is not None:
        st.session_state["x_last_click"] = click
        st.session_state["x_click"] = events.click_in_wgs84(click, basemap)


def _month_label(part: analysis.MonthPart) -> str:
    """A month only partly inside the dates says which of its days it holds: "2026-10" alone
    would read as the whole of October when the dates hold Oct 31 only."""
    if part.whole:
        return part.month
    first, last = f"{part.first:%m-%d}", f"{part.last:%m-%d}"
    if first == last:
        return t("explorer.month_day", month=part.month, first=first)
    return t("explorer.month_part", month=part.month, first=first, last=last)


# A month the play-through chose last run; a widget's value can only be set before it is drawn.
if "x_month_next" in st.session_state:
    st.session_state["x_month"] = st.session_state.pop("x_month_next")

with guarded():
    ctx = context()
    st.title(t("explorer.title"))
    majors, chans = cached_filter_options(ctx.store_key, ctx.rev("catalog", "cases"))
    major_names = {
        c: official("event_major", c, n) for c, n in zip(majors["code"], majors["name"], strict=True)
    }
    chan_names = dict(zip(chans["code"], chans["name" if ctx.lang == "zh" else "name_en"], strict=True))

    c1, c2, c3, c4 = st.columns(4)
    metric = c1.selectbox(
        t("metric.label"),
        ["none", *analysis.METRICS],
        format_func=lambda m: t(f"metric.{m}"),
        key="x_metric",
        index=1,
    )
    ev = c2.multiselect(
        t("explorer.event_class"),
        list(majors["code"]),
        format_func=lambda c: str(major_names.get(c, c)),
        key="x_event",
        placeholder=t("filter.all"),
    )
    ch = c3.multiselect(
        t("explorer.channel"),
        list(chans["code"]),
        format_func=lambda c: str(chan_names.get(c, c)),
        key="x_channel",
        placeholder=t("filter.all"),
    )
    stt = c4.multiselect(
        t("explorer.status"),
        list(analysis.STATUSES),
        format_func=lambda s: t(f"status.{s}"),
        key="x_status",
        placeholder=t("filter.all"),
    )
    c5, c6, c7, c8 = st.columns([4, 1, 1, 1])
    month_labels = {p.month: _month_label(p) for p in analysis.month_parts(ctx.start, ctx.end)}
    month_options = ["", *month_labels]
    if st.session_state.get("x_month") not in month_options:
        st.session_state["x_month"] = ""
    month = c5.select_slider(
        t("explorer.month"),
        month_options,
        format_func=lambda v: month_labels.get(v) or t("explorer.all_months"),
        key="x_month",
    )
    playing = st.session_state.get("x_playing", False)
    if c6.button(
        t("explorer.stop") if playing else t("explorer.play"),
        icon=":material/stop:" if playing else ":material/play_arrow:",
        key="x_play",
    ):
        playing = not playing
        st.session_state["x_playing"] = playing
    # Off at first: the heat covers the coverage colours the map opens with.
    show_heat = c7.toggle(t("explorer.show_heat"), value=False, key="x_heat")
    show_comp = c8.toggle(t("explorer.show_components"), value=False, key="x_comp")
    basemap = basemap_picker()

    start, end = analysis.month_window(month, within=(ctx.start, ctx.end)) if month else (ctx.start, ctx.end)
    flt = analysis.CaseFilter(
        start=start, end=end, event_majors=tuple(ev), channels=tuple(ch), statuses=tuple(stt), town=ctx.town
    )
    stats, heat, n_cases = cached_case_aggregates(ctx.store_key, ctx.rev("cases"), flt, ctx.level, show_heat)
    grids = grids_in_town(cached_grids(ctx.store_key, ctx.rev("grids"), ctx.level), ctx.town)
    shapes = cached_shapes(ctx.store_key, ctx.rev("grids"), ctx.level, ctx.town, basemap.datum)
    comps = cached_component_counts(ctx.store_key, ctx.rev("components"), ctx.level)
    table = analysis.coverage(grids, case_stats=stats, components=comps)
    circles = None
    if show_comp:
        pts = cached_grid_points(ctx.store_key, ctx.rev("grids"), ctx.level)
        pts = pts[pts["code"].isin(table["code"])]
        circles = pts.assign(count=comps.reindex(pts["code"]).fillna(0).to_numpy())
    labels = map_labels()

    view = st.session_state.get("x_view")
    comp_note = None
    points = None
    if show_comp and events.wants_points(view):
        points, total = components_in_view(ctx, view, limit=POINTS_DRAWN)
        points = points.assign(
            class_name=official_labels("component_class", points["class_code"], points["class_name"])
        )
        comp_note = (
            t("explorer.components_all", total=total)
            if len(points) == total
            else t("explorer.components_sampled", total=total, shown=len(points), limit=POINTS_DRAWN)
        )
        if ctx.town:
            comp_note += t("explorer.components_town")
    elif show_comp:
        comp_note = t("explorer.components_zoom", zoom=events.POINTS_ZOOM)

    click = st.session_state.get("x_click")
    code = analysis.grid_at(grids, lon=click[1], lat=click[0]) if click else None

    # A month of the range (the play steps through them) is coloured in classes drawn from every
    # month of the range, so a colour means the same from one month to the next.
    reference = None
    if month and metric != "none":
        per_month = []
        for m in month_labels:
            m_start, m_end = analysis.month_window(m, within=(ctx.start, ctx.end))
            m_flt = dataclasses.replace(flt, start=m_start, end=m_end)
            m_stats = cached_case_aggregates(ctx.store_key, ctx.rev("cases"), m_flt, ctx.level, False)[0]
            m_table = analysis.coverage(grids, case_stats=m_stats, components=comps)
            per_month.append(m_table[metric].to_numpy(dtype=float))
        reference = np.concatenate(per_month)

    # The map stays in the browser: a filter change restyles its grids and swaps the heat.
    spec, _ = coverage_spec(
        shapes=shapes,
        table=table,
        metric=None if metric == "none" else metric,
        labels=labels,
        basemap=basemap,
        assets=map_assets(),
        heat=heat if show_heat else None,
        component_circles=circles,
        components=points,
        selected=code,
        report_view=show_comp,
        fit_key=ctx.town or "",
        reference=reference,
    )

    left, right = st.columns([3, 1])
    with left:
        live_map(spec, key=MAP_KEY, on_change=_remember_map_state)
        notes = []
        if heat is not None:
            notes.append(
                t("explorer.heat_binned", n=n_cases, cell=heat.cell_m)
                if heat.binned
                else t("explorer.heat_raw", n=n_cases)
            )
        if comp_note:
            notes.append(comp_note)
        st.caption(" · ".join(notes) if notes else "")
        if not n_cases:
            st.info(t("explorer.no_cases"))

    with right:
        st.subheader(t("explorer.panel"))
        if code is None:
            st.caption(t("explorer.click_hint"))
        else:
            row = table[table["code"] == code].iloc[0]
            st.text(f"{row['name']}\n{code}")  # plain text: grid names are data, not markup
            a, b = st.columns(2)
            a.metric(t("col.cases"), f"{int(row['cases']):,}")
            b.metric(t("col.components"), f"{int(row['components']):,}")
            a.metric(t("col.open"), f"{int(row['open']):,}")
            b.metric(t("col.overdue"), f"{int(row['overdue']):,}")
            st.metric(t("col.closure_rate"), rate_text(row["closure_rate"]), help=t("rate.closure_help"))
            st.markdown(f"**{t('explorer.top_types')}**")
            top = cached_top_types(ctx.store_key, ctx.rev("cases", "catalog"), flt, code, ctx.level)
            st.dataframe(
                top[["name", "count"]].rename(columns={"name": t("col.event_type"), "count": t("col.count")}),
                hide_index=True,
            )
            staff, n_staff = cached_staff(
                ctx.store_key, ctx.rev("staff"), code, ctx.level, ctx.masked, STAFF_LISTED
            )
            st.markdown(f"**{t('explorer.staff')}** ({n_staff:,})")
            if len(staff) < n_staff:
                st.caption(t("explorer.staff_first", total=n_staff, shown=len(staff)))
            if staff.empty:
                st.caption(t("explorer.no_staff"))
            else:
                cols = ["grid_code", "role", "name", "phone", "id_number"]
                staff = staff.assign(role=post_labels(staff["role"], staff["specialty"]))
                st.dataframe(
                    staff[cols].rename(
                        columns={c: t(f"col.{c}") for c in cols if c != "name"} | {"name": t("col.name")}
                    ),
                    hide_index=True,
                )
    assets_check()

    if playing:
        months = month_options[1:]
        nxt = (
            months[(months.index(month) + 1)]
            if month in months and months.index(month) + 1 < len(months)
            else None
        )
        if month == "" and months:
            nxt = months[0]
        if nxt is None:
            st.session_state["x_playing"] = False
        else:
            time.sleep(PLAY_SECONDS)
            st.session_state["x_month_next"] = nxt
            st.rerun()
