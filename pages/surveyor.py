"""部件普查 / Surveyor: find a component, move it (map click or typed coordinates), set its state,
undo a change, upload a batch of surveyed positions. All logic lives in :mod:`layers.survey`;
every word shown is a key of :mod:`pages._survey_text`."""

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
from layers.errors import MoveNeedsConfirmationError, StaleBatchError, StaleEditError
from layers.store import Store, open_store
from maps.base import base_map, finish, frame_to_datum
from maps.overlays import STATE_COLORS, GridTips, grid_outlines, tooltip_html
from pages._caches import district_at
from pages._common import assets_check, basemap_picker, show_error, show_map, static_base, store_path
from pages._i18n import language, t
from spatial.errors import OneGridError

T = TypeVar("T")

# Only ids and small values live in the session: the selected code, the version the surveyor saw,
# the last map click handled, a move waiting for confirmation, and the id of the batch previewed
# (the preview itself is kept in the store).
K_CODE = "survey.code"
K_SEEN = "survey.seen"
K_CLICK = "survey.click"
K_RAW_CLICK = "survey.raw_click"
K_PENDING = "survey.pending"
K_PREVIEW = "survey.preview"
K_DONE = "survey.done"


def _crs_labels() -> dict[str, str]:
    # A dict built now, not a function reading the language later: widgets re-format outside the run.
    i = 1 if language() == "en" else 0
    return {k: v[i] for k, v in survey.SURVEY_CRS.items()}


def _state_label(state: object) -> str:
    return t(f"state.{state}") if state is not None else t("survey.none")


def _source_label(source: object) -> str:
    return t(f"source.{source}") if source is not None else t("survey.none")


def _action_label(action: object) -> str:
    return t(f"survey.action.{action}")


def _official(name: object) -> str:
    """A standard's name (class, grid, body) is Chinese; in English it says so."""
    if name is None or name == "":
        return t("survey.none")
    return t("survey.official_name", name=name) if language() == "en" else str(name)


def _attempt(fn: Callable[[], T]) -> T | None:
    """Run one user action; a OneGridError becomes a message and nothing else happens."""
    try:
        return fn()
    except OneGridError as exc:
        _report(exc)
        return None


def _report(exc: OneGridError) -> None:
    """An error as a message, and for a stale edit the record as it is now."""
    show_error(exc)
    if isinstance(exc, StaleEditError) and not isinstance(exc, StaleBatchError) and exc.current:
        cur = exc.current
        st.info(
            t(
                "survey.current_record",
                version=cur.get("version"),
                state=_state_label(cur.get("state")),
                grid=cur.get("grid_code"),
            )
        )


def _select(code: str, version: int) -> None:
    st.session_state[K_CODE] = code
    st.session_state.setdefault(K_SEEN, {})[code] = int(version)
    st.session_state[K_CLICK] = None
    st.session_state[K_PENDING] = None


def _done(message: str) -> None:
    st.session_state[K_DONE] = message


def _finder(store: Store) -> None:
    st.subheader(t("survey.find"))
    st.caption(t("survey.q_hint"))
    c1, c2, c3 = st.columns(3)
    text = c1.text_input(t("survey.q_code"), key="survey.query").strip()
    grid = c2.text_input(t("survey.q_grid"), key="survey.q_grid").strip()
    klass = c3.text_input(t("survey.q_class"), key="survey.q_class").strip()
    if not (text or grid or klass):
        return
    exact = bool(is_component_code([text])[0])
    found = _attempt(
        lambda: survey.find_components(
            store,
            code=text if text and exact else None,
            prefix=text if text and not exact else None,
            grid=grid or None,
            klass=klass or None,
        )
    )
    if found is None:
        return
    frame = found.frame
    if frame.empty:
        st.info(t("survey.none_found"))
        return
    if found.truncated:
        st.caption(t("survey.truncated", limit=found.limit))
    else:
        st.caption(t("survey.found", n=len(frame)))
    st.dataframe(
        pd.DataFrame(
            {
                t("survey.col.code"): frame["code"],
                t("survey.col.class"): frame["class_name"],
                t("survey.col.class_code"): frame["class_code"],
                t("survey.col.grid"): frame["grid_name"],
                t("survey.col.grid_code"): frame["grid_code"],
                t("survey.col.state"): frame["state"].map(_state_label),
                t("survey.col.changed_on"): frame["changed_on"],
            }
        ),
        hide_index=True,
        width="stretch",
        height=min(38 + 35 * len(frame), 320),
    )
    codes = frame["code"].tolist()
    labels = dict(
        zip(
            codes,
            (
                frame["code"] + " · " + frame["class_name"].fillna("") + " · " + frame["grid_name"].fillna("")
            ).tolist(),
            strict=True,
        )
    )
    current = st.session_state.get(K_CODE)
    choice = st.selectbox(
        t("survey.pick"),
        codes,
        index=codes.index(current) if current in codes else 0,
        format_func=labels.__getitem__,
        key="survey.pick",
    )
    if choice != current or st.button(t("survey.load"), key="survey.load"):
        row = frame.loc[frame["code"] == choice].iloc[0]
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
            labels={"code": t("survey.map_grid"), "name": t("survey.map_name")},
            values={
                "code": [html.escape(str(c)) for c in shown["code"]],
                "name": [html.escape(str(n)) for n in shown["name"]],
            },
        )
        grid_outlines(shown, tips=tips, name=t("survey.map_grid")).add_to(m)
    color = STATE_COLORS.get(str(rec["state"]), "#333")
    at_lon, at_lat = basemap.to_map(lon, lat)
    folium.CircleMarker(
        location=[float(at_lat[0]), float(at_lon[0])],
        radius=8,
        color=color,
        fill=True,
        fill_opacity=0.9,
        tooltip=tooltip_html(
            [(t("survey.map_component"), rec["code"]), (t("survey.m.state"), _state_label(rec["state"]))]
        ),
    ).add_to(m)
    click = st.session_state.get(K_CLICK)
    if click:
        c_lon, c_lat = basemap.to_map([click[0]], [click[1]])
        folium.CircleMarker(
            location=[float(c_lat[0]), float(c_lon[0])],
            radius=7,
            color="#d62728",
            dash_array="4",
            tooltip=html.escape(t("survey.map_new")),
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


def _grid_name(store: Store, code: str | None) -> str:
    shape = survey.grid_shape(store, code)
    return _official(shape["name"].iloc[0]) if not shape.empty else t("survey.none")


def _move(store: Store, code: str, actor: str, *, x: float, y: float, crs: str, confirmed: bool) -> None:
    """Make a move, or, when it is far or leaves the grid, keep it pending and ask first."""
    seen = st.session_state[K_SEEN][code]
    reason = st.session_state.get("survey.reason", "")
    try:
        ch = survey.move_component(
            store,
            code,
            x=x,
            y=y,
            crs=crs,
            expected_version=seen,
            actor=actor,
            reason=reason,
            confirmed=confirmed,
            locator=district_at(store_path()).locator,
        )
    except MoveNeedsConfirmationError:
        st.session_state[K_PENDING] = {"code": code, "x": x, "y": y, "crs": crs, "version": seen}
        st.rerun()
    except OneGridError as exc:
        _report(exc)
        return
    message = t("survey.moved", distance=ch.distance_m or 0.0)
    if ch.before.get("grid_code") != ch.after.get("grid_code"):
        message += t("survey.moved_grid", old=ch.before.get("grid_code"), new=ch.after.get("grid_code"))
    _after_change(code, ch, message)


def _pending(store: Store, code: str, actor: str) -> None:
    """The question about a far or cross-grid move, with its answer buttons."""
    pending = st.session_state.get(K_PENDING)
    if not pending or pending.get("code") != code:
        return
    plan = _attempt(
        lambda: survey.plan_move(
            store,
            code,
            x=pending["x"],
            y=pending["y"],
            crs=pending["crs"],
            locator=district_at(store_path()).locator,
        )
    )
    if plan is None:
        st.session_state[K_PENDING] = None
        return
    lines = []
    if "far" in plan.confirm:
        lines.append(t("survey.confirm_far", distance=plan.distance_m, threshold=plan.threshold_m))
    if "other_grid" in plan.confirm:
        lines.append(
            t(
                "survey.confirm_grid",
                old=plan.old_grid,
                old_name=_grid_name(store, plan.old_grid),
                new=plan.new_grid,
                new_name=_grid_name(store, plan.new_grid),
            )
        )
    st.warning("\n\n".join(lines), icon=":material/warning:")
    c1, c2 = st.columns(2)
    if c1.button(t("survey.confirm"), key="survey.confirm_move", type="primary"):
        st.session_state[K_PENDING] = None
        _move(store, code, actor, x=pending["x"], y=pending["y"], crs=pending["crs"], confirmed=True)
    if c2.button(t("survey.cancel"), key="survey.cancel_move"):
        st.session_state[K_PENDING] = None
        st.rerun()


def _details(rec: dict[str, Any]) -> None:
    cols = st.columns(4)
    cols[0].metric(t("survey.m.state"), _state_label(rec["state"]))
    cols[1].metric(
        t("survey.m.grid"), str(rec.get("grid_name") or rec["grid_code"]), help=str(rec["grid_code"])
    )
    cols[2].metric(t("survey.m.version"), int(rec["version"]))
    cols[3].metric(
        t("survey.m.class"), str(rec.get("class_name") or rec["class_code"]), help=str(rec["class_code"])
    )
    if language() == "en":
        st.caption(
            t("survey.official_name", name=f"{rec.get('class_name')} · {rec.get('grid_name')}")
            + f" · {rec['class_code']} · {rec['grid_code']}"
        )
    st.caption(
        t(
            "survey.bodies",
            supervisor=_official(rec.get("supervisor_name")),
            owner=_official(rec.get("owner_name")),
            maintainer=_official(rec.get("maintainer_name")),
        )
    )
    st.caption(
        t(
            "survey.dates",
            surveyed=rec.get("surveyed_on") or t("survey.none"),
            changed=rec.get("changed_on") or t("survey.none"),
            source=_source_label(rec.get("source")),
        )
    )


def _workspace(store: Store, code: str, actor: str) -> None:
    rec = _attempt(lambda: survey.get_component(store, code))
    if rec is None:
        return
    seen = st.session_state.setdefault(K_SEEN, {}).setdefault(code, int(rec["version"]))
    st.subheader(t("survey.component", code=code))
    if seen != rec["version"]:
        st.warning(t("survey.changed_by_other", seen=seen, version=rec["version"]))
        if st.button(t("survey.reload"), key="survey.reload"):
            _select(code, int(rec["version"]))
            st.rerun()
    _details(rec)
    lon, lat = survey.to_lonlat([rec["x"]], [rec["y"]])
    st.caption(t("survey.position", x=rec["x"], y=rec["y"], lon=lon[0], lat=lat[0]))

    raw = _map(store, rec)
    # The widget repeats its last click on every rerun; only a click not seen before is new.
    if raw is not None and raw != st.session_state.get(K_RAW_CLICK):
        st.session_state[K_RAW_CLICK] = raw
        st.session_state[K_CLICK] = raw
        st.rerun()

    st.text_input(t("survey.reason"), key="survey.reason")
    _pending(store, code, actor)
    click = st.session_state.get(K_CLICK)
    if click:
        st.write(t("survey.clicked", lon=click[0], lat=click[1]))
        if st.button(t("survey.move_click"), key="survey.move_click", type="primary"):
            _move(store, code, actor, x=click[0], y=click[1], crs="EPSG:4326", confirmed=False)

    st.markdown(f"**{t('survey.typed')}**")
    # The system is chosen outside the form, so the fields below are rewritten in it at once.
    crs = st.selectbox(
        t("survey.crs"), list(survey.SURVEY_CRS), format_func=_crs_labels().__getitem__, key="survey.crs"
    )
    fx, fy = survey.position_in(rec["x"], rec["y"], crs=crs)
    metres = crs == "EPSG:4549"
    with st.form("survey.move_form"):
        c1, c2 = st.columns(2)
        # Keyed by system and version: a new system or a new position refills the fields.
        x = c1.number_input(
            t("survey.x_m" if metres else "survey.x"),
            value=fx,
            format="%.3f" if metres else "%.7f",
            key=f"survey.x.{code}.{crs}.{rec['version']}",
        )
        y = c2.number_input(
            t("survey.y_m" if metres else "survey.y"),
            value=fy,
            format="%.3f" if metres else "%.7f",
            key=f"survey.y.{code}.{crs}.{rec['version']}",
        )
        if st.form_submit_button(t("survey.move_here")):
            _move(store, code, actor, x=float(x), y=float(y), crs=crs, confirmed=False)

    c1, c2 = st.columns([2, 1])
    # Keyed by version: after any change (an undo too) the selector shows the state stored now.
    state = c1.selectbox(
        t("survey.state"),
        list(STATES),
        index=list(STATES).index(rec["state"]) if rec["state"] in STATES else 0,
        format_func=_state_label,
        key=f"survey.state.{code}.{rec['version']}",
    )
    if c2.button(t("survey.set_state"), key="survey.set_state"):
        ch = _attempt(
            lambda: survey.set_state(
                store,
                code,
                state=state,
                expected_version=seen,
                actor=actor,
                reason=st.session_state.get("survey.reason", ""),
            )
        )
        if ch is not None:
            _after_change(code, ch, t("survey.state_set", state=_state_label(state)))
    _history(store, code, actor, seen)


def _history(store: Store, code: str, actor: str, seen: int) -> None:
    st.markdown(f"**{t('survey.history')}**")
    hist = survey.history(store, code)
    if hist.empty:
        st.caption(t("survey.no_history"))
        return
    arrow = " → "

    def change(before: pd.Series, after: pd.Series, label: Callable[[object], str]) -> pd.Series:
        has = before.notna() | after.notna()
        text = before.map(label) + arrow + after.map(label)
        return text.where(has, "")

    action = hist["action"].map(_action_label)
    undone = hist["undoes"].notna()
    action = action.where(
        ~undone, action + " (" + hist["undoes"].map(lambda i: t("survey.undoes", id=i)) + ")"
    )
    shown = pd.DataFrame(
        {
            t("survey.col.id"): hist["id"],
            t("survey.col.version"): hist["version"],
            t("survey.col.at"): hist["changed_at"].str.replace("T", " ", regex=False),
            t("survey.col.actor"): hist["actor"],
            t("survey.col.action"): action,
            t("survey.col.state_change"): change(hist["state_before"], hist["state_after"], _state_label),
            t("survey.col.grid_change"): change(hist["grid_before"], hist["grid_after"], lambda g: str(g)),
            t("survey.col.moved"): hist["moved_m"].round(2),
            t("survey.col.reason"): hist["reason"],
        }
    ).iloc[::-1]
    st.dataframe(shown, hide_index=True, width="stretch")
    # Only what can be undone is offered: the newest change not undone yet; again steps further back.
    ids = survey.undoable(store, code)
    if not ids:
        st.caption(t("survey.nothing_to_undo"))
        return
    top = hist.set_index("id").loc[ids[0]]
    label = t(
        "survey.undo",
        id=ids[0],
        action=_action_label(top["action"]),
        at=str(top["changed_at"]).replace("T", " "),
    )
    if st.button(label, key="survey.undo", help=t("survey.undo_help")):
        ch = _attempt(
            lambda: survey.undo(
                store,
                code,
                history_id=ids[0],
                expected_version=seen,
                actor=actor,
                locator=district_at(store_path()).locator,
            )
        )
        if ch is not None:
            _after_change(code, ch, t("survey.undone", id=ids[0]))


def _after_change(code: str, change: survey.ComponentChange, message: str) -> None:
    _select(code, change.version)
    _done(message + t("survey.version_suffix", version=change.version))
    st.rerun()


def _batch(store: Store, actor: str) -> None:
    st.subheader(t("survey.batch"))
    st.caption(t("survey.batch_help", mb=settings.MAX_UPLOAD_MB))
    upload = st.file_uploader(t("survey.file"), type=["csv", "xlsx"], key="survey.upload")
    crs = st.selectbox(
        t("survey.file_crs"),
        list(survey.SURVEY_CRS),
        key="survey.batch_crs",
        format_func=_crs_labels().__getitem__,
    )
    with st.expander(t("survey.columns")):
        c1, c2, c3 = st.columns(3)
        code_col = c1.text_input("code", key="survey.col_code") or None
        x_col = c2.text_input("x / lon", key="survey.col_x") or None
        y_col = c3.text_input("y / lat", key="survey.col_y") or None
    if upload is not None and st.button(t("survey.preview"), key="survey.preview_btn"):
        made = _attempt(
            lambda: survey.preview_batch(
                store,
                upload,
                filename=upload.name,
                crs=crs,
                actor=actor,
                max_bytes=settings.MAX_UPLOAD_MB * 1024 * 1024,
                code_column=code_col,
                x_column=x_col,
                y_column=y_col,
                locator=district_at(store_path()).locator,
            )
        )
        old = st.session_state.get(K_PREVIEW)
        if made is not None:
            if old is not None:
                _attempt(lambda: survey.discard_batch(store, int(old)))
            st.session_state[K_PREVIEW] = made.batch_id
    batch_id = st.session_state.get(K_PREVIEW)
    if batch_id is None:
        return
    preview = _attempt(lambda: survey.load_preview(store, int(batch_id)))
    if preview is None:
        st.session_state[K_PREVIEW] = None
        return
    c = st.columns(3)
    c[0].metric(t("survey.rows"), preview.n_rows)
    c[1].metric(t("survey.accepted"), preview.n_accepted)
    c[2].metric(t("survey.rejected"), preview.n_rejected)
    again = False
    if preview.applied_before:
        first = preview.applied_before[0]
        st.warning(t("survey.applied_before", id=first[0], at=first[1].replace("T", " "), actor=first[2]))
        again = st.checkbox(t("survey.again"), key=f"survey.again.{batch_id}")
    acc = preview.accepted
    st.markdown(f"**{t('survey.to_move')}**")
    st.dataframe(
        pd.DataFrame(
            {
                t("survey.col.row"): acc["row_number"],
                t("survey.col.code"): acc["code"],
                t("survey.col.old_grid"): acc["old_grid"],
                t("survey.col.new_grid"): acc["new_grid"],
                t("survey.col.moved"): acc["distance_m"].round(2),
                t("survey.col.note"): acc["note"],
            }
        ),
        hide_index=True,
        width="stretch",
    )
    if preview.n_rejected:
        rej = preview.rejected
        lang = language()
        # st.dataframe shows text as text: HTML in a file stays inert.
        shown = pd.DataFrame(
            {
                t("survey.col.row"): rej["row_number"],
                t("survey.col.code"): rej["code"],
                t("survey.col.reasons"): rej["reason_codes"].map(
                    lambda c: survey.reason_labels(c, lang=lang)
                ),
                t("survey.col.x_in"): rej["x_in"],
                t("survey.col.y_in"): rej["y_in"],
                t("survey.col.note"): rej["note"],
            }
        )
        st.markdown(f"**{t('survey.rejects')}**")
        st.dataframe(shown, hide_index=True, width="stretch")
    c1, c2 = st.columns(2)
    if c1.button(t("survey.confirm_batch"), key="survey.confirm", type="primary"):
        res = _attempt(lambda: survey.confirm_batch(store, preview.batch_id, actor=actor, again=again))
        if res is not None:
            st.session_state[K_PREVIEW] = None
            _done(t("survey.batch_done", id=res.batch_id, accepted=res.accepted, rejected=res.rejected))
            st.rerun()
    if c2.button(t("survey.discard"), key="survey.discard"):
        _attempt(lambda: survey.discard_batch(store, preview.batch_id))
        st.session_state[K_PREVIEW] = None
        st.rerun()


def main() -> None:
    st.title(t("survey.title"))
    assets_check()
    done = st.session_state.pop(K_DONE, None)
    if done:
        st.success(done)
    actor = st.sidebar.text_input(
        t("survey.actor"), value=st.session_state.get("user", t("survey.actor")), key="survey.actor"
    ).strip()
    try:
        # One connection per run: writes of concurrent sessions never share a transaction.
        store = open_store(store_path(), readonly=False)
    except OneGridError as exc:
        show_error(exc)
        return
    try:
        tab_one, tab_batch = st.tabs([t("survey.tab_one"), t("survey.tab_batch")])
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
