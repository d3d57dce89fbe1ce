"""`stsleak install-hook`: put the plain git hook script into a repository's hooks directory."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from scanner.errors import ExitCode, StsleakError
from scanner.sources.git.run import require_repo, run_git

MARKER = "stsleak-hook"
_PACKAGE_DIR = Path(__file__).resolve().parents[1]  # the scanner package


def hook_source(hook_type: str) -> Path:
    """hooks/ ships inside the wheel as scanner/hooks; an editable install reads the repo's hooks/."""
    for directory in (_PACKAGE_DIR / "hooks", _PACKAGE_DIR.parent / "hooks"):
        if (directory / hook_type).is_file():
            return directory / hook_type
    raise StsleakError(f"cannot find the {hook_type} hook script (broken install?)")


def install_hook(repo: Path, hook_type: str = "pre-commit", force: bool = False) -> str:
    require_repo(repo)
    hooks_dir = Path(run_git(repo, "rev-parse", "--git-path", "hooks").strip())
    if not hooks_dir.is_absolute():
        hooks_dir = repo / hooks_dir
    target = hooks_dir / hook_type
    source = hook_source(hook_type).read_text(encoding="utf-8")
    if target.exists():
        current = target.read_text(encoding="utf-8", errors="replace")
        if MARKER not in current and not force:
            raise StsleakError(f"{target} exists and is not stsleak's hook: use --force to replace it")
    hooks_dir.mkdir(parents=True, exist_ok=True)
    target.write_text(source, encoding="utf-8")
    os.chmod(target, 0o755)
    return f"installed stsleak {hook_type} hook at {target}"


def add_parser(sub: argparse._SubParsersAction) -> None:
    hook = sub.add_parser("install-hook", help="install stsleak as this repository's git pre-commit hook")
    hook.add_argument("repo", nargs="?", default=".", help="repository (default '.')")
    hook.add_argument("--force", action="store_true", help="replace an existing hook that is not stsleak's")
    hook.add_argument("--type", choices=("pre-commit", "pre-push"), default="pre-commit", dest="hook_type")


def run(args: argparse.Namespace) -> ExitCode:
    print(install_hook(Path(args.repo), args.hook_type, args.force))
    return ExitCode.CLEAN
