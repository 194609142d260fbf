"""领导驾驶舱 Leaders' cockpit: key figures against last month and last year, the trend, the channel
mix, the worst event types and a drill-down district → town → community → grid, all within the
leader's scope (the district, one town or one department)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from layers import indicators as ind
from pages._assess import (
    cached_case_list,
    cached_cases,
    cached_names,
    case_table,
    default_month,
    floor_rates,
    months_of,
    rate_columns,
    scope_mask,
    scope_name,
    scope_selector,
)
from pages._common import context, guarded
from pages._i18n import t

FIGURES = ("registered", "closed", "closure_rate", "on_time_rate", "satisfaction_rate", "overdue",
           "handling_hours_mean")  # fmt: skip


def _fmt(key: str, value: float | None) -> str:
    kind = ind.BY_KEY[key].kind
    if value is None or not np.isfinite(value):
        return "—"
    if kind == "rate":
        return ind.rate_text(value)
    if kind == "hours":
        return f"{value:.1f} h"
    return f"{int(value):,}"


def _delta(key: str, now: float | None, before: float | None) -> str | None:
    if now is None or before is None or not (np.isfinite(now) and np.isfinite(before)):
        return None
    kind = ind.BY_KEY[key].kind
    d = now - before
    if kind == "rate":
        return t("delta.pt", d=d * 100)
    if kind == "hours":
        return t("delta.h", d=d)
    return f"{int(d):+,}"


def _total(cases: ind.CaseArrays, period: ind.Period, within: np.ndarray | None) -> dict[str, float | None]:
    table = ind.compute(cases, period, by="all", within=within)
    if table.empty:
        return dict.fromkeys(FIGURES)
    row = table.iloc[0]
    return {k: float(row[k]) for k in FIGURES}


with guarded():
    ctx = context()
    scope = scope_selector(ctx)
    st.title(t("cockpit.title"))
    months = months_of(ctx)
    if not months:
        st.info(t("cockpit.no_cases"))
        st.stop()
    if st.session_state.get("c_month") not in months:
        st.session_state["c_month"] = default_month(months, ctx)
    month = st.selectbox(t("assess.month"), months, key="c_month")
    rev = ctx.rev("cases", "grids", "catalog")
    cases = cached_cases(ctx.store_key, rev)
    within = scope_mask(cases, scope)
    period = ind.Period.of_months(month)
    as_of = str(np.datetime64(int(cases.as_of), "s"))
    st.caption(t("cockpit.caption", scope=scope_name(ctx, scope), month=month, as_of=as_of))

    now = _total(cases, period, within)
    before = _total(cases, period.previous(), within)
    last_year = _total(cases, period.last_year(), within)
    cols = st.columns(len(FIGURES))
    for col, key in zip(cols, FIGURES, strict=True):
        col.metric(
            t(f"ind.{key}"),
            _fmt(key, now[key]),
            delta=_delta(key, now[key], before[key]),
            delta_color="normal" if ind.BY_KEY[key].higher_is_better else "inverse",
            help=ind.BY_KEY[key].formula,
        )
        col.caption(t("cockpit.vs_last_year", value=_fmt(key, last_year[key])))
    if not now["registered"] and not now["closed"]:
        st.info(t("cockpit.no_cases"))
    with st.expander(t("assess.drill")):  # every key figure opens the cases behind it
        d1, d2 = st.columns([2, 1])
        figure = d1.selectbox(
            t("assess.drill.indicator"), FIGURES, format_func=lambda k: t(f"ind.{k}"), key="c_fig"
        )
        part = "num"
        if ind.BY_KEY[figure].denominator:
            part = d2.radio(t("assess.drill.part"), ("num", "den"), format_func=lambda p: t(f"assess.drill.{p}"),
                            key="c_part", horizontal=True)  # fmt: skip
        ids = ind.behind(cases, period, by="town", code=None, key=f"{figure}:den" if part == "den" else figure,
                         within=within)  # fmt: skip
        st.caption(t("assess.drill.count", n=len(ids)))
        st.dataframe(
            case_table(cached_case_list(ctx.store_key, rev, tuple(sorted(ids)[:2000]))),
            hide_index=True,
            key="c_cases",
        )

    left, right = st.columns(2)
    with left:
        st.subheader(t("cockpit.trend"))
        # Whole months only: the month the data begins in is left out when it begins inside it.
        begins = f"{ctx.span[0]:%Y-%m}" if ctx.span and ctx.span[0].day != 1 else None
        whole = [m for m in months if m != begins] or months
        shown = [m for m in whole if m <= month][:12][::-1]
        trend = pd.DataFrame(
            [
                {"month": m, **{k: v for k, v in _total(cases, ind.Period.of_months(m), within).items()}}
                for m in shown
            ]
        ).set_index("month")
        st.line_chart(trend[["registered", "closed", "overdue"]].rename(columns=lambda k: t(f"ind.{k}")))
        st.line_chart((trend[["closure_rate", "on_time_rate", "satisfaction_rate"]] * 100).rename(
            columns=lambda k: t(f"ind.{k}")))  # fmt: skip
    with right:
        st.subheader(t("cockpit.channels"))
        channels = ind.compute(cases, period, by="channel", within=within)
        names = cached_names(ctx.store_key, rev, "channel", ctx.lang)
        mix = channels["reported"].rename(index=lambda c: names.get(c, c)).sort_values(ascending=False)
        st.bar_chart(mix, horizontal=True)
        st.subheader(t("cockpit.worst"))
        types = ind.compute(cases, period, by="event_type", within=within)
        tnames = cached_names(ctx.store_key, rev, "event_type")
        worst = types.sort_values(["overdue", "due"], ascending=False).head(10).reset_index()
        worst.insert(1, "name", worst["code"].map(tnames))
        worst = floor_rates(worst[["code", "name", "overdue", "due", "on_time_rate", "closure_rate"]])
        st.dataframe(worst, hide_index=True, column_config=rate_columns(worst), key="c_worst")

    # -- drill-down --------------------------------------------------------------------------------
    st.subheader(t("cockpit.drill"))
    keys = ["registered", "due", "closed", "closure_rate", "on_time_rate", "satisfaction_rate", "overdue"]
    town_names = cached_names(ctx.store_key, rev, "town")
    community_names = cached_names(ctx.store_key, rev, "community")
    grid_names = cached_names(ctx.store_key, rev, "grid")

    def level_table(by: str, mask: np.ndarray | None, names: dict[str, str]) -> pd.DataFrame:
        table = ind.compute(cases, period, by=by, within=mask).reset_index()
        table.insert(1, "name", table["code"].map(names).fillna(table["code"]))
        return floor_rates(table[["code", "name", *keys]])

    def show(table: pd.DataFrame, key: str) -> None:
        st.dataframe(table, hide_index=True, column_config=rate_columns(table), key=key)

    if scope.kind == "town":
        town: str | None = scope.code
    else:
        towns = level_table("town", within, town_names)
        show(towns, "c_towns")
        if st.session_state.get("c_town") not in ["", *towns["code"]]:
            st.session_state["c_town"] = ""
        town = st.selectbox(
            t("cockpit.drill.town"), ["", *towns["code"]],
            format_func=lambda c: town_names.get(c, t("cockpit.drill.all")) if c else t("cockpit.drill.all"),
            key="c_town",
        ) or None  # fmt: skip
    if town:
        in_town = ind.scope_mask(cases, town=town)
        mask = in_town if within is None else within & in_town  # type: ignore[operator]
        communities = level_table("community", mask, community_names)
        show(communities, "c_communities")
        if st.session_state.get("c_community") not in ["", *communities["code"]]:
            st.session_state["c_community"] = ""
        community = st.selectbox(
            t("cockpit.drill.community"), ["", *communities["code"]],
            format_func=lambda c: community_names.get(c, c) if c else t("cockpit.drill.all"),
            key="c_community",
        )  # fmt: skip
        if community:
            in_comm = ind.scope_mask(cases, community=community)
            assert in_comm is not None and mask is not None
            show(level_table("grid", mask & in_comm, grid_names), "c_grids")
