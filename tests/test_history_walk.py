"""The one walk of a full history scan (scanner/sources/git/walk.py) and placement from it
(HistoryScan.introductions): every guarantee of the two walks it replaced, each on a real repository.

- unreachable commits are scanned and placed (from the listing, by a small `git log` over them);
- reflogs and the stash are walked: an object only they reach and the repository lacks is reported;
- a blob is reported at each path it was introduced at (two commits, one commit, a copied
  directory, an old blob copied at the tip);
- clock skew never names a child that inherited a blob; where two commits introduce a blob at
  one path, the earliest by committer time wins, even when the walk prints the later one first;
- a walk git cannot finish is reported and placement falls back to every listed commit;
- the walk's output is parsed in blocks: a line cut by a block boundary is read whole.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest

import scanner.sources.git.walk as walk_module
from scanner.detection.prefilter import make_prefilter
from scanner.detection.rules import load_ruleset
from scanner.model import Finding, ScanMode, ScanStats
from scanner.pipeline import ScanRequest, run_scan
from scanner.sources.git.history import HistoryScan
from scanner.testing import fakes
from tests.support.cli import GitRepo
from tests.support.core import ini


def _creds(seed: int) -> str:
    return ini(fakes.temporary(random.Random(seed)))


def _scan(repo: GitRepo) -> tuple[list[Finding], ScanStats]:
    result = run_scan(ScanRequest(mode=ScanMode.HISTORY, paths=(repo.path,)), load_ruleset())
    return result.findings, result.stats


def _places(findings: list[Finding]) -> set[tuple[str | None, str | None]]:
    return {(f.path, f.commit) for f in findings}


def _delete_loose(repo: GitRepo, oid: str) -> None:
    (repo.path / ".git" / "objects" / oid[:2] / oid[2:]).unlink()


def test_an_unreachable_commit_is_scanned_and_placed(repo: GitRepo) -> None:
    base = repo.commit("base", {"README": "hello\n"})
    lost = repo.commit("wip", {"wip.ini": _creds(1)})
    repo.git("reset", "-q", "--hard", base)
    repo.git("reflog", "expire", "--expire=now", "--all")  # nothing reaches it; the object is still there
    findings, stats = _scan(repo)
    assert _places(findings) == {("wip.ini", lost)}
    assert not stats.errors


def test_an_amended_away_commit_places_the_blob_beside_the_reachable_one(repo: GitRepo) -> None:
    """The first version of a commit (no ref or reflog reaches it) had the file at another path."""
    text = _creds(14)
    repo.commit("base", {"README": "hello\n"})
    first = repo.commit("wip", {"draft/aws.ini": text})
    repo.git("rm", "-q", "draft/aws.ini")
    repo.write("aws.ini", text)
    repo.git("add", "-A")
    repo.git("commit", "-q", "--amend", "-m", "final")
    final = repo.git("rev-parse", "HEAD").strip()
    repo.git("reflog", "expire", "--expire=now", "--all")
    findings, _ = _scan(repo)
    assert _places(findings) == {("draft/aws.ini", first), ("aws.ini", final)}


def test_a_commit_only_the_reflog_reaches_is_placed(repo: GitRepo) -> None:
    base = repo.commit("base", {"README": "hello\n"})
    gone = repo.commit("wip", {"wip.ini": _creds(2)})
    repo.git("reset", "-q", "--hard", base)  # the branch's reflog still holds it
    findings, _ = _scan(repo)
    assert _places(findings) == {("wip.ini", gone)}


def test_a_missing_blob_only_the_reflog_reaches_is_reported(repo: GitRepo) -> None:
    base = repo.commit("base", {"README": "hello\n"})
    repo.commit("wip", {"only-in-reflog.txt": "soon gone\n"})
    oid = repo.git("rev-parse", "HEAD:only-in-reflog.txt").strip()
    repo.git("reset", "-q", "--hard", base)
    _delete_loose(repo, oid)
    _, stats = _scan(repo)
    assert any("corrupt" in e and oid in e for e in stats.errors), stats.errors


def test_the_stash_is_scanned_placed_and_checked(repo: GitRepo) -> None:
    repo.commit("base", {"settings.ini": "[default]\n", "notes.txt": "kept\n"})
    repo.write("settings.ini", _creds(3))
    repo.write("notes.txt", "a stashed change gone from the store\n")
    repo.git("stash", "push", "-q")
    stash = repo.git("rev-parse", "refs/stash").strip()
    stashed_notes = repo.git("rev-parse", "refs/stash:notes.txt").strip()
    _delete_loose(repo, stashed_notes)
    findings, stats = _scan(repo)
    (finding,) = findings
    assert finding.path == "settings.ini"
    assert finding.commit in repo.git("rev-list", stash).split()  # the stash's own commits, not main's
    assert any("corrupt" in e and stashed_notes in e for e in stats.errors), stats.errors


def test_one_blob_at_two_paths_in_two_commits(repo: GitRepo) -> None:
    text = _creds(4)
    repo.commit("base", {"README": "hello\n"})
    first = repo.commit("a", {"deploy/a.env": text})
    second = repo.commit("b", {"deploy/copy/b.env": text})
    findings, _ = _scan(repo)
    assert _places(findings) == {("deploy/a.env", first), ("deploy/copy/b.env", second)}


def test_one_blob_at_two_paths_in_one_commit(repo: GitRepo) -> None:
    text = _creds(5)
    both = repo.commit("both", {"one.ini": text, "sub/two.ini": text})
    findings, _ = _scan(repo)
    assert _places(findings) == {("one.ini", both), ("sub/two.ini", both)}


def test_a_copied_directory_places_the_blob_at_its_new_path(repo: GitRepo) -> None:
    """The copy reuses the whole tree object: the walk prints neither it nor the blob again."""
    first = repo.commit("conf", {"conf/aws.ini": _creds(6), "conf/other.txt": "x\n"})
    repo.commit("unrelated", {"README": "hello\n"})
    copied = repo.commit("copy", {"backup/conf/aws.ini": _creds(6), "backup/conf/other.txt": "x\n"})
    findings, _ = _scan(repo)
    assert _places(findings) == {("conf/aws.ini", first), ("backup/conf/aws.ini", copied)}


def test_an_old_blob_copied_at_the_tip(repo: GitRepo) -> None:
    old = repo.commit("old", {"old/aws.ini": _creds(7)})
    for i in range(20):
        repo.commit(f"work {i}", {f"f{i}.txt": f"{i}\n"})
    tip = repo.commit("copy", {"new/aws.ini": _creds(7)})
    findings, _ = _scan(repo)
    assert _places(findings) == {("old/aws.ini", old), ("new/aws.ini", tip)}


def test_clock_skew_never_names_a_child_that_inherited_the_blob(repo: GitRepo) -> None:
    """The parent introduces the file; its second child is dated years before it: `rev-list --reverse`
    without `--date-order` prints that child first, with the file already in its tree."""
    repo.commit("root", {"README": "hello\n"}, date="2020-01-01T00:00:00+00:00")
    parent = repo.commit("secret", {"aws.ini": _creds(8)}, date="2020-06-01T00:00:00+00:00")
    repo.commit("child one", {"a.txt": "a\n"}, date="2020-07-01T00:00:00+00:00")
    repo.git("checkout", "-q", "-b", "skewed", parent)
    repo.commit("child two", {"b.txt": "b\n"}, date="2001-01-01T00:00:00+00:00")
    findings, _ = _scan(repo)
    assert _places(findings) == {("aws.ini", parent)}


def test_the_earliest_introduction_wins_where_the_walk_prints_a_later_one_first(repo: GitRepo) -> None:
    """Two branches add the same file, in 2020-02 and in 2020-03. The later one has a child dated
    2019 (skew), which holds it back in git's newest-first order: reversed, the walk prints it first."""
    text = _creds(9)
    root = repo.commit("root", {"README": "hello\n"}, date="2020-01-01T00:00:00+00:00")
    repo.git("checkout", "-q", "-b", "late", root)
    later = repo.commit("later", {"aws.ini": text}, date="2020-03-01T00:00:00+00:00")
    repo.commit("skewed child", {"x.txt": "x\n"}, date="2019-06-01T00:00:00+00:00")
    repo.git("checkout", "-q", "-b", "early", root)
    earlier = repo.commit("earlier", {"aws.ini": text}, date="2020-02-01T00:00:00+00:00")
    walk = walk_module.HistoryWalk(repo.path)
    assert walk.problem() is None
    blob = repo.git("rev-parse", f"{later}:aws.ini").strip()
    order = walk.order({blob}, 40)
    walk.cancel()
    assert order.since(order.first[blob]).split()[0].decode() == later  # the walk names the later one
    findings, _ = _scan(repo)
    assert _places(findings) == {("aws.ini", earlier)}


def test_placement_diffs_only_the_commits_from_the_first_that_holds_a_finding(repo: GitRepo) -> None:
    for i in range(30):
        repo.commit(f"work {i}", {f"f{i}.txt": f"{i}\n"})
    tip = repo.commit("leak", {"aws.ini": _creds(10)})
    stats = ScanStats()
    prefilter = make_prefilter(load_ruleset().key_id_prefixes, False)
    with HistoryScan(repo.path, None, 1 << 20, prefilter, stats) as history:
        (chunk,) = list(history)
        assert chunk.blob is not None
        assert history._commits_to_show({chunk.blob}) == f"{tip}\n".encode()
        (intro,) = history.introductions({chunk.blob})[chunk.blob]
    assert (intro.path, intro.commit) == ("aws.ini", tip)
    assert not stats.errors


def test_a_walk_git_cannot_finish_is_reported_and_placement_uses_every_commit(repo: GitRepo) -> None:
    placed = repo.commit("leak", {"aws.ini": _creds(11)})
    repo.commit("more", {"README": "hello\n"})
    gone = repo.commit("gone", {"lost.txt": "x\n"})
    repo.git("reset", "-q", "--hard", "HEAD~1")
    repo.git("reflog", "expire", "--expire=now", "--all")
    repo.git("update-ref", "refs/heads/broken", gone)
    _delete_loose(repo, gone)  # a ref names a commit the repository lacks
    findings, stats = _scan(repo)
    assert _places(findings) == {("aws.ini", placed)}
    assert any("corrupt" in e for e in stats.errors), stats.errors


def test_the_walk_output_is_read_whole_across_block_boundaries(repo: GitRepo, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(walk_module, "_BLOCK", 50)  # shorter than one line: every line is cut somewhere
    text = _creds(12)
    for i in range(5):
        repo.commit(f"work {i}", {f"dir{i}/f{i}.txt": f"{i}\n"})
    first = repo.commit("a", {"deep/er/path/a.ini": text})
    for i in range(5):
        repo.commit(f"more {i}", {f"more{i}.txt": f"{i}\n"})
    second = repo.commit("b", {"b.ini": text})
    findings, stats = _scan(repo)
    assert _places(findings) == {("deep/er/path/a.ini", first), ("b.ini", second)}
    assert not stats.errors


def test_many_wanted_blobs_are_looked_up_line_by_line(repo: GitRepo, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(walk_module, "_FEW", 0)
    commits = {repo.commit(f"leak {i}", {f"k{i}.ini": _creds(100 + i)}): f"k{i}.ini" for i in range(4)}
    findings, _ = _scan(repo)
    assert _places(findings) == {(path, commit) for commit, path in commits.items()}


def test_a_path_with_a_newline_is_placed_whole(repo: GitRepo, tmp_path: Path) -> None:
    """git cuts a name at its first newline in the walk's output; placement reads paths from git log -z."""
    name = "odd\n0123456789abcdef0123456789abcdef01234567.ini"
    leak = repo.commit("odd", {name: _creds(13)})
    findings, _ = _scan(repo)
    assert _places(findings) == {(name, leak)}
