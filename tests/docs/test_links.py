"""Links in the Markdown a user reads: the top-level *.md files, docs/ and policies/.

Every relative link must name a file or folder of the repository, and an `#anchor` a heading of
the Markdown file it names, with the anchor GitHub gives that heading. A link that leaves the
repository is broken by definition: a clone has nothing beside it. And nothing may point at the
contract the team keeps outside the repository, which no user has.

Absolute URLs (`https:`, `mailto:`) are not fetched: this suite runs without a network. Code
blocks and code spans are not read for links, so commands quoted in them are not mistaken for
links. Headings are the ATX kind (`## Title`), the only kind these files use.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import unquote

import pytest

ROOT = Path(__file__).resolve().parent.parent.parent

_FENCE = re.compile(r"^\s{0,3}(`{3,}|~{3,})")
_CODE_SPAN = re.compile(r"(`+).*?\1", re.DOTALL)
# [text](target "title") and ![alt](target); the text may hold one level of brackets.
_INLINE_LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]*)>?(?:\s+\"[^\"]*\")?\s*\)")
_REFERENCE_DEFINITION = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s|$)", re.MULTILINE)
_HEADING = re.compile(r"^\s{0,3}(#{1,6})\s+(.*?)(?:\s+#+)?\s*$")
_HTML_ANCHOR = re.compile(r"<a\s+(?:name|id)=\"([^\"]+)\"")
_SCHEME = re.compile(r"^(?:[A-Za-z][A-Za-z0-9+.-]*:|//)")
# The team's internal contract: a user's clone has no ../shared folder and no SPEC.md.
_INTERNAL = re.compile(r"\bSPEC\b|SPEC\.md|\.\./shared|(?<![\w-])shared/SPEC")


def markdown_files(root: Path) -> list[Path]:
    """The Markdown a user of the repository reads."""
    files = sorted(root.glob("*.md"))
    for folder in ("docs", "policies"):
        files.extend(sorted((root / folder).rglob("*.md")))
    return files


def _prose_lines(text: str) -> Iterator[str]:
    """The lines outside fenced code blocks."""
    fence: str | None = None
    for line in text.splitlines():
        opened = _FENCE.match(line)
        if fence is None and opened:
            fence = opened.group(1)[0] * 3
            continue
        if fence is not None:
            if line.strip().startswith(fence):
                fence = None
            continue
        yield line


def _prose(text: str) -> str:
    return _CODE_SPAN.sub("", "\n".join(_prose_lines(text)))


def links(text: str) -> list[str]:
    """Every link target in `text`, inline or reference-style, outside code."""
    prose = _prose(text)
    return [*_INLINE_LINK.findall(prose), *_REFERENCE_DEFINITION.findall(prose)]


def slug(heading: str) -> str:
    """The anchor GitHub gives a heading: its text lowercased, punctuation dropped (`_` and `-`
    kept), spaces turned into hyphens."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link counts by its text
    text = re.sub(r"<[^>]+>", "", text).strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(text: str) -> set[str]:
    """The anchors a Markdown file offers: one per heading (a repeated heading gets `-1`,
    `-2`, … as on GitHub) and any explicit `<a name|id="…">`."""
    found: set[str] = set()
    seen: dict[str, int] = {}
    for line in _prose_lines(text):
        heading = _HEADING.match(line)
        if heading is None:
            continue
        base = slug(heading.group(2))
        count = seen.get(base, 0)
        seen[base] = count + 1
        found.add(base if count == 0 else f"{base}-{count}")
    found.update(_HTML_ANCHOR.findall(text))
    return found


def broken_links(path: Path, root: Path) -> list[str]:
    """The relative links of `path` that name nothing in `root`, each with the reason."""
    text = path.read_text(encoding="utf-8")
    broken: list[str] = []
    for target in links(text):
        if not target or _SCHEME.match(target):
            continue
        file_part, _, anchor = target.partition("#")
        destination = (path.parent / unquote(file_part)).resolve() if file_part else path
        if not destination.is_relative_to(root):
            broken.append(f"{target}: outside the repository")
            continue
        if not destination.exists():
            broken.append(f"{target}: no such file")
            continue
        if (
            anchor
            and destination.suffix == ".md"
            and unquote(anchor) not in anchors(destination.read_text(encoding="utf-8"))
        ):
            broken.append(f"{target}: no heading #{anchor} in {destination.relative_to(root)}")
    return broken


@pytest.mark.parametrize("path", markdown_files(ROOT), ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_resolves(path: Path) -> None:
    broken = broken_links(path, ROOT)
    assert not broken, "broken links:\n" + "\n".join(broken)


@pytest.mark.parametrize("path", markdown_files(ROOT), ids=lambda p: str(p.relative_to(ROOT)))
def test_nothing_points_at_the_internal_contract(path: Path) -> None:
    offending = [
        f"line {n}: {line.strip()}"
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1)
        if _INTERNAL.search(line)
    ]
    assert not offending, "points at the internal contract:\n" + "\n".join(offending)


def test_the_docs_index_lists_every_page() -> None:
    index = ROOT / "docs" / "README.md"
    targets = links(index.read_text(encoding="utf-8"))
    listed = {(index.parent / t.partition("#")[0]).resolve() for t in targets if t}
    pages = {p.resolve() for p in (ROOT / "docs").glob("*.md")} - {index.resolve()}
    assert sorted(p.name for p in pages - listed) == []


def test_slugs_are_githubs() -> None:
    assert slug("Versioning and patches") == "versioning-and-patches"
    assert slug("Targets and the people who write `lockstep.yaml`") == (
        "targets-and-the-people-who-write-lockstepyaml"
    )
    assert slug("Why `temporal_workflow_task_execution_failed` needs an alert") == (
        "why-temporal_workflow_task_execution_failed-needs-an-alert"
    )
    assert slug("Configuration (`lockstep-server.yaml`)") == "configuration-lockstep-serveryaml"
    assert slug("See [the docs](docs/README.md) — all of them") == "see-the-docs--all-of-them"


def test_the_checker_finds_what_is_broken(tmp_path: Path) -> None:
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "b.md").write_text("# Title\n\n## Two words\n\n## Two words\n")
    (tmp_path / "a.md").write_text(
        "\n".join(
            [
                "# A",
                "[ok](docs/b.md) [ok](docs/b.md#two-words) [ok](docs/b.md#two-words-1) [ok](#a)",
                "[ok](docs/) [web](https://example.com/x.md) [mail](mailto:x@example.com)",
                "[missing](docs/c.md) [bad anchor](docs/b.md#three) [self](#nowhere)",
                "[outside](../elsewhere/README.md)",
                "`[in code](docs/none.md)`",
                "```",
                "[in a block](docs/none.md)",
                "```",
                "[ref]: docs/gone.md",
            ]
        )
    )
    assert broken_links(tmp_path / "a.md", tmp_path) == [
        "docs/c.md: no such file",
        "docs/b.md#three: no heading #three in docs/b.md",
        "#nowhere: no heading #nowhere in a.md",
        "../elsewhere/README.md: outside the repository",
        "docs/gone.md: no such file",
    ]


def test_the_contract_check_catches_each_form() -> None:
    for line in ("see SPEC §2", "[contract](../shared/SPEC.md)", "the SPEC.md file", "in shared/SPEC.md"):
        assert _INTERNAL.search(line), line
    assert not _INTERNAL.search("the specification of a spec: SPECIAL, specs")
