from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.support.cli import GitRepo
from tests.support.programs import CHECKOUT, run, venv_program

PRE_COMMIT_HOOKS = ("stsleak", "stsleak-files", "stsleak-pre-push")


def _git(*args: str) -> str:
    return subprocess.run(["git", "-C", str(CHECKOUT), *args], capture_output=True, text=True, check=True).stdout


@pytest.fixture(scope="session")
def hook_repo(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    """(repo, rev) for a `.pre-commit-config.yaml` pointing at this checkout.

    pre-commit clones `repo` at `rev`, i.e. a commit. A clean checkout (CI) is used as it stands,
    at HEAD; a work tree with uncommitted changes is copied (tracked and untracked-not-ignored
    files) into a throw-away repository and committed there, so the test sees the files as they
    are now, whatever has been committed yet.
    """
    if not _git("status", "--porcelain").strip():
        return str(CHECKOUT), _git("rev-parse", "HEAD").strip()
    copy = tmp_path_factory.mktemp("stsleak-checkout") / "stsleak"
    copy.mkdir()
    names = _git("ls-files", "-z", "--cached", "--others", "--exclude-standard").split("\0")
    for name in filter(None, dict.fromkeys(names)):
        source = CHECKOUT / name
        if source.is_file():
            (copy / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, copy / name)
    snapshot = GitRepo(copy)
    return str(copy), snapshot.commit("snapshot of the stsleak work tree")


def pre_commit_config(hook_repo: tuple[str, str], hooks: tuple[str, ...] = PRE_COMMIT_HOOKS) -> str:
    repo, rev = hook_repo
    lines = ["repos:", f"  - repo: {repo}", f"    rev: {rev}", "    hooks:"]
    lines += [f"      - id: {hook}" for hook in hooks]
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="session")
def pre_commit_home(tmp_path_factory: pytest.TempPathFactory, hook_repo: tuple[str, str]) -> Path:
    """An isolated PRE_COMMIT_HOME holding the one hook environment every test shares.

    Built once per session: pre-commit clones the hook repo and pip-installs it (from PyPI).
    """
    home = tmp_path_factory.mktemp("pre-commit-home")
    setup = GitRepo(tmp_path_factory.mktemp("pre-commit-setup") / "repo")
    setup.commit("config", {".pre-commit-config.yaml": pre_commit_config(hook_repo)})
    result = run([venv_program("pre-commit"), "install-hooks"], setup.path, env={"PRE_COMMIT_HOME": str(home)},
                 timeout=600)
    assert result.code == 0, result.stdout + result.stderr
    return home
