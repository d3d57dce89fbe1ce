"""Files on disk: the paths given, or in a git work tree the tracked and untracked-not-ignored files."""

from __future__ import annotations

import os
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path

from scanner.model import Chunk, ScanStats
from scanner.sources import PathFilter
from scanner.sources.git.run import git_path, is_work_tree, run_git_bytes


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


def _git_files(root: Path) -> Iterator[Path]:
    out = run_git_bytes(root, "ls-files", "-z", "--cached", "--others", "--exclude-standard", "--deduplicate")
    for name in dict.fromkeys(out.split(b"\0")):
        if name:  # os.fsdecode: a name that is not valid UTF-8 still opens (surrogate escapes)
            yield root / os.fsdecode(name)


def _walk(root: Path, stats: ScanStats) -> Iterator[Path]:
    """Files under root, following directory symlinks but entering each real directory once."""
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
        dirnames[:] = sorted(d for d in dirnames if d != ".git")
        for name in sorted(filenames):
            yield Path(dirpath) / name


def _is_ignored(directory: Path) -> bool:
    """A directory git ignores (build/, .venv/): named explicitly, it is scanned in full."""
    proc = subprocess.run([git_path(), "-C", str(directory), "check-ignore", "-q", "."], capture_output=True)
    return proc.returncode == 0


def _expand(path: Path, stats: ScanStats) -> Iterator[Path]:
    if path.is_dir():
        in_git = is_work_tree(path) and not _is_ignored(path)
        yield from (_git_files(path) if in_git else _walk(path, stats))
    else:
        yield path


_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)


def _read(path: Path, max_size: int, stats: ScanStats) -> bytes | None:
    """The file's bytes; None (counted or reported) for what cannot or should not be read."""
    try:
        # O_NONBLOCK: opening a FIFO must not wait for a writer; it is then skipped as not regular.
        with os.fdopen(os.open(path, _OPEN_FLAGS), "rb") as handle:
            st = os.fstat(handle.fileno())
            if stat.S_ISDIR(st.st_mode):  # a submodule, or a tracked symlink to a directory
                return None
            if not stat.S_ISREG(st.st_mode):
                stats.skip("not-a-regular-file")
                return None
            data = handle.read(max_size + 1) if st.st_size <= max_size else b""
            if st.st_size > max_size or len(data) > max_size:  # (a file may grow while read)
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
                     is_excluded: PathFilter | None = None) -> Iterator[Chunk]:
    """`is_excluded` is asked of the shown path and of the path under the scanned root."""
    for root in paths:
        if not root.exists():
            problem = "broken symbolic link" if root.is_symlink() else "no such file or directory"
            stats.errors.append(f"{_display(root)}: {problem}")
            continue
        for path in _expand(root, stats):
            shown = _display(path)
            if is_excluded and (is_excluded(shown) or is_excluded(_under(path, root))):
                stats.skip("excluded")
                continue
            data = _read(path, max_size, stats)
            if data is None:
                continue
            stats.files += 1
            stats.bytes += len(data)
            yield Chunk(data=data, path=shown)
