"""Every command that reads a store, on a damaged one: one "not a readable OneGrid store" line, exit 2.

Truncated stores (100 B, 4 KiB, half) are refused when opened; pages overwritten in the middle
show only when a command reads them, and the command line translates that too.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from cli import main

UNREADABLE = "is not a readable OneGrid store"


@pytest.fixture(scope="module")
def candidate(small_store_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("candidate") / "grids.gpkg"
    assert (
        main(
            [
                "export",
                "--store",
                str(small_store_path),
                "--layer",
                "grids",
                "--format",
                "gpkg",
                "--out",
                str(path),
            ]
        )
        == 0
    )
    return path


def _commands(store: Path, candidate: Path, tmp_path: Path) -> dict[str, list[str]]:
    points = tmp_path / "points.csv"
    points.write_text("lon,lat\n120.60,31.20\n", encoding="utf-8")
    s = ["--store", str(store)]
    return {
        "summary": ["summary", *s],
        "export": ["export", *s, "--layer", "cases", "--format", "csv", "--out", str(tmp_path / "o.csv")],
        "assign": ["assign", *s, "--in", str(points), "--out", str(tmp_path / "a.csv"), "--quiet"],
        "compare-grids": ["compare-grids", *s, "--in", str(candidate)],
        "adopt-grids": ["adopt-grids", *s, "--in", str(candidate), "--valid-from", "2027-01-01"],
    }


@pytest.mark.parametrize("size", ["100 B", "4 KiB", "half"])
def test_truncated_store(
    small_store_copy: Path, candidate: Path, tmp_path: Path, size: str, capsys: pytest.CaptureFixture[str]
) -> None:
    full = small_store_copy.stat().st_size
    with small_store_copy.open("r+b") as fh:
        fh.truncate({"100 B": 100, "4 KiB": 4096, "half": full // 2}[size])
    before = small_store_copy.read_bytes()
    for name, argv in _commands(small_store_copy, candidate, tmp_path).items():
        assert main(argv) == 2, name
        err = capsys.readouterr().err
        assert err.startswith("error: ") and UNREADABLE in err, (name, err)
    assert small_store_copy.read_bytes() == before
    tiny = ["--seed", "7", "--days", "1", "--components", "2000", "--per-day", "20", "--quiet"]
    assert main(["generate", "--store", str(small_store_copy), "--force", *tiny]) == 0
    assert main(["summary", "--store", str(small_store_copy)]) == 0


def test_pages_overwritten_in_the_middle(
    small_store_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = tmp_path / "store.sqlite"
    shutil.copyfile(small_store_path, store)
    size = store.stat().st_size
    with store.open("r+b") as fh:
        fh.seek(size // 2 - size // 2 % 4096)
        fh.write(b"\xff" * 4096 * 64)
    assert main(["summary", "--store", str(store)]) == 2
    assert UNREADABLE in capsys.readouterr().err
