"""A repository's ref tips, and which old tips it still has: read where the repository is (the scan's
own process for a local repository, so the worker starts no git of its own)."""

from __future__ import annotations

from pathlib import Path

from scanner.sources.git.history import resolve_commits
from scanner.sources.git.run import require_repo, run_git


def local_tips(repo: Path) -> dict[str, str]:
    """Every ref and the object it points at (a StsleakError when git refuses the repository)."""
    require_repo(repo)
    out = run_git(repo, "for-each-ref", "--format=%(objectname) %(refname)")
    pairs = (line.split(" ", 1) for line in out.splitlines() if " " in line)
    return {ref: sha for sha, ref in pairs}


def known_commits(repo: Path, shas: list[str]) -> list[str]:
    """The old tips this copy still has (a force-pushed-away tip is gone): one git process for all."""
    unique = list(dict.fromkeys(shas))
    return [sha for sha, commit in zip(unique, resolve_commits(repo, unique), strict=True) if commit]
