"""Interface text in Chinese (the default) and English; ``t("key")`` in the session's language."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from pages._assess_text import ASSESS_STRINGS
from pages._desk_text import DESK_STRINGS
from pages._planner_text import PLANNER_STRINGS
from pages._survey_text import SURVEY_STRINGS

LANGUAGES = {"zh": "中文", "en": "English"}
DEFAULT_LANGUAGE = "zh"

# key: (中文, English)
STRINGS: dict[str, tuple[str, str]] = {
    "app.title": ("一张网 · 网格化社会治理", "OneGrid · grid-based governance"),
    "lang.label": ("语言 / Language", "Language / 语言"),
    "role.label": ("工作角色", "Working as"),
    "role.not_allowed": (
        "「{page}」页面供{roles}使用，当前角色「{role}」无权查看。请换用有权限的角色，或打开下列页面：",
        "The page “{page}” is for: {roles}. Your role, {role}, cannot see it. Switch to a role that "
        "may, or open one of your pages:",
    ),
    "app.simulated": (
        "本系统默认区县（吴中区）的网格、部件、人员与案件均为模拟生成的数据，不代表真实情况。",
        "The default district's (Wuzhong) grids, components, staff and cases are simulated data, "
        "not real records.",
    ),
    "role.analyst": ("分析员", "Analyst"),
    "role.surveyor": ("普查员", "Surveyor"),
    "role.planner": ("规划员", "Planner"),
    "role.dispatcher": ("调度员", "Dispatcher"),
    "role.leader": ("领导", "Leader"),
    "page.home": ("总览", "Overview"),
    "page.explorer": ("地图研判", "Map explorer"),
    "page.surveyor": ("部件普查", "Component survey"),
    "page.planner": ("网格规划", "Grid planning"),
    "page.dispatcher": ("指挥调度", "Dispatch"),
    "page.leader": ("领导驾驶舱", "Leader's cockpit"),
    "section.pages": ("页面", "Pages"),
    "filters.header": ("筛选", "Filters"),
    "filters.dates": ("上报日期", "Reported between"),
    "filters.level": ("网格层级", "Grid level"),
    "filters.town": ("镇/街道", "Town / street"),
    "filters.all_towns": ("全部", "All"),
    "level.1": ("一级 镇/街道", "1 · towns/streets"),
    "level.2": ("二级 村/社区", "2 · villages/communities"),
    "level.3": ("三级 管理片区", "3 · management areas"),
    "firstrun.title": ("首次运行：生成默认区县", "First run: generating the default district"),
    "firstrun.body": (
        "在 {path} 未找到数据库，正在生成吴中区的模拟数据（网格、部件、人员、案件）。"
        "完整生成约需一两分钟，只需一次。",
        "No store at {path}; generating the simulated Wuzhong district (grids, components, "
        "staff, cases). The full district takes a minute or two, once.",
    ),
    "firstrun.busy": (
        "另一个会话正在生成数据库，完成后本页会自动打开。",
        "Another session is generating the store; this page opens it when done.",
    ),
    "firstrun.done": ("生成完成。", "Done."),
    "filter.all": ("全部", "All"),
    "error.prefix": ("无法完成：", "Could not do that: "),
    "assets.missing": (
        "地图脚本未安装（{n} 个文件缺失），地图将无法显示。请运行 `make install` 或 "
        "`python -m maps.vendor`。",
        "Map scripts are not installed ({n} files missing); maps will stay blank. Run "
        "`make install` or `python -m maps.vendor`.",
    ),
    "basemap.label": ("底图", "Basemap"),
    "basemap.osm": ("OpenStreetMap", "OpenStreetMap"),
    "basemap.custom": ("内网底图", "Intranet tiles"),
    "basemap.none": ("无底图", "None"),
    "basemap.failed": (
        "底图无法加载（离线或地址不可达），地图只显示网格与数据；可换用其他底图或不用底图。",
        "The basemap could not be loaded (offline or unreachable); the map shows grids and data "
        "only. Choose another basemap, or none.",
    ),
    "metric.label": ("专题图", "Coverage map"),
    "metric.none": ("仅网格边界", "Grid boundaries only"),
    "metric.cases_per_km2": ("案件密度（件/km²）", "Cases per km²"),
    "metric.components_per_km2": ("部件密度（个/km²）", "Components per km²"),
    "metric.open": ("未结案件", "Open cases"),
    "metric.overdue": ("超期案件", "Overdue cases"),
    "metric.closure_rate": ("结案率", "Closure rate"),
    "col.name": ("名称", "Name"),
    "col.code": ("编码", "Code"),
    "col.cases": ("案件数", "Cases"),
    "col.open": ("未结", "Open"),
    "col.overdue": ("超期", "Overdue"),
    "col.closure_rate": ("结案率", "Closure rate"),
    "col.components": ("部件数", "Components"),
    "col.cases_per_km2": ("件/km²", "Cases/km²"),
    "col.area_km2": ("面积 km²", "Area km²"),
    "col.class": ("部件类别", "Class"),
    "col.state": ("状态", "State"),
    "col.role": ("岗位", "Post"),
    "col.phone": ("电话", "Phone"),
    "col.id_number": ("身份证号", "ID number"),
    "col.gender": ("性别", "Gender"),
    "col.grid_code": ("网格", "Grid"),
    "col.specialty": ("专业", "Specialty"),
    "col.event_type": ("事件类型", "Event type"),
    "col.count": ("数量", "Count"),
    "legend.no_data": ("无数据", "No data"),
    "layer.heat": ("案件热力", "Case heat"),
    "layer.components": ("部件", "Components"),
    "layer.points": ("部件点位", "Component points"),
    "layer.grids": ("网格", "Grids"),
    "explorer.title": ("地图研判", "Map explorer"),
    "explorer.event_class": ("事件大类", "Event class"),
    "explorer.channel": ("来源渠道", "Channel"),
    "explorer.status": ("案件状态", "Status"),
    "explorer.month": ("月份", "Month"),
    "explorer.all_months": ("全部", "All"),
    "explorer.play": ("逐月播放", "Play months"),
    "explorer.stop": ("停止", "Stop"),
    "explorer.show_heat": ("显示热力", "Show heat"),
    "explorer.show_components": ("显示部件", "Show components"),
    "explorer.heat_raw": ("热力：{n:,} 件案件，逐点显示", "Heat: {n:,} cases, each point"),
    "explorer.heat_binned": (
        "热力：{n:,} 件案件，按 {cell:.0f} m 网格汇总",
        "Heat: {n:,} cases, in {cell:.0f} m cells",
    ),
    "explorer.components_zoom": (
        "放大到 {zoom} 级以上可查看单个部件（当前按网格计数）",
        "Zoom to level {zoom} or closer to see single components (counts per grid now)",
    ),
    "explorer.components_all": (
        "视野内部件 {total:,} 个，全部显示",
        "{total:,} components in view, all shown",
    ),
    "explorer.components_sampled": (
        "视野内部件 {total:,} 个；地图一次最多绘制 {limit:,} 个，已在视野内均匀抽取 {shown:,} 个，放大可看到全部",
        "{total:,} components in view; the map draws at most {limit:,} at a time, so {shown:,} are shown, "
        "spread evenly over the view; zoom in to see them all",
    ),
    "explorer.components_town": ("（仅所选镇/街道）", " (in the chosen town only)"),
    "explorer.month_part": ("{month}（仅 {first} 至 {last}）", "{month} (only {first} to {last})"),
    "explorer.month_day": ("{month}（仅 {first}）", "{month} (only {first})"),
    "explorer.staff_first": (
        "共 {total:,} 人，按网格和岗位列出前 {shown:,} 人",
        "{total:,} in all; the first {shown:,} by grid and post are listed",
    ),
    "legend.points": ("部件状态", "Component state"),
    "legend.other_state": ("其他", "Other"),
    "state.完好": ("完好", "Intact"),
    "state.破损": ("破损", "Damaged"),
    "state.丢失": ("丢失", "Missing"),
    "state.占用": ("占用", "Occupied"),
    "rate.closure_help": (
        "结案率 = 结案数 ÷ 应结案数。应结案数 = 已结案 + 超期未结（已过处置时限仍未结案）；"
        "未到期的在办案件和不予立案的不计入。百分比向下截断到 0.1%，未全部结案时不会显示为 100%。"
        "考核口径以考核指标确定后为准。",
        "Closure rate = closed ÷ due to close, where due to close = closed + overdue (past the "
        "deadline and still open); open cases not yet due and rejected reports are not counted. "
        "Cut down to 0.1 %, so it never reads 100 % while a due case is open. The assessment's "
        "own indicator may differ once it is defined.",
    ),
    "explorer.click_hint": ("点击地图上的网格查看详情。", "Click a grid on the map for its details."),
    "explorer.panel": ("网格详情", "Grid details"),
    "explorer.staff": ("网格人员（一长三员，信息已脱敏）", "Grid staff (personal data masked)"),
    "explorer.no_staff": ("无人员记录", "No staff recorded"),
    "explorer.top_types": ("高发事件类型", "Top event types"),
    "explorer.no_cases": ("筛选条件下无案件", "No cases for these filters"),
    "explorer.payload": ("地图数据 {kb:,.0f} KB", "Map data {kb:,.0f} KB"),
    "list.sep": ("、", ", "),
    "desk.centre_name.district": ("区联动中心", "District linkage centre"),
    "desk.centre_name.town": ("{town}分中心", "{town} sub-centre"),
    "error.forecast_months": (
        "预测至少需要 {need} 个完整月份的案件，当前数据只有 {have} 个。",
        "Forecasts need at least {need} whole months of cases; the store holds {have}.",
    ),
    "hotspot.col.code": ("网格编码", "Grid code"),
    "hotspot.col.name": ("网格", "Grid"),
    "hotspot.col.class": ("时空热点类别", "Class"),
    "hotspot.col.trend_s": ("趋势 S", "Trend S"),
    "hotspot.col.trend_z": ("趋势 z", "Trend z"),
    "hotspot.col.trend_p": ("趋势 p", "Trend p"),
    "hotspot.col.hot_months": ("热点月数", "Hot months"),
    "hotspot.col.cold_months": ("冷点月数", "Cold months"),
    "app.official_names": (
        "",
        "Names of grids, bodies, staff and event types are the official Chinese names; classes of "
        "events and components carry their standard English labels.",
    ),
    "delta.pt": ("{d:+.1f} 个百分点", "{d:+.1f} pt"),
    "delta.h": ("{d:+.1f} 小时", "{d:+.1f} h"),
    "case.col.id": ("案件编号", "Case"),
    "case.col.town_code": ("镇/街道编码", "Town code"),
    "case.col.grid_code": ("网格编码", "Grid code"),
    "case.col.dept_code": ("处置单位编码", "Body code"),
    "case.col.centre_code": ("指挥中心", "Centre"),
    "case.col.channel_code": ("来源渠道编码", "Channel code"),
    "case.col.event_type_code": ("事件类型编码", "Event type code"),
    "case.col.event_type": ("事件类型", "Event type"),
    "case.col.status": ("状态", "Status"),
    "case.col.reported_at": ("上报时间", "Reported"),
    "case.col.registered_at": ("立案时间", "Registered"),
    "case.col.dispatched_at": ("派遣时间", "Dispatched"),
    "case.col.deadline_at": ("处置时限", "Deadline"),
    "case.col.handled_at": ("处理时间", "Handled"),
    "case.col.closed_at": ("结案时间", "Closed"),
    "case.col.evaluated_at": ("评价时间", "Evaluated"),
    "case.col.rework_count": ("返工次数", "Reworks"),
    "case.col.sendback_count": ("退回次数", "Send-backs"),
    "case.col.callback": ("回访结果", "Call-back"),
    "status.reported": ("已上报", "Reported"),
    "status.registered": ("已立案", "Registered"),
    "status.dispatched": ("已派遣", "Dispatched"),
    "status.handled": ("已处理", "Handled"),
    "status.closed": ("已结案", "Closed"),
    "status.evaluated": ("已评价", "Evaluated"),
    "status.rejected": ("不予立案", "Rejected"),
    "home.title": ("一张网 总览", "OneGrid overview"),
    "home.caption": ("{district} · 数据截至 {end}", "{district} · data up to {end}"),
    "home.cases": ("案件（所选日期）", "Cases (selected dates)"),
    "home.open": ("未结", "Open"),
    "home.overdue": ("超期", "Overdue"),
    "home.closure_rate": ("结案率", "Closure rate"),
    "home.components": ("部件", "Components"),
    "home.grids": ("网格（一/二/三级）", "Grids (levels 1/2/3)"),
    "home.table": ("各网格概况", "Grids at a glance"),
    "home.no_cases": ("所选日期内没有案件。", "No cases in the selected dates."),
}

STRINGS.update(DESK_STRINGS)  # the case desk's words live beside their pages
STRINGS.update(ASSESS_STRINGS)  # so do the assessment's, the cockpit's and the analysis'
STRINGS.update(SURVEY_STRINGS)  # and the surveyor's
STRINGS.update(PLANNER_STRINGS)  # and the grid planner's


def language() -> str:
    lang = st.session_state.get("lang", DEFAULT_LANGUAGE)
    return lang if lang in LANGUAGES else DEFAULT_LANGUAGE


def t(key: str, **values: object) -> str:
    """The text of ``key`` in the session's language; an unknown key shows itself (visible in tests)."""
    pair = STRINGS.get(key)
    if pair is None:
        return key
    text = pair[1] if language() == "en" else pair[0]
    return text.format(**values) if values else text


# -- English labels of the standards' official Chinese names ----------------------------------
# The store keeps the official names (the event and component standards, the district's own list);
# in English a page shows the standard English label of a class, and the official name where none
# exists (event type names, grid and body names: :data:`OFFICIAL_NOTE` says so once).
EVENT_MAJORS_EN = {
    "01": "City appearance and environment",
    "02": "Publicity and advertising",
    "03": "Construction management",
    "04": "Street order",
    "05": "Emergencies",
    "06": "Other events",
    "11": "Component problems: public utilities",
    "12": "Component problems: roads and traffic",
    "13": "Component problems: city appearance",
    "14": "Component problems: parks and greenery",
    "15": "Component problems: buildings and land",
    "16": "Component problems: other facilities",
    "21": "Work safety",
    "22": "Ecological environment",
    "23": "Public order",
    "24": "Labour protection",
    "25": "Fire safety",
    "26": "Food and drugs",
    "27": "Public services",
    "28": "Disputes and conflicts",
    "29": "Rivers, lakes and water",
    "30": "Agriculture and rural affairs",
    "31": "Housing safety",
    "32": "Traffic and travel",
}
COMPONENT_MAJORS_EN = {
    "01": "Public utilities",
    "02": "Roads and traffic",
    "03": "City appearance and environment",
    "04": "Parks and greenery",
    "05": "Buildings and land",
    "06": "Other facilities",
}
COMPONENT_CLASSES_EN = {
    "0101": "Water supply manhole cover",
    "0102": "Sewage manhole cover",
    "0103": "Storm-water manhole cover",
    "0104": "Storm-water grate",
    "0105": "Power manhole cover",
    "0106": "Street-light manhole cover",
    "0107": "Telecom manhole cover",
    "0108": "Cable TV manhole cover",
    "0109": "Network manhole cover",
    "0110": "Heating manhole cover",
    "0111": "Gas manhole cover",
    "0112": "Police manhole cover",
    "0113": "Ownerless manhole cover",
    "0114": "Fire hydrant",
    "0115": "Power facility",
    "0116": "Utility pole",
    "0117": "Street light",
    "0118": "Landscape light",
    "0119": "Telecom cross-connect box",
    "0120": "Post box",
    "0201": "Car park",
    "0202": "Bus shelter",
    "0203": "Traffic sign",
    "0204": "Traffic signal",
    "0205": "Guard rail",
    "0206": "Footbridge",
    "0207": "Street name sign",
    "0208": "Parking space",
    "0209": "Speed bump",
    "0210": "River bridge",
    "0211": "Public bicycle station",
    "0212": "Traffic police booth",
    "0213": "Traffic bollard",
    "0301": "Public toilet",
    "0302": "Refuse room",
    "0303": "Advertising signboard",
    "0304": "News kiosk",
    "0305": "Litter bin",
    "0306": "Light box or neon sign",
    "0307": "Outdoor electronic screen",
    "0308": "Refuse transfer station",
    "0401": "Ancient or notable tree",
    "0402": "Street tree",
    "0403": "Tree guard",
    "0404": "Flower bed or planter",
    "0405": "Green space",
    "0406": "Urban sculpture",
    "0407": "Street bench",
    "0408": "Green-space fence",
    "0409": "Fountain",
    "0501": "Notice board",
    "0502": "Civil air-defence works",
    "0503": "Underground space entrance",
    "0504": "Dangerous building",
    "0601": "Surveillance camera",
    "0602": "Fitness equipment",
    "0603": "Waterside railing",
    "0604": "Pier",
    "0605": "Survey control point",
    "0606": "Manhole cover (other)",
    "0607": "Construction site",
}
_ENGLISH = {
    "event_major": EVENT_MAJORS_EN,
    "component_major": COMPONENT_MAJORS_EN,
    "component_class": COMPONENT_CLASSES_EN,
}


#: The posts of 一长三员 and the coordinators' and participants' specialties, in English.
POSTS_EN = {
    "网格长": "Grid head",
    "网格指导员": "Grid instructor",
    "网格协管员": "Grid coordinator",
    "网格参与员": "Grid participant",
    "网格员": "Grid worker",
}
SPECIALTIES_EN = {
    "安全": "safety",
    "环境": "environment",
    "治安": "public order",
    "劳动保障": "labour",
    "党员": "party member",
    "居民代表": "residents' representative",
    "志愿者": "volunteer",
    "楼组长": "building head",
}


def official_labels(kind: str, codes: pd.Series, names: pd.Series) -> pd.Series:
    """:func:`official` over a column: the English labels of ``codes`` in English (the official
    ``names`` where there is none), the official names in Chinese."""
    if language() != "en":
        return names
    return codes.astype(str).map(_ENGLISH[kind]).fillna(names)


def post_labels(posts: pd.Series, specialties: pd.Series) -> pd.Series:
    """Staff posts (with the specialty, where one is given) in the session's language."""
    posts = posts.fillna("").astype(str)
    specialties = specialties.fillna("").astype(str)
    if language() == "en":
        posts = posts.replace(POSTS_EN)
        specialties = specialties.replace(SPECIALTIES_EN)
        return posts.where(specialties == "", posts + " (" + specialties + ")")
    return posts.where(specialties == "", posts + "（" + specialties + "）")


def official(kind: str, code: object, name: object) -> str:
    """The label of an official class (``kind``: event_major, component_major, component_class):
    the store's official Chinese ``name`` in Chinese, the standard English label in English (the
    official name where the standard gives none)."""
    if language() == "en":
        return _ENGLISH[kind].get(str(code), str(name))
    return str(name)
