"""Helpers for the integration tests: credential files, real programs run as subprocesses."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from scanner.testing import fakes
from tests.support.cli import GIT_ENV, Run
from tests.support.core import ini

__all__ = ["CHECKOUT", "assert_no_secrets", "ini", "program_env", "run", "venv_program"]

CHECKOUT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def venv_program(name: str) -> str:
    """A program installed by the dev extra, next to this interpreter (falls back to PATH)."""
    candidate = BIN / name
    if candidate.exists():
        return str(candidate)
    found = shutil.which(name)
    assert found, f"{name} is not installed (pip install -e '.[dev]')"
    return found


def program_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """Environment for git and the programs it runs: fixed identity, this venv first on PATH."""
    env = {**os.environ, **GIT_ENV, "NO_COLOR": "1", "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    for name in ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE"):
        env.pop(name, None)
    return {**env, **(extra or {})}


def run(cmd: list[str], cwd: Path, env: dict[str, str] | None = None, input_text: str | None = None,
        timeout: float = 300) -> Run:
    proc = subprocess.run(cmd, cwd=cwd, env=program_env(env), input=input_text, capture_output=True,
                          text=True, timeout=timeout)
    return Run(proc.returncode, proc.stdout, proc.stderr)


def assert_no_secrets(run_result: Run, creds: fakes.FakeCredentials) -> None:
    """Secrets and tokens never appear in full in what a program printed."""
    for value in (creds.secret_access_key, creds.session_token):
        assert value and value not in run_result.stdout and value not in run_result.stderr
