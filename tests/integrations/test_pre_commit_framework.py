"""The real `pre-commit` program running this checkout's `.pre-commit-hooks.yaml`."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from scanner.testing import fakes
from tests.integrations.conftest import pre_commit_config
from tests.support.cli import GitRepo
from tests.support.programs import CHECKOUT, assert_no_secrets, ini, run, venv_program


@pytest.fixture
def framework_repo(repo: GitRepo, hook_repo: tuple[str, str], pre_commit_home: Path) -> GitRepo:
    """A repository whose commits and pushes go through pre-commit with stsleak's hooks."""
    repo.commit("pre-commit config", {".pre-commit-config.yaml": pre_commit_config(hook_repo),
                                      "README.md": "hello\n"})
    for hook_type in ("pre-commit", "pre-push"):
        result = run([venv_program("pre-commit"), "install", "--hook-type", hook_type], repo.path,
                     env=_env(pre_commit_home))
        assert result.code == 0, result.stderr
    return repo


def _env(home: Path) -> dict[str, str]:
    return {"PRE_COMMIT_HOME": str(home), "PRE_COMMIT_COLOR": "never"}


def test_commit_with_credential_is_refused(framework_repo: GitRepo, pre_commit_home: Path,
                                           creds: fakes.FakeCredentials) -> None:
    framework_repo.write("config/aws.ini", ini(creds))
    framework_repo.git("add", "-A")
    result = run(["git", "commit", "-m", "add credentials"], framework_repo.path, env=_env(pre_commit_home))
    output = result.stdout + result.stderr
    assert result.code != 0, output
    assert "stsleak (AWS credentials in staged changes)" in output and "Failed" in output
    assert "config/aws.ini:2" in output  # the staged path and the key id's line
    assert "git restore --staged config/aws.ini" in output  # the next step, in the hook's own output
    assert creds.access_key_id in output
    assert_no_secrets(result, creds)
    assert framework_repo.git("rev-list", "--count", "HEAD").strip() == "1"  # nothing was committed


def test_clean_commit_passes(framework_repo: GitRepo, pre_commit_home: Path) -> None:
    framework_repo.write("notes.txt", "aws_access_key_id = AKIAIOSFODNN7EXAMPLE is the documented example\n")
    framework_repo.git("add", "-A")
    result = run(["git", "commit", "-m", "clean"], framework_repo.path, env=_env(pre_commit_home))
    assert result.code == 0, result.stdout + result.stderr
    assert "stsleak (AWS credentials in staged changes)" in result.stdout + result.stderr
    assert framework_repo.git("rev-list", "--count", "HEAD").strip() == "2"


def test_files_hook_scans_every_file(repo: GitRepo, hook_repo: tuple[str, str], pre_commit_home: Path,
                                     creds: fakes.FakeCredentials) -> None:
    repo.commit("config and credentials", {
        ".pre-commit-config.yaml": pre_commit_config(hook_repo, ("stsleak-files",)),
        "deploy/env.sh": ini(creds),
        "src/app.py": "print('hello')\n",
    })
    result = run([venv_program("pre-commit"), "run", "stsleak-files", "--all-files"], repo.path,
                 env=_env(pre_commit_home))
    output = result.stdout + result.stderr
    assert result.code == 1, output
    assert "deploy/env.sh:2" in output and creds.access_key_id in output
    assert_no_secrets(result, creds)

    (repo.path / "deploy/env.sh").unlink()
    repo.commit("remove credentials")
    clean = run([venv_program("pre-commit"), "run", "stsleak-files", "--all-files"], repo.path,
                env=_env(pre_commit_home))
    assert clean.code == 0, clean.stdout + clean.stderr
    assert "Passed" in clean.stdout


def test_pre_push_hook_scans_only_the_pushed_commits(framework_repo: GitRepo, pre_commit_home: Path,
                                                     creds: fakes.FakeCredentials, tmp_path: Path) -> None:
    remote = tmp_path / "remote.git"
    run(["git", "init", "-q", "--bare", str(remote)], tmp_path)
    framework_repo.git("remote", "add", "origin", str(remote))
    env = _env(pre_commit_home)
    first = run(["git", "push", "-q", "origin", "main"], framework_repo.path, env=env)
    assert first.code == 0, first.stdout + first.stderr

    # The credential is committed with --no-verify: the pre-push hook is the last line of defence.
    framework_repo.write("leak.env", ini(creds))
    framework_repo.git("add", "-A")
    framework_repo.git("commit", "-q", "--no-verify", "-m", "leak")
    refused = run(["git", "push", "origin", "main"], framework_repo.path, env=env)
    output = refused.stdout + refused.stderr
    assert refused.code != 0, output
    assert "stsleak (AWS credentials in pushed commits)" in output
    assert "leak.env" in output and creds.access_key_id in output
    assert_no_secrets(refused, creds)


def test_pre_push_hook_first_push_with_a_leak_in_the_root_commit(
        repo: GitRepo, hook_repo: tuple[str, str], pre_commit_home: Path, creds: fakes.FakeCredentials,
        tmp_path: Path) -> None:
    """pre-commit hands no refs for a push that includes the root commit: the whole branch is scanned."""
    env = _env(pre_commit_home)
    repo.commit("root", {".pre-commit-config.yaml": pre_commit_config(hook_repo, ("stsleak-pre-push",)),
                         "creds.ini": ini(creds)})
    repo.commit("clean up", {"creds.ini": "# moved to the vault\n"})
    assert run([venv_program("pre-commit"), "install", "--hook-type", "pre-push"], repo.path, env=env).code == 0
    run(["git", "init", "-q", "--bare", str(tmp_path / "remote.git")], tmp_path)
    repo.git("remote", "add", "origin", str(tmp_path / "remote.git"))
    refused = run(["git", "push", "origin", "main"], repo.path, env=env)
    assert refused.code != 0 and creds.access_key_id in refused.stdout + refused.stderr

    # Run by hand (no push, no refs): the commits of HEAD that no remote has yet.
    manual = run([venv_program("pre-commit"), "run", "stsleak-pre-push", "--hook-stage", "pre-push"], repo.path,
                 env=env, input_text="")
    assert manual.code == 1 and creds.access_key_id in manual.stdout, manual.stdout + manual.stderr


def test_hooks_manifest_is_valid() -> None:
    result = run([venv_program("pre-commit"), "validate-manifest", str(CHECKOUT / ".pre-commit-hooks.yaml")], CHECKOUT)
    assert result.code == 0, result.stdout + result.stderr
    hooks = {h["id"]: h for h in yaml.safe_load((CHECKOUT / ".pre-commit-hooks.yaml").read_text(encoding="utf-8"))}
    assert set(hooks) == {"stsleak", "stsleak-files", "stsleak-pre-push"}
    assert hooks["stsleak"]["pass_filenames"] is False and "--staged" in hooks["stsleak"]["entry"]
    assert hooks["stsleak-files"]["pass_filenames"] is True and "--staged" not in hooks["stsleak-files"]["entry"]
    assert hooks["stsleak-pre-push"]["stages"] == ["pre-push"]
    assert all(h["language"] == "python" for h in hooks.values())
