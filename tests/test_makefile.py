"""Every command line the Makefile runs is one the CLI accepts (``make bench`` ran ``bench all``
before ``all`` existed)."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

import cli

ROOT = Path(__file__).resolve().parents[1]


def _cli_lines() -> list[list[str]]:
    text = (ROOT / "Makefile").read_text(encoding="utf-8")
    return [shlex.split(m.group(1)) for m in re.finditer(r"^\t\$\(PY\) cli\.py (.+)$", text, flags=re.M)]


def test_the_makefile_runs_the_cli() -> None:
    assert ["bench", "all"] in _cli_lines()


@pytest.mark.parametrize("argv", _cli_lines(), ids=" ".join)
def test_every_makefile_command_line_parses(argv: list[str]) -> None:
    args = cli.build_parser().parse_args(argv)
    assert callable(args._run)
