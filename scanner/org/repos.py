"""Turn what the user named into repository specs: clone URLs, local repositories, @FILE lists, directories."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from scanner.errors import StsleakError

_URL = re.compile(r"^(https?|ssh|git|file)://", re.IGNORECASE)
_SCP_LIKE = re.compile(r"^[\w.-]+@[\w.-]+:")  # git@github.com:org/repo.git
_USERINFO = re.compile(r"(?<=://)[^/@\s]+@")


@dataclass(frozen=True)
class RepoSpec:
    """One repository: a URL to mirror-clone on the worker, or a local path scanned where it is."""

    url: str  # the key in the state file: a URL, or an absolute local path
    local: bool

    @property
    def shown(self) -> str:
        return redact_url(self.url)


def redact_url(url: str) -> str:
    """A URL with any user:token@ part removed: credentials for private clones are never shown."""
    return _USERINFO.sub("***@", url)


def _is_repo(path: Path) -> bool:
    if (path / ".git").exists():
        return True
    return (path / "HEAD").is_file() and (path / "objects").is_dir() and (path / "refs").is_dir()


def _below(directory: Path) -> list[Path]:
    """Every git repository (work tree, bare or mirror) below a directory; not inside another's .git."""
    found: list[Path] = []
    for root, dirs, _files in os.walk(directory, followlinks=False):
        here = Path(root)
        if _is_repo(here):
            found.append(here)
            dirs.clear()  # a repository's own folders (objects/, .git/) are not repositories
            continue
        dirs.sort()
    return found


def _from_file(name: str) -> list[str]:
    try:
        text = Path(name).read_text(encoding="utf-8")
    except OSError as exc:
        raise StsleakError(f"cannot read repository list {name}: {exc.strerror}") from None
    return [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]


@dataclass(frozen=True)
class Unusable:
    """A name that gives no repository to scan (a path that is gone, a directory with none below it):
    recorded as failed for itself; the other repositories are still scanned."""

    url: str  # the key in the state file: the absolute path, as a local repository would be named
    reason: str


def expand(names: list[str]) -> tuple[list[RepoSpec], list[Unusable]]:
    """Specs in the order given, each once, and the names that give none. A directory that is no
    repository means every one below it. Only an unreadable @FILE stops the run (StsleakError)."""
    specs: dict[str, RepoSpec] = {}
    unusable: dict[str, Unusable] = {}
    queue = list(names)
    while queue:
        name = queue.pop(0)
        if name.startswith("@"):
            queue[:0] = _from_file(name[1:])
            continue
        if _URL.match(name) or _SCP_LIKE.match(name):
            specs.setdefault(name, RepoSpec(name, local=False))
            continue
        path = Path(name).expanduser()
        key = str(path.resolve())
        if not path.exists():
            unusable.setdefault(key, Unusable(key, f"no such repository: {name} (not a URL, and no such path)"))
            continue
        if not path.is_dir():
            unusable.setdefault(key, Unusable(key, f"not a repository URL or directory: {name}"))
            continue
        repos = [path] if _is_repo(path) else _below(path)
        if not repos:
            unusable.setdefault(key, Unusable(key, f"no git repository in {name}"))
        for repo in repos:
            key = str(repo.resolve())
            specs.setdefault(key, RepoSpec(key, local=True))
    return list(specs.values()), [u for key, u in unusable.items() if key not in specs]
