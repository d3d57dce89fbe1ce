"""The pre-push range (scanner/sources/git/prepush.py) on small real repositories, and the
`stsleak hook pre-push` command that hooks/pre-push runs."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from scanner.sources.git import prepush
from scanner.sources.git.prepush import Z40, RefUpdate
from scanner.testing import fakes
from tests.support.cli import GitRepo
from tests.support.cli import stsleak_in_process as stsleak  # the CLI in this process (fast tier)
from tests.support.core import ini


def test_parse_push_lines() -> None:
    text = ("refs/heads/main 1111111111111111111111111111111111111111 refs/heads/main "
            "2222222222222222222222222222222222222222\n\n"
            f"(delete) {Z40} refs/heads/old 3333333333333333333333333333333333333333\ngarbage line\n")
    assert prepush.parse_push_lines(text) == [RefUpdate("1" * 40, "2" * 40), RefUpdate(Z40, "3" * 40)]
    assert prepush.parse_push_lines("") == []


@pytest.fixture
def pushed(repo: GitRepo, tmp_path: Path) -> GitRepo:
    """main (init) is on origin; main has one new commit; `wip` is a local branch with another."""
    repo.git("init", "-q", "--bare", str(tmp_path / "origin.git"))
    repo.git("remote", "add", "origin", str(tmp_path / "origin.git"))
    repo.commit("init", {"README.md": "hello\n"})
    repo.git("push", "-q", "--no-verify", "origin", "main")
    repo.git("checkout", "-q", "-b", "wip")
    repo.commit("wip", {"wip.txt": "w\n"})
    repo.git("checkout", "-q", "main")
    repo.commit("new", {"new.txt": "n\n"})
    return repo


def _sha(repo: GitRepo, rev: str) -> str:
    return repo.git("rev-parse", rev).strip()


def test_range_of_a_push_onto_a_known_remote_tip(pushed: GitRepo) -> None:
    old = _sha(pushed, "origin/main")
    got = prepush.push_range(pushed.path, [RefUpdate(_sha(pushed, "main"), old)])
    assert (got.tips, got.bases, got.boundary) == ((_sha(pushed, "main"),), (old,), (old,))


def test_range_of_a_new_branch_starts_where_it_leaves_the_remotes(pushed: GitRepo) -> None:
    got = prepush.push_range(pushed.path, [RefUpdate(_sha(pushed, "wip"), Z40)])
    assert got.bases == () and got.boundary == (_sha(pushed, "origin/main"),)


def test_remote_tip_unknown_here_is_no_base(pushed: GitRepo) -> None:
    got = prepush.push_range(pushed.path, [RefUpdate(_sha(pushed, "main"), "1234567890" * 4)])
    assert got.bases == () and got.boundary == (_sha(pushed, "origin/main"),)


@pytest.mark.parametrize("case", ["deletion", "already-on-remote", "nothing"])
def test_empty_ranges(pushed: GitRepo, case: str) -> None:
    updates = {"deletion": [RefUpdate(Z40, _sha(pushed, "origin/main"))],
               "already-on-remote": [RefUpdate(_sha(pushed, "origin/main"), Z40)],
               "nothing": []}[case]
    assert prepush.push_range(pushed.path, updates).empty


def test_first_push_has_no_boundary(repo: GitRepo) -> None:
    repo.commit("root", {"a.txt": "a\n"})
    got = prepush.push_range(repo.path, [RefUpdate(_sha(repo, "main"), Z40)])
    assert got.tips == (_sha(repo, "main"),) and got.boundary == ()


def test_updates_from_pre_commit_environment(pushed: GitRepo) -> None:
    main, old = _sha(pushed, "main"), _sha(pushed, "origin/main")
    env = {"PRE_COMMIT_TO_REF": "main", "PRE_COMMIT_FROM_REF": "origin/main"}
    assert prepush.updates_from_pre_commit(pushed.path, env) == [RefUpdate(main, old)]
    assert prepush.updates_from_pre_commit(pushed.path, {"PRE_COMMIT_TO_REF": "main"}) == [RefUpdate(main, Z40)]
    assert prepush.updates_from_pre_commit(pushed.path, {"PRE_COMMIT_LOCAL_BRANCH": "wip"}) == [
        RefUpdate(_sha(pushed, "wip"), Z40)]
    assert prepush.updates_from_pre_commit(pushed.path, {"PRE_COMMIT": "1"}) == [RefUpdate(main, Z40)]
    assert prepush.updates_from_pre_commit(pushed.path, {}) is None


def test_base_commit_is_fixed_text() -> None:
    text = prepush.base_commit_text("t" * 40, ("a" * 40, "b" * 40))
    assert text.splitlines()[:3] == [f"tree {'t' * 40}", f"parent {'a' * 40}", f"parent {'b' * 40}"]
    assert "946684800 +0000" in text and text == prepush.base_commit_text("t" * 40, ("a" * 40, "b" * 40))


def test_scratch_repository_holds_only_the_push(pushed: GitRepo, tmp_path: Path, rng: random.Random) -> None:
    leaked, other = fakes.temporary(rng), fakes.temporary(rng)
    pushed.git("checkout", "-q", "wip")
    pushed.commit("wip leak", {"wip.ini": ini(other)})
    pushed.git("checkout", "-q", "main")
    pushed.commit("main leak", {"main.ini": ini(leaked)})
    got = prepush.push_range(pushed.path, [RefUpdate(_sha(pushed, "main"), _sha(pushed, "origin/main"))])
    work = tmp_path / "scratch"
    work.mkdir()
    scratch, base = prepush.make_scratch(prepush.objects_dir(pushed.path), got, work)
    assert not (pushed.path / ".git" / "refs" / "pushed").exists()  # nothing written to the pushing repo
    run = stsleak("scan", "--since", base, "--format", "json", str(scratch))
    assert [f["path"] for f in run.json()["findings"]] == ["main.ini"], run.stderr


def test_first_push_scratch_base_has_the_empty_tree(repo: GitRepo, tmp_path: Path) -> None:
    repo.commit("root", {"a.txt": "a\n"})
    got = prepush.push_range(repo.path, [RefUpdate(_sha(repo, "main"), Z40)])
    scratch, base = prepush.make_scratch(prepush.objects_dir(repo.path), got, tmp_path)
    assert repo.git("-C", str(scratch), "ls-tree", base).strip() == ""
    assert repo.git("-C", str(scratch), "rev-list", "--parents", "-n", "1", base).split() == [base]


def test_hook_command_refuses_a_leak_and_passes_the_rest(pushed: GitRepo, rng: random.Random) -> None:
    creds = fakes.temporary(rng)
    pushed.commit("leak", {"ci/aws.env": ini(creds)})
    line = f"refs/heads/main {_sha(pushed, 'main')} refs/heads/main {_sha(pushed, 'origin/main')}\n"
    refused = stsleak("hook", "pre-push", "origin", "url", cwd=pushed.path, input_text=line)
    assert refused.code == 1 and "ci/aws.env:2" in refused.stdout and "push refused" in refused.stderr
    assert creds.secret_access_key not in refused.stdout + refused.stderr
    deletion = f"(delete) {Z40} refs/heads/old {_sha(pushed, 'origin/main')}\n"
    assert stsleak("hook", "pre-push", cwd=pushed.path, input_text=deletion).code == 0
    wip = f"refs/heads/wip {_sha(pushed, 'wip')} refs/heads/wip {Z40}\n"
    assert stsleak("hook", "pre-push", cwd=pushed.path, input_text=wip).code == 0
