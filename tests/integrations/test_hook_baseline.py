"""#15: the real pre-commit hook (`stsleak install-hook`, then `git commit`) honours a baseline named
in .stsleak.yaml, as its own advice says to record a false alarm."""

from __future__ import annotations

import random

from scanner.testing import fakes
from tests.support.cli import GitRepo, stsleak
from tests.support.programs import ini, run


def _hooked(repo: GitRepo) -> GitRepo:
    repo.commit("init", {"README.md": "hello\n"})
    installed = stsleak("install-hook", str(repo.path))
    assert installed.code == 0, installed.stderr
    return repo


def _commits(repo: GitRepo) -> int:
    return int(repo.git("rev-list", "--count", "HEAD").strip())


def _record_as_advised(repo: GitRepo, rng: random.Random) -> None:
    repo.write("tests/fixture.ini", ini(fakes.temporary(rng)))
    repo.git("add", "tests/fixture.ini")
    blocked = run(["git", "commit", "-m", "fixture"], repo.path)
    assert blocked.code == 1, blocked.stdout + blocked.stderr
    advice = "stsleak scan --staged --write-baseline .stsleak-baseline.json"
    assert advice in blocked.stderr
    recorded = stsleak(*advice.split()[1:], cwd=repo.path)  # exactly what the hook said to run
    assert recorded.code == 1, recorded.stderr
    repo.write(".stsleak.yaml", "baseline: .stsleak-baseline.json\n")


def test_pre_commit_hook_honours_the_configs_baseline(repo: GitRepo, rng: random.Random) -> None:
    hooked = _hooked(repo)
    _record_as_advised(hooked, rng)
    hooked.git("add", ".stsleak.yaml")
    done = run(["git", "commit", "-m", "fixture"], hooked.path)
    assert done.code == 0, done.stdout + done.stderr
    assert _commits(hooked) == 2
    # A credential the baseline does not record is still refused.
    hooked.write("src/aws.ini", ini(fakes.temporary(rng)))
    hooked.git("add", "src/aws.ini")
    assert run(["git", "commit", "-m", "leak"], hooked.path).code == 1 and _commits(hooked) == 2


def test_pre_commit_hook_passes_the_baseline_file_itself(repo: GitRepo, rng: random.Random) -> None:
    hooked = _hooked(repo)
    _record_as_advised(hooked, rng)
    hooked.git("add", ".stsleak.yaml", ".stsleak-baseline.json")  # the baseline is committed with it
    done = run(["git", "commit", "-m", "fixture"], hooked.path)
    assert done.code == 0, done.stdout + done.stderr
    assert _commits(hooked) == 2
