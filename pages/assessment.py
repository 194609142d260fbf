"""考核排名 Assessment: the ranking with score bars, the bottom three, month or bimonthly bulletin,
a map of scores, the cases behind every number and the XLSX report."""

from __future__ import annotations

import streamlit as st

from layers import indicators as ind
from layers.codes import grid_prefix
from maps.assessment import score_map
from maps.base import finish
from pages._assess import (
    cached_assessment,
    cached_case_list,
    cached_cases,
    cached_xlsx,
    case_table,
    default_month,
    floor_rates,
    months_of,
    names_text,
    rate_columns,
    scope_selector,
)
from pages._caches import cached_display_grids
from pages._common import basemap_picker, context, guarded, show_map, static_base
from pages._i18n import t

with guarded():
    ctx = context()
    scope = scope_selector(ctx)
    st.title(t("assess.title"))
    months = months_of(ctx)
    if not months:
        st.info(t("cockpit.no_cases"))
        st.stop()
    # A leader scoped to a town sees towns and that town's communities; to a department, departments.
    allowed = {"town": ("town", "community"), "department": ("department",)}.get(
        scope.kind, ("town", "department", "community", "centre")
    )
    c1, c2, c3 = st.columns([1, 1, 2])
    view = c1.radio(t("assess.view"), ("month", "bimonthly"), format_func=lambda v: t(f"assess.view.{v}"),
                    key="a_view", horizontal=True)  # fmt: skip
    if st.session_state.get("a_month") not in months:
        st.session_state["a_month"] = default_month(months, ctx)
    month = c2.selectbox(t("assess.month"), months, key="a_month")
    by = c3.radio(
        t("assess.by"), allowed, format_func=lambda v: t(f"assess.by.{v}"), key="a_by", horizontal=True
    )
    first = month
    if view == "bimonthly":  # the bulletin covers the month chosen and the one before
        first = ind.Period.of_months(month).previous().label
    result = cached_assessment(ctx.store_key, ctx.rev("cases", "grids", "catalog"), first, month, by)
    rows = result.rows
    if scope.kind == "town" and by == "community":
        rows = rows[rows["code"].str.startswith(grid_prefix(scope.code or "", level=1))]
    st.caption(t("assess.caption", as_of=result.as_of) + f" · {result.period.label}")
    if rows.empty:
        st.info(t("assess.no_rows"))
        st.stop()

    names = dict(zip(rows["code"], rows["name"], strict=True))
    st.warning(
        t("assess.bottom", names=names_text([c for c in result.bottom if c in names], names)), icon="⚠️"
    )
    tied = rows.loc[rows["tied"], "code"].tolist()
    if tied:
        st.caption(t("assess.ties", names=names_text(tied, names)))

    keys = [i.key for i in ind.INDICATORS]
    table = floor_rates(
        rows[["rank", "code", "name", "score", "bottom", *keys, "score_previous", "score_last_year"]]
    )
    table["bottom"] = table["bottom"].map({True: "▼", False: ""})
    cfg = rate_columns(table) | {
        "rank": st.column_config.NumberColumn(t("col.rank"), format="%d"),
        "code": st.column_config.TextColumn(t("col.code")),
        "name": st.column_config.TextColumn(t("col.name")),
        "score": st.column_config.ProgressColumn(t("col.score"), min_value=0, max_value=100, format="%.2f"),
        "bottom": st.column_config.TextColumn(t("col.bottom")),
        "score_previous": st.column_config.NumberColumn(t("col.score_previous"), format="%.2f"),
        "score_last_year": st.column_config.NumberColumn(t("col.score_last_year"), format="%.2f"),
    }
    # Tall enough for every town or department, the bottom three included, without scrolling.
    st.dataframe(
        table, hide_index=True, column_config=cfg, key="a_table", height=min(38 + 35 * len(table), 640)
    )

    with st.expander(
        t("assess.weights", title=result.scheme.title_zh if ctx.lang == "zh" else result.scheme.title_en)
    ):
        st.dataframe(
            [{"key": k, t("col.name"): t(f"ind.{k}"), "points": w} for k, w in result.scheme.weights.items()]
            + [{"key": f"− {k}", t("col.name"): f"{d.points} / case, ≤ {d.cap}", "points": None}
               for k, d in result.scheme.deductions.items()],
            hide_index=True,
        )  # fmt: skip
    with st.expander(t("assess.definitions")):
        st.dataframe(ind.indicator_table(), hide_index=True)

    st.download_button(
        t("assess.download"),
        data=cached_xlsx(ctx.store_key, ctx.rev("cases", "grids", "catalog"), first, month, by),
        file_name=f"assessment_{by}_{result.period.label}.xlsx",
        mime="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        icon=":material/download:",
        key="a_download",
    )

    # -- drill-down: every number opens the cases behind it --------------------------------------
    st.subheader(t("assess.drill"))
    d1, d2, d3 = st.columns(3)
    unit = d1.selectbox(t("assess.drill.unit"), rows["code"].tolist(), format_func=lambda c: f"{names[c]} ({c})",
                        key="a_unit")  # fmt: skip
    drillable = [i.key for i in ind.INDICATORS]
    key = d2.selectbox(
        t("assess.drill.indicator"), drillable, format_func=lambda k: t(f"ind.{k}"), key="a_ind"
    )
    part = "num"
    if ind.BY_KEY[key].denominator:
        part = d3.radio(t("assess.drill.part"), ("num", "den"), format_func=lambda p: t(f"assess.drill.{p}"),
                        key="a_part", horizontal=True)  # fmt: skip
    cases = cached_cases(ctx.store_key, ctx.rev("cases", "grids", "catalog"))
    ids = ind.behind(cases, result.period, by=by, code=unit, key=f"{key}:den" if part == "den" else key)
    st.caption(t("assess.drill.count", n=len(ids)))
    listed = cached_case_list(ctx.store_key, ctx.rev("cases"), tuple(sorted(ids)[:2000]))
    st.dataframe(case_table(listed), hide_index=True, key="a_cases")

    # -- map of scores (fixed classes) -----------------------------------------------------------
    if by in ("town", "community"):
        st.subheader(t("assess.map"))
        level = 1 if by == "town" else 2
        grids = cached_display_grids(ctx.store_key, ctx.rev("grids"), level)
        if scope.kind == "town":
            grids = grids[grids["code"].str.startswith(grid_prefix(scope.code or "", level=1))]
        basemap = basemap_picker(where=st)
        m = score_map(
            grids,
            dict(zip(rows["code"], rows["score"], strict=True)),
            basemap=basemap,
            labels={"name": t("col.name"), "score": t("col.score"), "no_data": t("legend.no_data")},
        )
        finish(m, base=static_base())
        show_map(m, key="a_map", returned_objects=(), height=460)
