"""Repository credentials reach git through its environment, never a command line: a real HTTP
server that demands basic auth, and a log of the argv of every git process involved."""

from __future__ import annotations

import base64
import os
import shutil
import stat
import threading
from collections.abc import Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import git
import pytest

from lockstep.domain.errors import GitError
from lockstep.gitrepo import GitMirrors
from lockstep.gitrepo.credentials import remote

from .conftest import SourceRepo

USER, PASSWORD = "deploy", "s3cret-t0ken/with:odd@chars"
ENCODED = "s3cret-t0ken%2Fwith%3Aodd%40chars"  # as the password is written in a URL


class _BasicAuthFiles(SimpleHTTPRequestHandler):
    """Static files (git's dumb HTTP protocol) behind HTTP basic auth."""

    expected = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    seen: list[str | None]

    def do_GET(self) -> None:
        self.seen.append(self.headers.get("Authorization"))
        if self.headers.get("Authorization") != self.expected:
            self.send_response(401)
            self.send_header("WWW-Authenticate", 'Basic realm="git"')
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        super().do_GET()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def served(tmp_path: Path, source: SourceRepo) -> Iterator[tuple[str, list[str | None], git.Repo]]:
    """(base URL, the Authorization headers received, the served bare repository)."""
    root = tmp_path / "http"
    source.commit({"a.txt": "1"})
    bare = git.Repo.clone_from(source.url, root / "shop.git", bare=True)
    bare.git.update_server_info()
    seen: list[str | None] = []
    handler = type("Handler", (_BasicAuthFiles,), {"seen": seen})
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(handler, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/shop.git", seen, bare
    server.shutdown()
    server.server_close()
    bare.close()


@pytest.fixture
def argv_log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every git process's argv ends up in the returned file: a `git` on PATH that logs its own
    arguments before running the real one, and GIT_TRACE for the processes git starts itself
    (remote helpers, credential helpers)."""
    real = shutil.which("git")
    assert real is not None
    shim_dir = tmp_path / "shim"
    shim_dir.mkdir()
    log = tmp_path / "argv.log"
    shim = shim_dir / "git"
    shim.write_text(f'#!/bin/sh\nprintf "argv: %s\\n" "$*" >> "{log}"\nexec "{real}" "$@"\n')
    shim.chmod(shim.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{shim_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("GIT_TRACE", str(log))
    return log


def test_fetching_with_credentials_keeps_them_off_every_command_line(
    source: SourceRepo,
    mirrors: GitMirrors,
    served: tuple[str, list[str | None], git.Repo],
    argv_log: Path,
) -> None:
    base, seen, bare = served
    url = base.replace("http://", f"http://{USER}:{ENCODED}@")
    first = source.repo.head.commit.hexsha

    assert mirrors.resolve(url, "main") == first  # clone
    second = source.commit({"a.txt": "2"})
    source.repo.git.push(bare.working_dir, "main")
    bare.git.update_server_info()
    assert mirrors.resolve(url, "main") == second  # fetch
    assert mirrors.default_branch(url) == "main"  # ls-remote

    trace = argv_log.read_text()
    assert "s3cret" not in trace and ENCODED not in trace
    assert "argv: clone --mirror" in trace and "argv: fetch" in trace and "argv: ls-remote" in trace
    assert _BasicAuthFiles.expected in seen  # the server got the credentials, decoded
    assert "run_command:" in trace and "get" in trace  # from the helper git ran
    assert "s3cret" not in (mirrors.mirror_path(url) / "config").read_text()


def test_without_credentials_the_server_refuses(
    mirrors: GitMirrors, served: tuple[str, list[str | None], git.Repo]
) -> None:
    base, seen, _ = served
    with pytest.raises(GitError) as caught:
        mirrors.resolve(base, "main")
    assert caught.value.retryable and seen and all(h is None for h in seen)


def test_wrong_credentials_fail_without_showing_them(
    mirrors: GitMirrors, served: tuple[str, list[str | None], git.Repo]
) -> None:
    base, _, _ = served
    with pytest.raises(GitError) as caught:
        mirrors.resolve(base.replace("http://", f"http://{USER}:wrong-guess@"), "main")
    assert "wrong-guess" not in str(caught.value)


def test_the_helper_answers_only_for_the_repository_host() -> None:
    url = f"https://{USER}:{ENCODED}@git.example.com:8443/shop.git"
    target = remote(url, environ={})
    assert target.url == "https://git.example.com:8443/shop.git"
    assert target.env["LOCKSTEP_GIT_PASSWORD"] == PASSWORD and target.env["LOCKSTEP_GIT_USERNAME"] == USER
    helper = target.env["GIT_CONFIG_VALUE_1"].removeprefix("!")
    env = {**os.environ, **target.env}

    def ask(host: str) -> str:
        import subprocess

        return subprocess.run(
            ["sh", "-c", helper + ' "$@"', "helper", "get"],
            input=f"protocol=https\nhost={host}\n\n",
            capture_output=True,
            text=True,
            env=env,
            check=True,
        ).stdout

    assert ask("git.example.com:8443") == f"username={USER}\npassword={PASSWORD}\n"
    assert ask("elsewhere.example.com") == ""  # e.g. after a redirect: nothing is handed over
    assert PASSWORD not in helper


def test_existing_git_config_from_the_environment_is_kept() -> None:
    target = remote("https://u:p@h/r.git", environ={"GIT_CONFIG_COUNT": "1"})
    assert target.env["GIT_CONFIG_COUNT"] == "3"
    assert "GIT_CONFIG_KEY_0" not in target.env and target.env["GIT_CONFIG_KEY_1"] == "credential.helper"


@pytest.mark.parametrize("url", ["ssh://git@host/r.git", "git@host:r.git", "/srv/r.git", "https://h/r.git"])
def test_urls_without_a_secret_are_passed_as_they_are(url: str) -> None:
    assert remote(url, environ={}).url == url and not remote(url, environ={}).env


def test_credentials_with_a_line_break_are_refused(mirrors: GitMirrors) -> None:
    with pytest.raises(GitError, match="line breaks") as caught:
        mirrors.sync("https://u:a%0Ab@127.0.0.1:9/r.git")
    assert not caught.value.retryable
