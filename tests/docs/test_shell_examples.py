"""Every `lockstep` command line in a shell block of README.md and docs/ names a real command and
options that command takes, as the typer app defines them (a renamed flag fails here, not in a
reader's terminal).

Shell blocks are fenced ```sh, ```shell, ```bash or ```console. A block preceded by the comment
`<!-- illustrative -->` is skipped. Placeholders such as `<id>` stand for arguments and pass; what
an argument's value is, is not checked.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import typer.main

from workers.cli import app

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", ROOT / "CONTRIBUTING.md", *sorted((ROOT / "docs").glob("*.md"))]
FENCE = re.compile(r"(<!--\s*illustrative[^>]*-->\s*\n)?```(sh|shell|bash|console)\n(.*?)```", re.S)
ASSIGNMENT = re.compile(r"^[A-Z_][A-Z0-9_]*=")


def _blocks() -> list[tuple[str, int, str]]:
    found = []
    for page in PAGES:
        text = page.read_text()
        for match in FENCE.finditer(text):
            if match.group(1):
                continue
            line = text[: match.start(3)].count("\n") + 1
            found.append((str(page.relative_to(ROOT)), line, match.group(3)))
    return found


def _command_lines(block: str) -> list[str]:
    """Each `lockstep …` invocation of a block, continuation lines joined, comments dropped."""
    joined = re.sub(r"\\\n\s*", " ", block)
    lines = []
    for raw in joined.splitlines():
        line = re.sub(r"\$\([^()]*\)", "VALUE", raw.strip().removeprefix("$ "))  # $(cat token)
        for part in re.split(r"&&|\|\||;|\|", line):
            words = part.strip()
            while ASSIGNMENT.match(words):  # VAR=value lockstep …
                words = words.split(maxsplit=1)[1] if " " in words else ""
            if words.startswith("lockstep ") or words == "lockstep":
                lines.append(words.split(" #", 1)[0].strip())
    return lines


def _problem(line: str) -> str | None:
    """Why `line` does not parse against the app, or None."""
    try:
        words = shlex.split(line)[1:]
    except ValueError as err:
        return f"cannot split: {err}"
    command: Any = typer.main.get_command(app)
    path = ["lockstep"]
    options = _options(command)
    while words:
        word = words.pop(0)
        if word in ("-h", "--help"):
            return None
        if word.startswith("-"):
            name = word.split("=", 1)[0]
            if name not in options:
                return f"`{' '.join(path)}` has no option {name}"
            if "=" not in word and options[name] and words:
                words.pop(0)  # the option's value
            continue
        subcommands = getattr(command, "commands", None)
        if subcommands is not None:
            if word not in subcommands:
                return f"`{' '.join(path)}` has no command {word!r}"
            command = subcommands[word]
            path.append(word)
            options.update(_options(command))
    return None


def _options(command: Any) -> dict[str, bool]:
    """Option name -> whether it takes a value."""
    found = {}
    for param in command.params:
        if getattr(param, "param_type_name", "") != "option":
            continue
        for name in [*param.opts, *param.secondary_opts]:
            found[name] = not (param.is_flag or param.count)
    return found


EXAMPLES = [(page, line, cmd) for page, line, block in _blocks() for cmd in _command_lines(block)]


def test_the_docs_show_command_lines() -> None:
    assert len(EXAMPLES) > 20, "the extraction found too few lockstep lines to mean anything"


@pytest.mark.parametrize(("page", "line", "command"), EXAMPLES, ids=[f"{p}:{n}" for p, n, _ in EXAMPLES])
def test_a_documented_command_line_names_a_real_command_and_options(
    page: str, line: int, command: str
) -> None:
    problem = _problem(command)
    assert problem is None, f"{page} (block at line {line}): {command}: {problem}"


def test_a_wrong_line_is_caught() -> None:
    assert _problem("lockstep deploy shop --env staging --wait") is None
    assert "no option --wiat" in str(_problem("lockstep deploy shop --env staging --wiat"))
    assert "no command 'deplyo'" in str(_problem("lockstep deplyo shop"))
    assert "no command 'verfiy'" in str(_problem("lockstep audit verfiy"))
    lines = _command_lines("LOCKSTEP_TOKEN=$(cat .lockstep/tokens/alice) lockstep approve <id> --comment x\n")
    assert lines == ["lockstep approve <id> --comment x"]
