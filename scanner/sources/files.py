"""Files on disk: the paths given, or in a git work tree the tracked and untracked-not-ignored files."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import IO

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


def _git_files(root: Path, no_ignore: bool, stats: ScanStats) -> Iterator[Path]:
    standard = () if no_ignore else ("--exclude-standard",)
    out = run_git_bytes(root, "ls-files", "-z", "--cached", "--others", *standard, "--deduplicate")
    if not no_ignore:
        _count_ignored(root, stats)
    for name in dict.fromkeys(out.split(b"\0")):
        if name:  # os.fsdecode: a name that is not valid UTF-8 still opens (surrogate escapes)
            yield root / os.fsdecode(name)


def _count_ignored(root: Path, stats: ScanStats) -> None:
    """Untracked paths .gitignore hides (an ignored directory counts once): `stats.skipped.ignored`."""
    out = run_git_bytes(root, "ls-files", "-z", "--others", "--ignored", "--exclude-standard", "--directory",
                        check=False)
    count = sum(1 for name in out.split(b"\0") if name)
    if count:
        stats.skipped["ignored"] = stats.skipped.get("ignored", 0) + count


def _walk(root: Path, stats: ScanStats) -> Iterator[Path]:
    """Files under root, following directory symlinks but entering each real directory once."""
    seen: set[tuple[int, int]] = set()
    real_root = root.resolve()

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


def _leaves(path: Path, real_root: Path, stats: ScanStats) -> bool:
    """A symbolic link (met in a scanned directory) to somewhere outside it: not followed, counted.
    A repository's `creds -> ~/.aws/credentials` must not make the scan read (and report, or
    upload in SARIF) the scanning machine's own files; a link to `/` must not walk the disk."""
    if not os.path.islink(path):
        return False
    target = Path(os.path.realpath(path))
    if target == real_root or real_root in target.parents:
        return False
    stats.skip("symlink-outside-root")
    return True


def _is_ignored(directory: Path) -> bool:
    """A directory git ignores (build/, .venv/): named explicitly, it is scanned in full."""
    return git_succeeds(directory, "check-ignore", "-q", ".")


def _expand(path: Path, stats: ScanStats, no_ignore: bool) -> Iterator[tuple[Path, bool]]:
    """(file, named explicitly) for each file a path stands for."""
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
    files = _git_files(path, no_ignore, stats) if in_git else _walk(path, stats)
    yield from ((name, False) for name in files)


_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_BINARY", 0)
_NONBLOCK = getattr(os, "O_NONBLOCK", 0)
_STREAM_READ = 1 << 20


def _read_stream(handle: IO[bytes], max_size: int) -> bytes | None:
    """At most max_size bytes of a FIFO, pipe or device (None: it holds more)."""
    parts: list[bytes] = []
    held = 0
    while held <= max_size and (part := handle.read(min(_STREAM_READ, max_size + 1 - held))):
        parts.append(part)
        held += len(part)
    return b"".join(parts) if held <= max_size else None


def _read(path: Path, max_size: int, stats: ScanStats, explicit: bool) -> bytes | None:
    """The file's bytes; None (counted or reported) for what cannot or should not be read.

    A FIFO, `<(process substitution)` or device named explicitly is read (bounded by max_size);
    one met while walking a directory is skipped and counted (opened without waiting for a writer).
    """
    try:
        flags = _OPEN_FLAGS if explicit else _OPEN_FLAGS | _NONBLOCK
        with os.fdopen(os.open(path, flags), "rb") as handle:
            st = os.fstat(handle.fileno())
            if stat.S_ISDIR(st.st_mode):  # a submodule, or a tracked symlink to a directory
                return None
            if not stat.S_ISREG(st.st_mode):
                if not explicit:
                    stats.skip("not-a-regular-file")
                    return None
                data = _read_stream(handle, max_size)
            else:
                data = handle.read(max_size + 1) if st.st_size <= max_size else None
            if data is None or len(data) > max_size:  # (a file may grow while read)
                stats.skip("too-large")
                return None
            return data
    except IsADirectoryError:
        return None
    except FileNotFoundError:
        if path.is_symlink():
            stats.skip("broken-symlink")
        else:  # tracked in the index but deleted from the work tree
            stats.skip("missing")
        return None
    except OSError as exc:
        stats.errors.append(f"{_display(path)}: cannot read ({exc.strerror or exc.__class__.__name__})")
        return None


def iter_file_chunks(paths: list[Path], max_size: int, stats: ScanStats,
                     is_excluded: PathFilter | None = None, no_ignore: bool = False) -> Iterator[Chunk]:
    """`is_excluded` is asked of the shown path and of the path under the scanned root.
    `no_ignore`: in a work tree, the files .gitignore hides are scanned too."""
    for root in paths:
        if not root.exists():
            problem = "broken symbolic link" if root.is_symlink() else "no such file or directory"
            stats.errors.append(f"{_display(root)}: {problem}")
            continue
        real_root = root.resolve()
        for path, explicit in _expand(root, stats, no_ignore):
            if not explicit and _leaves(path, real_root, stats):
                continue
            shown = _display(path)
            if is_excluded and (is_excluded(shown) or is_excluded(_under(path, root))):
                stats.skip("excluded")
                continue
            data = _read(path, max_size, stats, explicit)
            if data is None:
                continue
            stats.files += 1
            stats.bytes += len(data)
            yield Chunk(data=data, path=shown)
