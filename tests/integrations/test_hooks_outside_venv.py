"""Hooks installed by `stsleak install-hook` run the Python stsleak was installed in (issue 26, item 6):
a commit or push from a shell without the venv on PATH is still checked; once that Python is gone
the hook refuses in one line saying to reinstall, and never runs another `stsleak` PATH offers."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from scanner.testing import fakes
from tests.support.cli import GIT_ENV, GitRepo, Run, stsleak
from tests.support.programs import CHECKOUT, assert_no_secrets, ini

BARE_PATH = "/usr/bin:/bin"  # no venv, no stsleak: what a shell that never activated it has


@pytest.fixture(autouse=True)
def _bare_path_has_git_and_no_stsleak() -> None:
    if not shutil.which("git", path=BARE_PATH):
        pytest.skip(f"git is not in {BARE_PATH}")
    assert shutil.which("stsleak", path=BARE_PATH) is None, f"an stsleak in {BARE_PATH} would hide what is tested"


def _bare_env(home: Path, path: str = BARE_PATH) -> dict[str, str]:
    """A fresh environment: no VIRTUAL_ENV, no PYTHONPATH, nothing of this test run's but git's identity."""
    return {"PATH": path, "HOME": str(home), "LANG": "C.UTF-8", "NO_COLOR": "1", **GIT_ENV}


def _git(repo: GitRepo, *args: str, env: dict[str, str]) -> Run:
    proc = subprocess.run(["git", *args], cwd=repo.path, env=env, capture_output=True, text=True, timeout=300)
    return Run(proc.returncode, proc.stdout, proc.stderr)


def _count(repo: GitRepo) -> int:
    return int(repo.git("rev-list", "--count", "--all").strip() or 0)


def _stage(repo: GitRepo, files: dict[str, str]) -> None:
    for name, content in files.items():
        repo.write(name, content)
    repo.git("add", "-A")


def _hook_lines(result: Run) -> list[str]:
    """What the hook printed: git adds `error: failed to push some refs …` of its own to a refused push."""
    return [line for line in (result.stdout + result.stderr).splitlines() if not line.startswith("error: failed")]


@pytest.fixture
def origin(repo: GitRepo, tmp_path: Path) -> GitRepo:
    """`repo` with one commit and a bare `origin` that has it."""
    subprocess.run(["git", "init", "-q", "--bare", str(tmp_path / "origin.git")], check=True,
                   capture_output=True)
    repo.git("remote", "add", "origin", str(tmp_path / "origin.git"))
    repo.commit("init", {"README.md": "hello\n"})
    repo.git("push", "-q", "--no-verify", "origin", "main")
    return repo


# --- the venv is not on PATH -------------------------------------------------------------------


def test_pre_commit_outside_the_venv_refuses_a_credential(origin: GitRepo, tmp_path: Path,
                                                          creds: fakes.FakeCredentials) -> None:
    installed = stsleak("install-hook", str(origin.path))
    assert installed.code == 0, installed.stderr
    assert f"it runs stsleak with {sys.executable}" in installed.stdout

    _stage(origin, {"secrets/aws.ini": ini(creds)})
    refused = _git(origin, "commit", "-m", "leak", env=_bare_env(tmp_path))
    output = refused.stdout + refused.stderr
    assert refused.code == 1, output
    assert "secrets/aws.ini:2" in output and creds.access_key_id in output
    assert_no_secrets(refused, creds)
    assert _count(origin) == 1

    (origin.path / "secrets" / "aws.ini").unlink()
    _stage(origin, {"src/main.py": "print('hello')\n"})
    clean = _git(origin, "commit", "-m", "clean", env=_bare_env(tmp_path))
    assert clean.code == 0, clean.stdout + clean.stderr
    assert _count(origin) == 2


def test_pre_push_outside_the_venv_refuses_a_credential(origin: GitRepo, tmp_path: Path,
                                                        creds: fakes.FakeCredentials) -> None:
    assert stsleak("install-hook", "--type", "pre-push", str(origin.path)).code == 0
    _stage(origin, {"ci/aws.env": ini(creds)})
    origin.git("commit", "-q", "--no-verify", "-m", "leak")
    refused = _git(origin, "push", "origin", "main", env=_bare_env(tmp_path))
    output = refused.stdout + refused.stderr
    assert refused.code != 0 and "ci/aws.env:2" in output and "push refused" in output, output
    assert_no_secrets(refused, creds)
    assert origin.git("ls-remote", "origin", "main").split()[0] == origin.git("rev-parse", "main~1").strip()


def test_the_scanned_repository_cannot_stand_in_for_stsleak(origin: GitRepo, tmp_path: Path,
                                                           creds: fakes.FakeCredentials) -> None:
    """`python -m scanner` would import a `scanner/` package from the working directory, which is
    the repository being committed: the hook runs Python with -P, so a hostile one runs nothing."""
    marker = tmp_path / "ran"
    origin.write("scanner/__init__.py", "")
    origin.write("scanner/__main__.py", f"open({str(marker)!r}, 'w').write('hijacked')\n")
    assert stsleak("install-hook", str(origin.path)).code == 0
    _stage(origin, {"aws.ini": ini(creds)})
    refused = _git(origin, "commit", "-m", "leak", env=_bare_env(tmp_path))
    assert refused.code == 1 and creds.access_key_id in refused.stdout + refused.stderr
    assert not marker.exists()


# --- the recorded Python is gone ---------------------------------------------------------------


def _clone_of_this_venv(where: Path) -> Path:
    """A virtualenv at `where` that is this one in all but its path (pyvenv.cfg, the base interpreter,
    lib/ linked), so that deleting `where` is what deleting a venv is. Returns its python."""
    (where / "bin").mkdir(parents=True)
    prefix = Path(sys.prefix)
    assert prefix != Path(sys.base_prefix) and (prefix / "pyvenv.cfg").is_file(), "the tests run outside a venv"
    shutil.copy(prefix / "pyvenv.cfg", where / "pyvenv.cfg")
    (where / "bin" / "python").symlink_to(Path(sys.executable).resolve())
    (where / "lib").symlink_to(prefix / "lib")
    return where / "bin" / "python"


def _impostor(directory: Path, marker: Path) -> str:
    """A PATH directory whose `stsleak` and `python3` only leave a mark: what PATH may offer."""
    directory.mkdir()
    for name in ("stsleak", "python3", "python"):
        (directory / name).write_text(f"#!/bin/sh\necho {name} >> '{marker}'\nexit 0\n", encoding="utf-8")
        os.chmod(directory / name, 0o755)
    return f"{directory}{os.pathsep}{BARE_PATH}"


def test_a_gone_python_refuses_in_one_line_and_runs_nothing_else(origin: GitRepo, tmp_path: Path,
                                                                 creds: fakes.FakeCredentials) -> None:
    venv = tmp_path / "tools" / "an env's venv"  # a space and a quote: the recorded path is shell-quoted
    python = _clone_of_this_venv(venv)
    for hook_type in ("pre-commit", "pre-push"):
        proc = subprocess.run([str(python), "-m", "scanner", "install-hook", "--type", hook_type, str(origin.path)],
                              capture_output=True, text=True, cwd=tmp_path, env={**os.environ, "NO_COLOR": "1"})
        assert proc.returncode == 0 and str(python) in proc.stdout, proc.stderr
    _stage(origin, {"aws.ini": ini(creds)})
    works = _git(origin, "commit", "-m", "leak", env=_bare_env(tmp_path))
    assert works.code == 1 and creds.access_key_id in works.stdout + works.stderr, works.stdout + works.stderr

    shutil.rmtree(venv)  # the venv is deleted, or the interpreter it was made from
    marker = tmp_path / "impostor-ran"
    env = _bare_env(tmp_path, _impostor(tmp_path / "impostor-bin", marker))
    commit = _git(origin, "commit", "-m", "leak", env=env)
    lines = _hook_lines(commit)
    assert commit.code != 0 and len(lines) == 1, lines
    assert lines[0].startswith("stsleak pre-commit hook: commit refused:") and str(python) in lines[0]
    assert "reinstall the hook: stsleak install-hook" in lines[0] and "not checked" not in lines[0]
    assert _count(origin) == 1

    origin.git("commit", "-q", "--no-verify", "-m", "leak")
    push = _git(origin, "push", "origin", "main", env=env)
    lines = _hook_lines(push)
    assert push.code != 0 and len(lines) == 1, lines
    assert lines[0].startswith("stsleak pre-push hook: push refused:") and str(python) in lines[0]
    assert "reinstall the hook: stsleak install-hook --type pre-push" in lines[0] and "not checked" not in lines[0]
    assert origin.git("ls-remote", "origin", "main").split()[0] == origin.git("rev-parse", "main~1").strip()
    assert not marker.exists(), marker.read_text(encoding="utf-8")

    reinstalled = stsleak("install-hook", str(origin.path))  # the fix the line names
    assert reinstalled.code == 0, reinstalled.stderr
    origin.git("reset", "-q", "--soft", "HEAD~1")
    again = _git(origin, "commit", "-m", "leak", env=env)
    assert again.code == 1 and creds.access_key_id in again.stdout + again.stderr
    assert not marker.exists()


def test_a_gone_python_refuses_a_push_into_the_server(origin: GitRepo, tmp_path: Path) -> None:
    bare = tmp_path / "origin.git"
    installed = stsleak("install-hook", "--type", "pre-receive", str(bare))
    assert installed.code == 0, installed.stderr
    hook = bare / "hooks" / "pre-receive"
    gone = tmp_path / "deleted-venv" / "bin" / "python"
    hook.write_text(hook.read_text(encoding="utf-8").replace(sys.executable, str(gone)), encoding="utf-8")
    _stage(origin, {"src/a.py": "x = 1\n"})
    origin.git("commit", "-q", "-m", "clean")
    push = _git(origin, "push", "origin", "main", env=_bare_env(tmp_path))
    hook_lines = [line for line in push.stderr.splitlines() if line.startswith("remote:")]
    assert push.code != 0 and len(hook_lines) == 1, push.stderr
    assert "push refused" in hook_lines[0] and str(gone) in hook_lines[0] and "reinstall" in hook_lines[0]


# --- what install-hook writes ------------------------------------------------------------------


def test_a_hook_copied_by_hand_runs_only_the_stsleak_on_path(origin: GitRepo, tmp_path: Path) -> None:
    """hooks/pre-commit itself records no Python: copied by hand, it runs `stsleak` from PATH, and
    refuses in one line when there is none."""
    hook = origin.path / ".git" / "hooks" / "pre-commit"
    shutil.copy(CHECKOUT / "hooks" / "pre-commit", hook)
    _stage(origin, {"src/a.py": "x = 1\n"})
    refused = _git(origin, "commit", "-m", "clean", env=_bare_env(tmp_path))
    lines = _hook_lines(refused)
    assert refused.code != 0 and len(lines) == 1 and "stsleak is not on PATH" in lines[0], lines
    bin_dir = Path(sys.executable).parent
    passed = _git(origin, "commit", "-m", "clean", env=_bare_env(tmp_path, f"{bin_dir}{os.pathsep}{BARE_PATH}"))
    assert passed.code == 0, passed.stdout + passed.stderr


def test_every_hook_script_records_the_python_in_one_line() -> None:
    from scanner.cli.install_hook import HOOK_TYPES, hook_script

    for hook_type in HOOK_TYPES:
        script = hook_script(hook_type, "/opt/a b/it's/python")
        assert "stsleak_python='/opt/a b/it'\"'\"'s/python'\n" in script, hook_type
        assert subprocess.run(["sh", "-n", "-c", script]).returncode == 0
        template = (CHECKOUT / "hooks" / hook_type).read_text(encoding="utf-8")
        assert len(template.splitlines()) <= 20, f"hooks/{hook_type} is a shim: keep it short"


def test_install_hook_type_help_names_every_hook() -> None:
    result = stsleak("install-hook", "--help", env={"COLUMNS": "200"})
    assert result.code == 0 and "{pre-commit,pre-push,pre-receive}" in result.stdout
    assert "pre-receive: on a server" in result.stdout
    wrong = stsleak("install-hook", "--type", "post-commit", ".")
    assert wrong.code == 2 and "pre-receive" in wrong.stderr
