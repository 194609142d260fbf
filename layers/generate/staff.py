"""Grid staff (一长三员) of a generated district (their personal data is masked by :mod:`layers.staff`).

Every level-3 grid gets one grid head (网格长), one instructor (网格指导员), two to four
coordinators (网格协管员, each with a specialty: 安全 / 环境 / 治安 / 劳动保障) and one to three
participants (网格参与员). Names, ID-card numbers and phone numbers are generated: they look
real (valid GB 11643 check digits, Jiangsu region codes, live mobile prefixes) but belong to no one.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import numpy as np
import pandas as pd

__all__ = [
    "COLUMNS",
    "ROLES",
    "SPECIALTIES",
    "id_check_digit",
    "make_staff",
]

COLUMNS = ["id", "grid_code", "role", "specialty", "name", "gender", "id_number", "phone", "photo"]
ROLES = ("网格长", "网格指导员", "网格协管员", "网格参与员")
SPECIALTIES = ("安全", "环境", "治安", "劳动保障")

# Surnames with rough national frequencies (per cent), leaning to those common in Suzhou.
# fmt: off
_SURNAMES = (
    ("王", 7.1), ("李", 7.0), ("张", 6.7), ("刘", 5.4), ("陈", 4.6), ("杨", 3.1), ("黄", 2.4),
    ("赵", 2.3), ("吴", 2.6), ("周", 2.4), ("徐", 2.3), ("孙", 1.6), ("马", 1.4), ("朱", 1.6),
    ("胡", 1.3), ("郭", 1.2), ("何", 1.1), ("林", 1.0), ("高", 1.0), ("罗", 0.9), ("沈", 1.4),
    ("陆", 1.3), ("顾", 1.2), ("钱", 0.9), ("金", 0.8), ("蒋", 0.8), ("范", 0.6), ("姚", 0.6),
    ("汤", 0.5), ("许", 0.7), ("曹", 0.6), ("袁", 0.5), ("邹", 0.4), ("潘", 0.5), ("葛", 0.4),
    ("韩", 0.5), ("唐", 0.6), ("冯", 0.5), ("叶", 0.5), ("程", 0.4), ("蔡", 0.4), ("彭", 0.4),
    ("曾", 0.4), ("谢", 0.5), ("宋", 0.5), ("丁", 0.4), ("任", 0.3), ("卢", 0.3), ("戴", 0.4),
    ("夏", 0.3), ("浦", 0.2), ("吕", 0.3), ("倪", 0.3), ("秦", 0.2), ("俞", 0.3), ("殷", 0.2),
    ("欧阳", 0.05), ("司马", 0.02),
)
_GIVEN_M = tuple("伟强磊军勇杰涛斌超明刚平辉鹏华飞鑫波宇浩俊峰建国志文斌亮晨凯振东海林栋晓洪坤")
_GIVEN_F = tuple("芳娟敏静丽艳娜秀英玲霞燕萍红梅琳婷雪慧倩颖洁佳蓉琴晶莉丹瑶怡欣媛雯婕菁")
_GIVEN_ANY = tuple("文晓春秋新佳子一雨思俊嘉家安宁正")
# Region codes (GB/T 2260) of the ID numbers: mostly Wuzhong (and Wu County before 2001), then
# the rest of Suzhou and other parts of Jiangsu.
_REGIONS = (
    ("320506", 0.52), ("320524", 0.12), ("320505", 0.04), ("320507", 0.04), ("320508", 0.04),
    ("320509", 0.03), ("320581", 0.03), ("320583", 0.03), ("320585", 0.02), ("320102", 0.02),
    ("320211", 0.02), ("320281", 0.02), ("321322", 0.03), ("320923", 0.02), ("320826", 0.02),
    ("321081", 0.02),
)
# Live mobile prefixes of China Mobile, Unicom and Telecom.
_PREFIXES = (
    "134", "135", "136", "137", "138", "139", "147", "150", "151", "152", "157", "158", "159", "178",
    "182", "183", "187", "188", "198", "130", "131", "132", "155", "156", "166", "175", "176", "185",
    "186", "133", "153", "173", "177", "180", "181", "189", "199",
)
# fmt: on
_WEIGHTS = np.array([7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2], dtype=np.int64)
_CHECK = np.array(list("10X98765432"))
# Age ranges by role (years): heads and instructors are cadres; participants include retirees.
_AGES = {"网格长": (32, 58), "网格指导员": (28, 55), "网格协管员": (23, 55), "网格参与员": (20, 68)}
_FEMALE_SHARE = {"网格长": 0.45, "网格指导员": 0.5, "网格协管员": 0.4, "网格参与员": 0.55}


def id_check_digit(first17: Sequence[str] | np.ndarray) -> np.ndarray:
    """ISO 7064 MOD 11-2 check characters of 17-digit ID-number bodies (GB 11643-1999)."""
    body = np.asarray(first17, dtype="U17")
    digits = body.view("U1").reshape(-1, 17).astype(np.int64)
    return _CHECK[(digits @ _WEIGHTS) % 11]


def _roster(grid_codes: Sequence[str], rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    n = len(grid_codes)
    n_coord = rng.integers(2, 5, n)
    n_part = rng.integers(1, 4, n)
    per_grid = 2 + n_coord + n_part
    grid = np.repeat(np.asarray(grid_codes, dtype=object), per_grid)
    role = np.empty(per_grid.sum(), dtype=object)
    specialty = np.full(per_grid.sum(), "", dtype=object)
    start = np.concatenate([[0], np.cumsum(per_grid)[:-1]])
    offset = np.arange(per_grid.sum()) - np.repeat(start, per_grid)
    n_coord_r = np.repeat(n_coord, per_grid)
    role[offset == 0] = ROLES[0]
    role[offset == 1] = ROLES[1]
    coord = (offset >= 2) & (offset < 2 + n_coord_r)
    role[coord] = ROLES[2]
    role[offset >= 2 + n_coord_r] = ROLES[3]
    # Each grid's coordinators cover distinct specialties, safety and environment first.
    order = np.argsort(rng.random((n, 4)) + np.array([0.0, 0.3, 0.5, 0.9]), axis=1)
    k = offset[coord] - 2
    specialty[coord] = np.asarray(SPECIALTIES, dtype=object)[
        order[np.repeat(np.arange(n), per_grid)[coord], k]
    ]
    return grid, role, specialty


def _names(female: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    m = female.shape[0]
    sur, w = zip(*_SURNAMES, strict=True)
    p = np.array(w) / np.sum(w)
    surname = np.asarray(sur, dtype=object)[rng.choice(len(sur), m, p=p)]
    male_pool = np.asarray(_GIVEN_M + _GIVEN_ANY, dtype=object)
    female_pool = np.asarray(_GIVEN_F + _GIVEN_ANY, dtype=object)
    last = np.where(
        female,
        female_pool[rng.integers(0, female_pool.size, m)],
        male_pool[rng.integers(0, male_pool.size, m)],
    )
    middle = np.where(
        female,
        female_pool[rng.integers(0, female_pool.size, m)],
        male_pool[rng.integers(0, male_pool.size, m)],
    )
    # About a third of given names have one character.
    one = rng.random(m) < 0.32
    given = np.where(one, last, middle + last)
    return (pd.Series(surname) + pd.Series(given)).to_numpy(dtype=object)


def _id_numbers(
    female: np.ndarray, age_lo: np.ndarray, age_hi: np.ndarray, rng: np.random.Generator, *, today: dt.date
) -> np.ndarray:
    m = female.shape[0]
    codes, w = zip(*_REGIONS, strict=True)
    p = np.array(w) / np.sum(w)
    region = np.asarray(codes, dtype=object)[rng.choice(len(codes), m, p=p)]
    age_days = (rng.uniform(age_lo, age_hi) * 365.25).astype(np.int64)
    birth = np.datetime64(today.isoformat(), "D") - age_days.astype("timedelta64[D]")
    # Wu County (320524) became Wuzhong in 2001: people born after that carry 320506.
    region[(region == "320524") & (birth >= np.datetime64("2001-02-28"))] = "320506"
    birth_txt = np.datetime_as_string(birth, unit="D").astype("U10")
    ymd = np.char.replace(birth_txt, "-", "")
    # Sequence: 2 digits of the police station, then one digit odd for men, even for women.
    seq = rng.integers(0, 100, m) * 10 + 2 * rng.integers(0, 5, m) + np.where(female, 0, 1)
    body = (pd.Series(region) + pd.Series(ymd) + pd.Series(seq).astype(str).str.zfill(3)).to_numpy(
        dtype="U17"
    )
    return (pd.Series(body) + pd.Series(id_check_digit(body))).to_numpy(dtype=object)


def _phones(m: int, rng: np.random.Generator) -> np.ndarray:
    prefix = np.asarray(_PREFIXES, dtype=object)[rng.integers(0, len(_PREFIXES), m)]
    rest = pd.Series(rng.integers(0, 100_000_000, m)).astype(str).str.zfill(8)
    return (pd.Series(prefix) + rest).to_numpy(dtype=object)


def _redraw_duplicates(values: np.ndarray, draw: object) -> np.ndarray:
    """Replace later duplicates by fresh draws until all values are distinct."""
    for _ in range(20):
        dup = pd.Series(values).duplicated().to_numpy()
        if not dup.any():
            return values
        values[dup] = draw(dup)  # type: ignore[operator]
    raise RuntimeError("could not draw distinct values")  # pragma: no cover


def make_staff(grid_codes: Sequence[str], *, seed: int, today: dt.date | None = None) -> pd.DataFrame:
    """The staff roster of the level-3 grids, 一长三员.

    Parameters
    ----------
    grid_codes
        Codes of the level-3 grids.
    seed
        Seed; the same seed and grids give the same roster.
    today
        Reference date for ages (default 2025-01-01, so a seed always gives the same roster).

    Returns
    -------
    DataFrame
        The store's ``staff`` columns: ``id`` (1…n), ``grid_code``, ``role``, ``specialty`` ('' for
        roles without one), ``name``, ``gender`` (男/女), ``id_number`` (18 characters, valid check
        digit, gender digit consistent), ``phone`` (11 digits), ``photo`` (None).
    """
    today = today or dt.date(2025, 1, 1)
    rng = np.random.default_rng([seed, 0x57AFF])
    grid, role, specialty = _roster(list(grid_codes), rng)
    m = grid.shape[0]
    female_share = pd.Series(role).map(_FEMALE_SHARE).to_numpy(np.float64)
    female = rng.random(m) < female_share
    lo = pd.Series(role).map(lambda r: _AGES[r][0]).to_numpy(np.float64)
    hi = pd.Series(role).map(lambda r: _AGES[r][1]).to_numpy(np.float64)
    name = _names(female, rng)
    id_number = _id_numbers(female, lo, hi, rng, today=today)
    id_number = _redraw_duplicates(
        id_number, lambda d: _id_numbers(female[d], lo[d], hi[d], rng, today=today)
    )
    phone = _redraw_duplicates(_phones(m, rng), lambda d: _phones(int(d.sum()), rng))
    return pd.DataFrame(
        {
            "id": np.arange(1, m + 1, dtype=np.int64),
            "grid_code": grid,
            "role": role,
            "specialty": specialty,
            "name": name,
            "gender": np.where(female, "女", "男"),
            "id_number": id_number,
            "phone": phone,
            "photo": pd.Series([None] * m, dtype=object),
        },
        columns=COLUMNS,
    )
