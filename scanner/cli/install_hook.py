"""`stsleak install-hook`: put the plain git hook script into a repository's hooks directory.

The script (hooks/<type>) is a shim; the installed copy records the Python this stsleak runs in
(`sys.executable`, as pre-commit records its own), so that the hook finds stsleak from a shell
without the venv on PATH, and refuses, saying to reinstall, once that Python is gone: it never
falls back to whatever `stsleak` PATH holds then."""

from __future__ import annotations

import argparse
import os
import re
import shlex
import sys
from pathlib import Path

from scanner.errors import ExitCode, StsleakError
from scanner.sources.git.run import configured, require_repo, run_git

MARKER = "stsleak-hook"
HOOK_TYPES = ("pre-commit", "pre-push", "pre-receive")  # pre-receive: a server's repository (hooks/pre-receive)
_PYTHON_LINE = re.compile(r"^stsleak_python=''$", re.MULTILINE)  # in each hooks/ script, filled in here
_PACKAGE_DIR = Path(__file__).resolve().parents[1]  # the scanner package


def hook_source(hook_type: str) -> Path:
    """hooks/ ships inside the wheel as scanner/hooks; an editable install reads the repo's hooks/."""
    for directory in (_PACKAGE_DIR / "hooks", _PACKAGE_DIR.parent / "hooks"):
        if (directory / hook_type).is_file():
            return directory / hook_type
    raise StsleakError(f"cannot find the {hook_type} hook script (broken install?)")


def hook_script(hook_type: str, python: str) -> str:
    """hooks/<hook_type> with `python` (an absolute path, shell-quoted) as the interpreter it runs."""
    if not os.path.isabs(python):
        raise StsleakError(f"cannot tell which Python runs stsleak ({python!r} is no absolute path)")
    template = hook_source(hook_type).read_text(encoding="utf-8")
    script, filled = _PYTHON_LINE.subn(lambda _: f"stsleak_python={shlex.quote(python)}", template, count=1)
    if not filled:
        raise StsleakError(f"the {hook_type} hook script has no stsleak_python line (broken install?)")
    return script


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


def install_hook(repo: Path, hook_type: str = "pre-commit", force: bool = False,
                 python: str | None = None) -> str:
    """`python` is the interpreter the hook will run (`python -P -m scanner`): by default, this one."""
    python = python or sys.executable
    require_repo(repo)
    hooks_dir, how = _hooks_dir(repo, force)
    target = hooks_dir / hook_type
    source = hook_script(hook_type, python)
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
    done = (f"installed stsleak {hook_type} hook at {target}{how}\n"
            f"it runs stsleak with {python}; if that goes, install the hook again")
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
    hook = sub.add_parser("install-hook", help="install stsleak as a git hook of this repository (pre-commit, "
                                               "pre-push, or a server's pre-receive)")
    hook.add_argument("repo", nargs="?", default=".", help="repository (default '.')")
    hook.add_argument("--force", action="store_true",
                      help="replace an existing hook that is not stsleak's; install into a core.hooksPath "
                           "outside the repository")
    hook.add_argument("--type", choices=HOOK_TYPES, default="pre-commit", dest="hook_type",
                      help="pre-commit (default): scan the staged changes of each commit; pre-push: scan the "
                           "commits a push sends; pre-receive: on a server's (bare) repository, refuse a push "
                           "that adds a credential (--no-verify does not skip it)")


def run(args: argparse.Namespace) -> ExitCode:
    from scanner.reports.escape import escape  # core.hooksPath is the repository's text

    for line in install_hook(Path(args.repo), args.hook_type, args.force).splitlines():
        print(escape(line))
    return ExitCode.CLEAN
