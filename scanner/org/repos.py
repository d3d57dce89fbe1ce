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


def expand(names: list[str]) -> list[RepoSpec]:
    """Specs in the order given, each once. A directory that is no repository means every one below it."""
    specs: dict[str, RepoSpec] = {}
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
        if not path.is_dir():
            raise StsleakError(f"not a repository URL or directory: {name}")
        repos = [path] if _is_repo(path) else _below(path)
        if not repos:
            raise StsleakError(f"no git repository in {name}")
        for repo in repos:
            key = str(repo.resolve())
            specs.setdefault(key, RepoSpec(key, local=True))
    return list(specs.values())
