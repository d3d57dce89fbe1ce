"""The one walk over a full history: git's connectivity check, and the commit order placement needs.

`git rev-list --objects --all --reflog --missing=print --in-commit-order --reverse --date-order`
runs beside the blob stream (it reads no blob contents) into a temporary file. It is, at once:

- the connectivity check: every object the refs and reflogs (stash included) reach is listed, a
  missing one as `?<id>` (listed, never fetched), so a blob deleted from the object store is
  reported rather than silently not scanned; with `reached`, the ids of everything reached (a
  repository with alternates: what of them is its own history, scanner/sources/git/borrowed.py);
- the order provenance needs: each commit is printed followed by the objects of its tree not
  printed before, oldest first and never a commit before its parents (`--date-order`; plain
  `--reverse` puts a child first under clock skew). So the first commit whose tree holds a blob
  is the one it is printed under, and no commit printed earlier holds it at any path: where a
  blob was introduced is found among the commits from there on, which for a recent leak is a
  handful. The commits no ref or reflog reaches are those the object listing has and the walk
  does not.

Nothing is parsed until a blob with a finding asks: then the file is read once in blocks, its
commit lines kept as `id\\n` records and only the wanted ids looked up (no Python object per line
kept, memory bounded by the block size and the commit count).
"""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from scanner.sources.git.missing import parse_missing
from scanner.sources.git.run import last_error_line, popen_git, temp_file

_BACKGROUND_NICE = 10
_BLOCK = 1 << 20
_FEW = 64  # wanted blobs up to which each is searched for by itself; more: each line is looked up
# A commit's line is its id alone; a tree's or blob's is `id path` (a root tree's `id `), a missing
# object's `?id`. git cuts a path at its first newline, so no path can forge a commit line.


@dataclass
class WalkOrder:
    """The walk's commits in its order, as `id\\n` records, and for each wanted blob the index of
    the first commit that can hold it (the commit it is printed under)."""

    commits: bytearray = field(default_factory=bytearray)
    count: int = 0
    first: dict[str, int] = field(default_factory=dict)

    def since(self, index: int) -> bytes:
        """The records of the commits from `index` on."""
        width = self.commits.index(b"\n") + 1 if self.commits else 0
        return bytes(self.commits[index * width:])


class HistoryWalk:
    """One `git rev-list --objects` over every ref and reflog, into a temporary file."""

    def __init__(self, repo: Path, reached: bool = False) -> None:
        self._err = temp_file()
        self._out = temp_file()
        self._proc: subprocess.Popen[bytes] | None = popen_git(
            # Small pack windows and delta cache: same speed, a third of the memory (mapped packs).
            repo, "-c", "core.deltaBaseCacheLimit=16m", "-c", "core.packedGitLimit=32m",
            "-c", "core.packedGitWindowSize=1m", "rev-list", "--objects", "--all", "--reflog", "--missing=print",
            "--in-commit-order", "--reverse", "--date-order",
            stdin=subprocess.DEVNULL, stdout=self._out, stderr=self._err)
        self._problem: str | None = None
        if not reached:  # at low priority it fills the gaps the stream leaves
            with contextlib.suppress(AttributeError, OSError):
                os.setpriority(os.PRIO_PROCESS, self._proc.pid, _BACKGROUND_NICE)

    def cancel(self) -> None:
        if self._proc is not None:
            self._proc.kill()
            self._proc.wait()
            self._proc = None
        self._err.close()
        self._out.close()

    def problem(self) -> str | None:
        """Waits for the walk: None when git walked everything, else git's last error line."""
        if self._proc is not None:
            code = self._proc.wait()
            self._proc = None
            detail = last_error_line(self._err)
            self._problem = None if code == 0 else detail or f"git rev-list exit code {code}"
        return self._problem

    def _blocks(self) -> Iterator[bytes]:
        """The output in blocks of whole lines, each starting with the newline before its first line."""
        self.problem()
        self._out.seek(0)
        carry = b"\n"
        while data := self._out.read(_BLOCK):
            block = carry + data
            cut = block.rfind(b"\n")
            if cut <= 0:
                carry = block
                continue
            carry = block[cut:]
            yield block[: cut + 1]
        if len(carry) > 1:
            yield carry + b"\n"

    def missing(self) -> list[str]:
        """The objects the refs reach that the repository lacks."""
        found: list[str] = []
        for block in self._blocks():
            if b"\n?" in block:
                found += parse_missing(block)
        return found

    def reached(self) -> set[bytes]:
        """The ids of the objects the refs and reflogs reach (waits for the walk)."""
        reached: set[bytes] = set()
        for block in self._blocks():
            reached.update(line.partition(b" ")[0] for line in block.split(b"\n") if line and line[:1] != b"?")
        return reached

    def order(self, blobs: set[str], width: int) -> WalkOrder:
        """The commits in walk order, and where each of `blobs` is first printed (the walk must
        have succeeded: `problem()` is None). `width`: the length of an object id (40, or 64)."""
        wanted = {oid.encode() for oid in blobs}
        order = WalkOrder()
        for block in self._blocks():
            lines = block.split(b"\n")  # this block's only: memory stays bounded
            commits = [line for line in lines if len(line) == width]  # a commit line is its id alone
            if wanted:
                if len(wanted) <= _FEW:  # git's own search, once per wanted id
                    self._find_each(block, wanted, order, width)
                else:
                    self._look_up_lines(lines, wanted, order, width)
            if commits:
                order.commits += b"\n".join(commits) + b"\n"
                order.count += len(commits)
        return order

    @staticmethod
    def _find_each(block: bytes, wanted: set[bytes], order: WalkOrder, width: int) -> None:
        for oid in [oid for oid in wanted if b"\n" + oid + b" " in block]:
            at = block.find(b"\n" + oid + b" ")
            before = sum(1 for line in block[:at].split(b"\n") if len(line) == width)
            order.first[oid.decode()] = max(order.count + before - 1, 0)
            wanted.discard(oid)

    @staticmethod
    def _look_up_lines(lines: list[bytes], wanted: set[bytes], order: WalkOrder, width: int) -> None:
        count = order.count
        for line in lines:
            if len(line) == width:
                count += 1
            elif line[:width] in wanted and line[width:width + 1] == b" ":
                order.first[line[:width].decode()] = max(count - 1, 0)
                wanted.discard(line[:width])
