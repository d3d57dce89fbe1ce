"""Where a blob came from: the paths it was introduced at, by which commit, author and date.

Looked up only for the blobs that hold a finding. Every commit in the object database (listed
by `git cat-file --batch-all-objects` in scanner/sources/git/history.py, so amended-away and
otherwise unreachable commits count too; with `--since REV`, the commits after REV) is shown
once with `git log --no-walk --raw -c`: its changes against its parents, a merge's only where
it differs from every parent (a merge that takes a branch's file did not introduce it; the
branch commit did). `--find-object` makes git itself drop every change that does not involve a
wanted blob. The commit list is cut in parts, one git process per core.

A blob's introduction at a path is a commit whose tree has the blob there while a parent's does
not; per path, the earliest such commit by committer time wins.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from scanner.errors import StsleakError
from scanner.sources.git.run import ThreadedGit, cores, git_argv, is_partial_clone, raw_change_result, stdin_file

_SEP = b"\x1f"
_FORMAT = "--format=%x1f%H%x1f%ct%x1f%aI%x1f%an <%ae>"
_MAX_FIND_OBJECT = 2000  # more wanted blobs than this: git shows every change, Python filters
_READ_SIZE = 1 << 20


@dataclass(frozen=True, slots=True)
class Introduction:
    path: str
    commit: str
    author: str
    date: str  # ISO-8601, the author date
    timestamp: int  # committer time, for "earliest"


def _keep_earliest(at: dict[str, Introduction], intro: Introduction) -> None:
    """Per path, the earliest introduction by committer time (then commit id, for a stable tie)."""
    current = at.get(intro.path)
    if current is None or (intro.timestamp, intro.commit) < (current.timestamp, current.commit):
        at[intro.path] = intro


@dataclass
class _LogReader:
    """Parses `git log --raw -z -c` output: keeps the changes whose result is a wanted blob."""

    blobs: set[str]
    found: dict[str, dict[str, Introduction]] = field(default_factory=dict)
    error: BaseException | None = None
    _commit: list[str] = field(default_factory=list)
    _meta: bytes | None = None

    def run(self, stdout: IO[bytes]) -> None:
        try:
            for token in self._tokens(stdout):
                self._take(token)
        except BaseException as exc:  # re-raised by the main thread
            self.error = exc

    @staticmethod
    def _tokens(stdout: IO[bytes]) -> Iterator[bytes]:
        carry = b""
        while block := stdout.read1(_READ_SIZE):  # type: ignore[attr-defined]
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
        oid = raw_change_result(meta)
        if oid not in self.blobs or not self._commit:
            return
        commit, stamp, date, author = self._commit
        path = path_bytes.decode("utf-8", "replace")
        _keep_earliest(self.found.setdefault(oid, {}), Introduction(path, commit, author, date, int(stamp)))


def _log_args(repo: Path, blobs: set[str]) -> list[str]:
    args = git_argv(repo, "log", "--no-walk=unsorted", "--stdin", "--raw", "-z", "-c", "--root", "--no-abbrev",
                    "--no-renames", "--no-color", "--no-ext-diff", "--no-textconv", "--no-show-signature", _FORMAT)
    # --find-object reads both sides of a change: in a partial clone that is a (blocked) fetch.
    if len(blobs) <= _MAX_FIND_OBJECT and not is_partial_clone(repo):
        args += [f"--find-object={oid}" for oid in sorted(blobs)]
    return args


def _split(commits: list[bytes], parts: int) -> list[list[bytes]]:
    size = -(-len(commits) // parts)
    return [commits[i : i + size] for i in range(0, len(commits), size)]


class _LogPart:
    """One `git log --no-walk` over some commits, and the thread that parses its output."""

    def __init__(self, repo: Path, commits: list[bytes], blobs: set[str]) -> None:
        self.repo = repo
        with stdin_file(b"\n".join(commits) + b"\n") as stdin:
            self.git = ThreadedGit(_log_args(repo, blobs), stdin)
        self.reader = _LogReader(blobs)
        self.git.start(lambda: self.reader.run(self.git.stdout))

    def finish(self) -> _LogReader:
        code, detail = self.git.finish()
        if self.reader.error is not None:
            raise self.reader.error
        if code != 0:
            raise StsleakError(f"git log failed in {self.repo}: {detail or f'exit code {code}'} (corrupt repository?)")
        return self.reader


def _walk(repo: Path, commits: list[bytes], blobs: set[str]) -> list[_LogReader]:
    """Show every listed commit once, in parallel parts; each part's reader keeps its findings."""
    parts: list[_LogPart] = []
    try:
        for chunk in _split(commits, max(1, min(cores(), len(commits) // 500))):
            parts.append(_LogPart(repo, chunk, blobs))
        return [part.finish() for part in parts]
    finally:
        for part in parts:
            part.git.stop()  # a no-op for the parts that finished


def _merge(found: dict[str, dict[str, Introduction]], readers: list[_LogReader]) -> None:
    for reader in readers:
        for oid, paths in reader.found.items():
            at = found.setdefault(oid, {})
            for intro in paths.values():
                _keep_earliest(at, intro)


def _sorted(found: dict[str, dict[str, Introduction]]) -> dict[str, list[Introduction]]:
    return {blob: sorted(paths.values(), key=lambda i: (i.timestamp, i.path)) for blob, paths in found.items()}


def introductions(repo: Path, blobs: set[str], commits: list[bytes]) -> dict[str, list[Introduction]]:
    """For each blob id: one Introduction per path, at the earliest of `commits` that put it there.

    `commits` is every commit of the object database (scanner/sources/git/history.py lists them
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
