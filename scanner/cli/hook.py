"""`stsleak hook pre-push`: what hooks/pre-push runs (the shell script is a shim over this).

Only the commits a push sends are scanned (scanner/sources/git/prepush.py); the push is
refused (non-zero exit) when they hold a credential or when the scan fails.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

from scanner.cli.groups import one_action
from scanner.errors import ExitCode, StsleakError

EPILOG = """examples:
  stsleak install-hook --type pre-push       install hooks/pre-push, which runs this
  git push                                   git runs it with the pushed refs on stdin
  pre-commit install --hook-type pre-push    the stsleak-pre-push hook of .pre-commit-hooks.yaml

Bypass once, after review: git push --no-verify   Silence a line: add "stsleak:allow" to it.
"""


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    push = one_action(sub, "hook", "pre-push", (
        "run as a git hook (pre-push: scan only what a push sends)",
        "Git hook entry points, run by the scripts in hooks/.",
        "refuse a push whose new commits hold an AWS credential"), EPILOG)
    push.add_argument("git_args", nargs="*", metavar="ARG", help="what git passes: the remote's name and URL")
    return push


def _refusal(status: int) -> str:
    if status == ExitCode.ERROR:
        return "stsleak pre-push hook: the scan failed (see above); push refused\n"
    return ("stsleak pre-push hook: push refused: the commits above hold AWS credentials.\n"
            "  Revoke them (stsleak scan --verify --revoke), rewrite the commits, then push again.\n")


def run(args: argparse.Namespace) -> int:
    from scanner.sources.git import prepush

    repo = Path(".")
    updates = prepush.updates_from_pre_commit(repo, os.environ)
    if updates is None:
        updates = prepush.parse_push_lines(sys.stdin.read())
    pushed = prepush.push_range(repo, updates)
    if pushed.empty:
        return ExitCode.CLEAN
    objects = prepush.objects_dir(repo)
    for name in prepush.GIT_LOCATION_VARS:  # from here on, git works in the scratch repository only
        os.environ.pop(name, None)
    with tempfile.TemporaryDirectory(prefix="stsleak-push.") as workdir:
        try:
            scratch, base = prepush.make_scratch(objects, pushed, Path(workdir))
        except StsleakError as exc:
            print(f"stsleak: error: {exc}", file=sys.stderr)
            status = int(ExitCode.ERROR)
        else:
            from scanner.cli import main

            status = main(["scan", "--since", base, "--no-color", str(scratch)])
    if status != ExitCode.CLEAN:
        sys.stdout.flush()
        sys.stderr.write(_refusal(status))
    return status
