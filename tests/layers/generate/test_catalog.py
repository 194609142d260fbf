"""The catalogue: departments, channels, the 732-type responsibility list, component bodies."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from layers.generate import catalog
from spatial.errors import CodeError

TOWNS = {
    "320506003000000": "长桥街道",
    "320506004000000": "郭巷街道",
    "320506101000000": "甪直镇",
    "320506108000000": "木渎镇",
    "320506401000000": "吴中经济技术开发区",
    "320506402000000": "太湖新城",
}
# A small hand-made class table in the standard's style (names drive the keyword matching).
CLASSES = pd.DataFrame(
    {
        "code": ["0101", "0102", "0114", "0117", "0204", "0305", "0402", "0504", "0601"],
        "name": [
            "上水井盖",
            "污水井盖",
            "消防栓",
            "路灯",
            "交通信号灯",
            "垃圾箱",
            "行道树",
            "危房",
            "监控电子眼",
        ],
    }
)
DEPT_COLUMNS = ["code", "name", "short_name", "kind", "town_code", "phone"]
EVENT_COLUMNS = [
    "code", "major_code", "major_name", "sub_code", "sub_name", "name", "manage_code", "handle_code",
    "enforce_code", "legal_basis", "dispatch_flow", "time_limit", "time_unit", "closure_criteria",
    "urgency", "component_class",
]  # fmt: skip


@pytest.fixture(scope="module")
def departments() -> pd.DataFrame:
    return catalog.departments(town_codes=TOWNS)


def test_departments_columns_codes_and_towns(departments):
    assert list(departments.columns) == DEPT_COLUMNS
    assert departments["code"].is_unique and departments["name"].is_unique
    assert departments["code"].str.fullmatch(r"D\d{3}|T\d{3}").all()
    towns = departments[departments["town_code"].notna()]
    assert dict(zip(towns["town_code"], towns["short_name"], strict=True))["320506003000000"] == "长桥街道"
    assert set(towns["town_code"]) == set(TOWNS)
    assert (towns["code"] == "T" + towns["town_code"].str.slice(6, 9)).all()
    kinds = dict(zip(towns["town_code"], towns["kind"], strict=True))
    assert kinds["320506108000000"] == "town" and kinds["320506401000000"] == "zone"
    assert set(departments["kind"]) == {"bureau", "utility", "contractor", "company", "town", "zone"}
    # Stable codes other tables quote.
    code = dict(zip(departments["short_name"], departments["code"], strict=True))
    assert code["区城管局"] == "D001" and code["区水务局"] == "D005" and code["吴中供水公司"] == "D102"
    assert (departments["phone"] != "").all()


def test_departments_accept_nine_digit_codes_and_refuse_bad_ones():
    d = catalog.departments(town_codes={"320506113": "东山镇"})
    assert d["town_code"].dropna().tolist() == ["320506113000000"]
    with pytest.raises(CodeError, match="level-1"):
        catalog.departments(town_codes={"3205061130": "东山镇"})
    with pytest.raises(CodeError, match="twice"):
        catalog.departments(town_codes={"320506113": "东山镇", "320506113000000": "东山镇"})


def test_channels():
    ch = catalog.channels()
    assert list(ch.columns) == ["code", "name", "name_en", "share"]
    assert len(ch) == 12 and ch["code"].is_unique
    assert ch["share"].sum() == pytest.approx(1.0)
    assert (ch["share"] > 0).all()
    assert ch["name"].str.contains("12345").any() and ch["name"].str.contains("随手拍").any()


@pytest.mark.parametrize("classes", ["small", "generated", "none"])
def test_event_types_are_732_with_valid_references(departments, classes):
    if classes == "small":
        table = CLASSES
    elif classes == "generated":
        from layers.generate.components import COMPONENT_CLASSES

        table = COMPONENT_CLASSES
    else:
        table = CLASSES.iloc[:0]
    et = catalog.event_types(departments=departments, component_classes=table)
    assert list(et.columns) == EVENT_COLUMNS
    assert len(et) == catalog.EVENT_TYPE_COUNT == 732
    assert et["code"].is_unique and et["code"].str.fullmatch(r"\d{7}").all()
    assert (et["code"].str.slice(0, 2) == et["major_code"]).all()
    assert (et["code"].str.slice(0, 4) == et["sub_code"]).all()
    known = set(departments["code"])
    for col in ("manage_code", "handle_code", "enforce_code"):
        assert set(et[col].dropna()) <= known, col
    # Some types name no managing body: the town answers.
    assert et["manage_code"].isna().sum() >= 10
    assert et["time_unit"].isin(["hours", "workdays"]).all() and (et["time_limit"] > 0).all()
    assert et["urgency"].isin(["一般", "紧急", "特急"]).all()
    assert (et["legal_basis"].str.contains("《")).all()
    assert (et["dispatch_flow"] != "").all() and (et["closure_criteria"] != "").all()
    comp = et[et["component_class"].notna()]
    assert set(comp["component_class"]) == set(table["code"])
    assert (comp["major_code"] == "1" + comp["component_class"].str.slice(1, 2)).all()
    # The standard event classes and the all-element grid classes are all there.
    for name in (
        "市容环境",
        "宣传广告",
        "施工管理",
        "街面秩序",
        "突发事件",
        "其他事件",
        "安全生产",
        "矛盾纠纷",
    ):
        assert (et["major_name"] == name).any(), name


def test_event_types_are_deterministic_and_component_types_are_routed_to_the_supervisor(departments):
    a = catalog.event_types(departments=departments, component_classes=CLASSES)
    b = catalog.event_types(departments=departments, component_classes=CLASSES.sample(frac=1, random_state=3))
    pd.testing.assert_frame_equal(a, b)
    water = a[a["component_class"] == "0101"]
    assert water["manage_code"].unique().tolist() == ["D005"]  # 水务局
    assert water["name"].iloc[0] == "上水井盖破损"
    assert (a.loc[a["code"] == "1101002", "urgency"] == "特急").all()  # a missing manhole cover


def test_event_types_need_the_bodies_they_name():
    with pytest.raises(CodeError, match="lacks bodies"):
        catalog.event_types(departments=pd.DataFrame({"code": ["D001"]}), component_classes=CLASSES)


def test_class_supervisors_align_with_the_table():
    sup = catalog.class_supervisors(CLASSES)
    assert sup.index.equals(CLASSES.index)
    assert sup.tolist() == ["D005", "D005", "D016", "D001", "D009", "D001", "D015", "D003", "D008"]


def test_component_bodies():
    classes = np.array(["0101", "0117", "0305", "0402", "0114", "0204"] * 200, dtype=object)
    # Five towns against six classes, so every class meets every town (and the missing one).
    towns = np.array(
        ["320506003000000", "320506108000000", None, "320506101000000", "320506004000000"] * 240, dtype=object
    )
    sup, owner, maint = catalog.component_bodies(classes, towns, seed=7, component_classes=CLASSES)
    again = catalog.component_bodies(classes, towns, seed=7, component_classes=CLASSES)
    for a, b in zip((sup, owner, maint), again, strict=True):
        assert a.tolist() == b.tolist()
    df = pd.DataFrame({"c": classes, "t": towns, "s": sup, "o": owner, "m": maint})
    water = df[df["c"] == "0101"]
    assert set(water["s"]) == {"D005"} and set(water["o"]) == {"D102"} and set(water["m"]) == {"D102"}
    bins = df[(df["c"] == "0305") & df["t"].notna()]
    assert set(bins["s"]) == {"D001"}
    assert (bins["o"] == "T" + bins["t"].str.slice(6, 9)).all()  # the town owns its bins
    assert set(bins["m"]) <= {"D201", "D202", "D203"}  # environmental sanitation contractors
    trees = df[(df["c"] == "0402") & df["t"].notna()]
    assert set(trees["s"]) == {"D015"} and set(trees["m"]) <= {"D204", "D205"}
    lamps = df[df["c"] == "0117"]
    assert set(lamps["s"]) == {"D001"}
    # Most lamps belong to the lamp office; some (village roads) to the town.
    assert 0.6 < (lamps["o"] == "D109").mean() < 0.9
    assert lamps.loc[lamps["t"].notna(), "o"].str.startswith("T").any()
    assert set(df.loc[df["c"] == "0204", "s"]) == {"D009"}  # signals: traffic police
    # Without a town, town-owned components have no owner.
    assert df.loc[(df["c"] == "0305") & df["t"].isna(), "o"].isna().all()
    known = set(catalog.departments(town_codes=TOWNS)["code"])
    for col in ("s", "o", "m"):
        assert set(df[col].dropna()) <= known


def test_town_dept_code():
    assert catalog.town_dept_code(["320506003000000", None]).tolist() == ["T003", None]


def test_component_problems_are_things_that_happen(departments):
    from layers.generate.components import COMPONENT_CLASSES

    et = catalog.event_types(departments=departments, component_classes=COMPONENT_CLASSES)
    comp = et[et["component_class"].notna()]
    cls = comp["component_class"].map(COMPONENT_CLASSES.set_index("code")["name"])
    kind = pd.Series([n[len(c) :] for n, c in zip(comp["name"], cls, strict=True)], index=comp.index)
    assert (comp["name"] == cls + kind).all()
    # Only living things wither, only bins overflow, only lights go dark; a bridge is never lost.
    assert cls[kind.isin(["枯死", "病虫害", "倒伏", "需修剪"])].str.contains("树|绿|花").all()
    assert set(cls[kind == "满溢"]) == {"垃圾箱", "垃圾间"}
    assert cls[kind == "不亮"].str.contains("灯|牌匾").all()
    never_lost = {"停车场", "跨河桥", "过街天桥", "绿地", "危房", "工地", "喷泉", "城市雕塑", "公共厕所"}
    assert not set(cls[kind.isin(["丢失", "缺失"])]) & never_lost
    for name in ("街头座椅枯死", "城市雕塑枯死", "喷泉枯死", "广告牌匾满溢", "跨河桥丢失", "停车场丢失"):
        assert name not in set(et["name"])
    # Every class has between two and four kinds; the names are unique across the whole list.
    assert comp.groupby("component_class").size().between(2, 4).all()
    assert et["name"].is_unique


def test_utilities_answer_their_own_matters_and_towns_the_local_ones(departments):
    et = catalog.event_types(departments=departments, component_classes=CLASSES).set_index("name")
    short = departments.set_index("code")["short_name"]
    for name, body in (
        ("停水未告知", "吴中供水公司"),
        ("水压不足", "吴中供水公司"),
        ("停电未告知", "吴中供电公司"),
    ):
        assert short[et.loc[name, "manage_code"]] == body and short[et.loc[name, "handle_code"]] == body
    assert short[et.loc["出租车拒载", "manage_code"]] == "区交通运输局"
    assert et.loc["出租车拒载", "handle_code"] != "D111"  # not the bus company
    # 以块为主: the town manages and handles the matters of the place; the bureau enforces.
    for name in ("店外占道经营", "道路两侧暴露垃圾", "相邻通行纠纷", "电动车飞线充电"):
        assert pd.isna(et.loc[name, "manage_code"]) and pd.isna(et.loc[name, "handle_code"]), name
    assert et.loc["店外占道经营", "enforce_code"] == "D002"
    assert et.loc["未经审批设置户外广告", "manage_code"] == "D001"
