"""Git history: every blob in the object database, read once, on every core.

1. `git cat-file --batch-all-objects --batch-check --unordered` lists every object (loose and
   packed, reachable or not: amended, rebased-away and unmerged work included) with its type and
   size, in pack order. Trees, commits and blobs over the size limit are dropped here, before
   git inflates anything. (`--since REV`: the blobs the commits after REV put at some path.)
2. scanner/sources/git/blobstream.py streams the blobs through the literal prefilter, in parallel
   parts, without a Python call per blob; a blob git cannot read is reported by id and the stream
   goes on after it.
3. Only blobs with a hit are read again and become chunks. Where a blob came from (path,
   commit, author) is looked up only for the blobs detection found something in
   (scanner/sources/git/provenance.py), once detection is done: the walk over every commit costs
   the same for one blob as for a thousand, so a history whose prefilter hits are all false
   (git/git has 735) pays nothing for it, and `--find-object` names only the blobs needed.
"""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from scanner.errors import StsleakError
from scanner.model import Chunk, ScanStats
from scanner.sources import NO_PROGRESS, Prefilter, Progress
from scanner.sources.git.blobstream import BlobList, stream
from scanner.sources.git.missing import missing_since, read_missing, report_missing
from scanner.sources.git.provenance import Introduction, introductions
from scanner.sources.git.run import (
    cores,
    last_error_line,
    popen_git,
    raise_pipe_size,
    raw_change_result,
    read_blobs,
    run_git,
    run_git_bytes,
    stdin_file,
    temp_file,
)

_READ_SIZE = 1 << 20
_BACKGROUND_NICE = 10
_CHECK_FORMAT = "--batch-check=%(objecttype) %(objectsize) %(objectname)"
_BLOB_LINE = re.compile(rb"blob (\d+) ([0-9a-f]+)\n")  # the literal start lets `re` skip ahead fast
_MISSING_LINE = re.compile(rb"([0-9a-f]+) missing\n")
_COMMIT_LINE = re.compile(rb"commit \d+ ([0-9a-f]+)\n")
_NAMED_UNREADABLE = 10  # unreadable blobs named one by one in stats.errors; the rest are counted


@dataclass
class _Listing:
    blobs: BlobList = field(default_factory=BlobList)
    commits: bytearray = field(default_factory=bytearray)  # `id\n` records


def _read_listing(proc: subprocess.Popen[bytes], err: IO[bytes], max_size: int, stats: ScanStats,
                  repo: Path, progress: Progress = NO_PROGRESS) -> _Listing:
    """Parse `--batch-check` output as it comes: blobs within the size limit and commits, in order."""
    assert proc.stdout is not None
    raise_pipe_size(proc.stdout.fileno())
    listing = _Listing()
    blobs = listing.blobs
    carry = b""
    missing: list[bytes] = []
    while block := proc.stdout.read1(_READ_SIZE):  # type: ignore[attr-defined]  # a BufferedReader (bufsize>0)
        block = carry + block
        cut = block.rfind(b"\n") + 1
        carry = block[cut:]
        found = [(int(size), oid) for size, oid in _BLOB_LINE.findall(block, 0, cut)]
        stats.blobs += len(found)
        stats.bytes += sum(size for size, _ in found)
        kept = [(size, oid) for size, oid in found if size <= max_size]
        for _ in range(len(found) - len(kept)):
            stats.skip("too-large")
        blobs.extend(kept)
        listing.commits += b"".join(oid + b"\n" for oid in _COMMIT_LINE.findall(block, 0, cut))
        if b" missing\n" in block:
            missing += _MISSING_LINE.findall(block, 0, cut)
        progress.update(stats.blobs, stats.bytes)
    proc.stdout.close()
    code = proc.wait()
    detail = last_error_line(err)
    if code != 0 or carry:
        raise StsleakError(f"git cat-file failed in {repo}: {detail or f'exit code {code}'} (corrupt repository?)")
    if missing:
        stats.errors.append(_corrupt(repo, f"{len(missing)} object(s) missing, e.g. {missing[0].decode()}"))
    return listing


def _corrupt(repo: Path, problem: str) -> str:
    return f"{repo}: the repository is corrupt ({problem}); objects it lacks were not scanned (`git fsck` lists them)"


def _list_all(repo: Path, max_size: int, stats: ScanStats, progress: Progress = NO_PROGRESS) -> _Listing:
    err = temp_file()
    proc = popen_git(repo, "cat-file", "--batch-all-objects", _CHECK_FORMAT, "--unordered",
                     stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=err)
    return _read_listing(proc, err, max_size, stats, repo, progress)


def since_revs(repo: Path, since: str | tuple[str, ...], tips: tuple[str, ...] = ()) -> list[str]:
    """rev-list arguments for "the commits after REV": reachable from the tips (default: every
    ref), not from REV (or from any of several REVs: the ref tips of an earlier scan)."""
    olds = (since,) if isinstance(since, str) else since
    for rev in (*olds, *tips):
        if not run_git(repo, "rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}", check=False).strip():
            raise StsleakError(f"unknown revision {rev!r} in {repo}: not a commit")
    return [*(tips or ("--all",)), *(f"^{rev}" for rev in olds)]


def _commits_since(repo: Path, revs: list[str]) -> bytes:
    """`id\n` records, as provenance takes them."""
    return run_git_bytes(repo, "rev-list", *revs, "--")


def _blobs_since(repo: Path, revs: list[str]) -> list[str]:
    """Every blob a commit in `revs` put at some path: the result side of each change."""
    out = run_git_bytes(repo, "log", *revs, "--raw", "-z", "-c", "--root", "--no-abbrev", "--no-renames",
                        "--no-color", "--no-ext-diff", "--no-textconv", "--no-show-signature", "--format=", "--")
    changes = (token.lstrip(b"\n") for token in out.split(b"\0"))
    results = (raw_change_result(token) for token in changes if token.startswith(b":"))
    return list(dict.fromkeys(oid for oid in results if oid))


def _list_since(repo: Path, revs: list[str], max_size: int, stats: ScanStats) -> _Listing:
    oids = _blobs_since(repo, revs)
    missing = missing_since(repo, revs)  # a partial clone's: cat-file would try to fetch them
    if missing:
        oids = [oid for oid in oids if oid not in missing]
        report_missing(repo, sorted(missing), stats)
    err = temp_file()
    with stdin_file("".join(f"{oid}\n" for oid in oids).encode()) as stdin:
        proc = popen_git(repo, "cat-file", _CHECK_FORMAT, "--buffer", stdin=stdin, stdout=subprocess.PIPE, stderr=err)
    return _read_listing(proc, err, max_size, stats, repo)


def _lower_priority(pid: int) -> None:
    """Let a background git yield the cores to the stream (Unix; elsewhere it runs as is)."""
    with contextlib.suppress(AttributeError, OSError):
        os.setpriority(os.PRIO_PROCESS, pid, _BACKGROUND_NICE)


class _ConnectivityCheck:
    """git's own check that every object the refs and reflogs reach is present, in the background.

    cat-file lists only the objects that exist, so a blob deleted from the object store would
    otherwise go unnoticed and what it held unscanned.
    """

    def __init__(self, repo: Path) -> None:
        self._err = temp_file()
        self._out = temp_file()  # `?<id>` per missing object (--missing=print: listed, never fetched)
        self._proc = popen_git(
            # Small pack windows and delta cache: same speed, a third of the memory (mapped packs).
            repo, "-c", "core.deltaBaseCacheLimit=16m", "-c", "core.packedGitLimit=32m",
            "-c", "core.packedGitWindowSize=1m", "rev-list", "--objects", "--all", "--reflog", "--quiet",
            "--missing=print", stdin=subprocess.DEVNULL, stdout=self._out, stderr=self._err)
        _lower_priority(self._proc.pid)

    def cancel(self) -> None:
        self._proc.kill()
        self._proc.wait()
        self._err.close()
        self._out.close()

    def missing(self) -> list[str]:
        """The objects the refs reach that the repository lacks (after `problem()`)."""
        return read_missing(self._out)

    def problem(self) -> str | None:
        """None when every object is present; otherwise git's last error line."""
        code = self._proc.wait()
        detail = last_error_line(self._err)
        return None if code == 0 else detail or f"git rev-list exit code {code}"


class HistoryScan:
    """One history scan: the chunks to run detection on, then where their blobs came from.

    Iterating yields the chunks; `introductions(blobs)` then walks the commits the listing found
    (no second listing) for just the blobs detection found something in. Used as a context
    manager, the connectivity check is waited for on leaving it rather than at the end of the
    chunks, so the provenance walk runs beside the check's tail (both cores busy).
    """

    def __init__(self, repo: Path, since: str | tuple[str, ...] | None, max_size: int, prefilter: Prefilter,
                 stats: ScanStats, tips: tuple[str, ...] = (), progress: Progress = NO_PROGRESS) -> None:
        self.repo, self.since, self.max_size, self.prefilter, self.stats = repo, since, max_size, prefilter, stats
        self.tips, self.progress = tips, progress
        self._commits = b""
        self._check: _ConnectivityCheck | None = None
        self._deferred = False  # inside `with`: the check is waited for in __exit__

    def __enter__(self) -> HistoryScan:
        self._deferred = True
        return self

    def __exit__(self, kind: type[BaseException] | None, *_: object) -> None:
        if kind is None:
            self._finish_check()
        else:
            self._cancel_check()

    def __iter__(self) -> Iterator[Chunk]:
        return self.chunks()

    def chunks(self) -> Iterator[Chunk]:
        try:
            yield from self._chunks()
        except BaseException:  # an error, Ctrl-C or an abandoned iteration: stop git, don't wait
            self._cancel_check()
            raise
        if not self._deferred:
            self._finish_check()

    def _cancel_check(self) -> None:
        if self._check:
            self._check.cancel()
            self._check = None

    def _finish_check(self) -> None:
        """Wait for the connectivity check; what it found missing goes to the stats."""
        check, self._check = self._check, None
        if check is None:
            return
        problem = check.problem()
        if problem:
            self.stats.errors.append(_corrupt(self.repo, problem))
        report_missing(self.repo, check.missing(), self.stats)

    def _chunks(self) -> Iterator[Chunk]:
        if self.since is None:  # from the start: at low priority it fills the gaps the stream leaves
            self._check = _ConnectivityCheck(self.repo)
        listing, commits = self._listing()
        oids = self._hits(listing.blobs)
        self._commits = bytes(commits) if oids else b""  # one copy, only when something is placed
        self.progress.stage(f"reading {len(oids)} blob{'s' if len(oids) != 1 else ''} with hits", len(oids))
        for done, (oid, data) in enumerate(read_blobs(self.repo, oids), 1):
            self.progress.update(done)
            if data is None:
                self.stats.errors.append(_corrupt(self.repo, f"object {oid} cannot be read"))
                continue
            yield Chunk(data=data, blob=oid)

    def _listing(self) -> tuple[_Listing, bytes | bytearray]:
        """Every blob to stream, and the commits provenance looks at."""
        self.progress.stage("listing objects")
        if self.since is None:
            listing = _list_all(self.repo, self.max_size, self.stats, self.progress)
            return listing, listing.commits
        revs = since_revs(self.repo, self.since, self.tips)
        return _list_since(self.repo, revs, self.max_size, self.stats), _commits_since(self.repo, revs)

    def _hits(self, blobs: BlobList) -> list[str]:
        """The ids of the blobs in which the prefilter finds a literal; the unreadable ones reported."""
        if not len(blobs):
            return []
        (result,) = stream(str(self.repo), [blobs], self.prefilter, cores(), self.progress)
        for index, detail in result.unreadable[:_NAMED_UNREADABLE]:
            self.stats.errors.append(_corrupt(self.repo, f"blob {blobs.oid(index)} cannot be read: {detail}"))
        more = len(result.unreadable) - _NAMED_UNREADABLE
        if more > 0:
            self.stats.errors.append(_corrupt(self.repo, f"{more} more blobs cannot be read"))
        if result.unreached:
            self.stats.errors.append(_corrupt(
                self.repo, f"{result.unreached} blobs were not read: git failed on too many objects"))
        return [blobs.oid(i) for i in result.hits]

    def introductions(self, blobs: set[str]) -> dict[str, list[Introduction]]:
        """Where each of these blobs (all yielded by `chunks`) was introduced."""
        if not self._commits or not blobs:
            return {}
        self.progress.stage(f"placing {len(blobs)} hit{'s' if len(blobs) != 1 else ''} in history")
        return introductions(self.repo, blobs, self._commits)

