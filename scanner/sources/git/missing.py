"""Objects a repository lacks: reported, never fetched.

A partial clone (`git clone --filter=blob:none`) lacks blobs on purpose and would fetch each
one from its promisor remote when read; stsleak never lets git reach the network (hardening.py),
so a missing object is listed by `git rev-list --missing=print` (which fetches nothing), left
out and reported: in a partial clone as a note, elsewhere as a corrupt repository.
"""

from __future__ import annotations

from pathlib import Path
from typing import IO

from scanner.model import ScanStats
from scanner.sources.git.run import is_partial_clone, run_git_bytes


def parse_missing(out: bytes) -> list[str]:
    """The ids of `rev-list --missing=print` output lines `?<id>`."""
    return [line[1:].decode() for line in out.splitlines() if line.startswith(b"?")]


def read_missing(handle: IO[bytes]) -> list[str]:
    handle.seek(0)
    found = parse_missing(handle.read())
    handle.close()
    return found


def missing_since(repo: Path, revs: list[str]) -> set[str]:
    """Objects the commits in `revs` reach that a partial clone lacks (empty for other repositories)."""
    if not is_partial_clone(repo):
        return set()
    out = run_git_bytes(repo, "rev-list", "--objects", "--missing=print", "--quiet", *revs, "--", check=False)
    return set(parse_missing(out))


def report_missing(repo: Path, missing: list[str], stats: ScanStats) -> None:
    if not missing:
        return
    if is_partial_clone(repo):
        stats.notes.append(
            f"{repo} is a partial clone: {len(missing)} object(s) it never fetched (e.g. {missing[0]}) were not "
            "scanned; stsleak fetches nothing (to scan them: git -C REPO fetch --refetch, or a full clone)")
    else:
        stats.errors.append(f"{repo}: the repository is corrupt ({len(missing)} object(s) missing, e.g. "
                            f"{missing[0]}); objects it lacks were not scanned (`git fsck` lists them)")
