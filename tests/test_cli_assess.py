"""``python cli.py assess``: JSON, CSV and XLSX hold the same numbers; bad input is exit 2."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest
from openpyxl import load_workbook

from cli import main
from layers import assessment
from layers.errors import SchemeError
from layers.indicators import INDICATORS, Period
from layers.store import open_store

ROOT = Path(__file__).resolve().parents[1]
MONTH = "2026-11"


@pytest.fixture(autouse=True)
def _clock(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ONEGRID_NOW", "2026-11-25T12:00:00")


def _json(store: Path, capsys: pytest.CaptureFixture[str], *extra: str) -> dict:
    assert main(["assess", "--store", str(store), "--month", MONTH, "--json", *extra]) == 0
    return json.loads(capsys.readouterr().out)


@pytest.mark.parametrize("by", ["town", "department", "community", "centre"])
def test_json_shape_and_ranking(small_store_path: Path, capsys: pytest.CaptureFixture[str], by: str) -> None:
    out = _json(small_store_path, capsys, "--by", by)
    assert out["period"] == MONTH and out["by"] == by
    rows = out["rows"]
    assert rows and {"code", "name", "score", "rank"} <= set(rows[0])
    assert all(i.key in rows[0] for i in INDICATORS)
    scores = [r["score"] for r in rows if r["score"] is not None]
    assert scores == sorted(scores, reverse=True)
    for r in rows:
        if r["score"] is not None:  # rank = 1 + how many score better; ties share it and say so
            assert r["rank"] == 1 + sum(s > r["score"] for s in scores)
            assert r["tied"] == (scores.count(r["score"]) > 1)
            assert 0 <= r["score"] <= 100
    third = sorted(scores)[min(3, len(scores)) - 1]
    assert out["bottom"] == [r["code"] for r in rows if r["score"] is not None and r["score"] <= third]
    for r in rows:  # an empty denominator is null, never 0 or 1
        if r["due"] == 0:
            assert r["closure_rate"] is None and r["on_time_rate"] is None


def test_xlsx_holds_the_json_numbers(
    small_store_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = _json(small_store_path, capsys, "--by", "town")
    path = tmp_path / "report.xlsx"
    assert main(["assess", "--store", str(small_store_path), "--month", MONTH, "--xlsx", str(path)]) == 0
    wb = load_workbook(path)
    ranking = wb["排名 Ranking"]
    header_row = next(
        i for i, row in enumerate(ranking.iter_rows(values_only=True), 1) if row[0] == "排名 rank"
    )
    got = {
        row[1]: (row[0], row[3])
        for row in ranking.iter_rows(min_row=header_row + 1, values_only=True)
        if row[1] is not None
    }
    assert got == {r["code"]: (r["rank"], r["score"]) for r in out["rows"]}
    for i in INDICATORS:  # one sheet per indicator with its definition, the same values
        sheet = wb[i.zh[:31]]
        assert sheet["B2"].value == i.formula
        start = next(n for n, row in enumerate(sheet.iter_rows(values_only=True), 1) if row[0] == "代码 code")
        values = {row[0]: row[4] for row in sheet.iter_rows(min_row=start + 1, values_only=True)}
        for r in out["rows"]:
            # Excel keeps 15 significant digits: the same number, to the precision a cell has.
            want = "—" if r[i.key] is None else pytest.approx(r[i.key], rel=1e-14)
            assert values[r["code"]] == want, (i.key, r["code"])
    weights = {row[0]: row[2] for row in wb["权重 Weights"].iter_rows(min_row=3, values_only=True) if row[0]}
    assert weights["closure_rate"] == assessment.load_schemes()["town"].weights["closure_rate"]
    deductions = list(wb["扣分案件 Deduction cases"].iter_rows(values_only=True))
    assert deductions[0][:3] == ("deduction", "unit", "case_id")
    n_overdue = sum(r["overdue"] for r in out["rows"])
    assert sum(1 for row in deductions[1:] if row[0] == "overdue") == n_overdue


def test_csv_writes_a_dash_for_undefined(
    small_store_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = _json(small_store_path, capsys, "--by", "centre")
    path = tmp_path / "rank.csv"
    assert (
        main(
            [
                "assess",
                "--store",
                str(small_store_path),
                "--month",
                MONTH,
                "--by",
                "centre",
                "--csv",
                str(path),
            ]
        )
        == 0
    )
    with path.open(encoding="utf-8-sig") as f:
        rows = list(csv.DictReader(f))
    assert [r["code"] for r in rows] == [r["code"] for r in out["rows"]]
    for got, want in zip(rows, out["rows"], strict=True):
        assert got["satisfaction_rate"] == (
            "—" if want["satisfaction_rate"] is None else str(want["satisfaction_rate"])
        )


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    env = {"ONEGRID_NOW": "2026-11-25T12:00:00", "PATH": "/usr/bin:/bin"}
    return subprocess.run(
        [sys.executable, "cli.py", "assess", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )


def test_bad_input_is_a_message_and_exit_2(small_store_path: Path, tmp_path: Path) -> None:
    store = str(small_store_path)
    bad = tmp_path / "weights.toml"
    text = assessment.DEFAULT_SCHEMES.read_text(encoding="utf-8").replace(
        "closure_rate = 20", "closure_rate = 25", 1
    )
    bad.write_text(text, encoding="utf-8")
    unknown = tmp_path / "unknown.toml"
    unknown.write_text(
        assessment.DEFAULT_SCHEMES.read_text(encoding="utf-8").replace(
            "closure_rate = 20", "happiness = 20", 1
        ),
        encoding="utf-8",
    )
    cases = [
        (["--month", "2026-06"], "no case was reported in 2026-06"),
        (["--month", "2027-03"], "is in the future"),
        (["--month", "2026-13"], "not a month like"),
        (["--month", MONTH, "--weights", str(bad)], r"\[town.weights\] sum to 105, not 100"),
        (["--month", MONTH, "--weights", str(unknown)], "'happiness' is not an indicator"),
        (["--month", MONTH, "--code", "320506999000000"], "no town has the code '320506999000000'"),
        (["--month", MONTH, "--by", "department", "--code", "D999"], "no department has the code 'D999'"),
    ]
    for args, message in cases:
        done = _run("--store", store, *args)
        assert done.returncode == 2, (args, done.stderr)
        assert done.stderr.startswith("error: "), done.stderr
        assert "Traceback" not in done.stderr
        assert __import__("re").search(message, done.stderr), (args, done.stderr)


def test_one_unit_by_code(small_store_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rows = _json(small_store_path, capsys, "--by", "town")["rows"]
    one = _json(small_store_path, capsys, "--by", "town", "--code", rows[-1]["code"])["rows"]
    assert one == [rows[-1]]


def test_scheme_validation_lists_every_problem(tmp_path: Path) -> None:
    path = tmp_path / "s.toml"
    path.write_text(
        '[town]\napplies_to = ["town", "community", "department", "centre"]\n'
        "[town.weights]\nclosure_rate = 50\noverdue = 30\n[town.deductions]\nlateness = { points = 1, cap = 2 }\n",
        encoding="utf-8",
    )
    with pytest.raises(
        SchemeError, match=r"'overdue' is a count.*sum to 50, not 100.*'lateness' is not a set"
    ):
        assessment.load_schemes(path)


def test_bimonthly_bulletin_spans_two_months(
    small_store_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = _json(small_store_path, capsys, "--to", "2026-12")
    assert out["period"] == "2026-11..2026-12" and out["end"] == "2027-01-01"


def test_forecast_command_refuses_a_store_without_whole_months(small_store_path: Path) -> None:
    env = {"ONEGRID_NOW": "2026-11-25T12:00:00", "PATH": "/usr/bin:/bin"}
    done = subprocess.run(
        [sys.executable, "cli.py", "forecast", "--store", str(small_store_path)],
        cwd=ROOT, capture_output=True, text=True, env=env, check=False,
    )  # fmt: skip
    assert done.returncode == 2 and done.stderr.startswith("error: ") and "no whole month" in done.stderr


def test_month_on_month_is_the_previous_months_assessment(
    small_store_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """December's previous values are November's own numbers; the year before holds no case."""
    nov = {r["code"]: r for r in _json(small_store_path, capsys, "--by", "department")["rows"]}
    assert (
        main(
            ["assess", "--store", str(small_store_path), "--month", "2026-12", "--by", "department", "--json"]
        )
        == 2
    )
    capsys.readouterr()  # December holds no report: refused; compare November with October instead
    for r in nov.values():
        assert r["previous"]["registered"] in (None, 0) and r["last_year"]["closure_rate"] is None
    with open_store(small_store_path, readonly=True) as store:
        dec = assessment.assess(store, Period.of_months("2026-12"), by="department", check=False)
    for rec in dec.to_json()["rows"]:
        if rec["code"] in nov:
            assert rec["score_previous"] == nov[rec["code"]]["score"]
            for i in INDICATORS:
                assert rec["previous"][i.key] == nov[rec["code"]][i.key], (rec["code"], i.key)
