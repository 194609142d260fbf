"""The assessment, cockpit and analysis pages through Streamlit's AppTest, on the small district."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

import settings

ROOT = Path(__file__).resolve().parents[2]
APP = str(ROOT / "app.py")


@pytest.fixture
def small_env(small_store_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("ONEGRID_STORE", str(small_store_path))
    monkeypatch.setenv("ONEGRID_NOW", "2026-11-25T12:00:00")
    monkeypatch.setattr(settings, "TILES", "none")
    return small_store_path


def _frame(at: AppTest, *columns: str) -> pd.DataFrame:
    """The first table the page drew with all of ``columns`` (AppTest finds tables by position)."""
    for df in at.dataframe:
        if set(columns) <= set(df.value.columns):
            return df.value
    raise AssertionError(f"no table with {columns}")


def _run(page: str, *, errors: int = 0, **state: object) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)
    for k, v in state.items():
        at.session_state[k] = v
    at.switch_page(str(ROOT / "pages" / f"{page}.py")).run()
    assert not at.exception, at.exception
    assert len(at.error) == errors, [e.value for e in at.error]
    return at


def test_assessment_ranks_and_drills_down(small_env: Path) -> None:
    at = _run("assessment", role="analyst")
    assert at.title[0].value == "考核排名"
    assert any("末三位" in w.value for w in at.warning)
    ranking = _frame(at, "rank", "score")
    assert len(ranking) == 14 and ranking["rank"].iloc[0] == 1
    at.selectbox(key="a_ind").set_value("overdue").run()
    unit = at.selectbox(key="a_unit").value
    n = int(ranking.set_index("code").at[unit, "overdue"])
    assert any(f"{n} 件案件" in c.value for c in at.caption)
    assert len(_frame(at, "案件编号", "事件类型")) == n
    at.radio(key="a_by").set_value("department").run()
    assert not at.exception
    at.radio(key="a_view").set_value("bimonthly").run()
    assert not at.exception and "2026-10..2026-11" in " ".join(c.value for c in at.caption)


def test_cockpit_follows_the_leaders_scope(small_env: Path) -> None:
    at = _run("leader", role="leader")
    assert at.title[0].value == "领导驾驶舱"
    district = at.metric[0].value
    towns = _frame(at, "code", "name", "registered", "due")
    town = towns.sort_values("registered").iloc[-1]["code"]
    at.selectbox(key="c_town").set_value(town).run()
    communities = at.dataframe[-1].value
    assert communities["registered"].sum() == towns.set_index("code").at[town, "registered"]
    community = communities.sort_values("registered").iloc[-1]["code"]
    at.selectbox(key="c_community").set_value(community).run()
    grids = at.dataframe[-1].value
    assert grids["registered"].sum() == communities.set_index("code").at[community, "registered"]
    at.selectbox(key="leader_scope_w").set_value(f"town:{town}").run()
    assert not at.exception
    assert at.metric[0].value == f"{int(towns.set_index('code').at[town, 'registered']):,}" != district
    assert at.session_state["leader_scope"] == f"town:{town}"
    # The cases behind a key figure, within the scope.
    at.selectbox(key="c_fig").set_value("overdue").run()
    overdue = int(towns.set_index("code").at[town, "overdue"])
    assert any(f"{overdue} 件案件" in c.value for c in at.caption)


def test_analysis_page_opens(small_env: Path) -> None:
    # Three days of cases: hot spots and rhythm, and a clear message instead of a forecast.
    at = _run("analysis", role="analyst", errors=1)
    assert at.title[0].value == "研判分析"
    assert "no whole month of cases" in at.error[0].value
    classes = _frame(at, "n")
    assert classes["n"].sum() == 887
    at.radio(key="n_split").set_value("channel").run()
    assert not at.exception


def test_every_word_of_the_assessment_pages_is_in_both_languages() -> None:
    import ast

    from layers import indicators
    from pages._i18n import STRINGS
    from spatial.hotspots import CLASSES

    keys = set()
    for name in ("_assess", "assessment", "leader", "analysis"):
        tree = ast.parse((ROOT / "pages" / f"{name}.py").read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "t" and node.args:
                arg = node.args[0]
                if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                    keys.add(arg.value)
    for prefix, codes in (
        ("ind", [i.key for i in indicators.INDICATORS]),
        ("emerging", list(CLASSES)),
        ("spot", ["hot_strong", "hot", "none", "cold", "cold_strong"]),
        ("assess.by", indicators.BY),
        ("assess.view", ["month", "bimonthly"]),
        ("assess.drill", ["num", "den"]),
        ("analysis.rhythm", ["all", "channel", "major"]),
        ("weekday", range(7)),
        ("scope", ["district", "town", "department"]),
    ):
        keys |= {f"{prefix}.{c}" for c in codes}
    keys |= {f"emerging.{c}.help" for c in CLASSES}
    missing = sorted(k for k in keys if k not in STRINGS)
    assert not missing, missing
    assert all(len(STRINGS[k]) == 2 and all(STRINGS[k]) for k in keys)


def test_the_pages_in_english(small_env: Path) -> None:
    for page, role, title in (
        ("assessment", "analyst", "Assessment and ranking"),
        ("leader", "leader", "Leaders' cockpit"),
    ):
        at = _run(page, role=role, lang="en")
        assert at.title[0].value == title
        shown = " ".join(
            e.value for e in (*at.caption, *at.warning, *at.subheader) if isinstance(e.value, str)
        )
        assert "assess." not in shown and "cockpit." not in shown and "ind." not in shown, shown
