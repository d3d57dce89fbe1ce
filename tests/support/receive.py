"""Helpers for the pre-receive hook's end-to-end tests: a hooked bare repository (the server), a
`git daemon` serving it, real pushes with a timeout (a hang fails the test)."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tests.support.cli import GitRepo, Run, stsleak
from tests.support.programs import program_env, run

TIMEOUT = 120  # far above what any push of these tests needs: a hang fails, a slow machine does not


@dataclass
class Server:
    path: Path

    def git(self, *args: str) -> str:
        return subprocess.run(["git", "-C", str(self.path), *args], capture_output=True, text=True,
                              env=program_env(), check=True, timeout=TIMEOUT).stdout

    def config(self, key: str, value: str) -> None:
        self.git("config", key, value)

    def rev(self, ref: str) -> str | None:
        out = subprocess.run(["git", "-C", str(self.path), "rev-parse", "--verify", "--quiet", ref],
                             capture_output=True, text=True, env=program_env(), timeout=TIMEOUT).stdout.strip()
        return out or None


def hooked_server(path: Path) -> Server:
    """A bare repository at `path` with `stsleak install-hook --type pre-receive`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(["git", "init", "-q", "--bare", str(path)], check=True, env=program_env())
    installed = stsleak("install-hook", "--type", "pre-receive", str(path))
    assert installed.code == 0, installed.stderr
    assert "installed stsleak pre-receive hook" in installed.stdout
    return Server(path)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextlib.contextmanager
def git_daemon(base: Path) -> Iterator[str]:
    """`git daemon` serving `base` on 127.0.0.1 with receive-pack enabled; yields the URL of base/.
    Killed (its whole process group) at the end."""
    port = _free_port()
    proc = subprocess.Popen(
        ["git", "daemon", "--reuseaddr", "--export-all", "--enable=receive-pack", "--listen=127.0.0.1",
         f"--port={port}", f"--base-path={base}", str(base)],
        env=program_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    try:
        deadline = time.monotonic() + 30
        while True:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
                break
            assert proc.poll() is None, f"git daemon exited: {proc.stderr.read() if proc.stderr else ''}"
            assert time.monotonic() < deadline, "git daemon did not listen within 30 s"
            time.sleep(0.05)
        yield f"git://127.0.0.1:{port}/"
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, 9)
        proc.wait(timeout=30)
        if proc.stderr:
            proc.stderr.close()


def clone_for(repo: GitRepo, url: str) -> GitRepo:
    """`repo` with `origin` = url and a first clean commit pushed to it."""
    repo.git("remote", "add", "origin", url)
    repo.commit("init", {"README.md": "hello\n"})
    first = push(repo, "main")
    assert first.code == 0, first.stdout + first.stderr
    assert "1 new commit checked: no AWS credentials" in first.stderr
    return repo


def push(repo: GitRepo, *args: str, env: dict[str, str] | None = None) -> Run:
    return run(["git", "push", "origin", *args], repo.path, env=env, timeout=TIMEOUT)


def assert_refused(result: Run, server: Server, ref: str, before: str | None) -> None:
    assert result.code != 0, result.stdout + result.stderr
    assert "pre-receive hook declined" in result.stderr
    assert server.rev(ref) == before, "the server's ref moved"
