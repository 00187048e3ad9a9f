"""What reaches the terminal from elsewhere (file names, diffs, command output, comments) cannot
drive it: control characters are shown as escapes and nothing is read as rich markup."""

from __future__ import annotations

import io

from hypothesis import given
from hypothesis import strategies as st
from rich.console import Console

from lockstep.cli.output import changes_cell
from lockstep.cli.terminal import plain, printable
from lockstep.domain.changes import ChangeAction
from lockstep.domain.messages import StepChange, StepChanges


def test_escape_sequences_are_shown_not_obeyed() -> None:
    hostile = "a\x1b]0;pwned\x07b\x1b[2J\x9bc\u202ed"
    assert printable(hostile) == "a\\x1b]0;pwned\\x07b\\x1b[2J\\x9bc\\u202ed"
    assert printable("line 1\n\tline 2") == "line 1\n\tline 2"


@given(st.text())
def test_nothing_printable_is_a_control_character(text: str) -> None:
    shown = printable(text)
    assert not any((ord(ch) < 0x20 and ch not in "\n\t") or 0x7F <= ord(ch) <= 0x9F for ch in shown)


def _rendered(text: object) -> str:
    out = io.StringIO()
    Console(file=out, force_terminal=True, color_system=None, width=200).print(text)
    return out.getvalue()


def test_markup_in_a_file_name_is_text() -> None:
    assert "[red]x[/red]" in _rendered(plain("[red]x[/red]"))


def test_a_changed_subject_with_an_escape_is_listed_escaped() -> None:
    changes = StepChanges(
        counts={"created": 1, "configured": 0, "unchanged": 0, "deleted": 0},
        summary="1 created",
        items=[StepChange(subject="/srv/web/\x1b[2Jevil", action=ChangeAction.CREATED, summary="")],
    )
    shown = _rendered(changes_cell(changes))
    assert "\x1b[2J" not in shown and "\\x1b[2Jevil" in shown


def test_a_name_with_a_newline_stays_on_its_line() -> None:
    assert printable("new\nline.txt", one_line=True) == "new\\nline.txt"
    changes = StepChanges(
        counts={"created": 1, "configured": 0, "unchanged": 0, "deleted": 0},
        summary="1 created",
        items=[StepChange(subject="/srv/new\n  policy: allowed", action=ChangeAction.CREATED, summary="")],
    )
    assert "\\n  policy: allowed" in _rendered(changes_cell(changes))
