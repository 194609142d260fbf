"""Grid staff (一长三员): how their personal data is shown.

Names, ID-card numbers and phone numbers are personal data: every view and export masks them
unless the viewer may see them. Masking works on whole columns (pandas string methods), so a
district's roster of thousands is masked in milliseconds; a Python call per value took seconds.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeAlias, overload

import numpy as np
import pandas as pd

__all__ = ["PERSONAL_COLUMNS", "mask_id_number", "mask_name", "mask_personal", "mask_phone"]

#: Columns of the staff table that hold personal data, and the mask of each.
PERSONAL_COLUMNS = ("name", "id_number", "phone")

_Values: TypeAlias = Sequence[str | None] | np.ndarray | pd.Series


@overload
def mask_id_number(value: str) -> str: ...  # type: ignore[overload-overlap]
@overload
def mask_id_number(value: _Values) -> np.ndarray: ...
def mask_id_number(value: str | _Values) -> str | np.ndarray:
    """``320506199001011234`` → ``3205************34``: region prefix and the last two shown."""
    return _mask(value, lambda s: s.str.slice(0, 4) + _stars(s.str.slice(4, -2)) + s.str.slice(-2))


@overload
def mask_phone(value: str) -> str: ...  # type: ignore[overload-overlap]
@overload
def mask_phone(value: _Values) -> np.ndarray: ...
def mask_phone(value: str | _Values) -> str | np.ndarray:
    """``13812341234`` → ``138****1234``."""
    return _mask(value, lambda s: s.str.slice(0, 3) + _stars(s.str.slice(3, -4)) + s.str.slice(-4))


@overload
def mask_name(value: str) -> str: ...  # type: ignore[overload-overlap]
@overload
def mask_name(value: _Values) -> np.ndarray: ...
def mask_name(value: str | _Values) -> str | np.ndarray:
    """``张晓明`` → ``张*明``, ``张明`` → ``张*``, ``欧阳晓明`` → ``欧**明``: first and (for three or
    more characters) last shown."""

    def rule(s: pd.Series) -> pd.Series:
        long = s.str.len() >= 3
        middle = _stars(s.str.slice(1, -1))
        return s.str.slice(0, 1) + middle.where(long, "*") + s.str.slice(-1).where(long, "")

    return _mask(value, rule)


_MASKS: dict[str, Callable[[_Values], np.ndarray]] = {
    "name": mask_name,
    "id_number": mask_id_number,
    "phone": mask_phone,
}


def mask_personal(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` with each of :data:`PERSONAL_COLUMNS` it holds masked, column by column."""
    out = frame.copy()
    for col in PERSONAL_COLUMNS:
        if col in out.columns:
            out[col] = _MASKS[col](out[col])
    return out


def _stars(s: pd.Series) -> pd.Series:
    return s.str.replace(r".", "*", regex=True)


def _mask(value: object, rule: Callable[[pd.Series], pd.Series]) -> str | np.ndarray:
    scalar = isinstance(value, str)
    s = pd.Series([value] if scalar else list(value), dtype=object)  # type: ignore[call-overload]
    # Missing and empty values stay as they are: there is nothing to hide.
    missing = s.isna() | (s.astype(str) == "")
    out = rule(s.fillna("").astype(str))
    out = out.astype(object).where(~missing, s)
    return str(out.iloc[0]) if scalar else out.to_numpy(dtype=object)
