"""Files on disk: the paths given, or in a git work tree the tracked and untracked-not-ignored files.

Nothing whose real path leaves the scanned root is read. A directory walk does not follow a link
out of it (`symlink-outside-root`); a name git lists comes from an index the repository's author
wrote, so it is checked through every directory it runs through (`cloud/credentials` with `cloud ->
~/.aws`), and by its real path when absolute or holding `..` (`outside-root`). A directory git lists
as one entry (a submodule's checkout, an untracked nested repository) is scanned like any other
files under the root; a submodule with nothing checked out is counted (`gitlink`).
"""

from __future__ import annotations

import os
import stat
from collections import deque
from collections.abc import Iterator
from enum import Enum
from pathlib import Path

from scanner.errors import StsleakError
from scanner.model import Chunk, ScanStats
from scanner.sources import PathFilter
from scanner.sources.git.run import RepoKind, git_succeeds, repo_kind, run_git_bytes


def _display(path: Path) -> str:
    """The path as reported: relative to the current directory when under it; a name that is not
    valid UTF-8 shows U+FFFD where its bad bytes are."""
    text = str(path)
    if not os.path.isabs(text) and ".." not in path.parts:  # already relative to here (the usual case)
        shown = path.as_posix()
    else:
        rel = os.path.relpath(path)
        shown = path.as_posix() if rel.startswith("..") else Path(rel).as_posix()
    return shown.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _under(path: Path, root: Path) -> str:
    """The path relative to the scanned root, so exclude globs work from any current directory."""
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return path.as_posix()


def _within(real: str, real_root: str) -> bool:
    return real == real_root or real.startswith(real_root.rstrip(os.sep) + os.sep)


class _Beneath:
    """Whether a name git lists under `top` stays under the scan root.

    git lists an index entry `cloud/credentials` while `cloud` is a symbolic link (to ~/.aws, say),
    and prints an entry named `/home/me/.aws/credentials` or `../x` as it is. Each directory is
    looked at once (an lstat; its real path only when it is a link); a name's last component is
    checked where it is read (`_leaves`).
    """

    def __init__(self, top: Path, real_root: str) -> None:
        self._top = str(top)
        self._real_root = real_root
        self._dirs: dict[str, bool] = {"": True}

    def __call__(self, name: str) -> bool:
        if name.startswith("/") or ".." in name:  # git never writes these; a crafted index may
            return _within(os.path.realpath(os.path.join(self._top, name)), self._real_root)
        return self._directory(name.rpartition("/")[0])

    def _directory(self, directory: str) -> bool:
        inside = self._dirs.get(directory)
        chain = []
        while inside is None:  # up to the nearest directory already known (no recursion: names can be deep)
            chain.append(directory)
            directory = directory.rpartition("/")[0]
            inside = self._dirs.get(directory)
        for below in reversed(chain):
            inside = inside and self._stays(below)
            self._dirs[below] = inside
        return inside

    def _stays(self, directory: str) -> bool:
        path = os.path.join(self._top, directory)
        return not os.path.islink(path) or _within(os.path.realpath(path), self._real_root)


def _git_files(root: Path, no_ignore: bool, stats: ScanStats, real_root: str) -> Iterator[Path]:
    standard = () if no_ignore else ("--exclude-standard",)
    out = run_git_bytes(root, "ls-files", "-z", "--cached", "--others", *standard, "--deduplicate")
    if not no_ignore:
        _count_ignored(root, stats)
    beneath = _Beneath(root, real_root)
    for raw in dict.fromkeys(out.split(b"\0")):
        if not raw:
            continue
        name = os.fsdecode(raw)  # a name that is not valid UTF-8 still opens (surrogate escapes)
        if beneath(name):
            yield root / name
        else:
            stats.skip("outside-root")


def _count_ignored(root: Path, stats: ScanStats) -> None:
    """Untracked paths .gitignore hides (an ignored directory counts once): `stats.skipped.ignored`."""
    out = run_git_bytes(root, "ls-files", "-z", "--others", "--ignored", "--exclude-standard", "--directory",
                        check=False)
    count = sum(1 for name in out.split(b"\0") if name)
    if count:
        stats.skipped["ignored"] = stats.skipped.get("ignored", 0) + count


def _walk(root: Path, stats: ScanStats, real_root: str) -> Iterator[Path]:
    """Files under root, following directory symlinks that stay under real_root (the scan root's
    real path) but entering each real directory once."""
    seen: set[tuple[int, int]] = set()

    def unreadable(exc: OSError) -> None:
        where = _display(Path(exc.filename)) if exc.filename else _display(root)
        stats.errors.append(f"{where}: cannot read directory ({exc.strerror or exc.__class__.__name__})")

    for dirpath, dirnames, filenames in os.walk(root, followlinks=True, onerror=unreadable):
        st = os.stat(dirpath)
        if (st.st_dev, st.st_ino) in seen:
            stats.skip("symlink-loop")  # a loop (or a second link to a directory): already scanned
            dirnames[:] = []
            continue
        seen.add((st.st_dev, st.st_ino))
        dirnames[:] = sorted(d for d in dirnames if d != ".git" and not _leaves(Path(dirpath) / d, real_root, stats))
        for name in sorted(filenames):
            yield Path(dirpath) / name


def _leaves(path: Path, real_root: str, stats: ScanStats) -> bool:
    """A symbolic link (met in a scanned directory) to somewhere outside it: not followed, counted.
    A repository's `creds -> ~/.aws/credentials` must not make the scan read (and report, or
    upload in SARIF) the scanning machine's own files; a link to `/` must not walk the disk."""
    if not os.path.islink(path) or _within(os.path.realpath(path), real_root):
        return False
    stats.skip("symlink-outside-root")
    return True


def _is_ignored(directory: Path) -> bool:
    """A directory git ignores (build/, .venv/): named explicitly, it is scanned in full."""
    return git_succeeds(directory, "check-ignore", "-q", ".")


def _expand(root: _Root) -> Iterator[tuple[Path, bool]]:
    """(file, named explicitly) for each file a path stands for."""
    path, stats = root.path, root.stats
    if not path.is_dir():
        yield path, True
        return
    kind, reason = repo_kind(path)
    if kind == RepoKind.BARE:
        raise StsleakError(f"{_display(path)} is a bare repository: it has no files to scan; "
                           "scan its history with --history (or --since REV)")
    if kind == RepoKind.REFUSED:
        stats.notes.append(f"{reason}. Meanwhile every file under {_display(path)} was scanned, "
                           "ignored ones too, as in a directory that is not a work tree")
    in_git = kind == RepoKind.WORK_TREE and not _is_ignored(path)
    if in_git:
        stats.history_not_scanned.append(_history_not_scanned(path))
    files = _git_files(path, root.no_ignore, stats, root.real) if in_git else _walk(path, stats, root.real)
    yield from ((name, False) for name in files)


def _history_not_scanned(path: Path) -> str:
    import shlex

    shown = _display(path)
    return (f"the git history of {shown} was not scanned, only its files as they are now (a credential "
            f"deleted from a file stays in past commits): stsleak scan --history {shlex.quote(shown)}")


_NESTED_REPOS = 100
"""Nested repositories listed through their own git (their .gitignore honoured); past that many, a
directory is walked: no repository makes a scan start git thousands of times."""


def _is_own_top(directory: Path) -> bool:
    """A directory at the top of its own work tree: not an empty or broken `.git` that makes git
    fall back to the repository around it."""
    out = run_git_bytes(directory, "rev-parse", "--is-inside-work-tree", "--show-prefix", check=False)
    return out.split(b"\n")[:2] == [b"true", b""]


class _Root:
    """One scanned root: its real path, and the directories git listed as one entry seen so far."""

    def __init__(self, path: Path, real: str, stats: ScanStats, no_ignore: bool) -> None:
        self.path, self.real, self.stats, self.no_ignore = path, real, stats, no_ignore
        self.listed: set[tuple[int, int]] = set()
        self.nested = 0
        if path.is_dir():
            self.first_visit(path)

    def first_visit(self, directory: Path) -> bool:
        st = os.stat(directory)
        if (st.st_dev, st.st_ino) in self.listed:
            return False
        self.listed.add((st.st_dev, st.st_ino))
        return True

    def files_in(self, directory: Path) -> Iterator[Path]:
        """The files of a directory git lists as one entry and does not look into: a submodule's
        checkout, an untracked nested repository (`vendor/lib/`). They are files under the root:
        listed by their own repository when it is one (its .gitignore applies), otherwise walked.
        A submodule with nothing checked out is counted (`gitlink`)."""
        if os.path.lexists(directory / ".git"):
            self.nested += 1
            if self.nested <= _NESTED_REPOS and _is_own_top(directory):
                yield from _git_files(directory, self.no_ignore, self.stats, self.real)
            else:
                yield from _walk(directory, self.stats, self.real)
            return
        empty = True
        for path in _walk(directory, self.stats, self.real):
            empty = False
            yield path
        if empty:
            self.stats.skip("gitlink")


_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_BINARY", 0)
_NONBLOCK = getattr(os, "O_NONBLOCK", 0)
_STREAM_READ = 1 << 20


def _read_fd(fd: int, max_size: int, first: int = _STREAM_READ) -> bytes | None:
    """At most max_size bytes from a descriptor (None: it holds more); `first`: the size of the first
    read (a regular file's size and one, so it is read in one call and a second that finds its end)."""
    parts: list[bytes] = []
    held, want = 0, min(first, max_size + 1)
    while held <= max_size and (part := os.read(fd, want)):
        parts.append(part)
        held += len(part)
        want = min(_STREAM_READ, max_size + 1 - held)
    if held > max_size:
        return None
    return parts[0] if len(parts) == 1 else b"".join(parts)


class _Listed(Enum):
    DIRECTORY = "directory"  # what `_read` says of a directory git listed (a submodule, a nested repository)


def _read(path: Path, max_size: int, stats: ScanStats, explicit: bool) -> bytes | _Listed | None:
    """The file's bytes; None (counted or reported) for what cannot or should not be read.

    A FIFO, `<(process substitution)` or device named explicitly is read (bounded by max_size);
    one met while walking a directory is skipped and counted (opened without waiting for a writer).
    """
    try:
        fd = os.open(path, _OPEN_FLAGS if explicit else _OPEN_FLAGS | _NONBLOCK)
    except IsADirectoryError:
        return _Listed.DIRECTORY
    except FileNotFoundError:
        if path.is_symlink():
            stats.skip("broken-symlink")
        else:  # tracked in the index but deleted from the work tree
            stats.skip("missing")
        return None
    except OSError as exc:
        stats.errors.append(f"{_display(path)}: cannot read ({exc.strerror or exc.__class__.__name__})")
        return None
    try:
        return _read_open(fd, path, max_size, stats, explicit)
    except OSError as exc:
        stats.errors.append(f"{_display(path)}: cannot read ({exc.strerror or exc.__class__.__name__})")
        return None
    finally:
        os.close(fd)


def _read_open(fd: int, path: Path, max_size: int, stats: ScanStats, explicit: bool) -> bytes | _Listed | None:
    st = os.fstat(fd)
    if stat.S_ISDIR(st.st_mode):  # a submodule, a nested repository, a tracked link to a directory
        return _Listed.DIRECTORY
    if not stat.S_ISREG(st.st_mode):
        if not explicit:
            stats.skip("not-a-regular-file")
            return None
        data = _read_fd(fd, max_size)
    else:
        data = _read_fd(fd, max_size, st.st_size + 1) if st.st_size <= max_size else None
    if data is None:  # (a file may grow while read)
        stats.skip("too-large")
    return data


def iter_file_chunks(paths: list[Path], max_size: int, stats: ScanStats,
                     is_excluded: PathFilter | None = None, no_ignore: bool = False) -> Iterator[Chunk]:
    """`is_excluded` is asked of the shown path and of the path under the scanned root.
    `no_ignore`: in a work tree, the files .gitignore hides are scanned too."""
    gitlinks = stats.skipped.get("gitlink", 0)
    for root in paths:
        if not root.exists():
            problem = "broken symbolic link" if root.is_symlink() else "no such file or directory"
            stats.errors.append(f"{_display(root)}: {problem}")
            continue
        yield from _root_chunks(_Root(root, os.path.realpath(root), stats, no_ignore), max_size, is_excluded)
    unseen = stats.skipped.get("gitlink", 0) - gitlinks
    if unseen:
        stats.notes.append(f"{unseen} submodule(s) have nothing checked out: their files were not scanned "
                           "(git submodule update --init --recursive, then scan again)")


def _root_chunks(root: _Root, max_size: int, is_excluded: PathFilter | None) -> Iterator[Chunk]:
    stats = root.stats
    pending = deque([_expand(root)])
    while pending:
        for path, explicit in pending.popleft():
            if not explicit and _leaves(path, root.real, stats):
                continue
            shown = _display(path)
            if is_excluded and (is_excluded(shown) or is_excluded(_under(path, root.path))):
                stats.skip("excluded")
                continue
            data = _read(path, max_size, stats, explicit)
            if data is _Listed.DIRECTORY:  # a link to a directory is scanned where it points, under the root
                if not explicit and not os.path.islink(path) and root.first_visit(path):
                    pending.append((name, False) for name in root.files_in(path))
                continue
            if data is None:
                continue
            stats.files += 1
            stats.bytes += len(data)
            yield Chunk(data=data, path=shown)
