"""What a repository borrows from elsewhere on the machine, and what a history scan makes of it.

A scanned repository may have been handed over by an attacker, and git follows its pointers to
other places without a word:

- `objects/info/alternates` (or the user's GIT_ALTERNATE_OBJECT_DIRECTORIES): git reads objects
  from other object directories too, and `cat-file --batch-all-objects` lists theirs with the
  repository's own. Objects the repository's own refs and reflogs reach are its history wherever
  they are stored (`git clone --shared` keeps none of its own; its whole history is scanned).
  Objects stored only in an alternate that nothing of this repository reaches (another
  repository's branches, its unreachable objects) are not this repository's: the listing leaves
  them out, `stats.skipped["alternate-only"]` counts them and a note names the alternate. A pack
  or a loose-object directory that is a symlink to somewhere else counts as an alternate (a
  single loose object that is a symlink does not: that would cost a look at every object).
- A `.git` file (`gitdir:`), a `commondir` file or a symlink that puts the git directory (or its
  object directory) outside the repository's own directory: a linked worktree, a submodule, or a
  directory someone handed over. Its history is then that git directory's: it is scanned (a
  worktree's or a submodule's is the user's own), and a note names where it really is, so that
  nothing found there reads as this directory's own unseen.
- `info/grafts` gives commits other parents than they were made with (it would hide commits from
  a `--since` range and place blobs at the wrong commit): git is told to ignore it
  (GIT_GRAFT_FILE, scanner/sources/git/hardening.py), and a note says so.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from scanner.errors import StsleakError
from scanner.sources.git.run import run_git, run_git_bytes

ALTERNATE_ONLY = "alternate-only"  # stats.skipped: objects stored only in an alternate, not reached from here
_IDX_MAGIC = b"\xfftOc"
_FANOUT = 256 * 4


@dataclass
class Borrowed:
    """Where a repository's git data really is, and what of it may be someone else's."""

    objects: Path  # its own object directory
    alternates: bool = False  # objects/info/alternates or GIT_ALTERNATE_OBJECT_DIRECTORIES
    links: list[str] = field(default_factory=list)  # `pack/x.pack -> target`: packs, directories linked in
    notes: list[str] = field(default_factory=list)

    @property
    def borrows_objects(self) -> bool:
        """Objects may be stored elsewhere: this repository's own are then sorted from the rest."""
        return self.alternates or bool(self.links)


def _inside(path: Path, root: Path) -> bool:
    return path == root or path.is_relative_to(root)


def _absolute(repo: Path, reported: str) -> Path:
    """A path rev-parse printed (relative to the directory it ran in), resolved (symlinks followed)."""
    return (repo / reported).resolve()


def survey(repo: Path) -> Borrowed:
    """What `repo` borrows, with a note for each place outside it that its history comes from."""
    out = run_git(repo, "rev-parse", "--absolute-git-dir", "--git-common-dir", "--git-path", "objects",
                  "--show-toplevel", check=False).splitlines()  # --show-toplevel fails in a bare repository
    if len(out) < 3:
        raise StsleakError(f"git rev-parse failed in {repo}: where its git directory is cannot be told")
    git_dir, common, objects = (_absolute(repo, line) for line in out[:3])
    home = _absolute(repo, out[3]) if len(out) > 3 else git_dir  # the work tree, or the git directory itself
    borrowed = Borrowed(objects)
    elsewhere = common if not _inside(common, home) else git_dir if not _inside(git_dir, home) else None
    if elsewhere is not None:
        borrowed.notes.append(
            f"the history scanned for {repo} is that of the git directory {elsewhere}, outside {home} (a .git "
            "file, a commondir file or a symlink points there: a linked worktree, a submodule or another repository)")
    elif not _inside(objects, common):
        borrowed.notes.append(f"the objects scanned for {repo} are those of {objects}, outside its git directory "
                              f"{common} (a symlink or GIT_OBJECT_DIRECTORY points there)")
    grafts = common / "info" / "grafts"
    if grafts.is_file() and grafts.stat().st_size:
        borrowed.notes.append(f"{repo} has {grafts}, which gives commits other parents in `git log`: ignored, each "
                              "commit is read with the parents it was made with")
    borrowed.alternates = ((objects / "info" / "alternates").is_file()
                           or bool(os.environ.get("GIT_ALTERNATE_OBJECT_DIRECTORIES")))
    borrowed.links = [f"{link.relative_to(objects)} -> {os.readlink(link)}" for link in _linked(objects)]
    return borrowed


def _linked(objects: Path) -> list[Path]:
    """The packs (and their indexes) and loose-object directories of `objects` that are symlinks."""
    entries = [entry for folder in (objects, objects / "pack") if folder.is_dir() for entry in folder.iterdir()]
    return sorted(entry for entry in entries if entry.is_symlink())


def lender_note(repo: Path, borrowed: Borrowed, left_out: int) -> str:
    """What a scan of a repository that borrows objects left out, naming every place it borrows
    from (chained alternates too, as `git count-objects -v` lists them)."""
    counted = run_git(repo, "count-objects", "-v", check=False).splitlines() if borrowed.alternates else []
    places = [f"{line.split(': ', 1)[1]} (objects/info/alternates)" for line in counted
              if line.startswith("alternate: ")] + [f"{link} (a symlink)" for link in borrowed.links]
    where = ", ".join(places) or "an alternate"
    if not left_out:
        return f"{repo} borrows objects from {where}: those its refs and reflogs reach were scanned as its own history"
    return (f"{repo} borrows objects from {where}: {left_out} object(s) stored there that no ref or reflog of {repo} "
            f"reaches were not scanned (stats: {ALTERNATE_ONLY}); they are another repository's: scan that one on "
            "its own")


def _pack_ids(idx: bytes, hash_len: int) -> list[bytes]:
    """The object ids a pack index (.idx, version 1 or 2) lists, as hex."""
    if idx.startswith(_IDX_MAGIC):
        if idx[4:8] != b"\0\0\0\2":
            return []
        count = int.from_bytes(idx[8 + _FANOUT - 4 : 8 + _FANOUT], "big")
        names = idx[8 + _FANOUT : 8 + _FANOUT + count * hash_len].hex().encode()
        step = 2 * hash_len
        return [names[i : i + step] for i in range(0, len(names) - step + 1, step)]
    count = int.from_bytes(idx[_FANOUT - 4 : _FANOUT], "big")
    stride = 4 + hash_len
    entries = idx[_FANOUT : _FANOUT + count * stride]
    return [entries[i + 4 : i + stride].hex().encode() for i in range(0, len(entries) - stride + 1, stride)]


def local_objects(repo: Path, objects: Path) -> set[bytes]:
    """The ids of the objects stored in `objects` itself (its packs and loose objects): not in an
    alternate, nor in a pack or a loose-object directory that is a symlink to somewhere else."""
    object_format = run_git_bytes(repo, "rev-parse", "--show-object-format", check=False).strip()
    hash_len = 32 if object_format == b"sha256" else 20
    found: set[bytes] = set()
    for idx in (objects / "pack").glob("*.idx"):
        if idx.is_file() and not idx.is_symlink():  # a regular file (a FIFO would hang the read)
            found.update(_pack_ids(idx.read_bytes(), hash_len))
    hex_digits = set("0123456789abcdef")
    for fan in objects.iterdir():
        if len(fan.name) == 2 and set(fan.name) <= hex_digits and fan.is_dir() and not fan.is_symlink():
            found.update((fan.name + rest.name).encode() for rest in fan.iterdir()
                         if len(rest.name) == 2 * hash_len - 2 and set(rest.name) <= hex_digits)
    return found
