"""Twenty real repositories in a temp dir, served over file:// and by a real `git daemon` on 127.0.0.1."""

from __future__ import annotations

import os
import random
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from scanner.testing import fakes
from tests.support.cli import GIT_ENV, GitRepo
from tests.support.programs import ini


@dataclass
class Plant:
    """A credential planted in one repository: where a scan must report it."""

    repository: str  # as `org scan` names it (absolute path or URL)
    path: str
    commit: str
    creds: fakes.FakeCredentials


@dataclass
class Fleet:
    root: Path
    specs: list[str] = field(default_factory=list)  # what to pass to `org scan`
    plants: list[Plant] = field(default_factory=list)
    failing: list[str] = field(default_factory=list)  # repositories that must be recorded failed
    unreachable: Plant | None = None  # a credential only in an unreachable commit (of a local repo)
    daemon_url: str = ""
    sources: dict[str, Path] = field(default_factory=dict)  # repository -> the repo to commit to


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for_port(port: int, proc: subprocess.Popen, what: str) -> None:
    for _ in range(200):
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited early: {proc.returncode}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"{what} did not start")


@pytest.fixture(scope="module")
def git_daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str]]:
    """A real `git daemon` serving a directory on 127.0.0.1 (stopped at the end)."""
    base = tmp_path_factory.mktemp("served")
    port = free_port()
    proc = subprocess.Popen(["git", "daemon", "--reuseaddr", "--export-all", f"--base-path={base}",
                             "--listen=127.0.0.1", f"--port={port}", "--informative-errors", str(base)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_for_port(port, proc, "git daemon")
        yield base, f"git://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def _bare(src: Path, dest: Path) -> Path:
    subprocess.run(["git", "clone", "-q", "--bare", str(src), str(dest)], check=True,
                   env={**os.environ, **GIT_ENV})
    return dest


def _corrupt(repo: GitRepo) -> None:
    """Delete one blob's loose object: the repository has lost data."""
    blob = repo.git("rev-parse", "HEAD:data.txt").strip()
    (repo.path / ".git" / "objects" / blob[:2] / blob[2:]).unlink()


def build_fleet(root: Path, daemon_base: Path, daemon_url: str, rng: random.Random) -> Fleet:
    fleet = Fleet(root, daemon_url=daemon_url)
    work = root / "work"
    for i in range(14):  # work trees, scanned where they are; some hold a credential, some deleted later
        repo = GitRepo(work / f"service-{i:02d}")
        repo.commit("init", {"README.md": f"service {i}\n"})
        if i % 2 == 0:
            creds = fakes.temporary(rng)
            commit = repo.commit("config", {f"deploy/aws-{i}.ini": ini(creds)})
            fleet.plants.append(Plant(str(repo.path.resolve()), f"deploy/aws-{i}.ini", commit, creds))
            if i % 4 == 0:
                (repo.path / f"deploy/aws-{i}.ini").unlink()
                repo.commit("remove the credentials again")
        fleet.sources[str(repo.path.resolve())] = repo.path
    fleet.specs.append(str(work))  # a directory: every repository below it
    for i in range(3):  # bare repositories served by git daemon and over file://
        src = GitRepo(root / "src" / f"lib-{i}")
        creds = fakes.temporary(rng)
        commit = src.commit("add", {"settings.env": ini(creds)})
        bare = _bare(src.path, daemon_base / f"lib-{i}.git")
        url = f"{daemon_url}/lib-{i}.git" if i < 2 else f"file://{bare}"
        fleet.specs.append(url)
        fleet.plants.append(Plant(url, "settings.env", commit, creds))
        fleet.sources[url] = bare
    empty = root / "empty.git"
    subprocess.run(["git", "init", "-q", "--bare", str(empty)], check=True)
    fleet.specs.append(str(empty))
    corrupt = GitRepo(root / "corrupt")
    corrupt.commit("data", {"data.txt": "lost\n"})
    _corrupt(corrupt)
    fleet.specs.append(str(corrupt.path))
    fleet.failing.append(str(corrupt.path.resolve()))
    lost = GitRepo(root / "amended")
    lost.commit("init", {"README.md": "x\n"})
    creds = fakes.temporary(rng)
    commit = lost.commit("oops", {"aws.ini": ini(creds)})
    lost.git("reset", "-q", "--hard", "HEAD~1")
    lost.git("reflog", "expire", "--expire=now", "--all")
    fleet.specs.append(str(lost.path))
    fleet.unreachable = Plant(str(lost.path.resolve()), "aws.ini", commit, creds)
    missing = f"{daemon_url}/does-not-exist.git"
    fleet.specs.append(missing)
    fleet.failing.append(missing)
    return fleet
