"""The profile of a store: the seed's figures beside the store's, and the distributions a reviewer
who knows the district would check, each with the range it must lie in.

Every check reads the store only (never the generator) and states its range here, in
:data:`RANGES`, so a test and a reader see the same numbers. A figure outside its range is
reported, not raised: the profile is a report, and a store made from other data may differ.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import pandas as pd
import pyproj

from layers.store import Store
from spatial.crs import DISPLAY_CRS, WORK_CRS

__all__ = ["RANGES", "SEED", "Figure", "profile"]

#: The seed's figures of the default district (the design): name → value.
SEED: dict[str, float] = {
    "grids_l1": 14,
    "grids_l2": 205,
    "grids_l3": 887,
    "components": 680_000,
    "event_types": 732,
    "channels": 12,
    "cases_per_day": 2_500,
    "callbacks_per_day": 1_000,
}

#: Plausible ranges (inclusive) of every figure the profile checks.
RANGES: dict[str, tuple[float, float]] = {
    # the seed
    "grids_l1": (14, 14),
    "grids_l2": (205, 205),
    "grids_l3": (887, 887),
    "components": (680_000, 680_000),
    "event_types": (732, 732),
    "channels": (12, 12),
    "cases_per_day": (2_200, 2_800),
    "callbacks_per_day": (800, 1_200),
    # towns and land
    "towns_official": (14, 14),  # level-1 grids that are official streets/towns (name and code)
    "land_km2": (780, 880),  # the polygons less Taihu, Yangcheng Lake and the Park's land
    "components_north_of_31_21": (0, 0),
    "cases_north_of_31_21": (0, 0),
    "streets_with_villages": (0, 0),  # 村 belong to towns, 社区 to streets
    # events
    "impossible_component_events": (0, 0),  # a problem kind that cannot happen to its class
    "utility_events_to_wrong_body": (0, 0),
    "village_matters_in_communities": (0, 0.03),  # farmland, homesteads, fish ponds in a 社区
    "taihu_matters_off_the_shore": (0, 0.02),  # 太湖 matters outside the towns on its shore
    # channels and clock
    "video_reports_of_told_matters": (0, 0),
    "told_matters_described_as_seen": (0, 0.01),
    "callbacks_00_06": (0, 0.005),
    "callbacks_in_office_hours": (0.99, 1.0),
    "desk_reports_on_days_off": (0, 0.05),
    # volumes
    "max_cases_grid_month": (150, 1_500),
    "grids_over_5000_a_year": (0, 8),
    "share_dongshan_jinting_linhu": (0.07, 0.22),
    # two-level command
    "first_dispatch_to_towns": (0.30, 0.65),
    "dispatched_by_sub_centres": (0.30, 0.65),
    "town_on_time_spread": (0.04, 0.30),  # best minus worst town, on-time closure rate
    "town_satisfaction_spread": (0.03, 0.30),
    "department_on_time_spread": (0.04, 0.40),
    # people
    "id_codes_invalid_at_birth": (0, 0),
    "suzhou_surnames_share": (0.15, 0.32),  # 陆 顾 沈 朱 周 徐
    "participants_per_grid": (4, 10),
    # components
    "distinct_class_counts_share": (0.9, 1.0),
    "missing_cases_component_missing": (0.9, 1.0),  # open 丢失 cases whose component is recorded 丢失
    "component_history_rows_per_1000": (10, 1_000),
    "component_history_days": (300, 366),
}

# The 14 town-level units of Wuzhong (2023 statistical division codes): what level 1 must be.
_OFFICIAL_TOWNS = {
    "001": "长桥街道", "003": "越溪街道", "004": "郭巷街道", "005": "横泾街道", "006": "香山街道",
    "009": "城南街道", "010": "太湖街道", "100": "甪直镇", "103": "木渎镇", "104": "胥口镇",
    "107": "东山镇", "108": "光福镇", "109": "金庭镇", "110": "临湖镇",
}  # fmt: skip
_NORTH_LIMIT = 31.0 + 21.0 / 60.0
_RURAL_TOWNS = ("107", "109", "110")  # 东山, 金庭, 临湖

# Problem kinds that happen only to some classes: kind → pattern of the class names it fits.
# Checked independently of how the list was made: living things wither, bins overflow, lights go
# dark, and a bridge or a car park is never "lost".
_KIND_FITS = {
    "枯死": "树|绿|花|草",
    "枯萎": "树|绿|花|草",
    "病虫害": "树|绿|花|草",
    "倒伏": "树",
    "需修剪": "树",
    "缺株": "绿|花|草|树",
    "枯枝": "树",
    "满溢": "垃圾|厕",
    "不亮": "灯|屏|牌|匾",
    "白天常亮": "灯",
    "漏水": "栓|水|管",
    "水质浑浊": "泉|水",
}
_NEVER_LOST = (
    "^(?:停车场|跨河桥|过街天桥|绿地|危房|工地|人防工事|码头|公共厕所|垃圾间|垃圾转运站|城市雕塑|古树名木|喷泉"
    "|地下空间出入口)$"
)
# Utility matters and the bodies that answer them (by the departments' names).
_UTILITY_BODY = (("停水|水压|自来水", "供水"), ("停电|电压|跳闸", "供电"), ("出租车", "交通运输"))
_VILLAGE = "耕地|宅基地|承包地|秸秆|鱼塘|渔船|农村|畜禽|大棚"
_TAIHU_SHORE = (
    "006",
    "104",
    "107",
    "108",
    "109",
    "110",
    "005",
    "010",
)  # 香山 胥口 东山 光福 金庭 临湖 横泾 太湖
_TOLD = "咨询|纠纷|线索|工资|欠薪|合同|社保|救助|关爱|帮扶|家庭|诈骗|政策"
_DESK = ("C08", "C09")
_SUZHOU_SURNAMES = list("陆顾沈朱周徐")
# GB/T 2260 codes of the district and its neighbours and the dates they took effect or ended.
_CODE_FROM = {"320586": "19950608", "320506": "20010228", "320507": "20010228", "320505": "20000901",
              "320508": "20121026", "320509": "20121026", "320584": "19920201"}  # fmt: skip
_CODE_UNTIL = {"320524": "19950608", "320586": "20010228", "320511": "20000901", "320502": "20121026",
               "320503": "20121026", "320504": "20121026", "320525": "19920201", "320584": "20121026"}  # fmt: skip


@dataclass(frozen=True)
class Figure:
    """One line of the profile."""

    section: str
    name: str
    label: str
    value: float
    low: float
    high: float
    seed: float | None = None

    @property
    def ok(self) -> bool:
        return bool(self.low <= self.value <= self.high)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self) | {"ok": self.ok}


def profile(store: Store) -> list[Figure]:
    """Every figure of :data:`RANGES`, measured on ``store``."""
    conn = store.conn
    out: list[Figure] = []

    def add(section: str, name: str, label: str, value: float) -> None:
        low, high = RANGES[name]
        out.append(Figure(section, name, label, float(value), low, high, SEED.get(name)))

    def frame(sql: str, *params: object) -> pd.DataFrame:
        # Straight into Arrow (ADBC): no Python object per row of the 900,000 cases.
        return store.read_arrow(sql, params).to_pandas()

    def scalar(sql: str, *params: object) -> float:
        row = conn.execute(sql, params).fetchone()
        return float(row[0] or 0)

    gen = store.current_generation()
    levels = dict(
        conn.execute("SELECT level, COUNT(*) FROM grids WHERE generation = ? GROUP BY level", (gen,))
    )
    first, last = conn.execute("SELECT MIN(reported_at), MAX(reported_at) FROM cases").fetchone()
    days = max((pd.Timestamp(last[:10]) - pd.Timestamp(first[:10])).days + 1, 1) if first else 1
    n_cases = scalar("SELECT COUNT(*) FROM cases")
    n_calls = scalar("SELECT COUNT(*) FROM cases WHERE satisfaction IS NOT NULL")
    add("seed", "grids_l1", "level-1 grids (towns/streets)", levels.get(1, 0))
    add("seed", "grids_l2", "level-2 grids (villages/communities)", levels.get(2, 0))
    add("seed", "grids_l3", "level-3 grids", levels.get(3, 0))
    add("seed", "components", "components", scalar("SELECT COUNT(*) FROM components"))
    add(
        "seed",
        "event_types",
        "event types in the responsibility list",
        scalar("SELECT COUNT(*) FROM event_types"),
    )
    add("seed", "channels", "report channels", scalar("SELECT COUNT(*) FROM channels"))
    add("seed", "cases_per_day", "work orders a day", n_cases / days)
    add("seed", "callbacks_per_day", "call-backs a day", n_calls / days)

    # -- towns and land
    l1 = frame("SELECT code, name FROM grids WHERE generation = ? AND level = 1", gen)
    official = sum(_OFFICIAL_TOWNS.get(c[6:9]) == n for c, n in zip(l1["code"], l1["name"], strict=True))
    add("towns", "towns_official", "level-1 grids that are the official 7 streets and 7 towns", official)
    add("towns", "land_km2", "land area from the polygons (km²)", scalar("SELECT area_m2 FROM land") / 1e6)
    to_lonlat = pyproj.Transformer.from_crs(WORK_CRS, DISPLAY_CRS, always_xy=True)
    for table, name in (("components", "components_north_of_31_21"), ("cases", "cases_north_of_31_21")):
        xy = store.read_arrow(f"SELECT x, y FROM {table}")
        _lon, lat = to_lonlat.transform(xy["x"].to_numpy(), xy["y"].to_numpy())
        add("towns", name, f"{table} north of 31°21′N (the Park's land)", int((lat > _NORTH_LIMIT).sum()))
    l2 = frame(
        "SELECT g.name, p.name AS town FROM grids g JOIN grids p ON p.code = g.parent_code "
        "AND p.generation = g.generation WHERE g.generation = ? AND g.level = 2",
        gen,
    )
    add(
        "towns",
        "streets_with_villages",
        "villages (村) in streets (街道)",
        int((l2["town"].str.endswith("街道") & l2["name"].str.endswith("村")).sum()),
    )

    # -- events
    et = frame(
        "SELECT e.code, e.name, e.sub_name, e.component_class, c.name AS class_name, "
        "m.name AS manager, h.name AS handler FROM event_types e "
        "LEFT JOIN component_classes c ON c.code = e.component_class "
        "LEFT JOIN departments m ON m.code = e.manage_code LEFT JOIN departments h ON h.code = e.handle_code"
    )
    add("events", "impossible_component_events", "component event types that cannot happen", _impossible(et))
    wrong = 0
    for pattern, body in _UTILITY_BODY:
        hit = et[et["component_class"].isna() & et["name"].str.contains(pattern)]
        bodies = hit["handler"].fillna(hit["manager"]).fillna("")
        wrong += int((~bodies.str.contains(body)).sum())
    add("events", "utility_events_to_wrong_body", "water, power and taxi matters sent to another body", wrong)

    place = et.loc[
        et["component_class"].isna() & et["name"].str.contains(f"{_VILLAGE}|太湖"), ["code", "name"]
    ]
    pm = ",".join("?" * len(place)) or "''"
    where = frame(
        "SELECT c.event_type_code AS code, c.town_code, p.name AS community FROM cases c "
        "JOIN grids g ON g.code = c.grid_code AND g.generation = ? "
        "JOIN grids p ON p.code = g.parent_code AND p.generation = g.generation "
        f"WHERE c.event_type_code IN ({pm})",
        gen,
        *place["code"],
    ).merge(place, on="code")
    village = where[where["name"].str.contains(_VILLAGE)]
    lake = where[where["name"].str.contains("太湖")]
    add(
        "events",
        "village_matters_in_communities",
        "village matters (farmland, homesteads, ponds) reported in urban communities",
        village["community"].str.endswith("社区").mean() if len(village) else 0,
    )
    add(
        "events",
        "taihu_matters_off_the_shore",
        "Taihu matters reported away from the towns on its shore",
        (~lake["town_code"].str.slice(6, 9).isin(_TAIHU_SHORE)).mean() if len(lake) else 0,
    )

    # -- channels and clock
    told = et.loc[et["name"].str.contains(_TOLD) & et["component_class"].isna(), "code"].tolist()
    marks = ",".join("?" * len(told)) or "''"
    add(
        "clock",
        "video_reports_of_told_matters",
        "video monitoring reports of things people tell (disputes, wages, consultations)",
        scalar(
            f"SELECT COUNT(*) FROM cases WHERE channel_code = 'C10' AND event_type_code IN ({marks})", *told
        ),
    )
    n_told = scalar(f"SELECT COUNT(*) FROM cases WHERE event_type_code IN ({marks})", *told)
    seen = scalar(
        f"SELECT COUNT(*) FROM cases WHERE event_type_code IN ({marks}) AND description NOT LIKE '%反映%'",
        *told,
    )
    add(
        "clock",
        "told_matters_described_as_seen",
        "told matters described as found on the street",
        seen / max(n_told, 1),
    )
    cb = frame("SELECT evaluated_at FROM cases WHERE satisfaction IS NOT NULL")["evaluated_at"]
    hm = cb.str.slice(11, 16)
    add(
        "clock",
        "callbacks_00_06",
        "call-backs made between 00:00 and 06:00",
        (hm < "06:00").mean() if len(cb) else 0,
    )
    office = hm.between("08:30", "17:30") & _workday(cb.str.slice(0, 10))
    add(
        "clock",
        "callbacks_in_office_hours",
        "call-backs made in working hours",
        office.mean() if len(cb) else 1,
    )
    desk = frame("SELECT substr(reported_at, 1, 10) AS day FROM cases WHERE channel_code IN (?, ?)", *_DESK)[
        "day"
    ]
    add(
        "clock",
        "desk_reports_on_days_off",
        "service-window and department reports filed on days off",
        (~_workday(desk)).mean() if len(desk) else 0,
    )

    # -- volumes
    gm = frame("SELECT grid_code, substr(reported_at, 1, 7) AS month, COUNT(*) AS n FROM cases GROUP BY 1, 2")
    add(
        "volumes",
        "max_cases_grid_month",
        "most cases in one level-3 grid in one month",
        gm["n"].max() if len(gm) else 0,
    )
    per_grid_year = gm.groupby("grid_code")["n"].sum() * 365.0 / days
    add(
        "volumes",
        "grids_over_5000_a_year",
        "level-3 grids with over 5,000 cases a year",
        int((per_grid_year > 5000).sum()),
    )
    by_town = frame("SELECT town_code, COUNT(*) AS n FROM cases GROUP BY 1")
    rural = by_town.loc[by_town["town_code"].str.slice(6, 9).isin(_RURAL_TOWNS), "n"].sum()
    add(
        "volumes",
        "share_dongshan_jinting_linhu",
        "share of cases in 东山, 金庭 and 临湖",
        rural / max(n_cases, 1),
    )

    # -- two-level command
    first = frame(
        "SELECT d.town_code IS NOT NULL AS town, COUNT(*) AS n FROM case_history h "
        "JOIN departments d ON d.code = h.dept_code WHERE h.step = 'dispatch' GROUP BY 1"
    )
    total = first["n"].sum()
    add(
        "command",
        "first_dispatch_to_towns",
        "first dispatches to town-level bodies (以块为主)",
        first.loc[first["town"] == 1, "n"].sum() / max(total, 1),
    )
    add(
        "command",
        "dispatched_by_sub_centres",
        "cases dispatched by a town sub-centre",
        scalar(
            "SELECT AVG(CASE WHEN centre_code <> 'district' THEN 1.0 ELSE 0.0 END) FROM cases "
            "WHERE dispatched_at IS NOT NULL"
        ),
    )
    perf = frame(
        "SELECT town_code, dept_code, closed_at <= deadline_at AS on_time, satisfaction FROM cases "
        "WHERE closed_at IS NOT NULL"
    )
    t = perf.groupby("town_code").agg(on_time=("on_time", "mean"), sat=("satisfaction", "mean"))
    add(
        "command",
        "town_on_time_spread",
        "on-time closure, best town minus worst",
        t["on_time"].max() - t["on_time"].min(),
    )
    add(
        "command",
        "town_satisfaction_spread",
        "satisfaction, best town minus worst",
        t["sat"].max() - t["sat"].min(),
    )
    d = perf.groupby("dept_code")["on_time"].agg(["mean", "size"])
    d = d[d["size"] >= 500]
    add(
        "command",
        "department_on_time_spread",
        "on-time closure, best body minus worst (bodies with 500+ cases)",
        d["mean"].max() - d["mean"].min() if len(d) else 0,
    )

    # -- people
    staff = frame("SELECT grid_code, role, name, id_number FROM staff")
    region = staff["id_number"].str.slice(0, 6)
    birth = staff["id_number"].str.slice(6, 14)
    bad = region.map(_CODE_FROM).fillna("00000000").gt(birth) | region.map(_CODE_UNTIL).fillna("99999999").le(
        birth
    )
    add(
        "people",
        "id_codes_invalid_at_birth",
        "ID numbers with a region code not valid at the birth date",
        int(bad.sum()),
    )
    add(
        "people",
        "suzhou_surnames_share",
        "staff surnamed 陆, 顾, 沈, 朱, 周 or 徐",
        staff["name"].str.slice(0, 1).isin(_SUZHOU_SURNAMES).mean() if len(staff) else 0,
    )
    part = staff[staff["role"] == "网格参与员"].groupby("grid_code").size()
    add(
        "people",
        "participants_per_grid",
        "participants (网格参与员) per level-3 grid, mean",
        part.mean() if len(part) else 0,
    )

    # -- components
    counts = frame("SELECT class_code, COUNT(*) AS n FROM components GROUP BY 1")["n"]
    add(
        "components",
        "distinct_class_counts_share",
        "distinct counts among the classes",
        counts.nunique() / max(len(counts), 1),
    )
    lost = frame(
        "SELECT c.state FROM cases k JOIN event_types e ON e.code = k.event_type_code "
        "JOIN components c ON c.code = k.component_code "
        "WHERE e.component_class IS NOT NULL AND e.name LIKE '%丢失' "
        "AND k.status IN ('registered', 'dispatched', 'handled')"
    )["state"]
    add(
        "components",
        "missing_cases_component_missing",
        "open 丢失 cases whose component is recorded 丢失",
        (lost == "丢失").mean() if len(lost) else 1.0,
    )
    n_hist = scalar("SELECT COUNT(*) FROM component_history")
    add(
        "components",
        "component_history_rows_per_1000",
        "component history rows per 1,000 components",
        1000 * n_hist / max(scalar("SELECT COUNT(*) FROM components"), 1),
    )
    lo, hi = conn.execute("SELECT MIN(changed_at), MAX(changed_at) FROM component_history").fetchone()
    span = (pd.Timestamp(hi[:10]) - pd.Timestamp(lo[:10])).days + 1 if lo else 0
    add("components", "component_history_days", "days the component history spans", span)
    return out


def _impossible(et: pd.DataFrame) -> int:
    comp = et[et["component_class"].notna()]
    bad = 0
    for kind, fits in _KIND_FITS.items():
        has = comp["name"].str.endswith(kind)
        bad += int((has & ~comp["class_name"].fillna("").str.contains(fits)).sum())
    lost = comp["name"].str.endswith("丢失") | comp["name"].str.endswith("缺失")
    bad += int((lost & comp["class_name"].fillna("").str.contains(_NEVER_LOST)).sum())
    return bad


def _workday(days: pd.Series) -> pd.Series:
    """Whether each ISO day is a working day on the published calendar."""
    from layers.workcalendar import working_calendar

    if len(days) == 0:
        return pd.Series([], dtype=bool)
    d = days.to_numpy(dtype="datetime64[D]")
    return pd.Series(working_calendar().is_working_day(d), index=days.index)


def format_table(figures: list[Figure]) -> str:
    """The profile as a text table: section, figure, seed, store, range, ok."""
    lines = [f"{'section':<11}{'figure':<74}{'seed':>10}{'store':>12}  {'range':<22}ok"]
    for f in figures:
        seed = "" if f.seed is None else _num(f.seed)
        rng = f"{_num(f.low)}–{_num(f.high)}"
        lines.append(
            f"{f.section:<11}{f.label:<74}{seed:>10}{_num(f.value):>12}  {rng:<22}{'yes' if f.ok else 'NO'}"
        )
    bad = [f.name for f in figures if not f.ok]
    lines.append(
        f"{len(figures) - len(bad)} of {len(figures)} figures in range"
        + (f"; outside: {', '.join(bad)}" if bad else "")
    )
    return "\n".join(lines)


def _num(v: float) -> str:
    if float(v).is_integer() and (abs(v) >= 1 or v == 0):
        return f"{int(v):,}"
    return f"{v:.3f}" if abs(v) < 10 else f"{v:,.1f}"
