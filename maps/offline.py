"""Point folium's CDN links at the copies the app serves itself (installed by :mod:`maps.vendor`).

folium writes the addresses of Leaflet, its plugins and their styles into every map, and
streamlit-folium loads exactly those addresses in the browser. :func:`localize` rewrites them, on
each element of one map (never on the shared classes), to ``/app/static/vendor/...``: Streamlit
serves the ``static/`` folder of the app there when ``server.enableStaticServing`` is on.

An address the asset table does not know raises :class:`OfflineAssetError` instead of being let
through: a plugin added without its assets must fail in the tests, not go blank on an intranet.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator
from typing import TypeVar

import branca.element
from folium.elements import JSCSSMixin

from maps.vendor import VENDOR_DIR, load_manifest, missing_files

#: Where Streamlit serves ``static/vendor`` (``server.enableStaticServing``).
DEFAULT_BASE = "/app/static/vendor"

_E = TypeVar("_E", bound=branca.element.Element)

_URL = re.compile(r"""https?://[^\s"'<>()\\]+""", re.IGNORECASE)


class OfflineAssetError(RuntimeError):
    """A map refers to a remote script or style that has no local copy."""


@functools.cache
def url_table() -> dict[str, str | None]:
    """CDN address → path under ``static/vendor`` (``None``: dropped, no OneGrid map uses it)."""
    return load_manifest()[1]


def assets_installed() -> list[str]:
    """Local asset files that are missing (empty when ``python -m maps.vendor`` has run)."""
    return missing_files(vendor_dir=VENDOR_DIR, urls=url_table())


def local_url(url: str, *, base: str = DEFAULT_BASE) -> str | None:
    """The local address of a CDN asset; ``None`` if it is deliberately dropped."""
    if not re.match(r"(?i)https?://|//", url):
        return url  # already local
    table = url_table()
    if url not in table:
        raise OfflineAssetError(
            f"the map loads {url}, which has no local copy; add its package and URL to maps/assets.json "
            "and run `python -m maps.vendor`"
        )
    rel = table[url]
    return None if rel is None else f"{base.rstrip('/')}/{rel}"


def _walk(element: branca.element.Element) -> Iterator[branca.element.Element]:
    yield element
    for child in list(element._children.values()):
        yield from _walk(child)


def _localize_links(links: list[tuple[str, str]], *, base: str) -> list[tuple[str, str]]:
    out = []
    for name, url in links:
        local = local_url(url, base=base)
        if local is not None:
            out.append((name, local))
    return out


def localize(m: _E, *, base: str = DEFAULT_BASE) -> _E:
    """Rewrite every script and style link of ``m`` (a map or a layer) and its children to local addresses.

    Call it after the last layer is added (a plugin added later brings its CDN links back).
    The lists are replaced on the instances: folium's own ``_add_link`` mutates the class-level
    lists in place, which would leak one map's links into every later map.
    """
    for el in _walk(m):
        if isinstance(el, JSCSSMixin):
            el.default_js = _localize_links(list(el.default_js), base=base)
            el.default_css = _localize_links(list(el.default_css), base=base)
    return m


def remote_urls(html: str, *, allowed: tuple[str, ...] = ()) -> list[str]:
    """Every http(s) address in ``html`` other than the ``allowed`` ones (tile templates).

    Tile templates appear JSON-escaped in the script (``\\/``), so the text is unescaped first.
    """
    text = html.replace("\\/", "/")
    found = []
    for url in _URL.findall(text):
        if any(url.startswith(a.split("{", 1)[0]) for a in allowed if a):
            continue
        found.append(url)
    return sorted(set(found))
