"""An organisation rerun (`org scan --since-last`): every old ref tip is a negative revision of one
range, so a changed repository costs what its new commits cost, not a git process per old tip.
The same for `scan --since` with several revisions (scanner/sources/git/history.py `since_revs`)."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

import scanner.sources.git.run as git_run
from scanner.errors import StsleakError
from scanner.org.scan_one import ScanJob, scan
from scanner.org.tips import known_commits, local_tips
from scanner.sources.git.history import resolve_commits, since_revs
from scanner.testing import fakes
from tests.support.cli import GitRepo
from tests.support.core import ini


def _repo_with_branches(repo: GitRepo, count: int) -> dict[str, str]:
    """`count` branches, each at a commit of its own; their tips."""
    repo.commit("base", {"README": "hello\n", "aws.ini": ini(fakes.temporary(random.Random(1)))})
    for i in range(count):
        repo.git("checkout", "-q", "-b", f"b{i}", "main")
        repo.commit(f"work {i}", {f"f{i}.txt": f"{i}\n"})
    repo.git("checkout", "-q", "main")
    return local_tips(repo.path)


def _git_processes(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, ...]]:
    """Every git process the scan starts goes through git_argv: a list that grows with each."""
    started: list[tuple[str, ...]] = []
    real = git_run.git_argv

    def counting(repo: Path | str, *args: str) -> list[str]:
        started.append(args)
        return real(repo, *args)

    monkeypatch.setattr(git_run, "git_argv", counting)
    return started


def _rerun(repo: GitRepo, old_tips: dict[str, str]) -> dict:
    return scan(ScanJob(str(repo.path), "r", list_tips=True, old_tips=old_tips))


@pytest.mark.parametrize("branches", [3, 60])
def test_a_rerun_starts_as_many_git_processes_for_60_old_tips_as_for_3(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, branches: int) -> None:
    repo = GitRepo(tmp_path / "r")
    old_tips = _repo_with_branches(repo, branches)
    creds = fakes.temporary(random.Random(2))
    new = repo.commit("leak", {"new.ini": ini(creds)})
    started = _git_processes(monkeypatch)
    out = _rerun(repo, old_tips)
    assert [(f["path"], f["commit"]) for f in out["findings"]] == [("new.ini", new)]
    assert len(out["since"]) == len(set(old_tips.values()))
    assert len(started) <= 20, [args[:2] for args in started]  # a fixed number, whatever the tip count


def test_a_force_pushed_away_tip_is_left_out_and_a_tag_is_peeled(repo: GitRepo) -> None:
    first = repo.commit("one", {"a.txt": "a\n"})
    repo.git("tag", "-a", "-m", "v1", "v1")
    tag = repo.git("rev-parse", "v1").strip()
    gone = "0123456789abcdef0123456789abcdef01234567"
    assert known_commits(repo.path, [first, gone, first, tag]) == [first, tag]
    assert resolve_commits(repo.path, [tag, "v1", "HEAD^{tree}", "nope", "a\nb", ""]) == [first, first, None, None,
                                                                                           None, None]


def test_since_names_an_unknown_revision(repo: GitRepo) -> None:
    first = repo.commit("one", {"a.txt": "a\n"})
    assert since_revs(repo.path, (first, "HEAD")) == ["--all", f"^{first}", "^HEAD"]
    with pytest.raises(StsleakError, match="unknown revision 'nope'"):
        since_revs(repo.path, (first, "nope"))


def test_a_set_already_at_its_path_in_any_old_tip_is_not_new(repo: GitRepo) -> None:
    creds = fakes.temporary(random.Random(3))
    repo.commit("base", {"README": "hello\n"})
    repo.git("checkout", "-q", "-b", "side")
    side = repo.commit("side has it", {"aws.ini": ini(creds)})
    repo.git("checkout", "-q", "main")
    base = repo.git("rev-parse", "HEAD").strip()
    repo.commit("main gets it too", {"aws.ini": ini(creds)})
    out = _rerun(repo, {"refs/heads/main": base, "refs/heads/side": side})
    assert out["findings"] == []  # the set was at aws.ini in an old tip (side's): not introduced since
    out = _rerun(repo, {"refs/heads/main": base})
    assert [f["path"] for f in out["findings"]] == ["aws.ini"]
