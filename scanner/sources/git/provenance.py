"""Where a blob came from: the paths it was introduced at, by which commit, author and date.

Looked up only for the blobs that hold a finding (not for every prefilter hit: a history scan asks
once detection is done, so a history without findings never diffs a commit). The commits to look
at are the caller's: for a full history (scanner/sources/git/history.py) those from the first one
the walk (scanner/sources/git/walk.py) prints one of the blobs under, plus the commits of the
object database no ref reaches (amended-away and otherwise unreachable commits count too); with
`--since REV`, the commits after REV. Each is shown once with `git log --no-walk --raw -c`: its
changes against its parents, a merge's only where it differs from every parent (a merge that takes
a branch's file did not introduce it; the branch commit did). `--find-object` makes git itself
drop every change that does not involve a wanted blob. The commit list is cut in batches of a few
thousand commits, one `git log` each (git holds every commit it is given: batches keep its memory
flat however long the history), run one after the other by one worker per core.

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
        self._commit, self._meta = [], None
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


_BATCH = 4096  # commits per `git log`: git holds every commit it is given, so this bounds its memory


def _batches(commits: bytes, width: int) -> list[tuple[int, int]]:
    """Byte ranges of `commits` (records of `width` bytes) holding at most _BATCH commits each."""
    step = _BATCH * width
    return [(lo, min(lo + step, len(commits))) for lo in range(0, len(commits), step)]


class _Worker:
    """Runs `git log` over its share of the batches, one process after the other, into one reader."""

    def __init__(self, repo: Path, commits: bytes, batches: list[tuple[int, int]], blobs: set[str]) -> None:
        self.repo, self.commits, self.batches = repo, commits, batches
        self.reader = _LogReader(blobs)
        self.error: BaseException | None = None
        self._git: ThreadedGit | None = None
        self._stopped = False
        self._lock = threading.Lock()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            for lo, hi in self.batches:
                self._batch(lo, hi)
        except BaseException as exc:  # re-raised by the caller
            self.error = exc

    def _batch(self, lo: int, hi: int) -> None:
        with self._lock:
            if self._stopped:
                raise StsleakError("provenance stopped")
            with memoryview(self.commits) as view, stdin_file(view[lo:hi]) as stdin:
                self._git = git = ThreadedGit(_log_args(self.repo, self.reader.blobs), stdin)
        git.start(lambda: self.reader.run(git.stdout))
        code, detail = git.finish()
        if self.reader.error is not None:
            raise self.reader.error
        if code != 0:
            raise StsleakError(f"git log failed in {self.repo}: {detail or f'exit code {code}'} (corrupt repository?)")

    def stop(self) -> None:
        with self._lock:
            self._stopped = True
            if self._git is not None:
                self._git.stop()  # a no-op when it finished


def _walk(repo: Path, commits: bytes, width: int, blobs: set[str]) -> list[_LogReader]:
    """Show every listed commit once, in batches spread over one worker per core."""
    batches = _batches(commits, width)
    count = max(1, min(cores(), len(commits) // width // 500, len(batches)))
    workers: list[_Worker] = []
    try:
        for i in range(count):
            workers.append(_Worker(repo, commits, batches[i::count], blobs))
        for worker in workers:
            worker.thread.join()
            if worker.error is not None:
                raise worker.error
        return [worker.reader for worker in workers]
    finally:
        for worker in workers:
            worker.stop()
            worker.thread.join()


def _merge(found: dict[str, dict[str, Introduction]], readers: list[_LogReader]) -> None:
    for reader in readers:
        for oid, paths in reader.found.items():
            at = found.setdefault(oid, {})
            for intro in paths.values():
                _keep_earliest(at, intro)


def _sorted(found: dict[str, dict[str, Introduction]]) -> dict[str, list[Introduction]]:
    return {blob: sorted(paths.values(), key=lambda i: (i.timestamp, i.path)) for blob, paths in found.items()}


def introductions(repo: Path, blobs: set[str], commits: bytes) -> dict[str, list[Introduction]]:
    """For each blob id: one Introduction per path, at the earliest of `commits` that put it there.

    `commits`: the commits that can have introduced them (scanner/sources/git/history.py), as
    `id\n` records of one width (41 bytes a commit, where a list of bytes objects would take twice that).
    """
    if not blobs or not commits:
        return {}
    found: dict[str, dict[str, Introduction]] = {}
    _merge(found, _walk(repo, commits, commits.index(b"\n") + 1, blobs))
    return _sorted(found)


class BackgroundIntroductions:
    """`introductions` computed on a thread (git does the work on the other cores) while the
    caller goes on, e.g. running detection; `result()` waits for it."""

    def __init__(self, repo: Path, blobs: set[str], commits: bytes) -> None:
        self._found: dict[str, list[Introduction]] = {}
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, args=(repo, blobs, commits), daemon=True)
        self._thread.start()

    def _run(self, repo: Path, blobs: set[str], commits: bytes) -> None:
        try:
            self._found = introductions(repo, blobs, commits)
        except BaseException as exc:  # re-raised by result()
            self._error = exc

    def result(self) -> dict[str, list[Introduction]]:
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self._found
