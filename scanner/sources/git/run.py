"""Running git: the one hardened helper every git process stsleak starts goes through.

`git_argv` and `git_env` neutralise the scanned repository's executable and network settings
(scanner/sources/git/hardening.py); git's failures become one-line errors, git's own reason kept
(a repository owned by another user is refused by git, not "not a git repository").
"""

from __future__ import annotations

import os
import subprocess
import threading
from collections.abc import Callable, Iterator
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import IO, Any

from scanner.errors import StsleakError
from scanner.sources.git.hardening import environment, fixed_args, override_args
from scanner.sources.git.includes import check_repository


def git_path() -> str:
    """git on PATH (what shutil.which does, without importing shutil on the pre-commit path)."""
    names = ("git.exe", "git") if os.name == "nt" else ("git",)
    for directory in os.get_exec_path():
        for name in names:
            candidate = os.path.join(directory, name)
            if os.access(candidate, os.X_OK) and not os.path.isdir(candidate):
                return candidate
    raise StsleakError("git is not installed or not on PATH")


def git_env() -> dict[str, str]:
    """The environment of every git process: the user's, minus what could run a program or reach
    the network."""
    return environment(dict(os.environ))


@lru_cache(maxsize=32)
def _repo_overrides(repo: str) -> tuple[str, ...]:
    """`-c key=` for each program-naming key with a free subsection the repository's config sets."""
    check_repository(Path(repo))  # before git's first run in it: nothing there may make git wait forever
    proc = subprocess.run([git_path(), "--no-pager", *fixed_args(), "-C", repo, "config", "--list", "--name-only",
                           "-z"], env=git_env(), capture_output=True, stdin=subprocess.DEVNULL)
    if proc.returncode != 0:
        return ()
    return tuple(override_args(proc.stdout.decode("utf-8", "replace").split("\0")))


def git_argv(repo: Path | str, *args: str) -> list[str]:
    """The command line of a hardened git process working in `repo`."""
    return [git_path(), "--no-pager", *fixed_args(), *_repo_overrides(str(repo)), "-C", str(repo), *args]


def popen_git(repo: Path | str, *args: str, **kwargs: Any) -> subprocess.Popen[bytes]:
    return subprocess.Popen(git_argv(repo, *args), env=git_env(), **kwargs)


def _run(repo: Path | str, *args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(git_argv(repo, *args), env=git_env(), capture_output=True, stdin=subprocess.DEVNULL)


def refusal(repo: Path | str, stderr: str) -> str | None:
    """git's own reason when it refuses to work in a repository (safe.directory), and what to do."""
    if "dubious ownership" not in stderr:
        return None
    where = os.path.abspath(repo)
    for line in stderr.splitlines():
        if "dubious ownership" in line and "'" in line:
            where = line.split("'", 1)[1].rsplit("'", 1)[0]
    return (f"git refuses to work in {where}: detected dubious ownership in repository (it is owned by another "
            "user, so its config could run code); if you trust it: git config --global --add safe.directory "
            f"{where}, or scan a copy you own (cp -r) or its history with a fresh clone")


def _failure(repo: Path | str, args: tuple[str, ...], proc: subprocess.CompletedProcess[bytes]) -> StsleakError:
    stderr = proc.stderr.decode(errors="replace").strip()
    refused = refusal(repo, stderr)
    if refused:
        return StsleakError(refused)
    lines = [line for line in stderr.splitlines() if line.strip()]
    detail = lines[-1] if lines else f"exit code {proc.returncode}"
    return StsleakError(f"git {args[0]} failed in {repo}: {detail}")


def run_git_bytes(repo: Path, *args: str, check: bool = True) -> bytes:
    """git's stdout as bytes (paths need not be UTF-8); a one-line error when it fails."""
    proc = _run(repo, *args)
    if check and proc.returncode != 0:
        raise _failure(repo, args, proc)
    return proc.stdout


def git_succeeds(repo: Path, *args: str) -> bool:
    """True when git exits 0 (e.g. `check-ignore -q`)."""
    return _run(repo, *args).returncode == 0


def run_git(repo: Path, *args: str, check: bool = True) -> str:
    return run_git_bytes(repo, *args, check=check).decode("utf-8", errors="replace")


def repo_config_value(repo: Path, key: str) -> str | None:
    """A key as the repository's own config file sets it (not our overrides), or None."""
    proc = _run(repo, "config", "--local", "--get", key)
    return proc.stdout.decode(errors="replace").strip() if proc.returncode == 0 else None


def configured(repo: Path, key: str) -> tuple[str, str] | None:
    """(value, where it is set) of a key as the user's and the repository's config files set it,
    ignoring the overrides of this module (the last file wins, as in git)."""
    out = _run(repo, "config", "--show-origin", "-z", "--get-all", key).stdout.decode(errors="replace")
    fields = out.split("\0")
    pairs = [(fields[i + 1], fields[i]) for i in range(0, len(fields) - 1, 2)]
    from_files = [(value, origin) for value, origin in pairs if not origin.startswith("command line")]
    return from_files[-1] if from_files else None


class RepoKind(StrEnum):
    WORK_TREE = "work-tree"  # a work tree or a directory in one
    GIT_DIR = "git-dir"  # inside a repository's .git directory, or a bare repository's subdirectory
    BARE = "bare"  # the top of a bare repository
    REFUSED = "refused"  # git will not work in it (safe.directory)
    NONE = "none"  # not in a repository


def repo_kind(path: Path) -> tuple[RepoKind, str]:
    """What git makes of a directory, and git's reason when it refuses it."""
    proc = _run(path, "rev-parse", "--is-inside-work-tree", "--is-bare-repository", "--absolute-git-dir")
    if proc.returncode != 0:
        reason = refusal(path, proc.stderr.decode(errors="replace"))
        return (RepoKind.REFUSED, reason) if reason else (RepoKind.NONE, "")
    inside, bare, git_dir = ([*proc.stdout.decode(errors="replace").splitlines(), "", "", ""])[:3]
    if inside == "true":
        return RepoKind.WORK_TREE, ""
    if bare == "true" and Path(git_dir).resolve() == path.resolve():
        return RepoKind.BARE, ""
    return RepoKind.GIT_DIR, ""


def is_work_tree(path: Path) -> bool:
    return repo_kind(path)[0] == RepoKind.WORK_TREE


def require_repo(repo: Path) -> Path:
    """`repo` itself when git can work in it (a work tree, a subdirectory or a bare repository);
    a clear one-line error otherwise (git's own reason when it refuses the repository)."""
    if not repo.exists():
        raise StsleakError(f"no such directory: {repo}")
    proc = _run(repo, "rev-parse", "--git-dir")
    if proc.returncode != 0:
        raise StsleakError(refusal(repo, proc.stderr.decode(errors="replace")) or f"not a git repository: {repo}")
    return repo


def is_partial_clone(repo: Path) -> bool:
    """A partial clone (`clone --filter`): objects may be missing on purpose, to be fetched lazily,
    which stsleak never does."""
    proc = _run(repo, "config", "--local", "--get-regexp", r"^(extensions\.partialclone|remote\..*\.promisor)$")
    return any(line.split(" ", 1)[-1].strip() not in ("", "false")
               for line in proc.stdout.decode(errors="replace").splitlines())


def is_shallow(repo: Path) -> bool:
    return run_git(repo, "rev-parse", "--is-shallow-repository", check=False).strip() == "true"


def _read_answer(stdout: IO[bytes]) -> tuple[bytes | None, bool]:
    """One `cat-file --batch` answer: the header line, then the content (None: missing or cut
    short), and whether git is still answering (False: it died, e.g. on a corrupt object)."""
    line = stdout.readline()
    header = line.split()
    if len(header) != 3 or not header[2].isdigit() or line.endswith(b" missing\n"):
        return None, line.endswith(b"\n")  # `<name> missing` (a name may hold spaces), or the end of git's output
    size = int(header[2])
    data = stdout.read(size + 1)
    return (data[:-1], True) if len(data) == size + 1 else (None, False)


class BlobReader:
    """`git cat-file --batch` kept open: read many blobs by id through one process."""

    def __init__(self, repo: Path) -> None:
        self._proc = popen_git(repo, "cat-file", "--batch", stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                               stderr=subprocess.DEVNULL)

    def read(self, oid: str) -> bytes | None:
        assert self._proc.stdin and self._proc.stdout
        self._proc.stdin.write(oid.encode() + b"\n")
        self._proc.stdin.flush()
        return _read_answer(self._proc.stdout)[0]

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
    """(id, content or None when missing or unreadable) for each id, through one `git cat-file
    --batch`; when git dies on a corrupt object, a new one reads the ids after it."""
    done = 0
    while done < len(oids):
        with stdin_file("".join(f"{oid}\n" for oid in oids[done:]).encode()) as stdin:
            proc = popen_git(repo, "cat-file", "--batch", "--buffer", stdin=stdin, stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL)
        assert proc.stdout is not None
        try:
            for oid in oids[done:]:
                data, alive = _read_answer(proc.stdout)
                done += 1
                yield oid, data
                if not alive:
                    break
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
        """`args`: a command line from `git_argv`."""
        self._err = temp_file()
        self.proc = subprocess.Popen(args, stdin=stdin, stdout=subprocess.PIPE, stderr=self._err, env=git_env())
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
    a b c MM`: one mode and id per parent, then the result's), or None for a deletion, a gitlink (a
    submodule's commit, which is no object of this repository) or a malformed record."""
    parents = len(meta) - len(meta.lstrip(b":"))
    fields = meta[parents:].split()
    if len(fields) <= 2 * parents + 1 or fields[parents] == b"160000":
        return None
    oid = fields[2 * parents + 1].decode()
    return oid if oid.strip("0") else None



def network_git_env() -> dict[str, str]:
    """The environment of a network git call: no prompts; the user's own GIT_SSH_COMMAND kept, else a
    non-interactive ssh; no other GIT_* variable of the calling shell."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_") or k in ("GIT_SSH_COMMAND", "GIT_SSH")}
    env.update(GIT_TERMINAL_PROMPT="0", GIT_NO_REPLACE_OBJECTS="1")
    env.setdefault("GIT_SSH_COMMAND", "ssh -o BatchMode=yes")
    return env


def network_git_argv(scheme: str, *args: str) -> list[str]:
    """git for a network call the user asked for (`org scan`'s ls-remote and mirror clone), run outside
    any repository, so no scanned repo's config applies: only the URL's own transport is allowed (no
    `ext::` commands, no redirects to another one), and no hook or fsmonitor runs. The user's credential
    helper and SSH setup stay in force."""
    return [git_path(), "-c", "protocol.allow=never", "-c", f"protocol.{scheme}.allow=always",
            "-c", "core.hooksPath=/dev/null", "-c", "core.fsmonitor=false", *args]


def run_network_git(scheme: str, args: list[str], timeout: float, cwd: Path) -> subprocess.CompletedProcess[bytes]:
    """A network git call in its own process group, killed whole when `timeout` runs out."""
    if timeout <= 0:
        raise TimeoutError("timed out")
    proc = subprocess.Popen(network_git_argv(scheme, *args), cwd=cwd, env=network_git_env(),
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            start_new_session=True)
    return finish_within(proc, timeout)


def finish_within(proc: subprocess.Popen[bytes], timeout: float) -> subprocess.CompletedProcess[bytes]:
    """Wait for a process started with `start_new_session=True`; past `timeout` kill its whole group."""
    import signal

    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        raise TimeoutError(f"timed out after {timeout:.0f} s") from None
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)
