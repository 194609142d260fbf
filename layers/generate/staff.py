"""Grid staff (一长三员) of a generated district (their personal data is masked by :mod:`layers.staff`).

Every level-3 grid gets one grid head (网格长), one instructor (网格指导员), two to four
coordinators (网格协管员, each with a specialty: 安全 / 环境 / 治安 / 劳动保障) and four to ten
participants (网格参与员: party members, residents' representatives, building-group leaders and
volunteers). Names, ID-card numbers and phone numbers are generated: they look real (Suzhou
surnames, valid GB 11643 check digits, the region code valid at the birth date, live mobile
prefixes) but belong to no one.
"""

from __future__ import annotations

import datetime as dt
import itertools
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
#: Who the participants (网格参与员) are; their kind is kept as their specialty.
PARTICIPANT_KINDS = ("党员", "居民代表", "楼组长", "志愿者")
#: Participants per level-3 grid (inclusive range).
PARTICIPANTS = (4, 10)

# Surnames with their rough frequencies (per cent) in Suzhou, not nationally: 陆, 顾, 沈, 朱, 周 and
# 徐 are among the commonest there, 刘 and 黄 much rarer than in the north.
# fmt: off
_SURNAMES = (
    ("张", 4.5), ("王", 4.5), ("陈", 4.0), ("沈", 3.8), ("陆", 3.6), ("顾", 3.5), ("朱", 3.5), ("周", 3.4),
    ("徐", 3.4), ("吴", 3.0), ("李", 3.0), ("钱", 2.3), ("金", 2.0), ("杨", 2.0), ("孙", 1.8), ("蒋", 1.6),
    ("刘", 1.5), ("姚", 1.4), ("曹", 1.3), ("潘", 1.3), ("黄", 1.3), ("许", 1.2), ("范", 1.1), ("汤", 1.0),
    ("施", 0.9), ("胡", 0.9), ("倪", 0.9), ("俞", 0.9), ("殷", 0.8), ("费", 0.8), ("邹", 0.8), ("戴", 0.8),
    ("葛", 0.8), ("蔡", 0.8), ("袁", 0.8), ("唐", 0.8), ("赵", 0.8), ("谢", 0.7), ("严", 0.7), ("浦", 0.6),
    ("马", 0.6), ("高", 0.6), ("丁", 0.6), ("夏", 0.6), ("叶", 0.6), ("缪", 0.5), ("华", 0.5), ("宋", 0.5),
    ("秦", 0.5), ("冯", 0.5), ("郭", 0.5), ("何", 0.5), ("钟", 0.4), ("吕", 0.4), ("卢", 0.4), ("韩", 0.4),
    ("程", 0.4), ("林", 0.4), ("任", 0.3), ("彭", 0.3), ("罗", 0.3), ("曾", 0.2), ("欧阳", 0.03), ("司马", 0.01),
)
_GIVEN_M = tuple("伟强磊军勇杰涛斌超明刚平辉鹏华飞鑫波宇浩俊峰建国志文斌亮晨凯振东海林栋晓洪坤")
_GIVEN_F = tuple("芳娟敏静丽艳娜秀英玲霞燕萍红梅琳婷雪慧倩颖洁佳蓉琴晶莉丹瑶怡欣媛雯婕菁")
_GIVEN_ANY = tuple("文晓春秋新佳子一雨思俊嘉家安宁正")
# Where the ID numbers were issued: a region and its share. An ID number carries the code of its
# region as it was at the holder's birth (GB/T 2260 changes when counties become cities or
# districts), so each region lists its codes by the date they took effect.
# fmt: off
_REGIONS: tuple[tuple[float, tuple[tuple[str, str], ...]], ...] = (
    # Wuzhong: 吴县 until 1995-06-08, 吴县市 until 2001-02-28, then 吴中区.
    (0.55, (("1900-01-01", "320524"), ("1995-06-08", "320586"), ("2001-02-28", "320506"))),
    # 相城区, cut out of 吴县市 on the same day.
    (0.05, (("1900-01-01", "320524"), ("1995-06-08", "320586"), ("2001-02-28", "320507"))),
    # 虎丘区, the former 苏州市郊区.
    (0.04, (("1900-01-01", "320511"), ("2000-09-01", "320505"))),
    # 姑苏区 (2012-10-26) merged 沧浪区, 平江区 and 金阊区; older holders carry 沧浪区 here.
    (0.04, (("1900-01-01", "320502"), ("2012-10-26", "320508"))),
    (0.02, (("1900-01-01", "320503"), ("2012-10-26", "320508"))),
    # 吴江: 吴江县, 吴江市 from 1992-02-01, 吴江区 from 2012-10-26.
    (0.05, (("1900-01-01", "320525"), ("1992-02-01", "320584"), ("2012-10-26", "320509"))),
    # Farther away in Jiangsu: codes unchanged over the holders' lifetimes.
    (0.03, (("1900-01-01", "320102"),)), (0.03, (("1900-01-01", "320202"),)),
    (0.08, (("1900-01-01", "320923"),)), (0.06, (("1900-01-01", "320826"),)),
    (0.05, (("1900-01-01", "320724"),)),
)
# fmt: on
#: Region codes created on a date: an ID number may carry one only if born on or after it.
CODE_CREATED: dict[str, str] = {
    code: since for _w, codes in _REGIONS for since, code in codes if since > "1900-01-01"
}
#: Region codes withdrawn on a date: nobody born on or after it carries one.
CODE_WITHDRAWN: dict[str, str] = {
    old: since for _w, codes in _REGIONS for (_s, old), (since, _new) in itertools.pairwise(codes)
}
# Live mobile prefixes of China Mobile, Unicom and Telecom.
_PREFIXES = (
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
    "157",
    "158",
    "159",
    "178",
    "182",
    "183",
    "187",
    "188",
    "198",
    "130",
    "131",
    "132",
    "155",
    "156",
    "166",
    "175",
    "176",
    "185",
    "186",
    "133",
    "153",
    "173",
    "177",
    "180",
    "181",
    "189",
    "199",
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
    n_part = rng.integers(PARTICIPANTS[0], PARTICIPANTS[1] + 1, n)
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
    part = offset >= 2 + n_coord_r
    # Party members and volunteers are the most numerous; every grid has a residents' representative.
    kinds = np.asarray(PARTICIPANT_KINDS, dtype=object)
    specialty[part] = kinds[rng.choice(kinds.size, int(part.sum()), p=[0.35, 0.2, 0.2, 0.25])]
    specialty[part & (offset == 2 + n_coord_r)] = "居民代表"
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
    w = np.array([r[0] for r in _REGIONS])
    pick = rng.choice(len(_REGIONS), m, p=w / w.sum())
    age_days = (rng.uniform(age_lo, age_hi) * 365.25).astype(np.int64)
    birth = np.datetime64(today.isoformat(), "D") - age_days.astype("timedelta64[D]")
    # The code of the region as it was on the birth date.
    region = np.empty(m, dtype=object)
    for i, (_w, codes) in enumerate(_REGIONS):
        sel = pick == i
        since = np.array([np.datetime64(d, "D") for d, _c in codes])
        era = np.searchsorted(since, birth[sel], side="right") - 1
        region[sel] = np.asarray([c for _d, c in codes], dtype=object)[np.maximum(era, 0)]
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
        roles without one; a participant's kind), ``name``, ``gender`` (男/女), ``id_number`` (18 characters, valid check
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
