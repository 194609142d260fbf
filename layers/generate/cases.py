"""Case history of a generated district: a year of work orders and every step of their closed loop.

About ``per_day`` reports a day arrive with a weekly rhythm (fewer at weekends), a seasonal one
(the plum-rain and typhoon months bring more, the Spring Festival far fewer) and hot spots that
drift from month to month and swell and fade, strong but possible (a few hundred reports a month at
a peak). The rest fall in a town drawn by its residents, around one of its components, so volumes
follow where people live and work; matters bound to a kind of place happen there (village matters
in villages, the lake's on the Taihu shore, the metro's in town). The channel depends on what is
reported (a camera sees the street, never a wage dispute; people tell the hotline and the service
window their own matters), keeping each channel's long-run share; desks file on working days, and
descriptions fit the event type and the place.

Each report is placed on land (component positions plus jitter, re-located with the grid locator;
points off every grid are drawn again), routed with :func:`layers.routing.route`, and run through the
six-step loop: 采集上报 report → 核实立案 register (about 3 % are not registered: duplicates,
out of scope) → 指挥派遣 dispatch (a few are sent back and re-dispatched to the enforcement body or
the town) → 处理反馈 handle, before or after the deadline computed from the event type's time limit
(calendar hours, or working days of 8:30–17:30 skipping weekends and the main public holidays) →
核查结案 check and close (a failed check sends the case back: 返工) → 考核评价 evaluate, with a
call-back for part of the cases, made by the centre in working time. Each body has its own latent
performance (deadlines kept, checks failed, call-backs satisfied), so a monthly ranking separates
towns and departments; the town-level bodies take the matters of the place (以块为主) and their
sub-centres dispatch them. Steps after the end of ``end`` have not happened yet, so recent cases
are still open and their status says how far they got.

Everything is vectorised per chunk of days; the same seed, end date and options give the same cases.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from scipy.spatial import cKDTree

from layers import routing, workflow
from layers.codes import town_of
from layers.workcalendar import deadlines, working_calendar
from spatial.errors import CodeError

__all__ = ["CASE_COLUMNS", "HISTORY_COLUMNS", "STATUSES", "iter_cases"]

CASE_COLUMNS = [
    "id", "channel_code", "event_type_code", "description", "x", "y", "grid_code", "grid_generation",
    "town_code", "component_code", "dept_code", "route_reason", "status", "urgency", "reported_at",
    "registered_at", "dispatched_at", "deadline_at", "handled_at", "closed_at", "evaluated_at",
    "rework_count", "satisfaction", "version", "centre_code", "due_from", "sendback_count", "callback",
]  # fmt: skip
HISTORY_COLUMNS = ["case_id", "step", "at", "actor", "dept_code", "note", "role"]
STATUSES = workflow.STATES

Locate = Callable[[np.ndarray, np.ndarray], np.ndarray]

# -- calendar -----------------------------------------------------------------------------------

_EPOCH = np.datetime64("2000-01-03", "D")  # a Monday, for weekdays

# Spring Festival (lunar new year's day): the dip in reports around it.
_SPRING_FESTIVAL = {
    2015: "2015-02-19", 2016: "2016-02-08", 2017: "2017-01-28", 2018: "2018-02-16", 2019: "2019-02-05",
    2020: "2020-01-25", 2021: "2021-02-12", 2022: "2022-02-01", 2023: "2023-01-22", 2024: "2024-02-10",
    2025: "2025-01-29", 2026: "2026-02-17", 2027: "2027-02-06", 2028: "2028-01-26", 2029: "2029-02-13",
    2030: "2030-02-03", 2031: "2031-01-23", 2032: "2032-02-11", 2033: "2033-01-31", 2034: "2034-02-19",
    2035: "2035-02-08",
}  # fmt: skip


def _spring_festival(year: int) -> np.datetime64:
    # Outside the table, late January/early February is close enough for the volume curve.
    return np.datetime64(_SPRING_FESTIVAL.get(year, f"{year}-02-01"), "D")


# -- volumes ------------------------------------------------------------------------------------

_WEEKDAY = np.array([1.12, 1.08, 1.05, 1.04, 1.00, 0.84, 0.80])  # Monday … Sunday


def _day_factors(days: np.ndarray) -> np.ndarray:
    """Relative volume of each day (weekday, season, holidays), before normalising."""
    d = days.astype("datetime64[D]")
    weekday = (d - _EPOCH).astype(np.int64) % 7
    doy = (d - d.astype("datetime64[Y]").astype("datetime64[D]")).astype(np.int64)
    # Summer peaks: plum rains (mid-June to mid-July) and typhoons (August), a trough in winter.
    season = 1.0 + 0.10 * np.cos(2 * np.pi * (doy - 200) / 365.25)
    season += 0.12 * np.exp(-0.5 * ((doy - 180) / 12.0) ** 2) + 0.08 * np.exp(
        -0.5 * ((doy - 225) / 10.0) ** 2
    )
    f = _WEEKDAY[weekday] * season
    years = d.astype("datetime64[Y]").astype(np.int64) + 1970
    for year in np.unique(years):
        sf = _spring_festival(int(year))
        off = (d - sf).astype(np.int64)
        f = np.where((off >= -3) & (off <= 7), f * 0.55, f)
        md = np.datetime64(f"{year}-10-01", "D")
        f = np.where((d >= md) & (d < md + 7), f * 0.75, f)
        may = np.datetime64(f"{year}-05-01", "D")
        f = np.where((d >= may) & (d < may + 5), f * 0.85, f)
    return f


# -- event type weights -------------------------------------------------------------------------

# Share of reports per event major class (component problems, 11–16, share 0.22 among them).
_MAJOR_SHARE = {
    "01": 0.20, "04": 0.18, "02": 0.07, "03": 0.06, "05": 0.02, "06": 0.02, "21": 0.02, "22": 0.03,
    "23": 0.012, "24": 0.01, "25": 0.02, "26": 0.012, "27": 0.03, "28": 0.018, "29": 0.008, "30": 0.006,
    "31": 0.005, "32": 0.015,
}  # fmt: skip
_COMPONENT_SHARE = 0.22
_KIND_WEIGHT = np.array([0.42, 0.24, 0.2, 0.14, 0.1, 0.08, 0.06, 0.05])


def _type_weights(event_types: pd.DataFrame, class_counts: pd.Series) -> np.ndarray:
    """Long-run probability of each event type (component problems need components of the class)."""
    et = event_types
    major = et["major_code"].astype(str).to_numpy()
    comp = et["component_class"].notna().to_numpy()
    w = np.zeros(len(et))
    sub_rank = et.groupby("major_code")["sub_code"].rank(method="dense").to_numpy() - 1
    item_rank = et.groupby("sub_code")["code"].rank(method="first").to_numpy() - 1
    other = ~comp
    share = pd.Series(major[other]).map(_MAJOR_SHARE).fillna(0.005).to_numpy()
    raw = 1.0 / (sub_rank[other] + 1) ** 0.6 / (item_rank[other] + 1) ** 0.8
    # Normalise within each major so its share is what the table says.
    norm = pd.Series(raw).groupby(major[other]).transform("sum").to_numpy()
    w[other] = share * raw / norm
    if comp.any():
        n_of_class = et.loc[comp, "component_class"].map(class_counts).fillna(0).to_numpy(np.float64)
        kind = _KIND_WEIGHT[np.minimum(item_rank[comp].astype(int), _KIND_WEIGHT.size - 1)]
        cw = np.sqrt(n_of_class) * kind  # common classes report more, but not in proportion
        if cw.sum() > 0:
            w[comp] = _COMPONENT_SHARE * cw / cw.sum()
    return w / w.sum()


def _month_multipliers(event_types: pd.DataFrame) -> np.ndarray:
    """(12, n_types) seasonal multipliers: floods in the rains, snow in winter, smoke at harvest."""
    names = event_types["name"].astype(str)
    major = event_types["major_code"].astype(str).to_numpy()
    m = np.ones((12, len(event_types)))
    summer = np.array([0.6, 0.6, 0.7, 0.8, 1.0, 1.8, 2.2, 2.0, 1.3, 0.9, 0.7, 0.6])
    m[:, np.isin(major, ["05", "29"])] *= summer[:, None]
    snow = names.str.contains("积雪|结冰").to_numpy()
    m[:, snow] *= np.array([6, 4, 0.5, 0, 0, 0, 0, 0, 0, 0, 0.5, 3])[:, None]
    smoke = names.str.contains("秸秆|焚烧").to_numpy()
    m[:, smoke] *= np.array([0.6, 0.6, 0.8, 0.9, 1.5, 2.5, 0.8, 0.6, 0.8, 2.2, 1.6, 0.8])[:, None]
    bbq = names.str.contains("烧烤|噪声|油烟").to_numpy()
    m[:, bbq] *= np.array([0.6, 0.6, 0.8, 1.0, 1.2, 1.5, 1.7, 1.7, 1.3, 1.0, 0.8, 0.6])[:, None]
    build = major == "03"
    m[:, build] *= np.array([0.7, 0.5, 1.2, 1.3, 1.2, 1.0, 0.9, 0.9, 1.1, 1.2, 1.2, 1.0])[:, None]
    return m


# -- hot spots ----------------------------------------------------------------------------------

# Themes of the hot spots: the event majors they generate (markets, building sites, nightlife…).
_THEMES = (("04", "01"), ("03", "01"), ("04", "02"), ("22", "04"), ("01", "06"), ("27", "28"))
# Hot spots are strong but possible: a market street or a building site draws a few hundred
# reports a month at its peak, not thousands; the spots share this part of all reports.
_HOT_SHARE = 0.08


@dataclass(frozen=True)
class _HotSpots:
    centres: np.ndarray  # (n_months, K, 2): the centre of each spot in each month (on a component)
    intensity: np.ndarray  # (n_months, K): relative weight of each spot in each month
    sigma: np.ndarray  # (K,) spread in metres
    theme: np.ndarray  # (K,) index into _THEMES


def _hot_spots(
    comp_xy: np.ndarray, tree: cKDTree, n_months: int, rng: np.random.Generator, *, k: int = 30
) -> _HotSpots:
    n = comp_xy.shape[0]
    start = comp_xy[rng.integers(0, n, k)]
    angle = rng.uniform(0, 2 * np.pi, k)
    speed = rng.uniform(150, 600, k)  # metres per month, e.g. along a street being dug up
    months = np.arange(n_months)[:, None]
    raw = start[None, :, :] + (months * speed)[:, :, None] * np.stack([np.cos(angle), np.sin(angle)], axis=-1)
    # Snap every centre to the nearest component, so it stays on land and in the city.
    _d, nearest = tree.query(raw.reshape(-1, 2))
    centres = comp_xy[nearest].reshape(n_months, k, 2)
    peak = rng.uniform(-2, n_months + 2, k)
    width = rng.uniform(1.5, 5.0, k)
    intensity = np.exp(-0.5 * ((months - peak[None, :]) / width[None, :]) ** 2) + 0.05
    return _HotSpots(
        centres=centres,
        intensity=intensity,
        sigma=rng.uniform(150, 450, k),
        theme=rng.integers(0, len(_THEMES), k),
    )


# -- texts --------------------------------------------------------------------------------------

# fmt: off
# Street places of a community's grid, and of a village's.
_WHERE = np.array([
    "小区门口", "路口", "菜场旁", "学校门口", "公交站台旁", "河边步道", "桥下", "沿街商铺前", "停车场内",
    "绿化带旁", "工业园区内", "地铁站出口", "广场上", "背街小巷", "医院门口", "超市门前",
    "农贸市场内", "老新村内", "施工工地旁", "街心花园",
], dtype=object)
_WHERE_RURAL = np.array([
    "村道边", "村口", "村委会旁", "河浜边", "桥头", "农田边", "鱼塘边", "自然村内", "集镇街上", "公路边",
    "厂区门口", "景区入口",
], dtype=object)
_DETAIL = np.array([
    "请尽快处理。", "影响居民出行。", "已持续多日。", "群众反映强烈。", "存在安全隐患。", "影响市容。",
    "请相关部门核实处理。", "多次反映未解决。", "影响周边商户经营。", "夜间尤为明显。",
], dtype=object)
_REJECT_NOTES = np.array([
    "不予立案：重复上报", "不予立案：不属于受理范围", "不予立案：信息不全无法核实",
    "不予立案：现场核实无此问题",
], dtype=object)
_REPORTERS = {
    "C01": "12345热线坐席", "C02": "城管巡查员", "C03": "110指挥中心", "C04": "寒山闻钟网民",
    "C05": "微信随手拍用户", "C06": "网格员", "C07": "区领导督查", "C08": "便民服务中心窗口",
    "C09": "部门转办", "C10": "视频智能识别", "C11": "市长信箱", "C12": "媒体曝光",
}
# fmt: on
# Channels staffed in working hours; the others take reports around the clock.
_OFFICE_CHANNELS = {"C02", "C06", "C07", "C08", "C09"}
# Channels that are desks: the service window, departments' transfers and the mayor's mailbox file
# on working days only (a report left over the weekend is filed on the hotline instead).
_DESK_CHANNELS = {"C08", "C09", "C11"}

# Which channel a report comes through depends on what it is about: video and inspectors see the
# street, 110 gets emergencies and public order, the service window and the hotline get people's
# own matters. Multipliers on each channel's long-run share, per event group (channels C01…C12).
_GROUPS = ("street", "emergency", "safety", "environment", "order", "social")
# fmt: off
_CHANNEL_AFFINITY = np.array([
    # C01  C02  C03  C04  C05  C06  C07  C08  C09  C10  C11  C12
    [0.8, 1.8, 0.2, 0.8, 1.3, 1.0, 1.0, 0.1, 0.3, 1.8, 0.3, 0.8],  # street: 市容, 广告, 施工, 秩序, 部件
    [1.5, 0.8, 4.0, 0.3, 1.0, 1.0, 0.5, 0.0, 1.0, 0.8, 0.0, 0.5],  # emergency: 突发事件
    [0.8, 0.0, 0.5, 0.5, 0.6, 2.2, 1.5, 0.5, 2.0, 0.0, 0.6, 0.5],  # safety: 安全, 消防, 食药, 水务, 农业, 房屋
    [1.5, 0.3, 0.5, 1.5, 1.0, 1.3, 0.5, 0.2, 1.5, 0.0, 1.5, 1.5],  # environment: 生态环境
    [1.0, 0.0, 3.0, 0.5, 0.3, 2.0, 0.3, 0.3, 1.0, 0.0, 0.5, 0.2],  # order: 社会治安
    [2.2, 0.0, 0.8, 1.2, 0.4, 0.9, 0.2, 3.0, 1.5, 0.0, 2.5, 0.5],  # social: 劳动, 民生, 纠纷, 咨询
])
# fmt: on
_GROUP_OF_MAJOR = {
    "05": 1,
    "21": 2,
    "25": 2,
    "26": 2,
    "29": 2,
    "30": 2,
    "31": 2,
    "22": 3,
    "23": 4,
    "24": 5,
    "27": 5,
    "28": 5,
}  # fmt: skip
# Whatever the class, these are things people tell, not things a camera or an inspector sees.
_TOLD = "咨询|需求|建议|纠纷|线索|投诉|政策|帮扶|关爱|救助|欠薪|工资|合同|社保|诈骗|未登记|家庭"

# Where a matter can happen at all: village matters (farmland, homesteads, fish ponds, straw
# burning) in villages, the lake's in the towns on the Taihu shore, the city's (metro, high-rises,
# shopping centres) in urban communities. Matched on the event type's name; the rest anywhere.
_PLACE_RURAL = (
    "农村|村庄|耕地|宅基地|承包地|大棚|秸秆|鱼塘|养殖|渔船|农机|农药|畜禽|家禽|农膜|村务|农业|荒地|乱埋乱葬"
    "|违规建造坟墓|抛荒|挖塘"
)
_PLACE_TAIHU = "太湖"
_PLACE_URBAN = "地铁|商业综合体|高层建筑|共享单车|老旧小区|物业|写字楼"
_PLACES = ("any", "rural", "taihu", "urban")
# Event types whose name already says where (桥下涵洞暴露垃圾, 校园周边流动摊贩): no second place.
_NAMED_PLACE = (
    "周边|两侧|门口|站口|路口|桥下|涵洞|河道|河岸|岸线|水面|小区|校园|学校|医院|地铁|村庄|绿化带|绿地|公交站|"
    "农贸市场|工地|楼道|背街|广场|景区|人行道|盲道|路面|道路|桥面|隧道|屋顶|阳台|店外|门店|沿街|树木|墙面|"
    "电线杆|车站|夜市|地下|河|湖"
)
#: Town segments of the towns and streets on the Taihu shore (香山, 胥口, 东山, 光福, 金庭, 临湖,
#: 横泾, 太湖街道).
_TAIHU_TOWNS = ("006", "104", "107", "108", "109", "110", "005", "010")

# Residents (thousands, rounded from the 2020 census and the towns' own figures) of the 14
# town-level units, by town segment: reports follow where people live and work.
_TOWN_RESIDENTS = {
    "001": 150, "003": 110, "004": 140, "005": 60, "006": 55, "009": 190, "010": 75, "100": 140,
    "103": 210, "104": 65, "107": 55, "108": 50, "109": 40, "110": 75,
}  # fmt: skip

_HOURS_PUBLIC = np.array(
    [1, 0.6, 0.4, 0.3, 0.3, 0.6, 2, 4, 7, 9, 9, 8, 6, 6, 7, 8, 8, 7, 6, 6, 5, 4, 3, 2], float
)
_HOURS_OFFICE = np.array(
    [0, 0, 0, 0, 0, 0, 0.2, 1, 6, 10, 10, 8, 3, 5, 9, 9, 8, 2, 0.3, 0, 0, 0, 0, 0], float
)

# History slots, in chronological order within a case: actions of the state machine
# (:mod:`layers.workflow`); the register slot is ``reject`` for a case not registered.
_SLOTS = ("report", "register", "dispatch", "send_back", "handle", "rework", "handle", "rework", "handle",
          "close", "evaluate")  # fmt: skip
_S_REPORT, _S_REGISTER, _S_DISPATCH, _S_REASSIGN, _S_H1, _S_C1, _S_H2, _S_C2, _S_H3 = range(9)
_S_CLOSE, _S_EVAL = 9, 10
_SLOT_ACTION = np.array([workflow.ACTION_ID[a] for a in _SLOTS], dtype=np.int64)
_SLOT_ROLE = ("operator", "operator", "dispatcher", "department", "department", "inspector", "department",
              "inspector", "department", "inspector", "operator")  # fmt: skip


# Fixed texts of the history, indexed by the simulator (the note and actor columns are built by
# index into these vocabularies, never as per-row Python strings).
_ACTORS = ("区联动中心受理员", "区联动中心派遣员", "网格员", "区联动中心核查员", "区联动中心回访员")
_A_REGISTER, _A_DISPATCH, _A_GRID, _A_CHECK, _A_CALL = range(5)
# fmt: off
_NOTES = (
    "核实立案", "已处置并反馈，上传处置后照片", "已处置并反馈（超期）", "核查未通过：现场未整改到位，退回返工",
    "退回返工", "返工处置完毕", "核查未通过：问题反弹，再次退回返工", "再次退回返工", "核查通过，结案",
    "核查通过，结案（超期）", "回访：满意", "回访：不满意", "未回访，按结案质量评价",
    "不予立案：无责任主体，转人工核查",
)
# fmt: on
(
    _N_REGISTER,
    _N_HANDLE,
    _N_HANDLE_LATE,
    _N_CHECK1,
    _N_REWORK1,
    _N_REDONE,
    _N_CHECK2,
    _N_REWORK2,
    _N_CLOSE,
    _N_CLOSE_LATE,
    _N_SATISFIED,
    _N_UNSATISFIED,
    _N_NO_CALL,
    _N_NO_BODY,
) = range(14)  # fmt: skip
_N_REJECT = len(_NOTES)  # then the reject notes, then one "渠道：…" per channel

_STR = pd.StringDtype("pyarrow", na_value=np.nan)


@dataclass(frozen=True)
class _World:
    """Everything the simulator needs, prepared once (plain arrays)."""

    comp_code: pa.Array  # components grouped by class
    comp_xy: np.ndarray
    class_start: dict[str, int]
    class_count: dict[str, int]
    table: routing.ComponentTable
    et: pd.DataFrame
    et_code: np.ndarray
    et_code_arr: pa.Array
    et_name_arr: pa.Array
    et_class: np.ndarray
    et_major: np.ndarray
    et_urgency_idx: np.ndarray
    et_limit: np.ndarray
    et_hours: np.ndarray  # bool: limit in calendar hours
    base_weights: np.ndarray
    month_mult: np.ndarray
    ch_code: np.ndarray
    ch_share: np.ndarray
    ch_office: np.ndarray  # bool per channel: staffed in working hours
    ch_desk: np.ndarray  # bool per channel: files on working days only
    ch_by_group: np.ndarray  # (groups, channels): channel probabilities per event group
    et_group: np.ndarray  # per event type: index into _GROUPS
    hotline: int  # index of the hotline channel (C01), where weekend desk reports go
    grid_place_arr: pa.Array  # per grid: town + community name, for descriptions
    town_weight: np.ndarray  # per town: share of background reports
    comp_by_town: np.ndarray  # component positions grouped by town
    town_comp_start: np.ndarray
    town_comp_count: np.ndarray
    et_place: np.ndarray  # per event type: index into _PLACES
    et_named_place: np.ndarray  # per event type: its name says where
    grid_rural: np.ndarray  # per grid: a village's grid (村), not a community's
    place_comps: tuple[np.ndarray, ...]  # per place (rural, taihu, urban): component positions
    dept_rework: np.ndarray  # per department: chance a check fails
    dept_satisfied: np.ndarray  # per department: chance a call-back is satisfied (handled well)
    grid_codes: pd.Index  # level-3 codes, sorted
    grid_town_idx: np.ndarray  # per grid: index into town_codes
    town_codes: np.ndarray
    town_short_arr: pa.Array
    dept_codes: pd.Index
    dept_ontime: np.ndarray
    dept_town_idx: np.ndarray  # per department: index into town_codes of the town it answers for, or -1
    actors: pa.Array  # _ACTORS, one per channel, one per department, one sub-centre per town
    notes_fixed: pa.Array  # _NOTES, reject notes, channel notes


def _prepare(
    *,
    grids_l3: pd.DataFrame,
    components: pd.DataFrame,
    event_types: pd.DataFrame,
    channels: pd.DataFrame,
    departments: pd.DataFrame,
    rng: np.random.Generator,
) -> _World:
    for frame, cols, what in (
        (components, ("code", "class_code", "x", "y", "maintainer_code", "owner_code"), "components"),
        (event_types, ("code", "major_code", "sub_code", "name", "manage_code", "enforce_code", "time_limit",
                       "time_unit", "urgency", "component_class"), "event_types"),
        (channels, ("code", "share"), "channels"),
        (departments, ("code", "short_name", "town_code"), "departments"),
        (grids_l3, ("code",), "grids_l3"),
    ):  # fmt: skip
        missing = [c for c in cols if c not in frame.columns]
        if missing:
            raise CodeError(f"{what} lacks columns {missing}")
    if len(components) == 0:
        raise ValueError("there are no components: reports are placed around them")
    if len(grids_l3) == 0:
        raise ValueError("there are no level-3 grids")
    # Group the components by class (stable), so "a random component of class c" is one slice.
    comps = components[["code", "class_code", "x", "y", "maintainer_code", "owner_code"]]
    order = np.argsort(comps["class_code"].astype(str).to_numpy(), kind="stable")
    comps = comps.iloc[order].reset_index(drop=True)
    comp_class = comps["class_code"].astype(str).to_numpy(dtype=object)
    uniq, first, counts = np.unique(comp_class, return_index=True, return_counts=True)
    et = event_types.reset_index(drop=True)
    units = et["time_unit"].astype(str).to_numpy()
    if not np.isin(units, ["hours", "workdays"]).all():
        raise CodeError("event_types.time_unit must be 'hours' or 'workdays'")

    grid_codes = pd.Index(grids_l3["code"].astype(str).to_numpy(dtype=object))
    if grid_codes.has_duplicates:
        raise CodeError("grids_l3 has duplicate codes")
    if "town_code" in grids_l3.columns:
        town_of_grid = grids_l3["town_code"].astype(str).to_numpy(dtype=object)
    else:
        town_of_grid = town_of(grids_l3["code"])
    town_codes, grid_town_idx = np.unique(town_of_grid.astype(str), return_inverse=True)
    towns = departments[departments["town_code"].notna()]
    short_by_town = dict(zip(towns["town_code"].astype(str), towns["short_name"].astype(str), strict=True))
    town_short = [short_by_town.get(t, "") for t in town_codes]

    dept_codes = pd.Index(departments["code"].astype(str).to_numpy(dtype=object))
    # Each body keeps its deadlines with its own reliability; towns vary most.
    kind = (
        departments["kind"].astype(str).to_numpy()
        if "kind" in departments.columns
        else np.full(len(departments), "")
    )
    # Each body has its own latent performance (one draw drives deadlines, rework and call-backs),
    # so a monthly ranking separates good bodies from poor ones; towns differ most.
    quality = rng.normal(0.0, 1.0, len(departments))
    spread = np.where(kind == "town", 1.0, 0.7)
    ontime = np.clip(0.94 + 0.04 * spread * quality, 0.80, 0.99)
    rework = np.clip(0.055 - 0.022 * spread * quality, 0.012, 0.13)
    satisfied = np.clip(0.92 + 0.03 * spread * quality, 0.80, 0.98)
    ch_code = channels["code"].astype(str).to_numpy(dtype=object)
    ch_share = channels["share"].to_numpy(np.float64) / channels["share"].sum()
    known_ch = pd.Index([f"C{i:02d}" for i in range(1, 13)])
    aff = np.ones((len(_GROUPS), ch_code.size))
    pos = known_ch.get_indexer(ch_code.astype(str))
    aff[:, pos >= 0] = _CHANNEL_AFFINITY[:, pos[pos >= 0]]
    et_group = pd.Series(et["major_code"].astype(str)).map(_GROUP_OF_MAJOR).fillna(0).to_numpy(np.int64)
    et_group[et["name"].astype(str).str.contains(_TOLD).to_numpy()] = _GROUPS.index("social")
    # Scale the affinities (iterative proportional fitting) so that over all event types each
    # channel keeps its long-run share: the mix changes per group, the channel totals do not.
    base_weights = _type_weights(et, pd.Series(counts, index=uniq))
    p_group = np.bincount(et_group, weights=base_weights, minlength=len(_GROUPS))
    for _ in range(30):
        by_group = ch_share[None, :] * aff
        by_group = by_group / by_group.sum(axis=1, keepdims=True)
        marginal = p_group @ by_group
        aff = aff * np.divide(ch_share, marginal, out=np.ones_like(ch_share), where=marginal > 0)[None, :]
    by_group = ch_share[None, :] * aff
    by_group = by_group / by_group.sum(axis=1, keepdims=True)
    # Where a report is: the town and the community (the level-3 name without its 第N网格).
    comm = (
        grids_l3["name"].astype(str).str.replace(r"第\d+网格$", "", regex=True)
        if "name" in grids_l3.columns
        else pd.Series([""] * len(grids_l3))
    )
    grid_rural = comm.str.endswith("村").to_numpy(dtype=bool)
    names = et["name"].astype(str)
    et_place = np.zeros(len(et), dtype=np.int64)
    et_place[names.str.contains(_PLACE_URBAN).to_numpy()] = _PLACES.index("urban")
    et_place[names.str.contains(_PLACE_RURAL).to_numpy()] = _PLACES.index("rural")
    et_place[names.str.contains(_PLACE_TAIHU).to_numpy()] = _PLACES.index("taihu")
    # Background reports: a town by its residents, then a component of that town.
    comp_town = np.full(len(comps), -1, dtype=np.int64)
    if "grid_code" in components.columns:
        gc = components["grid_code"].astype(str).to_numpy(dtype=object)[order]
        comp_town = pd.Index(town_codes.astype(str)).get_indexer(town_of(gc))
    by_town = np.argsort(comp_town, kind="stable")
    t_count = np.bincount(comp_town[comp_town >= 0], minlength=town_codes.size)
    t_start = np.searchsorted(comp_town[by_town], np.arange(town_codes.size))
    residents = np.array([_TOWN_RESIDENTS.get(str(t)[6:9], np.nan) for t in town_codes], dtype=float)
    if np.isnan(residents).any() or len(residents) == 0:
        residents = t_count.astype(float)  # another district: follow its components
    residents = np.where(t_count > 0, residents, 0.0)
    comp_grid = np.full(len(comps), -1, dtype=np.int64)
    if "grid_code" in components.columns:
        comp_grid = grid_codes.get_indexer(gc)
    comp_rural = np.where(comp_grid >= 0, grid_rural[np.maximum(comp_grid, 0)], False)
    taihu_town = np.array([str(t)[6:9] in _TAIHU_TOWNS for t in town_codes], dtype=bool)
    comp_taihu = (comp_town >= 0) & taihu_town[np.maximum(comp_town, 0)] & comp_rural
    place_comps = (
        np.flatnonzero(comp_rural),
        np.flatnonzero(comp_taihu),
        np.flatnonzero((comp_grid >= 0) & ~comp_rural),
    )
    town_weight = residents / residents.sum() if residents.sum() > 0 else np.full(town_codes.size, np.nan)
    reporters = [_REPORTERS.get(c, "上报人") for c in ch_code]
    short = departments["short_name"].astype(str).tolist()
    return _World(
        comp_code=pa.array(comps["code"].astype(str).to_numpy(dtype=object), pa.string()),
        comp_xy=np.column_stack([comps["x"].to_numpy(np.float64), comps["y"].to_numpy(np.float64)]),
        class_start=dict(zip(uniq, first.tolist(), strict=True)),
        class_count=dict(zip(uniq, counts.tolist(), strict=True)),
        table=routing.prepare_components(comps),
        et=et,
        et_code=et["code"].astype(str).to_numpy(dtype=object),
        et_code_arr=pa.array(et["code"].astype(str).tolist(), pa.string()),
        et_name_arr=pa.array(et["name"].astype(str).tolist(), pa.string()),
        et_class=et["component_class"].astype(object).where(et["component_class"].notna(), None).to_numpy(),
        et_major=et["major_code"].astype(str).to_numpy(dtype=object),
        et_urgency_idx=pd.Index(_URGENCIES).get_indexer(et["urgency"].astype(str)),
        et_limit=et["time_limit"].to_numpy(np.float64),
        et_hours=units == "hours",
        base_weights=base_weights,
        month_mult=_month_multipliers(et),
        ch_code=ch_code,
        ch_share=ch_share,
        ch_office=np.isin(ch_code, list(_OFFICE_CHANNELS)),
        ch_desk=np.isin(ch_code, list(_DESK_CHANNELS)),
        ch_by_group=by_group,
        et_group=et_group,
        hotline=int(np.flatnonzero(ch_code == "C01")[0]) if (ch_code == "C01").any() else 0,
        grid_place_arr=pa.array(
            (pd.Series([short_by_town.get(t, "") for t in town_of_grid]) + comm.to_numpy()).tolist(),
            pa.string(),
        ),
        town_weight=town_weight,
        comp_by_town=by_town,
        town_comp_start=t_start,
        town_comp_count=t_count,
        et_place=et_place,
        et_named_place=names.str.contains(_NAMED_PLACE).to_numpy(dtype=bool),
        grid_rural=grid_rural,
        place_comps=place_comps,
        dept_rework=rework,
        dept_satisfied=satisfied,
        grid_codes=grid_codes,
        grid_town_idx=grid_town_idx,
        town_codes=town_codes.astype(object),
        town_short_arr=pa.array(town_short, pa.string()),
        dept_codes=dept_codes,
        dept_ontime=ontime,
        dept_town_idx=pd.Index(town_codes.astype(str)).get_indexer(
            departments["town_code"].astype(object).where(departments["town_code"].notna(), "").astype(str)
        ),
        actors=pa.array(
            list(_ACTORS) + reporters + short + [f"{s}分中心派遣员" for s in town_short], pa.string()
        ),
        notes_fixed=pa.array(
            list(_NOTES) + _REJECT_NOTES.tolist() + [f"渠道：{r}" for r in reporters], pa.string()
        ),
    )


_URGENCIES = ("一般", "紧急", "特急")
_URGENCY_ARR = pa.array(list(_URGENCIES), pa.string())
_STATUS_ARR = pa.array(list(STATUSES), pa.string())
_ACTION_ARR = pa.array(list(workflow.ACTIONS), pa.string())
_ROLE_ARR = pa.array(list(_SLOT_ROLE), pa.string())
_CALLBACK_ARR = pa.array(list(workflow.CALLBACKS), pa.string())


# -- helpers ------------------------------------------------------------------------------------


def _lognormal_s(rng: np.random.Generator, median_s: float, sigma: float, n: int, cap_s: float) -> np.ndarray:
    return np.minimum(np.exp(rng.normal(np.log(median_s), sigma, n)), cap_s)


def _seconds(a: np.ndarray) -> np.ndarray:
    return np.round(a).astype(np.int64).astype("timedelta64[s]")


def _digits(buf: np.ndarray, col: int, value: np.ndarray, width: int) -> None:
    for k in range(width):
        buf[:, col + width - 1 - k] = 48 + (value // 10**k) % 10


def _fixed_width(buf: np.ndarray, valid: np.ndarray | None = None) -> pa.Array:
    """An Arrow string array over the rows of a (n, width) uint8 buffer of ASCII, zero-copy."""
    n, width = buf.shape
    buf = np.ascontiguousarray(buf)
    offsets = np.arange(0, (n + 1) * width, width, dtype=np.int32)
    if valid is None or valid.all():
        return pa.StringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(buf))
    bitmap = np.packbits(valid.astype(np.uint8), bitorder="little")
    return pa.StringArray.from_buffers(
        n, pa.py_buffer(offsets), pa.py_buffer(buf), pa.py_buffer(bitmap), int((~valid).sum())
    )


def _time_table() -> np.ndarray:
    """'HH:MM:SS' as ASCII bytes for every second of a day, (86400, 8) uint8."""
    sod = np.arange(86400)
    buf = np.empty((86400, 8), dtype=np.uint8)
    _digits(buf, 0, sod // 3600, 2)
    _digits(buf, 3, sod // 60 % 60, 2)
    _digits(buf, 6, sod % 60, 2)
    buf[:, [2, 5]] = ord(":")
    return buf


_TIMES = _time_table()


def _iso(t: np.ndarray) -> pa.Array:
    """'YYYY-MM-DDTHH:MM:SS' (local time, no zone) for datetime64 values; null for NaT.

    Dates and times of day are looked up in small tables and copied into a byte buffer: numpy's
    and Arrow's formatters take seconds for the millions of timestamps of a year of cases.
    """
    t = np.asarray(t).astype("datetime64[s]")
    nat = np.isnat(t)
    secs = t.astype(np.int64)
    day, sod = np.divmod(secs, 86400)
    valid = day[~nat]
    d0 = int(valid.min()) if valid.size else 0
    d1 = int(valid.max()) if valid.size else 0
    rel = np.where(nat, 0, day - d0)
    sod = np.where(nat, 0, sod)
    dates = np.datetime_as_string(np.arange(d0, d1 + 1).astype("datetime64[D]"), unit="D").astype("S10")
    buf = np.empty((t.shape[0], 19), dtype=np.uint8)
    buf[:, :10] = dates.view(np.uint8).reshape(-1, 10)[rel]
    buf[:, 10] = ord("T")
    buf[:, 11:] = _TIMES[sod]
    return _fixed_width(buf, ~nat)


def _take(values: pa.Array, idx: np.ndarray) -> pa.Array:
    """``values[idx]`` with null where ``idx`` is negative."""
    idx = np.asarray(idx, dtype=np.int64)
    neg = idx < 0
    return pc.take(values, pa.array(np.where(neg, 0, idx), mask=neg if neg.any() else None))


def _strings(values: np.ndarray) -> pa.Array:
    return pa.array(values, type=pa.string(), from_pandas=True)


def _frame(columns: dict[str, pa.Array | np.ndarray], order: list[str]) -> pd.DataFrame:
    table = pa.table({k: columns[k] for k in order})
    return table.to_pandas(types_mapper={pa.string(): _STR}.get)


def _deadline(start: np.ndarray, limit: np.ndarray, hours: np.ndarray) -> np.ndarray:
    """Calendar hours for urgent types, working days (in working time) for the others."""
    return deadlines(start, limit, hours=hours)


def _place(
    *, anchor_xy: np.ndarray, sigma: np.ndarray, locate: Locate, rng: np.random.Generator, rounds: int = 6
) -> tuple[np.ndarray, np.ndarray]:
    """Jitter around anchors (component positions) and keep only points inside a grid.

    Points off every grid are drawn again a few times, then put on their anchor (a component, in a
    grid by construction). Returns the points and their grid codes (``None`` if still outside).
    """
    n = anchor_xy.shape[0]
    xy = anchor_xy + rng.normal(0.0, 1.0, (n, 2)) * sigma[:, None]
    grid = np.asarray(locate(xy[:, 0], xy[:, 1]), dtype=object)
    for r in range(rounds + 1):
        lost = np.flatnonzero(pd.isna(grid))
        if lost.size == 0:
            break
        jitter = 0.0 if r == rounds else rng.normal(0.0, 1.0, (lost.size, 2)) * sigma[lost, None]
        xy[lost] = anchor_xy[lost] + jitter
        grid[lost] = np.asarray(locate(xy[lost, 0], xy[lost, 1]), dtype=object)
    return xy, grid


# -- the simulator ------------------------------------------------------------------------------


def _chunk(
    w: _World,
    *,
    days: np.ndarray,
    counts: np.ndarray,
    first_month: np.datetime64,
    hot: _HotSpots,
    cutoff: np.datetime64,
    locate: Locate,
    departments: pd.DataFrame,
    radius: float,
    rng: np.random.Generator,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    n = int(counts.sum())
    day = np.repeat(days, counts)
    month_idx = (day.astype("datetime64[M]") - first_month).astype(np.int64).clip(0, hot.centres.shape[0] - 1)
    cal_month = day.astype("datetime64[M]").astype(np.int64) % 12

    # Hot spot or background, then the event type (hot spots favour their theme), by month.
    n_types = w.et_code.size
    etype = np.empty(n, dtype=np.int64)
    spot = np.full(n, -1, dtype=np.int64)
    hot_draw = rng.random(n) < _HOT_SHARE
    for m in np.unique(month_idx):
        in_m = month_idx == m
        p = w.base_weights * w.month_mult[int(np.bincount(cal_month[in_m]).argmax())]
        p = p / p.sum()
        bg = np.flatnonzero(in_m & ~hot_draw)
        etype[bg] = rng.choice(n_types, bg.size, p=p)
        hs = np.flatnonzero(in_m & hot_draw)
        if hs.size == 0:
            continue
        spot[hs] = rng.choice(hot.intensity.shape[1], hs.size, p=hot.intensity[m] / hot.intensity[m].sum())
        for k in np.unique(spot[hs]):
            members = hs[spot[hs] == k]
            q = p * np.isin(w.et_major, _THEMES[hot.theme[k]]) * (w.et_place == 0)
            etype[members] = rng.choice(n_types, members.size, p=q / q.sum() if q.sum() > 0 else p)

    # Channel by what the report is about, then the time of report: staffed channels in working
    # hours, the public round the clock; desks file on working days only.
    group = w.et_group[etype]
    ch = np.empty(n, dtype=np.int64)
    for g in np.unique(group):
        members = np.flatnonzero(group == g)
        ch[members] = rng.choice(w.ch_code.size, members.size, p=w.ch_by_group[g])
    off_day = ~working_calendar().is_working_day(day)
    ch = np.where(w.ch_desk[ch] & off_day & (rng.random(n) < 0.95), w.hotline, ch)
    office = w.ch_office[ch]
    hour = np.where(
        office,
        rng.choice(24, n, p=_HOURS_OFFICE / _HOURS_OFFICE.sum()),
        rng.choice(24, n, p=_HOURS_PUBLIC / _HOURS_PUBLIC.sum()),
    )
    reported = day.astype("datetime64[s]") + _seconds(hour * 3600 + rng.integers(0, 3600, n))

    # Where: a component problem at a component of its class; a hot-spot report around the spot's
    # centre; anything else around a random component, i.e. following the density of the city.
    cls = w.et_class[etype]
    is_comp = pd.notna(cls)
    comp_at = np.full(n, -1, dtype=np.int64)
    for c in np.unique(cls[is_comp].astype(str)):
        members = np.flatnonzero(cls == c)
        count = w.class_count.get(c, 0)
        if count == 0:  # no component of the class: weights make this impossible, but be safe
            is_comp[members] = False
            continue
        comp_at[members] = w.class_start[c] + rng.integers(0, count, members.size)
    anchor = np.empty((n, 2))
    sigma = np.empty(n)
    cidx = np.flatnonzero(is_comp)
    anchor[cidx] = w.comp_xy[comp_at[cidx]]
    sigma[cidx] = 2.5  # the reporter stands at the component
    hidx = np.flatnonzero(~is_comp & (spot >= 0))
    anchor[hidx] = hot.centres[month_idx[hidx], spot[hidx]]
    sigma[hidx] = hot.sigma[spot[hidx]]
    bidx = np.flatnonzero(~is_comp & (spot < 0))
    if np.isnan(w.town_weight).any():
        anchor[bidx] = w.comp_xy[rng.integers(0, w.comp_xy.shape[0], bidx.size)]
    else:  # a town by its residents, then one of its components: the density of the town
        town_pick = rng.choice(w.town_weight.size, bidx.size, p=w.town_weight)
        within = (rng.random(bidx.size) * w.town_comp_count[town_pick]).astype(np.int64)
        anchor[bidx] = w.comp_xy[w.comp_by_town[w.town_comp_start[town_pick] + within]]
    # A matter bound to a kind of place is reported where there is such a place.
    place = w.et_place[etype[bidx]]
    for k, comps_at in enumerate(w.place_comps, start=1):
        members = bidx[place == k]
        if members.size and comps_at.size:
            anchor[members] = w.comp_xy[comps_at[rng.integers(0, comps_at.size, members.size)]]
    sigma[bidx] = np.where(place > 0, 10.0, 25.0)
    xy, grid = _place(anchor_xy=anchor, sigma=sigma, locate=locate, rng=rng)
    grid_idx = np.full(n, -1, dtype=np.int64)
    located = pd.notna(grid)
    grid_idx[located] = w.grid_codes.get_indexer(grid[located].astype(str))
    # Most reporters give the component's plate number; the others are matched by distance.
    named = is_comp & (rng.random(n) < 0.7)
    named_at = np.where(named, comp_at, -1)

    # Keep what lies in a known grid (anchors are components, so all of it in practice) and
    # sort by report time, which orders the ids.
    keep = np.flatnonzero(grid_idx >= 0)
    order = keep[np.argsort(reported[keep], kind="stable")]
    day, reported, ch, office, etype = day[order], reported[order], ch[order], office[order], etype[order]
    group = group[order]
    xy, grid, grid_idx, named_at = xy[order], grid[order], grid_idx[order], named_at[order]
    n = order.size
    town_idx = w.grid_town_idx[grid_idx]

    # Routing: grid / component / event type → body (layers.routing, the same rules as live).
    named_codes = _take(w.comp_code, named_at).to_numpy(zero_copy_only=False)
    routed = routing.route(
        x=xy[:, 0], y=xy[:, 1], grid_codes=grid, event_type_codes=w.et_code[etype],
        component_codes=named_codes, event_types=w.et, components=w.table, departments=departments,
        radius=radius,
    )  # fmt: skip
    dept_idx = w.dept_codes.get_indexer(routed["dept_code"].astype(object).fillna("").to_numpy())
    reason = _strings(routed["reason"].to_numpy(dtype=object))
    routed_comp = _strings(routed["component_code"].to_numpy(dtype=object))

    urgency_idx = w.et_urgency_idx[etype]
    top = urgency_idx == 2
    urgent = urgency_idx >= 1
    # Register within minutes (the most urgent) to hours; staffed channels come pre-verified.
    reg_delay = np.where(
        top,
        _lognormal_s(rng, 180, 0.6, n, 1800),
        _lognormal_s(rng, 900, 1.0, n, 20 * 3600) * np.where(office, 0.5, 1),
    )
    registered = reported + _seconds(reg_delay)
    no_body = dept_idx < 0
    rejected = ((rng.random(n) < 0.03) & ~top) | no_body  # duplicates, out of scope; or nobody to send it to
    live = ~rejected
    dispatched = registered + _seconds(
        np.where(urgent, _lognormal_s(rng, 120, 0.7, n, 3600), _lognormal_s(rng, 600, 0.9, n, 6 * 3600))
    )

    # A few cases are sent back by the first body and re-dispatched (enforcement body, else town).
    first_idx = dept_idx.copy()
    back = np.zeros(n, dtype=bool)
    reassigned = np.full(n, np.datetime64("NaT"), dtype="datetime64[s]")
    reassign_note = pa.nulls(n, pa.string())
    cand = np.flatnonzero(live & (rng.random(n) < 0.035))
    if cand.size:
        nxt = routing.redispatch(
            event_type_codes=w.et_code[etype[cand]], grid_codes=grid[cand],
            current_dept_codes=w.dept_codes.to_numpy()[dept_idx[cand]], event_types=w.et,
            departments=departments,
        )  # fmt: skip
        moved = (nxt["reason_code"] != routing.NO_ALTERNATIVE).to_numpy()
        cand = cand[moved]
        back[cand] = True
        dept_idx[cand] = w.dept_codes.get_indexer(nxt["dept_code"].to_numpy(dtype=object)[moved])
        full = np.full(n, None, dtype=object)
        full[cand] = nxt["reason"].to_numpy(dtype=object)[moved]
        reassign_note = _strings(full)
        reassigned[cand] = dispatched[cand] + _seconds(_lognormal_s(rng, 4 * 3600, 0.8, cand.size, 2 * 86400))
    start = np.where(back, reassigned, dispatched)

    # Deadline from the (last) dispatch: calendar hours, or working days counted in working time.
    limit = w.et_limit[etype]
    hours = w.et_hours[etype]
    deadline = _deadline(start, limit, hours)
    cal = working_calendar()
    w_start = cal.to_work(start)
    allowed = np.where(hours, (deadline - start).astype(np.int64), cal.to_work(deadline) - w_start).astype(
        np.float64
    )  # seconds of clock (hours) or of working time (workdays)

    def after(frac: np.ndarray) -> np.ndarray:
        """The moment ``frac`` of the allowance after the start (working time for workdays)."""
        step = np.round(frac * allowed).astype(np.int64)
        return np.where(hours, start + step.astype("timedelta64[s]"), cal.from_work(w_start + step))

    # Handle and check: on time with the body's reliability (the check inside the allowance too),
    # otherwise late by a share of the allowance; some checks fail and the case is done again.
    on_time = rng.random(n) < w.dept_ontime[np.maximum(dept_idx, 0)]
    u = 0.03 + 0.77 * rng.beta(1.6, 2.2, n)
    frac1 = np.where(on_time, u, 1.0 + np.exp(rng.normal(np.log(0.2), 0.8, n)))
    handled1 = after(frac1)
    check_gap = np.where(on_time, rng.uniform(0.01, 0.15, n), rng.uniform(0.02, 0.3, n))
    fail1 = rng.random(n) < w.dept_rework[np.maximum(dept_idx, 0)]
    fail2 = fail1 & (rng.random(n) < 0.15)
    redo = np.exp(rng.normal(np.log(0.3), 0.6, (2, n)))  # share of the allowance a redo takes
    check1 = after(frac1 + check_gap)
    rework1 = check1 + np.timedelta64(300, "s")
    frac2 = frac1 + check_gap + redo[0]
    handled2 = np.maximum(after(frac2), rework1 + np.timedelta64(600, "s"))
    check2 = np.maximum(after(frac2 + check_gap), handled2 + np.timedelta64(600, "s"))
    rework2 = check2 + np.timedelta64(300, "s")
    frac3 = frac2 + check_gap + redo[1]
    handled3 = np.maximum(after(frac3), rework2 + np.timedelta64(600, "s"))
    last_handle = np.where(fail2, handled3, np.where(fail1, handled2, handled1))
    last_frac = np.where(fail2, frac3, np.where(fail1, frac2, frac1))
    closed = np.maximum(after(last_frac + check_gap), last_handle + np.timedelta64(300, "s"))
    # Call-backs are made by the centre's staff in working time, a few working hours after closing.
    evaluated = cal.from_work(
        cal.to_work(closed) + np.round(_lognormal_s(rng, 5 * 3600, 0.8, n, 3 * 9 * 3600)).astype(np.int64)
    )
    called = rng.random(n) < 0.42  # about 1,000 call-backs a day for 2,500 cases
    late = closed > deadline
    good = w.dept_satisfied[np.maximum(dept_idx, 0)]
    satisfied = rng.random(n) < np.where(fail1, 0.68 * good, np.where(late, 0.78 * good, good))

    # The timeline: one column per history slot, NaT where the step does not exist or has not
    # happened by the cut-off.
    nat = np.datetime64("NaT", "s")
    t = np.full((n, len(_SLOTS)), nat, dtype="datetime64[s]")
    t[:, _S_REPORT] = reported
    t[:, _S_REGISTER] = registered  # for a rejected case: the decision not to register it
    t[live, _S_DISPATCH] = dispatched[live]
    t[back, _S_REASSIGN] = reassigned[back]
    t[live, _S_H1] = handled1[live]
    f1, f2 = live & fail1, live & fail2
    t[f1, _S_C1], t[f1, _S_H2] = check1[f1], handled2[f1]
    t[f2, _S_C2], t[f2, _S_H3] = check2[f2], handled3[f2]
    t[live, _S_CLOSE] = closed[live]
    t[live, _S_EVAL] = evaluated[live]
    happened = ~np.isnat(t) & (t < cutoff)
    t[~happened] = nat

    # Status: the state machine run over the actions that happened by the cut-off, so a generated
    # history can never end where the live desk could not have brought it.
    action = np.where(happened, _SLOT_ACTION[None, :], -1)
    action[:, _S_REGISTER] = np.where(
        happened[:, _S_REGISTER],
        np.where(rejected, workflow.ACTION_ID["reject"], workflow.ACTION_ID["register"]),
        -1,
    )
    status, illegal = workflow.run(action)
    if illegal.any():  # a bug in the simulator, never a property of the data
        raise AssertionError(f"{int(illegal.sum())} generated histories break the case state machine")
    last_handled = np.where(
        happened[:, _S_H3], t[:, _S_H3], np.where(happened[:, _S_H2], t[:, _S_H2], t[:, _S_H1])
    )
    has_reassign = happened[:, _S_REASSIGN]
    # The body the case is with, and its deadline: the first body's until the re-dispatch happens.
    current_idx = np.where(has_reassign | ~back, dept_idx, first_idx)
    current_idx[rejected] = -1
    deadline_now = deadline.copy()
    pending = np.flatnonzero(back & ~has_reassign)
    if pending.size:
        deadline_now[pending] = _deadline(dispatched[pending], limit[pending], hours[pending])
    deadline_now[~happened[:, _S_DISPATCH]] = nat

    # Case ids: 'WZ' + report date + serial within the day, in report order.
    first_of_day = np.r_[True, day[1:] != day[:-1]]
    serial = np.arange(n) - np.maximum.accumulate(np.where(first_of_day, np.arange(n), 0)) + 1
    ymd = day.astype("datetime64[D]")
    buf = np.empty((n, 15), dtype=np.uint8)
    buf[:, 0], buf[:, 1] = ord("W"), ord("Z")
    _digits(buf, 2, ymd.astype("datetime64[Y]").astype(np.int64) + 1970, 4)
    _digits(buf, 6, ymd.astype("datetime64[M]").astype(np.int64) % 12 + 1, 2)
    _digits(buf, 8, (ymd - ymd.astype("datetime64[M]").astype("datetime64[D]")).astype(np.int64) + 1, 2)
    _digits(buf, 10, serial, 5)
    case_id = _fixed_width(buf)

    # Texts: description from templates that fit the event group and the place (town and
    # community); the route reason, or why it was not registered.
    social = group == _GROUPS.index("social")
    detail = np.where(
        social,
        rng.integers(0, _DETAIL_SERVICE.size, n) + _DETAIL.size,
        rng.integers(0, _DETAIL.size, n),
    )
    comp_txt = pc.fill_null(
        pc.binary_join_element_wise("（部件编号", _take(w.comp_code, named_at), "）", ""), ""
    )
    seen_on_street = np.isin(group, [_GROUPS.index(g) for g in ("street", "emergency", "environment")])
    rural = w.grid_rural[grid_idx]
    where = np.where(
        rural, _WHERE.size + rng.integers(0, _WHERE_RURAL.size, n), rng.integers(0, _WHERE.size, n)
    )
    where = np.where(w.et_named_place[etype], _HOW_ARR_PLAIN, where)
    how = np.where(seen_on_street, where, _WHERE.size + _WHERE_RURAL.size + group)
    description = pc.binary_join_element_wise(
        _take(w.grid_place_arr, grid_idx),
        _take(_HOW_ARR, how),
        _take(w.et_name_arr, etype),
        comp_txt,
        "，",
        _take(_DETAILS_ARR, detail),
        "",
    )
    reject_idx = np.where(no_body, _N_NO_BODY, _N_REJECT + rng.integers(0, _REJECT_NOTES.size, n))
    reason_txt = pc.if_else(rejected, _take(w.notes_fixed, reject_idx), reason)
    if has_reassign.any():
        moved_txt = pc.binary_join_element_wise(reason_txt, "退回改派：", reassign_note, "；")
        reason_txt = pc.if_else(has_reassign, moved_txt, reason_txt)
    evaluated_ok = happened[:, _S_EVAL]
    satisfaction = pa.array(satisfied.astype(np.int64), mask=~(called & evaluated_ok), type=pa.int64())
    # The call-back in words: about a quarter of the satisfied say "basically satisfied".
    basically = rng.random(n) < 0.25
    callback_idx = np.where(satisfied, np.where(basically, 1, 0), 2)
    callback_idx[~(called & evaluated_ok)] = -1
    # Two-level command: a case with a town-level body is dispatched by that town's sub-centre.
    first_town = w.dept_town_idx[np.maximum(first_idx, 0)]
    first_town[first_idx < 0] = -1
    current_town = w.dept_town_idx[np.maximum(current_idx, 0)]
    current_town[current_idx < 0] = -1
    centre = np.where(current_town >= 0, w.town_codes[np.maximum(current_town, 0)], "district")
    centre = np.where(
        current_idx < 0,
        np.where(first_town >= 0, w.town_codes[np.maximum(first_town, 0)], "district"),
        centre,
    )
    due_from = np.where(has_reassign, t[:, _S_REASSIGN], t[:, _S_DISPATCH])

    cases = _frame(
        {
            "id": case_id,
            "channel_code": _take(pa.array(w.ch_code.tolist(), pa.string()), ch),
            "event_type_code": _take(w.et_code_arr, etype),
            "description": description,
            "x": xy[:, 0],
            "y": xy[:, 1],
            "grid_code": _strings(grid),
            "grid_generation": np.ones(n, dtype=np.int64),
            "town_code": _strings(w.town_codes[town_idx]),
            "component_code": pc.if_else(rejected, _take(w.comp_code, named_at), routed_comp),
            "dept_code": _take(pa.array(w.dept_codes.tolist(), pa.string()), current_idx),
            "route_reason": reason_txt,
            "status": _take(_STATUS_ARR, status),
            "urgency": _take(_URGENCY_ARR, urgency_idx),
            "reported_at": _iso(t[:, _S_REPORT]),
            "registered_at": _iso(np.where(live, t[:, _S_REGISTER], nat)),
            "dispatched_at": _iso(t[:, _S_DISPATCH]),
            "deadline_at": _iso(deadline_now),
            "handled_at": _iso(last_handled),
            "closed_at": _iso(t[:, _S_CLOSE]),
            "evaluated_at": _iso(t[:, _S_EVAL]),
            "rework_count": happened[:, _S_C1].astype(np.int64) + happened[:, _S_C2].astype(np.int64),
            "satisfaction": satisfaction,
            "version": happened.sum(axis=1).astype(np.int64),
            "centre_code": _strings(centre.astype(object)),
            "due_from": _iso(due_from),
            "sendback_count": has_reassign.astype(np.int64),
            "callback": _take(_CALLBACK_ARR, callback_idx),
        },
        CASE_COLUMNS,
    )
    cases["satisfaction"] = cases["satisfaction"].astype("Int64")

    # History: every slot that happened, in case then slot order, which is time order. Actor,
    # body and note are indices into small vocabularies, taken in one go.
    rows, slots = np.nonzero(happened)
    n_ch = w.ch_code.size
    dept_actor = len(_ACTORS) + n_ch + np.maximum(dept_idx, 0)
    actor = np.empty((n, len(_SLOTS)), dtype=np.int64)
    actor[:, _S_REPORT] = len(_ACTORS) + ch
    actor[:, _S_REGISTER] = _A_REGISTER
    n_dept = w.dept_codes.size
    actor[:, _S_DISPATCH] = np.where(first_town >= 0, len(_ACTORS) + n_ch + n_dept + first_town, _A_DISPATCH)
    actor[:, _S_REASSIGN] = len(_ACTORS) + n_ch + np.maximum(first_idx, 0)  # the body sends it back
    actor[:, [_S_H1, _S_H2, _S_H3]] = dept_actor[:, None]
    actor[:, [_S_C1, _S_C2]] = _A_GRID
    actor[:, _S_CLOSE] = _A_CHECK
    actor[:, _S_EVAL] = _A_CALL
    body = np.repeat(dept_idx[:, None], len(_SLOTS), axis=1)
    body[:, [_S_REPORT, _S_REGISTER]] = -1
    body[:, [_S_DISPATCH, _S_REASSIGN]] = first_idx[:, None]
    n_fixed = len(w.notes_fixed)
    note = np.empty((n, len(_SLOTS)), dtype=np.int64)
    note[:, _S_REPORT] = _N_REJECT + _REJECT_NOTES.size + ch
    note[:, _S_REGISTER] = np.where(rejected, reject_idx, _N_REGISTER)
    note[:, _S_DISPATCH] = n_fixed + np.arange(n)  # the route reason
    note[:, _S_REASSIGN] = n_fixed + n + np.arange(n)  # the re-dispatch reason
    note[:, _S_H1] = np.where(handled1 > deadline, _N_HANDLE_LATE, _N_HANDLE)
    note[:, _S_C1], note[:, _S_H2] = _N_CHECK1, _N_REDONE
    note[:, _S_C2], note[:, _S_H3] = _N_CHECK2, _N_REDONE
    note[:, _S_CLOSE] = np.where(late, _N_CLOSE_LATE, _N_CLOSE)
    note[:, _S_EVAL] = np.where(called, np.where(satisfied, _N_SATISFIED, _N_UNSATISFIED), _N_NO_CALL)
    notes = pa.concat_arrays([w.notes_fixed, reason, reassign_note])
    history = _frame(
        {
            "case_id": pc.take(case_id, pa.array(rows)),
            "step": pc.take(_ACTION_ARR, pa.array(action[rows, slots])),
            "at": _iso(t[rows, slots]),
            "actor": pc.take(w.actors, pa.array(actor[rows, slots])),
            "dept_code": _take(pa.array(w.dept_codes.tolist(), pa.string()), body[rows, slots]),
            "note": pc.take(notes, pa.array(note[rows, slots])),
            "role": pc.take(_ROLE_ARR, pa.array(slots)),
        },
        HISTORY_COLUMNS,
    )
    return cases, history


# A street place and "发现" for what is seen; how the others come to light, by event group.
_HOW = {"safety": "网格巡查发现", "order": "网格排查发现", "social": "居民反映"}
_HOW_ARR = pa.array(
    [f"{p}发现" for p in _WHERE.tolist() + _WHERE_RURAL.tolist()]
    + [_HOW.get(g, "发现") for g in _GROUPS]
    + ["发现"],
    pa.string(),
)
_HOW_ARR_PLAIN = len(_HOW_ARR) - 1  # "发现" alone, for a type whose name says where
# fmt: off
_DETAIL_SERVICE = np.array([
    "希望尽快答复。", "请相关部门协调解决。", "已多次咨询未果。", "涉及多户居民。", "请帮助联系相关部门。",
], dtype=object)
# fmt: on
_DETAILS_ARR = pa.array(_DETAIL.tolist() + _DETAIL_SERVICE.tolist(), pa.string())


def iter_cases(
    *,
    grids_l3: pd.DataFrame,
    components: pd.DataFrame,
    event_types: pd.DataFrame,
    channels: pd.DataFrame,
    departments: pd.DataFrame,
    locate: Locate,
    days: int = 365,
    end: dt.date,
    seed: int,
    per_day: float = 2500,
    chunk_days: int = 31,
    radius: float = 30.0,
) -> Iterator[tuple[pd.DataFrame, pd.DataFrame]]:
    """Simulate ``days`` days of cases ending with ``end`` (inclusive), in chunks of days.

    Parameters
    ----------
    grids_l3
        Level-3 grids: ``code`` and (optionally) ``town_code``, their level-1 code. Geometry is
        not needed: points are placed around components and located with ``locate``.
    components
        ``code, class_code, x, y, maintainer_code, owner_code`` (EPSG:4549).
    event_types, channels, departments
        The catalogue (:mod:`layers.generate.catalog`).
    locate
        ``locate(x, y)`` → level-3 code of each point, ``None`` outside every grid.
    days, end
        The simulated period: the ``days`` days up to and including ``end``. Steps after the end of
        ``end`` have not happened: those cases are still open.
    seed
        Seed; the same seed, end date and options give the same cases.
    per_day
        Mean reports per day over the period.
    chunk_days
        Days per yielded chunk (bounds memory).
    radius
        Routing radius for matching a report to a component (metres).

    Yields
    ------
    cases, case_history
        Frames with the store's ``cases`` columns (:data:`CASE_COLUMNS`) and ``case_history``
        columns without ``id`` (:data:`HISTORY_COLUMNS`); one pair per chunk, in time order.
        Timestamps are local time, ISO ``YYYY-MM-DDTHH:MM:SS``.
    """
    if days < 0:
        raise ValueError(f"days must be 0 or more, not {days}")
    if chunk_days < 1:
        raise ValueError(f"chunk_days must be at least 1, not {chunk_days}")
    if per_day < 0:
        raise ValueError(f"per_day must be 0 or more, not {per_day}")
    if days == 0:
        return
    base_rng = np.random.default_rng([seed, end.toordinal(), 0xCA5E])
    w = _prepare(
        grids_l3=grids_l3, components=components, event_types=event_types, channels=channels,
        departments=departments, rng=base_rng,
    )  # fmt: skip
    last = np.datetime64(end.isoformat(), "D")
    all_days = last - np.arange(days - 1, -1, -1).astype("timedelta64[D]")
    factor = _day_factors(all_days)
    factor = factor / factor.mean()
    first_month = all_days[0].astype("datetime64[M]")
    n_months = int((last.astype("datetime64[M]") - first_month).astype(np.int64)) + 1
    hot = _hot_spots(w.comp_xy, cKDTree(w.comp_xy), n_months, base_rng)
    cutoff = (last + 1).astype("datetime64[s]")
    for lo in range(0, days, chunk_days):
        chunk = all_days[lo : lo + chunk_days]
        rng = np.random.default_rng([seed, end.toordinal(), int(chunk[0].astype(np.int64)) + 1_000_000])
        counts = rng.poisson(per_day * factor[lo : lo + chunk_days])
        if counts.sum() == 0:
            continue
        yield _chunk(
            w, days=chunk, counts=counts, first_month=first_month, hot=hot, cutoff=cutoff,
            locate=locate, departments=departments, radius=radius, rng=rng,
        )  # fmt: skip
