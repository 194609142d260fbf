"""Overview for every role: key figures for the sidebar's dates, town and grid level, and a
coverage map and table of the grids of that level."""

from __future__ import annotations

import streamlit as st

from layers import analysis
from maps.choropleth import rate_floor, rate_text
from maps.livemap import live_map
from maps.views import coverage_spec
from pages._caches import (
    cached_case_aggregates,
    cached_component_counts,
    cached_grids,
    cached_shapes,
    grids_in_town,
)
from pages._common import assets_check, basemap_picker, context, guarded, map_assets, map_labels
from pages._i18n import t

with guarded():
    ctx = context()
    st.title(t("home.title"))
    st.caption(
        t(
            "home.caption",
            district="吴中区" if ctx.lang == "zh" else "Wuzhong District",
            end=ctx.span[1] if ctx.span else "–",
        )
    )
    level = ctx.level
    flt = analysis.CaseFilter(start=ctx.start, end=ctx.end, town=ctx.town)
    stats, _, n_cases = cached_case_aggregates(ctx.store_key, ctx.rev("cases"), flt, level, False)
    comps = cached_component_counts(ctx.store_key, ctx.rev("components"), level)
    grids = grids_in_town(cached_grids(ctx.store_key, ctx.rev("grids"), level), ctx.town)
    table = analysis.coverage(grids, case_stats=stats, components=comps)

    # The map is sent to the browser first (its frame then loads Leaflet while the figures and
    # the table draw); the figures still show above it.
    figures = st.container()
    left, right = st.columns([3, 2])
    with left:
        basemap = basemap_picker(where=st)
        spec = coverage_spec(
            shapes=cached_shapes(ctx.store_key, ctx.rev("grids"), level, ctx.town, basemap.datum),
            table=table,
            metric="cases_per_km2",
            labels=map_labels(),
            basemap=basemap,
            assets=map_assets(),
            fit_key=ctx.town or "",
            height=480,
            report_clicks=False,  # the overview's map is for looking; the explorer answers clicks
        )[0]
        live_map(spec, key="home_map")
    with figures:
        cols = st.columns(5)
        closed, due = (
            int(stats["closed"].sum()) if len(stats) else 0,
            int(stats["due"].sum()) if len(stats) else 0,
        )
        cols[0].metric(t("home.cases"), f"{n_cases:,}")
        cols[1].metric(t("home.open"), f"{int(table['open'].sum()):,}")
        cols[2].metric(t("home.overdue"), f"{int(table['overdue'].sum()):,}")
        cols[3].metric(
            t("home.closure_rate"),
            rate_text(closed / due if due else float("nan")),
            help=t("rate.closure_help"),
        )
        cols[4].metric(t("home.components"), f"{int(table['components'].sum()):,}")
        if not n_cases:
            st.info(t("home.no_cases"))
    with right:
        st.subheader(t("home.table"))
        # Rates as percentages cut down to 0.1 (never rounded up to 100 %), so the table reads as
        # the figure above and the map's tooltips do.
        view = (
            table[["name", "code", "cases", "open", "overdue", "closure_rate", "components"]]
            .assign(closure_rate=rate_floor(table["closure_rate"].to_numpy(dtype=float)))
            .rename(columns={c: t(f"col.{c}") for c in table.columns})
        )
        st.dataframe(
            view,
            hide_index=True,
            height=440,
            column_config={
                t("col.closure_rate"): st.column_config.NumberColumn(
                    format="%.1f%%", help=t("rate.closure_help")
                )
            },
        )
    assets_check()
