"""Issue 20, case 8: `scan .` in a git work tree says, once, that history was not scanned and how
to scan it (a credential deleted from the files is still in the commits)."""

from __future__ import annotations

from pathlib import Path

from scanner.testing import fakes
from tests.support.cli import GitRepo, stsleak
from tests.support.core import ini

HINT = "git history of . was not scanned"


def _deleted_leak(repo: GitRepo, creds: fakes.FakeCredentials) -> None:
    repo.commit("leak", {"aws.ini": ini(creds), "README.md": "hi\n"})
    repo.git("rm", "-q", "aws.ini")
    repo.git("commit", "-q", "-m", "remove it")


def test_a_work_tree_scan_says_history_was_not_scanned(repo: GitRepo, creds: fakes.FakeCredentials) -> None:
    _deleted_leak(repo, creds)
    result = stsleak("scan", ".", cwd=repo.path)
    assert result.code == 0 and "0 findings" in result.stdout
    said = (result.stdout + result.stderr).count(HINT)
    assert said == 1, result.stdout + result.stderr
    assert "stsleak scan --history ." in result.stdout  # in the text summary
    following = stsleak("scan", "--history", ".", cwd=repo.path)  # the advice, followed, finds it
    assert following.code == 1 and creds.access_key_id in following.stdout


def test_not_with_quiet_staged_history_or_outside_a_work_tree(repo: GitRepo, creds: fakes.FakeCredentials,
                                                               tmp_path: Path) -> None:
    _deleted_leak(repo, creds)
    for args in (["scan", "--quiet", "."], ["scan", "--staged"], ["scan", "--history", "."]):
        result = stsleak(*args, cwd=repo.path)
        assert "history of" not in result.stdout + result.stderr, args
    plain = tmp_path / "plain"
    plain.mkdir()
    (plain / "a.txt").write_text("hello\n")
    result = stsleak("scan", ".", cwd=plain)
    assert result.code == 0 and result.stderr == ""


def test_json_and_sarif_bodies_are_unchanged(repo: GitRepo, creds: fakes.FakeCredentials) -> None:
    _deleted_leak(repo, creds)
    for fmt in ("json", "sarif"):
        result = stsleak("scan", "--format", fmt, ".", cwd=repo.path)
        assert result.code == 0
        assert "was not scanned" not in result.stdout and "--history" not in result.stdout, fmt
    report = stsleak("scan", "--format", "json", ".", cwd=repo.path).json()
    assert report["stats"]["skipped"] == {} and report["stats"]["errors"] == []


def test_each_work_tree_named_is_said_once(tmp_path: Path) -> None:
    one, two = GitRepo(tmp_path / "one"), GitRepo(tmp_path / "two")
    one.commit("a", {"a.txt": "a\n"})
    two.commit("b", {"b.txt": "b\n"})
    result = stsleak("scan", "one", "two", cwd=tmp_path)
    assert result.stdout.count("was not scanned") == 2
    assert "stsleak scan --history one" in result.stdout and "stsleak scan --history two" in result.stdout
