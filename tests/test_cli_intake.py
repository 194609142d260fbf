"""``intake`` and ``supervise`` on the command line: one row per input row, exit 0 / 1 / 2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cli import main

NOW = "2026-11-21T09:00:00"
LON, LAT = 120.6124, 31.2706


@pytest.fixture(autouse=True)
def _clock(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ONEGRID_NOW", NOW)


def _file(tmp_path: Path, rows: list[str]) -> Path:
    path = tmp_path / "reports.csv"
    path.write_text("id,event,description,lon,lat,time\n" + "\n".join(rows) + "\n", encoding="utf-8")
    return path


def test_all_taken_exits_0_and_json_counts(
    small_store_copy: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    f = _file(
        tmp_path,
        [
            f"R1,0402001,占道,{LON},{LAT},2026-11-21T08:00:00+08:00",
            f"R2,0402001,又占道,{LON + 0.0001},{LAT},2026-11-21T08:05:00+08:00",
        ],
    )
    args = ["intake", "--store", str(small_store_copy), "--in", str(f), "--channel", "C01", "--quiet"]
    assert main([*args, "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert (out["created"], out["duplicates"], out["rejected"]) == (1, 1, 0)
    assert [r["outcome"] for r in out["rows"]] == ["created", "duplicate"]
    assert out["rows"][0]["case_id"] == out["rows"][1]["case_id"]
    assert main(args) == 0  # the re-run: both taken in before, nothing twice
    text = capsys.readouterr().out
    assert "2 taken in before" in text and "0 created" in text
    assert main(["summary", "--store", str(small_store_copy), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["cases"]["total"] > 0


def test_rejected_rows_exit_1_with_a_line_each_in_order(
    small_store_copy: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    f = _file(
        tmp_path,
        [
            f"S1,0402001,占道,{LON},{LAT},2026-11-21T08:00:00",
            f"S2,0402001,区外,121.9,{LAT},2026-11-21T08:00:00",
            f"S3,0402001,,{LON},{LAT},2026-11-21T08:00:00",
        ],
    )
    out_csv = tmp_path / "rows.csv"
    code = main(["intake", "--store", str(small_store_copy), "--in", str(f), "--channel", "C01", "--quiet",
                 "--out", str(out_csv)])  # fmt: skip
    assert code == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split("\t")[:3] == ["row", "outcome", "case_id"]
    assert [ln.split("\t")[1] for ln in lines[1:4]] == ["created", "rejected", "rejected"]
    assert "empty description" in lines[3]
    assert out_csv.read_text(encoding="utf-8-sig").count("\n") == 4


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("reports.parquet", b"this is not parquet", "Parquet"),
        ("reports.csv", b"", "empty"),
        ("reports.xls", b"\xd0\xcf\x11\xe0 old excel", "xls"),
    ],
)
def test_unreadable_file_exits_2(
    small_store_copy: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    name: str,
    content: bytes,
    message: str,
) -> None:
    f = tmp_path / name
    f.write_bytes(content)
    assert main(["intake", "--store", str(small_store_copy), "--in", str(f), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and message.lower() in err.lower()
    assert "Traceback" not in err


def test_missing_columns_exit_2(
    small_store_copy: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    f = tmp_path / "r.csv"
    f.write_text("a,b\n1,2\n", encoding="utf-8")
    assert main(["intake", "--store", str(small_store_copy), "--in", str(f), "--quiet"]) == 2
    assert "coordinate" in capsys.readouterr().err


def test_supervise_records_cards_once(small_store_copy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["supervise", "--store", str(small_store_copy), "--json"]) == 0
    first = json.loads(capsys.readouterr().out)
    assert first["issued"]["red"] > 0
    assert sum(r["red"] for r in first["rows"]) == first["issued"]["red"]
    assert main(["supervise", "--store", str(small_store_copy), "--json", "--by", "dept"]) == 0
    again = json.loads(capsys.readouterr().out)
    assert again["issued"] == {"yellow": 0, "red": 0}
