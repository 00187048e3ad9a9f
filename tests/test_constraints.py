"""constraints.txt, which `make install` passes to pip: it must keep up with pyproject.toml.

A requirement added to pyproject.toml without `make constraints` would install unpinned, and a
range moved past the pinned version would make `make install` fail on a fresh machine; both
fail here first. The pins themselves are `make constraints`'s to choose.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent


def _pins() -> dict[str, str]:
    pins: dict[str, str] = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        name, sep, version = line.partition("==")
        assert sep and version and ";" not in version, f"not an exact pin: {line!r}"
        pins[canonicalize_name(name)] = version
    return pins


def _requirements() -> tuple[str, list[Requirement]]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = [*project["dependencies"], *project["optional-dependencies"]["dev"]]
    return project["name"], [Requirement(r) for r in declared]


def test_every_requirement_is_pinned_inside_its_range() -> None:
    pins = _pins()
    _, requirements = _requirements()
    for requirement in requirements:
        if requirement.marker is not None and not requirement.marker.evaluate():
            continue  # not for this platform, so not installed where the pins were taken
        version = pins.get(canonicalize_name(requirement.name))
        assert version is not None, f"{requirement.name} is not in constraints.txt: run `make constraints`"
        assert requirement.specifier.contains(version, prereleases=True), (
            f"{requirement.name}=={version} is outside {requirement.specifier}: run `make constraints`"
        )


def test_the_project_itself_is_not_pinned() -> None:
    name, _ = _requirements()
    assert canonicalize_name(name) not in _pins()


def test_make_install_uses_the_constraints() -> None:
    makefile = (ROOT / "Makefile").read_text()
    assert "pip install -q -c constraints.txt -e '.[dev]'" in makefile
    assert "$(BIN)/.installed: pyproject.toml constraints.txt" in makefile
