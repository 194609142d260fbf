"""网格规划 / Grid planning: check the current grids or a candidate file, see its impact, adopt it.

All logic lives in :mod:`layers.planner` (comparison, topology check, adoption, generations) and
:mod:`spatial.topology`; this page only shows it. Every word it shows comes from
:mod:`pages._planner_text` through :func:`pages._i18n.t`.
"""

from __future__ import annotations

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
from layers.export import export_layer
from layers.grid_files import GRID_FORMATS
from layers.grids import load_grids
from layers.planner import (
    AdoptionError,
    GridComparison,
    adopt_grids,
    cancel_scheduled,
    check_candidate,
    compare_grids,
    generations,
    read_candidate,
)
from layers.store import open_store
from layers.tabular import check_upload_size
from layers.workcalendar import now_dt
from maps.base import base_map, finish, frame_to_datum, geojson_to_datum
from maps.geometry import display_grids
from maps.overlays import GridTips, grid_outlines, tooltip_html
from pages._common import (
    CACHE_TTL_S,
    assets_check,
    basemap_picker,
    context,
    open_store_ro,
    plain,
    show_error,
    show_map,
    static_base,
)
from pages._i18n import STRINGS, t
from spatial.errors import OneGridError
from spatial.topology import Problem, TopologyReport

# Only small values live in the session: the chosen source, the selected problem, a done message,
# the export format asked for.
K_SOURCE = "planner.source"
K_DONE = "planner.done"
K_EXPORT = "planner.export_ready"
SHAPEFILE_PARTS = ("shp", "shx", "dbf", "prj", "cpg")
#: Formats of the in-page export: the ones the planner reads back as a candidate.
EXPORT_FORMATS = {"geojson": "GeoJSON", "gpkg": "GeoPackage", "parquet": "GeoParquet"}
EXPORT_MIME = {"geojson": "application/geo+json", "gpkg": "application/geopackage+sqlite3"}


class NoGridFileError(OneGridError):
    """The upload holds no grid file the planner reads."""


def _upload_bytes(files: list[Any]) -> tuple[str, dict[str, bytes]]:
    """The uploaded file(s) by name, size-checked; returns (main file name, files)."""
    # The size rule every upload follows (layers.tabular); a shapefile's parts count together.
    check_upload_size(" + ".join(Path(f.name).name for f in files), sum(int(f.size) for f in files))
    data = {Path(f.name).name: f.getvalue() for f in files}
    shp = [n for n in data if n.lower().endswith(".shp")]
    grid = [n for n in data if Path(n).suffix.lower() in GRID_FORMATS]
    if not shp and not grid:
        raise NoGridFileError(t("planner.no_grid_file"))
    return (shp or grid)[0], data


@st.cache_data(ttl=CACHE_TTL_S, show_spinner=False, max_entries=4)
def _analyse(
    key: tuple[str, int, int],
    rev: tuple[int, ...],
    digest: str,
    main: str | None,
    _files: dict[str, bytes] | None,
) -> tuple[gpd.GeoDataFrame, TopologyReport, GridComparison | None, gpd.GeoDataFrame | None]:
    """Candidate (or current grids), its topology report and, for a candidate, its impact and the
    current shapes of the grids it changes (for the before/after overlay)."""
    with open_store_ro(key[0]) as store:
        if main is None or _files is None:
            grids = load_grids(store)
            return grids, check_candidate(store, grids), None, None
        # The reader wants files on disk (GDAL); they live only as long as this call.
        with tempfile.TemporaryDirectory(prefix="onegrid-upload-") as tmp:
            for name, data in _files.items():
                (Path(tmp) / name).write_bytes(data)
            candidate = read_candidate(Path(tmp) / main)
        cmp = compare_grids(store, candidate)
        current = load_grids(store)
        changed = set(cmp.reshaped["code"]) | set(cmp.removed["code"])
        before = current[current["code"].isin(changed)]
        return candidate, check_candidate(store, candidate), cmp, before


@st.cache_data(ttl=CACHE_TTL_S, show_spinner=False, max_entries=4)
def _generations(key: tuple[str, int, int], rev: tuple[int, ...]) -> pd.DataFrame:
    with open_store_ro(key[0]) as store:
        return generations(store)


@st.cache_data(ttl=CACHE_TTL_S, show_spinner=False, max_entries=3)
def _export(key: tuple[str, int, int], rev: tuple[int, ...], fmt: str) -> bytes:
    """The current grids as a file (lon/lat), written by the export the command line uses."""
    with open_store_ro(key[0]) as store, tempfile.TemporaryDirectory(prefix="onegrid-export-") as tmp:
        out = Path(tmp) / f"grids.{fmt}"
        export_layer(store, layer="grids", fmt=fmt, out=out)
        return out.read_bytes()


# -- what a problem says ----------------------------------------------------------------------


def _num(value: float) -> str:
    return f"{value:,.1f}"


def _problem_text(p: Problem) -> tuple[str, str, str]:
    """Kind, measure and sentence of a problem in the session's language, from its code and values."""
    kind = p.kind if f"planner.kind.{p.kind}" in STRINGS else "problem"
    values = {
        "code": p.codes[0] if p.codes else "",
        "other": p.codes[1] if len(p.codes) > 1 else "",
        "codes": ", ".join(p.codes),
        "level": p.level if p.level is not None else "",
        "measure": _num(p.measure),
        "n": int(p.measure),
    }
    unit = t(f"planner.unit.{p.unit}") if f"planner.unit.{p.unit}" in STRINGS else p.unit
    measure = f"{_num(p.measure)} {unit}".strip() if p.unit else ""
    return t(f"planner.kind.{kind}"), measure, t(f"planner.say.{kind}", **values)


def _problem_features(report: TopologyReport) -> dict[str, Any]:
    gj = report.to_geojson()
    features: list[dict[str, Any]] = gj["features"]  # type: ignore[assignment]
    for f, p in zip(features, report.problems, strict=True):
        kind, measure, say = _problem_text(p)
        # Codes come from an uploaded file: everything shown as HTML is escaped (tooltip_html).
        f["properties"] = {
            "tip": tooltip_html(
                [
                    (t("planner.col.kind"), kind),
                    (t("planner.col.codes"), ", ".join(p.codes)),
                    (t("planner.col.measure"), measure),
                    ("", say),
                ]
            )
        }
    return gj


# -- map --------------------------------------------------------------------------------------


def _tips(grids: gpd.GeoDataFrame) -> GridTips:
    # Codes and names may come from an uploaded file: escaped before they reach the HTML tooltip.
    return GridTips(
        labels={"code": t("planner.map.grid"), "name": t("planner.map.name")},
        values={
            "code": [html.escape(str(c)) for c in grids["code"]],
            "name": [html.escape(str(n)) for n in grids["name"]],
        },
    )


def _display(grids: gpd.GeoDataFrame, level: int | None = None) -> gpd.GeoDataFrame:
    one = grids if level is None else grids[grids["level"] == level]
    try:
        return display_grids(one)
    except (ValueError, shapely.errors.GEOSException):
        # A broken candidate cannot be simplified as a coverage; show it as it is.
        return one[~one.geometry.isna()].to_crs(settings.DISPLAY_CRS)


def _padded(bounds: Any, *, least: float = 0.002) -> tuple[float, float, float, float]:
    w, s, e, n = (float(v) for v in bounds)
    pad = max(e - w, n - s, least) * 0.3
    return (w - pad, s - pad, e + pad, n + pad)


def _changed_bounds(
    grids: gpd.GeoDataFrame, cmp: GridComparison | None, before: gpd.GeoDataFrame | None
) -> tuple[float, float, float, float] | None:
    """Lon/lat bounds of every grid the candidate reshapes, adds or removes (old and new shapes)."""
    if cmp is None:
        return None
    codes = set(cmp.reshaped["code"]) | set(cmp.added["code"])
    parts = [grids[grids["code"].isin(codes)]]
    if before is not None:
        parts.append(before)
    geoms = [p.geometry.to_crs(settings.DISPLAY_CRS) for p in parts if len(p)]
    if not geoms:
        return None  # nothing changes: the whole district is shown
    shown = pd.concat(geoms)
    shown = shown[~shown.isna() & ~shown.is_empty]
    return _padded(shown.total_bounds) if len(shown) else None


def _map(
    grids: gpd.GeoDataFrame,
    report: TopologyReport,
    cmp: GridComparison | None,
    before: gpd.GeoDataFrame | None,
    focus: tuple[float, float, float, float] | None,
) -> None:
    shown = grids[~grids.geometry.isna() & ~grids.geometry.is_empty]
    if shown.empty:
        return
    changed = _changed_bounds(shown, cmp, before)
    bounds = focus or changed or tuple(shown.to_crs(settings.DISPLAY_CRS).total_bounds)
    basemap = basemap_picker()
    m = base_map(bounds=bounds, basemap=basemap)  # type: ignore[arg-type]
    for level, color, weight in ((3, "#3367d6", 0.8), (1, "#1a237e", 2.5)):
        d = frame_to_datum(_display(shown, level), datum=basemap.datum)
        if d.empty:
            continue
        grid_outlines(
            d, tips=_tips(d), name=t("planner.map.level", level=level), color=color, weight=weight
        ).add_to(m)
    if cmp is not None:
        # Old against new: the current shapes of the changed grids dashed, the candidate's over them.
        if before is not None and len(before):
            old = frame_to_datum(_display(before), datum=basemap.datum)
            grid_outlines(
                old, tips=_tips(old), name=t("planner.map.before"), color="#616161", weight=3, dash="6 4"
            ).add_to(m)
        codes = set(cmp.reshaped["code"]) | set(cmp.added["code"])
        after = shown[shown["code"].isin(codes)]
        if len(after):
            new = frame_to_datum(_display(after), datum=basemap.datum)
            grid_outlines(
                new, tips=_tips(new), name=t("planner.map.after"), color="#ff8f00", weight=2.5
            ).add_to(m)
    if report.problems:
        folium.GeoJson(
            geojson_to_datum(_problem_features(report), datum=basemap.datum),
            name=t("planner.map.problems"),
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
    if changed is not None and focus is None:
        st.caption(t("planner.map.legend"))
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


# -- problems ---------------------------------------------------------------------------------


def _problems(report: TopologyReport) -> int | None:
    """The problem table; returns the selected row."""
    if report.ok:
        st.success(t("planner.clean", n=report.grids), icon=":material/check_circle:")
        return None
    counts = ", ".join(f"{t(f'planner.kind.{k}')} {v}" for k, v in report.counts().items())
    st.error(t("planner.problems", n=len(report.problems), counts=counts), icon=":material/warning:")
    texts = [_problem_text(p) for p in report.problems]
    table = pd.DataFrame(
        {
            t("planner.col.kind"): [k for k, _, _ in texts],
            t("planner.col.level"): [p.level for p in report.problems],
            t("planner.col.codes"): [", ".join(p.codes) for p in report.problems],
            t("planner.col.measure"): [m for _, m, _ in texts],
            t("planner.col.description"): [s for _, _, s in texts],
        }
    )
    st.caption(t("planner.problems_hint"))
    event = st.dataframe(
        table,
        hide_index=True,
        width="stretch",
        on_select="rerun",
        selection_mode="single-row",
        key="planner.problems",
    )
    rows = getattr(getattr(event, "selection", None), "rows", None) or []
    return int(rows[0]) if rows else None


def _downloads(report: TopologyReport) -> None:
    """The problems as files, for the tool the grids are drawn in; none when there is none."""
    if report.ok:
        return
    c1, c2 = st.columns(2)
    c1.download_button(
        t("planner.download_geojson"),
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
        t("planner.download_csv"),
        csv.encode("utf-8-sig"),
        file_name="grid_problems.csv",
        mime="text/csv",
        key="planner.dl_csv",
    )


# -- impact -----------------------------------------------------------------------------------


def _headed(frame: pd.DataFrame, columns: dict[str, str]) -> pd.DataFrame:
    """``frame``'s ``columns`` (name → text key), headed in the session's language."""
    return frame[list(columns)].rename(columns={c: t(k) for c, k in columns.items()})


def _grid_list(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.assign(area_km2=frame["area_m2"] / 1e6)
    return _headed(
        out,
        {
            "code": "planner.col.code",
            "level": "planner.col.level",
            "parent_code": "planner.col.parent",
            "name": "planner.col.name",
            "area_km2": "planner.col.area_km2",
        },
    )


def _pairs(pairs: pd.DataFrame) -> pd.DataFrame:
    none = t("planner.no_grid")
    out = pairs.assign(from_grid=pairs["from_grid"].fillna(none), to_grid=pairs["to_grid"].fillna(none))
    return _headed(
        out, {"from_grid": "planner.col.from", "to_grid": "planner.col.to", "count": "planner.col.count"}
    )


def _impact(cmp: GridComparison) -> None:
    st.subheader(t("planner.impact"))
    cols = st.columns(4)
    cols[0].metric(t("planner.metric.reshaped"), len(cmp.reshaped))
    cols[1].metric(t("planner.metric.added_removed"), f"{len(cmp.added)} / {len(cmp.removed)}")
    cols[2].metric(t("planner.metric.components"), f"{len(cmp.component_moves):,}")
    cols[3].metric(t("planner.metric.cases"), f"{len(cmp.case_moves):,}")
    st.dataframe(
        _headed(
            cmp.per_level,
            {
                "level": "planner.col.level",
                "current": "planner.col.current",
                "candidate": "planner.col.candidate",
                "added": "planner.col.added",
                "removed": "planner.col.removed",
                "reshaped": "planner.col.reshaped",
                "unchanged": "planner.col.unchanged",
            },
        ),
        hide_index=True,
        width="stretch",
    )
    if len(cmp.reshaped):
        st.markdown(t("planner.reshaped"))
        st.dataframe(
            _headed(
                cmp.reshaped,
                {
                    "code": "planner.col.code",
                    "level": "planner.col.level",
                    "area_before_m2": "planner.col.area_before",
                    "area_after_m2": "planner.col.area_after",
                    "area_change_m2": "planner.col.area_change",
                    "area_change_pct": "planner.col.area_change_pct",
                    "symdiff_m2": "planner.col.symdiff",
                },
            ),
            hide_index=True,
            width="stretch",
        )
    if len(cmp.added) or len(cmp.removed):
        c1, c2 = st.columns(2)
        c1.markdown(t("planner.added"))
        c1.dataframe(_grid_list(cmp.added), hide_index=True, width="stretch")
        c2.markdown(t("planner.removed"))
        c2.dataframe(_grid_list(cmp.removed), hide_index=True, width="stretch")
    if len(cmp.relabelled):
        st.markdown(t("planner.relabelled"))
        relabelled = cmp.relabelled.assign(
            field=cmp.relabelled["field"].map(lambda f: t(f"planner.field.{f}"))
        )
        st.dataframe(
            _headed(
                relabelled,
                {
                    "code": "planner.col.code",
                    "field": "planner.col.field",
                    "before": "planner.col.before",
                    "after": "planner.col.after",
                },
            ),
            hide_index=True,
            width="stretch",
        )
    c1, c2 = st.columns(2)
    c1.markdown(t("planner.component_pairs"))
    c1.dataframe(_pairs(cmp.component_pairs), hide_index=True, width="stretch")
    c2.markdown(t("planner.case_pairs"))
    c2.dataframe(_pairs(cmp.case_pairs), hide_index=True, width="stretch")


# -- adoption and generations -----------------------------------------------------------------


def _show_error(exc: OneGridError) -> None:
    """An adoption error in the session's language (by its code); any other through the frame."""
    key = f"planner.error.{getattr(exc, 'code', '')}"
    if isinstance(exc, AdoptionError) and key in STRINGS:
        st.error(plain(t("error.prefix") + t(key, **exc.params)), icon=":material/error:")
    else:
        show_error(exc)


def _scheduled(gens: pd.DataFrame) -> pd.Series | None:
    rows = gens[gens["status"] == "scheduled"]
    return None if rows.empty else rows.iloc[0]


def _adopt(
    ctx: Any, candidate: gpd.GeoDataFrame, report: TopologyReport, cmp: GridComparison, gens: pd.DataFrame
) -> None:
    st.subheader(t("planner.adopt"))
    if ctx.role != "planner":
        st.info(t("planner.adopt_planner_only"))
        return
    if not report.ok:
        st.warning(t("planner.adopt_problems"))
        return
    if cmp.same_grids:
        st.info(t("planner.identical", generation=cmp.generation, tolerance=f"{cmp.tolerance_m2:g}"))
        return
    pending = _scheduled(gens)
    if pending is not None:
        st.info(
            t(
                "planner.adopt_scheduled_first",
                generation=int(pending["id"]),
                valid_from=pending["valid_from"],
            )
        )
        return
    today = now_dt().date()
    with st.form("planner.adopt"):
        valid_from = st.date_input(
            t("planner.valid_from"), value=today, help=t("planner.valid_from_help"), key="planner.valid_from"
        )
        note = st.text_input(t("planner.note"), key="planner.note")
        sure = st.checkbox(t("planner.sure"), key="planner.sure")
        go = st.form_submit_button(t("planner.submit"), type="primary")
    if not go:
        return
    if not sure:
        st.warning(t("planner.tick_first"))
        return
    actor = str(st.session_state.get("user") or t("planner.actor"))
    try:
        with open_store(ctx.store_path) as store:
            res = adopt_grids(store, candidate, valid_from=valid_from, actor=actor, note=note)
    except OneGridError as exc:
        _show_error(exc)
        return
    if res.scheduled:
        st.session_state[K_DONE] = t(
            "planner.scheduled",
            generation=res.generation,
            valid_from=res.valid_from.isoformat(),
            previous=res.previous_generation,
        )
    else:
        st.session_state[K_DONE] = t(
            "planner.adopted",
            generation=res.generation,
            valid_from=res.valid_from.isoformat(),
            components=res.components_reassigned,
            cases=res.cases_reassigned,
        )
    # The rerun compares the same upload with the generation just adopted: nothing left to change.
    st.rerun()


def _generation_list(ctx: Any, gens: pd.DataFrame) -> None:
    st.subheader(t("planner.generations"))
    shown = gens.assign(
        status=gens["status"].map(lambda s: t(f"planner.status.{s}")),
        valid_to=gens["valid_to"].fillna("—"),
        created_at=gens["created_at"].astype(str).str.replace("T", " ", regex=False),
    )
    st.dataframe(
        _headed(
            shown,
            {
                "id": "planner.col.generation",
                "valid_from": "planner.col.valid_from",
                "valid_to": "planner.col.valid_to",
                "status": "planner.col.status",
                "grids": "planner.col.grids",
                "note": "planner.col.note",
                "created_at": "planner.col.created_at",
            },
        ),
        hide_index=True,
        width="stretch",
        key="planner.generations",
    )
    pending = _scheduled(gens)
    if pending is None or ctx.role != "planner":
        return
    if st.button(t("planner.cancel", generation=int(pending["id"])), key="planner.cancel"):
        try:
            with open_store(ctx.store_path) as store:
                gen = cancel_scheduled(store)
        except OneGridError as exc:
            _show_error(exc)
            return
        st.session_state[K_DONE] = t("planner.cancelled", generation=gen)
        st.rerun()


def _export_current(ctx: Any) -> None:
    """The current grids as a file to edit and upload again; made only when asked for."""
    st.subheader(t("planner.export"))
    st.caption(t("planner.export_hint"))
    c1, c2 = st.columns([1, 2])
    fmt = c1.selectbox(
        t("planner.export_format"),
        list(EXPORT_FORMATS),
        format_func=EXPORT_FORMATS.__getitem__,
        key="planner.export_fmt",
    )
    if c2.button(t("planner.export_prepare"), key="planner.export_prepare"):
        st.session_state[K_EXPORT] = fmt
    if st.session_state.get(K_EXPORT) != fmt:
        return
    try:
        data = _export(ctx.store_key, ctx.rev("grids"), fmt)
    except OneGridError as exc:
        show_error(exc)
        return
    st.download_button(
        t("planner.export_download", fmt=EXPORT_FORMATS[fmt]),
        data,
        file_name=f"grids.{fmt}",
        mime=EXPORT_MIME.get(fmt, "application/octet-stream"),
        key="planner.export_download",
    )


# -- page -------------------------------------------------------------------------------------


def main() -> None:
    st.title(t("planner.title"))
    assets_check()
    done = st.session_state.pop(K_DONE, None)
    if done:
        st.success(done)
    ctx = context()
    sources = {"current": t("planner.source.current"), "upload": t("planner.source.upload")}
    source = st.radio(
        t("planner.source"), list(sources), format_func=sources.__getitem__, key=K_SOURCE, horizontal=True
    )
    gens = _generations(ctx.store_key, ctx.rev("grids"))
    main_file: str | None = None
    files: dict[str, bytes] | None = None
    digest = "current"
    if source == "upload":
        exts = sorted({s.lstrip(".") for s in GRID_FORMATS} | set(SHAPEFILE_PARTS))
        uploads = st.file_uploader(
            t("planner.upload", mb=settings.MAX_UPLOAD_MB),
            type=exts,
            accept_multiple_files=True,
            key="planner.upload",
        )
        if not uploads:
            st.info(t("planner.upload_hint"))
            _export_current(ctx)
            _generation_list(ctx, gens)
            return
        try:
            main_file, files = _upload_bytes(list(uploads))
        except OneGridError as exc:
            show_error(exc)
            return
        h = hashlib.sha256()
        for name in sorted(files):
            h.update(name.encode())
            h.update(files[name])
        digest = h.hexdigest()

    try:
        with st.spinner(t("planner.checking")):
            candidate, report, cmp, before = _analyse(
                ctx.store_key, ctx.rev("grids", "components", "cases"), digest, main_file, files
            )
    except OneGridError as exc:
        show_error(exc)
        return
    row = _problems(report)
    _map(candidate, report, cmp, before, _focus(report, row))
    _downloads(report)
    if cmp is not None:
        _impact(cmp)
        _adopt(ctx, candidate, report, cmp, gens)
    else:
        _export_current(ctx)
    _generation_list(ctx, gens)


main()
