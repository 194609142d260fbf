"""Every command's help prints (argparse reads ``%`` in help texts as a format code)."""

from __future__ import annotations

import pytest

from cli import _command_modules, main


@pytest.mark.parametrize("name", [m.NAME for m in _command_modules()])
def test_help_of_every_command(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main([name, "--help"])
    assert info.value.code == 0
    assert "usage:" in capsys.readouterr().out


def test_top_level_help(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["--help"])
    assert info.value.code == 0
    assert "intake" in capsys.readouterr().out
