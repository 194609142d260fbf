"""OneGrid (一张网) web app: ``streamlit run app.py``.

The router and the frame: language and role switch, the filters every page shares, and one page
set per role. On first run (no store yet) it generates the default district, then opens it.
"""

from __future__ import annotations

import streamlit as st

from pages._caches import store_path
from pages._common import (
    PAGE_ICONS,
    PAGES_DIR,
    ROLE_PAGES,
    first_run,
    guarded,
    language_and_role_switch,
    role,
    sidebar_filters,
)
from pages._i18n import t

st.set_page_config(page_title="一张网 OneGrid", page_icon="🧭", layout="wide")

language_and_role_switch()

path = store_path()
if not path.exists():
    # A router of its own, so the first-run screen lists no page (pages/ also holds helpers).
    first = st.Page(lambda: first_run(path), title=t("firstrun.title"), url_path="first-run", default=True)
    st.navigation([first], position="hidden").run()
    st.stop()

pages = [
    st.Page(str(PAGES_DIR / f"{name}.py"), title=t(f"page.{name}"), icon=PAGE_ICONS[name], url_path=name)
    for name in ROLE_PAGES[role()]
    if (PAGES_DIR / f"{name}.py").is_file()  # a role may list pages this build does not ship
]


def _land() -> None:
    # The root address sends each role to its first page. Every page keeps its own address, so a
    # bookmarked /dispatcher opens the dispatch desk (the default page of a navigation has none).
    st.switch_page(pages[0])


landing = st.Page(_land, title=t("section.pages"), url_path="start", default=True, visibility="hidden")
page = st.navigation({t("section.pages"): [landing, *pages]}, position="sidebar")
with guarded():
    sidebar_filters(page=page.url_path)  # only the filters this page reads
page.run()
