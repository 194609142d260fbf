"""Routing: grid / component / event type → body, on a tiny hand-made district.

The nearest-of-class search the component branch relies on is pinned against brute force in
tests/spatial/test_component_index.py (the one component index).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from layers import routing
from spatial.errors import CodeError

G003 = "320506003001001"  # a level-3 grid of 长桥街道
G004 = "320506004002003"  # a level-3 grid of 郭巷街道


@pytest.fixture
def departments() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "code": ["DM", "DE", "MNT", "OWN", "T003", "T004"],
            "name": ["管理局", "执法局", "养护公司", "权属公司", "长桥街道办事处", "郭巷街道办事处"],
            "short_name": ["管理局", "执法局", "养护公司", "权属公司", "长桥街道", "郭巷街道"],
            "kind": ["bureau", "bureau", "contractor", "utility", "town", "town"],
            "town_code": [None, None, None, None, "320506003000000", "320506004000000"],
            "phone": [""] * 6,
        }
    )


@pytest.fixture
def event_types() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "code": ["E1", "E2", "E3", "E4"],
            "sub_name": ["上水井盖", "道路不洁", "邻里纠纷", "上水井盖"],
            "manage_code": ["DM", "DM", None, None],
            "enforce_code": ["DE", None, None, "DE"],
            "component_class": ["0101", None, None, "0101"],
        }
    )


@pytest.fixture
def components() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "code": ["C1", "C2", "C3"],
            "class_code": ["0101", "0101", "0202"],
            "x": [0.0, 100.0, 5.0],
            "y": [0.0, 0.0, 0.0],
            "maintainer_code": ["MNT", None, "MNT"],
            "owner_code": ["OWN", "OWN", "OWN"],
        }
    )


def _list(s: pd.Series) -> list:
    """Values with every missing marker as None (pandas 3 holds missing text as NaN)."""
    return [None if pd.isna(v) else v for v in s]


def _route(event_types, components, departments, rows, **kw):
    x, y, grid, et, comp = zip(*rows, strict=True)
    return routing.route(
        x=np.array(x, dtype=float),
        y=np.array(y, dtype=float),
        grid_codes=list(grid),
        event_type_codes=list(et),
        component_codes=list(comp),
        event_types=event_types,
        components=components,
        departments=departments,
        **kw,
    )


def test_every_branch_gives_the_exact_body_and_reason(event_types, components, departments):
    rows = [
        (3.0, 4.0, G003, "E1", None),  # nearest 0101 is C1 at 5 m → its maintainer
        (110.0, 0.0, G003, "E1", None),  # nearest is C2, which has no maintainer → owner
        (50.0, 0.0, G003, "E1", None),  # nothing within 30 m → managing body
        (0.0, 0.0, G003, "E2", None),  # no component class → managing body, even on top of C1
        (0.0, 0.0, G004, "E3", None),  # no managing body → the town of the grid
        (50.0, 0.0, G004, "E4", None),  # no component near, no managing body → town
        (0.0, 0.0, G003, "NOPE", None),  # unknown event type → no body, kept
        (0.0, 0.0, None, "E3", None),  # outside every grid and no body named → no body
        (500.0, 500.0, G003, "E2", "C1"),  # a named component wins wherever the point is
        (0.0, 0.0, G003, "E1", "C9"),  # an unknown named component counts as none
    ]
    out = _route(event_types, components, departments, rows)
    assert list(out.columns) == ["dept_code", "reason_code", "reason", "component_code"]
    assert _list(out["dept_code"]) == ["MNT", "OWN", "DM", "DM", "T004", "T004", None, None, "MNT", "MNT"]
    assert out["reason_code"].tolist() == [
        routing.COMPONENT_MAINTAINER,
        routing.COMPONENT_OWNER,
        routing.EVENT_MANAGER,
        routing.EVENT_MANAGER,
        routing.TOWN_FALLBACK,
        routing.TOWN_FALLBACK,
        routing.UNKNOWN_EVENT_TYPE,
        routing.NO_BODY,
        routing.COMPONENT_MAINTAINER,
        routing.COMPONENT_MAINTAINER,
    ]
    assert _list(out["component_code"]) == ["C1", "C2", None, None, None, None, None, None, "C1", "C1"]
    assert out["reason"].tolist()[:7] == [
        "部件 C1 养护单位（5 米内最近的上水井盖）",
        "部件 C2 权属单位（10 米内最近的上水井盖）",
        "事件类型 E1 管理部门",
        "事件类型 E2 管理部门",
        "属地兜底：郭巷街道",
        "属地兜底：郭巷街道",
        "unknown event type: NOPE",
    ]
    assert out["reason"].iloc[7].startswith("无责任主体")
    assert out["reason"].iloc[8] == "部件 C1 养护单位（上报指明部件）"


def test_radius_is_inclusive_and_configurable(event_types, components, departments):
    rows = [(30.0, 0.0, G003, "E1", None), (31.0, 0.0, G003, "E1", None)]
    out = _route(event_types, components, departments, rows)
    assert out["dept_code"].tolist() == ["MNT", "DM"]
    out = _route(event_types, components, departments, rows, radius=40.0)
    assert out["dept_code"].tolist() == ["MNT", "MNT"]


def test_prepared_components_give_the_same_answer(event_types, components, departments):
    rows = [(3.0, 4.0, G003, "E1", None), (95.0, 1.0, G004, "E4", None), (0.0, 0.0, G003, "E2", "C2")]
    a = _route(event_types, components, departments, rows)
    b = _route(event_types, routing.prepare_components(components), departments, rows)
    pd.testing.assert_frame_equal(a, b)


def test_missing_columns_are_named(event_types, components, departments):
    with pytest.raises(CodeError, match="manage_code"):
        _route(event_types.drop(columns="manage_code"), components, departments, [(0, 0, G003, "E1", None)])
    with pytest.raises(CodeError, match="maintainer_code"):
        _route(
            event_types, components.drop(columns="maintainer_code"), departments, [(0, 0, G003, "E1", None)]
        )


def test_town_of_grid(departments):
    got = routing.town_of_grid([G003, G004, "320506999001001", None, "bad"], departments=departments)
    assert _list(pd.Series(got)) == ["T003", "T004", None, None, None]


def test_redispatch_goes_to_enforcement_then_town(event_types, departments):
    out = routing.redispatch(
        event_type_codes=["E1", "E1", "E3", "E2", "E3"],
        grid_codes=[G003, G003, G004, G004, None],
        current_dept_codes=["DM", "DE", "T004", "DM", "T004"],
        event_types=event_types,
        departments=departments,
    )
    assert out["dept_code"].tolist() == ["DE", "T003", "T004", "T004", "T004"]
    assert out["reason_code"].tolist() == [
        routing.REDISPATCH_ENFORCER,
        routing.REDISPATCH_TOWN,
        routing.NO_ALTERNATIVE,
        routing.REDISPATCH_TOWN,
        routing.NO_ALTERNATIVE,
    ]
    assert out["reason"].iloc[0] == "转派执法部门：执法局"
