"""Prefilter a list of blobs at the speed git can inflate them, on every core.

The blob list (ids and sizes, from `git cat-file --batch-check`) is cut into contiguous pieces of
about equal bytes: four per core, but no piece under 64 MB unless each core would go without one.
One `git cat-file --batch` reads each piece, a core at a time; a process that ends early starts the
next piece, so no core idles while the slowest ends (git's speed varies along a pack). The caller
gets each piece's hits as soon as it and the pieces before it are read, in order, and reads and
checks those objects while git streams the rest.

Because every size is known up front, the byte offset of every object in each output stream is
known too: a reader thread only reads big blocks into one reused buffer and hands each block to the
prefilter's C scanner; a match's offset maps back to its blob by bisection. No Python code runs per
object, so the cost is the pipe copy plus the scan. Blobs with a hit are returned as indices; the
caller reads them again.

One corrupt object makes `cat-file --batch` die. Everything before it in the piece was read and
scanned; the object where the output stops is the bad one (git writes objects whole, or streams a
big loose one up to the damage): it is reported by id, and a new process reads the rest of the piece.

Git writes a pipe in small pieces; a reader that wakes for each one costs git more than the
reading itself. So the reader spaces its reads by about the time git needs to half-fill the
enlarged pipe, measured as it goes (`_Pacer`: real repositories write 0.8-1.3 GB/s, a synthetic
one of small blobs a fifth of that).
"""

from __future__ import annotations

import io
import threading
import time
from array import array
from bisect import bisect_right
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import IO

from scanner.errors import StsleakError
from scanner.sources import NO_PROGRESS, BufferScanner, Prefilter, Progress
from scanner.sources.git.run import ThreadedGit, git_argv, stdin_file

_BUFFER = 1 << 20
_SPLIT_MIN_BYTES = 8 << 20  # below this one git process is quicker than starting several
# Pieces per process slot: a process that finishes early takes the next, so the slowest part no longer
# sets the end (curl/curl: parts 2.0 and 2.7 s; 4 a slot: the stream 0.4 s sooner; 2 or 4 alike there,
# 8 costs more in process starts and cold delta caches than it balances).
_PIECES_PER_PROCESS = 4
_PIECE_MIN_BYTES = 64 << 20  # a smaller repository gets one piece a process (psf/requests: 2 of 63 MB)
_MAX_RESTARTS = 256  # unreadable objects after which the rest of a stream is given up (and counted)


@dataclass
class BlobList:
    """Object ids (as `id\\n` records of one width, ready for git's stdin) and their sizes, all of one
    type (blobs, unless `kind` says otherwise: commits and tags stream the same way)."""

    kind: bytes = b"blob"
    width: int = 0
    records: bytearray = field(default_factory=bytearray)
    sizes: array = field(default_factory=lambda: array("q"))

    def __len__(self) -> int:
        return len(self.sizes)

    def extend(self, blobs: list[tuple[int, bytes]]) -> None:
        """Append (size, id) pairs."""
        if not blobs:
            return
        self.width = len(blobs[0][1]) + 1
        self.records += b"\n".join(oid for _, oid in blobs) + b"\n"
        self.sizes.extend(size for size, _ in blobs)

    def oid(self, index: int) -> str:
        start = index * self.width
        return self.records[start : start + self.width - 1].decode()

    def stdin(self, lo: int, hi: int) -> IO[bytes]:
        """The records lo..hi as a file git can read while we read its stdout."""
        with memoryview(self.records) as view:
            return stdin_file(view[lo * self.width : hi * self.width])


def _split(blobs: BlobList, parts: int) -> list[tuple[int, int]]:
    """Contiguous index ranges of about equal bytes (pack order keeps delta bases together)."""
    total = sum(blobs.sizes)
    if parts <= 1 or total < _SPLIT_MIN_BYTES:
        return [(0, len(blobs))]
    bounds: list[tuple[int, int]] = []
    acc, lo = 0, 0
    step = total / parts
    for i, size in enumerate(blobs.sizes):
        acc += size
        if acc >= step * (len(bounds) + 1) and len(bounds) < parts - 1:
            bounds.append((lo, i + 1))
            lo = i + 1
    bounds.append((lo, len(blobs)))
    return [b for b in bounds if b[0] < b[1]]


def _header_starts(blobs: BlobList, lo: int, hi: int) -> array:
    """Stream offset of each object of `cat-file --batch` output: `<id> <kind> <size>\\n<data>\\n`."""
    starts = array("q", [0])
    fixed = blobs.width - 1 + len(blobs.kind) + 2 + 1
    pos = 0
    for size in blobs.sizes[lo:hi]:
        pos += fixed + len(str(size)) + size + 1
        starts.append(pos)
    return starts


class _Pacer:
    """When the reader reads next, adapted to how fast this git process writes.

    Git writes a pipe in small pieces; a reader that wakes for each one costs git more than the
    reading itself, and a reader that naps too long leaves git blocked on a full pipe. So the
    pacer aims at reads of about half the pipe: from each read it estimates git's write rate
    (the bytes read over the time since the previous read) and spaces reads by the time git
    needs to write half a pipe at that rate. A full pipe means git may have waited: the rate is
    then only a lower bound, so the spacing is halved instead.
    """

    _MIN_GAP = 50e-6  # closer reads cost more in wake-ups than they save
    # Longer naps cost more than they save: git's rate swings (a run of deltas, then plain blobs) and a
    # gap estimated in a slow stretch left git blocked on a full pipe. At 1 ms (not 20) the stream of
    # curl/curl's blobs took 5.4 s instead of 7.4, git/git's 10 instead of 13.5, at the same CPU time.
    _MAX_GAP = 1e-3

    def __init__(self, pipe_size: int) -> None:
        self._target = pipe_size // 2
        self._full = pipe_size - (pipe_size >> 4)
        self._gap = self._MIN_GAP
        self._last = time.perf_counter()

    def read(self, n: int) -> None:
        """Note a read of n bytes that has just returned."""
        now = time.perf_counter()
        elapsed, self._last = now - self._last, now
        # A full pipe: git may have waited, so the rate is only a lower bound; read sooner.
        wanted = self._gap / 2 if n >= self._full else self._target * elapsed / n
        self._gap = min(max((self._gap + wanted) / 2, self._MIN_GAP), self._MAX_GAP)

    def wait(self) -> None:
        """Nap until the next read is due (the scan since the last read counts)."""
        nap = self._last + self._gap - time.perf_counter()
        if nap > self._MIN_GAP:
            time.sleep(nap)


class _PartReader:
    """Reads one `cat-file --batch` stream and records which of its objects the prefilter hits."""

    def __init__(self, fd: int, starts: array, scanner: BufferScanner, overlap: int, pipe_size: int) -> None:
        self.fd, self.starts, self.scanner, self.overlap = fd, starts, scanner, overlap
        self._pacer = _Pacer(pipe_size)
        self.hits: list[int] = []
        self.read = 0
        self.error: BaseException | None = None
        self.done = threading.Event()
        self._base = 0  # stream offset of buffer[0]
        self._resume = 0  # stream offset from which to scan: past the last blob with a hit

    def _on_hit(self, end: int) -> int:
        index = bisect_right(self.starts, self._base + end - 1) - 1
        self.hits.append(index)
        self._resume = self.starts[index + 1]
        return self._resume - self._base

    def run(self) -> None:
        try:
            self._run()
        except BaseException as exc:  # re-raised by the main thread
            self.error = exc
        finally:
            self.done.set()

    def progress(self) -> tuple[int, int]:
        """(objects, bytes) of the stream read so far (read by another thread: a snapshot)."""
        base = self._base
        return bisect_right(self.starts, base) - 1, base

    def _run(self) -> None:
        buf = bytearray(_BUFFER + self.overlap)
        held = 0
        pacer = self._pacer
        with memoryview(buf) as view, io.FileIO(self.fd, closefd=False) as pipe:
            while n := pipe.readinto(view[held:]):  # one read(2) into the reused buffer
                pacer.read(n)
                end = held + n
                begin = max(self._resume - self._base, 0)
                if begin < end:
                    self.scanner.scan(buf, begin, end, self._on_hit)
                keep = min(max(end - self.overlap + 1, self._resume - self._base, 0), end)
                buf[: end - keep] = bytes(view[keep:end])  # the few bytes a match may straddle
                self._base += keep
                held = end - keep
                pacer.wait()
        self.read = self._base + held


@dataclass
class Streamed:
    """What streaming one list found: the indices with a prefilter hit, the objects git could not
    read (index, git's reason), and how many objects were never reached (past _MAX_RESTARTS)."""

    hits: list[int] = field(default_factory=list)
    unreadable: list[tuple[int, str]] = field(default_factory=list)
    unreached: int = 0


class _Part:
    """One `git cat-file --batch` over objects lo..hi of one list and the thread that reads its
    output; started when a process slot is free, `done` once its output is read."""

    def __init__(self, which: int, blobs: BlobList, lo: int, hi: int) -> None:
        self.which, self.blobs, self.lo, self.hi = which, blobs, lo, hi
        self.starts = _header_starts(blobs, lo, hi)
        self.git: ThreadedGit | None = None
        self.reader: _PartReader | None = None
        self.done = threading.Event()

    def start(self, repo: str, prefilter: Prefilter, on_done: Callable[[_Part], None]) -> None:
        with self.blobs.stdin(self.lo, self.hi) as stdin:
            self.git = ThreadedGit(git_argv(repo, "cat-file", "--batch", "--buffer"), stdin)
        reader = self.reader = _PartReader(self.git.stdout.fileno(), self.starts, prefilter.buffer_scanner(),
                                           prefilter.longest, self.git.pipe_size)

        def read() -> None:
            try:
                reader.run()
            finally:
                self.done.set()
                on_done(self)

        self.git.start(read)

    def progress(self) -> tuple[int, int]:
        return self.reader.progress() if self.reader else (0, 0)

    def stop(self) -> None:
        if self.git:
            self.git.stop()  # a no-op for a part that finished

    def finish(self) -> tuple[list[int], int | None, str]:
        """Wait for the part: its hits (as indices into the whole list), and when git died, the index
        of the object it died on (the output stops inside or just before it) and git's reason."""
        assert self.git is not None and self.reader is not None
        code, detail = self.git.finish()
        if self.reader.error is not None:
            raise self.reader.error
        read, expected = self.reader.read, self.starts[-1]
        if read == expected:
            return [self.lo + i for i in self.reader.hits], None, ""
        if code == 0 or read > expected:  # git answered otherwise than the listing said: offsets cannot be trusted
            raise StsleakError(f"git cat-file gave {read} of {expected} bytes (did the repository change?)")
        bad = bisect_right(self.starts, read) - 1
        return [self.lo + i for i in self.reader.hits if i < bad], self.lo + bad, detail or f"exit code {code}"


def _pieces(lists: list[BlobList], parts: int) -> list[_Part]:
    """Each list cut into contiguous pieces, `_PIECES_PER_PROCESS` per process that runs at once
    (fewer for a small list): a process that finishes early takes the next piece, so no core idles
    while the slowest part ends (git's speed differs along a pack: deltas, big blobs). In order:
    the blobs, then the messages."""
    pieces: list[_Part] = []
    for which, blobs in enumerate(lists):
        if len(blobs):
            count = min(parts * _PIECES_PER_PROCESS, max(parts, sum(blobs.sizes) // _PIECE_MIN_BYTES))
            pieces += [_Part(which, blobs, lo, hi) for lo, hi in _split(blobs, count)]
    return pieces


class _Pool:
    """At most `parts` git processes at a time: the reader that finishes a piece starts the next one
    itself, so the pool keeps going while the caller works on what came out of earlier pieces."""

    def __init__(self, repo: str, prefilter: Prefilter, parts: int, pieces: list[_Part]) -> None:
        self.repo, self.prefilter, self.parts = repo, prefilter, max(parts, 1)
        self._waiting = deque(pieces)
        self._lock = threading.Lock()
        self._running = 0
        self._stopped = False
        self.started: list[_Part] = []
        self.error: BaseException | None = None  # a failure to start git, raised by the caller

    def fill(self) -> None:
        with self._lock:
            while self._waiting and self._running < self.parts and not self._stopped:
                part = self._waiting.popleft()
                self._running += 1
                self.started.append(part)
                try:
                    part.start(self.repo, self.prefilter, self._finished)
                except Exception as exc:  # git could not be started: the caller raises it
                    self.error, self._stopped = exc, True
                    part.done.set()

    def _finished(self, _part: _Part) -> None:
        with self._lock:
            self._running -= 1
        self.fill()

    def run_now(self, part: _Part) -> None:
        """Start `part` (a restart after an unreadable object) before the pieces still waiting."""
        with self._lock:
            self._waiting.appendleft(part)
        self.fill()

    def progress(self) -> tuple[int, int]:
        counts = [part.progress() for part in list(self.started)]
        return sum(c[0] for c in counts), sum(c[1] for c in counts)

    def stop(self) -> None:
        with self._lock:
            self._stopped = True
            started = list(self.started)
        for part in started:
            part.stop()


def _wait(part: _Part, pool: _Pool, progress: Progress) -> None:
    """Wait for one piece, telling progress how far all have got about ten times a second. When git
    could not be started for some piece, the pool stopped: no piece after it will end, so raise."""
    while not part.done.wait(0.1):
        if pool.error is not None:
            break
        progress.update(*pool.progress())
    if pool.error is not None:
        raise pool.error


@dataclass
class Piece:
    """The hits of one piece of a list (indices into it); `rest`: once the whole stream is read, how
    many hits this piece and those after it hold (None while git still reads)."""

    which: int
    hits: list[int]
    rest: int | None = None


def stream_pieces(repo: str, lists: list[BlobList], prefilter: Prefilter, parts: int,
                  progress: Progress = NO_PROGRESS, results: list[Streamed] | None = None) -> Iterator[Piece]:
    """Each list's objects through the prefilter, in pieces, `parts` git processes at a time: the
    hits of each piece as soon as it and every piece before it are read, in list and object order,
    so the caller works on early hits while git reads the rest.

    An object git cannot read is recorded in `results` (one Streamed per list), and the rest of its
    piece is read by a new process."""
    results = results if results is not None else [Streamed() for _ in lists]
    pieces = _pieces(lists, parts)
    if progress is not NO_PROGRESS:
        progress.stage("streaming blobs", sum(map(len, lists)), sum(part.starts[-1] for part in pieces))
    pool = _Pool(repo, prefilter, parts, pieces)
    order, restarts, ready = deque(pieces), 0, []
    try:
        pool.fill()
        while order:
            part = order.popleft()
            _wait(part, pool, progress)
            hits, bad, detail = part.finish()
            results[part.which].hits += hits
            if bad is not None:
                results[part.which].unreadable.append((bad, detail))
                if bad + 1 < part.hi and restarts < _MAX_RESTARTS:
                    restarts += 1
                    order.appendleft(_Part(part.which, lists[part.which], bad + 1, part.hi))
                    pool.run_now(order[0])
                else:
                    results[part.which].unreached += part.hi - bad - 1
            if hits:
                ready.append(Piece(part.which, hits))
            if order and order[0].done.is_set():
                continue  # the next piece is read too: take it before handing these over
            if not order:  # all read: say how many hits are left
                for left, piece in zip(range(len(ready), 0, -1), ready, strict=True):
                    piece.rest = sum(len(p.hits) for p in ready[-left:])
            yield from ready
            ready = []
    finally:
        pool.stop()


def stream(repo: str, lists: list[BlobList], prefilter: Prefilter, parts: int,
           progress: Progress = NO_PROGRESS) -> list[Streamed]:
    """Each list's objects through the prefilter (see stream_pieces): every hit, in order, and the
    objects git could not read."""
    results = [Streamed() for _ in lists]
    for _ in stream_pieces(repo, lists, prefilter, parts, progress, results):
        pass  # the hits are in `results`
    return results


def hit_blobs(repo: str, blobs: BlobList, prefilter: Prefilter, parts: int,
              progress: Progress = NO_PROGRESS) -> list[int]:
    """Indices (into `blobs`) of the blobs in which the prefilter finds a literal; an error when git
    cannot read one of them (`stream` says which and goes on)."""
    (result,) = stream(repo, [blobs], prefilter, parts, progress)
    if result.unreadable:
        index, detail = result.unreadable[0]
        raise StsleakError(f"git cat-file failed in {repo} on {blobs.oid(index)}: {detail} (corrupt repository?)")
    return result.hits
