"""The frame every page shares: roles, sidebar filters, error messages, the map widget.

Pages call these helpers, the caches of :mod:`pages._caches` and :mod:`layers` / :mod:`maps`;
they hold no logic of their own.

- :func:`context` — the session's store, role, language and sidebar filters (:class:`Context`);
- :func:`guarded` — the one place a :class:`spatial.errors.OneGridError` becomes a message;
- :func:`map_assets` — what the overview's and explorer's :mod:`maps.livemap` map loads;
- :func:`show_map` — ``st_folium`` with local assets, a stable key and only the returned objects
  the page asks for (the surveyor's and planner's editing maps).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import os
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import streamlit as st

import settings
from layers import analysis
from maps.base import Basemap, add_tile_notice, basemap_choices
from maps.livemap import assets as live_map_assets
from maps.offline import DEFAULT_BASE, assets_installed
from maps.overlays import STATE_COLORS

# Re-exported: the store helpers are also imported from the frame (the planner page).
from pages._caches import CACHE_TTL_S as CACHE_TTL_S
from pages._caches import (
    DEFAULT_LEVEL,
    cached_grids,
    default_dates,
    revisions_and_span,
    store_key,
    store_path,
)
from pages._caches import open_store_ro as open_store_ro
from pages._i18n import LANGUAGES, STRINGS, language, t
from spatial.errors import OneGridError

#: Roles and the pages each sees (a page file that does not exist yet is skipped); a case-desk
#: role lands on its own desk.
ROLES = (
    "analyst",
    "surveyor",
    "planner",
    "dispatcher",
    "leader",
    "operator",
    "department",
    "inspector",
    "gridhead",
    "supervisor",
)
ROLE_PAGES: dict[str, tuple[str, ...]] = {
    "analyst": ("home", "explorer", "assessment", "analysis"),
    "surveyor": ("home", "surveyor"),
    "planner": ("home", "planner"),
    "dispatcher": ("dispatcher", "supervision", "home", "explorer"),
    "leader": ("leader", "assessment", "home", "explorer"),
    "operator": ("intake",),
    "department": ("department",),
    "inspector": ("inspector",),
    "gridhead": ("gridhead",),
    "supervisor": ("supervision", "dispatcher", "home"),
}
#: Streamlit Material icons of the pages.
PAGE_ICONS = {
    "home": ":material/home:",
    "explorer": ":material/map:",
    "surveyor": ":material/location_on:",
    "planner": ":material/architecture:",
    "dispatcher": ":material/cell_tower:",
    "leader": ":material/monitoring:",
    "assessment": ":material/leaderboard:",
    "analysis": ":material/query_stats:",
    "intake": ":material/call:",
    "department": ":material/construction:",
    "supervision": ":material/assignment_late:",
    "inspector": ":material/directions_walk:",
    "gridhead": ":material/grid_view:",
}
#: Roles that may see grid staff's personal data unmasked (none until sign-in exists).
SEES_PERSONAL_DATA: frozenset[str] = frozenset()

PAGES_DIR = Path(__file__).resolve().parent


# -- errors -----------------------------------------------------------------------------------


# Every ASCII punctuation mark that Markdown, GitHub's extensions or Streamlit give a meaning
# (links, images, emphasis, code, headings, tables, :material/...: icons, :red[...] colours,
# $LaTeX$, autolinked URLs): CommonMark lets a backslash make any of them literal.
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()<>#+\-.!|~:$=&\"'@/%^;?])")


def plain(text: object) -> str:
    """``text`` escaped so an element that renders Markdown (``st.error``, ``st.info``, ...) shows
    it as written: a file or column name such as ``[x](https://…)`` or ``![](https://…/i.png)``
    stays text, never a link or a remote image. Use it on every user-supplied string in a message.
    """
    return _MARKDOWN_SPECIAL.sub(r"\\\1", str(text))


def show_error(exc: OneGridError) -> None:
    """The single translation of a user-fixable error into the UI.

    Messages quote what the user sent (file names, column names, values), so the message is shown
    as text (:func:`plain`), not rendered as Markdown.
    """
    st.error(plain(t("error.prefix") + error_text(exc)), icon=":material/error:")


def error_text(exc: OneGridError) -> str:
    """An error's words in the session's language: an error carrying a ``code`` (and ``params``)
    is translated by the ``error.<code>`` key; any other shows its own (English) message. A
    parameter named ``<name>_zh`` / ``<name>_en`` fills ``{<name>}`` in the session's language."""
    key = f"error.{getattr(exc, 'code', '')}"
    if key in STRINGS:
        # A parameter given in both languages (state_zh, state_en) fills {state} in the session's.
        params: dict[str, object] = {}
        for name, value in dict(getattr(exc, "params", {}) or {}).items():
            base, _, lang = name.rpartition("_")
            if base and lang in LANGUAGES:
                if lang == language():
                    params[base] = value
            else:
                params[name] = value
        try:
            return t(key, **params)
        except (KeyError, IndexError, ValueError):  # a parameter missing: the message still says it
            return str(exc)
    return str(exc)


@contextlib.contextmanager
def guarded() -> Iterator[None]:
    """Run a block; a :class:`OneGridError` becomes a message, anything else stays a bug."""
    try:
        yield
    except OneGridError as exc:
        show_error(exc)


# -- session context ------------------------------------------------------------------------


@dataclass(frozen=True)
class Context:
    """What a page needs to know about the session: the store, who is looking, and the filters."""

    store_path: Path | str
    store_key: tuple[str, int, int]  # (path, inode, mtime): a regenerated store is a new key
    revisions: dict[str, int]
    role: str
    lang: str
    start: dt.date
    end: dt.date
    level: int
    town: str | None
    span: tuple[dt.date, dt.date] | None

    def rev(self, *layers: str) -> tuple[int, ...]:
        return tuple(self.revisions.get(name, 0) for name in layers)

    @property
    def masked(self) -> bool:
        return self.role not in SEES_PERSONAL_DATA


def role() -> str:
    r = st.session_state.get("role", "analyst")
    return r if r in ROLES else "analyst"


def context() -> Context:
    """The session's context; works on a page opened on its own (defaults for what is unset)."""
    path = store_path()
    revs, span = revisions_and_span(path)
    start, end = default_dates(span)
    dates = st.session_state.get("f_dates")
    if isinstance(dates, (tuple, list)) and len(dates) == 2:
        start, end = dates[0], dates[1]
    level = st.session_state.get("f_level", DEFAULT_LEVEL)
    town = st.session_state.get("f_town") or None
    return Context(
        store_path=path,
        store_key=store_key(path),
        revisions=revs,
        role=role(),
        lang=language(),
        start=start,
        end=end,
        level=int(level) if level in (1, 2, 3) else DEFAULT_LEVEL,
        town=town,
        span=span,
    )


def language_and_role_switch() -> None:
    """Sidebar: language and role; ``?role=…&lang=…`` preselect them (and :func:`keep_in_address`
    writes them back)."""
    for key, allowed in (("role", ROLES), ("lang", tuple(LANGUAGES))):
        wanted = st.query_params.get(key)
        if key not in st.session_state and wanted in allowed:
            st.session_state[key] = wanted
    st.sidebar.radio(
        t("lang.label"),
        list(LANGUAGES),
        format_func=LANGUAGES.__getitem__,
        key="lang",
        horizontal=True,
        on_change=_keep_choices,
    )
    st.sidebar.selectbox(t("role.label"), ROLES, format_func=lambda r: t(f"role.{r}"), key="role")


def keep_in_address() -> None:
    """Write the session's role and language into the address (``?role=…&lang=…``), so a reload
    or a shared link keeps them. Called on a page's run, not the landing's: the landing only
    switches pages, and an address changed there makes the browser run the new page twice."""
    for key, value in (("role", role()), ("lang", language())):
        if st.query_params.get(key) != value:
            st.query_params[key] = value


def _keep_choices() -> None:
    """On a language switch, hand every widget its own value again: select boxes, multiselects and
    radios keep the codes chosen and show them with labels in the new language (the browser would
    otherwise keep the old labels, which no longer match an option)."""
    from streamlit.errors import StreamlitAPIException

    for key in list(st.session_state.keys()):
        if key == "lang":
            continue
        try:
            st.session_state[key] = st.session_state[key]
        except StreamlitAPIException:  # buttons, uploads and forms cannot be set, and need not be
            continue


def pages_of(who: str) -> tuple[str, ...]:
    """The pages role ``who`` sees that this build ships, in its order."""
    return tuple(n for n in ROLE_PAGES[who] if (PAGES_DIR / f"{n}.py").is_file())


def not_for_this_role(name: str, *, links: Sequence[Any] = ()) -> None:
    """What a page says when the session's role may not see it (opened by its address): which
    roles may, and links to the role's own pages (``links``, the ``st.Page`` objects of the
    navigation) instead of a silent jump to another page."""
    who = role()
    may = [t(f"role.{r}") for r in ROLES if name in ROLE_PAGES[r]]
    st.title(t(f"page.{name}"))
    st.warning(
        t(
            "role.not_allowed",
            page=t(f"page.{name}"),
            role=t(f"role.{who}"),
            roles=("、" if language() == "zh" else ", ").join(may),
        ),
        icon=":material/lock:",
    )
    for link in links:
        st.page_link(link)


def simulated_note(path: Path) -> None:
    """Say once, in the sidebar, that a generated district's data is simulated, and (in English)
    that names of things are the official Chinese ones."""
    if generated_store(store_key(path)):
        st.sidebar.caption(t("app.simulated"))
    if t("app.official_names"):  # in English only: Chinese needs no such note
        st.sidebar.caption(t("app.official_names"))


#: The shared sidebar filters and their session keys.
FILTER_KEYS = {"dates": "f_dates", "level": "f_level", "town": "f_town"}
#: The sidebar filters each page reads. A page not listed reads none and is shown none (the
#: surveyor's and planner's work on components and grid generations, the case desks on their
#: own queues); a page that starts reading ``context().start`` or ``.town`` is listed here.
PAGE_FILTERS: dict[str, tuple[str, ...]] = {
    "home": ("dates", "level", "town"),
    "explorer": ("dates", "level", "town"),
}


def _page_name(url_path: str) -> str:
    """A page's name from its URL path; the landing page's path is "" (the role's first page)."""
    if url_path:
        return url_path
    return next((n for n in ROLE_PAGES[role()] if (PAGES_DIR / f"{n}.py").is_file()), "")


def sidebar_filters(*, page: str | None = None) -> Context:
    """Sidebar: the shared filters (dates, grid level, town) that ``page`` (its URL path) reads
    (:data:`PAGE_FILTERS`), and only those; all of them when no page is named.

    A filter a page does not read is not drawn there but keeps its value for the pages that do:
    Streamlit forgets the state of a widget not drawn in a run unless the run sets it again.
    """
    all_filters = tuple(FILTER_KEYS)
    used = all_filters if page is None else PAGE_FILTERS.get(_page_name(page), ())
    for key in FILTER_KEYS.values():
        if key in st.session_state:
            # Set again in every run: a filter not drawn here keeps its value (Streamlit drops the
            # state of a widget not drawn in a run), and one drawn again shows it (only a value
            # set in the run that draws a widget reaches the browser's copy of it).
            st.session_state[key] = st.session_state[key]
    ctx = context()
    if not used:
        return ctx
    st.sidebar.subheader(t("filters.header"))
    if "dates" in used:
        lo, hi = ctx.span if ctx.span else (ctx.start, ctx.end)
        if "f_dates" not in st.session_state:
            st.session_state["f_dates"] = default_dates(ctx.span)
        st.sidebar.date_input(t("filters.dates"), min_value=lo, max_value=hi, key="f_dates")
    if "level" in used:
        if "f_level" not in st.session_state:
            st.session_state["f_level"] = DEFAULT_LEVEL
        st.sidebar.radio(t("filters.level"), (1, 2, 3), format_func=lambda v: t(f"level.{v}"), key="f_level")
    if "town" in used:
        towns = cached_grids(ctx.store_key, ctx.rev("grids"), 1)
        options = ["", *towns["code"].tolist()]
        names = dict(zip(towns["code"], towns["name"], strict=True))
        st.sidebar.selectbox(
            t("filters.town"),
            options,
            format_func=lambda c: names.get(c, t("filters.all_towns")),
            key="f_town",
        )
    return context()


def basemap_picker(*, where: Any = None) -> Basemap:
    """The basemap switch (configured service first)."""
    kinds = [b.kind for b in basemap_choices(settings.TILES, datum=settings.TILES_DATUM)]
    box = where or st.sidebar
    box.selectbox(t("basemap.label"), kinds, format_func=lambda k: t(f"basemap.{k}"), key="basemap")
    return current_basemap()


def current_basemap() -> Basemap:
    """The basemap the session's switch shows (also for map events handled before it is drawn)."""
    choices = basemap_choices(settings.TILES, datum=settings.TILES_DATUM)
    kind = st.session_state.get("basemap")
    return next((b for b in choices if b.kind == kind), choices[0])


def assets_check() -> None:
    missing = assets_installed()
    if missing:
        st.warning(t("assets.missing", n=len(missing)), icon=":material/map:")


def static_base() -> str:
    """Where the browser finds ``static/vendor`` (honours ``server.baseUrlPath``)."""
    prefix = (st.get_option("server.baseUrlPath") or "").strip("/")
    return f"/{prefix}{DEFAULT_BASE}" if prefix else DEFAULT_BASE


def map_labels() -> dict[str, str]:
    """The words the map builders put on maps, in the session's language."""
    labels = {
        c: t(f"col.{c}")
        for c in (
            "name",
            "code",
            "cases",
            "open",
            "overdue",
            "closure_rate",
            "components",
            "cases_per_km2",
            "class",
            "state",
        )
    }
    labels.update({m: t(f"metric.{m}") for m in analysis.METRICS})
    labels.update({"grids": t("layer.grids"), "heat": t("layer.heat"), "no_data": t("legend.no_data")})
    labels["components"] = t("layer.components")
    labels["points"] = t("layer.points")
    labels["points_legend"] = t("legend.points")
    labels["other_state"] = t("legend.other_state")
    labels["basemap_failed"] = t("basemap.failed")
    labels.update({f"state.{s}": t(f"state.{s}") for s in STATE_COLORS})
    return labels


@st.cache_data(ttl=CACHE_TTL_S, show_spinner=False, max_entries=4)
def generated_store(key: tuple[str, int, int]) -> bool:
    """Whether the store was made by the generator (its meta names the seed)."""
    with open_store_ro(key[0]) as store:
        return store.conn.execute("SELECT 1 FROM meta WHERE key = 'seed'").fetchone() is not None


# -- the map widget ---------------------------------------------------------------------------


def show_map(m: Any, *, key: str, returned_objects: tuple[str, ...], height: int = 600) -> dict[str, Any]:
    """Draw a folium map (the surveyor's and planner's); return what the browser sent back.

    Only ``returned_objects`` come back: each one that changes reruns the page.
    """
    from streamlit_folium import st_folium

    add_tile_notice(m, t("basemap.failed"))
    result = st_folium(
        m, key=key, height=height, use_container_width=True, returned_objects=list(returned_objects)
    )
    return result or {}


def map_assets() -> dict[str, list[str]]:
    """Leaflet's files as the live map loads them from the app (honours ``server.baseUrlPath``)."""
    return live_map_assets(base=static_base())


# -- first run ----------------------------------------------------------------------------------


def _lock_path(path: Path) -> Path:
    return path.with_name(path.name + ".generating.lock")


@contextlib.contextmanager
def generation_lock(path: Path) -> Iterator[bool]:
    """Hold the lock for generating ``path``; yields False if another session or process holds it.

    ``flock`` is per open file, so it also separates two sessions inside one server process, and
    the kernel releases it when a generating process dies: no stale lock to clean up.
    """
    lock = _lock_path(path)
    lock.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()}\n".encode())
            yield True
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def first_run(path: Path) -> None:
    """Generate the default district into ``path`` with a progress bar, then reopen the app."""
    import time

    st.title(t("firstrun.title"))
    st.write(t("firstrun.body", path=path))
    from layers.generate.build import generate_store

    with generation_lock(path) as mine:
        if not mine:
            st.info(t("firstrun.busy"))
            time.sleep(2.0)
            st.rerun()
        if path.exists():  # another session finished while this one waited for the lock
            st.rerun()
        bar = st.progress(0.0, text="…")

        def progress(stage: str, fraction: float) -> None:
            bar.progress(min(max(float(fraction), 0.0), 1.0), text=f"{stage} · {fraction:.0%}")

        with guarded():
            generate_store(
                path,
                seed=settings.DEFAULT_SEED,
                days=settings.DEFAULT_DAYS,
                end=dt.date.today(),
                force=False,
                progress=progress,
            )
            bar.progress(1.0, text=t("firstrun.done"))
    if path.exists():
        st.rerun()
