"""OneGrid settings: one documented module, every value overridable by environment.

=========================  ===============================================  =================================
environment variable       meaning                                          default
=========================  ===============================================  =================================
``ONEGRID_STORE``          the store: a SQLite file's path, or a            ``data/generated/onegrid.sqlite``
                           ``postgresql://user@host:port/db`` URL
``ONEGRID_SEED``           seed of the generated default district           ``20260101``
``ONEGRID_DAYS``           days of case history in the default district     ``365``
``ONEGRID_TILES``          basemap: ``osm``, ``none`` or an XYZ tile URL    ``osm``
``ONEGRID_TILES_DATUM``    datum of that tile URL: ``wgs84`` or ``gcj02``   ``wgs84``
``ONEGRID_MAX_UPLOAD_MB``  largest file accepted by an upload               ``20``
``ONEGRID_CONFIRM_MOVE``   metres beyond which (or into another grid) a    ``50``
                           surveyor's move asks to be confirmed
``ONEGRID_NO_NUMBA``       any value: locate without the compiled kernel    unset (compiled if numba
                           (the numpy path, same answers; read by           is installed)
                           ``spatial._compiled``, which reads no settings)
``ONEGRID_NOW``            pins the clock of deadlines and overdue          unset (the local time)
                           (``YYYY-MM-DDTHH:MM:SS``)
``ONEGRID_FAULT``          tests only: a point of a store build where the   unset
                           process kills itself (the kill tests)
=========================  ===============================================  =================================

Every command and the app find the store by ``--store``, else ``ONEGRID_STORE``, else the default.
"""

from __future__ import annotations

import os
from pathlib import Path

# The working CRS (CGCS2000 / 3-degree Gauss-Kruger CM 120E, metres) and the display CRS (WGS84
# lon/lat) are defined once, by the engine; settings names them for the modules that read it.
from spatial.crs import DISPLAY_CRS as DISPLAY_CRS
from spatial.crs import WORK_CRS as WORK_CRS

ROOT = Path(__file__).resolve().parent
DATA_DIR = ROOT / "data"
GENERATED_DIR = DATA_DIR / "generated"

#: The default district: Wuzhong, Suzhou (GB/T 2260 code 320506).
DISTRICT_CODE = "320506"
DISTRICT_NAME = "吴中区"
BOUNDARY_FILE = DATA_DIR / "wuzhong_district_320506.geojson"
LAKE_FILE = DATA_DIR / "taihu_lake.geojson"
#: Other water taken out of the land: Yangcheng Lake, partly inside the public polygon.
WATER_FILES = (DATA_DIR / "yangcheng_lake.geojson",)
#: The public polygon takes in land north of 31°21′N that the Suzhou Industrial Park administers;
#: the district describes itself as 30°56′–31°21′N, so the land is cut there (data/SOURCES.md).
NORTH_LIMIT = 31.0 + 21.0 / 60.0
#: The 14 town-level units (7 streets, 7 towns), 2023 statistical division codes.
TOWNS_FILE = DATA_DIR / "wuzhong_towns_2023.csv"

DEFAULT_STORE = GENERATED_DIR / "onegrid.sqlite"


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ValueError(f"environment variable {name}={raw!r} is not a whole number") from exc


DEFAULT_SEED = _env_int("ONEGRID_SEED", 20260101)
DEFAULT_DAYS = _env_int("ONEGRID_DAYS", 365)
MAX_UPLOAD_MB = _env_int("ONEGRID_MAX_UPLOAD_MB", 20)
SURVEY_CONFIRM_M = _env_int("ONEGRID_CONFIRM_MOVE", 50)
TILES = os.environ.get("ONEGRID_TILES", "osm")
#: What an intranet tile service draws in: ``wgs84`` (also CGCS2000, e.g. Tianditu) or ``gcj02``.
TILES_DATUM = os.environ.get("ONEGRID_TILES_DATUM", "wgs84")


#: How a store target names a PostgreSQL/PostGIS database instead of a SQLite file.
STORE_URL_SCHEMES = ("postgresql://", "postgres://")


def store_path(explicit: str | os.PathLike[str] | None = None) -> Path:
    """The store to use: ``explicit`` (``--store``), else ``ONEGRID_STORE``, else the default.

    A ``postgresql://`` URL is returned as the text it is (a path would fold its ``//``).
    """
    for given in (explicit, os.environ.get("ONEGRID_STORE")):
        if given:
            text = os.fspath(given)
            return text if text.startswith(STORE_URL_SCHEMES) else Path(text)  # type: ignore[return-value]
    return DEFAULT_STORE
