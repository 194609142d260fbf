"""Intake of report files on a generated district: formats, every bad row with its reason, duplicates,
idempotence, a kill in the middle of a batch, and two processes acting on one case at once."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from layers import cases
from layers.district import District, open_district
from layers.intake import ReportDraft, intake_file, preview_report, submit_report
from spatial.crs import wgs84_to_gcj02
from tests.helpers import REPORTS_HEADER, street_reports_csv
from tests.layers.conftest import DESK_NOW as NOW

ROOT = Path(__file__).resolve().parents[2]
# A place in 长桥街道 on land, and a street-order event routed to its managing body.
LON, LAT = 120.6124, 31.2706
HEADER = REPORTS_HEADER


@pytest.fixture()
def district(desk_district: District) -> District:
    return desk_district


def _csv(path: Path, rows: list[str], *, encoding: str = "utf-8") -> Path:
    path.write_bytes((HEADER + "\n".join(rows) + "\n").encode(encoding))
    return path


def test_every_bad_row_is_kept_with_its_reason_in_input_order(district: District, tmp_path: Path) -> None:
    f = _csv(
        tmp_path / "bad.csv",
        [
            f"B01,C01,0202001,<script>alert(1)</script>占道,{LON},{LAT},2026-11-21T08:00:00+08:00,13812345678",
            f"B02,C01,9999999,未知事件,{LON},{LAT},2026-11-21T08:00:00,",
            f"B03,C99,0202001,未知渠道,{LON},{LAT},2026-11-21T08:00:00,",
            f"B04,C01,0202001,经纬度颠倒,{LAT},{LON},2026-11-21T08:00:00,",
            "B05,C01,0202001,区外,120.95,31.2706,2026-11-21T08:00:00,",
            f"B06,C01,0202001,,{LON},{LAT},2026-11-21T08:00:00,",
            f"B07,C01,0202001,未来,{LON},{LAT},2027-01-01T08:00:00,",
            f"B01,C01,0202001,重复工单号,{LON + 0.005},{LAT},2026-11-21T08:00:00,",
            f"B09,C01,0202001,缺坐标,nan,{LAT},2026-11-21T08:00:00,",
            f"B10,C01,0202001,无时间,{LON},{LAT},,",
            f"B11,C01,0202001,时间乱写,{LON},{LAT},昨天下午,",
            f'B12,C01,0202001,"未闭合的引号,{LON},{LAT},2026-11-21T08:00:00,',
        ],
    )
    result = intake_file(district, f, actor="受理员")
    rows = result.rows
    assert rows["row"].tolist() == list(range(1, len(rows) + 1))
    outcome = dict(zip(rows["row"], rows["outcome"], strict=True))
    reason = dict(zip(rows["row"], rows["reason"], strict=True))
    assert outcome[1] == "created"
    expected = {
        2: "unknown event type",
        3: "unknown channel",
        4: "probably swapped",
        5: "outside",
        6: "empty description",
        7: "in the future",
        8: "same as row 1",
        9: "missing (NaN)",
        10: "no report time",
        11: "time not understood",
    }
    for row, text in expected.items():
        assert outcome[row] == "rejected" and text in reason[row], (row, reason[row])
    assert outcome[12] == "rejected" and reason[12]
    stored = district.store.conn.execute(
        "SELECT row_number, reason FROM import_rejects WHERE batch_id = ? ORDER BY row_number",
        (result.batch_id,),
    ).fetchall()
    assert [r[0] for r in stored] == list(range(2, 13))
    case = cases.get_case(district.store, rows["case_id"].iat[0])
    assert case["description"] == "<script>alert(1)</script>占道"  # stored as given
    assert rows["note"].iat[1].startswith("无时区")  # row 2 had no zone: said so
    assert rows["note"].iat[0] == ""


def test_formats_read_through_the_one_reader(district: District, tmp_path: Path) -> None:
    gb = _csv(
        tmp_path / "gb.csv",
        [f"G1,C01,0202001,国标编码的描述,{LON},{LAT},2026-11-21T08:00:00,"],
        encoding="gb18030",
    )
    lines = tmp_path / "r.jsonl"
    lines.write_text(
        json.dumps({"id": "J1", "channel": "C05", "event": "店外占道经营", "description": "随手拍", "lon": LON + 0.002,
                    "lat": LAT, "time": "2026-11-21T07:00:00+08:00"}, ensure_ascii=False) + "\n{not json\n",
        encoding="utf-8",
    )  # fmt: skip
    open311 = tmp_path / "requests.json"
    open311.write_text(
        json.dumps([{"service_request_id": "O-1", "service_code": "0202001", "lat": LAT, "long": LON + 0.004,
                     "address_string": "东吴北路", "description": "Open311 report",
                     "requested_datetime": "2026-11-20T23:00:00Z", "media_url": "http://example.invalid/p.jpg"}]),
        encoding="utf-8",
    )  # fmt: skip
    geo = tmp_path / "r.geojson"
    geo.write_text(
        json.dumps({"type": "FeatureCollection", "features": [{"type": "Feature", "geometry": {"type": "Point",
                    "coordinates": [LON + 0.006, LAT]}, "properties": {"external_id": "F1", "channel": "C06",
                    "event": "0202001", "description": "网格员上报", "time": "2026-11-21T08:10:00"}}]}),
        encoding="utf-8",
    )  # fmt: skip
    xlsx = tmp_path / "r.xlsx"
    pd.DataFrame(
        [{"工单号": "X1", "渠道": "C08", "事件类型": "0202001", "问题描述": "窗口受理", "经度": LON + 0.008, "纬度": LAT,
          "上报时间": "2026-11-21 08:20:00"}]
    ).to_excel(xlsx, index=False)  # fmt: skip
    got = {}
    for f, channel in ((gb, None), (lines, None), (open311, "C04"), (geo, None), (xlsx, None)):
        got[f.suffix] = intake_file(district, f, channel=channel, actor="受理员").rows
    assert got[".csv"]["outcome"].tolist() == ["created"]
    assert got[".jsonl"]["outcome"].tolist() == ["created", "rejected"]
    assert got[".json"]["outcome"].tolist() == ["created"]
    assert got[".geojson"]["outcome"].tolist() == ["created"]
    assert got[".xlsx"]["outcome"].tolist() == ["created"]
    o311 = cases.get_case(district.store, got[".json"]["case_id"].iat[0])
    assert (o311["channel_code"], o311["external_id"], o311["reported_at"]) == (
        "C04",
        "O-1",
        "2026-11-21T07:00:00",
    )
    assert o311["address"] == "东吴北路" and o311["media_url"].endswith("p.jpg")
    assert cases.get_case(district.store, got[".csv"]["case_id"].iat[0])["description"] == "国标编码的描述"


def test_duplicates_link_to_the_open_case_and_reruns_create_nothing(
    district: District, tmp_path: Path
) -> None:
    f = _csv(
        tmp_path / "d.csv",
        [
            f"D1,C01,0202001,店外占道,{LON},{LAT},2026-11-21T08:00:00,",
            f"D2,C05,0202001,又有人占道,{LON + 0.0002},{LAT},2026-11-21T08:30:00,",  # ~19 m away, same type
            f"D3,C01,0401001,流动摊贩,{LON + 0.0002},{LAT},2026-11-21T08:30:00,",  # another type: a case
            f"D4,C01,0202001,远处占道,{LON + 0.01},{LAT},2026-11-21T08:30:00,",  # ~950 m: a case
        ],
    )
    first = intake_file(district, f, actor="受理员")
    assert first.rows["outcome"].tolist() == ["created", "duplicate", "created", "created"]
    assert first.rows["case_id"].iat[1] == first.rows["case_id"].iat[0]
    case = cases.get_case(district.store, first.rows["case_id"].iat[0])
    assert case["duplicate_count"] == 1
    dups = cases.case_duplicates(district.store, case["id"])
    assert dups["external_id"].tolist() == ["D2"]
    assert "duplicate" in cases.case_history(district.store, case["id"])["step"].tolist()
    again = intake_file(district, f, actor="受理员")
    assert again.rows["outcome"].tolist() == ["existing"] * 4
    assert again.rows["case_id"].tolist() == first.rows["case_id"].tolist()
    assert again.summary()["created"] == 0


def test_gcj02_coordinates_are_converted_before_locating(district: District) -> None:
    glon, glat = wgs84_to_gcj02(np.array([LON]), np.array([LAT]))
    wgs = preview_report(district, ReportDraft(event="0202001", channel="C05", description="x", x=LON, y=LAT))
    gcj = preview_report(
        district,
        ReportDraft(
            event="0202001", channel="C05", description="x", x=float(glon[0]), y=float(glat[0]), crs="GCJ02"
        ),
    )
    assert gcj.grid_l3 == wgs.grid_l3
    assert abs(gcj.lon - LON) < 1e-6 and abs(gcj.lat - LAT) < 1e-6
    assert wgs.dept_code == "D001" and wgs.centre_code == "district"


_KILLER = textwrap.dedent(
    """
    import os, signal, sys
    from layers.district import open_district
    from layers.intake import intake_file

    def progress(stage, done, total):
        if stage == "write":  # cases of the batch are written, nothing is committed yet
            os.kill(os.getpid(), signal.SIGKILL)

    d = open_district(sys.argv[1], readonly=False)
    intake_file(d, sys.argv[2], actor="受理员", progress=progress)
    """
)


def test_a_batch_killed_midway_leaves_nothing_and_the_rerun_takes_every_report_once(
    small_store_copy: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ONEGRID_NOW", NOW)
    n = 3000
    f = street_reports_csv(tmp_path / "big.csv", n)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "ONEGRID_NOW": NOW}
    proc = subprocess.run([sys.executable, "-c", _KILLER, str(small_store_copy), str(f)], env=env, cwd=ROOT)
    assert proc.returncode == -signal.SIGKILL
    d = open_district(small_store_copy, readonly=False)
    try:
        conn = d.store.conn
        assert conn.execute("SELECT count(*) FROM cases WHERE external_id LIKE 'K%'").fetchone()[0] == 0
        assert conn.execute("SELECT count(*) FROM import_batches WHERE kind = 'intake'").fetchone()[0] == 0
        result = intake_file(d, f, actor="受理员")
        taken = result.created + result.duplicates
        assert taken + result.rejected == n and taken > 1000  # points in the lake are rejected
        assert conn.execute("SELECT count(*) FROM import_rejects").fetchone()[0] == result.rejected
        in_cases = conn.execute("SELECT count(*) FROM cases WHERE external_id LIKE 'K%'").fetchone()[0]
        in_dups = conn.execute(
            "SELECT count(*) FROM duplicate_reports WHERE external_id LIKE 'K%'"
        ).fetchone()[0]
        assert (in_cases, in_dups) == (result.created, result.duplicates)
        rerun = intake_file(d, f, actor="受理员")
        assert (rerun.existing, rerun.rejected, rerun.created) == (taken, result.rejected, 0)
    finally:
        d.store.close()


_RACER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from layers import cases
    from layers.errors import StaleEditError
    from layers.store import open_store

    store = open_store(sys.argv[1])
    case = cases.get_case(store, sys.argv[2])
    Path(sys.argv[3]).touch()
    while not Path(sys.argv[4]).exists():
        time.sleep(0.001)
    viewer = cases.Viewer(role="inspector", actor=sys.argv[5])
    try:
        cases.act(store, sys.argv[2], action=sys.argv[6], version=case["version"], viewer=viewer, reason="invalid")
        print("won")
    except StaleEditError:
        print("stale")
    """
)


def test_two_processes_acting_on_one_case_exactly_one_wins(district: District, tmp_path: Path) -> None:
    _outcome, cid = submit_report(
        district,
        ReportDraft(event="0202001", channel="C01", description="两人同时核实", x=LON, y=LAT),
        actor="受理员",
        now="2026-11-21T08:00:00",
    )
    path = str(district.store.path)
    go = tmp_path / "go"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "ONEGRID_NOW": NOW}
    procs = []
    for k, action in enumerate(("register", "reject")):
        ready = tmp_path / f"ready{k}"
        procs.append(
            (
                ready,
                subprocess.Popen(
                    [sys.executable, "-c", _RACER, path, cid, str(ready), str(go), f"巡查员{k}", action],
                    env=env, cwd=ROOT, stdout=subprocess.PIPE, text=True,
                ),
            )
        )  # fmt: skip
    deadline = time.monotonic() + 60
    while not all(r.exists() for r, _ in procs) and time.monotonic() < deadline:
        time.sleep(0.01)
    go.touch()
    answers = sorted(p.communicate(timeout=60)[0].strip() for _, p in procs)
    assert answers == ["stale", "won"]
    history = cases.case_history(district.store, cid)
    assert len(history) == 2 and history["step"].iat[1] in ("register", "reject")
    assert cases.get_case(district.store, cid)["version"] == 2


def test_the_operator_decides_over_the_duplicate_rule(district: District) -> None:
    draft = ReportDraft(event="0402001", channel="C01", description="占道", x=LON, y=LAT)
    _o, first = submit_report(district, draft, actor="受理员", now="2026-11-21T08:00:00")
    near = ReportDraft(event="0402001", channel="C05", description="同一处占道", x=LON + 0.0001, y=LAT)
    assert first in set(preview_report(district, near, now="2026-11-21T08:10:00").candidates["case_id"])
    outcome, own = submit_report(district, near, new_case=True, actor="受理员", now="2026-11-21T08:10:00")
    assert outcome == "created" and own != first
    again = ReportDraft(event="0402001", channel="C05", description="第三次", x=LON + 0.0001, y=LAT)
    assert submit_report(district, again, link_to=first, actor="受理员", now="2026-11-21T08:20:00") == (
        "duplicate",
        first,
    )
    with pytest.raises(ValueError, match="not both"):
        submit_report(district, again, link_to=first, new_case=True, actor="受理员")


def test_coordinates_in_another_crs_than_declared_are_refused_and_gcj02_files_converted(
    district: District, tmp_path: Path
) -> None:
    metres = _csv(
        tmp_path / "m.csv", ["M1,C01,0202001,米制坐标当作经纬度,560450,3458450,2026-11-21T08:00:00,"]
    )
    rows = intake_file(district, metres, actor="受理员").rows
    assert rows["outcome"].tolist() == ["rejected"] and "out of range" in rows["reason"].iat[0]
    glon, glat = wgs84_to_gcj02(np.array([LON]), np.array([LAT]))
    gcj = _csv(
        tmp_path / "g.csv", [f"W1,C05,0202001,微信随手拍,{glon[0]:.7f},{glat[0]:.7f},2026-11-21T08:00:00,"]
    )
    as_wgs = intake_file(district, gcj, actor="受理员", crs="GCJ02").rows
    case = cases.get_case(district.store, as_wgs["case_id"].iat[0])
    assert abs(case["lon"] - LON) < 1e-6 and abs(case["lat"] - LAT) < 1e-6


def test_free_text_is_stored_exactly_as_sent(district: District, tmp_path: Path) -> None:
    text = "  第一行\n第二行 <b>粗体</b> **星号**  "
    frame = pd.DataFrame(
        [{"id": "T1", "event": "0202001", "description": text, "lon": str(LON), "lat": str(LAT),
          "time": "2026-11-21T08:00:00"}]
    )  # fmt: skip
    from layers.intake import intake_frame

    rows = intake_frame(district, frame, channel="C01", actor="受理员").rows
    assert cases.get_case(district.store, rows["case_id"].iat[0])["description"] == text
    blank = frame.assign(id="T2", description=" \n ")
    assert intake_frame(district, blank, channel="C01", actor="受理员").rows["outcome"].tolist() == [
        "rejected"
    ]
