"""网格规划 / Grid planning: check the current grids or a candidate file, see its impact, adopt it.

All logic lives in :mod:`layers.planner` (comparison, topology check, adoption) and
:mod:`spatial.topology`; this page only shows it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import html
import json
import tempfile
from pathlib import Path
from typing import Any

import folium
import geopandas as gpd
import pandas as pd
import shapely
import streamlit as st

import settings
from layers.grid_files import GRID_FORMATS
from layers.grids import load_grids
from layers.planner import GridComparison, adopt_grids, check_candidate, compare_grids, read_candidate
from layers.store import open_store
from layers.tabular import check_upload_size
from maps.base import base_map, finish, frame_to_datum, geojson_to_datum
from maps.geometry import display_grids
from maps.overlays import GridTips, grid_outlines, tooltip_html
from pages._common import (
    CACHE_TTL_S,
    assets_check,
    basemap_picker,
    context,
    open_store_ro,
    show_error,
    show_map,
    static_base,
)
from pages._i18n import language
from spatial.errors import OneGridError
from spatial.topology import TopologyReport

# Only small values live in the session: the chosen source, the selected problem, a done message.
K_SOURCE = "planner.source"
K_DONE = "planner.done"
SHAPEFILE_PARTS = ("shp", "shx", "dbf", "prj", "cpg")


def _t(zh: str, en: str) -> str:
    # This page's own words; the frame's language switch decides which one shows.
    return en if language() == "en" else zh


class UploadTooLargeError(OneGridError):
    """The upload holds no grid file the planner reads."""


def _upload_bytes(files: list[Any]) -> tuple[str, dict[str, bytes]]:
    """The uploaded file(s) by name, size-checked; returns (main file name, files)."""
    # The size rule every upload follows (layers.tabular); a shapefile's parts count together.
    check_upload_size(" + ".join(Path(f.name).name for f in files), sum(int(f.size) for f in files))
    data = {Path(f.name).name: f.getvalue() for f in files}
    shp = [n for n in data if n.lower().endswith(".shp")]
    main = shp[0] if shp else next(n for n in data if Path(n).suffix.lower() in GRID_FORMATS)
    return main, data


@st.cache_data(ttl=CACHE_TTL_S, show_spinner=False, max_entries=4)
def _analyse(
    key: tuple[str, int, int],
    rev: tuple[int, ...],
    digest: str,
    main: str | None,
    _files: dict[str, bytes] | None,
) -> tuple[gpd.GeoDataFrame, TopologyReport, GridComparison | None]:
    """Candidate (or current grids), its topology report and, for a candidate, its impact."""
    with open_store_ro(key[0]) as store:
        if main is None or _files is None:
            grids = load_grids(store)
            return grids, check_candidate(store, grids), None
        # The reader wants files on disk (GDAL); they live only as long as this call.
        with tempfile.TemporaryDirectory(prefix="onegrid-upload-") as tmp:
            for name, data in _files.items():
                (Path(tmp) / name).write_bytes(data)
            candidate = read_candidate(Path(tmp) / main)
        return candidate, check_candidate(store, candidate), compare_grids(store, candidate)


def _problem_features(report: TopologyReport) -> dict[str, Any]:
    gj = report.to_geojson()
    features: list[dict[str, Any]] = gj["features"]  # type: ignore[assignment]
    for f in features:
        p = f["properties"]
        # Codes come from an uploaded file: everything shown as HTML is escaped.
        p["tip"] = tooltip_html(
            [
                (_t("问题", "Problem"), p["kind"]),
                (_t("网格", "Grids"), p["codes"]),
                (_t("量", "Measure"), f"{p['measure']:.1f} {p['unit']}"),
                ("", p["message"]),
            ]
        )
    return gj


def _tips(grids: gpd.GeoDataFrame) -> GridTips:
    # Codes and names may come from an uploaded file: escaped before they reach the HTML tooltip.
    return GridTips(
        labels={"code": _t("网格", "Grid"), "name": _t("名称", "Name")},
        values={
            "code": [html.escape(str(c)) for c in grids["code"]],
            "name": [html.escape(str(n)) for n in grids["name"]],
        },
    )


def _display(grids: gpd.GeoDataFrame, level: int) -> gpd.GeoDataFrame:
    one = grids[grids["level"] == level]
    try:
        return display_grids(one)
    except (ValueError, shapely.errors.GEOSException):
        # A broken candidate cannot be simplified as a coverage; show it as it is.
        return one[~one.geometry.isna()].to_crs(settings.DISPLAY_CRS)


def _map(
    grids: gpd.GeoDataFrame,
    report: TopologyReport,
    reshaped: list[str],
    focus: tuple[float, float, float, float] | None,
) -> None:
    shown = grids[~grids.geometry.isna() & ~grids.geometry.is_empty]
    if shown.empty:
        return
    bounds = focus or tuple(shown.to_crs(settings.DISPLAY_CRS).total_bounds)
    basemap = basemap_picker()
    m = base_map(bounds=bounds, basemap=basemap)  # type: ignore[arg-type]
    for level, color, weight in ((3, "#3367d6", 0.8), (1, "#1a237e", 2.5)):
        d = frame_to_datum(_display(shown, level), datum=basemap.datum)
        if d.empty:
            continue
        tips = _tips(d)
        grid_outlines(
            d, tips=tips, name=_t(f"{level}级网格", f"Level {level}"), color=color, weight=weight
        ).add_to(m)
        if level == 3 and reshaped:
            hit = d["code"].isin(reshaped).to_numpy()
            if hit.any():
                grid_outlines(
                    d[hit], tips=_tips(d[hit]), name=_t("变更网格", "Reshaped"), color="#ff8f00", weight=2.5
                ).add_to(m)
    if report.problems:
        folium.GeoJson(
            geojson_to_datum(_problem_features(report), datum=basemap.datum),
            name=_t("拓扑问题", "Problems"),
            style_function=lambda f: {
                "color": "#d62728",
                "weight": 3,
                "fillColor": "#d62728",
                "fillOpacity": 0.5,
            },
            marker=folium.CircleMarker(radius=7, color="#d62728", fill=True, fill_opacity=0.8),
            tooltip=folium.GeoJsonTooltip(fields=["tip"], labels=False),
        ).add_to(m)
    folium.LayerControl(collapsed=True).add_to(m)
    finish(m, base=static_base())
    show_map(m, key="planner.map", returned_objects=(), height=520)


def _focus(report: TopologyReport, row: int | None) -> tuple[float, float, float, float] | None:
    """Lon/lat bounds around the selected problem, padded so its neighbours show."""
    if row is None or not 0 <= row < len(report.problems):
        return None
    feat = report.to_geojson()["features"][row]  # type: ignore[index]
    g = shapely.geometry.shape(feat["geometry"])
    w, s, e, n = g.bounds
    pad = max(e - w, n - s, 0.002) * 0.6
    return (w - pad, s - pad, e + pad, n + pad)


def _problems(report: TopologyReport) -> int | None:
    """The problem table; returns the selected row."""
    if report.ok:
        st.success(
            _t(
                f"拓扑检查通过：{report.grids} 个网格，无缺口、重叠、无效几何、碎片或嵌套问题。",
                f"Topology is clean: {report.grids} grids, no gap, overlap, invalid geometry, "
                "sliver or nesting problem.",
            ),
            icon="✅",
        )
        return None
    counts = ", ".join(f"{k} {v}" for k, v in report.counts().items())
    st.error(
        _t(
            f"发现 {len(report.problems)} 个拓扑问题（{counts}）",
            f"{len(report.problems)} topology problem(s) ({counts})",
        ),
        icon="⚠️",
    )
    table = pd.DataFrame(report.to_records())
    event = st.dataframe(
        table[["kind", "level", "codes", "measure", "unit", "message"]],
        hide_index=True,
        width="stretch",
        on_select="rerun",
        selection_mode="single-row",
        key="planner.problems",
    )
    rows = getattr(getattr(event, "selection", None), "rows", None) or []
    return int(rows[0]) if rows else None


def _downloads(report: TopologyReport) -> None:
    c1, c2 = st.columns(2)
    c1.download_button(
        _t("下载问题 GeoJSON", "Download problems (GeoJSON)"),
        json.dumps(report.to_geojson(), ensure_ascii=False).encode("utf-8"),
        file_name="grid_problems.geojson",
        mime="application/geo+json",
        key="planner.dl_geojson",
    )
    csv = pd.DataFrame(
        report.to_records(), columns=["kind", "level", "codes", "measure", "unit", "x", "y", "message"]
    ).to_csv(index=False)
    # utf-8-sig: Excel opens the Chinese text correctly.
    c2.download_button(
        _t("下载问题 CSV", "Download problems (CSV)"),
        csv.encode("utf-8-sig"),
        file_name="grid_problems.csv",
        mime="text/csv",
        key="planner.dl_csv",
    )


def _impact(cmp: GridComparison) -> None:
    st.subheader(_t("方案影响", "Impact of the candidate"))
    cols = st.columns(4)
    cols[0].metric(_t("变更网格", "Reshaped grids"), len(cmp.reshaped))
    cols[1].metric(_t("新增 / 撤销", "Added / removed"), f"{len(cmp.added)} / {len(cmp.removed)}")
    cols[2].metric(_t("改划部件", "Components moving"), f"{len(cmp.component_moves):,}")
    cols[3].metric(_t("改划在办案件", "Open cases moving"), f"{len(cmp.case_moves):,}")
    st.dataframe(cmp.per_level, hide_index=True, width="stretch")
    if len(cmp.reshaped):
        st.markdown(_t("**变更网格**", "**Reshaped grids**"))
        st.dataframe(cmp.reshaped, hide_index=True, width="stretch")
    if len(cmp.added) or len(cmp.removed):
        c1, c2 = st.columns(2)
        c1.markdown(_t("**新增网格**", "**Added grids**"))
        c1.dataframe(cmp.added, hide_index=True, width="stretch")
        c2.markdown(_t("**撤销网格**", "**Removed grids**"))
        c2.dataframe(cmp.removed, hide_index=True, width="stretch")
    c1, c2 = st.columns(2)
    c1.markdown(_t("**部件改划（原网格 → 新网格）**", "**Components: from → to grid**"))
    c1.dataframe(cmp.component_pairs, hide_index=True, width="stretch")
    c2.markdown(_t("**在办案件改划**", "**Open cases: from → to grid**"))
    c2.dataframe(cmp.case_pairs, hide_index=True, width="stretch")


def _adopt(ctx: Any, candidate: gpd.GeoDataFrame, report: TopologyReport) -> None:
    st.subheader(_t("启用新一代网格", "Adopt as a new generation"))
    if ctx.role != "planner":
        st.info(_t("只有规划员可以启用新网格。", "Only a planner may adopt grids."))
        return
    if not report.ok:
        st.warning(
            _t("方案存在拓扑问题，不能启用。", "The candidate has topology problems and cannot be adopted.")
        )
        return
    with st.form("planner.adopt"):
        valid_from = st.date_input(
            _t("生效日期", "Valid from"),
            value=dt.date.today() + dt.timedelta(days=1),
            key="planner.valid_from",
        )
        note = st.text_input(_t("说明", "Note"), key="planner.note")
        sure = st.checkbox(
            _t("我已核对方案影响，确认启用", "I have checked the impact; adopt it"), key="planner.sure"
        )
        go = st.form_submit_button(_t("启用", "Adopt"), type="primary")
    if not go:
        return
    if not sure:
        st.warning(_t("请先勾选确认。", "Tick the confirmation first."))
        return
    actor = str(st.session_state.get("user") or _t("规划员", "planner"))
    try:
        with open_store(ctx.store_path) as store:
            res = adopt_grids(store, candidate, valid_from=valid_from, actor=actor, note=note)
    except OneGridError as exc:
        show_error(exc)
        return
    st.session_state[K_DONE] = _t(
        f"已启用第 {res.generation} 代网格（{res.valid_from} 起）："
        f"改划部件 {res.components_reassigned:,} 个，"
        f"在办案件 {res.cases_reassigned:,} 件。",
        f"Generation {res.generation} adopted from {res.valid_from}: "
        f"{res.components_reassigned:,} components "
        f"and {res.cases_reassigned:,} open cases reassigned.",
    )
    # The rerun compares the same upload with the generation just adopted: nothing left to change.
    st.rerun()


def main() -> None:
    st.title(_t("网格规划", "Grid planning"))
    assets_check()
    done = st.session_state.pop(K_DONE, None)
    if done:
        st.success(done)
    ctx = context()
    sources = {"current": _t("当前网格", "Current grids"), "upload": _t("上传方案", "Upload a candidate")}
    source = st.radio(
        _t("检查对象", "Check"), list(sources), format_func=sources.__getitem__, key=K_SOURCE, horizontal=True
    )
    main_file: str | None = None
    files: dict[str, bytes] | None = None
    digest = "current"
    if source == "upload":
        exts = sorted({s.lstrip(".") for s in GRID_FORMATS} | set(SHAPEFILE_PARTS))
        uploads = st.file_uploader(
            _t(
                f"网格文件（GeoJSON、GeoPackage、GeoParquet，或 Shapefile 的 .shp/.shx/.dbf/.prj；"
                f"不超过 {settings.MAX_UPLOAD_MB} MB）",
                f"Grid file (GeoJSON, GeoPackage, GeoParquet, or a Shapefile's .shp/.shx/.dbf/.prj; "
                f"at most {settings.MAX_UPLOAD_MB} MB)",
            ),
            type=exts,
            accept_multiple_files=True,
            key="planner.upload",
        )
        if not uploads:
            st.info(
                _t(
                    "请上传候选网格文件：每个网格一个面，字段 code（可选 name）。",
                    "Upload a candidate grid file: one polygon per grid, a code field (name optional).",
                )
            )
            return
        try:
            main_file, files = _upload_bytes(list(uploads))
        except (OneGridError, StopIteration) as exc:
            show_error(
                exc
                if isinstance(exc, OneGridError)
                else UploadTooLargeError(_t("没有可读取的网格文件", "none of the files is a grid file"))
            )
            return
        h = hashlib.sha256()
        for name in sorted(files):
            h.update(name.encode())
            h.update(files[name])
        digest = h.hexdigest()

    try:
        with st.spinner(_t("检查中…", "Checking…")):
            candidate, report, cmp = _analyse(
                ctx.store_key, ctx.rev("grids", "components", "cases"), digest, main_file, files
            )
    except OneGridError as exc:
        show_error(exc)
        return
    row = _problems(report)
    _map(candidate, report, cmp.reshaped["code"].tolist() if cmp is not None else [], _focus(report, row))
    _downloads(report)
    if cmp is not None:
        _impact(cmp)
        _adopt(ctx, candidate, report)


main()
