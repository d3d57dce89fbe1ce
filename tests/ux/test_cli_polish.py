"""--help examples, "did you mean", --version, colours and cp1252-safe output, the packaged LICENSE."""

from __future__ import annotations

import importlib.metadata
import os
import pty
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

import scanner
from scanner.cli import build_parser
from scanner.testing import fakes
from tests.support.cli import GitRepo, stsleak
from tests.support.programs import CHECKOUT, ini


def test_every_command_help_ends_with_examples() -> None:
    parser = build_parser()
    commands = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction").choices
    for name in ["", *commands]:
        run = stsleak(*([name] if name else []), "--help")
        assert run.code == 0, run.stderr
        tail = run.stdout.rstrip().split("examples:\n")
        assert len(tail) == 2, f"{name or 'stsleak'} --help has no examples"
        block = tail[1].split("\n\n")[0].splitlines()
        examples = [line for line in block if line.strip() and not line.strip().startswith("#")]
        assert 1 <= len(examples) <= 3, block
        assert any(e.strip().startswith("stsleak") for e in examples), block


@pytest.mark.parametrize(("argv", "suggestion"), [
    (["scan", "--histroy", "."], "--history"),
    (["scan", "--verfy", "."], "--verify"),
    (["revoke", "--role", "x", "--scpoe", "role"], "--scope"),
    (["scna", "."], "scan"),
])
def test_unknown_option_or_command_suggests_the_closest(argv: list[str], suggestion: str) -> None:
    run = stsleak(*argv)
    assert run.code == 2
    last = run.stderr.strip().splitlines()[-1]
    assert last.startswith("stsleak") and f"did you mean {suggestion}?" in last
    assert "Traceback" not in run.stderr


def test_version_is_the_package_version() -> None:
    run = stsleak("--version")
    assert run.stdout.strip() == f"stsleak {importlib.metadata.version('stsleak')}" == f"stsleak {scanner.__version__}"


def test_wheel_ships_the_license(tmp_path: Path) -> None:
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(CHECKOUT)],
                   check=True, capture_output=True, timeout=300)
    wheel = next(tmp_path.glob("stsleak-*.whl"))
    with zipfile.ZipFile(wheel) as zf:
        licenses = [n for n in zf.namelist() if n.endswith("/LICENSE") and ".dist-info/" in n]
        assert licenses, zf.namelist()
        assert "Apache License" in zf.read(licenses[0]).decode()
        metadata = zf.read(next(n for n in zf.namelist() if n.endswith(".dist-info/METADATA"))).decode()
    assert "License-Expression: Apache-2.0" in metadata and "Project-URL: Changelog" in metadata
    assert "Apache License" in (CHECKOUT / "LICENSE").read_text()


def test_readme_pins_a_commit_not_a_tag_that_does_not_exist() -> None:
    readme = (CHECKOUT / "README.md").read_text()
    tags = set(subprocess.run(["git", "tag"], cwd=CHECKOUT, capture_output=True, text=True).stdout.split())
    for ref in re.findall(r"rev: (\S+)", readme) + re.findall(r"uses: \S+/stsleak@(\S+)", readme):
        assert ref in tags or ref == "<commit-sha>", ref
    assert "## [Unreleased]" in (CHECKOUT / "CHANGELOG.md").read_text()


def _on_a_tty(args: list[str], cwd: Path, env: dict[str, str]) -> str:
    """Run the CLI with stdout and stderr on a real pseudo-terminal; what the terminal showed."""
    leader, follower = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "scanner", *args], cwd=cwd, stdin=subprocess.DEVNULL,
                            stdout=follower, stderr=follower, env=env)
    os.close(follower)
    chunks = []
    while True:
        try:
            data = os.read(leader, 65536)
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
    proc.wait(timeout=60)
    os.close(leader)
    return b"".join(chunks).decode("utf-8", "replace")


def test_colour_only_on_a_terminal_and_never_with_no_color(repo: GitRepo, creds: fakes.FakeCredentials) -> None:
    repo.write("aws.ini", ini(creds))
    env = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
    assert "\x1b[" in _on_a_tty(["scan", "."], repo.path, env)
    assert "\x1b[" not in _on_a_tty(["scan", "."], repo.path, {**env, "NO_COLOR": "1"})
    assert "\x1b[" not in _on_a_tty(["scan", "--no-color", "."], repo.path, env)
    piped = subprocess.run([sys.executable, "-m", "scanner", "scan", "."], cwd=repo.path, env=env,
                           capture_output=True, text=True)
    assert "\x1b[" not in piped.stdout + piped.stderr


def test_output_fits_a_cp1252_console(repo: GitRepo, creds: fakes.FakeCredentials) -> None:
    repo.commit("init", {"README.md": "hi\n"})
    repo.write("aws.ini", ini(creds))
    repo.git("add", "-A")
    for args in (["scan", "--staged"], ["scan", "."], ["scan", "--help"], ["revoke", "--help"]):
        proc = subprocess.run([sys.executable, "-m", "scanner", *args], cwd=repo.path, capture_output=True,
                              env={**os.environ, "PYTHONIOENCODING": "cp1252", "NO_COLOR": "1"})
        assert proc.returncode in (0, 1), proc.stderr
        proc.stdout.decode("cp1252")  # strict: every character is printable there
        assert b"Traceback" not in proc.stderr
