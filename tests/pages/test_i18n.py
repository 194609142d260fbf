"""The one translation table: every key in both languages, the same placeholders, no key defined
twice, and an English label for every official class the generator writes."""

from __future__ import annotations

import importlib
import string
from pathlib import Path

import pytest

from pages import _i18n
from pages._i18n import COMPONENT_CLASSES_EN, COMPONENT_MAJORS_EN, EVENT_MAJORS_EN, STRINGS

PAGES = Path(__file__).resolve().parents[2] / "pages"
#: Keys deliberately empty in one language (a note only English needs).
ONE_LANGUAGE = {"app.official_names"}


def _fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}


def _tables() -> dict[str, dict[str, tuple[str, str]]]:
    """The main table and every page family's table that is merged into it (pages/_*_text.py)."""
    tables = {}
    for path in sorted(PAGES.glob("_*_text.py")):
        module = importlib.import_module(f"pages.{path.stem}")
        found = [v for k, v in vars(module).items() if k.endswith("_STRINGS") and isinstance(v, dict)]
        assert len(found) == 1, f"{path.name} holds one table"
        tables[path.stem] = found[0]
    return tables


def test_every_key_has_both_languages() -> None:
    def complete(key: str, pair: object) -> bool:
        if not (isinstance(pair, tuple) and len(pair) == 2 and all(isinstance(s, str) for s in pair)):
            return False
        # Both empty is the label of an empty value (no card): the same in both languages.
        return key in ONE_LANGUAGE or bool(pair[0].strip()) == bool(pair[1].strip())

    assert [key for key, pair in STRINGS.items() if not complete(key, pair)] == []


def test_both_languages_take_the_same_placeholders() -> None:
    differ = {
        k: (zh, en) for k, (zh, en) in STRINGS.items() if k not in ONE_LANGUAGE and _fields(zh) != _fields(en)
    }
    assert differ == {}


def test_the_page_tables_are_merged_into_one_without_clashes() -> None:
    tables = _tables()
    assert {"_desk_text", "_assess_text"} <= set(tables)
    seen: dict[str, str] = {}
    clashes = []
    for name, table in tables.items():
        for key in table:
            if key in seen:
                clashes.append((key, seen[key], name))
            seen[key] = name
            assert STRINGS[key] == table[key], f"{key} of {name} is not what t() shows"
    assert clashes == []


def test_english_text_is_english_and_chinese_text_is_chinese() -> None:
    """An English entry holds no Chinese character (the official names of things excepted: they
    come from the store, not from the table); a Chinese entry is not just English."""
    cjk = {k for k, (_, en) in STRINGS.items() if any("\u4e00" <= ch <= "\u9fff" for ch in en)}
    # The language switch names both languages; a search field cites an official name (e.g. 井盖).
    allowed = {"lang.label"} | {k for k in cjk if "e.g." in STRINGS[k][1]}
    assert cjk <= allowed, sorted(cjk - allowed)
    latin = {
        k for k, (zh, _) in STRINGS.items() if zh.strip() and zh.isascii() and any(c.isalpha() for c in zh)
    }
    # Names that are the same in both (OpenStreetMap, WGS84 ...) are not words left untranslated.
    assert latin <= {k for k in latin if STRINGS[k][0] == STRINGS[k][1]}, sorted(latin)


def test_every_official_class_has_an_english_label(small_store_path: Path) -> None:
    import sqlite3

    conn = sqlite3.connect(f"file:{small_store_path}?mode=ro", uri=True)
    try:
        classes = {r[0] for r in conn.execute("SELECT code FROM component_classes")}
        majors = {r[0] for r in conn.execute("SELECT DISTINCT major_code FROM event_types")}
    finally:
        conn.close()
    assert classes == set(COMPONENT_CLASSES_EN)
    assert {c[:2] for c in classes} == set(COMPONENT_MAJORS_EN)
    assert majors == set(EVENT_MAJORS_EN)


@pytest.mark.parametrize("kind", ["event_major", "component_major", "component_class"])
def test_official_labels_follow_the_language(kind: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_i18n, "language", lambda: "zh")
    assert _i18n.official(kind, "01" if kind != "component_class" else "0101", "官方名称") == "官方名称"
    monkeypatch.setattr(_i18n, "language", lambda: "en")
    label = _i18n.official(kind, "01" if kind != "component_class" else "0101", "官方名称")
    assert label != "官方名称" and label.isascii()
    assert _i18n.official(kind, "99", "未收录") == "未收录"  # no standard label: the official name


def test_staff_posts_follow_the_language(monkeypatch: pytest.MonkeyPatch) -> None:
    import pandas as pd

    posts = pd.Series(["网格长", "网格协管员", "网格参与员"])
    specialties = pd.Series(["", "安全", None])
    monkeypatch.setattr(_i18n, "language", lambda: "en")
    assert _i18n.post_labels(posts, specialties).tolist() == [
        "Grid head",
        "Grid coordinator (safety)",
        "Grid participant",
    ]
    monkeypatch.setattr(_i18n, "language", lambda: "zh")
    assert _i18n.post_labels(posts, specialties).tolist() == ["网格长", "网格协管员（安全）", "网格参与员"]


def test_component_classes_in_a_column_follow_the_language(monkeypatch: pytest.MonkeyPatch) -> None:
    import pandas as pd

    codes, names = pd.Series(["0114", "0999"]), pd.Series(["消防栓", "未收录"])
    monkeypatch.setattr(_i18n, "language", lambda: "en")
    assert _i18n.official_labels("component_class", codes, names).tolist() == ["Fire hydrant", "未收录"]
    monkeypatch.setattr(_i18n, "language", lambda: "zh")
    assert _i18n.official_labels("component_class", codes, names).tolist() == ["消防栓", "未收录"]
