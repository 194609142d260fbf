"""OneGrid (一张网) web app: ``streamlit run app.py``.

The router and the frame: language and role switch, the filters every page shares, and one page
set per role. On first run (no store yet) it generates the default district, then opens it.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from pages._caches import store_path
from pages._common import (
    PAGE_ICONS,
    PAGES_DIR,
    ROLE_PAGES,
    first_run,
    guarded,
    keep_in_address,
    language_and_role_switch,
    not_for_this_role,
    pages_of,
    role,
    sidebar_filters,
    simulated_note,
)
from pages._i18n import t

# The tab's icon is the app's own file: a Material icon as favicon is fetched from Google's servers,
# and an emoji needs a font that servers and many office PCs lack.
st.set_page_config(
    page_title="一张网 OneGrid", page_icon=str(PAGES_DIR.parent / "static" / "favicon.png"), layout="wide"
)

language_and_role_switch()

path = store_path()
if isinstance(path, Path) and not path.exists():  # a server store is made by `generate --store URL`
    # A router of its own, so the first-run screen lists no page (pages/ also holds helpers).
    first = st.Page(lambda: first_run(path), title=t("firstrun.title"), url_path="first-run", default=True)
    st.navigation([first], position="hidden").run()
    st.stop()

pages = [
    st.Page(str(PAGES_DIR / f"{name}.py"), title=t(f"page.{name}"), icon=PAGE_ICONS[name], url_path=name)
    for name in pages_of(role())  # a role may list pages this build does not ship
]
# Every other page keeps its address, hidden, and says whose it is: a bookmarked /planner opened
# as an analyst is told so, with links to the analyst's pages, instead of a silent jump.
others = sorted({n for names in ROLE_PAGES.values() for n in names} - set(pages_of(role())))
refused = [
    st.Page(
        lambda name=name: not_for_this_role(name, links=pages),  # type: ignore[misc]
        title=t(f"page.{name}"),
        icon=":material/lock:",
        url_path=name,
        visibility="hidden",
    )
    for name in others
    if (PAGES_DIR / f"{name}.py").is_file()
]


def _land() -> None:
    # The root address sends each role to its first page. Every page keeps its own address, so a
    # bookmarked /dispatcher opens the dispatch desk (the default page of a navigation has none).
    st.switch_page(pages[0])


landing = st.Page(_land, title=t("section.pages"), url_path="start", default=True, visibility="hidden")
page = st.navigation({t("section.pages"): [landing, *pages, *refused]}, position="sidebar")
if page is not landing:
    keep_in_address()
with guarded():
    simulated_note(path)
    sidebar_filters(page=page.url_path)  # only the filters this page reads
page.run()
