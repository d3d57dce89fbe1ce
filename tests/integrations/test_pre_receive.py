"""Server-side push protection (issue 25): `stsleak install-hook --type pre-receive` into a bare
repository, then real `git push` from a clone, over file:// and over a `git daemon` on 127.0.0.1
with receive-pack enabled. Every push runs with a subprocess timeout, so a hang fails the test.
Credentials are generated at run time.
"""

from __future__ import annotations

import json
import os
import random
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from scanner.revocation.chain import check as check_chain
from scanner.testing import fakes
from tests.support.cli import GitRepo, Run, stsleak
from tests.support.programs import CHECKOUT, assert_no_secrets, ini, program_env
from tests.support.receive import Server, assert_refused, clone_for, git_daemon, hooked_server, push


@pytest.fixture
def server(tmp_path: Path) -> Server:
    return hooked_server(tmp_path / "srv" / "app.git")


@pytest.fixture(params=["file", "daemon"])
def url(request: pytest.FixtureRequest, server: Server) -> Iterator[str]:
    """The server's URL: file://, or git:// through a git daemon."""
    if request.param == "file":
        yield server.path.as_uri()
        return
    with git_daemon(server.path.parent) as base:
        yield base + server.path.name


@pytest.fixture
def dev(repo: GitRepo, url: str) -> GitRepo:
    """A clone that has pushed `main` (clean) to the hooked server, over each transport."""
    return clone_for(repo, url)


@pytest.fixture
def dev_file(repo: GitRepo, server: Server) -> GitRepo:
    """The same over file:// only (the tests of what is scanned, not of the transport)."""
    return clone_for(repo, server.path.as_uri())


def _commit(repo: GitRepo, message: str, files: dict[str, str | bytes] | None = None) -> str:
    return repo.commit(message, files)


# --- refusals ----------------------------------------------------------------------------------


def test_a_push_adding_a_credential_is_refused_with_where_and_what_to_do(
        dev: GitRepo, server: Server, creds: fakes.FakeCredentials) -> None:
    before = server.rev("refs/heads/main")
    leak = _commit(dev, "add deploy settings", {"ci/aws.env": ini(creds)})
    _commit(dev, "later work", {"src/a.py": "x = 1\n"})
    result = push(dev, "main")
    assert_refused(result, server, "refs/heads/main", before)
    out = result.stderr
    assert "remote: stsleak: push refused: 1 AWS credential" in out
    assert "ci/aws.env:2" in out and creds.access_key_id in out and leak[:12] in out
    assert f"{creds.secret_access_key[:4]}…" in out  # the redacted preview
    assert "pushed to: refs/heads/main" in out and "fingerprint: " in out
    assert "what to do:" in out and "git rebase -i" in out
    assert_no_secrets(result, creds)


def test_no_verify_does_not_skip_it(dev_file: GitRepo, server: Server, creds: fakes.FakeCredentials) -> None:
    before = server.rev("refs/heads/main")
    _commit(dev_file, "leak", {"aws.ini": ini(creds)})
    result = push(dev_file, "--no-verify", "main")
    assert_refused(result, server, "refs/heads/main", before)
    assert creds.access_key_id in result.stderr


def test_a_credential_added_and_deleted_in_one_push_is_refused(
        dev_file: GitRepo, server: Server, creds: fakes.FakeCredentials) -> None:
    before = server.rev("refs/heads/main")
    added = _commit(dev_file, "add", {"config/prod.ini": ini(creds)})
    (dev_file.path / "config" / "prod.ini").unlink()
    _commit(dev_file, "oops, remove it")
    result = push(dev_file, "main")
    assert_refused(result, server, "refs/heads/main", before)
    assert "config/prod.ini:2" in result.stderr and added[:12] in result.stderr


def test_a_credential_in_a_commit_message_is_refused(
        dev_file: GitRepo, server: Server, creds: fakes.FakeCredentials) -> None:
    before = server.rev("refs/heads/main")
    dev_file.commit(f"debugging, used these:\n\n{ini(creds)}", {"notes.txt": "n\n"})
    result = push(dev_file, "main")
    assert_refused(result, server, "refs/heads/main", before)
    assert "(commit message)" in result.stderr and creds.access_key_id in result.stderr
    assert_no_secrets(result, creds)


def test_a_new_branch_is_scanned_from_where_it_leaves_existing_history(
        dev_file: GitRepo, server: Server, creds: fakes.FakeCredentials, rng: random.Random) -> None:
    """An old credential the server already holds does not block new work; a new one on a new
    branch does, and only the new branch's commits are named."""
    old = fakes.temporary(rng)
    _commit(dev_file, "old leak", {"legacy.ini": ini(old)})
    server.git("config", "core.hooksPath", "/dev/null")  # let the old leak in, as if from before the hook
    assert push(dev_file, "main").code == 0
    server.git("config", "--unset", "core.hooksPath")
    dev_file.git("checkout", "-q", "-b", "feature")
    _commit(dev_file, "clean work", {"src/b.py": "y = 2\n"})
    clean = push(dev_file, "feature")
    assert clean.code == 0, clean.stderr
    assert "1 new commit checked" in clean.stderr
    _commit(dev_file, "new leak", {"feature.env": ini(creds)})
    refused = push(dev_file, "feature")
    assert refused.code != 0
    assert creds.access_key_id in refused.stderr and old.access_key_id not in refused.stderr


def test_an_annotated_tag_message_and_a_ref_to_a_blob_are_scanned(
        dev_file: GitRepo, server: Server, creds: fakes.FakeCredentials) -> None:
    """Objects pushed outside commits: a tag's message, a blob a ref names."""
    dev_file.git("tag", "-a", "v1.0", "-m", f"release\n\n{ini(creds)}")
    tag = push(dev_file, "refs/tags/v1.0")
    assert tag.code != 0 and "the message of tag" in tag.stderr and creds.access_key_id in tag.stderr
    assert server.rev("refs/tags/v1.0") is None
    blob = dev_file.git("hash-object", "-w", "--stdin", input_text=ini(creds)).strip()
    named = push(dev_file, f"{blob}:refs/tags/key")
    assert named.code != 0 and f"(blob {blob[:12]}, pushed as refs/tags/key):2" in named.stderr
    assert_no_secrets(tag, creds)
    assert_no_secrets(named, creds)


# --- what passes -------------------------------------------------------------------------------


def test_a_clean_push_passes(dev: GitRepo, server: Server) -> None:
    _commit(dev, "one", {"src/a.py": "x = 1\n"})
    head = _commit(dev, "two", {"src/b.py": "y = 2\n"})
    result = push(dev, "main")
    assert result.code == 0, result.stderr
    assert "2 new commits checked: no AWS credentials" in result.stderr
    assert server.rev("refs/heads/main") == head


def test_tags_branch_deletion_and_a_force_push_of_known_objects_pass(dev_file: GitRepo, server: Server) -> None:
    first = dev_file.git("rev-parse", "HEAD").strip()
    second = _commit(dev_file, "second", {"src/a.py": "x = 1\n"})
    assert push(dev_file, "main").code == 0
    dev_file.git("tag", "light")
    dev_file.git("tag", "-a", "v1.0", "-m", "release 1.0")
    tags = push(dev_file, "--tags")
    assert tags.code == 0, tags.stderr
    assert server.rev("refs/tags/v1.0") and server.rev("refs/tags/light") == second
    dev_file.git("branch", "topic", first)
    branch = push(dev_file, "topic")  # a new branch at a known commit: nothing new
    assert branch.code == 0, branch.stderr
    assert "stsleak" not in branch.stderr  # nothing to check, nothing said
    deleted = push(dev_file, ":topic")
    assert deleted.code == 0, deleted.stderr
    assert server.rev("refs/heads/topic") is None
    dev_file.git("reset", "-q", "--hard", first)
    forced = push(dev_file, "--force", "main")
    assert forced.code == 0, forced.stderr
    assert server.rev("refs/heads/main") == first
    dev_file.git("reset", "-q", "--hard", second)
    back = push(dev_file, "main")  # forward again to a commit the server still holds (tag 'light')
    assert back.code == 0, back.stderr
    assert server.rev("refs/heads/main") == second


# --- the audited override ----------------------------------------------------------------------


def _fingerprint(result: Run) -> str:
    lines = [line for line in result.stderr.splitlines() if "fingerprint: " in line]
    assert len(lines) == 1, result.stderr
    return lines[0].split("fingerprint: ", 1)[1].split()[0]


def test_the_override_counts_only_where_the_server_allows_it_and_is_logged(
        dev: GitRepo, server: Server, creds: fakes.FakeCredentials) -> None:
    server.config("receive.advertisePushOptions", "true")
    before = server.rev("refs/heads/main")
    head = _commit(dev, "test fixture", {"tests/fixtures/aws.ini": ini(creds)})
    refused = push(dev, "main")
    fingerprint = _fingerprint(refused)
    assert "This server takes no overrides" in refused.stderr
    log = server.path / "stsleak" / "overrides.jsonl"

    ignored = push(dev, "-o", f"stsleak.allow={fingerprint}", "main")
    assert_refused(ignored, server, "refs/heads/main", before)
    assert "stsleak.allow push options are not honoured here" in ignored.stderr
    assert not log.exists()

    server.config("stsleak.allowPushOption", "true")
    wrong = push(dev, "-o", "stsleak.allow=" + "0" * 64, "main")
    assert_refused(wrong, server, "refs/heads/main", before)
    assert f"-o stsleak.allow={fingerprint}" in wrong.stderr  # the refusal says how

    allowed = push(dev, "-o", f"stsleak.allow={fingerprint}", "main", env={"REMOTE_USER": "alice"})
    assert allowed.code == 0, allowed.stderr
    assert "override:" in allowed.stderr and "recorded on the server" in allowed.stderr
    assert server.rev("refs/heads/main") == head
    assert stat.S_IMODE(log.stat().st_mode) == 0o600
    records = [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()]
    override = [r for r in records if r.get("event") == "push-override"]
    assert len(override) == 1
    assert override[0]["fingerprint"] == fingerprint and override[0]["commit"] == head
    assert override[0]["path"] == "tests/fixtures/aws.ini" and override[0]["refs"] == ["refs/heads/main"]
    assert override[0]["access_key_id"] == creds.access_key_id
    text = log.read_text(encoding="utf-8")
    assert creds.secret_access_key not in text and str(creds.session_token) not in text
    chain = check_chain(log)  # what `stsleak revoke --verify-log --audit-log FILE` checks
    assert chain.intact and chain.start == 1, chain.summary()


def test_an_override_log_that_cannot_be_written_lets_nothing_in(
        dev_file: GitRepo, server: Server, creds: fakes.FakeCredentials, tmp_path: Path) -> None:
    server.config("receive.advertisePushOptions", "true")
    server.config("stsleak.allowPushOption", "true")
    blocked = tmp_path / "not-a-directory"
    blocked.write_text("x", encoding="utf-8")
    server.config("stsleak.overrideLog", str(blocked / "overrides.jsonl"))
    before = server.rev("refs/heads/main")
    _commit(dev_file, "fixture", {"aws.ini": ini(creds)})
    fingerprint = _fingerprint(push(dev_file, "main"))
    result = push(dev_file, "-o", f"stsleak.allow={fingerprint}", "main")
    assert_refused(result, server, "refs/heads/main", before)
    assert "cannot be recorded" in result.stderr


# --- failing closed, and what the hook loads ---------------------------------------------------


def test_settings_the_hook_cannot_read_refuse_the_push_in_one_line(dev_file: GitRepo, server: Server) -> None:
    server.config("stsleak.maxFileSize", "lots")
    before = server.rev("refs/heads/main")
    _commit(dev_file, "clean", {"a.txt": "a\n"})
    result = push(dev_file, "main")
    assert_refused(result, server, "refs/heads/main", before)
    lines = [line for line in result.stderr.splitlines() if "stsleak" in line]
    assert len(lines) == 1 and "push refused: the scan failed: stsleak.maxFileSize" in lines[0]


@pytest.fixture
def broken_git_init(tmp_path: Path) -> dict[str, str]:
    """An environment in which the hook's own scratch repository cannot be made: a scan error
    (the global config of the account git runs as names an invalid initial branch)."""
    config = tmp_path / "global.gitconfig"
    config.write_text("[init]\n\tdefaultBranch = a..b\n", encoding="utf-8")
    return {"GIT_CONFIG_GLOBAL": str(config)}


def test_a_scan_error_refuses_the_push_in_one_line(dev_file: GitRepo, server: Server,
                                                   broken_git_init: dict[str, str]) -> None:
    before = server.rev("refs/heads/main")
    _commit(dev_file, "clean", {"a.txt": "a\n"})
    result = push(dev_file, "main", env=broken_git_init)
    assert_refused(result, server, "refs/heads/main", before)
    lines = [line for line in result.stderr.splitlines() if "stsleak" in line]
    assert len(lines) == 1 and "push refused: the scan failed: git init failed" in lines[0], result.stderr


def test_fail_open_lets_the_push_in_with_a_warning(dev_file: GitRepo, server: Server,
                                                   broken_git_init: dict[str, str]) -> None:
    server.config("stsleak.failOpen", "true")
    head = _commit(dev_file, "clean", {"a.txt": "a\n"})
    result = push(dev_file, "main", env=broken_git_init)
    assert result.code == 0, result.stderr
    assert "warning: the scan failed" in result.stderr and "stsleak.failOpen" in result.stderr
    assert server.rev("refs/heads/main") == head


def test_a_submodule_bump_passes(dev_file: GitRepo, server: Server) -> None:
    tree = dev_file.git("mktree", input_text=f"160000 commit {'12' * 20}\tlib\n").strip()
    parent = dev_file.git("rev-parse", "HEAD").strip()
    commit = dev_file.git("commit-tree", tree, "-p", parent, "-m", "vendor").strip()
    result = push(dev_file, f"{commit}:refs/heads/main")
    assert result.code == 0, result.stderr


def test_a_push_without_verify_does_not_import_boto3(
        dev_file: GitRepo, server: Server, creds: fakes.FakeCredentials, tmp_path: Path) -> None:
    """A boto3 and botocore that leave a mark when imported, first on the hook's PYTHONPATH."""
    fake = tmp_path / "fake-site"
    marker = tmp_path / "imported"
    for name in ("boto3", "botocore"):
        (fake / name).mkdir(parents=True)
        (fake / name / "__init__.py").write_text(
            f"open({str(marker)!r}, 'a').write({name!r} + '\\n')\n", encoding="utf-8")
    _commit(dev_file, "leak", {"aws.ini": ini(creds)})
    result = push(dev_file, "main", env={"PYTHONPATH": f"{fake}{os.pathsep}{CHECKOUT}"})
    assert result.code != 0 and creds.access_key_id in result.stderr
    assert not marker.exists(), marker.read_text(encoding="utf-8")


def test_install_hook_refuses_a_foreign_pre_receive_hook(tmp_path: Path) -> None:
    bare = tmp_path / "team.git"
    subprocess.run(["git", "init", "-q", "--bare", str(bare)], check=True, env=program_env())
    hook = bare / "hooks" / "pre-receive"
    hook.write_text("#!/bin/sh\nexec /opt/gitea/hook pre-receive\n", encoding="utf-8")
    refused = stsleak("install-hook", "--type", "pre-receive", str(bare))
    assert refused.code == 2 and "--force" in refused.stderr
    assert hook.read_text(encoding="utf-8") == "#!/bin/sh\nexec /opt/gitea/hook pre-receive\n"
    shim = CHECKOUT / "hooks" / "pre-receive"
    assert "stsleak-hook" in shim.read_text(encoding="utf-8") and os.access(shim, os.X_OK)


def test_a_server_repository_that_borrows_from_an_object_pool(
        tmp_path: Path, repo: GitRepo, creds: fakes.FakeCredentials) -> None:
    """A fork on GitLab or Gitea keeps its history in a shared pool (objects/info/alternates): the
    hook reads the pool through the repository, and the push through the quarantine."""
    pool = tmp_path / "pool.git"
    subprocess.run(["git", "init", "-q", "--bare", str(pool)], check=True, env=program_env())
    repo.commit("upstream", {"README.md": "upstream\n"})
    repo.git("push", "-q", "--no-verify", str(pool), "main")
    fork = tmp_path / "srv" / "fork.git"
    subprocess.run(["git", "clone", "-q", "--bare", "--shared", str(pool), str(fork)], check=True, env=program_env())
    installed = stsleak("install-hook", "--type", "pre-receive", str(fork))
    assert installed.code == 0, installed.stderr
    repo.git("remote", "add", "origin", fork.as_uri())
    _commit(repo, "fork work", {"src/a.py": "x = 1\n"})
    clean = push(repo, "main")
    assert clean.code == 0 and "1 new commit checked" in clean.stderr, clean.stderr
    _commit(repo, "leak", {"aws.ini": ini(creds)})
    refused = push(repo, "main")
    assert refused.code != 0 and "aws.ini:2" in refused.stderr, refused.stderr
