"""`stsleak scan --staged`: what `git commit` would record, judged from the index."""

from __future__ import annotations

import random

import pytest

from scanner.testing import fakes
from tests.support.cli import GitRepo
from tests.support.cli import stsleak_in_process as stsleak  # the CLI in this process (fast tier)
from tests.support.programs import assert_no_secrets, ini


def _scan(repo: GitRepo) -> tuple[int, list[dict]]:
    result = stsleak("scan", "--staged", "--format", "json", str(repo.path))
    assert result.code in (0, 1), result.stderr
    return result.code, result.json()["findings"]


def test_staged_credential_reported_with_staged_path_and_line(repo: GitRepo, creds: fakes.FakeCredentials) -> None:
    repo.commit("init", {"README.md": "hello\n"})
    repo.write("deploy/prod/creds.ini", "# deploy profile\n\n" + ini(creds))
    repo.git("add", "-A")
    result = stsleak("scan", "--staged", str(repo.path))
    assert result.code == 1
    assert "deploy/prod/creds.ini:4" in result.stdout and creds.access_key_id in result.stdout
    assert_no_secrets(result, creds)
    code, findings = _scan(repo)
    assert code == 1
    assert [(f["path"], f["line"], f["missing"]) for f in findings] == [("deploy/prod/creds.ini", 4, [])]


def test_staged_then_edited_is_judged_by_what_is_staged(repo: GitRepo, creds: fakes.FakeCredentials) -> None:
    repo.commit("init", {"README.md": "hello\n"})
    repo.write("app.env", ini(creds))
    repo.git("add", "app.env")
    repo.write("app.env", "# credentials removed from the work tree, but not from the index\n")
    code, findings = _scan(repo)
    assert code == 1 and [f["access_key_id"] for f in findings] == [creds.access_key_id]

    # The other way round: a clean staged blob, a credential only in the work tree.
    repo.git("reset", "-q")
    repo.write("app.env", "REGION=eu-west-1\n")
    repo.git("add", "app.env")
    repo.write("app.env", ini(creds))
    assert _scan(repo) == (0, [])


def test_deleting_a_file_with_a_committed_credential_passes(repo: GitRepo, creds: fakes.FakeCredentials) -> None:
    repo.commit("leak", {"old/creds.ini": ini(creds), "README.md": "hello\n"})
    repo.git("rm", "-q", "old/creds.ini")
    assert _scan(repo) == (0, [])


def test_renamed_file_with_committed_credential_is_not_reported_again(
        repo: GitRepo, creds: fakes.FakeCredentials, rng: random.Random) -> None:
    body = ini(creds) + "".join(f"option_{i} = value {i}\n" for i in range(20))
    repo.commit("leak", {"conf/old.ini": body})
    repo.git("mv", "conf/old.ini", "conf/new.ini")
    assert _scan(repo) == (0, [])

    # Renamed and edited a little: still the same credential, still not new.
    repo.write("conf/new.ini", body + "option_extra = 1\n")
    repo.git("add", "-A")
    assert _scan(repo) == (0, [])

    # A new credential added in the renamed file is reported, and only that one.
    other = fakes.temporary(rng)
    repo.write("conf/new.ini", body + "\n[other]\n" + ini(other).split("\n", 1)[1])
    repo.git("add", "-A")
    code, findings = _scan(repo)
    assert code == 1
    assert [(f["path"], f["access_key_id"]) for f in findings] == [("conf/new.ini", other.access_key_id)]


def test_editing_another_line_of_a_file_with_a_committed_credential(repo: GitRepo,
                                                                   creds: fakes.FakeCredentials) -> None:
    repo.commit("leak", {"creds.ini": ini(creds)})
    repo.write("creds.ini", ini(creds) + "region = eu-west-1\n")
    repo.git("add", "-A")
    assert _scan(repo) == (0, [])


def test_copy_of_a_committed_credential_to_a_new_file_is_reported(repo: GitRepo, creds: fakes.FakeCredentials) -> None:
    """A new path exposes the credential anew (e.g. a file copied into a public directory)."""
    repo.commit("leak", {"private/creds.ini": ini(creds)})
    repo.write("public/creds.ini", "# copied\n" + ini(creds))
    repo.git("add", "-A")
    code, findings = _scan(repo)
    assert code == 1 and [f["path"] for f in findings] == ["public/creds.ini"]


@pytest.mark.parametrize("leak", [True, False], ids=["leak", "clean"])
def test_initial_commit_on_an_unborn_branch(repo: GitRepo, creds: fakes.FakeCredentials, leak: bool) -> None:
    repo.write("main.py", "print('first commit')\n")
    if leak:
        repo.write("creds.ini", ini(creds))
    repo.git("add", "-A")
    code, findings = _scan(repo)
    assert (code, [f["path"] for f in findings]) == ((1, ["creds.ini"]) if leak else (0, []))


def test_nothing_staged(repo: GitRepo) -> None:
    repo.commit("init", {"README.md": "hello\n"})
    assert _scan(repo) == (0, [])
    assert stsleak("scan", "--staged", str(repo.path)).code == 0


def test_staged_outside_a_repository_is_an_error(tmp_path) -> None:
    result = stsleak("scan", "--staged", str(tmp_path))
    assert result.code == 2 and "git" in result.stderr and result.stderr.count("\n") == 1
