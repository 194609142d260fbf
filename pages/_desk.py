"""The case desk's shared parts, used by its pages (intake, dispatcher, department, supervision,
inspector, grid head):

- who is looking: the scope pickers (centre, body, grids) kept in ``st.session_state`` and the
  :class:`layers.cases.Viewer` with its actor name for the history;
- the catalogs, queues and the shared read-only :class:`layers.district.District`, cached per
  store file and revision (``ctx.rev("cases")`` is bumped by every case write);
- the queue table (text shown as text) and the case detail: its map, six-step timeline, history,
  duplicate reports and exactly the actions :func:`layers.cases.get_case` allows the viewer;
- the report's preview and saving, shared by the intake page and the inspector's report.

The logic lives in :mod:`layers.cases` and :mod:`layers.intake`; nothing here decides a case.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import pandas as pd
import streamlit as st

from layers import analysis, cases, intake, workcalendar, workflow
from layers.errors import StaleEditError
from layers.store import open_store
from maps.base import finish
from maps.casemap import Outline, Spot, desk_map, point_bounds
from pages._caches import CACHE_TTL_S, cached_display_grids, cached_grids, district, open_store_ro
from pages._common import Context, basemap_picker, show_error, show_map, static_base
from pages._i18n import STRINGS, language, t
from spatial.errors import OneGridError

T = TypeVar("T")

# Only ids and small values live in the session.
K_CENTRE = "desk.centre"  # dispatcher / supervisor: 'district' or a town's code
K_DEPT = "desk.dept"  # department: the body's code
K_GRIDS = "desk.grids"  # inspector: level-3 grid codes
K_GRID = "desk.grid"  # grid head: one level-3 grid code
K_SEEN = "desk.seen"  # case id → the version this session saw (stale edits are refused)
K_DONE = "desk.done"  # the message of the last action, shown once after the rerun

#: Columns of a queue table, in order (those a frame lacks are skipped).
QUEUE_COLUMNS = (
    "id",
    "status",
    "event_name",
    "town_name",
    "grid_code",
    "dept_name",
    "reported_at",
    "deadline_at",
    "card",
    "overdue",
    "hours_left",
    "task",
    "distance_m",
    "duplicate_count",
    "sendback_count",
    "rework_count",
    "description",
)


# -- words --------------------------------------------------------------------------------------


def state_label(code: str) -> str:
    return t(f"wf.state.{code}")


def action_label(code: str) -> str:
    return t(f"wf.action.{code}")


def labels(prefix: str, codes: Sequence[str]) -> dict[str, str]:
    """Labels of codes in the session's language, built now (widgets format outside the run)."""
    return {c: t(f"{prefix}.{c}") for c in codes}


def actor_name(role: str, place: str = "") -> str:
    """The name the history keeps: the chosen centre/body/grid and the role's fixed label.

    Always in Chinese: the history is the record, whatever language the viewer reads.
    """
    return f"{place}{t_zh(f'desk.actor.{role}')}"


def t_zh(key: str) -> str:
    return STRINGS.get(key, (key, key))[0]


def show_done() -> None:
    done = st.session_state.pop(K_DONE, None)
    if done:
        st.success(done, icon=":material/check_circle:")


def attempt(fn: Callable[[], T]) -> T | None:
    """Run one user action; a OneGridError becomes a message (and, if stale, the case as it is now)."""
    try:
        return fn()
    except OneGridError as exc:
        show_error(exc)
        if isinstance(exc, StaleEditError) and exc.current:
            cur = exc.current
            st.info(
                t(
                    "desk.stale_now",
                    version=cur.get("version"),
                    status=state_label(str(cur.get("status"))),
                ),
                icon=":material/update:",
            )
        return None


# -- caches -------------------------------------------------------------------------------------
# Keyed by the store file and the revisions read; values are shared and never mutated.


@st.cache_data(ttl=CACHE_TTL_S, show_spinner=False, max_entries=8)
def cached_centres(key: tuple[str, int, int], rev: tuple[int, ...]) -> pd.DataFrame:
    with open_store_ro(key[0]) as store:
        return cases.centres(store)


@st.cache_data(ttl=CACHE_TTL_S, show_spinner=False, max_entries=8)
def cached_departments(key: tuple[str, int, int], rev: tuple[int, ...]) -> pd.DataFrame:
    with open_store_ro(key[0]) as store:
        return cases.catalog_departments(store)


@st.cache_data(ttl=CACHE_TTL_S, show_spinner=False, max_entries=8)
def cached_event_types(key: tuple[str, int, int], rev: tuple[int, ...]) -> pd.DataFrame:
    with open_store_ro(key[0]) as store:
        return cases.catalog_event_types(store)


@st.cache_data(ttl=CACHE_TTL_S, show_spinner=False, max_entries=8)
def cached_channels(key: tuple[str, int, int], rev: tuple[int, ...]) -> pd.DataFrame:
    with open_store_ro(key[0]) as store:
        return cases.catalog_channels(store)


def clock() -> str:
    """Now to the minute: queues cached within a minute and a revision agree on what is overdue."""
    return workcalendar.now()[:16] + ":00"


@st.cache_data(ttl=CACHE_TTL_S, show_spinner=False, max_entries=64)
def cached_queue(
    key: tuple[str, int, int],
    rev: tuple[int, ...],
    now: str,
    *,
    centre: str | None = None,
    statuses: tuple[str, ...] | None = None,
    dept_code: str | None = None,
    town_code: str | None = None,
    overdue_only: bool = False,
    grid_codes: tuple[str, ...] | None = None,
    limit: int | None = 500,
) -> pd.DataFrame:
    with open_store_ro(key[0]) as store:
        return cases.queue(
            store,
            centre=centre,
            statuses=statuses,
            dept_code=dept_code,
            town_code=town_code,
            overdue_only=overdue_only,
            grid_codes=grid_codes,
            now=now,
            limit=limit,
        )


@st.cache_data(ttl=CACHE_TTL_S, show_spinner=False, max_entries=32)
def cached_counts(
    key: tuple[str, int, int], rev: tuple[int, ...], now: str, centre: str | None
) -> pd.DataFrame:
    with open_store_ro(key[0]) as store:
        return cases.queue_counts(store, centre=centre, now=now)


@st.cache_data(ttl=CACHE_TTL_S, show_spinner=False, max_entries=32)
def cached_due_lists(
    key: tuple[str, int, int], rev: tuple[int, ...], now: str, within_hours: float, centre: str | None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    with open_store_ro(key[0]) as store:
        return cases.due_lists(store, now=now, within_hours=within_hours, centre=centre)


@st.cache_data(ttl=CACHE_TTL_S, show_spinner=False, max_entries=32)
def cached_card_counts(key: tuple[str, int, int], rev: tuple[int, ...], now: str, by: str) -> pd.DataFrame:
    with open_store_ro(key[0]) as store:
        return cases.card_counts(store, by=by, now=now)


# -- scope pickers ------------------------------------------------------------------------------


def centre_label(name: str) -> str:
    """A centre's name in the session's language: the store names them in Chinese, the district
    centre 区联动中心 and each town's sub-centre after the town (<town>分中心)."""
    if name == "区联动中心":
        return t("desk.centre_name.district")
    if name.endswith("分中心"):
        return t("desk.centre_name.town", town=name.removesuffix("分中心"))
    return name


def centre_picker(ctx: Context, *, where: Any = None) -> tuple[str, str]:
    """The centre this dispatcher works for (kept in the session); returns (code, name)."""
    centres = cached_centres(ctx.store_key, ctx.rev("catalog", "grids"))
    names = {c: centre_label(str(n)) for c, n in zip(centres["code"], centres["name"], strict=True)}
    codes = list(names)
    if st.session_state.get(K_CENTRE) not in names:
        st.session_state[K_CENTRE] = codes[0]
    (where or st.sidebar).selectbox(t("desk.centre"), codes, format_func=names.__getitem__, key=K_CENTRE)
    code = str(st.session_state[K_CENTRE])
    return code, str(names[code])


def dept_picker(ctx: Context, *, where: Any = None) -> tuple[str, str]:
    """The body this handler works for (kept in the session); returns (code, name)."""
    depts = cached_departments(ctx.store_key, ctx.rev("catalog"))
    names = dict(zip(depts["code"], depts["name"], strict=True))
    codes = list(names)
    if st.session_state.get(K_DEPT) not in names:
        st.session_state[K_DEPT] = codes[0]
    (where or st.sidebar).selectbox(t("desk.dept"), codes, format_func=names.__getitem__, key=K_DEPT)
    code = str(st.session_state[K_DEPT])
    return code, str(names[code])


def grid_names(ctx: Context) -> dict[str, str]:
    """Level-3 grid code → 'code name' for the grid pickers."""
    grids = cached_grids(ctx.store_key, ctx.rev("grids"), 3)
    return dict(zip(grids["code"], grids["code"] + " " + grids["name"], strict=True))


# -- the queue table ----------------------------------------------------------------------------


def queue_view(frame: pd.DataFrame) -> pd.DataFrame:
    """A queue as shown: codes as words, columns named in the session's language."""
    cols = [c for c in QUEUE_COLUMNS if c in frame.columns]
    view = frame[cols].copy()
    view["status"] = view["status"].map(labels("wf.state", workflow.STATES)).fillna(view["status"])
    if "card" in view:
        view["card"] = view["card"].map(labels("desk.card", ("", "yellow", "red"))).fillna("")
    if "task" in view:
        view["task"] = view["task"].map(labels("desk.task", ("verify", "check"))).fillna(view["task"])
    if "distance_m" in view:
        view["distance_m"] = view["distance_m"].round(0)
    if "hours_left" in view:
        view["hours_left"] = view["hours_left"].round(1)
    for col in ("deadline_at", "reported_at"):
        if col in view:  # a case not dispatched yet has no deadline: a dash, not "None"
            view[col] = view[col].fillna("–").astype(str).str.replace("T", " ", regex=False)
    return view.rename(columns={c: t(f"desk.col.{c}") for c in cols})


def queue_table(frame: pd.DataFrame, *, key: str, open_key: str, height: int | None = None) -> None:
    """The queue as a table (st.dataframe shows text as text); picking a row opens that case."""
    if frame.empty:
        st.info(t("desk.empty"), icon=":material/inbox:")
        return
    ids = frame["id"].astype(str).tolist()

    def pick() -> None:
        rows = st.session_state[key].selection.rows
        if rows:
            st.session_state[open_key] = ids[rows[0]]

    st.dataframe(
        queue_view(frame),
        hide_index=True,
        width="stretch",
        height=height or "auto",
        key=key,
        on_select=pick,
        selection_mode="single-row",
        column_config={t("desk.col.overdue"): st.column_config.CheckboxColumn()},
    )


def case_opener(*, open_key: str, where: Any = None) -> str | None:
    """A box to open any case by its number; returns the case open on this page, if any."""
    box = where or st

    def typed() -> None:
        value = str(st.session_state.get(f"{open_key}.typed") or "").strip()
        if value:
            st.session_state[open_key] = value

    box.text_input(t("desk.open_case"), key=f"{open_key}.typed", on_change=typed, placeholder="K…")
    value = st.session_state.get(open_key)
    return str(value) if value else None


# -- the case detail ----------------------------------------------------------------------------


def _detail_rows(case: dict[str, Any]) -> pd.DataFrame:
    fields = (
        ("id", case.get("id")),
        ("event_name", case.get("event_name")),
        ("channel_name", case.get("channel_name_en" if language() == "en" else "channel_name")),
        ("town_name", case.get("town_name")),
        ("grid", f"{case.get('grid_code') or ''} {case.get('grid_name') or ''}".strip()),
        ("dept_name", case.get("dept_name")),
        ("centre_name", centre_label(str(case.get("centre_name") or ""))),
        ("reported_at", case.get("reported_at")),
        ("deadline_at", case.get("deadline_at")),
        ("reporter_phone", case.get("reporter_phone")),
        ("address", case.get("address")),
        ("sendback_count", case.get("sendback_count")),
        ("rework_count", case.get("rework_count")),
        ("duplicate_count", case.get("duplicate_count")),
        ("version", case.get("version")),
    )
    return pd.DataFrame(
        {
            t("desk.field"): [t(f"desk.col.{k}") for k, _ in fields],
            t("desk.value"): ["" if v is None else str(v) for _, v in fields],
        }
    )


def timeline(frame: pd.DataFrame) -> None:
    """The six steps in a row: done (with when) or still to come."""
    cols = st.columns(len(frame)) if len(frame) else []
    for col, row in zip(cols, frame.itertuples(index=False), strict=True):  # six rows, not a table
        icon = ":material/check_circle:" if row.done else ":material/radio_button_unchecked:"
        col.markdown(f"{icon} **{t(f'wf.step.{row.step}')}**")
        col.caption(t("desk.step_done", at=row.at) if row.done else t("desk.step_todo"))


def _case_map(ctx: Context, case: dict[str, Any], dups: pd.DataFrame) -> None:
    lon, lat = case.get("lon"), case.get("lat")
    if lon is None or lat is None:
        return
    grids = cached_display_grids(ctx.store_key, ctx.rev("grids"), 3)
    grid = grids[grids["code"] == case.get("grid_code")]
    basemap = basemap_picker(where=st)
    spots = [
        Spot(
            lon=float(lon),
            lat=float(lat),
            rows=((t("desk.col.id"), case["id"]), (t("desk.col.event_name"), case.get("event_name", ""))),
        )
    ]
    for d in dups.itertuples(index=False):  # a case's few duplicate reports
        spots.append(
            Spot(
                lon=float(d.lon),
                lat=float(d.lat),
                rows=((t("desk.col.reported_at"), d.reported_at), (t("desk.col.description"), d.description)),
                color="#ff7f0e",
                dashed=True,
            )
        )
    m = desk_map(
        bounds=point_bounds(float(lon), float(lat)),
        basemap=basemap,
        outlines=[Outline(grid, name=t("layer.grids"), code_label=t("col.code"), name_label=t("col.name"))],
        spots=spots,
    )
    finish(m, base=static_base())
    show_map(m, key=f"desk.map.{case['id']}", returned_objects=(), height=300)


def case_panel(ctx: Context, case_id: str, *, viewer: cases.Viewer, show_map_: bool = True) -> None:
    """One case: its facts, map, six-step timeline, history, duplicates and the viewer's actions."""
    with open_store_ro(ctx.store_path) as store:
        case = cases.get_case(store, case_id, viewer=viewer)
        steps = cases.case_timeline(store, case_id)
        history = cases.case_history(store, case_id)
        dups = cases.case_duplicates(store, case_id)
    seen_all = st.session_state.setdefault(K_SEEN, {})
    seen = int(seen_all.setdefault(case_id, int(case["version"])))

    st.subheader(t("desk.case_title"), anchor=False)
    cols = st.columns(3)
    cols[0].metric(t("desk.col.status"), state_label(str(case["status"])))
    deadline = str(case.get("deadline_at") or "")
    cols[1].metric(t("desk.col.deadline_at"), deadline[:16].replace("T", " ") or "–")  # to the minute
    card = str(case.get("card") or "")
    cols[2].metric(t("desk.col.card"), t(f"desk.card.{card}") if card else "–")
    if seen != int(case["version"]):
        st.warning(t("desk.stale_seen", seen=seen, version=case["version"]), icon=":material/update:")
        if st.button(t("desk.reload"), key=f"desk.reload.{case_id}", icon=":material/refresh:"):
            seen_all[case_id] = int(case["version"])
            st.rerun()
    timeline(steps)
    st.caption(t("desk.col.description"))
    st.text(str(case.get("description") or ""))  # user text: shown as text, never markup
    left, right = st.columns([3, 2])
    with left:
        st.dataframe(_detail_rows(case), hide_index=True, width="stretch")
    with right:
        if show_map_:
            _case_map(ctx, case, dups)
    actions(ctx, case, viewer=viewer, seen=seen)
    st.markdown(f"**{t('desk.history')}**")
    hist = history.copy()
    if "step" in hist:
        known = {s: t(f"wf.action.{s}") for s in hist["step"].unique() if f"wf.action.{s}" in STRINGS}
        hist["step"] = hist["step"].map(known).fillna(hist["step"])  # a step with no name shows its code
    if "role" in hist:
        hist["role"] = hist["role"].map(labels("role", hist["role"].unique().tolist()))
    hist = hist.fillna("–")  # a step taken by no body (report, register) shows a dash, not "None"
    st.dataframe(
        hist.rename(columns={c: t(f"desk.hcol.{c}") for c in hist.columns}), hide_index=True, width="stretch"
    )
    if len(dups):
        st.markdown(f"**{t('desk.duplicates', n=len(dups))}**")
        st.dataframe(
            dups.rename(columns={c: t(f"desk.col.{c}") for c in dups.columns}),
            hide_index=True,
            width="stretch",
        )


def _write(ctx: Context, fn: Callable[[Any], T]) -> T:
    """One write through a writable store opened for it (one connection per action)."""
    with open_store(ctx.store_path) as store:
        return fn(store)


def actions(ctx: Context, case: dict[str, Any], *, viewer: cases.Viewer, seen: int) -> None:
    """Exactly the actions the case's state, the viewer's role and scope allow; one form each."""
    allowed = tuple(case.get("allowed") or ())
    case_id = str(case["id"])
    if not allowed:
        st.caption(t("desk.no_actions"))
        return
    action = st.radio(
        t("desk.action"),
        allowed,
        format_func=labels("wf.action", allowed).__getitem__,
        horizontal=True,
        key=f"desk.action.{case_id}",
    )
    if action not in allowed:  # the state moved on since the radio was drawn
        action = allowed[0]
    depts = cached_departments(ctx.store_key, ctx.rev("catalog"))
    dept_names = dict(zip(depts["code"], depts["name"], strict=True))
    with st.form(f"desk.form.{case_id}.{action}", clear_on_submit=True, border=True):
        to_dept = reason = callback = None
        if action in ("dispatch", "decide"):
            codes = list(dept_names)
            routed = case.get("dept_code")
            to_dept = st.selectbox(
                t("desk.to_dept"),
                codes,
                index=codes.index(routed) if routed in codes else 0,
                format_func=dept_names.__getitem__,
            )
        if action == "reject":
            reason = st.selectbox(
                t("desk.reject_reason"),
                workflow.REJECT_REASONS,
                format_func=labels("wf.reject", workflow.REJECT_REASONS).__getitem__,
                key=f"desk.reason.{case_id}",
            )
        if action == "evaluate":
            callback = st.selectbox(
                t("desk.callback"),
                workflow.CALLBACKS,
                format_func=labels("wf.callback", workflow.CALLBACKS).__getitem__,
            )
        note = st.text_area(t(f"desk.note.{action}"), key=f"desk.note.{case_id}.{action}", height=80)
        go = st.form_submit_button(
            t("desk.confirm", action=action_label(action)), type="primary", icon=":material/send:"
        )
    if not go:
        return
    done = attempt(
        lambda: _write(
            ctx,
            lambda store: cases.act(
                store,
                case_id,
                action=action,
                version=seen,
                viewer=viewer,
                note=note,
                to_dept=to_dept,
                reason=reason,
                callback=callback,
            ),
        )
    )
    if done is not None:
        st.session_state[K_SEEN][case_id] = int(done["version"])
        st.session_state[K_DONE] = t(
            "desk.acted", action=action_label(action), id=case_id, status=state_label(str(done["status"]))
        )
        st.rerun()


def dispatch_batch(ctx: Context, frame: pd.DataFrame, *, viewer: cases.Viewer) -> None:
    """Dispatch several registered cases of the queue at once (each to its routed body)."""
    registered = frame[frame["status"] == "registered"]
    if registered.empty:
        return
    versions = dict(zip(registered["id"].astype(str), registered["version"].astype(int), strict=True))
    with st.expander(t("desk.batch", n=len(versions)), icon=":material/playlist_add_check:"):
        chosen = st.multiselect(t("desk.batch_pick"), list(versions), key="desk.batch_ids")
        if st.button(
            t("desk.batch_go", n=len(chosen)), key="desk.batch_go", disabled=not chosen, type="primary"
        ):
            items = [(c, versions[c]) for c in chosen]
            done = attempt(
                lambda: _write(ctx, lambda store: cases.dispatch_many(store, items, viewer=viewer))
            )
            if done is not None:
                seen = st.session_state.setdefault(K_SEEN, {})
                for case_id in done:  # this session's next look at them starts from the new version
                    seen.pop(case_id, None)
                st.session_state.pop("desk.batch_ids", None)
                st.session_state[K_DONE] = t("desk.batch_done", n=len(done))
                st.rerun()


# -- reports: preview and save ------------------------------------------------------------------


def show_preview(preview: intake.Preview) -> None:
    """Where a report falls and who gets it (names are data: shown as text, never markup)."""
    facts = (
        ("grid_l3", f"{preview.grid_l3} {preview.grid_names[0]}"),
        ("grid_l2", f"{preview.grid_l2} {preview.grid_names[1]}"),
        ("grid_l1", f"{preview.grid_l1} {preview.grid_names[2]}"),
        ("dept_name", f"{preview.dept_name} ({preview.dept_code})"),
        ("centre_name", centre_label(str(preview.centre_name))),
        ("route_reason", str(preview.route_reason)),
        ("lonlat", f"{preview.lon:.6f}, {preview.lat:.6f}"),
    )
    with st.container(border=True, key="desk.preview"):
        for label, value in facts:
            st.caption(t(f"desk.col.{label}"))
            st.text(value)


def candidates_view(frame: pd.DataFrame) -> pd.DataFrame:
    view = frame.copy()
    if "status" in view:
        view["status"] = view["status"].map(labels("wf.state", workflow.STATES)).fillna(view["status"])
    if "distance_m" in view:
        view["distance_m"] = view["distance_m"].round(0)
    return view.rename(columns={c: t(f"desk.col.{c}") for c in view.columns})


def save_report(
    ctx: Context, draft: intake.ReportDraft, *, link_to: str | None, actor: str
) -> tuple[str, str]:
    """Save a report through the shared district over a writable store; returns (outcome, case id)."""
    rw = district(ctx).writable()
    try:
        return intake.submit_report(rw, draft, link_to=link_to, actor=actor)
    finally:
        rw.store.close()


@st.cache_data(ttl=CACHE_TTL_S, show_spinner=False, max_entries=32)
def cached_inspector_tasks(
    key: tuple[str, int, int],
    rev: tuple[int, ...],
    grid_codes: tuple[str, ...],
    lon: float | None,
    lat: float | None,
) -> pd.DataFrame:
    with open_store_ro(key[0]) as store:
        return cases.inspector_tasks(store, grid_codes=grid_codes, lon=lon, lat=lat)


@st.cache_data(ttl=CACHE_TTL_S, show_spinner=False, max_entries=32)
def cached_grid_cases(
    key: tuple[str, int, int], rev: tuple[int, ...], now: str, grid_code: str, days: int
) -> pd.DataFrame:
    with open_store_ro(key[0]) as store:
        return cases.grid_cases(store, grid_code, days=days, now=now)


@st.cache_data(ttl=CACHE_TTL_S, show_spinner=False, max_entries=32)
def cached_roster(
    key: tuple[str, int, int], rev: tuple[int, ...], grid_code: str, masked: bool
) -> tuple[pd.DataFrame, int]:
    """A level-3 grid's staff (一长三员; personal data masked unless the role may see it)."""
    with open_store_ro(key[0]) as store:
        return (
            analysis.staff_of_grid(store, grid_code, level=3, masked=masked),
            analysis.staff_count(store, grid_code, level=3),
        )
