"""研判分析 Analysis: the Gi* hot-spot map with its significance, the emerging hot-spot classes,
the rhythm of reports by hour and weekday, and the forecasts with their bands and backtest error."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from layers import hotspots
from layers.rhythm import hour_weekday_matrix
from maps.assessment import hotspot_map
from maps.base import finish
from pages._assess import (
    cached_forecast,
    cached_hotspots,
    cached_names,
    cached_rhythm,
    default_month,
    months_of,
)
from pages._caches import cached_display_grids
from pages._common import basemap_picker, context, guarded, show_map, static_base
from pages._i18n import official, t

with guarded():
    ctx = context()
    st.title(t("analysis.title"))
    st.caption(t("analysis.caption", alpha=hotspots.ALPHA))
    months = months_of(ctx)
    if not months:
        st.info(t("cockpit.no_cases"))
        st.stop()
    rev = ctx.rev("cases", "grids")
    if st.session_state.get("n_last") not in months:
        st.session_state["n_last"] = default_month(months, ctx)
    last = st.selectbox(t("analysis.months"), months, key="n_last")
    window = tuple(m for m in months if m <= last)[:12][::-1]  # up to a year, oldest first
    spots = cached_hotspots(ctx.store_key, rev, window)

    # -- hot-spot map ---------------------------------------------------------------------------
    st.subheader(t("analysis.hotspots"))
    if st.session_state.get("n_month") not in window:
        st.session_state["n_month"] = window[-1]
    shown = st.select_slider(t("analysis.month"), window, key="n_month")
    cells = spots.cells[spots.cells["month"] == shown]
    st.caption(t("analysis.hot_share", hot=int((cells["spot"] == "hot").sum()),
                 cold=int((cells["spot"] == "cold").sum()), n=len(cells)))  # fmt: skip
    grids = cached_display_grids(ctx.store_key, ctx.rev("grids"), 3)
    basemap = basemap_picker(where=st)
    labels = {
        "name": t("col.name"), "cases": t("col.cases"), "z": t("col.z"), "p": t("col.p"),
        "class": t("col.spot"), "spot": t("spot"),
        **{f"spot.{k}": t(f"spot.{k}") for k in ("hot_strong", "hot", "none", "cold", "cold_strong")},
    }  # fmt: skip
    m = hotspot_map(grids, cells, basemap=basemap, labels=labels)
    finish(m, base=static_base())
    show_map(m, key="n_map", returned_objects=(), height=480)

    # -- emerging classes -------------------------------------------------------------------------
    st.subheader(t("analysis.emerging", first=window[0], last=window[-1]))
    counts = spots.classes["class"].value_counts()
    explained = pd.DataFrame(
        [
            {
                t("col.class"): t(f"emerging.{k}"),
                "n": int(counts.get(k, 0)),
                "": t(f"emerging.{k}.help"),
            }
            for k in hotspots.CLASSES
        ]
    )
    st.dataframe(explained, hide_index=True, key="n_classes")
    grid_names = cached_names(ctx.store_key, ctx.rev("grids"), "grid")
    flagged = spots.classes[spots.classes["class"] != "none"].copy()
    flagged.insert(1, "name", flagged["code"].map(grid_names))
    flagged["class"] = flagged["class"].map(lambda k: t(f"emerging.{k}"))
    flagged = flagged.rename(columns={c: t(f"hotspot.col.{c}") for c in flagged.columns})
    st.dataframe(flagged, hide_index=True, key="n_flagged")

    # -- rhythm -----------------------------------------------------------------------------------
    st.subheader(t("analysis.rhythm"))
    r1, r2 = st.columns([1, 3])
    split = r1.radio(t("analysis.rhythm.by"), ("all", "channel", "major"),
                     format_func=lambda v: t(f"analysis.rhythm.{v}"), key="n_split")  # fmt: skip
    frame = cached_rhythm(
        ctx.store_key, rev, window[0], window[-1], None if split == "all" else split, "district"
    )
    if split != "all":
        names = cached_names(ctx.store_key, ctx.rev("catalog"), split, ctx.lang)
        choices = sorted(frame["key"].unique())
        key = r1.selectbox(
            t("analysis.rhythm.key"), choices, format_func=lambda c: names.get(c, c), key="n_key"
        )
        frame = frame[frame["key"] == key]
    matrix = hour_weekday_matrix(frame)
    long = matrix.stack().rename("cases").reset_index()
    long["day"] = long["weekday"].map(lambda d: t(f"weekday.{d}"))
    with r2:
        import altair as alt

        order = [t(f"weekday.{d}") for d in range(7)]
        heat = (
            alt.Chart(long)
            .mark_rect()
            .encode(
                x=alt.X("hour:O", title="h"),
                y=alt.Y("day:N", sort=order, title=None),
                color=alt.Color("cases:Q", scale=alt.Scale(scheme="yelloworangered"), title=t("col.cases")),
                tooltip=["day", "hour", "cases"],
            )
        )
        st.altair_chart(heat, width="stretch")
        st.bar_chart(matrix.sum(axis=0).rename(t("col.cases")))

    # -- forecasts ----------------------------------------------------------------------------------
    st.subheader(t("analysis.forecast"))
    town_names = cached_names(ctx.store_key, ctx.rev("grids"), "town")
    major_names = {
        c: official("event_major", c, n)
        for c, n in cached_names(ctx.store_key, ctx.rev("catalog"), "major").items()
    }
    f1, f2 = st.columns(2)
    town = f1.selectbox(t("cockpit.drill.town"), ["", *sorted(town_names)], key="n_fc_town",
                        format_func=lambda c: town_names[c] if c else t("scope.district"))  # fmt: skip
    major = f2.selectbox(t("analysis.rhythm.major"), ["", *sorted(major_names)], key="n_fc_major",
                         format_func=lambda c: f"{major_names[c]} ({c})" if c else t("analysis.rhythm.all"))  # fmt: skip
    parts = [*([f"town:{town}"] if town else []), *([f"major:{major}"] if major else [])]
    series = "|".join(parts) or "district"
    fc = cached_forecast(ctx.store_key, ctx.rev("cases", "catalog"), series)
    hist = fc.history[series].rename("actual").to_frame()
    ahead = fc.forecast[fc.forecast["series"] == series].set_index("month")[["value", "low", "high"]]
    chart = pd.concat([hist, ahead], axis=1)
    st.line_chart(chart)
    summary = fc.summary[fc.summary["series"] == series].iloc[0]
    st.caption(t("analysis.forecast.note", kind=summary["baseline"], winner=summary["winner"]))
    st.dataframe(ahead.reset_index(), hide_index=True, key="n_ahead")
    st.caption(t("analysis.forecast.errors"))
    st.dataframe(fc.errors[fc.errors["series"] == series], hide_index=True, key="n_errors")
