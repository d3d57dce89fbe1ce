"""The staged index: what `git commit` would record, not what the work tree holds.

Each added, copied, modified or renamed path yields its staged blob, with the blob it replaces
(HEAD's version, the rename's source) as `previous`, so credentials already committed there are
not reported again as new. Deletions yield nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from scanner.errors import StsleakError
from scanner.model import Chunk, ScanStats
from scanner.sources.git.run import BlobReader, RepoKind, repo_kind, run_git

_NULL = "0" * 40


def _staged_entries(repo: Path) -> list[tuple[str, str, str]]:
    """(new blob, old blob or null, path) for each staged change."""
    has_head = run_git(repo, "rev-parse", "--verify", "--quiet", "HEAD", check=False).strip() != ""
    # On an unborn branch the index is compared with the empty tree.
    base = "HEAD" if has_head else run_git(repo, "hash-object", "-t", "tree", "--stdin").strip()
    args = ["diff", "--cached", "--raw", "-z", "--no-abbrev", "-M", "--diff-filter=ACMRT", "--no-ext-diff",
            "--no-textconv", "--no-color"]
    fields = run_git(repo, *args, base, "--").split("\0")
    entries = []
    i = 0
    while i < len(fields) - 1:
        meta = fields[i].split()
        if not meta:
            i += 1
            continue
        old, new, status = meta[2], meta[3], meta[4]
        if status[0] in "RC":
            path = fields[i + 2]
            i += 3
        else:
            path = fields[i + 1]
            i += 2
        if meta[1] == "160000":  # a submodule commit, not a blob
            continue
        entries.append((new, old if old != _NULL else "", path))
    return entries


def iter_staged_chunks(repo: Path, max_size: int, stats: ScanStats) -> Iterator[Chunk]:
    kind, reason = repo_kind(repo)
    if kind == RepoKind.REFUSED:
        raise StsleakError(reason)
    if kind != RepoKind.WORK_TREE:
        raise StsleakError(f"--staged needs a git work tree: {repo}")
    entries = _staged_entries(repo)
    if not entries:
        return
    with BlobReader(repo) as reader:
        for new, old, path in entries:
            data = reader.read(new)
            if data is None:
                stats.errors.append(f"{path}: staged blob {new} cannot be read")
                continue
            if len(data) > max_size:
                stats.skip("too-large")
                continue
            previous = reader.read(old) if old else None
            stats.files += 1
            stats.bytes += len(data)
            yield Chunk(data=data, path=path, blob=new, previous=previous)
