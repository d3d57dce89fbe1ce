"""Where a blob came from: the paths it was introduced at, by which commit, author and date.

Looked up only for the blobs that hold a finding. Every commit in the object database (listed
by `git cat-file --batch-all-objects` in scanner/sources/history.py, so amended-away and
otherwise unreachable commits count too; with `--since REV`, the commits after REV) is shown
once with `git log --no-walk --raw -c`: its changes against its parents, a merge's only where
it differs from every parent (a merge that takes a branch's file did not introduce it; the
branch commit did). `--find-object` makes git itself drop every change that does not involve a
wanted blob. The commit list is cut in parts, one git process per core.

A blob's introduction at a path is a commit whose tree has the blob there while a parent's does
not; per path, the earliest such commit by committer time wins.
"""

from __future__ import annotations

import re
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from scanner.errors import StsleakError
from scanner.sources.gitcmd import cores, git_path, last_error_line, raise_pipe_size, stdin_file, temp_file

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
            "--no-abbrev", "--no-renames", "--no-color", "--no-ext-diff", _FORMAT]
    if len(blobs) <= _MAX_FIND_OBJECT:
        args += [f"--find-object={oid}" for oid in sorted(blobs)]
    return args


def _split(commits: list[bytes], parts: int) -> list[list[bytes]]:
    size = -(-len(commits) // parts)
    return [commits[i : i + size] for i in range(0, len(commits), size)]


class _LogPart:
    """One `git log --no-walk` over some commits, and the thread that parses its output."""

    def __init__(self, repo: Path, commits: list[bytes], blobs: set[str]) -> None:
        self.repo = repo
        self.err = temp_file()
        with stdin_file(b"\n".join(commits) + b"\n") as stdin:
            self.proc = subprocess.Popen(_log_args(repo, blobs), stdin=stdin, stdout=subprocess.PIPE, stderr=self.err)
        assert self.proc.stdout is not None
        raise_pipe_size(self.proc.stdout.fileno())
        self.reader = _LogReader(blobs)
        self.thread = threading.Thread(target=self.reader.run, args=(self.proc,), daemon=True)
        self.thread.start()

    def finish(self) -> _LogReader:
        self.thread.join()
        code = self.close()
        detail = last_error_line(self.err)
        if self.reader.error is not None:
            raise self.reader.error
        if code != 0:
            raise StsleakError(f"git log failed in {self.repo}: {detail or f'exit code {code}'} (corrupt repository?)")
        return self.reader

    def close(self) -> int:
        assert self.proc.stdout is not None
        self.proc.stdout.close()
        return self.proc.wait()


def _walk(repo: Path, commits: list[bytes], blobs: set[str]) -> list[_LogReader]:
    """Show every listed commit once, in parallel parts; each part's reader keeps its findings."""
    parts: list[_LogPart] = []
    try:
        for chunk in _split(commits, max(1, min(cores(), len(commits) // 500))):
            parts.append(_LogPart(repo, chunk, blobs))
        return [part.finish() for part in parts]
    finally:
        for part in parts:
            if part.proc.returncode is None:
                part.proc.kill()
                part.close()


def _merge(found: dict[str, dict[str, Introduction]], readers: list[_LogReader]) -> None:
    for reader in readers:
        for oid, paths in reader.found.items():
            at = found.setdefault(oid, {})
            for path, intro in paths.items():
                if path not in at or (intro.timestamp, intro.commit) < (at[path].timestamp, at[path].commit):
                    at[path] = intro


def _sorted(found: dict[str, dict[str, Introduction]]) -> dict[str, list[Introduction]]:
    return {blob: sorted(paths.values(), key=lambda i: (i.timestamp, i.path)) for blob, paths in found.items()}


def introductions(repo: Path, blobs: set[str], commits: list[bytes]) -> dict[str, list[Introduction]]:
    """For each blob id: one Introduction per path, at the earliest of `commits` that put it there.

    `commits` is every commit of the object database (scanner/sources/history.py lists them
    anyway), or with `--since`, the commits after REV.
    """
    if not blobs or not commits:
        return {}
    found: dict[str, dict[str, Introduction]] = {}
    _merge(found, _walk(repo, commits, blobs))
    return _sorted(found)


class BackgroundIntroductions:
    """`introductions` computed on a thread (git does the work on the other cores) while the
    caller goes on, e.g. running detection; `result()` waits for it."""

    def __init__(self, repo: Path, blobs: set[str], commits: list[bytes]) -> None:
        self._found: dict[str, list[Introduction]] = {}
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, args=(repo, blobs, commits), daemon=True)
        self._thread.start()

    def _run(self, repo: Path, blobs: set[str], commits: list[bytes]) -> None:
        try:
            self._found = introductions(repo, blobs, commits)
        except BaseException as exc:  # re-raised by result()
            self._error = exc

    def result(self) -> dict[str, list[Introduction]]:
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self._found
