"""Where a blob came from: the paths it was introduced at, by which commit, author and date.

Looked up only for the blobs that hold a finding, in one `git log --raw` walk over every ref and
reflog; commits no ref or reflog reaches (dangling after an amend or rebase) are added from
`git fsck --unreachable` only when some blob is still unplaced.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

from scanner.sources.gitcmd import git_path, run_git

_SEP = "\x1f"


@dataclass(frozen=True, slots=True)
class Introduction:
    path: str
    commit: str
    author: str
    date: str  # ISO-8601, the author date
    timestamp: int  # committer time, for "earliest"


def _unreachable_commits(repo: Path) -> list[str]:
    out = run_git(repo, "fsck", "--unreachable", "--no-reflogs", "--no-progress", check=False)
    return [line.split()[2] for line in out.splitlines() if line.startswith("unreachable commit ")]


def _walk(repo: Path, revs: list[str], blobs: set[str], found: dict[str, dict[str, Introduction]]) -> None:
    fmt = _SEP.join(["%H", "%an <%ae>", "%aI", "%ct"])
    args = [git_path(), "-C", str(repo), "log", "--raw", "--no-abbrev", "--no-renames", "-m",
            "--no-color", "--no-ext-diff", f"--format={_SEP}{fmt}", *revs, "--"]
    with subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                          text=True, encoding="utf-8", errors="replace") as proc:
        assert proc.stdout
        commit: list[str] = []
        for line in proc.stdout:
            if line.startswith(_SEP):
                commit = line[1:].rstrip("\n").split(_SEP)
                continue
            if not line.startswith(":") or not commit:
                continue
            meta, _, path = line.rstrip("\n").partition("\t")
            fields = meta.split()
            if len(fields) < 5 or fields[3] not in blobs or fields[4].startswith("D"):
                continue
            intro = Introduction(path, commit[0], commit[1], commit[2], int(commit[3]))
            at = found.setdefault(fields[3], {})
            if path not in at or intro.timestamp < at[path].timestamp:
                at[path] = intro


def introductions(repo: Path, blobs: set[str], since: str | None = None) -> dict[str, list[Introduction]]:
    """For each blob id: one Introduction per path, at the earliest commit that put it there."""
    found: dict[str, dict[str, Introduction]] = {}
    if not blobs:
        return {}
    revs = ["--all", "--reflog"] if since is None else ["--all", f"^{since}"]
    _walk(repo, revs, blobs, found)
    unplaced = blobs - found.keys()
    if unplaced and since is None:
        dangling = _unreachable_commits(repo)
        if dangling:
            _walk(repo, ["--no-walk=unsorted", *dangling], unplaced, found)
    return {blob: sorted(paths.values(), key=lambda i: (i.timestamp, i.path)) for blob, paths in found.items()}
