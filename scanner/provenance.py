"""Where a blob came from: the paths it was introduced at, by which commit, author and date.

Looked up only for the blobs that hold a finding. Every commit in the object database (from
`git cat-file --batch-all-objects`, so amended-away and otherwise unreachable commits count too;
with `--since REV`, the commits after REV) is shown once with `git log --no-walk --raw -c`: its
changes against its parents, a merge's only where it differs from every parent (a merge that
takes a branch's file did not introduce it; the branch commit did). `--find-object` makes git
itself drop every change that does not involve a wanted blob. The commit list is cut in parts,
one git process per core.

A blob's introduction at a path is a commit whose tree has the blob there while a parent's does
not; per path, the earliest such commit by committer time wins.
"""

from __future__ import annotations

import os
import re
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from scanner.errors import StsleakError
from scanner.sources.gitcmd import git_path, last_error_line, raise_pipe_size, run_git, stdin_file, temp_file

_SEP = b"\x1f"
_FORMAT = "--format=%x1f%H%x1f%ct%x1f%aI%x1f%an <%ae>"
_MAX_FIND_OBJECT = 2000  # more wanted blobs than this: git shows every change, Python filters
_READ_SIZE = 1 << 20
_COMMIT_LINE = re.compile(rb"commit ([0-9a-f]+)\n")


@dataclass(frozen=True, slots=True)
class Introduction:
    path: str
    commit: str
    author: str
    date: str  # ISO-8601, the author date
    timestamp: int  # committer time, for "earliest"


def _cores() -> int:
    try:
        return max(1, min(len(os.sched_getaffinity(0)), 4))
    except AttributeError:  # not Linux
        return max(1, min(os.cpu_count() or 1, 4))


def _start_listing(repo: Path) -> tuple[subprocess.Popen[bytes], IO[bytes]]:
    """Every object's type and id, into a temp file: read once the reachable walk is under way."""
    out = temp_file()
    proc = subprocess.Popen([git_path(), "-C", str(repo), "cat-file", "--batch-all-objects",
                             "--batch-check=%(objecttype) %(objectname)", "--unordered"],
                            stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.DEVNULL)
    return proc, out


def _finish_listing(repo: Path, proc: subprocess.Popen[bytes], out: IO[bytes]) -> list[bytes]:
    code = proc.wait()
    out.seek(0)
    data = out.read()
    out.close()
    if code != 0:
        raise StsleakError(f"git cat-file failed in {repo}: exit code {code} (corrupt repository?)")
    return _COMMIT_LINE.findall(data)


def _reachable_commits(repo: Path) -> list[bytes]:
    """Commits on any ref or reflog, newest first; a clear error when one of them is gone."""
    proc = subprocess.run([git_path(), "-C", str(repo), "rev-list", "--all", "--reflog"], capture_output=True)
    if proc.returncode != 0:  # a ref or reflog names a commit that is gone
        detail = (proc.stderr.decode(errors="replace").strip().splitlines() or ["exit code"])[-1]
        raise StsleakError(f"git rev-list failed in {repo}: {detail} (corrupt repository?)")
    return proc.stdout.split()


def _commits_since(repo: Path, since: str) -> list[bytes]:
    return [line.encode() for line in run_git(repo, "rev-list", "--all", f"^{since}").split()]


@dataclass
class _LogReader:
    """Parses `git log --raw -z -c` output: keeps the changes whose result is a wanted blob."""

    blobs: set[str]
    found: dict[str, dict[str, Introduction]] = field(default_factory=dict)
    error: BaseException | None = None
    _commit: list[str] = field(default_factory=list)
    _meta: bytes | None = None

    def run(self, stream: subprocess.Popen[bytes]) -> None:
        try:
            for token in self._tokens(stream):
                self._take(token)
        except BaseException as exc:  # re-raised by the main thread
            self.error = exc

    @staticmethod
    def _tokens(proc: subprocess.Popen[bytes]) -> Iterator[bytes]:
        assert proc.stdout is not None
        carry = b""
        while block := proc.stdout.read1(_READ_SIZE):
            parts = (carry + block).split(b"\0")
            carry = parts.pop()
            yield from parts
        if carry:
            yield carry

    def _take(self, token: bytes) -> None:
        if self._meta is not None:  # the path that follows a change's meta fields
            self._change(self._meta, token)
            self._meta = None
            return
        token = token.lstrip(b"\n")
        if token.startswith(_SEP):
            self._commit = token[1:].decode("utf-8", "replace").split("\x1f", 3)
        elif token.startswith(b":"):
            self._meta = token

    def _change(self, meta: bytes, path_bytes: bytes) -> None:
        parents = len(meta) - len(meta.lstrip(b":"))
        fields = meta[parents:].split()
        if len(fields) <= 2 * parents + 1 or not self._commit:
            return
        oid = fields[2 * parents + 1].decode()  # the result side (all zeros for a deletion)
        if oid not in self.blobs:
            return
        commit, stamp, date, author = self._commit
        path = path_bytes.decode("utf-8", "replace")
        intro = Introduction(path, commit, author, date, int(stamp))
        at = self.found.setdefault(oid, {})
        if path not in at or (intro.timestamp, intro.commit) < (at[path].timestamp, at[path].commit):
            at[path] = intro


def _log_args(repo: Path, blobs: set[str]) -> list[str]:
    args = [git_path(), "-C", str(repo), "log", "--no-walk=unsorted", "--stdin", "--raw", "-z", "-c", "--root",
            "--no-abbrev", "--no-renames", "--no-color", "--no-ext-diff", "--no-mailmap", _FORMAT]
    if len(blobs) <= _MAX_FIND_OBJECT:
        args += [f"--find-object={oid}" for oid in sorted(blobs)]
    return args


def _split(commits: list[bytes], parts: int) -> list[list[bytes]]:
    size = -(-len(commits) // parts)
    return [commits[i : i + size] for i in range(0, len(commits), size)]


def _walk(repo: Path, commits: list[bytes], blobs: set[str]) -> list[_LogReader]:
    """Show every listed commit once, in parallel parts; each part's reader keeps its findings."""
    started = []
    for part in _split(commits, max(1, min(_cores(), len(commits) // 500))):
        err = temp_file()
        with stdin_file(b"\n".join(part) + b"\n") as stdin:
            proc = subprocess.Popen(_log_args(repo, blobs), stdin=stdin, stdout=subprocess.PIPE, stderr=err)
        assert proc.stdout is not None
        raise_pipe_size(proc.stdout.fileno())
        reader = _LogReader(blobs)
        thread = threading.Thread(target=reader.run, args=(proc,), daemon=True)
        thread.start()
        started.append((proc, err, reader, thread))
    readers = []
    for proc, err, reader, thread in started:
        thread.join()
        assert proc.stdout is not None
        proc.stdout.close()
        code = proc.wait()
        detail = last_error_line(err)
        if reader.error is not None:
            raise reader.error
        if code != 0:
            raise StsleakError(f"git log failed in {repo}: {detail or f'exit code {code}'} (corrupt repository?)")
        readers.append(reader)
    return readers


def _merge(found: dict[str, dict[str, Introduction]], readers: list[_LogReader]) -> None:
    for reader in readers:
        for oid, paths in reader.found.items():
            at = found.setdefault(oid, {})
            for path, intro in paths.items():
                if path not in at or (intro.timestamp, intro.commit) < (at[path].timestamp, at[path].commit):
                    at[path] = intro


def introductions(repo: Path, blobs: set[str], since: str | None = None) -> dict[str, list[Introduction]]:
    """For each blob id: one Introduction per path, at the earliest commit that put it there."""
    if not blobs:
        return {}
    found: dict[str, dict[str, Introduction]] = {}
    if since is not None:
        commits = _commits_since(repo, since)
        _merge(found, _walk(repo, commits, blobs) if commits else [])
    else:
        # Reachable commits first, while git lists every object; then the commits no ref or
        # reflog reaches (amended or rebased away), which are few.
        listing = _start_listing(repo)
        try:
            reachable = _reachable_commits(repo)
            _merge(found, _walk(repo, reachable, blobs) if reachable else [])
        finally:
            every = _finish_listing(repo, *listing)
        seen = set(reachable)
        dangling = [oid for oid in every if oid not in seen]
        _merge(found, _walk(repo, dangling, blobs) if dangling else [])
    return {blob: sorted(paths.values(), key=lambda i: (i.timestamp, i.path)) for blob, paths in found.items()}
