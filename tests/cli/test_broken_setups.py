"""Every verb against broken setups: no traceback ever reaches a user (issue item 8).

Each case runs `python -m lockstep …` in a process of its own, as a user would, and fails on a
`Traceback` anywhere in its output; on an exit code other than the contract's (0 when the verb
needs nothing the setup breaks; else 1, or 2 for bad usage); on a failure whose stderr says no
`error`; and on an error that only the entry point's net caught (`full trace in …`): every
error a broken setup causes is an expected one, reported at its cause.

Besides the issue's list (no config, a missing config file, invalid YAML, unreachable Temporal,
unreachable API, a missing repository, a bad token), values that cannot work: an address
without a port, a URL that does not parse, a folder for a database.

Nothing here waits on a network: Temporal is a closed loopback port in every setup, the API's
`api.listen` a port this test holds (bound, not listening: `lockstep api` cannot bind it, and
connecting to it is refused at once), so `worker` and `api` fail fast, whatever else runs on
this machine. `lockstep dev` is left out: it starts a stack.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import socket
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
import yaml

from lockstep.devstack.demo import seed_demo_repository, write_dev_config
from lockstep.store.engine import Store
from tests.cli.test_dev import _free_port
from tests.policy.conftest import make_input

# verb -> (arguments, what it needs); `{repo}` and `{input}` are filled in per setup
VERBS: dict[str, tuple[list[str], set[str]]] = {
    "worker": (["worker"], {"config", "temporal"}),
    "api": (["api"], {"config", "listen"}),
    "setup": (["setup"], {"config", "temporal"}),
    # A database that is absent is no obstacle to a preview; one that cannot be opened is.
    "plan": (["plan", "{repo}", "--env", "staging"], {"config", "repository", "targets", "database_url"}),
    # With LOCKSTEP_TOKEN (every setup sets one) through the API; as yourself straight to Temporal.
    "deploy": (["deploy", "shop", "--env", "staging"], {"config", "api", "token"}),
    "deploy as yourself": (
        ["deploy", "shop", "--env", "staging"],
        {"config", "database_url", "temporal", "repository"},
    ),
    "status": (["status", "shop-staging-0123456789"], {"config", "database", "temporal"}),
    "list": (["list"], {"config", "database"}),
    "history": (["history", "shop", "--env", "staging"], {"config", "database"}),
    "approve": (["approve", "shop-production-0123456789"], {"config", "api", "token"}),
    "reject": (["reject", "shop-production-0123456789", "-m", "no"], {"config", "api", "token"}),
    "policy test": (["policy", "test"], {"config"}),
    "policy eval": (["policy", "eval", "--input", "{input}"], {"config"}),
    "audit verify": (["audit", "verify"], {"config", "database"}),
    "audit list": (["audit", "list"], {"config", "database"}),
}

AS_YOURSELF = {"deploy as yourself"}  # run without LOCKSTEP_TOKEN


@dataclass
class World:
    """What every setup shares: a demo repository, a policy input, ports that answer nothing."""

    root: Path
    repo: Path
    policy_input: Path
    closed_port: int
    held_port: int  # bound by this test, never listening


@dataclass
class Case:
    cwd: Path
    env: dict[str, str]
    repo: Path
    breaks: set[str]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    root = tmp_path_factory.mktemp("broken")
    repo = root / "shop"
    seed_demo_repository(repo)
    policy_input = root / "input.json"
    policy_input.write_text(json.dumps(make_input(environment="staging")))
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        yield World(root, repo, policy_input, _free_port(), holder.getsockname()[1])


def _base_env(world: World, home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOCKSTEP_")}
    return env | {"COLUMNS": "200", "XDG_STATE_HOME": str(home / "xdg"), "LOCKSTEP_TOKEN": "a-token"}


def _valid_config(world: World, state: Path, **changes: object) -> Path:
    """The dev configuration (absolute paths, the demo's targets and users) over a database that
    exists, with Temporal and the API's port unreachable."""
    listen = f"127.0.0.1:{world.held_port}"
    config = write_dev_config(state, temporal_port=world.closed_port, api_listen=listen)
    content = yaml.safe_load(config.read_text())
    content["repositories"][0]["url"] = str(world.repo)
    content.update(changes)
    config.write_text(yaml.safe_dump(content))
    Store.from_url(content["database_url"]).dispose()
    return config


def no_configuration(world: World, home: Path) -> Case:
    # Only the network addresses are set: on a shared machine the default ports may belong to
    # someone's running stack, which a worker would then join.
    env = _base_env(world, home) | {
        "LOCKSTEP_TEMPORAL__ADDRESS": f"127.0.0.1:{world.closed_port}",
        "LOCKSTEP_API__LISTEN": f"127.0.0.1:{world.held_port}",
    }
    return Case(home, env, world.repo, {"database", "temporal", "listen", "api", "targets"})


def missing_configuration(world: World, home: Path) -> Case:
    env = _base_env(world, home) | {"LOCKSTEP_CONFIG": str(home / "absent.yaml")}
    return Case(home, env, world.repo, {"config"})


def invalid_yaml(world: World, home: Path) -> Case:
    config = home / "lockstep-server.yaml"
    config.write_text("temporal: {address: [unclosed\n")
    return Case(home, _base_env(world, home) | {"LOCKSTEP_CONFIG": str(config)}, world.repo, {"config"})


def unreachable_temporal(world: World, home: Path) -> Case:
    config = _valid_config(world, home / "state")
    env = _base_env(world, home) | {"LOCKSTEP_CONFIG": str(config)}
    return Case(home, env, world.repo, {"temporal", "listen", "api"})


def unreachable_api(world: World, home: Path) -> Case:
    config = _valid_config(world, home / "state")
    env = _base_env(world, home) | {
        "LOCKSTEP_CONFIG": str(config),
        "LOCKSTEP_API_URL": f"http://127.0.0.1:{world.closed_port}",
    }
    return Case(home, env, world.repo, {"temporal", "listen", "api"})


def missing_repository(world: World, home: Path) -> Case:
    absent = home / "no-such-repository"
    config = _valid_config(world, home / "state", repositories=[{"url": str(absent)}])
    env = _base_env(world, home) | {"LOCKSTEP_CONFIG": str(config)}
    return Case(home, env, absent, {"repository", "temporal", "listen", "api"})


def malformed_values(world: World, home: Path) -> Case:
    """Values of the right type that cannot work: no port, no URL, a folder for a database."""
    config = _valid_config(world, home / "state")
    (home / "a-folder").mkdir()
    env = _base_env(world, home) | {
        "LOCKSTEP_CONFIG": str(config),
        "LOCKSTEP_TEMPORAL__ADDRESS": "127.0.0.1:notaport",
        "LOCKSTEP_API_URL": "http://[::1",
        "LOCKSTEP_DATABASE_URL": f"sqlite:///{home / 'a-folder'}",
    }
    return Case(home, env, world.repo, {"temporal", "api", "database", "database_url", "listen"})


SETUPS: dict[str, Callable[[World, Path], Case]] = {
    "no configuration": no_configuration,
    "LOCKSTEP_CONFIG names a missing file": missing_configuration,
    "invalid YAML": invalid_yaml,
    "unreachable Temporal": unreachable_temporal,
    "unreachable API": unreachable_api,
    "missing repository": missing_repository,
    "malformed values": malformed_values,
}


async def _run(args: list[str], case: Case, cwd: Path | None = None) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "lockstep", *args, cwd=cwd or case.cwd, env=case.env,
        stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        out, err = await asyncio.wait_for(process.communicate(), 120)
    except TimeoutError:
        process.kill()
        await process.wait()
        return -1, "", f"still running after 120 s: {' '.join(args)}"
    assert process.returncode is not None
    return process.returncode, out.decode(errors="replace"), err.decode(errors="replace")


def _problem(verb: str, case: Case, code: int, out: str, err: str) -> str | None:
    """What is wrong with one verb's outcome in one setup, or None."""
    _, needs = VERBS[verb]
    broken = needs & case.breaks
    shown = f"exit {code}\n--- stdout\n{out[-1500:]}\n--- stderr\n{err[-1500:]}"
    if "Traceback" in out + err:
        return f"a traceback reached the user: {shown}"
    if not broken:
        return None if code == 0 else f"needs nothing this setup breaks, yet {shown}"
    if code not in (1, 2):
        return f"broken ({', '.join(sorted(broken))}), expected exit 1 or 2: {shown}"
    if "error" not in err.lower():
        return f"failed without saying why on stderr: {shown}"
    if "full trace in" in err:
        return f"an unanticipated error (only the net caught it): {shown}"
    return None


async def _every_verb(setup: str, case: Case, world: World) -> list[str]:
    gate = asyncio.Semaphore(3)  # 2 cores: more at once only queues on the CPU

    async def one(verb: str) -> str | None:
        args = [a.format(repo=case.repo, input=world.policy_input) for a in VERBS[verb][0]]
        cwd = case.cwd / verb.replace(" ", "-")  # relative defaults: no verb sees another's files
        cwd.mkdir()
        env = case.env
        if verb in AS_YOURSELF:
            env = {k: v for k, v in env.items() if k != "LOCKSTEP_TOKEN"}
        async with gate:
            code, out, err = await _run(args, replace(case, env=env), cwd)
        problem = _problem(verb, case, code, out, err)
        return f"[{setup}] lockstep {' '.join(args)}: {problem}" if problem else None

    results = await asyncio.gather(*(one(verb) for verb in VERBS))
    return [r for r in results if r]


@pytest.mark.parametrize("setup", list(SETUPS))
async def test_every_verb_names_the_cause_without_a_traceback(
    setup: str, world: World, tmp_path: Path
) -> None:
    case = SETUPS[setup](world, tmp_path)
    problems = await _every_verb(setup, case, world)
    assert not problems, "\n\n".join(problems)


async def test_a_bad_token_is_refused_by_the_api_in_one_line(world: World, tmp_path: Path) -> None:
    """The one setup that needs a live API: approvals with a token no user has."""
    api_port = _free_port()
    config = _valid_config(world, tmp_path / "state", api={"listen": f"127.0.0.1:{api_port}"})
    env = _base_env(world, tmp_path) | {"LOCKSTEP_CONFIG": str(config)}
    api = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "lockstep", "api", cwd=tmp_path, env=env,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    try:
        for _ in range(600):
            if api.returncode is not None:
                pytest.fail(f"lockstep api exited with {api.returncode}")
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", api_port)
                writer.close()
                break
            except OSError:
                await asyncio.sleep(0.1)
        unknown = hashlib.sha256(b"nobody").hexdigest()
        case = Case(
            tmp_path,
            env | {"LOCKSTEP_API_URL": f"http://127.0.0.1:{api_port}", "LOCKSTEP_TOKEN": unknown},
            world.repo,
            {"token", "temporal", "listen"},
        )
        problems = await _every_verb("bad token", case, world)
        assert not problems, "\n\n".join(problems)
        code, _, err = await _run(["approve", "shop-production-0123456789"], case)
        assert code == 1 and "approve refused (401)" in err, err
    finally:
        api.terminate()
        await api.wait()
