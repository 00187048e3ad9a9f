"""Write docs/cli.md from the `lockstep` typer app itself: `python -m scripts.gen_cli_docs`
(or `make docs`); `--check` exits 1 when the file on disk differs.

Every command and group the app registers is documented, in registration order, so a new
command appears without a change here. Arguments and options (types, defaults, environment
variables) come from typer's click commands, read by attribute (typer vendors its own click, so
the `click` package's classes are not theirs); descriptions, the example and the docs pages from
each command's help text ("Example:" and "Docs:" paragraphs). Exit codes and the fields of
`--output json` come from `scripts/cli_docs_data.py`. The output depends on the code alone (not
on the terminal, the environment or the date), so a test can compare it with the file.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any

import typer.main

from scripts.cli_docs_data import DEPLOYMENT, EXIT_ONE, EXIT_TWO, JSON_OUTPUT, Fields
from scripts.generated_file import ROOT, write_or_check
from workers.cli import app

TARGET = ROOT / "docs" / "cli.md"
COMMAND = "python -m scripts.gen_cli_docs"
DEPLOYMENT_INTRO = (
    "What `lockstep status ID`, `lockstep list`, `lockstep deploy` and `lockstep history` print "
    "with `--output json` for each deployment, and what `GET /deployments/{id}` answers "
    "([api.md](api.md)). `a.b` is a key of an object, `a[]` each item of a list. Later versions "
    "may add fields: read them by name."
)


@dataclass(frozen=True)
class Entry:
    """One command or group, with its path under `lockstep` ("policy eval")."""

    path: str
    command: Any  # typer's click command or group

    @property
    def heading(self) -> str:
        return f"lockstep {self.path}".strip()

    @property
    def anchor(self) -> str:
        return anchor(self.heading)


def anchor(heading: str) -> str:
    """GitHub's anchor for a heading: lowercase, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^a-z0-9 _-]", "", heading.lower()).replace(" ", "-")


def entries() -> list[Entry]:
    root = typer.main.get_command(app)
    found = [Entry("", root)]

    def walk(group: Any, prefix: str) -> None:
        for name, command in _subcommands(group):  # registration order, as --help lists them
            if command.hidden:
                continue
            path = f"{prefix} {name}".strip()
            found.append(Entry(path, command))
            walk(command, path)

    walk(root, "")
    return found


@dataclass(frozen=True)
class Help:
    prose: list[str]
    examples: list[str]
    docs: list[str]


def parse_help(text: str | None) -> Help:
    """A help text's paragraphs: prose (lines joined), `Example:` lines and `Docs:` references."""
    prose: list[str] = []
    examples: list[str] = []
    docs: list[str] = []
    for paragraph in re.split(r"\n\s*\n", (text or "").strip()):
        joined = " ".join(line.strip() for line in paragraph.splitlines() if line.strip())
        if joined.startswith("Example:"):
            examples.append(joined.removeprefix("Example:").strip())
        elif joined.startswith("Docs:"):
            docs.extend(ref.strip() for ref in joined.removeprefix("Docs:").split(","))
        elif joined:
            prose.append(joined)
    return Help(prose, examples, docs)


def _link(ref: str) -> str:
    """A help text's reference (relative to the repository) as a link from docs/cli.md."""
    path, _, fragment = ref.partition("#")
    target = path.removeprefix("docs/") if path.startswith("docs/") else f"../{path}"
    if path == "docs/cli.md":
        target = ""
    return f"[{ref.removeprefix('docs/')}]({target}{'#' + fragment if fragment else ''})"


def _subcommands(command: Any) -> list[tuple[str, Any]]:
    """A group's visible commands in registration order, as --help lists them; none for a command."""
    return [(n, c) for n, c in getattr(command, "commands", {}).items() if not c.hidden]


def _is_option(param: Any) -> bool:
    return hasattr(param, "is_flag")  # arguments have none


def _type(param: Any) -> str:
    annotation = param.type_descriptor.annotation
    if _is_option(param) and param.is_flag:
        return "flag"
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        return " \\| ".join(f"`{c.value}`" for c in annotation)
    if annotation is int:
        low = f", ≥ {param.min}" if param.min is not None else ""
        high = f", ≤ {param.max}" if param.max is not None else ""
        return f"integer{low}{high}"
    if isinstance(annotation, type) and issubclass(annotation, Path):
        return "path"
    return {float: "number", bool: "boolean"}.get(annotation, "text")


def _default(param: Any) -> str:
    if param.required:
        return "required"
    value = param.default
    if value is None or (_is_option(param) and param.is_flag and value is False):
        return "—"
    if isinstance(value, Enum):
        value = value.value
    return f"`{value}`" if str(value) != "" else '`""`'


def _names(param: Any) -> str:
    if not _is_option(param):
        return f"`{param.name.upper()}`"
    return ", ".join(f"`{o}`" for o in [*param.opts, *param.secondary_opts])


def _usage(entry: Entry) -> str:
    pieces = [entry.heading]
    if any(_is_option(p) for p in entry.command.params):
        pieces.append("[OPTIONS]")
    for p in entry.command.params:
        if not _is_option(p):
            pieces.append(p.name.upper() if p.required else f"[{p.name.upper()}]")
    if hasattr(entry.command, "commands"):
        pieces.append("COMMAND [ARGS]...")
    return " ".join(pieces)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render_entry(entry: Entry) -> list[str]:
    level = "#" * min(2 + entry.path.count(" "), 4)
    command = entry.command
    described = parse_help(command.help)
    out = [f"{level} {entry.heading}", ""]
    out += [f"```\n{_usage(entry)}\n```", ""]
    for paragraph in described.prose:
        out += [paragraph, ""]
    if described.examples:
        out += ["Example:", "", "```sh", *described.examples, "```", ""]
    if _subcommands(command):
        out += ["| command | what it does |", "|---|---|"]
        for name, sub in _subcommands(command):
            full = f"{entry.heading} {name}"
            out.append(f"| [`{full}`](#{anchor(full)}) | {_cell(parse_help(sub.help).prose[0])} |")
        out.append("")
    params = [p for p in command.params if p.name != "help"]
    if params:
        out += ["| argument or option | type | default | description |", "|---|---|---|---|"]
        for p in params:
            description = getattr(p, "help", None) or ""
            if _is_option(p) and p.envvar:
                description += f" (environment: `{p.envvar}`)"
            out.append(f"| {_names(p)} | {_type(p)} | {_default(p)} | {_cell(description.strip())} |")
        out.append("")
    if entry.path in EXIT_ONE or entry.path in EXIT_TWO:
        out += ["Exit codes: 0 success"]
        if entry.path in EXIT_ONE:
            out[-1] += f"; 1 {EXIT_ONE[entry.path]}"
        if entry.path in EXIT_TWO:
            out[-1] += f"; 2 bad usage, or {EXIT_TWO[entry.path]}"
        out[-1] += "."
        out.append("")
    shape = JSON_OUTPUT.get(entry.path)
    if shape is not None:
        out += [f"`--output json`: {shape.summary}", ""]
        if shape.fields is DEPLOYMENT:
            out += [f"Its fields: [{DEPLOYMENT_HEADING}](#{anchor(DEPLOYMENT_HEADING)}).", ""]
        else:
            out += _fields(shape.fields)
    others = [_link(ref) for ref in described.docs if not ref.startswith("docs/cli.md")]
    if others:
        out += [f"See also: {', '.join(others)}.", ""]
    return out


DEPLOYMENT_HEADING = "The deployment object"


def _fields(fields: Fields) -> list[str]:
    return ["| field | meaning |", "|---|---|", *(f"| `{n}` | {_cell(m)} |" for n, m in fields), ""]


def render() -> str:
    found = entries()
    intro = Path(__file__).with_name("cli_docs_intro.md").read_text(encoding="utf-8")
    contents = [f"{'  ' * e.path.count(' ')}- [`{e.heading}`](#{e.anchor})" for e in found]
    out = [intro.rstrip("\n").replace("{generator}", COMMAND), "", "## Commands", "", *contents, ""]
    for entry in found:
        out += render_entry(entry)
    out += [f"## {DEPLOYMENT_HEADING}", "", DEPLOYMENT_INTRO, "", *_fields(DEPLOYMENT)]
    return "\n".join(out).rstrip("\n") + "\n"


def broken_references() -> list[str]:
    """Every `Docs:` reference in a help text that names no file, or no heading of docs/cli.md."""
    anchors = {e.anchor for e in entries()} | {anchor(h) for h in re.findall(r"^#+ (.+)$", render(), re.M)}
    broken = []
    for entry in entries():
        for ref in parse_help(entry.command.help).docs:
            path, _, fragment = ref.partition("#")
            if not (ROOT / path).is_file() and path != "docs/cli.md":
                broken.append(f"{entry.heading}: {ref} (no such file)")
            elif path == "docs/cli.md" and fragment and fragment not in anchors:
                broken.append(f"{entry.heading}: {ref} (no such heading)")
    return broken


def main(argv: list[str]) -> int:
    return write_or_check(TARGET, render(), argv, command=COMMAND)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
