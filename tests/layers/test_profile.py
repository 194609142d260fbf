"""The profile: the seed's figures and the district's distributions, each within its stated range."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import cli
from layers.profile import RANGES, SEED, format_table, profile
from layers.store import open_store

# Figures that depend on the scale of the store (a year at 2,500 reports a day, 680,000 components),
# not only on how the district is made: the small test store (3 days, 40,000 components) is
# outside their ranges by design.
SCALE = {
    "components",
    "cases_per_day",
    "callbacks_per_day",
    "max_cases_grid_month",
    "town_on_time_spread",
    "town_satisfaction_spread",
    "department_on_time_spread",
    "desk_reports_on_days_off",
    "missing_cases_component_missing",
    "component_history_rows_per_1000",
    "share_dongshan_jinting_linhu",
    "first_dispatch_to_towns",
    "dispatched_by_sub_centres",
}


@pytest.fixture(scope="module")
def small_figures(small_store_path: Path):
    with open_store(small_store_path, readonly=True) as store:
        return {f.name: f for f in profile(store)}


def test_every_range_is_measured_once(small_figures) -> None:
    assert set(small_figures) == set(RANGES)
    assert set(SEED) <= set(RANGES)
    for name, (low, high) in RANGES.items():
        assert low <= high, name
        f = small_figures[name]
        assert (f.low, f.high) == (low, high) and f.seed == SEED.get(name)


def test_the_small_district_is_made_as_the_real_one(small_figures) -> None:
    outside = {n: f.value for n, f in small_figures.items() if not f.ok and n not in SCALE}
    assert outside == {}
    assert small_figures["towns_official"].value == 14
    assert small_figures["cases_north_of_31_21"].value == 0
    assert small_figures["impossible_component_events"].value == 0
    assert small_figures["id_codes_invalid_at_birth"].value == 0


def test_out_of_range_figures_are_reported_not_raised(small_figures) -> None:
    per_day = small_figures["cases_per_day"]
    assert not per_day.ok and per_day.value < 500  # the test store has 400 reports a day
    table = format_table(list(small_figures.values()))
    assert "outside: " in table and "cases_per_day" in table.splitlines()[-1]
    assert "work orders a day" in table and "2,500" in table


def test_cli_json(small_store_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["profile", "--store", str(small_store_path), "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert {r["name"] for r in rows} == set(RANGES)
    assert all({"section", "label", "value", "low", "high", "seed", "ok"} <= set(r) for r in rows)
    assert cli.main(["profile", "--store", str(small_store_path)]) == 0
    assert "figures in range" in capsys.readouterr().out


def test_cli_refuses_a_missing_store(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["profile", "--store", str(tmp_path / "none.sqlite")]) == 2
    assert capsys.readouterr().err.startswith("error: ")


@pytest.mark.slow
def test_the_full_district_reproduces_the_seed_and_every_range(full_store_path: Path) -> None:
    with open_store(full_store_path, readonly=True) as store:
        figures = profile(store)
    outside = {f.name: (f.value, f.low, f.high) for f in figures if not f.ok}
    assert outside == {}
    by_name = {f.name: f for f in figures}
    for name, value in SEED.items():
        if name not in ("cases_per_day", "callbacks_per_day"):
            assert by_name[name].value == value, name
