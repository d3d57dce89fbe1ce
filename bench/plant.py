"""Plant credentials in a scratch clone of a real repository, so its history row checks recall.

The clone is a local `git clone --mirror`: its object files are hard links to the original's (a
copy where the file system cannot link), so it costs a few kilobytes, the original is never written
to, and the scan sees an ordinary repository (no alternates file: `--shared` would time the
borrowed-objects path instead, scanner/sources/git/borrowed.py). Into it go, with git's
plumbing, credentials generated at run time (scanner/testing/fakes.py) in the shapes history
scanning must reach: a file added on a new branch at an old commit and deleted again, a
credential appended to an existing file of the default branch's tip, one blob at two paths, a
commit that no ref reaches (amended away), and a blob no commit holds.
"""

from __future__ import annotations

import os
import random
import shutil
import subprocess
from pathlib import Path

from synth import Planted, _credential_text

_ENV = {"GIT_AUTHOR_NAME": "Bench", "GIT_AUTHOR_EMAIL": "bench@example.com", "GIT_COMMITTER_NAME": "Bench",
        "GIT_COMMITTER_EMAIL": "bench@example.com", "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": os.devnull}


def _git(repo: Path, *args: str, data: bytes | None = None) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], input=data, capture_output=True, check=True,
                          env={**os.environ, **_ENV}).stdout.decode().strip()


class _Planter:
    def __init__(self, repo: Path, rng: random.Random) -> None:
        self.repo, self.rng, self.planted = repo, rng, []

    def blob(self, data: bytes) -> str:
        return _git(self.repo, "hash-object", "-w", "--stdin", data=data)

    def commit(self, parent: str, changes: dict[str, str | None], message: str) -> str:
        """A commit on `parent` with files added/replaced (blob id) or deleted (None)."""
        index = self.repo / "bench-plant.index"
        env = {**os.environ, **_ENV, "GIT_INDEX_FILE": str(index)}
        run = lambda *a, data=None: subprocess.run(["git", "-C", str(self.repo), *a], input=data,  # noqa: E731
                                                   capture_output=True, check=True, env=env).stdout.decode().strip()
        run("read-tree", parent)
        zero = "0" * 40
        info = "".join(f"0 {zero}\t{path}\n" if oid is None else f"100644 {oid}\t{path}\n"
                       for path, oid in changes.items())
        run("update-index", "--index-info", data=info.encode())  # mode 0: removed (no work tree needed)
        tree = run("write-tree")
        index.unlink()
        return run("commit-tree", tree, "-p", parent, "-m", message)

    def credential(self, case: str) -> tuple[bytes, str]:
        text, key = _credential_text(self.rng, self.rng.randrange(4))
        return text.encode(), key

    def plant(self, case: str, path: str | None, commit: str | None, key: str) -> None:
        self.planted.append(Planted(key_id=key, path=path, case=case, commit=commit))


def _tip(repo: Path) -> str:
    head = _git(repo, "symbolic-ref", "-q", "HEAD")
    return _git(repo, "rev-parse", f"{head}^{{commit}}")


def plant(source: Path, scratch: Path, seed: int = 7) -> list[Planted]:
    """A fresh scratch clone of `source` with credentials planted in it; what was planted where."""
    if scratch.exists():
        shutil.rmtree(scratch)
    scratch.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(["git", "clone", "--quiet", "--mirror", "--local", str(source), str(scratch)], check=True,
                   env={**os.environ, **_ENV})
    p = _Planter(scratch, random.Random(seed))
    tip = _tip(scratch)
    old = _git(scratch, "rev-list", "--max-count=1", "--skip=500", tip) or tip
    # Added on a branch at an old commit, then deleted again.
    data, key = p.credential("deleted")
    added = p.commit(old, {"config/bench-deleted.ini": p.blob(data)}, "add settings")
    gone = p.commit(added, {"config/bench-deleted.ini": None}, "remove settings")
    _git(scratch, "update-ref", "refs/heads/bench-planted", gone)
    p.plant("added then deleted", "config/bench-deleted.ini", added, key)
    # Appended to an existing file at the tip of the default branch (a new ref on top of it).
    victim = _git(scratch, "ls-tree", "-r", "--name-only", tip).splitlines()[0]
    data, key = p.credential("appended")
    original = subprocess.run(["git", "-C", str(scratch), "cat-file", "blob", f"{tip}:{victim}"],
                              capture_output=True, check=True).stdout
    edited = p.commit(tip, {victim: p.blob(original + b"\n" + data)}, "tune settings")
    p.plant("appended to an existing file", victim, edited, key)
    # One blob at two paths, in two commits.
    data, key = p.credential("copied")
    oid = p.blob(data)
    first = p.commit(edited, {"deploy/bench-a.env": oid}, "deploy a")
    second = p.commit(first, {"deploy/copy/bench-b.env": oid}, "deploy b")
    _git(scratch, "update-ref", "refs/heads/bench-edited", second)
    p.plant("one blob at two paths", "deploy/bench-a.env", first, key)
    p.plant("one blob at two paths", "deploy/copy/bench-b.env", second, key)
    # A commit no ref reaches (amended away: only the object is left).
    data, key = p.credential("unreachable")
    lost = p.commit(tip, {"bench-amended.ini": p.blob(data)}, "wip")
    p.plant("unreachable commit", "bench-amended.ini", lost, key)
    # A blob no commit holds.
    data, key = p.credential("dangling")
    p.blob(data)
    p.plant("dangling blob", None, None, key)
    return p.planted
