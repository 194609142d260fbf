"""Masks of grid staff's personal data: exact texts, missing values, whole columns and frames."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from layers import staff


def test_masks() -> None:
    assert staff.mask_id_number("320506199001011234") == "3205************34"
    assert staff.mask_phone("13812341234") == "138****1234"
    assert staff.mask_name("张晓明") == "张*明"
    assert staff.mask_name("张明") == "张*"
    assert staff.mask_name("欧阳晓明") == "欧**明"
    assert staff.mask_name(["李四", None, ""]).tolist() == ["李*", None, ""]
    masked = staff.mask_phone(pd.Series(["13812341234", "19912345678"]))
    assert masked.tolist() == ["138****1234", "199****5678"]
    assert re.fullmatch(r"\d{4}\*{12}[\dX]{2}", staff.mask_id_number("32050619900101123X"))


def test_mask_personal_masks_every_personal_column_and_nothing_else() -> None:
    frame = pd.DataFrame(
        {
            "id": [1, 2, 3],
            "grid_code": ["320506001001001"] * 3,
            "name": ["张三丰", "李四", None],
            "id_number": ["320506199001011234", None, "32050619900101123X"],
            "phone": ["13912345678", "13812341234", ""],
        }
    )
    out = staff.mask_personal(frame)
    assert out["name"].tolist()[:2] == ["张*丰", "李*"] and pd.isna(out["name"].iloc[2])
    assert out["id_number"].iloc[[0, 2]].tolist() == ["3205************34", "3205************3X"]
    assert pd.isna(out["id_number"].iloc[1])
    assert out["phone"].tolist() == ["139****5678", "138****1234", ""]
    pd.testing.assert_frame_equal(out[["id", "grid_code"]], frame[["id", "grid_code"]])
    assert frame["name"].iloc[0] == "张三丰", "the caller's frame is left as it was"
    assert staff.mask_personal(frame[["id"]]).equals(frame[["id"]])


def test_a_whole_roster_is_masked_like_each_value() -> None:
    """The column path gives exactly what masking one value at a time gives."""
    rng = np.random.default_rng(5)
    names = ["".join(rng.choice(list("王李张欧阳晓明芳"), size=int(n))) for n in rng.integers(1, 5, 500)]
    phones = [f"1{n:010d}" for n in rng.integers(0, 10**10, 500)]
    masked = staff.mask_personal(pd.DataFrame({"name": names, "phone": phones}))
    assert masked["name"].tolist() == [staff.mask_name(v) for v in names]
    assert masked["phone"].tolist() == [staff.mask_phone(v) for v in phones]
