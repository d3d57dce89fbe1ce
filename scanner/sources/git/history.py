"""Git history: every blob, commit message and tag message in the object database, read once,
on every core.

1. `git cat-file --batch-all-objects --batch-check --unordered` lists every object (loose and
   packed, reachable or not: amended, rebased-away and unmerged work included) with its type and
   size, in pack order. Trees and objects over the size limit are dropped here, before git
   inflates anything. (`--since REV`: the blobs the commits after REV put at some path, those
   commits, and the annotated tags of those commits.) What the repository borrows from elsewhere
   (alternates, a git directory outside it, grafts) is sorted out first: scanner/sources/git/borrowed.py.
2. scanner/sources/git/blobstream.py streams the blobs, commits and tags through the literal
   prefilter, in parallel parts, without a Python call per object; an object git cannot read is
   reported by id and the stream goes on after it.
3. Only objects with a hit are read again and become chunks: a blob whole, a commit or tag its
   message (scanner/sources/git/messages.py, placed at the object itself).
4. Beside the stream runs the one walk over the commit graph (scanner/sources/git/walk.py): git's
   connectivity check (an object the refs reach but the repository lacks is reported) and the
   commit order placement needs. Where a blob came from (path, commit, author) is looked up only
   for the blobs detection found something in, once detection is done
   (scanner/sources/git/provenance.py, `--find-object`), over only the commits that can hold one
   of them: from the first the walk prints one under, plus the listed commits no ref reaches. A
   history without findings never diffs a commit; one whose findings are recent diffs a handful.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Generator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from scanner.errors import StsleakError
from scanner.model import Chunk, ScanStats
from scanner.sources import NO_PROGRESS, Prefilter, Progress
from scanner.sources.git.blobstream import BlobList, Piece, Streamed, stream_pieces
from scanner.sources.git.borrowed import ALTERNATE_ONLY, Borrowed, lender_note, local_objects, survey
from scanner.sources.git.messages import split_message
from scanner.sources.git.missing import missing_since, report_missing
from scanner.sources.git.provenance import Introduction, introductions
from scanner.sources.git.run import (
    cores,
    last_error_line,
    popen_git,
    raise_pipe_size,
    raw_change_result,
    read_blobs,
    run_git_bytes,
    stdin_file,
    temp_file,
)
from scanner.sources.git.walk import HistoryWalk

_READ_SIZE = 1 << 20
_CHECK_FORMAT = "--batch-check=%(objecttype) %(objectsize) %(objectname)"
_KINDS = (b"blob", b"commit", b"tag")
# The literal start lets `re` skip ahead fast.
_LINES = {kind: re.compile(kind + rb" (\d+) ([0-9a-f]+)\n") for kind in _KINDS}
_MISSING_LINE = re.compile(rb"([0-9a-f]+) missing\n")
_NAMED_UNREADABLE = 10  # unreadable objects named one by one in stats.errors; the rest are counted
# Objects with a hit are read and checked while git streams the rest, except big ones: detection
# holds Python's lock for a whole regex pass over an object (~50 ms on 2 MB), and the readers of
# git's pipes wait for it (psf/requests: a 2.2 MB Illustrator file slowed its stream from 0.19 to
# 0.33 s). Those wait until the stream is over.
_HELD_SIZE = 256 << 10


@dataclass
class _Listing:
    blobs: BlobList = field(default_factory=BlobList)
    commits: bytearray = field(default_factory=bytearray)  # `id\n` records of every commit (provenance)
    messages: list[BlobList] = field(default_factory=lambda: [BlobList(b"commit"), BlobList(b"tag")])
    left_out: int = 0  # objects only an alternate holds that nothing of this repository reaches

    def streams(self) -> list[BlobList]:
        return [self.blobs, *self.messages]


def _read_listing(proc: subprocess.Popen[bytes], err: IO[bytes], max_size: int, stats: ScanStats,
                  repo: Path, progress: Progress = NO_PROGRESS, keep: set[bytes] | None = None) -> _Listing:
    """Parse `--batch-check` output as it comes: blobs, commits and tags within the size limit (and
    every commit id), in order; with `keep`, only the objects it holds."""
    assert proc.stdout is not None
    raise_pipe_size(proc.stdout.fileno())
    listing = _Listing()
    lists = dict(zip(_KINDS, listing.streams(), strict=True))
    carry = b""
    missing: list[bytes] = []
    while block := proc.stdout.read1(_READ_SIZE):  # type: ignore[attr-defined]  # a BufferedReader (bufsize>0)
        block = carry + block
        cut = block.rfind(b"\n") + 1
        carry = block[cut:]
        for kind, line in _LINES.items():
            found = [(int(size), oid) for size, oid in line.findall(block, 0, cut)]
            if keep is not None:
                kept = [(size, oid) for size, oid in found if oid in keep]
                listing.left_out += len(found) - len(kept)
                found = kept
            if kind == b"blob":
                stats.blobs += len(found)
                stats.bytes += sum(size for size, _ in found)
            elif kind == b"commit":
                listing.commits += b"".join(oid + b"\n" for _, oid in found)
            fitting = [(size, oid) for size, oid in found if size <= max_size]
            for _ in range(len(found) - len(fitting)):
                stats.skip("too-large")
            lists[kind].extend(fitting)
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


def _list_all(repo: Path, max_size: int, stats: ScanStats, progress: Progress = NO_PROGRESS,
              keep: set[bytes] | None = None) -> _Listing:
    err = temp_file()
    proc = popen_git(repo, "cat-file", "--batch-all-objects", _CHECK_FORMAT, "--unordered",
                     stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=err)
    return _read_listing(proc, err, max_size, stats, repo, progress, keep)


def resolve_commits(repo: Path, revs: list[str]) -> list[str | None]:
    """The commit each revision names here (None: unknown, or not a commit), asked of one git process
    (an organisation rerun passes every old ref tip: hundreds of revisions, one process)."""
    if not revs:
        return []
    names = ["" if "\n" in rev or "\0" in rev else rev for rev in revs]  # one name a line
    with stdin_file("".join(f"{name}^{{commit}}\n" for name in names).encode()) as stdin:
        proc = popen_git(repo, "cat-file", "--batch-check=%(objecttype) %(objectname)", stdin=stdin,
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        out, _ = proc.communicate()
    answers = out.decode("utf-8", "replace").splitlines()
    if proc.returncode != 0 or len(answers) != len(revs):
        raise StsleakError(f"git cat-file failed in {repo} naming {len(revs)} revision(s)")
    found = [answer.split(" ") for answer in answers]
    return [fields[1] if name and len(fields) == 2 and fields[0] == "commit" else None
            for name, fields in zip(names, found, strict=True)]


def since_revs(repo: Path, since: str | tuple[str, ...], tips: tuple[str, ...] = ()) -> list[str]:
    """rev-list arguments for "the commits after REV": reachable from the tips (default: every
    ref), not from REV (or from any of several REVs: the ref tips of an earlier scan), in one range."""
    olds = (since,) if isinstance(since, str) else since
    for rev, oid in zip((*olds, *tips), resolve_commits(repo, [*olds, *tips]), strict=True):
        if oid is None:
            raise StsleakError(f"unknown revision {rev!r} in {repo}: not a commit")
    return [*(tips or ("--all",)), *(f"^{rev}" for rev in olds)]


def _blobs_since(repo: Path, revs: list[str]) -> list[str]:
    """Every blob a commit in `revs` put at some path: the result side of each change."""
    out = run_git_bytes(repo, "log", *revs, "--raw", "-z", "-c", "--root", "--no-abbrev", "--no-renames",
                        "--no-color", "--no-ext-diff", "--no-textconv", "--no-show-signature", "--format=", "--")
    changes = (token.lstrip(b"\n") for token in out.split(b"\0"))
    results = (raw_change_result(token) for token in changes if token.startswith(b":"))
    return list(dict.fromkeys(oid for oid in results if oid))


def _tags_of(repo: Path, commits: set[bytes]) -> list[str]:
    """The annotated tags (of any ref) whose tagged object is one of `commits`."""
    out = run_git_bytes(repo, "for-each-ref", "--format=%(objecttype) %(objectname) %(*objectname)")
    rows = (line.split() for line in out.splitlines())
    return list(dict.fromkeys(row[1].decode() for row in rows if len(row) == 3 and row[0] == b"tag"
                              and row[2] in commits))


def _list_since(repo: Path, revs: list[str], max_size: int, stats: ScanStats) -> _Listing:
    """The blobs the commits in `revs` put at some path, those commits and the tags of them."""
    commits = run_git_bytes(repo, "rev-list", *revs, "--").split()
    oids = _blobs_since(repo, revs)
    missing = missing_since(repo, revs)  # a partial clone's: cat-file would try to fetch them
    if missing:
        oids = [oid for oid in oids if oid not in missing]
        report_missing(repo, sorted(missing), stats)
    oids += [oid.decode() for oid in commits] + _tags_of(repo, set(commits))
    err = temp_file()
    with stdin_file("".join(f"{oid}\n" for oid in oids).encode()) as stdin:
        proc = popen_git(repo, "cat-file", _CHECK_FORMAT, "--buffer", stdin=stdin, stdout=subprocess.PIPE, stderr=err)
    return _read_listing(proc, err, max_size, stats, repo)


class HistoryScan:
    """One history scan: the chunks to run detection on, then where their blobs came from.

    Iterating yields the chunks; `introductions(blobs)` then places just the blobs detection found
    something in: from the full history's one walk (scanner/sources/git/walk.py), the commits from
    the first that can hold one of them on, and the listed commits no ref reaches; with `--since`,
    the commits of the range. Used as a context manager, the walk's verdict (missing objects, a
    failed walk) is collected on leaving it rather than at the end of the chunks.
    """

    def __init__(self, repo: Path, since: str | tuple[str, ...] | None, max_size: int, prefilter: Prefilter,
                 stats: ScanStats, tips: tuple[str, ...] = (), progress: Progress = NO_PROGRESS) -> None:
        self.repo, self.since, self.max_size, self.prefilter, self.stats = repo, since, max_size, prefilter, stats
        self.tips, self.progress = tips, progress
        self._commits = b""  # the listed commits (`id\n` records), kept only when a blob had a hit
        self._commit_count = 0
        self._messages: dict[str, Introduction] = {}  # commits and tags read for their message: their place
        self._walk: HistoryWalk | None = None
        self._deferred = False  # inside `with`: the walk's verdict is collected in __exit__

    def __enter__(self) -> HistoryScan:
        self._deferred = True
        return self

    def __exit__(self, kind: type[BaseException] | None, *_: object) -> None:
        if kind is None:
            self._finish_walk()
        else:
            self._cancel_walk()

    def __iter__(self) -> Iterator[Chunk]:
        return self.chunks()

    def chunks(self) -> Iterator[Chunk]:
        try:
            yield from self._chunks()
        except BaseException:  # an error, Ctrl-C or an abandoned iteration: stop git, don't wait
            self._cancel_walk()
            raise
        if not self._deferred:
            self._finish_walk()

    def _cancel_walk(self) -> None:
        if self._walk:
            self._walk.cancel()
            self._walk = None

    def _finish_walk(self) -> None:
        """Wait for the walk; what it found missing (or that it failed) goes to the stats."""
        walk, self._walk = self._walk, None
        if walk is None:
            return
        try:
            problem = walk.problem()
            if problem:
                self.stats.errors.append(_corrupt(self.repo, problem))
            report_missing(self.repo, walk.missing(), self.stats)
        finally:
            walk.cancel()

    def _chunks(self) -> Iterator[Chunk]:
        """The objects with a prefilter hit, read again piece by piece as the stream finishes each
        one (in list order: blobs, then commits and tags), while git goes on with the rest."""
        listing = self._listing()
        lists = listing.streams()
        results = [Streamed() for _ in lists]
        held: list[tuple[int, list[int]]] = []  # big objects with hits, read once git is done streaming
        reading: list[int] | None = None  # [objects read] once the stream is over (progress counts those)
        for piece in self._stream(lists, results):
            sizes = lists[piece.which].sizes
            if piece.rest is None:  # git still streams: read the small ones now
                held.append((piece.which, [i for i in piece.hits if sizes[i] > _HELD_SIZE]))
                yield from self._read(lists, piece.which, [i for i in piece.hits if sizes[i] <= _HELD_SIZE])
                continue
            if reading is None:
                reading = yield from self._read_held(lists, held, piece.rest)
            yield from self._read(lists, piece.which, piece.hits, reading)
        if reading is None:  # the last pieces had no hits
            yield from self._read_held(lists, held, 0)
        self._report_unreadable(lists, results)
        self._commits = bytes(listing.commits) if results[0].hits else b""  # one copy, only when something is placed
        self._commit_count = len(listing.commits) // (listing.commits.index(b"\n") + 1) if self._commits else 0

    def _read_held(self, lists: list[BlobList], held: list[tuple[int, list[int]]],
                   more: int) -> Generator[Chunk, None, list[int]]:
        """The stream is over: progress counts the objects left to read (the held ones, then `more`),
        and the held ones are read first. Returns the counter the rest of the reading goes on with."""
        count = more + sum(len(hits) for _, hits in held)
        if count:
            self.progress.stage(f"reading {count} object{'s' if count != 1 else ''} with hits", count)
        reading = [0]
        for which, hits in held:
            yield from self._read(lists, which, hits, reading)
        return reading

    def _read(self, lists: list[BlobList], which: int, hits: list[int],
              reading: list[int] | None = None) -> Iterator[Chunk]:
        """Objects `hits` of list `which`, read again: a blob whole, a commit or tag its message."""
        objects = lists[which]
        for oid, data in read_blobs(self.repo, [objects.oid(i) for i in hits]):
            if reading is not None:
                reading[0] += 1
                self.progress.update(reading[0])
            if data is None:
                self.stats.errors.append(_corrupt(self.repo, f"object {oid} cannot be read"))
            elif which:
                message, self._messages[oid] = split_message(oid, objects.kind.decode(), data)
                yield Chunk(data=message, blob=oid)
            else:
                yield Chunk(data=data, blob=oid)

    def _listing(self) -> _Listing:
        """Every blob, commit and tag to stream, and the commits provenance looks at."""
        self.progress.stage("listing objects")
        borrowed = survey(self.repo)
        self.stats.notes += borrowed.notes
        if self.since is not None:  # the commits after REV: reached from this repository's refs
            return _list_since(self.repo, since_revs(self.repo, self.since, self.tips), self.max_size, self.stats)
        # From the start, beside the stream (at low priority, unless the listing waits for it).
        self._walk = HistoryWalk(self.repo, reached=borrowed.borrows_objects)
        if not borrowed.borrows_objects:
            return _list_all(self.repo, self.max_size, self.stats, self.progress)
        return self._list_own(borrowed)

    def _list_own(self, borrowed: Borrowed) -> _Listing:
        """A repository that borrows objects: those stored in it, and those its refs and reflogs reach."""
        assert self._walk is not None
        keep = local_objects(self.repo, borrowed.objects)
        keep |= self._walk.reached()
        listing = _list_all(self.repo, self.max_size, self.stats, self.progress, keep)
        if listing.left_out:
            self.stats.skipped[ALTERNATE_ONLY] = self.stats.skipped.get(ALTERNATE_ONLY, 0) + listing.left_out
        self.stats.notes.append(lender_note(self.repo, borrowed, listing.left_out))
        return listing

    def _stream(self, lists: list[BlobList], results: list[Streamed]) -> Iterator[Piece]:
        """Which objects of each list the prefilter finds a literal in, piece by piece."""
        if not any(len(objects) for objects in lists):
            return iter(())
        return stream_pieces(str(self.repo), lists, self.prefilter, cores(), self.progress, results)

    def _report_unreadable(self, lists: list[BlobList], results: list[Streamed]) -> None:
        for objects, result in zip(lists, results, strict=True):
            kind = objects.kind.decode()
            for index, detail in result.unreadable[:_NAMED_UNREADABLE]:
                self.stats.errors.append(_corrupt(self.repo, f"{kind} {objects.oid(index)} cannot be read: {detail}"))
            more = len(result.unreadable) - _NAMED_UNREADABLE
            if more > 0:
                self.stats.errors.append(_corrupt(self.repo, f"{more} more {kind}s cannot be read"))
            if result.unreached:
                self.stats.errors.append(_corrupt(
                    self.repo, f"{result.unreached} {kind}s were not read: git failed on too many objects"))

    def introductions(self, blobs: set[str]) -> dict[str, list[Introduction]]:
        """Where each of these objects (all yielded by `chunks`) was introduced: a message at its
        commit or tag, a blob at each path `git log --find-object` finds it put at, among the
        commits that can hold it."""
        found = {oid: [self._messages[oid]] for oid in blobs if oid in self._messages}
        walked = blobs - found.keys()
        if not self._commits or not walked:
            return found
        self.progress.stage(f"placing {len(walked)} hit{'s' if len(walked) != 1 else ''} in history")
        commits = self._commits_to_show(walked)
        return {**introductions(self.repo, walked, commits), **found}

    def _commits_to_show(self, blobs: set[str]) -> bytes:
        """The commits that can have introduced `blobs`: with the walk, those from the first commit
        it prints one of them under, and the listed commits it never reached; without it (`--since`,
        or a walk git could not finish), every listed commit."""
        walk = self._walk
        if walk is None or walk.problem() is not None:
            return self._commits
        order = walk.order(blobs, self._commits.index(b"\n"))
        reached = order.since(min(order.first.values())) if order.first else b""
        if order.count == self._commit_count:  # the walk printed every listed commit: none is unreachable
            return reached
        printed = set(bytes(order.commits).split())
        return reached + b"".join(oid + b"\n" for oid in self._commits.split() if oid not in printed)
