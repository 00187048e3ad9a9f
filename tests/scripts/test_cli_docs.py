"""docs/cli.md is what `scripts/gen_cli_docs.py` makes of the CLI as it stands, and the CLI's
help gives every command an example and a docs page that exists, citing no internal document."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import typer
from pydantic import BaseModel

from lockstep.domain.messages import DeploymentView, StepView
from lockstep.domain.models import Plan, PlannedComponent
from scripts import gen_cli_docs, generated_file
from scripts.cli_docs_data import DEPLOYMENT, JSON_OUTPUT


def test_docs_cli_md_is_current() -> None:
    on_disk = gen_cli_docs.TARGET.read_text(encoding="utf-8") if gen_cli_docs.TARGET.exists() else ""
    assert on_disk == gen_cli_docs.render(), (
        f"docs/cli.md is stale: run `make docs` ({gen_cli_docs.COMMAND}) and commit it"
    )


def test_every_command_of_the_app_has_a_section_and_every_option_a_row() -> None:
    text = gen_cli_docs.render()
    for entry in gen_cli_docs.entries():
        assert f"\n{'#' * (2 + entry.path.count(' '))} {entry.heading}\n" in text, entry.heading
        for param in entry.command.params:
            if gen_cli_docs._is_option(param):
                assert f"`{param.opts[0]}`" in text, (entry.heading, param.opts)
    assert "| `--limit`, `-n` | integer, ≥ 1 | `200` |" in text  # type, bound and default
    assert "| `--query`, `-q` | `deploy` \\| `drift` | `deploy` |" in text


def test_a_command_added_to_the_app_is_documented_without_a_change_to_the_generator(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    extra = typer.Typer(rich_markup_mode="markdown")

    @extra.command("frobnicate")
    def frobnicate(
        name: str = typer.Argument(..., help="what to frobnicate"),
        times: int = typer.Option(3, "--times", min=1, max=9, help="how often"),
    ) -> None:
        """Frobnicate a thing.

        Example: lockstep frobnicate widget --times 2

        Docs: docs/cli.md#lockstep-frobnicate
        """

    @extra.command("other")
    def other() -> None:
        """Keeps `extra` a group."""

    monkeypatch.setattr(gen_cli_docs, "app", extra)
    text = gen_cli_docs.render()
    assert "## lockstep frobnicate\n\n```\nlockstep frobnicate [OPTIONS] NAME\n```" in text
    assert "| `--times` | integer, ≥ 1, ≤ 9 | `3` | how often |" in text
    assert "```sh\nlockstep frobnicate widget --times 2\n```" in text
    assert gen_cli_docs.broken_references() == []


def test_every_command_names_an_example_of_itself_and_docs_that_exist() -> None:
    for entry in gen_cli_docs.entries():
        described = gen_cli_docs.parse_help(entry.command.help)
        assert described.examples, f"{entry.heading}: no 'Example:' paragraph in its help"
        assert any(entry.heading in example for example in described.examples), entry.heading
        assert described.docs, f"{entry.heading}: no 'Docs:' paragraph in its help"
    assert gen_cli_docs.broken_references() == []


def test_help_and_the_reference_cite_no_internal_document() -> None:
    texts = [gen_cli_docs.render()]
    for entry in gen_cli_docs.entries():
        texts.append(entry.command.help or "")
        texts += [getattr(p, "help", None) or "" for p in entry.command.params]
    cited = [t for t in texts if re.search(r"\bSPEC\b|shared/", t)]
    assert cited == []


def test_every_command_with_json_output_has_its_fields_documented() -> None:
    with_json = {e.path for e in gen_cli_docs.entries() if any(p.name == "output" for p in e.command.params)}
    assert with_json - JSON_OUTPUT.keys() == set(), "describe these in scripts/cli_docs_data.py"
    assert JSON_OUTPUT.keys() - with_json == set(), "these commands have no --output json"


def _documented(prefix: str) -> set[str]:
    """Field names under `prefix` in DEPLOYMENT, with `a.b, .c` read as `a.b` and `a.c`."""
    names = set()
    for row, _ in DEPLOYMENT:
        first = row.split(", ")[0]
        parent = first.rsplit(".", 1)[0] + "." if "." in first else ""
        for part in row.split(", "):
            full = parent + part[1:] if part.startswith(".") else part
            full = full.replace("[]", "")
            if prefix:
                if full.startswith(prefix + "."):
                    names.add(full.removeprefix(prefix + ".").split(".")[0])
            else:
                names.add(full.split(".")[0])
    return names


@pytest.mark.parametrize(
    ("prefix", "model"),
    [("", DeploymentView), ("plan", Plan), ("plan.components", PlannedComponent), ("steps", StepView)],
)
def test_the_deployment_object_documents_exactly_the_model_fields(
    prefix: str, model: type[BaseModel]
) -> None:
    assert _documented(prefix) == set(model.model_fields), "update DEPLOYMENT in scripts/cli_docs_data.py"


def test_the_intro_links_only_pages_that_exist() -> None:
    intro = (Path(gen_cli_docs.__file__).parent / "cli_docs_intro.md").read_text(encoding="utf-8")
    for target in re.findall(r"\]\(([^)#]+)", intro):
        # configuration.md, the server configuration reference, is written alongside this page.
        assert (gen_cli_docs.TARGET.parent / target).exists() or target == "configuration.md", target


def test_every_docs_page_the_cli_names_exists_with_its_heading() -> None:
    root = generated_file.ROOT
    named = set()
    for source in (root / "lockstep" / "cli").glob("*.py"):
        named |= set(
            re.findall(r"(?:docs|policies)/[\w-]+\.md(?:#[\w-]+)?", source.read_text(encoding="utf-8"))
        )
    assert "docs/api.md#authentication" in named  # the scan sees what the messages say
    missing = []
    for ref in sorted(named):
        path, _, fragment = ref.partition("#")
        page = gen_cli_docs.render() if path == "docs/cli.md" else (root / path).read_text(encoding="utf-8")
        headings = {gen_cli_docs.anchor(h) for h in re.findall(r"^#+ (.+)$", page, re.M)}
        if fragment and fragment not in headings:
            missing.append(ref)
    assert missing == []
