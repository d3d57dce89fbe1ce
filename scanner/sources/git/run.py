"""Running git: one place that turns git's failures into one-line errors."""

from __future__ import annotations

import os
import subprocess
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

from scanner.errors import StsleakError


def git_path() -> str:
    """git on PATH (what shutil.which does, without importing shutil on the pre-commit path)."""
    names = ("git.exe", "git") if os.name == "nt" else ("git",)
    for directory in os.get_exec_path():
        for name in names:
            candidate = os.path.join(directory, name)
            if os.access(candidate, os.X_OK) and not os.path.isdir(candidate):
                return candidate
    raise StsleakError("git is not installed or not on PATH")


def run_git_bytes(repo: Path, *args: str, check: bool = True) -> bytes:
    """git's stdout as bytes (paths need not be UTF-8); a one-line error when it fails."""
    proc = subprocess.run([git_path(), "-C", str(repo), *args], capture_output=True)
    if check and proc.returncode != 0:
        lines = proc.stderr.decode(errors="replace").strip().splitlines()
        raise StsleakError(f"git {args[0]} failed in {repo}: {lines[-1] if lines else f'exit code {proc.returncode}'}")
    return proc.stdout


def run_git(repo: Path, *args: str, check: bool = True) -> str:
    return run_git_bytes(repo, *args, check=check).decode("utf-8", errors="replace")


def is_work_tree(path: Path) -> bool:
    proc = subprocess.run(
        [git_path(), "-C", str(path), "rev-parse", "--is-inside-work-tree"],
        capture_output=True,
        text=True,
    )
    return proc.returncode == 0 and proc.stdout.strip() == "true"


def require_repo(repo: Path) -> Path:
    """`repo` itself when git can work in it (a work tree, a subdirectory or a bare repository);
    a clear one-line error otherwise."""
    if not repo.exists():
        raise StsleakError(f"no such directory: {repo}")
    proc = subprocess.run(
        [git_path(), "-C", str(repo), "rev-parse", "--git-dir"], capture_output=True, text=True
    )
    if proc.returncode != 0:
        raise StsleakError(f"not a git repository: {repo}")
    return repo


def is_shallow(repo: Path) -> bool:
    return run_git(repo, "rev-parse", "--is-shallow-repository", check=False).strip() == "true"


def _read_object(stdout: IO[bytes]) -> bytes | None:
    """One `cat-file --batch` answer: the header line, then the content (None: missing)."""
    header = stdout.readline().split()
    if len(header) != 3:
        return None
    return stdout.read(int(header[2]) + 1)[:-1]


class BlobReader:
    """`git cat-file --batch` kept open: read many blobs by id through one process."""

    def __init__(self, repo: Path) -> None:
        self._proc = subprocess.Popen(
            [git_path(), "-C", str(repo), "cat-file", "--batch"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )

    def read(self, oid: str) -> bytes | None:
        assert self._proc.stdin and self._proc.stdout
        self._proc.stdin.write(oid.encode() + b"\n")
        self._proc.stdin.flush()
        return _read_object(self._proc.stdout)

    def close(self) -> None:
        if self._proc.stdin:
            self._proc.stdin.close()
        self._proc.wait()

    def __enter__(self) -> BlobReader:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


def cores() -> int:
    """CPU cores this process may use, capped at 4: how many git processes to run side by side."""
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        usable = os.cpu_count() or 1
    return max(1, min(usable, 4))


def raise_pipe_size(fd: int, size: int = 1 << 20) -> int:
    """Enlarge a pipe (Linux): git then blocks less often on a full pipe. Returns the size it
    now has (64 KiB, the usual default, when that cannot be told)."""
    try:
        import fcntl

        return fcntl.fcntl(fd, getattr(fcntl, "F_SETPIPE_SZ", 1031), size)
    except (OSError, ImportError, AttributeError):
        return 1 << 16


def temp_file() -> IO[bytes]:
    """An unlinked temp file (for git's stdin, stderr or output); the caller closes it."""
    import tempfile  # not at module level: the pre-commit path does without it

    return tempfile.TemporaryFile()


def stdin_file(data: bytes | bytearray | memoryview) -> IO[bytes]:
    """An unlinked temp file holding `data`, rewound: a stdin git reads at its own pace, so there
    is no deadlock between our writing its stdin and reading its stdout."""
    handle = temp_file()
    handle.write(data)
    handle.seek(0)
    return handle


def last_error_line(err: IO[bytes]) -> str:
    """The last line git wrote to a stderr temp file (then closed)."""
    err.seek(0)
    lines = err.read().decode(errors="replace").strip().splitlines()
    err.close()
    return lines[-1] if lines else ""


def read_blobs(repo: Path, oids: list[str]) -> Iterator[tuple[str, bytes | None]]:
    """(id, content or None when missing) for each id, through one `git cat-file --batch`."""
    if not oids:
        return
    with stdin_file("".join(f"{oid}\n" for oid in oids).encode()) as stdin:
        proc = subprocess.Popen([git_path(), "-C", str(repo), "cat-file", "--batch", "--buffer"],
                                stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    assert proc.stdout is not None
    try:
        for oid in oids:
            yield oid, _read_object(proc.stdout)
    finally:
        proc.stdout.close()
        proc.wait()


class ThreadedGit:
    """A git process whose stdout a thread reads while the caller goes on; stderr to a temp file.

    `finish()` waits for both and returns git's exit code and last error line. On any error path
    call `stop()`: git is killed before the reading thread is joined and only then is the pipe
    closed, so the thread never reads a file descriptor number that has been reused.
    """

    def __init__(self, args: list[str], stdin: IO[bytes]) -> None:
        self._err = temp_file()
        self.proc = subprocess.Popen(args, stdin=stdin, stdout=subprocess.PIPE, stderr=self._err)
        assert self.proc.stdout is not None
        self.stdout = self.proc.stdout
        self.pipe_size = raise_pipe_size(self.stdout.fileno())
        self._thread: threading.Thread | None = None
        self._done = False

    def start(self, read: Callable[[], None]) -> None:
        self._thread = threading.Thread(target=read, daemon=True)
        self._thread.start()

    def finish(self) -> tuple[int, str]:
        if self._thread:
            self._thread.join()
        self.stdout.close()
        code = self.proc.wait()
        self._done = True
        return code, last_error_line(self._err)

    def stop(self) -> None:
        if self._done:
            return
        self._done = True
        self.proc.kill()
        if self._thread:
            self._thread.join()
        self.stdout.close()
        self.proc.wait()
        self._err.close()


def raw_change_result(meta: bytes) -> str | None:
    """The result-side object id of one `git log --raw -c` change record (`::100644 100644 100644
    a b c MM`: one mode and id per parent, then the result's), or None for a deletion or a
    malformed record."""
    parents = len(meta) - len(meta.lstrip(b":"))
    fields = meta[parents:].split()
    if len(fields) <= 2 * parents + 1:
        return None
    oid = fields[2 * parents + 1].decode()
    return oid if oid.strip("0") else None
