"""Probes of the case desk's intake and transitions: hostile report files, kills and racing writers.

Each probe runs the real ``python cli.py intake`` (or the layer) on a private copy of the small
district and raises ``AssertionError`` saying what went wrong.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from bench.probes._store import probe_store

ROOT = Path(__file__).resolve().parents[2]
NOW = "2026-11-21T09:00:00"
LON, LAT = 120.6124, 31.2706
_ENV = {**os.environ, "PYTHONPATH": str(ROOT), "ONEGRID_NOW": NOW}


def _intake(store: Path, src: Path, *extra: str) -> tuple[int, dict, str]:
    proc = subprocess.run(
        [sys.executable, "cli.py", "intake", "--store", str(store), "--in", str(src), "--quiet", "--json", *extra],
        cwd=ROOT, env=_ENV, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert "Traceback" not in proc.stderr, proc.stderr[-2000:]
    data = json.loads(proc.stdout) if proc.stdout.strip().startswith("{") else {}
    return proc.returncode, data, proc.stderr


def _csv(tmp: Path, rows: list[str], *, name: str = "r.csv", encoding: str = "utf-8") -> Path:
    path = tmp / name
    path.write_bytes(
        ("id,channel,event,description,lon,lat,time\n" + "\n".join(rows) + "\n").encode(encoding)
    )
    return path


def _outcomes(data: dict) -> list[str]:
    return [r["outcome"] for r in data["rows"]]


def probe_every_hostile_row_has_a_reason_in_order(tmp: Path) -> None:
    store = probe_store(tmp)
    rows = [
        f"H1,C01,0402001,fine,{LON},{LAT},2026-11-21T08:00:00+08:00",
        f"H2,C01,0402001,swapped,{LAT},{LON},2026-11-21T08:00:00",
        f"H3,C01,0402001,gcj in wgs column,{LON + 0.3},{LAT},2026-11-21T08:00:00",
        "H4,C01,0402001,nan,nan,nan,2026-11-21T08:00:00",
        f"H5,C01,XXXX,unknown event,{LON},{LAT},2026-11-21T08:00:00",
        f"H6,C77,0402001,unknown channel,{LON},{LAT},2026-11-21T08:00:00",
        f"H7,C01,0402001,future,{LON},{LAT},2030-01-01T00:00:00",
        f"H8,C01,0402001,,{LON},{LAT},2026-11-21T08:00:00",
        f"H1,C01,0402001,dup id,{LON + 0.003},{LAT},2026-11-21T08:00:00",
        f'H10,C01,0402001,"<img src=x onerror=alert(1)>",{LON + 0.006},{LAT},2026-11-21T08:00:00',
        f'H11,C01,0402001,"unterminated,{LON},{LAT},2026-11-21T08:00:00',
        "H12,C01,0402001,zero,0,0,2026-11-21T08:00:00",
    ]
    code, data, err = _intake(store, _csv(tmp, rows))
    assert code == 1, f"exit {code}: {err}"
    got = _outcomes(data)
    assert len(got) == len(rows), f"{len(got)} output rows for {len(rows)} input rows"
    assert [r["row"] for r in data["rows"]] == list(range(1, len(rows) + 1)), "rows out of order"
    assert got[0] == "created" and got[9] == "created", got
    bad = [i for i, o in enumerate(got) if o == "rejected"]
    assert bad == [1, 2, 3, 4, 5, 6, 7, 8, 10, 11], got
    assert all(data["rows"][i]["reason"] for i in bad), "a rejected row without a reason"


def probe_gb18030_and_open311_are_read(tmp: Path) -> None:
    store = probe_store(tmp)
    code, data, err = _intake(
        store, _csv(tmp, [f"G1,C01,0402001,国标编码,{LON},{LAT},2026-11-21T08:00:00"], encoding="gb18030")
    )
    assert code == 0 and _outcomes(data) == ["created"], (code, err, data.get("rows"))
    req = tmp / "open311.json"
    req.write_text(json.dumps([{"service_request_id": "9", "service_code": "0402001", "lat": LAT, "long": LON + 0.004,
                                "description": "x", "requested_datetime": "2026-11-21T00:00:00Z"}]), encoding="utf-8")  # fmt: skip
    code, data, err = _intake(store, req, "--channel", "C04")
    assert code == 0 and _outcomes(data) == ["created"], (code, err, data.get("rows"))


def probe_rerun_creates_nothing_twice(tmp: Path) -> None:
    store = probe_store(tmp)
    f = _csv(tmp, [f"R{i},C01,0402001,x{i},{LON + i * 0.003},{LAT},2026-11-21T08:00:00" for i in range(5)])
    _intake(store, f)
    code, data, _ = _intake(store, f)
    assert code == 0 and _outcomes(data) == ["existing"] * 5, data.get("rows")


def probe_kill_mid_batch_then_rerun(tmp: Path) -> None:
    store = probe_store(tmp)
    f = _csv(tmp, [f"K{i},C01,0402001,k{i},{LON + (i % 50) * 0.002},{LAT + (i // 50) * 0.002},2026-11-21T08:00:00"
                   for i in range(2500)])  # fmt: skip
    killer = textwrap.dedent(
        """
        import os, signal, sys
        from layers.district import open_district
        from layers.intake import intake_file
        def progress(stage, done, total):
            if stage == "write":
                os.kill(os.getpid(), signal.SIGKILL)
        intake_file(open_district(sys.argv[1], readonly=False), sys.argv[2], actor="probe", progress=progress)
        """
    )
    proc = subprocess.run([sys.executable, "-c", killer, str(store), str(f)], cwd=ROOT, env=_ENV, timeout=300)
    assert proc.returncode == -signal.SIGKILL, f"the child was not killed ({proc.returncode})"
    code, data, err = _intake(store, f)
    assert code in (0, 1), err
    taken = data["created"] + data["duplicates"]
    assert taken + data["rejected"] == 2500 and data["existing"] == 0, data
    code, again, _ = _intake(store, f)
    assert again["existing"] == taken and again["created"] == 0, again


def probe_racing_transitions_one_wins(tmp: Path) -> None:
    store = probe_store(tmp)
    f = _csv(tmp, [f"Z1,C01,0402001,race,{LON},{LAT},2026-11-21T08:00:00"])
    _, data, _ = _intake(store, f)
    cid = data["rows"][0]["case_id"]
    racer = textwrap.dedent(
        """
        import sys, time
        from pathlib import Path
        from layers import cases
        from layers.errors import StaleEditError
        from layers.store import open_store
        store = open_store(sys.argv[1]); case = cases.get_case(store, sys.argv[2])
        Path(sys.argv[3]).touch()
        while not Path(sys.argv[4]).exists():
            time.sleep(0.001)
        try:
            cases.act(store, sys.argv[2], action="register", version=case["version"],
                      viewer=cases.Viewer(role="inspector", actor="p"))
            print("won")
        except StaleEditError:
            print("stale")
        """
    )
    go = tmp / "go"
    procs = [
        subprocess.Popen([sys.executable, "-c", racer, str(store), cid, str(tmp / f"r{k}"), str(go)], cwd=ROOT,
                         env=_ENV, stdout=subprocess.PIPE, text=True)
        for k in range(2)
    ]  # fmt: skip
    end = time.monotonic() + 60
    while not all((tmp / f"r{k}").exists() for k in range(2)) and time.monotonic() < end:
        time.sleep(0.01)
    go.touch()
    answers = sorted(p.communicate(timeout=60)[0].strip() for p in procs)
    assert answers == ["stale", "won"], answers
