"""The code rules of the grid and component standards (layers/codes.py)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from layers import codes
from spatial.errors import CodeError

L3 = "320506101002003"


def test_ancestors_pad_the_prefix_with_zeros():
    got = codes.town_of(pd.Series([L3, "320506104011007"]))
    assert got.dtype == object
    assert got.tolist() == ["320506101000000", "320506104000000"]
    assert codes.community_of(np.array([L3], dtype=object)).tolist() == ["320506101002000"]
    assert codes.ancestor_of([L3], level=3).tolist() == [L3]
    assert codes.town_code(L3) == "320506101000000"
    assert codes.community_code(L3) == "320506101002000"


def test_prefix_and_level_read_from_the_padding():
    assert codes.grid_prefix("320506101000000", level=1) == "320506101"
    assert codes.grid_prefix("320506101002000", level=2) == "320506101002"
    assert codes.grid_prefix(L3, level=3) == L3
    assert [codes.level_of_code(c) for c in ("320506101000000", "320506101002000", L3)] == [1, 2, 3]
    with pytest.raises(ValueError, match="grid level must be 1, 2 or 3"):
        codes.grid_prefix(L3, level=4)


def test_sql_ancestor_matches_the_python_rule(tmp_path):
    import sqlite3

    conn = sqlite3.connect(tmp_path / "c.sqlite")
    for level in (1, 2, 3):
        (got,) = conn.execute(f"SELECT {codes.ancestor_sql('?', level=level)}", (L3,)).fetchone()
        assert got == codes.ancestor_of([L3], level=level)[0]
    conn.close()


def test_component_code_check_is_vectorised_and_strict():
    values = [
        "3205060101000001",
        "320506010100001",
        "32050601010000０1",
        " 3205060101000001",
        None,
        np.nan,
        1,
    ]
    assert codes.is_component_code(values).tolist() == [True, False, False, False, False, False, False]
    assert codes.is_component_code([]).tolist() == []
    assert codes.is_component_code([None, None]).tolist() == [False, False]
    assert codes.is_grid_code([L3, L3 + "1"]).tolist() == [True, False]
    assert codes.check_component_code(" 3205060101000001 ") == "3205060101000001"
    with pytest.raises(CodeError, match="is not 16 digits"):
        codes.check_component_code("32050601")


def test_every_module_uses_the_one_home():
    """The rules are written out nowhere else in the product code."""
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    pattern = re.compile(
        r"\"000000\"|\"000\"|'000|endswith\(\"0|[=!]= ?1[56]\b|slice\(0, ?(9|12)\)|\[:9\]|\[:12\] ?\+|CODE_LEN = 1"
    )
    found = [
        f"{p.relative_to(root)}:{i}"
        for folder in ("layers", "pages", "maps", "commands")
        for p in sorted((root / folder).rglob("*.py"))
        if p.name != "codes.py"
        for i, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1)
        if pattern.search(line)
    ]
    assert found == []
