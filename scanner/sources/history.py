"""Git history: every blob in the object database, read once, in one stream.

`git cat-file --batch-all-objects --batch --unordered` hands over every object (loose and packed,
reachable or not: amended, rebased-away and unmerged work included) exactly once. Non-blob
objects are skipped by their header; each blob passes a literal prefilter before anything else
looks at it. Where a blob came from (path, commit, author) is looked up later, and only for the
few blobs that hold a finding (scanner/provenance.py).
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

from scanner.errors import StsleakError
from scanner.model import Chunk, ScanStats
from scanner.sources.gitcmd import git_path, run_git

_READ_SIZE = 1 << 20


def _raise_pipe_size(fd: int) -> None:
    try:
        import fcntl

        fcntl.fcntl(fd, getattr(fcntl, "F_SETPIPE_SZ", 1031), 1 << 20)
    except (OSError, ImportError, AttributeError):
        pass


def _objects_since(repo: Path, since: str) -> list[str]:
    """Object ids added by commits after REV on any ref (`rev-list --objects --all --not REV`)."""
    run_git(repo, "rev-parse", "--verify", "--quiet", f"{since}^{{commit}}")
    out = run_git(repo, "rev-list", "--objects", "--all", "--not", since)
    return [line[:40] if len(line) >= 40 else line.split(" ")[0] for line in out.splitlines() if line]


def _start(repo: Path, since: str | None) -> subprocess.Popen[bytes]:
    if since is None:
        args = ["cat-file", "--batch-all-objects", "--batch", "--unordered"]
        stdin_data = None
    else:
        args = ["cat-file", "--batch"]
        stdin_data = "\n".join(_objects_since(repo, since)) + "\n"
    proc = subprocess.Popen(
        [git_path(), "-C", str(repo), *args],
        stdin=subprocess.PIPE if stdin_data is not None else subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    if stdin_data is not None:
        assert proc.stdin is not None
        # Write from a thread-free helper: rev-list output is small compared with the blobs.
        import threading

        def feed() -> None:
            try:
                proc.stdin.write(stdin_data.encode())  # type: ignore[union-attr]
                proc.stdin.close()  # type: ignore[union-attr]
            except BrokenPipeError:
                pass

        threading.Thread(target=feed, daemon=True).start()
    return proc


def iter_objects(stream_fd: int) -> Iterator[tuple[bytes, bytes, memoryview]]:
    """Parse `cat-file --batch` output: (object id, type, content view) per object.

    The content view points into a reused buffer and is valid only until the next iteration.
    """
    buf = bytearray()
    pos = 0
    eof = False

    def fill() -> bool:
        nonlocal buf, pos, eof
        if pos > (len(buf) >> 1):
            del buf[:pos]
            pos = 0
        data = os.read(stream_fd, _READ_SIZE)
        if not data:
            eof = True
            return False
        buf += data
        return True

    while True:
        nl = buf.find(b"\n", pos)
        while nl < 0:
            if not fill():
                if pos < len(buf):
                    raise StsleakError("git cat-file output ended in the middle of an object")
                return
            nl = buf.find(b"\n", pos)
        header = bytes(buf[pos:nl]).split()
        if len(header) == 2 and header[1] == b"missing":
            raise StsleakError(f"object {header[0].decode()} is missing: the repository is corrupt")
        if len(header) != 3:
            raise StsleakError(f"unexpected git cat-file output: {header[:3]!r}")
        oid, kind, size = header[0], header[1], int(header[2])
        end = nl + 1 + size
        while len(buf) < end + 1:
            start_offset = nl - pos
            if not fill():
                raise StsleakError("git cat-file output ended in the middle of an object")
            nl = pos + start_offset
            end = nl + 1 + size
        with memoryview(buf) as view:
            content = view[nl + 1 : end]
            try:
                yield oid, kind, content
            finally:
                content.release()
        pos = end + 1


def iter_history_chunks(
    repo: Path,
    since: str | None,
    max_size: int,
    prefilter: Callable[[bytes | memoryview], bool],
    stats: ScanStats,
) -> Iterator[Chunk]:
    """Blobs that pass the prefilter, as chunks with `blob` set and no path yet."""
    proc = _start(repo, since)
    assert proc.stdout is not None
    _raise_pipe_size(proc.stdout.fileno())
    try:
        for oid, kind, content in iter_objects(proc.stdout.fileno()):
            if kind != b"blob":
                continue
            stats.blobs += 1
            stats.bytes += len(content)
            if len(content) > max_size:
                stats.skip("too-large")
                continue
            if prefilter(content):
                yield Chunk(data=bytes(content), blob=oid.decode())
    finally:
        proc.stdout.close()
        err = proc.stderr.read().decode(errors="replace").strip() if proc.stderr else ""
        code = proc.wait()
        if proc.stderr:
            proc.stderr.close()
    if code != 0:
        detail = err.splitlines()[-1] if err else f"exit code {code}"
        raise StsleakError(f"git cat-file failed in {repo}: {detail} (corrupt repository?)")
