"""The staged index: what `git commit` would record, not what the work tree holds.

Each added, copied, modified or renamed path yields its staged blob, with the blob it replaces
(HEAD's version, the rename's source) as `previous`, so credentials already committed there are
not reported again as new. Deletions yield nothing. A staged submodule commit (a gitlink) holds no
blob to scan: it is counted (`gitlink`), with the command that scans the submodule's new commits.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from scanner.errors import StsleakError
from scanner.model import Chunk, ScanStats
from scanner.sources.git.run import BlobReader, RepoKind, repo_kind, run_git

_NULL = "0" * 40
_GITLINK = "160000"  # the mode of a submodule's entry: a commit of another repository, not a blob


def _staged_entries(repo: Path) -> tuple[list[tuple[str, str, str]], list[tuple[str, str, str]]]:
    """(new blob, old blob or "", path) for each staged change to a file, and (new commit, old
    commit or "", path) for each staged submodule commit."""
    has_head = run_git(repo, "rev-parse", "--verify", "--quiet", "HEAD", check=False).strip() != ""
    # On an unborn branch the index is compared with the empty tree.
    base = "HEAD" if has_head else run_git(repo, "hash-object", "-t", "tree", "--stdin").strip()
    args = ["diff", "--cached", "--raw", "-z", "--no-abbrev", "-M", "--diff-filter=ACMRT", "--no-ext-diff",
            "--no-textconv", "--no-color"]
    fields = run_git(repo, *args, base, "--").split("\0")
    entries: list[tuple[str, str, str]] = []
    gitlinks: list[tuple[str, str, str]] = []
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
        old = "" if old == _NULL else old
        was_gitlink = meta[0] == f":{_GITLINK}"  # then the old side is a commit, not a blob
        if meta[1] == _GITLINK:
            gitlinks.append((new, old if was_gitlink else "", path))
        else:
            entries.append((new, "" if was_gitlink else old, path))
    return entries, gitlinks


def _gitlink_note(new: str, old: str, path: str) -> str:
    import shlex

    where = shlex.quote(path)
    scan = f"--since {old} --tip {new} {where}" if old else f"--history {where}"
    return f"{path}: a staged submodule commit: its files were not scanned here (stsleak scan {scan} scans them)"


def iter_staged_chunks(repo: Path, max_size: int, stats: ScanStats) -> Iterator[Chunk]:
    kind, reason = repo_kind(repo)
    if kind == RepoKind.REFUSED:
        raise StsleakError(reason)
    if kind != RepoKind.WORK_TREE:
        raise StsleakError(f"--staged needs a git work tree: {repo}")
    entries, gitlinks = _staged_entries(repo)
    for gitlink in gitlinks:
        stats.skip("gitlink")
        stats.notes.append(_gitlink_note(*gitlink))
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
