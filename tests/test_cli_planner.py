"""``compare-grids`` and ``adopt-grids`` on real files: exit 0 done, 1 refused, 2 unusable input."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from cli import main
from tests.layers.test_planner import CURRENT, G1, G2, MOVED, box, grid_frame, make_store, snapshot


@pytest.fixture(autouse=True)
def _clock(monkeypatch: pytest.MonkeyPatch) -> None:
    # Adoption depends on the day: a valid-from still to come is scheduled, not applied. The clock
    # is pinned after every valid-from these tests adopt immediately.
    monkeypatch.setenv("ONEGRID_NOW", "2027-06-01T09:00:00")


@pytest.fixture()
def store(tmp_path: Path) -> Path:
    return make_store(tmp_path / "tiny.sqlite")


def write(tmp_path: Path, level3: dict, name: str) -> Path:
    path = tmp_path / name
    frame = grid_frame(level3)
    if path.suffix == ".geojson":
        frame = frame.to_crs("EPSG:4326")  # RFC 7946: lon/lat
    frame.to_file(path)
    return path


def test_compare_summary_and_json(store: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cand = write(tmp_path, MOVED, "moved.geojson")
    assert main(["compare-grids", "--store", str(store), "--in", str(cand)]) == 0
    out = capsys.readouterr().out
    assert "reshaped (2)" in out
    assert "components: 2 of 6 would change level-3 grid" in out
    assert f"{G2} → {G1}: 2" in out
    assert "open cases: 1 of 2 would change level-3 grid" in out

    assert main(["compare-grids", "--store", str(store), "--in", str(cand), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert sorted(r["code"] for r in data["reshaped"]) == [G1, G2]
    assert {m["code"] for m in data["components"]["moves"]} == {"3205060101000002", "3205060101000003"}
    assert data["open_cases"]["pairs"] == [{"from_grid": G2, "to_grid": G1, "count": 1}]


def test_adopt_accepted(store: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cand = write(tmp_path, MOVED, "moved.gpkg")
    code = main(
        [
            "adopt-grids",
            "--store",
            str(store),
            "--in",
            str(cand),
            "--valid-from",
            "2026-12-01",
            "--actor",
            "规划员甲",
        ]
    )
    out = capsys.readouterr().out
    assert code == 0, out
    assert "adopted generation 2 from 2026-12-01" in out
    assert "2 components and 1 open cases reassigned" in out
    conn = sqlite3.connect(store)
    assert conn.execute("SELECT count(*) FROM component_history WHERE actor = '规划员甲'").fetchone() == (2,)
    conn.close()


def test_adopt_refused_lists_problems(
    store: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    gap = dict(MOVED)
    gap[G1] = box(0, 90)
    cand = write(tmp_path, gap, "gap.gpkg")
    report = tmp_path / "problems.geojson"
    before = snapshot(store)
    code = main(
        [
            "adopt-grids",
            "--store",
            str(store),
            "--in",
            str(cand),
            "--valid-from",
            "2026-12-01",
            "--report",
            str(report),
        ]
    )
    err = capsys.readouterr().err
    assert code == 1
    assert "refused: 1 topology problem(s); nothing was written" in err
    assert "gap: 1" in err and G1 in err
    feats = json.loads(report.read_text(encoding="utf-8"))["features"]
    assert [f["properties"]["kind"] for f in feats] == ["gap"]
    assert snapshot(store) == before


@pytest.mark.parametrize(
    "content, suffix, message",
    [
        (b"not json at all", ".geojson", "cannot be read"),
        (b"", ".geojson", "empty"),
        (b"code,x\n1,2\n", ".csv", "unknown file type"),
    ],
)
def test_unreadable_candidate_exits_2(
    store: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], content: bytes, suffix: str, message: str
) -> None:
    bad = tmp_path / f"bad{suffix}"
    bad.write_bytes(content)
    before = snapshot(store)
    for argv in (["compare-grids"], ["adopt-grids", "--valid-from", "2026-12-01"]):
        assert main([*argv, "--store", str(store), "--in", str(bad)]) == 2
        assert message in capsys.readouterr().err
    assert snapshot(store) == before


def test_missing_candidate_and_bad_date_exit_2(
    store: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["compare-grids", "--store", str(store), "--in", str(tmp_path / "nope.gpkg")]) == 2
    assert "no such file" in capsys.readouterr().err
    cand = write(tmp_path, CURRENT, "same.gpkg")
    argv = ["adopt-grids", "--store", str(store), "--in", str(cand)]
    assert main([*argv, "--valid-from", "2022-01-01"]) == 2
    assert "must be after the start of the current generation" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        main(["adopt-grids", "--store", str(store), "--in", str(cand), "--valid-from", "tomorrow"])
    assert exc.value.code == 2


def test_candidate_without_names_or_in_another_crs(
    store: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "bare.gpkg"
    grid_frame(MOVED).drop(columns=["name", "level", "parent_code"]).to_crs("EPSG:4490").to_file(path)
    assert main(["compare-grids", "--store", str(store), "--in", str(path)]) == 0
    out = capsys.readouterr().out
    assert "reshaped (2)" in out and "components: 2 of 6" in out
    assert "relabelled" not in out  # unnamed grids keep their names


def test_grid_file_is_in_in_every_command_and_candidate_still_works(
    store: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cand = write(tmp_path, MOVED, "moved.geojson")
    for name in ("compare-grids", "adopt-grids", "check-grids"):
        with pytest.raises(SystemExit):
            main([name, "--help"])
        out = capsys.readouterr().out
        assert "--in FILE" in out, name
        if name != "check-grids":
            assert "deprecated: the earlier spelling of --in" in out
    assert main(["compare-grids", "--store", str(store), "--candidate", str(cand)]) == 0
    captured = capsys.readouterr()
    assert "--candidate is deprecated; name the file with --in" in captured.err
    assert "reshaped (2)" in captured.out


def test_adopt_for_a_later_day_is_scheduled_listed_and_cancelled(
    store: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ONEGRID_NOW", "2026-11-30T10:00:00")
    cand = write(tmp_path, MOVED, "moved.geojson")
    argv = ["adopt-grids", "--store", str(store), "--in", str(cand), "--actor", "a"]
    assert main([*argv, "--valid-from", "2026-12-15"]) == 0
    assert "scheduled generation 2 from 2026-12-15" in capsys.readouterr().out
    assert main(["grid-generations", "--store", str(store), "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [(g["id"], g["status"]) for g in listed] == [(2, "scheduled"), (1, "current")]
    # A second adoption while one is scheduled, and the same grids again once it is cancelled.
    assert main([*argv, "--valid-from", "2026-12-20"]) == 2
    assert "generation 2 is already scheduled from 2026-12-15" in capsys.readouterr().err
    assert main(["grid-generations", "--store", str(store), "--cancel-scheduled"]) == 0
    assert "cancelled the scheduled generation 2" in capsys.readouterr().out
    assert main(["grid-generations", "--store", str(store), "--cancel-scheduled"]) == 2
    assert "no grid generation is scheduled" in capsys.readouterr().err
    cur = write(tmp_path, CURRENT, "current.geojson")
    again = ["adopt-grids", "--store", str(store), "--in", str(cur), "--actor", "a"]
    assert main([*again, "--valid-from", "2026-11-30"]) == 2
    assert "nothing to adopt" in capsys.readouterr().err
