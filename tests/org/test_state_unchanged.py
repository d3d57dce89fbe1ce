"""#14: an organisation scan says `unchanged` only when it compared every ref tip and found each identical.

A rerun without --since-last does not look at the tips (it resumes: what is recorded is not scanned
again), so it must not go on reporting an earlier run's `unchanged` for a repository whose refs
have moved since.
"""

from __future__ import annotations

import random
from pathlib import Path

from scanner.org.state import RepoStatus, State
from scanner.testing import fakes
from tests.support.cli import GitRepo, stsleak
from tests.support.programs import ini


def _org_scan(repo: GitRepo, state: Path, *extra: str) -> dict:
    run = stsleak("org", "scan", str(repo.path), "--workers", "1", "--state", str(state), "--format", "json",
                  "--quiet", *extra, timeout=300)
    assert run.code in (0, 1), run.stderr
    return run.json()


def _status(report: dict) -> str:
    [row] = report["repositories"]
    return row["status"]


def test_rerun_without_since_last_never_reports_a_moved_repository_unchanged(tmp_path: Path,
                                                                           rng: random.Random) -> None:
    repo = GitRepo(tmp_path / "repo")
    first, second = fakes.temporary(rng), fakes.temporary(rng)
    repo.commit("first", {"a.env": ini(first)})
    state = tmp_path / "org.sqlite"
    assert _status(_org_scan(repo, state)) == "done"
    assert _status(_org_scan(repo, state, "--since-last")) == "unchanged"  # every tip identical

    repo.commit("second", {"b.env": ini(second)})  # the refs move
    rerun = _org_scan(repo, state)  # resumes: nothing recorded is scanned again, and the tips are not compared
    assert _status(rerun) != "unchanged"
    assert _status(rerun) == "done"

    moved = _org_scan(repo, state, "--since-last")  # compares the tips: moved, so the new commit is scanned
    assert _status(moved) == "done"
    assert {f["access_key_id"] for f in moved["findings"]} == {first.access_key_id, second.access_key_id}
    assert _status(_org_scan(repo, state, "--since-last")) == "unchanged"


def test_a_new_run_clears_the_last_runs_unchanged(tmp_path: Path) -> None:
    state = State(tmp_path / "org.sqlite")
    try:
        state.add("repo-a", "repo-b")
        state.record("repo-a", {"status": "done", "tips": {"refs/heads/main": "1" * 40}}, replace_findings=True)
        state.record("repo-a", {"status": "unchanged", "tips": {"refs/heads/main": "1" * 40}}, replace_findings=False)
        state.record("repo-b", {"status": "failed", "error": "gone"}, replace_findings=True)
        assert state.get("repo-a").status == RepoStatus.UNCHANGED  # type: ignore[union-attr]
        state.add("repo-a", "repo-b")  # the next run starts
        a, b = state.get("repo-a"), state.get("repo-b")
        assert a is not None and a.status == RepoStatus.DONE and a.tips == {"refs/heads/main": "1" * 40}
        assert b is not None and b.status == RepoStatus.FAILED
    finally:
        state.close()
