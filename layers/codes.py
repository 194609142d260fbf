"""The code rules of the standards, in one place: 15-digit grid codes and 16-digit component codes.

A grid code (CJ/T 213, GB/T 30428.1) is county (6) + town (3) + community (3) + grid (3) digits;
a parent's code is its own prefix padded with zeros, so the level-1 grid of a level-3 code is its
first 9 digits + ``"000000"`` and the level-2 grid its first 12 + ``"000"``. A component code
(CJ/T 214, GB/T 30428.2) is county (6) + major class (2) + sub-class (2) + serial (6) digits.

Every helper that takes many codes is vectorised (pandas string methods over an object array);
the scalar ones serve a single code a user typed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeAlias

import numpy as np
import pandas as pd

from spatial.errors import CodeError

#: Digits of a grid code, and of the prefix that identifies a grid of each level.
GRID_CODE_LEN = 15
PREFIX_LEN = {1: 9, 2: 12, 3: 15}
#: Digits of a component code.
COMPONENT_CODE_LEN = 16

Codes: TypeAlias = np.ndarray | pd.Series | Sequence[str]


def _strings(codes: Codes) -> pd.Series:
    return pd.Series(np.asarray(codes, dtype=object)).astype(str)


def _check_level(level: int) -> int:
    if level not in PREFIX_LEN:
        raise ValueError(f"grid level must be 1, 2 or 3, not {level}")
    return level


def ancestor_of(codes: Codes, *, level: int) -> np.ndarray:
    """The code of the level-``level`` grid that holds each grid code (object array).

    A code of that level or above is its own ancestor's prefix padded, so level 3 returns the
    codes unchanged.
    """
    n = PREFIX_LEN[_check_level(level)]
    s = _strings(codes)
    return (s.str.slice(0, n) + "0" * (GRID_CODE_LEN - n)).to_numpy(dtype=object)


def town_of(codes: Codes) -> np.ndarray:
    """Level-1 code of grid codes (the first 9 digits, zero-padded to 15)."""
    return ancestor_of(codes, level=1)


def community_of(codes: Codes) -> np.ndarray:
    """Level-2 code of level-3 grid codes (the first 12 digits, zero-padded to 15)."""
    return ancestor_of(codes, level=2)


def town_code(code: str) -> str:
    """Level-1 code of one grid code."""
    return str(town_of([code])[0])


def community_code(code: str) -> str:
    """Level-2 code of one grid code."""
    return str(community_of([code])[0])


def ancestor_sql(column: str, *, level: int) -> str:
    """The SQL expression of :func:`ancestor_of` over a column of grid codes (SQLite)."""
    n = PREFIX_LEN[_check_level(level)]
    return f"substr({column}, 1, {n}) || '{'0' * (GRID_CODE_LEN - n)}'" if n < GRID_CODE_LEN else column


def grid_prefix(code: str, *, level: int) -> str:
    """The digits that every level-3 code inside grid ``code`` of ``level`` starts with."""
    return str(code)[: PREFIX_LEN[_check_level(level)]]


def level_of_code(code: str) -> int:
    """The level a 15-digit grid code names, read from its zero padding (3 when it has none)."""
    c = str(code)
    if len(c) == GRID_CODE_LEN and c.endswith("0" * (GRID_CODE_LEN - PREFIX_LEN[1])):
        return 1
    if len(c) == GRID_CODE_LEN and c.endswith("0" * (GRID_CODE_LEN - PREFIX_LEN[2])):
        return 2
    return 3


def is_grid_code(codes: Codes) -> np.ndarray:
    """True where a value is a well-formed grid code (15 ASCII digits)."""
    return _digits_of_length(codes, GRID_CODE_LEN)


def is_component_code(codes: Codes) -> np.ndarray:
    """True where a value is a well-formed component code (16 ASCII digits)."""
    return _digits_of_length(codes, COMPONENT_CODE_LEN)


def _digits_of_length(codes: Codes, n: int) -> np.ndarray:
    s = pd.Series(np.asarray(codes, dtype=object), dtype=object)
    if s.empty:
        return np.zeros(0, dtype=bool)
    try:
        # On an object column ``.str`` gives NaN for what is not a string (None, NaN, numbers).
        found = s.str.fullmatch(f"[0-9]{{{n}}}")
    except AttributeError:  # not one string in the column
        return np.zeros(len(s), dtype=bool)
    return found.fillna(False).to_numpy(dtype=bool)


def check_component_code(code: object) -> str:
    """``code`` stripped, or :class:`CodeError` if it is not 16 digits."""
    c = str(code).strip() if code is not None else ""
    if not is_component_code([c])[0]:
        raise CodeError(
            f"component code {code!r} is not 16 digits (county 6 + major class 2 + sub-class 2 + serial 6)"
        )
    return c
