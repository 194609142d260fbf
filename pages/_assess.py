"""What the assessment, cockpit and analysis pages share: the leader's scope, the months, caches.

The leader's scope (the district, one town, one department) is part of the role: a sidebar
selector for the leader role, kept in ``session_state["leader_scope"]`` as ``district``,
``town:<code>`` or ``department:<code>``; every figure of the cockpit is computed within it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import streamlit as st

from layers import assessment, forecast, hotspots, rhythm
from layers import indicators as ind
from pages._caches import CACHE_TTL_S, open_store_ro
from pages._common import Context, plain, role
from pages._i18n import EVENT_MAJORS_EN, t

SCOPE_KEY = "leader_scope"


@dataclass(frozen=True)
class Scope:
    kind: str  # district / town / department
    code: str | None = None

    @property
    def key(self) -> str:
        return self.kind if self.code is None else f"{self.kind}:{self.code}"

    @classmethod
    def parse(cls, value: object) -> Scope:
        text = str(value or "district")
        kind, _, code = text.partition(":")
        return cls(kind, code) if kind in ("town", "department") and code else cls("district")


# -- caches: keyed by the store file and the case revision -------------------------------------


@st.cache_resource(show_spinner=False, max_entries=1)
def cached_cases(key: tuple[str, int, int], rev: tuple[int, ...]) -> ind.CaseArrays:
    """Every case's indicator columns (read-only, shared between sessions; ~2 s once)."""
    with open_store_ro(key[0]) as store:
        return ind.load_case_arrays(store)


@st.cache_data(ttl=CACHE_TTL_S, show_spinner=False, max_entries=16)
def cached_names(
    key: tuple[str, int, int], rev: tuple[int, ...], by: str, lang: str = "zh"
) -> dict[str, str]:
    """Names of the units of ``by``; channels and event classes in ``lang`` (the rest are official
    Chinese names)."""
    with open_store_ro(key[0]) as store:
        if by == "channel":
            column = "name_en" if lang == "en" else "name"
            return dict(store.conn.execute(f"SELECT code, {column} FROM channels").fetchall())
        if by == "event_type":
            return dict(store.conn.execute("SELECT code, name FROM event_types").fetchall())
        if by == "major":
            majors = store.conn.execute("SELECT DISTINCT major_code, major_name FROM event_types").fetchall()
            english = EVENT_MAJORS_EN if lang == "en" else {}
            return {c: english.get(c, n) for c, n in majors}
        if by == "grid":
            gen = store.current_generation()
            return dict(
                store.conn.execute(
                    "SELECT code, name FROM grids WHERE generation = ? AND level = 3", (gen,)
                ).fetchall()
            )
        return ind.unit_names(store, by=by)


@st.cache_data(ttl=CACHE_TTL_S, show_spinner=False, max_entries=32)
def cached_assessment(
    key: tuple[str, int, int], rev: tuple[int, ...], first: str, last: str, by: str
) -> assessment.Assessment:
    cases = cached_cases(key, rev)
    with open_store_ro(key[0]) as store:
        return assessment.assess(store, ind.Period.of_months(first, last), by=by, cases=cases)


@st.cache_data(ttl=CACHE_TTL_S, show_spinner=False, max_entries=16)
def cached_xlsx(key: tuple[str, int, int], rev: tuple[int, ...], first: str, last: str, by: str) -> bytes:
    import io

    result = cached_assessment(key, rev, first, last, by)
    buf = io.BytesIO()
    with open_store_ro(key[0]) as store:
        assessment.write_xlsx(store, result, buf, cases=cached_cases(key, rev))
    return buf.getvalue()


@st.cache_data(ttl=CACHE_TTL_S, show_spinner=False, max_entries=64)
def cached_case_list(key: tuple[str, int, int], rev: tuple[int, ...], ids: tuple[str, ...]) -> pd.DataFrame:
    with open_store_ro(key[0]) as store:
        return assessment.case_details(store, list(ids))


@st.cache_data(ttl=CACHE_TTL_S, show_spinner=False, max_entries=8)
def cached_hotspots(
    key: tuple[str, int, int], rev: tuple[int, ...], months: tuple[str, ...]
) -> hotspots.HotSpots:
    with open_store_ro(key[0]) as store:
        return hotspots.hot_spots(store, list(months))


@st.cache_data(ttl=CACHE_TTL_S, show_spinner=False, max_entries=64)
def cached_forecast(key: tuple[str, int, int], rev: tuple[int, ...], series: str) -> forecast.Forecasts:
    """One series' backtest and forecast (a fraction of a second: a handful of small fits)."""
    with open_store_ro(key[0]) as store:
        return forecast.backtest_and_forecast(store, series=[series])


@st.cache_data(ttl=CACHE_TTL_S, show_spinner=False, max_entries=32)
def cached_rhythm(
    key: tuple[str, int, int], rev: tuple[int, ...], first: str, last: str, by: str | None, scope: str
) -> pd.DataFrame:
    sc = Scope.parse(scope)
    with open_store_ro(key[0]) as store:
        return rhythm.rhythm(
            store,
            ind.Period.of_months(first, last),
            by=by,
            town=sc.code if sc.kind == "town" else None,
            department=sc.code if sc.kind == "department" else None,
        )


# -- months and scope ----------------------------------------------------------------------------


def months_of(ctx: Context) -> list[str]:
    """The months the store holds cases in, newest first."""
    if ctx.span is None:
        return []
    lo, hi = ctx.span
    out, y, m = [], lo.year, lo.month
    while (y, m) <= (hi.year, hi.month):
        out.append(f"{y:04d}-{m:02d}")
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return out[::-1]


def default_month(months: list[str], ctx: Context) -> str:
    """The last whole month of data (the month being assessed), else the latest."""
    if ctx.span and len(months) > 1:
        hi = ctx.span[1]
        last_day = (hi.replace(day=28) + dt.timedelta(days=4)).replace(day=1) - dt.timedelta(days=1)
        return months[0] if hi == last_day else months[1]
    return months[0] if months else ""


def scope_selector(ctx: Context) -> Scope:
    """The leader's scope in the sidebar (other roles see the district)."""
    if role() != "leader":
        return Scope("district")
    towns = cached_names(ctx.store_key, ctx.rev("grids"), "town")
    depts = cached_names(ctx.store_key, ctx.rev("catalog"), "department")
    wanted = st.query_params.get("scope")
    options = ["district", *(f"town:{c}" for c in sorted(towns)), *(f"department:{c}" for c in sorted(depts))]
    if SCOPE_KEY not in st.session_state and wanted in options:
        st.session_state[SCOPE_KEY] = wanted
    if st.session_state.get(SCOPE_KEY) not in options:
        st.session_state[SCOPE_KEY] = "district"
    # The widget has a key of its own: the scope is kept in SCOPE_KEY while pages that do not
    # draw the selector run (Streamlit forgets the state of a widget not drawn in a run), and
    # the widget starts from it when drawn again.
    widget = SCOPE_KEY + "_w"
    if st.session_state.get(widget) not in options:
        st.session_state[widget] = st.session_state[SCOPE_KEY]

    def label(value: str) -> str:
        sc = Scope.parse(value)
        if sc.kind == "town":
            return t("scope.town", name=towns.get(sc.code or "", sc.code))
        if sc.kind == "department":
            return t("scope.department", name=depts.get(sc.code or "", sc.code))
        return t("scope.district")

    chosen = st.sidebar.selectbox(t("scope.label"), options, format_func=label, key=widget)
    st.session_state[SCOPE_KEY] = chosen
    return Scope.parse(chosen)


def scope_name(ctx: Context, scope: Scope) -> str:
    if scope.kind == "district":
        return t("scope.district")
    names = cached_names(ctx.store_key, ctx.rev("grids", "catalog"), scope.kind)
    return t(f"scope.{scope.kind}", name=names.get(scope.code or "", scope.code))


def scope_mask(cases: ind.CaseArrays, scope: Scope) -> np.ndarray | None:
    return ind.scope_mask(
        cases,
        town=scope.code if scope.kind == "town" else None,
        department=scope.code if scope.kind == "department" else None,
    )


def rate_columns(frame: pd.DataFrame) -> dict[str, Any]:
    """Column settings with each indicator's name and formula; rates and hours arrive as text
    (:func:`floor_rates`)."""
    cfg: dict[str, Any] = {
        "code": st.column_config.TextColumn(t("col.code")),
        "name": st.column_config.TextColumn(t("col.name")),
    }
    for i in ind.INDICATORS:
        if i.key in frame.columns:
            if i.kind == "count":
                cfg[i.key] = st.column_config.NumberColumn(t(f"ind.{i.key}"), format="%d", help=i.formula)
            else:
                cfg[i.key] = st.column_config.TextColumn(t(f"ind.{i.key}"), help=i.formula)
    return cfg


def floor_rates(frame: pd.DataFrame) -> pd.DataFrame:
    """Rates as percentages cut down to 0.1 (never rounded up to 100 %), hours to 0.1, as text:
    "—" where the denominator is empty, never 0 % or 100 %."""
    out = frame.copy()
    for i in ind.INDICATORS:
        if i.key in out.columns and i.kind == "rate":
            out[i.key] = [ind.rate_text(v) for v in out[i.key].to_numpy(dtype=float)]
        elif i.key in out.columns and i.kind == "hours":
            out[i.key] = ["—" if not np.isfinite(v) else f"{v:.1f}" for v in out[i.key].to_numpy(dtype=float)]
    return out


def names_text(codes: list[str], names: dict[str, str]) -> str:
    return plain(t("list.sep").join(names.get(c, c) for c in codes))


def case_table(frame: pd.DataFrame) -> pd.DataFrame:
    """Case records as a page shows them: headers and states in the session's language."""
    out = frame.copy()
    if "status" in out:
        words = {s: t(f"status.{s}") for s in out["status"].dropna().unique()}  # a handful of states
        out["status"] = out["status"].map(words)
    return out.rename(columns={c: t(f"case.col.{c}") for c in out.columns})
