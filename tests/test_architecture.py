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


# -- the generator stays behind its entry points ----------------------------------------------
# The generator (layers/generate/) makes a simulated district; the application reads a store and
# must not depend on how one was made. Only the commands and screens that generate a district may
# import it, and only through its entry point. Tests and benchmarks build districts of their own.
GENERATOR_ENTRY_POINTS = {
    "commands/generate.py": {"layers.generate.build"},
    "pages/_common.py": {"layers.generate.build"},  # the first-run screen
}
APPLICATION = [
    *(p for pkg in ("spatial", "layers", "maps", "pages", "commands") for p in _files(pkg)),
    *(ROOT / f for f in ("app.py", "cli.py", "serve.py", "settings.py") if (ROOT / f).is_file()),
]


def _is_project_module(name: str) -> bool:
    rel = ROOT.joinpath(*name.split("."))
    return rel.with_suffix(".py").is_file() or rel.is_dir()


def _full_imports(path: Path) -> set[str]:
    """Every module a file imports, by full dotted name (``from a import b`` gives ``a.b`` when
    ``b`` is a module of the project, else ``a``)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
            names.update(
                f"{node.module}.{alias.name}"
                for alias in node.names
                if _is_project_module(f"{node.module}.{alias.name}")
            )
    return names


def _generator_imports(path: Path) -> set[str]:
    return {m for m in _full_imports(path) if m == "layers.generate" or m.startswith("layers.generate.")}


@pytest.mark.parametrize("path", APPLICATION, ids=lambda p: str(p.relative_to(ROOT)))
def test_nothing_but_the_entry_points_imports_the_generator(path: Path) -> None:
    rel = path.relative_to(ROOT).as_posix()
    if rel.startswith("layers/generate/"):
        return
    allowed = GENERATOR_ENTRY_POINTS.get(rel, set())
    bad = _generator_imports(path) - allowed
    assert not bad, (
        f"{rel} imports {sorted(bad)}; outside {sorted(GENERATOR_ENTRY_POINTS)} nothing imports the generator"
    )


def test_the_generator_checker_sees_every_form(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text(
        "from layers.generate.staff import mask_name\nfrom layers import generate\nimport layers.generate.cases\n",
        encoding="utf-8",
    )
    assert _generator_imports(bad) == {"layers.generate.staff", "layers.generate", "layers.generate.cases"}
    good = tmp_path / "good.py"
    good.write_text("from layers.generate.build import generate_store\n", encoding="utf-8")
    assert _generator_imports(good) == {"layers.generate.build"}


# -- one definition of each shared constant and setting ----------------------------------------


def test_the_working_crs_is_defined_once() -> None:
    """``spatial.crs`` defines it; every other module imports it (``spatial/`` cannot read settings)."""
    owners = []
    for path in [*APPLICATION, *_files("bench")]:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            targets = node.targets if isinstance(node, ast.Assign) else [getattr(node, "target", None)]
            if isinstance(node, (ast.Assign, ast.AnnAssign)) and any(
                isinstance(t, ast.Name) and t.id in ("WORK_CRS", "DISPLAY_CRS") for t in targets
            ):
                owners.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert len(owners) == 2 and all(o.startswith("spatial/crs.py:") for o in owners), owners


def test_every_environment_variable_is_in_the_settings_table() -> None:
    import re

    import settings

    documented = set(re.findall(r"``(ONEGRID_[A-Z_]+)``\s", settings.__doc__ or ""))
    used: dict[str, str] = {}
    for path in APPLICATION:
        for name in re.findall(r"ONEGRID_[A-Z][A-Z_]*[A-Z]", path.read_text(encoding="utf-8")):
            used.setdefault(name, str(path.relative_to(ROOT)))
    missing = {n: f for n, f in used.items() if n not in documented}
    assert not missing, f"not in the table of settings.py: {missing}"
