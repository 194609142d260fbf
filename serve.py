"""Start the OneGrid web app: ``python serve.py [streamlit options]``.

The same as ``streamlit run app.py``, except that before the server starts answering it imports
the app's libraries (geopandas, folium, the layers and the maps: ~2.5 s on a small server) and
reads the store into the shared caches (~1.5 s for the full district), so the first person to open
the app does not wait for either.
"""

from __future__ import annotations

import gc
import sys
from collections.abc import Callable
from pathlib import Path


def main(argv: list[str]) -> int:
    import logging

    # Importing the pages' helpers outside a session makes Streamlit warn about a missing
    # script context, once per cached function; that is expected here.
    logging.getLogger("streamlit.runtime.scriptrunner_utils.script_run_context").setLevel(logging.ERROR)
    from streamlit.runtime.pages_manager import PagesManager
    from streamlit.web import cli

    # The app routes with st.navigation. Streamlit decides once per server, at the first session,
    # whether a pages/ folder beside app.py is an old-style page list; if that first session
    # opened a deep link (/explorer), it would run the page without the app's frame (no role,
    # filters or language). pages/ holds the page scripts, not an old-style page list.
    PagesManager.uses_pages_directory = False

    import layers.analysis  # noqa: F401
    import maps.views  # noqa: F401
    from pages._caches import warm_caches

    _warm(warm_caches)
    # Streamlit runs a full garbage collection after every script run. The libraries and the
    # cached layers loaded above live as long as the server: freezing them out of the collector
    # keeps every page view and filter change from walking them (~0.1 s a collection here).
    gc.freeze()
    sys.argv = ["streamlit", "run", str(Path(__file__).resolve().with_name("app.py")), *argv]
    return int(cli.main() or 0)


def _warm(warm: Callable[[], list[str]]) -> None:
    """Read the store into the shared caches before answering; a problem is left to the pages."""
    import time

    t0 = time.perf_counter()
    try:
        done = warm()
    except Exception as exc:  # the pages show a broken store as a message; the server must start
        print(f"OneGrid: caches not warmed ({exc})", file=sys.stderr)
        return
    if done:
        print(f"OneGrid: {', '.join(done)} ready in {time.perf_counter() - t0:.1f} s", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
