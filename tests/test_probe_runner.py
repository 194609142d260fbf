"""The probe runner (``python -m bench.probes``) on a tiny probe package of its own, in a child process."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

PROBES = {
    "__init__.py": '"""Tiny probes for the runner\'s test."""\n',
    "_shared.py": "def probe_not_a_group(tmp):\n    raise AssertionError('modules starting with _ are not groups')\n",
    "alpha.py": """
        from pathlib import Path

        def probe_right(tmp: Path) -> None:
            assert list(tmp.iterdir()) == [], "each probe gets an empty folder"
            (tmp / "left.txt").write_text("x")

        def probe_wrong(tmp: Path) -> None:
            assert 1 + 1 == 3, "arithmetic is off"

        def probe_broken(tmp: Path) -> None:
            raise ValueError("no such thing")

        def probe_also_right(tmp: Path) -> None:
            assert not (tmp / "left.txt").exists(), "folders are not shared between probes"

        def helper(tmp: Path) -> None:
            raise AssertionError("not a probe: never run")
    """,
    "beta.py": """
        def probe_fine(tmp):
            pass
    """,
}


@pytest.fixture()
def package(tmp_path: Path) -> Path:
    pkg = tmp_path / "tinyprobes"
    pkg.mkdir()
    for name, text in PROBES.items():
        (pkg / name).write_text(textwrap.dedent(text), encoding="utf-8")
    return tmp_path


def _run(package: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(package), str(ROOT)])}
    return subprocess.run(
        [sys.executable, "-m", "bench.probes", "--package", "tinyprobes", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_every_group_is_tried_and_the_wrong_ones_are_named(package: Path) -> None:
    r = _run(package)
    assert r.returncode == 1, r.stderr
    lines = r.stdout.splitlines()
    table = lines[lines.index(next(line for line in lines if line.startswith("group"))) :]
    assert table[0].split() == ["group", "tried", "correct", "wrong"]
    assert table[1].split() == ["alpha", "4", "2", "2"]
    assert table[2].split() == ["beta", "1", "1", "0"]
    assert table[3].split() == ["total", "5", "3", "2"]
    assert "  alpha.probe_wrong: arithmetic is off" in lines
    broken = next(line for line in lines if line.startswith("  alpha.probe_broken:"))
    assert "ValueError: no such thing (at alpha.py:" in broken
    assert "not_a_group" not in r.stdout and "helper" not in r.stdout


def test_named_groups_only_and_exit_zero_when_all_are_right(package: Path) -> None:
    r = _run(package, "beta", "--quiet")
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == [
        "group  tried  correct  wrong",
        "beta       1        1      0",
        "total      1        1      0",
    ]


def test_an_unknown_group_is_an_error(package: Path) -> None:
    r = _run(package, "gamma")
    assert r.returncode == 2
    assert r.stderr.strip() == "error: no probe group gamma; the groups are alpha, beta"
