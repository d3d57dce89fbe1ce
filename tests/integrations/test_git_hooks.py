"""Plain git hooks (no framework): `stsleak install-hook`, then real `git commit` and `git push`."""

from __future__ import annotations

import os
import random
from pathlib import Path

import pytest

from scanner.testing import fakes
from tests.support.cli import GitRepo, Run, stsleak
from tests.support.programs import CHECKOUT, assert_no_secrets, ini, run


def _commit(repo: GitRepo, *args: str) -> Run:
    return run(["git", "commit", *args], repo.path)


def _count(repo: GitRepo) -> int:
    return int(repo.git("rev-list", "--count", "--all").strip() or 0)


def test_hook_scripts_carry_the_marker_and_are_executable() -> None:
    for name in ("pre-commit", "pre-push"):
        script = CHECKOUT / "hooks" / name
        assert "stsleak-hook" in script.read_text(encoding="utf-8")
        assert os.access(script, os.X_OK), f"hooks/{name} is not executable"


@pytest.fixture
def hooked(repo: GitRepo) -> GitRepo:
    repo.commit("init", {"README.md": "hello\n"})
    result = stsleak("install-hook", str(repo.path))
    assert result.code == 0, result.stderr
    assert "installed stsleak pre-commit hook" in result.stdout
    return repo


def test_pre_commit_hook_refuses_a_commit_with_a_credential(hooked: GitRepo, creds: fakes.FakeCredentials) -> None:
    hooked.write("secrets/aws.ini", ini(creds))
    hooked.git("add", "-A")
    result = _commit(hooked, "-m", "leak")
    assert result.code == 1, result.stdout + result.stderr
    output = result.stdout + result.stderr  # git sends a pre-commit hook's stdout to stderr
    assert "secrets/aws.ini:2" in output and creds.access_key_id in output
    assert_no_secrets(result, creds)
    assert _count(hooked) == 1


def test_pre_commit_hook_passes_a_clean_commit(hooked: GitRepo) -> None:
    hooked.write("src/main.py", "print('hello')\n")
    hooked.git("add", "-A")
    result = _commit(hooked, "-m", "clean")
    assert result.code == 0, result.stdout + result.stderr
    assert _count(hooked) == 2


def test_pre_commit_hook_sees_the_index_of_commit_all(hooked: GitRepo, creds: fakes.FakeCredentials) -> None:
    """`git commit -a` builds a temporary index (GIT_INDEX_FILE): the hook must scan that one."""
    hooked.write("README.md", "hello\n" + ini(creds))
    result = _commit(hooked, "-a", "-m", "leak via -a")
    assert result.code == 1, result.stdout + result.stderr
    assert "README.md:3" in result.stdout + result.stderr
    assert _count(hooked) == 1


def test_install_hook_refuses_a_foreign_hook_without_force(repo: GitRepo) -> None:
    hook = repo.path / ".git" / "hooks" / "pre-commit"
    hook.parent.mkdir(parents=True, exist_ok=True)
    hook.write_text("#!/bin/sh\necho team hook\n", encoding="utf-8")
    refused = stsleak("install-hook", str(repo.path))
    assert refused.code == 2 and "--force" in refused.stderr
    assert hook.read_text(encoding="utf-8") == "#!/bin/sh\necho team hook\n"

    forced = stsleak("install-hook", "--force", str(repo.path))
    assert forced.code == 0, forced.stderr
    assert "stsleak-hook" in hook.read_text(encoding="utf-8") and os.access(hook, os.X_OK)
    again = stsleak("install-hook", str(repo.path))  # its own hook is replaced without --force
    assert again.code == 0, again.stderr


# --- pre-push --------------------------------------------------------------------------------


@pytest.fixture
def pushing(repo: GitRepo, tmp_path: Path) -> GitRepo:
    """A repository with the pre-push hook and a bare `origin` that already has `main`."""
    run(["git", "init", "-q", "--bare", str(tmp_path / "origin.git")], tmp_path)
    repo.git("remote", "add", "origin", str(tmp_path / "origin.git"))
    repo.commit("init", {"README.md": "hello\n"})
    installed = stsleak("install-hook", "--type", "pre-push", str(repo.path))
    assert installed.code == 0, installed.stderr
    first = _push(repo, "main")
    assert first.code == 0, first.stdout + first.stderr
    return repo


def _push(repo: GitRepo, *refs: str) -> Run:
    return run(["git", "push", "origin", *refs], repo.path)


def _remote_has(repo: GitRepo, ref: str) -> bool:
    return bool(repo.git("ls-remote", "origin", ref).strip())


def _commit_no_verify(repo: GitRepo, message: str, files: dict[str, str]) -> None:
    for name, content in files.items():
        repo.write(name, content)
    repo.git("add", "-A")
    repo.git("commit", "-q", "--no-verify", "-m", message)


def test_pre_push_refuses_a_commit_with_a_credential(pushing: GitRepo, creds: fakes.FakeCredentials) -> None:
    _commit_no_verify(pushing, "leak", {"ci/aws.env": ini(creds)})
    _commit_no_verify(pushing, "later", {"src/a.py": "x = 1\n"})
    result = _push(pushing, "main")
    output = result.stdout + result.stderr
    assert result.code != 0, output
    assert "ci/aws.env:2" in output and creds.access_key_id in output and "push refused" in output
    assert_no_secrets(result, creds)
    assert pushing.git("rev-parse", "main~2").strip() == pushing.git("ls-remote", "origin", "main").split()[0]


def test_pre_push_passes_a_clean_push(pushing: GitRepo) -> None:
    _commit_no_verify(pushing, "clean", {"src/a.py": "x = 1\n"})
    result = _push(pushing, "main")
    assert result.code == 0, result.stdout + result.stderr
    assert pushing.git("ls-remote", "origin", "main").split()[0] == pushing.git("rev-parse", "main").strip()


def test_pre_push_scans_only_what_is_pushed(pushing: GitRepo, creds: fakes.FakeCredentials) -> None:
    """A credential on a local branch that is not pushed, or already on the remote, does not block."""
    pushing.git("checkout", "-q", "-b", "wip")
    _commit_no_verify(pushing, "local experiment", {"wip.env": ini(creds)})
    pushing.git("checkout", "-q", "main")
    _commit_no_verify(pushing, "clean", {"src/a.py": "x = 1\n"})
    assert _push(pushing, "main").code == 0

    # A new branch whose base (main) is on the remote: only its own commit is scanned.
    pushing.git("checkout", "-q", "-b", "feature")
    _commit_no_verify(pushing, "feature", {"src/b.py": "y = 2\n"})
    result = _push(pushing, "feature")
    assert result.code == 0, result.stdout + result.stderr
    assert _remote_has(pushing, "refs/heads/feature")

    # ... but pushing the wip branch, which holds the credential, is refused.
    refused = _push(pushing, "wip")
    assert refused.code != 0 and "wip.env" in refused.stdout + refused.stderr
    assert not _remote_has(pushing, "refs/heads/wip")


def test_pre_push_a_credential_already_on_the_remote_does_not_block_new_work(
        pushing: GitRepo, creds: fakes.FakeCredentials) -> None:
    _commit_no_verify(pushing, "old leak", {"old.env": ini(creds)})
    assert run(["git", "push", "--no-verify", "origin", "main"], pushing.path).code == 0
    _commit_no_verify(pushing, "unrelated", {"src/a.py": "x = 1\n"})
    result = _push(pushing, "main")
    assert result.code == 0, result.stdout + result.stderr


def test_pre_push_first_push_scans_the_whole_history(repo: GitRepo, tmp_path: Path, creds: fakes.FakeCredentials,
                                                     rng: random.Random) -> None:
    run(["git", "init", "-q", "--bare", str(tmp_path / "origin.git")], tmp_path)
    repo.git("remote", "add", "origin", str(tmp_path / "origin.git"))
    assert stsleak("install-hook", "--type", "pre-push", str(repo.path)).code == 0
    repo.commit("root with a leak", {"creds.ini": ini(creds)})
    repo.commit("removed", {"creds.ini": "# moved to the vault\n"})
    result = _push(repo, "main")
    assert result.code != 0 and creds.access_key_id in result.stdout + result.stderr
    assert not _remote_has(repo, "refs/heads/main")


def test_pre_push_deleting_a_remote_branch_passes(pushing: GitRepo) -> None:
    pushing.git("checkout", "-q", "-b", "topic")
    _commit_no_verify(pushing, "topic", {"t.txt": "t\n"})
    assert _push(pushing, "topic").code == 0
    result = _push(pushing, ":topic")
    assert result.code == 0, result.stdout + result.stderr
    assert not _remote_has(pushing, "refs/heads/topic")


def test_pre_push_annotated_tag_on_a_leaking_commit_is_refused(pushing: GitRepo,
                                                                creds: fakes.FakeCredentials) -> None:
    pushing.git("checkout", "-q", "-b", "release")
    _commit_no_verify(pushing, "leak", {"release.env": ini(creds)})
    pushing.git("tag", "-a", "v1.0", "-m", "release 1.0")
    refused = _push(pushing, "v1.0")
    assert refused.code != 0 and "release.env" in refused.stdout + refused.stderr
    assert not _remote_has(pushing, "refs/tags/v1.0")
    pushing.git("checkout", "-q", "main")
    pushing.git("tag", "-a", "v0.9", "-m", "clean release")
    assert _push(pushing, "v0.9").code == 0


def test_pre_push_editing_a_file_whose_credential_is_already_on_the_remote(
        pushing: GitRepo, creds: fakes.FakeCredentials) -> None:
    """As with `scan --since`: the set was at that path before the push, so it is not new."""
    _commit_no_verify(pushing, "old leak", {"legacy.ini": ini(creds)})
    assert run(["git", "push", "--no-verify", "origin", "main"], pushing.path).code == 0
    _commit_no_verify(pushing, "edit elsewhere", {"legacy.ini": ini(creds) + "region = eu-west-1\n"})
    result = _push(pushing, "main")
    assert result.code == 0, result.stdout + result.stderr
