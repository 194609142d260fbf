"""Dependencies point one way: pages/maps → layers → spatial (DESIGN.md §2)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PROJECT_PACKAGES = {"spatial", "layers", "maps", "pages", "commands", "bench", "settings", "cli", "app"}
UI_LIBRARIES = {"streamlit", "folium", "streamlit_folium", "branca", "pydeck", "altair", "mapclassify"}
# numba is allowed as an optional accelerator only (spatial/_compiled.py): every compiled path has
# a numpy twin that gives the same answers and is tested against it.
SPATIAL_ALLOWED = {"numpy", "shapely", "pyproj", "rtree", "numba"}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def _files(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


def test_every_package_has_files() -> None:
    for pkg in ("spatial", "layers", "maps", "pages"):
        assert _files(pkg), pkg


@pytest.mark.parametrize("path", _files("spatial"), ids=lambda p: p.name)
def test_spatial_imports_only_the_engine_stack(path: Path) -> None:
    import sys

    stdlib = set(sys.stdlib_module_names)
    bad = {m for m in _imports(path) if m not in stdlib and m not in SPATIAL_ALLOWED and m != "spatial"}
    assert not bad, (
        f"{path.relative_to(ROOT)} imports {sorted(bad)}; spatial/ may import only {SPATIAL_ALLOWED}"
    )


@pytest.mark.parametrize("path", _files("layers"), ids=lambda p: str(p.relative_to(ROOT)))
def test_layers_import_no_ui_and_no_upper_layer(path: Path) -> None:
    bad = _imports(path) & (UI_LIBRARIES | {"maps", "pages", "commands", "app", "cli"})
    assert not bad, f"{path.relative_to(ROOT)} imports {sorted(bad)}"


@pytest.mark.parametrize("path", _files("maps"), ids=lambda p: p.name)
def test_maps_import_no_pages(path: Path) -> None:
    bad = _imports(path) & {"pages", "app", "cli", "commands"}
    assert not bad, f"{path.relative_to(ROOT)} imports {sorted(bad)}"


def test_the_checker_sees_a_violation(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("import streamlit as st\nfrom layers import store\n", encoding="utf-8")
    assert _imports(bad) == {"streamlit", "layers"}
