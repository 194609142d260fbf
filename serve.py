"""Start the OneGrid web app: ``python serve.py [streamlit options]``.

The same as ``streamlit run app.py``, except that the app's libraries (geopandas, folium, the
layers and the maps, ~2.5 s of imports on a small server) are imported before the server starts
answering, so the first person to open the app does not wait for them.
"""

from __future__ import annotations

import sys
from pathlib import Path


def main(argv: list[str]) -> int:
    import logging

    # Importing the pages' helpers outside a session makes Streamlit warn about a missing
    # script context, once per cached function; that is expected here.
    logging.getLogger("streamlit.runtime.scriptrunner_utils.script_run_context").setLevel(logging.ERROR)
    from streamlit.web import cli

    import layers.analysis  # noqa: F401
    import maps.views  # noqa: F401
    import pages._common  # noqa: F401

    sys.argv = ["streamlit", "run", str(Path(__file__).resolve().with_name("app.py")), *argv]
    return int(cli.main() or 0)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
