"""`stsleak install-hook`: put the plain git hook script into a repository's hooks directory."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from scanner.errors import ExitCode, StsleakError
from scanner.sources.git.run import configured, require_repo, run_git

MARKER = "stsleak-hook"
HOOK_TYPES = ("pre-commit", "pre-push", "pre-receive")  # pre-receive: a server's repository (hooks/pre-receive)
_PACKAGE_DIR = Path(__file__).resolve().parents[1]  # the scanner package


def hook_source(hook_type: str) -> Path:
    """hooks/ ships inside the wheel as scanner/hooks; an editable install reads the repo's hooks/."""
    for directory in (_PACKAGE_DIR / "hooks", _PACKAGE_DIR.parent / "hooks"):
        if (directory / hook_type).is_file():
            return directory / hook_type
    raise StsleakError(f"cannot find the {hook_type} hook script (broken install?)")


def _inside(path: Path, roots: list[Path]) -> bool:
    resolved = path.resolve()
    return any(resolved == root or root in resolved.parents for root in roots)


def _hooks_dir(repo: Path, force: bool) -> tuple[Path, str]:
    """The hooks directory git will use, and how it was chosen. core.hooksPath (the user's or the
    repository's config) may point anywhere: outside the repository, installing is refused
    without --force, since the hook would then serve every repository that uses that directory."""
    out = run_git(repo, "rev-parse", "--path-format=absolute", "--git-common-dir", "--show-toplevel", check=False)
    lines = out.splitlines()
    if not lines:
        raise StsleakError(f"cannot find the git directory of {repo}")
    git_dir = Path(lines[0])
    top = Path(lines[1]) if len(lines) > 1 else None
    roots = [p.resolve() for p in (git_dir, top) if p is not None]
    setting = configured(repo, "core.hooksPath")
    if setting is None or not setting[0]:
        hooks_dir, how = git_dir / "hooks", ""
    else:
        value, origin = setting
        path = Path(value).expanduser()
        hooks_dir = path if path.is_absolute() else (top or git_dir) / path
        how = f" (core.hooksPath = {value}, set in {origin})"
    if not _inside(hooks_dir, roots) and not force:
        raise StsleakError(
            f"the hooks directory {hooks_dir}{how} is outside this repository: a hook there serves every "
            "repository that uses it; use --force to install there anyway, or unset core.hooksPath")
    return hooks_dir, how


def install_hook(repo: Path, hook_type: str = "pre-commit", force: bool = False) -> str:
    require_repo(repo)
    hooks_dir, how = _hooks_dir(repo, force)
    target = hooks_dir / hook_type
    source = hook_source(hook_type).read_text(encoding="utf-8")
    if target.exists() or target.is_symlink():
        if target.is_symlink() and not force:
            raise StsleakError(f"{target} is a symbolic link (to {os.readlink(target)}): use --force to replace it")
        current = target.read_text(encoding="utf-8", errors="replace") if target.is_file() else ""
        if MARKER not in current and not force:
            raise StsleakError(f"{target} exists and is not stsleak's hook: use --force to replace it")
        if target.is_symlink():
            target.unlink()
    try:
        hooks_dir.mkdir(parents=True, exist_ok=True)
        target.write_text(source, encoding="utf-8")
        os.chmod(target, 0o755)
    except OSError as exc:
        raise StsleakError(f"cannot write {target}: {exc.strerror or exc.__class__.__name__}") from None
    done = f"installed stsleak {hook_type} hook at {target}{how}"
    return done + _server_note(repo) if hook_type == "pre-receive" else done


def _server_note(repo: Path) -> str:
    """What a pre-receive hook's installer should know next (it runs when someone pushes into `repo`)."""
    from scanner.sources.git.run import RepoKind, repo_kind

    note = ("\nsettings: git config stsleak.* in this repository or the server's (stsleak hook pre-receive --help); "
            "overrides by push option need receive.advertisePushOptions true and stsleak.allowPushOption true")
    if repo_kind(repo)[0] != RepoKind.BARE:
        note += f"\nnote: {repo} is not a bare repository: a pre-receive hook runs only when someone pushes into it"
    return note


def add_parser(sub: argparse._SubParsersAction) -> None:
    hook = sub.add_parser("install-hook", help="install stsleak as this repository's git pre-commit hook")
    hook.add_argument("repo", nargs="?", default=".", help="repository (default '.')")
    hook.add_argument("--force", action="store_true",
                      help="replace an existing hook that is not stsleak's; install into a core.hooksPath "
                           "outside the repository")
    hook.add_argument("--type", choices=("pre-commit", "pre-push"), default="pre-commit", dest="hook_type",
                      help="pre-commit (default): scan the staged changes of each commit; pre-push: scan the "
                           "commits a push sends")
    _accept_hook_types(hook)


def _accept_hook_types(parser: argparse.ArgumentParser) -> None:
    """--type takes every hook in HOOK_TYPES (pre-receive: the server's bare repository)."""
    for action in parser._actions:
        if action.dest == "hook_type":
            action.choices = HOOK_TYPES


def run(args: argparse.Namespace) -> ExitCode:
    from scanner.reports.escape import escape  # core.hooksPath is the repository's text

    for line in install_hook(Path(args.repo), args.hook_type, args.force).splitlines():
        print(escape(line))
    return ExitCode.CLEAN
