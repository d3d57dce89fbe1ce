"""Progress on stderr: shown on a real terminal (a pseudo-terminal), never otherwise."""

from __future__ import annotations

import json
import os
import pty
import random
import select
import subprocess
import sys
from pathlib import Path

import pytest

from scanner.testing import fakes
from tests.support.cli import GitRepo

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="needs a pseudo-terminal")


def _ini(creds: fakes.FakeCredentials) -> str:
    return (f"[default]\naws_access_key_id = {creds.access_key_id}\n"
            f"aws_secret_access_key = {creds.secret_access_key}\naws_session_token = {creds.session_token}\n")


def _stderr_on_terminal(argv: list[str], *, env: dict[str, str], what: str, cwd: Path | None = None,
                        stdout: int = subprocess.DEVNULL) -> tuple[subprocess.Popen[bytes], str]:
    """Run argv with stderr on a pseudo-terminal (TERM=xterm, NO_COLOR unset, env on top of os.environ),
    read the terminal until the child closes it: (the process, not yet waited for; the terminal text)."""
    master, slave = pty.openpty()
    full_env = {**os.environ, "TERM": "xterm", **env}
    full_env.pop("NO_COLOR", None)
    proc = subprocess.Popen(argv, cwd=cwd, stdin=subprocess.DEVNULL, stdout=stdout, stderr=slave, env=full_env)
    os.close(slave)
    seen = bytearray()
    while True:
        ready, _, _ = select.select([master], [], [], 60)
        if not ready:
            proc.kill()
            raise AssertionError(f"the {what} wrote nothing for 60 s")
        try:
            data = os.read(master, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not data:
            break
        seen += data
    os.close(master)
    return proc, seen.decode(errors="replace")


def _run_on_terminal(*args: str, cwd: Path | None = None) -> tuple[int, str, str]:
    """The CLI with stderr on a pseudo-terminal and stdout on a pipe: (code, stdout, terminal text)."""
    proc, terminal = _stderr_on_terminal([sys.executable, "-m", "scanner", *args], cwd=cwd, stdout=subprocess.PIPE,
                                         env={"STSLEAK_PROGRESS_DELAY": "0", "COLUMNS": "120"}, what="CLI")
    assert proc.stdout is not None
    out = proc.stdout.read().decode()
    proc.stdout.close()
    return proc.wait(), out, terminal


@pytest.fixture
def leaky(repo: GitRepo, creds: fakes.FakeCredentials) -> GitRepo:
    repo.commit("readme", {"README.md": "hello\n"})
    repo.commit("leak", {"creds.ini": _ini(creds)})
    return repo


def test_history_scan_shows_progress_on_a_terminal(leaky: GitRepo) -> None:
    code, out, terminal = _run_on_terminal("scan", "--history", "--format", "json", str(leaky.path))
    assert code == 1, terminal
    assert len(json.loads(out)["findings"]) == 1
    # The first step (the bar's first frame) and the last (its last frame); the steps between last less
    # than a frame here (at most 10 a second) and may never be drawn.
    assert "listing objects" in terminal
    assert "placing 1 hit in history" in terminal
    assert "Traceback" not in terminal


def test_file_walk_shows_progress_on_a_terminal(leaky: GitRepo) -> None:
    code, _, terminal = _run_on_terminal("scan", "--format", "json", ".", cwd=leaky.path)
    assert code == 1
    assert "scanning files" in terminal


def test_no_progress_with_quiet_or_staged(leaky: GitRepo) -> None:
    code, _, terminal = _run_on_terminal("scan", "--history", "--quiet", "--format", "json", str(leaky.path))
    assert code == 1 and "streaming" not in terminal and "objects" not in terminal
    leaky.write("staged.ini", _ini(fakes.temporary(random.Random(3))))
    leaky.git("add", "staged.ini")
    code, _, terminal = _run_on_terminal("scan", "--staged", "--format", "json", cwd=leaky.path)
    assert code == 1 and "scanning" not in terminal and "objects" not in terminal


def test_no_progress_when_stderr_is_not_a_terminal(leaky: GitRepo) -> None:
    env = {**os.environ, "STSLEAK_PROGRESS_DELAY": "0"}
    proc = subprocess.run([sys.executable, "-m", "scanner", "scan", "--history", "--format", "json",
                           str(leaky.path)], capture_output=True, text=True, env=env)
    assert proc.returncode == 1
    assert "streaming" not in proc.stderr and "\x1b[" not in proc.stderr


def test_staged_scan_does_not_import_rich(leaky: GitRepo) -> None:
    leaky.write("staged.ini", _ini(fakes.temporary(random.Random(4))))
    leaky.git("add", "staged.ini")
    code = ("import sys\nfrom scanner.cli import main\ncode = main(['scan', '--staged', '--format', 'json'])\n"
            "print('RICH' if any(m == 'rich' or m.startswith('rich.') for m in sys.modules) else 'NO-RICH')\n")
    master, slave = pty.openpty()  # stderr is a terminal: even then no rich for --staged
    proc = subprocess.run([sys.executable, "-c", code], cwd=leaky.path, stdout=subprocess.PIPE,
                          stderr=slave, stdin=subprocess.DEVNULL, text=True,
                          env={**os.environ, "STSLEAK_PROGRESS_DELAY": "0"})
    os.close(slave)
    os.close(master)
    assert proc.stdout.strip().splitlines()[-1] == "NO-RICH", proc.stdout
