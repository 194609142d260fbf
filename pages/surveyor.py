"""部件测绘 / Surveyor: find a component, move it (map click or typed coordinates), set its state,
undo a change, upload a batch of surveyed positions. All logic lives in :mod:`layers.survey`."""

from __future__ import annotations

import html
from collections.abc import Callable
from typing import Any, TypeVar

import folium
import pandas as pd
import streamlit as st

import settings
from layers import survey
from layers.codes import is_component_code
from layers.components import STATES
from layers.errors import StaleBatchError, StaleEditError
from layers.store import Store, open_store
from maps.base import base_map, finish, frame_to_datum
from maps.overlays import STATE_COLORS, GridTips, grid_outlines, tooltip_html
from pages._common import assets_check, basemap_picker, show_error, show_map, static_base, store_path
from pages._i18n import language
from spatial.errors import OneGridError

T = TypeVar("T")

# Only ids and small values live in the session: the selected code, the version the surveyor saw,
# the last map click handled, and the batch preview waiting for confirmation.
K_CODE = "survey.code"
K_SEEN = "survey.seen"
K_CLICK = "survey.click"
K_RAW_CLICK = "survey.raw_click"
K_PREVIEW = "survey.preview"
K_DONE = "survey.done"


def _lang() -> str:
    return language()


def _t(zh: str, en: str) -> str:
    # This page's own words; the frame's language switch decides which one shows.
    return en if _lang() == "en" else zh


def _crs_labels() -> dict[str, str]:
    # A dict built now, not a function reading the language later: widgets re-format outside the run.
    i = 1 if _lang() == "en" else 0
    return {k: v[i] for k, v in survey.SURVEY_CRS.items()}


def _attempt(fn: Callable[[], T]) -> T | None:
    """Run one user action; a OneGridError becomes a message and nothing else happens."""
    try:
        return fn()
    except OneGridError as exc:
        show_error(exc)
        if isinstance(exc, StaleEditError) and not isinstance(exc, StaleBatchError) and exc.current:
            cur = exc.current
            st.info(
                _t(
                    f"当前记录：版本 {cur.get('version')}，状态 {cur.get('state')}，"
                    f"网格 {cur.get('grid_code')}",
                    f"Current record: version {cur.get('version')}, state {cur.get('state')}, "
                    f"grid {cur.get('grid_code')}",
                )
            )
        return None


def _select(code: str, version: int) -> None:
    st.session_state[K_CODE] = code
    st.session_state.setdefault(K_SEEN, {})[code] = int(version)
    st.session_state[K_CLICK] = None


def _done(message: str) -> None:
    st.session_state[K_DONE] = message


def _finder(store: Store) -> None:
    st.subheader(_t("查找部件", "Find a component"))
    modes = {
        "code": _t("部件编码（或前缀）", "Code (or prefix)"),
        "grid": _t("网格编码", "Grid code"),
        "class": _t("部件类别（2或4位）", "Class (2 or 4 digits)"),
    }
    c1, c2 = st.columns([1, 2])
    mode = c1.radio(
        _t("查找方式", "Search by"), list(modes), format_func=modes.__getitem__, key="survey.mode"
    )
    text = c2.text_input(_t("查找内容", "Search for"), key="survey.query").strip()
    if not text:
        return
    exact = mode == "code" and bool(is_component_code([text])[0])
    found = _attempt(
        lambda: survey.find_components(
            store,
            code=text if exact else None,
            prefix=text if mode == "code" and not exact else None,
            grid_code=text if mode == "grid" else None,
            class_code=text if mode == "class" else None,
        )
    )
    if found is None:
        return
    if found.frame.empty:
        st.info(_t("没有找到部件", "No component found"))
        return
    if found.truncated:
        st.caption(
            _t(
                f"仅显示前 {found.limit} 个，请缩小范围",
                f"Only the first {found.limit} are shown; narrow the search",
            )
        )
    codes = found.frame["code"].tolist()
    current = st.session_state.get(K_CODE)
    choice = st.selectbox(
        _t("选择部件", "Choose a component"),
        codes,
        index=codes.index(current) if current in codes else 0,
        key="survey.pick",
    )
    if choice != current or st.button(_t("载入", "Load"), key="survey.load"):
        row = found.frame.loc[found.frame["code"] == choice].iloc[0]
        _select(choice, int(row["version"]))


def _map(store: Store, rec: dict[str, Any]) -> tuple[float, float] | None:
    """The component on its grid; returns the map's last click as WGS84 (lon, lat), if any."""
    lon, lat = survey.to_lonlat([rec["x"]], [rec["y"]])
    grid = survey.grid_shape(store, rec["grid_code"])
    pad = 0.003
    bounds = (float(lon[0]) - pad, float(lat[0]) - pad, float(lon[0]) + pad, float(lat[0]) + pad)
    basemap = basemap_picker()
    m = base_map(bounds=bounds, basemap=basemap)
    if not grid.empty:
        shown = frame_to_datum(grid.to_crs(settings.DISPLAY_CRS), datum=basemap.datum)
        tips = GridTips(
            labels={"code": _t("网格", "Grid"), "name": _t("名称", "Name")},
            values={
                "code": [html.escape(str(c)) for c in shown["code"]],
                "name": [html.escape(str(n)) for n in shown["name"]],
            },
        )
        grid_outlines(shown, tips=tips, name=_t("网格", "Grid")).add_to(m)
    color = STATE_COLORS.get(str(rec["state"]), "#333")
    at_lon, at_lat = basemap.to_map(lon, lat)
    folium.CircleMarker(
        location=[float(at_lat[0]), float(at_lon[0])],
        radius=8,
        color=color,
        fill=True,
        fill_opacity=0.9,
        tooltip=tooltip_html([(_t("部件", "Component"), rec["code"]), (_t("状态", "State"), rec["state"])]),
    ).add_to(m)
    click = st.session_state.get(K_CLICK)
    if click:
        c_lon, c_lat = basemap.to_map([click[0]], [click[1]])
        folium.CircleMarker(
            location=[float(c_lat[0]), float(c_lon[0])],
            radius=7,
            color="#d62728",
            dash_array="4",
            tooltip=html.escape(_t("新位置", "New position")),
        ).add_to(m)
    finish(m, base=static_base())
    result = show_map(m, key=f"survey.map.{rec['code']}", returned_objects=("last_clicked",), height=420)
    last = result.get("last_clicked")
    try:
        lon_c, lat_c = float(last["lng"]), float(last["lat"])  # type: ignore[index]
    except (TypeError, KeyError, ValueError):
        return None
    if not (-180 <= lon_c <= 180 and -90 <= lat_c <= 90):
        return None
    # The click is where the user saw the spot on the tiles: kept in WGS84 like everything else.
    w_lon, w_lat = basemap.from_map([lon_c], [lat_c])
    return float(w_lon[0]), float(w_lat[0])


def _workspace(store: Store, code: str, actor: str) -> None:
    rec = _attempt(lambda: survey.get_component(store, code))
    if rec is None:
        return
    seen = st.session_state.setdefault(K_SEEN, {}).setdefault(code, int(rec["version"]))
    st.subheader(_t(f"部件 {code}", f"Component {code}"))
    if seen != rec["version"]:
        st.warning(
            _t(
                f"此部件已被他人修改：您看到的是版本 {seen}，当前为版本 {rec['version']}。",
                f"Someone changed this component: you saw version {seen}, "
                f"it is now version {rec['version']}.",
            )
        )
        if st.button(_t("载入最新版本", "Load the current version"), key="survey.reload"):
            _select(code, int(rec["version"]))
            st.rerun()
    lon, lat = survey.to_lonlat([rec["x"]], [rec["y"]])
    cols = st.columns(4)
    cols[0].metric(_t("状态", "State"), str(rec["state"]))
    cols[1].metric(_t("网格", "Grid"), str(rec["grid_code"]))
    cols[2].metric(_t("版本", "Version"), int(rec["version"]))
    cols[3].metric(_t("类别", "Class"), str(rec["class_code"]))
    st.caption(
        f"x = {rec['x']:.3f} m, y = {rec['y']:.3f} m (EPSG:4549) · lon {lon[0]:.6f}, lat {lat[0]:.6f} (WGS84)"
    )

    raw = _map(store, rec)
    # The widget repeats its last click on every rerun; only a click not seen before is new.
    if raw is not None and raw != st.session_state.get(K_RAW_CLICK):
        st.session_state[K_RAW_CLICK] = raw
        st.session_state[K_CLICK] = raw
        st.rerun()

    crs_keys = list(survey.SURVEY_CRS)
    reason = st.text_input(_t("变更原因", "Reason"), key="survey.reason")
    click = st.session_state.get(K_CLICK)
    if click:
        st.write(
            _t(
                f"地图点击位置：经度 {click[0]:.6f}，纬度 {click[1]:.6f}（WGS84）",
                f"Clicked on the map: lon {click[0]:.6f}, lat {click[1]:.6f} (WGS84)",
            )
        )
        if st.button(
            _t("确认移动到点击位置", "Move to the clicked position"), key="survey.move_click", type="primary"
        ):
            ch = _attempt(
                lambda: survey.move_component(
                    store,
                    code,
                    x=click[0],
                    y=click[1],
                    crs="EPSG:4326",
                    expected_version=seen,
                    actor=actor,
                    reason=reason,
                )
            )
            if ch is not None:
                _after_change(code, ch, _t(f"已移动 {ch.distance_m:.1f} 米", f"Moved {ch.distance_m:.1f} m"))

    with st.form("survey.move_form"):
        st.markdown(_t("**输入坐标移动**", "**Move to typed coordinates**"))
        crs = st.selectbox(
            _t("坐标系", "Coordinate system"),
            crs_keys,
            format_func=_crs_labels().__getitem__,
            key="survey.crs",
        )
        c1, c2 = st.columns(2)
        x = c1.number_input(
            _t("x / 经度", "x / longitude"), value=float(lon[0]), format="%.6f", key=f"survey.x.{code}"
        )
        y = c2.number_input(
            _t("y / 纬度", "y / latitude"), value=float(lat[0]), format="%.6f", key=f"survey.y.{code}"
        )
        if st.form_submit_button(_t("移动到此坐标", "Move here")):
            ch = _attempt(
                lambda: survey.move_component(
                    store, code, x=x, y=y, crs=crs, expected_version=seen, actor=actor, reason=reason
                )
            )
            if ch is not None:
                _after_change(code, ch, _t(f"已移动 {ch.distance_m:.1f} 米", f"Moved {ch.distance_m:.1f} m"))

    c1, c2 = st.columns([2, 1])
    state = c1.selectbox(
        _t("状态", "State"),
        list(STATES),
        index=list(STATES).index(rec["state"]) if rec["state"] in STATES else 0,
        key=f"survey.state.{code}",
    )
    if c2.button(_t("更改状态", "Set state"), key="survey.set_state"):
        ch = _attempt(
            lambda: survey.set_state(
                store, code, state=state, expected_version=seen, actor=actor, reason=reason
            )
        )
        if ch is not None:
            _after_change(code, ch, _t(f"状态已改为 {state}", f"State set to {state}"))

    st.markdown(_t("**变更历史**", "**History**"))
    hist = survey.history(store, code)
    if hist.empty:
        st.caption(_t("尚无变更", "No changes yet"))
        return
    st.dataframe(hist.iloc[::-1], hide_index=True, width="stretch")
    ids = hist["id"].iloc[::-1].tolist()
    c1, c2 = st.columns([2, 1])
    pick = c1.selectbox(
        _t("撤销哪一次变更", "Change to undo"),
        ids,
        key="survey.undo_id",
        format_func=lambda i: f"#{i} {hist.set_index('id').loc[i, 'action']}",
    )
    if c2.button(_t("撤销（作为新变更）", "Undo (as a new change)"), key="survey.undo"):
        ch = _attempt(
            lambda: survey.undo(store, code, history_id=int(pick), expected_version=seen, actor=actor)
        )
        if ch is not None:
            _after_change(code, ch, _t(f"已撤销变更 #{pick}", f"Change #{pick} undone"))


def _after_change(code: str, change: survey.ComponentChange, message: str) -> None:
    _select(code, change.version)
    _done(message + _t(f"（版本 {change.version}）", f" (version {change.version})"))
    st.rerun()


def _batch(store: Store, actor: str) -> None:
    st.subheader(_t("批量上传测绘位置", "Upload surveyed positions"))
    st.caption(
        _t(
            f"CSV 或 XLSX，列：code 与 x/y（或 lon/lat），可选 note；不超过 {settings.MAX_UPLOAD_MB} MB",
            f"CSV or XLSX with columns code and x/y (or lon/lat), optional note; at most "
            f"{settings.MAX_UPLOAD_MB} MB",
        )
    )
    upload = st.file_uploader(_t("选择文件", "Choose a file"), type=["csv", "xlsx"], key="survey.upload")
    crs = st.selectbox(
        _t("文件坐标系", "CRS of the file"),
        list(survey.SURVEY_CRS),
        key="survey.batch_crs",
        format_func=_crs_labels().__getitem__,
    )
    with st.expander(_t("列名（留空则自动识别）", "Column names (blank: detected)")):
        c1, c2, c3 = st.columns(3)
        code_col = c1.text_input("code", key="survey.col_code") or None
        x_col = c2.text_input("x / lon", key="survey.col_x") or None
        y_col = c3.text_input("y / lat", key="survey.col_y") or None
    if upload is not None and st.button(_t("预览", "Preview"), key="survey.preview_btn"):
        st.session_state[K_PREVIEW] = _attempt(
            lambda: survey.preview_batch(
                store,
                upload,
                filename=upload.name,
                crs=crs,
                max_bytes=settings.MAX_UPLOAD_MB * 1024 * 1024,
                code_column=code_col,
                x_column=x_col,
                y_column=y_col,
            )
        )
    preview: survey.BatchPreview | None = st.session_state.get(K_PREVIEW)
    if preview is None:
        return
    c = st.columns(3)
    c[0].metric(_t("行数", "Rows"), preview.n_rows)
    c[1].metric(_t("接受", "Accepted"), preview.n_accepted)
    c[2].metric(_t("拒绝", "Rejected"), preview.n_rejected)
    acc = preview.accepted[["row_number", "code", "old_grid", "new_grid", "distance_m", "note"]]
    st.markdown(_t("**将移动的部件**", "**Components to move**"))
    st.dataframe(
        acc.rename(
            columns={
                "row_number": _t("行", "row"),
                "old_grid": _t("原网格", "old grid"),
                "new_grid": _t("新网格", "new grid"),
                "distance_m": _t("移动距离(米)", "moved (m)"),
            }
        ),
        hide_index=True,
        width="stretch",
    )
    if preview.n_rejected:
        rej = preview.rejected
        # st.dataframe shows text as text: HTML in a file stays inert.
        shown = pd.DataFrame(
            {
                _t("行", "row"): rej["row_number"],
                "code": rej["code"],
                _t("原因", "reason"): rej["reason_code"].map(lambda c: survey.reason_label(c, lang=_lang())),
                _t("详情", "detail"): rej["reason"],
                "note": rej["note"],
            }
        )
        st.markdown(_t("**拒绝的行（将连同原因保存）**", "**Rejected rows (kept with their reasons)**"))
        st.dataframe(shown, hide_index=True, width="stretch")
    c1, c2 = st.columns(2)
    if c1.button(_t("确认导入", "Confirm"), key="survey.confirm", type="primary"):
        res = _attempt(lambda: survey.confirm_batch(store, preview, actor=actor))
        if res is not None:
            st.session_state[K_PREVIEW] = None
            _done(
                _t(
                    f"批次 {res.batch_id} 已导入：移动 {res.accepted} 个部件，"
                    f"{res.rejected} 行被拒绝并已保存原因",
                    f"Batch {res.batch_id} applied: {res.accepted} components moved, {res.rejected} rows "
                    "rejected and kept with their reasons",
                )
            )
            st.rerun()
    if c2.button(_t("放弃", "Discard"), key="survey.discard"):
        st.session_state[K_PREVIEW] = None
        st.rerun()


def main() -> None:
    st.title(_t("部件普查", "Component survey"))
    assets_check()
    done = st.session_state.pop(K_DONE, None)
    if done:
        st.success(done)
    actor = st.sidebar.text_input(
        _t("测绘员", "Surveyor"), value=st.session_state.get("user", "测绘员"), key="survey.actor"
    ).strip()
    try:
        # One connection per run: writes of concurrent sessions never share a transaction.
        store = open_store(store_path(), readonly=False)
    except OneGridError as exc:
        show_error(exc)
        return
    try:
        tab_one, tab_batch = st.tabs([_t("单个部件", "One component"), _t("批量上传", "Batch upload")])
        with tab_one:
            _finder(store)
            code = st.session_state.get(K_CODE)
            if code:
                _workspace(store, code, actor)
        with tab_batch:
            _batch(store, actor)
    finally:
        store.close()


main()
