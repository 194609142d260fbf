"""Messages quote what users sent (file and column names, values): shown as text, never as Markdown."""

from __future__ import annotations

import html
import re

import pytest
from markdown_it import MarkdownIt
from streamlit.testing.v1 import AppTest

from pages._common import plain

HOSTILE = [
    "[点这里](https://evil.test/login)",
    "![](https://evil.test/pixel.png?who=me)",
    "<img src=x onerror=alert(1)> <b>bold</b>",
    "**loud** _quiet_ `code` ~~gone~~ # heading",
    ":material/home: :red[红色] $x^2$ :smile:",
    "www.evil.test and https://evil.test/a_b",
    "| a | b |\n|---|---|\n| 1 | 2 |",
    "1. first\n- item\n> quote",
    "back\\slash \\[not escaped\\] 1.0 MB 编码.csv",
]


def _render(text: str) -> str:
    return MarkdownIt("commonmark").enable(["table", "strikethrough"]).render(text)


@pytest.mark.parametrize("text", HOSTILE)
def test_plain_text_renders_as_itself(text: str) -> None:
    out = _render(plain(text))
    for tag in ("<a", "<img", "<strong", "<em", "<code", "<h1", "<table", "<s>", "<ol", "<ul", "<blockquote"):
        assert tag not in out, (text, out)
    shown = html.unescape(re.sub(r"<[^>]+>", "", out)).strip()
    assert shown.split() == text.split(), (text, shown)


def _script() -> None:
    from layers.errors import InputFileError
    from pages._common import show_error

    show_error(
        InputFileError("[恶意](https://evil.test).csv: missing column(s) '![x](https://evil.test/i.png)'")
    )


def test_show_error_shows_user_text_as_text() -> None:
    at = AppTest.from_function(_script, default_timeout=60)
    at.run()
    assert not at.exception, at.exception
    (err,) = at.error
    assert "](https" not in err.value and "\\[恶意\\]" in err.value
    out = _render(err.value)
    assert "<a" not in out and "<img" not in out
    assert "[恶意](https://evil.test).csv" in html.unescape(out)


def _case_error_script() -> None:
    import streamlit as st

    from layers.errors import IllegalTransitionError, coded
    from pages._common import show_error

    st.session_state.setdefault("lang", "zh")
    show_error(
        coded(
            IllegalTransitionError("case WZ1 is reported; close is not allowed"),
            "case_illegal",
            case="WZ1",
            state_zh="待核实",
            state_en="Reported",
            action_zh="核查通过，结案",
            action_en="Check passed, close",
            allowed_zh="核实立案、不予立案",
            allowed_en="Verify and register, Do not register",
        )
    )


@pytest.mark.parametrize(
    ("lang", "words", "foreign"),
    [("zh", "处于“待核实”，不能“核查通过，结案”", "Reported"), ("en", "Case WZ1 is Reported", "待核实")],
)
def test_a_case_desk_error_speaks_the_sessions_language(lang: str, words: str, foreign: str) -> None:
    at = AppTest.from_function(_case_error_script, default_timeout=60)
    at.session_state["lang"] = lang
    at.run()
    assert not at.exception, at.exception
    (err,) = at.error
    assert words in err.value.replace("\\", "") and foreign not in err.value
