"""#12: nothing a repository holds may make a git call wait forever.

A FIFO named by `include.path` (or includeIf, or a nested include, or a symlink to one) makes git's
open() wait for a writer; `include.path=/dev/stdin` makes git read its own stdin as config (a
deadlock under --staged, whose stdin is a hook's pipe). Every mode must end promptly with one clear
line and exit 2, before git runs. Each scan runs with a subprocess timeout, so that a regression
fails the test instead of hanging it; no time is asserted.
"""

from __future__ import annotations

import contextlib
import os
import random
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from scanner.sources.git.includes import config_entries, include_paths
from scanner.testing import fakes
from tests.support.cli import GitRepo, stsleak
from tests.support.programs import ini

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="FIFOs and /dev/stdin are POSIX")
TIMEOUT = 60  # far above what any of these scans needs: a hang fails, a slow machine does not
MODES = {"files": [], "history": ["--history"], "since": ["--since", "HEAD~1"], "staged": ["--staged"]}


@pytest.fixture
def fifos() -> Iterator[list[Path]]:
    """FIFOs made by a test (the scans' sessions are killed on a hang, git included; this is for a
    reader that got away all the same: opened for writing, it reads end-of-file)."""
    made: list[Path] = []
    yield made
    for fifo in made:
        with contextlib.suppress(OSError):  # ENXIO: nobody is waiting, as it should be
            os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))


@pytest.fixture
def leaky(repo: GitRepo, rng: random.Random) -> GitRepo:
    """Two commits and a staged file, each holding a credential set: every mode has one to find."""
    repo.commit("first", {"a.ini": ini(fakes.temporary(rng))})
    repo.commit("second", {"b.ini": ini(fakes.temporary(rng))})
    repo.write("staged.ini", ini(fakes.temporary(rng)))
    repo.git("add", "staged.ini")
    return repo


def _mkfifo(path: Path, fifos: list[Path]) -> Path:
    os.mkfifo(path)
    fifos.append(path)
    return path


def _scan(args: list[str], cwd: Path, stdin: int = subprocess.DEVNULL) -> tuple[int, str, str]:
    """`stsleak scan ARGS .` in a session of its own; past TIMEOUT the whole session (git with it) is
    killed and the test fails: a hang must neither pass nor leave a git process waiting behind."""
    with subprocess.Popen([sys.executable, "-m", "scanner", "scan", "--no-color", *args, "."], cwd=cwd, stdin=stdin,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
                          env={**os.environ, "NO_COLOR": "1"}) as proc:
        try:
            out, err = proc.communicate(timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
            pytest.fail(f"stsleak scan {' '.join(args)} still running after {TIMEOUT} s: a git call waits forever")
    return proc.returncode, out, err


def _assert_refused(args: list[str], repo: GitRepo, named: str) -> None:
    code, out, err = _scan(args, repo.path)
    lines = err.strip().splitlines()
    assert code == 2, out + err
    assert len(lines) == 1 and lines[0].startswith("stsleak: error: not running git in"), err
    assert named in lines[0] and "could make git wait forever" in lines[0]


@pytest.mark.parametrize("mode", MODES)
def test_include_path_naming_a_fifo_ends_every_mode(leaky: GitRepo, fifos: list[Path], mode: str) -> None:
    _mkfifo(leaky.path / ".git" / "evil", fifos)
    leaky.git("config", "include.path", "evil")  # relative to .git/config, as git reads it
    _assert_refused(MODES[mode], leaky, "a FIFO")


@pytest.mark.parametrize("how", ["includeIf", "nested", "symlink", "absolute", "config-is-fifo", "head-is-fifo"])
def test_every_way_to_reach_a_fifo_is_refused(leaky: GitRepo, fifos: list[Path], tmp_path: Path, how: str) -> None:
    git_dir = leaky.path / ".git"
    fifo = _mkfifo(tmp_path / "fifo", fifos)
    if how == "includeIf":
        leaky.git("config", "includeIf.gitdir:/nowhere/.path", str(fifo))  # the condition does not matter
    elif how == "nested":
        (git_dir / "more.cfg").write_text(f'[core]\n\tx = 1\n[include]\n\tpath = "{fifo}"\n', encoding="utf-8")
        leaky.git("config", "include.path", "more.cfg")
    elif how == "symlink":
        (git_dir / "looks-fine").symlink_to(fifo)
        leaky.git("config", "include.path", "looks-fine")
    elif how == "absolute":
        leaky.git("config", "include.path", str(fifo))
    elif how == "config-is-fifo":
        (git_dir / "config").unlink()
        _mkfifo(git_dir / "config", fifos)
    else:
        (git_dir / "HEAD").unlink()
        _mkfifo(git_dir / "HEAD", fifos)
    _assert_refused(["--history"], leaky, "a FIFO")


def test_include_of_dev_stdin_cannot_deadlock_staged(leaky: GitRepo) -> None:
    """As a pre-commit hook: stdin is a pipe that stays open. git must never read it as config."""
    leaky.git("config", "include.path", "/dev/stdin")
    read_end, write_end = os.pipe()  # the hook's stdin: open for as long as the scan runs
    try:
        code, _out, err = _scan(["--staged"], leaky.path, stdin=read_end)
    finally:
        os.close(read_end)
        os.close(write_end)
    assert code == 2 and "not running git in" in err and "/dev/stdin" in err, err
    for mode in ("files", "history"):
        _assert_refused(MODES[mode], leaky, "/dev/stdin")


@pytest.mark.parametrize("target", ["/dev/zero", "/dev/tty", "/proc/self/fd/0"])
def test_include_of_a_device_is_refused(leaky: GitRepo, target: str) -> None:
    leaky.git("config", "include.path", target)
    _assert_refused(["--staged"], leaky, target)


def test_ordinary_includes_still_scan(leaky: GitRepo, tmp_path: Path) -> None:
    """No false refusal: a regular file, a missing one, ~ and a conditional include are what git allows."""
    extra = tmp_path / "extra.cfg"
    extra.write_text("[core]\n\tabbrev = 12\n", encoding="utf-8")
    leaky.git("config", "--add", "include.path", str(extra))
    leaky.git("config", "--add", "include.path", "does-not-exist.cfg")
    leaky.git("config", "--add", "include.path", "~/.gitconfig-work")
    leaky.git("config", "includeIf.gitdir:~/work/.path", "work.cfg")
    for mode, args in MODES.items():
        run = stsleak("scan", *args, ".", cwd=leaky.path, timeout=TIMEOUT)
        assert run.code == 1, (mode, run.stderr)


def test_a_worktree_and_a_gitfile_repository_still_scan(leaky: GitRepo, tmp_path: Path) -> None:
    worktree = tmp_path / "wt"
    leaky.git("worktree", "add", "-q", str(worktree))
    assert stsleak("scan", "--history", ".", cwd=worktree, timeout=TIMEOUT).code == 1
    separate = GitRepo(tmp_path / "separate")
    separate.git("init", "-q", "--separate-git-dir", str(tmp_path / "separate.git"))
    separate.commit("leak", {"c.ini": ini(fakes.temporary(random.Random(3)))})
    assert (separate.path / ".git").is_file()
    assert stsleak("scan", "--history", ".", cwd=separate.path, timeout=TIMEOUT).code == 1


def test_the_config_parser_reads_includes_as_git_does(tmp_path: Path, rng: random.Random) -> None:
    """A spelling git accepts must not hide an include from the check: compared with git's own parser."""
    pieces = ['[include]', '[includeIf "gitdir:/x/"]', '[IncludeIf "a.b"]', "[include.x]", "[core]", "path",
              "PATH", " = ", "=", '"', "\\", "\\\n", "\n", "\r\n", " ", "\t", "#", ";", "/tmp/a", "b c", "[", "]",
              "\\t", '\\"', "\ufeff"]
    config = tmp_path / "config"
    compared = 0
    for _ in range(900):
        text = rng.choice(["[include]\n", '[includeIf "x"]\n', ""]) + "".join(
            rng.choice(pieces) for _ in range(rng.randint(1, 12)))
        config.write_text(text, encoding="utf-8")
        proc = subprocess.run(["git", "config", "--file", str(config), "--no-includes", "-z", "--list"],
                              capture_output=True, cwd=tmp_path, env={**os.environ, "GIT_DIR": str(tmp_path / "none")})
        if proc.returncode != 0:
            continue  # git rejects the file: it acts only on what came before the bad line, as we read it
        theirs = []
        for item in proc.stdout.split(b"\0")[:-1]:
            name, newline, value = item.decode("utf-8", "surrogateescape").partition("\n")
            theirs.append((name, value if newline else None))
        assert config_entries(text) == theirs, text
        compared += 1
    assert compared > 60  # of the texts git accepts, each read alike
    entries = config_entries('[include]\n\tpath = a\n[includeIf "onbranch:x"]\n\tpath = b\n[include "x"]\n\tpath = c\n')
    assert include_paths(entries) == ["a", "b"]
