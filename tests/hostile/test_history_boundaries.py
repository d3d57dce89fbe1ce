"""Issue 20 #2 and #3: a history scan reads this repository's history, and all of it.

- objects/info/alternates: what only the alternate holds and nothing of this repository reaches
  is another repository's: left out, counted (`alternate-only`) and the alternate named; what this
  repository's refs reach is its own history wherever it is stored (`git clone --shared`).
- A `.git` file pointing elsewhere: that repository's history, said in a note.
- info/grafts: ignored, so that no commit drops out of a `--since` range.
"""

from __future__ import annotations

import random
import subprocess
from pathlib import Path
from typing import Any

import pytest

from scanner.sources.git.borrowed import local_objects
from scanner.testing import fakes
from tests.support.cli import GIT_ENV, GitRepo, Run, stsleak
from tests.support.core import ini


def _history(path: Path, *mode: str) -> Run:
    run = stsleak("scan", *(mode or ("--history",)), "--format", "json", str(path))
    assert run.code in (0, 1), run.stderr
    assert "Traceback" not in run.stderr
    return run


def _keys(run: Run) -> set[str]:
    return {f["access_key_id"] for f in run.json()["findings"]}


def _clone_shared(source: GitRepo, target: Path) -> GitRepo:
    subprocess.run(["git", "clone", "-q", "--shared", str(source.path), str(target)], check=True,
                   env={**GIT_ENV, "PATH": "/usr/bin:/bin", "HOME": str(target.parent)}, capture_output=True)
    clone = GitRepo.__new__(GitRepo)  # an existing repository: no `git init`
    clone.path, clone._tick = target, 100
    return clone


def _one(run: Run) -> dict[str, Any]:
    (finding,) = run.json()["findings"]
    return finding


def test_an_alternate_repositorys_history_is_not_reported_as_this_ones(tmp_path: Path, rng: random.Random) -> None:
    theirs, mine = fakes.temporary(rng), fakes.temporary(rng)
    other = GitRepo(tmp_path / "other")  # e.g. the scanning user's own private repository
    other.commit("init", {"README": "other\n"})
    other.commit("their secret", {"prod.ini": ini(theirs)})
    handed = GitRepo(tmp_path / "handed")  # the repository someone handed over
    own = handed.commit("mine", {"dev.ini": ini(mine)})
    (handed.path / ".git/objects/info/alternates").write_text(f"{other.path / '.git/objects'}\n")
    assert other.git("rev-parse", "HEAD:prod.ini").strip() in handed.git("cat-file", "--batch-all-objects",
                                                                            "--batch-check")
    run = _history(handed.path)
    assert _keys(run) == {mine.access_key_id}  # its own credential, nothing of the other repository
    assert _one(run)["commit"] == own
    stats = run.json()["stats"]
    assert stats["skipped"]["alternate-only"] == 4  # the other's 2 commits and 2 blobs
    assert stats["blobs"] == 1
    assert str(other.path / ".git/objects") in run.stderr and "alternate" in run.stderr


def test_a_shared_clone_has_its_whole_history_scanned(tmp_path: Path, rng: random.Random) -> None:
    early, later, amended = fakes.temporary(rng), fakes.temporary(rng), fakes.temporary(rng)
    origin = GitRepo(tmp_path / "origin")
    origin.commit("init", {"README": "x\n"})
    leaked = origin.commit("leak", {"old.ini": ini(early)})
    (origin.path / "old.ini").unlink()
    origin.commit("removed")
    clone = _clone_shared(origin, tmp_path / "clone")
    assert not list((clone.path / ".git/objects/pack").glob("*.pack"))  # it stores nothing of its own
    origin.commit("after the clone", {"new.ini": ini(later)})  # the origin's, not the clone's
    # The clone's own unreachable work: committed, reset away, reflog expired (a loose object of its own).
    clone.commit("wip", {"wip.ini": ini(amended)})
    clone.git("reset", "-q", "--hard", "HEAD~1")
    clone.git("reflog", "expire", "--expire=now", "--all")
    run = _history(clone.path)
    found = {f["access_key_id"]: f for f in run.json()["findings"]}
    assert set(found) == {early.access_key_id, amended.access_key_id}
    assert (found[early.access_key_id]["path"], found[early.access_key_id]["commit"]) == ("old.ini", leaked)
    assert found[early.access_key_id]["author"] == "Test Author <author@example.com>"
    assert run.json()["stats"]["skipped"]["alternate-only"] == 2  # the origin's later commit and its blob
    assert str(origin.path / ".git/objects") in run.stderr


def test_a_git_file_pointing_elsewhere_is_said(tmp_path: Path, creds: fakes.FakeCredentials) -> None:
    other = GitRepo(tmp_path / "other")
    other.commit("leak", {"c.ini": ini(creds)})
    handed = tmp_path / "handed"
    handed.mkdir()
    (handed / ".git").write_text(f"gitdir: {other.path / '.git'}\n")
    run = _history(handed)
    # Scanned (a linked worktree's or a submodule's history is the user's own), and said whose it is.
    assert _keys(run) == {creds.access_key_id}
    assert f"is that of the git directory {(other.path / '.git').resolve()}, outside {handed.resolve()}" in run.stderr


def test_a_commondir_file_pointing_elsewhere_is_said(tmp_path: Path, creds: fakes.FakeCredentials) -> None:
    other = GitRepo(tmp_path / "other")
    other.commit("leak", {"c.ini": ini(creds)})
    handed = tmp_path / "handed.git"
    subprocess.run(["git", "init", "-q", "--bare", str(handed)], check=True)
    (handed / "commondir").write_text(f"{other.path / '.git'}\n")
    run = _history(handed)
    assert _keys(run) == {creds.access_key_id}
    assert f"is that of the git directory {(other.path / '.git').resolve()}, outside {handed.resolve()}" in run.stderr


def test_a_linked_worktree_is_scanned_and_said(repo: GitRepo, creds: fakes.FakeCredentials, tmp_path: Path) -> None:
    repo.commit("leak", {"c.ini": ini(creds)})
    repo.git("worktree", "add", "-q", str(tmp_path / "wt"))
    run = _history(tmp_path / "wt")
    assert _keys(run) == {creds.access_key_id}
    assert str((repo.path / ".git").resolve()) in run.stderr
    assert "outside" not in _history(repo.path).stderr  # the repository itself: nothing to say


def test_grafts_do_not_hide_commits_from_a_since_range(repo: GitRepo, creds: fakes.FakeCredentials) -> None:
    base = repo.commit("base", {"README": "x\n"})
    added = repo.commit("add", {"c.ini": ini(creds)})
    (repo.path / "c.ini").unlink()
    removed = repo.commit("remove")
    repo.commit("more", {"README": "y\n"})
    # The graft makes `removed` a child of `base`: `added` drops out of base..HEAD.
    (repo.path / ".git/info/grafts").write_text(f"{removed} {base}\n")
    run = _history(repo.path, "--since", base)  # the --since mode
    assert _keys(run) == {creds.access_key_id}
    assert (_one(run)["path"], _one(run)["commit"]) == ("c.ini", added)
    assert "info/grafts" in run.stderr and "ignored" in run.stderr


def test_a_pack_linked_in_from_another_repository_counts_as_borrowed(tmp_path: Path, rng: random.Random) -> None:
    theirs, mine = fakes.temporary(rng), fakes.temporary(rng)
    other = GitRepo(tmp_path / "other")
    other.commit("their secret", {"prod.ini": ini(theirs)})
    other.git("gc", "-q")
    handed = GitRepo(tmp_path / "handed")
    handed.commit("mine", {"dev.ini": ini(mine)})
    for part in (other.path / ".git/objects/pack").iterdir():
        (handed.path / ".git/objects/pack" / part.name).symlink_to(part)
    run = _history(handed.path)
    assert _keys(run) == {mine.access_key_id}
    assert run.json()["stats"]["skipped"]["alternate-only"] == 2
    assert "(a symlink)" in run.stderr and str(other.path / ".git/objects/pack") in run.stderr


@pytest.mark.parametrize("index_version", [None, "1"])
def test_local_objects_are_what_the_repository_stores(repo: GitRepo, rng: random.Random,
                                                      index_version: str | None) -> None:
    for i in range(3):
        repo.commit(f"c{i}", {f"f{i}.txt": rng.randbytes(200).hex()})
    repo.git("gc", "-q")
    repo.commit("loose", {"loose.txt": "x\n"})
    if index_version:  # the pack's index rewritten in the old format
        (idx,) = (repo.path / ".git/objects/pack").glob("*.idx")
        idx.chmod(0o644)
        idx.unlink()
        repo.git("index-pack", f"--index-version={index_version}", "-o", str(idx), str(idx.with_suffix(".pack")))
    every = set(repo.git("cat-file", "--batch-all-objects", "--batch-check=%(objectname)").encode().split())
    assert local_objects(repo.path, repo.path / ".git/objects") == every
