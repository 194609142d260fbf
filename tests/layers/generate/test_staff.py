"""Grid staff: roster shape, ID numbers (checked by an independent implementation), phones."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from layers.generate import staff

GRIDS = [f"320506{t}{c:03d}{g:03d}" for t in ("003", "108") for c in (1, 2, 3) for g in range(1, 21)]
COLUMNS = ["id", "grid_code", "role", "specialty", "name", "gender", "id_number", "phone", "photo"]


@pytest.fixture(scope="module")
def roster() -> pd.DataFrame:
    return staff.make_staff(GRIDS, seed=11)


def _check_char(body: str) -> str:
    """GB 11643 / ISO 7064 MOD 11-2, written out longhand: a(i) * 2^(i-1) mod 11 from the right."""
    total = sum(int(ch) * pow(2, 17 - i, 11) for i, ch in enumerate(body))
    return "10X98765432"[total % 11]


def test_columns_and_roles_per_grid(roster):
    assert list(roster.columns) == COLUMNS
    assert roster["id"].tolist() == list(range(1, len(roster) + 1))
    assert set(roster["grid_code"]) == set(GRIDS)
    counts = roster.groupby(["grid_code", "role"]).size().unstack(fill_value=0)
    assert (counts["网格长"] == 1).all() and (counts["网格指导员"] == 1).all()
    assert (
        counts["网格协管员"].between(2, 4).all() and counts["网格参与员"].between(*staff.PARTICIPANTS).all()
    )
    coord = roster[roster["role"] == "网格协管员"]
    assert coord["specialty"].isin(staff.SPECIALTIES).all()
    assert not coord.duplicated(["grid_code", "specialty"]).any()
    part = roster[roster["role"] == "网格参与员"]
    assert part["specialty"].isin(staff.PARTICIPANT_KINDS).all()
    assert set(part["specialty"]) == set(staff.PARTICIPANT_KINDS)
    assert part.groupby("grid_code")["specialty"].apply(lambda k: "居民代表" in set(k)).all()
    assert (roster.loc[roster["role"].isin(["网格长", "网格指导员"]), "specialty"] == "").all()
    assert roster["photo"].isna().all()


def test_names_look_chinese(roster):
    assert roster["name"].str.fullmatch(r"[\u4e00-\u9fff]{2,4}").all()
    # Suzhou's surnames: 陆, 顾, 沈, 朱, 周 and 徐 together are about a fifth of the people.
    first = roster["name"].str.slice(0, 1)
    assert first.value_counts().index[0] in "王张陈沈陆顾朱周徐"
    assert 0.15 < first.isin(list("陆顾沈朱周徐")).mean() < 0.3
    assert set(roster["gender"]) == {"男", "女"}


def test_id_numbers_are_valid_unique_and_consistent(roster):
    ids = roster["id_number"]
    assert ids.is_unique
    assert ids.str.fullmatch(r"\d{17}[\dX]").all()
    for value in ids:
        assert value[-1] == _check_char(value[:17]), value
    assert (staff.id_check_digit(ids.str.slice(0, 17).tolist()) == ids.str.slice(17).to_numpy()).all()
    odd = ids.str.slice(16, 17).astype(int) % 2 == 1
    assert (odd == (roster["gender"] == "男")).all()
    assert ids.str.startswith("32").all()
    region = ids.str.slice(0, 6)
    assert region.isin(["320506", "320586", "320524"]).mean() > 0.4  # Wuzhong under its three names
    birth = pd.to_datetime(ids.str.slice(6, 14), format="%Y%m%d")
    # The region code is the one valid on the birth date: 吴县 (320524) until 1995-06-08, 吴县市
    # (320586) until 2001-02-28, 吴中区 (320506) after; 姑苏 and 吴江区 only from 2012-10-26.
    day = ids.str.slice(6, 14)
    assert (day[region == "320524"] < "19950608").all()
    assert day[region == "320586"].between("19950608", "20010227").all()
    assert (day[region == "320506"] >= "20010228").all()
    assert (day[region.isin(["320508", "320509"])] >= "20121026").all()
    for code, since in staff.CODE_CREATED.items():
        assert (day[region == code] >= since.replace("-", "")).all(), code
    for code, until in staff.CODE_WITHDRAWN.items():
        assert (day[region == code] < until.replace("-", "")).all(), code
    age = (pd.Timestamp("2025-01-01") - birth).dt.days / 365.25
    assert age.between(18, 70).all()
    # Known published example of the check digit.
    assert staff.id_check_digit(["11010519491231002"]).tolist() == ["X"]


# Mobile number segments of China Mobile, Unicom and Telecom (MIIT allocations).
MOBILE_PREFIXES = [
    "130",
    "131",
    "132",
    "133",
    "134",
    "135",
    "136",
    "137",
    "138",
    "139",
    "147",
    "150",
    "151",
    "152",
    "153",
    "155",
    "156",
    "157",
    "158",
    "159",
    "166",
    "173",
    "175",
    "176",
    "177",
    "178",
    "180",
    "181",
    "182",
    "183",
    "185",
    "186",
    "187",
    "188",
    "189",
    "198",
    "199",
]


def test_phones(roster):
    phones = roster["phone"]
    assert phones.is_unique
    assert phones.str.fullmatch(r"1[3-9]\d{9}").all()
    assert phones.str.slice(0, 3).isin(MOBILE_PREFIXES).all()


def test_deterministic():
    a = staff.make_staff(GRIDS[:10], seed=3)
    pd.testing.assert_frame_equal(a, staff.make_staff(GRIDS[:10], seed=3))
    assert not a["id_number"].equals(staff.make_staff(GRIDS[:10], seed=4)["id_number"])
    later = staff.make_staff(GRIDS[:10], seed=3, today=dt.date(2030, 1, 1))
    assert later["name"].equals(a["name"])
