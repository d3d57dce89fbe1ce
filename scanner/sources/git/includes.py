"""Before git runs in a repository: nothing in it may make git wait forever.

Every git command reads the repository's config, and every file that config includes
(`include.path`, `includeIf.<condition>.path`, whatever the condition), before it does anything
else; it reads `.git` (a file naming the git directory), `HEAD` and `commondir` to find the
repository at all. Whoever handed us the repository chose those files. An include that names a FIFO
makes git's open() wait for a writer that never comes; `/dev/stdin` makes git read its own stdin
(the terminal, a hook's input, or the object ids stsleak hands `cat-file`) as config; a device
(`/dev/zero`, `/dev/tty`) never ends or waits for a person. So before the first git process in a
repository (scanner/sources/git/run.py calls `check_repository` once per repository), the files git
would read are checked without git: each must be a regular file (a symlink to one is fine) outside
/dev and /proc, or absent (git skips an include that is not there). Otherwise the scan ends with
one line that names the file, before git runs. Includes are followed as git follows them (relative
to the including file, `~` expanded, 10 deep), read with a port of git's own config parser (config.c)
so that no spelling git accepts hides one.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from scanner.errors import StsleakError

MAX_INCLUDE_DEPTH = 10  # git's
_MAX_CONFIG_BYTES = 16 * 1024 * 1024  # a config file larger than this is not read by us (git reads it)
_SPACE = " \t\n\r"  # git's isspace (sane-ctype.h): no \v or \f
_SYSTEM_TREES = ("/dev/", "/proc/", "/sys/")


class UnsafeRepository(StsleakError):
    """A file git would read in the repository could make it wait forever."""


def _is_key_char(c: str) -> bool:
    return c.isascii() and (c.isalnum() or c == "-")


class _Source:
    """git's get_next_char: CRLF as LF, and a final LF at the end."""

    def __init__(self, text: str) -> None:
        self.text, self.i, self.eof = text, 0, False

    def next(self) -> str:
        text, i = self.text, self.i
        if i >= len(text):
            self.eof = True
            return "\n"
        c = text[i]
        self.i = i + 1
        if c == "\r" and self.i < len(text) and text[self.i] == "\n":
            self.i += 1
            return "\n"
        return c


def _value(src: _Source) -> str | None:
    """git's parse_value: quotes, escapes, comments, line continuations (None: a malformed value)."""
    out: list[str] = []
    quote = comment = False
    space = 0
    while True:
        c = src.next()
        if c == "\n":
            return None if quote else "".join(out)
        if comment:
            continue
        if c in _SPACE and not quote:
            if out:
                space += 1
            continue
        if not quote and c in ";#":
            comment = True
            continue
        out.append(" " * space)
        space = 0
        if c == "\\":
            c = src.next()
            if c == "\n":
                continue
            escaped = {"t": "\t", "b": "\b", "n": "\n", "\\": "\\", '"': '"'}.get(c)
            if escaped is None:
                return None
            out.append(escaped)
            continue
        if c == '"':
            quote = not quote
            continue
        out.append(c)


def _section(src: _Source) -> str | None:
    """git's get_base_var / get_extended_base_var: `[section]`, `[section "sub"]`, `[section.sub]`."""
    name: list[str] = []
    while True:
        c = src.next()
        if src.eof:
            return None
        if c == "]":
            return "".join(name)
        if c in _SPACE:
            break
        if not _is_key_char(c) and c != ".":
            return None
        name.append(c.lower())
    while True:  # the extended form: [base "subsection"]
        if c == "\n":
            return None
        c = src.next()
        if c not in _SPACE:
            break
    if c != '"':
        return None
    name.append(".")
    while True:
        c = src.next()
        if c == "\n":
            return None
        if c == '"':
            break
        if c == "\\":
            c = src.next()
            if c == "\n":
                return None
        name.append(c)
    return "".join(name) if src.next() == "]" else None


def config_entries(text: str) -> list[tuple[str, str | None]]:
    """(name, value) of each entry of a config file, in order, up to the first line git rejects
    (git stops there too, having acted on the entries before it). Names as git's callbacks see
    them: section and key lower case, a quoted subsection as written."""
    src = _Source(text.removeprefix("\ufeff"))
    entries: list[tuple[str, str | None]] = []
    base = ""
    comment = False
    while True:
        c = src.next()
        if c == "\n":
            if src.eof:
                return entries
            comment = False
            continue
        if comment or c in _SPACE:
            continue
        if c in "#;":
            comment = True
            continue
        if c == "[":
            section = _section(src)
            if not section:
                return entries
            base = section + "."
            continue
        if not (c.isascii() and c.isalpha()):
            return entries
        key = [c.lower()]
        while True:
            c = src.next()
            if src.eof or not _is_key_char(c):
                break
            key.append(c.lower())
        while c in " \t":
            c = src.next()
        value = None
        if c != "\n":
            if c != "=":
                return entries
            value = _value(src)
            if value is None:
                return entries
        entries.append((base + "".join(key), value))
        if src.eof:
            return entries


def include_paths(entries: list[tuple[str, str | None]]) -> list[str]:
    """The values of `include.path` and of every `includeIf.<condition>.path` (whatever the condition:
    whether it holds is git's to decide, at a time we do not see)."""
    found = []
    for name, value in entries:
        if value is None:
            continue
        if name == "include.path" or (name.startswith("includeif.") and name.endswith(".path") and name.count(".") > 1):
            found.append(value)
    return found


def _kind(mode: int) -> str:
    for test, kind in ((stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"), (stat.S_ISDIR, "a directory")):
        if test(mode):
            return kind
    return "not a regular file"


def _hops(path: str) -> list[str]:
    """Every place opening `path` passes through: the path, and each symlink's target in turn (the
    directories on the way resolved), so that a link to /dev/stdin is seen for what it is whatever
    this process's own stdin is."""
    hops, current = [], os.path.abspath(path)
    for _ in range(40):  # the kernel's limit on symlinks in one lookup
        hops.append(current)
        current = os.path.join(os.path.realpath(os.path.dirname(current)), os.path.basename(current))
        hops.append(current)
        if not os.path.islink(current):
            break
        current = os.path.normpath(os.path.join(os.path.dirname(current), os.readlink(current)))
    return hops


def _unsafe(path: str) -> str | None:
    """Why git must not read `path` (None: a regular file outside /dev, /proc and /sys, or absent,
    or one git cannot open either, which it reports rather than waits on). /dev/null is harmless."""
    system = [hop for hop in _hops(path) if hop.startswith(_SYSTEM_TREES)]
    if system and set(system) != {"/dev/null"}:
        return f"a device or system file ({system[0]})"
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return None
    return None if stat.S_ISREG(mode) or system else _kind(mode)


def _expand(value: str, including: str) -> str | None:
    """An include's path as git's handle_path_include makes it (None: one git cannot expand)."""
    if value.startswith("%(prefix)/"):
        return None  # git's own install prefix: not the repository's to point anywhere
    if value.startswith("~"):
        expanded = os.path.expanduser(value)
        if expanded.startswith("~"):
            return None  # an unknown user: git refuses it
        value = expanded
    if os.path.isabs(value):
        return value
    slash = including.rfind("/")
    return including[: slash + 1] + value if slash >= 0 else value


def _read_config(path: str) -> str:
    try:
        with open(path, "rb") as handle:
            data = handle.read(_MAX_CONFIG_BYTES)
    except OSError:
        return ""  # git will say what is wrong with it, without waiting
    return data.decode("utf-8", errors="surrogateescape")  # names as the file system has them


def _refusal(repo: Path, what: str, why: str) -> UnsafeRepository:
    return UnsafeRepository(f"not running git in {repo}: {what}, which is {why}, could make git wait forever "
                            "(remove it from the repository, or scan a clean clone)")


def check_config(path: str, repo: Path, depth: int = 0) -> None:
    """`path` (a config file git reads in `repo`) and everything it includes, as git follows them."""
    why = _unsafe(path)
    if why is not None:
        raise _refusal(repo, f"its config file {path}", why)
    if not os.path.exists(path) or depth > MAX_INCLUDE_DEPTH:
        return
    for value in include_paths(config_entries(_read_config(path))):
        target = _expand(value, path)
        if target is None:
            if value.startswith("%(prefix)/"):
                raise _refusal(repo, f"the include {value!r} in {path}", "outside the repository")
            continue
        why = _unsafe(target)
        if why is not None:
            raise _refusal(repo, f"the include {value!r} in {path}", why)
        check_config(target, repo, depth + 1)


def _regular_or_absent(path: Path, repo: Path, what: str) -> None:
    why = _unsafe(str(path))
    if why is not None:
        raise _refusal(repo, f"{what} {path}", why)


def _gitfile_target(dotgit: Path, repo: Path) -> Path | None:
    """The git directory a `.git` file names (`gitdir: PATH`), or None."""
    _regular_or_absent(dotgit, repo, "its .git file")
    text = _read_config(str(dotgit)).strip()
    if not text.startswith("gitdir:"):
        return None
    target = Path(text.removeprefix("gitdir:").strip())
    return target if target.is_absolute() else dotgit.parent / target


def _looks_like_git_dir(path: Path) -> bool:
    """What git's is_git_directory asks first: a HEAD, and objects (or a commondir to find them in)."""
    return os.path.lexists(path / "HEAD") and ((path / "objects").is_dir() or os.path.lexists(path / "commondir"))


def git_dir_of(start: Path) -> Path | None:
    """The git directory git would find for `start` (GIT_DIR, else the nearest `.git` or bare
    repository at or above it), without running git."""
    given = os.environ.get("GIT_DIR")
    base = start if start.is_dir() else start.parent
    if given:
        return Path(given) if os.path.isabs(given) else base / given
    here = Path(os.path.abspath(base))
    for directory in (here, *here.parents):
        dotgit = directory / ".git"
        if os.path.isdir(dotgit):
            if _looks_like_git_dir(dotgit):
                return dotgit
        elif os.path.lexists(dotgit):
            target = _gitfile_target(dotgit, directory)
            if target is not None:
                return target
        if _looks_like_git_dir(directory):
            return directory
    return None


def _walk_refs(refs: Path, repo: Path) -> None:
    """Loose refs are files git opens and reads; none may be a FIFO or a device."""
    pending = [refs]
    while pending:
        try:
            entries = list(os.scandir(pending.pop()))
        except OSError:
            continue
        for entry in entries:
            if entry.is_dir(follow_symlinks=False):
                pending.append(Path(entry.path))
            elif not entry.is_file(follow_symlinks=False) and not entry.is_dir():
                _regular_or_absent(Path(entry.path), repo, "the ref")


def check_repository(start: Path) -> None:
    """Raise UnsafeRepository (one line, exit 2) when a file git reads before anything else in the
    repository of `start` could make it wait forever; nothing when there is no repository."""
    git_dir = git_dir_of(start)
    if git_dir is None:
        return
    common = git_dir
    commondir = git_dir / "commondir"
    _regular_or_absent(commondir, start, "its commondir file")
    if commondir.is_file():
        named = Path(_read_config(str(commondir)).strip())
        common = named if named.is_absolute() else git_dir / named
    for path, what in ((git_dir / "HEAD", "its HEAD"), (git_dir / "index", "its index"),
                       (common / "packed-refs", "its packed-refs"), (common / "shallow", "its shallow file"),
                       (common / "info" / "grafts", "its grafts file"),
                       (common / "objects" / "info" / "alternates", "its alternates file")):
        _regular_or_absent(path, start, what)
    for config in dict.fromkeys((common / "config", git_dir / "config", git_dir / "config.worktree")):
        check_config(str(config), start)
    _walk_refs(common / "refs", start)
